// SPDX-License-Identifier: GPL-2.0-or-later
//! The chip-level blocks shared by all cores of a chip.

use std::rc::Rc;

use super::device::{Device, Kind, Pl340};
use super::memory::{self, Ram};
use super::router::Router;
use super::sysctl::SystemController;
use super::watchdog::Watchdog;
use crate::trace::{encode, Event, Filter, Record};
use crate::Cycle;

/// The chip-level blocks every core of the chip reaches over the System NoC.
pub struct Shared {
    /// The multicast/P2P/NN/FR router.
    pub(crate) router: Router,
    /// The system controller.
    pub(crate) sysctl: SystemController,
    /// The SP805 watchdog.
    pub(crate) watchdog: Watchdog,
    /// System RAM (32 KiB).
    pub(crate) sysram: Rc<Ram>,
    /// SDRAM (128 MiB).
    pub(crate) sdram: Rc<Ram>,
    /// The PL340 SDRAM controller.
    pub(crate) pl340: Pl340,
    pub(crate) touched: bool,
    /// Where this chip's trace events go, when tracing is on.
    pub(crate) tracer: Option<Tracer>,
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
            pl340: Pl340::default(),
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

    /// The chip-level block of kind `kind` (None for the kinds every core has its own of).
    pub fn device(&self, kind: Kind) -> Option<&dyn Device> {
        match kind {
            Kind::Pl340 => Some(&self.pl340),
            Kind::Router => Some(&self.router),
            Kind::SysCtl => Some(&self.sysctl),
            Kind::Watchdog => Some(&self.watchdog),
            Kind::Cc | Kind::Timer | Kind::Vic | Kind::Dma => None,
        }
    }

    /// The chip-level block of kind `kind`, to access its registers.
    pub fn device_mut(&mut self, kind: Kind) -> Option<&mut dyn Device> {
        match kind {
            Kind::Pl340 => Some(&mut self.pl340),
            Kind::Router => Some(&mut self.router),
            Kind::SysCtl => Some(&mut self.sysctl),
            Kind::Watchdog => Some(&mut self.watchdog),
            Kind::Cc | Kind::Timer | Kind::Vic | Kind::Dma => None,
        }
    }

    /// Earliest cycle after `now` at which a chip-level block changes an output by itself.
    pub fn next_event(&self, now: Cycle) -> Option<Cycle> {
        Kind::ALL
            .iter()
            .filter_map(|&k| self.device(k)?.next_event(now))
            .min()
    }
}
