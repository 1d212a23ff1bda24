// SPDX-License-Identifier: GPL-2.0-or-later
//! The whole mapping pipeline, with each step a swappable function, and the per-core memory
//! checks and SDRAM layout that come with it.
//!
//! [`map`] runs split → place → allocate keys → route → build tables → compress, taking each
//! step from an [`Algorithms`] value (one function type per family, as rig does), so a caller can
//! swap, say, the placer without touching the rest. [`SdramLayout`] then hands out each chip's
//! SDRAM to the cores' data regions.

use std::collections::BTreeMap;

use spinn_hw::geometry::MachineDesc;
use spinn_hw::routes::RouteEntry;
use spinn_hw::sysram::{SDRAM_SYS, SDRAM_USER_BASE};

use crate::compress::ROUTER_CAPACITY;
use crate::graph::{split, AppGraph, MachineGraph, PartitionId};
use crate::keys::{allocate_key_blocks, KeyMap};
use crate::place::{place, MapError, Placements};
use crate::route::{route, RoutingTrees};
use crate::tables::{build_tables, compress_tables, to_route_entries, Tables};

/// DTCM an application may use for its data on one core: 64 KiB less the stacks and the
/// runtime's own variables (the spinn runtime keeps 12 KiB of stacks at the top of DTCM).
pub const DTCM_DATA_BYTES: u32 = 48 * 1024;

/// SDRAM of a chip that applications may use: from the user base up to the system area.
pub const SDRAM_USER_BYTES: u32 = SDRAM_SYS - SDRAM_USER_BASE;

/// Splits application vertices into machine vertices.
pub type SplitFn = fn(&AppGraph) -> MachineGraph;
/// Places machine vertices on cores; deterministic for a given seed.
pub type PlaceFn = fn(&MachineGraph, &MachineDesc, u64) -> Result<Placements, MapError>;
/// Builds a multicast tree per partition.
pub type RouteFn = fn(&MachineGraph, &Placements, &MachineDesc) -> Result<RoutingTrees, MapError>;
/// Fits each chip's table into a number of router entries.
pub type CompressFn = fn(&Tables, usize) -> Result<Tables, MapError>;

/// One algorithm per step of [`map`].
#[derive(Clone, Copy, Debug)]
pub struct Algorithms {
    /// Splitter.
    pub split: SplitFn,
    /// Placer.
    pub place: PlaceFn,
    /// Router (multicast trees).
    pub route: RouteFn,
    /// Table compressor.
    pub compress: CompressFn,
}

impl Default for Algorithms {
    /// Even slices, breadth-first locality-aware placement, shortest-path trees, ordered covering.
    fn default() -> Self {
        Algorithms {
            split,
            place,
            route,
            compress: compress_tables,
        }
    }
}

/// Everything mapping decided about an application graph on a machine.
#[derive(Clone, Debug)]
pub struct Mapping {
    /// The machine graph (one vertex per core).
    pub graph: MachineGraph,
    /// Where each machine vertex runs.
    pub placements: Placements,
    /// The key block of each partition.
    pub keys: KeyMap,
    /// The routing tables as loaded, compressed to fit.
    pub tables: Tables,
    /// The same tables as router entries for a target.
    pub entries: Vec<RouteEntry>,
}

/// Maps `graph` onto `desc`: the steps of `algorithms`, with `keys(graph, partition)` keys for
/// each partition. Errors when a core's DTCM or a chip's SDRAM cannot hold what its vertices
/// need, when there are too few cores, or a table does not fit its router.
pub fn map(
    graph: &AppGraph,
    desc: &MachineDesc,
    seed: u64,
    algorithms: &Algorithms,
    keys: impl Fn(&MachineGraph, &PartitionId) -> u32,
) -> Result<Mapping, MapError> {
    let mg = (algorithms.split)(graph);
    for id in mg.vertex_ids() {
        let v = mg.vertex(id).expect("id from the graph");
        if v.dtcm_bytes > DTCM_DATA_BYTES {
            let name = graph
                .vertex(v.app_vertex)
                .map_or_else(String::new, |a| a.name.clone());
            return Err(MapError::DtcmTooSmall {
                vertex: name,
                needed: v.dtcm_bytes,
                available: DTCM_DATA_BYTES,
            });
        }
    }
    let placements = (algorithms.place)(&mg, desc, seed)?;
    let mut sdram: BTreeMap<(u8, u8), u64> = BTreeMap::new();
    for (id, p) in placements.iter() {
        let need = mg.vertex(id).map_or(0, |v| u64::from(v.sdram_bytes));
        let used = sdram.entry(p.chip()).or_default();
        *used += need;
        if *used > u64::from(SDRAM_USER_BYTES) {
            return Err(MapError::SdramTooSmall {
                x: p.x,
                y: p.y,
                needed: *used,
                available: SDRAM_USER_BYTES,
            });
        }
    }
    let key_map = allocate_key_blocks(&mg, |p| keys(&mg, p));
    let trees = (algorithms.route)(&mg, &placements, desc)?;
    let tables = (algorithms.compress)(&build_tables(&trees, &key_map, desc), ROUTER_CAPACITY)?;
    let entries = to_route_entries(&tables);
    Ok(Mapping {
        graph: mg,
        placements,
        keys: key_map,
        tables,
        entries,
    })
}

