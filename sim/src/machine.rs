// SPDX-License-Identifier: GPL-2.0-or-later
//! A whole SpiNNaker machine: chips joined by their links, run on one simulated clock.
//!
//! Synchronisation is conservative: every chip runs to the end of a window no longer than the
//! shortest chip-to-chip latency (`timing::min_link_latency`), so no packet can reach a chip
//! inside the window it was sent in. At each window's end the packets in flight are handed to
//! their neighbours in a fixed order (arrival time, then source chip, then the order they left),
//! so the result never depends on how chips are spread over host threads. When nothing runs,
//! time jumps straight to the next thing any core will do.

use std::collections::BTreeMap;

use crate::chip::packet::{InFlight, Source};
use crate::chip::router::p2p::P2pRoutes;
use crate::chip::router::RouterCounters;
use crate::chip::{Chip, ChipConfig, ChipError};
use crate::geometry::{opposite, MachineDesc};
use crate::program::Program;
use crate::report::{CoreReport, StopReason};
use crate::routes::RouteEntry;
use crate::timing::min_link_latency;
use crate::Cycle;

/// Errors building or loading a machine.
#[derive(Debug, thiserror::Error)]
pub enum MachineError {
    /// The machine has no chip at these coordinates.
    #[error("there is no chip ({0},{1}) in this machine")]
    NoChip(u8, u8),
    /// Loading onto a chip failed.
    #[error("chip ({0},{1}): {2}")]
    Chip(u8, u8, ChipError),
    /// A host write aimed outside SDRAM and System RAM.
    #[error("chip ({0},{1}): address {2:#010x} is not in SDRAM or System RAM")]
    BadPoke(u8, u8, u32),
    /// The trace file could not be written.
    #[error("trace {0}: {1}")]
    Trace(String, String),
    /// Another simulation thread could not build its share of the machine.
    #[error("another simulation thread failed to build its chips")]
    OtherThread,
    /// The host cannot hold the machine asked for (refused before building it).
    #[error(transparent)]
    Budget(#[from] crate::budget::BudgetError),
    /// A chip's routing table would not fit.
    #[error("chip ({0},{1}): {2} routing entries do not fit the 1023 free entries of the router")]
    TableFull(u8, u8, usize),
}

/// Longest window while tracing (1 ms): how much of a trace a chip holds before it is written.
pub const TRACE_FLUSH_CYCLES: Cycle = 200_000;

/// A chip whose watchdog reset fired (hardware notes §2.6, §2.7): its cores show WDOG.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct WatchdogFired {
    /// Chip x.
    pub x: u8,
    /// Chip y.
    pub y: u8,
    /// When the reset asserted.
    pub cycle: Cycle,
}

/// What a router did during a run.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RouterReport {
    /// Chip x.
    pub x: u8,
    /// Chip y.
    pub y: u8,
    /// Totals kept by the router.
    #[serde(flatten)]
    pub counters: RouterCounters,
    /// Packets sent on each link.
    pub link_packets: [u64; 6],
}

/// A packet on its way over a link to another chip's router, with what the machine needs to
/// hand it over in one fixed order whichever thread sent it.
#[derive(Clone, Copy, Debug)]
pub struct Flight {
    /// The sending chip's position in the machine's chip order.
    pub src: u32,
    /// Its position among the packets the sending chip sent in the same window.
    pub seq: u32,
    /// The destination chip.
    pub dst: (u8, u8),
    /// The packet, reaching the destination's router at `at` on link `from`.
    pub packet: InFlight,
}

/// A machine of chips joined by links (or the part of one that a host thread simulates).
pub struct Machine {
    desc: MachineDesc,
    chips: Vec<Chip>,
    index: BTreeMap<(u8, u8), usize>,
    /// Position of each of our chips in the whole machine's chip order.
    global: Vec<u32>,
    in_flight: Vec<Flight>,
    window: Cycle,
    now: Cycle,
}

