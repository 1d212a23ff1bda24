// SPDX-License-Identifier: GPL-2.0-or-later
//! Per-core vectored interrupt controller, an ARM PL190 (hardware notes §2.3; source numbers §4).
//!
//! Sixteen vectored slots (slot 0 highest priority) plus the non-vectored (default) level below
//! them. Reading VADDR enters the service of the best eligible level; writing VADDR leaves the
//! innermost one. While a level is in service only strictly higher levels reach nVICIRQ, which is
//! what lets an ISR re-enable interrupts and be nested by a more urgent one.

use super::device::{Access, Device};

const IRQST: u32 = 0x00;
const FIQST: u32 = 0x04;
const RAW: u32 = 0x08;
const SELECT: u32 = 0x0C;
const ENABLE: u32 = 0x10;
const DISABLE: u32 = 0x14;
const SOFT_SET: u32 = 0x18;
const SOFT_CLR: u32 = 0x1C;
const PROTECT: u32 = 0x20;
const VADDR: u32 = 0x30;
const DEFADDR: u32 = 0x34;
const VECTADDR0: u32 = 0x100;
const VECTCNTL0: u32 = 0x200;
const SLOTS: usize = 16;
/// Priority level of non-vectored interrupts (below every slot).
const DEFAULT_LEVEL: u32 = SLOTS as u32;

const CNTL_ENABLE: u32 = 0x20;
const CNTL_SOURCE: u32 = 0x1F;

// PL190 identification registers at 0xFE0–0xFFC: PeriphID0..3 then PCellID0..3.
const ID_REGS: [u32; 8] = [0x90, 0x11, 0x04, 0x00, 0x0D, 0xF0, 0x05, 0xB1];

/// One core's PL190 VIC: 32 sources, IRQ/FIQ steering, 16 prioritised vectors.
#[derive(Clone, Debug, Default)]
pub struct Vic {
    lines: u32,
    soft: u32,
    select: u32,
    enable: u32,
    protect: u32,
    def_addr: u32,
    vect_addr: [u32; SLOTS],
    vect_cntl: [u32; SLOTS],
    /// Bit n set = level n (0..=16) is in service. Nesting only ever enters a strictly higher
    /// level, so the lowest set bit is always the innermost: a bitmask is the whole stack.
    in_service: u32,
}

impl Vic {
    /// A VIC at reset: everything disabled, IRQ-steered, no vectors, nothing in service.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the hardware source levels (bit n = source n) driven by the peripherals.
    pub fn set_lines(&mut self, lines: u32) {
        self.lines = lines;
    }

    /// nVICIRQ: true while an enabled IRQ source outranks every level in service.
    pub fn irq(&self) -> bool {
        self.best_level().is_some()
    }

    /// nVICFIQ: true while any enabled source steered to FIQ is active (FIQs are not prioritised).
    pub fn fiq(&self) -> bool {
        self.fiq_status() != 0
    }

    fn raw(&self) -> u32 {
        self.lines | self.soft
    }

    fn irq_status(&self) -> u32 {
        self.raw() & self.enable & !self.select
    }

    fn fiq_status(&self) -> u32 {
        self.raw() & self.enable & self.select
    }

    /// Innermost level in service, or a level below the default one when idle.
    fn current_level(&self) -> u32 {
        self.in_service.trailing_zeros().min(DEFAULT_LEVEL + 1)
    }

    /// Sources claimed by an enabled vector slot (they are never non-vectored).
    fn vectored_sources(&self) -> u32 {
        self.vect_cntl
            .iter()
            .filter(|&&c| c & CNTL_ENABLE != 0)
            .fold(0, |m, &c| m | 1 << (c & CNTL_SOURCE))
    }

