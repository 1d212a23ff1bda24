// SPDX-License-Identifier: GPL-2.0-or-later
//! Standard output that reports a failed write (a closed pipe, a full disk) as an error the
//! command ends with, where `println!` would panic.

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
