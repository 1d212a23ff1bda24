// SPDX-License-Identifier: GPL-2.0-or-later
//! The chip's watchdog, an ARM SP805 (hardware notes §2.7; WDOG_INT is VIC source 0 in §4).
//!
//! The counter runs lazily: state is kept as "zero events happen at these watchdog-clock ticks"
//! and folded into the sticky interrupt/reset flags only when the guest writes.

use super::device::{Access, Device};
use crate::Cycle;

/// CPU cycles per watchdog clock tick.
// UNVERIFIED: the notes do not say what clocks WDOGCLK; we assume the 10 MHz crystal
// (CLK_XTAL_MHZ, §1.1), the chip's only fixed-frequency reference: 20 cycles at 200 MHz.
pub const WDOG_CYCLES_PER_TICK: Cycle = 20;
/// Value that unlocks register writes when written to WD_LOCK.
pub const UNLOCK_KEY: u32 = 0x1ACC_E551;

const LOAD: u32 = 0x00;
const VALUE: u32 = 0x04;
const CONTROL: u32 = 0x08;
const INTCLR: u32 = 0x0C;
const RIS: u32 = 0x10;
const MIS: u32 = 0x14;
const LOCK: u32 = 0xC00;
const ID_BASE: u32 = 0xFE0;
const INTEN: u32 = 1 << 0;
const RESEN: u32 = 1 << 1;
// SP805 PeriphID0-3 (part 0x805, designer 0x41, revision 1) and the PrimeCell IDs.
const ID_REGS: [u32; 8] = [0x05, 0x18, 0x14, 0x00, 0x0D, 0xF0, 0x05, 0xB1];

/// One chip's SP805 watchdog.
#[derive(Clone, Debug)]
pub struct Watchdog {
    load: u32,
    control: u32,
    locked: bool,
    // Raw interrupt and reset output as of the last fold.
    ris: bool,
    reset: bool,
    // While counting: the counter reaches zero at tick `first_zero`, then every load+1 ticks.
    first_zero: u64,
    // Zero events up to the last fold, already reflected in `ris`/`reset`.
    folded: u64,
    // Counter value while stopped.
    frozen: u32,
}

impl Default for Watchdog {
    fn default() -> Self {
        Self::new()
    }
}

impl Watchdog {
    /// A watchdog as after reset: unlocked, stopped, LOAD and VALUE 0xFFFFFFFF.
    pub fn new() -> Self {
        Watchdog {
            load: u32::MAX,
            control: 0,
            locked: false,
            ris: false,
            reset: false,
            first_zero: 0,
            folded: 0,
            frozen: u32::MAX,
        }
    }

    /// Reads the register at byte `offset`.
    pub fn read(&mut self, offset: u32, now: Cycle) -> u32 {
        match offset & !3 {
            LOAD => self.load,
            VALUE => self.value(now),
            CONTROL => self.control,
            RIS => u32::from(self.raw(now)),
            MIS => u32::from(self.irq(now)),
            LOCK => u32::from(self.locked),
            off @ ID_BASE..=0xFFC => ID_REGS[((off - ID_BASE) / 4) as usize],
            _ => 0,
        }
    }

    /// Writes the register at byte `offset`; ignored while locked (except WD_LOCK itself).
    pub fn write(&mut self, offset: u32, value: u32, now: Cycle) {
        let offset = offset & !3;
        if offset == LOCK {
            self.locked = value != UNLOCK_KEY;
            return;
        }
        if self.locked {
            return;
        }
        match offset {
            LOAD => {
                self.fold(now);
                self.load = value;
                self.restart(now);
            }
            CONTROL => {
                let value_now = self.value(now);
                self.fold(now);
                let was = self.counting();
                self.control = value & (INTEN | RESEN);
                match (was, self.counting()) {
                    // Re-enabling restarts the count from LOAD, as the SP805 does.
                    (false, true) => self.restart(now),
                    (true, false) => self.frozen = value_now,
                    _ => {}
                }
            }
            INTCLR => {
                self.fold(now);
                self.ris = false;
                self.restart(now);
            }
            _ => {}
        }
    }

