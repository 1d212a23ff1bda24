// SPDX-License-Identifier: GPL-2.0-or-later
//! APLX load tables (hardware notes §6.1): a table of 16-byte entries `{opcode, a, b, c}`
//! followed by the bytes they copy.
//!
//! The loader on the chip (`sark_alib.s`, read for this module) moves data with LDM/STM of eight
//! words, in a loop that runs at least once and continues while more than 32 bytes remain: every
//! copy and fill therefore covers its length rounded up to a multiple of 32 bytes (at least 32),
//! and LDM/STM ignore the low two address bits. [`interpret`] reproduces both; [`build`] lays
//! images out so that the rounding only ever copies zero padding.

use crate::ProtoError;

/// Opcode: copy from an absolute address (dest, src, length).
pub const APLX_ACOPY: u32 = 1;
/// Opcode: copy from an address relative to the start of this entry (dest, src, length).
pub const APLX_RCOPY: u32 = 2;
/// Opcode: fill with a word (dest, length, word).
pub const APLX_FILL: u32 = 3;
/// Opcode: call an address (pc) with r0 = the loader's argument.
pub const APLX_EXEC: u32 = 4;
/// Opcode: end of table (the loader treats any other opcode the same way).
pub const APLX_END: u32 = 0xFF;
/// Size of one table entry.
pub const ENTRY_LEN: usize = 16;
/// Granule of the loader's copies and fills.
pub const CHUNK: u64 = 32;
/// Most bytes [`interpret`] produces in total: the size of SDRAM, the largest memory.
pub const MAX_IMAGE_BYTES: u64 = 0x0800_0000;

/// One entry of an APLX table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AplxEntry {
    /// Copy `len` bytes from absolute address `src` to `dest`.
    Acopy {
        /// Destination address.
        dest: u32,
        /// Source address.
        src: u32,
        /// Length in bytes (the loader rounds it up to 32).
        len: u32,
    },
    /// Copy `len` bytes from `src` bytes after the start of this entry (wrapping) to `dest`.
    Rcopy {
        /// Destination address.
        dest: u32,
        /// Source, relative to the first byte of this entry.
        src: u32,
        /// Length in bytes (the loader rounds it up to 32).
        len: u32,
    },
    /// Fill `len` bytes at `dest` with `word`.
    Fill {
        /// Destination address.
        dest: u32,
        /// Length in bytes (the loader rounds it up to 32).
        len: u32,
        /// The fill word.
        word: u32,
    },
    /// Call `pc` (bit 0 set: Thumb) with r0 = the loader's argument ((flags<<8)|app_id).
    Exec {
        /// Address called.
        pc: u32,
    },
    /// End of the table (opcode 0xFF or any unknown opcode).
    End,
}

impl AplxEntry {
    /// The 16 bytes of this entry (END is written with opcode 0xFF).
    pub fn to_bytes(&self) -> [u8; ENTRY_LEN] {
        let words = match *self {
            AplxEntry::Acopy { dest, src, len } => [APLX_ACOPY, dest, src, len],
            AplxEntry::Rcopy { dest, src, len } => [APLX_RCOPY, dest, src, len],
            AplxEntry::Fill { dest, len, word } => [APLX_FILL, dest, len, word],
            AplxEntry::Exec { pc } => [APLX_EXEC, pc, 0, 0],
            AplxEntry::End => [APLX_END, 0, 0, 0],
        };
        let mut b = [0u8; ENTRY_LEN];
        for (chunk, w) in b.chunks_exact_mut(4).zip(words) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        b
    }

    /// Decodes 16 bytes; any opcode other than 1..4 is [`AplxEntry::End`].
    pub fn from_bytes(b: &[u8; ENTRY_LEN]) -> AplxEntry {
        let w = |i: usize| u32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]);
        match w(0) {
            APLX_ACOPY => AplxEntry::Acopy {
                dest: w(1),
                src: w(2),
                len: w(3),
            },
            APLX_RCOPY => AplxEntry::Rcopy {
                dest: w(1),
                src: w(2),
                len: w(3),
            },
            APLX_FILL => AplxEntry::Fill {
                dest: w(1),
                len: w(2),
                word: w(3),
            },
            APLX_EXEC => AplxEntry::Exec { pc: w(1) },
            _ => AplxEntry::End,
        }
    }
}

fn entry_at(bytes: &[u8], offset: usize) -> Result<AplxEntry, ProtoError> {
    offset
        .checked_add(ENTRY_LEN)
        .and_then(|end| bytes.get(offset..end))
        .and_then(|b| <&[u8; ENTRY_LEN]>::try_from(b).ok())
        .map(AplxEntry::from_bytes)
        .ok_or(ProtoError::AplxTruncated { offset })
}

