// SPDX-License-Identifier: GPL-2.0-or-later
//! Running a machine on several host threads, with results identical to one thread.
//!
//! Unicorn engines are not `Send`, so each worker thread builds its own share of the chips from
//! a plain-data [`Setup`]. Workers run the same windows as [`Machine::run`]: at each window's
//! end they publish what they know (next activity, whether cores still run), meet at a barrier,
//! and all take the same decision; packets for another worker's chips travel over crossbeam
//! channels and are put in one fixed order (arrival, source chip, sequence) before delivery.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam::channel::{unbounded, Receiver, Sender};

use crate::budget::{self, Estimate};
use crate::chip::ChipConfig;
use crate::geometry::MachineDesc;
use crate::golden;
use crate::machine::{plan, Flight, Horizon, Machine, MachineError, RouterReport, WatchdogFired};
use crate::program::Program;
use crate::report::{CoreReport, StopReason};
use crate::routes::RouteEntry;
use crate::Cycle;

/// An application to load: `program` onto virtual core `p` of chip (x, y).
#[derive(Clone, Debug)]
pub struct Load {
    /// Chip x.
    pub x: u8,
    /// Chip y.
    pub y: u8,
    /// Virtual core.
    pub p: u32,
    /// The firmware.
    pub program: Arc<Program>,
    /// Application ID.
    pub app_id: u8,
}

/// Bytes the host writes into a chip's SDRAM or System RAM after loading, before the run.
#[derive(Clone, Debug)]
pub struct Poke {
    /// Chip x.
    pub x: u8,
    /// Chip y.
    pub y: u8,
    /// Address (SDRAM or System RAM, either alias).
    pub addr: u32,
    /// The bytes.
    pub data: Vec<u8>,
}

/// Everything needed to build and run a machine, as plain data that threads can share.
#[derive(Clone, Debug)]
pub struct Setup {
    /// The machine.
    pub desc: MachineDesc,
    /// How chips run.
    pub config: ChipConfig,
    /// Applications to load.
    pub loads: Vec<Load>,
    /// Multicast routing entries.
    pub routes: Vec<RouteEntry>,
    /// Host writes after loading.
    pub pokes: Vec<Poke>,
    /// Also take the run's fingerprint (`golden`), which reads every chip's memory at the end.
    pub fingerprint: bool,
    /// Write a trace of the events `Filter` keeps to this file while the machine runs.
    pub trace: Option<(std::path::PathBuf, crate::trace::Filter)>,
}

/// What a run produced, gathered from every thread in machine order.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Outcome {
    /// Why the run stopped.
    pub stop: StopReason,
    /// Simulated time at the end (cycles).
    pub now: Cycle,
    /// Every loaded core, in (x, y, p) order.
    pub cores: Vec<CoreReport>,
    /// Every router, in (x, y) order.
    pub routers: Vec<RouterReport>,
    /// Packets launched by cores.
    pub packets_sent: u64,
    /// Chips whose watchdog reset fired, with when, in (x, y) order.
    pub watchdog_resets: Vec<WatchdogFired>,
    /// A digest of every chip's System RAM and of the loaded cores' TCMs.
    pub memory_digest: u64,
    /// The fingerprint lines (`golden`), when the setup asked for them, in chip order.
    pub fingerprint: Vec<String>,
    /// Host time spent building and running (not part of the result: never compared).
    #[serde(skip)]
    pub host: HostTiming,
}

/// Host seconds a run took, split at the moment every thread had built its chips.
#[derive(Clone, Copy, Debug, Default)]
pub struct HostTiming {
    /// Building and loading the machine (the slowest thread).
    pub build_seconds: f64,
    /// Running it (the slowest thread).
    pub run_seconds: f64,
    /// Rounds (windows) the run took: what the threads synchronise on.
    pub rounds: u64,
    /// Times an engine was entered to run a core, over every core.
    pub engine_entries: u64,
}

impl PartialEq for HostTiming {
    /// Host timings differ from run to run: outcomes compare equal whatever they are.
    fn eq(&self, _: &HostTiming) -> bool {
        true
    }
}

