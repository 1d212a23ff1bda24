// SPDX-License-Identifier: GPL-2.0-or-later
//! Per-core DMA controller: one active and one queued transfer between the System NoC (SDRAM,
//! System RAM) and the core's TCMs (hardware notes §2.4; VIC source numbers §4).
//!
//! Time is modelled, bytes are not streamed: a transfer occupies the controller for a fixed cost
//! (`DMA_SETUP_CYCLES` plus `DMA_BYTES_PER_CYCLE` throughput) and its data is copied in one go at
//! completion, inside `advance`. The chip must call `advance(now, mem)` before touching these
//! registers at `now` and whenever `next_event` falls due, since only `advance` can reach memory.
//!
//! Not modelled: the CRC engine (the descriptor's CRC bit is ignored, CRCC/CRCR/CRCT are plain
//! storage and the CRC-error bit is never set), burst timeouts (TMTV is plain storage and the
//! timeout bit is never set), the bridge write buffer and the statistics counters.

use super::device::{Access, Device};
use crate::Cycle;

/// Fixed cost of a transfer before its first word moves, in core cycles. UNVERIFIED: SDRAM
/// access latency is only known as "20–30× slower than TCM" (notes §1.3), i.e. some 20–30 cycles;
/// 32 also covers the NoC round trip.
pub const DMA_SETUP_CYCLES: Cycle = 32;
/// Sustained transfer rate in bytes per core cycle. UNVERIFIED: the DMA's TCM side is a 32-bit
/// AHB port, so one word per cycle (800 MB/s at 200 MHz) is the most it can move, below the
/// > 1 GB/s the SDRAM sustains across all cores (notes, "not found" item 2).
pub const DMA_BYTES_PER_CYCLE: u64 = 4;

/// VIC source line raised by a completed transfer (hardware notes §4: DMA_DONE_INT).
pub const DMA_DONE_INT: u32 = 12;
/// VIC source line raised by an enabled error status bit (hardware notes §4: DMA_ERR_INT).
pub const DMA_ERR_INT: u32 = 13;
/// VIC source line raised by a burst timeout (hardware notes §4: DMA_TO_INT).
pub const DMA_TO_INT: u32 = 14;

/// Memory the DMA controller reaches: the system side (SDRAM, System RAM) and its core's TCMs.
pub trait DmaMemory {
    /// Reads system-side memory; false on a bus error (unmapped address).
    fn sys_read(&mut self, addr: u32, buf: &mut [u8]) -> bool;
    /// Writes system-side memory; false on a bus error (unmapped or read-only address).
    fn sys_write(&mut self, addr: u32, data: &[u8]) -> bool;
    /// Reads this core's ITCM/DTCM at a core address; false when outside both.
    fn tcm_read(&mut self, addr: u32, buf: &mut [u8]) -> bool;
    /// Writes this core's ITCM/DTCM at a core address; false when outside both.
    fn tcm_write(&mut self, addr: u32, data: &[u8]) -> bool;
}

const ADRS: u32 = 0x04;
const ADRT: u32 = 0x08;
const DESC: u32 = 0x0C;
const CTRL: u32 = 0x10;
const STAT: u32 = 0x14;
const GCTL: u32 = 0x18;
const CRCC: u32 = 0x1C;
const CRCR: u32 = 0x20;
const TMTV: u32 = 0x24;
const SCTL: u32 = 0x28;
const AD2S: u32 = 0x104;
const AD2T: u32 = 0x108;
const DES2: u32 = 0x10C;

const DESC_LEN: u32 = 0x1_FFFC; // bits [16:2]: byte length, a whole number of words
const DESC_WRITE: u32 = 1 << 19; // TCM → system

const CTRL_UNCOMMIT: u32 = 1 << 0;
const CTRL_ABORT: u32 = 1 << 1;
const CTRL_RESTART: u32 = 1 << 2;
const CTRL_CLR_DONE: u32 = 1 << 3;
const CTRL_CLR_TIMEOUT: u32 = 1 << 4;

const ST_TRANSFERRING: u32 = 1 << 0;
const ST_PAUSED: u32 = 1 << 1;
const ST_QUEUED: u32 = 1 << 2;
const ST_DONE: u32 = 1 << 10;
const ST_DONE2: u32 = 1 << 11;
const ST_TIMEOUT: u32 = 1 << 12;
const ST_CRC_ERR: u32 = 1 << 13;
const ST_TCM_ERR: u32 = 1 << 14;
const ST_AXI_ERR: u32 = 1 << 15;
const ST_USER_ABORT: u32 = 1 << 16;
const ST_SOFT_RESET: u32 = 1 << 17;
const ST_WB_ERR: u32 = 1 << 20;
/// Status bits that Restart clears and that drive DMA_ERR_INT (with the write-buffer error).
const ST_ERRORS: u32 = ST_CRC_ERR | ST_TCM_ERR | ST_AXI_ERR | ST_USER_ABORT | ST_SOFT_RESET;

