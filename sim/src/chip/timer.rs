// SPDX-License-Identifier: GPL-2.0-or-later
//! Per-core dual counter/timer: two SP804-style down counters, timer2 at +0x20 (hardware notes
//! §2.2; VIC source numbers §4).
//!
//! The counters are computed lazily from the core cycle passed in, so nothing ticks per cycle;
//! `next_event` tells the scheduler when an interrupt output will next rise by itself.
//!
//! Period rule (our choice, tested): the tick that takes the counter from 1 to "zero" raises the
//! interrupt and, in the same tick, loads the reload value (LOAD in periodic mode, 0xFFFFFFFF or
//! 0xFFFF in free-running mode), so a periodic timer with LOAD = N interrupts every N prescaled
//! ticks. Why: spin1 loads `cpu_clk × µs` and counts on a tick of exactly that many µs; real
//! SP804 silicon may show 0 for one extra tick (N + 1), a 5 ns difference per period.

use super::device::{Access, Device};
use crate::Cycle;

/// VIC source line of timer 1 (hardware notes §4: TIMER1_INT).
pub const TIMER1_INT: u32 = 4;
/// VIC source line of timer 2 (hardware notes §4: TIMER2_INT).
pub const TIMER2_INT: u32 = 5;

const LOAD: u32 = 0x00;
const COUNT: u32 = 0x04;
const CONTROL: u32 = 0x08;
const INT_CLR: u32 = 0x0C;
const RAW_INT: u32 = 0x10;
const MASK_INT: u32 = 0x14;
const BG_LOAD: u32 = 0x18;

const CTRL_ONE_SHOT: u32 = 1 << 0;
const CTRL_32BIT: u32 = 1 << 1;
const CTRL_IRQ_EN: u32 = 1 << 5;
const CTRL_PERIODIC: u32 = 1 << 6;
const CTRL_ENABLE: u32 = 1 << 7;
// Bit 4 is reserved in the control register, so it is neither stored nor read back.
const CTRL_WRITABLE: u32 = 0xEF;

/// One down counter with its registers; `count`, `phase` and `raw` are exact as of cycle `at`.
#[derive(Clone, Copy, Debug)]
struct Timer {
    load: u32,
    count: u32,
    control: u32,
    raw: bool,
    /// Core cycles already counted towards the next prescaled tick (always < the divisor).
    phase: u64,
    at: Cycle,
}

impl Timer {
    // SP804 reset values: Value 0xFFFFFFFF, Control 0x20 (IRQ enabled, 16-bit, stopped).
    const RESET: Timer = Timer {
        load: 0,
        count: 0xFFFF_FFFF,
        control: CTRL_IRQ_EN,
        raw: false,
        phase: 0,
        at: 0,
    };

    fn enabled(&self) -> bool {
        self.control & CTRL_ENABLE != 0
    }

    fn irq_enabled(&self) -> bool {
        self.control & CTRL_IRQ_EN != 0
    }

    fn one_shot(&self) -> bool {
        self.control & CTRL_ONE_SHOT != 0
    }

    fn mask(&self) -> u32 {
        if self.control & CTRL_32BIT != 0 {
            0xFFFF_FFFF
        } else {
            0xFFFF
        }
    }

    fn divisor(&self) -> u64 {
        match (self.control >> 2) & 3 {
            1 => 16,
            2 => 256,
            // Prescale 3 is undefined in the SP804; /1 is what QEMU's SP804 model does with it.
            _ => 1,
        }
    }

    /// Value loaded when the counter passes zero (one-shot mode never reloads).
    fn reload(&self) -> u32 {
        if self.control & CTRL_PERIODIC != 0 {
            self.load & self.mask()
        } else {
            self.mask()
        }
    }

    /// This timer's state at `now` (no effect on `self`).
    fn at_cycle(&self, now: Cycle) -> Timer {
        let mut t = *self;
        if t.enabled() {
            let total = now.saturating_sub(t.at).saturating_add(t.phase);
            let div = t.divisor();
            t.phase = total % div;
            t.tick(total / div);
        }
        t.at = now.max(t.at);
        t
    }

