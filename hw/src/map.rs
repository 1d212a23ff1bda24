// SPDX-License-Identifier: GPL-2.0-or-later
//! The address map of a SpiNNaker1 core (hardware notes §1.2): memories and peripherals, with
//! their buffered (0xE…/0x6…) and unbuffered (0xF…/0x7…) aliases. The only place in the
//! workspace where a base address is written: the simulator's MMIO wiring, the SC&MP model
//! and the board client all look addresses up here.

/// ITCM base address and size (32 KiB).
pub const ITCM_BASE: u32 = 0x0000_0000;
/// ITCM size in bytes.
pub const ITCM_SIZE: u32 = 0x8000;
/// DTCM base address.
pub const DTCM_BASE: u32 = 0x0040_0000;
/// DTCM size in bytes (64 KiB).
pub const DTCM_SIZE: u32 = 0x1_0000;
/// SDRAM, buffered alias.
pub const SDRAM_BASE: u32 = 0x6000_0000;
/// SDRAM, unbuffered alias.
pub const SDRAM_BASE_UNBUF: u32 = 0x7000_0000;
/// SDRAM size (128 MiB).
pub const SDRAM_SIZE: u32 = 0x0800_0000;
/// System RAM, buffered alias.
pub const SYSRAM_BASE: u32 = 0xE500_0000;
/// System RAM, unbuffered alias.
pub const SYSRAM_BASE_UNBUF: u32 = 0xF500_0000;
/// System RAM size (32 KiB).
pub const SYSRAM_SIZE: u32 = 0x8000;
/// System ROM base (unbuffered only).
pub const SYSROM_BASE: u32 = 0xF600_0000;
/// System ROM size (32 KiB).
pub const SYSROM_SIZE: u32 = 0x8000;

/// A memory-mapped peripheral block, as the datasheet names it (§1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Device {
    /// The core's communications controller (private).
    Cc,
    /// The core's dual timer (private).
    Timer,
    /// The core's vectored interrupt controller (private).
    Vic,
    /// The core's DMA controller (private).
    Dma,
    /// The PL340 SDRAM controller (shared).
    Pl340,
    /// The multicast router (shared).
    Router,
    /// The system controller (shared).
    SysCtl,
    /// The SP805 watchdog timer (shared).
    Watchdog,
}

impl Device {
    /// Every block, the core's own first.
    pub const ALL: [Device; 8] = [
        Device::Cc,
        Device::Timer,
        Device::Vic,
        Device::Dma,
        Device::Pl340,
        Device::Router,
        Device::SysCtl,
        Device::Watchdog,
    ];

    /// True for the blocks each core has its own of; the others are one per chip.
    pub fn per_core(self) -> bool {
        matches!(self, Device::Cc | Device::Timer | Device::Vic | Device::Dma)
    }
}

/// Every peripheral region of a core's address map: base, size, block.
pub const DEVICE_MAP: &[(u32, u32, Device)] = &[
    (CC_BASE, 0x1000, Device::Cc),
    (0x2000_0000, 0x1000, Device::Cc),
    (TIMER_BASE, 0x1000, Device::Timer),
    (0x2100_0000, 0x1000, Device::Timer),
    (VIC_BASE, 0x1000, Device::Vic),
    (0x2F00_0000, 0x1000, Device::Vic),
    // The IRQ vector reads VIC_VADDR through this high alias (§1.2, §8.1).
    (0xFFFF_F000, 0x1000, Device::Vic),
    (DMA_BASE, 0x1000, Device::Dma),
    (0x4000_0000, 0x1000, Device::Dma),
    (PL340_BASE, 0x1000, Device::Pl340),
    (0xF000_0000, 0x1000, Device::Pl340),
    (ROUTER_BASE, ROUTER_SIZE, Device::Router),
    (0xF100_0000, ROUTER_SIZE, Device::Router),
    (SYSCTL_BASE, SYSCTL_SIZE, Device::SysCtl),
    (0xF200_0000, SYSCTL_SIZE, Device::SysCtl),
    (WATCHDOG_BASE, 0x1000, Device::Watchdog),
    (0xF300_0000, 0x1000, Device::Watchdog),
];

/// Communications controller, private alias used by SARK (buffered alias 0x2000_0000).
pub const CC_BASE: u32 = 0x1000_0000;
/// Timer block (buffered alias 0x2100_0000).
pub const TIMER_BASE: u32 = 0x1100_0000;
/// VIC (buffered alias 0x2F00_0000, high vector alias 0xFFFF_F000).
pub const VIC_BASE: u32 = 0x1F00_0000;
/// DMA controller (alias 0x4000_0000).
pub const DMA_BASE: u32 = 0x3000_0000;
/// PL340 SDRAM controller, buffered alias.
pub const PL340_BASE: u32 = 0xE000_0000;
/// Router, buffered alias.
pub const ROUTER_BASE: u32 = 0xE100_0000;
/// Router register space (registers, diagnostic counters, tables).
pub const ROUTER_SIZE: u32 = 0x2_0000;
/// System controller, buffered alias.
pub const SYSCTL_BASE: u32 = 0xE200_0000;
/// System controller register space.
pub const SYSCTL_SIZE: u32 = 0x1000;
/// Watchdog (SP805), buffered alias.
pub const WATCHDOG_BASE: u32 = 0xE300_0000;