/// One committed transfer: the three registers as written, and when it was committed.
#[derive(Clone, Copy, Debug, Default)]
struct Transfer {
    sys: u32,
    tcm: u32,
    desc: u32,
    committed: Cycle,
}

impl Transfer {
    fn bytes(&self) -> u32 {
        self.desc & DESC_LEN
    }

    fn duration(&self) -> Cycle {
        DMA_SETUP_CYCLES + u64::from(self.bytes()).div_ceil(DMA_BYTES_PER_CYCLE)
    }

    /// Moves the data; Err(status bit) on a bus error, in which case nothing is written.
    fn copy(&self, mem: &mut dyn DmaMemory) -> Result<(), u32> {
        let mut buf = vec![0u8; self.bytes() as usize];
        if buf.is_empty() {
            return Ok(()); // a zero-length transfer touches no bus
        }
        let bus = |ok: bool, bit: u32| if ok { Ok(()) } else { Err(bit) };
        if self.desc & DESC_WRITE != 0 {
            bus(mem.tcm_read(self.tcm, &mut buf), ST_TCM_ERR)?;
            bus(mem.sys_write(self.sys, &buf), ST_AXI_ERR)
        } else {
            bus(mem.sys_read(self.sys, &mut buf), ST_AXI_ERR)?;
            bus(mem.tcm_write(self.tcm, &buf), ST_TCM_ERR)
        }
    }
}

/// The transfer in progress and the cycles it started and will finish at.
#[derive(Clone, Copy, Debug, Default)]
struct Active {
    t: Transfer,
    start: Cycle,
    end: Cycle,
}

/// One core's DMA controller with its hard-wired physical core number.
#[derive(Clone, Debug)]
pub struct Dma {
    phys_core: u8,
    adrs: u32,
    adrt: u32,
    desc: u32,
    active: Option<Active>,
    queued: Option<Transfer>,
    /// The most recently started transfer, which AD2S/AD2T/DES2 show (also once it has ended).
    last: Active,
    /// Stopped by a bus error or an abort until Restart. UNVERIFIED: the datasheet's "restart:
    /// resume transfer (clears errors)" implies an error stops the controller; we hold the queued
    /// transfer back until then and report it as STAT "paused".
    halted: bool,
    /// Completions not yet cleared, 0..=2 (STAT bit10 = at least one, bit11 = two).
    done: u8,
    /// Sticky error/timeout status bits.
    errors: u32,
    gctl: u32,
    crcc: u32,
    crcr: u32,
    tmtv: u32,
    sctl: u32,
    stats: [u32; 8],
    crct: [u32; 32],
}

impl Dma {
    /// An idle controller for physical core `phys_core` (read back in STAT[31:24]).
    pub fn new(phys_core: u8) -> Self {
        Dma {
            phys_core,
            adrs: 0,
            adrt: 0,
            desc: 0,
            active: None,
            queued: None,
            last: Active::default(),
            halted: false,
            done: 0,
            errors: 0,
            gctl: 0,
            crcc: 0,
            crcr: 0,
            tmtv: 0,
            sctl: 0,
            stats: [0; 8],
            crct: [0; 32],
        }
    }

    fn status(&self) -> u32 {
        let mut s = self.errors | u32::from(self.phys_core) << 24;
        if self.active.is_some() {
            s |= ST_TRANSFERRING;
        }
        if self.halted {
            s |= ST_PAUSED;
        }
        if self.queued.is_some() {
            s |= ST_QUEUED;
        }
        if self.done >= 1 {
            s |= ST_DONE;
        }
        if self.done >= 2 {
            s |= ST_DONE2;
        }
        s
    }

    fn start(&mut self, t: Transfer, at: Cycle) {
        let a = Active {
            t,
            start: at,
            end: at.saturating_add(t.duration()),
        };
        self.active = Some(a);
        self.last = a;
    }

    /// Starts the queued transfer if the controller is free to, at `at` or its commit cycle.
    fn start_queued(&mut self, at: Cycle) {
        if self.active.is_none() && !self.halted {
            if let Some(q) = self.queued.take() {
                self.start(q, at.max(q.committed));
            }
        }
    }

    fn commit(&mut self, now: Cycle) {
        // The queue slot is full (STAT bit2): the hardware has nowhere to put a third transfer,
        // so the write is dropped; firmware checks bit2 before committing.
        if self.queued.is_some() {
            return;
        }
        // Transfers move whole words: address bits [1:0] are ignored like the length's.
        self.queued = Some(Transfer {
            sys: self.adrs & !3,
            tcm: self.adrt & !3,
            desc: self.desc,
            committed: now,
        });
        self.start_queued(now);
    }

