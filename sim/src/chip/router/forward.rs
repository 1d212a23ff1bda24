// SPDX-License-Identifier: GPL-2.0-or-later
//! The router's datapath on its chip: a packet launched by a core or arriving on a link is
//! taken through the emergency legs (§3.4), looked up ([`super::Router::route`]), and copied
//! to the cores it names (into their receive buffers, or held while they are full:
//! [`super::hold`]) and to the links ([`super::links`]); losses are counted and traced.

use super::links::{ER_FIRST_LEG, ER_SECOND_LEG};
use crate::chip::packet::{InFlight, Packet, PacketKind, Source};
use crate::chip::{Chip, NUM_CORES};
use crate::timing::{router_wait_cycles, ROUTER_LATENCY_CYCLES};
use crate::trace::{Event, From as TraceFrom};

impl Chip {
    /// Routes the packets core `p` launched during its last slice.
    pub(in crate::chip) fn route_outbox(&mut self, p: usize) {
        let out = std::mem::take(&mut self.cores[p].as_mut().unwrap().state_mut().outbox);
        for f in out {
            self.packets_sent += 1;
            self.route_packet(f);
        }
    }

    /// The router takes `f` at `f.at`: emergency legs first, then the table lookup, then the
    /// copies to cores (held for a full receive buffer) and links; every loss is counted.
    fn route_packet(&mut self, f: InFlight) {
        let (mut pkt, mut source, t) = (f.packet, f.from, f.at);
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
                    let sent = !faulted && {
                        let mut sh = self.shared.borrow_mut();
                        self.links.send(&mut sh, out, second, t, control)
                    };
                    if !sent {
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
                    if !st.rx_hold.is_empty() || !st.cc.deliver(pkt, arrival) {
                        let held = InFlight {
                            packet: pkt,
                            at: arrival,
                            from: source,
                        };
                        st.rx_hold.push(held, wait);
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
            if route.links & (1 << link) == 0 {
                continue;
            }
            let mut sh = self.shared.borrow_mut();
            if !self.links.send(&mut sh, link, pkt, t, control) {
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

    /// A packet from a neighbour reaches this chip's router at `f.at`, on link `f.from`.
    pub fn inject(&mut self, f: InFlight) {
        self.route_packet(f);
    }

    /// Declares which links lead to live neighbours (bit l = link l); others drop packets.
    pub fn set_live_links(&mut self, links: u8) {
        self.links.set_live(links);
    }

    /// Takes the packets that left on links since the last call, in the order they left.
    pub fn take_outgoing(&mut self) -> Vec<InFlight> {
        self.links.take_outgoing()
    }

    /// Links that lead to live neighbours (bit l = link l).
    pub fn live_links(&self) -> u8 {
        self.links.live()
    }

    /// Packets sent on each link so far.
    pub fn link_packets(&self) -> [u64; 6] {
        self.links.packets()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chip::ChipConfig;
    use crate::trace;
    use crate::Cycle;

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
            c.inject(InFlight {
                packet: Packet::new(0x00, KEY + i, None),
                at: t,
                from: Source::Link(3),
            });
            c.inject(InFlight {
                packet: Packet::new(0x40, 0, Some(i)),
                at: t + 1,
                from: Source::Link(3),
            });
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
        c.inject(InFlight {
            packet: Packet::new(0x00, KEY, None),
            at: 10_000,
            from: Source::Link(3),
        });
        let first_leg = Packet::new(ER_FIRST_LEG << 4, 0x0DE7_0000, None);
        c.inject(InFlight {
            packet: first_leg,
            at: 20_000,
            from: Source::Link(2),
        });
        assert!(c.take_outgoing().iter().all(|p| p.packet.key == KEY));
        assert_eq!(drops(&mut c), [(0x0DE7_0000, 1 << 3, 0)]);
        assert_eq!(c.router_counters().dropped, 1);
    }
}
