// SPDX-License-Identifier: GPL-2.0-or-later
//! The chip's packet router, all of it in this module: registers, MC/P2P tables, routing
//! decisions, dump capture and the 16 diagnostic counters here (hardware notes §2.5 registers,
//! §3 packets and routing, §4 sources); its datapath on the chip in [`forward`] (a packet from
//! a core or a link to cores and links, emergency legs included), its six link outputs with
//! their serialisation and the emergency detour in [`links`], and the packets it holds for a
//! core whose receive buffer is full in [`hold`].
//!
//! The router decides where a packet goes; the datapath moves it. Packets the router itself
//! discards are captured by [`Router::route`]; the chip reports delivery failures afterwards
//! with [`Router::count_dropped`]. For fault-injection tests the router can also be told to
//! lose every Nth multicast packet it routes ([`Router::set_drop_mc_every`]); the chip asks
//! [`Router::drops_by_fault`] before delivering and records such losses as any other drop.

mod forward;
pub mod hold;
pub mod links;
pub mod p2p;

use std::rc::Rc;

use super::device::{Access, Device};
pub use super::packet::Source;
use super::packet::{Packet, PacketKind};
use crate::Cycle;
use p2p::P2pRoutes;

/// Entries in the multicast TCAM (§2.5).
pub const MC_TABLE_SIZE: usize = 1024;
/// Words in the P2P table, 8 three-bit entries each (§2.5).
pub const P2P_TABLE_SIZE: usize = 8192;

const P2P_INIT: u32 = 0x00DB_6DB6;
const P2P_DROP: u8 = 6;
const P2P_MONITOR: u8 = 7;
const NUM_LINKS: u8 = 6;
const NUM_CORES: u32 = 18;
const CORE_MASK: u32 = (1 << NUM_CORES) - 1;

// Register offsets (§2.5).
use spinn_hw::map::router_reg::{DGC0, FR, P2P_TABLE as P2P_BASE};
const CONTROL: u32 = 0x00;
const STATUS: u32 = 0x04;
const DHDR: u32 = 0x18;
const DKEY: u32 = 0x1C;
const DDAT: u32 = 0x20;
const DLINK: u32 = 0x24;
const DSTAT: u32 = 0x28;
const DGEN: u32 = 0x2C;
const TIMING_CTRL: u32 = 0x30;
const DIVERSION: u32 = 0x80;
const DGF0: u32 = 0x200;
const TST1: u32 = 0xF00;
const TST2: u32 = 0xF04;
const MC_ROUTE_BASE: u32 = 0x4000;
const MC_KEY_BASE: u32 = 0x8000;
const MC_MASK_BASE: u32 = 0xC000;

// Bit 15 (re-initialise wait counters) is an action and bits 13-14 are unused.
const CONTROL_MASK: u32 = 0xFFFF_1FFF;
const CONTROL_ROUTE_EN: u32 = 1 << 0;
const CONTROL_ERR_IRQ_EN: u32 = 1 << 1;
const CONTROL_DUMP_IRQ_EN: u32 = 1 << 2;
const STATUS_DUMP_IRQ: u32 = 1 << 29;
const STATUS_ERR_IRQ: u32 = 1 << 30;
const STATUS_IRQ: u32 = 1 << 31;
const DSTAT_OVERFLOW: u32 = 1 << 30;
const DSTAT_DUMPED: u32 = 1 << 31;
// Bits 24-25 of RTR_FR are unused.
const FR_MASK: u32 = 0xFCFF_FFFF;

// Diagnostic filter fields (§2.5; SM diagnostic_filter.py gives the bit order within each).
const DGF_ER_MODE_OUT: u32 = 1 << 8;
const DGF_DEFAULT: u32 = 1 << 10;
const DGF_NON_DEFAULT: u32 = 1 << 11;
const DGF_PAYLOAD: u32 = 1 << 12;
const DGF_NO_PAYLOAD: u32 = 1 << 13;
const DGF_LOCAL: u32 = 1 << 14;
const DGF_NON_LOCAL: u32 = 1 << 15;
const DGF_EVENT: u32 = 1 << 29;
const DGF_IRQ_EN: u32 = 1 << 30;
const DGF_IRQ_ACTIVE: u32 = 1 << 31;
// Config bits [8:0], [15:10], [24:16] and the IRQ enable; bit 9 is unused.
const DGF_CONFIG_MASK: u32 = 0x01FF_FDFF | DGF_IRQ_EN;
// Destination field (bits [24:16]): dump, local non-monitor core, monitor, then links 0-5.
const DEST_DUMP: u32 = 1 << 0;
const DEST_LOCAL: u32 = 1 << 1;
const DEST_MONITOR: u32 = 1 << 2;
const DEST_LINK0_SHIFT: u32 = 3;

const IRQ_RTR_DIAG: u32 = 1 << 15;
const IRQ_RTR_DUMP: u32 = 1 << 16;
const IRQ_RTR_ERR: u32 = 1 << 17;

/// Builds a filter word matching every ER code, routing status and payload state.
const fn filter(types: u32, sources: u32, dests: u32) -> u32 {
    types
        | 0xF << 4
        | DGF_DEFAULT
        | DGF_NON_DEFAULT
        | DGF_PAYLOAD
        | DGF_NO_PAYLOAD
        | sources
        | dests << 16
}

const DEST_ANY_OUTPUT: u32 = !DEST_DUMP & 0x1FF;
const BOTH_SOURCES: u32 = DGF_LOCAL | DGF_NON_LOCAL;

/// Filters SARK's rtr_diag_init programs: local/non-local MC, P2P, NN, FR, then dumped ones.
const BOOT_FILTERS: [u32; 16] = [
    filter(1, DGF_LOCAL, DEST_ANY_OUTPUT),
    filter(1, DGF_NON_LOCAL, DEST_ANY_OUTPUT),
    filter(2, DGF_LOCAL, DEST_ANY_OUTPUT),
    filter(2, DGF_NON_LOCAL, DEST_ANY_OUTPUT),
    filter(4, DGF_LOCAL, DEST_ANY_OUTPUT),
    filter(4, DGF_NON_LOCAL, DEST_ANY_OUTPUT),
    filter(8, DGF_LOCAL, DEST_ANY_OUTPUT),
    filter(8, DGF_NON_LOCAL, DEST_ANY_OUTPUT),
    filter(1, BOTH_SOURCES, DEST_DUMP),
    filter(2, BOTH_SOURCES, DEST_DUMP),
    filter(4, BOTH_SOURCES, DEST_DUMP),
    filter(8, BOTH_SOURCES, DEST_DUMP),
    0,
    0,
    0,
    0,
];

/// The outputs a packet is sent to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Route {
    /// Physical cores to deliver to: bit p = core p.
    pub cores: u32,
    /// Links to send on: bit l = link l.
    pub links: u8,
    /// The router discarded the packet (no outputs); it is already recorded as dumped.
    pub dropped: bool,
}

