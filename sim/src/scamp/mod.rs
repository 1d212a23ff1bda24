// SPDX-License-Identifier: GPL-2.0-or-later
//! SC&MP, the monitor of every chip, modelled on the host side: the virtual board's answer to
//! SDP/SCP from a host, as a booted SpiNNaker board running SC&MP 4.0.0 gives it (hardware
//! notes §5, §6; SC&MP's `scamp-3.c`, `scamp-cmd.c`, `scamp-app.c`, `scamp-nn.c` and SARK's
//! `sark_base.c`, `sark_alloc.c`, `sark_hw.c` were read for the behaviour, SpiNNMan for what a
//! host relies on).
//!
//! The monitor cores themselves are not simulated: this model reads and writes the chips'
//! memories, routers and system controllers where SC&MP would, and starts application cores
//! through [`Chip::load`] as SC&MP's `proc_start_app` does after an APLX load.
//!
//! Choices where SC&MP would crash or no source says (each also noted where it is made):
//! - an access to memory that the addressed core cannot reach (or to an unmodelled memory:
//!   System ROM, the monitor's own TCMs) gets `RC_ARG` (SC&MP would take a data abort);
//! - half-word and word accesses must be aligned (`RC_ARG`), as with alignment checking on;
//! - freeing a pointer that is not an allocated block gets `RC_ARG` (SARK would corrupt its heap);
//! - an APLX image that cannot be loaded (ACOPY, bad table, bytes outside the core's memories)
//!   leaves the core in RTE with `rt_code` ABORT (9), where the real loader would fault;
//! - cores started with the WAIT flag are held by the monitor model in state WAIT (their image
//!   already interpreted) and begin at SIG_START: our runtime has no `sark_wait` of its own;
//! - `CMD_COUNT` answers after SC&MP's 10 ms wait with the counts as they were when asked: every
//!   chip the P2P table reaches answers SC&MP's COUNT_REQ, so it is never `RC_P2P_NOREPLY`;
//! - a transient IP tag is released as soon as the request has been handled;
//! - reverse IP tags are stored and listed but nothing listens on their ports;
//! - SDP from application cores ([`mailbox`]): taken from the vcpu mailboxes between slices of
//!   simulated time (not at the monitor's CPU interrupt); only messages for the Ethernet
//!   (`dest_port` 0xFF) at the root chip are routed, out through their IP tag; others are
//!   taken and dropped.
//!
//! Repeated requests (a host retrying with the same sequence number) are executed again, as
//! SC&MP executes every request it receives: it keeps no record of sequence numbers.

pub mod mailbox;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;

use spinn_proto::aplx::{AplxEntry, ENTRY_LEN};
use spinn_proto::scp::*;
use spinn_proto::sdp::{SdpHeader, SdpMessage, FLAG_NR, FLAG_SUM, PORT_ETH, TAG_NONE};

use crate::chip::memory::{region_of, Ram, Region};
use crate::chip::sysram::{sv, vcpu, CpuState, SDRAM_SYS};
use crate::chip::Chip;
use crate::machine::Machine;
use crate::program::{Program, APLX_MAX_ENTRIES};
use crate::Cycle;

use crate::sark::{
    self, Heap, RouterCopy, SysMem, RTR_ALLOC_FIRST, RTR_ALLOC_LAST, RTR_UNUSED_ROUTE,
};

pub use crate::sark::SDRAM_HEAP_BASE;
/// How long SC&MP waits for the board's chips to report their counts (CMD_COUNT, 10 ms).
const COUNT_WAIT: Cycle = 10_000 * crate::CPU_CLK_MHZ;
/// The build date SC&MP reports in CMD_VER (seconds since 1970): fixed, for reproducibility.
pub const BUILD_DATE: u32 = 1_700_000_000;
/// SC&MP's identity string (`SCAMP_ID_STR`).
pub const SCAMP_ID: &str = "SC&MP/SpiNNaker";
/// SARK's identity string, answered by application cores.
pub const SARK_ID: &str = "SARK/SpiNNaker";
/// Version string (`SLLT_VER_STR`).
pub const VERSION: &str = "4.0.0";

/// `sv` fields this model keeps besides those `sysram::sv` and `sark::sv` name (§6.7).
mod sv_more {
    /// IPv4 address of the chip's Ethernet, 4 bytes.
    pub const IP_ADDR: u32 = 0xF0;
}

/// vcpu mailbox fields (§6.4, §6.6).
const MBOX_AP_MSG: u32 = 48;
const MBOX_AP_CMD: u32 = 56;
/// Mailbox command: a signal (`SHM_SIGNAL`).
const SHM_SIGNAL: u8 = 3;
/// RTE code ABORT, for images the loader could not run.
const RTE_ABORT: u8 = 9;

use spinn_hw::map::{device_at, Device};

/// IP tag table (§5.6): 8 fixed tags then 8 transient ones.
const TAG_FIXED: usize = 8;
const TAG_TABLE: usize = 16;
const IPTAG_BYTES: usize = 32;
const IPFLAG_VALID: u16 = 0x8000;
const IPFLAG_TRANS: u16 = 0x4000;
const IPFLAG_USE_SENDER: u16 = 0x0400;
const IPFLAG_REV: u16 = 0x0200;
const IPFLAG_STRIP: u16 = 0x0100;
/// Default transient-tag timeout code (2.56 s).
const TAG_TTO: u8 = 9;

/// The host end of a request: where replies go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Requester {
    /// Its IPv4 address (0.0.0.0 for IPv6 hosts).
    pub ip: [u8; 4],
    /// Its UDP port.
    pub port: u16,
}

impl Requester {
    /// The requester at a socket address.
    pub fn from_addr(addr: SocketAddr) -> Requester {
        let ip = match addr.ip() {
            IpAddr::V4(v4) => v4.octets(),
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or([0; 4], |v4| v4.octets()),
        };
        Requester {
            ip,
            port: addr.port(),
        }
    }
}

/// One entry of the IP tag table (`iptag_t`, 32 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct IpTag {
    ip: [u8; 4],
    tx_port: u16,
    timeout: u16,
    flags: u16,
    count: u32,
    rx_port: u16,
    dest_addr: u16,
    dest_port: u8,
    /// The full address of a transient tag's requester (IPv6 hosts included).
    reply_addr: Option<SocketAddr>,
    /// When a transient tag was issued (for reclaiming the oldest when none is free).
    issued: u64,
}

impl IpTag {
    fn to_bytes(self) -> [u8; IPTAG_BYTES] {
        let mut b = [0u8; IPTAG_BYTES];
        b[0..4].copy_from_slice(&self.ip);
        b[10..12].copy_from_slice(&self.tx_port.to_le_bytes());
        b[12..14].copy_from_slice(&self.timeout.to_le_bytes());
        b[14..16].copy_from_slice(&self.flags.to_le_bytes());
        b[16..20].copy_from_slice(&self.count.to_le_bytes());
        b[20..22].copy_from_slice(&self.rx_port.to_le_bytes());
        b[22..24].copy_from_slice(&self.dest_addr.to_le_bytes());
        b[24] = self.dest_port;
        b
    }

    fn addr(&self) -> SocketAddr {
        self.reply_addr
            .unwrap_or_else(|| SocketAddr::from((self.ip, self.tx_port)))
    }
}

