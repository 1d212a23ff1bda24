// SPDX-License-Identifier: GPL-2.0-or-later
//! Placement: which core of which chip runs each machine vertex, and [`MapError`], what can
//! go wrong while mapping.
//!
//! [`place`] puts one machine vertex on each application core (virtual cores 1 and up; core 0
//! is the monitor). It walks the graph breadth first so that connected vertices come one after
//! another, and puts each vertex on the free chip nearest to the vertex it was reached from;
//! vertices reached from nothing take the first free chip in breadth-first order from (0,0).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use spinn_hw::geometry::{MachineDesc, CORES_PER_CHIP, N_LINKS};

use crate::compress::CompressError;
use crate::graph::{MachineGraph, MachineVertexId};

/// What went wrong while mapping a graph onto a machine, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// More machine vertices than application cores.
    #[error(
        "the network needs {needed} cores, the machine has {available} application cores: \
         use a bigger machine, or put more atoms on each core"
    )]
    DoesNotFit {
        /// Machine vertices (one core each).
        needed: usize,
        /// Application cores of the live chips reachable from the boot chip.
        available: usize,
    },
    /// A target core cannot be reached from its source over live links.
    #[error("no route from chip ({0},{1}) to chip ({2},{3}) over live links")]
    Unreachable(u8, u8, u8, u8),
    /// A vertex has no placement.
    #[error("machine vertex {0} has no placement")]
    NotPlaced(usize),
    /// A routing table does not fit its router even compressed.
    #[error(
        "chip ({x},{y}): the routing table needs {needed} entries after compression, \
         the router has {target}: spread the network over more chips or use fewer partitions"
    )]
    TableTooBig {
        /// Chip x.
        x: u8,
        /// Chip y.
        y: u8,
        /// Entries left after compression.
        needed: usize,
        /// Entries available.
        target: usize,
    },
    /// A machine vertex needs more DTCM than a core has for data.
    #[error(
        "{vertex}: one core's share needs {needed} bytes of DTCM, a core has {available}: \
         put fewer atoms on each core"
    )]
    DtcmTooSmall {
        /// Name of the application vertex.
        vertex: String,
        /// Bytes one of its cores needs.
        needed: u32,
        /// Bytes a core has for data.
        available: u32,
    },
    /// The vertices placed on a chip need more SDRAM than it has.
    #[error(
        "chip ({x},{y}): its cores need {needed} bytes of SDRAM, the chip has {available} for \
         applications: use a bigger machine or smaller data"
    )]
    SdramTooSmall {
        /// Chip x.
        x: u8,
        /// Chip y.
        y: u8,
        /// Bytes needed.
        needed: u64,
        /// Bytes available.
        available: u32,
    },
    /// Compression refused a table for another reason (a generator bug).
    #[error("chip ({x},{y}): {source}")]
    Compress {
        /// Chip x.
        x: u8,
        /// Chip y.
        y: u8,
        /// What compression said.
        source: CompressError,
    },
}

/// Where a machine vertex runs: chip (x, y), virtual core `core` (never 0, the monitor).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Placement {
    /// Chip x.
    pub x: u8,
    /// Chip y.
    pub y: u8,
    /// Virtual core (1 up to the chip's live cores - 1).
    pub core: u8,
}

impl Placement {
    /// The chip as (x, y).
    pub fn chip(&self) -> (u8, u8) {
        (self.x, self.y)
    }
}

/// The placement of every machine vertex.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Placements {
    by_vertex: BTreeMap<MachineVertexId, Placement>,
}

impl Placements {
    /// Where `v` runs, if it was placed.
    pub fn get(&self, v: MachineVertexId) -> Option<Placement> {
        self.by_vertex.get(&v).copied()
    }

    /// Every (vertex, placement), by vertex.
    pub fn iter(&self) -> impl Iterator<Item = (MachineVertexId, Placement)> + '_ {
        self.by_vertex.iter().map(|(&v, &p)| (v, p))
    }

    /// Number of placed vertices.
    pub fn len(&self) -> usize {
        self.by_vertex.len()
    }

    /// Whether nothing is placed.
    pub fn is_empty(&self) -> bool {
        self.by_vertex.is_empty()
    }

    /// Records `v` at `p` (replacing an earlier placement), for placers other than [`place`].
    pub fn insert(&mut self, v: MachineVertexId, p: Placement) {
        self.by_vertex.insert(v, p);
    }
}

