// SPDX-License-Identifier: GPL-2.0-or-later
//! The router's six link outputs (hardware notes §3.4–§3.6): which lead to live neighbours,
//! when each is free again, serialisation onto the wire, and the emergency detour round a
//! blocked link.

use spinn_hw::geometry::opposite;

use crate::chip::packet::{InFlight, Packet, PacketKind, Source};
use crate::chip::Shared;
use crate::timing::{
    link_serialisation_cycles, router_waits, LINK_WIRE_CYCLES, ROUTER_LATENCY_CYCLES,
};
use crate::trace::Event;
use crate::Cycle;

/// ER field (control bits [5:4]) of a packet on the first leg of an emergency detour.
pub const ER_FIRST_LEG: u8 = 1;
/// ER field of a packet on the second leg, heading back to the chip it was meant for.
pub const ER_SECOND_LEG: u8 = 2;

/// One router's link outputs.
#[derive(Clone, Debug, Default)]
pub struct Links {
    /// Links that lead to a live neighbour (bit l = link l).
    live: u8,
    /// When each link finishes sending what it has been given.
    free_at: [Cycle; 6],
    /// Packets on their way to neighbours, in the order they left.
    outgoing: Vec<InFlight>,
    /// Packets sent on each link so far.
    packets: [u64; 6],
}

impl Links {
    /// Declares which links lead to live neighbours (bit l = link l); others drop packets.
    pub fn set_live(&mut self, links: u8) {
        self.live = links & 0x3F;
    }

    /// Links that lead to live neighbours.
    pub fn live(&self) -> u8 {
        self.live
    }

    /// Packets sent on each link so far.
    pub fn packets(&self) -> [u64; 6] {
        self.packets
    }

    /// Takes the packets that left since the last call, in the order they left: each arrives
    /// at the neighbour's router at `at`, from the link opposite the one it left on.
    pub fn take_outgoing(&mut self) -> Vec<InFlight> {
        std::mem::take(&mut self.outgoing)
    }

    /// Queues `pkt` on link `link` at routing time `t` (with the router's `control` word for
    /// its waits). A link still busy after wait1 sends it round the blocked link instead: out
    /// of the next link anticlockwise, to the chip next to both ends, which passes it on
    /// (emergency routing, §3.4, TickySim's model; the rotation direction and ER codes are
    /// UNVERIFIED). False when it had to be dropped: the link is dead, or the detour was not
    /// free within wait2 either.
    pub fn send(&mut self, sh: &mut Shared, link: u8, pkt: Packet, t: Cycle, control: u32) -> bool {
        if self.live & (1 << link) == 0 {
            return false;
        }
        let (wait1, wait2) = router_waits(control);
        let ready = t + ROUTER_LATENCY_CYCLES;
        let (link, pkt, start) =
            if self.free_at[link as usize] <= ready + wait1 || pkt.kind() != PacketKind::Mc {
                (link, pkt, ready.max(self.free_at[link as usize]))
            } else {
                let detour = (link + 1) % 6;
                let free = self.free_at[detour as usize];
                if self.live & (1 << detour) == 0 || free > ready + wait1 + wait2 {
                    return false;
                }
                sh.router.count_emergency();
                sh.emit(
                    t,
                    Event::Emergency {
                        link: detour,
                        key: pkt.key,
                    },
                );
                let first = Packet {
                    control: (pkt.control & !0x30) | ER_FIRST_LEG << 4,
                    ..pkt
                };
                (detour, first, (ready + wait1).max(free))
            };
        let l = link as usize;
        let queued = (start - ready).min(u32::MAX as Cycle) as u32;
        sh.emit(
            start,
            Event::LinkOut {
                link,
                key: pkt.key,
                queued,
            },
        );
        let sent = start + link_serialisation_cycles(pkt.bits());
        self.free_at[l] = sent;
        self.packets[l] += 1;
        self.outgoing.push(InFlight {
            packet: pkt,
            at: sent + LINK_WIRE_CYCLES,
            from: Source::Link(opposite(link)),
        });
        true
    }
}