/// Running totals kept regardless of the diagnostic-counter configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RouterCounters {
    /// Packets sent to at least one output.
    pub routed: u64,
    /// Packets discarded by the router or reported undeliverable by the chip.
    pub dropped: u64,
    /// Packets sent on an emergency route (not modelled yet, always 0).
    pub emergency_routed: u64,
    /// Multicast packets seen.
    pub mc: u64,
    /// Point-to-point packets seen.
    pub p2p: u64,
    /// Nearest-neighbour packets seen.
    pub nn: u64,
    /// Fixed-route packets seen.
    pub fr: u64,
}

/// A routing decision before it is counted.
#[derive(Clone, Copy, Debug, Default)]
struct Decision {
    cores: u32,
    links: u8,
    default_routed: bool,
}

impl Decision {
    fn is_empty(&self) -> bool {
        self.cores == 0 && self.links == 0
    }
}

/// P2P entries a router takes from its machine's routes until they are written out.
#[derive(Clone, Debug)]
struct BootP2p {
    routes: Rc<P2pRoutes>,
    /// The router's chip.
    chip: (u8, u8),
}

/// One chip's router.
#[derive(Clone, Debug)]
pub struct Router {
    control: u32,
    dhdr: u32,
    dkey: u32,
    ddat: u32,
    dlink: u32,
    dstat: u32,
    dgen: u32,
    timing_ctrl: u32,
    diversion: u32,
    fr: u32,
    dgf: [u32; 16],
    dgc: [u32; 16],
    tst: [u32; 2],
    mc_key: Vec<u32>,
    mc_mask: Vec<u32>,
    mc_route: Vec<u32>,
    p2p: Vec<u32>,
    /// While set, the P2P entries that SC&MP's boot fills in come from these shared routes
    /// rather than from `p2p` (which holds the rest); written out on the first register access.
    p2p_boot: Option<BootP2p>,
    // Indices of entries that can match at all, in priority order; rebuilt after table writes.
    mc_live: Vec<u16>,
    mc_live_dirty: bool,
    counters: RouterCounters,
    // Fault injection: drop every Nth routed MC packet (0 = off), and how many have been
    // counted towards the next drop.
    drop_mc_every: u32,
    mc_since_drop: u32,
}

impl Router {
    /// A router as after reset: routing disabled, counters off, tables unable to route.
    pub fn new(monitor_phys: u8) -> Self {
        let mut r = Router {
            control: u32::from(monitor_phys & 0x1F) << 8,
            dhdr: 0,
            dkey: 0,
            ddat: 0,
            dlink: 0,
            dstat: 0,
            dgen: 0,
            timing_ctrl: 0,
            diversion: 0,
            fr: 0,
            dgf: [0; 16],
            dgc: [0; 16],
            tst: [0; 2],
            mc_key: vec![0; MC_TABLE_SIZE],
            mc_mask: vec![0; MC_TABLE_SIZE],
            mc_route: vec![0; MC_TABLE_SIZE],
            p2p: vec![P2P_INIT; P2P_TABLE_SIZE],
            p2p_boot: None,
            mc_live: Vec::new(),
            mc_live_dirty: true,
            counters: RouterCounters::default(),
            drop_mc_every: 0,
            mc_since_drop: 0,
        };
        // Table RAM is undefined after reset; start from entries that cannot match or route
        // (as rtr_mc_clear and rtr_p2p_init leave them) so nothing is delivered by accident.
        r.clear_mc();
        r
    }

    /// Programs the state the booted monitor leaves (SARK rtr_init plus SC&MP's MC entry 0).
    ///
    /// The router does not know its chip's address: the chip must then point its own P2P
    /// entry at the monitor with `set_p2p_entry((x << 8) | y, 7)`, as SC&MP does.
    pub fn boot_init(&mut self, monitor_phys: u8) {
        self.p2p.fill(P2P_INIT);
        self.p2p_boot = None;
        self.clear_mc();
        // Entry 0 is SC&MP's time-sync/signal key pair 0xFFFF5554/5 toward the monitor (§3.3).
        let monitor_route = 1u32.checked_shl(6 + u32::from(monitor_phys)).unwrap_or(0);
        self.set_mc_entry(0, 0xFFFF_5554, 0xFFFF_FFFE, monitor_route);
        self.dgc = [0; 16];
        self.dgf = BOOT_FILTERS;
        self.dgen = 0xFFFF;
        self.control = 0x0040_0001 | u32::from(monitor_phys & 0x1F) << 8;
    }

    /// Reads the register or table word at byte `offset` from the router base.
    pub fn read(&mut self, offset: u32) -> u32 {
        let offset = offset & !3;
        match offset {
            CONTROL => self.control,
            STATUS => self.status(),
            DHDR => self.dhdr,
            DKEY => self.dkey,
            DDAT => self.ddat,
            DLINK => self.dlink,
            DSTAT => {
                // Reading the dump status clears it and the dump interrupt (FEC
                // extra_monitor_support.c reinjection handler relies on this).
                std::mem::take(&mut self.dstat)
            }
            DGEN => self.dgen,
            TIMING_CTRL => self.timing_ctrl,
            DIVERSION => self.diversion,
            FR => self.fr,
            TST1 => self.tst[0],
            TST2 => self.tst[1],
            _ => {
                if let Some(n) = index_in(offset, DGF0, 16) {
                    self.dgf_value(n)
                } else if let Some(n) = index_in(offset, DGC0, 16) {
                    self.dgc[n]
                } else if let Some(i) = index_in(offset, MC_ROUTE_BASE, MC_TABLE_SIZE) {
                    self.mc_route[i]
                } else if let Some(i) = index_in(offset, P2P_BASE, P2P_TABLE_SIZE) {
                    self.write_out_p2p();
                    self.p2p[i]
                } else {
                    // Key/mask CAMs are write-only; error, timing and histogram registers
                    // never count anything here (no errors or delays are modelled).
                    0
                }
            }
        }
    }

    /// Writes the register or table word at byte `offset` from the router base.
    pub fn write(&mut self, offset: u32, value: u32) {
        let offset = offset & !3;
        match offset {
            CONTROL => self.control = value & CONTROL_MASK,
            DGEN => {
                self.dgen = value & 0xFFFF;
                for n in 0..16 {
                    if value & 1 << (16 + n) != 0 {
                        self.dgc[n] = 0;
                        self.dgf[n] &= !DGF_EVENT;
                    }
                }
            }
            TIMING_CTRL => self.timing_ctrl = value & 7,
            DIVERSION => self.diversion = value & 0xFFF,
            FR => self.fr = value & FR_MASK,
            TST1 => self.tst[0] = value,
            TST2 => self.tst[1] = value,
            _ => {
                if let Some(n) = index_in(offset, DGF0, 16) {
                    // UNVERIFIED: any filter write also clears its sticky event bit, so that
                    // re-programming a filter acknowledges its interrupt.
                    self.dgf[n] = value & DGF_CONFIG_MASK;
                } else if let Some(n) = index_in(offset, DGC0, 16) {
                    self.dgc[n] = value;
                } else if let Some(i) = index_in(offset, MC_ROUTE_BASE, MC_TABLE_SIZE) {
                    self.mc_route[i] = value;
                } else if let Some(i) = index_in(offset, MC_KEY_BASE, MC_TABLE_SIZE) {
                    self.mc_key[i] = value;
                    self.mc_live_dirty = true;
                } else if let Some(i) = index_in(offset, MC_MASK_BASE, MC_TABLE_SIZE) {
                    self.mc_mask[i] = value;
                    self.mc_live_dirty = true;
                } else if let Some(i) = index_in(offset, P2P_BASE, P2P_TABLE_SIZE) {
                    self.write_out_p2p();
                    self.p2p[i] = value & 0x00FF_FFFF;
                }
            }
        }
    }

