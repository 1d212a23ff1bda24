// SPDX-License-Identifier: GPL-2.0-or-later
//! Trace analysis: a Perfetto/Chrome timeline, summary statistics, and the first difference
//! between two traces (for `spinn trace perfetto|stats|diff`).
//!
//! Every tool works on records in cycle order (a stable sort of the file order): a trace file
//! interleaves chips window by window, so a neighbour's records may precede earlier events of
//! another chip in the file.
//!
//! # Matching packets
//!
//! Packets carry no identity, so a packet's events are tied to its `Send` by key, first in
//! first out: every `Send` opens a packet instance of its key, and an event of that key at a
//! place (a chip's router, one of its links, one of its cores) belongs to the oldest instance
//! of the key that has not been at that place yet. Each instance visits a place at most once,
//! so a multicast packet's deliveries to several cores all match the same `Send`, and events
//! the simulator does not trace (deliveries to monitor or idle cores) leave other places'
//! matching undisturbed. It is an approximation: two packets of one key that overtake each
//! other (an emergency detour can do that), a `Send` outside the traced window or filter, or
//! a packet dropped before reaching a place shift the matching for that key and place.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use serde_json::{json, Value};

use crate::trace::{Event, From as TraceFrom, Kind, Record};
use crate::{Cycle, CPU_CLK_MHZ, NS_PER_CYCLE};

/// Thread id of a chip's router track in [`perfetto`] output.
pub const ROUTER_TID: u32 = 99;
/// Thread id of link 0's track in [`perfetto`] output (link `l` is `LINK_TID + l`).
pub const LINK_TID: u32 = 100;
/// How many entries the "busiest links" and "most dropping places" lists of [`Stats`] keep.
pub const TOP: usize = 10;
/// How many records before a difference [`first_divergence`] shows.
pub const CONTEXT: usize = 5;

const LINK_NAMES: [&str; 6] = ["E", "NE", "N", "W", "SW", "S"];

/// VIC source names (hardware notes §4), indexed by source number.
const VIC_NAMES: [&str; 32] = [
    "WDOG", "SOFTWARE", "COMM_RX", "COMM_TX", "TIMER1", "TIMER2", "CC_RDY", "CC_RPE", "CC_RFE",
    "CC_TFL", "CC_TOV", "CC_TMT", "DMA_DONE", "DMA_ERR", "DMA_TO", "RTR_DIAG", "RTR_DUMP",
    "RTR_ERR", "CPU", "ETH_TX", "ETH_RX", "ETH_PHY", "SLOW_CLK", "CC_TNF", "CC_MC", "CC_P2P",
    "CC_NN", "CC_FR", "INT0", "INT1", "GPIO8", "GPIO9",
];

/// Short name of a link direction (0 E, 1 NE, 2 N, 3 W, 4 SW, 5 S); "?" for other numbers.
pub fn link_name(link: u8) -> &'static str {
    LINK_NAMES.get(link as usize).copied().unwrap_or("?")
}

/// Name of a VIC interrupt source (`TIMER1`, `CC_MC`, ...); "?" beyond 31.
pub fn vic_source_name(source: u8) -> &'static str {
    VIC_NAMES.get(source as usize).copied().unwrap_or("?")
}

/// Name of a SpiNNaker `cpu_state` value (`RUN`, `EXIT`, ...); "?" for unassigned numbers.
pub fn state_name(state: u8) -> &'static str {
    match state {
        0 => "DEAD",
        1 => "PWRDN",
        2 => "RTE",
        3 => "WDOG",
        4 => "INIT",
        5 => "WAIT",
        6 => "SARK",
        7 => "RUN",
        8 => "SYNC0",
        9 => "SYNC1",
        10 => "PAUSE",
        11 => "EXIT",
        15 => "IDLE",
        _ => "?",
    }
}

/// True for states in which a core runs no code any more (dead, powered down, run-time error,
/// watchdog, exited): time spent there is neither busy nor asleep.
/// The spin1 event a runtime callback serves (8: a callback queued by spin1_schedule_callback).
pub fn callback_name(event: u8) -> &'static str {
    const NAMES: [&str; 9] = [
        "MC_PACKET_RECEIVED",
        "DMA_TRANSFER_DONE",
        "TIMER_TICK",
        "SDP_PACKET_RX",
        "USER_EVENT",
        "MCPL_PACKET_RECEIVED",
        "FR_PACKET_RECEIVED",
        "FRPL_PACKET_RECEIVED",
        "SCHEDULED",
    ];
    NAMES.get(event as usize).copied().unwrap_or("UNKNOWN")
}

fn halts(state: u8) -> bool {
    matches!(state, 0 | 1 | 2 | 3 | 11)
}

/// `cycle` as microseconds, exactly to the nanosecond ("6.170").
fn fmt_us(cycle: Cycle) -> String {
    format!(
        "{}.{:03}",
        cycle / CPU_CLK_MHZ,
        (cycle % CPU_CLK_MHZ) * NS_PER_CYCLE
    )
}

/// `cycle` as Perfetto microseconds. The nanosecond count is exact in an f64, so the division
/// is the closest double to the true value and Perfetto's rounding (`llround(ts * 1000)`)
/// gets the nanosecond back: a span's `ts + dur` then lands exactly on the cycle it ends at.
fn ts_us(cycle: Cycle) -> f64 {
    (cycle * NS_PER_CYCLE) as f64 / 1000.0
}

fn hex(key: u32) -> String {
    format!("{key:#010x}")
}

/// Names of the links set in `links` ("E", "N", ...).
fn link_list(links: u8) -> Vec<&'static str> {
    (0..6)
        .filter(|l| links & (1 << l) != 0)
        .map(link_name)
        .collect()
}

/// Numbers of the cores set in `cores`.
fn core_list(cores: u32) -> Vec<u8> {
    (0..32u8).filter(|p| cores & (1 << p) != 0).collect()
}

fn packet_type(control: u8) -> &'static str {
    ["MC", "P2P", "NN", "FR"][(control >> 6) as usize]
}

/// One readable line for a record: cycle (and µs), chip, core or router, what happened.
pub fn describe(r: &Record) -> String {
    let lists = |links: u8, cores: u32| {
        let mut parts = Vec::new();
        if links != 0 {
            parts.push(format!("links {}", link_list(links).join(",")));
        }
        if cores != 0 {
            let cs: Vec<String> = core_list(cores).iter().map(u8::to_string).collect();
            parts.push(format!("cores {}", cs.join(",")));
        }
        parts.join(" ")
    };
    let what = match r.event {
        Event::State { p, state } => format!("core {p}: state {} ({state})", state_name(state)),
        Event::Interrupt { p, fiq, source } => {
            let kind = if fiq { "FIQ" } else { "IRQ" };
            format!("core {p}: {kind} {} ({source})", vic_source_name(source))
        }
        Event::InterruptDone { p } => format!("core {p}: interrupt done"),
        Event::Sleep { p } => format!("core {p}: sleeps"),
        Event::Wake { p } => format!("core {p}: wakes"),
        Event::DmaStart { p, bytes, write } => {
            let dir = if write {
                "write (TCM to system)"
            } else {
                "read (system to TCM)"
            };
            format!("core {p}: DMA {dir} of {bytes} bytes")
        }
        Event::Send {
            p,
            key,
            payload,
            control,
        } => {
            let payload = payload
                .map(|v| format!(" payload {v:#010x}"))
                .unwrap_or_default();
            format!(
                "core {p}: sends {} key {}{payload} (control {control:#04x})",
                packet_type(control),
                hex(key)
            )
        }
        Event::Hop {
            from,
            key,
            links,
            cores,
        } => {
            let from = match from {
                TraceFrom::Core(p) => format!("core {p}"),
                TraceFrom::Link(l) => format!("link {l} ({})", link_name(l)),
            };
            let to = if links == 0 && cores == 0 {
                "nowhere".to_string()
            } else {
                lists(links, cores)
            };
            format!("router: key {} from {from} to {to}", hex(key))
        }
        Event::LinkOut { link, key, queued } => {
            format!(
                "link {link} ({}): key {} leaves after {queued} cycles queued",
                link_name(link),
                hex(key)
            )
        }
        Event::Emergency { link, key } => {
            format!(
                "router: key {} detoured by link {link} ({})",
                hex(key),
                link_name(link)
            )
        }
        Event::Deliver { p, key } => format!("core {p}: receives key {}", hex(key)),
        Event::Drop { key, links, cores } => {
            let why = if links == 0 && cores == 0 {
                "no route".to_string()
            } else {
                format!("failed {}", lists(links, cores))
            };
            format!("router: drops key {} ({why})", hex(key))
        }
        Event::Callback { p, event, enter } => {
            format!(
                "core {p}: {} {} callback",
                if enter { "enters" } else { "leaves" },
                callback_name(event)
            )
        }
        Event::DmaDone { p } => format!("core {p}: DMA transfer done"),
    };
    format!(
        "cycle {:>10} ({:>12} µs) chip {},{} {what}",
        r.cycle,
        fmt_us(r.cycle),
        r.x,
        r.y
    )
}

/// The records in cycle order; equal cycles keep their file order.
fn by_cycle(records: &[Record]) -> Vec<&Record> {
    let mut sorted: Vec<&Record> = records.iter().collect();
    sorted.sort_by_key(|r| r.cycle);
    sorted
}

/// First and last cycle of a trace ((0, 0) when empty).
fn bounds(records: &[Record]) -> (Cycle, Cycle) {
    let first = records.iter().map(|r| r.cycle).min().unwrap_or(0);
    let last = records.iter().map(|r| r.cycle).max().unwrap_or(0);
    (first, last)
}

type CoreId = (u8, u8, u8);

/// What a core is doing between two of its records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Running,
    Asleep,
    Halted,
}

/// A change in a core's timeline, for drawing it.
#[derive(Clone, Copy, Debug)]
enum Seg {
    RunStart { at: Cycle },
    RunEnd { at: Cycle },
    IrqBegin { at: Cycle, source: u8, fiq: bool },
    IrqEnd { at: Cycle, source: u8, fiq: bool },
}

