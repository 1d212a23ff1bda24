// SPDX-License-Identifier: GPL-2.0-or-later
//! The P2P tables SC&MP leaves after boot (every reachable chip over a shortest path, the lowest
//! link on ties), worked out when first used instead of when the machine is built.
//!
//! Written out, the tables of a machine of N chips hold N² entries: building a machine of
//! 9,216 chips spent over a minute filling them, most of which no packet ever reads. A router
//! instead asks a [`P2pRoutes`] shared by the chips of its machine part: a packet's lookup
//! walks one destination's table ([`Towards`], built in time linear in N and kept while there
//! is room), and a table that is read or written through its registers is first written out
//! in full for that chip alone ([`first_links_from`], also linear in N). The answers are the
//! same as the written-out tables', whatever was asked before.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use spinn_hw::geometry::MachineDesc;
use spinn_hw::routes::{first_links_from, Towards};

/// Host bytes the destination tables of one [`P2pRoutes`] may keep (beyond that the oldest go,
/// to be built again when asked for).
pub const P2P_CACHE_BYTES: usize = 8 << 20;

/// The boot-time P2P routes of one machine, shared by the routers of the chips one host thread
/// simulates.
#[derive(Debug)]
pub struct P2pRoutes {
    desc: MachineDesc,
    /// Destination tables kept, at most `capacity`, oldest first in `order`.
    towards: RefCell<HashMap<(u8, u8), Rc<Towards>>>,
    order: RefCell<VecDeque<(u8, u8)>>,
    capacity: usize,
}

impl P2pRoutes {
    /// The routes of `desc` (nothing is worked out yet).
    pub fn new(desc: MachineDesc) -> Rc<P2pRoutes> {
        let table = Towards::bytes(desc.width(), desc.height()).max(1);
        Rc::new(P2pRoutes {
            desc,
            towards: RefCell::new(HashMap::new()),
            order: RefCell::new(VecDeque::new()),
            capacity: (P2P_CACHE_BYTES / table).max(1),
        })
    }

    /// The link from chip `from` toward P2P address `dest` (x in bits 15..8, y in 7..0), None
    /// when `dest` is `from` itself or no chip that `from` reaches (its entry stays as it was).
    pub fn link(&self, from: (u8, u8), dest: u16) -> Option<u8> {
        let dst = ((dest >> 8) as u8, dest as u8);
        if dst == from || !self.desc.has_chip(dst.0, dst.1) {
            return None;
        }
        self.towards(dst).link(from)
    }

    /// Every destination chip `from` reaches, with its link, in (x, y) order: the chip's whole
    /// table, for when it is written out.
    pub fn row(&self, from: (u8, u8)) -> Vec<((u8, u8), u8)> {
        first_links_from(&self.desc, from)
    }

    /// The table toward `dst`, built now unless kept from an earlier lookup.
    fn towards(&self, dst: (u8, u8)) -> Rc<Towards> {
        if let Some(t) = self.towards.borrow().get(&dst) {
            return t.clone();
        }
        let t = Rc::new(Towards::new(&self.desc, dst));
        let mut kept = self.towards.borrow_mut();
        let mut order = self.order.borrow_mut();
        if order.len() >= self.capacity {
            if let Some(old) = order.pop_front() {
                kept.remove(&old);
            }
        }
        order.push_back(dst);
        kept.insert(dst, t.clone());
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spinn_hw::routes::next_links;

    #[test]
    fn lookups_agree_with_the_written_out_tables_even_when_evicted() {
        let desc = MachineDesc::boards(3).unwrap();
        let routes = P2pRoutes::new(desc.clone());
        // Room for two destinations only: every other lookup builds its table again.
        let routes = P2pRoutes {
            capacity: 2,
            ..Rc::try_unwrap(routes).unwrap()
        };
        for round in 0..2 {
            for dst in desc.chips() {
                let dest = u16::from(dst.0) << 8 | u16::from(dst.1);
                let links = next_links(&desc, dst);
                for from in desc.chips().into_iter().step_by(7 + round) {
                    assert_eq!(routes.link(from, dest), links.get(&from).copied());
                }
                assert_eq!(routes.link(dst, dest), None);
            }
            assert!(routes.order.borrow().len() <= 2);
        }
        // Addresses of no chip.
        assert_eq!(routes.link((0, 0), 0xFFFF), None);
        assert_eq!(routes.link((0, 0), 0x0C00), None);
    }
}
