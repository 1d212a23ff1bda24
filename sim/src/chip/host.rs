// SPDX-License-Identifier: GPL-2.0-or-later
//! What the host side does to a chip: the SC&MP model, result extraction and the targets read
//! and write its memories, routing tables and system controller through these accessors, named
//! as SpiNNaker names them, never by reaching into the shared blocks.
//!
//! Memory accessors take core addresses (SDRAM, System RAM, either alias) or the offsets of
//! `sv` and vcpu fields; register accessors take byte offsets from the block's base
//! ([`spinn_hw::map::router_reg`], [`spinn_hw::map::sysctl_reg`]). The host acts as the monitor
//! would: system controller accesses are made in the name of the monitor's physical core.

use spinn_hw::map::router_reg;
use spinn_hw::map::sysctl_reg::{CLRFLAG, CLR_IRQ, SC_CODE, SETFLAG, SET_IRQ};

use super::sysram::{self, vcpu, CpuState, SV_BASE};
use super::Chip;
use crate::sark::SysMem;

/// Route word of a multicast entry nobody uses (SARK's `rtr_mc_clear`).
const MC_UNUSED_ROUTE: u32 = 0xFF00_0000;

/// Offset inside System RAM of `sv` field `field`.
fn sv_offset(field: u32) -> usize {
    sysram::off(SV_BASE + field)
}

impl Chip {
    /// Reads SDRAM or System RAM at a core address; false, with nothing read, outside them.
    pub fn read_system(&self, addr: u32, buf: &mut [u8]) -> bool {
        self.shared().read_system(addr, buf)
    }

    /// Writes SDRAM or System RAM at a core address; false, with nothing written, outside them.
    pub fn write_system(&self, addr: u32, data: &[u8]) -> bool {
        self.shared().write_system(addr, data)
    }

    /// A digest of the whole of System RAM, for determinism checks and golden files.
    pub fn sysram_digest(&self) -> u64 {
        self.shared().sysram.digest()
    }

    /// A digest of the whole of SDRAM, for determinism checks.
    pub fn sdram_digest(&self) -> u64 {
        self.shared().sdram.digest()
    }