/// Rebuilds one core's running/asleep/halted timeline and its open interrupts from its records,
/// shared by [`perfetto`] and [`stats`] so that the picture and the numbers agree.
struct CoreMachine {
    mode: Mode,
    since: Cycle,
    /// Interrupts being handled, innermost last (an FIQ can interrupt an IRQ handler).
    irqs: Vec<(u8, bool)>,
    busy: u64,
    asleep: u64,
    halted: u64,
}

impl CoreMachine {
    fn new(mode: Mode, start: Cycle, out: &mut Vec<Seg>) -> Self {
        if mode == Mode::Running {
            out.push(Seg::RunStart { at: start });
        }
        CoreMachine {
            mode,
            since: start,
            irqs: Vec::new(),
            busy: 0,
            asleep: 0,
            halted: 0,
        }
    }

    fn close_irqs(&mut self, at: Cycle, out: &mut Vec<Seg>) {
        while let Some((source, fiq)) = self.irqs.pop() {
            out.push(Seg::IrqEnd { at, source, fiq });
        }
    }

    fn switch(&mut self, mode: Mode, at: Cycle, out: &mut Vec<Seg>) {
        if self.mode == mode {
            return;
        }
        let spent = at.saturating_sub(self.since);
        match self.mode {
            Mode::Running => {
                // A handler cannot outlive the running stretch it belongs to: close it here so
                // that spans stay nested even when the trace misses its acknowledgement.
                self.close_irqs(at, out);
                out.push(Seg::RunEnd { at });
                self.busy += spent;
            }
            Mode::Asleep => self.asleep += spent,
            Mode::Halted => self.halted += spent,
        }
        if mode == Mode::Running {
            out.push(Seg::RunStart { at });
        }
        self.mode = mode;
        self.since = at;
    }

    fn step(&mut self, r: &Record, out: &mut Vec<Seg>) {
        let at = r.cycle;
        match r.event {
            Event::Sleep { .. } if self.mode == Mode::Running => self.switch(Mode::Asleep, at, out),
            Event::Wake { .. } if self.mode == Mode::Asleep => self.switch(Mode::Running, at, out),
            Event::State { state, .. } if halts(state) => self.switch(Mode::Halted, at, out),
            // A halted core that changes to a live state was restarted.
            Event::State { .. } if self.mode == Mode::Halted => self.switch(Mode::Running, at, out),
            Event::Interrupt { source, fiq, .. } => {
                // Taking an interrupt means the core runs, whatever order the records of one
                // cycle came in.
                self.switch(Mode::Running, at, out);
                self.irqs.push((source, fiq));
                out.push(Seg::IrqBegin { at, source, fiq });
            }
            Event::InterruptDone { .. } => {
                self.switch(Mode::Running, at, out);
                if let Some((source, fiq)) = self.irqs.pop() {
                    out.push(Seg::IrqEnd { at, source, fiq });
                }
            }
            Event::DmaStart { .. } | Event::Send { .. } => self.switch(Mode::Running, at, out),
            _ => {}
        }
    }

    /// Accounts for the last stretch and closes every open span at `end`.
    fn finish(&mut self, end: Cycle, out: &mut Vec<Seg>) {
        if self.mode == Mode::Halted {
            self.halted += end.saturating_sub(self.since);
            self.since = end;
        } else {
            // Parking in Halted at the end adds nothing to the halted time.
            self.switch(Mode::Halted, end, out);
        }
    }
}

/// Each core's mode at the start of the trace: asleep when its first sleep-related record is a
/// Wake (the trace starts while it waits), running otherwise.
fn initial_modes(sorted: &[&Record]) -> HashMap<CoreId, Mode> {
    let mut modes = HashMap::new();
    for r in sorted {
        let Some(p) = r.event.core() else { continue };
        let mode = match r.event {
            Event::Wake { .. } => Mode::Asleep,
            Event::Sleep { .. }
            | Event::Interrupt { .. }
            | Event::InterruptDone { .. }
            | Event::DmaStart { .. }
            | Event::Send { .. } => Mode::Running,
            _ => continue,
        };
        modes.entry((r.x, r.y, p)).or_insert(mode);
    }
    modes
}

/// Where a packet event happened, for matching (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Place {
    Router(u8, u8),
    Link(u8, u8, u8),
    Core(u8, u8, u8),
}

/// A packet instance: its flow id and the cycle it was sent.
#[derive(Clone, Copy, Debug)]
struct Instance {
    id: u64,
    sent: Cycle,
}

/// Ties packet events to sends, by key in FIFO order per place.
#[derive(Default)]
struct Matcher {
    sends: HashMap<u32, Vec<Instance>>,
    /// Per key and place, how many instances have been there. Each event takes the oldest
    /// instance not yet there, so those are always a prefix of the key's instances.
    visited: HashMap<(u32, Place), usize>,
    next_id: u64,
}

impl Matcher {
    fn send(&mut self, key: u32, cycle: Cycle) -> u64 {
        self.next_id += 1;
        self.sends.entry(key).or_default().push(Instance {
            id: self.next_id,
            sent: cycle,
        });
        self.next_id
    }

    fn arrive(&mut self, key: u32, place: Place) -> Option<Instance> {
        let instances = self.sends.get(&key)?;
        let n = self.visited.entry((key, place)).or_insert(0);
        let found = instances.get(*n).copied()?;
        *n += 1;
        Some(found)
    }
}

// ---------------------------------------------------------------------------------------------
// Perfetto

/// Builds the trace-event list: events in processing order, each with its sort cycle.
struct Timeline {
    events: Vec<(Cycle, Value)>,
    /// Per core, the index of its open "running" span, whose `dur` is filled when it ends.
    running: HashMap<CoreId, (usize, Cycle)>,
}

/// A Perfetto track: chip x, chip y, thread id.
type Track = (u8, u8, u32);

fn pid(x: u8, y: u8) -> u32 {
    x as u32 * 256 + y as u32
}

impl Timeline {
    fn push(&mut self, cycle: Cycle, (x, y, tid): Track, mut fields: Value) {
        fields["ts"] = json!(ts_us(cycle));
        fields["pid"] = json!(pid(x, y));
        fields["tid"] = json!(tid);
        self.events.push((cycle, fields));
    }

    fn instant(&mut self, cycle: Cycle, track: Track, name: &str, args: Value) {
        self.push(
            cycle,
            track,
            json!({"ph": "i", "s": "t", "name": name, "args": args}),
        );
    }

    /// A zero-length slice for a flow event to bind to: flows attach to slices, not instants,
    /// in the legacy Chrome viewer, and Perfetto binds a flow to the topmost open slice of its
    /// track, which is this one when the flow event follows it at the same time.
    fn anchor(&mut self, cycle: Cycle, track: Track, name: &str, args: Value) {
        self.push(
            cycle,
            track,
            json!({"ph": "X", "dur": 0.0, "name": name, "cat": "packet", "args": args}),
        );
    }

    /// A flow event: `ph` "s", "t" or "f". Perfetto identifies a v1 flow by (id, cat, name), so
    /// all events of one packet share the name.
    fn flow(&mut self, ph: &str, cycle: Cycle, track: Track, id: u64, key: u32) {
        let mut ev =
            json!({"ph": ph, "id": id, "cat": "packet", "name": format!("packet {}", hex(key))});
        if ph == "f" {
            // Bind to the enclosing slice (the delivery), not to the next slice of the track.
            ev["bp"] = json!("e");
        }
        self.push(cycle, track, ev);
    }

    fn segs(&mut self, (x, y, p): CoreId, segs: &mut Vec<Seg>) {
        let track = (x, y, p as u32);
        for seg in segs.drain(..) {
            match seg {
                Seg::RunStart { at } => {
                    self.running.insert((x, y, p), (self.events.len(), at));
                    self.push(
                        at,
                        track,
                        json!({"ph": "X", "name": "running", "cat": "core", "dur": 0.0}),
                    );
                }
                Seg::RunEnd { at } => {
                    if let Some((i, start)) = self.running.remove(&(x, y, p)) {
                        self.events[i].1["dur"] = json!(ts_us(at - start));
                    }
                }
                Seg::IrqBegin { at, source, fiq } | Seg::IrqEnd { at, source, fiq } => {
                    let ph = if matches!(seg, Seg::IrqBegin { .. }) {
                        "B"
                    } else {
                        "E"
                    };
                    self.push(at, track, json!({"ph": ph, "name": irq_name(source, fiq), "cat": "irq",
                        "args": {"source": source, "source_name": vic_source_name(source), "fiq": fiq}}));
                }
            }
        }
    }
}

fn irq_name(source: u8, fiq: bool) -> String {
    let fiq = if fiq { " (fiq)" } else { "" };
    format!("irq {source} {}{fiq}", vic_source_name(source))
}

fn metadata(name: &str, x: u8, y: u8, tid: u32, args: Value) -> Value {
    json!({"ph": "M", "name": name, "pid": pid(x, y), "tid": tid, "args": args})
}