/// Reads the table from the start of `bytes` up to and including its END entry (entries after
/// an EXEC are included, as the loader continues if the called code returns).
pub fn parse(bytes: &[u8]) -> Result<Vec<AplxEntry>, ProtoError> {
    let mut entries = Vec::new();
    let mut offset = 0;
    loop {
        let e = entry_at(bytes, offset)?;
        entries.push(e);
        if e == AplxEntry::End {
            return Ok(entries);
        }
        offset += ENTRY_LEN;
    }
}

fn round_chunk(len: u32) -> u64 {
    u64::from(len).div_ceil(CHUNK).max(1) * CHUNK
}

/// Builds an APLX image from `(address, file bytes, memory size)` segments and an entry point:
/// a table of, per segment in ascending address order, an RCOPY of its bytes (if any) and a FILL
/// of its zero tail (if any), then EXEC at `entry` and END; then each segment's bytes padded with
/// zeros to a multiple of 32 (the loader's granule). Segments must be word-aligned, and
/// `memory size >= file bytes`.
pub fn build(segments: &[(u32, &[u8], u32)], entry: u32) -> Result<Vec<u8>, ProtoError> {
    let mut segs: Vec<&(u32, &[u8], u32)> = segments.iter().collect();
    segs.sort_by_key(|s| s.0);
    let mut n_entries = 2; // EXEC, END
    for &&(addr, data, mem) in &segs {
        if addr % 4 != 0 {
            return Err(ProtoError::AplxUnalignedSegment { addr });
        }
        if (mem as usize) < data.len() {
            return Err(ProtoError::AplxBadSegment {
                addr,
                reason: "memory size is smaller than its bytes",
            });
        }
        if u64::from(addr) + u64::from(mem) > 1 << 32 {
            return Err(ProtoError::AplxBadSegment {
                addr,
                reason: "wraps past the top of the address space",
            });
        }
        let copied = if data.is_empty() {
            0
        } else {
            round_chunk(data.len() as u32)
        };
        n_entries += usize::from(!data.is_empty()) + usize::from(u64::from(mem) > copied);
    }
    let mut table = Vec::with_capacity(n_entries * ENTRY_LEN);
    let mut blob: Vec<u8> = Vec::new();
    let header_len = n_entries * ENTRY_LEN;
    for &&(addr, data, mem) in &segs {
        let mut copied = 0u64;
        if !data.is_empty() {
            let src_off = header_len + blob.len();
            let rel = (src_off as u32).wrapping_sub(table.len() as u32);
            table.extend_from_slice(
                &AplxEntry::Rcopy {
                    dest: addr,
                    src: rel,
                    len: data.len() as u32,
                }
                .to_bytes(),
            );
            blob.extend_from_slice(data);
            copied = round_chunk(data.len() as u32);
            blob.resize(blob.len() + (copied as usize - data.len()), 0);
        }
        if u64::from(mem) > copied {
            let dest = addr + copied as u32;
            let len = (u64::from(mem) - copied) as u32;
            table.extend_from_slice(&AplxEntry::Fill { dest, len, word: 0 }.to_bytes());
        }
    }
    table.extend_from_slice(&AplxEntry::Exec { pc: entry }.to_bytes());
    table.extend_from_slice(&AplxEntry::End.to_bytes());
    table.extend_from_slice(&blob);
    Ok(table)
}

/// What loading an APLX image does to memory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AplxImage {
    /// `(address, bytes)` writes, in the order the loader performs them (later ones win).
    pub writes: Vec<(u32, Vec<u8>)>,
    /// Address of the first EXEC, if any (the loader calls it; SARK applications never return,
    /// so later entries are not interpreted).
    pub exec: Option<u32>,
}

