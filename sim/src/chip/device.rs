// SPDX-License-Identifier: GPL-2.0-or-later
//! The contract every memory-mapped block of a chip meets, so that a core's MMIO dispatch,
//! its interrupt lines and the chip's next-event computation loop over one table
//! ([`spinn_hw::map::Device::ALL`]) instead of naming each block. Adding a block is its own
//! file, a line in the address map, and an arm in [`super::core::CoreState::device`] or
//! [`super::Shared::device`].

pub use spinn_hw::map::Device as Kind;

use crate::Cycle;

/// Who touches a block and when: the time of the access, the physical core making it (or
/// whose VIC is asking), and whether that core is the chip's monitor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// Simulated time of the access.
    pub now: Cycle,
    /// Physical core number.
    pub core: u8,
    /// True when `core` is the monitor (SC_MON_ID), which alone receives WDOG_INT.
    pub monitor: bool,
}

/// A memory-mapped block: registers read and written at a time, the VIC source lines it
/// drives, when its outputs next change by themselves, and its reset.
pub trait Device {
    /// Reads the word register at byte `offset` of the block.
    fn read(&mut self, offset: u32, at: Access) -> u32;
    /// Writes the word register at byte `offset` of the block.
    fn write(&mut self, offset: u32, value: u32, at: Access);
    /// VIC source lines (bit n = source n) the block drives towards `at.core` at `at.now`.
    fn irq_lines(&self, _at: Access) -> u32 {
        0
    }
    /// Earliest cycle after `now` at which an output changes without a register access.
    fn next_event(&self, _now: Cycle) -> Option<Cycle> {
        None
    }
    /// Returns to the state after a reset of the block.
    fn reset(&mut self);
}

/// The PL340 SDRAM controller as plain registers (hardware notes §2.8): only the monitor
/// programs it, and `pl340_init` polls DLL_STATUS bit 18 (locked), which therefore reads 1.
pub struct Pl340 {
    regs: Box<[u32; 1024]>,
}

/// PL340 DLL_STATUS.
const PL340_DLL_STATUS: u32 = 0x300;

impl Default for Pl340 {
    fn default() -> Self {
        Pl340 {
            regs: Box::new([0; 1024]),
        }
    }
}

impl Device for Pl340 {
    fn read(&mut self, offset: u32, _at: Access) -> u32 {
        if offset == PL340_DLL_STATUS {
            return 1 << 18;
        }
        self.regs.get((offset / 4) as usize).copied().unwrap_or(0)
    }

    fn write(&mut self, offset: u32, value: u32, _at: Access) {
        if let Some(r) = self.regs.get_mut((offset / 4) as usize) {
            *r = value;
        }
    }

    fn reset(&mut self) {
        *self = Pl340::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pl340_reads_back_and_reports_its_dll_locked() {
        let at = Access {
            now: 0,
            core: 0,
            monitor: true,
        };
        let mut p = Pl340::default();
        p.write(0x10, 0x1234, at);
        assert_eq!(p.read(0x10, at), 0x1234);
        assert_eq!(p.read(PL340_DLL_STATUS, at), 1 << 18);
        p.reset();
        assert_eq!(p.read(0x10, at), 0);
    }
}