/// The trace as Chrome/Perfetto trace-event JSON (`{"traceEvents": [...], "displayTimeUnit":
/// "ns"}`), to open in ui.perfetto.dev or chrome://tracing.
///
/// One process per chip (`pid` = x·256 + y, named "chip X,Y"); in it one thread per core
/// (`tid` = core, "core P"), one for the router (`tid` 99) and one per link output (`tid`
/// 100 + link, "link L (E)"). Timestamps are microseconds (a cycle is 0.005 µs).
///
/// - A core's running stretches (from a Wake, or the trace start, to the next Sleep) are "X"
///   slices named "running"; interrupt handlers are "B"/"E" pairs named "irq SOURCE NAME"
///   inside them, closed at the next Sleep, halt or the end of the trace when the trace has no
///   acknowledgement, so that pairs always balance.
/// - State changes (named by state), DMA starts, drops and emergency detours are instants; the
///   last two on the router track with args `key`, `links`, `cores`.
/// - Packets are flows (category "packet", `id` per packet instance, matched as described in
///   the module documentation): "s" at the Send on the core, "t" at each router hop and link
///   output, "f" at each delivery. Each flow event follows a zero-length slice to bind to.
///
/// Metadata events come first; the rest are sorted by `ts` (stably, so that events of one
/// cycle keep their causal order).
pub fn perfetto(records: &[Record]) -> Value {
    // Callbacks still running at the end of the trace are left out (no end to draw).
    let mut callbacks_open: HashMap<(u8, u8, u8), Vec<(u8, Cycle)>> = HashMap::new();
    let sorted = by_cycle(records);
    let (start, end) = bounds(records);
    let initial = initial_modes(&sorted);
    let mut tl = Timeline {
        events: Vec::new(),
        running: HashMap::new(),
    };
    let mut cores: BTreeMap<CoreId, CoreMachine> = BTreeMap::new();
    let mut chips: BTreeSet<(u8, u8)> = BTreeSet::new();
    let mut matcher = Matcher::default();
    let mut segs = Vec::new();

    for r in &sorted {
        let (x, y, c) = (r.x, r.y, r.cycle);
        chips.insert((x, y));
        if let Some(p) = r.event.core() {
            let id = (x, y, p);
            let m = cores.entry(id).or_insert_with(|| {
                let mode = initial.get(&id).copied().unwrap_or(Mode::Running);
                CoreMachine::new(mode, start, &mut segs)
            });
            // A new core's first segment (running from the start) goes before its record's.
            m.step(r, &mut segs);
            tl.segs(id, &mut segs);
        }
        match r.event {
            Event::State { p, state } => tl.instant(
                c,
                (x, y, p as u32),
                state_name(state),
                json!({"state": state}),
            ),
            Event::DmaStart { p, bytes, write } => {
                let name = if write { "dma write" } else { "dma read" };
                tl.instant(
                    c,
                    (x, y, p as u32),
                    name,
                    json!({"bytes": bytes, "write": write}),
                );
            }
            Event::Send {
                p,
                key,
                payload,
                control,
            } => {
                let args = json!({"key": hex(key), "payload": payload.map(hex), "control": control, "type": packet_type(control)});
                tl.anchor(c, (x, y, p as u32), &format!("send {}", hex(key)), args);
                let id = matcher.send(key, c);
                tl.flow("s", c, (x, y, p as u32), id, key);
            }
            Event::Hop {
                from,
                key,
                links,
                cores: to,
            } => {
                let from = match from {
                    TraceFrom::Core(p) => format!("core {p}"),
                    TraceFrom::Link(l) => format!("link {l} ({})", link_name(l)),
                };
                let args = json!({"key": hex(key), "from": from, "links": link_list(links), "cores": core_list(to)});
                tl.anchor(c, (x, y, ROUTER_TID), &format!("hop {}", hex(key)), args);
                if let Some(inst) = matcher.arrive(key, Place::Router(x, y)) {
                    tl.flow("t", c, (x, y, ROUTER_TID), inst.id, key);
                }
            }
            Event::LinkOut { link, key, queued } => {
                let track = (x, y, LINK_TID + link as u32);
                tl.anchor(
                    c,
                    track,
                    &format!("out {}", hex(key)),
                    json!({"key": hex(key), "queued_cycles": queued}),
                );
                if let Some(inst) = matcher.arrive(key, Place::Link(x, y, link)) {
                    tl.flow("t", c, track, inst.id, key);
                }
            }
            Event::Deliver { p, key } => {
                tl.anchor(
                    c,
                    (x, y, p as u32),
                    &format!("receive {}", hex(key)),
                    json!({"key": hex(key)}),
                );
                if let Some(inst) = matcher.arrive(key, Place::Core(x, y, p)) {
                    tl.flow("f", c, (x, y, p as u32), inst.id, key);
                }
            }
            Event::Drop {
                key,
                links,
                cores: failed,
            } => {
                tl.instant(
                    c,
                    (x, y, ROUTER_TID),
                    "drop",
                    json!({"key": hex(key), "links": link_list(links), "cores": core_list(failed)}),
                );
            }
            Event::Emergency { link, key } => {
                // The same args as a drop, so that one query covers both: the detour link.
                tl.instant(
                    c,
                    (x, y, ROUTER_TID),
                    "emergency",
                    json!({"key": hex(key), "links": [link_name(link)], "cores": []}),
                );
            }
            Event::Callback { p, event, enter } => {
                let open = callbacks_open.entry((x, y, p)).or_default();
                if enter {
                    open.push((event, c));
                } else if let Some((e, start)) = open.pop() {
                    let ev = json!({"ph": "X", "cat": "callback", "name": format!("callback {}", callback_name(e)), "ts": ts_us(start), "dur": ts_us(c) - ts_us(start), "pid": pid(x, y), "tid": p as u32});
                    tl.events.push((start, ev));
                }
            }
            Event::DmaDone { p } => tl.instant(c, (x, y, p as u32), "dma done", json!({})),
            Event::Interrupt { .. }
            | Event::InterruptDone { .. }
            | Event::Sleep { .. }
            | Event::Wake { .. } => {}
        }
    }
    for (&id, m) in cores.iter_mut() {
        m.finish(end, &mut segs);
        tl.segs(id, &mut segs);
    }
    tl.events.sort_by_key(|(c, _)| *c);

    let mut out = Vec::new();
    for &(x, y) in &chips {
        out.push(metadata(
            "process_name",
            x,
            y,
            0,
            json!({"name": format!("chip {x},{y}")}),
        ));
        out.push(metadata(
            "process_sort_index",
            x,
            y,
            0,
            json!({"sort_index": pid(x, y)}),
        ));
        let mut threads: Vec<(u32, String)> = cores
            .keys()
            .filter(|k| (k.0, k.1) == (x, y))
            .map(|k| (k.2 as u32, format!("core {}", k.2)))
            .collect();
        threads.push((ROUTER_TID, "router".into()));
        threads.extend(
            (0..6u8).map(|l| (LINK_TID + l as u32, format!("link {l} ({})", link_name(l)))),
        );
        for (tid, name) in threads {
            out.push(metadata("thread_name", x, y, tid, json!({"name": name})));
            out.push(metadata(
                "thread_sort_index",
                x,
                y,
                tid,
                json!({"sort_index": tid}),
            ));
        }
    }
    out.extend(tl.events.into_iter().map(|(_, v)| v));
    json!({"traceEvents": out, "displayTimeUnit": "ns"})
}

// ---------------------------------------------------------------------------------------------
// Statistics

/// How often a core took one interrupt source.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct IrqCount {
    /// VIC source number.
    pub source: u8,
    /// Its name (`TIMER1`, ...).
    pub name: &'static str,
    /// Taken as FIQ rather than IRQ.
    pub fiq: bool,
    /// Times taken.
    pub count: u64,
}

/// One core's activity over the trace.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CoreStats {
    /// Chip x.
    pub x: u8,
    /// Chip y.
    pub y: u8,
    /// Physical core number.
    pub p: u8,
    /// Cycles running: not between a Sleep and the following Wake, nor halted.
    pub busy_cycles: u64,
    /// Cycles asleep (between a Sleep and the following Wake; before the first Wake when the
    /// core's first sleep record is a Wake).
    pub asleep_cycles: u64,
    /// Cycles after a halting state (DEAD, PWRDN, RTE, WDOG, EXIT), when no code runs.
    pub halted_cycles: u64,
    /// `busy_cycles` over the trace's span (0 for a trace of one instant).
    pub busy_share: f64,
    /// The rest of the span: asleep or halted.
    pub idle_share: f64,
    /// Interrupts taken, by source (IRQs before FIQs, by source number).
    pub interrupts: Vec<IrqCount>,
    /// DMA transfers started.
    pub dma_transfers: u64,
    /// Bytes in those transfers.
    pub dma_bytes: u64,
    /// Packets sent.
    pub sent: u64,
    /// Packets delivered to it.
    pub delivered: u64,
    /// Its last traced `cpu_state`, if any.
    pub last_state: Option<u8>,
}

/// Drops on one chip, by cause. A drop that failed both links and cores counts under both.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ChipDrops {
    /// Chip x.
    pub x: u8,
    /// Chip y.
    pub y: u8,
    /// Drop records.
    pub drops: u64,
    /// Drops that failed on a link (dead, or blocked past the wait times).
    pub links: u64,
    /// Drops that failed on a core (its receive buffer stayed full).
    pub cores: u64,
    /// Drops of packets the router had no route for.
    pub unrouted: u64,
}

/// Packet totals.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PacketStats {
    /// Send records.
    pub sent: u64,
    /// Deliver records (one per receiving core).
    pub delivered: u64,
    /// Deliveries that matched no Send (sent before the trace, or filtered out).
    pub unmatched_deliveries: u64,
    /// Drop records.
    pub dropped: u64,
    /// Emergency records (packets sent round a blocked link).
    pub emergency_routed: u64,
    /// Router hops.
    pub hops: u64,
    /// Link transmissions.
    pub link_outs: u64,
    /// Drops per chip, by cause, for chips that dropped.
    pub drops_by_chip: Vec<ChipDrops>,
}

/// One log2 bucket of the latency histogram: latencies in `from..to` cycles.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LatencyBucket {
    /// Lowest latency in the bucket (cycles).
    pub from: u64,
    /// First latency above the bucket (cycles).
    pub to: u64,
    /// Deliveries in the bucket.
    pub count: u64,
}

/// Send-to-deliver latency of matched deliveries, in cycles.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Latency {
    /// Matched deliveries.
    pub samples: u64,
    /// Smallest.
    pub min: Option<u64>,
    /// Median (the lower middle value for an even count).
    pub median: Option<u64>,
    /// Largest.
    pub max: Option<u64>,
    /// Buckets [0, 1), [1, 2), [2, 4), [4, 8), ... from the first to the last non-empty one.
    pub buckets: Vec<LatencyBucket>,
}

/// Traffic on one link output.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LinkStats {
    /// Chip x.
    pub x: u8,
    /// Chip y.
    pub y: u8,
    /// Link number.
    pub link: u8,
    /// Its direction (`E`, `NE`, ...).
    pub name: &'static str,
    /// Packets that left on it.
    pub packets: u64,
    /// Cycles they waited for it, in total.
    pub queued_cycles: u64,
    /// The longest wait.
    pub max_queued: u64,
    /// Packets detoured onto it by emergency routing.
    pub emergencies: u64,
}

/// An output that failed packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum DropOutput {
    /// A link.
    Link(u8),
    /// A core.
    Core(u8),
    /// No output at all: the router found no route.
    NoRoute,
}

impl fmt::Display for DropOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DropOutput::Link(l) => write!(f, "link {l} ({})", link_name(l)),
            DropOutput::Core(p) => write!(f, "core {p}"),
            DropOutput::NoRoute => write!(f, "no route"),
        }
    }
}