/// Flood-fill receiver state of one chip (`nn_desc`, §6.3).
#[derive(Clone, Debug)]
struct FloodFill {
    state: FfState,
    id: u32,
    block_len: u32,
    block_count: u32,
    error: bool,
    load: bool,
    cores: u32,
    fbs: [bool; 256],
    fbe: [bool; 256],
    fbd: [bool; 256],
    block_num: u32,
    load_addr: u32,
    word_len: u32,
    word_count: u32,
    sum: u32,
    buf: Vec<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FfState {
    Idle,
    BetweenBlocks,
    InBlock,
}

impl Default for FloodFill {
    fn default() -> Self {
        FloodFill {
            state: FfState::Idle,
            id: 0,
            block_len: 0,
            block_count: 0,
            error: false,
            load: false,
            cores: 0,
            fbs: [false; 256],
            fbe: [false; 256],
            fbd: [false; 256],
            block_num: 0,
            load_addr: 0,
            word_len: 0,
            word_count: 0,
            sum: 0,
            buf: vec![0; 256],
        }
    }
}

/// A core the monitor holds in WAIT until SIG_START.
#[derive(Clone, Debug)]
struct Held {
    program: Program,
    app_id: u8,
    flags: u8,
}

/// What the model keeps for one chip's monitor.
#[derive(Clone, Debug)]
struct Monitor {
    held: BTreeMap<u8, Held>,
    ff: FloodFill,
    /// Nearest Ethernet chip (the root of this chip's board).
    eth: (u8, u8),
    sync: u32,
}

/// The monitors of a whole machine and the Ethernet state of its root chip.
pub struct Scamp {
    monitors: BTreeMap<(u8, u8), Monitor>,
    tags: [IpTag; TAG_TABLE],
    tag_tto: u8,
    root: (u8, u8),
    ip: [u8; 4],
    /// Messages on their way to application cores' mailboxes.
    pending: Vec<mailbox::Delivery>,
    /// Set by [`Scamp::route`] when the answer comes later (the message went to a core, or
    /// SC&MP waits before it answers): a transient tag must then outlive the request.
    reply_later: bool,
    /// Answers SC&MP sends after a wait (CMD_COUNT), with when they leave.
    later: Vec<(Cycle, SdpMessage)>,
    /// Set by [`Scamp::scp`] when its answer leaves only at this time.
    answer_at: Option<Cycle>,
    /// Until when each Ethernet chip is busy counting (CMD_COUNT).
    counting: BTreeMap<(u8, u8), Cycle>,
    /// Transient tags issued so far (their age, for reclaiming the oldest).
    tags_issued: u64,
    /// Messages sent toward cores so far (their order at a monitor).
    sent_to_cores: u64,
}

/// SC&MP's answer to one UDP datagram: datagrams to send, each to an address.
pub type Outgoing = Vec<(SocketAddr, Vec<u8>)>;

fn p2p(x: u8, y: u8) -> u16 {
    (u16::from(x) << 8) | u16::from(y)
}

/// The Ethernet chip of (x, y)'s board: the root whose SpiNN-5 board (48 chips, §9.1) holds it,
/// else the nearest root by hops, else (0, 0).
fn board_root(machine: &Machine, x: u8, y: u8) -> (u8, u8) {
    let desc = machine.desc();
    let roots = desc.ethernet_chips();
    let local = crate::geometry::spinn5_local_chips();
    let (w, h) = (u16::from(desc.width()), u16::from(desc.height()));
    for &(ex, ey) in &roots {
        let dx = ((u16::from(x) + w - u16::from(ex)) % w.max(1)) as u8;
        let dy = ((u16::from(y) + h - u16::from(ey)) % h.max(1)) as u8;
        if (roots.len() > 1 || w >= 8 && h >= 8) && local.contains(&(dx, dy)) {
            return (ex, ey);
        }
    }
    roots
        .iter()
        .copied()
        .min_by_key(|&r| desc.hops(r, (x, y)).unwrap_or(u32::MAX))
        .unwrap_or((0, 0))
}

/// Whether region word `region` (SC&MP's flood-fill chip selection: x base in bits 31:24, y
/// base in bits 23:16 with the level in bits 17:16, one bit per sub-region in bits 15:0)
/// selects chip (x, y). 0xFFFF (level 0, every sub-region) selects every chip.
// INFERRED from SpiNNMan's encoding (flood_fill_start.py): level L splits a square of side
// 4^(4-L) into 4x4 sub-regions of side 4^(3-L).
fn region_selects(region: u32, x: u8, y: u8) -> bool {
    let level = (region >> 16) & 3;
    let sub = 1u32 << (2 * (3 - level));
    let side = sub * 4;
    let bx = (region >> 24) & !(side - 1) & 255;
    let by = (region >> 16) & 0xFC & !(side - 1);
    let (x, y) = (u32::from(x), u32::from(y));
    if x < bx || y < by || x >= bx + side || y >= by + side {
        return false;
    }
    let bit = ((y - by) / sub) * 4 + (x - bx) / sub;
    region & (1 << bit) != 0
}

/// Where a core-view address leads, for the host's reads and writes.
enum Target {
    /// A core's own TCM, at this offset.
    Tcm(Rc<Ram>, usize),
    /// SDRAM or System RAM (the address itself says where).
    System,
    Router(u32),
    Sysctl(u32),
}

/// What `addr..addr+len` is for core `cpu` of `chip` (None: nothing this model can reach).
fn locate(chip: &Chip, cpu: Option<u8>, addr: u32, len: u32) -> Option<Target> {
    let tcm = |dtcm: bool, o: u32| {
        let core = chip.core(cpu.filter(|&c| c != 0)?)?;
        let ram = if dtcm {
            &core.state().dtcm
        } else {
            &core.state().itcm
        };
        Some(Target::Tcm(ram.clone(), o as usize))
    };
    match region_of(addr, len) {
        Some(Region::Itcm(o)) => tcm(false, o),
        Some(Region::Dtcm(o)) => tcm(true, o),
        Some(Region::Sdram(_)) | Some(Region::SysRam(_)) => Some(Target::System),
        Some(Region::SysRom(_)) => None,
        None => match device_at(addr, len)? {
            (Device::Router, o) => Some(Target::Router(o)),
            (Device::SysCtl, o) => Some(Target::Sysctl(o)),
            _ => None,
        },
    }
}

/// Reads `len` bytes as core `cpu` of `chip` sees them (peripherals a word at a time).
fn mem_read(chip: &Chip, cpu: Option<u8>, addr: u32, len: u32) -> Option<Vec<u8>> {
    // Located first: the length is checked against the memory before anything is allocated.
    let target = locate(chip, cpu, addr, len)?;
    if len == 0 {
        return Some(Vec::new());
    }
    match target {
        Target::Tcm(ram, o) => {
            let mut buf = vec![0u8; len as usize];
            ram.read(o, &mut buf).then_some(buf)
        }
        Target::System => {
            let mut buf = vec![0u8; len as usize];
            chip.read_system(addr, &mut buf).then_some(buf)
        }
        Target::Router(off) => Some(read_words(off, len, |w| chip.read_router_reg(w))),
        Target::Sysctl(off) => Some(read_words(off, len, |w| chip.read_sysctl_reg(w))),
    }
}

/// `len` bytes from byte `off` of a register block read a whole word at a time by `read`.
fn read_words(off: u32, len: u32, mut read: impl FnMut(u32) -> u32) -> Vec<u8> {
    let start = off & !3;
    let mut bytes = Vec::with_capacity(len as usize + 8);
    let mut w = start;
    while w < off + len {
        bytes.extend_from_slice(&read(w).to_le_bytes());
        w += 4;
    }
    let skip = (off - start) as usize;
    bytes[skip..skip + len as usize].to_vec()
}

/// Writes `data` as core `cpu` of `chip` would (peripherals only in whole aligned words).
fn mem_write(chip: &Chip, cpu: Option<u8>, addr: u32, data: &[u8]) -> bool {
    let Ok(len) = u32::try_from(data.len()) else {
        return false;
    };
    let words = || {
        data.chunks_exact(4)
            .enumerate()
            .map(|(i, w)| (4 * i as u32, u32::from_le_bytes([w[0], w[1], w[2], w[3]])))
    };
    match locate(chip, cpu, addr, len) {
        Some(Target::Tcm(ram, o)) => ram.write(o, data),
        Some(Target::System) => chip.write_system(addr, data),
        Some(Target::Router(off)) | Some(Target::Sysctl(off)) if off % 4 != 0 || len % 4 != 0 => {
            false
        }
        Some(Target::Router(off)) => {
            for (i, w) in words() {
                chip.write_router_reg(off + i, w);
            }
            true
        }
        Some(Target::Sysctl(off)) => {
            for (i, w) in words() {
                chip.write_sysctl_reg(off + i, w);
            }
            true
        }
        None => false,
    }
}

/// Fills `len` bytes (whole words) at word-aligned `addr` with `word`, in chunks.
fn mem_fill(chip: &Chip, cpu: Option<u8>, addr: u32, word: u32, len: u32) -> bool {
    let len = len & !3;
    if len == 0 {
        return locate(chip, cpu, addr, 0).is_some();
    }
    if locate(chip, cpu, addr, len).is_none() {
        return false;
    }
    const CHUNK: u32 = 0x1_0000;
    let pattern: Vec<u8> = word
        .to_le_bytes()
        .iter()
        .copied()
        .cycle()
        .take(CHUNK.min(len) as usize)
        .collect();
    let mut done = 0;
    while done < len {
        let n = CHUNK.min(len - done);
        if !mem_write(chip, cpu, addr + done, &pattern[..n as usize]) {
            return false;
        }
        done += n;
    }
    true
}

fn word_at(data: &[u8], i: usize) -> u32 {
    let mut w = [0u8; 4];
    for (k, b) in w.iter_mut().enumerate() {
        *b = data.get(4 * i + k).copied().unwrap_or(0);
    }
    u32::from_le_bytes(w)
}

fn unix_time() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32)
}

