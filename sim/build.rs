// SPDX-License-Identifier: GPL-2.0-or-later
//! spinn-sim links spinn's own Unicorn build (engine/, made by scripts/build-engine): say so
//! clearly when it is missing, and relink when it changes.

use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo")).join("..");
    let lib = root.join("engine/out/lib/libunicorn.a");
    println!("cargo:rerun-if-changed={}", lib.display());
    println!("cargo:rerun-if-changed=build.rs");
    if !lib.exists() {
        panic!(
            "spinn's Unicorn engine is not built ({} is missing): run scripts/install-deps \
             (or scripts/build-engine) first",
            lib.display()
        );
    }
}