    /// WDOG_INT (VIC source 0, routed to the monitor): raw interrupt and INTEN.
    pub fn irq(&self, now: Cycle) -> bool {
        self.counting() && self.raw(now)
    }

    /// Whether the reset output has asserted; it latches until the chip is reset.
    pub fn reset_asserted(&self, now: Cycle) -> bool {
        if self.reset {
            return true;
        }
        let new = self.new_events(now);
        self.control & RESEN != 0 && (new >= 2 || (new >= 1 && self.ris))
    }

    /// Earliest cycle after `now` at which the interrupt or reset output changes by itself.
    pub fn next_event(&self, now: Cycle) -> Option<Cycle> {
        if !self.counting() || self.reset_asserted(now) {
            return None;
        }
        if self.raw(now) && self.control & RESEN == 0 {
            return None;
        }
        let tick = now / WDOG_CYCLES_PER_TICK;
        let next = if tick < self.first_zero {
            self.first_zero
        } else {
            let period = self.period();
            let done = (tick - self.first_zero) / period + 1;
            self.first_zero.checked_add(done.checked_mul(period)?)?
        };
        next.checked_mul(WDOG_CYCLES_PER_TICK)
    }

    fn counting(&self) -> bool {
        self.control & INTEN != 0
    }

    fn period(&self) -> u64 {
        // From zero the counter reloads on the next tick, so a cycle is LOAD + 1 ticks.
        u64::from(self.load) + 1
    }

    fn total_events(&self, now: Cycle) -> u64 {
        let tick = now / WDOG_CYCLES_PER_TICK;
        if !self.counting() || tick < self.first_zero {
            return 0;
        }
        (tick - self.first_zero) / self.period() + 1
    }

    fn new_events(&self, now: Cycle) -> u64 {
        self.total_events(now).saturating_sub(self.folded)
    }

    fn raw(&self, now: Cycle) -> bool {
        self.ris || self.new_events(now) >= 1
    }

    fn value(&self, now: Cycle) -> u32 {
        if !self.counting() {
            return self.frozen;
        }
        let tick = now / WDOG_CYCLES_PER_TICK;
        if tick <= self.first_zero {
            return (self.first_zero - tick) as u32;
        }
        match (tick - self.first_zero) % self.period() {
            0 => 0,
            m => (self.period() - m) as u32,
        }
    }

    fn fold(&mut self, now: Cycle) {
        self.reset = self.reset_asserted(now);
        self.ris = self.raw(now);
        self.folded = self.total_events(now);
    }

    fn restart(&mut self, now: Cycle) {
        self.first_zero = (now / WDOG_CYCLES_PER_TICK).saturating_add(u64::from(self.load));
        self.folded = 0;
        self.frozen = self.load;
    }
}

impl Device for Watchdog {
    fn read(&mut self, offset: u32, at: Access) -> u32 {
        Watchdog::read(self, offset, at.now)
    }

    fn write(&mut self, offset: u32, value: u32, at: Access) {
        Watchdog::write(self, offset, value, at.now)
    }

    /// WDOG_INT (VIC source 0), wired to the monitor alone.
    fn irq_lines(&self, at: Access) -> u32 {
        u32::from(at.monitor && self.irq(at.now))
    }

    fn next_event(&self, now: Cycle) -> Option<Cycle> {
        Watchdog::next_event(self, now)
    }

