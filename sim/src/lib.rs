//! spinn-sim: an instruction-level simulator of a SpiNNaker1 chip.
//!
//! Every core is a Unicorn ARM engine running the real firmware; memories and peripherals are
//! modelled at register level (see `../shared/docs/spinnaker-hardware.md` in the project tree for
//! the facts each module follows).

pub mod budget;
pub mod chip;
pub mod cost;
pub mod engine;
pub mod golden;
pub mod machine;
pub mod parallel;
pub mod sark;
pub mod scamp;
pub mod serve;
pub mod timing;
pub mod trace;
pub mod trace_tools;
pub mod workloads;

// The hardware's vocabulary, re-exported: the simulator speaks it throughout.
pub use spinn_hw::{geometry, program, report, routes, Cycle, CPU_CLK_MHZ, NS_PER_CYCLE};
