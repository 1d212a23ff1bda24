// SPDX-License-Identifier: GPL-2.0-or-later
//! A chip whose 17 application cores idle on a 1 ms timer tick (the `idle` firmware: the
//! runtime's dispatcher sleeping in WFI between ticks) for 10 simulated seconds. Prints simulated
//! time ÷ host time.
//!
//! Run: `cargo bench --bench idle_chip`

use std::path::PathBuf;
use std::time::Instant;

use spinn_hw::program::Program;
use spinn_sim::chip::{Chip, ChipConfig};
use spinn_sim::CPU_CLK_MHZ;

fn main() {
    let prog = Program::from_file(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("firmware/build/idle.elf"),
    )
    .unwrap();
    let seconds: u64 = std::env::var("SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
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
    let n: u32 = std::env::var("CORES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(17);
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
    println!("17 cores x {seconds} s on a 1 ms tick: {ticks} ticks in total, {:.1} engine entries and {:.0} instructions per tick", slices as f64 / ticks as f64, insns as f64 / ticks as f64);
    println!(
        "simulated {seconds} s in {host:.3} s of host time: {:.1}x real time",
        seconds as f64 / host
    );
}
