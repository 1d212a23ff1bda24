// SPDX-License-Identifier: GPL-2.0-or-later
//! One ARM968E-S core: a Unicorn engine (ARM946 model: ARMv5TE, no VFP, MPU off) with its
//! private TCMs and peripherals (comms controller, dual timer, VIC, DMA), wired to the chip's
//! shared blocks.
//!
//! Time is counted by one block hook against a per-slice budget (hardware notes §8.2 cost table
//! in `crate::cost`); external memory and peripheral accesses add their own cycles. Exceptions are
//! entered by hand between slices, as the ARM core would: Unicorn itself never takes IRQ, FIQ or
//! aborts for us.

use std::cell::RefCell;
use std::rc::Rc;

use unicorn_engine::unicorn_const::{uc_error, Arch, HookType, MemType, Mode, Permission};
use unicorn_engine::{RegisterARM, Unicorn};

use super::cc::CommsController;
use super::device::{Access, Device, Kind};
use super::dma::{Dma, DmaMemory};
use super::memory::{self, region_of, Ram, Region};
use super::packet::{InFlight, Source};
use super::router::hold::{Hold, Released};
use super::timer::DualTimer;
use super::vic::Vic;
use super::Shared;
use crate::cost::block_cost;
use crate::trace::Event;
use crate::Cycle;
use spinn_hw::map::DEVICE_MAP;

/// Cycles charged for one access to a peripheral register over the AHB (UNVERIFIED: the notes
/// give only "20–30× a TCM access" for off-core accesses; peripherals on the core's own bus are
/// closer, so we pick the low end of that range).
pub const PERIPHERAL_ACCESS_CYCLES: u64 = 10;
/// Extra cycles for one System RAM access from a core (UNVERIFIED; §1.3 "20–30× slower than TCM").
pub const SYSRAM_ACCESS_CYCLES: u64 = 20;
/// Extra cycles for one SDRAM access from a core (UNVERIFIED; §1.3 "20–30× slower than TCM").
pub const SDRAM_ACCESS_CYCLES: u64 = 30;
/// The memories whose accesses cost extra cycles, both aliases: SDRAM, System RAM.
const SLOW_MEMORY: [(u32, u32); 3] = [
    (
        memory::SDRAM_BASE,
        memory::SDRAM_BASE_UNBUF + memory::SDRAM_SIZE - 1,
    ),
    (
        memory::SYSRAM_BASE,
        memory::SYSRAM_BASE + memory::SYSRAM_SIZE - 1,
    ),
    (
        memory::SYSRAM_BASE_UNBUF,
        memory::SYSRAM_BASE_UNBUF + memory::SYSRAM_SIZE - 1,
    ),
];

extern "C" {
    /// engine/patches/0003: alignment faults on (as SCTLR.A asks) or off for one engine.
    fn spinn_set_alignment_faults(uc: *mut std::ffi::c_void, on: bool);
    /// engine/patches/0007: the engine's clock, advanced by translated code at block starts.
    fn spinn_clock(uc: *mut std::ffi::c_void) -> *mut EngineClock;
    /// engine/patches/0007: the callback giving each block's cost when it is translated.
    fn spinn_set_block_cost(
        uc: *mut std::ffi::c_void,
        cost: extern "C" fn(*mut std::ffi::c_void, u64, u32, std::ffi::c_int) -> u64,
        user: *mut std::ffi::c_void,
    );
    /// engine/patches/0008: take watched interrupts inside the engine, telling `taken`.
    fn spinn_set_irq_taken(
        uc: *mut std::ffi::c_void,
        taken: extern "C" fn(*mut std::ffi::c_void, std::ffi::c_int),
        user: *mut std::ffi::c_void,
    );
    /// engine/patches/0010: defer rebuilding the memory map until called again with false.
    fn spinn_defer_memory_commits(uc: *mut std::ffi::c_void, defer: bool);
    /// engine/patches/0010: times the engine has rebuilt its memory map.
    fn spinn_map_rebuilds(uc: *mut std::ffi::c_void) -> u64;
    /// Unicorn's read of guest memory.
    fn uc_mem_read(uc: *mut std::ffi::c_void, address: u64, bytes: *mut u8, size: usize) -> u32;
    /// engine/patches/0005: TLB entries the engine has filled by a page walk so far.
    fn spinn_tlb_fills(uc: *mut std::ffi::c_void) -> u64;
    /// engine/patches/0009: TLB entries brought back from the victim TLB so far.
    fn spinn_tlb_swaps(uc: *mut std::ffi::c_void) -> u64;
    /// Unicorn's control call (`uc_ctl`): variadic, its arguments set by `control`.
    fn uc_ctl(uc: *mut std::ffi::c_void, control: u32, ...) -> u32;
}

/// `UC_CTL_WRITE(UC_CTL_UC_USE_EXITS, 1)`: exits come from the engine's exit set, not from
/// `emu_start`'s `until`.
const UC_CTL_WRITE_USE_EXITS: u32 = 4 | 1 << 26 | 1 << 30;
/// `UC_CTL_WRITE(UC_CTL_TB_REMOVE_CACHE, 2)`: drop the blocks translated from a range.
const UC_CTL_WRITE_TB_REMOVE_CACHE: u32 = 9 | 2 << 26 | 1 << 30;

/// The engine's clock (engine/patches/0007, `struct spinn_clock`): translated code adds each
/// block's cost at its start and stops the engine before a block when `stop` is set, when the
/// block would end past `budget`, or when the guest unmasks an interrupt `watch` names.
#[repr(C)]
struct EngineClock {
    now: u64,
    budget: u64,
    instructions: u64,
    ran_block: u32,
    stop: u32,
    watch: u32,
    pad: u32,
}

/// The engine took a watched interrupt at a block start (engine/patches/0008): trace it and
/// charge the entry, as [`Core::take_interrupt`] does between slices.
extern "C" fn interrupt_taken_in_engine(state: *mut std::ffi::c_void, fiq: std::ffi::c_int) {
    // SAFETY: `state` is the engine's own CoreState (registered in Core::new), which lives as
    // long as the engine; the engine is in its helper, with no other Rust code running on it.
    let st = unsafe { &mut *(state as *mut CoreState) };
    st.pull();
    let exc = if fiq != 0 {
        Exception::Fiq
    } else {
        Exception::Irq
    };
    st.note_interrupt(exc);
    // Counted in the slice's busy time with the rest of the slice.
    st.now += EXCEPTION_ENTRY_CYCLES;
    st.push();
}

/// The cost of the block of `size` bytes at `pc`, for the engine as it translates the block:
/// cycles in the low 32 bits, instructions in the high 32.
extern "C" fn translated_block_cost(
    uc: *mut std::ffi::c_void,
    pc: u64,
    size: u32,
    thumb: std::ffi::c_int,
) -> u64 {
    let mut code = vec![0u8; size as usize];
    // SAFETY: `uc` is the engine translating the block (registered with its own handle), and
    // `code` holds `size` bytes.
    let err = unsafe { uc_mem_read(uc, pc, code.as_mut_ptr(), code.len()) };
    if err != 0 {
        // Code the engine just fetched is readable; charge one cycle per word if it is not.
        return u64::from(size / 4) << 32 | u64::from(size / 4);
    }
    let c = block_cost(&code, thumb != 0);
    u64::from(c.instructions) << 32 | u64::from(c.cycles)
}

/// Cycles to enter an exception (UNVERIFIED: ARM9E-S pipeline refill after the vector fetch).
pub const EXCEPTION_ENTRY_CYCLES: u64 = 3;