/// Where the machine's next activity is: the earliest time any chip could act by itself (its
/// cores, or its router handling a packet on its way to it), which chip that is, and the
/// earliest time of any other chip. Built from each chip's earliest time, given in any order,
/// any number of times per chip and from any thread: the result is the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Horizon {
    /// Earliest activity anywhere (Cycle::MAX: none).
    pub first: Cycle,
    /// The chip (position in the machine's chip order) of `first`; the lowest on a tie.
    pub chip: u32,
    /// Earliest activity of any chip but `chip`.
    pub second: Cycle,
    /// The chip of `second`.
    pub second_chip: u32,
}

impl Horizon {
    /// Nothing will happen anywhere.
    pub const NONE: Horizon = Horizon {
        first: Cycle::MAX,
        chip: u32::MAX,
        second: Cycle::MAX,
        second_chip: u32::MAX,
    };

    /// Adds that chip `chip` may act at `t`: the two earliest chips, each at its earliest.
    pub fn add(&mut self, chip: u32, t: Cycle) {
        if t == Cycle::MAX {
            return;
        }
        if chip == self.chip {
            self.first = self.first.min(t);
        } else if chip == self.second_chip {
            self.second = self.second.min(t);
            if (self.second, self.second_chip) < (self.first, self.chip) {
                std::mem::swap(&mut self.first, &mut self.second);
                std::mem::swap(&mut self.chip, &mut self.second_chip);
            }
        } else if (t, chip) < (self.first, self.chip) {
            (self.second, self.second_chip) = (self.first, self.chip);
            (self.first, self.chip) = (t, chip);
        } else if (t, chip) < (self.second, self.second_chip) {
            (self.second, self.second_chip) = (t, chip);
        }
    }

    /// The earliest activity anywhere, None when nothing will happen.
    pub fn next(&self) -> Option<Cycle> {
        (self.first != Cycle::MAX).then_some(self.first)
    }

    /// Merges another part's horizon (its two earliest chips are all that can matter).
    pub fn merge(&mut self, other: Horizon) {
        self.add(other.chip, other.first);
        self.add(other.second_chip, other.second);
    }

    /// How far chip `chip` may run this round, with `hop` the shortest time a packet takes
    /// from one chip to the next: to the earliest moment a packet from any other chip could
    /// reach it, and a packet of its own could come back to it (two hops); never short of the
    /// round's plain `end` (see [`plan`]), never past `limit`.
    pub fn end_for(&self, chip: u32, hop: Cycle, end: Cycle, limit: Cycle) -> Cycle {
        let reach = if chip == self.chip {
            self.first
                .saturating_add(hop.saturating_mul(2))
                .min(self.second.saturating_add(hop))
        } else {
            self.first.saturating_add(hop)
        };
        reach.min(limit).max(end)
    }
}

/// What to do next, decided alike by every thread from the machine-wide state.
pub(crate) fn plan(
    now: Cycle,
    next: Option<Cycle>,
    running: bool,
    last: Cycle,
    limit: Cycle,
    window: Cycle,
) -> Result<Cycle, (StopReason, Cycle)> {
    if !running {
        // Time stops where the last core finished (windows may have run on past it).
        return Err((StopReason::AllFinished, last));
    }
    let Some(next) = next else {
        return Err((StopReason::Deadlock, now));
    };
    let start = now.max(next);
    if start >= limit {
        return Err((StopReason::TimeLimit, now.max(limit)));
    }
    Ok((start + window).min(limit))
}

impl Machine {
    /// Boots every live chip of `desc`: routers, system RAM and links as the monitors leave them.
    pub fn new(desc: MachineDesc, config: ChipConfig) -> Machine {
        Machine::part(desc, config, |_| true)
    }