    fn control(&mut self, value: u32, now: Cycle) {
        // Bits act in order, so spin1's 0x3F (uncommit, abort, restart, clear all) ends idle.
        if value & CTRL_UNCOMMIT != 0 {
            self.queued = None;
        }
        if value & CTRL_ABORT != 0 && self.active.take().is_some() {
            // The data is discarded whole: nothing was copied yet in this model.
            self.errors |= ST_USER_ABORT;
            self.halted = true;
        }
        if value & CTRL_RESTART != 0 {
            self.errors &= !ST_ERRORS;
            self.halted = false;
            self.start_queued(now);
        }
        if value & CTRL_CLR_DONE != 0 {
            // UNVERIFIED: one clear retires one completion (bit11 first), so a Done for a queued
            // transfer that finished before the ISR ran is not lost: spin1's ISR clears once per
            // transfer it retires.
            self.done = self.done.saturating_sub(1);
        }
        if value & CTRL_CLR_TIMEOUT != 0 {
            self.errors &= !ST_TIMEOUT;
        }
        // Bit5 clears the write-buffer interrupt: the write buffer is not modelled.
    }

    /// Completes, in order, every transfer that finishes at or before `now`: copies its data,
    /// sets Done or an error bit, and starts the queued transfer at the completion cycle.
    pub fn advance(&mut self, now: Cycle, mem: &mut dyn DmaMemory) {
        while let Some(a) = self.active.filter(|a| a.end <= now) {
            self.active = None;
            match a.t.copy(mem) {
                Ok(()) => self.done = (self.done + 1).min(2),
                Err(bit) => {
                    self.errors |= bit;
                    self.halted = true;
                }
            }
            self.start_queued(a.end);
        }
    }

    /// Reads a register. Call `advance(now, ..)` first so completions up to `now` are visible.
    pub fn read(&mut self, offset: u32, now: Cycle) -> u32 {
        match offset {
            ADRS => self.adrs,
            ADRT => self.adrt,
            DESC => self.desc,
            STAT => self.status(),
            GCTL => self.gctl,
            CRCC => self.crcc,
            CRCR => self.crcr,
            TMTV => self.tmtv,
            SCTL => self.sctl,
            0x40..=0x5C if offset.is_multiple_of(4) => self.stats[((offset - 0x40) / 4) as usize],
            AD2S => self.last.t.sys.wrapping_add(self.moved(now)),
            AD2T => self.last.t.tcm.wrapping_add(self.moved(now)),
            DES2 => self.last.t.desc,
            0x180..=0x1FC if offset.is_multiple_of(4) => self.crct[((offset - 0x180) / 4) as usize],
            _ => 0, // CTRL is write-only (command bits); unknown offsets read 0
        }
    }

    /// Bytes of the last transfer moved by `now` at the modelled rate (AD2S/AD2T only: the data
    /// itself lands at completion).
    fn moved(&self, now: Cycle) -> u32 {
        if now >= self.last.end {
            return self.last.t.bytes(); // also right when the end cycle saturated
        }
        let running = now.saturating_sub(self.last.start.saturating_add(DMA_SETUP_CYCLES));
        let bytes = running.saturating_mul(DMA_BYTES_PER_CYCLE);
        bytes.min(u64::from(self.last.t.bytes())) as u32
    }

    /// Writes a register at cycle `now`; writing DESC commits a transfer.
    pub fn write(&mut self, offset: u32, value: u32, now: Cycle) {
        match offset {
            ADRS => self.adrs = value,
            ADRT => self.adrt = value,
            DESC => {
                self.desc = value;
                self.commit(now);
            }
            CTRL => self.control(value, now),
            GCTL => self.gctl = value,
            CRCC => self.crcc = value,
            CRCR => self.crcr = value,
            TMTV => self.tmtv = value,
            SCTL => {
                // Bit1 clears the counters; it is a command, not state.
                if value & 2 != 0 {
                    self.stats = [0; 8];
                }
                self.sctl = value & !2;
            }
            0x40..=0x5C if offset.is_multiple_of(4) => {
                self.stats[((offset - 0x40) / 4) as usize] = value
            }
            0x180..=0x1FC if offset.is_multiple_of(4) => {
                self.crct[((offset - 0x180) / 4) as usize] = value
            }
            _ => {} // STAT and the active-transfer registers are read-only
        }
    }

    /// VIC source levels as of the last `advance`: bit 12 Done, bit 13 error, bit 14 timeout,
    /// each gated by its GCTL enable.
    pub fn irq_sources(&self, _now: Cycle) -> u32 {
        let raised = self.status() & self.gctl;
        let line = |mask: u32, src: u32| u32::from(raised & mask != 0) << src;
        line(ST_DONE | ST_DONE2, DMA_DONE_INT)
            | line(ST_ERRORS | ST_WB_ERR, DMA_ERR_INT)
            | line(ST_TIMEOUT, DMA_TO_INT)
    }

    /// Completion cycle of the active transfer (never before `now + 1`); None when idle.
    pub fn next_event(&self, now: Cycle) -> Option<Cycle> {
        self.active.map(|a| a.end.max(now.saturating_add(1)))
    }
}

impl Device for Dma {
    fn read(&mut self, offset: u32, at: Access) -> u32 {
        Dma::read(self, offset, at.now)
    }

