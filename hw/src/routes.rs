// SPDX-License-Identifier: GPL-2.0-or-later
//! Routing tables from a file, until the toolchain generates them.
//!
//! One entry per line: `x y key mask route`, numbers in decimal or `0x` hexadecimal; `#` starts a
//! comment. `route` has links in bits 0..5 (0 E, 1 NE, 2 N, 3 W, 4 SW, 5 S) and virtual cores in
//! bits 6..23 (bit 6 + p = core p), as SARK's `rtr_mc_set` takes them. Entries of a chip are
//! loaded in file order from router entry 1 (entry 0 belongs to SC&MP), so the first matching
//! line wins.
//!
//! ```text
//! # chip (0,0): keys 0x10000-0x1FFFF to core 2 and out east
//! 0 0 0x00010000 0xFFFF0000 0x81
//! ```

use std::collections::{BTreeMap, VecDeque};

use crate::geometry::MachineDesc;

/// A line of a routing file that cannot be read.
/// One multicast routing entry for the host to load: on chip (x, y), packets whose key matches
/// `key` under `mask` go to the links (bits 0..5) and virtual cores (bit 6 + p) of `route`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteEntry {
    /// Chip x.
    pub x: u8,
    /// Chip y.
    pub y: u8,
    /// Key to match.
    pub key: u32,
    /// Mask applied to packet keys before comparing.
    pub mask: u32,
    /// Links (bits 0..5) and virtual cores (bits 6..23).
    pub route: u32,
}

#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {reason}")]
pub struct RoutesError {
    /// The file.
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// Parses a decimal or `0x` hexadecimal number (as routing files and command lines write them).
pub fn number(s: &str) -> Option<u64> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Parses routing entries; `file` names the source in errors.
pub fn parse(file: &str, text: &str) -> Result<Vec<RouteEntry>, RoutesError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let err = |reason: String| RoutesError {
            file: file.to_string(),
            line: i + 1,
            reason,
        };
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(err(format!(
                "expected `x y key mask route`, found {} fields",
                fields.len()
            )));
        }
        let mut v = [0u64; 5];
        for (slot, f) in v.iter_mut().zip(&fields) {
            *slot = number(f).ok_or_else(|| err(format!("`{f}` is not a number")))?;
        }
        if v[0] > 255 || v[1] > 255 {
            return Err(err(format!("chip ({},{}) is out of range", v[0], v[1])));
        }
        if v[2] > u32::MAX as u64 || v[3] > u32::MAX as u64 {
            return Err(err("key and mask are 32-bit".into()));
        }
        if v[4] >= 1 << 24 {
            return Err(err(format!(
                "route {:#x} has bits above 23 (links 0..5, cores 6..23)",
                v[4]
            )));
        }
        out.push(RouteEntry {
            x: v[0] as u8,
            y: v[1] as u8,
            key: v[2] as u32,
            mask: v[3] as u32,
            route: v[4] as u32,
        });
    }
    Ok(out)
}

/// The key under which [`to_every_chip`] routes packets for chip (x, y): x in bits 31..24,
/// y in bits 23..16 (the low 16 bits are free for the sender).
pub fn chip_key(x: u8, y: u8) -> u32 {
    (x as u32) << 24 | (y as u32) << 16
}

/// For every chip that can reach `dst`, the first link of a shortest path there (the lowest
/// link number on ties): what both the P2P tables SC&MP builds and [`to_every_chip`] use.
pub fn next_links(desc: &MachineDesc, dst: (u8, u8)) -> BTreeMap<(u8, u8), u8> {
    // Breadth-first from the destination gives every chip its distance to it.
    let mut dist = BTreeMap::from([(dst, 0u32)]);
    let mut queue = VecDeque::from([dst]);
    while let Some(c) = queue.pop_front() {
        for l in 0..6 {
            if let Some(n) = desc.neighbour(c.0, c.1, l) {
                if !dist.contains_key(&n) {
                    dist.insert(n, dist[&c] + 1);
                    queue.push_back(n);
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    for (&c, &d) in &dist {
        if c != dst {
            let l = (0..6u8).find(|&l| {
                desc.neighbour(c.0, c.1, l)
                    .is_some_and(|n| dist.get(&n) == Some(&(d - 1)))
            });
            out.insert(c, l.expect("a chip at distance d has a neighbour at d - 1"));
        }
    }
    out
}

/// Routing by destination chip over shortest paths: on every chip, one entry per destination
/// (key [`chip_key`], mask 0xFFFF0000) sends packets out of the first link of a shortest path
/// ([`next_links`]), or to virtual core `core` of the destination itself.
pub fn to_every_chip(desc: &MachineDesc, core: u8) -> Vec<RouteEntry> {
    let chips = desc.chips();
    let mut entries = Vec::new();
    for &dst in &chips {
        let links = next_links(desc, dst);
        for &c in &chips {
            let route = if c == dst {
                1 << (6 + core as u32)
            } else {
                match links.get(&c) {
                    Some(&l) => 1 << l,
                    None => continue,
                }
            };
            entries.push(RouteEntry {
                x: c.0,
                y: c.1,
                key: chip_key(dst.0, dst.1),
                mask: 0xFFFF_0000,
                route,
            });
        }
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chip_has_an_entry_for_every_destination() {
        let desc = MachineDesc::spinn3();
        let t = to_every_chip(&desc, 1);
        assert_eq!(t.len(), 16);
        let own = t
            .iter()
            .find(|e| (e.x, e.y) == (1, 1) && e.key == chip_key(1, 1))
            .unwrap();
        assert_eq!(own.route, 1 << 7);
        // (0,0) reaches (1,0) over link 0 (east).
        let east = t
            .iter()
            .find(|e| (e.x, e.y) == (0, 0) && e.key == chip_key(1, 0))
            .unwrap();
        assert_eq!(east.route, 1);
    }

    #[test]
    fn reads_entries_and_comments() {
        let r = parse(
            "t",
            "# c\n0 0 0x10000 0xFFFF0000 0x81\n\n1 2 5 7 3 # tail\n",
        )
        .unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(
            r[0],
            RouteEntry {
                x: 0,
                y: 0,
                key: 0x10000,
                mask: 0xFFFF_0000,
                route: 0x81
            }
        );
        assert_eq!((r[1].x, r[1].y, r[1].route), (1, 2, 3));
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        let e = parse("r.txt", "0 0 1 2\n").unwrap_err().to_string();
        assert_eq!(e, "r.txt:1: expected `x y key mask route`, found 4 fields");
        let e = parse("r.txt", "\n0 0 zz 1 2\n").unwrap_err().to_string();
        assert!(e.starts_with("r.txt:2: `zz`"), "{e}");
        assert!(parse("r", "300 0 1 1 1").is_err());
        assert!(parse("r", "0 0 1 1 0x1000000").is_err());
    }
}
