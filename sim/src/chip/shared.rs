// SPDX-License-Identifier: GPL-2.0-or-later
//! The chip-level blocks shared by all cores of a chip.

use std::rc::Rc;

use super::memory::{self, Ram};
use super::router::Router;
use super::sysctl::SystemController;
use super::watchdog::Watchdog;
use crate::trace::{encode, Event, Filter, Record};
use crate::Cycle;

/// The chip-level blocks every core of the chip reaches over the System NoC.
pub struct Shared {
    /// The multicast/P2P/NN/FR router.
    pub router: Router,
    /// The system controller.
    pub sysctl: SystemController,
    /// The SP805 watchdog.
    pub watchdog: Watchdog,
    /// System RAM (32 KiB).
    pub sysram: Rc<Ram>,
    /// SDRAM (128 MiB).
    pub sdram: Rc<Ram>,
    pl340: [u32; 1024],
    pub(crate) touched: bool,
    /// Where this chip's trace events go, when tracing is on.
    pub tracer: Option<Tracer>,
}

/// Reads SDRAM or System RAM at a core address (shared by the host side and the DMA controllers).
pub(crate) fn system_read(sysram: &Ram, sdram: &Ram, addr: u32, buf: &mut [u8]) -> bool {
    match memory::region_of(addr, buf.len() as u32) {
        Some(memory::Region::Sdram(o)) => sdram.read(o as usize, buf),
        Some(memory::Region::SysRam(o)) => sysram.read(o as usize, buf),
        _ => false,
    }
}

/// Writes SDRAM or System RAM at a core address.
pub(crate) fn system_write(sysram: &Ram, sdram: &Ram, addr: u32, data: &[u8]) -> bool {
    match memory::region_of(addr, data.len() as u32) {
        Some(memory::Region::Sdram(o)) => sdram.write(o as usize, data),
        Some(memory::Region::SysRam(o)) => sysram.write(o as usize, data),
        _ => false,
    }
}

/// A chip's trace buffer: encoded records kept by the filter, until the machine writes them.
pub struct Tracer {
    x: u8,
    y: u8,
    filter: Filter,
    buf: Vec<u8>,
}

impl Tracer {
    /// Traces chip (x, y), keeping what `filter` keeps.
    pub fn new(x: u8, y: u8, filter: Filter) -> Tracer {
        Tracer {
            x,
            y,
            filter,
            buf: Vec::new(),
        }
    }

    /// Records `event` at `cycle` if the filter keeps it.
    pub fn emit(&mut self, cycle: Cycle, event: Event) {
        let r = Record {
            cycle,
            x: self.x,
            y: self.y,
            event,
        };
        if self.filter.keeps(&r) {
            encode(&r, &mut self.buf);
        }
    }

    /// Takes the encoded records so far.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }
}

impl Shared {
    pub(crate) fn new(monitor_phys: u8, num_cores: usize) -> Shared {
        let mut router = Router::new(monitor_phys);
        router.boot_init(monitor_phys);
        let mut sysctl = SystemController::new(num_cores);
        sysctl.boot_init(monitor_phys);
        Shared {
            router,
            sysctl,
            watchdog: Watchdog::new(),
            sysram: Ram::new(memory::SYSRAM_SIZE as usize),
            sdram: Ram::new(memory::SDRAM_SIZE as usize),
            pl340: [0; 1024],
            touched: false,
            tracer: None,
        }
    }

    /// RTR_CONTROL as the router holds it (waits, enables).
    pub(crate) fn router_control(&self) -> u32 {
        self.router.control()
    }

    /// Reads system-side memory (SDRAM or System RAM, either alias) at a core address;
    /// false, with nothing read, when no such memory holds the whole range.
    pub fn read_system(&self, addr: u32, buf: &mut [u8]) -> bool {
        system_read(&self.sysram, &self.sdram, addr, buf)
    }

    /// Writes system-side memory (SDRAM or System RAM, either alias) at a core address;
    /// false, with nothing written, when no such memory holds the whole range.
    pub fn write_system(&self, addr: u32, data: &[u8]) -> bool {
        system_write(&self.sysram, &self.sdram, addr, data)
    }

    /// Records a trace event when tracing is on (one branch when it is off).
    #[inline]
    pub(crate) fn emit(&mut self, cycle: Cycle, event: Event) {
        if let Some(t) = self.tracer.as_mut() {
            t.emit(cycle, event);
        }
    }

    /// Marks that shared state changed during a slice (other cores may need a look).
    pub(crate) fn touch(&mut self) {
        self.touched = true;
    }

    /// The PL340 SDRAM controller as plain registers; only the monitor programs it, and
    /// `pl340_init` polls DLL_STATUS bit 18 (locked), which therefore reads 1 (§2.8).
    pub(crate) fn pl340_read(&self, offset: u32) -> u32 {
        if offset == 0x300 {
            return 1 << 18;
        }
        self.pl340.get((offset / 4) as usize).copied().unwrap_or(0)
    }

    pub(crate) fn pl340_write(&mut self, offset: u32, value: u32) {
        if let Some(r) = self.pl340.get_mut((offset / 4) as usize) {
            *r = value;
        }
    }
}
