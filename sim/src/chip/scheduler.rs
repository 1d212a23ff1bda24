// SPDX-License-Identifier: GPL-2.0-or-later
//! The chip as a whole: loading applications as the monitor does, and running its cores in one
//! deterministic interleaving on one simulated clock.
//!
//! Scheduling: awake cores run in physical-core order in slices that end at a common horizon
//! (at most `quantum` cycles ahead while two or more cores are awake), repeating passes until
//! every awake core reaches the horizon. A core in WFI costs nothing: it is skipped until an
//! interrupt is pending for it, and when every core sleeps, time jumps to the next event. The
//! order depends only on simulated time and core numbers, never on the host.

use std::cell::RefCell;
use std::rc::Rc;

use super::core::{Core, CoreError, SliceEnd};
use super::device::Device;
use super::memory::{region_of, Region};
use super::packet::{Packet, PacketKind};
use super::router::{RouterCounters, Source};
use super::sysctl::WatchdogReset;
use super::sysram::{self, vcpu, CpuState};
use super::Shared;
use crate::program::Program;
use crate::report::{CoreReport, StopReason};
use crate::timing::{
    link_serialisation_cycles, router_wait_cycles, router_waits, LINK_WIRE_CYCLES,
    ROUTER_LATENCY_CYCLES,
};
use crate::trace::{Event, From as TraceFrom};
use crate::Cycle;

/// ER field (control bits [5:4]) of a packet on the first leg of an emergency detour.
const ER_FIRST_LEG: u8 = 1;
/// ER field of a packet on the second leg, heading back to the chip it was meant for.
const ER_SECOND_LEG: u8 = 2;

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
    now: Cycle,
    packets_sent: u64,
    /// Links that lead to a live neighbour (bit l = link l).
    live_links: u8,
    /// When each outgoing link finishes sending what it has been given.
    link_free_at: [Cycle; 6],
    /// Packets on their way to neighbours, in the order they left.
    outgoing: Vec<LinkPacket>,
    link_packets: [u64; 6],
    /// Each core's cpu_state as last seen, to trace its changes.
    last_state: [u8; NUM_CORES],
    /// When this chip's watchdog reset fired, if it did.
    watchdog_fired: Option<Cycle>,
}

