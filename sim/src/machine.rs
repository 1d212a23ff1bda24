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

use crate::chip::router::RouterCounters;
use crate::chip::{Chip, ChipConfig, ChipError, CoreReport, LinkPacket, StopReason};
use crate::geometry::{opposite, MachineDesc};
use crate::loader::Program;
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
    /// A chip's routing table would not fit.
    #[error("chip ({0},{1}): {2} routing entries do not fit the 1023 free entries of the router")]
    TableFull(u8, u8, usize),
}

/// One multicast routing entry for the host to load: on chip (x, y), packets whose key matches
/// `key` under `mask` go to the links (bits 0..5) and virtual cores (bit 6 + p) of `route`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteEntry {
    /// Chip x.
    pub x: u8,
    /// Chip y.
    pub y: u8,
    /// Key to match.
    pub key: u32,
    /// Mask applied to packet keys before comparing.
    pub mask: u32,
    /// Links (bits 0..5) and virtual cores (bits 6..23).
    pub route: u32,
}

/// What a router did during a run.
#[derive(Clone, Debug, serde::Serialize)]
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

/// A machine of chips joined by links.
pub struct Machine {
    desc: MachineDesc,
    chips: Vec<Chip>,
    index: BTreeMap<(u8, u8), usize>,
    now: Cycle,
}

impl Machine {
    /// Boots every live chip of `desc`: routers, system RAM and links as the monitors leave them.
    pub fn new(desc: MachineDesc, config: ChipConfig) -> Machine {
        let mut chips = Vec::new();
        let mut index = BTreeMap::new();
        for (x, y) in desc.chips() {
            let mut chip = Chip::with_dead_cores(x, y, desc.width(), desc.height(), desc.dead_cores(x, y), config.clone());
            chip.set_live_links(desc.live_links(x, y));
            index.insert((x, y), chips.len());
            chips.push(chip);
        }
        Machine { desc, chips, index, now: 0 }
    }

    /// The machine's description.
    pub fn desc(&self) -> &MachineDesc {
        &self.desc
    }

    /// Current simulated time (cycles).
    pub fn now(&self) -> Cycle {
        self.now
    }

    /// The chip at (x, y).
    pub fn chip(&self, x: u8, y: u8) -> Option<&Chip> {
        self.index.get(&(x, y)).map(|&i| &self.chips[i])
    }

    /// The chip at (x, y), mutable.
    pub fn chip_mut(&mut self, x: u8, y: u8) -> Option<&mut Chip> {
        self.index.get(&(x, y)).map(|&i| &mut self.chips[i])
    }

    /// Every chip, in (x, y) order.
    pub fn chips(&self) -> &[Chip] {
        &self.chips
    }

    /// Loads `program` onto virtual core `p` of chip (x, y).
    pub fn load(&mut self, x: u8, y: u8, p: u32, program: &Program, app_id: u8) -> Result<(), MachineError> {
        let chip = self.chip_mut(x, y).ok_or(MachineError::NoChip(x, y))?;
        chip.load(p, program, app_id, 0).map_err(|e| MachineError::Chip(x, y, e))
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
            let chip = self.chip_mut(x, y).expect("checked above");
            for (i, e) in list.iter().enumerate() {
                let mut route = e.route & 0x3F;
                for v in 0..18u8 {
                    if e.route & (1 << (6 + v)) != 0 && (v as usize) < chip.num_cores() {
                        route |= 1 << (6 + chip.phys_of(v));
                    }
                }
                chip.shared_mut().router.set_mc_entry(i + 1, e.key, e.mask, route);
            }
        }
        Ok(())
    }

    fn has_running_cores(&self) -> bool {
        self.chips.iter().any(|c| c.has_running_cores())
    }

    /// Runs until every loaded core has finished (EXIT, RTE, WDOG), `limit` cycles have passed,
    /// or nothing can happen any more.
    pub fn run(&mut self, limit: Cycle) -> StopReason {
        // Without links nothing crosses between chips, so chips need no common windows.
        let linked = self.chips.iter().any(|c| c.live_links() != 0);
        let window = if linked { min_link_latency() } else { Cycle::MAX / 4 };
        let mut in_flight: Vec<(usize, LinkPacket)> = Vec::new();
        loop {
            if !self.has_running_cores() {
                let last = self.chips.iter().map(|c| c.now()).max().unwrap_or(self.now);
                self.now = self.now.max(last);
                return StopReason::AllFinished;
            }
            let next_core = self.chips.iter().filter_map(|c| c.next_activity()).min();
            let next_packet = in_flight.iter().map(|(_, p)| p.arrival).min();
            let next = match (next_core, next_packet) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(t) => t,
                    None => return StopReason::Deadlock,
                },
            };
            let start = self.now.max(next);
            if start >= limit {
                self.now = self.now.max(limit);
                return StopReason::TimeLimit;
            }
            let end = (start + window).min(limit);
            // Packets that arrive before this window ends reach their routers now (they left at
            // least one window ago, so every chip has already run up to their sending time).
            let (due, later): (Vec<_>, Vec<_>) = in_flight.into_iter().partition(|(_, p)| p.arrival < end);
            in_flight = later;
            self.deliver(due);
            for chip in &mut self.chips {
                // A chip with nothing to do before the window ends is not even looked at.
                if chip.next_activity().is_some_and(|t| t < end) {
                    chip.run(end);
                }
            }
            for (i, chip) in self.chips.iter_mut().enumerate() {
                in_flight.extend(chip.take_outgoing().into_iter().map(|p| (i, p)));
            }
            self.now = end;
        }
    }

    /// Hands packets to the routers at the far ends of their links, in a fixed order.
    fn deliver(&mut self, mut due: Vec<(usize, LinkPacket)>) {
        // Stable sort: packets from one chip keep the order they left in.
        due.sort_by_key(|(src, p)| (p.arrival, *src));
        for (src, p) in due {
            let (x, y) = (self.chips[src].x, self.chips[src].y);
            let Some((nx, ny)) = self.desc.neighbour(x, y, p.link) else { continue };
            let dst = self.index[&(nx, ny)];
            self.chips[dst].inject(opposite(p.link), p.packet, p.arrival);
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
            .map(|c| RouterReport { x: c.x, y: c.y, counters: c.router_counters(), link_packets: c.link_packets() })
            .collect()
    }

    /// Packets launched by cores, machine-wide.
    pub fn packets_sent(&self) -> u64 {
        self.chips.iter().map(|c| c.packets_sent()).sum()
    }
}
