// SPDX-License-Identifier: GPL-2.0-or-later
//! The simulator as a [`Target`]: spinn-sim's machine in this process (the `sim` feature).

use spinn_hw::geometry::MachineDesc;
use spinn_hw::program::Program;
use spinn_hw::report::CoreReport;
use spinn_hw::routes::RouteEntry;
use spinn_hw::{Cycle, NS_PER_CYCLE};
use std::collections::BTreeMap;

use spinn_sim::budget::{Estimate, Host};
use spinn_sim::chip::ChipConfig;
use spinn_sim::machine::{Machine, MachineError};

use crate::mapping::SdramLayout;
use crate::target::{PacketCounts, RunEnd, Target, TargetError};

/// The simulator as a target (one host thread; the same results as any number of threads).
pub struct SimTarget {
    machine: Machine,
    sdram: SdramLayout,
    /// What the host had when the machine was built, to refuse loads it cannot hold (None:
    /// built without the check).
    host: Option<Host>,
    /// Every core loaded so far (a core loaded again holds no second emulator), with the
    /// application id it was last loaded with.
    loaded: BTreeMap<(u8, u8, u32), u8>,
}

impl SimTarget {
    /// A booted simulated machine of the given shape.
    pub fn new(desc: MachineDesc, config: ChipConfig) -> SimTarget {
        SimTarget {
            machine: Machine::new(desc, config),
            sdram: SdramLayout::new(),
            host: None,
            loaded: BTreeMap::new(),
        }
    }

    /// A booted simulated machine of the given shape, refused before it is built when this
    /// host's memory cannot hold it ([`spinn_sim::budget`]); later loads that would take more
    /// than the host had are refused too.
    pub fn checked(desc: MachineDesc, config: ChipConfig) -> Result<SimTarget, TargetError> {
        let host = Host::probe()?;
        Self::estimate(&desc, 0).check(&host)?;
        Ok(SimTarget {
            host: Some(host),
            ..SimTarget::new(desc, config)
        })
    }

    /// The host memory this machine holds with `cores` loaded cores (one host thread).
    fn estimate(desc: &MachineDesc, cores: usize) -> Estimate {
        Estimate {
            chips: desc.chips().len() as u64,
            cores: cores as u64,
            threads: 1,
        }
    }

    /// The simulated machine itself, for what only a simulator can show.
    pub fn sim(&self) -> &Machine {
        &self.machine
    }

    /// The simulated machine, to switch on what only a simulator has (traces, say).
    pub fn sim_mut(&mut self) -> &mut Machine {
        &mut self.machine
    }
}

impl Target for SimTarget {
    fn machine(&self) -> &MachineDesc {
        self.machine.desc()
    }

    fn load(
        &mut self,
        x: u8,
        y: u8,
        p: u32,
        program: &Program,
        app_id: u8,
    ) -> Result<(), TargetError> {
        let new = !self.loaded.contains_key(&(x, y, p));
        if new {
            // Refused before the core's emulator exists.
            self.check_capacity(1)?;
        }
        self.machine.load(x, y, p, program, app_id)?;
        self.loaded.insert((x, y, p), app_id);
        // SC&MP raises a core's SC flag when it starts an application, for its SYNC barriers.
        if let Some(chip) = self.machine.chip(x, y) {
            chip.set_sc_flags(1 << p);
        }
        Ok(())
    }

    fn check_capacity(&self, cores: usize) -> Result<(), TargetError> {
        if let Some(host) = &self.host {
            Self::estimate(self.machine.desc(), self.loaded.len() + cores).check(host)?;
        }
        Ok(())
    }

    fn load_routes(&mut self, entries: &[RouteEntry]) -> Result<(), TargetError> {
        Ok(self.machine.load_routes(entries)?)
    }

    fn alloc_sdram(&mut self, x: u8, y: u8, bytes: u32, _app_id: u8) -> Result<u32, TargetError> {
        self.machine.chip(x, y).ok_or(MachineError::NoChip(x, y))?;
        self.sdram
            .alloc(x, y, bytes)
            .map_err(|_| TargetError::OutOfSdram { x, y, bytes })
    }

    fn write_memory(&mut self, x: u8, y: u8, addr: u32, data: &[u8]) -> Result<(), TargetError> {
        let chip = self.machine.chip(x, y).ok_or(MachineError::NoChip(x, y))?;
        let ok = chip.write_system(addr, data);
        ok.then_some(())
            .ok_or(TargetError::BadAddress(x, y, addr, data.len()))
    }

    fn read_memory(&mut self, x: u8, y: u8, addr: u32, len: usize) -> Result<Vec<u8>, TargetError> {
        let chip = self.machine.chip(x, y).ok_or(MachineError::NoChip(x, y))?;
        let mut buf = vec![0u8; len];
        let ok = chip.read_system(addr, &mut buf);
        ok.then_some(buf)
            .ok_or(TargetError::BadAddress(x, y, addr, len))
    }

