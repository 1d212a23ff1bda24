// SPDX-License-Identifier: GPL-2.0-or-later
//! The chip's system controller: chip ID, per-core interrupt and disable lines, resets,
//! monitor ID, GPIO, clocks, flags, sleep status and the hardware locks (hardware notes §2.6,
//! CPU_INT is VIC source 18 in §4).

/// Value of SC_CHIP_ID on SpiNNaker1 (§1.1).
use super::device::{Access, Device};

pub const CHIP_ID: u32 = 0x5911_1012;
/// What SC_TS0..2 read: bit25 "sample ready" plus a mid-range count.
// UNVERIFIED: the sensor fields are not in our notes and no SpiNNaker software reads them;
// a fixed ready value keeps any polling loop finite and the simulation deterministic.
pub const TEMP_SENSOR_VALUE: u32 = 1 << 25 | 0x0000_4000;

const SC_CODE: u32 = 0x5EC;
const MAX_CORES: usize = 18;
const ALL_CORES: u32 = (1 << MAX_CORES) - 1;

// Register offsets (§2.6).
use spinn_hw::map::sysctl_reg::{CLRFLAG as CLR_FLAG, CLR_IRQ, SETFLAG as FLAG, SET_IRQ};
const CHIP_ID_REG: u32 = 0x00;
const CPU_DIS: u32 = 0x04;
const SET_OK: u32 = 0x10;
const CLR_OK: u32 = 0x14;
const SOFT_RST_L: u32 = 0x18;
const HARD_RST_L: u32 = 0x1C;
const SUBS_RST_L: u32 = 0x20;
const SOFT_RST_P: u32 = 0x24;
const HARD_RST_P: u32 = 0x28;
const SUBS_RST_P: u32 = 0x2C;
const RST_CODE: u32 = 0x30;
const MON_ID: u32 = 0x34;
const MISC_CTRL: u32 = 0x38;
const GPIO_RES: u32 = 0x3C;
const GPIO_PORT: u32 = 0x40;
const GPIO_DIR: u32 = 0x44;
const GPIO_SET: u32 = 0x48;
const GPIO_CLR: u32 = 0x4C;
const PLL1: u32 = 0x50;
const PLL2: u32 = 0x54;
const CLKMUX: u32 = 0x60;
const SLEEP: u32 = 0x64;
const TS0: u32 = 0x68;
const TS2: u32 = 0x70;
const ARB0: u32 = 0x80;
const TAS0: u32 = 0x100;
const TAC0: u32 = 0x180;
const LINK_DIS: u32 = 0x200;

const MON_ID_MASK: u32 = 0x0001_011F;
// Bits 16-20 are read-only pins (none strapped here); the rest of the low half is writable.
const MISC_CTRL_MASK: u32 = 0x0000_FFFF;
const LINK_DIS_MASK: u32 = 0x0001_3F3F;
// Subsystem reset bits: router, SDRAM, system NoC, comms NoC, 6 TX, 6 RX, clockgen, chip.
const SUBS_MASK: u32 = 0x000F_FFFF;

// What SC&MP's pll_init leaves for 200 MHz CPUs, 130 MHz SDRAM, router and bus at 133 MHz
// (§1.1 PLL_400, PLL_260, PLL_CLK_SEL).
const BOOT_PLL1: u32 = 0x0007_0128;
const BOOT_PLL2: u32 = 0x0007_011A;
const BOOT_CLKMUX: u32 = 0x8094_88A5;

/// SC_RST_CODE after power-on.
const RST_POR: u32 = 0;
/// SC_RST_CODE after a watchdog reset.
const RST_WDT: u32 = 1;
/// SC_MON_ID bit 16: reset on watchdog.
const MON_ID_RESET_ON_WATCHDOG: u32 = 1 << 16;

/// What a watchdog reset takes down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchdogReset {
    /// The whole chip: every core stops.
    Chip,
    /// The monitor processor only (its physical number).
    Monitor(u8),
}

/// One chip's system controller.
#[derive(Clone, Debug)]
pub struct SystemController {
    cores: u32,
    cpu_dis: u32,
    irq: u32,
    cpu_ok: u32,
    soft_rst: u32,
    hard_rst: u32,
    subs_rst: u32,
    resets_pending: u32,
    mon_id: u32,
    misc_ctrl: u32,
    gpio_res: u32,
    gpio_port: u32,
    gpio_dir: u32,
    pll1: u32,
    pll2: u32,
    clkmux: u32,
    flags: u32,
    sleeping: u32,
    arb_claimed: u32,
    arb_owner: [u8; 32],
    locks: u32,
    link_dis: u32,
    rst_code: u32,
}