/// Reads an APLX image from a chip's memory at `addr`: its table, then as many bytes as its
/// relative copies reach.
fn read_aplx(chip: &Chip, addr: u32) -> Result<Program, String> {
    let mut extent = 0u64;
    for i in 0..APLX_MAX_ENTRIES {
        let off = (i * ENTRY_LEN) as u32;
        let raw =
            mem_read(chip, None, addr.wrapping_add(off), ENTRY_LEN as u32).ok_or_else(|| {
                format!(
                    "APLX table at {:#010x} is not in SDRAM or System RAM",
                    addr.wrapping_add(off)
                )
            })?;
        let entry = AplxEntry::from_bytes(&raw.try_into().unwrap_or([0; ENTRY_LEN]));
        extent = extent.max(u64::from(off) + ENTRY_LEN as u64);
        match entry {
            AplxEntry::Rcopy { src, len, .. } => {
                let start = u64::from(off.wrapping_add(src));
                extent = extent.max(start + u64::from(len).div_ceil(32).max(1) * 32);
            }
            AplxEntry::End | AplxEntry::Exec { .. } => break,
            _ => {}
        }
    }
    // The copies read no further than the memory holding the table.
    let avail = match region_of(addr, 1) {
        Some(Region::Sdram(o)) => u64::from(crate::chip::memory::SDRAM_SIZE - o),
        Some(Region::SysRam(o)) => u64::from(crate::chip::memory::SYSRAM_SIZE - o),
        _ => {
            return Err(format!(
                "APLX at {addr:#010x} is not in SDRAM or System RAM"
            ))
        }
    };
    let n = extent.min(avail) as u32;
    let bytes = mem_read(chip, None, addr, n)
        .ok_or_else(|| format!("APLX at {addr:#010x} cannot be read"))?;
    Program::from_aplx("app", &bytes).map_err(|e| e.to_string())
}

impl Scamp {
    /// The monitors of a freshly booted `machine`, its root chip's Ethernet at `ip`: sets the
    /// `sv` fields the model owns (nearest Ethernet, root, heap pointer, IP address) and lays
    /// out each chip's empty SDRAM heap.
    pub fn new(machine: &mut Machine, ip: [u8; 4]) -> Scamp {
        let root = machine
            .desc()
            .ethernet_chips()
            .first()
            .copied()
            .unwrap_or((0, 0));
        let mut monitors = BTreeMap::new();
        let coords: Vec<(u8, u8)> = machine.chips().iter().map(|c| (c.x, c.y)).collect();
        for (x, y) in coords {
            let eth = board_root(machine, x, y);
            let m = Monitor {
                held: BTreeMap::new(),
                ff: FloodFill::default(),
                eth,
                sync: 0,
            };
            let chip = machine.chip(x, y).expect("listed chip");
            let w16 = |f: u32, v: u16| chip.write_sv(f, &v.to_le_bytes());
            w16(sv::ETH_ADDR, p2p(eth.0, eth.1));
            w16(sv::DBG_ADDR, p2p(root.0, root.1));
            w16(sv::P2P_ROOT, p2p(root.0, root.1));
            monitors.insert((x, y), m);
        }
        let mut scamp = Scamp {
            monitors,
            tags: [IpTag::default(); TAG_TABLE],
            tag_tto: TAG_TTO,
            root,
            ip: [0; 4],
            pending: Vec::new(),
            reply_later: false,
            later: Vec::new(),
            answer_at: None,
            counting: BTreeMap::new(),
            tags_issued: 0,
            sent_to_cores: 0,
        };
        scamp.set_ip(machine, ip);
        scamp
    }

    /// The root chip (where `(255, 255)` goes, and the only Ethernet this board answers on).
    pub fn root(&self) -> (u8, u8) {
        self.root
    }

    /// Sets the IPv4 address the root chip reports (CMD_INFO, `sv->ip_addr`).
    pub fn set_ip(&mut self, machine: &Machine, ip: [u8; 4]) {
        self.ip = ip;
        if let Some(chip) = machine.chip(self.root.0, self.root.1) {
            chip.write_sv(sv_more::IP_ADDR, &ip);
        }
    }

    /// Handles one UDP datagram that arrived on the SCP port from `from`, as SC&MP's
    /// `udp_pkt` and `proc_route_msg` do; returns the datagrams SC&MP sends in answer.
    /// Datagrams too short for an SDP header, too long for SC&MP's buffers, or expecting a
    /// reply through an invalid tag are dropped without an answer, as SC&MP drops them.
    pub fn handle_datagram(
        &mut self,
        machine: &mut Machine,
        bytes: &[u8],
        from: SocketAddr,
    ) -> Outgoing {
        let Ok(msg) = SdpMessage::from_udp(bytes) else {
            return Vec::new();
        };
        let requester = Requester::from_addr(from);
        let mut header = msg.header;
        let mut transient = None;
        if header.reply_expected() {
            if header.tag == TAG_NONE {
                // A transient tag carries the reply back to the requester.
                // SC&MP times transient tags out (tag_tto); a tag whose reply never came is
                // reclaimed, oldest first, when no tag is free.
                let t = self.free_pool_tag().unwrap_or_else(|| {
                    (TAG_FIXED..TAG_TABLE)
                        .min_by_key(|&t| self.tags[t].issued)
                        .unwrap_or(TAG_FIXED)
                });
                self.tags_issued += 1;
                let timeout = if self.tag_tto != 0 {
                    1u16 << (self.tag_tto - 1)
                } else {
                    0
                };
                self.tags[t] = IpTag {
                    ip: requester.ip,
                    tx_port: requester.port,
                    timeout,
                    flags: IPFLAG_VALID | IPFLAG_TRANS | u16::from(self.tag_tto),
                    reply_addr: Some(from),
                    issued: self.tags_issued,
                    ..IpTag::default()
                };
                header.tag = t as u8;
                transient = Some(t);
            } else if usize::from(header.tag) >= TAG_TABLE
                || self.tags[usize::from(header.tag)].flags == 0
            {
                return Vec::new();
            }
        }
        self.reply_later = false;
        let out = self.route(machine, header, &msg.data, requester);
        let mut datagrams = Vec::new();
        for m in out {
            if let Some(d) = self.eth_send(&m) {
                datagrams.push(d);
            }
        }
        if let Some(t) = transient {
            // Used once; a core's reply uses it later (and frees it then).
            if !self.reply_later {
                self.tags[t].flags = 0;
            }
        }
        datagrams
    }

