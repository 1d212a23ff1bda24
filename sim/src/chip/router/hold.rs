// SPDX-License-Identifier: GPL-2.0-or-later
//! Packets the router holds for one core whose receive buffer is full (hardware notes §3.4):
//! served one at a time in arrival order, each waiting at most the router's wait time once it
//! is at the head of the queue, then dropped.

use std::collections::VecDeque;

use crate::chip::cc::CommsController;
use crate::chip::packet::InFlight;
use crate::Cycle;

/// What became of a held packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Released {
    /// It waited longer than the router's wait time and was dropped at `at`.
    Dropped {
        /// The packet, with where it came from.
        packet: InFlight,
        /// When its wait ran out.
        at: Cycle,
    },
    /// It went into the receive buffer at the current time.
    Delivered(InFlight),
}

/// The queue of packets held for one core.
#[derive(Clone, Debug, Default)]
pub struct Hold {
    /// Held packets (arriving at `at`) with the wait time the router gave each.
    queue: VecDeque<(InFlight, Cycle)>,
    /// When the head of the queue became the head (the previous packet left it).
    head_since: Cycle,
}

impl Hold {
    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Holds `packet` (reaching the core at `packet.at`) for up to `wait` cycles at the head.
    pub fn push(&mut self, packet: InFlight, wait: Cycle) {
        self.queue.push_back((packet, wait));
    }

    /// Moves held packets into `cc` as it frees up by `now`, and drops those that waited
    /// longer than their wait time; `released` hears of each, in order.
    pub fn refill(
        &mut self,
        cc: &mut CommsController,
        now: Cycle,
        mut released: impl FnMut(Released),
    ) {
        while let Some(&(f, wait)) = self.queue.front() {
            let deadline = f.at.max(self.head_since) + wait;
            if deadline < now {
                self.queue.pop_front();
                self.head_since = deadline;
                released(Released::Dropped {
                    packet: f,
                    at: deadline,
                });
            } else if cc.deliver(f.packet, now) {
                self.queue.pop_front();
                self.head_since = now;
                released(Released::Delivered(f));
            } else {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chip::packet::{Packet, Source};

    fn held(key: u32, at: Cycle) -> InFlight {
        InFlight {
            packet: Packet::new(0, key, None),
            at,
            from: Source::Link(0),
        }
    }

    #[test]
    fn a_packet_waits_from_when_it_reaches_the_head_then_is_dropped() {
        let mut cc = CommsController::new();
        // Fill the receive buffer so that nothing more fits.
        let mut n = 0;
        while cc.deliver(Packet::new(0, 0xF000 + n, None), 0) {
            n += 1;
        }
        let mut h = Hold::default();
        h.push(held(1, 10), 100);
        h.push(held(2, 20), 100);
        let mut seen = Vec::new();
        h.refill(&mut cc, 105, |r| seen.push(r));
        assert!(seen.is_empty(), "both still within their wait");
        h.refill(&mut cc, 111, |r| seen.push(r));
        // The first ran out at 110; the second's wait only started then, so it lasts to 210.
        assert_eq!(
            seen,
            vec![Released::Dropped {
                packet: held(1, 10),
                at: 110
            }]
        );
        h.refill(&mut cc, 200, |r| seen.push(r));
        assert_eq!(seen.len(), 1);
        h.refill(&mut cc, 211, |r| seen.push(r));
        assert_eq!(seen.len(), 2);
        assert!(h.is_empty());
    }
}