    fn run(&mut self, limit_ns: u64) -> Result<RunEnd, TargetError> {
        let limit: Cycle = limit_ns / NS_PER_CYCLE;
        let stop = self.machine.run(limit.max(1));
        Ok(RunEnd {
            stop,
            time_ns: self.machine.now() * NS_PER_CYCLE,
        })
    }

    fn cores(&mut self) -> Result<Vec<CoreReport>, TargetError> {
        Ok(self.machine.reports())
    }

    fn signal_sync0(&mut self, app_id: u8) -> Result<(), TargetError> {
        // Per chip: the virtual cores of the application (their SC flags) and the physical
        // ones (their CPU interrupts), as SC&MP's SIG_SYNC0 handler sets them.
        let mut masks: BTreeMap<(u8, u8), (u32, u32)> = BTreeMap::new();
        for r in self.machine.reports() {
            if self.loaded.get(&(r.x, r.y, u32::from(r.p))) == Some(&app_id) {
                let m = masks.entry((r.x, r.y)).or_default();
                m.0 |= 1 << r.p;
                m.1 |= 1 << r.phys;
            }
        }
        let now = self.machine.now();
        for ((x, y), (virt, phys)) in masks {
            let chip = self
                .machine
                .chip_mut(x, y)
                .ok_or(MachineError::NoChip(x, y))?;
            chip.advance_to(now);
            chip.clear_sc_flags(virt);
            chip.raise_cpu_ints(phys);
            // The cores sleep in their barrier: they wake to the interrupt now.
            chip.host_touched();
        }
        Ok(())
    }

    fn packet_counts(&mut self) -> Result<PacketCounts, TargetError> {
        Ok(PacketCounts {
            sent: self.machine.packets_sent(),
            dropped: self.machine.packets_dropped(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::NS_PER_MS;
    use spinn_hw::report::StopReason;
    use std::path::PathBuf;

    fn program(name: &str) -> Program {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        Program::from_file(&root.join(format!("firmware/build/{name}.elf"))).unwrap()
    }

    #[test]
    fn the_simulator_loads_runs_and_reports_through_the_trait() {
        let mut t: Box<dyn Target> =
            Box::new(SimTarget::new(MachineDesc::spinn3(), ChipConfig::default()));
        assert_eq!(t.machine().chips().len(), 4);
        t.load(1, 1, 3, &program("dma"), 20).unwrap();
        let end = t.run(100 * NS_PER_MS).unwrap();
        assert_eq!(end.stop, StopReason::AllFinished);
        assert!(end.time_ns > 0 && end.time_ns < 100 * NS_PER_MS);
        let cores = t.cores().unwrap();
        assert_eq!(
            (
                cores.len(),
                cores[0].state.name().as_str(),
                cores[0].user[0]
            ),
            (1, "EXIT", 0xCE2E_2380)
        );
        // The DMA app leaves its pattern in SDRAM: read it back through the target.
        let bytes = t.read_memory(1, 1, 0x6024_0000 + 0x3_0000, 1024).unwrap();
        let sum = bytes.chunks(4).fold(0u32, |s, w| {
            s.wrapping_add(u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
        });
        assert_eq!(sum, 0xCE2E_2380);
    }

    #[test]
    fn memory_round_trips_and_bad_places_are_refused() {
        let mut t = SimTarget::new(MachineDesc::single(), ChipConfig::default());
        t.write_memory(0, 0, 0x6100_0000, b"spinn").unwrap();
        assert_eq!(
            t.read_memory(0, 0, 0x7100_0000, 5).unwrap(),
            b"spinn",
            "both SDRAM aliases"
        );
        let e = t.read_memory(0, 0, 0x1000_0000, 4).unwrap_err().to_string();
        assert_eq!(e, "chip (0,0): no memory at 0x10000000 (+4 bytes)");
        assert!(t.write_memory(3, 3, 0x6000_0000, b"x").is_err());
        assert!(t.load(0, 0, 18, &program("hello"), 16).is_err());
    }

    #[test]
    fn runs_continue_where_they_stopped() {
        let mut t = SimTarget::new(MachineDesc::single(), ChipConfig::default());
        t.load(0, 0, 1, &program("ticks"), 16).unwrap();
        let first = t.run(5 * NS_PER_MS).unwrap();
        assert_eq!(
            (first.stop, first.time_ns),
            (StopReason::TimeLimit, 5 * NS_PER_MS)
        );
        assert_eq!(t.cores().unwrap()[0].state, "RUN");
        let second = t.run(100 * NS_PER_MS).unwrap();
        assert_eq!(second.stop, StopReason::AllFinished);
        assert_eq!(t.cores().unwrap()[0].user[0], 10);
    }
}
