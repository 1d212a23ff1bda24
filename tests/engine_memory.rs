// SPDX-License-Identifier: GPL-2.0-or-later
//! Resident memory per loaded core (engine/patches/0002-small-engine): alone in its own test
//! binary, so that nothing else allocates while it measures.

use spinn_sim::chip::{Chip, ChipConfig};
use spinn_sim::CPU_CLK_MHZ;

mod common;

/// This process's resident set in bytes (/proc/self/statm, second field, in pages).
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux /proc");
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[test]
fn a_loaded_core_costs_less_than_three_and_a_half_mib() {
    let prog = common::firmware("idle");
    let mut chip = Chip::new(0, 0, 1, 1, ChipConfig::default());
    // One core first, so that what every chip and engine needs once is not counted per core.
    chip.load(1, &prog, 16, 0).unwrap();
    chip.run(10 * CPU_CLK_MHZ * 1000);
    let before = resident_bytes();
    for p in 2..=17 {
        chip.load(p, &prog, 16, 0).unwrap();
    }
    chip.run(20 * CPU_CLK_MHZ * 1000);
    let per_core = (resident_bytes().saturating_sub(before)) / 16;
    // 4.9 MB with the stock engine's 2 MiB huge page of code buffer and 512 KiB of TB hash
    // buckets per engine; about 2.4 MB with patch 0002.
    assert!(
        per_core < 3_584 * 1024,
        "{} KiB resident per loaded core",
        per_core / 1024
    );
    println!("{} KiB resident per loaded core", per_core / 1024);
}