    /// The highest-priority level with an active source that outranks the level in service.
    fn best_level(&self) -> Option<u32> {
        let pending = self.irq_status();
        if pending == 0 {
            // Nothing asserted: the common case, asked at every register access of the core.
            return None;
        }
        let current = self.current_level();
        let vectored = (0..current.min(DEFAULT_LEVEL)).find(|&slot| {
            let c = self.vect_cntl[slot as usize];
            c & CNTL_ENABLE != 0 && pending & (1 << (c & CNTL_SOURCE)) != 0
        });
        vectored.or_else(|| {
            let non_vectored = pending & !self.vectored_sources() != 0;
            (current > DEFAULT_LEVEL && non_vectored).then_some(DEFAULT_LEVEL)
        })
    }

    fn level_addr(&self, level: u32) -> u32 {
        self.vect_addr
            .get(level as usize)
            .copied()
            .unwrap_or(self.def_addr)
    }

    /// Reads a register; reading VADDR acknowledges the interrupt it returns.
    pub fn read(&mut self, offset: u32) -> u32 {
        match offset {
            IRQST => self.irq_status(),
            FIQST => self.fiq_status(),
            RAW => self.raw(),
            SELECT => self.select,
            ENABLE => self.enable,
            SOFT_SET => self.soft,
            PROTECT => self.protect,
            VADDR => match self.best_level() {
                Some(level) => {
                    self.in_service |= 1 << level;
                    self.level_addr(level)
                }
                // Nothing new: PL190 keeps returning the address of the ISR in service (the
                // default address when idle), and a repeated read must not push another level.
                None => self.level_addr(self.current_level()),
            },
            DEFADDR => self.def_addr,
            0x100..=0x13C if offset.is_multiple_of(4) => self.vect_addr[slot(offset, VECTADDR0)],
            0x200..=0x23C if offset.is_multiple_of(4) => self.vect_cntl[slot(offset, VECTCNTL0)],
            0xFE0..=0xFFC if offset.is_multiple_of(4) => ID_REGS[((offset - 0xFE0) / 4) as usize],
            _ => 0, // DISABLE and SOFT_CLR are write-only; test registers are not modelled
        }
    }

    /// Writes a register; any write to VADDR ends the service of the innermost level.
    pub fn write(&mut self, offset: u32, value: u32) {
        match offset {
            SELECT => self.select = value,
            ENABLE => self.enable |= value,
            DISABLE => self.enable &= !value,
            SOFT_SET => self.soft |= value,
            SOFT_CLR => self.soft &= !value,
            // Stored only: the model cannot tell user from privileged accesses, and SARK runs
            // everything privileged anyway.
            PROTECT => self.protect = value & 1,
            VADDR => self.in_service &= self.in_service.wrapping_sub(1),
            DEFADDR => self.def_addr = value,
            0x100..=0x13C if offset.is_multiple_of(4) => {
                self.vect_addr[slot(offset, VECTADDR0)] = value
            }
            0x200..=0x23C if offset.is_multiple_of(4) => {
                self.vect_cntl[slot(offset, VECTCNTL0)] = value & (CNTL_ENABLE | CNTL_SOURCE)
            }
            _ => {} // read-only status, ID and unknown offsets
        }
    }
}

/// Slot index of a word offset inside a 16-word register bank starting at `base`.
fn slot(offset: u32, base: u32) -> usize {
    ((offset - base) / 4) as usize
}

impl Device for Vic {
    fn read(&mut self, offset: u32, _at: Access) -> u32 {
        Vic::read(self, offset)
    }

    fn write(&mut self, offset: u32, value: u32, _at: Access) {
        Vic::write(self, offset, value)
    }

    /// The VIC takes lines in and drives none.
    fn irq_lines(&self, _at: Access) -> u32 {
        0
    }

