// SPDX-License-Identifier: GPL-2.0-or-later
//! Reads firmware ELF files (goblin) into loadable programs, rejecting what a SpiNNaker core
//! could not run with a clear reason.

use std::collections::BTreeMap;
use std::path::Path;

use goblin::elf::{header, program_header::PT_LOAD, Elf};

use crate::map::region_of;

/// One loadable piece of a program: bytes at a core address, zero-filled up to `mem_size`.
#[derive(Clone, Debug)]
pub struct Segment {
    /// Core address where the segment goes.
    pub addr: u32,
    /// Initialised bytes.
    pub data: Vec<u8>,
    /// Size in memory (>= data length; the rest is zeroed).
    pub mem_size: u32,
}

/// A firmware image ready to load onto a core.
#[derive(Clone, Debug)]
pub struct Program {
    /// Name (file stem), stored in the vcpu block's `app_name`.
    pub name: String,
    /// Entry point (bit 0 set for Thumb).
    pub entry: u32,
    /// Loadable segments.
    pub segments: Vec<Segment>,
    /// Symbol table: name → address, for tests and tools.
    pub symbols: BTreeMap<String, u32>,
}

/// Why a file cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{file}: cannot read: {reason}")]
    Unreadable { file: String, reason: String },
    /// The bytes are not an ELF file.
    #[error("{file}: not an ELF file: {reason}")]
    NotElf { file: String, reason: String },
    /// An ELF, but not for a SpiNNaker core.
    #[error("{file}: not an ARM 32-bit little-endian ELF ({reason})")]
    WrongArch { file: String, reason: String },
    /// No PT_LOAD segment with contents.
    #[error("{file}: no loadable segment")]
    NoSegments { file: String },
    /// A segment outside ITCM, DTCM, System RAM and SDRAM.
    #[error("{file}: segment at {addr:#010x} (+{size:#x} bytes) is outside ITCM, DTCM, System RAM and SDRAM")]
    BadSegment { file: String, addr: u32, size: u32 },
    /// The bytes are not an APLX image this loader can run.
    #[error("{file}: not a loadable APLX image: {reason}")]
    BadAplx { file: String, reason: String },
    /// Two segments claim the same memory: which one's bytes a core would see is a guess.
    #[error("{file}: segments at {first:#010x} and {second:#010x} overlap at {at:#010x}")]
    Overlap {
        file: String,
        first: u32,
        second: u32,
        at: u32,
    },
}

/// Most table entries an APLX image may have before its EXEC or END (mkaplx writes four).
pub const APLX_MAX_ENTRIES: usize = 64;

impl Program {
    /// Reads and checks a firmware file: an ELF (by its magic number) or else an APLX image
    /// (as SARK-built binaries ship), told apart by content, not by name.
    pub fn from_file(path: &Path) -> Result<Program, LoadError> {
        let file = path.display().to_string();
        let bytes = crate::files::read_input(path, crate::files::MAX_IMAGE_BYTES).map_err(|e| {
            LoadError::Unreadable {
                file: file.clone(),
                reason: e.to_string(),
            }
        })?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Program::from_bytes(&file, &name, &bytes)
    }

    /// As [`Program::from_file`], from bytes already read; `file` names the source in errors.
    /// Bytes that are neither an ELF nor an APLX image with an EXEC entry are "not an ELF or
    /// APLX file".
    pub fn from_bytes(file: &str, name: &str, bytes: &[u8]) -> Result<Program, LoadError> {
        if bytes.starts_with(b"\x7fELF") {
            return Program::from_elf_bytes(file, name, bytes);
        }
        match Program::from_aplx(name, bytes) {
            Ok(mut p) => {
                p.name = name.to_string();
                Ok(p)
            }
            Err(LoadError::BadAplx { reason, .. }) => Err(LoadError::NotElf {
                file: file.to_string(),
                reason: format!(
                    "missing the ELF magic number, and not an APLX image either ({reason})"
                ),
            }),
            Err(LoadError::BadSegment { addr, size, .. }) => Err(LoadError::BadSegment {
                file: file.to_string(),
                addr,
                size,
            }),
            Err(LoadError::NoSegments { .. }) => Err(LoadError::NoSegments {
                file: file.to_string(),
            }),
            Err(e) => Err(e),
        }
    }