    /// Boots the chips of `desc` for which `mine` holds (the share of one host thread).
    pub(crate) fn part(
        desc: MachineDesc,
        config: ChipConfig,
        mine: impl Fn(usize) -> bool,
    ) -> Machine {
        let mut chips = Vec::new();
        let mut index = BTreeMap::new();
        let mut global = Vec::new();
        let all = desc.chips();
        for (g, &(x, y)) in all.iter().enumerate() {
            if !mine(g) {
                continue;
            }
            let mut chip = Chip::with_dead_cores(
                x,
                y,
                desc.width(),
                desc.height(),
                desc.dead_cores(x, y),
                config.clone(),
            );
            chip.set_live_links(desc.live_links(x, y));
            index.insert((x, y), chips.len());
            global.push(g as u32);
            chips.push(chip);
        }
        // P2P tables as SC&MP leaves them after boot: every reachable chip over a shortest path.
        // Written out they would be N² entries; the routers look them up when used instead.
        let p2p = P2pRoutes::new(desc.clone());
        for chip in &chips {
            chip.set_boot_p2p(p2p.clone());
        }
        // Without links nothing crosses between chips, so chips need no common windows.
        let linked = all.iter().any(|&(x, y)| desc.live_links(x, y) != 0);
        let window = if linked {
            min_link_latency()
        } else {
            Cycle::MAX / 4
        };
        Machine {
            desc,
            chips,
            index,
            global,
            in_flight: Vec::new(),
            window,
            now: 0,
        }
    }

    /// The machine's description.
    pub fn desc(&self) -> &MachineDesc {
        &self.desc
    }

    /// Current simulated time (cycles).
    pub fn now(&self) -> Cycle {
        self.now
    }

    /// Moves simulated time on to `t` (never back) while nothing runs: the host acts at `t`
    /// (a message arriving at a monitor), and what it starts there must not run in the past.
    pub fn advance_to(&mut self, t: Cycle) {
        self.now = self.now.max(t);
        for chip in &mut self.chips {
            chip.advance_to(t);
        }
    }

    /// The chip at (x, y).
    pub fn chip(&self, x: u8, y: u8) -> Option<&Chip> {
        self.index.get(&(x, y)).map(|&i| &self.chips[i])
    }

    /// The chip at (x, y), mutable.
    pub fn chip_mut(&mut self, x: u8, y: u8) -> Option<&mut Chip> {
        self.index.get(&(x, y)).map(|&i| &mut self.chips[i])
    }

    /// Traces every chip of this part, keeping what `filter` keeps.
    pub fn trace(&mut self, filter: &crate::trace::Filter) {
        for c in &mut self.chips {
            c.trace(filter.clone());
        }
        // Records leave at each window's end: short windows keep little of a trace in memory.
        self.window = self.window.min(TRACE_FLUSH_CYCLES);
    }

    /// The trace records of every chip since the last call, chip after chip in (x, y) order.
    pub fn take_trace(&mut self) -> Vec<u8> {
        self.chips.iter_mut().flat_map(|c| c.take_trace()).collect()
    }

    /// Every chip, in (x, y) order.
    pub fn chips(&self) -> &[Chip] {
        &self.chips
    }

    /// Loads `program` onto virtual core `p` of chip (x, y).
    pub fn load(
        &mut self,
        x: u8,
        y: u8,
        p: u32,
        program: &Program,
        app_id: u8,
    ) -> Result<(), MachineError> {
        let chip = self.chip_mut(x, y).ok_or(MachineError::NoChip(x, y))?;
        chip.load(p, program, app_id, 0)
            .map_err(|e| MachineError::Chip(x, y, e))
    }