    /// Decides the outputs of `packet` from `source`, counting it in the diagnostics.
    pub fn route(&mut self, packet: &Packet, source: Source, _now: Cycle) -> Route {
        match packet.kind() {
            PacketKind::Mc => self.counters.mc += 1,
            PacketKind::P2p => self.counters.p2p += 1,
            PacketKind::Nn => self.counters.nn += 1,
            PacketKind::Fr => self.counters.fr += 1,
        }
        if self.control & CONTROL_ROUTE_EN == 0 {
            // A disabled router's pipeline never sees the packet: it is lost without a dump
            // capture or a diagnostic count, only the simulator's totals notice.
            self.counters.dropped += 1;
            return Route {
                cores: 0,
                links: 0,
                dropped: true,
            };
        }
        let d = self.decide(packet, source);
        if d.is_empty() {
            self.counters.dropped += 1;
            self.capture_dump(packet, source, 0, 0);
            self.count_diagnostics(packet, source, d.default_routed, DEST_DUMP);
            return Route {
                cores: 0,
                links: 0,
                dropped: true,
            };
        }
        self.counters.routed += 1;
        let dest = self.destinations(&d);
        self.count_diagnostics(packet, source, d.default_routed, dest);
        Route {
            cores: d.cores,
            links: d.links,
            dropped: false,
        }
    }

    /// Records a routed packet the chip could not deliver to `failed_links`/`failed_cores`.
    ///
    /// Not for packets [`Router::route`] already dropped: those are recorded there.
    pub fn count_dropped(
        &mut self,
        packet: &Packet,
        source: Source,
        failed_links: u8,
        failed_cores: u32,
        _now: Cycle,
    ) {
        self.counters.dropped += 1;
        let default_routed = self.decide(packet, source).default_routed;
        self.capture_dump(packet, source, failed_links, failed_cores);
        self.count_diagnostics(packet, source, default_routed, DEST_DUMP);
    }

    /// Fault injection: from now on, drop every `n`th multicast packet that
    /// [`Router::drops_by_fault`] is asked about (0 turns it off). The count starts afresh.
    ///
    /// Not a hardware feature: register accesses and `boot_init` leave it alone.
    pub fn set_drop_mc_every(&mut self, n: u32) {
        self.drop_mc_every = n;
        self.mc_since_drop = 0;
    }

    /// The fault-injection period set by [`Router::set_drop_mc_every`] (0 = off).
    pub fn drop_mc_every(&self) -> u32 {
        self.drop_mc_every
    }

    /// Fault injection: the chip asks this for every packet the router is about to deliver or
    /// forward (after [`Router::route`] gave it outputs), in the order it handles them. Counts
    /// multicast packets only and says true for every Nth one, which the chip must then drop and
    /// record with [`Router::count_dropped`] (its outputs as the failed ones), as for any packet
    /// it could not deliver. Always false when injection is off or for other packet types.
    pub fn drops_by_fault(&mut self, packet: &Packet) -> bool {
        if self.drop_mc_every == 0 || packet.kind() != PacketKind::Mc {
            return false;
        }
        self.mc_since_drop += 1;
        if self.mc_since_drop < self.drop_mc_every {
            return false;
        }
        self.mc_since_drop = 0;
        true
    }

    /// RTR_CONTROL (route enable, waits, monitor), without a register access.
    pub fn control(&self) -> u32 {
        self.control
    }

    /// Records that the chip sent a packet around a blocked link (emergency routing).
    pub fn count_emergency(&mut self) {
        self.counters.emergency_routed += 1;
    }

    /// VIC source lines driven by the router: 15 diagnostic, 16 dump, 17 error.
    pub fn irq_sources(&self) -> u32 {
        let status = self.status();
        let mut irq = 0;
        if status & 0xFFFF != 0 {
            irq |= IRQ_RTR_DIAG;
        }
        if status & STATUS_DUMP_IRQ != 0 {
            irq |= IRQ_RTR_DUMP;
        }
        if status & STATUS_ERR_IRQ != 0 {
            irq |= IRQ_RTR_ERR;
        }
        irq
    }

    /// Totals since construction.
    pub fn counters(&self) -> RouterCounters {
        self.counters
    }

    /// MC entry `i` as (key, mask, route); (0, 0, 0) when `i` is out of range.
    pub fn mc_entry(&self, i: usize) -> (u32, u32, u32) {
        if i >= MC_TABLE_SIZE {
            return (0, 0, 0);
        }
        (self.mc_key[i], self.mc_mask[i], self.mc_route[i])
    }

    /// Sets MC entry `i` (ignored when out of range).
    pub fn set_mc_entry(&mut self, i: usize, key: u32, mask: u32, route: u32) {
        if i >= MC_TABLE_SIZE {
            return;
        }
        self.mc_key[i] = key;
        self.mc_mask[i] = mask;
        self.mc_route[i] = route;
        self.mc_live_dirty = true;
    }

    /// The 3-bit P2P entry for chip address `dest`: 0-5 link, 6 drop, 7 local monitor.
    pub fn p2p_entry(&self, dest: u16) -> u8 {
        if let Some(boot) = &self.p2p_boot {
            if let Some(link) = boot.routes.link(boot.chip, dest) {
                return link;
            }
        }
        let a = usize::from(dest);
        ((self.p2p[a >> 3] >> (3 * (a & 7))) & 7) as u8
    }

    /// Sets the P2P entry for chip address `dest` (only the low 3 bits of `route` are used).
    pub fn set_p2p_entry(&mut self, dest: u16, route: u8) {
        self.write_out_p2p();
        let a = usize::from(dest);
        let shift = 3 * (a & 7);
        let word = &mut self.p2p[a >> 3];
        *word = (*word & !(7 << shift)) | (u32::from(route) & 7) << shift;
    }

    /// Gives this router, on chip `chip`, the P2P entries SC&MP's boot leaves: a shortest path
    /// to every chip `routes` reaches (its own entry and the others stay as they are). They are
    /// looked up when used, so that building a machine does not write N² entries.
    pub fn set_boot_p2p(&mut self, routes: Rc<P2pRoutes>, chip: (u8, u8)) {
        self.write_out_p2p();
        self.p2p_boot = Some(BootP2p { routes, chip });
    }

    /// Writes the boot P2P entries into the table, once, before the table is accessed as a
    /// whole (register reads and writes, single-entry writes).
    fn write_out_p2p(&mut self) {
        let Some(boot) = self.p2p_boot.take() else {
            return;
        };
        for ((x, y), link) in boot.routes.row(boot.chip) {
            self.set_p2p_entry(u16::from(x) << 8 | u16::from(y), link);
        }
    }