/// Where packets were dropped: a chip and output.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DropPlace {
    /// Chip x.
    pub x: u8,
    /// Chip y.
    pub y: u8,
    /// The failed output.
    pub output: DropOutput,
    /// Packets dropped there.
    pub count: u64,
}

/// A summary of a trace: core activity, packet traffic, latency, hot links and drops.
/// `Display` gives a readable report; serialise it for a machine-readable one.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Stats {
    /// Records in the trace.
    pub records: usize,
    /// Cycle of the earliest record.
    pub first_cycle: Cycle,
    /// Cycle of the latest record.
    pub last_cycle: Cycle,
    /// `last_cycle - first_cycle`: what shares are of.
    pub span_cycles: Cycle,
    /// Every core with a record, in (x, y, p) order.
    pub cores: Vec<CoreStats>,
    /// Packet totals.
    pub packets: PacketStats,
    /// Send-to-deliver latency.
    pub latency: Latency,
    /// Up to [`TOP`] links by packets sent (then by queueing).
    pub busiest_links: Vec<LinkStats>,
    /// Up to [`TOP`] chip outputs by packets dropped.
    pub drop_places: Vec<DropPlace>,
    /// Runtime callbacks per core and kind: how many ran and the cycles they took.
    pub callbacks: Vec<CallbackStats>,
}

/// One core's callbacks of one kind.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CallbackStats {
    /// Chip x.
    pub x: u8,
    /// Chip y.
    pub y: u8,
    /// Physical core.
    pub p: u8,
    /// The spin1 event (8: scheduled).
    pub event: u8,
    /// Its name.
    pub name: &'static str,
    /// Callbacks that ran to completion.
    pub count: u64,
    /// Cycles between entry and exit, nested callbacks included.
    pub cycles: u64,
}

#[derive(Default)]
struct CoreAcc {
    irqs: BTreeMap<(bool, u8), u64>,
    dma_transfers: u64,
    dma_bytes: u64,
    sent: u64,
    delivered: u64,
    last_state: Option<u8>,
}

/// Log2 bucket bounds of a latency: [0, 1), then [2^(k-1), 2^k).
fn bucket_of(latency: u64) -> (u32, u64, u64) {
    if latency == 0 {
        return (0, 0, 1);
    }
    let k = 64 - latency.leading_zeros();
    let from = 1u64 << (k - 1);
    (k, from, from.saturating_mul(2))
}

fn link_entry(
    links: &mut BTreeMap<(u8, u8, u8), LinkStats>,
    x: u8,
    y: u8,
    l: u8,
) -> &mut LinkStats {
    links.entry((x, y, l)).or_insert_with(|| LinkStats {
        x,
        y,
        link: l,
        name: link_name(l),
        packets: 0,
        queued_cycles: 0,
        max_queued: 0,
        emergencies: 0,
    })
}

fn latency_of(mut samples: Vec<u64>) -> Latency {
    if samples.is_empty() {
        return Latency::default();
    }
    samples.sort_unstable();
    let mut counts: BTreeMap<u32, (u64, u64, u64)> = BTreeMap::new();
    for &s in &samples {
        let (k, from, to) = bucket_of(s);
        counts.entry(k).or_insert((from, to, 0)).2 += 1;
    }
    let (lo, hi) = (
        *counts.first_key_value().expect("non-empty").0,
        *counts.last_key_value().expect("non-empty").0,
    );
    // Empty buckets between the extremes stay, so that the histogram's shape reads right.
    let buckets = (lo..=hi)
        .map(|k| {
            let (from, to, count) = counts.get(&k).copied().unwrap_or_else(|| {
                let (_, from, to) = bucket_of(1u64 << (k - 1));
                (from, to, 0)
            });
            LatencyBucket { from, to, count }
        })
        .collect();
    Latency {
        samples: samples.len() as u64,
        min: samples.first().copied(),
        median: Some(samples[(samples.len() - 1) / 2]),
        max: samples.last().copied(),
        buckets,
    }
}

/// Computes [`Stats`] over a trace (see each field for its meaning; packets are matched to
/// their sends as the module documentation describes).
pub fn stats(records: &[Record]) -> Stats {
    let sorted = by_cycle(records);
    let (first, last) = bounds(records);
    let span = last - first;
    let initial = initial_modes(&sorted);
    let mut machines: BTreeMap<CoreId, (CoreMachine, CoreAcc)> = BTreeMap::new();
    let mut matcher = Matcher::default();
    let mut packets = PacketStats::default();
    let mut latencies = Vec::new();
    let mut links: BTreeMap<(u8, u8, u8), LinkStats> = BTreeMap::new();
    let mut chip_drops: BTreeMap<(u8, u8), ChipDrops> = BTreeMap::new();
    let mut places: BTreeMap<(u8, u8, DropOutput), u64> = BTreeMap::new();
    // The stats need only the totals the machines keep, not the drawing segments.
    let mut segs = Vec::new();
    let mut open_callbacks: BTreeMap<(u8, u8, u8), Vec<(u8, Cycle)>> = BTreeMap::new();
    let mut callbacks: BTreeMap<(u8, u8, u8, u8), (u64, u64)> = BTreeMap::new();
    for r in &sorted {
        if let Event::Callback { p, event, enter } = r.event {
            let open = open_callbacks.entry((r.x, r.y, p)).or_default();
            if enter {
                open.push((event, r.cycle));
            } else if let Some((e, start)) = open.pop() {
                let acc = callbacks.entry((r.x, r.y, p, e)).or_default();
                acc.0 += 1;
                acc.1 += r.cycle - start;
            }
        }
    }

    for r in &sorted {
        let (x, y) = (r.x, r.y);
        if let Some(p) = r.event.core() {
            let (m, acc) = machines.entry((x, y, p)).or_insert_with(|| {
                let mode = initial.get(&(x, y, p)).copied().unwrap_or(Mode::Running);
                (CoreMachine::new(mode, first, &mut segs), CoreAcc::default())
            });
            m.step(r, &mut segs);
            segs.clear();
            match r.event {
                Event::State { state, .. } => acc.last_state = Some(state),
                Event::Interrupt { source, fiq, .. } => {
                    *acc.irqs.entry((fiq, source)).or_default() += 1
                }
                Event::DmaStart { bytes, .. } => {
                    acc.dma_transfers += 1;
                    acc.dma_bytes += bytes as u64;
                }
                Event::Send { .. } => acc.sent += 1,
                Event::Deliver { .. } => acc.delivered += 1,
                _ => {}
            }
        }
        match r.event {
            Event::Send { key, .. } => {
                packets.sent += 1;
                matcher.send(key, r.cycle);
            }
            Event::Deliver { p, key } => {
                packets.delivered += 1;
                match matcher.arrive(key, Place::Core(x, y, p)) {
                    Some(inst) => latencies.push(r.cycle.saturating_sub(inst.sent)),
                    None => packets.unmatched_deliveries += 1,
                }
            }
            Event::Hop { .. } => packets.hops += 1,
            Event::LinkOut {
                link: l, queued, ..
            } => {
                packets.link_outs += 1;
                let s = link_entry(&mut links, x, y, l);
                s.packets += 1;
                s.queued_cycles += queued as u64;
                s.max_queued = s.max_queued.max(queued as u64);
            }
            Event::Emergency { link: l, .. } => {
                packets.emergency_routed += 1;
                link_entry(&mut links, x, y, l).emergencies += 1;
            }
            Event::Drop {
                links: failed_links,
                cores: failed_cores,
                ..
            } => {
                packets.dropped += 1;
                let d = chip_drops.entry((x, y)).or_insert_with(|| ChipDrops {
                    x,
                    y,
                    ..ChipDrops::default()
                });
                d.drops += 1;
                d.links += (failed_links != 0) as u64;
                d.cores += (failed_cores != 0) as u64;
                d.unrouted += (failed_links == 0 && failed_cores == 0) as u64;
                let mut outputs: Vec<DropOutput> = (0..6u8)
                    .filter(|l| failed_links & (1 << l) != 0)
                    .map(DropOutput::Link)
                    .collect();
                outputs.extend(core_list(failed_cores).into_iter().map(DropOutput::Core));
                if outputs.is_empty() {
                    outputs.push(DropOutput::NoRoute);
                }
                for o in outputs {
                    *places.entry((x, y, o)).or_default() += 1;
                }
            }
            _ => {}
        }
    }

    let share = |c: u64| {
        if span == 0 {
            0.0
        } else {
            c as f64 / span as f64
        }
    };
    let cores = machines
        .into_iter()
        .map(|((x, y, p), (mut m, acc))| {
            m.finish(last, &mut segs);
            segs.clear();
            let busy_share = share(m.busy);
            let interrupts = acc
                .irqs
                .iter()
                .map(|(&(fiq, source), &count)| IrqCount {
                    source,
                    name: vic_source_name(source),
                    fiq,
                    count,
                })
                .collect();
            CoreStats {
                x,
                y,
                p,
                busy_cycles: m.busy,
                asleep_cycles: m.asleep,
                halted_cycles: m.halted,
                busy_share,
                idle_share: if span == 0 { 0.0 } else { 1.0 - busy_share },
                interrupts,
                dma_transfers: acc.dma_transfers,
                dma_bytes: acc.dma_bytes,
                sent: acc.sent,
                delivered: acc.delivered,
                last_state: acc.last_state,
            }
        })
        .collect();

    let mut busiest: Vec<LinkStats> = links.into_values().filter(|l| l.packets > 0).collect();
    // Stable on the (x, y, link) order for ties, so the report is deterministic.
    busiest.sort_by(|a, b| {
        b.packets
            .cmp(&a.packets)
            .then(b.queued_cycles.cmp(&a.queued_cycles))
    });
    busiest.truncate(TOP);
    let mut drop_places: Vec<DropPlace> = places
        .into_iter()
        .map(|((x, y, output), count)| DropPlace {
            x,
            y,
            output,
            count,
        })
        .collect();
    drop_places.sort_by_key(|d| std::cmp::Reverse(d.count));
    drop_places.truncate(TOP);
    packets.drops_by_chip = chip_drops.into_values().collect();

    Stats {
        records: records.len(),
        first_cycle: first,
        last_cycle: last,
        span_cycles: span,
        cores,
        packets,
        latency: latency_of(latencies),
        busiest_links: busiest,
        drop_places,
        callbacks: callbacks
            .into_iter()
            .map(|((x, y, p, event), (count, cycles))| CallbackStats {
                x,
                y,
                p,
                event,
                name: callback_name(event),
                count,
                cycles,
            })
            .collect(),
    }
}

