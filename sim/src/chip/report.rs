// SPDX-License-Identifier: GPL-2.0-or-later
//! What the host learns about a chip's cores after a run, read as SpiNNaker's tools read it:
//! the vcpu blocks, the IOBUF chains, the core's own counters.

use super::memory::{region_of, Region};
use super::sysram::{self, vcpu, CpuState};
use super::Chip;
use crate::report::CoreReport;

impl Chip {
    /// Reads a word from the vcpu block of virtual core `virt`.
    fn vcpu_u32(&self, virt: u8, field: u32) -> u32 {
        self.shared
            .borrow()
            .sysram
            .read_u32(sysram::vcpu_field(virt, field))
    }

    /// The text in a core's IOBUF blocks (followed along their `next` links).
    pub fn iobuf(&self, virt: u8) -> String {
        let sh = self.shared.borrow();
        let read = |addr: u32, len: usize| -> Result<Option<Vec<u8>>, std::convert::Infallible> {
            let Some(Region::Sdram(o)) = region_of(addr, len as u32) else {
                return Ok(None);
            };
            let mut buf = vec![0u8; len];
            sh.sdram.read(o as usize, &mut buf);
            Ok(Some(buf))
        };
        sysram::iobuf_text(self.vcpu_u32(virt, vcpu::IOBUF), read).unwrap_or_else(|e| match e {})
    }

    /// The state of virtual core `virt` as its vcpu block says.
    pub fn cpu_state(&self, virt: u8) -> CpuState {
        sysram::cpu_state(&self.shared.borrow().sysram, virt)
    }

    /// A report for each loaded application core, in virtual core order.
    pub fn reports(&self) -> Vec<CoreReport> {
        let mut out = Vec::new();
        for virt in 1..self.v2p.len() as u8 {
            let Some(core) = self.core(virt) else {
                continue;
            };
            let mut block = [0u8; sysram::VCPU_SIZE as usize];
            self.shared
                .borrow()
                .sysram
                .read(sysram::vcpu_field(virt, 0), &mut block);
            let v = sysram::Vcpu::parse(&block);
            let st = core.state();
            out.push(CoreReport {
                x: self.x,
                y: self.y,
                p: virt,
                phys: self.phys_of(virt),
                state: v.state,
                rt_code: v.rt_code,
                rt_name: sysram::rte_name(v.rt_code).to_string(),
                pc: v.fault_pc().unwrap_or_else(|| core.pc()),
                user: v.user,
                cycles: st.busy_cycles,
                instructions: st.instructions,
                iobuf: self.iobuf(virt),
                halt_reason: core.halt_reason.clone(),
            });
        }
        out
    }
}