    fn sync(&mut self, now: Cycle) {
        *self = self.at_cycle(now);
    }

    /// Applies `n` prescaled ticks in closed form.
    fn tick(&mut self, mut n: u64) {
        if n == 0 {
            return;
        }
        self.count &= self.mask();
        if self.count == 0 {
            if self.one_shot() {
                return; // a one-shot that reached zero halts until reprogrammed
            }
            // Zero reached without a reload (LOAD = 0, or one-shot mode just cleared): reload now.
            self.count = self.reload();
            n -= 1;
            if self.count == 0 {
                self.raw = true; // reload value 0: the counter is at zero on every tick
                return;
            }
        }
        let c = u64::from(self.count);
        if n < c {
            self.count -= n as u32;
            return;
        }
        self.raw = true;
        n -= c;
        if self.one_shot() {
            self.count = 0;
            return;
        }
        let r = u64::from(self.reload());
        self.count = if r == 0 { 0 } else { (r - n % r) as u32 };
    }

    /// Cycle of the next tick that reaches zero, from the state at `self.at`.
    fn next_zero(&self) -> Option<Cycle> {
        if !self.enabled() {
            return None;
        }
        let count = self.count & self.mask();
        let ticks = if count != 0 {
            u64::from(count)
        } else if self.one_shot() {
            return None;
        } else {
            match self.reload() {
                0 => 1,
                r => 1 + u64::from(r),
            }
        };
        // Tick k lands at at + k·div − phase; phase < div so this is strictly after `at`.
        ticks
            .checked_mul(self.divisor())?
            .checked_add(self.at)?
            .checked_sub(self.phase)
    }

    fn masked(&self) -> bool {
        self.raw && self.irq_enabled()
    }

    fn read(&mut self, reg: u32, now: Cycle) -> u32 {
        self.sync(now);
        match reg {
            LOAD | BG_LOAD => self.load,
            COUNT => self.count & self.mask(),
            CONTROL => self.control,
            RAW_INT => u32::from(self.raw),
            MASK_INT => u32::from(self.masked()),
            _ => 0, // INT_CLR is write-only; 0x1C is reserved
        }
    }

    fn write(&mut self, reg: u32, value: u32, now: Cycle) {
        self.sync(now);
        match reg {
            LOAD => {
                self.load = value;
                // All 32 bits are kept even in 16-bit mode (which only counts and reads the low
                // half): spin1 writes LOAD while CONTROL = 0 (16-bit), then enables in 32-bit mode.
                self.count = value;
                // A load restarts the prescaler so the period is exact.
                self.phase = 0;
                // SP804: writing 0 raises the interrupt at once; only a running timer does here,
                // since firmware writes LOAD before enabling and must not see a stale interrupt.
                if value & self.mask() == 0 && self.enabled() {
                    self.raw = true;
                }
            }
            CONTROL => {
                let old = self.control;
                self.control = value & CTRL_WRITABLE;
                if (old ^ self.control) & 0b1100 != 0 {
                    self.phase = 0; // a new prescale starts a fresh division
                }
            }
            INT_CLR => self.raw = false,
            BG_LOAD => self.load = value, // next reload only; the running count is untouched
            _ => {}                       // COUNT, RAW_INT and MASK_INT are read-only
        }
    }
}

/// The two per-core timers (SP804-style), addressed from the timer block base.
#[derive(Clone, Debug)]
pub struct DualTimer {
    timers: [Timer; 2],
}

impl Default for DualTimer {
    fn default() -> Self {
        Self::new()
    }
}

impl DualTimer {
    /// Both timers at their reset values: stopped, 16-bit, IRQ enable set, COUNT = 0xFFFFFFFF.
    pub fn new() -> Self {
        DualTimer {
            timers: [Timer::RESET; 2],
        }
    }

