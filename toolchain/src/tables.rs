// SPDX-License-Identifier: GPL-2.0-or-later
//! Routing tables from routing trees and key spaces, their compression, and the entries a
//! [`crate::target::Target`] loads.

use std::collections::BTreeMap;

use spinn_hw::geometry::MachineDesc;
use spinn_hw::routes::RouteEntry;

use crate::compress::{minimise, remove_default_routes, CompressError, Entry, SOURCE_LOCAL};
use crate::keys::KeyMap;
use crate::place::MapError;
use crate::route::RoutingTrees;

/// Routing tables by chip; route words name virtual cores.
pub type Tables = BTreeMap<(u8, u8), Vec<Entry>>;

/// One entry per (partition, chip of its tree): the partition's key and mask, the tree's
/// links and virtual cores there as the route, and the link packets arrive on as `sources`
/// ([`SOURCE_LOCAL`] on the source chip, where they come from a core). Entries come in key
/// order.
///
/// # Panics
/// When a partition has a tree but no key space, or a tree uses a link `desc` does not have:
/// both mean the trees and keys were not made for this graph and machine.
pub fn build_tables(trees: &RoutingTrees, keys: &KeyMap, desc: &MachineDesc) -> Tables {
    let mut out = Tables::new();
    for (part, tree) in trees {
        let space = keys
            .get(part)
            .unwrap_or_else(|| panic!("partition {part:?} has no key space"));
        for (&(x, y), node) in &tree.nodes {
            assert!(
                node.links & !desc.live_links(x, y) == 0,
                "chip ({x},{y}): tree uses links {:#b}, live are {:#b}",
                node.links,
                desc.live_links(x, y)
            );
            if node.route() == 0 {
                continue;
            }
            let local = if (x, y) == tree.source {
                SOURCE_LOCAL
            } else {
                0
            };
            out.entry((x, y)).or_default().push(Entry {
                key: space.base,
                mask: space.mask,
                route: node.route(),
                sources: node.sources | local,
            });
        }
    }
    for table in out.values_mut() {
        table.sort_by_key(|e| (e.key, e.mask));
    }
    out
}

/// Makes every table fit `target` entries: first by dropping the entries default routing
/// replaces ([`remove_default_routes`]); when that is not enough, by ordered covering
/// ([`minimise`]) of the whole table.
///
/// Covering may claim keys no entry matched, so it runs on the table with its default-route
/// entries still in: dropping them first would hand their keys to a covering entry instead of
/// to default routing.
pub fn compress_tables(tables: &Tables, target: usize) -> Result<Tables, MapError> {
    let mut out = Tables::new();
    for (&(x, y), table) in tables {
        let reduced = remove_default_routes(table);
        let fitted = if reduced.len() <= target {
            reduced
        } else {
            minimise(table, target).map_err(|e| match e {
                CompressError::TooBig { needed, target } => MapError::TableTooBig {
                    x,
                    y,
                    needed,
                    target,
                },
                source => MapError::Compress { x, y, source },
            })?
        };
        out.insert((x, y), fitted);
    }
    Ok(out)
}

