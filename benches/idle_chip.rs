// SPDX-License-Identifier: GPL-2.0-or-later
//! A chip whose 17 application cores idle on a 1 ms timer tick (the `idle` firmware: the
//! runtime's dispatcher sleeping in WFI between ticks) for 10 simulated seconds. Prints simulated
//! time ÷ host time.
//!
//! Run: `cargo bench --bench idle_chip`

use std::path::PathBuf;
use std::time::Instant;

use spinn_sim::chip::{Chip, ChipConfig};
use spinn_sim::loader::Program;
use spinn_sim::CPU_CLK_MHZ;

fn main() {
    let prog = Program::from_file(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("firmware/build/idle.elf")).unwrap();
    let seconds = 10u64;
    let mut chip = Chip::new(0, 0, 1, 1, ChipConfig::default());
    for p in 1..=17 {
        chip.load(p, &prog, 16, 0).unwrap();
    }
    let t = Instant::now();
    chip.run(seconds * 1000 * 1000 * CPU_CLK_MHZ);
    let host = t.elapsed().as_secs_f64();
    let reports = chip.reports();
    let ticks: u32 = reports.iter().map(|r| r.user[0]).sum();
    println!("17 cores x {seconds} s on a 1 ms tick: {ticks} ticks in total");
    println!("simulated {seconds} s in {host:.3} s of host time: {:.1}x real time", seconds as f64 / host);
}
