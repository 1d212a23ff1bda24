// SPDX-License-Identifier: GPL-2.0-or-later
//! `spinn`: the command line of the SpiNNaker simulator and toolchain.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

mod nn_cli;
mod out;
mod serve_cli;
use out::{out, outln};
use spinn_hw::files;
use spinn_hw::geometry::MachineDesc;
use spinn_hw::program::Program;
use spinn_hw::report::{CoreReport, StopReason};
use spinn_hw::routes::{self, number};
use spinn_hw::sysram::CpuState;
use spinn_sim::chip::ChipConfig;
use spinn_sim::golden;
use spinn_sim::parallel::{self, Load, Setup};
use spinn_sim::trace::{self, Filter, Kind};
use spinn_sim::trace_tools;
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
    /// Load firmware (ELF or APLX) onto application cores of a machine and run them.
    Run(RunArgs),
    /// Run as `spinn run` does and compare the run's fingerprint with a golden file: exit 0 when
    /// identical, 1 naming the first difference, 2 for bad input.
    Test(TestArgs),
    /// Look at a trace written by `spinn run --trace`.
    #[command(subcommand)]
    Trace(TraceCommand),
    /// Train the network a model file describes on a SpiNNaker target, then evaluate it on
    /// the held-out data; writes the trained weights. Exit 1 when training fails on the machine.
    Train(nn_cli::TrainArgs),
    /// Outputs of a trained network (model file plus weights file) for each held-out sample.
    Predict(nn_cli::UseArgs),
    /// Loss and accuracy of a trained network on the held-out samples.
    Evaluate(nn_cli::UseArgs),
    /// Serve the simulated machine as a virtual SpiNNaker board: SDP/SCP over UDP, answered as
    /// a booted board running SC&MP 4.0.0 answers them (loopback only unless --allow-remote).
    Serve(serve_cli::ServeArgs),
}

