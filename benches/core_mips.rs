// SPDX-License-Identifier: GPL-2.0-or-later
//! One core's emulation speed: the `bench` firmware's kernel on a simulated core (cycle
//! accounting on, with and without alignment checking) side by side with a plain Unicorn engine
//! running the same kernel with no hooks. Prints guest MIPS and the ratio to plain Unicorn.
//!
//! Run: `cargo bench --bench core_mips`

use std::time::Instant;

use spinn_hw::program::Program;
use spinn_sim::chip::{Chip, ChipConfig};

mod common;

const ROUNDS: u64 = 400;
const REPEATS: usize = 5;

/// The whole app on the simulator: (instructions, seconds).
fn simulated(prog: &Program, align_check: bool) -> (u64, f64) {
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
    chip.load(1, prog, 16, 0).unwrap();
    let t = Instant::now();
    chip.run(u64::MAX / 2);
    let dt = t.elapsed().as_secs_f64();
    let r = &chip.reports()[0];
    assert_eq!(r.state, "EXIT");
    assert_eq!(r.user[1] as u64, ROUNDS);
    (r.instructions, dt)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let prog = common::elf("bench");
    let mut sim = Vec::new();
    let mut fast = Vec::new();
    let mut raw = Vec::new();
    let mut insns = 0;
    // Interleaved so that machine noise hits all three alike.
    for _ in 0..REPEATS {
        let (n, t) = simulated(&prog, true);
        insns = n;
        sim.push(t);
        fast.push(simulated(&prog, false).1);
        raw.push(common::plain_engine_seconds(&prog, ROUNDS));
    }
    let mips = |t: f64| insns as f64 / t / 1e6;
    let (s, f, r) = (median(sim), median(fast), median(raw));
    println!("guest instructions per run: {insns}");
    println!(
        "plain Unicorn, no hooks:                 {:8.1} MIPS",
        mips(r)
    );
    println!(
        "spinn core, cycle accounting + align:    {:8.1} MIPS  ratio {:.2}",
        mips(s),
        r / s
    );
    println!(
        "spinn core, cycle accounting, no align:  {:8.1} MIPS  ratio {:.2}",
        mips(f),
        r / f
    );
}