impl Outcome {
    /// Packets dropped, machine-wide: the sum of every router's `RouterCounters::dropped`, as
    /// [`Machine::packets_dropped`] gives it (faults injected with `ChipConfig::drop_mc_every`
    /// included).
    pub fn packets_dropped(&self) -> u64 {
        self.routers.iter().map(|r| r.counters.dropped).sum()
    }
}

impl Setup {
    /// What running this setup on `threads` host threads holds in host memory: the machine's
    /// chips and every distinct core the loads name on them.
    pub fn estimate(&self, threads: usize) -> Estimate {
        let mut cores: Vec<(u8, u8, u32)> = self
            .loads
            .iter()
            .filter(|l| self.desc.has_chip(l.x, l.y))
            .map(|l| (l.x, l.y, l.p))
            .collect();
        cores.sort_unstable();
        cores.dedup();
        Estimate {
            chips: self.desc.chips().len() as u64,
            cores: cores.len() as u64,
            threads: threads as u64,
        }
    }

    /// Builds the share of the machine for which `mine` holds, loaded and poked.
    fn build(&self, mine: impl Fn(usize) -> bool) -> Result<Machine, MachineError> {
        let mut m = Machine::part(self.desc.clone(), self.config.clone(), mine);
        if let Some((_, filter)) = &self.trace {
            m.trace(filter);
        }
        for l in &self.loads {
            if !self.desc.has_chip(l.x, l.y) {
                return Err(MachineError::NoChip(l.x, l.y));
            }
            if m.chip(l.x, l.y).is_some() {
                m.load(l.x, l.y, l.p, &l.program, l.app_id)?;
            }
        }
        let routes: Vec<RouteEntry> = self
            .routes
            .iter()
            .copied()
            .filter(|e| m.chip(e.x, e.y).is_some() || !self.desc.has_chip(e.x, e.y))
            .collect();
        m.load_routes(&routes)?;
        for p in &self.pokes {
            let Some(chip) = m.chip(p.x, p.y) else {
                continue;
            };
            if !chip.write_system(p.addr, &p.data) {
                return Err(MachineError::BadPoke(p.x, p.y, p.addr));
            }
        }
        Ok(m)
    }
}

/// What one worker hands back.
struct Part {
    stop: StopReason,
    now: Cycle,
    cores: Vec<CoreReport>,
    routers: Vec<RouterReport>,
    packets_sent: u64,
    watchdog_resets: Vec<WatchdogFired>,
    digests: Vec<((u8, u8), u64)>,
    fingerprint: Vec<((u8, u8), Vec<String>)>,
    host: HostTiming,
}

fn finish(m: &Machine, stop: StopReason, fingerprint: bool) -> Part {
    let fingerprint = if fingerprint {
        m.chips()
            .iter()
            .map(|c| ((c.x, c.y), golden::chip_lines(c)))
            .collect()
    } else {
        Vec::new()
    };
    let digests = m
        .chips()
        .iter()
        .map(|c| {
            let mut d = c.sysram_digest();
            for v in 1..c.num_cores() as u8 {
                if let Some(core) = c.core(v) {
                    d = d.rotate_left(7)
                        ^ core.state().itcm.digest()
                        ^ core.state().dtcm.digest().rotate_left(13);
                }
            }
            ((c.x, c.y), d)
        })
        .collect();
    Part {
        stop,
        now: m.now(),
        cores: m.reports(),
        routers: m.router_reports(),
        watchdog_resets: m.watchdog_resets(),
        packets_sent: m.packets_sent(),
        digests,
        fingerprint,
        host: HostTiming::default(),
    }
}

/// A barrier that spins briefly, then yields: rounds are frequent and short.
struct SpinBarrier {
    n: usize,
    count: AtomicUsize,
    generation: AtomicUsize,
}

impl SpinBarrier {
    fn new(n: usize) -> SpinBarrier {
        SpinBarrier {
            n,
            count: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
        }
    }

