// SPDX-License-Identifier: GPL-2.0-or-later
//! SDP from application cores to their monitor (hardware notes §6.4, last paragraph; SARK's
//! `sark_msg_send` and SC&MP's `ap_int` and `eth_send_msg` read for the behaviour): a core
//! copies its message into a buffer of the shared SHM pool in System RAM, posts the buffer in its
//! vcpu mailbox (`mbox_mp_msg`, `mbox_mp_cmd` = SHM_MSG), sets its bit in `sv->mbox_flags`
//! under LOCK_MBOX and raises the monitor's CPU interrupt; the monitor takes the message, clears
//! the flag (and its interrupt when no flag is left), returns the buffer to the pool and sets
//! the mailbox back to SHM_IDLE, then routes the message.
//!
//! The pool is where SC&MP puts it ([`crate::sark::boot_system_area`]): the first block of the
//! SysRAM heap (`sv->sysram_heap`), `sv->num_buf` (7) `sdp_msg_t` of 292 bytes linked through
//! their first word, with `sv->shm_root` (free pointer, u16 count, u16 max) pointing at the
//! first and `sv->shm_buf` at the buffers.
//!
//! Choices (the monitor cores are not simulated):
//! - the mailboxes are looked at after every slice of simulated time ([`Scamp::service_mailboxes`],
//!   called by the board), not at the CPU interrupt; the interrupt the core raised is cleared
//!   there. A chip whose LOCK_MBOX or LOCK_MSG is held at that moment (a core in the middle of
//!   posting or of taking a buffer) is looked at after the next slice;
//! - messages with `dest_port` 0xFF addressed to the root chip (or to (255, 255)) leave through
//!   the IP tag in their `tag` byte, as SC&MP's `eth_send_msg` sends them (2 pad bytes and the
//!   SDP header, or from `cmd_rc` on with STRIP; transient tags are cleared after one use); a
//!   message through an invalid tag is dropped;
//! - messages for another chip's Ethernet, for other cores or for a monitor's SCP port are taken
//!   and dropped (SDP between cores is not modelled), as are messages whose `length` is outside
//!   8..=280.

use spinn_proto::sdp::{SdpHeader, SdpMessage, HEADER_LEN, MAX_DATA_LEN, PORT_ETH};

use std::collections::BTreeMap;

use spinn_proto::scp::{ScpReply, ScpRequest};

use super::{error_reply, mem_read, seq_of, Outgoing, Scamp};
use crate::chip::Chip;
use crate::machine::Machine;
use crate::Cycle;

use crate::sark::sv::{MBOX_FLAGS as SV_MBOX_FLAGS, SHM_ROOT as SV_SHM_ROOT};
use crate::sark::SDP_MSG_SIZE;

/// `sv->shm_root`'s second word: buffers in use (low half) and the most ever (high half).
const SV_SHM_COUNTS: u32 = SV_SHM_ROOT + 4;

/// vcpu mailbox fields, application → monitor (§6.6).
const MBOX_MP_MSG: u32 = 52;
const MBOX_MP_CMD: u32 = 57;
/// Mailbox commands.
const SHM_IDLE: u8 = 0;
const SHM_MSG: u8 = 1;
/// SysRAM locks (§2.6).
const LOCK_MSG: u32 = 0;
const LOCK_MBOX: u32 = 1;
/// Offsets inside `sdp_msg_t`.
const MSG_LENGTH: u32 = 4;
const MSG_HEADER: u32 = 8;