/// VIC_VADDR: a write acknowledges the interrupt in service (§2.3).
const VIC_VADDR: u32 = 0x30;
/// The simulator's trace port in the dual timer's reserved space: our runtime writes
/// (event << 1) | entering around each callback (firmware/include/spinnaker.h).
const TRACE_MARK: u32 = 0x80;
/// DMA_DESC: a write commits a transfer (§2.4).
const DMA_DESC: u32 = 0x0C;
const CPSR_T: u32 = 1 << 5;
const CPSR_F: u32 = 1 << 6;
const CPSR_I: u32 = 1 << 7;
const MODE_FIQ: u32 = 0x11;
const MODE_IRQ: u32 = 0x12;
const MODE_SVC: u32 = 0x13;
const MODE_ABT: u32 = 0x17;
const MODE_UND: u32 = 0x1B;

/// An ARM exception the simulator enters on the guest's behalf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exception {
    /// Undefined instruction (vector 0x04).
    Undefined,
    /// Supervisor call (vector 0x08).
    SupervisorCall,
    /// Prefetch abort (vector 0x0C).
    PrefetchAbort,
    /// Data abort (vector 0x10).
    DataAbort,
    /// Interrupt request (vector 0x18).
    Irq,
    /// Fast interrupt request (vector 0x1C).
    Fiq,
}

impl Exception {
    fn mode_and_vector(self) -> (u32, u32) {
        match self {
            Exception::Undefined => (MODE_UND, 0x04),
            Exception::SupervisorCall => (MODE_SVC, 0x08),
            Exception::PrefetchAbort => (MODE_ABT, 0x0C),
            Exception::DataAbort => (MODE_ABT, 0x10),
            Exception::Irq => (MODE_IRQ, 0x18),
            Exception::Fiq => (MODE_FIQ, 0x1C),
        }
    }
}

/// Why a slice of execution ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SliceEnd {
    /// The cycle budget was used up (or the chip asked to look at the core).
    Budget,
    /// The core executed WFI and sleeps until an interrupt is pending.
    Sleep,
    /// The core took an exception (the guest's handler runs next).
    Exception(Exception),
    /// The simulator could not go on with this core (engine error); the core is halted.
    Halted,
}

/// Per-core state that the engine's hooks and MMIO callbacks see.
pub struct CoreState {
    /// Physical core number on the chip (0..17).
    pub phys: u8,
    /// Current simulated time of this core in cycles.
    pub now: Cycle,
    /// The slice ends at the first block boundary at or after this cycle.
    pub budget: Cycle,
    /// Instructions executed so far.
    pub instructions: u64,
    /// Cycles spent executing (not asleep).
    pub busy_cycles: u64,
    /// Slices run (calls into the engine), for performance accounting.
    pub slices: u64,
    /// How far the DMA controller has been advanced.
    dma_time: Cycle,
    /// DMA completions found by the last advance, to be traced.
    dma_done: Vec<Cycle>,
    /// Cycle at which this core last launched a packet.
    pub last_tx: Cycle,
    /// Cycle at which the last packet routed to this core reached its receive buffer.
    pub last_rx_arrival: Cycle,
    /// Communications controller.
    pub cc: CommsController,
    /// Dual timer.
    pub timer: DualTimer,
    /// Vectored interrupt controller.
    pub vic: Vic,
    /// DMA controller.
    pub dma: Dma,
    /// Packets launched by this core in the current slice, for the router (at: launch time).
    pub(crate) outbox: Vec<InFlight>,
    /// Packets the router holds for this core while its receive buffer is full.
    pub(crate) rx_hold: Hold,
    /// The chip's shared blocks.
    pub(crate) shared: Rc<RefCell<Shared>>,
    /// Private instruction TCM.
    pub itcm: Rc<Ram>,
    /// Private data TCM.
    pub dtcm: Rc<Ram>,
    /// Check alignment on every data access (CP15 c1 bit A, which SARK-style start-up sets).
    pub align_check: bool,
    /// Offset in System RAM of this core's vcpu `cpu_state` byte (set when a program is
    /// loaded): a write of a final state there (EXIT, RTE, WDOG) ends the slice at the next
    /// block, so where a core stops never depends on where slices end.
    pub cpu_state_at: Option<u32>,
    stop_requested: bool,
    /// An interrupt is asserted but masked by CPSR: blocks check whether the guest unmasked it.
    masked_pending: bool,
    /// The VIC's IRQ and FIQ outputs as of its last change.
    vic_out: (bool, bool),
    pending_intr: Option<u32>,
    /// The engine's clock (set once the engine exists): while the engine runs, `now`,
    /// `instructions` and the stop request live there; see [`CoreState::pull`].
    clock: *mut EngineClock,
}

impl CoreState {
    /// Who this core is, at its current time, for the device contract.
    fn access(&self) -> Access {
        Access {
            now: self.now,
            core: self.phys,
            monitor: self.phys == self.shared.borrow().sysctl.monitor_id(),
        }
    }

    /// This core's own block of kind `kind` (None for the chip-level kinds).
    pub fn device(&self, kind: Kind) -> Option<&dyn Device> {
        match kind {
            Kind::Cc => Some(&self.cc),
            Kind::Timer => Some(&self.timer),
            Kind::Vic => Some(&self.vic),
            Kind::Dma => Some(&self.dma),
            Kind::Pl340 | Kind::Router | Kind::SysCtl | Kind::Watchdog => None,
        }
    }

    /// Runs `f` on the block of kind `kind` this core reaches: its own, or the chip's.
    fn with_device<R>(&mut self, kind: Kind, f: impl FnOnce(&mut dyn Device) -> R) -> R {
        match kind {
            Kind::Cc => f(&mut self.cc),
            Kind::Timer => f(&mut self.timer),
            Kind::Vic => f(&mut self.vic),
            Kind::Dma => f(&mut self.dma),
            chip_level => {
                let mut sh = self.shared.borrow_mut();
                f(sh.device_mut(chip_level).expect("a chip-level block"))
            }
        }
    }

    /// Interrupt source lines (bit n = VIC source n) driven at `self.now`: every block's.
    fn lines(&self, shared: &Shared) -> u32 {
        let at = Access {
            now: self.now,
            core: self.phys,
            monitor: self.phys == shared.sysctl.monitor_id(),
        };
        Kind::ALL
            .iter()
            .filter_map(|&k| self.device(k).or_else(|| shared.device(k)))
            .fold(0, |lines, d| lines | d.irq_lines(at))
    }

    /// Brings DMA up to `now` and feeds the current source lines into the VIC.
    pub fn update_interrupts(&mut self) {
        let shared = self.shared.clone();
        let sh = shared.borrow();
        let mut mem = CoreMemory {
            itcm: &self.itcm,
            dtcm: &self.dtcm,
            sysram: &sh.sysram,
            sdram: &sh.sdram,
        };
        // Step through completions one by one so that each is traced at its own cycle.
        while let Some(t) = self
            .dma
            .next_event(self.dma_time)
            .filter(|&t| t <= self.now)
        {
            self.dma.advance(t, &mut mem);
            self.dma_time = t;
            self.dma_done.push(t);
        }
        self.dma.advance(self.now, &mut mem);
        self.dma_time = self.now;
        let lines = self.lines(&sh);
        drop(sh);
        if !self.dma_done.is_empty() {
            let mut sh = self.shared.borrow_mut();
            for t in self.dma_done.drain(..) {
                sh.emit(t, Event::DmaDone { p: self.phys });
            }
        }
        self.vic.set_lines(lines);
        self.vic_out = (self.vic.irq(), self.vic.fiq());
    }

