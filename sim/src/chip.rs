// SPDX-License-Identifier: GPL-2.0-or-later
//! One SpiNNaker chip: 18 cores with their private blocks, and the shared blocks (router,
//! system controller, watchdog, System RAM, SDRAM). The chip wires the blocks together (blocks
//! never reach into each other) and runs its cores in one deterministic interleaving on one
//! simulated clock.
//!
//! Scheduling: awake cores run in physical-core order in slices that end at a common horizon
//! (at most `quantum` cycles ahead while two or more cores are awake), repeating passes until
//! every awake core reaches the horizon. A core in WFI costs nothing: it is skipped until an
//! interrupt is pending for it, and when every core sleeps, time jumps to the next event. The
//! order depends only on simulated time and core numbers, never on the host.

pub mod cc;
pub mod core;
pub mod device;
pub mod dma;
mod host;
mod load;
pub mod memory;
pub mod packet;
mod report;
pub mod router;
pub mod sysctl;
pub mod sysram;
pub mod timer;
pub mod vic;
pub mod watchdog;

mod shared;

pub(crate) use shared::{system_read, system_write};
pub use shared::{Shared, Tracer};

use std::cell::RefCell;
use std::rc::Rc;

use self::core::{Core, CoreError, SliceEnd};
use self::device::Device;
use self::router::links::Links;
use self::router::RouterCounters;
use self::sysctl::WatchdogReset;
use self::sysram::CpuState;
use crate::report::StopReason;
use crate::trace::Event;
use crate::Cycle;

/// Number of cores on a chip.
pub const NUM_CORES: usize = 18;

/// How a chip runs.
#[derive(Clone, Debug)]
pub struct ChipConfig {
    /// Longest stretch (cycles) two awake cores may run apart before they are interleaved again.
    pub quantum: Cycle,
    /// Check data alignment on every access, as CP15 c1 bit A set by SARK-style start-up asks.
    pub align_check: bool,
    /// Fault injection for recovery tests: when N > 0, each chip's router drops every Nth
    /// multicast packet it would otherwise deliver or forward (counted per router, MC only, in
    /// the order it handles them), recorded as any other drop: `RouterCounters::dropped`, the
    /// diagnostic counters, the dump registers and a trace `Drop` event. 0 (the default): off.
    pub drop_mc_every: u32,
}

impl Default for ChipConfig {
    fn default() -> Self {
        // 2,000 cycles = 10 µs: short against a 1 ms tick, long enough to keep slices cheap.
        ChipConfig {
            quantum: 2_000,
            align_check: true,
            drop_mc_every: 0,
        }
    }
}

/// Errors loading an application onto a chip.
#[derive(Debug, thiserror::Error)]
pub enum ChipError {
    /// Core 0 is the monitor; valid application cores are 1..(live cores - 1).
    #[error("core {0} is out of range: application cores are 1..{1} (core 0 is the monitor)")]
    BadCore(u32, u32),
    /// The engine could not be set up.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// A segment does not fit the core's memories.
    #[error("{0}: segment at {1:#010x} does not fit the core's memory")]
    Segment(String, u32),
}

/// One SpiNNaker chip with its cores.
pub struct Chip {
    /// Chip coordinates.
    pub x: u8,
    /// Chip coordinates.
    pub y: u8,
    shared: Rc<RefCell<Shared>>,
    cores: Vec<Option<Core>>,
    v2p: Vec<u8>,
    p2v: [u8; NUM_CORES],
    config: ChipConfig,
    /// For each sleeping core, when it next has something to do.
    wake_at: Vec<Option<Cycle>>,
    /// For each core, when the scheduler next has to look at it: an awake core's time, a
    /// sleeper's wake-up; `Cycle::MAX` for none (not loaded, finished, asleep for good). Kept
    /// up to date wherever a core changes, so that picking the next core reads one array.
    due: [Cycle; NUM_CORES],
    /// Bit p set while physical core p is loaded and has not finished (kept with `due`).
    running: u32,
    now: Cycle,
    packets_sent: u64,
    /// The router's link outputs.
    links: Links,
    /// Each core's cpu_state as last seen, to trace its changes.
    last_state: [u8; NUM_CORES],
    /// When this chip's watchdog reset fired, if it did.
    watchdog_fired: Option<Cycle>,
}

impl Chip {
    /// A booted chip at (x, y) of a `width`×`height` machine: sv and vcpu blocks written,
    /// router and system controller as the monitor leaves them, no application loaded.
    pub fn new(x: u8, y: u8, width: u8, height: u8, config: ChipConfig) -> Chip {
        Chip::with_dead_cores(x, y, width, height, 0, config)
    }

