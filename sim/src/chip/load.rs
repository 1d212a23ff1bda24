// SPDX-License-Identifier: GPL-2.0-or-later
//! Putting a program on a core as SC&MP does after an APLX load (hardware notes §6.2, §6.3),
//! and taking it off again.

use super::core::Core;
use super::memory::{region_of, Region};
use super::sysram::{self, vcpu, CpuState};
use super::{Chip, ChipError};
use crate::program::Program;

impl Chip {
    /// Loads `program` onto virtual core `virt` and starts it as SC&MP does after an APLX load:
    /// vcpu INIT with the app ID, no IOBUF yet, entry in SVC mode with r0 = (flags<<8)|app_id.
    pub fn load(
        &mut self,
        virt: u32,
        program: &Program,
        app_id: u8,
        app_flags: u8,
    ) -> Result<(), ChipError> {
        if virt == 0 || virt as usize >= self.v2p.len() {
            return Err(ChipError::BadCore(virt, self.v2p.len() as u32 - 1));
        }
        let v = virt as u8;
        let phys = self.v2p[virt as usize];
        let mut core = Core::new(phys, self.shared.clone(), self.config.align_check)?;
        core.state_mut().cpu_state_at = Some(sysram::vcpu_field(v, vcpu::CPU_STATE) as u32);
        {
            let sh = self.shared.borrow();
            let st = core.state();
            for seg in &program.segments {
                let mut bytes = seg.data.clone();
                bytes.resize(seg.mem_size as usize, 0);
                let ok = match region_of(seg.addr, seg.mem_size) {
                    Some(Region::Itcm(o)) => st.itcm.write(o as usize, &bytes),
                    Some(Region::Dtcm(o)) => st.dtcm.write(o as usize, &bytes),
                    Some(Region::SysRam(o)) => sh.sysram.write(o as usize, &bytes),
                    Some(Region::Sdram(o)) => sh.sdram.write(o as usize, &bytes),
                    _ => false,
                };
                if !ok {
                    return Err(ChipError::Segment(program.name.clone(), seg.addr));
                }
            }
            let ram = &sh.sysram;
            let f = |field| sysram::vcpu_field(v, field);
            ram.write(f(0), &[0u8; 48]);
            // The clear above spans phys_cpu (byte 45): it stays the core's (SpiNNMan reads it).
            ram.write_u8(f(vcpu::PHYS_CPU), phys);
            ram.write_u8(f(vcpu::RT_CODE), 0);
            ram.write_u8(f(vcpu::CPU_STATE), CpuState::Init.to_u8());
            ram.write_u8(f(vcpu::APP_ID), app_id);
            let mut name = [0u8; 16];
            let n = program.name.len().min(15);
            name[..n].copy_from_slice(&program.name.as_bytes()[..n]);
            ram.write(f(vcpu::APP_NAME), &name);
            // user0..3 are left alone: hosts write them (user0: the data's address) before the
            // application starts, as the SpiNNaker tools do, often before it is even loaded.
            // No IOBUF until the application prints: SARK (and our runtime) take it from the
            // system heap then (§11.4).
            ram.write_u32(f(vcpu::IOBUF), 0);
        }
        core.state_mut().now = self.now;
        core.reset_to(program.entry, ((app_flags as u32) << 8) | app_id as u32);
        self.cores[phys as usize] = Some(core);
        self.sync_due(phys as usize);
        Ok(())
    }

    /// Drops the application of virtual core `virt` (the monitor stopped its clock and will
    /// reload the idle stub); false when none was loaded.
    pub fn unload(&mut self, virt: u8) -> bool {
        let Some(&phys) = self.v2p.get(virt as usize) else {
            return false;
        };
        self.wake_at[phys as usize] = None;
        let was = self.cores[phys as usize].take().is_some();
        self.sync_due(phys as usize);
        was
    }
}