    fn free_pool_tag(&self) -> Option<usize> {
        (TAG_FIXED..TAG_TABLE).find(|&t| self.tags[t].flags == 0)
    }

    /// Sends an SDP message out through its tag (`eth_send_msg`): the datagram, or None when the
    /// tag is not valid. Transient tags are used once.
    fn eth_send(&mut self, m: &SdpMessage) -> Option<(SocketAddr, Vec<u8>)> {
        let t = usize::from(m.header.tag);
        let tag = self.tags.get_mut(t)?;
        if tag.flags & IPFLAG_VALID == 0 {
            return None;
        }
        let bytes = if tag.flags & IPFLAG_STRIP != 0 {
            m.data.clone()
        } else {
            m.to_udp()
        };
        let to = tag.addr();
        if tag.flags & IPFLAG_TRANS != 0 {
            tag.flags = 0;
        } else {
            tag.count = tag.count.wrapping_add(1);
        }
        Some((to, bytes))
    }

    /// Routes a message from the host (SC&MP's `proc_route_msg` at the root chip) and handles
    /// it where it is addressed; returns the messages that leave through Ethernet.
    pub fn route(
        &mut self,
        machine: &mut Machine,
        mut h: SdpHeader,
        data: &[u8],
        requester: Requester,
    ) -> Vec<SdpMessage> {
        h.flags &= !FLAG_SUM;
        let root = self.root;
        // SC&MP puts its own address as the source of what arrives by Ethernet, and maps
        // (255, 255) to the root chip.
        (h.src_x, h.src_y) = root;
        if (h.dest_x, h.dest_y) == (255, 255) {
            (h.dest_x, h.dest_y) = root;
        }
        let dest = (h.dest_x, h.dest_y);
        let error = |h: &SdpHeader, rc: u16| -> Vec<SdpMessage> {
            error_reply(h, data, rc).into_iter().collect()
        };
        let chip_xy = if dest != root && h.flags & FLAG_NR == 0 {
            let reachable = machine
                .chip(root.0, root.1)
                .is_some_and(|c| c.p2p_entry(p2p(dest.0, dest.1)) < 6)
                && machine.chip(dest.0, dest.1).is_some();
            if !reachable {
                return error(&h, RC_ROUTE);
            }
            dest
        } else {
            root
        };
        if h.dest_port_cpu == PORT_ETH {
            return vec![SdpMessage {
                header: h,
                data: data.to_vec(),
            }];
        }
        let Some(num_cpus) = machine.chip(chip_xy.0, chip_xy.1).map(|c| c.num_cores()) else {
            return error(&h, RC_ROUTE);
        };
        let cpu = h.dest_cpu();
        if usize::from(cpu) >= num_cpus {
            return error(&h, RC_CPU);
        }
        if cpu != 0
            && machine
                .chip(chip_xy.0, chip_xy.1)
                .is_some_and(|c| c.core(cpu).is_some())
        {
            // An application core: its own code answers, through the mailbox (§11.5).
            self.reply_later = true;
            self.send_to_core(
                machine,
                root,
                SdpMessage {
                    header: h,
                    data: data.to_vec(),
                },
            );
            return Vec::new();
        }
        if h.dest_port() != 0 {
            if cpu == 0 {
                return error(&h, RC_PORT);
            }
            // The idle stub has no SDP handler: it frees the message.
            return Vec::new();
        }
        let reply = match ScpRequest::parse(data) {
            Err(_) => {
                let seq = seq_of(data);
                ScpReply::status(RC_LEN, seq)
            }
            Ok(req) => self.scp(machine, chip_xy, cpu, &req, requester, h.tag),
        };
        let answer_at = self.answer_at.take();
        if !h.reply_expected() {
            return Vec::new();
        }
        let mut rh = h;
        (rh.dest_x, rh.dest_y) = chip_xy;
        let rh = rh.reply();
        let reply_msg = SdpMessage {
            header: rh,
            data: reply.to_sdp_data(),
        };
        // The reply goes back to the root and out by Ethernet only when the request came from
        // there (source port/cpu 0xFF, as hosts send): otherwise it is for a core.
        if rh.dest_port_cpu != PORT_ETH {
            return Vec::new();
        }
        if let Some(t) = answer_at {
            self.reply_later = true;
            self.later.push((t, reply_msg));
            return Vec::new();
        }
        vec![reply_msg]
    }

    /// Handles one SCP request addressed to core `cpu` of chip `xy` (port 0), as SC&MP (core 0)
    /// or SARK on an application core does; returns the reply.
    pub fn scp(
        &mut self,
        machine: &mut Machine,
        xy: (u8, u8),
        cpu: u8,
        req: &ScpRequest,
        requester: Requester,
        tag: u8,
    ) -> ScpReply {
        let [a1, a2, a3] = req.args;
        let seq = req.seq;
        let ok = |args: &[u32], data: &[u8]| ScpReply::ok(seq, args, data);
        let err = |rc: u16| ScpReply::status(rc, seq);
        let Some(chip) = machine.chip(xy.0, xy.1) else {
            return err(RC_ROUTE);
        };
        if cpu != 0 {
            // The idle SARK stub of a core with nothing loaded: version and memory commands only
            // (a loaded core's own code answers, through its mailbox).
            return match req.cmd {
                CMD_VER => self.ver(chip, cpu, seq, SARK_ID),
                CMD_READ => cmd_read(chip, Some(cpu), req),
                CMD_WRITE => cmd_write(chip, Some(cpu), req),
                CMD_FILL => cmd_fill(chip, Some(cpu), req),
                _ => err(RC_CMD),
            };
        }
        match req.cmd {
            CMD_VER => self.ver(chip, 0, seq, SCAMP_ID),
            CMD_READ => cmd_read(chip, None, req),
            CMD_WRITE => cmd_write(chip, None, req),
            CMD_FILL => cmd_fill(chip, None, req),
            CMD_LED => ok(&[], &[]),
            CMD_LINK_READ | CMD_LINK_WRITE => {
                if a2 > 256 || a3 > 5 {
                    return err(RC_ARG);
                }
                let Some(nbr) = machine
                    .desc()
                    .neighbour(xy.0, xy.1, a3 as u8)
                    .filter(|_| chip.live_links() & (1 << a3) != 0)
                else {
                    return err(RC_TIMEOUT);
                };
                let Some(other) = machine.chip(nbr.0, nbr.1) else {
                    return err(RC_TIMEOUT);
                };
                let n = a2 & !3;
                if a1 % 4 != 0 {
                    return err(RC_ARG);
                }
                if req.cmd == CMD_LINK_READ {
                    let mut body = req.to_sdp_data()[4..].to_vec();
                    body.resize(a2 as usize, 0);
                    let Some(bytes) = mem_read(other, None, a1, n) else {
                        return err(RC_ARG);
                    };
                    body[..n as usize].copy_from_slice(&bytes);
                    ok(&[], &body)
                } else {
                    let mut data = req.data.clone();
                    data.resize(n as usize, 0);
                    if !mem_write(other, None, a1, &data) {
                        return err(RC_ARG);
                    }
                    ok(&[], &[])
                }
            }
            CMD_FFD => {
                self.ffd(machine, req);
                ok(&[], &[])
            }
            CMD_IPTAG => self.iptag(req, requester, tag),
            CMD_NNP => {
                self.nnp(machine, a1, a2);
                ok(&[], &[])
            }
            CMD_AS => {
                // Bit 0 (the monitor) would restart SC&MP itself: not modelled, ignored.
                self.start_app(machine, xy, a1, a2 & !1);
                ok(&[], &[])
            }
            CMD_AR => {
                if a1 & 1 != 0 {
                    return err(RC_ARG);
                }
                self.start_app(machine, xy, SDRAM_SYS, a1);
                ok(&[], &[])
            }
            CMD_APP_COPY_RUN => self.app_copy_run(machine, xy, req),
            CMD_ALLOC => self.alloc(machine, xy, req),
            CMD_SIG => match a1 {
                SIG_TYPE_MC if xy != self.root => err(RC_ARG),
                SIG_TYPE_MC | SIG_TYPE_NN => {
                    self.signal_all(machine, a2);
                    ok(&[], &[])
                }
                _ => err(RC_ARG),
            },
            CMD_RTR => self.rtr(machine, xy, req),
            CMD_INFO => self.info(machine, xy, seq),
            CMD_SYNC => {
                if let Some(m) = self.monitors.get_mut(&xy) {
                    m.sync = a1;
                }
                ok(&[], &[])
            }
            CMD_COUNT => {
                // SC&MP asks every chip of its board over P2P (COUNT_REQ/COUNT_RESP) and
                // answers after its 10 ms wait; every chip the P2P table reaches answers here
                // (§11.7), so the answer is RC_OK, with the counts as of the request.
                let now = machine.now();
                if self.counting.get(&xy).is_some_and(|&until| until > now) {
                    return err(RC_P2P_BUSY);
                }
                let until = now + COUNT_WAIT;
                self.counting.insert(xy, until);
                self.answer_at = Some(until);
                let board = self.monitors.get(&xy).map(|m| m.eth);
                let mut count = 0u32;
                for c in machine.chips() {
                    if self.monitors.get(&(c.x, c.y)).map(|m| m.eth) != board {
                        continue;
                    }
                    for v in 1..c.num_cores() as u8 {
                        let app = c.vcpu_byte(v, vcpu::APP_ID);
                        let state = c.vcpu_byte(v, vcpu::CPU_STATE);
                        if u32::from(app) == a1 && u32::from(state) == a2 {
                            count += 1;
                        }
                    }
                }
                ok(&[count], &[])
            }
            // The serial ROM, core remapping and the deprecated commands are not modelled;
            // anything else is unknown to SC&MP too.
            _ => err(RC_CMD),
        }
    }

