// SPDX-License-Identifier: GPL-2.0-or-later
//! The Unicorn engine spinn links: its own build of Unicorn 2.0.1 with the patches in
//! `engine/patches/` (scripts/build-engine), which the engine itself lists.

use std::ffi::CStr;
use std::os::raw::c_char;

extern "C" {
    /// Added by engine/patches/0001: the names of the patches built in, one per line.
    fn spinn_engine_patches() -> *const c_char;
}

/// The patches the linked engine was built with, in order (e.g. `store-fast-path`).
pub fn patches() -> Vec<String> {
    // SAFETY: the engine returns a pointer to a static NUL-terminated string.
    let text = unsafe { CStr::from_ptr(spinn_engine_patches()) };
    text.to_string_lossy()
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_is_ours_with_every_patch() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../engine/patches");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .expect("engine/patches")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".patch"))
            .collect();
        files.sort();
        // 0001-store-fast-path.patch carries "store-fast-path", and so on.
        let expected: Vec<String> = files
            .iter()
            .map(|f| {
                f.trim_end_matches(".patch")
                    .split_once('-')
                    .map_or("", |(_, name)| name)
                    .to_string()
            })
            .collect();
        assert_eq!(patches(), expected);
    }
}