    /// Checks and converts ELF bytes; `file` names the source in errors.
    pub fn from_elf_bytes(file: &str, name: &str, bytes: &[u8]) -> Result<Program, LoadError> {
        let f = || file.to_string();
        if bytes.len() < 4 || &bytes[..4] != b"\x7fELF" {
            return Err(LoadError::NotElf {
                file: f(),
                reason: "missing the ELF magic number".into(),
            });
        }
        if bytes.len() < 20 {
            return Err(LoadError::NotElf {
                file: f(),
                reason: "truncated header".into(),
            });
        }
        if bytes[4] != header::ELFCLASS32 {
            return Err(LoadError::WrongArch {
                file: f(),
                reason: "64-bit ELF".into(),
            });
        }
        if bytes[5] != header::ELFDATA2LSB {
            return Err(LoadError::WrongArch {
                file: f(),
                reason: "big-endian ELF".into(),
            });
        }
        let machine = u16::from_le_bytes([bytes[18], bytes[19]]);
        if machine != header::EM_ARM {
            return Err(LoadError::WrongArch {
                file: f(),
                reason: format!("machine {} is not ARM", header::machine_to_str(machine)),
            });
        }
        let elf = Elf::parse(bytes).map_err(|e| LoadError::NotElf {
            file: f(),
            reason: e.to_string(),
        })?;
        let mut segments = Vec::new();
        for ph in elf
            .program_headers
            .iter()
            .filter(|p| p.p_type == PT_LOAD && p.p_memsz > 0)
        {
            let addr = ph.p_paddr as u32;
            let size = ph.p_memsz as u32;
            if ph.p_paddr > u32::MAX as u64
                || ph.p_memsz > u32::MAX as u64
                || region_of(addr, size).is_none()
            {
                return Err(LoadError::BadSegment {
                    file: f(),
                    addr,
                    size,
                });
            }
            if ph.p_filesz > ph.p_memsz {
                return Err(LoadError::NotElf {
                    file: f(),
                    reason: "segment file size exceeds its memory size".into(),
                });
            }
            let start = ph.p_offset as usize;
            let data = start
                .checked_add(ph.p_filesz as usize)
                .and_then(|end| bytes.get(start..end))
                .ok_or_else(|| LoadError::NotElf {
                    file: f(),
                    reason: "segment data beyond the end of the file".into(),
                })?;
            segments.push(Segment {
                addr,
                data: data.to_vec(),
                mem_size: size,
            });
        }
        if segments.is_empty() {
            return Err(LoadError::NoSegments { file: f() });
        }
        let mut by_addr: Vec<&Segment> = segments.iter().collect();
        by_addr.sort_by_key(|s| s.addr);
        for w in by_addr.windows(2) {
            // Sizes fit the memory map (checked above), so the end does not overflow.
            if w[1].addr < w[0].addr + w[0].mem_size {
                return Err(LoadError::Overlap {
                    file: f(),
                    first: w[0].addr,
                    second: w[1].addr,
                    at: w[1].addr,
                });
            }
        }
        let mut symbols = BTreeMap::new();
        for sym in elf.syms.iter() {
            if let Some(n) = elf.strtab.get_at(sym.st_name) {
                if !n.is_empty() && sym.st_value <= u32::MAX as u64 {
                    symbols.insert(n.to_string(), sym.st_value as u32);
                }
            }
        }
        Ok(Program {
            name: name.to_string(),
            entry: elf.entry as u32,
            segments,
            symbols,
        })
    }
}

impl Program {
    /// Interprets an APLX image (hardware notes §6.1) as the on-chip loader would and makes a
    /// program of its writes, entered at its EXEC address, with the same address checks as an
    /// ELF's segments. `name` names the source in errors and becomes the program's name.
    pub fn from_aplx(name: &str, bytes: &[u8]) -> Result<Program, LoadError> {
        let f = || name.to_string();
        let image = spinn_proto::aplx::interpret(bytes, APLX_MAX_ENTRIES).map_err(|e| {
            LoadError::BadAplx {
                file: f(),
                reason: e.to_string(),
            }
        })?;
        let entry = image.exec.ok_or_else(|| LoadError::BadAplx {
            file: f(),
            reason: "no EXEC entry".into(),
        })?;
        let mut segments = Vec::new();
        for (addr, data) in image.writes {
            let size = u32::try_from(data.len()).unwrap_or(u32::MAX);
            if region_of(addr, size).is_none() {
                return Err(LoadError::BadSegment {
                    file: f(),
                    addr,
                    size,
                });
            }
            segments.push(Segment {
                addr,
                data,
                mem_size: size,
            });
        }
        if segments.is_empty() {
            return Err(LoadError::NoSegments { file: f() });
        }
        Ok(Program {
            name: name.to_string(),
            entry,
            segments,
            symbols: BTreeMap::new(),
        })
    }

