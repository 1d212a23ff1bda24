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
        if v[2] & !v[3] != 0 {
            // The router matches when (packet key & mask) == key: such an entry never does.
            return Err(err(format!(
                "key {:#x} has bits outside mask {:#x} ({:#x}): the entry could never match",
                v[2],
                v[3],
                v[2] & !v[3]
            )));
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
    Towards::new(desc, dst).iter().collect()
}

/// Link hops from one chip to every chip of a machine over live links (breadth-first), held
/// in a flat table so that building it is linear in the machine's size.
#[derive(Clone, Debug)]
pub struct Distances {
    height: u8,
    /// Hops per position `x * height + y`; `u32::MAX` where no chip is reached.
    dist: Vec<u32>,
}

impl Distances {
    /// Hops from `origin` to every chip (all unreachable when `origin` is not a live chip).
    pub fn new(desc: &MachineDesc, origin: (u8, u8)) -> Distances {
        let (w, h) = (usize::from(desc.width()), usize::from(desc.height()));
        let mut dist = vec![u32::MAX; w * h];
        let at = |(x, y): (u8, u8)| usize::from(x) * h + usize::from(y);
        if desc.has_chip(origin.0, origin.1) {
            dist[at(origin)] = 0;
            let mut queue = VecDeque::from([origin]);
            while let Some(c) = queue.pop_front() {
                let d = dist[at(c)] + 1;
                for l in 0..6 {
                    if let Some(n) = desc.neighbour(c.0, c.1, l) {
                        if dist[at(n)] == u32::MAX {
                            dist[at(n)] = d;
                            queue.push_back(n);
                        }
                    }
                }
            }
        }
        Distances {
            height: desc.height(),
            dist,
        }
    }

    /// Hops to `chip`, None when it is no chip reached from the origin.
    pub fn get(&self, chip: (u8, u8)) -> Option<u32> {
        if chip.1 >= self.height {
            return None;
        }
        let i = usize::from(chip.0) * usize::from(self.height) + usize::from(chip.1);
        self.dist.get(i).copied().filter(|&d| d != u32::MAX)
    }
}

/// [`next_links`] towards one destination as a flat table: O(1) lookups, built in time linear
/// in the machine's size.
#[derive(Clone, Debug)]
pub struct Towards {
    height: u8,
    /// First link per position `x * height + y`; [`Towards::NONE`] for the destination itself
    /// and where no chip reaches it.
    links: Vec<u8>,
}

impl Towards {
    /// Marks a position with no first link.
    const NONE: u8 = u8::MAX;

    /// The first link of a shortest path to `dst` from every chip that reaches it.
    pub fn new(desc: &MachineDesc, dst: (u8, u8)) -> Towards {
        let dist = Distances::new(desc, dst);
        let h = desc.height();
        let mut links = vec![Self::NONE; dist.dist.len()];
        for (i, &d) in dist.dist.iter().enumerate() {
            if d == 0 || d == u32::MAX {
                continue;
            }
            let (x, y) = ((i / usize::from(h)) as u8, (i % usize::from(h)) as u8);
            let l = (0..6u8).find(|&l| {
                desc.neighbour(x, y, l)
                    .is_some_and(|n| dist.get(n) == Some(d - 1))
            });
            links[i] = l.expect("a chip at distance d has a neighbour at d - 1");
        }
        Towards { height: h, links }
    }

    /// The first link from `from`, None when `from` is the destination or does not reach it.
    pub fn link(&self, from: (u8, u8)) -> Option<u8> {
        if from.1 >= self.height {
            return None;
        }
        let i = usize::from(from.0) * usize::from(self.height) + usize::from(from.1);
        self.links.get(i).copied().filter(|&l| l != Self::NONE)
    }

    /// Every chip that reaches the destination with its first link, in (x, y) order.
    pub fn iter(&self) -> impl Iterator<Item = ((u8, u8), u8)> + '_ {
        let h = usize::from(self.height);
        self.links
            .iter()
            .enumerate()
            .filter(|&(_, &l)| l != Self::NONE)
            .map(move |(i, &l)| (((i / h) as u8, (i % h) as u8), l))
    }

    /// Host bytes one table takes for a machine of `width` x `height` positions.
    pub fn bytes(width: u8, height: u8) -> usize {
        usize::from(width) * usize::from(height)
    }
}