/// Router register offsets that code outside the router model uses (§2.5).
pub mod router_reg {
    /// RTR_FR: the fixed route.
    pub const FR: u32 = 0x84;
    /// RTR_DGC0: the first of 16 diagnostic counters.
    pub const DGC0: u32 = 0x300;
    /// The P2P table: 3 bits per chip address, 8 to a word.
    pub const P2P_TABLE: u32 = 0x1_0000;
}

/// System controller register offsets that code outside the controller model uses (§2.6).
pub mod sysctl_reg {
    /// The code writes to protected registers carry in bits [31:20].
    pub const SC_CODE: u32 = 0x5EC0_0000;
    /// SC_SET_IRQ: write-1 raises a core's CPU_INT.
    pub const SET_IRQ: u32 = 0x08;
    /// SC_CLR_IRQ: write-1 clears it.
    pub const CLR_IRQ: u32 = 0x0C;
    /// SC_SETFLAG: write-1 sets flag bits (a read returns the flags).
    pub const SETFLAG: u32 = 0x58;
    /// SC_CLRFLAG: write-1 clears flag bits.
    pub const CLRFLAG: u32 = 0x5C;
}

/// The peripheral block holding `addr..addr+len`, with the offset of `addr` in it.
pub fn device_at(addr: u32, len: u32) -> Option<(Device, u32)> {
    DEVICE_MAP.iter().find_map(|&(base, size, dev)| {
        let off = addr.checked_sub(base)?;
        (off < size && len <= size - off).then_some((dev, off))
    })
}

/// Where a core address lands in the chip's memories.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Region {
    /// Private instruction TCM, with the offset into it.
    Itcm(u32),
    /// Private data TCM.
    Dtcm(u32),
    /// Shared System RAM (either alias).
    SysRam(u32),
    /// Shared SDRAM (either alias).
    Sdram(u32),
    /// System ROM.
    SysRom(u32),
}

/// Decodes a core address range `[addr, addr+len)` into one memory region, or None if it is not
/// wholly inside one RAM/ROM (peripherals and holes are not memory).
pub fn region_of(addr: u32, len: u32) -> Option<Region> {
    let within = |base: u32, size: u32| -> Option<u32> {
        let off = addr.checked_sub(base)?;
        (off < size && len <= size - off).then_some(off)
    };
    if let Some(o) = within(ITCM_BASE, ITCM_SIZE) {
        return Some(Region::Itcm(o));
    }
    if let Some(o) = within(DTCM_BASE, DTCM_SIZE) {
        return Some(Region::Dtcm(o));
    }
    if let Some(o) = within(SDRAM_BASE, SDRAM_SIZE).or_else(|| within(SDRAM_BASE_UNBUF, SDRAM_SIZE))
    {
        return Some(Region::Sdram(o));
    }
    if let Some(o) =
        within(SYSRAM_BASE, SYSRAM_SIZE).or_else(|| within(SYSRAM_BASE_UNBUF, SYSRAM_SIZE))
    {
        return Some(Region::SysRam(o));
    }
    within(SYSROM_BASE, SYSROM_SIZE).map(Region::SysRom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_decode_both_aliases() {
        assert_eq!(region_of(0x10, 4), Some(Region::Itcm(0x10)));
        assert_eq!(region_of(0x40_FFFC, 4), Some(Region::Dtcm(0xFFFC)));
        assert_eq!(region_of(0x40_FFFE, 4), None);
        assert_eq!(region_of(0x6000_0100, 4), Some(Region::Sdram(0x100)));
        assert_eq!(region_of(0x7000_0100, 4), Some(Region::Sdram(0x100)));
        assert_eq!(region_of(0xE500_7F00, 4), Some(Region::SysRam(0x7F00)));
        assert_eq!(region_of(0xF500_7F00, 4), Some(Region::SysRam(0x7F00)));
        assert_eq!(region_of(0x1000_0000, 4), None);
        assert_eq!(region_of(0x8000, 1), None);
    }

    #[test]
    fn devices_decode_every_alias_and_do_not_overlap() {
        assert_eq!(device_at(0xE100_0300, 4), Some((Device::Router, 0x300)));
        assert_eq!(device_at(0xF101_0000, 4), Some((Device::Router, 0x1_0000)));
        assert_eq!(device_at(0xFFFF_F030, 4), Some((Device::Vic, 0x30)));
        assert_eq!(device_at(0xE200_0FFE, 4), None);
        assert_eq!(device_at(0x6000_0000, 4), None);
        for (i, &(b1, s1, _)) in DEVICE_MAP.iter().enumerate() {
            for &(b2, s2, _) in &DEVICE_MAP[i + 1..] {
                let (b1, s1, b2, s2) = (b1 as u64, s1 as u64, b2 as u64, s2 as u64);
                assert!(b1 + s1 <= b2 || b2 + s2 <= b1, "{b1:#x} overlaps {b2:#x}");
            }
            assert_eq!(region_of(b1, 4), None, "{b1:#x} is also memory");
        }
    }
}