    /// Earliest future cycle at which this core's own blocks change their outputs.
    pub fn next_event(&self) -> Option<Cycle> {
        let now = self.now;
        Kind::ALL
            .iter()
            .filter_map(|&k| self.device(k)?.next_event(now))
            .min()
    }

    /// The router moves the packets it holds for this core into the receive buffer as it
    /// frees up, and drops (and counts) those that waited longer than its wait time.
    pub fn refill_rx(&mut self) {
        let (phys, now) = (self.phys, self.now);
        let shared = self.shared.clone();
        self.rx_hold.refill(&mut self.cc, now, |r| {
            let mut sh = shared.borrow_mut();
            match r {
                Released::Dropped { packet: f, at } => {
                    sh.router.count_dropped(&f.packet, f.from, 0, 1 << phys, at);
                    let ev = Event::Drop {
                        key: f.packet.key,
                        links: 0,
                        cores: 1 << phys,
                    };
                    sh.emit(at, ev);
                }
                Released::Delivered(f) => {
                    let ev = Event::Deliver {
                        p: phys,
                        key: f.packet.key,
                    };
                    sh.emit(now, ev);
                }
            }
        });
    }

    fn request_stop(&mut self) {
        self.stop_requested = true;
    }

    /// Traces the interrupt `exc` (IRQ or FIQ) being taken now, with its source.
    fn note_interrupt(&mut self, exc: Exception) {
        let status = if exc == Exception::Fiq {
            self.vic.read(4)
        } else {
            self.vic.read(0)
        };
        let ev = Event::Interrupt {
            p: self.phys,
            fiq: exc == Exception::Fiq,
            source: status.trailing_zeros().min(31) as u8,
        };
        self.shared.borrow_mut().emit(self.now, ev);
    }

    /// Takes the engine's clock on entry to a callback from a running engine (or after it ran).
    fn pull(&mut self) {
        // SAFETY: `clock` points into this core's live engine, which is not running Rust code
        // other than this callback.
        let c = unsafe { &*self.clock };
        self.now = c.now;
        self.instructions = c.instructions;
        self.stop_requested |= c.stop != 0;
    }

    /// Hands the clock back to the engine before it runs on: time, budget, the stop request and
    /// the interrupts to watch for (asserted while CPSR masks them).
    fn push(&mut self) {
        let watch = if self.masked_pending {
            u32::from(self.vic_out.0) | u32::from(self.vic_out.1) << 1
        } else {
            0
        };
        // SAFETY: as for `pull`.
        let c = unsafe { &mut *self.clock };
        c.now = self.now;
        c.budget = self.budget;
        c.instructions = self.instructions;
        c.stop = u32::from(self.stop_requested);
        c.watch = watch;
    }
}

/// The memories one core's DMA controller reaches.
struct CoreMemory<'a> {
    itcm: &'a Ram,
    dtcm: &'a Ram,
    sysram: &'a Ram,
    sdram: &'a Ram,
}

impl DmaMemory for CoreMemory<'_> {
    fn sys_read(&mut self, addr: u32, buf: &mut [u8]) -> bool {
        super::shared::system_read(self.sysram, self.sdram, addr, buf)
    }
    fn sys_write(&mut self, addr: u32, data: &[u8]) -> bool {
        super::shared::system_write(self.sysram, self.sdram, addr, data)
    }
    fn tcm_read(&mut self, addr: u32, buf: &mut [u8]) -> bool {
        match region_of(addr, buf.len() as u32) {
            Some(Region::Itcm(o)) => self.itcm.read(o as usize, buf),
            Some(Region::Dtcm(o)) => self.dtcm.read(o as usize, buf),
            _ => false,
        }
    }
    fn tcm_write(&mut self, addr: u32, data: &[u8]) -> bool {
        match region_of(addr, data.len() as u32) {
            Some(Region::Itcm(o)) => self.itcm.write(o as usize, data),
            Some(Region::Dtcm(o)) => self.dtcm.write(o as usize, data),
            _ => false,
        }
    }
}

/// RXKEY: reading it frees the receive buffer (§2.1).
const CC_RXKEY: u32 = 0x14;

/// A register read by the core: the block answers through the device contract; around it,
/// the wiring the chip gives that block (its interrupt lines brought up to date, the router
/// handing over a held packet once RXKEY frees the buffer, the other cores told of a change).
fn periph_read(st: &mut CoreState, kind: Kind, offset: u32) -> u32 {
    st.now += PERIPHERAL_ACCESS_CYCLES;
    if matches!(kind, Kind::Vic | Kind::Dma) {
        // VADDR reads act on the priority logic, DMA status on completions: lines first.
        st.update_interrupts();
    }
    let at = st.access();
    let v = st.with_device(kind, |d| d.read(offset, at));
    match kind {
        Kind::Cc if offset == CC_RXKEY => {
            if !st.rx_hold.is_empty() {
                st.refill_rx();
            }
            // The receive interrupt drops with the packet read: a FIQ handler, which writes no
            // VIC register on its way out, must not find it still raised when it unmasks FIQ.
            st.update_interrupts();
        }
        Kind::Vic => st.vic_out = (st.vic.irq(), st.vic.fiq()),
        Kind::SysCtl => st.shared.borrow_mut().touch(),
        _ => {}
    }
    v
}

/// A register write by the core, through the device contract, with the same wiring as
/// [`periph_read`] plus the trace events some writes stand for.
fn periph_write(st: &mut CoreState, kind: Kind, offset: u32, value: u32) {
    st.now += PERIPHERAL_ACCESS_CYCLES;
    let now = st.now;
    let at = st.access();
    match kind {
        Kind::Timer if offset == TRACE_MARK => {
            let ev = Event::Callback {
                p: st.phys,
                event: (value >> 1) as u8,
                enter: value & 1 != 0,
            };
            st.shared.borrow_mut().emit(now, ev);
        }
        Kind::Vic if offset == VIC_VADDR => {
            st.shared
                .borrow_mut()
                .emit(now, Event::InterruptDone { p: st.phys });
        }
        Kind::Dma => {
            st.update_interrupts();
            if offset == DMA_DESC {
                let ev = Event::DmaStart {
                    p: st.phys,
                    bytes: value & 0x1_FFFC,
                    write: value & (1 << 19) != 0,
                };
                st.shared.borrow_mut().emit(now, ev);
            }
        }
        _ => {}
    }
    if !(kind == Kind::Timer && offset == TRACE_MARK) {
        st.with_device(kind, |d| d.write(offset, value, at));
    }
    match kind {
        Kind::Cc => {
            if let Some(pkt) = st.cc.take_launched() {
                st.outbox.push(InFlight {
                    packet: pkt,
                    at: now,
                    from: Source::Core(st.phys),
                });
                st.last_tx = now;
                let ev = Event::Send {
                    p: st.phys,
                    key: pkt.key,
                    payload: pkt.payload,
                    control: pkt.control,
                };
                st.shared.borrow_mut().emit(now, ev);
                // The chip routes the packet now, so that a receiver (maybe this core) sees it
                // at the modelled time rather than at the end of a long slice.
                st.request_stop();
            }
        }
        Kind::Vic => st.vic_out = (st.vic.irq(), st.vic.fiq()),
        Kind::SysCtl => {
            st.shared.borrow_mut().touch();
            // Another core's CPU_INT may have changed: let the chip look at every core.
            st.request_stop();
        }
        _ => {}
    }
    // A write may raise an interrupt or move this core's next event earlier.
    st.update_interrupts();
    if let Some(ev) = st.next_event() {
        st.budget = st.budget.min(ev);
    }
    if st.vic_out.0 || st.vic_out.1 {
        // Whether CPSR masks it is checked by the block hook, which sees the guest's CPSR.
        st.masked_pending = true;
    }
}