    fn ver(&self, chip: &Chip, cpu: u8, seq: u16, name: &str) -> ScpReply {
        let arg1 = u32::from(p2p(chip.x, chip.y)) << 16
            | u32::from(chip.phys_of(cpu)) << 8
            | u32::from(cpu);
        let mut data = Vec::new();
        data.extend_from_slice(name.as_bytes());
        data.push(0);
        data.extend_from_slice(VERSION.as_bytes());
        data.push(0);
        ScpReply::ok(
            seq,
            &[arg1, 0xFFFF_0000 + MAX_DATA as u32, BUILD_DATE],
            &data,
        )
    }

    fn info(&self, machine: &Machine, xy: (u8, u8), seq: u16) -> ScpReply {
        let (Some(chip), Some(m)) = (machine.chip(xy.0, xy.1), self.monitors.get(&xy)) else {
            return ScpReply::status(RC_ROUTE, seq);
        };
        let eth_up = chip.sv_byte(sv::ETH_UP) != 0;
        let rtr_free = chip.with_sys_mem(|mem| RouterCopy::of(mem).map_or(0, |r| r.largest_free()));
        let arg1 = (chip.num_cores() as u32 & 0x1F)
            | u32::from(chip.live_links()) << 8
            | (rtr_free & 0x7FF) << 14
            | u32::from(eth_up) << 25;
        let mut data = Vec::with_capacity(26);
        for v in 0..18u8 {
            data.push(chip.vcpu_byte(v, vcpu::CPU_STATE));
        }
        let eth = p2p(m.eth.0, m.eth.1);
        data.extend_from_slice(&eth.to_le_bytes());
        let mut ip = [0u8; 4];
        chip.read_sv(sv_more::IP_ADDR, &mut ip);
        data.extend_from_slice(&ip);
        let parent = chip.p2p_entry(p2p(self.root.0, self.root.1));
        data.extend_from_slice(&u16::from(parent).to_le_bytes());
        let max = |field| {
            chip.with_sys_mem(|mem| Heap::from_sv(mem, field).map_or(0, |h| h.largest_free()))
        };
        ScpReply::ok(
            seq,
            &[arg1, max(sark::sv::SDRAM_HEAP), max(sark::sv::SYSRAM_HEAP)],
            &data,
        )
    }

    fn iptag(&mut self, req: &ScpRequest, requester: Requester, source_tag: u8) -> ScpReply {
        let [a1, a2, a3] = req.args;
        let seq = req.seq;
        let op = (a1 >> 16) & 255;
        let mut tag = (a1 & 255) as usize;
        if op > IPTAG_TTO || tag >= TAG_TABLE {
            return ScpReply::status(RC_ARG, seq);
        }
        match op {
            IPTAG_NEW | IPTAG_SET => {
                if op == IPTAG_NEW {
                    tag = self.free_pool_tag().unwrap_or(usize::from(TAG_NONE));
                }
                if tag < TAG_TABLE {
                    let source = self
                        .tags
                        .get(usize::from(source_tag))
                        .copied()
                        .unwrap_or_default();
                    let code = (a1 >> 24) & 15;
                    let timeout = if code != 0 { 1u16 << (code - 1) } else { 0 };
                    let mut flags = ((a1 >> 20) & 0x0F00) as u16;
                    // SC&MP ORs the timeout into the flags word as well.
                    flags |= timeout;
                    let mut t = IpTag {
                        timeout,
                        flags,
                        dest_addr: (a2 >> 16) as u16,
                        dest_port: (a1 >> 8) as u8,
                        ..IpTag::default()
                    };
                    if a3 != 0 {
                        t.ip = a3.to_le_bytes();
                    } else if flags & IPFLAG_REV == 0 {
                        t.ip = if flags & IPFLAG_USE_SENDER != 0 {
                            source.ip
                        } else {
                            requester.ip
                        };
                    }
                    if flags & IPFLAG_REV != 0 {
                        t.rx_port = a2 as u16;
                    } else {
                        t.tx_port = if flags & IPFLAG_USE_SENDER != 0 {
                            source.tx_port
                        } else {
                            a2 as u16
                        };
                        if flags & IPFLAG_USE_SENDER != 0 {
                            t.reply_addr = source.reply_addr;
                        }
                    }
                    // The address resolves at once (no ARP on a virtual board).
                    t.flags |= IPFLAG_VALID;
                    self.tags[tag] = t;
                }
                ScpReply::ok(seq, &[tag as u32], &[])
            }
            IPTAG_GET => {
                let size = u64::from(a2) * IPTAG_BYTES as u64;
                if size > MAX_DATA as u64 {
                    return ScpReply::status(RC_ARG, seq);
                }
                let mut body = Vec::with_capacity(size as usize);
                for i in 0..a2 as usize {
                    body.extend_from_slice(
                        &self
                            .tags
                            .get(tag + i)
                            .copied()
                            .unwrap_or_default()
                            .to_bytes(),
                    );
                }
                ScpReply::ok(seq, &[], &body)
            }
            IPTAG_TTO => {
                let arg1 = (TAG_FIXED as u32) << 24
                    | ((TAG_TABLE - TAG_FIXED) as u32) << 16
                    | (IPTAG_BYTES as u32) << 8
                    | u32::from(self.tag_tto);
                if a2 < 16 {
                    self.tag_tto = a2 as u8;
                }
                ScpReply::ok(seq, &[arg1], &[])
            }
            _ => {
                self.tags[tag].flags = 0;
                ScpReply::ok(seq, &[], &[])
            }
        }
    }