impl SystemController {
    /// A controller as after power-on reset, for a chip with `num_cores` cores (at most 18).
    pub fn new(num_cores: usize) -> Self {
        let n = num_cores.min(MAX_CORES);
        SystemController {
            cores: (1u32 << n) - 1,
            cpu_dis: 0,
            irq: 0,
            cpu_ok: 0,
            soft_rst: 0,
            hard_rst: 0,
            subs_rst: 0,
            resets_pending: 0,
            mon_id: 0,
            misc_ctrl: 0,
            gpio_res: 0,
            gpio_port: 0,
            // Every GPIO pin an input until software claims it (SARK clears LED bits).
            gpio_dir: 0xFFFF_FFFF,
            // PLLs powered down and CLKMUX 0 (10 MHz crystal everywhere), the state SC&MP's
            // pll_init itself returns to before reprogramming them.
            pll1: 0,
            pll2: 0,
            clkmux: 0,
            flags: 0,
            sleeping: 0,
            arb_claimed: 0,
            arb_owner: [0; 32],
            locks: 0,
            link_dis: 0,
            rst_code: RST_POR,
        }
    }

    /// Programs the state SC&MP leaves after booting with `monitor_phys` as monitor.
    pub fn boot_init(&mut self, monitor_phys: u8) {
        self.mon_id = u32::from(monitor_phys) & 0x1F;
        self.misc_ctrl |= 1; // SysRAM mapped at the boot area ("Swap RAM/ROM").
        self.cpu_ok = self.cores;
        // SC&MP disables the clocks of cores that did not report OK.
        self.cpu_dis = !self.cpu_ok & ALL_CORES;
        self.pll1 = BOOT_PLL1;
        self.pll2 = BOOT_PLL2;
        self.clkmux = BOOT_CLKMUX;
    }

    /// Reads the register at byte `offset`; `phys_core` is the reading core.
    pub fn read(&mut self, offset: u32, phys_core: u8) -> u32 {
        let offset = offset & !3;
        match offset {
            CHIP_ID_REG => CHIP_ID,
            CPU_DIS => self.cpu_dis,
            SET_IRQ | CLR_IRQ => self.irq,
            SET_OK | CLR_OK => self.cpu_ok,
            SOFT_RST_L => self.soft_rst,
            HARD_RST_L => self.hard_rst,
            SUBS_RST_L => self.subs_rst,
            // Always a power-on reset: chip resets are not modelled.
            RST_CODE => self.rst_code,
            MON_ID => self.mon_id,
            MISC_CTRL => self.misc_ctrl,
            GPIO_RES => self.gpio_res,
            GPIO_DIR => self.gpio_dir,
            // Nothing drives the input pins, so they read back what the port holds.
            GPIO_PORT | GPIO_SET | GPIO_CLR => self.gpio_port,
            PLL1 => self.pll1,
            PLL2 => self.pll2,
            FLAG | CLR_FLAG => self.flags,
            CLKMUX => self.clkmux,
            SLEEP => self.sleeping,
            TS0..=TS2 => TEMP_SENSOR_VALUE,
            ARB0..=0xFC => {
                // UNVERIFIED semantics: the first core to read ARBn claims it; every read
                // returns bit31 = "already claimed" and the claimant's ID in bits [4:0], so
                // the winner is the reader that sees bit31 clear (as with TAS).
                let n = ((offset - ARB0) / 4) as usize;
                let was = self.arb_claimed >> n & 1;
                if was == 0 {
                    self.arb_claimed |= 1 << n;
                    self.arb_owner[n] = phys_core & 0x1F;
                }
                was << 31 | u32::from(self.arb_owner[n])
            }
            TAS0..=0x17C => {
                let bit = 1 << ((offset - TAS0) / 4);
                let was = self.locks & bit != 0;
                self.locks |= bit;
                u32::from(was) << 31
            }
            TAC0..=0x1FC => {
                let bit = 1 << ((offset - TAC0) / 4);
                let was = self.locks & bit != 0;
                self.locks &= !bit;
                u32::from(was) << 31
            }
            LINK_DIS => self.link_dis,
            _ => 0,
        }
    }

