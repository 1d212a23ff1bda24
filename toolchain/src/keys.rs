// SPDX-License-Identifier: GPL-2.0-or-later
//! Multicast key allocation: each partition gets an aligned, power-of-two block of keys.

use std::collections::BTreeMap;

use crate::graph::{MachineGraph, PartitionId};

/// The keys of one partition: atom `i` of the source slice sends `base | i`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySpace {
    /// First key; aligned to the block size.
    pub base: u32,
    /// Mask selecting the block: `key & mask == base` for every key of the block.
    pub mask: u32,
    /// Keys in use (atoms of the source slice, or what [`allocate_key_blocks`] was asked for);
    /// the block holds the next power of two.
    pub atoms: u32,
}

impl KeySpace {
    /// The key atom `i` sends.
    pub fn key(&self, atom: u32) -> u32 {
        debug_assert!(atom < self.atoms.max(1));
        self.base | atom
    }

    /// Number of keys in the block (a power of two).
    pub fn block(&self) -> u64 {
        u64::from(!self.mask) + 1
    }
}

/// The key space of every partition.
pub type KeyMap = BTreeMap<PartitionId, KeySpace>;

/// Keys SC&MP routes with its reserved entry 0 (time sync and signals): never allocated.
const RESERVED_FROM: u64 = 0xFFFF_0000;

/// Gives every partition of `graph` a block of the smallest power of two at least its source
/// slice's atom count (at least 1), aligned to its size and disjoint from every other block.
///
/// Blocks are handed out largest first from key 0, which keeps each aligned without gaps.
///
/// # Panics
/// When the blocks together would reach 0xFFFF_0000 (keys SC&MP reserves): over four billion
/// atoms.
pub fn allocate_keys(graph: &MachineGraph) -> KeyMap {
    allocate_key_blocks(graph, |p| graph.vertex(p.source).map_or(0, |v| v.atoms()))
}

/// Like [`allocate_keys`], but partition `p` gets a block of at least `keys(p)` keys instead of
/// one per source atom: for applications whose packets are not one per atom (a layer sending
/// values for the layer below, requests, flags in the key).
///
/// # Panics
/// As [`allocate_keys`].
pub fn allocate_key_blocks(graph: &MachineGraph, keys: impl Fn(&PartitionId) -> u32) -> KeyMap {
    let mut parts: Vec<(&PartitionId, u32, u64)> = graph
        .partitions()
        .keys()
        .map(|p| {
            let n = keys(p);
            (p, n, u64::from(n.max(1)).next_power_of_two())
        })
        .collect();
    // Largest first; ties keep the partitions' own order (a stable sort).
    parts.sort_by_key(|p| std::cmp::Reverse(p.2));
    let mut next = 0u64;
    let mut out = KeyMap::new();
    for (p, atoms, size) in parts {
        assert!(
            next + size <= RESERVED_FROM,
            "key space exhausted: partitions need more than {RESERVED_FROM:#x} keys"
        );
        out.insert(
            p.clone(),
            KeySpace {
                base: next as u32,
                mask: !((size - 1) as u32),
                atoms,
            },
        );
        next += size;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{split, AppGraph, Vertex};

    #[test]
    fn blocks_are_aligned_disjoint_and_big_enough() {
        let mut g = AppGraph::new();
        let sizes = [(1, 1), (3, 3), (200, 100), (5, 5), (64, 64), (17, 9)];
        let ids: Vec<_> = sizes
            .iter()
            .enumerate()
            .map(|(i, &(atoms, max))| {
                g.add_vertex(Vertex {
                    name: format!("v{i}"),
                    atoms,
                    max_atoms_per_core: max,
                    dtcm_bytes: 0,
                    sdram_bytes: 0,
                })
            })
            .collect();
        for &s in &ids {
            g.add_edge(s, ids[0], "a");
            g.add_edge(s, ids[1], "b");
        }
        let m = split(&g);
        let keys = allocate_keys(&m);
        assert_eq!(keys.len(), m.partitions().len());
        let spaces: Vec<(&PartitionId, &KeySpace)> = keys.iter().collect();
        for (i, (p, k)) in spaces.iter().enumerate() {
            let atoms = m.vertex(p.source).unwrap().atoms();
            assert_eq!(k.atoms, atoms);
            assert!(k.block() >= u64::from(atoms) && k.block() < 2 * u64::from(atoms.max(1)));
            assert_eq!(k.base & !k.mask, 0, "aligned");
            assert!((0..atoms).all(|a| k.key(a) & k.mask == k.base));
            for (_, o) in &spaces[i + 1..] {
                let overlap = (k.base ^ o.base) & k.mask & o.mask == 0;
                assert!(!overlap, "{k:?} overlaps {o:?}");
            }
        }
    }
}
