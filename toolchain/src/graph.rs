// SPDX-License-Identifier: GPL-2.0-or-later
//! Application and machine graphs, and [`split`] from one to the other.
//!
//! An [`AppGraph`] is what a user describes: populations of atoms (neurons, say) and the
//! multicast partitions that connect them. A partition is identified by its source vertex and
//! a name; every edge of that partition carries the same packets (the source's spikes) to
//! one more target. [`split`] cuts every application vertex into slices that fit one core
//! each, giving the [`MachineGraph`] that placement, key allocation and routing work on.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::graph::{DiGraph, NodeIndex};

/// An application vertex: a population of atoms and what each core holding a slice needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vertex {
    /// A name for messages and reports.
    pub name: String,
    /// Number of atoms (e.g. neurons) in the population.
    pub atoms: u32,
    /// Most atoms one core can hold (at least 1).
    pub max_atoms_per_core: u32,
    /// DTCM each core holding a slice needs, in bytes.
    pub dtcm_bytes: u32,
    /// SDRAM each core holding a slice needs, in bytes.
    pub sdram_bytes: u32,
}

/// Index of a vertex of an [`AppGraph`].
pub type AppVertexId = NodeIndex;

/// Index of a vertex of a [`MachineGraph`].
pub type MachineVertexId = NodeIndex;

/// A multicast partition of an application graph: what one source vertex sends under one name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AppPartitionId {
    /// The sending vertex.
    pub source: AppVertexId,
    /// The partition's name, unique among the source's partitions.
    pub name: String,
}

/// A multicast partition of a machine graph: one machine vertex's packets under one name,
/// which get one key space and one routing tree.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartitionId {
    /// The sending machine vertex.
    pub source: MachineVertexId,
    /// The name of the application partition it comes from.
    pub name: String,
}

/// An application graph: vertices joined by edges grouped into multicast partitions.
///
/// The underlying petgraph holds one edge per (source, target, partition name), weighted by
/// the partition name.
#[derive(Clone, Debug, Default)]
pub struct AppGraph {
    graph: DiGraph<Vertex, String>,
}

impl AppGraph {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a vertex and returns its index.
    ///
    /// # Panics
    /// When `vertex.max_atoms_per_core` is 0: no core could hold any of its atoms.
    pub fn add_vertex(&mut self, vertex: Vertex) -> AppVertexId {
        assert!(
            vertex.max_atoms_per_core > 0,
            "vertex {:?}: max_atoms_per_core must be at least 1",
            vertex.name
        );
        self.graph.add_node(vertex)
    }

    /// Makes `dst` a target of the partition `partition` of `src` (created on first use).
    /// Adding the same edge twice changes nothing.
    ///
    /// # Panics
    /// When `src` or `dst` is not a vertex of this graph.
    pub fn add_edge(&mut self, src: AppVertexId, dst: AppVertexId, partition: &str) {
        assert!(
            src.index() < self.graph.node_count() && dst.index() < self.graph.node_count(),
            "add_edge: {src:?} -> {dst:?} names a vertex not in the graph"
        );
        let exists = self
            .graph
            .edges_connecting(src, dst)
            .any(|e| e.weight() == partition);
        if !exists {
            self.graph.add_edge(src, dst, partition.to_string());
        }
    }

    /// The vertex at `id`, if there is one.
    pub fn vertex(&self, id: AppVertexId) -> Option<&Vertex> {
        self.graph.node_weight(id)
    }

    /// Number of vertices.
    pub fn vertex_count(&self) -> usize {
        self.graph.node_count()
    }

    /// Every partition with its targets, in a fixed order.
    pub fn partitions(&self) -> BTreeMap<AppPartitionId, BTreeSet<AppVertexId>> {
        let mut out: BTreeMap<AppPartitionId, BTreeSet<AppVertexId>> = BTreeMap::new();
        for e in self.graph.raw_edges() {
            out.entry(AppPartitionId {
                source: e.source(),
                name: e.weight.clone(),
            })
            .or_default()
            .insert(e.target());
        }
        out
    }

    /// The underlying petgraph (edges weighted by partition name).
    pub fn graph(&self) -> &DiGraph<Vertex, String> {
        &self.graph
    }
}

/// A slice `[lo, hi)` of an application vertex's atoms, held by one core.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineVertex {
    /// The application vertex this is a slice of.
    pub app_vertex: AppVertexId,
    /// First atom of the slice.
    pub lo: u32,
    /// One past the last atom of the slice.
    pub hi: u32,
    /// DTCM the core needs, in bytes.
    pub dtcm_bytes: u32,
    /// SDRAM the core needs, in bytes.
    pub sdram_bytes: u32,
}

impl MachineVertex {
    /// Number of atoms in the slice.
    pub fn atoms(&self) -> u32 {
        self.hi - self.lo
    }
}