fn pct(share: f64) -> String {
    format!("{:5.1}%", share * 100.0)
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "trace: {} records, cycles {}..{} ({} cycles, {} µs)",
            self.records,
            self.first_cycle,
            self.last_cycle,
            self.span_cycles,
            fmt_us(self.span_cycles)
        )?;
        writeln!(f)?;
        writeln!(f, "cores ({}):", self.cores.len())?;
        if !self.cores.is_empty() {
            writeln!(
                f,
                "  {:<16} {:>6} {:>6} {:>6} {:>7} {:>6} {:>10} {:>7} {:>7}  state",
                "core", "busy", "asleep", "halted", "irqs", "dma", "dma bytes", "sent", "recv"
            )?;
        }
        let share = |c: u64| {
            if self.span_cycles == 0 {
                0.0
            } else {
                c as f64 / self.span_cycles as f64
            }
        };
        for c in &self.cores {
            let irqs: u64 = c.interrupts.iter().map(|i| i.count).sum();
            let state = c.last_state.map(state_name).unwrap_or("-");
            writeln!(
                f,
                "  {:<16} {} {} {} {:>7} {:>6} {:>10} {:>7} {:>7}  {state}",
                format!("chip {},{} core {}", c.x, c.y, c.p),
                pct(c.busy_share),
                pct(share(c.asleep_cycles)),
                pct(share(c.halted_cycles)),
                irqs,
                c.dma_transfers,
                c.dma_bytes,
                c.sent,
                c.delivered
            )?;
            if !c.interrupts.is_empty() {
                let list: Vec<String> = c
                    .interrupts
                    .iter()
                    .map(|i| {
                        format!(
                            "{}{} ({}) ×{}",
                            if i.fiq { "FIQ " } else { "" },
                            i.name,
                            i.source,
                            i.count
                        )
                    })
                    .collect();
                writeln!(f, "      interrupts: {}", list.join(", "))?;
            }
        }
        writeln!(f)?;
        let p = &self.packets;
        writeln!(
            f,
            "packets: {} sent, {} delivered ({} unmatched), {} dropped, {} emergency-routed, {} hops, {} link transmissions",
            p.sent, p.delivered, p.unmatched_deliveries, p.dropped, p.emergency_routed, p.hops, p.link_outs
        )?;
        for d in &p.drops_by_chip {
            writeln!(
                f,
                "  chip {},{}: {} dropped (links {}, cores {}, no route {})",
                d.x, d.y, d.drops, d.links, d.cores, d.unrouted
            )?;
        }
        writeln!(f)?;
        let l = &self.latency;
        match (l.min, l.median, l.max) {
            (Some(min), Some(median), Some(max)) => {
                writeln!(f, "latency, send to deliver ({} matched): min {min}, median {median}, max {max} cycles", l.samples)?;
                let most = l.buckets.iter().map(|b| b.count).max().unwrap_or(1).max(1);
                for b in &l.buckets {
                    let bar = "#".repeat(((b.count * 40).div_ceil(most)) as usize);
                    writeln!(f, "  [{:>10}, {:>10}) {:>8} {bar}", b.from, b.to, b.count)?;
                }
            }
            _ => writeln!(f, "latency, send to deliver: no matched deliveries")?,
        }
        writeln!(f)?;
        writeln!(f, "busiest links:")?;
        if self.busiest_links.is_empty() {
            writeln!(f, "  none")?;
        }
        for k in &self.busiest_links {
            writeln!(
                f,
                "  chip {},{} link {} ({}): {} packets, {} cycles queued in total (max {}), {} emergency detours",
                k.x, k.y, k.link, k.name, k.packets, k.queued_cycles, k.max_queued, k.emergencies
            )?;
        }
        writeln!(f)?;
        writeln!(f, "most dropping places:")?;
        if self.drop_places.is_empty() {
            writeln!(f, "  none")?;
        }
        for d in &self.drop_places {
            writeln!(
                f,
                "  chip {},{} {}: {} dropped",
                d.x, d.y, d.output, d.count
            )?;
        }
        writeln!(f)?;
        writeln!(f, "callbacks (cycles per call):")?;
        if self.callbacks.is_empty() {
            writeln!(f, "  none traced")?;
        }
        for c in &self.callbacks {
            let per = c.cycles.checked_div(c.count).unwrap_or(0);
            writeln!(
                f,
                "  chip {},{} core {} {:<22} {:>7} calls {:>9} cycles  {:>7} per call",
                c.x, c.y, c.p, c.name, c.count, c.cycles, per
            )?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Differences

/// Where two traces first differ (see [`first_divergence`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Divergence {
    /// Position of the first differing record.
    pub index: usize,
    /// The first trace's record there (None: it ended).
    pub a: Option<Record>,
    /// The second trace's record there (None: it ended).
    pub b: Option<Record>,
    /// Up to [`CONTEXT`] records before it, the same in both traces.
    pub context_before: Vec<Record>,
}

/// The first position at which two traces differ, in file order (a deterministic simulation
/// writes the same records in the same order, so the first difference is where behaviour
/// split); None when they are identical. A trace that is a prefix of the other differs where
/// it ends.
pub fn first_divergence(a: &[Record], b: &[Record]) -> Option<Divergence> {
    let index = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i))?;
    Some(Divergence {
        index,
        a: a.get(index).copied(),
        b: b.get(index).copied(),
        context_before: a[index.saturating_sub(CONTEXT)..index].to_vec(),
    })
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = |r: &Option<Record>| {
            r.as_ref()
                .map(describe)
                .unwrap_or_else(|| "end of trace".into())
        };
        writeln!(f, "first difference at record {}:", self.index)?;
        writeln!(f, "  a: {}", side(&self.a))?;
        writeln!(f, "  b: {}", side(&self.b))?;
        if self.context_before.is_empty() {
            writeln!(f, "no records before it")?;
        } else {
            writeln!(f, "before it, in both:")?;
            let start = self.index - self.context_before.len();
            for (i, r) in self.context_before.iter().enumerate() {
                writeln!(f, "  [{}] {}", start + i, describe(r))?;
            }
        }
        Ok(())
    }
}