    /// Runs `f` on SARK's view of the chip's memories (heaps, router copy, `app_data`); no
    /// borrow of the chip is held meanwhile, so `f` may use the other accessors.
    pub fn with_sys_mem<R>(&self, f: impl FnOnce(SysMem<'_>) -> R) -> R {
        let (sysram, sdram) = {
            let sh = self.shared();
            (sh.sysram.clone(), sh.sdram.clone())
        };
        f(SysMem {
            sysram: &sysram,
            sdram: &sdram,
        })
    }

    /// The byte at offset `field` of the system variables (`sv`).
    pub fn sv_byte(&self, field: u32) -> u8 {
        self.shared().sysram.read_u8(sv_offset(field))
    }

    /// The word at offset `field` of the system variables (`sv`).
    pub fn sv_word(&self, field: u32) -> u32 {
        self.shared().sysram.read_u32(sv_offset(field))
    }

    /// Writes the word at offset `field` of the system variables (`sv`).
    pub fn set_sv_word(&self, field: u32, value: u32) {
        self.shared().sysram.write_u32(sv_offset(field), value);
    }

    /// Reads `buf.len()` bytes from offset `field` of the system variables (`sv`).
    pub fn read_sv(&self, field: u32, buf: &mut [u8]) {
        self.shared().sysram.read(sv_offset(field), buf);
    }

    /// Writes `data` at offset `field` of the system variables (`sv`).
    pub fn write_sv(&self, field: u32, data: &[u8]) {
        self.shared().sysram.write(sv_offset(field), data);
    }

    /// The byte at offset `field` of virtual core `virt`'s vcpu block.
    pub fn vcpu_byte(&self, virt: u8, field: u32) -> u8 {
        self.shared()
            .sysram
            .read_u8(sysram::vcpu_field(virt, field))
    }

    /// The word at offset `field` of virtual core `virt`'s vcpu block.
    pub fn vcpu_word(&self, virt: u8, field: u32) -> u32 {
        self.shared()
            .sysram
            .read_u32(sysram::vcpu_field(virt, field))
    }

    /// Writes the byte at offset `field` of virtual core `virt`'s vcpu block.
    pub fn set_vcpu_byte(&self, virt: u8, field: u32, value: u8) {
        self.shared()
            .sysram
            .write_u8(sysram::vcpu_field(virt, field), value);
    }

    /// Writes the word at offset `field` of virtual core `virt`'s vcpu block.
    pub fn set_vcpu_word(&self, virt: u8, field: u32, value: u32) {
        self.shared()
            .sysram
            .write_u32(sysram::vcpu_field(virt, field), value);
    }

    /// Sets virtual core `virt`'s `cpu_state` in its vcpu block, as the monitor does.
    pub fn set_cpu_state(&self, virt: u8, state: CpuState) {
        self.set_vcpu_byte(virt, vcpu::CPU_STATE, state.to_u8());
    }

    /// The P2P table's route (link 0..5, 6: drop, 7: the monitor) toward chip address `dest`.
    pub fn p2p_entry(&self, dest: u16) -> u8 {
        self.shared().router.p2p_entry(dest)
    }

    /// Sets the P2P table's route toward chip address `dest`.
    pub fn set_p2p_entry(&self, dest: u16, route: u8) {
        self.shared_mut().router.set_p2p_entry(dest, route);
    }

    /// Gives the router the P2P routes SC&MP's boot leaves, looked up when first used.
    pub(crate) fn set_boot_p2p(&self, routes: std::rc::Rc<crate::chip::router::p2p::P2pRoutes>) {
        let chip = (self.x, self.y);
        self.shared_mut().router.set_boot_p2p(routes, chip);
    }

    /// Multicast entry `i` as the router holds it: (key, mask, route with physical cores).
    pub fn mc_entry(&self, i: usize) -> (u32, u32, u32) {
        self.shared().router.mc_entry(i)
    }

    /// Resets multicast entry `i` so that it never matches, as SARK's `rtr_mc_clear` does.
    pub fn clear_mc_entry(&self, i: usize) {
        self.shared_mut()
            .router
            .set_mc_entry(i, 0xFFFF_FFFF, 0, MC_UNUSED_ROUTE);
    }

    /// Sets the fixed route (RTR_FR) to `route`, links in bits 0..5, physical cores above.
    pub fn set_fixed_route(&self, route: u32) {
        self.shared_mut().router.write(router_reg::FR, route);
    }

    /// Reads the router register or table word at byte `offset`, as a core would (DSTAT clears).
    pub fn read_router_reg(&self, offset: u32) -> u32 {
        self.shared_mut().router.read(offset)
    }

    /// Writes the router register or table word at byte `offset`.
    pub fn write_router_reg(&self, offset: u32, value: u32) {
        self.shared_mut().router.write(offset, value);
    }

    /// Reads the system controller register at byte `offset`, as the monitor core.
    pub fn read_sysctl_reg(&self, offset: u32) -> u32 {
        let monitor = self.phys_of(0);
        self.shared_mut().sysctl.read(offset, monitor)
    }

    /// Writes the system controller register at byte `offset`, as the monitor core.
    pub fn write_sysctl_reg(&self, offset: u32, value: u32) {
        let monitor = self.phys_of(0);
        self.shared_mut().sysctl.write(offset, value, monitor);
    }

    /// Raises CPU_INT of the physical cores in `phys_mask` (SC_SET_IRQ with the code).
    pub fn raise_cpu_ints(&self, phys_mask: u32) {
        self.write_sysctl_reg(SET_IRQ, SC_CODE | phys_mask);
    }

    /// Clears CPU_INT of the physical cores in `phys_mask` (SC_CLR_IRQ with the code).
    pub fn clear_cpu_ints(&self, phys_mask: u32) {
        self.write_sysctl_reg(CLR_IRQ, SC_CODE | phys_mask);
    }

    /// Whether CPU_INT of physical core `phys` is up.
    pub fn cpu_int(&self, phys: u8) -> bool {
        self.shared().sysctl.cpu_int(phys)
    }

    /// Sets the system controller's flags in `mask` (SC_SETFLAG).
    pub fn set_sc_flags(&self, mask: u32) {
        self.write_sysctl_reg(SETFLAG, mask);
    }

    /// Clears the system controller's flags in `mask` (SC_CLRFLAG).
    pub fn clear_sc_flags(&self, mask: u32) {
        self.write_sysctl_reg(CLRFLAG, mask);
    }

    /// The system controller's flags (SC_SETFLAG as read).
    pub fn sc_flags(&self) -> u32 {
        self.read_sysctl_reg(SETFLAG)
    }

    /// Whether hardware lock `n` (SC_TAS/SC_TAC n) is held, without taking or releasing it.
    pub fn lock_held(&self, n: u32) -> bool {
        self.shared().sysctl.lock_held(n)
    }
}
