// SPDX-License-Identifier: GPL-2.0-or-later
//! What a run tells the host: why it stopped and, per application core, what its vcpu block,
//! IOBUF and counters say. Both targets (simulator and board) report in these terms.

use crate::sysram::CpuState;

/// Why a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum StopReason {
    /// Every loaded core reached EXIT, RTE or WDOG (or was halted by the simulator).
    AllFinished,
    /// The time limit was reached.
    TimeLimit,
    /// Every running core sleeps with nothing that could ever wake it.
    Deadlock,
}

/// Everything the host can learn about one application core after a run.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CoreReport {
    /// Chip x.
    pub x: u8,
    /// Chip y.
    pub y: u8,
    /// Virtual core number.
    pub p: u8,
    /// Physical core number.
    pub phys: u8,
    /// State, serialised by the name SpiNNaker's tools print.
    pub state: CpuState,
    /// Run-time error code (0 when none).
    pub rt_code: u8,
    /// Run-time error name.
    pub rt_name: String,
    /// For RTE: the faulting instruction's address; otherwise the core's current PC.
    pub pc: u32,
    /// vcpu user0..user3.
    pub user: [u32; 4],
    /// Cycles spent executing (not asleep).
    pub cycles: u64,
    /// Instructions executed.
    pub instructions: u64,
    /// IOBUF text.
    pub iobuf: String,
    /// Why the simulator halted the core, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub halt_reason: Option<String>,
}