    /// As [`Chip::new`], with the physical cores in `dead` (bit p = core p) out of service: the
    /// monitor numbers the live ones virtually 0, 1, 2, ... as SC&MP's p2v map does.
    pub fn with_dead_cores(
        x: u8,
        y: u8,
        width: u8,
        height: u8,
        dead: u32,
        config: ChipConfig,
    ) -> Chip {
        let v2p: Vec<u8> = (0..NUM_CORES as u8)
            .filter(|p| dead & (1 << p) == 0)
            .collect();
        let monitor = v2p[0];
        let shared = Rc::new(RefCell::new(Shared::new(monitor, NUM_CORES)));
        {
            let sh = shared.borrow();
            let info = sysram::BootInfo {
                x,
                y,
                width,
                height,
                v2p: v2p.clone(),
                ethernet: x == 0 && y == 0,
            };
            sysram::boot(&sh.sysram, &info);
            // SC&MP's time-sync/signal entry 0, toward the monitor (virtual core 0).
            let entry0 = (0xFFFF_5554, 0xFFFF_FFFE, 1 << 6);
            let mem = crate::sark::SysMem::of(&sh);
            crate::sark::boot_system_area(mem, (u16::from(x) << 8) | u16::from(y), entry0);
        }
        let mut p2v = [0u8; NUM_CORES];
        for (v, &p) in v2p.iter().enumerate() {
            p2v[p as usize] = v as u8;
        }
        {
            let mut sh = shared.borrow_mut();
            sh.router.set_p2p_entry(((x as u16) << 8) | y as u16, 7);
            sh.router.set_drop_mc_every(config.drop_mc_every);
        }
        Chip {
            x,
            y,
            shared,
            cores: (0..NUM_CORES).map(|_| None).collect(),
            v2p,
            p2v,
            config,
            wake_at: vec![None; NUM_CORES],
            due: [Cycle::MAX; NUM_CORES],
            running: 0,
            now: 0,
            packets_sent: 0,
            links: Links::default(),
            last_state: [0; NUM_CORES],
            watchdog_fired: None,
        }
    }

    /// Current simulated time (cycles).
    pub fn now(&self) -> Cycle {
        self.now
    }