    fn write(&mut self, offset: u32, value: u32, at: Access) {
        Dma::write(self, offset, value, at.now)
    }

    fn irq_lines(&self, at: Access) -> u32 {
        self.irq_sources(at.now)
    }

    fn next_event(&self, now: Cycle) -> Option<Cycle> {
        Dma::next_event(self, now)
    }

    fn reset(&mut self) {
        *self = Dma::new(self.phys_core);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDRAM: u32 = 0x7000_0000;
    const DTCM: u32 = 0x0040_0000;
    const SPIN1_DESC: u32 = (1 << 24) | (4 << 21); // doubleword, burst 16
    const READ: u32 = 0;
    const WRITE: u32 = DESC_WRITE;

    /// 64 KiB of SDRAM and a 64 KiB DTCM; everything else is a bus error.
    struct FakeMem {
        sdram: Vec<u8>,
        dtcm: Vec<u8>,
    }

    impl FakeMem {
        fn new() -> Self {
            let sdram = (0..0x1_0000u32).map(|i| (i * 7 + 3) as u8).collect();
            FakeMem {
                sdram,
                dtcm: vec![0; 0x1_0000],
            }
        }

        fn range(base: u32, size: usize, addr: u32, len: usize) -> Option<std::ops::Range<usize>> {
            let off = addr.checked_sub(base)? as usize;
            (off + len <= size).then_some(off..off + len)
        }
    }

    impl DmaMemory for FakeMem {
        fn sys_read(&mut self, addr: u32, buf: &mut [u8]) -> bool {
            match Self::range(SDRAM, self.sdram.len(), addr, buf.len()) {
                Some(r) => {
                    buf.copy_from_slice(&self.sdram[r]);
                    true
                }
                None => false,
            }
        }
        fn sys_write(&mut self, addr: u32, data: &[u8]) -> bool {
            match Self::range(SDRAM, self.sdram.len(), addr, data.len()) {
                Some(r) => {
                    self.sdram[r].copy_from_slice(data);
                    true
                }
                None => false,
            }
        }
        fn tcm_read(&mut self, addr: u32, buf: &mut [u8]) -> bool {
            match Self::range(DTCM, self.dtcm.len(), addr, buf.len()) {
                Some(r) => {
                    buf.copy_from_slice(&self.dtcm[r]);
                    true
                }
                None => false,
            }
        }
        fn tcm_write(&mut self, addr: u32, data: &[u8]) -> bool {
            match Self::range(DTCM, self.dtcm.len(), addr, data.len()) {
                Some(r) => {
                    self.dtcm[r].copy_from_slice(data);
                    true
                }
                None => false,
            }
        }
    }

    fn cost(bytes: u32) -> Cycle {
        DMA_SETUP_CYCLES + u64::from(bytes).div_ceil(DMA_BYTES_PER_CYCLE)
    }

    /// spin1_start's DMA set-up: CTRL 0x3F then 0x0D, GCTL 0xC00.
    fn spin1_dma(core: u8) -> Dma {
        let mut d = Dma::new(core);
        d.write(CTRL, 0x3F, 0);
        d.write(CTRL, 0x0D, 0);
        d.write(GCTL, 0x000C00, 0);
        d
    }

    fn issue(d: &mut Dma, sys: u32, tcm: u32, dir: u32, bytes: u32, now: Cycle) {
        d.write(ADRS, sys, now);
        d.write(ADRT, tcm, now);
        d.write(DESC, SPIN1_DESC | dir | bytes, now);
    }

    #[test]
    fn reset_state_and_physical_id() {
        let mut d = Dma::new(17);
        assert_eq!(d.read(STAT, 0), 17 << 24);
        for off in [
            ADRS, ADRT, DESC, CTRL, GCTL, CRCC, CRCR, TMTV, SCTL, AD2S, AD2T, DES2,
        ] {
            assert_eq!(d.read(off, 0), 0, "offset {off:#x}");
        }
        assert_eq!(d.irq_sources(0), 0);
        assert_eq!(d.next_event(0), None);
        // The id is hard-wired: writes to STAT change nothing.
        d.write(STAT, 0xFFFF_FFFF, 0);
        assert_eq!(d.read(STAT, 0), 17 << 24);
        assert_eq!(Dma::new(255).read(STAT, 0) >> 24, 255);
        // spin1's start sequence leaves it idle with the id intact.
        assert_eq!(spin1_dma(3).read(STAT, 0), 3 << 24);
    }

    #[test]
    fn read_transfer_system_to_tcm() {
        let mut mem = FakeMem::new();
        let mut d = spin1_dma(5);
        issue(&mut d, SDRAM + 0x100, DTCM + 0x40, READ, 64, 1000);
        let end = 1000 + cost(64);
        assert_eq!(end, 1000 + 32 + 16);
        assert_eq!(d.read(STAT, 1000), (5 << 24) | ST_TRANSFERRING);
        assert_eq!(d.next_event(1000), Some(end));
        d.advance(end - 1, &mut mem);
        assert_eq!(mem.dtcm[0x40], 0, "no data before completion");
        assert_eq!(d.irq_sources(end - 1), 0);
        d.advance(end, &mut mem);
        assert_eq!(&mem.dtcm[0x40..0x80], &mem.sdram[0x100..0x140]);
        assert_eq!(mem.dtcm[0x3F], 0);
        assert_eq!(mem.dtcm[0x80], 0);
        assert_eq!(d.read(STAT, end), (5 << 24) | ST_DONE);
        assert_eq!(d.irq_sources(end), 1 << DMA_DONE_INT);
        assert_eq!(d.next_event(end), None);
        // dma_done_isr: CTRL = 0x08.
        d.write(CTRL, 0x08, end + 10);
        assert_eq!(d.read(STAT, end + 10), 5 << 24);
        assert_eq!(d.irq_sources(end + 10), 0);
    }

    #[test]
    fn write_transfer_tcm_to_system() {
        let mut mem = FakeMem::new();
        for (i, b) in mem.dtcm[0x200..0x300].iter_mut().enumerate() {
            *b = i as u8 ^ 0xA5;
        }
        let mut d = spin1_dma(0);
        issue(&mut d, SDRAM + 0x8000, DTCM + 0x200, WRITE, 0x100, 0);
        d.advance(cost(0x100), &mut mem);
        assert_eq!(&mem.sdram[0x8000..0x8100], &mem.dtcm[0x200..0x300]);
        assert_eq!(d.read(STAT, cost(0x100)) & ST_DONE, ST_DONE);
    }

    #[test]
    fn done_interrupt_needs_gctl_enable() {
        let mut mem = FakeMem::new();
        let mut d = Dma::new(1);
        issue(&mut d, SDRAM, DTCM, READ, 4, 0);
        d.advance(1000, &mut mem);
        assert_eq!(d.read(STAT, 1000) & ST_DONE, ST_DONE);
        assert_eq!(d.irq_sources(1000), 0);
        d.write(GCTL, 1 << 11, 1000);
        assert_eq!(
            d.irq_sources(1000),
            0,
            "bit11 enable alone does not gate bit10"
        );
        d.write(GCTL, 1 << 10, 1000);
        assert_eq!(d.irq_sources(1000), 1 << DMA_DONE_INT);
        assert_eq!(d.read(GCTL, 1000), 1 << 10);
    }

    #[test]
    fn queued_second_transfer_starts_when_first_ends() {
        let mut mem = FakeMem::new();
        let mut d = spin1_dma(2);
        issue(&mut d, SDRAM, DTCM, READ, 400, 0);
        assert_eq!(d.read(STAT, 0) & ST_QUEUED, 0, "one more can be accepted");
        issue(&mut d, SDRAM + 0x1000, DTCM + 0x1000, READ, 40, 10);
        assert_eq!(d.read(STAT, 10) & 0x7, ST_TRANSFERRING | ST_QUEUED);
        // A third commit while queued is dropped.
        issue(&mut d, SDRAM + 0x2000, DTCM + 0x2000, READ, 40, 20);
        assert_eq!(
            d.read(DESC, 20),
            SPIN1_DESC | 40,
            "DESC still reads back what was written"
        );
        let first = cost(400);
        assert_eq!(d.next_event(20), Some(first));
        d.advance(first, &mut mem);
        assert_eq!(d.read(STAT, first) & 0x7, ST_TRANSFERRING);
        assert_eq!(d.read(DES2, first), SPIN1_DESC | 40);
        assert_eq!(d.read(AD2S, first), SDRAM + 0x1000);
        assert_eq!(d.next_event(first), Some(first + cost(40)));
        assert_eq!(d.irq_sources(first), 1 << DMA_DONE_INT);
        d.advance(first + cost(40), &mut mem);
        assert_eq!(&mem.dtcm[0x1000..0x1028], &mem.sdram[0x1000..0x1028]);
        assert!(
            mem.dtcm[0x2000..0x2028].iter().all(|&b| b == 0),
            "dropped commit never ran"
        );
        assert_eq!(d.read(STAT, first + cost(40)) & 0xFFF, ST_DONE | ST_DONE2);
    }

    #[test]
    fn one_advance_completes_a_chain_in_order() {
        let mut mem = FakeMem::new();
        let mut d = spin1_dma(2);
        // Both write the same TCM bytes: the queued one must land last.
        issue(&mut d, SDRAM, DTCM, READ, 16, 0);
        issue(&mut d, SDRAM + 0x40, DTCM, READ, 16, 0);
        d.advance(1_000_000, &mut mem);
        assert_eq!(&mem.dtcm[0..16], &mem.sdram[0x40..0x50]);
        assert_eq!(d.read(STAT, 1_000_000) & 0xFFF, ST_DONE | ST_DONE2);
        // Each clear retires one completion, so the ISR runs once per transfer.
        d.write(CTRL, 0x08, 1_000_001);
        assert_eq!(d.read(STAT, 1_000_001) & 0xFFF, ST_DONE);
        assert_eq!(d.irq_sources(1_000_001), 1 << DMA_DONE_INT);
        d.write(CTRL, 0x08, 1_000_002);
        assert_eq!(d.read(STAT, 1_000_002) & 0xFFF, 0);
        assert_eq!(d.irq_sources(1_000_002), 0);
        d.write(CTRL, 0x08, 1_000_003); // extra clears are harmless
        assert_eq!(d.read(STAT, 1_000_003), 2 << 24);
    }

    #[test]
    fn late_commit_starts_at_its_own_cycle() {
        let mut mem = FakeMem::new();
        let mut d = spin1_dma(0);
        issue(&mut d, SDRAM, DTCM, READ, 8, 0);
        // The chip has not advanced yet when the next commit comes in, long after the first end.
        issue(&mut d, SDRAM, DTCM + 8, READ, 8, 500);
        d.advance(500, &mut mem);
        assert_eq!(d.next_event(500), Some(500 + cost(8)));
    }

    #[test]
    fn status_bits_over_time() {
        let mut mem = FakeMem::new();
        let mut d = spin1_dma(9);
        let id = 9 << 24;
        let mut seen = Vec::new();
        issue(&mut d, SDRAM, DTCM, READ, 0x80, 100);
        issue(&mut d, SDRAM, DTCM + 0x80, READ, 0x80, 100);
        for now in [
            100,
            130,
            100 + cost(0x80),
            140 + cost(0x80),
            100 + 2 * cost(0x80),
        ] {
            d.advance(now, &mut mem);
            seen.push(d.read(STAT, now) & !id);
        }
        let busy2 = ST_TRANSFERRING | ST_QUEUED;
        let after1 = ST_TRANSFERRING | ST_DONE;
        assert_eq!(seen, [busy2, busy2, after1, after1, ST_DONE | ST_DONE2]);
    }

    #[test]
    fn active_registers_track_progress() {
        let mut mem = FakeMem::new();
        let mut d = spin1_dma(0);
        issue(&mut d, SDRAM + 0x100, DTCM + 0x20, WRITE, 0x40, 0);
        assert_eq!(d.read(AD2S, 0), SDRAM + 0x100);
        assert_eq!(d.read(AD2T, DMA_SETUP_CYCLES + 2), DTCM + 0x20 + 8);
        assert_eq!(d.read(DES2, 5), SPIN1_DESC | WRITE | 0x40);
        d.advance(cost(0x40), &mut mem);
        assert_eq!(
            d.read(AD2S, 10_000),
            SDRAM + 0x140,
            "last transfer's end address"
        );
        // Read-only.
        d.write(AD2S, 0, 10_000);
        d.write(DES2, 0, 10_000);
        assert_eq!(d.read(DES2, 10_000), SPIN1_DESC | WRITE | 0x40);
    }

    #[test]
    fn system_bus_error_sets_axi_and_halts() {
        let mut mem = FakeMem::new();
        let mut d = spin1_dma(4);
        d.write(GCTL, 0xC00 | ST_AXI_ERR, 0);
        issue(&mut d, 0x1234_0000, DTCM, READ, 16, 0); // unmapped system address
        issue(&mut d, SDRAM, DTCM + 0x100, READ, 16, 0);
        d.advance(cost(16), &mut mem);
        let stat = d.read(STAT, cost(16));
        assert_eq!(stat & 0xFFFF, ST_AXI_ERR | ST_PAUSED | ST_QUEUED);
        assert_eq!(d.irq_sources(cost(16)), 1 << DMA_ERR_INT);
        assert!(mem.dtcm[..16].iter().all(|&b| b == 0));
        assert_eq!(d.next_event(cost(16)), None, "halted: the queued one waits");
        // Restart clears the error and releases the queued transfer.
        d.write(CTRL, CTRL_RESTART, 100);
        assert_eq!(d.read(STAT, 100) & 0xFFFF, ST_TRANSFERRING);
        assert_eq!(d.irq_sources(100), 0);
        d.advance(100 + cost(16), &mut mem);
        assert_eq!(&mem.dtcm[0x100..0x110], &mem.sdram[..16]);
        assert_eq!(d.irq_sources(100 + cost(16)), 1 << DMA_DONE_INT);
    }

    #[test]
    fn tcm_bus_errors_in_both_directions() {
        let mut mem = FakeMem::new();
        let mut d = spin1_dma(0);
        d.write(GCTL, 0xC00 | ST_TCM_ERR, 0);
        issue(&mut d, SDRAM, 0x0080_0000, READ, 8, 0); // TCM address outside both TCMs
        d.advance(cost(8), &mut mem);
        assert_eq!(d.read(STAT, cost(8)) & 0xFFFF, ST_TCM_ERR | ST_PAUSED);
        assert_eq!(d.irq_sources(cost(8)), 1 << DMA_ERR_INT);
        d.write(CTRL, CTRL_RESTART, 100);
        let before = mem.sdram[..8].to_vec();
        issue(&mut d, SDRAM, DTCM + 0xFFFC, WRITE, 8, 100); // runs off the end of DTCM
        d.advance(100 + cost(8), &mut mem);
        assert_eq!(d.read(STAT, 200) & 0xFFFF, ST_TCM_ERR | ST_PAUSED);
        assert_eq!(&mem.sdram[..8], &before[..], "nothing written on error");
        // Error interrupt needs its own enable.
        d.write(GCTL, 0xC00, 200);
        assert_eq!(d.irq_sources(200), 0);
    }

    #[test]
    fn system_write_error_is_axi() {
        let mut mem = FakeMem::new();
        let mut d = spin1_dma(0);
        issue(&mut d, SDRAM + 0xFFF8, DTCM, WRITE, 16, 0);
        d.advance(cost(16), &mut mem);
        assert_eq!(d.read(STAT, cost(16)) & ST_AXI_ERR, ST_AXI_ERR);
    }

    #[test]
    fn abort_discards_and_spin1_flush_recovers() {
        let mut mem = FakeMem::new();
        let mut d = spin1_dma(6);
        issue(&mut d, SDRAM, DTCM, READ, 64, 0);
        issue(&mut d, SDRAM, DTCM + 64, READ, 64, 0);
        d.write(CTRL, CTRL_ABORT, 10);
        assert_eq!(
            d.read(STAT, 10) & 0x1_FFFF,
            ST_USER_ABORT | ST_PAUSED | ST_QUEUED
        );
        assert_eq!(d.next_event(10), None);
        d.advance(10_000, &mut mem);
        assert!(
            mem.dtcm[..128].iter().all(|&b| b == 0),
            "aborted data never lands"
        );
        // spin1_dma_flush: 0x1F then 0x0D.
        d.write(CTRL, 0x1F, 20);
        d.write(CTRL, 0x0D, 20);
        assert_eq!(d.read(STAT, 20), 6 << 24);
        assert_eq!(d.next_event(20), None);
        // Abort with nothing running is a no-op.
        d.write(CTRL, CTRL_ABORT, 30);
        assert_eq!(d.read(STAT, 30), 6 << 24);
    }

    #[test]
    fn user_abort_interrupt_when_enabled() {
        let mut d = spin1_dma(0);
        d.write(GCTL, ST_USER_ABORT, 0);
        issue(&mut d, SDRAM, DTCM, READ, 64, 0);
        d.write(CTRL, CTRL_ABORT, 1);
        assert_eq!(d.irq_sources(1), 1 << DMA_ERR_INT);
        d.write(CTRL, CTRL_RESTART, 2);
        assert_eq!(d.irq_sources(2), 0);
    }

    #[test]
    fn uncommit_drops_only_the_queued_transfer() {
        let mut mem = FakeMem::new();
        let mut d = spin1_dma(0);
        issue(&mut d, SDRAM, DTCM, READ, 8, 0);
        issue(&mut d, SDRAM, DTCM + 8, READ, 8, 0);
        d.write(CTRL, CTRL_UNCOMMIT, 1);
        assert_eq!(d.read(STAT, 1) & 0x7, ST_TRANSFERRING);
        d.advance(1000, &mut mem);
        assert_eq!(&mem.dtcm[..8], &mem.sdram[..8]);
        assert!(mem.dtcm[8..16].iter().all(|&b| b == 0));
        assert_eq!(d.read(STAT, 1000) & 0xFFF, ST_DONE);
    }

    #[test]
    fn timing_follows_length_and_ignores_low_bits() {
        let mut d = spin1_dma(0);
        d.write(ADRS, SDRAM + 3, 0);
        d.write(ADRT, DTCM + 2, 0);
        d.write(DESC, !(DESC_WRITE | 1 << 20), 0); // every other bit set
        assert_eq!(d.read(ADRS, 0), SDRAM + 3, "registers read back as written");
        assert_eq!(
            d.read(AD2S, 0),
            SDRAM,
            "the transfer itself uses whole words"
        );
        assert_eq!(d.read(AD2T, 0), DTCM);
        assert_eq!(d.next_event(0), Some(cost(0x1_FFFC)));
        assert_eq!(cost(0x1_FFFC), 32 + 0x7FFF);
    }

    #[test]
    fn zero_length_transfer_completes_after_setup() {
        let mut mem = FakeMem::new();
        let mut d = spin1_dma(0);
        issue(&mut d, 0xDEAD_0000, 0xBEEF_0000, READ, 0, 7);
        assert_eq!(d.next_event(7), Some(7 + DMA_SETUP_CYCLES));
        d.advance(7 + DMA_SETUP_CYCLES, &mut mem);
        assert_eq!(
            d.read(STAT, 100) & 0xFFFF,
            ST_DONE,
            "no bus touched, so no error"
        );
    }

    #[test]
    fn advance_is_idempotent_and_tolerates_the_past() {
        let mut mem = FakeMem::new();
        let mut d = spin1_dma(0);
        issue(&mut d, SDRAM, DTCM, READ, 8, 100);
        d.advance(50, &mut mem);
        d.advance(100, &mut mem);
        assert_eq!(d.read(STAT, 100) & ST_TRANSFERRING, ST_TRANSFERRING);
        d.advance(100 + cost(8), &mut mem);
        d.advance(100 + cost(8), &mut mem);
        assert_eq!(d.read(STAT, 100 + cost(8)) & 0xFFF, ST_DONE);
        // next_event never reports the past, even if the chip is late to advance.
        issue(&mut d, SDRAM, DTCM, READ, 8, 200);
        assert_eq!(d.next_event(5000), Some(5001));
    }

    #[test]
    fn timeout_is_never_raised_and_clears_are_harmless() {
        let mut mem = FakeMem::new();
        let mut d = spin1_dma(0);
        d.write(GCTL, 0xFFFF_FFFF, 0);
        d.write(TMTV, 0x20, 0);
        issue(&mut d, SDRAM, DTCM, READ, 0x1000, 0);
        d.advance(1_000_000, &mut mem);
        assert_eq!(d.irq_sources(1_000_000), 1 << DMA_DONE_INT);
        d.write(CTRL, CTRL_CLR_TIMEOUT | 0x20, 1_000_000);
        assert_eq!(d.read(STAT, 1_000_000) & ST_TIMEOUT, 0);
    }

    #[test]
    fn plain_registers_read_back() {
        let mut d = Dma::new(0);
        for (off, v) in [
            (GCTL, 0x8010_0C01),
            (CRCC, 0x1111),
            (CRCR, 0x2222),
            (TMTV, 0x3E0),
        ] {
            d.write(off, v, 0);
            assert_eq!(d.read(off, 0), v, "offset {off:#x}");
        }
        for i in 0..8 {
            d.write(0x40 + 4 * i, 100 + i, 0);
        }
        assert_eq!(d.read(0x5C, 0), 107);
        d.write(SCTL, 1, 0);
        assert_eq!(d.read(SCTL, 0), 1);
        d.write(SCTL, 3, 0); // bit1 clears the counters
        assert_eq!(d.read(SCTL, 0), 1);
        assert_eq!(d.read(0x40, 0), 0);
        for i in 0..32 {
            d.write(0x180 + 4 * i, i * 3, 0);
        }
        assert_eq!(d.read(0x1FC, 0), 31 * 3);
        assert_eq!(d.read(CTRL, 0), 0, "CTRL is write-only");
    }

    #[test]
    fn unknown_offsets_are_harmless() {
        let mut d = spin1_dma(8);
        for off in [
            0x00, 0x2C, 0x3C, 0x60, 0x100, 0x110, 0x17C, 0x200, 0x41, 0x182, 0xFFC,
        ] {
            d.write(off, 0xFFFF_FFFF, 0);
            assert_eq!(d.read(off, 0), 0, "offset {off:#x}");
        }
        for off in [u32::MAX, 0xFFFF_FFFC, 0x8000_0000] {
            d.write(off, 0xFFFF_FFFF, u64::MAX);
            assert_eq!(d.read(off, u64::MAX), 0);
        }
        assert_eq!(d.read(STAT, 0), 8 << 24);
        assert_eq!(d.next_event(0), None);
    }

    #[test]
    fn end_of_time_does_not_overflow() {
        let mut mem = FakeMem::new();
        let mut d = spin1_dma(0);
        issue(&mut d, SDRAM, DTCM, READ, 0x8000, u64::MAX - 5);
        assert_eq!(d.next_event(u64::MAX - 5), Some(u64::MAX));
        d.advance(u64::MAX, &mut mem);
        assert_eq!(d.read(STAT, u64::MAX) & ST_DONE, ST_DONE);
        assert_eq!(d.read(AD2S, u64::MAX), SDRAM + 0x8000);
    }

    #[test]
    fn random_register_traffic_never_panics() {
        let mut mem = FakeMem::new();
        let mut d = Dma::new(1);
        let (mut x, mut now) = (0xD1B5_4A32_D192_ED03u64, 0u64);
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            now += x % 2000;
            let off = (x >> 20) as u32 % 0x204;
            let value = (x >> 32) as u32;
            d.advance(now, &mut mem);
            if x & 1 == 0 {
                // Point half the transfers at real memory so that some complete.
                let value = match off {
                    ADRS => SDRAM + (value & 0xFFFC),
                    ADRT => DTCM + (value & 0xFFFC),
                    _ => value,
                };
                d.write(off, value, now);
            } else {
                d.read(off, now);
            }
            if let Some(e) = d.next_event(now) {
                assert!(e > now);
            }
            assert_eq!(d.read(STAT, now) >> 24, 1);
            d.irq_sources(now);
        }
    }
}