/// Application cores of chip (x, y): its live cores minus the monitor.
pub fn app_cores(desc: &MachineDesc, x: u8, y: u8) -> u8 {
    let all = (1u32 << CORES_PER_CHIP) - 1;
    let live = u32::from(CORES_PER_CHIP) - (desc.dead_cores(x, y) & all).count_ones();
    live.saturating_sub(1) as u8
}

/// The chip placement starts from: (0,0) when alive, else the first live Ethernet chip, else
/// the first chip.
fn boot_chip(desc: &MachineDesc) -> Option<(u8, u8)> {
    if desc.has_chip(0, 0) {
        return Some((0, 0));
    }
    desc.ethernet_chips()
        .into_iter()
        .find(|&(x, y)| desc.has_chip(x, y))
        .or_else(|| desc.chips().first().copied())
}

/// Live chips reachable from `from`, breadth first (links in order 0..5).
fn bfs_chips(desc: &MachineDesc, from: (u8, u8)) -> Vec<(u8, u8)> {
    let mut seen = BTreeSet::from([from]);
    let mut order = vec![from];
    let mut i = 0;
    while i < order.len() {
        let (x, y) = order[i];
        for l in 0..N_LINKS {
            if let Some(n) = desc.neighbour(x, y, l) {
                if seen.insert(n) {
                    order.push(n);
                }
            }
        }
        i += 1;
    }
    order
}

/// SplitMix64: a tiny deterministic generator for the seeded tie-breaks.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The order vertices are placed in, each with the vertex it was reached from: breadth first
/// over the (undirected) partitions, starting points shuffled by `seed`.
fn placement_order(
    graph: &MachineGraph,
    seed: u64,
) -> Vec<(MachineVertexId, Option<MachineVertexId>)> {
    let mut adjacent: BTreeMap<MachineVertexId, BTreeSet<MachineVertexId>> = BTreeMap::new();
    for (part, targets) in graph.partitions() {
        for &t in targets {
            if t != part.source {
                adjacent.entry(part.source).or_default().insert(t);
                adjacent.entry(t).or_default().insert(part.source);
            }
        }
    }
    let mut roots: Vec<MachineVertexId> = graph.vertex_ids().collect();
    let mut rng = SplitMix(seed);
    for i in (1..roots.len()).rev() {
        roots.swap(i, (rng.next() % (i as u64 + 1)) as usize);
    }
    let mut seen = BTreeSet::new();
    let mut order = Vec::with_capacity(roots.len());
    for root in roots {
        if !seen.insert(root) {
            continue;
        }
        let mut queue = VecDeque::from([(root, None)]);
        while let Some((v, parent)) = queue.pop_front() {
            order.push((v, parent));
            for &n in adjacent.get(&v).into_iter().flatten() {
                if seen.insert(n) {
                    queue.push_back((n, Some(v)));
                }
            }
        }
    }
    order
}

/// Places every vertex of `graph` on its own application core of `desc`: deterministic for a
/// given `seed`, which only changes where the breadth-first walk over the graph starts.
///
/// Only chips reachable from the boot chip over live links are used, so that every pair of
/// placed vertices can be routed. Errors with [`MapError::DoesNotFit`] when there are more
/// vertices than such cores.
pub fn place(graph: &MachineGraph, desc: &MachineDesc, seed: u64) -> Result<Placements, MapError> {
    let chips = boot_chip(desc).map_or_else(Vec::new, |b| bfs_chips(desc, b));
    let index: BTreeMap<(u8, u8), usize> = chips.iter().enumerate().map(|(i, &c)| (c, i)).collect();
    // Free virtual cores per chip, the lowest taken first.
    let mut free: Vec<VecDeque<u8>> = chips
        .iter()
        .map(|&(x, y)| (1..=app_cores(desc, x, y)).collect())
        .collect();
    let available: usize = free.iter().map(VecDeque::len).sum();
    let needed = graph.vertex_count();
    if needed > available {
        return Err(MapError::DoesNotFit { needed, available });
    }
    let mut out = Placements::default();
    let mut cursor = 0; // first chip in BFS order that may still have a free core
    for (v, parent) in placement_order(graph, seed) {
        let near = parent.and_then(|p| out.get(p)).map(|p| index[&p.chip()]);
        let chip = match near {
            Some(c) => nearest_free(desc, &chips, &index, &free, c),
            None => {
                while free[cursor].is_empty() {
                    cursor += 1;
                }
                cursor
            }
        };
        let core = free[chip].pop_front().expect("chosen chip has a free core");
        let (x, y) = chips[chip];
        out.insert(v, Placement { x, y, core });
    }
    Ok(out)
}

