// SPDX-License-Identifier: GPL-2.0-or-later
//! The multi-chip fabric: packets routed per host second on a SpiNN-5 under all-to-all
//! traffic, the same run on 1 and 2 threads (ratio, and a check that results are identical),
//! and a SpiNN-5 whose 816 application cores idle on a 1 ms tick.
//!
//! Run: `cargo bench --bench fabric` (knobs: `ROUNDS=N` all-to-all rounds, `IDLE_MS=N`).

use std::sync::Arc;
use std::time::Instant;

use spinn_hw::geometry::MachineDesc;
use spinn_sim::parallel;
use spinn_sim::workloads;
use spinn_sim::CPU_CLK_MHZ;

mod common;

fn main() {
    let rounds = common::knob("ROUNDS", 4) as usize;
    let setup = workloads::all_to_all(
        MachineDesc::spinn5(),
        Arc::new(common::elf("fabric")),
        rounds,
        false,
    );
    let limit = 200 * 1000 * CPU_CLK_MHZ;
    let mut results = Vec::new();
    for threads in [1, 2] {
        let t = Instant::now();
        let out = parallel::run(&setup, threads, limit).unwrap();
        let host = t.elapsed().as_secs_f64();
        let routed: u64 = out.routers.iter().map(|r| r.counters.routed).sum();
        println!("all-to-all x{rounds} on SpiNN-5, {threads} thread(s): {} packets sent, {routed} routings, {:.0} routings per host second ({host:.2} s, {:.3} ms simulated, stop {:?})", out.packets_sent, routed as f64 / host, out.now as f64 / (CPU_CLK_MHZ * 1000) as f64, out.stop);
        results.push((out, host));
    }
    println!(
        "1 vs 2 threads: {:.2}x faster, results identical: {}",
        results[0].1 / results[1].1,
        results[0].0 == results[1].0
    );

    let ms = common::knob("IDLE_MS", 50);
    let idle = common::loaded_everywhere(MachineDesc::spinn5(), Arc::new(common::elf("idle")));
    for threads in [1, 2] {
        let t = Instant::now();
        let out = parallel::run(&idle, threads, ms * 1000 * CPU_CLK_MHZ).unwrap();
        let host = t.elapsed().as_secs_f64();
        println!("SpiNN-5, {} cores idling on a 1 ms tick for {ms} ms, {threads} thread(s): {host:.2} s of host time (building the 816 engines included): simulated / host = {:.4}", out.cores.len(), ms as f64 / 1000.0 / host);
    }
}
