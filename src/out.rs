// SPDX-License-Identifier: GPL-2.0-or-later
//! The command line's output: standard output that reports a failed write (a closed pipe, a
//! full disk) as an error the command ends with, where `println!` would panic; and output
//! files checked before a long run.

use std::io::Write;

/// Writing to standard output failed.
#[derive(Debug)]
pub struct WriteError(std::io::Error);

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot write the output: {}", self.0)
    }
}

impl From<WriteError> for String {
    fn from(e: WriteError) -> String {
        e.to_string()
    }
}

/// Writes `args` to standard output.
pub fn write(args: std::fmt::Arguments) -> Result<(), WriteError> {
    std::io::stdout().lock().write_fmt(args).map_err(WriteError)
}

/// Flushes standard output (what is left of a line without its newline).
pub fn flush() -> Result<(), WriteError> {
    std::io::stdout().lock().flush().map_err(WriteError)
}

/// `print!` that returns a [`WriteError`] instead of panicking.
macro_rules! out {
    ($($t:tt)*) => {
        $crate::out::write(format_args!($($t)*))
    };
}

/// `println!` that returns a [`WriteError`] instead of panicking.
macro_rules! outln {
    () => {
        $crate::out::write(format_args!("\n"))
    };
    ($($t:tt)*) => {
        $crate::out::write(format_args!("{}\n", format_args!($($t)*)))
    };
}

pub(crate) use {out, outln};

/// Refuses an output file that could not be written, before a long run rather than after it:
/// its directory must exist and the file must be creatable, or writable if it exists (an
/// existing file is not changed here; a new one is removed again).
pub fn check_output_path(path: &std::path::Path) -> Result<(), String> {
    let cannot = |why: String| format!("{}: cannot write: {why}", path.display());
    if path.is_dir() {
        return Err(cannot("a directory".into()));
    }
    if path.exists() {
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| cannot(e.to_string()))?;
        return Ok(());
    }
    std::fs::File::create(path).map_err(|e| cannot(e.to_string()))?;
    let _ = std::fs::remove_file(path);
    Ok(())
}