/// One simulated core: its engine and scheduling state.
pub struct Core {
    uc: Unicorn<'static, CoreState>,
    hooks: Vec<*mut std::ffi::c_void>,
    /// Asleep in WFI until an interrupt is pending.
    pub sleeping: bool,
    /// No longer simulated (finished, faulted beyond recovery, or engine error).
    pub halted: bool,
    /// Why the core was halted by the simulator, if it was.
    pub halt_reason: Option<String>,
}

/// Errors setting up a core's engine.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// Unicorn refused an operation.
    #[error("Unicorn engine error {0:?} while {1}")]
    Engine(uc_error, &'static str),
}

fn eng<T>(r: Result<T, uc_error>, what: &'static str) -> Result<T, CoreError> {
    r.map_err(|e| CoreError::Engine(e, what))
}

impl Core {
    /// Creates physical core `phys` with fresh TCMs, wired to the chip's shared blocks.
    pub fn new(
        phys: u8,
        shared: Rc<RefCell<Shared>>,
        align_check: bool,
    ) -> Result<Core, CoreError> {
        let itcm = Ram::new(memory::ITCM_SIZE as usize);
        let dtcm = Ram::new(memory::DTCM_SIZE as usize);
        let (sysram, sdram) = {
            let sh = shared.borrow();
            (sh.sysram.clone(), sh.sdram.clone())
        };
        let state = CoreState {
            phys,
            now: 0,
            budget: 0,
            instructions: 0,
            busy_cycles: 0,
            slices: 0,
            dma_time: 0,
            dma_done: Vec::new(),
            last_tx: 0,
            last_rx_arrival: 0,
            cc: CommsController::new(),
            timer: DualTimer::new(),
            vic: Vic::new(),
            dma: Dma::new(phys),
            outbox: Vec::new(),
            rx_hold: Hold::default(),
            shared,
            itcm: itcm.clone(),
            dtcm: dtcm.clone(),
            align_check,
            cpu_state_at: None,
            stop_requested: false,
            masked_pending: false,
            vic_out: (false, false),
            pending_intr: None,
            clock: std::ptr::null_mut(),
        };
        // ARM946 is Unicorn's ARMv5TE model without VFP or Jazelle; its MPU stays off because
        // SARK-style start-up writes CP15 c1 with bit M clear (hardware notes §8.3).
        let mut uc = eng(
            Unicorn::new_with_data(Arch::ARM, Mode::ARM946, state),
            "creating the engine",
        )?;
        // Every region below, then one rebuild of the engine's memory map (engine/patches/0010)
        // instead of one per region.
        // SAFETY: the handle is this live engine's; nothing runs before the rebuild below.
        unsafe { spinn_defer_memory_commits(uc.get_handle(), true) };
        // SAFETY: the Ram buffers outlive the engine: the engine's data holds Rc clones of the
        // TCMs and the shared block holds SysRAM/SDRAM for the chip's lifetime.
        unsafe {
            eng(
                uc.mem_map_ptr(
                    memory::ITCM_BASE as u64,
                    memory::ITCM_SIZE as usize,
                    Permission::ALL,
                    itcm.as_ptr() as _,
                ),
                "mapping ITCM",
            )?;
            eng(
                uc.mem_map_ptr(
                    memory::DTCM_BASE as u64,
                    memory::DTCM_SIZE as usize,
                    Permission::ALL,
                    dtcm.as_ptr() as _,
                ),
                "mapping DTCM",
            )?;
            for base in [memory::SDRAM_BASE, memory::SDRAM_BASE_UNBUF] {
                eng(
                    uc.mem_map_ptr(
                        base as u64,
                        memory::SDRAM_SIZE as usize,
                        Permission::ALL,
                        sdram.as_ptr() as _,
                    ),
                    "mapping SDRAM",
                )?;
            }
            for base in [memory::SYSRAM_BASE, memory::SYSRAM_BASE_UNBUF] {
                eng(
                    uc.mem_map_ptr(
                        base as u64,
                        memory::SYSRAM_SIZE as usize,
                        Permission::ALL,
                        sysram.as_ptr() as _,
                    ),
                    "mapping System RAM",
                )?;
            }
        }
        // System ROM: readable and executable, never writable (its contents are not modelled).
        eng(
            uc.mem_map(
                memory::SYSROM_BASE as u64,
                memory::SYSROM_SIZE as usize,
                Permission::READ | Permission::EXEC,
            ),
            "mapping System ROM",
        )?;
        for &(base, size, p) in DEVICE_MAP {
            eng(
                uc.mmio_map(
                    u64::from(base),
                    size as usize,
                    Some(
                        move |uc: &mut Unicorn<CoreState>, off: u64, size: usize| -> u64 {
                            let st = uc.get_data_mut();
                            st.pull();
                            let word = periph_read(st, p, (off as u32) & !3);
                            st.push();
                            let shift = (off as u32 & 3) * 8;
                            let mask = if size >= 4 {
                                u32::MAX
                            } else {
                                (1u32 << (size * 8)) - 1
                            };
                            ((word >> shift) & mask) as u64
                        },
                    ),
                    Some(
                        move |uc: &mut Unicorn<CoreState>, off: u64, _size: usize, value: u64| {
                            let shift = (off as u32 & 3) * 8;
                            // A stop requested here is carried out at the next block's start:
                            // Unicorn 2.0's emu_stop inside an MMIO callback abandons the block and
                            // rewinds the PC to its start, which would repeat the write.
                            let st = uc.get_data_mut();
                            st.pull();
                            periph_write(st, p, (off as u32) & !3, (value as u32) << shift);
                            st.push();
                        },
                    ),
                ),
                "mapping peripherals",
            )?;
        }
        // SAFETY: as above; this rebuilds the map for every region mapped since.
        unsafe { spinn_defer_memory_commits(uc.get_handle(), false) };
        let mut hooks = Vec::new();
        // Block costs are added by translated code (engine/patches/0007), worked out once per
        // block as it is translated.
        let handle = uc.get_handle();
        // SAFETY: the clock lives as long as the engine, which owns this state; the callback is
        // a plain function given the engine's own handle.
        unsafe {
            uc.get_data_mut().clock = spinn_clock(handle);
            spinn_set_block_cost(handle, translated_block_cost, handle);
            let state: *mut CoreState = uc.get_data_mut();
            spinn_set_irq_taken(handle, interrupt_taken_in_engine, state.cast());
        }
        hooks.push(eng(
            uc.add_intr_hook(|uc, intno| {
                uc.get_data_mut().pending_intr = Some(intno);
                uc.get_data_mut().stop_requested = true;
                let _ = uc.emu_stop();
            }),
            "adding the interrupt hook",
        )?);
        // Alignment faults are the engine's (engine/patches/0003), as the guest's SCTLR.A asks;
        // `align_check` off switches them off whatever the guest asks.
        // SAFETY: the handle is this live engine's, before it first runs.
        unsafe { spinn_set_alignment_faults(uc.get_handle(), align_check) };
        // A slice ends by `emu_stop`, never at an address. With an `until` address, Unicorn
        // translates that address and invalidates code there after every `emu_start` (a TLB
        // lookup and a range invalidation per engine entry); with the exit set switched on
        // and left empty there is no such address.
        // SAFETY: the handle is this live engine's; USE_EXITS takes one int.
        let err = unsafe {
            uc_ctl(
                uc.get_handle(),
                UC_CTL_WRITE_USE_EXITS,
                1 as std::ffi::c_int,
            )
        };
        if err != 0 {
            return Err(CoreError::Engine(
                uc_error::ARG,
                "switching on the exit set",
            ));
        }
        {
            // Only these pages take the engine's slow path (engine/patches/0004): the hook
            // watches the core's vcpu state in System RAM, and with `align_check` charges the
            // extra cycles of System RAM and SDRAM accesses.
            let watched = if align_check {
                &SLOW_MEMORY[..]
            } else {
                &SLOW_MEMORY[1..]
            };
            for &(begin, end) in watched {
                hooks.push(eng(
                    uc.add_mem_hook(
                        HookType::MEM_READ | HookType::MEM_WRITE,
                        u64::from(begin),
                        u64::from(end),
                        mem_hook,
                    ),
                    "adding the memory hook",
                )?);
            }
        }
        Ok(Core {
            uc,
            hooks,
            sleeping: false,
            halted: false,
            halt_reason: None,
        })
    }

