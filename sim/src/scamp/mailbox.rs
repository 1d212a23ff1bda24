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

use super::{mem_read, sysram_off, Outgoing, Scamp, SC_CODE};
use crate::chip::sysram::{self, SV_BASE};
use crate::chip::Chip;
use crate::machine::Machine;

use crate::sark::sv::{MBOX_FLAGS as SV_MBOX_FLAGS, SHM_ROOT as SV_SHM_ROOT};
use crate::sark::SDP_MSG_SIZE;

/// vcpu mailbox fields, application → monitor (§6.6).
const MBOX_MP_MSG: u32 = 52;
const MBOX_MP_CMD: u32 = 57;
/// Mailbox commands.
const SHM_IDLE: u8 = 0;
const SHM_MSG: u8 = 1;
/// SysRAM locks (§2.6).
const LOCK_MSG: u32 = 0;
const LOCK_MBOX: u32 = 1;
/// System controller SC_CLR_IRQ.
const SC_CLR_IRQ: u32 = 0x0C;
/// Offsets inside `sdp_msg_t`.
const MSG_LENGTH: u32 = 4;
const MSG_HEADER: u32 = 8;

fn sv_off(field: u32) -> usize {
    sysram_off(SV_BASE + field)
}

/// Takes every message waiting in `chip`'s application → monitor mailboxes, as SC&MP's
/// `ap_int` does: clears the flags (and the monitor's CPU interrupt), returns the buffers to the
/// pool, sets the mailboxes idle. Returns the messages with their sending core; nothing when no
/// flag is set or a core holds LOCK_MBOX or LOCK_MSG.
fn take_messages(chip: &mut Chip) -> Vec<(u8, Option<SdpMessage>)> {
    let flags = {
        let sh = chip.shared();
        let flags = sh.sysram.read_u32(sv_off(SV_MBOX_FLAGS));
        if flags == 0 || sh.sysctl.lock_held(LOCK_MBOX) || sh.sysctl.lock_held(LOCK_MSG) {
            return Vec::new();
        }
        flags
    };
    let mut taken = Vec::new();
    for v in 0..chip.num_cores().min(32) as u8 {
        if flags & (1 << v) == 0 {
            continue;
        }
        let (cmd, ptr) = {
            let sh = chip.shared();
            (
                sh.sysram.read_u8(sysram::vcpu_field(v, MBOX_MP_CMD)),
                sh.sysram.read_u32(sysram::vcpu_field(v, MBOX_MP_MSG)),
            )
        };
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
        let sh = chip.shared();
        if msg.is_some() {
            // sark_shmsg_free: back on the pool's free list.
            let root = sv_off(SV_SHM_ROOT);
            let free = sh.sysram.read_u32(root);
            let count = sh.sysram.read_u32(root + 4);
            let _ = crate::scamp::mem_write(chip, None, ptr, &free.to_le_bytes());
            sh.sysram.write_u32(root, ptr);
            let count = (count & 0xFFFF_0000) | (count as u16).wrapping_sub(1) as u32;
            sh.sysram.write_u32(root + 4, count);
        }
        sh.sysram
            .write_u8(sysram::vcpu_field(v, MBOX_MP_CMD), SHM_IDLE);
        taken.push((v, msg.flatten()));
    }
    let left = flags & !taken.iter().fold(0u32, |m, &(v, _)| m | 1 << v);
    let monitor = chip.phys_of(0);
    {
        let mut sh = chip.shared_mut();
        sh.sysram.write_u32(sv_off(SV_MBOX_FLAGS), left);
        if left == 0 {
            sh.sysctl.write(SC_CLR_IRQ, SC_CODE | 1 << monitor, monitor);
        }
    }
    chip.host_touched();
    taken
}

impl Scamp {
    /// Takes the messages application cores have posted to their monitors since the last look
    /// and routes them; returns the datagrams that leave the board through IP tags (to send from
    /// the board's socket).
    pub fn service_mailboxes(&mut self, machine: &mut Machine) -> Outgoing {
        let mut out = Vec::new();
        let coords: Vec<(u8, u8)> = self.monitors.keys().copied().collect();
        for (x, y) in coords {
            let Some(chip) = machine.chip_mut(x, y) else {
                continue;
            };
            for (_, msg) in take_messages(chip) {
                if let Some(d) = msg.and_then(|m| self.route_from_core(m)) {
                    out.push(d);
                }
            }
        }
        out
    }

    /// Routes one message taken from a core: out of the root chip's Ethernet through its tag, or
    /// nowhere (see the module notes).
    fn route_from_core(&mut self, mut m: SdpMessage) -> Option<(std::net::SocketAddr, Vec<u8>)> {
        if m.header.dest_port_cpu != PORT_ETH {
            return None;
        }
        let h = &mut m.header;
        if (h.dest_x, h.dest_y) == (255, 255) {
            (h.dest_x, h.dest_y) = self.root;
        }
        if (h.dest_x, h.dest_y) != self.root {
            return None;
        }
        self.eth_send(&m)
    }
}