    fn clear_mc(&mut self) {
        self.mc_key.fill(0xFFFF_FFFF);
        self.mc_mask.fill(0);
        self.mc_route.fill(0xFF00_0000);
        self.mc_live_dirty = true;
    }

    fn monitor_bit(&self) -> u32 {
        let m = (self.control >> 8) & 0x1F;
        if m < NUM_CORES {
            1 << m
        } else {
            0
        }
    }

    fn mc_lookup(&mut self, key: u32) -> Option<u32> {
        if self.mc_live_dirty {
            self.mc_live.clear();
            for i in 0..MC_TABLE_SIZE {
                // A key bit outside its mask can never be matched.
                if self.mc_key[i] & !self.mc_mask[i] == 0 {
                    self.mc_live.push(i as u16);
                }
            }
            self.mc_live_dirty = false;
        }
        self.mc_live
            .iter()
            .map(|&i| usize::from(i))
            .find(|&i| key & self.mc_mask[i] == self.mc_key[i])
            .map(|i| self.mc_route[i])
    }

    fn decide(&mut self, packet: &Packet, source: Source) -> Decision {
        if let Source::Link(l) = source {
            if l >= NUM_LINKS {
                return Decision::default();
            }
        }
        let mut d = Decision::default();
        match packet.kind() {
            PacketKind::Mc => match self.mc_lookup(packet.key) {
                Some(route) => {
                    d.links = (route & 0x3F) as u8;
                    d.cores = (route >> 6) & CORE_MASK;
                }
                None => {
                    d.default_routed = true;
                    // Only link-to-link traffic can go straight through; a core's packet that
                    // matches nothing is dropped (UNVERIFIED per §3.3; rig never default-routes
                    // from cores).
                    if let Source::Link(l) = source {
                        match (self.diversion >> (2 * l)) & 3 {
                            1 => d.cores = self.monitor_bit(),
                            2 => {}
                            // Rule 3 is undocumented; treat it like 0 (normal default route).
                            _ => d.links = 1 << ((l + 3) % NUM_LINKS),
                        }
                    }
                }
            },
            PacketKind::P2p => match self.p2p_entry((packet.key & 0xFFFF) as u16) {
                P2P_DROP => {}
                P2P_MONITOR => d.cores = self.monitor_bit(),
                link => d.links = 1 << link,
            },
            PacketKind::Nn => match source {
                Source::Link(_) => d.cores = self.monitor_bit(),
                Source::Core(_) => {
                    let link = (packet.control >> 2) & 7;
                    // Route field 0-5 names the link; 6 and 7 broadcast over the RTR_FR[31:26]
                    // vector (UNVERIFIED: the notes give the vector but not how it is chosen).
                    d.links = if link < NUM_LINKS {
                        1 << link
                    } else {
                        (self.fr >> 26) as u8
                    };
                }
            },
            PacketKind::Fr => {
                d.links = (self.fr & 0x3F) as u8;
                d.cores = (self.fr >> 6) & CORE_MASK;
            }
        }
        d
    }

    fn destinations(&self, d: &Decision) -> u32 {
        let monitor = self.monitor_bit();
        let mut dest = u32::from(d.links) << DEST_LINK0_SHIFT;
        if d.cores & monitor != 0 {
            dest |= DEST_MONITOR;
        }
        if d.cores & !monitor != 0 {
            dest |= DEST_LOCAL;
        }
        dest
    }

    fn capture_dump(&mut self, packet: &Packet, source: Source, links: u8, cores: u32) {
        let outputs = u32::from(links & 0x3F) | (cores & CORE_MASK) << 6;
        if self.dstat & DSTAT_DUMPED != 0 {
            // UNVERIFIED: the registers keep the first dumped packet until DSTAT is read;
            // later ones only set overflow and the sticky output bits.
            self.dstat |= DSTAT_OVERFLOW | outputs;
            return;
        }
        // Arrival port in the header's route field: the link, or 7 for local cores (the
        // "fake route" SC&MP programs into CC_SAR).
        let port = match source {
            Source::Link(l) => u32::from(l & 7),
            Source::Core(_) => 7,
        };
        let phase = (self.control >> 6) & 3;
        self.dhdr = port << 24 | u32::from(packet.control) << 16 | phase << 6;
        self.dkey = packet.key;
        self.ddat = packet.payload.unwrap_or(0);
        self.dlink = outputs;
        self.dstat = DSTAT_DUMPED | outputs;
    }

    fn count_diagnostics(
        &mut self,
        packet: &Packet,
        source: Source,
        default_routed: bool,
        dest: u32,
    ) {
        let kind = match packet.kind() {
            PacketKind::Mc => 0,
            PacketKind::P2p => 1,
            PacketKind::Nn => 2,
            PacketKind::Fr => 3,
        };
        // Only MC and FR carry an ER field in control bits [5:4]; P2P uses them for the
        // sequence code and NN for its route/mem bits, so those count as "normal".
        let er_in = match packet.kind() {
            PacketKind::Mc | PacketKind::Fr => 1 << ((packet.control >> 4) & 3),
            _ => 1,
        };
        // Emergency routing is not modelled, so every outgoing packet is "normal".
        let er_out = 1;
        let default = if default_routed {
            DGF_DEFAULT
        } else {
            DGF_NON_DEFAULT
        };
        let payload = if packet.payload.is_some() {
            DGF_PAYLOAD
        } else {
            DGF_NO_PAYLOAD
        };
        let src = match source {
            Source::Core(_) => DGF_LOCAL,
            Source::Link(_) => DGF_NON_LOCAL,
        };
        for n in 0..16 {
            if self.dgen & 1 << n == 0 {
                continue;
            }
            let f = self.dgf[n];
            let er = if f & DGF_ER_MODE_OUT == 0 {
                er_in
            } else {
                er_out
            };
            let matches = f & 1 << kind != 0
                && (f >> 4) & er != 0
                && f & default != 0
                && f & payload != 0
                && f & src != 0
                && (f >> 16) & dest != 0;
            if matches {
                self.dgc[n] = self.dgc[n].wrapping_add(1);
                self.dgf[n] |= DGF_EVENT;
            }
        }
    }

    fn dgf_value(&self, n: usize) -> u32 {
        let f = self.dgf[n];
        if f & DGF_EVENT != 0 && f & DGF_IRQ_EN != 0 {
            f | DGF_IRQ_ACTIVE
        } else {
            f
        }
    }

    fn status(&self) -> u32 {
        let mut s = 0;
        for n in 0..16 {
            if self.dgf_value(n) & DGF_IRQ_ACTIVE != 0 {
                s |= 1 << n;
            }
        }
        if self.dstat & DSTAT_DUMPED != 0 && self.control & CONTROL_DUMP_IRQ_EN != 0 {
            s |= STATUS_DUMP_IRQ;
        }
        // No packet errors are modelled, so the error interrupt (gated by bit1) never fires.
        let error_pending = false;
        if error_pending && self.control & CONTROL_ERR_IRQ_EN != 0 {
            s |= STATUS_ERR_IRQ;
        }
        if s & (0xFFFF | STATUS_DUMP_IRQ | STATUS_ERR_IRQ) != 0 {
            s |= STATUS_IRQ;
        }
        s
    }
}

