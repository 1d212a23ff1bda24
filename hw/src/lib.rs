// SPDX-License-Identifier: GPL-2.0-or-later
//! spinn-hw: SpiNNaker1's hardware vocabulary, shared by the simulator, the toolchain and the
//! board client: machine geometry, the address map, the System RAM layout a booted board has,
//! core states, routing entries, programs (ELF and APLX) and run reports. No emulator here:
//! a crate that only talks to a real board builds without Unicorn.

pub mod files;
pub mod geometry;
pub mod map;
pub mod program;
pub mod report;
pub mod routes;
pub mod sysram;

/// Simulated time, in core clock cycles (200 MHz: one cycle is 5 ns).
pub type Cycle = u64;

/// Core clock frequency in MHz, as SC&MP leaves it in `sv->cpu_clk`.
pub const CPU_CLK_MHZ: u64 = 200;

/// Nanoseconds per core clock cycle.
pub const NS_PER_CYCLE: u64 = 1000 / CPU_CLK_MHZ;
