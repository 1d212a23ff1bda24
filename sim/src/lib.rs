//! spinn-sim: an instruction-level simulator of a SpiNNaker1 chip.
//!
//! Every core is a Unicorn ARM engine running the real firmware; memories and peripherals are
//! modelled at register level (see `../shared/docs/spinnaker-hardware.md` in the project tree for
//! the facts each module follows).

pub mod chip;
pub mod cost;
pub mod geometry;
pub mod golden;
pub mod loader;
pub mod machine;
pub mod parallel;
pub mod routes;
pub mod sark;
pub mod scamp;
pub mod serve;
pub mod timing;
pub mod trace;
pub mod trace_tools;
pub mod workloads;

/// Simulated time, in core clock cycles (200 MHz: one cycle is 5 ns).
pub type Cycle = u64;

/// Core clock frequency in MHz, as SC&MP leaves it in `sv->cpu_clk`.
pub const CPU_CLK_MHZ: u64 = 200;

/// Nanoseconds per core clock cycle.
pub const NS_PER_CYCLE: u64 = 1000 / CPU_CLK_MHZ;