/// A packet on an inter-chip link: it reaches the neighbour's router at `arrival`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkPacket {
    /// Cycle at which it arrives at the neighbour's router.
    pub arrival: Cycle,
    /// The link it left on (the neighbour receives it on the opposite one).
    pub link: u8,
    /// The packet.
    pub packet: Packet,
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
            now: 0,
            packets_sent: 0,
            live_links: 0,
            link_free_at: [0; 6],
            outgoing: Vec::new(),
            link_packets: [0; 6],
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

    /// Loads `program` onto virtual core `virt` and starts it as SC&MP does after an APLX load:
    /// vcpu INIT with the app ID, no IOBUF yet, entry in SVC mode with r0 = (flags<<8)|app_id.
    pub fn load(
        &mut self,
        virt: u32,
        program: &Program,
        app_id: u8,
        app_flags: u8,
    ) -> Result<(), ChipError> {
        if virt == 0 || virt as usize >= self.v2p.len() {
            return Err(ChipError::BadCore(virt, self.v2p.len() as u32 - 1));
        }
        let v = virt as u8;
        let phys = self.v2p[virt as usize];
        let mut core = Core::new(phys, self.shared.clone(), self.config.align_check)?;
        {
            let sh = self.shared.borrow();
            let st = core.state();
            for seg in &program.segments {
                let mut bytes = seg.data.clone();
                bytes.resize(seg.mem_size as usize, 0);
                let ok = match region_of(seg.addr, seg.mem_size) {
                    Some(Region::Itcm(o)) => st.itcm.write(o as usize, &bytes),
                    Some(Region::Dtcm(o)) => st.dtcm.write(o as usize, &bytes),
                    Some(Region::SysRam(o)) => sh.sysram.write(o as usize, &bytes),
                    Some(Region::Sdram(o)) => sh.sdram.write(o as usize, &bytes),
                    _ => false,
                };
                if !ok {
                    return Err(ChipError::Segment(program.name.clone(), seg.addr));
                }
            }
            let ram = &sh.sysram;
            let f = |field| sysram::vcpu_field(v, field);
            ram.write(f(0), &[0u8; 48]);
            // The clear above spans phys_cpu (byte 45): it stays the core's (SpiNNMan reads it).
            ram.write_u8(f(vcpu::PHYS_CPU), phys);
            ram.write_u8(f(vcpu::RT_CODE), 0);
            ram.write_u8(f(vcpu::CPU_STATE), CpuState::Init.to_u8());
            ram.write_u8(f(vcpu::APP_ID), app_id);
            let mut name = [0u8; 16];
            let n = program.name.len().min(15);
            name[..n].copy_from_slice(&program.name.as_bytes()[..n]);
            ram.write(f(vcpu::APP_NAME), &name);
            // user0..3 are left alone: hosts write them (user0: the data's address) before the
            // application starts, as the SpiNNaker tools do, often before it is even loaded.
            // No IOBUF until the application prints: SARK (and our runtime) take it from the
            // system heap then (§11.4).
            ram.write_u32(f(vcpu::IOBUF), 0);
        }
        core.state_mut().now = self.now;
        core.reset_to(program.entry, ((app_flags as u32) << 8) | app_id as u32);
        self.cores[phys as usize] = Some(core);
        Ok(())
    }

    /// Moves the chip's clock on to `t` (never back): the host acts at machine time `t`, and
    /// what it starts there must not run in the chip's past.
    pub fn advance_to(&mut self, t: Cycle) {
        self.now = self.now.max(t);
    }

    /// Drops the application of virtual core `virt` (the monitor stopped its clock and will
    /// reload the idle stub); false when none was loaded.
    pub fn unload(&mut self, virt: u8) -> bool {
        let Some(&phys) = self.v2p.get(virt as usize) else {
            return false;
        };
        self.wake_at[phys as usize] = None;
        self.cores[phys as usize].take().is_some()
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
            // The earliest awake core and the earliest sleeper wake-up, by (time, core).
            let mut run: Option<(Cycle, usize)> = None;
            let mut wake: Option<(Cycle, usize)> = None;
            let mut active = false;
            for p in 0..NUM_CORES {
                let Some(core) = self.cores[p].as_ref().filter(|c| !c.halted) else {
                    continue;
                };
                active = true;
                let slot = if core.sleeping { &mut wake } else { &mut run };
                let t = if core.sleeping {
                    self.wake_at[p]
                } else {
                    Some(core.state().now)
                };
                if let Some(t) = t {
                    if slot.is_none_or(|(best, _)| t < best) {
                        *slot = Some((t, p));
                    }
                }
            }
            if !active {
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
            let next_core = match (run, wake) {
                (Some(r), Some(w)) => Some(r.min(w)),
                (r, w) => r.or(w),
            };
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
            let others = (0..NUM_CORES)
                .filter(|&q| q != p)
                .filter_map(|q| {
                    let c = self.cores[q].as_ref().filter(|c| !c.halted)?;
                    if c.sleeping {
                        self.wake_at[q]
                    } else {
                        Some(c.state().now)
                    }
                })
                .min();
            let until = others.map_or(limit, |t| t.max(next.0).saturating_add(quantum).min(limit));
            // Nobody runs past the moment a chip-level block acts.
            let until = chip_event.map_or(until, |t| until.min(t));
            self.step(p, until);
        }
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

    /// Routes the packets core `p` launched during its last slice.
    fn route_outbox(&mut self, p: usize) {
        let out = std::mem::take(&mut self.cores[p].as_mut().unwrap().state_mut().outbox);
        for (t, pkt) in out {
            self.packets_sent += 1;
            self.route_packet(pkt, Source::Core(p as u8), t);
        }
    }

    fn route_packet(&mut self, pkt: Packet, source: Source, t: Cycle) {
        let (mut pkt, mut source) = (pkt, source);
        if let (PacketKind::Mc, Source::Link(arrival)) = (pkt.kind(), source) {
            match (pkt.control >> 4) & 3 {
                ER_FIRST_LEG => {
                    // We are the detour: pass it on towards the chip the blocked link led to.
                    let out = (arrival + 1) % 6;
                    let second = Packet {
                        control: (pkt.control & !0x30) | ER_SECOND_LEG << 4,
                        ..pkt
                    };
                    let control = self.shared.borrow().router_control();
                    // Fault injection counts the detour's packet like any other it forwards.
                    let faulted = self.shared.borrow_mut().router.drops_by_fault(&pkt);
                    if faulted || !self.send_on_link(out, second, t, control) {
                        let mut sh = self.shared.borrow_mut();
                        sh.emit(
                            t,
                            Event::Drop {
                                key: pkt.key,
                                links: 1 << out,
                                cores: 0,
                            },
                        );
                        sh.router.count_dropped(&pkt, source, 1 << out, 0, t);
                    }
                    return;
                }
                ER_SECOND_LEG => {
                    // Back on course: routed as if it had come in over the blocked link.
                    pkt.control &= !0x30;
                    source = Source::Link((arrival + 1) % 6);
                }
                _ => {}
            }
        }
        let (route, wait, control) = {
            let mut sh = self.shared.borrow_mut();
            let control = sh.router.control();
            (
                sh.router.route(&pkt, source, t),
                router_wait_cycles(control),
                control,
            )
        };
        let from = match source {
            Source::Core(p) => TraceFrom::Core(p),
            Source::Link(l) => TraceFrom::Link(l),
        };
        if route.dropped {
            self.shared.borrow_mut().emit(
                t,
                Event::Drop {
                    key: pkt.key,
                    links: 0,
                    cores: 0,
                },
            );
            return;
        }
        {
            let mut sh = self.shared.borrow_mut();
            sh.emit(
                t,
                Event::Hop {
                    from,
                    key: pkt.key,
                    links: route.links,
                    cores: route.cores,
                },
            );
            if sh.router.drops_by_fault(&pkt) {
                // Injected fault: lost before any output, recorded as if every output failed.
                sh.emit(
                    t,
                    Event::Drop {
                        key: pkt.key,
                        links: route.links,
                        cores: route.cores,
                    },
                );
                sh.router
                    .count_dropped(&pkt, source, route.links, route.cores, t);
                return;
            }
        }
        let failed_cores = 0u32;
        let mut woken = Vec::new();
        for dest in 0..NUM_CORES {
            if route.cores & (1 << dest) == 0 {
                continue;
            }
            match self.cores[dest].as_mut() {
                Some(core) if !core.halted => {
                    let arrival = t + ROUTER_LATENCY_CYCLES;
                    let st = core.state_mut();
                    st.last_rx_arrival = arrival;
                    // Behind packets already waiting, or into a full buffer: the router holds it
                    // for its wait time (the arrival is an event of the receiver, which wakes it).
                    if !st.rx_wait.is_empty() || !st.cc.deliver(pkt, arrival) {
                        st.rx_wait.push_back((arrival, wait, pkt, source));
                    } else {
                        st.shared.borrow_mut().emit(
                            arrival,
                            Event::Deliver {
                                p: dest as u8,
                                key: pkt.key,
                            },
                        );
                    }
                    if core.sleeping {
                        woken.push(dest);
                    }
                }
                // Packets for the monitor or for idle cores are consumed by their (unmodelled)
                // software.
                _ => {}
            }
        }
        for dest in woken {
            self.refresh_wake(dest);
        }
        let mut failed_links = 0u8;
        for link in 0..6u8 {
            if route.links & (1 << link) != 0 && !self.send_on_link(link, pkt, t, control) {
                failed_links |= 1 << link;
            }
        }
        if failed_links != 0 || failed_cores != 0 {
            let mut sh = self.shared.borrow_mut();
            sh.emit(
                t,
                Event::Drop {
                    key: pkt.key,
                    links: failed_links,
                    cores: failed_cores,
                },
            );
            sh.router
                .count_dropped(&pkt, source, failed_links, failed_cores, t);
        }
    }

    /// Queues `pkt` on outgoing link `link` at routing time `t`. A link still busy after wait1
    /// sends it round the blocked link instead: out of the next link anticlockwise, to the chip
    /// next to both ends, which passes it on (emergency routing, §3.4, TickySim's model; the
    /// rotation direction and ER codes are UNVERIFIED). False when it had to be dropped: the
    /// link is dead, or the detour was not free within wait2 either.
    fn send_on_link(&mut self, link: u8, pkt: Packet, t: Cycle, control: u32) -> bool {
        if self.live_links & (1 << link) == 0 {
            return false;
        }
        let (wait1, wait2) = router_waits(control);
        let ready = t + ROUTER_LATENCY_CYCLES;
        let (link, pkt, start) =
            if self.link_free_at[link as usize] <= ready + wait1 || pkt.kind() != PacketKind::Mc {
                (link, pkt, ready.max(self.link_free_at[link as usize]))
            } else {
                let detour = (link + 1) % 6;
                let free = self.link_free_at[detour as usize];
                if self.live_links & (1 << detour) == 0 || free > ready + wait1 + wait2 {
                    return false;
                }
                let mut sh = self.shared.borrow_mut();
                sh.router.count_emergency();
                sh.emit(
                    t,
                    Event::Emergency {
                        link: detour,
                        key: pkt.key,
                    },
                );
                drop(sh);
                let first = Packet {
                    control: (pkt.control & !0x30) | ER_FIRST_LEG << 4,
                    ..pkt
                };
                (detour, first, (ready + wait1).max(free))
            };
        let l = link as usize;
        let queued = (start - ready).min(u32::MAX as Cycle) as u32;
        self.shared.borrow_mut().emit(
            start,
            Event::LinkOut {
                link,
                key: pkt.key,
                queued,
            },
        );
        let sent = start + link_serialisation_cycles(pkt.bits());
        self.link_free_at[l] = sent;
        self.link_packets[l] += 1;
        self.outgoing.push(LinkPacket {
            arrival: sent + LINK_WIRE_CYCLES,
            link,
            packet: pkt,
        });
        true
    }

    /// Turns tracing of this chip on, keeping what `filter` keeps.
    pub fn trace(&mut self, filter: crate::trace::Filter) {
        self.shared.borrow_mut().tracer = Some(super::Tracer::new(self.x, self.y, filter));
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

    /// Declares which links lead to live neighbours (bit l = link l); others drop packets.
    pub fn set_live_links(&mut self, links: u8) {
        self.live_links = links & 0x3F;
    }

    /// A packet from a neighbour reaches this chip's router on `link` at cycle `arrival`.
    pub fn inject(&mut self, link: u8, packet: Packet, arrival: Cycle) {
        self.route_packet(packet, Source::Link(link), arrival);
    }

    /// Takes the packets that left on links since the last call, in the order they left.
    pub fn take_outgoing(&mut self) -> Vec<LinkPacket> {
        std::mem::take(&mut self.outgoing)
    }

    /// Links that lead to live neighbours (bit l = link l).
    pub fn live_links(&self) -> u8 {
        self.live_links
    }

    /// Packets sent on each link so far.
    pub fn link_packets(&self) -> [u64; 6] {
        self.link_packets
    }

    /// The earliest time any core of this chip will do something by itself (an awake core's
    /// time, a sleeper's wake-up); None when nothing will ever happen without outside input.
    pub fn next_activity(&self) -> Option<Cycle> {
        let cores = (0..NUM_CORES)
            .filter(|&p| self.is_active(p))
            .filter_map(|p| {
                let c = self.cores[p].as_ref()?;
                if c.sleeping {
                    self.wake_at[p]
                } else {
                    Some(c.state().now)
                }
            })
            .min();
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
            let virt = self.p2v[p];
            self.shared.borrow().sysram.write_u8(
                sysram::vcpu_field(virt, vcpu::CPU_STATE),
                CpuState::Watchdog.to_u8(),
            );
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
        (0..NUM_CORES).any(|p| self.is_active(p))
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
    }

    /// Reads a word from the vcpu block of virtual core `virt`.
    fn vcpu_u32(&self, virt: u8, field: u32) -> u32 {
        self.shared
            .borrow()
            .sysram
            .read_u32(sysram::vcpu_field(virt, field))
    }

    /// The text in a core's IOBUF blocks (followed along their `next` links).
    pub fn iobuf(&self, virt: u8) -> String {
        let sh = self.shared.borrow();
        let read = |addr: u32, len: usize| -> Result<Option<Vec<u8>>, std::convert::Infallible> {
            let Some(Region::Sdram(o)) = region_of(addr, len as u32) else {
                return Ok(None);
            };
            let mut buf = vec![0u8; len];
            sh.sdram.read(o as usize, &mut buf);
            Ok(Some(buf))
        };
        sysram::iobuf_text(self.vcpu_u32(virt, vcpu::IOBUF), read).unwrap_or_else(|e| match e {})
    }

    /// The state of virtual core `virt` as its vcpu block says.
    pub fn cpu_state(&self, virt: u8) -> CpuState {
        sysram::cpu_state(&self.shared.borrow().sysram, virt)
    }

    /// A report for each loaded application core, in virtual core order.
    pub fn reports(&self) -> Vec<CoreReport> {
        let mut out = Vec::new();
        for virt in 1..self.v2p.len() as u8 {
            let Some(core) = self.core(virt) else {
                continue;
            };
            let mut block = [0u8; sysram::VCPU_SIZE as usize];
            self.shared
                .borrow()
                .sysram
                .read(sysram::vcpu_field(virt, 0), &mut block);
            let v = sysram::Vcpu::parse(&block);
            let st = core.state();
            out.push(CoreReport {
                x: self.x,
                y: self.y,
                p: virt,
                phys: self.phys_of(virt),
                state: v.state,
                rt_code: v.rt_code,
                rt_name: sysram::rte_name(v.rt_code).to_string(),
                pc: v.fault_pc().unwrap_or_else(|| core.pc()),
                user: v.user,
                cycles: st.busy_cycles,
                instructions: st.instructions,
                iobuf: self.iobuf(virt),
                halt_reason: core.halt_reason.clone(),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{self, Event};

    const KEY: u32 = 0x00AB_0000;
    const DKEY: u32 = 0x1C;
    const DLINK: u32 = 0x24;
    /// DGC8: SARK's "dumped multicast" diagnostic counter.
    const DGC8: u32 = 0x300 + 4 * 8;

    /// A lone chip whose router forwards KEY + i to link 0 and to the (idle) monitor, with every
    /// link live and tracing on, as configured with `drop_mc_every`.
    fn chip(drop_mc_every: u32) -> Chip {
        let mut c = Chip::new(
            0,
            0,
            1,
            1,
            ChipConfig {
                drop_mc_every,
                ..ChipConfig::default()
            },
        );
        c.set_live_links(0x3F);
        c.shared_mut()
            .router
            .set_mc_entry(1, KEY, 0xFFFF_0000, 1 << 0 | 1 << 6);
        c.trace(trace::Filter::default());
        c
    }

    /// Injects `n` MC packets (KEY + i) from link 3, far enough apart that link 0 is always
    /// free, each followed by a P2P packet to the chip itself (not counted by the injection).
    fn inject(c: &mut Chip, n: u32) {
        for i in 0..n {
            let t = 10_000 * Cycle::from(i + 1);
            c.inject(3, Packet::new(0x00, KEY + i, None), t);
            c.inject(3, Packet::new(0x40, 0, Some(i)), t + 1);
        }
    }

    fn drops(c: &mut Chip) -> Vec<(u32, u8, u32)> {
        let mut bytes = Vec::new();
        trace::write_header(&mut bytes).unwrap();
        bytes.extend(c.take_trace());
        trace::read_all(&bytes[..])
            .unwrap()
            .into_iter()
            .filter_map(|r| match r.event {
                Event::Drop { key, links, cores } => Some((key, links, cores)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn drop_mc_every_3_drops_exactly_every_third_mc_packet_and_counts_it() {
        let mut c = chip(3);
        inject(&mut c, 10);
        let forwarded: Vec<u32> = c
            .take_outgoing()
            .iter()
            .map(|p| p.packet.key - KEY)
            .collect();
        assert_eq!(
            forwarded,
            [0, 1, 3, 4, 6, 7, 9],
            "packets 3, 6 and 9 (1-based) are lost"
        );
        let counters = c.router_counters();
        assert_eq!((counters.mc, counters.p2p, counters.dropped), (10, 10, 3));
        // Recorded as a real drop: trace event naming the failed outputs, dump registers (the
        // first dump is kept until DSTAT is read), the dumped-MC diagnostic counter.
        let monitor = 1 << c.phys_of(0);
        let expected: Vec<(u32, u8, u32)> =
            [2, 5, 8].iter().map(|&i| (KEY + i, 1, monitor)).collect();
        assert_eq!(drops(&mut c), expected);
        let mut sh = c.shared_mut();
        assert_eq!(sh.router.read(DKEY), KEY + 2);
        assert_eq!(sh.router.read(DLINK), 1 | monitor << 6);
        assert_eq!(sh.router.read(DGC8), 3);
    }

    #[test]
    fn drop_mc_every_0_changes_nothing() {
        assert_eq!(ChipConfig::default().drop_mc_every, 0);
        let mut c = chip(0);
        inject(&mut c, 10);
        assert_eq!(c.take_outgoing().len(), 10);
        let counters = c.router_counters();
        assert_eq!(
            (counters.mc, counters.routed, counters.dropped),
            (10, 20, 0)
        );
        assert!(drops(&mut c).is_empty());
        assert_eq!(c.shared_mut().router.read(DGC8), 0);
    }

    #[test]
    fn a_detour_packet_counts_towards_the_injected_drops() {
        // Every second MC packet is lost: the packet on the first leg of an emergency detour is
        // one the router forwards, so it counts like the others.
        let mut c = chip(2);
        c.inject(3, Packet::new(0x00, KEY, None), 10_000);
        let first_leg = Packet::new(ER_FIRST_LEG << 4, 0x0DE7_0000, None);
        c.inject(2, first_leg, 20_000);
        assert!(c.take_outgoing().iter().all(|p| p.packet.key == KEY));
        assert_eq!(drops(&mut c), [(0x0DE7_0000, 1 << 3, 0)]);
        assert_eq!(c.router_counters().dropped, 1);
    }
}