/// Takes every message waiting in `chip`'s application → monitor mailboxes, as SC&MP's
/// `ap_int` does: clears the flags (and the monitor's CPU interrupt), returns the buffers to the
/// pool, sets the mailboxes idle. Returns the messages with their sending core; nothing when no
/// flag is set or a core holds LOCK_MBOX or LOCK_MSG.
fn take_messages(chip: &mut Chip) -> Vec<(u8, Option<SdpMessage>)> {
    let flags = chip.sv_word(SV_MBOX_FLAGS);
    if flags == 0 || chip.lock_held(LOCK_MBOX) || chip.lock_held(LOCK_MSG) {
        return Vec::new();
    }
    let mut taken = Vec::new();
    for v in 0..chip.num_cores().min(32) as u8 {
        if flags & (1 << v) == 0 {
            continue;
        }
        let cmd = chip.vcpu_byte(v, MBOX_MP_CMD);
        let ptr = chip.vcpu_word(v, MBOX_MP_MSG);
        if cmd != SHM_MSG {
            taken.push((v, None));
            continue;
        }
        let msg = mem_read(chip, None, ptr, SDP_MSG_SIZE).map(|raw| {
            let length =
                u16::from_le_bytes([raw[MSG_LENGTH as usize], raw[MSG_LENGTH as usize + 1]])
                    as usize;
            let h = MSG_HEADER as usize;
            (HEADER_LEN..=HEADER_LEN + MAX_DATA_LEN)
                .contains(&length)
                .then(|| {
                    let header: [u8; HEADER_LEN] =
                        raw[h..h + HEADER_LEN].try_into().expect("8 bytes");
                    SdpMessage {
                        header: SdpHeader::from_bytes(&header),
                        data: raw[h + HEADER_LEN..h + length].to_vec(),
                    }
                })
        });
        if msg.is_some() {
            // sark_shmsg_free: back on the pool's free list.
            let free = chip.sv_word(SV_SHM_ROOT);
            let count = chip.sv_word(SV_SHM_COUNTS);
            let _ = crate::scamp::mem_write(chip, None, ptr, &free.to_le_bytes());
            chip.set_sv_word(SV_SHM_ROOT, ptr);
            let count = (count & 0xFFFF_0000) | (count as u16).wrapping_sub(1) as u32;
            chip.set_sv_word(SV_SHM_COUNTS, count);
        }
        chip.set_vcpu_byte(v, MBOX_MP_CMD, SHM_IDLE);
        taken.push((v, msg.flatten()));
    }
    let left = flags & !taken.iter().fold(0u32, |m, &(v, _)| m | 1 << v);
    chip.set_sv_word(SV_MBOX_FLAGS, left);
    if left == 0 {
        chip.clear_cpu_ints(1 << chip.phys_of(0));
    }
    chip.host_touched();
    taken
}

/// A message on its way to an application core's mailbox (SC&MP's `shm_send_msg` at the end of
/// its P2P journey).
#[derive(Clone, Debug)]
pub(crate) struct Delivery {
    /// The chip it goes to (its virtual core is in the header).
    xy: (u8, u8),
    msg: SdpMessage,
    /// When the monitor there has it (P2P transfer time after it was sent).
    arrival: Cycle,
    /// Order of sending, for messages arriving at the same cycle.
    seq: u64,
    /// When the monitor next tries to post it (its arrival, then retries at a busy mailbox).
    due: Cycle,
    /// When the monitor stops waiting for a busy mailbox (1000 µs after it first found it busy).
    give_up: Option<Cycle>,
}

/// SDP buffers a monitor holds messages in (SC&MP runs with 32 in DTCM, §11.2): a message
/// arriving while all hold one is freed silently, as SC&MP's full queue does.
const MONITOR_BUFFERS: usize = 32;

/// How long SC&MP waits for a busy application mailbox before RC_TIMEOUT (1000 µs, §11.5).
const MBOX_WAIT: Cycle = 1000 * crate::CPU_CLK_MHZ;
/// How often the model looks at a busy mailbox again while it waits (10 µs).
const MBOX_RETRY: Cycle = 10 * crate::CPU_CLK_MHZ;
/// Mailbox fields, monitor → application (§6.6).
const MBOX_AP_MSG: u32 = 48;
const MBOX_AP_CMD: u32 = 56;

/// What putting a message into a mailbox came to.
enum Posted {
    /// In the mailbox, the core interrupted.
    Done,
    /// The mailbox (or the SHM pool's lock) is busy: try again later.
    Busy,
    /// Refused with this SCP return code.
    Failed(u16),
}

/// `shm_send_msg`: copies `msg` into a buffer of `chip`'s SHM pool, posts it in the mailbox of
/// its destination core (`mbox_ap_msg`, `mbox_ap_cmd` = SHM_MSG) and raises the core's CPU
/// interrupt. SC&MP never looks at the core's state: a core that does not take it loses it.
fn post(chip: &mut Chip, msg: &SdpMessage) -> Posted {
    let v = msg.header.dest_cpu();
    let phys = chip.phys_of(v);
    if chip.lock_held(LOCK_MSG) || chip.vcpu_byte(v, MBOX_AP_CMD) != SHM_IDLE {
        return Posted::Busy;
    }
    let buf = chip.sv_word(SV_SHM_ROOT);
    if buf == 0 {
        return Posted::Failed(spinn_proto::scp::RC_BUF);
    }
    let next =
        mem_read(chip, None, buf, 4).map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    chip.set_sv_word(SV_SHM_ROOT, next);
    let counts = chip.sv_word(SV_SHM_COUNTS);
    let count = (counts as u16).wrapping_add(1);
    let max = ((counts >> 16) as u16).max(count);
    chip.set_sv_word(SV_SHM_COUNTS, u32::from(count) | u32::from(max) << 16);
    let length = (HEADER_LEN + msg.data.len()) as u16;
    let mut body = Vec::with_capacity(usize::from(length) + 4);
    body.extend_from_slice(&length.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&msg.header.to_bytes());
    body.extend_from_slice(&msg.data);
    let _ = crate::scamp::mem_write(chip, None, buf + MSG_LENGTH, &body);
    chip.set_vcpu_word(v, MBOX_AP_MSG, buf);
    chip.set_vcpu_byte(v, MBOX_AP_CMD, SHM_MSG);
    chip.raise_cpu_ints(1 << phys);
    chip.host_touched();
    Posted::Done
}