/// The graph of slices: one vertex per core, edges between slices of connected vertices,
/// partitions per source slice.
#[derive(Clone, Debug, Default)]
pub struct MachineGraph {
    graph: DiGraph<MachineVertex, String>,
    partitions: BTreeMap<PartitionId, BTreeSet<MachineVertexId>>,
    slices: BTreeMap<AppVertexId, Vec<MachineVertexId>>,
}

impl MachineGraph {
    /// The vertex at `id`, if there is one.
    pub fn vertex(&self, id: MachineVertexId) -> Option<&MachineVertex> {
        self.graph.node_weight(id)
    }

    /// Number of machine vertices (= cores needed).
    pub fn vertex_count(&self) -> usize {
        self.graph.node_count()
    }

    /// Every machine vertex index, ascending.
    pub fn vertex_ids(&self) -> impl Iterator<Item = MachineVertexId> + '_ {
        self.graph.node_indices()
    }

    /// Every partition with its target vertices, in a fixed order.
    pub fn partitions(&self) -> &BTreeMap<PartitionId, BTreeSet<MachineVertexId>> {
        &self.partitions
    }

    /// The machine vertices an application vertex was split into, in atom order (empty for an
    /// unknown vertex or one without atoms).
    pub fn slices_of(&self, app: AppVertexId) -> &[MachineVertexId] {
        self.slices.get(&app).map_or(&[], Vec::as_slice)
    }

    /// The underlying petgraph (edges weighted by partition name).
    pub fn graph(&self) -> &DiGraph<MachineVertex, String> {
        &self.graph
    }
}

/// Splits every application vertex into `ceil(atoms / max_atoms_per_core)` slices of at most
/// `max_atoms_per_core` atoms (`[0, m)`, `[m, 2m)`, ...), and every application edge into
/// edges between all pairs of slices of its ends; each source slice gets its own copy of each
/// of its vertex's partitions. A vertex without atoms gets no slice.
pub fn split(graph: &AppGraph) -> MachineGraph {
    let mut out = MachineGraph::default();
    for app in graph.graph.node_indices() {
        let v = &graph.graph[app];
        let per_core = v.max_atoms_per_core.max(1);
        let mut ids = Vec::new();
        let mut lo = 0;
        while lo < v.atoms {
            let hi = lo + per_core.min(v.atoms - lo);
            ids.push(out.graph.add_node(MachineVertex {
                app_vertex: app,
                lo,
                hi,
                dtcm_bytes: v.dtcm_bytes,
                sdram_bytes: v.sdram_bytes,
            }));
            lo = hi;
        }
        out.slices.insert(app, ids);
    }
    for (part, targets) in graph.partitions() {
        for &src in &out.slices[&part.source].clone() {
            for &dst_app in &targets {
                for &dst in &out.slices[&dst_app].clone() {
                    out.graph.add_edge(src, dst, part.name.clone());
                    out.partitions
                        .entry(PartitionId {
                            source: src,
                            name: part.name.clone(),
                        })
                        .or_default()
                        .insert(dst);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pop(name: &str, atoms: u32, max: u32) -> Vertex {
        Vertex {
            name: name.into(),
            atoms,
            max_atoms_per_core: max,
            dtcm_bytes: 1024,
            sdram_bytes: 4096,
        }
    }

    #[test]
    fn split_makes_slices_and_all_pairs() {
        let mut g = AppGraph::new();
        let a = g.add_vertex(pop("a", 250, 100));
        let b = g.add_vertex(pop("b", 10, 100));
        let c = g.add_vertex(pop("c", 0, 100));
        g.add_edge(a, b, "spikes");
        g.add_edge(a, b, "spikes");
        g.add_edge(a, a, "spikes");
        g.add_edge(b, a, "other");
        g.add_edge(c, a, "spikes");
        let m = split(&g);
        assert_eq!(m.vertex_count(), 4);
        let slices: Vec<(u32, u32)> = m
            .slices_of(a)
            .iter()
            .map(|&s| (m.vertex(s).unwrap().lo, m.vertex(s).unwrap().hi))
            .collect();
        assert_eq!(slices, vec![(0, 100), (100, 200), (200, 250)]);
        assert!(m.slices_of(c).is_empty());
        // 3 sources in "spikes" (each to 3 + 1 targets) and one in "other" (to 3 targets).
        assert_eq!(m.partitions().len(), 4);
        assert_eq!(m.graph().edge_count(), 3 * 4 + 3);
        let b0 = m.slices_of(b)[0];
        let other = &m.partitions()[&PartitionId {
            source: b0,
            name: "other".into(),
        }];
        assert_eq!(other.iter().copied().collect::<Vec<_>>(), m.slices_of(a));
    }

    #[test]
    #[should_panic(expected = "max_atoms_per_core")]
    fn zero_atoms_per_core_is_refused() {
        AppGraph::new().add_vertex(pop("z", 5, 0));
    }
}