#[derive(Subcommand)]
enum TraceCommand {
    /// Convert to Chrome/Perfetto trace-event JSON (open it in ui.perfetto.dev).
    Export {
        /// The trace.
        file: PathBuf,
        /// Where to write the JSON.
        #[arg(long, value_name = "OUT.json")]
        perfetto: PathBuf,
    },
    /// Busy/idle share per core, interrupts, packet latencies, drops, busiest links.
    Stats {
        /// The trace.
        file: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The first event where two traces part, with context; exit 0 when identical, 1 when not.
    Diff {
        /// First trace.
        a: PathBuf,
        /// Second trace.
        b: PathBuf,
    },
}

fn read_trace(path: &Path) -> Result<Vec<trace::Record>, UsageError> {
    // Read as a stream, so any size goes; but only from a file that ends.
    files::check_input(path, u64::MAX)
        .map_err(|e| UsageError(format!("{}: cannot read: {e}", path.display())))?;
    let file = std::fs::File::open(path)
        .map_err(|e| UsageError(format!("{}: cannot read: {e}", path.display())))?;
    let read = trace::read_complete(std::io::BufReader::new(file))
        .map_err(|e| UsageError(format!("{}: {e}", path.display())))?;
    if let Some(at) = read.truncated_at {
        // A run stopped while writing it: what is complete is still worth reading.
        eprintln!(
            "spinn: {}: the trace ends inside a record at byte {at}; reading the {} complete records before it",
            path.display(),
            read.records.len()
        );
    }
    Ok(read.records)
}

fn trace_command(cmd: TraceCommand) -> Result<ExitCode, UsageError> {
    match cmd {
        TraceCommand::Export { file, perfetto } => {
            let records = read_trace(&file)?;
            let json = trace_tools::perfetto(&records);
            let text = serde_json::to_string(&json).map_err(|e| UsageError(e.to_string()))?;
            std::fs::write(&perfetto, text)
                .map_err(|e| UsageError(format!("{}: cannot write: {e}", perfetto.display())))?;
            outln!(
                "{}: {} events from {} records",
                perfetto.display(),
                json["traceEvents"].as_array().map_or(0, |a| a.len()),
                records.len()
            )?;
            Ok(ExitCode::SUCCESS)
        }
        TraceCommand::Stats { file, json } => {
            let stats = trace_tools::stats(&read_trace(&file)?);
            if json {
                outln!(
                    "{}",
                    serde_json::to_string(&stats).map_err(|e| UsageError(e.to_string()))?
                )?;
            } else {
                out!("{stats}")?;
            }
            Ok(ExitCode::SUCCESS)
        }
        TraceCommand::Diff { a, b } => {
            let (ra, rb) = (read_trace(&a)?, read_trace(&b)?);
            match trace_tools::first_divergence(&ra, &rb) {
                None => {
                    outln!("identical: {} records", ra.len())?;
                    Ok(ExitCode::SUCCESS)
                }
                Some(d) => {
                    outln!("{d}")?;
                    outln!("{}", trace_tools::summary(&ra, &rb))?;
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

#[derive(clap::Args)]
struct TestArgs {
    /// The golden file (e.g. traces/NAME.golden).
    #[arg(long, value_name = "FILE")]
    golden: PathBuf,
    /// Write this run's fingerprint to the golden file instead of comparing.
    #[arg(long)]
    bless: bool,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Firmware for the `--core` cores of chip (0,0): an ARM 32-bit little-endian ELF, or an APLX
    /// image (told apart by content).
    elf: Option<PathBuf>,
    /// Application cores of chip (0,0) for ELF (1..17; default 1): `--core 1,3-5`, repeatable.
    #[arg(long = "core", value_name = "P")]
    cores: Vec<String>,
    /// The machine: single, spinn3, spinn5, WxH (a torus), boards:N, or a JSON description file.
    #[arg(long, default_value = "single")]
    machine: String,
    /// Load an ELF or APLX file onto cores: `X,Y,P=ELF` (each field a number or a range such as 1-17), or
    /// `all=ELF` for every application core of every chip. Repeatable.
    #[arg(long = "load", value_name = "SPEC")]
    loads: Vec<String>,
    /// Multicast routing entries to load, one `x y key mask route` per line.
    #[arg(long, value_name = "FILE")]
    routes: Option<PathBuf>,
    /// Host threads to spread the chips over (results are identical for any number).
    #[arg(long, default_value_t = parallel::host_threads())]
    threads: usize,
    /// Stop after this many milliseconds of simulated time.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    ms: u64,
    /// Application ID given to the loaded cores (as SpiNNaker's tools allocate, 16..255).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u8).range(16..))]
    app_id: u8,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// No alignment faults, whatever the guest's CP15 c1 bit A asks, and no extra cycles for System RAM and SDRAM accesses.
    #[arg(long)]
    no_align_check: bool,
    /// Write a trace of events to FILE while the machine runs (see `spinn trace`).
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Trace only these chips: `X,Y` pairs separated by `;` (e.g. `0,0;1,0`).
    #[arg(long, value_name = "CHIPS", requires = "trace")]
    trace_chips: Option<String>,
    /// Trace only events of these (physical) cores: `1,3-5`; router events always pass.
    #[arg(long, value_name = "CORES", requires = "trace")]
    trace_cores: Option<String>,
    /// Trace only packets with keys in these ranges: `0x10000-0x1ffff,0x30000`.
    #[arg(long, value_name = "KEYS", requires = "trace")]
    trace_keys: Option<String>,
    /// Trace only these kinds: state, irq, irq-done, sleep, wake, callback, dma, dma-done, send,
    /// hop, link, emergency, deliver, drop (comma-separated).
    #[arg(long, value_name = "KINDS", requires = "trace")]
    trace_kinds: Option<String>,
    /// Trace only from this simulated time on (microseconds).
    #[arg(long, value_name = "US", requires = "trace")]
    trace_from: Option<u64>,
    /// Trace only up to this simulated time (microseconds).
    #[arg(long, value_name = "US", requires = "trace")]
    trace_to: Option<u64>,
}

/// The trace filter the `--trace-*` options describe.
fn trace_filter(args: &RunArgs) -> Result<Filter, UsageError> {
    let mut f = Filter::default();
    if let Some(chips) = &args.trace_chips {
        for pair in chips.split(';') {
            let bad = || UsageError(format!("--trace-chips `{pair}`: expected X,Y"));
            let (x, y) = pair.split_once(',').ok_or_else(bad)?;
            let (x, y) = (
                number(x).filter(|&v| v < 256).ok_or_else(bad)?,
                number(y).filter(|&v| v < 256).ok_or_else(bad)?,
            );
            f.chips.push((x as u8, y as u8));
        }
    }
    if let Some(cores) = &args.trace_cores {
        for spec in cores.split(',') {
            let (a, b) = parse_range(spec, "--trace-cores", 17)?;
            f.cores.extend((a..=b).map(|c| c as u8));
        }
    }
    if let Some(keys) = &args.trace_keys {
        for spec in keys.split(',') {
            let bad = || UsageError(format!("--trace-keys `{spec}`: expected KEY or KEY-KEY"));
            let (a, b) = match spec.split_once('-') {
                Some((a, b)) => (number(a).ok_or_else(bad)?, number(b).ok_or_else(bad)?),
                None => {
                    let a = number(spec).ok_or_else(bad)?;
                    (a, a)
                }
            };
            if a > b || b > u32::MAX as u64 {
                return Err(bad());
            }
            f.keys.push((a as u32, b as u32));
        }
    }
    if let Some(kinds) = &args.trace_kinds {
        for k in kinds.split(',') {
            f.kinds.push(
                Kind::from_name(k.trim())
                    .ok_or_else(|| UsageError(format!("--trace-kinds: unknown kind `{k}`")))?,
            );
        }
    }
    if args.trace_from.is_some() || args.trace_to.is_some() {
        let us = |v: u64| v.saturating_mul(CPU_CLK_MHZ);
        f.window = Some((
            args.trace_from.map_or(0, us),
            args.trace_to.map_or(Cycle::MAX, us),
        ));
    }
    Ok(f)
}

/// A one-line error for the user, exit status 2.
struct UsageError(String);

impl From<out::WriteError> for UsageError {
    fn from(e: out::WriteError) -> Self {
        UsageError(e.to_string())
    }
}

fn parse_range(spec: &str, what: &str, max: u32) -> Result<(u32, u32), UsageError> {
    let bad = || {
        UsageError(format!(
            "{what} `{spec}`: expected a number or a range like 2-5"
        ))
    };
    let (a, b) = match spec.split_once('-') {
        Some((a, b)) => (
            a.trim().parse::<u32>().map_err(|_| bad())?,
            b.trim().parse::<u32>().map_err(|_| bad())?,
        ),
        None => {
            let a = spec.trim().parse::<u32>().map_err(|_| bad())?;
            (a, a)
        }
    };
    if a > b || b > max {
        return Err(bad());
    }
    Ok((a, b))
}

fn parse_cores(specs: &[String]) -> Result<Vec<u32>, UsageError> {
    let mut cores = Vec::new();
    for spec in specs.iter().flat_map(|s| s.split(',')) {
        let (a, b) = parse_range(spec, "--core", u32::MAX)?;
        for c in a..=b {
            if c == 0 || c >= 18 {
                return Err(UsageError(format!(
                    "--core {c}: out of range: application cores are 1..17 (core 0 is the monitor)"
                )));
            }
            if !cores.contains(&c) {
                cores.push(c);
            }
        }
    }
    Ok(cores)
}

/// Reads each firmware file once, however many cores it goes to.
struct Programs(HashMap<PathBuf, Arc<Program>>);

impl Programs {
    fn get(&mut self, path: &Path) -> Result<Arc<Program>, UsageError> {
        if !self.0.contains_key(path) {
            let p = Program::from_file(path).map_err(|e| UsageError(e.to_string()))?;
            self.0.insert(path.to_path_buf(), Arc::new(p));
        }
        Ok(self.0[path].clone())
    }
}

fn load_spec(
    setup: &mut Setup,
    programs: &mut Programs,
    spec: &str,
    app_id: u8,
) -> Result<(), UsageError> {
    let bad = || UsageError(format!("--load {spec}: expected X,Y,P=ELF or all=ELF"));
    let (cores, elf) = spec.split_once('=').ok_or_else(bad)?;
    let program = programs.get(Path::new(elf))?;
    let mut targets: Vec<(u8, u8, u32)> = Vec::new();
    if cores == "all" {
        for (x, y) in setup.desc.chips() {
            let live = 18 - setup.desc.dead_cores(x, y).count_ones();
            targets.extend((1..live).map(|p| (x, y, p)));
        }
    } else {
        let f: Vec<&str> = cores.split(',').collect();
        if f.len() != 3 {
            return Err(bad());
        }
        let (x0, x1) = parse_range(f[0], "--load x", 255)?;
        let (y0, y1) = parse_range(f[1], "--load y", 255)?;
        let (p0, p1) = parse_range(f[2], "--load core", 255)?;
        for x in x0..=x1 {
            for y in y0..=y1 {
                targets.extend((p0..=p1).map(|p| (x as u8, y as u8, p)));
            }
        }
    }
    for (x, y, p) in targets {
        setup.loads.push(Load {
            x,
            y,
            p,
            program: program.clone(),
            app_id,
        });
    }
    Ok(())
}

/// The machine, loads and routes that `args` ask for, and the time limit.
fn setup_from(args: &RunArgs) -> Result<(Setup, Cycle), UsageError> {
    let desc =
        MachineDesc::parse(&args.machine).map_err(|e| UsageError(format!("--machine: {e}")))?;
    let config = ChipConfig {
        align_check: !args.no_align_check,
        ..ChipConfig::default()
    };
    let mut setup = Setup {
        desc,
        config,
        loads: Vec::new(),
        routes: Vec::new(),
        pokes: Vec::new(),
        fingerprint: false,
        trace: None,
    };
    let mut programs = Programs(HashMap::new());
    if let Some(elf) = &args.elf {
        let cores = if args.cores.is_empty() {
            vec![1]
        } else {
            parse_cores(&args.cores)?
        };
        let program = programs.get(elf)?;
        setup.loads.extend(cores.into_iter().map(|p| Load {
            x: 0,
            y: 0,
            p,
            program: program.clone(),
            app_id: args.app_id,
        }));
    } else if !args.cores.is_empty() {
        return Err(UsageError("--core needs an ELF to load".into()));
    }
    for spec in &args.loads {
        load_spec(&mut setup, &mut programs, spec, args.app_id)?;
    }
    if setup.loads.is_empty() {
        return Err(UsageError(
            "nothing to run: give an ELF or --load X,Y,P=ELF".into(),
        ));
    }
    if let Some(path) = &args.routes {
        let text = files::read_text_input(path, files::MAX_IMAGE_BYTES)
            .map_err(|e| UsageError(format!("{}: cannot read: {e}", path.display())))?;
        setup.routes = routes::parse(&path.display().to_string(), &text)
            .map_err(|e| UsageError(e.to_string()))?;
    }
    if args.threads == 0 {
        return Err(UsageError("--threads must be at least 1".into()));
    }
    if let Some(path) = &args.trace {
        setup.trace = Some((path.clone(), trace_filter(args)?));
    }
    Ok((setup, args.ms.saturating_mul(CPU_CLK_MHZ * 1000)))
}

fn run(args: RunArgs) -> Result<ExitCode, UsageError> {
    let (setup, limit) = setup_from(&args)?;
    let outcome =
        parallel::run(&setup, args.threads, limit).map_err(|e| UsageError(e.to_string()))?;
    let sim_time_ns = outcome.now * NS_PER_CYCLE;
    let failed = outcome
        .cores
        .iter()
        .any(|r| matches!(r.state, CpuState::RunTimeException | CpuState::Watchdog));
    if args.json {
        let obj = serde_json::json!({
            "sim_time_ns": sim_time_ns,
            "stop": outcome.stop,
            "packets_sent": outcome.packets_sent,
            "watchdog_resets": outcome.watchdog_resets.iter().map(|w| serde_json::json!({
                "x": w.x, "y": w.y, "time_ns": w.cycle * NS_PER_CYCLE,
            })).collect::<Vec<_>>(),
            "routers": outcome.routers,
            "cores": outcome.cores,
        });
        outln!("{obj}")?;
    } else {
        print_text(sim_time_ns, outcome.stop, &outcome.cores)?;
        for w in &outcome.watchdog_resets {
            outln!(
                "watchdog: chip ({},{}) reset at {:.3} ms",
                w.x,
                w.y,
                (w.cycle * NS_PER_CYCLE) as f64 / 1e6
            )?;
        }
        let (routed, dropped) = outcome.routers.iter().fold((0, 0), |(r, d), x| {
            (r + x.counters.routed, d + x.counters.dropped)
        });
        outln!("routers: {routed} packets routed, {dropped} dropped")?;
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn test(args: TestArgs) -> Result<ExitCode, UsageError> {
    let (mut setup, limit) = setup_from(&args.run)?;
    setup.fingerprint = true;
    let golden_name = args.golden.display().to_string();
    // Read before running, so that a missing golden file is reported at once; one to be
    // written must be writable before the run.
    let golden = if args.bless {
        out::check_output_path(&args.golden).map_err(UsageError)?;
        None
    } else {
        Some(
            files::read_text_input(&args.golden, files::MAX_TEXT_BYTES).map_err(|e| {
                UsageError(format!(
                    "{golden_name}: cannot read ({e}); run with --bless to create it"
                ))
            })?,
        )
    };
    // The packet trace is part of the fingerprint. Blessing keeps it beside the golden file
    // (NAME.golden.trc), so that a later mismatch can name the first event that differs.
    let golden_trace = PathBuf::from(format!("{golden_name}.trc"));
    let own_trace = if args.bless {
        golden_trace.clone()
    } else {
        std::env::temp_dir().join(format!("spinn-test-{}.trc", std::process::id()))
    };
    if setup.trace.is_none() {
        let kinds = vec![
            Kind::Send,
            Kind::Hop,
            Kind::LinkOut,
            Kind::Emergency,
            Kind::Deliver,
            Kind::Drop,
        ];
        setup.trace = Some((
            own_trace.clone(),
            Filter {
                kinds,
                ..Filter::default()
            },
        ));
    }
    let result = parallel::run(&setup, args.run.threads, limit);
    let trace_path = setup
        .trace
        .as_ref()
        .map(|(p, _)| p.clone())
        .unwrap_or_default();
    let trace = std::fs::read(&trace_path);
    if !args.bless {
        let _ = std::fs::remove_file(&own_trace);
    }
    let mut outcome = result.map_err(|e| UsageError(e.to_string()))?;
    let trace =
        trace.map_err(|e| UsageError(format!("{}: cannot read: {e}", trace_path.display())))?;
    let what = if args.run.trace.is_some() {
        "trace"
    } else {
        "packet trace"
    };
    outcome.fingerprint.push(format!(
        "{what}: {:016x} ({} bytes)",
        golden::digest(&trace),
        trace.len()
    ));
    let Some(golden) = golden else {
        std::fs::write(&args.golden, golden::to_text(&outcome.fingerprint))
            .map_err(|e| UsageError(format!("{golden_name}: cannot write: {e}")))?;
        outln!(
            "{golden_name}: written ({} facts)",
            outcome.fingerprint.len()
        )?;
        return Ok(ExitCode::SUCCESS);
    };
    match golden::first_difference(&golden, &outcome.fingerprint) {
        Err(e) => Err(UsageError(format!("{golden_name}: {e}"))),
        Ok(None) => {
            outln!(
                "{golden_name}: identical ({} facts)",
                outcome.fingerprint.len()
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Ok(Some(d)) => {
            outln!("{golden_name}: differs: {d}")?;
            if d.key.ends_with("trace") {
                // Name the event, when the golden run's trace was kept.
                if let (Ok(old), Ok(new)) =
                    (std::fs::read(&golden_trace), trace::read_all(&trace[..]))
                {
                    if let Some(div) = trace::read_all(&old[..])
                        .ok()
                        .and_then(|old| trace_tools::first_divergence(&old, &new))
                    {
                        outln!("{div}")?;
                    }
                }
            }
            Ok(ExitCode::from(1))
        }
    }
}

fn print_text(
    sim_time_ns: u64,
    stop: StopReason,
    reports: &[CoreReport],
) -> Result<(), out::WriteError> {
    let why = match stop {
        StopReason::AllFinished => "every core finished",
        StopReason::TimeLimit => "time limit reached",
        StopReason::Deadlock => "every running core sleeps with nothing to wake it",
    };
    outln!("simulated {:.3} ms: {why}", sim_time_ns as f64 / 1e6)?;
    for r in reports {
        out!(
            "core {},{},{} (phys {}): {}",
            r.x,
            r.y,
            r.p,
            r.phys,
            r.state
        )?;
        if r.state == CpuState::RunTimeException {
            out!(
                " {} (rt_code {}) at pc {:#010x}",
                r.rt_name,
                r.rt_code,
                r.pc
            )?;
        }
        outln!("  cycles {}  instructions {}", r.cycles, r.instructions)?;
        outln!(
            "  user0..3: {:#x} {:#x} {:#x} {:#x}",
            r.user[0],
            r.user[1],
            r.user[2],
            r.user[3]
        )?;
        if let Some(h) = &r.halt_reason {
            outln!("  halted by the simulator: {h}")?;
        }
        if !r.iobuf.is_empty() {
            outln!("  iobuf:")?;
            for line in r.iobuf.lines() {
                outln!("    {line}")?;
            }
        }
    }
    Ok(())
}

/// Exit 0 when the network ran, 1 when it failed on the machine, 2 for bad input.
fn nn_status(r: Result<bool, String>) -> Result<ExitCode, UsageError> {
    match r {
        Ok(true) => Ok(ExitCode::SUCCESS),
        Ok(false) => Ok(ExitCode::from(1)),
        Err(msg) => Err(UsageError(msg)),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Test(args) => test(args),
        Command::Trace(cmd) => trace_command(cmd),
        Command::Train(args) => nn_status(nn_cli::train(args)),
        Command::Predict(args) => nn_status(nn_cli::predict(args)),
        Command::Evaluate(args) => nn_status(nn_cli::evaluate(args)),
        Command::Serve(args) => serve_cli::serve(args).map_err(UsageError),
    };
    // What is left of the last line, so that its failure is reported too.
    let result = result.and_then(|code| out::flush().map(|()| code).map_err(UsageError::from));
    match result {
        Ok(code) => code,
        Err(UsageError(msg)) => {
            eprintln!("spinn: {msg}");
            ExitCode::from(2)
        }
    }
}
