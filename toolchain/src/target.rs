// SPDX-License-Identifier: GPL-2.0-or-later
//! Where an application runs: the `Target` trait. Everything above it (mapping, loading,
//! running, reading results back) is the same whichever target runs: the simulator
//! ([`SimTarget`], the default, behind the `sim` feature) or a real board ([`crate::board`]).

use spinn_hw::geometry::MachineDesc;
use spinn_hw::program::Program;
use spinn_hw::report::{CoreReport, StopReason};
use spinn_hw::routes::RouteEntry;

/// What went wrong on a target, in words a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The simulated machine refused a load, a table or an address.
    #[cfg(feature = "sim")]
    #[error(transparent)]
    Machine(#[from] spinn_sim::machine::MachineError),
    /// The simulator's host cannot hold the machine or the cores asked for.
    #[cfg(feature = "sim")]
    #[error(transparent)]
    Budget(#[from] spinn_sim::budget::BudgetError),
    /// No memory answers at this address of this chip.
    #[error("chip ({0},{1}): no memory at {2:#010x} (+{3} bytes)")]
    BadAddress(u8, u8, u32, usize),
    /// A chip has no free SDRAM block of this size.
    #[error("chip ({x},{y}): no free SDRAM block of {bytes} bytes")]
    OutOfSdram {
        /// Chip x.
        x: u8,
        /// Chip y.
        y: u8,
        /// Bytes asked for.
        bytes: u32,
    },
    /// A board could not be reached or used.
    #[error("board: {0}")]
    Board(String),
    /// A board did not answer a request, however often it was sent.
    #[error("board {peer}: no reply to {what} after {attempts} attempts (is it on, booted, and reachable?)")]
    NoReply {
        /// The board's address.
        peer: String,
        /// The request.
        what: String,
        /// Times it was sent.
        attempts: u32,
    },
    /// A board answered a request with an error return code.
    #[error("board: {what} failed with return code {rc:#04x}")]
    ScpFailed {
        /// The request.
        what: String,
        /// SC&MP's return code.
        rc: u16,
    },
    /// The machine answering is not a SpiNNaker running SC&MP 4.
    #[error("board: expected SC&MP 4.x, the machine says {0:?}")]
    WrongVersion(String),
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunEnd {
    /// Why it stopped.
    pub stop: StopReason,
    /// Simulated (or elapsed) time in nanoseconds.
    pub time_ns: u64,
}

/// A machine that runs applications: loads them, runs them, and hands back what they left.
pub trait Target {
    /// The machine's shape: chips, links, dead parts.
    fn machine(&self) -> &MachineDesc;
    /// Loads `program` onto virtual core `p` of chip (x, y) with `app_id`, ready to start.
    fn load(
        &mut self,
        x: u8,
        y: u8,
        p: u32,
        program: &Program,
        app_id: u8,
    ) -> Result<(), TargetError>;
    /// Refuses, before any of them is loaded, `cores` more loaded cores than the target can
    /// hold (a simulator's host memory); a board holds what it has cores for.
    fn check_capacity(&self, cores: usize) -> Result<(), TargetError> {
        let _ = cores;
        Ok(())
    }
    /// Writes multicast routing entries (virtual cores in the route words).
    fn load_routes(&mut self, entries: &[RouteEntry]) -> Result<(), TargetError>;
    /// Allocates `bytes` of chip (x, y)'s SDRAM for application `app_id` and returns the
    /// address (on a board, from SC&MP's heap, so nothing of the system's is overwritten).
    fn alloc_sdram(&mut self, x: u8, y: u8, bytes: u32, app_id: u8) -> Result<u32, TargetError>;
    /// Writes bytes into a chip's SDRAM or System RAM.
    fn write_memory(&mut self, x: u8, y: u8, addr: u32, data: &[u8]) -> Result<(), TargetError>;
    /// Reads bytes from a chip's SDRAM or System RAM.
    fn read_memory(&mut self, x: u8, y: u8, addr: u32, len: usize) -> Result<Vec<u8>, TargetError>;
    /// Runs until every loaded core has finished or `limit_ns` of time has passed.
    fn run(&mut self, limit_ns: u64) -> Result<RunEnd, TargetError>;
    /// Releases the cores of `app_id` waiting at the SYNC0 barrier (`spin1_start(SYNC_WAIT)`)
    /// with SC&MP's SIG_SYNC0: their SC flag bits cleared and a CPU interrupt raised, so that
    /// they start together once every one has finished its set-up.
    fn signal_sync0(&mut self, app_id: u8) -> Result<(), TargetError>;
    /// Every loaded core: state, run-time error, user words, IOBUF, cycles.
    fn cores(&mut self) -> Result<Vec<CoreReport>, TargetError>;
    /// Multicast traffic so far over the whole machine, from the routers' counters.
    fn packet_counts(&mut self) -> Result<PacketCounts, TargetError>;
}

/// Packets the routers of a machine handled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketCounts {
    /// Packets sent by cores (each counted once, however many routers it crossed).
    pub sent: u64,
    /// Packets dropped by routers.
    pub dropped: u64,
}

/// Nanoseconds in one millisecond, for callers that think in milliseconds.
pub const NS_PER_MS: u64 = 1_000_000;

#[cfg(feature = "sim")]
pub use crate::sim_target::SimTarget;
