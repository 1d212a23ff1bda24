// SPDX-License-Identifier: GPL-2.0-or-later
//! A chip whose 17 application cores idle on a 1 ms timer tick (the `idle` firmware: the
//! runtime's dispatcher sleeping in WFI between ticks) for 10 simulated seconds. Prints simulated
//! time ÷ host time.
//!
//! Run: `cargo bench --bench idle_chip`

use std::time::Instant;

use spinn_sim::chip::{Chip, ChipConfig};
use spinn_sim::CPU_CLK_MHZ;

mod common;

fn main() {
    let prog = common::elf("idle");
    let seconds = common::knob("SECONDS", 10);
    let align_check = std::env::var_os("NO_ALIGN").is_none();
    let mut chip = Chip::new(
        0,
        0,
        1,
        1,
        ChipConfig {
            align_check,
            ..ChipConfig::default()
        },
    );
    let n = common::knob("CORES", 17) as u32;
    for p in 1..=n {
        chip.load(p, &prog, 16, 0).unwrap();
    }
    let t = Instant::now();
    chip.run(seconds * 1000 * 1000 * CPU_CLK_MHZ);
    let host = t.elapsed().as_secs_f64();
    let reports = chip.reports();
    let ticks: u32 = reports.iter().map(|r| r.user[0]).sum();
    let slices: u64 = (1..=n as u8)
        .map(|p| chip.core(p).unwrap().state().slices)
        .sum();
    let insns: u64 = reports.iter().map(|r| r.instructions).sum();
    let fills: u64 = (1..=n as u8)
        .map(|p| chip.core(p).unwrap().tlb_fills())
        .sum();
    let swaps: u64 = (1..=n as u8)
        .map(|p| chip.core(p).unwrap().tlb_swaps())
        .sum();
    println!("17 cores x {seconds} s on a 1 ms tick: {ticks} ticks in total, {:.1} engine entries and {:.0} instructions per tick", slices as f64 / ticks as f64, insns as f64 / ticks as f64);
    println!(
        "simulated {seconds} s in {host:.3} s of host time: {:.1}x real time",
        seconds as f64 / host
    );
    // engine/patches/0005 and 0009: the TLB-slot question, answered per tick.
    println!(
        "TLB fills (page walks): {fills} in all, {:.3} per tick; victim-TLB swaps: {swaps}, {:.3} per tick",
        fills as f64 / ticks as f64,
        swaps as f64 / ticks as f64
    );
}
