// SPDX-License-Identifier: GPL-2.0-or-later
//! Multicast routing trees: for each partition, which links and cores every chip on the way
//! from the source to the targets sends its packets to.
//!
//! A tree is the union of shortest paths ([`spinn_hw::routes::next_links`], the lowest link
//! on ties) from the source chip to each target chip. A path that reaches a chip already on
//! the tree carries on from there instead of adding a second way in, so every chip is entered
//! over exactly one link and every target core gets each packet exactly once.

use std::collections::BTreeMap;

use spinn_hw::geometry::{opposite, MachineDesc};
use spinn_hw::routes::next_links;

use crate::graph::{MachineGraph, PartitionId};
use crate::place::{MapError, Placements};

/// What one chip of a tree does with the partition's packets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TreeNode {
    /// Links the packets leave on (bit l = link l).
    pub links: u8,
    /// Virtual cores of this chip that receive them (bit v = virtual core v).
    pub cores: u32,
    /// Link the packets arrive on (bit l = link l); 0 on the source chip (they come from a core).
    pub sources: u8,
}

impl TreeNode {
    /// The route word of a routing entry: links in bits 0..5, virtual cores from bit 6.
    pub fn route(&self) -> u32 {
        u32::from(self.links) | self.cores << 6
    }
}

/// One partition's multicast tree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoutingTree {
    /// Chip of the source core.
    pub source: (u8, u8),
    /// Every chip on the tree (the source chip included), with what it does.
    pub nodes: BTreeMap<(u8, u8), TreeNode>,
}

/// The tree of every partition.
pub type RoutingTrees = BTreeMap<PartitionId, RoutingTree>;

/// Builds a tree for every partition of `graph` from its source's chip to its targets' cores.
///
/// Errors when a vertex has no placement or a target chip cannot be reached over live links
/// (neither happens with [`crate::place::place`]'s placements).
pub fn route(
    graph: &MachineGraph,
    placements: &Placements,
    desc: &MachineDesc,
) -> Result<RoutingTrees, MapError> {
    let placed =
        |v: petgraph::graph::NodeIndex| placements.get(v).ok_or(MapError::NotPlaced(v.index()));
    // next_links per destination chip, computed once each.
    let mut towards: BTreeMap<(u8, u8), BTreeMap<(u8, u8), u8>> = BTreeMap::new();
    let mut out = RoutingTrees::new();
    for (part, targets) in graph.partitions() {
        let src = placed(part.source)?.chip();
        let mut tree = RoutingTree {
            source: src,
            nodes: BTreeMap::from([(src, TreeNode::default())]),
        };
        // Target cores grouped by chip.
        let mut by_chip: BTreeMap<(u8, u8), u32> = BTreeMap::new();
        for &t in targets {
            let p = placed(t)?;
            *by_chip.entry(p.chip()).or_default() |= 1 << p.core;
        }
        for (&dst, &cores) in &by_chip {
            let links = towards.entry(dst).or_insert_with(|| next_links(desc, dst));
            let mut at = src;
            while at != dst {
                let unreachable = MapError::Unreachable(src.0, src.1, dst.0, dst.1);
                let link = *links.get(&at).ok_or(unreachable.clone())?;
                let next = desc.neighbour(at.0, at.1, link).ok_or(unreachable)?;
                if !tree.nodes.contains_key(&next) {
                    tree.nodes
                        .get_mut(&at)
                        .expect("walk stays on the tree")
                        .links |= 1 << link;
                    tree.nodes.insert(
                        next,
                        TreeNode {
                            sources: 1 << opposite(link),
                            ..TreeNode::default()
                        },
                    );
                }
                at = next;
            }
            tree.nodes.get_mut(&dst).expect("destination reached").cores |= cores;
        }
        out.insert(part.clone(), tree);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{split, AppGraph, Vertex};
    use crate::place::place;

    #[test]
    fn tree_reaches_every_target_chip_once() {
        let desc = MachineDesc::spinn5();
        let mut g = AppGraph::new();
        let v = |g: &mut AppGraph, atoms| {
            g.add_vertex(Vertex {
                name: "p".into(),
                atoms,
                max_atoms_per_core: 1,
                dtcm_bytes: 0,
                sdram_bytes: 0,
            })
        };
        let src = v(&mut g, 1);
        let dst = v(&mut g, 200); // 200 cores: spread over a dozen chips
        g.add_edge(src, dst, "s");
        let m = split(&g);
        let p = place(&m, &desc, 3).unwrap();
        let trees = route(&m, &p, &desc).unwrap();
        assert_eq!(trees.len(), 1);
        let tree = trees.values().next().unwrap();
        let cores: u32 = tree.nodes.values().map(|n| n.cores.count_ones()).sum();
        assert_eq!(cores, 200);
        // A tree: every chip but the source is entered over one link, and the links leaving
        // chips add up to the chips entered.
        let leaving: u32 = tree.nodes.values().map(|n| n.links.count_ones()).sum();
        assert_eq!(leaving as usize, tree.nodes.len() - 1);
        for (&c, n) in &tree.nodes {
            assert_eq!(n.sources.count_ones(), u32::from(c != tree.source));
            assert!(n.links & !desc.live_links(c.0, c.1) == 0);
        }
    }

    #[test]
    fn unplaced_vertex_is_an_error() {
        let mut g = AppGraph::new();
        let a = g.add_vertex(Vertex {
            name: "a".into(),
            atoms: 1,
            max_atoms_per_core: 1,
            dtcm_bytes: 0,
            sdram_bytes: 0,
        });
        g.add_edge(a, a, "s");
        let m = split(&g);
        let e = route(&m, &Placements::default(), &MachineDesc::spinn3()).unwrap_err();
        assert_eq!(e, MapError::NotPlaced(0));
    }
}
