// SPDX-License-Identifier: GPL-2.0-or-later
//! One SpiNNaker chip: 18 cores with their private peripherals, and the shared blocks (router,
//! system controller, watchdog, System RAM, SDRAM). The chip wires the blocks together: blocks
//! never reach into each other.

pub mod cc;
pub mod core;
pub mod device;
pub mod dma;
pub mod fault;
pub mod memory;
pub mod packet;
pub mod router;
pub mod sysctl;
pub mod sysram;
pub mod timer;
pub mod vic;
pub mod watchdog;

mod host;
mod scheduler;
mod shared;

pub use scheduler::*;
pub(crate) use shared::{system_read, system_write};
pub use shared::{Shared, Tracer};
