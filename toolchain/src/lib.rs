// SPDX-License-Identifier: GPL-2.0-or-later
//! Maps applications onto SpiNNaker machines: routing table generation and
//! compression.
//!
//! [`compress`] turns the multicast routing tables a generator produces into
//! tables that fit a router's 1023 usable entries; [`target`] is where an
//! application runs (the simulator now, a real board later).

#![warn(missing_docs)]

pub mod compress;
pub mod target;

pub use compress::{
    lookup, minimise, remove_default_routes, CompressError, Entry, ROUTER_CAPACITY,
};