    /// Writes multicast entries into the routers, from entry 1 on (entry 0 belongs to SC&MP),
    /// converting virtual cores to physical ones as SARK's `rtr_mc_set` does.
    pub fn load_routes(&mut self, entries: &[RouteEntry]) -> Result<(), MachineError> {
        let mut per_chip: BTreeMap<(u8, u8), Vec<&RouteEntry>> = BTreeMap::new();
        for e in entries {
            if !self.index.contains_key(&(e.x, e.y)) {
                return Err(MachineError::NoChip(e.x, e.y));
            }
            per_chip.entry((e.x, e.y)).or_default().push(e);
        }
        for ((x, y), list) in per_chip {
            if list.len() > 1023 {
                return Err(MachineError::TableFull(x, y, list.len()));
            }
            let chip = self.chip(x, y).expect("checked above");
            for (i, e) in list.iter().enumerate() {
                chip.set_mc_entry_virtual(i + 1, e.key, e.mask, e.route);
            }
        }
        Ok(())
    }

    /// This part's view: its share of the machine's [`Horizon`] (for each of its chips, the
    /// earliest of its own next activity and of the packets on their way to it), whether a
    /// core still runs, and when the last core stopped.
    pub(crate) fn local_state(&self) -> (Horizon, bool, Cycle) {
        let mut soonest = vec![Cycle::MAX; self.chips.len()];
        for f in &self.in_flight {
            let i = self.index[&f.dst];
            soonest[i] = soonest[i].min(f.packet.at);
        }
        let mut h = Horizon::NONE;
        let mut running = false;
        let mut last = 0;
        for (i, chip) in self.chips.iter().enumerate() {
            let t = soonest[i].min(chip.next_activity().unwrap_or(Cycle::MAX));
            h.add(self.global[i], t);
            running |= chip.has_running_cores();
            last = last.max(chip.now());
        }
        (h, running, last)
    }

    /// The window length every part uses.
    pub(crate) fn window(&self) -> Cycle {
        self.window
    }

    /// Moves the clock (every part moves it alike).
    pub(crate) fn set_now(&mut self, now: Cycle) {
        self.now = now;
    }

    /// True when chip (x, y) is simulated by this part.
    pub(crate) fn owns(&self, chip: (u8, u8)) -> bool {
        self.index.contains_key(&chip)
    }

    /// Packets on their way to this part's chips.
    pub(crate) fn accept(&mut self, flights: impl IntoIterator<Item = Flight>) {
        self.in_flight.extend(flights);
    }

    /// One round: each chip's end is `end` of its position in the machine's chip order.
    /// Packets arriving before their chip's end reach its router (no packet can still be sent
    /// that arrives before that end), then every chip with something to do runs to its end.
    /// Returns the packets that left on links meanwhile.
    pub(crate) fn run_window(&mut self, end: impl Fn(u32) -> Cycle) -> Vec<Flight> {
        let ends: Vec<Cycle> = self.global.iter().map(|&g| end(g)).collect();
        let index = &self.index;
        let (mut due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.in_flight)
            .into_iter()
            .partition(|f| f.packet.at < ends[index[&f.dst]]);
        self.in_flight = later;
        // One fixed order, whoever sent them and on whichever thread.
        due.sort_by_key(|f| (f.packet.at, f.src, f.seq));
        for f in due {
            let dst = self.index[&f.dst];
            self.chips[dst].inject(f.packet);
        }
        for (chip, &end) in self.chips.iter_mut().zip(&ends) {
            // A chip with nothing to do before its end is not even looked at.
            if chip.next_activity().is_some_and(|t| t < end) {
                chip.run(end);
            }
        }
        let mut out = Vec::new();
        for (i, chip) in self.chips.iter_mut().enumerate() {
            let (x, y) = (chip.x, chip.y);
            for (seq, p) in chip.take_outgoing().into_iter().enumerate() {
                // It arrives on the link opposite the one it left on; links are only live
                // towards live chips, so the neighbour exists.
                let Source::Link(arrives_on) = p.from else {
                    continue;
                };
                let Some(dst) = self.desc.neighbour(x, y, opposite(arrives_on)) else {
                    continue;
                };
                out.push(Flight {
                    src: self.global[i],
                    seq: seq as u32,
                    dst,
                    packet: p,
                });
            }
        }
        out
    }