    /// The APLX image of this program (`spinn_proto::aplx::build` of its segments and entry).
    pub fn to_aplx(&self) -> Result<Vec<u8>, spinn_proto::ProtoError> {
        let segs: Vec<(u32, &[u8], u32)> = self
            .segments
            .iter()
            .map(|s| (s.addr, s.data.as_slice(), s.mem_size))
            .collect();
        spinn_proto::aplx::build(&segs, self.entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_elf_and_wrong_class() {
        assert!(matches!(
            Program::from_elf_bytes("x", "x", b"hello world"),
            Err(LoadError::NotElf { .. })
        ));
        let mut hdr = vec![0u8; 64];
        hdr[..4].copy_from_slice(b"\x7fELF");
        hdr[4] = header::ELFCLASS64;
        hdr[5] = header::ELFDATA2LSB;
        assert!(matches!(
            Program::from_elf_bytes("x", "x", &hdr),
            Err(LoadError::WrongArch { .. })
        ));
        hdr[4] = header::ELFCLASS32;
        hdr[18] = 62; // x86-64
        let e = Program::from_elf_bytes("f.elf", "f", &hdr)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("f.elf: not an ARM"), "{e}");
    }

    #[test]
    fn aplx_of_an_elf_loads_its_bytes() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware/build/hello.elf");
        let elf = Program::from_file(&path).unwrap();
        let aplx = elf.to_aplx().unwrap();
        let p = Program::from_aplx("hello", &aplx).unwrap();
        assert_eq!(p.entry, elf.entry);
        assert_eq!(p.name, "hello");
        // Every byte of every ELF segment (zero tail included) is written by the APLX image.
        let mut mem = BTreeMap::new();
        for s in &p.segments {
            for (i, b) in s.data.iter().enumerate() {
                mem.insert(s.addr + i as u32, *b);
            }
        }
        for s in &elf.segments {
            for i in 0..s.mem_size {
                let want = s.data.get(i as usize).copied().unwrap_or(0);
                assert_eq!(
                    mem.get(&(s.addr + i)),
                    Some(&want),
                    "byte at {:#x}",
                    s.addr + i
                );
            }
        }
    }

    #[test]
    fn files_are_told_apart_by_content() {
        let dir = std::env::temp_dir().join(format!("spinn-loader-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let elf_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware/build/hello.elf");
        let elf = Program::from_file(&elf_path).unwrap();
        // An APLX image under a misleading name still loads as APLX.
        let aplx_path = dir.join("hello.elf");
        std::fs::write(&aplx_path, elf.to_aplx().unwrap()).unwrap();
        let p = Program::from_file(&aplx_path).unwrap();
        assert_eq!((p.name.as_str(), p.entry), ("hello", elf.entry));
        let junk = dir.join("junk.aplx");
        std::fs::write(&junk, b"hello world, this is no firmware at all").unwrap();
        let e = Program::from_file(&junk).unwrap_err().to_string();
        assert!(e.contains("not an ELF file") && e.contains("APLX"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn aplx_errors() {
        use spinn_proto::aplx::{build, AplxEntry};
        assert!(matches!(
            Program::from_aplx("a", &[]),
            Err(LoadError::BadAplx { .. })
        ));
        let no_exec = AplxEntry::End.to_bytes();
        let e = Program::from_aplx("a", &no_exec).unwrap_err().to_string();
        assert!(e.contains("no EXEC"), "{e}");
        let outside = build(&[(0x1000_0000, &[1, 2, 3, 4], 4)], 0x1000_0000).unwrap();
        assert!(matches!(
            Program::from_aplx("a", &outside),
            Err(LoadError::BadSegment {
                addr: 0x1000_0000,
                ..
            })
        ));
        let only_exec = build(&[], 0).unwrap();
        assert!(matches!(
            Program::from_aplx("a", &only_exec),
            Err(LoadError::NoSegments { .. })
        ));
        let acopy = AplxEntry::Acopy {
            dest: 0,
            src: 0x6000_0000,
            len: 4,
        }
        .to_bytes();
        let e = Program::from_aplx("a", &acopy).unwrap_err().to_string();
        assert!(e.contains("ACOPY"), "{e}");
    }
}
