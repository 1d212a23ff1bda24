// SPDX-License-Identifier: GPL-2.0-or-later
//! Reading a user's input file with its kind and size checked first: only a regular file (a
//! FIFO would block, a device such as /dev/zero never ends), and at most as large as such a
//! file can sensibly be, so that a wrong path gives a clear error at once.

use std::io::{self, Read};
use std::path::Path;

/// Most bytes of an ELF or APLX image, a boot image or a routes file.
pub const MAX_IMAGE_BYTES: u64 = 64 << 20;
/// Most bytes of a small text file: a golden fingerprint, a model file, a machine description.
pub const MAX_TEXT_BYTES: u64 = 16 << 20;
/// Most bytes of a data set or a weights file.
pub const MAX_DATA_BYTES: u64 = 1 << 30;

/// The size of `path` when it is a regular file of at most `max` bytes; otherwise an
/// `InvalidInput` error saying why not.
pub fn check_input(path: &Path, max: u64) -> io::Result<u64> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        let kind = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file (a FIFO, socket or device)"
        };
        return Err(io::Error::new(io::ErrorKind::InvalidInput, kind));
    }
    if meta.len() > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} bytes, more than the {max} such a file can be",
                meta.len()
            ),
        ));
    }
    Ok(meta.len())
}

/// Reads `path` whole after [`check_input`]; never more than `max` bytes, even if the file
/// grows meanwhile.
pub fn read_input(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    let len = check_input(path, max)?;
    let mut bytes = Vec::with_capacity(len as usize);
    std::fs::File::open(path)?
        .take(max + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("grew past the {max} bytes such a file can be while being read"),
        ));
    }
    Ok(bytes)
}

/// As [`read_input`], for UTF-8 text.
pub fn read_text_input(path: &Path, max: u64) -> io::Result<String> {
    String::from_utf8(read_input(path, max)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_limit_are_read() {
        let dir = std::env::temp_dir().join(format!("spinn-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let small = dir.join("small");
        std::fs::write(&small, b"abc").unwrap();
        assert_eq!(read_input(&small, 3).unwrap(), b"abc");
        assert_eq!(read_text_input(&small, 10).unwrap(), "abc");
        let e = read_input(&small, 2).unwrap_err().to_string();
        assert!(e.contains("3 bytes, more than the 2"), "{e}");
        let e = read_input(Path::new("/dev/zero"), 10)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a regular file"), "{e}");
        let e = read_input(&dir, 10).unwrap_err().to_string();
        assert!(e.contains("a directory"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