/// Index of word `offset` in a block of `count` words at `base`, if it falls inside.
fn index_in(offset: u32, base: u32, count: usize) -> Option<usize> {
    let i = usize::try_from(offset.checked_sub(base)? / 4).ok()?;
    (i < count).then_some(i)
}

impl Device for Router {
    fn read(&mut self, offset: u32, _at: Access) -> u32 {
        Router::read(self, offset)
    }

    fn write(&mut self, offset: u32, value: u32, _at: Access) {
        Router::write(self, offset, value)
    }

    /// RTR_DIAG, RTR_DUMP and RTR_ERR reach every core's VIC alike.
    fn irq_lines(&self, _at: Access) -> u32 {
        self.irq_sources()
    }

    fn reset(&mut self) {
        *self = Router::new(((self.control >> 8) & 0x1F) as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MON: u8 = 0;
    const CHIP: u16 = 0x0000;

    fn booted() -> Router {
        let mut r = Router::new(MON);
        r.boot_init(MON);
        r.set_p2p_entry(CHIP, 7);
        r
    }

    fn mc(key: u32) -> Packet {
        Packet::new(0x00, key, None)
    }

    fn core_route(p: u32) -> u32 {
        1 << (6 + p)
    }

    fn dgc(r: &mut Router, n: u32) -> u32 {
        r.read(DGC0 + 4 * n)
    }

    #[test]
    fn boot_filters_match_sarks_words() {
        let expect = [
            0x01FE_7CF1,
            0x01FE_BCF1,
            0x01FE_7CF2,
            0x01FE_BCF2,
            0x01FE_7CF4,
            0x01FE_BCF4,
            0x01FE_7CF8,
            0x01FE_BCF8,
            0x0001_FCF1,
            0x0001_FCF2,
            0x0001_FCF4,
            0x0001_FCF8,
        ];
        let mut r = booted();
        for (n, w) in expect.iter().enumerate() {
            assert_eq!(r.read(DGF0 + 4 * n as u32), *w, "DGF{n}");
        }
        for n in 12..16 {
            assert_eq!(r.read(DGF0 + 4 * n), 0);
        }
        assert_eq!(r.read(DGEN), 0xFFFF);
    }

    #[test]
    fn boot_p2p_routes_answer_until_the_table_is_reset() {
        use spinn_hw::geometry::MachineDesc;
        let routes = P2pRoutes::new(MachineDesc::spinn3());
        let mut r = booted();
        r.set_boot_p2p(routes.clone(), (0, 0));
        // (1,0) is east, (0,1) north; (0,0) itself stays the monitor, no chip stays a drop.
        assert_eq!(r.p2p_entry(0x0100), 0);
        assert_eq!(r.p2p_entry(0x0001), 2);
        assert_eq!(r.p2p_entry(CHIP), 7);
        assert_eq!(r.p2p_entry(0x0505), 6);
        // A register read writes the table out: the same entries, word by word (word 0x20
        // holds 0x0100, east, and 0x0101, (1,1) to the north-east; the rest are no chips).
        assert_eq!(r.read(P2P_BASE + 4 * 0x20), (P2P_INIT & !0o77) | 1 << 3);
        assert_eq!(r.p2p_entry(0x0100), 0);
        // Boot and reset start from an empty table again.
        r.set_boot_p2p(routes.clone(), (0, 0));
        r.boot_init(MON);
        assert_eq!(r.p2p_entry(0x0100), 6);
        r.set_boot_p2p(routes, (0, 0));
        Device::reset(&mut r);
        assert_eq!(r.p2p_entry(0x0100), 6);
    }

    #[test]
    fn boot_control_and_tables() {
        let mut r = Router::new(3);
        r.set_p2p_entry(0x0102, 4);
        r.boot_init(3);
        // boot_init resets the whole P2P table...
        assert_eq!(r.p2p_entry(0x0102), 6);
        // ...and the chip then adds its own entry.
        r.set_p2p_entry(0x0102, 7);
        assert_eq!(r.read(CONTROL), 0x0040_0301);
        assert_eq!(r.mc_entry(0), (0xFFFF_5554, 0xFFFF_FFFE, core_route(3)));
        for i in [1, 500, 1023] {
            assert_eq!(r.mc_entry(i), (0xFFFF_FFFF, 0, 0xFF00_0000));
        }
        assert_eq!(r.p2p_entry(0x0102), 7);
        assert_eq!(r.p2p_entry(0x0101), 6);
        assert_eq!(r.p2p_entry(0x0103), 6);
        // Word 0x0102 >> 3 = 0x20 holds entry 0x0102 & 7 = 2 in bits [8:6].
        assert_eq!(r.read(P2P_BASE + 4 * 0x20), (P2P_INIT & !(7 << 6)) | 7 << 6);
        assert_eq!(r.read(P2P_BASE), P2P_INIT);
        assert_eq!(r.read(P2P_BASE + 4 * 8191), P2P_INIT);
    }

    #[test]
    fn reset_router_does_not_route() {
        let mut r = Router::new(0);
        assert_eq!(r.read(CONTROL), 0);
        r.set_mc_entry(1, 5, 0xFFFF_FFFF, core_route(1));
        let route = r.route(&mc(5), Source::Core(1), 0);
        assert_eq!(
            route,
            Route {
                cores: 0,
                links: 0,
                dropped: true
            }
        );
        // No dump capture, no diagnostics, but the totals see it.
        assert_eq!(r.read(DSTAT), 0);
        assert_eq!(r.counters().dropped, 1);
        assert_eq!(r.counters().mc, 1);
        r.write(CONTROL, 1);
        assert_eq!(r.route(&mc(5), Source::Core(1), 0).cores, 1 << 1);
    }

    #[test]
    fn mc_first_match_wins() {
        let mut r = booted();
        r.set_mc_entry(5, 0x1000, 0xFFFF_F000, core_route(2) | 0b10);
        r.set_mc_entry(3, 0x1230, 0xFFFF_FFF0, core_route(4));
        let route = r.route(&mc(0x1234), Source::Core(1), 0);
        assert_eq!(
            route,
            Route {
                cores: 1 << 4,
                links: 0,
                dropped: false
            }
        );
        let route = r.route(&mc(0x1FFF), Source::Core(1), 0);
        assert_eq!(
            route,
            Route {
                cores: 1 << 2,
                links: 0b10,
                dropped: false
            }
        );
        assert_eq!(r.counters().routed, 2);
    }

    #[test]
    fn mc_route_word_fields() {
        let mut r = booted();
        r.set_mc_entry(
            1,
            7,
            0xFFFF_FFFF,
            0xFF00_0000 | core_route(17) | core_route(0) | 0x3F,
        );
        let route = r.route(&mc(7), Source::Core(1), 0);
        assert_eq!(route.cores, 1 << 17 | 1);
        assert_eq!(route.links, 0x3F);
    }

    #[test]
    fn mc_table_through_registers() {
        let mut r = booted();
        r.write(MC_KEY_BASE + 4 * 10, 0xABCD_0000);
        r.write(MC_MASK_BASE + 4 * 10, 0xFFFF_0000);
        r.write(MC_ROUTE_BASE + 4 * 10, core_route(6));
        // The CAMs are write-only; the route RAM reads back.
        assert_eq!(r.read(MC_KEY_BASE + 4 * 10), 0);
        assert_eq!(r.read(MC_MASK_BASE + 4 * 10), 0);
        assert_eq!(r.read(MC_ROUTE_BASE + 4 * 10), core_route(6));
        assert_eq!(r.mc_entry(10), (0xABCD_0000, 0xFFFF_0000, core_route(6)));
        assert_eq!(r.route(&mc(0xABCD_1234), Source::Core(2), 0).cores, 1 << 6);
        // Rewriting the key re-evaluates the table.
        r.write(MC_KEY_BASE + 4 * 10, 0x1111_0000);
        assert!(r.route(&mc(0xABCD_1234), Source::Core(2), 0).dropped);
        assert_eq!(r.route(&mc(0x1111_0001), Source::Core(2), 0).cores, 1 << 6);
    }

    #[test]
    fn cleared_entry_never_matches() {
        let mut r = booted();
        for key in [0, 0xFFFF_FFFF, 0x1234_5678] {
            assert!(r.route(&mc(key), Source::Core(1), 0).dropped, "{key:#x}");
        }
    }

    #[test]
    fn reserved_entry_0_reaches_monitor() {
        let mut r = Router::new(2);
        r.boot_init(2);
        for key in [0xFFFF_5554, 0xFFFF_5555] {
            let route = r.route(&mc(key), Source::Core(1), 0);
            assert_eq!(
                route,
                Route {
                    cores: 1 << 2,
                    links: 0,
                    dropped: false
                }
            );
        }
    }

    #[test]
    fn mc_default_route_from_link_goes_straight_through() {
        let mut r = booted();
        for l in 0..6u8 {
            let route = r.route(&mc(0x42), Source::Link(l), 0);
            assert_eq!(
                route,
                Route {
                    cores: 0,
                    links: 1 << ((l + 3) % 6),
                    dropped: false
                }
            );
        }
    }

    #[test]
    fn mc_default_from_core_is_dropped_and_dumped() {
        let mut r = booted();
        let c = r.read(CONTROL);
        r.write(CONTROL, c | CONTROL_DUMP_IRQ_EN);
        let p = Packet::new(0x00, 0x42, Some(9));
        let route = r.route(&p, Source::Core(3), 0);
        assert!(route.dropped);
        assert_eq!(r.irq_sources(), IRQ_RTR_DUMP);
        assert_eq!(r.read(DKEY), 0x42);
        assert_eq!(r.read(DDAT), 9);
        assert_eq!(r.read(DHDR), 7 << 24 | 0x02 << 16);
        assert_eq!(dgc(&mut r, 8), 1);
        assert_eq!(dgc(&mut r, 0), 0);
    }

    #[test]
    fn diversion_register_applies_to_default_routed() {
        let mut r = booted();
        // Link 1 → monitor, link 2 → destroy, link 3 → rule 3 (normal).
        r.write(DIVERSION, 1 << 2 | 2 << 4 | 3 << 6);
        assert_eq!(r.read(DIVERSION), 1 << 2 | 2 << 4 | 3 << 6);
        assert_eq!(r.route(&mc(1), Source::Link(1), 0).cores, 1 << MON);
        assert!(r.route(&mc(1), Source::Link(2), 0).dropped);
        assert_eq!(r.route(&mc(1), Source::Link(3), 0).links, 1 << 0);
        assert_eq!(r.route(&mc(1), Source::Link(0), 0).links, 1 << 3);
        // A matching entry is not affected by diversion.
        r.set_mc_entry(1, 1, 0xFFFF_FFFF, 1 << 5);
        assert_eq!(r.route(&mc(1), Source::Link(2), 0).links, 1 << 5);
    }

    #[test]
    fn invalid_link_source_is_dropped() {
        let mut r = booted();
        assert!(r.route(&mc(1), Source::Link(6), 0).dropped);
        assert!(r.route(&mc(1), Source::Link(255), 0).dropped);
    }

    #[test]
    fn p2p_table_routes() {
        let mut r = booted();
        r.set_p2p_entry(0x0102, 4);
        let p = Packet::new(0x40, 0xAAAA_0102, Some(1));
        assert_eq!(
            r.route(&p, Source::Core(0), 0),
            Route {
                cores: 0,
                links: 1 << 4,
                dropped: false
            }
        );
        // Own chip → monitor; unknown chip → dropped.
        let own = Packet::new(0x40, 0x0000_0000, Some(1));
        assert_eq!(r.route(&own, Source::Link(2), 0).cores, 1 << MON);
        let far = Packet::new(0x40, 0x0000_0505, None);
        assert!(r.route(&far, Source::Core(0), 0).dropped);
        assert_eq!(dgc(&mut r, 9), 1);
        assert_eq!(dgc(&mut r, 2), 1);
        assert_eq!(dgc(&mut r, 3), 1);
    }

    #[test]
    fn p2p_entries_through_registers() {
        let mut r = booted();
        r.write(P2P_BASE + 4 * 3, 0xFFFF_FFFF);
        assert_eq!(r.read(P2P_BASE + 4 * 3), 0x00FF_FFFF);
        for a in 24..32 {
            assert_eq!(r.p2p_entry(a), 7);
        }
        r.set_p2p_entry(0xFFFF, 1);
        assert_eq!(r.p2p_entry(0xFFFF), 1);
        assert_eq!(r.read(P2P_BASE + 4 * 8191) >> 21, 1);
    }

    #[test]
    fn nn_from_link_goes_to_monitor() {
        let mut r = Router::new(5);
        r.boot_init(5);
        let p = Packet::new(0x80, 0x1234, Some(0));
        assert_eq!(
            r.route(&p, Source::Link(3), 0),
            Route {
                cores: 1 << 5,
                links: 0,
                dropped: false
            }
        );
        assert_eq!(dgc(&mut r, 5), 1);
    }

    #[test]
    fn nn_from_core_uses_route_field_or_broadcast() {
        let mut r = booted();
        for l in 0..6u8 {
            let p = Packet::new(0x80 | l << 2, 0, Some(0));
            assert_eq!(r.route(&p, Source::Core(0), 0).links, 1 << l);
        }
        let bc = Packet::new(0x80 | 7 << 2, 0, None);
        assert!(r.route(&bc, Source::Core(0), 0).dropped);
        r.write(FR, 0b101101 << 26);
        assert_eq!(r.route(&bc, Source::Core(0), 0).links, 0b101101);
        let bc6 = Packet::new(0x80 | 6 << 2, 0, None);
        assert_eq!(r.route(&bc6, Source::Core(0), 0).links, 0b101101);
        assert_eq!(dgc(&mut r, 4), 8);
        assert_eq!(dgc(&mut r, 10), 1);
    }

    #[test]
    fn fr_uses_fr_register() {
        let mut r = booted();
        let p = Packet::new(0xC0, 0, None);
        assert!(r.route(&p, Source::Core(1), 0).dropped);
        r.write(FR, 0xFFFF_FFFF);
        assert_eq!(r.read(FR), FR_MASK);
        r.write(FR, core_route(9) | 0b11);
        assert_eq!(
            r.route(&p, Source::Link(0), 0),
            Route {
                cores: 1 << 9,
                links: 0b11,
                dropped: false
            }
        );
        assert_eq!(dgc(&mut r, 7), 1);
        assert_eq!(dgc(&mut r, 11), 1);
    }

    #[test]
    fn boot_counters_classify_local_and_external() {
        let mut r = booted();
        r.set_mc_entry(1, 1, 0xFFFF_FFFF, core_route(1));
        for _ in 0..3 {
            r.route(&mc(1), Source::Core(2), 0);
        }
        r.route(&mc(1), Source::Link(0), 0);
        r.route(&Packet::new(0, 1, Some(5)), Source::Link(4), 0);
        assert_eq!(dgc(&mut r, 0), 3);
        assert_eq!(dgc(&mut r, 1), 2);
        for n in 2..16 {
            assert_eq!(dgc(&mut r, n), 0, "DGC{n}");
        }
        let c = r.counters();
        assert_eq!(
            (c.routed, c.dropped, c.mc, c.p2p, c.nn, c.fr),
            (5, 0, 5, 0, 0, 0)
        );
        assert_eq!(c.emergency_routed, 0);
    }

    #[test]
    fn count_dropped_captures_dump() {
        let mut r = booted();
        r.set_mc_entry(1, 1, 0xFFFF_FFFF, 0b100 | core_route(3));
        let p = Packet::new(0x00, 1, Some(0x55));
        let route = r.route(&p, Source::Core(2), 0);
        assert_eq!(route.links, 0b100);
        r.count_dropped(&p, Source::Core(2), 0b100, 1 << 3, 0);
        assert_eq!(dgc(&mut r, 0), 1);
        assert_eq!(dgc(&mut r, 8), 1);
        assert_eq!(r.read(DLINK), 0b100 | 1 << 9);
        assert_eq!(r.read(DKEY), 1);
        assert_eq!(r.read(DDAT), 0x55);
        assert_eq!(r.counters().dropped, 1);
        assert_eq!(r.counters().routed, 1);
        // Dump interrupt only when enabled in CONTROL bit2.
        assert_eq!(r.irq_sources(), 0);
        assert_eq!(r.read(STATUS), 0);
        let c = r.read(CONTROL);
        r.write(CONTROL, c | CONTROL_DUMP_IRQ_EN);
        assert_eq!(r.irq_sources(), IRQ_RTR_DUMP);
        assert_eq!(r.read(STATUS), STATUS_IRQ | STATUS_DUMP_IRQ);
        assert_eq!(r.read(DSTAT), DSTAT_DUMPED | 0b100 | 1 << 9);
        // Reading DSTAT acknowledged it.
        assert_eq!(r.read(DSTAT), 0);
        assert_eq!(r.irq_sources(), 0);
    }

    #[test]
    fn second_dump_sets_overflow_and_keeps_first() {
        let mut r = booted();
        r.count_dropped(&mc(10), Source::Link(1), 1 << 4, 0, 0);
        r.count_dropped(&mc(20), Source::Core(4), 0, 1 << 4, 0);
        assert_eq!(r.read(DKEY), 10);
        assert_eq!(r.read(DHDR) >> 24, 1);
        assert_eq!(r.read(DLINK), 1 << 4);
        assert_eq!(
            r.read(DSTAT),
            DSTAT_DUMPED | DSTAT_OVERFLOW | 1 << 4 | 1 << 10
        );
        // After the read a new dump is captured afresh.
        r.count_dropped(&mc(30), Source::Core(4), 0, 1 << 4, 0);
        assert_eq!(r.read(DKEY), 30);
        assert_eq!(r.read(DSTAT), DSTAT_DUMPED | 1 << 10);
        assert_eq!(dgc(&mut r, 8), 3);
    }

    #[test]
    fn dump_header_carries_time_phase() {
        let mut r = booted();
        let c = r.read(CONTROL);
        r.write(CONTROL, c | 2 << 6);
        r.count_dropped(&Packet::new(0xC0, 0, None), Source::Link(5), 1, 0, 0);
        assert_eq!(r.read(DHDR), 5 << 24 | 0xC0 << 16 | 2 << 6);
    }

    #[test]
    fn dgen_enables_and_resets_counters() {
        let mut r = booted();
        r.set_mc_entry(1, 1, 0xFFFF_FFFF, core_route(1));
        r.route(&mc(1), Source::Core(0), 0);
        assert_eq!(dgc(&mut r, 0), 1);
        // Disable counter 0: no more counting.
        r.write(DGEN, 0xFFFE);
        r.route(&mc(1), Source::Core(0), 0);
        assert_eq!(dgc(&mut r, 0), 1);
        // Write-1 reset of counter 0 only; the reset bits read back as 0.
        r.write(DGEN, 0x0001_FFFF);
        assert_eq!(r.read(DGEN), 0xFFFF);
        assert_eq!(dgc(&mut r, 0), 0);
        r.route(&mc(1), Source::Core(0), 0);
        assert_eq!(dgc(&mut r, 0), 1);
        // Counters are writable.
        r.write(DGC0 + 4 * 15, 77);
        assert_eq!(dgc(&mut r, 15), 77);
    }

    #[test]
    fn filter_fields_select_packets() {
        let mut r = booted();
        r.write(DGEN, 1 << 12);
        r.set_mc_entry(
            1,
            1,
            0xFFFF_FFFF,
            core_route(MON.into()) | core_route(4) | 1 << 2,
        );
        let both_er = 0xF << 4;
        let all_status = DGF_DEFAULT | DGF_NON_DEFAULT | DGF_PAYLOAD | DGF_NO_PAYLOAD;
        let all_src = DGF_LOCAL | DGF_NON_LOCAL;
        let cases: [(u32, bool); 8] = [
            (1 | both_er | all_status | all_src | 0x1FF << 16, true),
            // Wrong type.
            (2 | both_er | all_status | all_src | 0x1FF << 16, false),
            // Payload only: the packet has none.
            (
                1 | both_er | DGF_DEFAULT | DGF_NON_DEFAULT | DGF_PAYLOAD | all_src | 0x1FF << 16,
                false,
            ),
            // Default-routed only: this one matched an entry.
            (
                1 | both_er | DGF_DEFAULT | DGF_PAYLOAD | DGF_NO_PAYLOAD | all_src | 0x1FF << 16,
                false,
            ),
            // Non-local source only.
            (
                1 | both_er | all_status | DGF_NON_LOCAL | 0x1FF << 16,
                false,
            ),
            // Destination: link 2 only.
            (1 | both_er | all_status | all_src | 1 << (16 + 3 + 2), true),
            // Destination: monitor only / local non-monitor only.
            (
                1 | both_er | all_status | all_src | DEST_MONITOR << 16,
                true,
            ),
            // ER code 1 only: the packet is normal (code 0).
            (1 | 2 << 4 | all_status | all_src | 0x1FF << 16, false),
        ];
        for (word, counts) in cases {
            r.write(DGF0 + 4 * 12, word);
            r.write(DGEN, 1 << 12 | 1 << 28);
            r.route(&mc(1), Source::Core(3), 0);
            assert_eq!(dgc(&mut r, 12), u32::from(counts), "filter {word:#010x}");
        }
        // Outgoing ER mode (bit8) sees every packet as normal.
        r.write(
            DGF0 + 4 * 12,
            1 | 1 << 4 | DGF_ER_MODE_OUT | all_status | all_src | DEST_LOCAL << 16,
        );
        r.write(DGEN, 1 << 12 | 1 << 28);
        r.route(&Packet::new(0x20, 1, None), Source::Core(3), 0);
        assert_eq!(dgc(&mut r, 12), 1);
        // Incoming ER mode sees control bits [5:4].
        r.write(
            DGF0 + 4 * 12,
            1 | 1 << 6 | all_status | all_src | DEST_LOCAL << 16,
        );
        r.write(DGEN, 1 << 12 | 1 << 28);
        r.route(&Packet::new(0x20, 1, None), Source::Core(3), 0);
        assert_eq!(dgc(&mut r, 12), 1);
    }

    #[test]
    fn diagnostic_interrupt_event_and_enable() {
        let mut r = booted();
        r.set_mc_entry(1, 1, 0xFFFF_FFFF, core_route(1));
        r.write(DGF0 + 4 * 13, BOOT_FILTERS[0] | DGF_IRQ_EN);
        assert_eq!(r.read(DGF0 + 4 * 13), BOOT_FILTERS[0] | DGF_IRQ_EN);
        assert_eq!(r.irq_sources(), 0);
        r.route(&mc(1), Source::Core(0), 0);
        // Counter 0 has an event but no enable; counter 13 raises the interrupt.
        assert_eq!(r.read(DGF0) & (DGF_EVENT | DGF_IRQ_ACTIVE), DGF_EVENT);
        assert_eq!(r.read(DGF0 + 4 * 13) >> 29, 0b111);
        assert_eq!(r.read(STATUS), STATUS_IRQ | 1 << 13);
        assert_eq!(r.irq_sources(), IRQ_RTR_DIAG);
        // Resetting the counter clears the event.
        r.write(DGEN, 0xFFFF | 1 << (16 + 13));
        assert_eq!(r.irq_sources(), 0);
        r.route(&mc(1), Source::Core(0), 0);
        assert_eq!(r.irq_sources(), IRQ_RTR_DIAG);
        // So does re-writing the filter.
        let f = r.read(DGF0 + 4 * 13);
        r.write(DGF0 + 4 * 13, f);
        assert_eq!(r.irq_sources(), 0);
        assert_eq!(r.read(DGF0 + 4 * 13), BOOT_FILTERS[0] | DGF_IRQ_EN);
    }

    #[test]
    fn plain_registers_read_back() {
        let mut r = Router::new(0);
        r.write(CONTROL, 0xFFFF_FFFF);
        assert_eq!(r.read(CONTROL), CONTROL_MASK);
        r.write(TST1, 0x1234);
        r.write(TST2, 0x5678);
        assert_eq!((r.read(TST1), r.read(TST2)), (0x1234, 0x5678));
        r.write(TIMING_CTRL, 0xFFFF_FFFF);
        assert_eq!(r.read(TIMING_CTRL), 7);
        // Status, error and dump registers are read-only.
        for off in [
            STATUS, 0x08, 0x0C, 0x10, 0x14, DHDR, DKEY, DDAT, DLINK, DSTAT,
        ] {
            r.write(off, 0xFFFF_FFFF);
            assert_eq!(r.read(off), 0, "offset {off:#x}");
        }
    }

    #[test]
    fn unknown_offsets_are_harmless() {
        let mut r = booted();
        for off in [
            0x88,
            0x1FC,
            0x240,
            0x340,
            0xF08,
            0x3FFC,
            0x5000,
            0x9000,
            0xD000,
            0x18000,
            0x1FFFC,
            u32::MAX,
        ] {
            r.write(off, 0xFFFF_FFFF);
            assert_eq!(r.read(off), 0, "offset {off:#x}");
        }
        // Byte offsets address the containing word.
        assert_eq!(r.read(CONTROL + 1), r.read(CONTROL));
        assert_eq!(r.mc_entry(MC_TABLE_SIZE), (0, 0, 0));
        r.set_mc_entry(usize::MAX, 0, 0, 1);
        assert!(r.route(&mc(0x1234), Source::Core(0), 0).dropped);
    }

    #[test]
    fn monitor_out_of_range_drops_monitor_traffic() {
        let mut r = Router::new(0);
        r.boot_init(0);
        r.write(CONTROL, 0x0040_0001 | 31 << 8);
        assert!(
            r.route(&Packet::new(0x80, 0, None), Source::Link(0), 0)
                .dropped
        );
        let mut r = Router::new(200);
        r.boot_init(200);
        assert_eq!(r.mc_entry(0).2, 0);
    }

    #[test]
    fn drops_by_fault_says_yes_to_every_third_mc_packet_only() {
        let mut r = booted();
        assert_eq!(r.drop_mc_every(), 0);
        assert!((0..10).all(|i| !r.drops_by_fault(&mc(i))), "off by default");
        r.set_drop_mc_every(3);
        let p2p = Packet::new(0x40, 0, None);
        let nn = Packet::new(0x80, 0, None);
        let fr = Packet::new(0xC0, 0, None);
        let mut dropped = Vec::new();
        for i in 1..=9 {
            // Other packet types neither count nor drop.
            assert!(!r.drops_by_fault(&p2p) && !r.drops_by_fault(&nn) && !r.drops_by_fault(&fr));
            if r.drops_by_fault(&mc(i)) {
                dropped.push(i);
            }
        }
        assert_eq!(dropped, [3, 6, 9]);
        // Asking does not record anything: the chip does, with count_dropped.
        assert_eq!(r.counters(), RouterCounters::default());
        // Setting the period again starts the count afresh; 0 turns it off.
        assert!(!r.drops_by_fault(&mc(1)));
        r.set_drop_mc_every(2);
        assert_eq!(
            (r.drops_by_fault(&mc(1)), r.drops_by_fault(&mc(2))),
            (false, true)
        );
        r.set_drop_mc_every(1);
        assert!(r.drops_by_fault(&mc(1)) && r.drops_by_fault(&mc(2)));
        r.set_drop_mc_every(0);
        assert!(!r.drops_by_fault(&mc(1)));
        // Rebooting the router's tables leaves the fault setting alone.
        r.set_drop_mc_every(1);
        r.boot_init(MON);
        assert_eq!(r.drop_mc_every(), 1);
    }

    #[test]
    fn counters_serialize() {
        let json = serde_json::to_string(&booted().counters()).unwrap();
        assert!(json.contains("\"routed\":0"));
        assert!(json.contains("\"emergency_routed\":0"));
    }
}