    /// The engine's per-core state.
    pub fn state(&self) -> &CoreState {
        self.uc.get_data()
    }

    /// The engine's per-core state, mutable.
    pub fn state_mut(&mut self) -> &mut CoreState {
        self.uc.get_data_mut()
    }

    /// Reads a core register (r0..r15, CPSR, SPSR of the current mode).
    pub fn reg(&self, r: RegisterARM) -> u32 {
        self.uc.reg_read(r).unwrap_or(0) as u32
    }

    /// TLB entries this core's engine has filled by a page walk (missing both its TLB and its
    /// victim TLB), since it was built: a measure of how well the guest's pages share slots.
    pub fn tlb_fills(&self) -> u64 {
        // SAFETY: the handle is this live engine's; the call only reads a counter.
        unsafe { spinn_tlb_fills(self.uc.get_handle()) }
    }

    /// TLB entries this core's engine has brought back from its victim TLB (two pages in use
    /// sharing a TLB slot), since it was built.
    pub fn tlb_swaps(&self) -> u64 {
        // SAFETY: the handle is this live engine's; the call only reads a counter.
        unsafe { spinn_tlb_swaps(self.uc.get_handle()) }
    }

    /// Times this core's engine has rebuilt its memory map (once when built).
    pub fn map_rebuilds(&self) -> u64 {
        // SAFETY: the handle is this live engine's; the call only reads a counter.
        unsafe { spinn_map_rebuilds(self.uc.get_handle()) }
    }

    /// The current program counter (with the Thumb bit clear).
    pub fn pc(&self) -> u32 {
        self.reg(RegisterARM::PC)
    }

