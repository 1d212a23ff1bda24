// SPDX-License-Identifier: GPL-2.0-or-later
//! The crates layer as ARCHITECTURE.md draws them: the hardware vocabulary and the board
//! client build without the simulator, so without libunicorn.

use std::process::Command;

/// The crates `package` depends on (normal dependencies, all the way down) with `features`.
fn dependencies(package: &str, features: &[&str]) -> String {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
            "-p",
            package,
        ])
        .args(features)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn has(tree: &str, krate: &str) -> bool {
    tree.lines()
        .any(|l| l.split_whitespace().next() == Some(krate))
}

#[test]
fn the_board_client_and_the_vocabulary_need_no_emulator() {
    for (package, features) in [
        ("spinn-hw", &[][..]),
        ("spinn-toolchain", &["--no-default-features"][..]),
        ("spinn-nn", &["--no-default-features"][..]),
    ] {
        let tree = dependencies(package, features);
        assert!(has(&tree, package), "{package} itself is listed:\n{tree}");
        for emulator in ["spinn-sim", "unicorn-engine"] {
            assert!(
                !has(&tree, emulator),
                "{package} {features:?} pulls in {emulator}:\n{tree}"
            );
        }
    }
    // With its default features the toolchain has the simulator target.
    assert!(has(&dependencies("spinn-toolchain", &[]), "unicorn-engine"));
}