    /// The chip's shared blocks.
    pub(crate) fn shared(&self) -> std::cell::Ref<'_, Shared> {
        self.shared.borrow()
    }

    /// The chip's shared blocks, mutable (e.g. to write routing tables from the host).
    pub(crate) fn shared_mut(&self) -> std::cell::RefMut<'_, Shared> {
        self.shared.borrow_mut()
    }

    /// Times an engine was entered to run one of this chip's cores so far.
    pub fn engine_entries(&self) -> u64 {
        self.cores.iter().flatten().map(|c| c.state().slices).sum()
    }

    /// Packets launched by cores so far.
    pub fn packets_sent(&self) -> u64 {
        self.packets_sent
    }

    /// Router totals (routed, dropped, ...).
    pub fn router_counters(&self) -> RouterCounters {
        self.shared.borrow().router.counters()
    }

    /// Live cores on this chip (the monitor included).
    pub fn num_cores(&self) -> usize {
        self.v2p.len()
    }

    /// Physical core of virtual core `virt`.
    pub fn phys_of(&self, virt: u8) -> u8 {
        self.v2p[virt as usize]
    }

    /// The simulated core behind virtual core `virt`, if an application was loaded there.
    pub fn core(&self, virt: u8) -> Option<&Core> {
        self.cores
            .get(*self.v2p.get(virt as usize)? as usize)?
            .as_ref()
    }

    /// Moves the chip's clock on to `t` (never back): the host acts at machine time `t`, and
    /// what it starts there must not run in the chip's past.
    pub fn advance_to(&mut self, t: Cycle) {
        self.now = self.now.max(t);
    }

    /// The host changed shared state (CPU_INT lines, SC flags, memory): sleeping cores take a
    /// look at the chip's current time.
    pub fn host_touched(&mut self) {
        let now = self.now;
        for p in 0..NUM_CORES {
            if !self.is_active(p) || !self.cores[p].as_ref().unwrap().sleeping {
                continue;
            }
            let st = self.cores[p].as_mut().unwrap().state_mut();
            st.now = st.now.max(now);
            self.refresh_wake(p);
        }
    }

    /// Writes multicast entry `entry` with the virtual cores of `route` (bits 6..23) converted
    /// to physical ones, as SARK's `rtr_mc_set` does; cores beyond this chip's are dropped.
    pub fn set_mc_entry_virtual(&self, entry: usize, key: u32, mask: u32, route: u32) {
        let phys_route = self.route_to_physical(route);
        self.shared
            .borrow_mut()
            .router
            .set_mc_entry(entry, key, mask, phys_route);
    }

    /// A route word (links in bits 0..5, virtual cores in bits 6..23) with its cores made
    /// physical; cores beyond this chip's are dropped.
    pub fn route_to_physical(&self, route: u32) -> u32 {
        let mut phys_route = route & 0x3F;
        for v in 0..NUM_CORES as u8 {
            if route & (1 << (6 + v)) != 0 && (v as usize) < self.num_cores() {
                phys_route |= 1 << (6 + self.phys_of(v));
            }
        }
        phys_route
    }

    fn is_active(&self, phys: usize) -> bool {
        self.cores[phys].as_ref().is_some_and(|c| !c.halted)
    }

    /// Runs until every loaded core is in EXIT, RTE or WDOG, or `limit` cycles of simulated
    /// time have passed since the chip started.
    ///
    /// Conservative and deterministic: the awake core furthest behind in time runs next (ties
    /// go to the lower core number), and it may run at most one quantum past the next thing
    /// any other core will do (its current time if awake, its wake-up if asleep). A sleeping
    /// core costs nothing until its wake-up time comes round.
    pub fn run(&mut self, limit: Cycle) -> StopReason {
        let quantum = self.config.quantum;
        loop {
            // The earliest core by (time, core), and the earliest time of any other core.
            let mut best = (Cycle::MAX, NUM_CORES);
            let mut second = Cycle::MAX;
            for (p, &t) in self.due.iter().enumerate() {
                if t < best.0 {
                    second = best.0;
                    best = (t, p);
                } else if t < second {
                    second = t;
                }
            }
            if best.0 == Cycle::MAX && !self.has_running_cores() {
                // Time stops where the last core finished.
                let last = self
                    .cores
                    .iter()
                    .flatten()
                    .map(|c| c.state().now)
                    .max()
                    .unwrap_or(self.now);
                self.now = self.now.max(last);
                return StopReason::AllFinished;
            }
            let next_core = (best.0 != Cycle::MAX).then_some(best);
            // A chip-level block (the watchdog) acting by itself goes first at equal times.
            let chip_event = self.chip_event();
            if let Some(t) = chip_event.filter(|&t| next_core.is_none_or(|(c, _)| t <= c)) {
                if t >= limit {
                    self.now = self.now.max(limit);
                    return StopReason::TimeLimit;
                }
                self.now = self.now.max(t);
                self.on_chip_event(t);
                continue;
            }
            let Some(next) = next_core else {
                return StopReason::Deadlock;
            };
            if next.0 >= limit {
                self.now = self.now.max(limit);
                return StopReason::TimeLimit;
            }
            self.now = self.now.max(next.0);
            let p = next.1;
            if self.cores[p].as_ref().unwrap().sleeping {
                self.wake_up(p, next.0);
                continue;
            }
            // How far core p may run: one quantum past the next activity of any other core.
            let until = if second == Cycle::MAX {
                limit
            } else {
                second.max(next.0).saturating_add(quantum).min(limit)
            };
            // Nobody runs past the moment a chip-level block acts.
            let until = chip_event.map_or(until, |t| until.min(t));
            self.step(p, until);
        }
    }

    /// Brings core `p`'s entry in `due` up to date.
    pub(crate) fn sync_due(&mut self, p: usize) {
        let active = self.cores[p].as_ref().filter(|c| !c.halted);
        self.running = self.running & !(1 << p) | u32::from(active.is_some()) << p;
        self.due[p] = match active {
            None => Cycle::MAX,
            Some(c) if c.sleeping => self.wake_at[p].unwrap_or(Cycle::MAX),
            Some(c) => c.state().now,
        };
    }

    /// When sleeping core `p` will next have something to do: now if an interrupt is pending,
    /// else its next peripheral event (None: never by itself).
    fn refresh_wake(&mut self, p: usize) {
        let core = self.cores[p].as_mut().unwrap();
        self.wake_at[p] = if core.sleeping {
            core.state_mut().update_interrupts();
            if core.interrupt_pending() {
                Some(core.state().now)
            } else {
                core.state().next_event()
            }
        } else {
            None
        };
        self.sync_due(p);
    }

    /// Sleeping core `p` reaches its wake-up time `t`: it wakes if an interrupt is pending then.
    fn wake_up(&mut self, p: usize, t: Cycle) {
        let core = self.cores[p].as_mut().unwrap();
        let st = core.state_mut();
        st.now = st.now.max(t);
        st.update_interrupts();
        if core.interrupt_pending() {
            core.set_sleeping(false);
        }
        self.refresh_wake(p);
    }

    /// Runs awake core `p` for one slice ending by `until`, then hands its packets to the router.
    fn step(&mut self, p: usize, until: Cycle) {
        let core = self.cores[p].as_mut().unwrap();
        core.state_mut().update_interrupts();
        core.take_interrupt();
        let end = core.run_slice(until.max(core.state().now + 1));
        if end == SliceEnd::Sleep {
            core.state_mut().update_interrupts();
            if core.interrupt_pending() {
                core.set_sleeping(false);
            }
        }
        core.state_mut().refill_rx();
        let slice_end = core.state().now;
        self.refresh_wake(p);
        self.route_outbox(p);
        self.check_finished(p);
        self.wake_others(p, slice_end);
    }

    /// A slice may have changed shared state (CPU_INT, locks): sleeping cores take a look at
    /// the time that slice ended.
    fn wake_others(&mut self, ran: usize, t: Cycle) {
        if !std::mem::take(&mut self.shared.borrow_mut().touched) {
            return;
        }
        for p in 0..NUM_CORES {
            if p == ran || !self.is_active(p) || !self.cores[p].as_ref().unwrap().sleeping {
                continue;
            }
            let st = self.cores[p].as_mut().unwrap().state_mut();
            st.now = st.now.max(t);
            self.refresh_wake(p);
        }
    }

    /// Turns tracing of this chip on, keeping what `filter` keeps.
    pub fn trace(&mut self, filter: crate::trace::Filter) {
        self.shared.borrow_mut().tracer = Some(Tracer::new(self.x, self.y, filter));
    }

    /// The trace records encoded since the last call (empty when tracing is off).
    pub fn take_trace(&mut self) -> Vec<u8> {
        self.shared
            .borrow_mut()
            .tracer
            .as_mut()
            .map(|t| t.take())
            .unwrap_or_default()
    }

    /// The earliest time any core of this chip will do something by itself (an awake core's
    /// time, a sleeper's wake-up); None when nothing will ever happen without outside input.
    pub fn next_activity(&self) -> Option<Cycle> {
        let cores = self.due.iter().copied().min().filter(|&t| t != Cycle::MAX);
        match (cores, self.chip_event()) {
            (Some(c), Some(e)) => Some(c.min(e)),
            (c, e) => c.or(e),
        }
    }

    /// When a chip-level block next changes an output by itself, while any core runs (with
    /// none running, nothing on the chip can be affected).
    fn chip_event(&self) -> Option<Cycle> {
        if !self.has_running_cores() {
            return None;
        }
        self.shared.borrow().next_event(self.now)
    }

    /// A chip-level block acts at `t`: if that is the watchdog's reset output, the system
    /// controller carries it out (hardware notes §2.6, §2.7).
    fn on_chip_event(&mut self, t: Cycle) {
        if !self.shared.borrow().watchdog.reset_asserted(t) {
            return;
        }
        let taken = {
            let mut sh = self.shared.borrow_mut();
            sh.watchdog.reset();
            sh.sysctl.watchdog_reset()
        };
        self.watchdog_fired = Some(t);
        let (x, y) = (self.x, self.y);
        let us = t / crate::CPU_CLK_MHZ;
        for p in 0..NUM_CORES {
            let hit = match taken {
                WatchdogReset::Chip => true,
                WatchdogReset::Monitor(m) => p == usize::from(m),
            };
            if !hit {
                continue;
            }
            self.set_cpu_state(self.p2v[p], CpuState::Watchdog);
            if !self.is_active(p) {
                continue;
            }
            let core = self.cores[p].as_mut().unwrap();
            core.halt_reason = Some(format!(
                "the watchdog of chip ({x},{y}) reset it at {us} µs"
            ));
            let st = core.state_mut();
            st.now = st.now.max(t);
            self.check_finished(p);
        }
    }

    /// When this chip's watchdog reset fired (None: it never did).
    pub fn watchdog_fired(&self) -> Option<Cycle> {
        self.watchdog_fired
    }

    /// True while some loaded core has not finished.
    pub fn has_running_cores(&self) -> bool {
        self.running != 0
    }

    fn check_finished(&mut self, p: usize) {
        let virt = self.p2v[p];
        let state = sysram::cpu_state(&self.shared.borrow().sysram, virt);
        if state.to_u8() != self.last_state[p] {
            self.last_state[p] = state.to_u8();
            let now = self.cores[p].as_ref().unwrap().state().now;
            self.shared.borrow_mut().emit(
                now,
                Event::State {
                    p: p as u8,
                    state: state.to_u8(),
                },
            );
        }
        let core = self.cores[p].as_mut().unwrap();
        if state.is_final() {
            core.halted = true;
        }
        self.sync_due(p);
    }
}