/// The chip with a free core closest (in hops, links in order on ties) to chip `from`.
fn nearest_free(
    desc: &MachineDesc,
    chips: &[(u8, u8)],
    index: &BTreeMap<(u8, u8), usize>,
    free: &[VecDeque<u8>],
    from: usize,
) -> usize {
    if !free[from].is_empty() {
        return from;
    }
    let mut seen = vec![false; chips.len()];
    seen[from] = true;
    let mut queue = VecDeque::from([from]);
    while let Some(i) = queue.pop_front() {
        if !free[i].is_empty() {
            return i;
        }
        let (x, y) = chips[i];
        for l in 0..N_LINKS {
            if let Some(j) = desc.neighbour(x, y, l).and_then(|n| index.get(&n).copied()) {
                if !seen[j] {
                    seen[j] = true;
                    queue.push_back(j);
                }
            }
        }
    }
    unreachable!("place checked that enough cores are free on reachable chips")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{split, AppGraph, Vertex};

    fn chain(n: usize, atoms: u32, per_core: u32) -> AppGraph {
        let mut g = AppGraph::new();
        let ids: Vec<_> = (0..n)
            .map(|i| {
                g.add_vertex(Vertex {
                    name: format!("p{i}"),
                    atoms,
                    max_atoms_per_core: per_core,
                    dtcm_bytes: 0,
                    sdram_bytes: 0,
                })
            })
            .collect();
        for w in ids.windows(2) {
            g.add_edge(w[0], w[1], "spikes");
        }
        g
    }

    #[test]
    fn fills_whole_spinn3_and_no_more() {
        let desc = MachineDesc::spinn3();
        let m = split(&chain(4, 17, 1)); // 68 cores: exactly the board
        let p = place(&m, &desc, 1).unwrap();
        assert_eq!(p.len(), 68);
        let used: BTreeSet<Placement> = p.iter().map(|(_, p)| p).collect();
        assert_eq!(used.len(), 68);
        assert!(used.iter().all(|p| (1..=17).contains(&p.core)));
        let m = split(&chain(5, 14, 1)); // 70
        let e = place(&m, &desc, 1).unwrap_err();
        assert_eq!(
            e,
            MapError::DoesNotFit {
                needed: 70,
                available: 68
            }
        );
        assert_eq!(
            e.to_string(),
            "the network needs 70 cores, the machine has 68 application cores: \
             use a bigger machine, or put more atoms on each core"
        );
    }

    #[test]
    fn dead_cores_and_dead_chips_are_avoided() {
        let mut desc = MachineDesc::spinn5();
        desc.kill_core(0, 0, 3).unwrap();
        desc.kill_core(0, 0, 7).unwrap();
        desc.kill_chip(1, 0).unwrap();
        assert_eq!(app_cores(&desc, 0, 0), 15);
        let m = split(&chain(3, 40, 1));
        let p = place(&m, &desc, 9).unwrap();
        for (_, pl) in p.iter() {
            assert!(pl.core >= 1 && pl.core <= app_cores(&desc, pl.x, pl.y));
            assert_ne!(pl.chip(), (1, 0));
        }
    }

    #[test]
    fn connected_vertices_stay_close_and_seeds_are_deterministic() {
        let desc = MachineDesc::spinn5();
        let m = split(&chain(10, 30, 10)); // 30 cores: two chips' worth
        let a = place(&m, &desc, 42).unwrap();
        assert_eq!(a, place(&m, &desc, 42).unwrap());
        let chips: BTreeSet<(u8, u8)> = a.iter().map(|(_, p)| p.chip()).collect();
        assert_eq!(chips.len(), 2, "30 cores fill two chips: {chips:?}");
        let mut far = 0;
        for (part, targets) in m.partitions() {
            let from = a.get(part.source).unwrap().chip();
            for &t in targets {
                far = far.max(desc.hops(from, a.get(t).unwrap().chip()).unwrap());
            }
        }
        assert!(far <= 1);
    }
}