/// From `from`, the first link of a shortest path to every chip it reaches (the lowest link on
/// ties, as [`next_links`] chooses), in (x, y) order: one chip's row of the P2P tables, in
/// time linear in the machine's size (distances are symmetric, so seven breadth-first searches,
/// from `from` and from each neighbour, decide every destination).
pub fn first_links_from(desc: &MachineDesc, from: (u8, u8)) -> Vec<((u8, u8), u8)> {
    let own = Distances::new(desc, from);
    let mut links: Vec<u8> = vec![Towards::NONE; own.dist.len()];
    for l in 0..6u8 {
        let Some(n) = desc.neighbour(from.0, from.1, l) else {
            continue;
        };
        let theirs = Distances::new(desc, n);
        for (i, (&d, &dn)) in own.dist.iter().zip(&theirs.dist).enumerate() {
            // Lower links were tried first, so the first one found is the lowest.
            if d != 0 && d != u32::MAX && links[i] == Towards::NONE && dn == d - 1 {
                links[i] = l;
            }
        }
    }
    Towards {
        height: desc.height(),
        links,
    }
    .iter()
    .collect()
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

    /// The first links as the P2P tables were built before they were flat: a breadth-first
    /// search over maps, lowest link on ties.
    fn reference_next_links(desc: &MachineDesc, dst: (u8, u8)) -> BTreeMap<(u8, u8), u8> {
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
        dist.iter()
            .filter(|&(&c, _)| c != dst)
            .map(|(&c, &d)| {
                let l = (0..6u8).find(|&l| {
                    desc.neighbour(c.0, c.1, l)
                        .is_some_and(|n| dist.get(&n) == Some(&(d - 1)))
                });
                (c, l.unwrap())
            })
            .collect()
    }

    fn machines() -> Vec<MachineDesc> {
        vec![
            MachineDesc::single(),
            MachineDesc::spinn3(),
            MachineDesc::spinn5(),
            MachineDesc::torus(2, 3),
            MachineDesc::torus(5, 4),
            MachineDesc::boards(2).unwrap(),
            MachineDesc::boards(3).unwrap(),
            // Dead chips and links make paths bend and cut some chips off.
            MachineDesc::from_json(
                r#"{"base": "spinn5", "dead_chips": [[1, 1], [2, 2], [3, 3], [0, 3]],
                    "dead_links": [[4, 4, 0], [5, 6, 2], [0, 0, 0]]}"#,
            )
            .unwrap(),
            MachineDesc::from_json(
                r#"{"width": 6, "height": 3, "wrap": true, "dead_links": [[0, 0, 3], [2, 1, 1]],
                    "dead_chips": [[3, 1]]}"#,
            )
            .unwrap(),
        ]
    }

    #[test]
    fn flat_tables_choose_the_links_the_map_search_chose() {
        for desc in machines() {
            for dst in desc.chips() {
                let reference = reference_next_links(&desc, dst);
                assert_eq!(next_links(&desc, dst), reference, "towards {dst:?}");
                let towards = Towards::new(&desc, dst);
                let dist = Distances::new(&desc, dst);
                for x in 0..=desc.width() {
                    for y in 0..=desc.height() {
                        assert_eq!(towards.link((x, y)), reference.get(&(x, y)).copied());
                        let hops = desc.hops((x, y), dst);
                        assert_eq!(dist.get((x, y)), hops, "({x},{y}) to {dst:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_row_is_the_column_tables_read_across() {
        for desc in machines() {
            let chips = desc.chips();
            for &from in &chips {
                let row: Vec<((u8, u8), u8)> = chips
                    .iter()
                    .filter_map(|&dst| Some((dst, Towards::new(&desc, dst).link(from)?)))
                    .collect();
                assert_eq!(first_links_from(&desc, from), row, "from {from:?}");
            }
        }
        // Not a chip: nothing reached.
        assert!(first_links_from(&MachineDesc::spinn5(), (7, 0)).is_empty());
        assert!(Towards::new(&MachineDesc::spinn5(), (7, 0))
            .iter()
            .next()
            .is_none());
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
        let e = parse("r", "0 0 0x10001 0xFFFF0000 1")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "r:1: key 0x10001 has bits outside mask 0xffff0000 (0x1): the entry could never match"
        );
    }
}