    /// Runs until every loaded core has finished (EXIT, RTE, WDOG), `limit` cycles have passed,
    /// or nothing can happen any more.
    pub fn run(&mut self, limit: Cycle) -> StopReason {
        loop {
            let (horizon, running, last) = self.local_state();
            match plan(self.now, horizon.next(), running, last, limit, self.window) {
                Err((reason, now)) => {
                    self.now = now;
                    return reason;
                }
                Ok(end) => {
                    let hop = self.window;
                    let out = self.run_window(|g| horizon.end_for(g, hop, end, limit));
                    self.accept(out);
                    self.now = end;
                }
            }
        }
    }

    /// Reports for every loaded core of every chip, in (x, y, p) order.
    pub fn reports(&self) -> Vec<CoreReport> {
        self.chips.iter().flat_map(|c| c.reports()).collect()
    }

    /// Router totals and link traffic of every chip.
    pub fn router_reports(&self) -> Vec<RouterReport> {
        self.chips
            .iter()
            .map(|c| RouterReport {
                x: c.x,
                y: c.y,
                counters: c.router_counters(),
                link_packets: c.link_packets(),
            })
            .collect()
    }

    /// Chips whose watchdog reset fired, with when, in chip order.
    pub fn watchdog_resets(&self) -> Vec<WatchdogFired> {
        self.chips
            .iter()
            .filter_map(|c| {
                Some(WatchdogFired {
                    x: c.x,
                    y: c.y,
                    cycle: c.watchdog_fired()?,
                })
            })
            .collect()
    }

    /// Times an engine was entered to run a core, machine-wide (a host cost, not a result).
    pub fn engine_entries(&self) -> u64 {
        self.chips.iter().map(|c| c.engine_entries()).sum()
    }

    /// Packets launched by cores, machine-wide.
    pub fn packets_sent(&self) -> u64 {
        self.chips.iter().map(|c| c.packets_sent()).sum()
    }

    /// Packets dropped, machine-wide: the sum of every router's `RouterCounters::dropped`
    /// (no route, dead or blocked links, receivers that stayed full beyond the wait time, and
    /// faults injected with `ChipConfig::drop_mc_every`).
    pub fn packets_dropped(&self) -> u64 {
        self.chips.iter().map(|c| c.router_counters().dropped).sum()
    }
}

#[cfg(test)]
mod horizon_tests {
    use super::*;

    /// The horizon of (chip, time) pairs, worked out the plain way.
    fn plain(pairs: &[(u32, Cycle)]) -> (Cycle, u32, Cycle) {
        let mut per_chip: BTreeMap<u32, Cycle> = BTreeMap::new();
        for &(c, t) in pairs {
            let e = per_chip.entry(c).or_insert(Cycle::MAX);
            *e = (*e).min(t);
        }
        let (chip, first) = per_chip
            .iter()
            .map(|(&c, &t)| (t, c))
            .min()
            .map_or((u32::MAX, Cycle::MAX), |(t, c)| (c, t));
        let second = per_chip
            .iter()
            .filter(|(&c, _)| c != chip)
            .map(|(_, &t)| t)
            .min()
            .unwrap_or(Cycle::MAX);
        (first, chip, second)
    }

    #[test]
    fn any_order_any_split_any_repeats_gives_the_same_horizon() {
        // A chip may be reported by several parts (its own activity, a packet on its way).
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for _ in 0..2_000 {
            let n = (next() % 9) as usize;
            let pairs: Vec<(u32, Cycle)> =
                (0..n).map(|_| ((next() % 5) as u32, next() % 20)).collect();
            let want = plain(&pairs);
            // Split over up to three parts at random, each merged into the whole.
            let mut parts = [Horizon::NONE; 3];
            for &(c, t) in &pairs {
                parts[(next() % 3) as usize].add(c, t);
            }
            let mut whole = Horizon::NONE;
            for p in parts {
                whole.merge(p);
            }
            assert_eq!((whole.first, whole.chip, whole.second), want, "{pairs:?}");
        }
    }
}