    fn alloc(&mut self, machine: &Machine, xy: (u8, u8), req: &ScpRequest) -> ScpReply {
        let [a1, a2, a3] = req.args;
        let seq = req.seq;
        let op = a1 & 255;
        let app_id = (a1 >> 8) & 255;
        let extra = (a1 >> 16) & 255;
        let Some(chip) = machine.chip(xy.0, xy.1) else {
            return ScpReply::status(RC_ROUTE, seq);
        };
        // The reply, and the router entries to clear once the heaps are left alone.
        let (reply, clear) = chip.with_sys_mem(|mem| {
            let refuse = || (ScpReply::status(RC_ARG, seq), Vec::new());
            let (Some(heap), Some(rtr)) = (
                Heap::from_sv(mem, sark::sv::SDRAM_HEAP),
                RouterCopy::of(mem),
            ) else {
                // A chip whose system area was overwritten from the host: SC&MP would fault.
                return refuse();
            };
            let mut clear = Vec::new();
            let reply = match op {
                ALLOC_SDRAM => {
                    let ptr = heap.alloc(a2, a3, app_id, extra);
                    if ptr != 0 {
                        app_in_use(mem, app_id as u8);
                    }
                    ScpReply::ok(seq, &[ptr], &[])
                }
                FREE_SDRAM => {
                    if !heap.free(a2) {
                        return refuse();
                    }
                    ScpReply::ok(seq, &[], &[])
                }
                // App 0 owns SC&MP's own blocks (the system area): never freed by ID.
                FREE_SDRAM_ID if app_id == 0 => ScpReply::ok(seq, &[0], &[]),
                FREE_SDRAM_ID => ScpReply::ok(seq, &[heap.free_app(app_id)], &[]),
                ALLOC_RTR => {
                    let first = rtr.alloc(a2, app_id);
                    if first != 0 {
                        app_in_use(mem, app_id as u8);
                    }
                    ScpReply::ok(seq, &[first], &[])
                }
                FREE_RTR => {
                    if let Some(block) = rtr.free(a2) {
                        if a3 != 0 {
                            clear.push(block);
                        }
                    }
                    ScpReply::ok(seq, &[], &[])
                }
                FREE_RTR_ID => {
                    let freed = rtr.free_app(app_id);
                    let n = freed.len() as u32;
                    if a2 != 0 {
                        clear = freed;
                    }
                    ScpReply::ok(seq, &[n], &[])
                }
                SDRAM_SPACE => ScpReply::ok(seq, &[heap.free_bytes(), heap.largest_free()], &[]),
                HEAP_TAG_PTR => ScpReply::ok(seq, &[sark::tag_ptr(mem, a2 & 255, app_id)], &[]),
                _ => return refuse(),
            };
            (reply, clear)
        });
        for (first, count) in clear {
            clear_entries(chip, first, count);
        }
        reply
    }

    fn rtr(&mut self, machine: &Machine, xy: (u8, u8), req: &ScpRequest) -> ScpReply {
        let [a1, a2, a3] = req.args;
        let seq = req.seq;
        let op = a1 & 255;
        let count = a1 >> 16;
        let app_id = ((a1 >> 8) & 255) as u8;
        let Some(chip) = machine.chip(xy.0, xy.1) else {
            return ScpReply::status(RC_ROUTE, seq);
        };
        let ok = ScpReply::ok(seq, &[], &[]);
        match op {
            RTR_INIT => {
                clear_entries(chip, RTR_ALLOC_FIRST, RTR_ALLOC_LAST - RTR_ALLOC_FIRST);
                chip.with_sys_mem(|mem| {
                    if let Some(copy) = RouterCopy::of(mem) {
                        copy.init(RTR_ALLOC_FIRST);
                    }
                });
                ok
            }
            RTR_CLEAR => {
                if u64::from(a2) + u64::from(count) > u64::from(RTR_ALLOC_LAST) {
                    return ScpReply::status(RC_ARG, seq);
                }
                clear_entries(chip, a2, count);
                ok
            }
            RTR_LOAD => {
                // rtr_entry_t {u16 next, u16 free, u32 route, u32 key, u32 mask}; a count of 0
                // takes the count from the first entry's `free` field.
                let entry_at = |i: u32| mem_read(chip, None, a2.wrapping_add(16 * i), 16);
                let mut n = count;
                if n == 0 {
                    let Some(first) = entry_at(0) else {
                        return ScpReply::status(RC_ARG, seq);
                    };
                    n = u32::from(u16::from_le_bytes([first[2], first[3]]));
                }
                if n > RTR_ALLOC_LAST {
                    return ScpReply::status(RC_ARG, seq);
                }
                for i in 0..n {
                    let Some(e) = entry_at(i) else {
                        return ScpReply::status(RC_ARG, seq);
                    };
                    let next = u32::from(u16::from_le_bytes([e[0], e[1]]));
                    let index = u64::from(next) + u64::from(a3);
                    if index >= u64::from(RTR_ALLOC_LAST) {
                        return ScpReply::status(RC_ARG, seq);
                    }
                    let route = word_at(&e, 1) & 0x00FF_FFFF;
                    set_entry(
                        chip,
                        index as u32,
                        word_at(&e, 2),
                        word_at(&e, 3),
                        route,
                        app_id,
                    );
                }
                ok
            }
            RTR_FR => {
                // rtr_fr_get/rtr_fr_set: the host speaks in virtual cores, kept in sv->fr_copy;
                // the register holds physical ones.
                if a2 & (1 << 31) != 0 {
                    return ScpReply::ok(seq, &[chip.sv_word(sark::sv::FR_COPY)], &[]);
                }
                chip.set_sv_word(sark::sv::FR_COPY, a2);
                chip.set_fixed_route(chip.route_to_physical(a2));
                ok
            }
            _ => ScpReply::status(RC_ARG, seq),
        }
    }

