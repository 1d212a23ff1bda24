// SPDX-License-Identifier: GPL-2.0-or-later
//! How building a machine grows with it: `Machine::new` for `boards:N`, timed, with the host
//! memory it leaves resident per chip. Construction should be linear in the chips. Also the
//! measurement behind `spinn_sim::budget`'s figures (`CHIP_BYTES`, `CORE_BYTES`,
//! `CORE_MAPPINGS`).
//!
//! Run: `cargo bench --bench build_machine` (boards 12, 48, 192; `BOARDS=12,48` to choose).
//! `CORES_ELF=hello.elf [CORES_MS=10]`: instead, the memory and mappings of each loaded core,
//! with that firmware on 16 cores of every chip of a SpiNN-5 board, after loading and after
//! running it for `CORES_MS` ms.

use std::time::Instant;

use spinn_hw::geometry::MachineDesc;
use spinn_hw::program::Program;
use spinn_sim::chip::ChipConfig;
use spinn_sim::machine::Machine;
use spinn_sim::CPU_CLK_MHZ;

/// Resident set size of this process in KiB (Linux; 0 elsewhere).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4)
}

/// Memory mappings of this process (Linux; 0 elsewhere).
fn mappings() -> u64 {
    std::fs::read_to_string("/proc/self/maps").map_or(0, |s| s.lines().count() as u64)
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Builds and drops boards:N for each N, printing time and resident memory per chip.
fn build(boards: &[u32]) {
    for &n in boards {
        let desc = MachineDesc::boards(n).expect("a valid board count");
        let chips = desc.chips().len() as u64;
        let (rss, maps) = (rss_kib(), mappings());
        let t = Instant::now();
        let m = Machine::new(desc, ChipConfig::default());
        let built = t.elapsed().as_secs_f64();
        let resident = rss_kib().saturating_sub(rss);
        let maps = mappings().saturating_sub(maps);
        let t = Instant::now();
        drop(m);
        let dropped = t.elapsed().as_secs_f64();
        println!(
            "boards:{n:<4} {chips:>6} chips  build {built:>7.3} s ({:>6.1} µs/chip)  drop {dropped:>6.3} s  \
             resident {:>5} MiB ({} KiB/chip)  {maps} new mappings",
            built * 1e6 / chips as f64,
            resident / 1024,
            resident / chips,
        );
    }
}

/// Loads `elf` on cores 1..=16 of every chip of a SpiNN-5 board and runs it for `ms`,
/// printing the resident memory and mappings each loaded core added.
fn per_core(elf: &str, ms: u64) {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("firmware/build")
        .join(elf);
    let prog = Program::from_file(&path).expect("the firmware is built");
    let mut m = Machine::new(MachineDesc::spinn5(), ChipConfig::default());
    let (rss, maps) = (rss_kib(), mappings());
    let mut cores = 0u64;
    for (x, y) in m.desc().chips() {
        for p in 1..=16 {
            m.load(x, y, p, &prog, 16).expect("loads");
            cores += 1;
        }
    }
    let loaded = rss_kib().saturating_sub(rss);
    let maps = mappings().saturating_sub(maps);
    m.run(ms * 1000 * CPU_CLK_MHZ);
    let ran = rss_kib().saturating_sub(rss);
    println!(
        "{elf}: {cores} cores  loaded {} KiB/core  after {ms} ms {} KiB/core  {:.2} mappings/core",
        loaded / cores,
        ran / cores,
        maps as f64 / cores as f64
    );
}

fn main() {
    if let Ok(elf) = std::env::var("CORES_ELF") {
        per_core(&elf, env_or("CORES_MS", 10));
        return;
    }
    let boards: Vec<u32> = std::env::var("BOARDS")
        .unwrap_or_else(|_| "12,48,192".into())
        .split(',')
        .filter_map(|b| b.trim().parse().ok())
        .collect();
    build(&boards);
}