    /// Splits a block offset into (timer index, register offset); None outside 0x00–0x3F.
    fn decode(offset: u32) -> Option<(usize, u32)> {
        (offset < 0x40).then_some(((offset / 0x20) as usize, offset % 0x20))
    }

    /// Reads the register at `offset` (timer1 0x00–0x1C, timer2 0x20–0x3C) as seen at `now`.
    pub fn read(&mut self, offset: u32, now: Cycle) -> u32 {
        match Self::decode(offset) {
            Some((i, reg)) => self.timers[i].read(reg, now),
            None => 0,
        }
    }

    /// Writes the register at `offset` at cycle `now`; unknown offsets are ignored.
    pub fn write(&mut self, offset: u32, value: u32, now: Cycle) {
        if let Some((i, reg)) = Self::decode(offset) {
            self.timers[i].write(reg, value, now);
        }
    }

    /// VIC source levels at `now`: bit 4 = timer1 masked interrupt, bit 5 = timer2's.
    pub fn irq_sources(&self, now: Cycle) -> u32 {
        let line = |i: usize, src: u32| u32::from(self.timers[i].at_cycle(now).masked()) << src;
        line(0, TIMER1_INT) | line(1, TIMER2_INT)
    }

    /// The earliest cycle after `now` at which an interrupt output rises by itself, if any.
    pub fn next_event(&self, now: Cycle) -> Option<Cycle> {
        self.timers
            .iter()
            .map(|t| t.at_cycle(now))
            // A raised or disabled output cannot change without a register write.
            .filter(|t| t.irq_enabled() && !t.raw)
            .filter_map(|t| t.next_zero())
            .min()
    }
}

impl Device for DualTimer {
    fn read(&mut self, offset: u32, at: Access) -> u32 {
        DualTimer::read(self, offset, at.now)
    }

    fn write(&mut self, offset: u32, value: u32, at: Access) {
        DualTimer::write(self, offset, value, at.now)
    }

    fn irq_lines(&self, at: Access) -> u32 {
        self.irq_sources(at.now)
    }

    fn next_event(&self, now: Cycle) -> Option<Cycle> {
        DualTimer::next_event(self, now)
    }