    fn app_copy_run(&mut self, machine: &mut Machine, xy: (u8, u8), req: &ScpRequest) -> ScpReply {
        let [a1, a2, a3] = req.args;
        let seq = req.seq;
        let link = a1 & 7;
        let checksum = a1 >> 3;
        if a3 & 1 != 0 || link > 5 || a2 % 4 != 0 {
            return ScpReply::status(RC_ARG, seq);
        }
        let Some(chip) = machine.chip(xy.0, xy.1) else {
            return ScpReply::status(RC_ROUTE, seq);
        };
        let Some(nbr) = machine
            .desc()
            .neighbour(xy.0, xy.1, link as u8)
            .filter(|_| chip.live_links() & (1 << link) != 0)
        else {
            return ScpReply::status(RC_TIMEOUT, seq);
        };
        let Some(other) = machine.chip(nbr.0, nbr.1) else {
            return ScpReply::status(RC_TIMEOUT, seq);
        };
        let Some(bytes) = mem_read(other, None, SDRAM_SYS, a2) else {
            return ScpReply::status(RC_ARG, seq);
        };
        if !mem_write(chip, None, SDRAM_SYS, &bytes) {
            return ScpReply::status(RC_ARG, seq);
        }
        let sum = bytes.chunks_exact(4).fold(0u32, |s, w| {
            s.wrapping_add(u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
        });
        if checksum != 0 && sum & 0x1FFF_FFFF != checksum {
            return ScpReply {
                rc: RC_SUM,
                seq,
                body: sum.to_le_bytes().to_vec(),
            };
        }
        self.start_app(machine, xy, SDRAM_SYS, a3);
        ScpReply::ok(seq, &[], &[])
    }

    /// `proc_start_app`: starts the APLX at `aplx` on the virtual cores of `id_op_mask`
    /// (bits 17:0), with its app ID (31:24) and flags (23:18; bit 18 = WAIT).
    pub fn start_app(&mut self, machine: &mut Machine, xy: (u8, u8), aplx: u32, id_op_mask: u32) {
        let mask = id_op_mask & 0x3_FFFF;
        if mask == 0 {
            return;
        }
        let app_id = (id_op_mask >> 24) as u8;
        let flags = ((id_op_mask >> 18) & 63) as u8;
        let now = machine.now();
        let Some(chip) = machine.chip_mut(xy.0, xy.1) else {
            return;
        };
        let Some(m) = self.monitors.get_mut(&xy) else {
            return;
        };
        chip.advance_to(now);
        let program = read_aplx(chip, aplx);
        // SC&MP raises the cores' SC flags for the SYNC barriers.
        chip.set_sc_flags(mask);
        let live = (1u32 << chip.num_cores()) - 1;
        chip.with_sys_mem(|mem| app_started(mem, app_id, mask & live & !1));
        let time = unix_time();
        for v in 1..chip.num_cores() as u8 {
            if mask & (1 << v) == 0 {
                continue;
            }
            m.held.remove(&v);
            let set = |chip: &Chip, state: CpuState| {
                chip.set_cpu_state(v, state);
                chip.set_vcpu_byte(v, vcpu::APP_ID, app_id);
                chip.set_vcpu_word(v, vcpu::TIME, time);
            };
            let program = match &program {
                Ok(p) => p,
                Err(_) => {
                    chip.unload(v);
                    set(chip, CpuState::RunTimeException);
                    chip.set_vcpu_byte(v, vcpu::RT_CODE, RTE_ABORT);
                    continue;
                }
            };
            if flags & 1 != 0 {
                chip.unload(v);
                set(chip, CpuState::Wait);
                m.held.insert(
                    v,
                    Held {
                        program: program.clone(),
                        app_id,
                        flags,
                    },
                );
                continue;
            }
            if chip.load(u32::from(v), program, app_id, flags).is_err() {
                chip.unload(v);
                set(chip, CpuState::RunTimeException);
                chip.set_vcpu_byte(v, vcpu::RT_CODE, RTE_ABORT);
                continue;
            }
            chip.set_vcpu_word(v, vcpu::TIME, time);
        }
    }

    /// A signal (`(signal << 16) | (app_mask << 8) | app_id`) to every chip, as the MC and NN
    /// signal paths deliver it.
    fn signal_all(&mut self, machine: &mut Machine, data: u32) {
        let coords: Vec<(u8, u8)> = self.monitors.keys().copied().collect();
        for xy in coords {
            self.signal_app(machine, xy, data);
        }
    }

    /// `signal_app` on one chip.
    fn signal_app(&mut self, machine: &mut Machine, xy: (u8, u8), data: u32) {
        let sig = (data >> 16) & 15;
        let app_mask = ((data >> 8) & 255) as u8;
        let app_id = (data & 255) as u8;
        let now = machine.now();
        let Some(chip) = machine.chip_mut(xy.0, xy.1) else {
            return;
        };
        let Some(m) = self.monitors.get_mut(&xy) else {
            return;
        };
        chip.advance_to(now);
        let mut virt_mask = 0u32;
        let mut phys_mask = 0u32;
        for v in 1..chip.num_cores() as u8 {
            let app = chip.vcpu_byte(v, vcpu::APP_ID);
            if app & app_mask == app_id {
                virt_mask |= 1 << v;
                phys_mask |= 1 << chip.phys_of(v);
            }
        }
        let cores = |mask: u32| (1..18u8).filter(move |v| mask & (1 << v) != 0);
        let idle = |chip: &mut Chip, m: &mut Monitor, state: CpuState| {
            for v in cores(virt_mask) {
                chip.unload(v);
                m.held.remove(&v);
                chip.set_cpu_state(v, state);
                chip.set_vcpu_byte(v, vcpu::APP_ID, 0);
            }
        };
        match sig {
            SIG_INIT => idle(chip, m, CpuState::Idle),
            SIG_PWRDN => idle(chip, m, CpuState::PowerDown),
            SIG_STOP => {
                idle(chip, m, CpuState::Idle);
                // Free what the stopped applications held (clean_app_id for each matching ID).
                for candidate in u32::from(app_id)..256 {
                    if (candidate as u8) & app_mask != app_id {
                        break;
                    }
                    clean_app_id(chip, candidate as u8);
                }
            }
            SIG_SYNC0 | SIG_SYNC1 => {
                if sig == SIG_SYNC0 {
                    chip.clear_sc_flags(virt_mask);
                } else {
                    chip.set_sc_flags(virt_mask);
                }
                chip.raise_cpu_ints(phys_mask);
            }
            SIG_START..=13 => {
                let mut irq = 0u32;
                for v in cores(virt_mask) {
                    if sig == SIG_START {
                        if let Some(h) = m.held.remove(&v) {
                            if chip
                                .load(u32::from(v), &h.program, h.app_id, h.flags & !1)
                                .is_err()
                            {
                                chip.set_cpu_state(v, CpuState::RunTimeException);
                                chip.set_vcpu_byte(v, vcpu::RT_CODE, RTE_ABORT);
                            }
                            continue;
                        }
                    }
                    chip.set_vcpu_byte(v, MBOX_AP_CMD, SHM_SIGNAL);
                    chip.set_vcpu_word(v, MBOX_AP_MSG, sig);
                    irq |= 1 << chip.phys_of(v);
                }
                chip.raise_cpu_ints(irq);
            }
            _ => {}
        }
        chip.host_touched();
    }

    /// CMD_NNP from the host: signals (SIG0 op 5) and the flood-fill start, core select and end.
    fn nnp(&mut self, machine: &mut Machine, key: u32, data: u32) {
        let op = (key >> 24) & 15;
        match op {
            0 if data >> 28 == 5 => self.signal_all(machine, data),
            NN_CMD_FFS => {
                for (&(x, y), m) in self.monitors.iter_mut() {
                    m.ff = FloodFill {
                        state: FfState::BetweenBlocks,
                        id: (key >> 17) & 127,
                        block_len: (key >> 8) & 255,
                        // INFERRED: SC&MP 4 selects chips only with FFCS; SpiNNMan's FFS region
                        // word (0xFFFF: all chips) selects them here too.
                        load: region_selects(data, x, y),
                        ..FloodFill::default()
                    };
                }
            }
            7 => {
                // FFCS: cores in key bits 17:0, region in the data.
                for (&(x, y), m) in self.monitors.iter_mut() {
                    if m.ff.state != FfState::Idle && region_selects(data, x, y) {
                        m.ff.load = true;
                        m.ff.cores |= key & 0x3_FFFF;
                    }
                }
            }
            NN_CMD_FFE => {
                let id = (key >> 1) & 127;
                let mut starts = Vec::new();
                for (&xy, m) in self.monitors.iter_mut() {
                    let ff = &mut m.ff;
                    if ff.id != id || ff.state != FfState::BetweenBlocks {
                        continue;
                    }
                    ff.state = FfState::Idle;
                    if !ff.error && ff.block_count == ff.block_len && ff.load {
                        starts.push((xy, data | ff.cores));
                    }
                }
                for (xy, mask) in starts {
                    self.start_app(machine, xy, SDRAM_SYS, mask);
                }
            }
            _ => {}
        }
    }

    /// CMD_FFD: one block of flood-fill data, as every chip receives it (FBS, FBD per word, FBE).
    fn ffd(&mut self, machine: &Machine, req: &ScpRequest) {
        let [a1, a2, a3] = req.args;
        let id = (a1 & 0xFE) >> 1;
        let block = (a2 >> 16) & 255;
        let words = ((a2 >> 8) & 255) + 1;
        let data: Vec<u32> = (0..words as usize).map(|i| word_at(&req.data, i)).collect();
        let sum = data.iter().fold(a3, |s, &w| s.wrapping_add(w));
        for (&(x, y), m) in self.monitors.iter_mut() {
            let ff = &mut m.ff;
            // FBS
            if ff.id != id || ff.state != FfState::BetweenBlocks || ff.fbs[block as usize] {
                continue;
            }
            ff.fbs[block as usize] = true;
            ff.load_addr = a3;
            ff.sum = a3;
            ff.word_len = words;
            ff.block_num = block;
            ff.word_count = 0;
            ff.fbd = [false; 256];
            ff.state = FfState::InBlock;
            // FBD
            for (w, &d) in data.iter().enumerate() {
                if !ff.fbd[w] {
                    ff.fbd[w] = true;
                    ff.word_count += 1;
                    ff.buf[w] = d;
                    ff.sum = ff.sum.wrapping_add(d);
                }
            }
            // FBE
            if !ff.fbe[block as usize] {
                ff.fbe[block as usize] = true;
                ff.sum = ff.sum.wrapping_add(sum.wrapping_neg());
                if ff.sum == 0 && ff.word_count == ff.word_len {
                    let bytes: Vec<u8> = ff.buf[..words as usize]
                        .iter()
                        .flat_map(|w| w.to_le_bytes())
                        .collect();
                    let written = machine
                        .chip(x, y)
                        .is_some_and(|c| mem_write(c, None, ff.load_addr, &bytes));
                    if written {
                        ff.block_count += 1;
                    } else {
                        // Where SC&MP would fault writing, the model marks the fill failed.
                        ff.error = true;
                    }
                } else {
                    ff.error = true;
                }
            }
            ff.state = FfState::BetweenBlocks;
        }
    }
}

/// The SCP sequence number of an SDP message's data (0 when it is too short to have one).
fn seq_of(data: &[u8]) -> u16 {
    data.get(2..4)
        .map_or(0, |s| u16::from_le_bytes([s[0], s[1]]))
}

/// SC&MP's `return_msg_err`: the reply to a message (`header`, `data`) carrying only `rc`, or
/// None when the sender asked for no reply.
fn error_reply(header: &SdpHeader, data: &[u8], rc: u16) -> Option<SdpMessage> {
    header.reply_expected().then(|| SdpMessage {
        header: header.reply(),
        data: ScpReply::status(rc, seq_of(data)).to_sdp_data(),
    })
}

/// Resets router entries `first..first+count` as `rtr_mc_clear` does (never matching), in the
/// router and in its copy.
fn clear_entries(chip: &Chip, first: u32, count: u32) {
    chip.with_sys_mem(|mem| {
        let copy = RouterCopy::of(mem);
        for i in first..first.saturating_add(count).min(RTR_ALLOC_LAST) {
            chip.clear_mc_entry(i as usize);
            if let Some(copy) = copy {
                copy.set_entry(i, 0xFFFF_FFFF, 0, RTR_UNUSED_ROUTE);
            }
        }
    });
}

/// `rtr_mc_set` from the monitor: entry `i` with a virtual-core route, in the router (physical
/// cores) and in its copy, marked as set by the monitor for `app_id`.
fn set_entry(chip: &Chip, i: u32, key: u32, mask: u32, route: u32, app_id: u8) {
    chip.set_mc_entry_virtual(i as usize, key, mask, route);
    chip.with_sys_mem(|mem| {
        if let Some(copy) = RouterCopy::of(mem) {
            copy.set_entry(i, key, mask, route);
            copy.mark_set(i, 0, app_id);
        }
    });
}

/// An allocation for `app_id` (CMD_ALLOC ops 0 and 3): its resources need cleaning again.
fn app_in_use(mem: SysMem<'_>, app_id: u8) {
    if let Some(mut d) = sark::app_data(mem, app_id) {
        d.clean = 0;
        sark::set_app_data(mem, app_id, d);
    }
}

/// `proc_start_app`'s bookkeeping: `virt_mask` joins `app_id` in the `app_data` table.
fn app_started(mem: SysMem<'_>, app_id: u8, virt_mask: u32) {
    let mut d = sark::app_data(mem, app_id).unwrap_or_default();
    if d.cores == 0 {
        d.clean = 0;
        d.sema = 0;
        d.mask = 0;
        d.lead = virt_mask.trailing_zeros() as u8;
    }
    d.cores = d.cores.wrapping_add(virt_mask.count_ones() as u8);
    d.mask |= virt_mask;
    sark::set_app_data(mem, app_id, d);
}

/// `clean_app_id`: frees what `app_id` holds on `chip` (SDRAM, SysRAM and system heaps, router
/// entries, cleared) and marks its `app_data` clean; skipped when already clean.
fn clean_app_id(chip: &Chip, app_id: u8) {
    if app_id == 0 {
        // INFERRED: app 0 owns SC&MP's own blocks; freeing them would wreck the monitor.
        return;
    }
    // The router entries it held, None when it was already clean.
    let freed = chip.with_sys_mem(|mem| {
        let mut d = sark::app_data(mem, app_id).unwrap_or_default();
        if d.clean != 0 {
            return None;
        }
        for field in [
            sark::sv::SDRAM_HEAP,
            sark::sv::SYSRAM_HEAP,
            sark::sv::SYS_HEAP,
        ] {
            if let Some(h) = Heap::from_sv(mem, field) {
                h.free_app(u32::from(app_id));
            }
        }
        let freed =
            RouterCopy::of(mem).map_or_else(Vec::new, |copy| copy.free_app(u32::from(app_id)));
        d.cores = 0;
        d.clean = 1;
        sark::set_app_data(mem, app_id, d);
        Some(freed)
    });
    let Some(freed) = freed else {
        return;
    };
    for (first, count) in freed {
        clear_entries(chip, first, count);
    }
}

fn reply_buffer(req: &ScpRequest, len: u32) -> Vec<u8> {
    // SC&MP builds a read's reply in the request's own buffer: bytes it does not overwrite
    // (a length that is not a whole number of half-words or words) keep what was there.
    let mut body = req.to_sdp_data().get(4..).unwrap_or_default().to_vec();
    body.resize(len as usize, 0);
    body
}

/// A read's or write's address, length and bytes moved (whole units of its access type), or
/// RC_ARG for a length over the buffer, an unknown type or a misaligned address.
fn access(req: &ScpRequest) -> Result<(u32, u32, u32), ScpReply> {
    let [addr, len, kind] = req.args;
    if len > MAX_DATA as u32 || kind > TYPE_WORD {
        return Err(ScpReply::status(RC_ARG, req.seq));
    }
    let unit = 1u32 << kind;
    if addr % unit != 0 {
        return Err(ScpReply::status(RC_ARG, req.seq));
    }
    Ok((addr, len, len / unit * unit))
}

fn cmd_read(chip: &Chip, cpu: Option<u8>, req: &ScpRequest) -> ScpReply {
    let (addr, len, n) = match access(req) {
        Ok(a) => a,
        Err(reply) => return reply,
    };
    let mut body = reply_buffer(req, len);
    match mem_read(chip, cpu, addr, n) {
        Some(bytes) => body[..n as usize].copy_from_slice(&bytes),
        None => return ScpReply::status(RC_ARG, req.seq),
    }
    ScpReply::ok(req.seq, &[], &body)
}

fn cmd_write(chip: &Chip, cpu: Option<u8>, req: &ScpRequest) -> ScpReply {
    let (addr, n) = match access(req) {
        Ok((addr, _, n)) => (addr, n as usize),
        Err(reply) => return reply,
    };
    // Bytes the request did not carry are written as zeros (SC&MP would write stale buffer).
    let mut data = req.data.clone();
    data.resize(n, 0);
    if !mem_write(chip, cpu, addr, &data[..n]) {
        return ScpReply::status(RC_ARG, req.seq);
    }
    ScpReply::ok(req.seq, &[], &[])
}

fn cmd_fill(chip: &Chip, cpu: Option<u8>, req: &ScpRequest) -> ScpReply {
    let [addr, word, len] = req.args;
    if addr % 4 != 0 || !mem_fill(chip, cpu, addr, word, len) {
        return ScpReply::status(RC_ARG, req.seq);
    }
    ScpReply::ok(req.seq, &[], &[])
}