    /// Reads the core's view of memory (TCMs, SysRAM, SDRAM); None when unmapped.
    pub fn read_mem(&self, addr: u32, len: usize) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; len];
        match region_of(addr, len as u32)? {
            Region::Itcm(o) => self.state().itcm.read(o as usize, &mut buf),
            Region::Dtcm(o) => self.state().dtcm.read(o as usize, &mut buf),
            _ => self.uc.mem_read(addr as u64, &mut buf).is_ok(),
        }
        .then_some(buf)
    }

    /// Puts the core at `entry` as an APLX EXEC leaves it: SVC mode, IRQ and FIQ masked,
    /// r0 = (flags << 8) | app_id, SP at the top of DTCM.
    pub fn reset_to(&mut self, entry: u32, r0: u32) {
        let uc = &mut self.uc;
        let _ = uc.reg_write(RegisterARM::CPSR, (MODE_SVC | CPSR_I | CPSR_F) as u64);
        for r in [
            RegisterARM::R1,
            RegisterARM::R2,
            RegisterARM::R3,
            RegisterARM::R4,
            RegisterARM::R5,
            RegisterARM::R6,
            RegisterARM::R7,
            RegisterARM::R8,
            RegisterARM::R9,
            RegisterARM::R10,
            RegisterARM::R11,
            RegisterARM::R12,
            RegisterARM::LR,
        ] {
            let _ = uc.reg_write(r, 0);
        }
        let _ = uc.reg_write(RegisterARM::R0, r0 as u64);
        let _ = uc.reg_write(
            RegisterARM::SP,
            (memory::DTCM_BASE + memory::DTCM_SIZE) as u64,
        );
        if entry & 1 == 1 {
            let _ = uc.reg_write(
                RegisterARM::CPSR,
                (MODE_SVC | CPSR_I | CPSR_F | CPSR_T) as u64,
            );
        }
        let _ = uc.reg_write(RegisterARM::PC, (entry & !1) as u64);
        self.set_sleeping(false);
        self.halted = false;
        self.halt_reason = None;
    }

    /// Enters `exc` with `lr` as the exception's return link, exactly as the ARM core does.
    pub fn enter_exception(&mut self, exc: Exception, lr: u32) {
        let (mode, vector) = exc.mode_and_vector();
        let cpsr = self.reg(RegisterARM::CPSR);
        let mut new = (cpsr & !(0x1F | CPSR_T)) | mode | CPSR_I;
        if exc == Exception::Fiq {
            new |= CPSR_F;
        }
        // Writing CPSR switches the register bank, so SPSR and LR land in the new mode's copies.
        let uc = &mut self.uc;
        let _ = uc.reg_write(RegisterARM::CPSR, new as u64);
        let _ = uc.reg_write(RegisterARM::SPSR, cpsr as u64);
        let _ = uc.reg_write(RegisterARM::LR, lr as u64);
        let _ = uc.reg_write(RegisterARM::PC, vector as u64);
        let st = uc.get_data_mut();
        st.now += EXCEPTION_ENTRY_CYCLES;
        st.busy_cycles += EXCEPTION_ENTRY_CYCLES;
    }

    /// Takes a pending FIQ or IRQ if the VIC asserts one and CPSR does not mask it.
    /// Returns the exception taken.
    pub fn take_interrupt(&mut self) -> Option<Exception> {
        let cpsr = self.reg(RegisterARM::CPSR);
        let (irq, fiq) = (self.state().vic.irq(), self.state().vic.fiq());
        let exc = if fiq && cpsr & CPSR_F == 0 {
            Exception::Fiq
        } else if irq && cpsr & CPSR_I == 0 {
            Exception::Irq
        } else {
            return None;
        };
        // The return link of IRQ/FIQ is the next instruction + 4 in both ARM and Thumb state.
        let lr = self.pc().wrapping_add(4);
        self.state_mut().note_interrupt(exc);
        self.enter_exception(exc, lr);
        Some(exc)
    }

    /// Parks or wakes the core; the system controller's SC_SLEEP shows it (STANDBYWFI).
    pub fn set_sleeping(&mut self, asleep: bool) {
        if self.sleeping != asleep {
            self.sleeping = asleep;
            let (phys, now) = (self.state().phys, self.state().now);
            let mut sh = self.state().shared.borrow_mut();
            sh.sysctl.set_sleeping(phys, asleep);
            sh.emit(
                now,
                if asleep {
                    Event::Sleep { p: phys }
                } else {
                    Event::Wake { p: phys }
                },
            );
        }
    }

    /// True when the VIC asserts IRQ or FIQ: what wakes a core from WFI, masked or not.
    pub fn interrupt_pending(&self) -> bool {
        self.state().vic.irq() || self.state().vic.fiq()
    }

    /// Runs the core until `until` (a block boundary at or after it), WFI, or an exception.
    pub fn run_slice(&mut self, until: Cycle) -> SliceEnd {
        {
            let st = self.uc.get_data_mut();
            st.budget = until;
            if let Some(ev) = st.next_event() {
                st.budget = st.budget.min(ev);
            }
            st.stop_requested = false;
            st.pending_intr = None;
        }
        if self.state().itcm.take_dirty() {
            // Code written from outside the engine (loader, DMA) is not seen by the engine's
            // own invalidation: translate ITCM afresh. (A whole flush would also reset the
            // code buffer, making all 32 MiB of it resident.)
            // SAFETY: the handle is this live engine's, which is not running; the range takes
            // two u64 arguments.
            unsafe {
                uc_ctl(
                    self.uc.get_handle(),
                    UC_CTL_WRITE_TB_REMOVE_CACHE,
                    u64::from(memory::ITCM_BASE),
                    u64::from(memory::ITCM_BASE + memory::ITCM_SIZE),
                )
            };
        }
        let cpsr = self.reg(RegisterARM::CPSR);
        // take_interrupt ran just before: anything still asserted is masked by CPSR.
        let asserted = self.interrupt_pending();
        self.state_mut().masked_pending = asserted;
        {
            let st = self.state_mut();
            st.push();
            // SAFETY: as in `CoreState::pull`; the engine is not running.
            unsafe { (*st.clock).ran_block = 0 };
        }
        let pc = self.pc();
        let start = if cpsr & CPSR_T != 0 { pc | 1 } else { pc };
        let start_now = self.state().now;
        // 0xFFFF_FFFF can never be an instruction address, so Unicorn never stops on "until".
        let result = self.uc.emu_start(start as u64, 0xFFFF_FFFF, 0, 0);
        let st = self.uc.get_data_mut();
        st.pull();
        st.busy_cycles += st.now.saturating_sub(start_now);
        st.slices += 1;
        let pc = self.pc();
        let thumb = self.reg(RegisterARM::CPSR) & CPSR_T != 0;
        match result {
            Ok(()) => {
                // An alignment fault comes as QEMU's data abort, with the PC on the faulting
                // instruction (engine/patches/0003).
                if let Some(intno) = self.state().pending_intr {
                    return self.software_exception(intno, pc, thumb);
                }
                if !self.state().stop_requested && is_wfi(self, pc) {
                    self.set_sleeping(true);
                    return SliceEnd::Sleep;
                }
                SliceEnd::Budget
            }
            Err(
                uc_error::READ_UNMAPPED
                | uc_error::WRITE_UNMAPPED
                | uc_error::READ_PROT
                | uc_error::WRITE_PROT,
            ) => {
                // The engine stops on the faulting access with the PC on its instruction
                // (engine/patches/0004).
                self.enter_exception(Exception::DataAbort, pc.wrapping_add(8));
                SliceEnd::Exception(Exception::DataAbort)
            }
            Err(uc_error::FETCH_UNMAPPED | uc_error::FETCH_PROT) => {
                self.enter_exception(Exception::PrefetchAbort, pc.wrapping_add(4));
                SliceEnd::Exception(Exception::PrefetchAbort)
            }
            Err(uc_error::INSN_INVALID) => {
                let lr = pc.wrapping_add(if thumb { 2 } else { 4 });
                self.enter_exception(Exception::Undefined, lr);
                SliceEnd::Exception(Exception::Undefined)
            }
            Err(e) => {
                self.halted = true;
                self.halt_reason = Some(format!("engine stopped with {e:?} at pc {pc:#010x}"));
                SliceEnd::Halted
            }
        }
    }

    fn software_exception(&mut self, intno: u32, pc: u32, thumb: bool) -> SliceEnd {
        // QEMU's exception numbers: 1 UDEF, 2 SWI, 3 prefetch abort, 4 data abort, 7 BKPT.
        let exc = match intno {
            2 => {
                // Unicorn leaves PC after the SWI: that is the return link.
                self.enter_exception(Exception::SupervisorCall, pc);
                return SliceEnd::Exception(Exception::SupervisorCall);
            }
            1 => Exception::Undefined,
            4 => Exception::DataAbort,
            _ => Exception::PrefetchAbort,
        };
        let lr = match exc {
            Exception::DataAbort => pc.wrapping_add(8),
            Exception::Undefined if thumb => pc.wrapping_add(2),
            _ => pc.wrapping_add(4),
        };
        self.enter_exception(exc, lr);
        SliceEnd::Exception(exc)
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        // Hooks and MMIO callbacks hold handles to the engine: remove them to free it.
        for h in self.hooks.drain(..) {
            let _ = self.uc.remove_hook(h);
        }
        for &(base, size, _) in DEVICE_MAP {
            let _ = self.uc.mem_unmap(u64::from(base), size as usize);
        }
    }
}

/// `MCR p15, 0, Rd, c7, c0, 4` (any condition, any Rd): the ARMv5 wait-for-interrupt.
fn is_wfi(core: &Core, pc_after: u32) -> bool {
    let Some(bytes) = core.read_mem(pc_after.wrapping_sub(4), 4) else {
        return false;
    };
    let insn = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    insn & 0x0FFF_0FFF == 0x0E07_0F90
}