    fn reset(&mut self) {
        *self = Vic::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMER1: u32 = 4;
    const DMA_DONE: u32 = 12;
    const CC_MC: u32 = 24;
    const CPU_INT: u32 = 18;
    const SOFTWARE: u32 = 1;

    /// A VIC set up like spin1's configure_vic: handlers at 0x1000 + slot.
    fn spin1_vic() -> Vic {
        let mut v = Vic::new();
        v.write(DISABLE, 0xFFFF_FFFF);
        v.write(SELECT, 0);
        v.write(DEFADDR, 0xDEF0);
        for (slot, src) in [CPU_INT, 5, TIMER1, DMA_DONE, CC_MC, 27, 11, SOFTWARE]
            .iter()
            .enumerate()
        {
            v.write(VECTADDR0 + 4 * slot as u32, 0x1000 + slot as u32);
            v.write(VECTCNTL0 + 4 * slot as u32, CNTL_ENABLE | src);
        }
        v.write(
            ENABLE,
            (1 << CPU_INT) | (1 << TIMER1) | (1 << DMA_DONE) | (1 << CC_MC) | 2,
        );
        v
    }

    #[test]
    fn reset_state() {
        let mut v = Vic::new();
        for off in [
            IRQST, FIQST, RAW, SELECT, ENABLE, SOFT_SET, PROTECT, VADDR, DEFADDR,
        ] {
            assert_eq!(v.read(off), 0, "offset {off:#x}");
        }
        assert!(!v.irq());
        assert!(!v.fiq());
        v.set_lines(0xFFFF_FFFF);
        assert!(!v.irq(), "nothing enabled");
        assert_eq!(v.read(RAW), 0xFFFF_FFFF);
        assert_eq!(v.read(IRQST), 0);
    }

    #[test]
    fn enable_disable_set_and_clear_bits() {
        let mut v = Vic::new();
        v.write(ENABLE, 0b0101);
        v.write(ENABLE, 0b0010);
        assert_eq!(v.read(ENABLE), 0b0111);
        v.write(DISABLE, 0b0100);
        assert_eq!(v.read(ENABLE), 0b0011);
        assert_eq!(v.read(DISABLE), 0, "write-only");
        v.set_lines(0b0110);
        assert_eq!(v.read(IRQST), 0b0010);
        assert!(v.irq());
        v.write(DISABLE, 0b0010);
        assert!(!v.irq());
    }

    #[test]
    fn soft_set_and_clear() {
        let mut v = Vic::new();
        v.write(ENABLE, 1 << SOFTWARE);
        v.write(SOFT_SET, 1 << SOFTWARE);
        v.write(SOFT_SET, 1 << 30);
        assert_eq!(v.read(SOFT_SET), (1 << SOFTWARE) | (1 << 30));
        assert_eq!(v.read(RAW), (1 << SOFTWARE) | (1 << 30));
        assert_eq!(v.read(IRQST), 1 << SOFTWARE);
        assert!(v.irq());
        v.write(SOFT_CLR, 1 << SOFTWARE);
        assert_eq!(v.read(SOFT_SET), 1 << 30);
        assert_eq!(v.read(SOFT_CLR), 0, "write-only");
        assert!(!v.irq());
        // A soft bit ORs with the hardware line; clearing it leaves the line.
        v.set_lines(1 << SOFTWARE);
        v.write(SOFT_SET, 1 << SOFTWARE);
        v.write(SOFT_CLR, 1 << SOFTWARE);
        assert!(v.irq());
    }

    #[test]
    fn priority_picks_lowest_slot() {
        let mut v = spin1_vic();
        v.set_lines((1 << CC_MC) | (1 << DMA_DONE) | (1 << TIMER1));
        assert!(v.irq());
        assert_eq!(
            v.read(VADDR),
            0x1002,
            "timer1 in slot 2 beats DMA (3) and MC (4)"
        );
        v.set_lines((1 << CC_MC) | (1 << DMA_DONE));
        v.write(VADDR, 0);
        assert_eq!(v.read(VADDR), 0x1003);
        v.set_lines(1 << CC_MC);
        v.write(VADDR, 0);
        assert_eq!(v.read(VADDR), 0x1004);
        v.set_lines(0);
        v.write(VADDR, 0);
        assert!(!v.irq());
        assert_eq!(v.in_service, 0);
    }

    #[test]
    fn vaddr_read_masks_its_level_until_acknowledged() {
        let mut v = spin1_vic();
        v.set_lines(1 << TIMER1);
        assert_eq!(v.read(VADDR), 0x1002);
        assert!(!v.irq(), "the serviced level no longer asserts IRQ");
        // A second read returns the same ISR and pushes nothing.
        assert_eq!(v.read(VADDR), 0x1002);
        v.write(VADDR, 0x1234);
        assert_eq!(v.in_service, 0);
        assert!(
            v.irq(),
            "still asserted after the ack: the ISR did not clear the source"
        );
        v.set_lines(0);
        assert!(!v.irq());
        assert_eq!(v.read(VADDR), 0xDEF0, "idle: default address");
        assert_eq!(v.in_service, 0);
    }

    #[test]
    fn default_vector_for_non_vectored_sources() {
        let mut v = spin1_vic();
        v.write(ENABLE, 1 << 7); // enabled, but in no slot
        v.set_lines(1 << 7);
        assert!(v.irq());
        assert_eq!(v.read(VADDR), 0xDEF0);
        assert!(
            !v.irq(),
            "default level in service masks other non-vectored sources"
        );
        // Vectored ones still get through.
        v.set_lines((1 << 7) | (1 << CC_MC));
        assert!(v.irq());
        assert_eq!(v.read(VADDR), 0x1004);
        v.write(VADDR, 0);
        v.write(VADDR, 0);
        assert_eq!(v.in_service, 0);
    }

    #[test]
    fn nesting_three_levels_deep() {
        let mut v = spin1_vic();
        v.set_lines(1 << CC_MC); // slot 4
        assert_eq!(v.read(VADDR), 0x1004);
        v.set_lines((1 << CC_MC) | (1 << DMA_DONE)); // slot 3: higher, asserts
        assert!(v.irq());
        assert_eq!(v.read(VADDR), 0x1003);
        // Lower (non-vectored, and slot 4 again) stays masked; slot 3 itself too.
        v.write(ENABLE, 1 << 9);
        v.set_lines((1 << CC_MC) | (1 << DMA_DONE) | (1 << 9));
        assert!(!v.irq());
        v.set_lines((1 << CC_MC) | (1 << DMA_DONE) | (1 << 9) | (1 << CPU_INT)); // slot 0
        assert!(v.irq());
        assert_eq!(v.read(VADDR), 0x1000);
        assert!(!v.irq());
        // Unwind: each ack re-exposes exactly the levels above the next one out.
        v.set_lines((1 << CC_MC) | (1 << DMA_DONE) | (1 << 9));
        v.write(VADDR, 0); // leave slot 0 → slot 3 innermost
        assert!(!v.irq());
        v.set_lines((1 << CC_MC) | (1 << 9));
        v.write(VADDR, 0); // leave slot 3 → slot 4 innermost
        assert!(
            !v.irq(),
            "slot 4 and the non-vectored source are not above slot 4"
        );
        v.write(VADDR, 0); // leave slot 4
        assert!(v.irq());
        assert_eq!(v.read(VADDR), 0x1004);
        v.set_lines(1 << 9);
        v.write(VADDR, 0);
        assert_eq!(v.read(VADDR), 0xDEF0);
        v.set_lines(0);
        v.write(VADDR, 0);
        assert_eq!(v.in_service, 0);
        v.write(VADDR, 0); // extra acks are harmless
        assert_eq!(v.in_service, 0);
    }

    #[test]
    fn fiq_select_bypasses_irq_and_vaddr() {
        let mut v = spin1_vic();
        v.write(SELECT, 1 << CC_MC);
        assert_eq!(v.read(SELECT), 1 << CC_MC);
        v.set_lines(1 << CC_MC);
        assert!(v.fiq());
        assert!(!v.irq());
        assert_eq!(v.read(FIQST), 1 << CC_MC);
        assert_eq!(v.read(IRQST), 0);
        assert_eq!(v.read(VADDR), 0xDEF0);
        assert_eq!(v.in_service, 0);
        // FIQ ignores the in-service state and needs the enable.
        v.set_lines((1 << CC_MC) | (1 << CPU_INT));
        assert_eq!(v.read(VADDR), 0x1000);
        assert!(v.fiq());
        v.write(DISABLE, 1 << CC_MC);
        assert!(!v.fiq());
    }

    #[test]
    fn disabled_slot_is_ignored() {
        let mut v = spin1_vic();
        v.write(VECTCNTL0 + 4 * 2, TIMER1); // slot 2 keeps its source but loses its enable
        v.set_lines(1 << TIMER1);
        assert!(v.irq(), "still an enabled source, now non-vectored");
        assert_eq!(v.read(VADDR), 0xDEF0);
        v.write(VADDR, 0);
        // Disabled at the source enable: nothing at all.
        v.write(DISABLE, 1 << TIMER1);
        assert!(!v.irq());
    }

    #[test]
    fn duplicate_source_takes_best_slot() {
        let mut v = Vic::new();
        v.write(ENABLE, 1 << 3);
        v.write(VECTADDR0 + 4 * 9, 0x99);
        v.write(VECTCNTL0 + 4 * 9, CNTL_ENABLE | 3);
        v.write(VECTADDR0 + 4 * 5, 0x55);
        v.write(VECTCNTL0 + 4 * 5, CNTL_ENABLE | 3);
        v.set_lines(1 << 3);
        assert_eq!(v.read(VADDR), 0x55);
    }

    #[test]
    fn vector_registers_read_back() {
        let mut v = Vic::new();
        for slot in 0..16u32 {
            v.write(VECTADDR0 + 4 * slot, 0x8000_0000 | slot);
            v.write(VECTCNTL0 + 4 * slot, 0xFFFF_FFC0 | slot);
        }
        for slot in 0..16u32 {
            assert_eq!(v.read(VECTADDR0 + 4 * slot), 0x8000_0000 | slot);
            assert_eq!(
                v.read(VECTCNTL0 + 4 * slot),
                slot,
                "only bits [5:0] are kept"
            );
        }
        v.write(DEFADDR, 0xCAFE_F00D);
        assert_eq!(v.read(DEFADDR), 0xCAFE_F00D);
        v.write(PROTECT, 0xFFFF_FFFF);
        assert_eq!(v.read(PROTECT), 1);
    }

    #[test]
    fn status_registers_are_read_only() {
        let mut v = spin1_vic();
        v.set_lines(1 << TIMER1);
        v.write(IRQST, 0);
        v.write(FIQST, 0xFFFF_FFFF);
        v.write(RAW, 0);
        assert_eq!(v.read(RAW), 1 << TIMER1);
        assert_eq!(v.read(IRQST), 1 << TIMER1);
        assert_eq!(v.read(FIQST), 0);
    }

    #[test]
    fn id_registers() {
        let mut v = Vic::new();
        let ids: Vec<u32> = (0..8).map(|i| v.read(0xFE0 + 4 * i)).collect();
        assert_eq!(ids, [0x90, 0x11, 0x04, 0x00, 0x0D, 0xF0, 0x05, 0xB1]);
        v.write(0xFE0, 0);
        assert_eq!(v.read(0xFE0), 0x90);
    }

    #[test]
    fn unknown_offsets_are_harmless() {
        let mut v = spin1_vic();
        let before = format!("{v:?}");
        for off in [
            0x24, 0x2C, 0x38, 0x140, 0x1FC, 0x240, 0x300, 0x101, 0x202, 0xFE1, 0x1000,
        ] {
            v.write(off, 0xFFFF_FFFF);
            assert_eq!(v.read(off), 0, "offset {off:#x}");
        }
        for off in [u32::MAX, 0xFFFF_FFFC, 0x8000_0000] {
            v.write(off, 0xFFFF_FFFF);
            assert_eq!(v.read(off), 0);
        }
        assert_eq!(format!("{v:?}"), before);
    }

    #[test]
    fn random_register_traffic_never_panics() {
        let mut v = Vic::new();
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let off = (x >> 20) as u32 % 0x1004;
            match x % 4 {
                0 => v.write(off, (x >> 32) as u32),
                1 => v.set_lines((x >> 32) as u32),
                _ => {
                    v.read(off);
                }
            }
            assert!(v.in_service < 1 << 17);
            let _ = (v.irq(), v.fiq());
        }
    }
}