/// Runs the table at the start of `bytes` as the on-chip loader would, without memory: RCOPY
/// and FILL become writes (lengths rounded up to 32 bytes, addresses aligned down to words, as
/// LDM/STM do); the walk stops at the first EXEC or at END. An RCOPY may read at most the
/// rounding beyond the end of `bytes` (taken as zeros); ACOPY is an error, as are more than
/// `max_entries` entries, a table without END or EXEC, wrapping ranges and more than
/// [`MAX_IMAGE_BYTES`] written.
pub fn interpret(bytes: &[u8], max_entries: usize) -> Result<AplxImage, ProtoError> {
    let mut image = AplxImage::default();
    let mut total = 0u64;
    let mut offset = 0usize;
    for _ in 0..max_entries {
        let entry = entry_at(bytes, offset)?;
        let (dest, len, contents) = match entry {
            AplxEntry::End => return Ok(image),
            AplxEntry::Exec { pc } => {
                image.exec = Some(pc);
                return Ok(image);
            }
            AplxEntry::Acopy { src, .. } => {
                return Err(ProtoError::AplxAcopyUnsupported { offset, src })
            }
            AplxEntry::Rcopy { dest, src, len } => {
                let start = ((offset as u32).wrapping_add(src) & !3) as usize;
                let outside = ProtoError::AplxSourceOutside { offset, src };
                let end = start.checked_add(len as usize).ok_or(outside.clone())?;
                if start >= bytes.len() || end > bytes.len() {
                    return Err(outside);
                }
                (dest, len, Some(start))
            }
            AplxEntry::Fill { dest, len, .. } => (dest, len, None),
        };
        let dest = dest & !3;
        let n = round_chunk(len);
        if u64::from(dest) + n > 1 << 32 {
            return Err(ProtoError::AplxWraps {
                offset,
                addr: dest,
                len: n,
            });
        }
        total += n;
        if total > MAX_IMAGE_BYTES {
            return Err(ProtoError::AplxTooLarge {
                max: MAX_IMAGE_BYTES,
            });
        }
        let data = match (contents, entry) {
            (Some(start), _) => {
                let mut d = bytes
                    .get(start..)
                    .unwrap_or_default()
                    .iter()
                    .take(n as usize)
                    .copied()
                    .collect::<Vec<u8>>();
                d.resize(n as usize, 0);
                d
            }
            (None, AplxEntry::Fill { word, .. }) => word
                .to_le_bytes()
                .iter()
                .copied()
                .cycle()
                .take(n as usize)
                .collect(),
            (None, _) => Vec::new(),
        };
        image.writes.push((dest, data));
        offset += ENTRY_LEN;
    }
    Err(ProtoError::AplxTooManyEntries { max: max_entries })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(img: &AplxImage, mem: &mut std::collections::BTreeMap<u32, u8>) {
        for (a, d) in &img.writes {
            for (i, b) in d.iter().enumerate() {
                mem.insert(a + i as u32, *b);
            }
        }
    }

    #[test]
    fn build_interpret_round_trip() {
        let code: Vec<u8> = (0..100u8).collect();
        let rw = [9u8; 8];
        let img = build(&[(0x0040_0000, &rw, 0x40), (0, &code, 100)], 0x11).unwrap();
        let entries = parse(&img).unwrap();
        assert_eq!(entries.len(), 5);
        assert!(matches!(
            entries[0],
            AplxEntry::Rcopy {
                dest: 0,
                src: 80,
                len: 100
            }
        ));
        assert!(matches!(
            entries[1],
            AplxEntry::Rcopy {
                dest: 0x0040_0000,
                len: 8,
                ..
            }
        ));
        assert!(matches!(
            entries[2],
            AplxEntry::Fill {
                dest: 0x0040_0020,
                len: 0x20,
                word: 0
            }
        ));
        assert_eq!(entries[3], AplxEntry::Exec { pc: 0x11 });
        assert_eq!(entries[4], AplxEntry::End);
        let out = interpret(&img, 16).unwrap();
        assert_eq!(out.exec, Some(0x11));
        let mut mem = Default::default();
        apply(&out, &mut mem);
        for (i, b) in code.iter().enumerate() {
            assert_eq!(mem[&(i as u32)], *b);
        }
        assert_eq!(mem[&100], 0); // rounding copies zero padding
        for i in 0..0x40 {
            assert_eq!(mem[&(0x0040_0000 + i)], if i < 8 { 9 } else { 0 });
        }
        // Every write is a multiple of the loader's granule.
        assert!(out
            .writes
            .iter()
            .all(|(a, d)| a % 4 == 0 && d.len() % 32 == 0));
    }

    #[test]
    fn build_bss_only_and_errors() {
        let img = build(&[(0x0040_0000, &[], 0x10)], 0).unwrap();
        let out = interpret(&img, 8).unwrap();
        assert_eq!(out.writes, vec![(0x0040_0000, vec![0; 32])]);
        assert_eq!(
            build(&[(2, &[1], 1)], 0),
            Err(ProtoError::AplxUnalignedSegment { addr: 2 })
        );
        assert!(matches!(
            build(&[(0, &[1, 2], 1)], 0),
            Err(ProtoError::AplxBadSegment { .. })
        ));
        assert!(matches!(
            build(&[(0xFFFF_FFF0, &[], 0x20)], 0),
            Err(ProtoError::AplxBadSegment { .. })
        ));
    }

    #[test]
    fn entry_round_trip() {
        for e in [
            AplxEntry::Acopy {
                dest: 1,
                src: 2,
                len: 3,
            },
            AplxEntry::Rcopy {
                dest: 4,
                src: 0xFFFF_FFF0,
                len: 6,
            },
            AplxEntry::Fill {
                dest: 7,
                len: 8,
                word: 9,
            },
            AplxEntry::Exec { pc: 10 },
            AplxEntry::End,
        ] {
            assert_eq!(AplxEntry::from_bytes(&e.to_bytes()), e);
        }
        // Unknown opcodes, including mkaplx's all-zero padding entries, end the table.
        assert_eq!(AplxEntry::from_bytes(&[0; 16]), AplxEntry::End);
    }

    #[test]
    fn loader_rounding_and_alignment() {
        let mut t = Vec::new();
        t.extend_from_slice(
            &AplxEntry::Fill {
                dest: 0x1003,
                len: 0,
                word: 0xAABB_CCDD,
            }
            .to_bytes(),
        );
        t.extend_from_slice(
            &AplxEntry::Fill {
                dest: 0x2000,
                len: 33,
                word: 1,
            }
            .to_bytes(),
        );
        t.extend_from_slice(&AplxEntry::End.to_bytes());
        let out = interpret(&t, 8).unwrap();
        assert_eq!(out.writes[0].0, 0x1000);
        assert_eq!(out.writes[0].1.len(), 32);
        assert_eq!(&out.writes[0].1[..4], &[0xDD, 0xCC, 0xBB, 0xAA]);
        assert_eq!(out.writes[1].1.len(), 64);
        assert_eq!(out.exec, None);
        // A relative copy may refer back into the table itself (negative offset).
        let mut t = Vec::new();
        t.extend_from_slice(&AplxEntry::End.to_bytes());
        t.extend_from_slice(
            &AplxEntry::Rcopy {
                dest: 0,
                src: 0xFFFF_FFF0,
                len: 16,
            }
            .to_bytes(),
        );
        t.extend_from_slice(&AplxEntry::End.to_bytes());
        let out = interpret(&t[16..], 4);
        assert!(matches!(out, Err(ProtoError::AplxSourceOutside { .. })));
    }

    #[test]
    fn malformations() {
        assert_eq!(parse(&[]), Err(ProtoError::AplxTruncated { offset: 0 }));
        let mut t = AplxEntry::Fill {
            dest: 0,
            len: 4,
            word: 0,
        }
        .to_bytes()
        .to_vec();
        t.extend_from_slice(&[0xFF, 0, 0]);
        assert_eq!(parse(&t), Err(ProtoError::AplxTruncated { offset: 16 }));
        assert_eq!(
            interpret(&[1, 0, 0, 0, 0, 0], 4),
            Err(ProtoError::AplxTruncated { offset: 0 })
        );
        let acopy = AplxEntry::Acopy {
            dest: 0,
            src: 0x6000_0000,
            len: 4,
        }
        .to_bytes();
        assert_eq!(
            interpret(&acopy, 4),
            Err(ProtoError::AplxAcopyUnsupported {
                offset: 0,
                src: 0x6000_0000
            })
        );
        let mut fills = Vec::new();
        for _ in 0..5 {
            fills.extend_from_slice(
                &AplxEntry::Fill {
                    dest: 0,
                    len: 4,
                    word: 0,
                }
                .to_bytes(),
            );
        }
        assert_eq!(
            interpret(&fills, 4),
            Err(ProtoError::AplxTooManyEntries { max: 4 })
        );
        assert_eq!(
            interpret(&fills, 10),
            Err(ProtoError::AplxTruncated { offset: 80 })
        );
        let wrap = AplxEntry::Fill {
            dest: 0xFFFF_FFE4,
            len: 4,
            word: 0,
        }
        .to_bytes();
        assert!(matches!(
            interpret(&wrap, 4),
            Err(ProtoError::AplxWraps { .. })
        ));
        let big = AplxEntry::Fill {
            dest: 0x6000_0000,
            len: 0x0800_0001,
            word: 0,
        }
        .to_bytes();
        assert_eq!(
            interpret(&big, 4),
            Err(ProtoError::AplxTooLarge {
                max: MAX_IMAGE_BYTES
            })
        );
        let far = AplxEntry::Rcopy {
            dest: 0,
            src: 0x1000,
            len: 4,
        }
        .to_bytes();
        assert!(matches!(
            interpret(&far, 4),
            Err(ProtoError::AplxSourceOutside { .. })
        ));
        let long = AplxEntry::Rcopy {
            dest: 0,
            src: 0,
            len: 0xFFFF_FFFF,
        }
        .to_bytes();
        assert!(matches!(
            interpret(&long, 4),
            Err(ProtoError::AplxSourceOutside { .. })
        ));
    }
}
