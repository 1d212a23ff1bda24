// SPDX-License-Identifier: GPL-2.0-or-later
//! `spinn`: the command line of the SpiNNaker simulator and toolchain.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use spinn_sim::chip::{Chip, ChipConfig, CoreReport, StopReason};
use spinn_sim::loader::Program;
use spinn_sim::{Cycle, CPU_CLK_MHZ, NS_PER_CYCLE};

/// A SpiNNaker machine on an ordinary computer.
#[derive(Parser)]
#[command(name = "spinn", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load a firmware ELF onto application cores of chip (0,0) and run it.
    Run(RunArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// Firmware ELF (ARM, little-endian, 32-bit).
    elf: PathBuf,
    /// Application cores to load (1..17); repeat or give lists and ranges: `--core 1,3-5`.
    #[arg(long = "core", value_name = "P", default_value = "1")]
    cores: Vec<String>,
    /// Stop after this many milliseconds of simulated time.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    ms: u64,
    /// Application ID given to the loaded cores (as SpiNNaker's tools allocate, 16..255).
    #[arg(long, default_value_t = 16)]
    app_id: u8,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Do not check data alignment (faster; CP15 c1 bit A is then ignored, as Unicorn does).
    #[arg(long)]
    no_align_check: bool,
}

/// A one-line error for the user, exit status 2.
struct UsageError(String);

fn parse_cores(specs: &[String]) -> Result<Vec<u32>, UsageError> {
    let mut cores = Vec::new();
    for spec in specs.iter().flat_map(|s| s.split(',')) {
        let bad = || UsageError(format!("--core {spec}: expected a core number or a range like 2-5"));
        let (a, b) = match spec.split_once('-') {
            Some((a, b)) => (a.trim().parse::<u32>().map_err(|_| bad())?, b.trim().parse::<u32>().map_err(|_| bad())?),
            None => {
                let a = spec.trim().parse::<u32>().map_err(|_| bad())?;
                (a, a)
            }
        };
        if a > b {
            return Err(bad());
        }
        for c in a..=b {
            if c == 0 || c >= 18 {
                return Err(UsageError(format!("--core {c}: out of range: application cores are 1..17 (core 0 is the monitor)")));
            }
            if !cores.contains(&c) {
                cores.push(c);
            }
        }
    }
    Ok(cores)
}

fn run(args: RunArgs) -> Result<ExitCode, UsageError> {
    let cores = parse_cores(&args.cores)?;
    let program = Program::from_file(&args.elf).map_err(|e| UsageError(e.to_string()))?;
    let config = ChipConfig { align_check: !args.no_align_check, ..ChipConfig::default() };
    let mut chip = Chip::new(0, 0, 1, 1, config);
    for &c in &cores {
        chip.load(c, &program, args.app_id, 0).map_err(|e| UsageError(format!("{}: {e}", args.elf.display())))?;
    }
    let limit: Cycle = args.ms.saturating_mul(CPU_CLK_MHZ * 1000);
    let stop = chip.run(limit);
    let reports = chip.reports();
    let sim_time_ns = chip.now() * NS_PER_CYCLE;
    let failed = reports.iter().any(|r| r.state == "RTE" || r.state == "WDOG");
    if args.json {
        let obj = serde_json::json!({
            "sim_time_ns": sim_time_ns,
            "stop": stop,
            "packets_sent": chip.packets_sent(),
            "router": chip.router_counters(),
            "cores": reports,
        });
        println!("{obj}");
    } else {
        print_text(sim_time_ns, stop, &reports);
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn print_text(sim_time_ns: u64, stop: StopReason, reports: &[CoreReport]) {
    let why = match stop {
        StopReason::AllFinished => "every core finished",
        StopReason::TimeLimit => "time limit reached",
        StopReason::Deadlock => "every running core sleeps with nothing to wake it",
    };
    println!("simulated {:.3} ms: {why}", sim_time_ns as f64 / 1e6);
    for r in reports {
        print!("core {},{},{} (phys {}): {}", r.x, r.y, r.p, r.phys, r.state);
        if r.state == "RTE" {
            print!(" {} (rt_code {}) at pc {:#010x}", r.rt_name, r.rt_code, r.pc);
        }
        println!("  cycles {}  instructions {}", r.cycles, r.instructions);
        println!("  user0..3: {:#x} {:#x} {:#x} {:#x}", r.user[0], r.user[1], r.user[2], r.user[3]);
        if let Some(h) = &r.halt_reason {
            println!("  halted by the simulator: {h}");
        }
        if !r.iobuf.is_empty() {
            println!("  iobuf:");
            for line in r.iobuf.lines() {
                println!("    {line}");
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
    };
    match result {
        Ok(code) => code,
        Err(UsageError(msg)) => {
            eprintln!("spinn: {msg}");
            ExitCode::from(2)
        }
    }
}