    /// Writes the register at byte `offset`; `phys_core` is the writing core.
    pub fn write(&mut self, offset: u32, value: u32, _phys_core: u8) {
        let offset = offset & !3;
        let coded = value >> 20 == SC_CODE;
        let cores = value & ALL_CORES;
        match offset {
            CPU_DIS if coded => self.cpu_dis = cores,
            SET_IRQ if coded => self.irq |= cores,
            CLR_IRQ if coded => self.irq &= !cores,
            SET_OK => self.cpu_ok |= cores,
            CLR_OK => self.cpu_ok &= !cores,
            SOFT_RST_L if coded => {
                // A core restarts when its reset line is released (SC&MP asserts, waits 5 µs,
                // then writes the bare code).
                self.resets_pending |= self.soft_rst & !cores;
                self.soft_rst = cores;
            }
            HARD_RST_L if coded => {
                self.resets_pending |= self.hard_rst & !cores;
                self.hard_rst = cores;
            }
            SUBS_RST_L if coded => self.subs_rst = value & SUBS_MASK,
            SOFT_RST_P | HARD_RST_P if coded => self.resets_pending |= cores,
            // Subsystem resets (router, NoCs, links...) have no effect in this model.
            SUBS_RST_P => {}
            MON_ID if coded => self.mon_id = value & MON_ID_MASK,
            MISC_CTRL => self.misc_ctrl = value & MISC_CTRL_MASK,
            GPIO_RES => self.gpio_res = value,
            GPIO_PORT => self.gpio_port = value,
            GPIO_DIR => self.gpio_dir = value,
            GPIO_SET => self.gpio_port |= value,
            GPIO_CLR => self.gpio_port &= !value,
            PLL1 => self.pll1 = value,
            PLL2 => self.pll2 = value,
            FLAG => self.flags |= value,
            CLR_FLAG => self.flags &= !value,
            CLKMUX => self.clkmux = value,
            // UNVERIFIED: a write to ARBn releases it so arbitration can be re-run.
            ARB0..=0xFC => self.arb_claimed &= !(1 << ((offset - ARB0) / 4)),
            LINK_DIS if coded => self.link_dis = value & LINK_DIS_MASK,
            _ => {}
        }
    }

    /// Level of CPU_INT (VIC source 18) for physical core `phys`.
    pub fn cpu_int(&self, phys: u8) -> bool {
        usize::from(phys) < MAX_CORES && self.irq >> phys & 1 != 0
    }

    /// Whether hardware lock `n` (SC_TAS/SC_TAC n, 0..31) is held, without touching it.
    pub fn lock_held(&self, n: u32) -> bool {
        n < 32 && self.locks >> n & 1 != 0
    }

    /// Physical number of the monitor core (SC_MON_ID[4:0]).
    pub fn monitor_id(&self) -> u8 {
        (self.mon_id & 0x1F) as u8
    }

    /// Physical cores whose clocks are disabled (SC_CPU_DIS[17:0]).
    pub fn disabled_cores(&self) -> u32 {
        self.cpu_dis
    }

    /// Records whether physical core `phys` is waiting for interrupt (SC_SLEEP).
    pub fn set_sleeping(&mut self, phys: u8, asleep: bool) {
        if usize::from(phys) >= MAX_CORES {
            return;
        }
        if asleep {
            self.sleeping |= 1 << phys;
        } else {
            self.sleeping &= !(1 << phys);
        }
    }

    /// The watchdog's reset output has asserted: what this controller resets. SC_MON_ID bit 16
    /// ("reset on watchdog") set: the monitor processor alone; clear (as SC&MP boots): the whole
    /// chip, which records RST_CODE = WDT (hardware notes §2.6 give the bit's name and the
    /// reset codes, not which of the two the bit selects: this reading is our choice).
    pub fn watchdog_reset(&mut self) -> WatchdogReset {
        if self.mon_id & MON_ID_RESET_ON_WATCHDOG != 0 {
            WatchdogReset::Monitor(self.monitor_id())
        } else {
            self.rst_code = RST_WDT;
            WatchdogReset::Chip
        }
    }

    /// Physical cores to restart since the last call (reset released or pulsed); clears them.
    pub fn take_core_resets(&mut self) -> u32 {
        std::mem::take(&mut self.resets_pending) & self.cores
    }
}