    fn reset(&mut self) {
        *self = Watchdog::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Cycle = WDOG_CYCLES_PER_TICK;

    fn running(load: u32, resen: bool) -> Watchdog {
        let mut w = Watchdog::new();
        w.write(LOAD, load, 0);
        w.write(CONTROL, INTEN | if resen { RESEN } else { 0 }, 0);
        w
    }

    #[test]
    fn reset_state() {
        let mut w = Watchdog::new();
        assert_eq!(w.read(LOAD, 0), 0xFFFF_FFFF);
        assert_eq!(w.read(VALUE, 0), 0xFFFF_FFFF);
        assert_eq!(w.read(CONTROL, 0), 0);
        assert_eq!(w.read(RIS, 0), 0);
        assert_eq!(w.read(MIS, 0), 0);
        assert_eq!(w.read(LOCK, 0), 0);
        assert!(!w.irq(1 << 40));
        assert!(!w.reset_asserted(1 << 40));
        assert_eq!(w.next_event(0), None);
        assert_eq!(w.read(VALUE, 1 << 40), 0xFFFF_FFFF);
    }

    #[test]
    fn id_registers() {
        let mut w = Watchdog::new();
        let ids: Vec<u32> = (0..8).map(|i| w.read(0xFE0 + 4 * i, 0)).collect();
        assert_eq!(ids, [0x05, 0x18, 0x14, 0x00, 0x0D, 0xF0, 0x05, 0xB1]);
        w.write(0xFE0, 0, 0);
        assert_eq!(w.read(0xFE0, 0), 0x05);
    }

    #[test]
    fn counts_down_at_watchdog_clock() {
        let mut w = running(100, false);
        assert_eq!(w.read(VALUE, 0), 100);
        assert_eq!(w.read(VALUE, T - 1), 100);
        assert_eq!(w.read(VALUE, T), 99);
        assert_eq!(w.read(VALUE, 99 * T), 1);
        assert!(!w.irq(100 * T - 1));
        assert_eq!(w.next_event(0), Some(100 * T));
        assert_eq!(w.read(VALUE, 100 * T), 0);
        assert!(w.irq(100 * T));
        assert_eq!(w.read(RIS, 100 * T), 1);
        assert_eq!(w.read(MIS, 100 * T), 1);
        // Reloads on the next tick and keeps going.
        assert_eq!(w.read(VALUE, 101 * T), 100);
        assert_eq!(w.read(VALUE, 102 * T), 99);
        // Without RESEN nothing further changes.
        assert_eq!(w.next_event(100 * T), None);
        assert!(!w.reset_asserted(10_000 * T));
    }

    #[test]
    fn reset_when_interrupt_not_cleared() {
        let w = running(10, true);
        assert_eq!(w.next_event(0), Some(10 * T));
        assert!(w.irq(10 * T));
        assert!(!w.reset_asserted(10 * T));
        assert_eq!(w.next_event(10 * T), Some(21 * T));
        assert!(!w.reset_asserted(21 * T - 1));
        assert!(w.reset_asserted(21 * T));
        assert_eq!(w.next_event(21 * T), None);
    }

    #[test]
    fn intclr_clears_and_reloads() {
        let mut w = running(10, true);
        assert!(w.irq(15 * T));
        w.write(INTCLR, 0, 15 * T);
        assert!(!w.irq(15 * T));
        assert_eq!(w.read(VALUE, 15 * T), 10);
        assert_eq!(w.next_event(15 * T), Some(25 * T));
        assert!(w.irq(25 * T));
        assert!(!w.reset_asserted(35 * T));
        assert!(w.reset_asserted(36 * T));
    }

    #[test]
    fn kicking_before_zero_prevents_interrupt() {
        let mut w = running(10, true);
        for k in 1..100 {
            w.write(INTCLR, 1, k * 5 * T);
        }
        assert!(!w.irq(500 * T));
        assert_eq!(w.read(VALUE, 500 * T), 5);
    }

    #[test]
    fn reset_latches_even_after_clear() {
        let mut w = running(3, true);
        assert!(w.reset_asserted(8 * T));
        w.write(INTCLR, 0, 9 * T);
        assert!(!w.irq(9 * T));
        assert!(w.reset_asserted(9 * T));
        w.write(CONTROL, 0, 10 * T);
        assert!(w.reset_asserted(100 * T));
    }

    #[test]
    fn interrupt_already_pending_when_resen_set() {
        let mut w = running(10, false);
        assert!(w.irq(12 * T));
        w.write(CONTROL, INTEN | RESEN, 12 * T);
        // Same count continues: next zero at tick 21 resets.
        assert_eq!(w.read(VALUE, 12 * T), 9);
        assert_eq!(w.next_event(12 * T), Some(21 * T));
        assert!(w.reset_asserted(21 * T));
    }

    #[test]
    fn disable_freezes_and_enable_reloads() {
        let mut w = running(50, false);
        w.write(CONTROL, 0, 10 * T);
        assert_eq!(w.read(VALUE, 10 * T), 40);
        assert_eq!(w.read(VALUE, 1000 * T), 40);
        assert!(!w.irq(1000 * T));
        assert_eq!(w.next_event(10 * T), None);
        w.write(CONTROL, INTEN, 1000 * T);
        assert_eq!(w.read(VALUE, 1000 * T), 50);
        assert_eq!(w.next_event(1000 * T), Some(1050 * T));
    }

    #[test]
    fn inten_masks_interrupt_output_but_keeps_raw() {
        let mut w = running(5, false);
        w.write(CONTROL, 0, 6 * T);
        assert_eq!(w.read(RIS, 6 * T), 1);
        assert_eq!(w.read(MIS, 6 * T), 0);
        assert!(!w.irq(6 * T));
        w.write(CONTROL, INTEN, 7 * T);
        assert!(w.irq(7 * T));
    }

    #[test]
    fn load_write_restarts_count() {
        let mut w = running(1000, false);
        w.write(LOAD, 20, 100 * T + 3);
        assert_eq!(w.read(LOAD, 0), 20);
        assert_eq!(w.read(VALUE, 100 * T + 3), 20);
        assert_eq!(w.next_event(100 * T + 3), Some(120 * T));
    }

    #[test]
    fn load_zero_interrupts_every_tick() {
        let w = running(0, true);
        assert!(w.irq(0));
        assert!(!w.reset_asserted(0));
        assert_eq!(w.next_event(0), Some(T));
        assert!(w.reset_asserted(T));
    }

    #[test]
    fn lock_blocks_writes() {
        let mut w = Watchdog::new();
        // SC&MP: unlock, then CTRL = 0.
        w.write(LOCK, UNLOCK_KEY, 0);
        assert_eq!(w.read(LOCK, 0), 0);
        w.write(LOCK, 0, 0);
        assert_eq!(w.read(LOCK, 0), 1);
        w.write(LOAD, 5, 0);
        w.write(CONTROL, INTEN, 0);
        assert_eq!(w.read(LOAD, 0), 0xFFFF_FFFF);
        assert_eq!(w.read(CONTROL, 0), 0);
        w.write(LOCK, 0x1234, 0);
        assert_eq!(w.read(LOCK, 0), 1);
        w.write(LOCK, UNLOCK_KEY, 0);
        w.write(LOAD, 5, 0);
        w.write(CONTROL, INTEN, 0);
        assert!(w.irq(5 * T));
        w.write(LOCK, 1, 5 * T);
        w.write(INTCLR, 0, 5 * T);
        assert!(w.irq(5 * T));
    }

    #[test]
    fn control_keeps_only_defined_bits() {
        let mut w = Watchdog::new();
        w.write(CONTROL, 0xFFFF_FFFF, 0);
        assert_eq!(w.read(CONTROL, 0), 3);
    }

    #[test]
    fn unknown_offsets_are_harmless() {
        let mut w = Watchdog::new();
        for off in [0x18, 0xBFC, 0xC04, 0xF00, 0xF04, 0xFDC, 0x1000, u32::MAX] {
            w.write(off, 0xFFFF_FFFF, 0);
            assert_eq!(w.read(off, 0), 0, "offset {off:#x}");
        }
        assert_eq!(w.read(CONTROL, 0), 0);
        assert_eq!(w.read(LOAD + 2, 0), 0xFFFF_FFFF);
    }

    #[test]
    fn far_future_does_not_overflow() {
        let mut w = running(u32::MAX, true);
        let late = Cycle::MAX - 5;
        let _ = w.read(VALUE, late);
        let _ = w.next_event(late);
        w.write(INTCLR, 0, late);
        assert_eq!(w.read(VALUE, late), u32::MAX);
        let _ = w.next_event(late);
        assert!(!w.irq(late));
    }

    #[test]
    fn counter_phase_survives_resen_toggle() {
        let mut w = running(10, false);
        w.write(CONTROL, INTEN | RESEN, 3 * T + 7);
        assert_eq!(w.read(VALUE, 3 * T + 7), 7);
        assert_eq!(w.next_event(3 * T + 7), Some(10 * T));
    }
}