impl Scamp {
    /// Sends `msg` from chip `from` toward the application core its header names: it reaches
    /// that chip's monitor after the P2P transfer time ([`crate::timing::p2p_message_cycles`])
    /// and is posted in the core's mailbox there.
    pub(crate) fn send_to_core(&mut self, machine: &Machine, from: (u8, u8), msg: SdpMessage) {
        let to = (msg.header.dest_x, msg.header.dest_y);
        let hops = machine.desc().hops(from, to).unwrap_or(0);
        let arrival =
            machine.now() + crate::timing::p2p_message_cycles(hops, HEADER_LEN + msg.data.len());
        if self.pending.iter().filter(|d| d.xy == to).count() >= MONITOR_BUFFERS {
            return;
        }
        self.sent_to_cores += 1;
        self.pending.push(Delivery {
            xy: to,
            msg,
            arrival,
            seq: self.sent_to_cores,
            due: arrival,
            give_up: None,
        });
    }

    /// The earliest time a monitor will next try to post a message: each monitor handles its
    /// messages one at a time in order of arrival, so only the first at each chip counts.
    pub fn next_delivery(&self) -> Option<Cycle> {
        let mut heads: BTreeMap<(u8, u8), &Delivery> = BTreeMap::new();
        for d in &self.pending {
            let head = heads.entry(d.xy).or_insert(d);
            if (d.arrival, d.seq) < (head.arrival, head.seq) {
                *head = d;
            }
        }
        let answers = self.later.iter().map(|&(t, _)| t);
        heads.values().map(|d| d.due).chain(answers).min()
    }

    /// True while messages are on their way to cores, or answers wait to leave.
    pub fn deliveries_pending(&self) -> bool {
        !self.pending.is_empty() || !self.later.is_empty()
    }

    /// Posts the messages due by now in their cores' mailboxes; a mailbox still busy after
    /// SC&MP's wait, or an empty SHM pool, gives the sender an error reply when it asked for
    /// one. Returns what leaves through Ethernet.
    fn deliver_due(&mut self, machine: &mut Machine) -> Outgoing {
        let now = machine.now();
        let mut keep = Vec::new();
        let mut failed = Vec::new();
        let mut pending = std::mem::take(&mut self.pending);
        pending.sort_by_key(|d| (d.xy, d.arrival, d.seq));
        // The chip whose monitor is still waiting on a message: what follows it there waits too.
        let mut blocked = None;
        for mut d in pending {
            if d.due > now || blocked == Some(d.xy) {
                blocked = Some(d.xy);
                keep.push(d);
                continue;
            }
            let Some(chip) = machine.chip_mut(d.xy.0, d.xy.1) else {
                continue;
            };
            chip.advance_to(d.due);
            let t = now.max(d.due);
            match post(chip, &d.msg) {
                Posted::Done => {}
                Posted::Failed(rc) => failed.push((d, rc)),
                Posted::Busy => {
                    let give_up = *d.give_up.get_or_insert(t + MBOX_WAIT);
                    if t >= give_up {
                        failed.push((d, spinn_proto::scp::RC_TIMEOUT));
                    } else {
                        d.due = t + MBOX_RETRY;
                        blocked = Some(d.xy);
                        keep.push(d);
                    }
                }
            }
        }
        self.pending = keep;
        let mut out = Vec::new();
        // Answers whose wait is over leave through Ethernet.
        let (ready, waiting) = std::mem::take(&mut self.later)
            .into_iter()
            .partition(|&(t, _)| t <= now);
        self.later = waiting;
        for (_, m) in ready.into_iter() {
            out.extend(self.eth_send(&m));
        }
        for (d, rc) in failed {
            let Some(reply) = error_reply(&d.msg.header, &d.msg.data, rc) else {
                continue;
            };
            out.extend(self.route_reply(machine, d.xy, reply));
        }
        out
    }

