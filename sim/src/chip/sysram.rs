// SPDX-License-Identifier: GPL-2.0-or-later
//! System RAM as a booted monitor leaves it (hardware notes §1.4, §6.5–§6.7): `sv` and the vcpu
//! blocks written into a chip's memory at boot. The layout itself is `spinn_hw::sysram`.

use super::memory::Ram;
pub use spinn_hw::sysram::*;

/// Chip facts the monitor writes into `sv` at boot.
#[derive(Clone, Debug)]
pub struct BootInfo {
    /// This chip's coordinates.
    pub x: u8,
    /// This chip's coordinates.
    pub y: u8,
    /// Machine width in chips.
    pub width: u8,
    /// Machine height in chips.
    pub height: u8,
    /// Virtual-to-physical core map (index = virtual core).
    pub v2p: Vec<u8>,
    /// True on the chip with the Ethernet connection (the root).
    pub ethernet: bool,
}

/// Writes `sv` and the vcpu blocks as a booted monitor leaves them: application cores idle.
pub fn boot(sysram: &Ram, info: &BootInfo) {
    let p2p = ((info.x as u16) << 8) | info.y as u16;
    let w16 = |a: u32, v: u16| sysram.write(off(SV_BASE + a), &v.to_le_bytes());
    let w8 = |a: u32, v: u8| sysram.write_u8(off(SV_BASE + a), v);
    let w32 = |a: u32, v: u32| sysram.write_u32(off(SV_BASE + a), v);
    w16(sv::P2P_ADDR, p2p);
    w16(
        sv::P2P_DIMS,
        ((info.width as u16) << 8) | info.height as u16,
    );
    w16(sv::DBG_ADDR, 0);
    w8(sv::P2P_UP, 1);
    w16(sv::ETH_ADDR, 0);
    w8(sv::HW_VER, 5);
    w8(sv::ETH_UP, info.ethernet as u8);
    w8(sv::CLK_DIV, 0x33);
    w16(sv::CPU_CLK, crate::CPU_CLK_MHZ as u16);
    w16(sv::MEM_CLK, 130);
    w8(sv::PEEK_TIME, 200);
    w8(sv::NETINIT_PHASE, 0xFF);
    w16(sv::P2P_ROOT, 0);
    w8(sv::ROOT_CHIP, info.ethernet as u8);
    w8(sv::NUM_BUF, 7);
    w32(sv::IOBUF_SIZE, IOBUF_SIZE);
    w32(sv::SYSBUF_SIZE, 32768);
    w8(sv::LINK_EN, 0x3F);
    w8(sv::NUM_CPUS, info.v2p.len() as u8);
    w32(sv::SDRAM_BASE, SDRAM_USER_BASE);
    w32(sv::SYSRAM_BASE, SYSRAM_USER_BASE);
    w32(sv::SDRAM_SYS, SDRAM_SYS);
    w32(sv::VCPU_BASE, VCPU_BASE);
    w32(sv::SW_VER, SW_VER);
    let mut p2v = [0xFFu8; 20];
    let mut v2p = [0xFFu8; 20];
    for (virt, &phys) in info.v2p.iter().enumerate() {
        v2p[virt] = phys;
        p2v[phys as usize] = virt as u8;
    }
    sysram.write(off(SV_BASE + sv::P2V_MAP), &p2v);
    sysram.write(off(SV_BASE + sv::V2P_MAP), &v2p);
    for (virt, &phys) in info.v2p.iter().enumerate() {
        let v = virt as u8;
        sysram.write_u8(vcpu_field(v, vcpu::PHYS_CPU), phys);
        // The monitor runs SC&MP; application cores run the idle SARK stub (app ID 0).
        let state = if virt == 0 {
            CpuState::Run
        } else {
            CpuState::Idle
        };
        sysram.write_u8(vcpu_field(v, vcpu::CPU_STATE), state.to_u8());
        sysram.write_u32(vcpu_field(v, vcpu::SW_VER), SW_VER);
        let name: &[u8] = if virt == 0 { b"scamp-3" } else { b"sark" };
        sysram.write(vcpu_field(v, vcpu::APP_NAME), name);
    }
}

/// Reads a core's state from its vcpu block.
pub fn cpu_state(sysram: &Ram, virt: u8) -> CpuState {
    CpuState::from_u8(sysram.read_u8(vcpu_field(virt, vcpu::CPU_STATE)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_writes_sv_and_vcpu_where_spinnman_reads_them() {
        let ram = Ram::new(0x8000);
        boot(
            &ram,
            &BootInfo {
                x: 0,
                y: 0,
                width: 1,
                height: 1,
                v2p: (0..18).collect(),
                ethernet: true,
            },
        );
        assert_eq!(ram.read_u8(0x7F24), 200);
        assert_eq!(ram.read_u8(0x7F00 + 0xBC), 18);
        assert_eq!(cpu_state(&ram, 0), CpuState::Run);
        assert_eq!(cpu_state(&ram, 5), CpuState::Idle);
        assert_eq!(ram.read_u8(0x7000 + 5 * 128 + 45), 5);
        assert_eq!(ram.read_u8(0x7F00 + 0x94 + 7), 7);
    }
}