/// A side-by-side summary of two traces: records per kind in each, and how many positions hold
/// different records (a missing record counts as different).
pub fn summary(a: &[Record], b: &[Record]) -> String {
    let count = |t: &[Record], k: Kind| t.iter().filter(|r| r.event.kind() == k).count();
    let mut s = format!("{:<12} {:>10} {:>10}\n", "kind", "a", "b");
    for k in Kind::ALL {
        let (na, nb) = (count(a, k), count(b, k));
        let mark = if na != nb { "  *" } else { "" };
        s += &format!("{:<12} {na:>10} {nb:>10}{mark}\n", k.name());
    }
    s += &format!("{:<12} {:>10} {:>10}\n", "total", a.len(), b.len());
    let n = a.len().max(b.len());
    let differing = (0..n).filter(|&i| a.get(i) != b.get(i)).count();
    s += &format!("records differing positionally: {differing} of {n}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(cycle: Cycle, x: u8, y: u8, event: Event) -> Record {
        Record { cycle, x, y, event }
    }

    /// A small two-chip story: core 1 of (0,0) runs, takes a timer interrupt, sends key 0x10
    /// to core 2 of (1,0) over link 0 and sleeps; core 2 wakes on the packet.
    fn story() -> Vec<Record> {
        vec![
            rec(0, 0, 0, Event::State { p: 1, state: 7 }),
            rec(100, 0, 0, Event::Sleep { p: 1 }),
            rec(100, 1, 0, Event::Sleep { p: 2 }),
            rec(200, 0, 0, Event::Wake { p: 1 }),
            rec(
                200,
                0,
                0,
                Event::Interrupt {
                    p: 1,
                    fiq: false,
                    source: 4,
                },
            ),
            rec(
                210,
                0,
                0,
                Event::DmaStart {
                    p: 1,
                    bytes: 256,
                    write: false,
                },
            ),
            rec(
                220,
                0,
                0,
                Event::Send {
                    p: 1,
                    key: 0x10,
                    payload: None,
                    control: 0,
                },
            ),
            rec(
                220,
                0,
                0,
                Event::Hop {
                    from: TraceFrom::Core(1),
                    key: 0x10,
                    links: 1,
                    cores: 0,
                },
            ),
            rec(
                230,
                0,
                0,
                Event::LinkOut {
                    link: 0,
                    key: 0x10,
                    queued: 0,
                },
            ),
            rec(240, 0, 0, Event::InterruptDone { p: 1 }),
            rec(250, 0, 0, Event::Sleep { p: 1 }),
            rec(
                300,
                1,
                0,
                Event::Hop {
                    from: TraceFrom::Link(3),
                    key: 0x10,
                    links: 0,
                    cores: 1 << 2,
                },
            ),
            rec(310, 1, 0, Event::Deliver { p: 2, key: 0x10 }),
            rec(310, 1, 0, Event::Wake { p: 2 }),
            rec(
                310,
                1,
                0,
                Event::Interrupt {
                    p: 2,
                    fiq: true,
                    source: 24,
                },
            ),
            rec(320, 1, 0, Event::InterruptDone { p: 2 }),
            rec(400, 1, 0, Event::Sleep { p: 2 }),
        ]
    }

    fn events(v: &Value) -> &Vec<Value> {
        v["traceEvents"]
            .as_array()
            .expect("traceEvents is an array")
    }

    fn on_track(v: &Value, pid: u32, tid: u32) -> Vec<&Value> {
        events(v)
            .iter()
            .filter(|e| e["pid"] == pid && e["tid"] == tid && e["ph"] != "M")
            .collect()
    }

    /// Checks the required fields, the time order and the balance and nesting of B/E pairs.
    fn check_well_formed(v: &Value) {
        assert_eq!(v["displayTimeUnit"], "ns");
        let evs = events(v);
        let mut last_ts = f64::MIN;
        let mut seen_timed = false;
        let mut stacks: HashMap<(u64, u64), Vec<String>> = HashMap::new();
        for e in evs {
            for field in ["ph", "pid", "tid", "name"] {
                assert!(e.get(field).is_some(), "{field} missing in {e}");
            }
            assert!(e["name"].is_string() && e["ph"].is_string(), "{e}");
            if e["ph"] == "M" {
                assert!(!seen_timed, "metadata comes first: {e}");
                continue;
            }
            seen_timed = true;
            let ts = e["ts"]
                .as_f64()
                .unwrap_or_else(|| panic!("ts missing in {e}"));
            assert!(ts >= last_ts, "sorted by ts: {e}");
            last_ts = ts;
            let track = (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap());
            let name = e["name"].as_str().unwrap().to_string();
            match e["ph"].as_str().unwrap() {
                "B" => stacks.entry(track).or_default().push(name),
                "E" => assert_eq!(
                    stacks.entry(track).or_default().pop(),
                    Some(name),
                    "E matches the innermost B: {e}"
                ),
                "X" => assert!(e["dur"].as_f64().unwrap() >= 0.0, "{e}"),
                "s" | "t" | "f" => {
                    assert_eq!(e["cat"], "packet");
                    assert!(e["id"].is_u64(), "{e}");
                }
                "i" => {}
                other => panic!("unexpected phase {other}"),
            }
        }
        assert!(
            stacks.values().all(Vec::is_empty),
            "unbalanced B/E: {stacks:?}"
        );
    }

    #[test]
    fn perfetto_events_have_the_required_fields_and_order() {
        let v = perfetto(&story());
        check_well_formed(&v);
        // A 5 ns cycle is 0.005 µs.
        let send = events(&v).iter().find(|e| e["ph"] == "s").unwrap();
        assert_eq!(send["ts"].as_f64().unwrap(), 1.1);
        assert_eq!(send["pid"], 0);
        assert_eq!(send["tid"], 1);
        let hop = events(&v)
            .iter()
            .find(|e| e["name"] == "hop 0x00000010" && e["pid"] == 256)
            .unwrap();
        assert_eq!(hop["ts"].as_f64().unwrap(), 1.5);
        assert_eq!(hop["tid"], ROUTER_TID);
    }

    #[test]
    fn perfetto_names_processes_and_threads() {
        let v = perfetto(&story());
        let meta = |name: &str, pid: u32, tid: u32| {
            events(&v)
                .iter()
                .find(|e| e["ph"] == "M" && e["name"] == name && e["pid"] == pid && e["tid"] == tid)
                .map(|e| e["args"]["name"].as_str().unwrap().to_string())
        };
        assert_eq!(meta("process_name", 0, 0).as_deref(), Some("chip 0,0"));
        assert_eq!(meta("process_name", 256, 0).as_deref(), Some("chip 1,0"));
        assert_eq!(meta("thread_name", 0, 1).as_deref(), Some("core 1"));
        assert_eq!(meta("thread_name", 256, 2).as_deref(), Some("core 2"));
        assert_eq!(meta("thread_name", 0, 2), None, "no core 2 on chip 0,0");
        assert_eq!(meta("thread_name", 0, 99).as_deref(), Some("router"));
        assert_eq!(meta("thread_name", 0, 100).as_deref(), Some("link 0 (E)"));
        assert_eq!(
            meta("thread_name", 256, 101).as_deref(),
            Some("link 1 (NE)")
        );
        assert_eq!(meta("thread_name", 256, 105).as_deref(), Some("link 5 (S)"));
    }

    #[test]
    fn perfetto_running_spans_go_from_wake_to_sleep() {
        let v = perfetto(&story());
        let running: Vec<(f64, f64)> = on_track(&v, 0, 1)
            .into_iter()
            .filter(|e| e["name"] == "running")
            .map(|e| {
                assert_eq!(e["ph"], "X");
                (e["ts"].as_f64().unwrap(), e["dur"].as_f64().unwrap())
            })
            .collect();
        // Before the first Sleep (from the trace start), then Wake 200 to Sleep 250.
        assert_eq!(running, vec![(0.0, 0.5), (1.0, 0.25)]);
        // Core 2 sleeps first, then runs 310..400.
        let running: Vec<(f64, f64)> = on_track(&v, 256, 2)
            .into_iter()
            .filter(|e| e["name"] == "running")
            .map(|e| (e["ts"].as_f64().unwrap(), e["dur"].as_f64().unwrap()))
            .collect();
        assert_eq!(running, vec![(0.0, 0.5), (1.55, 0.45)]);
    }

    #[test]
    fn perfetto_interrupts_are_balanced_even_when_the_trace_is_cut() {
        let mut t = story();
        // Nested: an FIQ inside an IRQ, neither acknowledged before the trace ends.
        t.push(rec(500, 0, 0, Event::Wake { p: 1 }));
        t.push(rec(
            510,
            0,
            0,
            Event::Interrupt {
                p: 1,
                fiq: false,
                source: 5,
            },
        ));
        t.push(rec(
            520,
            0,
            0,
            Event::Interrupt {
                p: 1,
                fiq: true,
                source: 12,
            },
        ));
        t.push(rec(600, 1, 0, Event::State { p: 2, state: 11 }));
        let v = perfetto(&t);
        check_well_formed(&v);
        let core1 = on_track(&v, 0, 1);
        let b: Vec<&str> = core1
            .iter()
            .filter(|e| e["ph"] == "B")
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            b,
            vec!["irq 4 TIMER1", "irq 5 TIMER2", "irq 12 DMA_DONE (fiq)"]
        );
        let e: Vec<(&str, f64)> = core1
            .iter()
            .filter(|e| e["ph"] == "E")
            .map(|e| (e["name"].as_str().unwrap(), e["ts"].as_f64().unwrap()))
            .collect();
        assert_eq!(
            e,
            vec![
                ("irq 4 TIMER1", 1.2),
                ("irq 12 DMA_DONE (fiq)", 3.0),
                ("irq 5 TIMER2", 3.0)
            ]
        );
        // The last running span is closed at the last timestamp too.
        let last = core1.iter().rfind(|e| e["name"] == "running").unwrap();
        assert_eq!(
            (last["ts"].as_f64().unwrap(), last["dur"].as_f64().unwrap()),
            (2.5, 0.5)
        );
        // Core 2's FIQ is named as such; its state change is an instant.
        assert!(on_track(&v, 256, 2)
            .iter()
            .any(|e| e["ph"] == "B" && e["name"] == "irq 24 CC_MC (fiq)"));
        assert!(on_track(&v, 256, 2)
            .iter()
            .any(|e| e["ph"] == "i" && e["name"] == "EXIT" && e["args"]["state"] == 11));
    }

    #[test]
    fn perfetto_unacknowledged_interrupt_closes_at_sleep() {
        let t = vec![
            rec(
                0,
                0,
                0,
                Event::Interrupt {
                    p: 3,
                    fiq: false,
                    source: 18,
                },
            ),
            rec(50, 0, 0, Event::Sleep { p: 3 }),
            rec(60, 0, 0, Event::InterruptDone { p: 3 }),
            rec(70, 0, 0, Event::Sleep { p: 3 }),
        ];
        let v = perfetto(&t);
        check_well_formed(&v);
        let ends: Vec<f64> = on_track(&v, 0, 3)
            .iter()
            .filter(|e| e["ph"] == "E")
            .map(|e| e["ts"].as_f64().unwrap())
            .collect();
        assert_eq!(ends, vec![0.25]);
        // The stray acknowledgement at 60 means the core ran again: 60..70.
        let running: Vec<f64> = on_track(&v, 0, 3)
            .iter()
            .filter(|e| e["name"] == "running")
            .map(|e| e["ts"].as_f64().unwrap())
            .collect();
        assert_eq!(running, vec![0.0, 0.3]);
    }

    /// (ph, pid, tid) of every flow event of `id`, in order.
    fn flow(v: &Value, id: u64) -> Vec<(String, u64, u64)> {
        events(v)
            .iter()
            .filter(|e| matches!(e["ph"].as_str(), Some("s" | "t" | "f")) && e["id"] == id)
            .map(|e| {
                (
                    e["ph"].as_str().unwrap().to_string(),
                    e["pid"].as_u64().unwrap(),
                    e["tid"].as_u64().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn perfetto_packets_are_flows_from_send_to_delivery() {
        let v = perfetto(&story());
        let f = flow(&v, 1);
        let expect = [
            ("s", 0, 1),
            ("t", 0, 99),
            ("t", 0, 100),
            ("t", 256, 99),
            ("f", 256, 2),
        ];
        assert_eq!(f, expect.map(|(p, a, b)| (p.to_string(), a, b)));
        // Every flow event shares the name (Perfetto's v1 flow identity) and follows a slice
        // of its track at the same time to bind to.
        let evs = events(&v);
        for (i, e) in evs.iter().enumerate().filter(|(_, e)| e["id"] == 1) {
            assert_eq!(e["name"], "packet 0x00000010");
            let anchor = &evs[i - 1];
            assert_eq!(
                (
                    anchor["ph"].as_str(),
                    &anchor["pid"],
                    &anchor["tid"],
                    &anchor["ts"]
                ),
                (Some("X"), &e["pid"], &e["tid"], &e["ts"])
            );
            assert_eq!(anchor["dur"].as_f64(), Some(0.0));
        }
        let end = evs.iter().find(|e| e["ph"] == "f").unwrap();
        assert_eq!(end["bp"], "e");
    }

    #[test]
    fn perfetto_matches_packets_of_one_key_first_in_first_out() {
        let k = 0xABC;
        let t = vec![
            rec(
                10,
                0,
                0,
                Event::Send {
                    p: 1,
                    key: k,
                    payload: Some(1),
                    control: 2,
                },
            ),
            rec(
                10,
                0,
                0,
                Event::Hop {
                    from: TraceFrom::Core(1),
                    key: k,
                    links: 0,
                    cores: (1 << 2) | (1 << 3),
                },
            ),
            rec(
                20,
                0,
                0,
                Event::Send {
                    p: 1,
                    key: k,
                    payload: Some(2),
                    control: 2,
                },
            ),
            rec(
                20,
                0,
                0,
                Event::Hop {
                    from: TraceFrom::Core(1),
                    key: k,
                    links: 0,
                    cores: (1 << 2) | (1 << 3),
                },
            ),
            // Multicast: both deliveries of the first packet come before the second's.
            rec(25, 0, 0, Event::Deliver { p: 2, key: k }),
            rec(26, 0, 0, Event::Deliver { p: 3, key: k }),
            rec(35, 0, 0, Event::Deliver { p: 3, key: k }),
            rec(36, 0, 0, Event::Deliver { p: 2, key: k }),
            // A delivery with no send left: an anchor but no flow end.
            rec(40, 0, 0, Event::Deliver { p: 2, key: k }),
        ];
        let v = perfetto(&t);
        check_well_formed(&v);
        let s = |v: &[(&str, u64, u64)]| {
            v.iter()
                .map(|&(p, a, b)| (p.to_string(), a, b))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            flow(&v, 1),
            s(&[("s", 0, 1), ("t", 0, 99), ("f", 0, 2), ("f", 0, 3)])
        );
        assert_eq!(
            flow(&v, 2),
            s(&[("s", 0, 1), ("t", 0, 99), ("f", 0, 3), ("f", 0, 2)])
        );
        assert_eq!(events(&v).iter().filter(|e| e["ph"] == "f").count(), 4);
        assert_eq!(
            events(&v)
                .iter()
                .filter(|e| e["name"] == "receive 0x00000abc")
                .count(),
            5
        );
    }

    #[test]
    fn perfetto_drops_and_emergencies_are_router_instants() {
        let t = vec![
            rec(5, 2, 3, Event::Emergency { link: 1, key: 7 }),
            rec(
                6,
                2,
                3,
                Event::Drop {
                    key: 7,
                    links: 0b101,
                    cores: 1 << 4,
                },
            ),
            rec(
                7,
                2,
                3,
                Event::DmaStart {
                    p: 6,
                    bytes: 64,
                    write: true,
                },
            ),
        ];
        let v = perfetto(&t);
        check_well_formed(&v);
        let router = on_track(&v, 2 * 256 + 3, ROUTER_TID);
        assert_eq!(router.len(), 2);
        assert_eq!(router[0]["ph"], "i");
        assert_eq!(router[0]["name"], "emergency");
        assert_eq!(
            router[0]["args"],
            json!({"key": "0x00000007", "links": ["NE"], "cores": []})
        );
        assert_eq!(router[1]["name"], "drop");
        assert_eq!(
            router[1]["args"],
            json!({"key": "0x00000007", "links": ["E", "N"], "cores": [4]})
        );
        let dma = on_track(&v, 2 * 256 + 3, 6);
        assert!(dma
            .iter()
            .any(|e| e["ph"] == "i" && e["name"] == "dma write" && e["args"]["bytes"] == 64));
    }

    #[test]
    fn perfetto_json_round_trips() {
        let v = perfetto(&story());
        let text = serde_json::to_string(&v).unwrap();
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v);
        let empty = perfetto(&[]);
        assert_eq!(empty, json!({"traceEvents": [], "displayTimeUnit": "ns"}));
        assert_eq!(
            serde_json::from_str::<Value>(&empty.to_string()).unwrap(),
            empty
        );
    }

    #[test]
    fn stats_shares_interrupts_and_dma() {
        let s = stats(&story());
        assert_eq!(
            (s.records, s.first_cycle, s.last_cycle, s.span_cycles),
            (17, 0, 400, 400)
        );
        assert_eq!(s.cores.len(), 2);
        let c1 = &s.cores[0];
        assert_eq!((c1.x, c1.y, c1.p), (0, 0, 1));
        // Busy 0..100 and 200..250; asleep 100..200 and 250..400.
        assert_eq!(
            (c1.busy_cycles, c1.asleep_cycles, c1.halted_cycles),
            (150, 250, 0)
        );
        assert_eq!(c1.busy_share, 0.375);
        assert_eq!(c1.idle_share, 0.625);
        assert_eq!(
            c1.interrupts,
            vec![IrqCount {
                source: 4,
                name: "TIMER1",
                fiq: false,
                count: 1
            }]
        );
        assert_eq!(
            (c1.dma_transfers, c1.dma_bytes, c1.sent, c1.delivered),
            (1, 256, 1, 0)
        );
        assert_eq!(c1.last_state, Some(7));
        let c2 = &s.cores[1];
        assert_eq!(
            (c2.x, c2.p, c2.busy_cycles, c2.asleep_cycles),
            (1, 2, 190, 210)
        );
        assert_eq!(
            c2.interrupts,
            vec![IrqCount {
                source: 24,
                name: "CC_MC",
                fiq: true,
                count: 1
            }]
        );
        assert_eq!(c2.delivered, 1);
    }

    #[test]
    fn stats_halted_and_initially_asleep_cores() {
        let t = vec![
            rec(0, 0, 0, Event::State { p: 1, state: 7 }),
            // Core 2's first sleep record is a Wake: it slept from the start.
            rec(40, 0, 0, Event::Wake { p: 2 }),
            rec(60, 0, 0, Event::State { p: 1, state: 11 }),
            rec(100, 0, 0, Event::Sleep { p: 2 }),
        ];
        let s = stats(&t);
        let c1 = &s.cores[0];
        assert_eq!(
            (c1.busy_cycles, c1.asleep_cycles, c1.halted_cycles),
            (60, 0, 40)
        );
        assert_eq!(c1.busy_share, 0.6);
        assert_eq!(c1.last_state, Some(11));
        let c2 = &s.cores[1];
        assert_eq!(
            (c2.busy_cycles, c2.asleep_cycles, c2.halted_cycles),
            (60, 40, 0)
        );
        // A trace of one instant has no shares to speak of.
        let one = stats(&t[..1]);
        assert_eq!(
            (
                one.span_cycles,
                one.cores[0].busy_share,
                one.cores[0].idle_share
            ),
            (0, 0.0, 0.0)
        );
    }

    #[test]
    fn stats_latency_histogram() {
        let mut t = Vec::new();
        // Latencies 0, 1, 5, 6, 7, 100 (key 1 each, FIFO), and 3 on key 2.
        for (i, lat) in [0u64, 1, 5, 6, 7, 100].into_iter().enumerate() {
            let sent = 1000 * i as u64;
            t.push(rec(
                sent,
                0,
                0,
                Event::Send {
                    p: 1,
                    key: 1,
                    payload: None,
                    control: 0,
                },
            ));
            t.push(rec(sent + lat, 0, 0, Event::Deliver { p: 2, key: 1 }));
        }
        t.push(rec(
            7000,
            0,
            0,
            Event::Send {
                p: 1,
                key: 2,
                payload: None,
                control: 0,
            },
        ));
        t.push(rec(7003, 0, 0, Event::Deliver { p: 2, key: 2 }));
        t.push(rec(7010, 0, 0, Event::Deliver { p: 3, key: 9 }));
        let s = stats(&t);
        assert_eq!(
            (
                s.packets.sent,
                s.packets.delivered,
                s.packets.unmatched_deliveries
            ),
            (7, 8, 1)
        );
        let l = &s.latency;
        assert_eq!(
            (l.samples, l.min, l.median, l.max),
            (7, Some(0), Some(5), Some(100))
        );
        let b: Vec<(u64, u64, u64)> = l.buckets.iter().map(|b| (b.from, b.to, b.count)).collect();
        assert_eq!(
            b,
            vec![
                (0, 1, 1),
                (1, 2, 1),
                (2, 4, 1),
                (4, 8, 3),
                (8, 16, 0),
                (16, 32, 0),
                (32, 64, 0),
                (64, 128, 1)
            ]
        );
        assert_eq!(stats(&[]).latency, Latency::default());
    }

    #[test]
    fn stats_multicast_and_fifo_latency() {
        let k = 5;
        let t = vec![
            rec(
                0,
                0,
                0,
                Event::Send {
                    p: 1,
                    key: k,
                    payload: None,
                    control: 0,
                },
            ),
            rec(
                10,
                0,
                0,
                Event::Send {
                    p: 1,
                    key: k,
                    payload: None,
                    control: 0,
                },
            ),
            rec(20, 0, 0, Event::Deliver { p: 2, key: k }),
            rec(21, 1, 1, Event::Deliver { p: 2, key: k }),
            rec(30, 0, 0, Event::Deliver { p: 2, key: k }),
        ];
        let s = stats(&t);
        // (0,0) core 2 gets the first packet at 20 and the second at 30; (1,1) the first at 21.
        assert_eq!(
            (s.latency.min, s.latency.median, s.latency.max),
            (Some(20), Some(20), Some(21))
        );
    }

    #[test]
    fn stats_drops_by_chip_cause_and_place() {
        let t = vec![
            rec(
                1,
                0,
                0,
                Event::Drop {
                    key: 1,
                    links: 1 << 3,
                    cores: 0,
                },
            ),
            rec(
                2,
                0,
                0,
                Event::Drop {
                    key: 1,
                    links: 1 << 3,
                    cores: 0,
                },
            ),
            rec(
                3,
                0,
                0,
                Event::Drop {
                    key: 2,
                    links: 0,
                    cores: 0,
                },
            ),
            rec(
                4,
                1,
                2,
                Event::Drop {
                    key: 3,
                    links: 0,
                    cores: 1 << 5,
                },
            ),
            rec(
                5,
                1,
                2,
                Event::Drop {
                    key: 4,
                    links: 1,
                    cores: 1 << 5,
                },
            ),
            rec(6, 1, 2, Event::Emergency { link: 2, key: 4 }),
        ];
        let s = stats(&t);
        assert_eq!((s.packets.dropped, s.packets.emergency_routed), (5, 1));
        assert_eq!(
            s.packets.drops_by_chip,
            vec![
                ChipDrops {
                    x: 0,
                    y: 0,
                    drops: 3,
                    links: 2,
                    cores: 0,
                    unrouted: 1
                },
                ChipDrops {
                    x: 1,
                    y: 2,
                    drops: 2,
                    links: 1,
                    cores: 2,
                    unrouted: 0
                },
            ]
        );
        let places: Vec<(u8, u8, DropOutput, u64)> = s
            .drop_places
            .iter()
            .map(|d| (d.x, d.y, d.output, d.count))
            .collect();
        assert_eq!(
            places,
            vec![
                (0, 0, DropOutput::Link(3), 2),
                (1, 2, DropOutput::Core(5), 2),
                (0, 0, DropOutput::NoRoute, 1),
                (1, 2, DropOutput::Link(0), 1),
            ]
        );
        // The emergency counts on its detour link, which sent nothing: not among the busiest.
        assert!(s.busiest_links.is_empty());
    }

    #[test]
    fn stats_busiest_links_top_ten() {
        let mut t = Vec::new();
        // 12 links on chip (0,0)..(1,5): link l of chip x sends 1 + x*6 + l packets, each queued 10.
        for x in 0..2u8 {
            for l in 0..6u8 {
                for i in 0..(1 + x as u64 * 6 + l as u64) {
                    t.push(rec(
                        i,
                        x,
                        0,
                        Event::LinkOut {
                            link: l,
                            key: 0,
                            queued: 10,
                        },
                    ));
                }
            }
        }
        // A tie broken by queueing: link 4 of (0,0) catches up with link 5's 6 packets, with a
        // long wait.
        t.push(rec(
            50,
            0,
            0,
            Event::LinkOut {
                link: 4,
                key: 0,
                queued: 100,
            },
        ));
        t.push(rec(50, 0, 0, Event::Emergency { link: 5, key: 0 }));
        let s = stats(&t);
        assert_eq!(s.busiest_links.len(), TOP);
        let order: Vec<(u8, u8, u64)> = s
            .busiest_links
            .iter()
            .map(|l| (l.x, l.link, l.packets))
            .collect();
        assert_eq!(
            order,
            vec![
                (1, 5, 12),
                (1, 4, 11),
                (1, 3, 10),
                (1, 2, 9),
                (1, 1, 8),
                (1, 0, 7),
                (0, 4, 6),
                (0, 5, 6),
                (0, 3, 4),
                (0, 2, 3)
            ]
        );
        assert_eq!(s.busiest_links[6].queued_cycles, 150);
        assert_eq!(s.busiest_links[0].queued_cycles, 120);
        assert_eq!(s.busiest_links[0].max_queued, 10);
        assert_eq!(s.busiest_links[0].name, "S");
        let l05 = s
            .busiest_links
            .iter()
            .find(|l| (l.x, l.link) == (0, 5))
            .unwrap();
        assert_eq!(l05.emergencies, 1);
        assert_eq!(s.packets.link_outs, (1..=12).sum::<u64>() + 1);
    }

    #[test]
    fn stats_report_and_json() {
        let mut t = story();
        t.push(rec(
            400,
            1,
            0,
            Event::Drop {
                key: 0x10,
                links: 0,
                cores: 0,
            },
        ));
        let s = stats(&t);
        let text = s.to_string();
        for needle in [
            "trace: 18 records, cycles 0..400",
            "chip 0,0 core 1",
            " 37.5%",
            "TIMER1 (4) ×1",
            "FIQ CC_MC (24) ×1",
            "packets: 1 sent, 1 delivered (0 unmatched), 1 dropped",
            "chip 1,0: 1 dropped (links 0, cores 0, no route 1)",
            "min 90, median 90, max 90 cycles",
            "chip 0,0 link 0 (E): 1 packets, 0 cycles queued",
            "chip 1,0 no route: 1 dropped",
        ] {
            assert!(text.contains(needle), "{needle:?} not in\n{text}");
        }
        let j = serde_json::to_value(&s).unwrap();
        assert_eq!(j["cores"][0]["busy_cycles"], 150);
        assert_eq!(j["latency"]["buckets"][0]["from"], 64);
        assert_eq!(j["drop_places"][0]["output"], "NoRoute");
        assert!(stats(&[]).to_string().contains("no matched deliveries"));
    }

    fn numbered(n: u64) -> Vec<Record> {
        (0..n)
            .map(|i| rec(i * 10, 0, 0, Event::Wake { p: i as u8 }))
            .collect()
    }

    #[test]
    fn divergence_finds_the_first_differing_record() {
        let a = numbered(10);
        let mut b = a.clone();
        b[7].cycle += 1;
        b[8].cycle += 1;
        let d = first_divergence(&a, &b).unwrap();
        assert_eq!(d.index, 7);
        assert_eq!((d.a, d.b), (Some(a[7]), Some(b[7])));
        assert_eq!(d.context_before, a[2..7].to_vec());
        // Near the start the context is shorter.
        let mut c = a.clone();
        c[1].x = 1;
        let d = first_divergence(&a, &c).unwrap();
        assert_eq!((d.index, d.context_before.clone()), (1, vec![a[0]]));
        let mut c = a.clone();
        c[0].event = Event::Sleep { p: 0 };
        assert!(first_divergence(&a, &c).unwrap().context_before.is_empty());
    }

    #[test]
    fn divergence_of_a_prefix_is_the_end_of_trace() {
        let a = numbered(6);
        let d = first_divergence(&a, &a[..4]).unwrap();
        assert_eq!((d.index, d.a, d.b), (4, Some(a[4]), None));
        assert_eq!(d.context_before, a[..4].to_vec());
        let d = first_divergence(&a[..4], &a).unwrap();
        assert_eq!((d.index, d.a, d.b), (4, None, Some(a[4])));
        let d = first_divergence(&[], &a).unwrap();
        assert_eq!((d.index, d.a, d.b.is_some()), (0, None, true));
    }

    #[test]
    fn identical_traces_do_not_diverge() {
        let a = story();
        assert_eq!(first_divergence(&a, &a.clone()), None);
        assert_eq!(first_divergence(&[], &[]), None);
    }

    #[test]
    fn divergence_display_shows_both_sides_and_context() {
        let a = numbered(8);
        let d = first_divergence(&a, &a[..7]).unwrap();
        let text = d.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "first difference at record 7:");
        assert!(
            lines[1].starts_with("  a: cycle         70 (       0.350 µs) chip 0,0 core 7: wakes"),
            "{text}"
        );
        assert_eq!(lines[2], "  b: end of trace");
        assert_eq!(lines[3], "before it, in both:");
        assert_eq!(lines.len(), 4 + CONTEXT);
        assert!(lines[4].starts_with("  [2] cycle         20"), "{text}");
        assert!(lines[8].contains("core 6: wakes"));
    }

    #[test]
    fn summary_counts_kinds_and_positional_differences() {
        let a = story();
        let mut b = a.clone();
        b.remove(5); // the DMA start: everything after it shifts
        b.push(rec(999, 0, 0, Event::Sleep { p: 1 }));
        let s = summary(&a, &b);
        let line = |kind: &str| {
            s.lines()
                .find(|l| l.split_whitespace().next() == Some(kind))
                .unwrap()
                .to_string()
        };
        assert_eq!(
            line("dma").split_whitespace().collect::<Vec<_>>(),
            vec!["dma", "1", "0", "*"]
        );
        assert_eq!(
            line("sleep").split_whitespace().collect::<Vec<_>>(),
            vec!["sleep", "4", "5", "*"]
        );
        assert_eq!(
            line("hop").split_whitespace().collect::<Vec<_>>(),
            vec!["hop", "2", "2"]
        );
        assert_eq!(
            line("total").split_whitespace().collect::<Vec<_>>(),
            vec!["total", "17", "17"]
        );
        assert!(
            s.contains("records differing positionally: 12 of 17"),
            "{s}"
        );
        assert!(summary(&a, &a).contains("records differing positionally: 0 of 17"));
    }

    #[test]
    fn describe_every_event() {
        let cases = [
            (Event::State { p: 1, state: 7 }, "core 1: state RUN (7)"),
            (Event::State { p: 1, state: 12 }, "core 1: state ? (12)"),
            (
                Event::Interrupt {
                    p: 2,
                    fiq: true,
                    source: 4,
                },
                "core 2: FIQ TIMER1 (4)",
            ),
            (
                Event::Interrupt {
                    p: 2,
                    fiq: false,
                    source: 24,
                },
                "core 2: IRQ CC_MC (24)",
            ),
            (Event::InterruptDone { p: 2 }, "core 2: interrupt done"),
            (Event::Sleep { p: 3 }, "core 3: sleeps"),
            (Event::Wake { p: 3 }, "core 3: wakes"),
            (
                Event::DmaStart {
                    p: 4,
                    bytes: 1024,
                    write: true,
                },
                "core 4: DMA write (TCM to system) of 1024 bytes",
            ),
            (
                Event::Send {
                    p: 5,
                    key: 0xDEAD_BEEF,
                    payload: Some(7),
                    control: 2,
                },
                "core 5: sends MC key 0xdeadbeef payload 0x00000007 (control 0x02)",
            ),
            (
                Event::Send {
                    p: 5,
                    key: 1,
                    payload: None,
                    control: 0x80,
                },
                "core 5: sends NN key 0x00000001 (control 0x80)",
            ),
            (
                Event::Hop {
                    from: TraceFrom::Link(3),
                    key: 9,
                    links: 0x21,
                    cores: 1 << 7,
                },
                "router: key 0x00000009 from link 3 (W) to links E,S cores 7",
            ),
            (
                Event::Hop {
                    from: TraceFrom::Core(1),
                    key: 9,
                    links: 0,
                    cores: 0,
                },
                "router: key 0x00000009 from core 1 to nowhere",
            ),
            (
                Event::LinkOut {
                    link: 4,
                    key: 9,
                    queued: 33,
                },
                "link 4 (SW): key 0x00000009 leaves after 33 cycles queued",
            ),
            (
                Event::Emergency { link: 1, key: 9 },
                "router: key 0x00000009 detoured by link 1 (NE)",
            ),
            (
                Event::Deliver { p: 6, key: 10 },
                "core 6: receives key 0x0000000a",
            ),
            (
                Event::Drop {
                    key: 11,
                    links: 1,
                    cores: 0,
                },
                "router: drops key 0x0000000b (failed links E)",
            ),
            (
                Event::Drop {
                    key: 11,
                    links: 0,
                    cores: 0,
                },
                "router: drops key 0x0000000b (no route)",
            ),
        ];
        for (event, what) in cases {
            let line = describe(&rec(123_457, 1, 2, event));
            assert_eq!(
                line,
                format!("cycle     123457 (     617.285 µs) chip 1,2 {what}")
            );
        }
    }
}