    /// With the machine idle (nothing would move time on), moves time on to the next message
    /// due at a monitor and posts what is due then. Returns what leaves through Ethernet.
    pub fn deliver_next(&mut self, machine: &mut Machine) -> Outgoing {
        if let Some(t) = self.next_delivery() {
            machine.advance_to(t);
        }
        self.deliver_due(machine)
    }

    /// Routes a reply made at chip `at`: out through its tag when it is for the host, else to
    /// the core it answers.
    fn route_reply(
        &mut self,
        machine: &Machine,
        at: (u8, u8),
        m: SdpMessage,
    ) -> Option<(std::net::SocketAddr, Vec<u8>)> {
        if m.header.dest_port_cpu == PORT_ETH {
            return self.eth_send(&m);
        }
        if m.header.dest_cpu() != 0 {
            self.send_to_core(machine, at, m);
        }
        None
    }

    /// Takes the messages application cores have posted to their monitors since the last look
    /// and routes them, then posts the messages due in cores' mailboxes; returns the datagrams
    /// that leave the board through IP tags (to send from the board's socket).
    pub fn service_mailboxes(&mut self, machine: &mut Machine) -> Outgoing {
        let mut out = Vec::new();
        let coords: Vec<(u8, u8)> = self.monitors.keys().copied().collect();
        for (x, y) in coords {
            let Some(chip) = machine.chip_mut(x, y) else {
                continue;
            };
            for (_, msg) in take_messages(chip) {
                if let Some(m) = msg {
                    out.extend(self.route_from_core(machine, (x, y), m));
                }
            }
        }
        out.extend(self.deliver_due(machine));
        out
    }

    /// Routes one message taken from a core of chip `from` (SC&MP's `proc_route_msg`): out of
    /// the root chip's Ethernet through its tag; to another application core's mailbox (any
    /// chip, after the P2P time); or to a monitor's SCP port, whose reply goes back to the
    /// sending core. Messages for another chip's Ethernet, for a chip or core that does not
    /// exist, or for a monitor port other than 0 are dropped (with an error reply when one is
    /// asked for and SC&MP would send it).
    fn route_from_core(
        &mut self,
        machine: &mut Machine,
        from: (u8, u8),
        mut m: SdpMessage,
    ) -> Option<(std::net::SocketAddr, Vec<u8>)> {
        let h = &mut m.header;
        if (h.dest_x, h.dest_y) == (255, 255) {
            (h.dest_x, h.dest_y) = self.root;
        }
        let dest = (h.dest_x, h.dest_y);
        if h.dest_port_cpu == PORT_ETH {
            return if dest == self.root {
                self.eth_send(&m)
            } else {
                None
            };
        }
        let fail = |this: &mut Scamp, machine: &Machine, m: &SdpMessage, rc: u16| {
            let reply = error_reply(&m.header, &m.data, rc)?;
            this.route_reply(machine, from, reply)
        };
        let Some(num_cpus) = machine.chip(dest.0, dest.1).map(|c| c.num_cores()) else {
            return fail(self, machine, &m, spinn_proto::scp::RC_ROUTE);
        };
        let cpu = m.header.dest_cpu();
        if usize::from(cpu) >= num_cpus {
            return fail(self, machine, &m, spinn_proto::scp::RC_CPU);
        }
        let loaded = machine
            .chip(dest.0, dest.1)
            .is_some_and(|c| c.core(cpu).is_some());
        if cpu != 0 && loaded {
            self.send_to_core(machine, from, m);
            return None;
        }
        if m.header.dest_port() != 0 {
            return if cpu == 0 {
                fail(self, machine, &m, spinn_proto::scp::RC_PORT)
            } else {
                None
            };
        }
        // SCP to a monitor, or to the idle stub of a core with nothing loaded.
        let reply = match ScpRequest::parse(&m.data) {
            Ok(req) => self.scp(
                machine,
                dest,
                cpu,
                &req,
                super::Requester {
                    ip: [0; 4],
                    port: 0,
                },
                m.header.tag,
            ),
            Err(_) => ScpReply::status(spinn_proto::scp::RC_LEN, seq_of(&m.data)),
        };
        // INFERRED: a core's CMD_COUNT is answered without SC&MP's 10 ms wait (no source says
        // how SC&MP times answers to cores).
        self.answer_at = None;
        if !m.header.reply_expected() {
            return None;
        }
        let reply = SdpMessage {
            header: m.header.reply(),
            data: reply.to_sdp_data(),
        };
        self.route_reply(machine, dest, reply)
    }
}