impl Device for SystemController {
    fn read(&mut self, offset: u32, at: Access) -> u32 {
        SystemController::read(self, offset, at.core)
    }

    fn write(&mut self, offset: u32, value: u32, at: Access) {
        SystemController::write(self, offset, value, at.core)
    }

    /// CPU_INT (VIC source 18) of the asking core.
    fn irq_lines(&self, at: Access) -> u32 {
        u32::from(self.cpu_int(at.core)) << 18
    }

    fn reset(&mut self) {
        *self = SystemController::new(self.cores.count_ones() as usize);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODE: u32 = 0x5EC0_0000;

    fn sc() -> SystemController {
        SystemController::new(18)
    }

    #[test]
    fn chip_id_and_reset_values() {
        let mut s = sc();
        assert_eq!(s.read(CHIP_ID_REG, 0), 0x5911_1012);
        s.write(CHIP_ID_REG, 0, 0);
        assert_eq!(s.read(CHIP_ID_REG, 0), CHIP_ID);
        assert_eq!(s.read(RST_CODE, 0), 0);
        assert_eq!(s.read(MISC_CTRL, 0), 0);
        assert_eq!(s.read(GPIO_DIR, 0), 0xFFFF_FFFF);
        assert_eq!(s.monitor_id(), 0);
        assert_eq!(s.disabled_cores(), 0);
        assert_eq!(s.read(SET_OK, 0), 0);
        for off in [PLL1, PLL2, CLKMUX, FLAG, SLEEP, LINK_DIS] {
            assert_eq!(s.read(off, 0), 0, "offset {off:#x}");
        }
    }

    #[test]
    fn boot_init_matches_scamp() {
        let mut s = SystemController::new(16);
        s.boot_init(3);
        assert_eq!(s.monitor_id(), 3);
        assert_eq!(s.read(MON_ID, 0), 3);
        assert_eq!(s.read(MISC_CTRL, 0) & 1, 1);
        assert_eq!(s.read(SET_OK, 0), 0xFFFF);
        assert_eq!(s.disabled_cores(), 0x3_0000);
        assert_eq!(s.read(PLL1, 0), 0x0007_0128);
        assert_eq!(s.read(PLL2, 0), 0x0007_011A);
        assert_eq!(s.read(CLKMUX, 0), 0x8094_88A5);
    }

    #[test]
    fn irq_lines_need_code() {
        let mut s = sc();
        s.write(SET_IRQ, 1 << 5, 0);
        assert!(!s.cpu_int(5));
        s.write(SET_IRQ, CODE | 1 << 5 | 1 << 17, 0);
        assert!(s.cpu_int(5) && s.cpu_int(17));
        assert!(!s.cpu_int(4));
        assert_eq!(s.read(SET_IRQ, 0), 1 << 5 | 1 << 17);
        assert_eq!(s.read(CLR_IRQ, 0), 1 << 5 | 1 << 17);
        s.write(CLR_IRQ, 1 << 5, 0);
        assert!(s.cpu_int(5));
        s.write(CLR_IRQ, CODE | 1 << 5, 0);
        assert!(!s.cpu_int(5) && s.cpu_int(17));
        // Bits above the cores and a wrong code are ignored.
        s.write(SET_IRQ, CODE | 0xFFFFF, 0);
        assert_eq!(s.read(SET_IRQ, 0), ALL_CORES);
        s.write(CLR_IRQ, 0x5ED0_0000 | ALL_CORES, 0);
        assert_eq!(s.read(SET_IRQ, 0), ALL_CORES);
        assert!(!s.cpu_int(18) && !s.cpu_int(255));
    }

    #[test]
    fn cpu_dis_mon_id_link_dis_need_code() {
        let mut s = sc();
        s.write(CPU_DIS, 0b110, 0);
        assert_eq!(s.disabled_cores(), 0);
        s.write(CPU_DIS, CODE | 0b110, 0);
        assert_eq!(s.disabled_cores(), 0b110);
        assert_eq!(s.read(CPU_DIS, 0), 0b110);
        s.write(MON_ID, 7, 0);
        assert_eq!(s.monitor_id(), 0);
        s.write(MON_ID, CODE | 0x1_0107, 0);
        assert_eq!(s.monitor_id(), 7);
        assert_eq!(s.read(MON_ID, 0), 0x1_0107);
        s.write(LINK_DIS, 0x3F, 0);
        assert_eq!(s.read(LINK_DIS, 0), 0);
        s.write(LINK_DIS, CODE | 0xF_FFFF, 0);
        assert_eq!(s.read(LINK_DIS, 0), LINK_DIS_MASK);
    }

    #[test]
    fn soft_reset_release_restarts_cores() {
        let mut s = sc();
        // reset_ap(): assert with code, then write the bare code.
        s.write(SOFT_RST_L, CODE | 0b1010, 0);
        assert_eq!(s.read(SOFT_RST_L, 0), 0b1010);
        assert_eq!(s.take_core_resets(), 0);
        s.write(SOFT_RST_L, CODE, 0);
        assert_eq!(s.take_core_resets(), 0b1010);
        assert_eq!(s.take_core_resets(), 0);
        // Without the code nothing happens.
        s.write(SOFT_RST_L, 0b1, 0);
        s.write(SOFT_RST_L, 0, 0);
        assert_eq!(s.take_core_resets(), 0);
        // Hard reset level and the pulse registers restart cores too.
        s.write(HARD_RST_L, CODE | 0b100, 0);
        s.write(HARD_RST_L, CODE, 0);
        s.write(SOFT_RST_P, CODE | 1 << 9, 0);
        s.write(HARD_RST_P, CODE | 1 << 10, 0);
        s.write(HARD_RST_P, 1 << 11, 0);
        assert_eq!(s.take_core_resets(), 0b100 | 1 << 9 | 1 << 10);
        assert_eq!(s.read(SOFT_RST_P, 0), 0);
        // Subsystem resets are stored but restart no core.
        s.write(SUBS_RST_L, CODE | 0xF_FFFF, 0);
        assert_eq!(s.read(SUBS_RST_L, 0), SUBS_MASK);
        s.write(SUBS_RST_P, CODE | 1, 0);
        assert_eq!(s.take_core_resets(), 0);
    }

    #[test]
    fn resets_of_absent_cores_are_not_reported() {
        let mut s = SystemController::new(4);
        s.write(SOFT_RST_P, CODE | 0xFF, 0);
        assert_eq!(s.take_core_resets(), 0xF);
    }

    #[test]
    fn cpu_ok_set_and_clear_without_code() {
        let mut s = sc();
        s.write(SET_OK, 0b111, 0);
        s.write(CLR_OK, 0b010, 0);
        assert_eq!(s.read(SET_OK, 0), 0b101);
        assert_eq!(s.read(CLR_OK, 0), 0b101);
    }

    #[test]
    fn flags_set_and_clear() {
        let mut s = sc();
        s.write(FLAG, 0b1100, 0);
        s.write(FLAG, 0b0001, 0);
        assert_eq!(s.read(FLAG, 0), 0b1101);
        s.write(CLR_FLAG, 0b0100, 0);
        assert_eq!(s.read(FLAG, 0), 0b1001);
        assert_eq!(s.read(CLR_FLAG, 0), 0b1001);
    }

    #[test]
    fn gpio_set_clear_and_read_back() {
        let mut s = sc();
        s.write(GPIO_SET, 0xF0, 0);
        s.write(GPIO_CLR, 0x30, 0);
        assert_eq!(s.read(GPIO_SET, 0), 0xC0);
        assert_eq!(s.read(GPIO_CLR, 0), 0xC0);
        assert_eq!(s.read(GPIO_PORT, 0), 0xC0);
        s.write(GPIO_PORT, 0x5, 0);
        assert_eq!(s.read(GPIO_SET, 0), 0x5);
        s.write(GPIO_DIR, 0xFFFF_FFF0, 0);
        assert_eq!(s.read(GPIO_DIR, 0), 0xFFFF_FFF0);
        s.write(GPIO_RES, 0x12, 0);
        assert_eq!(s.read(GPIO_RES, 0), 0x12);
    }

    #[test]
    fn misc_ctrl_keeps_writable_bits() {
        let mut s = sc();
        s.write(MISC_CTRL, 0xFFFF_FFFF, 0);
        assert_eq!(s.read(MISC_CTRL, 0), MISC_CTRL_MASK);
    }

    #[test]
    fn plain_clock_registers() {
        let mut s = sc();
        s.write(PLL1, 0x0007_0128, 0);
        s.write(PLL2, 0x1234, 0);
        s.write(CLKMUX, 0x8094_88A5, 0);
        assert_eq!(
            (s.read(PLL1, 0), s.read(PLL2, 0), s.read(CLKMUX, 0)),
            (0x0007_0128, 0x1234, 0x8094_88A5)
        );
    }

    #[test]
    fn sleep_reflects_wfi_and_is_read_only() {
        let mut s = sc();
        s.set_sleeping(0, true);
        s.set_sleeping(17, true);
        s.set_sleeping(18, true);
        s.set_sleeping(255, true);
        assert_eq!(s.read(SLEEP, 0), 1 | 1 << 17);
        s.set_sleeping(0, false);
        s.write(SLEEP, 0xFFFF_FFFF, 0);
        assert_eq!(s.read(SLEEP, 0), 1 << 17);
    }

    #[test]
    fn temperature_sensors_are_constant() {
        let mut s = sc();
        for off in [0x68, 0x6C, 0x70] {
            s.write(off, 0xFFFF_FFFF, 0);
            assert_eq!(s.read(off, 0), TEMP_SENSOR_VALUE);
        }
        assert_eq!(s.read(0x74, 0), 0);
    }

    #[test]
    fn test_and_set_locks() {
        let mut s = sc();
        // sark_lock_get: spin while TAS has bit31 set; sark_lock_free: read TAC.
        assert_eq!(s.read(TAS0 + 4 * 7, 1), 0);
        assert_eq!(s.read(TAS0 + 4 * 7, 2), 1 << 31);
        assert_eq!(s.read(TAS0 + 4 * 6, 2), 0);
        assert_eq!(s.read(TAC0 + 4 * 7, 1), 1 << 31);
        assert_eq!(s.read(TAC0 + 4 * 7, 1), 0);
        assert_eq!(s.read(TAS0 + 4 * 7, 2), 0);
        assert_eq!(s.read(TAS0 + 4 * 31, 2), 0);
        assert_eq!(s.read(TAC0 + 4 * 31, 2), 1 << 31);
        // Writes do not touch the locks.
        s.write(TAS0 + 4 * 6, 0, 0);
        s.write(TAC0 + 4 * 6, 0xFFFF_FFFF, 0);
        assert_eq!(s.read(TAS0 + 4 * 6, 2), 1 << 31);
    }

    #[test]
    fn arbitration_first_reader_wins() {
        let mut s = sc();
        assert_eq!(s.read(ARB0, 4), 4);
        assert_eq!(s.read(ARB0, 9), 1 << 31 | 4);
        assert_eq!(s.read(ARB0 + 4 * 31, 9), 9);
        s.write(ARB0, 0, 0);
        assert_eq!(s.read(ARB0, 9), 9);
    }

    #[test]
    fn unknown_offsets_are_harmless() {
        let mut s = sc();
        for off in [0x74, 0x7C, 0x204, 0xFFC, u32::MAX] {
            s.write(off, 0xFFFF_FFFF, 0);
            assert_eq!(s.read(off, 0), 0, "offset {off:#x}");
        }
        // Byte offsets address the containing word.
        assert_eq!(s.read(CHIP_ID_REG + 2, 0), CHIP_ID);
    }

    #[test]
    fn core_count_is_clamped() {
        let mut s = SystemController::new(100);
        s.boot_init(0);
        assert_eq!(s.read(SET_OK, 0), ALL_CORES);
        let mut s = SystemController::new(0);
        s.boot_init(0);
        assert_eq!(s.disabled_cores(), ALL_CORES);
        let mut s = SystemController::new(1);
        s.boot_init(200);
        assert_eq!(s.monitor_id(), 200 & 0x1F);
    }

    #[test]
    fn a_watchdog_reset_takes_the_chip_unless_mon_id_asks_for_the_monitor_alone() {
        let mut s = SystemController::new(18);
        s.boot_init(0);
        assert_eq!(s.watchdog_reset(), WatchdogReset::Chip);
        assert_eq!(s.read(RST_CODE, 1), RST_WDT);
        let mut s = SystemController::new(18);
        s.boot_init(0);
        s.write(MON_ID, 0x5EC0_0000 | 1 << 16 | 2, 1);
        assert_eq!(s.watchdog_reset(), WatchdogReset::Monitor(2));
        assert_eq!(s.read(RST_CODE, 1), RST_POR);
    }
}
