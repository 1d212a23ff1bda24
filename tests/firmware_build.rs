// SPDX-License-Identifier: GPL-2.0-or-later
//! The committed firmware ELFs are exactly what the sources build to.
//!
//! Needs Debian's `gcc-arm-none-eabi` (scripts/install-deps installs it); without the cross
//! compiler this test fails, so a firmware change can never land with stale ELFs.

use std::path::{Path, PathBuf};
use std::process::Command;

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "obj" || name == "build" {
            continue;
        }
        let dst = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &dst);
        } else {
            std::fs::copy(entry.path(), dst).unwrap();
        }
    }
}

#[test]
fn committed_elfs_rebuild_byte_identical() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("firmware");
    let scratch = std::env::temp_dir().join(format!("spinn-fw-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    copy_tree(&root, &scratch);
    let out = Command::new("make")
        .arg("-s")
        .current_dir(&scratch)
        .output()
        .expect("make runs (scripts/install-deps installs it)");
    assert!(
        out.status.success(),
        "firmware build failed (is gcc-arm-none-eabi installed?):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut checked = 0;
    for entry in std::fs::read_dir(root.join("build")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "elf") {
            let name = path.file_name().unwrap();
            let rebuilt = std::fs::read(scratch.join("build").join(name))
                .unwrap_or_else(|_| panic!("{name:?} not rebuilt"));
            assert!(
                std::fs::read(&path).unwrap() == rebuilt,
                "{name:?} differs from a rebuild of its sources: rebuild and commit it"
            );
            checked += 1;
        }
    }
    let built = std::fs::read_dir(scratch.join("build")).unwrap().count();
    assert_eq!(checked, built, "every built ELF is committed");
    assert!(checked >= 9);
    let _ = std::fs::remove_dir_all(&scratch);
}