/// Hands out each chip's application SDRAM, word aligned, in the order asked.
#[derive(Clone, Debug, Default)]
pub struct SdramLayout {
    next: BTreeMap<(u8, u8), u32>,
}

impl SdramLayout {
    /// Nothing handed out yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The address of `bytes` fresh bytes of chip (x, y)'s SDRAM.
    pub fn alloc(&mut self, x: u8, y: u8, bytes: u32) -> Result<u32, MapError> {
        let next = self.next.entry((x, y)).or_insert(SDRAM_USER_BASE);
        let addr = *next;
        let end = u64::from(addr) + u64::from(bytes.div_ceil(4) * 4);
        if end > u64::from(SDRAM_SYS) {
            return Err(MapError::SdramTooSmall {
                x,
                y,
                needed: end - u64::from(SDRAM_USER_BASE),
                available: SDRAM_USER_BYTES,
            });
        }
        *next = end as u32;
        Ok(addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Vertex;

    fn pop(name: &str, atoms: u32, dtcm: u32, sdram: u32) -> Vertex {
        Vertex {
            name: name.into(),
            atoms,
            max_atoms_per_core: 8,
            dtcm_bytes: dtcm,
            sdram_bytes: sdram,
        }
    }

    #[test]
    fn maps_with_sized_keys_and_checks_memory() {
        let mut g = AppGraph::new();
        let a = g.add_vertex(pop("a", 20, 1024, 4096));
        let b = g.add_vertex(pop("b", 5, 1024, 4096));
        g.add_edge(a, b, "fwd");
        g.add_edge(b, a, "back");
        let desc = MachineDesc::spinn3();
        let m = map(&g, &desc, 1, &Algorithms::default(), |_, p| {
            if p.name == "back" {
                40
            } else {
                3
            }
        })
        .unwrap();
        assert_eq!(m.graph.vertex_count(), 4);
        assert_eq!(m.placements.len(), 4);
        for (p, k) in &m.keys {
            assert_eq!(k.block(), if p.name == "back" { 64 } else { 4 });
        }
        assert!(!m.entries.is_empty());

        let mut big = AppGraph::new();
        big.add_vertex(pop("huge", 4, DTCM_DATA_BYTES + 1, 0));
        let e = map(&big, &desc, 1, &Algorithms::default(), |_, _| 1).unwrap_err();
        assert!(e.to_string().contains("huge"), "{e}");

        let mut fat = AppGraph::new();
        fat.add_vertex(pop("fat", 1, 0, SDRAM_USER_BYTES / 2 + 1));
        fat.add_vertex(pop("fat2", 1, 0, SDRAM_USER_BYTES / 2 + 1));
        let e = map(&fat, &desc, 1, &Algorithms::default(), |_, _| 1).unwrap_err();
        assert!(matches!(e, MapError::SdramTooSmall { .. }), "{e}");
    }

    #[test]
    fn a_swapped_placer_is_used() {
        fn nowhere(_: &MachineGraph, _: &MachineDesc, _: u64) -> Result<Placements, MapError> {
            Err(MapError::DoesNotFit {
                needed: 99,
                available: 0,
            })
        }
        let mut g = AppGraph::new();
        g.add_vertex(pop("a", 1, 0, 0));
        let algorithms = Algorithms {
            place: nowhere,
            ..Algorithms::default()
        };
        let e = map(&g, &MachineDesc::single(), 1, &algorithms, |_, _| 1).unwrap_err();
        assert_eq!(
            e,
            MapError::DoesNotFit {
                needed: 99,
                available: 0
            }
        );
    }

    #[test]
    fn sdram_layout_is_per_chip_and_bounded() {
        let mut l = SdramLayout::new();
        assert_eq!(l.alloc(0, 0, 10).unwrap(), SDRAM_USER_BASE);
        assert_eq!(l.alloc(0, 0, 4).unwrap(), SDRAM_USER_BASE + 12);
        assert_eq!(l.alloc(1, 0, 4).unwrap(), SDRAM_USER_BASE);
        assert!(l.alloc(1, 0, SDRAM_USER_BYTES).is_err());
    }
}