/// The tables as entries for [`crate::target::Target::load_routes`], chip by chip in table order.
pub fn to_route_entries(tables: &Tables) -> Vec<RouteEntry> {
    tables
        .iter()
        .flat_map(|(&(x, y), table)| {
            table.iter().map(move |e| RouteEntry {
                x,
                y,
                key: e.key,
                mask: e.mask,
                route: e.route,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use spinn_hw::geometry::{opposite, MachineDesc, N_LINKS};

    use super::*;
    use crate::compress::{lookup, ROUTER_CAPACITY};
    use crate::graph::{split, AppGraph, MachineGraph, Vertex};
    use crate::keys::allocate_keys;
    use crate::place::{app_cores, place, Placements};
    use crate::route::route;

    /// xorshift64*: deterministic and crate-free.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        /// Uniform in lo..=hi.
        fn range(&mut self, lo: u32, hi: u32) -> u32 {
            lo + (self.next() % u64::from(hi - lo + 1)) as u32
        }
    }

    fn random_graph(rng: &mut Rng, per_core_choices: &[u32]) -> AppGraph {
        let mut g = AppGraph::new();
        let n = rng.range(2, 30);
        let ids: Vec<_> = (0..n)
            .map(|i| {
                let per_core =
                    per_core_choices[rng.range(0, per_core_choices.len() as u32 - 1) as usize];
                g.add_vertex(Vertex {
                    name: format!("pop{i}"),
                    atoms: rng.range(1, 200),
                    max_atoms_per_core: per_core,
                    dtcm_bytes: 0,
                    sdram_bytes: 0,
                })
            })
            .collect();
        for &src in &ids {
            for part in 0..rng.range(0, 2) {
                for _ in 0..rng.range(1, 4) {
                    let dst = ids[rng.range(0, n - 1) as usize];
                    g.add_edge(src, dst, &format!("p{part}"));
                }
            }
        }
        g
    }

    /// Follows `key` from the source chip's router through `tables`, with default routing for
    /// packets that arrive over a link and match nothing; returns every (chip, virtual core)
    /// it reaches, with how often.
    fn walk(
        desc: &MachineDesc,
        tables: &Tables,
        source: (u8, u8),
        key: u32,
    ) -> BTreeMap<(u8, u8, u8), u32> {
        let mut reached = BTreeMap::new();
        let empty = Vec::new();
        // (chip, link arrived on (None: from a local core), hops so far)
        let mut queue = vec![(source, None::<u8>, 0u32)];
        while let Some((chip, arrived, hops)) = queue.pop() {
            assert!(hops <= 200, "key {key:#x}: loop through chip {chip:?}");
            let table = tables.get(&chip).unwrap_or(&empty);
            let route = match (lookup(table, key), arrived) {
                (Some(r), _) => r,
                (None, Some(l)) => 1 << opposite(l),
                (None, None) => panic!("key {key:#x}: dropped at its source chip {chip:?}"),
            };
            for l in 0..N_LINKS {
                if route & (1 << l) != 0 {
                    let next = desc.neighbour(chip.0, chip.1, l).unwrap_or_else(|| {
                        panic!("key {key:#x}: chip {chip:?} sends over dead link {l}")
                    });
                    queue.push((next, Some(opposite(l)), hops + 1));
                }
            }
            for v in 0..18u8 {
                if route & (1 << (6 + v)) != 0 {
                    *reached.entry((chip.0, chip.1, v)).or_default() += 1;
                }
            }
        }
        reached
    }

    /// Every partition's keys (first, middle, last) reach exactly its target cores, once each.
    fn check_delivery(
        desc: &MachineDesc,
        m: &MachineGraph,
        p: &Placements,
        keys: &KeyMap,
        tables: &Tables,
    ) {
        for (part, targets) in m.partitions() {
            let expected: BTreeMap<(u8, u8, u8), u32> = targets
                .iter()
                .map(|&t| {
                    let pl = p.get(t).unwrap();
                    ((pl.x, pl.y, pl.core), 1)
                })
                .collect();
            let space = keys[part];
            let source = p.get(part.source).unwrap().chip();
            let last = space.atoms.max(1) - 1;
            for atom in [0, last / 2, last] {
                let got = walk(desc, tables, source, space.key(atom));
                assert_eq!(got, expected, "partition {part:?}, atom {atom}");
            }
        }
    }

    /// split -> place -> keys -> route -> tables, checked before and after compression to
    /// each of `targets` (a function of the longest table once default routes are dropped);
    /// None when the graph does not fit, else per target None when the tables did not fit
    /// it, or whether ordered covering was needed.
    fn map_and_check(
        desc: &MachineDesc,
        g: &AppGraph,
        seed: u64,
        targets: &[fn(usize) -> usize],
    ) -> Option<Vec<Option<bool>>> {
        let m = split(g);
        let p = match place(&m, desc, seed) {
            Ok(p) => p,
            Err(MapError::DoesNotFit { needed, available }) => {
                assert!(needed > available);
                return None;
            }
            Err(e) => panic!("{e}"),
        };
        assert_eq!(
            p,
            place(&m, desc, seed).unwrap(),
            "same seed, same placements"
        );
        let mut used = BTreeSet::new();
        for (_, pl) in p.iter() {
            assert!(desc.has_chip(pl.x, pl.y));
            assert!(
                pl.core >= 1 && pl.core <= app_cores(desc, pl.x, pl.y),
                "{pl:?}"
            );
            assert!(used.insert(pl), "{pl:?} used twice");
        }
        assert_eq!(p.len(), m.vertex_count());
        let keys = allocate_keys(&m);
        let trees = route(&m, &p, desc).unwrap();
        let tables = build_tables(&trees, &keys, desc);
        check_delivery(desc, &m, &p, &keys, &tables);
        let mut fits = Vec::new();
        let longest = tables
            .values()
            .map(|t| remove_default_routes(t).len())
            .max()
            .unwrap_or(0);
        for target in targets.iter().map(|f| f(longest)) {
            match compress_tables(&tables, target) {
                Ok(small) => {
                    let covered = tables
                        .values()
                        .any(|t| remove_default_routes(t).len() > target);
                    assert!(small.values().all(|t| t.len() <= target));
                    check_delivery(desc, &m, &p, &keys, &small);
                    assert_eq!(
                        to_route_entries(&small).len(),
                        small.values().map(Vec::len).sum::<usize>()
                    );
                    fits.push(Some(covered));
                }
                Err(MapError::TableTooBig {
                    needed, target: t, ..
                }) => {
                    assert!(needed > t && t == target);
                    fits.push(None);
                }
                Err(e) => panic!("{e}"),
            }
        }
        Some(fits)
    }

    #[test]
    fn random_graphs_route_exactly_to_their_targets() {
        let mut damaged = MachineDesc::spinn5();
        damaged.kill_core(0, 0, 5).unwrap();
        damaged.kill_core(2, 3, 1).unwrap();
        damaged.kill_core(2, 3, 17).unwrap();
        damaged.kill_link(1, 1, 0).unwrap();
        damaged.kill_link(3, 2, 2).unwrap();
        damaged.kill_chip(2, 2).unwrap();
        let machines = [
            (
                "spinn5",
                MachineDesc::spinn5(),
                &[8u32, 16, 32, 64, 100, 255, 256][..],
            ),
            (
                "damaged spinn5",
                damaged,
                &[8, 16, 32, 64, 100, 255, 256][..],
            ),
            ("spinn3", MachineDesc::spinn3(), &[64, 128, 200, 256][..]),
        ];
        let mut rng = Rng(0x5EED_1234_ABCD_0001);
        for (name, desc, per_core) in &machines {
            let (mut mapped, mut covered, mut too_big) = (0, 0, 0);
            for round in 0..40 {
                let g = random_graph(&mut rng, per_core);
                // The real capacity, and a bit less than the longest table needs.
                let targets: [fn(usize) -> usize; 2] =
                    [|_| ROUTER_CAPACITY, |n| (n * 3 / 4).max(1)];
                if let Some(fits) = map_and_check(desc, &g, round, &targets) {
                    mapped += 1;
                    assert!(
                        fits[0].is_some(),
                        "{name}: a board-sized network fits 1023 entries"
                    );
                    match fits[1] {
                        Some(true) => covered += 1,
                        Some(false) => {}
                        None => too_big += 1,
                    }
                }
            }
            eprintln!(
                "{name}: {mapped}/40 mapped; to 3/4 of the longest table: {covered} needed covering, {too_big} too big"
            );
            assert!(mapped >= 30, "{name}: only {mapped} random graphs fitted");
            assert!(
                covered >= 5,
                "{name}: ordered covering ran on only {covered} graphs"
            );
        }
    }

    #[test]
    fn dense_tables_are_compressed_and_still_deliver() {
        // 800 single-atom sources all sending to one core: (0,0) sees hundreds of entries.
        let desc = MachineDesc::spinn5();
        let mut g = AppGraph::new();
        let many = g.add_vertex(Vertex {
            name: "many".into(),
            atoms: 800,
            max_atoms_per_core: 1,
            dtcm_bytes: 0,
            sdram_bytes: 0,
        });
        let sink = g.add_vertex(Vertex {
            name: "sink".into(),
            atoms: 1,
            max_atoms_per_core: 1,
            dtcm_bytes: 0,
            sdram_bytes: 0,
        });
        g.add_edge(many, sink, "s");
        let fits = map_and_check(&desc, &g, 0, &[|_| ROUTER_CAPACITY, |_| 64]).unwrap();
        assert_eq!(fits, vec![Some(false), Some(true)]);
    }

    #[test]
    fn too_big_for_spinn3() {
        let mut g = AppGraph::new();
        let a = g.add_vertex(Vertex {
            name: "cortex".into(),
            atoms: 1000,
            max_atoms_per_core: 10,
            dtcm_bytes: 0,
            sdram_bytes: 0,
        });
        g.add_edge(a, a, "s");
        let e = place(&split(&g), &MachineDesc::spinn3(), 0).unwrap_err();
        assert_eq!(
            e,
            MapError::DoesNotFit {
                needed: 100,
                available: 68
            }
        );
        assert!(e
            .to_string()
            .starts_with("the network needs 100 cores, the machine has 68 application cores"));
    }

    #[test]
    fn too_big_tables_name_the_chip() {
        let entries: Vec<Entry> = (0..10)
            .map(|k| Entry::new(k, !0, 1 << (k % 6) | 1 << 6))
            .collect();
        let tables = Tables::from([((1, 0), entries)]);
        let e = compress_tables(&tables, 3).unwrap_err();
        assert!(
            matches!(
                e,
                MapError::TableTooBig {
                    x: 1,
                    y: 0,
                    target: 3,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e
            .to_string()
            .starts_with("chip (1,0): the routing table needs"));
    }
}
