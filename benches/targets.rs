// SPDX-License-Identifier: GPL-2.0-or-later
//! Issue 12's table in one run: each speed and memory figure beside its target, the plain
//! engine measured in the same run where a figure is a ratio to it. Shorter than the focused
//! benches (core_mips, idle_chip, fabric, nn), so that one run shows where spinn stands.
//!
//! Run: `cargo bench --bench targets` (knobs: `IDLE_MS=N` for the SpiNN-5 idle run,
//! `IDLE_MACHINE=M` to idle another machine than a SpiNN-5, `FABRIC_ROUNDS=N` for the
//! all-to-all, `ONLY=core,idle,iris,fabric,spinn5` to measure some figures only, e.g. under a
//! profiler).

use std::sync::Arc;
use std::time::Instant;

use spinn_hw::geometry::MachineDesc;
use spinn_sim::chip::{Chip, ChipConfig};
use spinn_sim::parallel;
use spinn_sim::{workloads, CPU_CLK_MHZ};

mod common;

const MS: u64 = CPU_CLK_MHZ * 1000;

/// A line of the table: the figure, what was measured, the target, and whether it is met.
fn row(figure: &str, now: String, target: &str, met: bool) {
    let mark = if met { "met" } else { "not yet" };
    println!("{figure:<52} {now:>26}   target {target:<12} {mark}");
}

/// A line with a figure and no target of its own.
fn info(figure: &str, now: String) {
    println!("{figure:<52} {now:>26}");
}

/// This process's peak resident set in bytes (/proc/self/status VmHWM).
fn peak_resident() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// Guest MIPS of the `bench` kernel on a spinn core (default mode: alignment checked), and on
/// a plain engine of the same build with no hooks.
fn core_speed() -> (f64, f64) {
    let prog = common::elf("bench");
    let mut chip = Chip::new(0, 0, 1, 1, ChipConfig::default());
    chip.load(1, &prog, 16, 0).unwrap();
    let t = Instant::now();
    chip.run(u64::MAX / 2);
    let spinn = t.elapsed().as_secs_f64();
    let insns = chip.reports()[0].instructions as f64;

    let plain = common::plain_engine_seconds(&prog, 400);
    (insns / spinn / 1e6, insns / plain / 1e6)
}

/// Simulated time ÷ host time for 17 cores idling on a 1 ms tick.
fn idle_chip() -> f64 {
    let prog = common::elf("idle");
    let mut chip = Chip::new(0, 0, 1, 1, ChipConfig::default());
    for p in 1..=17 {
        chip.load(p, &prog, 16, 0).unwrap();
    }
    // Start-up (translating the code) is not part of an idle tick.
    chip.run(100 * MS);
    let t = Instant::now();
    chip.run(2100 * MS);
    2.0 / t.elapsed().as_secs_f64()
}

/// Host time ÷ machine time of `spinn train models/iris.toml` (one epoch).
fn train_iris() -> f64 {
    let (spec, train, test) = common::model("iris");
    let mut model = spec.build();
    let (run, host) = common::train_on_spinn3(&spec, &mut model, &train, &test, 1);
    host / (run.sim_time_ns as f64 * 1e-9)
}

/// A SpiNN-5 (or `IDLE_MACHINE`) with every application core idling on a 1 ms tick, on 2
/// threads, its rounds and engine entries printed: simulated ÷ host time once the 816 engines are built, the same with building included, and the peak
/// resident memory.
fn spinn5_idle(ms: u64) -> (f64, f64, u64, usize) {
    let desc = std::env::var("IDLE_MACHINE")
        .map_or(MachineDesc::spinn5(), |m| MachineDesc::parse(&m).unwrap());
    let setup = common::loaded_everywhere(desc, Arc::new(common::elf("idle")));
    let out = parallel::run(&setup, 2, ms * MS).unwrap();
    let core_ticks = (out.cores.len() as u64 * ms) as f64;
    info(
        "  rounds per ms, engine entries per core and tick",
        format!(
            "{:.1}, {:.2}",
            out.host.rounds as f64 / ms as f64,
            out.host.engine_entries as f64 / core_ticks
        ),
    );
    let simulated = ms as f64 / 1000.0;
    let steady = simulated / out.host.run_seconds;
    let with_build = simulated / (out.host.run_seconds + out.host.build_seconds);
    (with_build, steady, peak_resident(), out.cores.len())
}

/// Host seconds running the SpiNN-5 all-to-all on 1 and on 2 threads.
fn fabric() -> (f64, f64) {
    let setup = workloads::all_to_all(
        MachineDesc::spinn5(),
        Arc::new(common::elf("fabric")),
        // Enough rounds for a run of about a second, well above the machine's noise.
        common::knob("FABRIC_ROUNDS", 24) as usize,
        false,
    );
    // Running only: building the 48 chips and their engines is not the fabric's work.
    let mut host = [0.0; 2];
    for (i, threads) in [1, 2].into_iter().enumerate() {
        host[i] = parallel::run(&setup, threads, 200 * MS)
            .unwrap()
            .host
            .run_seconds;
    }
    (host[0], host[1])
}

/// Whether the figure named `name` is to be measured (the `ONLY` knob; all when unset).
fn wanted(name: &str) -> bool {
    std::env::var("ONLY").map_or(true, |only| only.split(',').any(|n| n.trim() == name))
}

fn main() {
    println!("{:<52} {:>26}   {:<19} ", "figure", "now", "target");
    if wanted("core") {
        let (spinn, plain) = core_speed();
        row(
            "core_mips, default mode, × our engine hook-free",
            format!("{:.2} ({spinn:.0} / {plain:.0} MIPS)", spinn / plain),
            "≥ 0.6",
            spinn / plain >= 0.6,
        );
    }
    if wanted("idle") {
        let idle = idle_chip();
        row(
            "idle_chip (17 cores, 1 ms tick), × real time",
            format!("{idle:.1}"),
            "≥ 40",
            idle >= 40.0,
        );
    }
    if wanted("iris") {
        let iris = train_iris();
        row(
            "spinn train iris (1 epoch), host ÷ machine time",
            format!("{iris:.2}"),
            "≤ 1",
            iris <= 1.0,
        );
    }
    if wanted("fabric") {
        let (one, two) = fabric();
        row(
            "fabric all-to-all on SpiNN-5, 2 threads vs 1",
            format!("{:.2}× ({one:.2} s / {two:.2} s)", one / two),
            "≥ 1.9",
            one / two >= 1.9,
        );
    }
    if !wanted("spinn5") {
        return;
    }
    // Last: its peak resident memory is the process's.
    let (with_build, steady, peak, cores) = spinn5_idle(common::knob("IDLE_MS", 200));
    row(
        "SpiNN-5 idling on a 1 ms tick, 2 threads, × real time",
        format!("{steady:.3} ({cores} cores)"),
        "≥ 0.3",
        steady >= 0.3,
    );
    info(
        "  the same, building the 816 engines included",
        format!("{with_build:.4}"),
    );
    let per_core = peak as f64 / cores as f64 / 1e6;
    row(
        "memory, fully loaded SpiNN-5 (peak resident)",
        format!("{:.2} GB", peak as f64 / 1e9),
        "≤ 2.5 GB",
        peak as f64 <= 2.5e9,
    );
    row(
        "memory per loaded core (that peak ÷ cores)",
        format!("{per_core:.2} MB"),
        "≤ 2.5 MB",
        per_core <= 2.5,
    );
}
