// SPDX-License-Identifier: GPL-2.0-or-later
//! TLB slots (engine/patches/0005 and 0009): SpiNNaker's regions all start on multiples of
//! 4 MiB, so with the plain TLB index the vectors, DTCM's first page and the peripherals share
//! slot 0. An idle core must neither walk its pages again on every tick (0005) nor swap them
//! in and out of the victim TLB (0009).

use spinn_sim::chip::{Chip, ChipConfig};
use spinn_sim::CPU_CLK_MHZ;

mod common;

#[test]
fn an_idle_core_neither_walks_nor_swaps_its_pages_each_tick() {
    let prog = common::firmware("idle");
    let mut chip = Chip::new(0, 0, 1, 1, ChipConfig::default());
    chip.load(1, &prog, 16, 0).unwrap();
    // Start-up fills what the program touches once.
    chip.run(10 * CPU_CLK_MHZ * 1000);
    let start = chip.core(1).unwrap().tlb_fills();
    let swaps_before = chip.core(1).unwrap().tlb_swaps();
    let ticks_before = chip.reports()[0].user[0];
    chip.run(210 * CPU_CLK_MHZ * 1000);
    let fills = chip.core(1).unwrap().tlb_fills() - start;
    let swaps = chip.core(1).unwrap().tlb_swaps() - swaps_before;
    let ticks = chip.reports()[0].user[0] - ticks_before;
    assert!(ticks >= 190, "{ticks} ticks");
    // About 4 per tick with neither patch 0005 nor 0009 (the timer and VIC pages, walked
    // again each time DTCM's first page evicted them); none with either.
    assert!(
        fills < u64::from(ticks) / 4,
        "{fills} TLB fills in {ticks} ticks"
    );
    // About 11 per tick with the plain index (the timer, the VIC, DTCM and ITCM pages taking
    // turns in slot 0); none once higher address bits are folded into the index.
    assert!(
        swaps < u64::from(ticks) / 4,
        "{swaps} victim-TLB swaps in {ticks} ticks"
    );
}
