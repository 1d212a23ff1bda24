// SPDX-License-Identifier: GPL-2.0-or-later
//! The simulator as the oracle of the toolchain: random graphs are mapped (split, placed, keyed,
//! routed, tables built and compressed), every machine vertex becomes a `fabric` core that
//! sends keys of its partitions, and every packet must reach exactly its targets.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use spinn_hw::geometry::MachineDesc;
use spinn_hw::program::Program;
use spinn_hw::report::StopReason;
use spinn_sim::chip::ChipConfig;
use spinn_sim::parallel::{self, Setup};
use spinn_sim::workloads::{fabric_core, FabricParams};
use spinn_toolchain::{
    allocate_keys, build_tables, compress_tables, place, route, split, to_route_entries, AppGraph,
    Vertex, ROUTER_CAPACITY,
};

/// xorshift64*: deterministic, no crates.
struct Rng(u64);

impl Rng {
    fn range(&mut self, lo: u32, hi: u32) -> u32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        lo + (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % u64::from(hi - lo + 1)) as u32
    }
}

fn random_graph(rng: &mut Rng) -> AppGraph {
    let mut g = AppGraph::new();
    let n = rng.range(2, 6);
    let ids: Vec<_> = (0..n)
        .map(|i| {
            g.add_vertex(Vertex {
                name: format!("pop{i}"),
                atoms: rng.range(1, 40),
                max_atoms_per_core: 16,
                dtcm_bytes: 0,
                sdram_bytes: 0,
            })
        })
        .collect();
    for &src in &ids {
        for part in 0..rng.range(1, 2) {
            for _ in 0..rng.range(1, 3) {
                g.add_edge(src, ids[rng.range(0, n - 1) as usize], &format!("p{part}"));
            }
        }
    }
    g
}

fn check(desc: MachineDesc, seed: u64) {
    let fabric = Arc::new(
        Program::from_file(
            &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../firmware/build/fabric.elf"),
        )
        .unwrap(),
    );
    let mut rng = Rng(seed);
    let graph = random_graph(&mut rng);
    let mg = split(&graph);
    let placements = place(&mg, &desc, seed).unwrap();
    let keys = allocate_keys(&mg);
    let trees = route(&mg, &placements, &desc).unwrap();
    let tables = compress_tables(&build_tables(&trees, &keys, &desc), ROUTER_CAPACITY).unwrap();

    // Each source sends the first, middle and last key of each of its partitions.
    let mut sends: BTreeMap<_, Vec<u32>> = BTreeMap::new();
    let mut expect: BTreeMap<_, (u32, u32)> = BTreeMap::new();
    for (pid, targets) in mg.partitions() {
        let space = keys[pid];
        let atoms = mg.vertex(pid.source).unwrap().atoms();
        let mut ks = vec![space.key(0), space.key(atoms / 2), space.key(atoms - 1)];
        ks.dedup();
        for &t in targets {
            let e = expect.entry(t).or_insert((0, 0));
            e.0 += ks.len() as u32;
            e.1 = ks.iter().fold(e.1, |s, &k| s.wrapping_add(k));
        }
        sends.entry(pid.source).or_default().extend(ks);
    }
    let mut setup = Setup {
        desc: desc.clone(),
        config: ChipConfig::default(),
        loads: vec![],
        routes: to_route_entries(&tables),
        pokes: vec![],
        fingerprint: false,
        trace: None,
    };
    let mut core_of = BTreeMap::new();
    for (v, p) in placements.iter() {
        let keys = sends.get(&v).cloned().unwrap_or_default();
        let expect_count = expect.get(&v).map_or(0, |e| e.0);
        // 20 µs between sends: targets shared by several sources are not flooded.
        let params = FabricParams {
            expect: expect_count,
            keys: &keys,
            payload: false,
            gap_us: 20,
        };
        fabric_core(&mut setup, &fabric, p.chip(), p.core as u32, &params);
        core_of.insert((p.x, p.y, p.core), v);
    }
    let out = parallel::run(&setup, 2, 100 * 1000 * 200).unwrap();
    assert_eq!(out.stop, StopReason::AllFinished, "seed {seed}");
    assert!(
        out.routers.iter().all(|r| r.counters.dropped == 0),
        "seed {seed}: no drops"
    );
    for r in &out.cores {
        let v = core_of[&(r.x, r.y, r.p)];
        let (count, sum) = expect.get(&v).copied().unwrap_or((0, 0));
        assert_eq!(
            (r.user[1], r.user[2]),
            (count, sum),
            "seed {seed}: vertex on ({},{},{}) got what its partitions send it",
            r.x,
            r.y,
            r.p
        );
    }
}

#[test]
fn mapped_random_graphs_deliver_exactly_in_the_simulator() {
    for seed in 1..=6 {
        check(MachineDesc::spinn3(), seed * 7919);
    }
    check(MachineDesc::spinn5(), 424_242);
}