    fn reset(&mut self) {
        *self = DualTimer::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T2: u32 = 0x20;
    // spin1's T1_CONTROL: enable, periodic, IRQ enable, 32-bit, wrapping, /1.
    const SPIN1_CTRL: u32 = 0xE2;

    fn periodic(load: u32, at: Cycle) -> DualTimer {
        let mut t = DualTimer::new();
        t.write(LOAD, load, at);
        t.write(CONTROL, SPIN1_CTRL, at);
        t
    }

    #[test]
    fn reset_values_of_both_timers() {
        let mut t = DualTimer::new();
        for base in [0, T2] {
            assert_eq!(t.read(base + LOAD, 0), 0);
            // 16-bit mode at reset, so the 0xFFFFFFFF count reads as its low half.
            assert_eq!(t.read(base + COUNT, 0), 0xFFFF);
            assert_eq!(t.read(base + CONTROL, 0), 0x20);
            assert_eq!(t.read(base + INT_CLR, 0), 0);
            assert_eq!(t.read(base + RAW_INT, 0), 0);
            assert_eq!(t.read(base + MASK_INT, 0), 0);
            assert_eq!(t.read(base + BG_LOAD, 0), 0);
        }
        assert_eq!(t.irq_sources(1_000_000), 0);
        assert_eq!(t.next_event(0), None);
        // Stopped: time passing does not move the count.
        t.write(CONTROL, CTRL_32BIT, 0);
        assert_eq!(t.read(COUNT, 5_000), 0xFFFF_FFFF);
    }

    #[test]
    fn spin1_tick_period_is_exactly_load_cycles() {
        let load = 200 * 1000; // 1 ms at 200 MHz
        let mut t = periodic(load, 1000);
        assert_eq!(t.next_event(1000), Some(1000 + 200_000));
        assert_eq!(t.irq_sources(200_999), 0);
        assert_eq!(t.irq_sources(201_000), 1 << TIMER1_INT);
        assert_eq!(t.read(RAW_INT, 201_000), 1);
        assert_eq!(t.read(MASK_INT, 201_000), 1);
        // The reload happens in the same tick, so COUNT never reads 0 in periodic mode.
        assert_eq!(t.read(COUNT, 201_000), load);
        assert_eq!(t.read(COUNT, 201_001), load - 1);
        // Raised output: nothing more to schedule until the ISR clears it.
        assert_eq!(t.next_event(201_000), None);
        t.write(INT_CLR, 1, 201_100);
        assert_eq!(t.irq_sources(201_100), 0);
        assert_eq!(t.next_event(201_100), Some(401_000));
        // Ten more periods: the edges stay on exact multiples of LOAD (no drift).
        for k in 2..12u64 {
            let edge = 1000 + k * 200_000;
            assert_eq!(t.irq_sources(edge - 1), 0);
            assert_eq!(t.next_event(edge - 1), Some(edge));
            assert_eq!(t.irq_sources(edge), 1 << TIMER1_INT);
            t.write(INT_CLR, 1, edge);
        }
    }

    #[test]
    fn spin1_configure_sequence_loads_full_32_bits() {
        // configure_timer1: CONTROL = 0 (16-bit, stopped), INT_CLR, LOAD, BG_LOAD; later 0xE2.
        let mut t = DualTimer::new();
        t.write(CONTROL, 0, 0);
        t.write(INT_CLR, 1, 1);
        t.write(LOAD, 200_000, 2);
        t.write(BG_LOAD, 200_000, 3);
        assert_eq!(t.read(COUNT, 4), 200_000 & 0xFFFF); // 16-bit view while stopped
        t.write(CONTROL, SPIN1_CTRL, 500);
        assert_eq!(t.read(COUNT, 500), 200_000);
        assert_eq!(t.next_event(500), Some(200_500));
        // spin1_get_us_since_last_tick: (LOAD - COUNT) / cpu_clk.
        assert_eq!((t.read(LOAD, 1500) - t.read(COUNT, 1500)) / 200, 5);
    }

    #[test]
    fn count_decrements_once_per_cycle() {
        let mut t = periodic(100, 0);
        assert_eq!(t.read(COUNT, 0), 100);
        assert_eq!(t.read(COUNT, 1), 99);
        assert_eq!(t.read(COUNT, 99), 1);
        assert_eq!(t.read(RAW_INT, 99), 0);
        assert_eq!(t.read(COUNT, 100), 100);
        assert_eq!(t.read(RAW_INT, 100), 1);
        assert_eq!(t.read(COUNT, 150), 50);
        // Many periods at once: 100·1000 + 37 cycles in.
        assert_eq!(t.read(COUNT, 100_037), 63);
    }

    #[test]
    fn background_load_changes_next_period_only() {
        let mut t = periodic(100, 0);
        t.write(BG_LOAD, 40, 30);
        assert_eq!(t.read(COUNT, 30), 70);
        assert_eq!(t.read(LOAD, 30), 40);
        assert_eq!(t.read(BG_LOAD, 30), 40);
        assert_eq!(t.next_event(30), Some(100));
        assert_eq!(t.read(COUNT, 100), 40);
        t.write(INT_CLR, 1, 100);
        assert_eq!(t.next_event(100), Some(140));
        // spin1's drift correction: BG_LOAD rewritten inside each tick.
        t.write(BG_LOAD, 41, 141);
        assert_eq!(t.read(COUNT, 141), 39);
        t.write(INT_CLR, 1, 141);
        assert_eq!(t.next_event(141), Some(180));
        assert_eq!(t.read(COUNT, 180), 41);
    }

    #[test]
    fn load_mid_count_restarts_the_count() {
        let mut t = periodic(100, 0);
        t.write(LOAD, 500, 60);
        assert_eq!(t.read(COUNT, 60), 500);
        assert_eq!(t.next_event(60), Some(560));
        assert_eq!(t.read(RAW_INT, 559), 0);
        assert_eq!(t.read(RAW_INT, 560), 1);
    }

    #[test]
    fn free_running_wraps_to_all_ones_32_bit() {
        let mut t = DualTimer::new();
        t.write(LOAD, 5, 0);
        t.write(CONTROL, CTRL_ENABLE | CTRL_IRQ_EN | CTRL_32BIT, 0);
        assert_eq!(t.next_event(0), Some(5));
        assert_eq!(t.read(COUNT, 4), 1);
        assert_eq!(t.read(COUNT, 5), 0xFFFF_FFFF);
        assert_eq!(t.read(RAW_INT, 5), 1);
        assert_eq!(t.read(COUNT, 6), 0xFFFF_FFFE);
        t.write(INT_CLR, 0, 6);
        // Free-running ignores LOAD for the reload: the next zero is 0xFFFFFFFF ticks later.
        assert_eq!(t.next_event(6), Some(5 + 0xFFFF_FFFF));
    }

    #[test]
    fn free_running_wraps_to_ffff_in_16_bit_mode() {
        let mut t = DualTimer::new();
        t.write(CONTROL, CTRL_IRQ_EN, 0);
        t.write(LOAD, 0x1_0003, 0); // 16-bit mode keeps the low half
        assert_eq!(t.read(COUNT, 0), 3);
        assert_eq!(t.read(LOAD, 0), 0x1_0003);
        t.write(CONTROL, CTRL_ENABLE | CTRL_IRQ_EN, 10);
        assert_eq!(t.next_event(10), Some(13));
        assert_eq!(t.read(COUNT, 13), 0xFFFF);
        assert_eq!(t.read(COUNT, 14), 0xFFFE);
        t.write(INT_CLR, 0, 14);
        assert_eq!(t.next_event(14), Some(13 + 0xFFFF));
    }

    #[test]
    fn periodic_16_bit_masks_the_load() {
        let mut t = DualTimer::new();
        t.write(LOAD, 0xABCD_0010, 0);
        t.write(CONTROL, CTRL_ENABLE | CTRL_IRQ_EN | CTRL_PERIODIC, 0);
        assert_eq!(t.next_event(0), Some(0x10));
        assert_eq!(t.read(COUNT, 0x10), 0x10);
        // Switching to 16-bit mid-count counts on with the low half of the count.
        let mut u = periodic(0x0002_0100, 0);
        u.write(CONTROL, CTRL_ENABLE | CTRL_IRQ_EN | CTRL_PERIODIC, 0);
        assert_eq!(u.read(COUNT, 0), 0x100);
        assert_eq!(u.read(COUNT, 0x10), 0xF0);
        assert_eq!(u.next_event(0x10), Some(0x100));
    }

    #[test]
    fn one_shot_stops_at_zero() {
        let mut t = DualTimer::new();
        t.write(LOAD, 10, 0);
        t.write(
            CONTROL,
            CTRL_ENABLE | CTRL_IRQ_EN | CTRL_32BIT | CTRL_ONE_SHOT,
            0,
        );
        assert_eq!(t.next_event(0), Some(10));
        assert_eq!(t.read(COUNT, 9), 1);
        assert_eq!(t.read(COUNT, 10), 0);
        assert_eq!(t.read(RAW_INT, 10), 1);
        t.write(INT_CLR, 0, 11);
        assert_eq!(t.read(COUNT, 1_000_000), 0);
        assert_eq!(t.read(RAW_INT, 1_000_000), 0);
        assert_eq!(t.next_event(1_000_000), None);
        // Rewriting LOAD re-arms it.
        t.write(LOAD, 3, 1_000_000);
        assert_eq!(t.next_event(1_000_000), Some(1_000_003));
        // One-shot wins over the periodic bit.
        let mut u = DualTimer::new();
        u.write(LOAD, 4, 0);
        u.write(CONTROL, 0xE3, 0);
        assert_eq!(u.read(COUNT, 100), 0);
        assert_eq!(u.next_event(100), None);
    }

    #[test]
    fn clearing_one_shot_after_zero_resumes_counting() {
        let mut t = DualTimer::new();
        t.write(LOAD, 10, 0);
        t.write(
            CONTROL,
            CTRL_ENABLE | CTRL_IRQ_EN | CTRL_32BIT | CTRL_ONE_SHOT,
            0,
        );
        t.write(INT_CLR, 0, 50);
        t.write(
            CONTROL,
            CTRL_ENABLE | CTRL_IRQ_EN | CTRL_32BIT | CTRL_PERIODIC,
            50,
        );
        // The pending reload happens on the next tick, then a full period follows.
        assert_eq!(t.read(COUNT, 51), 10);
        assert_eq!(t.read(RAW_INT, 51), 0);
        assert_eq!(t.next_event(51), Some(61));
    }

    #[test]
    fn prescalers_divide_the_core_clock() {
        for (bits, div) in [(0u32, 1u64), (1, 16), (2, 256), (3, 1)] {
            let mut t = DualTimer::new();
            t.write(LOAD, 10, 100);
            t.write(CONTROL, SPIN1_CTRL | (bits << 2), 100);
            assert_eq!(t.read(CONTROL, 100), SPIN1_CTRL | (bits << 2));
            assert_eq!(
                t.next_event(100),
                Some(100 + 10 * div),
                "prescale bits {bits}"
            );
            assert_eq!(t.read(COUNT, 100 + div - 1), 10);
            assert_eq!(t.read(COUNT, 100 + div), 9);
            assert_eq!(t.irq_sources(100 + 10 * div - 1), 0);
            assert_eq!(t.irq_sources(100 + 10 * div), 1 << TIMER1_INT);
        }
    }

    #[test]
    fn disabling_freezes_and_reenabling_continues() {
        let mut t = periodic(100, 0);
        t.write(CONTROL, SPIN1_CTRL & !CTRL_ENABLE, 30);
        assert_eq!(t.read(COUNT, 30), 70);
        assert_eq!(t.read(COUNT, 5000), 70);
        assert_eq!(t.next_event(5000), None);
        t.write(CONTROL, SPIN1_CTRL, 5000);
        assert_eq!(t.next_event(5000), Some(5070));
        assert_eq!(t.read(COUNT, 5010), 60);
        // With a prescaler, the partial prescaled tick survives a pause.
        let mut p = DualTimer::new();
        p.write(LOAD, 2, 0);
        p.write(CONTROL, SPIN1_CTRL | (1 << 2), 0);
        p.write(CONTROL, (SPIN1_CTRL | (1 << 2)) & !CTRL_ENABLE, 10);
        p.write(CONTROL, SPIN1_CTRL | (1 << 2), 1000);
        assert_eq!(p.next_event(1000), Some(1000 + 32 - 10));
    }

    #[test]
    fn irq_enable_masks_output_not_raw() {
        let mut t = DualTimer::new();
        t.write(LOAD, 10, 0);
        t.write(CONTROL, CTRL_ENABLE | CTRL_PERIODIC | CTRL_32BIT, 0);
        assert_eq!(t.next_event(0), None); // output cannot rise while masked
        assert_eq!(t.read(RAW_INT, 10), 1);
        assert_eq!(t.read(MASK_INT, 10), 0);
        assert_eq!(t.irq_sources(10), 0);
        // Enabling the IRQ with raw already set raises the output at once.
        t.write(
            CONTROL,
            CTRL_ENABLE | CTRL_PERIODIC | CTRL_32BIT | CTRL_IRQ_EN,
            12,
        );
        assert_eq!(t.read(MASK_INT, 12), 1);
        assert_eq!(t.irq_sources(12), 1 << TIMER1_INT);
    }

    #[test]
    fn raw_is_sticky_until_cleared() {
        let t = periodic(10, 0);
        assert_eq!(t.irq_sources(10), 1 << TIMER1_INT);
        assert_eq!(t.irq_sources(1_000_000), 1 << TIMER1_INT);
        let mut t = t;
        t.write(INT_CLR, 0xDEAD, 1_000_005);
        assert_eq!(t.irq_sources(1_000_005), 0);
        assert_eq!(t.next_event(1_000_005), Some(1_000_010));
    }

    #[test]
    fn load_zero_interrupts_immediately_when_running() {
        let mut t = periodic(100, 0);
        t.write(LOAD, 0, 20);
        assert_eq!(t.read(RAW_INT, 20), 1);
        t.write(INT_CLR, 0, 20);
        // Periodic with LOAD 0: zero on every tick.
        assert_eq!(t.next_event(20), Some(21));
        assert_eq!(t.irq_sources(21), 1 << TIMER1_INT);
        // A stopped timer does not raise on LOAD 0 (firmware loads before enabling).
        let mut s = DualTimer::new();
        s.write(LOAD, 0, 0);
        assert_eq!(s.read(RAW_INT, 0), 0);
    }

    #[test]
    fn timer2_is_independent_at_0x20() {
        let mut t = DualTimer::new();
        t.write(T2 + LOAD, 50, 0);
        t.write(T2 + CONTROL, SPIN1_CTRL, 0);
        assert_eq!(t.read(LOAD, 0), 0);
        assert_eq!(t.read(CONTROL, 0), 0x20);
        assert_eq!(t.read(T2 + COUNT, 20), 30);
        assert_eq!(t.irq_sources(50), 1 << TIMER2_INT);
        assert_eq!(t.read(RAW_INT, 50), 0);
        assert_eq!(t.read(T2 + RAW_INT, 50), 1);
        t.write(T2 + INT_CLR, 0, 50);
        assert_eq!(t.irq_sources(50), 0);
    }

    #[test]
    fn next_event_is_the_earlier_timer() {
        let mut t = periodic(300, 0);
        t.write(T2 + LOAD, 120, 0);
        t.write(
            T2 + CONTROL,
            CTRL_ENABLE | CTRL_IRQ_EN | CTRL_32BIT | CTRL_ONE_SHOT,
            0,
        );
        assert_eq!(t.next_event(0), Some(120));
        assert_eq!(t.irq_sources(120), 1 << TIMER2_INT);
        assert_eq!(t.next_event(120), Some(300));
        assert_eq!(t.irq_sources(300), (1 << TIMER1_INT) | (1 << TIMER2_INT));
        assert_eq!(t.next_event(300), None);
    }

    #[test]
    fn unknown_offsets_read_zero_and_ignore_writes() {
        let mut t = periodic(100, 0);
        for off in [0x1C, 0x3C, 0x40, 0x44, 0x02, 0xFE0, 0xFFFF_FFFC, u32::MAX] {
            t.write(off, 0xFFFF_FFFF, 10);
            assert_eq!(t.read(off, 10), 0, "offset {off:#x}");
        }
        // Read-only registers ignore writes.
        t.write(COUNT, 7, 10);
        t.write(RAW_INT, 1, 10);
        t.write(MASK_INT, 1, 10);
        assert_eq!(t.read(COUNT, 10), 90);
        assert_eq!(t.read(RAW_INT, 10), 0);
        assert_eq!(t.read(CONTROL, 10), SPIN1_CTRL);
        // Reserved control bit 4 and bits above 7 are not stored.
        t.write(CONTROL, 0xFFFF_FFFF, 10);
        assert_eq!(t.read(CONTROL, 10), 0xEF);
    }

    #[test]
    fn huge_times_do_not_overflow() {
        let mut t = periodic(0xFFFF_FFFF, 0);
        t.write(CONTROL, SPIN1_CTRL | (2 << 2), 0);
        let far = u64::MAX - 10;
        assert!(t.read(COUNT, far) > 0);
        assert_eq!(t.read(RAW_INT, far), 1);
        t.write(INT_CLR, 0, far);
        assert!(t.next_event(far).is_none_or(|e| e > far));
        // A partial prescaled tick carried to the end of time does not overflow either.
        let mut p = periodic(1000, 0);
        p.write(CONTROL, SPIN1_CTRL | (1 << 2), 0);
        assert_eq!(p.read(COUNT, 5), 1000);
        assert!(p.read(COUNT, u64::MAX) <= 1000);
        // Time going backwards is tolerated (treated as no time passing).
        let c = t.read(COUNT, far);
        assert_eq!(t.read(COUNT, 5), c);
    }

    /// Reference model: one prescaled tick at a time, following the documented period rule.
    fn reference(load: u32, control: u32, cycles: u64) -> (u32, bool) {
        let t = Timer {
            load,
            count: load,
            control,
            ..Timer::RESET
        };
        let mask = t.mask();
        let (mut count, mut raw) = (load & mask, false);
        for _ in 0..cycles / t.divisor() {
            if count == 0 && t.one_shot() {
                break;
            }
            if count == 0 {
                count = t.reload();
                raw |= count == 0;
            } else if count == 1 {
                raw = true;
                count = if t.one_shot() { 0 } else { t.reload() };
            } else {
                count -= 1;
            }
        }
        (count, raw)
    }

    #[test]
    fn lazy_model_matches_tick_by_tick_reference() {
        let modes = [
            SPIN1_CTRL,
            SPIN1_CTRL | (1 << 2),
            CTRL_ENABLE | CTRL_32BIT,
            CTRL_ENABLE,
            CTRL_ENABLE | CTRL_32BIT | CTRL_ONE_SHOT,
            CTRL_ENABLE | CTRL_PERIODIC,
        ];
        for control in modes {
            for load in [1u32, 2, 3, 7, 0x1_0005] {
                let mut stepped = DualTimer::new();
                let mut jumped = DualTimer::new();
                for t in [&mut stepped, &mut jumped] {
                    t.write(LOAD, load, 0);
                    t.write(CONTROL, control, 0);
                }
                for now in 0..=400u64 {
                    let c = stepped.read(COUNT, now);
                    let (rc, rr) = reference(load, control, now);
                    assert_eq!(c, rc, "count ctrl {control:#x} load {load} at {now}");
                    assert_eq!(stepped.read(RAW_INT, now), u32::from(rr));
                }
                assert_eq!(jumped.read(COUNT, 400), stepped.read(COUNT, 400));
                assert_eq!(jumped.read(RAW_INT, 400), stepped.read(RAW_INT, 400));
            }
        }
    }

    #[test]
    fn next_event_agrees_with_irq_sources() {
        for control in [SPIN1_CTRL, SPIN1_CTRL | (1 << 2), SPIN1_CTRL | (2 << 2)] {
            let mut t = periodic(3, 7);
            t.write(CONTROL, control, 9);
            let e = t.next_event(9).unwrap();
            assert_eq!(t.irq_sources(e - 1), 0);
            assert_eq!(t.irq_sources(e), 1 << TIMER1_INT);
        }
    }

    #[test]
    fn random_register_traffic_never_panics() {
        let mut t = DualTimer::new();
        let (mut x, mut now) = (0x2545_F491_4F6C_DD1Du64, 0u64);
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            now += x % 300;
            let off = ((x >> 20) as u32 % 0x48) & !3;
            if x & 1 == 0 {
                t.write(off, (x >> 32) as u32, now);
            } else {
                t.read(off, now);
            }
            if let Some(e) = t.next_event(now) {
                assert!(e > now);
            }
            t.irq_sources(now);
        }
    }
}