    fn wait(&self) {
        let gen = self.generation.load(Ordering::Acquire);
        if self.count.fetch_add(1, Ordering::AcqRel) + 1 == self.n {
            self.count.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::AcqRel);
            return;
        }
        let mut spins = 0u32;
        while self.generation.load(Ordering::Acquire) == gen {
            spins += 1;
            if spins < 200 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// A worker's trace records for a run of windows: `chunks` are (window, bytes) for the windows
/// that had records, and the worker has reported every window up to `covered`.
struct TraceBatch {
    worker: usize,
    covered: Option<u64>,
    chunks: Vec<(u64, Vec<u8>)>,
}

/// A worker sends its trace records once it holds this many bytes...
const TRACE_BATCH_BYTES: usize = 1 << 18;
/// ...or after this many windows.
const TRACE_BATCH_WINDOWS: u64 = 4096;

/// What each worker publishes at a window's end (double-buffered by window parity).
struct Slot {
    running: AtomicBool,
    last: AtomicU64,
    /// The part's [`Horizon`]: its two earliest chips and their times.
    first: AtomicU64,
    chip: AtomicU64,
    second: AtomicU64,
    second_chip: AtomicU64,
}

/// Runs `setup` on `threads` host threads (chips split into contiguous blocks) up to `limit`.
/// The outcome does not depend on `threads`.
pub fn run(setup: &Setup, threads: usize, limit: Cycle) -> Result<Outcome, MachineError> {
    let n_chips = setup.desc.chips().len().max(1);
    let threads = threads.clamp(1, n_chips);
    // Refused before anything is built: a machine the host cannot hold would otherwise grow
    // until the kernel kills the process.
    budget::check(&setup.estimate(threads))?;
    let owner = |g: usize| g * threads / n_chips;
    let barrier = SpinBarrier::new(threads);
    let slots: Vec<[Slot; 2]> = (0..threads)
        .map(|_| {
            std::array::from_fn(|_| Slot {
                running: AtomicBool::new(false),
                last: AtomicU64::new(0),
                first: AtomicU64::new(u64::MAX),
                chip: AtomicU64::new(u64::MAX),
                second: AtomicU64::new(u64::MAX),
                second_chip: AtomicU64::new(u64::MAX),
            })
        })
        .collect();
    let failed = AtomicBool::new(false);
    let (senders, receivers): (Vec<Sender<Flight>>, Vec<Receiver<Flight>>) =
        (0..threads).map(|_| unbounded()).unzip();
    let (trace_tx, trace_rx) = unbounded::<TraceBatch>();
    let mut trace_out = match &setup.trace {
        Some((path, _)) => {
            let file = std::fs::File::create(path)
                .map_err(|e| MachineError::Trace(path.display().to_string(), e.to_string()))?;
            let mut w = std::io::BufWriter::new(file);
            crate::trace::write_header(&mut w)
                .map_err(|e| MachineError::Trace(path.display().to_string(), e.to_string()))?;
            Some(w)
        }
        None => None,
    };
    let tracing = trace_out.is_some();
    let chip_order = setup.desc.chips();
    let owner_of = |c: (u8, u8)| chip_order.binary_search(&c).map(owner).unwrap_or(0);
    let parts = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|w| {
                let (barrier, slots, failed, senders, receiver, owner_of) = (
                    &barrier,
                    &slots,
                    &failed,
                    &senders,
                    &receivers[w],
                    &owner_of,
                );
                let trace_tx = trace_tx.clone();
                s.spawn(move || -> Result<Part, MachineError> {
                    let started = std::time::Instant::now();
                    let built = setup.build(|g| owner(g) == w);
                    // Everyone must know whether every part could be built before running.
                    if built.is_err() {
                        failed.store(true, Ordering::Release);
                    }
                    barrier.wait();
                    let running = std::time::Instant::now();
                    let mut m = built?;
                    if failed.load(Ordering::Acquire) {
                        return Err(MachineError::OtherThread);
                    }
                    let window = m.window();
                    let mut parity = 0;
                    let mut window_index = 0u64;
                    let mut batch = TraceBatch {
                        worker: w,
                        covered: None,
                        chunks: Vec::new(),
                    };
                    let mut batch_bytes = 0;
                    let mut rounds = 0u64;
                    let stop = loop {
                        let (h, running, last) = m.local_state();
                        let slot = &slots[w][parity];
                        slot.running.store(running, Ordering::Release);
                        slot.last.store(last, Ordering::Release);
                        slot.first.store(h.first, Ordering::Release);
                        slot.chip.store(u64::from(h.chip), Ordering::Release);
                        slot.second.store(h.second, Ordering::Release);
                        slot.second_chip
                            .store(u64::from(h.second_chip), Ordering::Release);
                        barrier.wait();
                        let (mut g_running, mut g_last) = (false, 0);
                        let mut horizon = Horizon::NONE;
                        for s in slots {
                            let s = &s[parity];
                            g_running |= s.running.load(Ordering::Acquire);
                            g_last = g_last.max(s.last.load(Ordering::Acquire));
                            horizon.merge(Horizon {
                                first: s.first.load(Ordering::Acquire),
                                chip: s.chip.load(Ordering::Acquire) as u32,
                                second: s.second.load(Ordering::Acquire),
                                second_chip: s.second_chip.load(Ordering::Acquire) as u32,
                            });
                        }
                        match plan(m.now(), horizon.next(), g_running, g_last, limit, window) {
                            Err((reason, now)) => {
                                m.set_now(now);
                                break reason;
                            }
                            Ok(end) => {
                                rounds += 1;
                                let out = m.run_window(|g| horizon.end_for(g, window, end, limit));
                                if tracing {
                                    let bytes = m.take_trace();
                                    if !bytes.is_empty() {
                                        batch_bytes += bytes.len();
                                        batch.chunks.push((window_index, bytes));
                                    }
                                    batch.covered = Some(window_index);
                                    // Batches keep channel traffic low; their size bounds memory.
                                    if batch_bytes >= TRACE_BATCH_BYTES
                                        || window_index % TRACE_BATCH_WINDOWS
                                            == TRACE_BATCH_WINDOWS - 1
                                    {
                                        let covered = batch.covered;
                                        let full = std::mem::replace(
                                            &mut batch,
                                            TraceBatch {
                                                worker: w,
                                                covered,
                                                chunks: Vec::new(),
                                            },
                                        );
                                        let _ = trace_tx.send(full);
                                        batch_bytes = 0;
                                    }
                                    window_index += 1;
                                }
                                let (mine, theirs): (Vec<Flight>, Vec<Flight>) =
                                    out.into_iter().partition(|f| m.owns(f.dst));
                                m.accept(mine);
                                for f in theirs {
                                    // The receiver lives until the scope ends: sending cannot fail.
                                    let _ = senders[owner_of(f.dst)].send(f);
                                }
                                barrier.wait();
                                m.accept(receiver.try_iter());
                                m.set_now(end);
                            }
                        }
                        parity ^= 1;
                    };
                    if tracing {
                        // Everything this worker will ever send: the writer may finish.
                        batch.covered = Some(u64::MAX);
                        let _ = trace_tx.send(batch);
                    }
                    let mut part = finish(&m, stop, setup.fingerprint);
                    part.host = HostTiming {
                        build_seconds: (running - started).as_secs_f64(),
                        run_seconds: running.elapsed().as_secs_f64(),
                        rounds,
                        engine_entries: m.engine_entries(),
                    };
                    Ok(part)
                })
            })
            .collect();
        drop(trace_tx);
        // Stream the trace while the workers run, in (window, worker) order whatever the timing:
        // a window is written once every worker has reported past it.
        let mut queues: Vec<std::collections::VecDeque<(u64, Vec<u8>)>> =
            vec![Default::default(); threads];
        let mut covered: Vec<Option<u64>> = vec![None; threads];
        let mut write_error = None;
        let mut write = |bytes: &[u8], write_error: &mut Option<String>| {
            if let (Some(out), None) = (trace_out.as_mut(), &*write_error) {
                if let Err(e) = std::io::Write::write_all(out, bytes) {
                    *write_error = Some(e.to_string());
                }
            }
        };
        let mut drain = |queues: &mut Vec<std::collections::VecDeque<(u64, Vec<u8>)>>,
                         upto: Option<u64>,
                         write_error: &mut Option<String>| {
            while let Some((w, _)) = queues
                .iter()
                .enumerate()
                .filter_map(|(w, q)| q.front().map(|(win, _)| (w, *win)))
                .filter(|&(_, win)| upto.is_some_and(|u| win <= u))
                .min_by_key(|&(w, win)| (win, w))
            {
                let (_, bytes) = queues[w].pop_front().expect("non-empty");
                write(&bytes, write_error);
            }
        };
        for batch in trace_rx.iter() {
            queues[batch.worker].extend(batch.chunks);
            covered[batch.worker] = batch.covered;
            let upto = covered.iter().copied().min().flatten();
            drain(&mut queues, upto, &mut write_error);
        }
        // Workers that failed never said they were done: write what arrived, in order.
        drain(&mut queues, Some(u64::MAX), &mut write_error);
        let parts: Vec<Result<Part, MachineError>> = handles
            .into_iter()
            .map(|h| h.join().expect("simulation thread panicked"))
            .collect();
        (parts, write_error)
    });
    let (parts, write_error) = parts;
    if let (Some((path, _)), Some(out)) = (&setup.trace, trace_out.as_mut()) {
        let flushed = std::io::Write::flush(out).map_err(|e| e.to_string());
        if let Some(e) = write_error.or(flushed.err()) {
            return Err(MachineError::Trace(path.display().to_string(), e));
        }
    }
    let parts = parts_in_order(parts)?;
    let first = &parts[0];
    let (stop, now) = (first.stop, first.now);
    let mut cores: Vec<CoreReport> = parts.iter().flat_map(|p| p.cores.clone()).collect();
    cores.sort_by_key(|r| (r.x, r.y, r.p));
    let mut routers: Vec<RouterReport> = parts.iter().flat_map(|p| p.routers.clone()).collect();
    routers.sort_by_key(|r| (r.x, r.y));
    let mut digests: Vec<((u8, u8), u64)> = parts.iter().flat_map(|p| p.digests.clone()).collect();
    digests.sort();
    let memory_digest = digests.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, (_, d)| {
        (h ^ d).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let packets_sent = parts.iter().map(|p| p.packets_sent).sum();
    let host = HostTiming {
        build_seconds: parts
            .iter()
            .map(|p| p.host.build_seconds)
            .fold(0.0, f64::max),
        run_seconds: parts.iter().map(|p| p.host.run_seconds).fold(0.0, f64::max),
        rounds: parts[0].host.rounds,
        engine_entries: parts.iter().map(|p| p.host.engine_entries).sum(),
    };
    let mut watchdog_resets: Vec<WatchdogFired> = parts
        .iter()
        .flat_map(|p| p.watchdog_resets.clone())
        .collect();
    watchdog_resets.sort_by_key(|w| (w.x, w.y));
    let mut chip_lines: Vec<((u8, u8), Vec<String>)> =
        parts.into_iter().flat_map(|p| p.fingerprint).collect();
    chip_lines.sort_by_key(|(c, _)| *c);
    let mut fingerprint = Vec::new();
    if setup.fingerprint {
        fingerprint.push(format!(
            "run: stop {stop:?} time_ns {} packets_sent {packets_sent}",
            now * crate::NS_PER_CYCLE
        ));
        fingerprint.extend(chip_lines.into_iter().flat_map(|(_, l)| l));
    }
    Ok(Outcome {
        stop,
        now,
        cores,
        routers,
        packets_sent,
        watchdog_resets,
        memory_digest,
        fingerprint,
        host,
    })
}

/// The first real error if any worker failed (not the "another thread failed" echoes).
fn parts_in_order(parts: Vec<Result<Part, MachineError>>) -> Result<Vec<Part>, MachineError> {
    let mut ok = Vec::new();
    let mut echo = None;
    for p in parts {
        match p {
            Ok(p) => ok.push(p),
            Err(MachineError::OtherThread) => echo = Some(MachineError::OtherThread),
            Err(e) => return Err(e),
        }
    }
    match echo {
        Some(e) => Err(e),
        None => Ok(ok),
    }
}

/// The host's number of hardware threads (the default thread count).
pub fn host_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