/// Charges the extra cycles of a System RAM or SDRAM access (only those pages are hooked), and
/// ends the slice after a block that writes a final state into this core's vcpu block.
fn mem_hook(uc: &mut Unicorn<CoreState>, ty: MemType, addr: u64, size: usize, value: i64) -> bool {
    let st = uc.get_data_mut();
    st.pull();
    let sysram = match region_of(addr as u32, 1) {
        Some(Region::SysRam(off)) => Some(off),
        _ => None,
    };
    if st.align_check {
        st.now += if sysram.is_some() {
            SYSRAM_ACCESS_CYCLES
        } else {
            SDRAM_ACCESS_CYCLES
        };
    }
    if let (Some(off), MemType::WRITE) = (sysram, ty) {
        if let Some(at) = st.cpu_state_at {
            if (off..off + size as u32).contains(&at) {
                let byte = (value as u64 >> (8 * (at - off))) as u8;
                if spinn_hw::sysram::CpuState::from_u8(byte).is_final() {
                    st.stop_requested = true;
                    st.push();
                    let _ = uc.emu_stop();
                    return true;
                }
            }
        }
    }
    st.push();
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const B_SELF: u32 = 0xEAFF_FFFE; // b .

    /// A core whose vectors all loop on themselves, with `code` at 0x100 ready to run in SVC mode.
    fn core_with(code: &[u32], align_check: bool) -> Core {
        let shared = Rc::new(RefCell::new(Shared::new(0, 18)));
        let mut core = Core::new(1, shared, align_check).unwrap();
        for v in 0..8u32 {
            core.state().itcm.write_u32((v * 4) as usize, B_SELF);
        }
        for (i, w) in code.iter().enumerate() {
            core.state().itcm.write_u32(0x100 + 4 * i, *w);
        }
        core.reset_to(0x100, 0);
        core
    }

    fn lr_of(core: &Core) -> u32 {
        core.reg(RegisterARM::LR)
    }

    #[test]
    fn code_rewritten_by_the_guest_runs_as_rewritten() {
        // Writes `mov r2,#1; bx lr` into ITCM page 0x2000 (no code there yet, so its TLB write
        // entry is filled as for data), calls it (the page gets code), rewrites the mov to
        // `mov r2,#2` and calls it again: the second call must run the new instruction.
        let code = [
            0xE3A0_0A02, // mov r0,#0x2000
            0xE59F_1028, // ldr r1,=mov r2,#1
            0xE580_1000, // str r1,[r0]
            0xE59F_1024, // ldr r1,=bx lr
            0xE580_1004, // str r1,[r0,#4]
            0xE3A0_2000, // mov r2,#0
            0xE12F_FF30, // blx r0
            0xE1A0_3002, // mov r3,r2
            0xE59F_1014, // ldr r1,=mov r2,#2
            0xE580_1000, // str r1,[r0]
            0xE12F_FF30, // blx r0
            0xE1A0_4002, // mov r4,r2
            B_SELF,
            0xE3A0_2001, // mov r2,#1
            0xE12F_FF1E, // bx lr
            0xE3A0_2002, // mov r2,#2
        ];
        for align_check in [true, false] {
            let mut core = core_with(&code, align_check);
            core.run_slice(10_000);
            assert_eq!(
                (core.reg(RegisterARM::R3), core.reg(RegisterARM::R4)),
                (1, 2),
                "align_check {align_check}"
            );
        }
    }

    #[test]
    fn unmapped_load_is_a_data_abort() {
        // mov r0,#0x50000000; ldr r1,[r0]
        let mut core = core_with(&[0xE3A0_0205, 0xE590_1000, B_SELF], true);
        assert_eq!(
            core.run_slice(10_000),
            SliceEnd::Exception(Exception::DataAbort)
        );
        assert_eq!(core.pc(), 0x10);
        assert_eq!(core.reg(RegisterARM::CPSR) & 0x1F, MODE_ABT);
        assert_eq!(core.reg(RegisterARM::SPSR), MODE_SVC | CPSR_I | CPSR_F);
        assert_eq!(lr_of(&core), 0x104 + 8);
    }

    #[test]
    fn branch_to_unmapped_is_a_prefetch_abort() {
        // mov r0,#0x50000000; bx r0
        let mut core = core_with(&[0xE3A0_0205, 0xE12F_FF10], true);
        assert_eq!(
            core.run_slice(10_000),
            SliceEnd::Exception(Exception::PrefetchAbort)
        );
        assert_eq!(core.pc(), 0x0C);
        assert_eq!(lr_of(&core), 0x5000_0004);
    }

    #[test]
    fn svc_and_undefined_take_their_vectors() {
        let mut core = core_with(&[0xEF00_0000, B_SELF], true);
        assert_eq!(
            core.run_slice(10_000),
            SliceEnd::Exception(Exception::SupervisorCall)
        );
        assert_eq!((core.pc(), lr_of(&core)), (0x08, 0x104));
        let mut core = core_with(&[0xE1A0_0000, 0xE7F0_00F0, B_SELF], true);
        assert_eq!(
            core.run_slice(10_000),
            SliceEnd::Exception(Exception::Undefined)
        );
        assert_eq!((core.pc(), lr_of(&core)), (0x04, 0x108));
        assert_eq!(core.reg(RegisterARM::CPSR) & 0x1F, MODE_UND);
    }

    #[test]
    fn unaligned_word_load_aborts_only_when_checking() {
        // mrc p15,0,r2,c1,c0,0; orr r2,r2,#2 (A); mcr p15,0,r2,c1,c0,0;
        // mov r0,#0x400000; add r0,r0,#1; ldr r1,[r0]; mov r5,#1; b .
        let code = [
            0xEE11_2F10,
            0xE382_2002,
            0xEE01_2F10,
            0xE3A0_0501,
            0xE280_0001,
            0xE590_1000,
            0xE3A0_5001,
            B_SELF,
        ];
        let mut core = core_with(&code, true);
        assert_eq!(
            core.run_slice(10_000),
            SliceEnd::Exception(Exception::DataAbort)
        );
        assert_eq!(lr_of(&core), 0x114 + 8);
        // The abort is precise: the instruction after the faulting load did not run.
        assert_eq!(core.reg(RegisterARM::R5), 0);
        // Alignment faults switched off: the load completes whatever SCTLR.A says.
        let mut core = core_with(&code, false);
        assert_eq!(core.run_slice(10_000), SliceEnd::Budget);
        assert_eq!(core.pc(), 0x11C);
        assert_eq!(core.reg(RegisterARM::R5), 1);
        // SCTLR.A clear (the first three instructions skipped): no fault either.
        let mut core = core_with(&code[3..], true);
        assert_eq!(core.run_slice(10_000), SliceEnd::Budget);
        assert_eq!(core.reg(RegisterARM::R5), 1);
    }

    #[test]
    fn unaligned_words_rotate_as_armv5_with_alignment_faults_off() {
        // mov r0,#0x400000; add r0,r0,#1; ldr r1,[r0]; str r1,[r0,#8]; mov r5,#1; b .
        let code = [
            0xE3A0_0501,
            0xE280_0001,
            0xE590_1000,
            0xE580_1008,
            0xE3A0_5001,
            B_SELF,
        ];
        let mut core = core_with(&code, true);
        core.state().dtcm.write_u32(0, 0x4433_2211);
        assert_eq!(core.run_slice(10_000), SliceEnd::Budget);
        assert_eq!(core.reg(RegisterARM::R5), 1);
        // engine/patches/0006: the aligned word rotated right by one byte (QEMU's own
        // unaligned load would give 0x0044_3322) ...
        assert_eq!(core.reg(RegisterARM::R1), 0x1144_3322);
        // ... and the store at 0x400009 writes the aligned word at 0x400008.
        assert_eq!(core.state().dtcm.read_u32(8), 0x1144_3322);
        assert_eq!(core.state().dtcm.read_u32(12), 0);
    }

    #[test]
    fn code_written_from_outside_runs_as_written() {
        // mov r5,#1; b . -- run, then the host (as the loader or a DMA would) rewrites the
        // first instruction to mov r5,#2 and the core starts there again.
        let mut core = core_with(&[0xE3A0_5001, B_SELF], true);
        core.run_slice(1_000);
        assert_eq!(core.reg(RegisterARM::R5), 1);
        core.state().itcm.write_u32(0x100, 0xE3A0_5002);
        core.reset_to(0x100, 0);
        core.run_slice(2_000);
        assert_eq!(core.reg(RegisterARM::R5), 2);
    }

    #[test]
    fn block_costs_are_counted_by_translated_code() {
        // engine/patches/0007: 100 rounds of a 3-instruction loop, counted at each block start
        // by the engine; the slice ends at the first block boundary at or past the budget.
        // mov r4,#100; loop: add r1,r1,#1; subs r4,r4,#1; bne loop; mov r5,#1; b .
        let code = [
            0xE3A0_4064,
            0xE281_1001,
            0xE254_4001,
            0x1AFF_FFFC,
            0xE3A0_5001,
            B_SELF,
        ];
        let mut core = core_with(&code, true);
        core.run_slice(1_000_000);
        assert_eq!(core.reg(RegisterARM::R1), 100);
        assert_eq!(core.reg(RegisterARM::R5), 1);
        let st = core.state();
        // 1 + 100 × 3 + 1 instructions before the `b .` loop, plus the loop's own blocks.
        assert!(st.instructions >= 302, "{} instructions", st.instructions);
        // Time stops within one block of the budget: `b .` is a 1-instruction block.
        assert!(st.now >= 1_000_000 && st.now < 1_000_010, "now {}", st.now);
    }

    #[test]
    fn a_slice_ends_at_the_first_block_boundary_past_its_end() {
        // engine/patches/0011: one entry reaches the end. Without it, a slice whose end falls
        // inside a block stopped at the boundary before (and the next entry ran that block).
        // mov r4,#0x10000; loop: add r1,r1,#1; subs r4,r4,#1; bne loop; b .
        let code = [0xE3A0_4801, 0xE281_1001, 0xE254_4001, 0x1AFF_FFFC, B_SELF];
        let mut core = core_with(&code, true);
        for k in 1..=40 {
            let until = core.state().now + k;
            let slices = core.state().slices;
            assert_eq!(core.run_slice(until), SliceEnd::Budget);
            assert_eq!(core.state().slices, slices + 1);
            let now = core.state().now;
            // The loop's block costs more than 1 cycle and less than 10.
            assert!(
                now >= until && now < until + 10,
                "end {until}, stopped at {now}"
            );
        }
    }

    #[test]
    fn a_new_core_rebuilds_its_memory_map_once() {
        // engine/patches/0010: one rebuild for all the regions (24 without it, one per region).
        let core = core_with(&[B_SELF], true);
        let rebuilds = core.map_rebuilds();
        assert!(rebuilds <= 2, "{rebuilds} rebuilds");
    }

    #[test]
    fn flagged_pages_come_back_from_the_victim_tlb() {
        // SDRAM page 0x6002_1800 (hooked, so its entries carry a flag) and the timer's page
        // (MMIO) share TLB slot 66 under engine/patches/0009's index; 1,024 rounds of reading
        // one then the other. engine/patches/0005 swaps each entry back from the victim TLB;
        // without it every read is a page walk (over 2,000 fills).
        // mov r0,#0x60000000; add r0,r0,#0x21800; mov r2,#0x21000000; mov r4,#0x400;
        // loop: ldr r1,[r0]; ldr r3,[r2,#4]; subs r4,r4,#1; bne loop; mov r5,#1; b .
        let code = [
            0xE3A0_0206,
            0xE280_0B86,
            0xE3A0_2421,
            0xE3A0_4B01,
            0xE590_1000,
            0xE592_3004,
            0xE254_4001,
            0x1AFF_FFFB,
            0xE3A0_5001,
            B_SELF,
        ];
        let mut core = core_with(&code, true);
        assert_eq!(core.run_slice(1_000_000), SliceEnd::Budget);
        assert_eq!(core.reg(RegisterARM::R5), 1);
        let fills = core.tlb_fills();
        assert!(
            fills < 50,
            "{fills} TLB fills for 2,048 accesses to two pages"
        );
        // Entering the engine again fills nothing either (no `until` address to look up).
        for i in 0..100 {
            core.run_slice(1_000_000 + i * 1_000);
        }
        assert!(core.tlb_fills() <= fills + 2, "{} fills", core.tlb_fills());
    }

    #[test]
    fn a_store_to_unmapped_memory_stops_at_its_instruction() {
        // mov r0,#0x50000000; mov r3,#1; str r3,[r0]; mov r5,#1; b .
        let code = [0xE3A0_0205, 0xE3A0_3001, 0xE580_3000, 0xE3A0_5001, B_SELF];
        for align_check in [true, false] {
            let mut core = core_with(&code, align_check);
            assert_eq!(
                core.run_slice(10_000),
                SliceEnd::Exception(Exception::DataAbort)
            );
            assert_eq!(lr_of(&core), 0x108 + 8, "align_check {align_check}");
            assert_eq!(
                core.reg(RegisterARM::R5),
                0,
                "the rest of the block did not run"
            );
        }
    }

    #[test]
    fn wfi_sleeps_with_pc_after_it() {
        let mut core = core_with(&[0xEE07_0F90, B_SELF], true);
        assert_eq!(core.run_slice(10_000), SliceEnd::Sleep);
        assert_eq!(core.pc(), 0x104);
        assert!(core.sleeping);
    }

    #[test]
    fn irq_is_taken_right_after_cpsr_unmasks_it() {
        // mov r0,#0x1F000000; mov r1,#2; str r1,[r0,#0x10] (enable src 1);
        // str r1,[r0,#0x18] (soft set); msr cpsr_c,#0x13 (unmask); b .
        let code = [
            0xE3A0_041F,
            0xE3A0_1002,
            0xE580_1010,
            0xE580_1018,
            0xE321_F013,
            B_SELF,
        ];
        let mut core = core_with(&code, true);
        // engine/patches/0008: taken inside the engine, which goes on at the vector (a `b .`
        // here) until the budget.
        assert_eq!(core.run_slice(1_000_000), SliceEnd::Budget);
        assert_eq!(core.pc(), 0x18);
        assert_eq!(lr_of(&core), 0x114 + 4);
        assert_eq!(core.reg(RegisterARM::SPSR) & 0xFF, MODE_SVC);
        let cpsr = core.reg(RegisterARM::CPSR);
        assert_eq!(cpsr & 0x1F, 0x12, "IRQ mode");
        assert_ne!(cpsr & CPSR_I, 0, "IRQs masked in the handler");
        assert!(core.state().now > 999_990, "now {}", core.state().now);
    }

    #[test]
    fn a_fiq_handler_that_reads_the_packet_is_not_entered_again() {
        // Main: CC_MC (source 24) selected as FIQ and enabled, r4 = 0, FIQ unmasked, b .
        let code = [
            0xE3A0_041F, // mov r0,#0x1F000000 (VIC)
            0xE3A0_1401, // mov r1,#1<<24
            0xE580_100C, // str r1,[r0,#0x0C] (INT_SELECT)
            0xE580_1010, // str r1,[r0,#0x10] (INT_ENABLE)
            0xE3A0_4000, // mov r4,#0
            0xE321_F093, // msr cpsr_c,#0x93 (SVC, IRQ masked, FIQ unmasked)
            B_SELF,
        ];
        let mut core = core_with(&code, true);
        // The FIQ vector goes to a handler that reads RSR and RXKEY, counts in r4 and returns
        // without touching the VIC, as spin1's FIQ packet handlers do.
        core.state().itcm.write_u32(0x1C, 0xEA00_0077); // b 0x200
        let handler = [
            0xE3A0_8201, // mov r8,#0x10000000 (CC)
            0xE598_600C, // ldr r6,[r8,#0x0C] (RSR)
            0xE598_5014, // ldr r5,[r8,#0x14] (RXKEY)
            0xE284_4001, // add r4,r4,#1
            0xE25E_F004, // subs pc,lr,#4
        ];
        for (i, w) in handler.iter().enumerate() {
            core.state().itcm.write_u32(0x200 + 4 * i, *w);
        }
        let packet = super::super::packet::Packet::new(0, 0x1234, None);
        assert!(core.state_mut().cc.deliver(packet, 0));
        assert_eq!(core.run_slice(100_000), SliceEnd::Budget);
        assert_eq!(core.reg(RegisterARM::R4), 1, "one packet, one FIQ");
        assert_eq!(core.reg(RegisterARM::R5), 0x1234);
        assert_eq!(core.pc(), 0x118, "back in the main loop");
    }

    #[test]
    fn cycles_follow_the_budget_and_count_instructions() {
        let mut core = core_with(&[B_SELF], true);
        assert_eq!(core.run_slice(3_000), SliceEnd::Budget);
        let st = core.state();
        // b . costs 3 cycles: the slice stops at the first block boundary at or after 3,000.
        assert_eq!(st.now, 3_000);
        assert_eq!(st.instructions, 1_000);
    }
}
