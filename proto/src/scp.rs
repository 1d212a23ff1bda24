// SPDX-License-Identifier: GPL-2.0-or-later
//! SCP requests and replies carried in SDP data (hardware notes §5.3, §5.4), with the command,
//! return-code and argument constants named as SpiNNaker names them (`sark.h`, `scamp.h`).
//!
//! A request is cmd_rc (u16), seq (u16), arg1..arg3 (u32 each), then up to 256 bytes of data,
//! all little-endian. A reply is cmd_rc (the return code), seq, then a command-dependent body
//! (for most commands: some argument words, then data).

use crate::ProtoError;

/// Largest SCP payload (`SDP_BUF_SIZE`).
pub const MAX_DATA: usize = 256;
/// Size of an SCP request header: cmd_rc, seq and three arguments.
pub const REQUEST_HEADER_LEN: usize = 16;
/// Size of an SCP reply header: cmd_rc and seq.
pub const REPLY_HEADER_LEN: usize = 4;

/// Version of the running software (name, version, coordinates).
pub const CMD_VER: u16 = 0;
/// Deprecated run command.
pub const CMD_RUN: u16 = 1;
/// Read memory: arg1 address, arg2 length (≤ 256), arg3 access type ([`TYPE_BYTE`]…).
pub const CMD_READ: u16 = 2;
/// Write memory: arg1 address, arg2 length (≤ 256), arg3 access type; data follows.
pub const CMD_WRITE: u16 = 3;
/// Deprecated APLX command.
pub const CMD_APLX: u16 = 4;
/// Fill memory: arg1 address, arg2 word, arg3 byte count.
pub const CMD_FILL: u16 = 5;
/// Count the cores of an application in a state: arg1 app_id, arg2 state.
pub const CMD_COUNT: u16 = 15;
/// Remap a core: arg1 core, arg2 bit 0 = physical.
pub const CMD_REMAP: u16 = 16;
/// Read memory of a neighbouring chip over a link.
pub const CMD_LINK_READ: u16 = 17;
/// Write memory of a neighbouring chip over a link.
pub const CMD_LINK_WRITE: u16 = 18;
/// Start the APLX at `sv->sdram_sys` on the cores of arg1's id_op_mask.
pub const CMD_AR: u16 = 19;
/// Send a nearest-neighbour packet (flood-fill start/end among others).
pub const CMD_NNP: u16 = 20;
/// Copy the APLX from a neighbour's `sv->sdram_sys` and start it.
pub const CMD_APP_COPY_RUN: u16 = 21;
/// Send a signal: arg1 type, arg2 (signal<<16)|(app_mask<<8)|app_id.
pub const CMD_SIG: u16 = 22;
/// Flood-fill data block.
pub const CMD_FFD: u16 = 23;
/// Start an APLX: arg1 APLX address, arg2 id_op_mask.
pub const CMD_AS: u16 = 24;
/// Set the LEDs.
pub const CMD_LED: u16 = 25;
/// IP tag operations ([`IPTAG_NEW`]…).
pub const CMD_IPTAG: u16 = 26;
/// Serial ROM operations.
pub const CMD_SROM: u16 = 27;
/// Memory and router-entry allocation ([`ALLOC_SDRAM`]…).
pub const CMD_ALLOC: u16 = 28;
/// Router table operations ([`RTR_INIT`]…).
pub const CMD_RTR: u16 = 29;
/// Reserved (used by front-end extra monitors).
pub const CMD_RSVD: u16 = 30;
/// Chip information: working cores and links, largest free blocks, core states.
pub const CMD_INFO: u16 = 31;
/// Enable or disable periodic sync messages.
pub const CMD_SYNC: u16 = 32;
/// Text output from a core to the host (`io_printf(IO_STD, …)`).
pub const CMD_TUBE: u16 = 64;

/// Return code: success.
pub const RC_OK: u16 = 0x80;
/// Return code: bad packet length.
pub const RC_LEN: u16 = 0x81;
/// Return code: bad checksum.
pub const RC_SUM: u16 = 0x82;
/// Return code: unknown command.
pub const RC_CMD: u16 = 0x83;
/// Return code: bad argument.
pub const RC_ARG: u16 = 0x84;
/// Return code: bad port.
pub const RC_PORT: u16 = 0x85;
/// Return code: timeout.
pub const RC_TIMEOUT: u16 = 0x86;
/// Return code: no route to the chip.
pub const RC_ROUTE: u16 = 0x87;
/// Return code: bad core number.
pub const RC_CPU: u16 = 0x88;
/// Return code: dead destination.
pub const RC_DEAD: u16 = 0x89;
/// Return code: no free buffer.
pub const RC_BUF: u16 = 0x8A;
/// Return code: P2P: no reply to open.
pub const RC_P2P_NOREPLY: u16 = 0x8B;
/// Return code: P2P: open rejected.
pub const RC_P2P_REJECT: u16 = 0x8C;
/// Return code: P2P: destination busy.
pub const RC_P2P_BUSY: u16 = 0x8D;
/// Return code: P2P: destination did not respond.
pub const RC_P2P_TIMEOUT: u16 = 0x8E;
/// Return code: packet transmission failed.
pub const RC_PKT_TX: u16 = 0x8F;

/// CMD_READ/CMD_WRITE access type: bytes.
pub const TYPE_BYTE: u32 = 0;
/// CMD_READ/CMD_WRITE access type: half-words.
pub const TYPE_HALF: u32 = 1;
/// CMD_READ/CMD_WRITE access type: words.
pub const TYPE_WORD: u32 = 2;

/// CMD_ALLOC op: allocate SDRAM (arg2 size, arg3 tag).
pub const ALLOC_SDRAM: u32 = 0;
/// CMD_ALLOC op: free SDRAM (arg2 pointer).
pub const FREE_SDRAM: u32 = 1;
/// CMD_ALLOC op: free all SDRAM of an application.
pub const FREE_SDRAM_ID: u32 = 2;
/// CMD_ALLOC op: allocate router entries (arg2 count).
pub const ALLOC_RTR: u32 = 3;
/// CMD_ALLOC op: free router entries (arg2 entry, arg3 clear).
pub const FREE_RTR: u32 = 4;
/// CMD_ALLOC op: free all router entries of an application.
pub const FREE_RTR_ID: u32 = 5;
/// CMD_ALLOC op: total free and largest free SDRAM block.
pub const SDRAM_SPACE: u32 = 6;
/// CMD_ALLOC op: pointer of the block with (tag, app_id).
pub const HEAP_TAG_PTR: u32 = 7;

/// CMD_RTR op: initialise the router.
pub const RTR_INIT: u32 = 0;
/// CMD_RTR op: clear entries (arg2 start).
pub const RTR_CLEAR: u32 = 1;
/// CMD_RTR op: load entries from memory (arg2 table address, arg3 base entry).
pub const RTR_LOAD: u32 = 2;
/// CMD_RTR op: get or set the fixed route (arg2 bit 31 = get).
pub const RTR_FR: u32 = 3;

/// CMD_IPTAG op: allocate a new tag.
pub const IPTAG_NEW: u32 = 0;
/// CMD_IPTAG op: set a tag.
pub const IPTAG_SET: u32 = 1;
/// CMD_IPTAG op: read tags (arg2 count).
pub const IPTAG_GET: u32 = 2;
/// CMD_IPTAG op: clear a tag.
pub const IPTAG_CLR: u32 = 3;
/// CMD_IPTAG op: read table sizes and set the transient-tag timeout.
pub const IPTAG_TTO: u32 = 4;

/// CMD_SIG type: by multicast (to every chip; only valid at the root chip).
pub const SIG_TYPE_MC: u32 = 0;
/// CMD_SIG type: point to point (unsupported by SC&MP).
pub const SIG_TYPE_P2P: u32 = 1;
/// CMD_SIG type: by nearest-neighbour flood.
pub const SIG_TYPE_NN: u32 = 2;

/// Signal: reload the idle stub.
pub const SIG_INIT: u32 = 0;
/// Signal: power down.
pub const SIG_PWRDN: u32 = 1;
/// Signal: stop the application and free its resources.
pub const SIG_STOP: u32 = 2;
/// Signal: let cores waiting in WAIT start.
pub const SIG_START: u32 = 3;
/// Signal: barrier release 0 (clear the core's SC flag).
pub const SIG_SYNC0: u32 = 4;
/// Signal: barrier release 1 (set the core's SC flag).
pub const SIG_SYNC1: u32 = 5;
/// Signal: pause.
pub const SIG_PAUSE: u32 = 6;
/// Signal: continue after a pause.
pub const SIG_CONT: u32 = 7;
/// Signal: exit the event loop.
pub const SIG_EXIT: u32 = 8;
/// Signal: raise a timer interrupt.
pub const SIG_TIMER: u32 = 9;
/// Signal: user signal 0 (1..3 follow).
pub const SIG_USR0: u32 = 10;

/// Core state (vcpu `cpu_state`): dead.
pub const CPU_STATE_DEAD: u8 = 0;
/// Core state: powered down.
pub const CPU_STATE_PWRDN: u8 = 1;
/// Core state: run-time error.
pub const CPU_STATE_RTE: u8 = 2;
/// Core state: watchdog expired.
pub const CPU_STATE_WDOG: u8 = 3;
/// Core state: initialising.
pub const CPU_STATE_INIT: u8 = 4;
/// Core state: waiting for SIG_START (SpiNNMan's READY).
pub const CPU_STATE_WAIT: u8 = 5;
/// Core state: in c_main (SpiNNMan's C_MAIN).
pub const CPU_STATE_SARK: u8 = 6;
/// Core state: running.
pub const CPU_STATE_RUN: u8 = 7;
/// Core state: waiting at barrier 0.
pub const CPU_STATE_SYNC0: u8 = 8;
/// Core state: waiting at barrier 1.
pub const CPU_STATE_SYNC1: u8 = 9;
/// Core state: paused.
pub const CPU_STATE_PAUSE: u8 = 10;
/// Core state: exited (SpiNNMan's FINISHED).
pub const CPU_STATE_EXIT: u8 = 11;
/// Core state: idle (running the idle stub).
pub const CPU_STATE_IDLE: u8 = 15;

/// NN opcode (bits 27:24 of a CMD_NNP key): flood-fill start.
pub const NN_CMD_FFS: u32 = 6;
/// NN opcode: flood-fill end.
pub const NN_CMD_FFE: u32 = 15;

/// id_op_mask flag (bit 18): the cores wait in WAIT until SIG_START.
pub const APP_FLAG_WAIT: u32 = 1 << 18;

fn word(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at.checked_add(4)?)
        .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
}

fn half(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at.checked_add(2)?)
        .map(|w| u16::from_le_bytes([w[0], w[1]]))
}

/// An SCP request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScpRequest {
    /// Command code ([`CMD_VER`]…).
    pub cmd: u16,
    /// Sequence number (copied into the reply).
    pub seq: u16,
    /// arg1, arg2, arg3.
    pub args: [u32; 3],
    /// Payload, at most [`MAX_DATA`] bytes.
    pub data: Vec<u8>,
}

impl ScpRequest {
    /// A request with no payload.
    pub fn new(cmd: u16, seq: u16, args: [u32; 3]) -> ScpRequest {
        ScpRequest {
            cmd,
            seq,
            args,
            data: Vec::new(),
        }
    }

    /// Parses SDP data. SC&MP answers data shorter than the 16-byte header with
    /// [`RC_LEN`] ([`ProtoError::ScpRequestTooShort`]); payloads over 256 bytes never reach it.
    pub fn parse(sdp_data: &[u8]) -> Result<ScpRequest, ProtoError> {
        let (Some(cmd), Some(seq), Some(a1), Some(a2), Some(a3)) = (
            half(sdp_data, 0),
            half(sdp_data, 2),
            word(sdp_data, 4),
            word(sdp_data, 8),
            word(sdp_data, 12),
        ) else {
            return Err(ProtoError::ScpRequestTooShort {
                len: sdp_data.len(),
            });
        };
        let data = sdp_data.get(REQUEST_HEADER_LEN..).unwrap_or_default();
        if data.len() > MAX_DATA {
            return Err(ProtoError::ScpDataTooLong { len: data.len() });
        }
        Ok(ScpRequest {
            cmd,
            seq,
            args: [a1, a2, a3],
            data: data.to_vec(),
        })
    }

    /// The SDP data: cmd_rc, seq, the three arguments, the payload.
    pub fn to_sdp_data(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(REQUEST_HEADER_LEN + self.data.len());
        v.extend_from_slice(&self.cmd.to_le_bytes());
        v.extend_from_slice(&self.seq.to_le_bytes());
        for a in self.args {
            v.extend_from_slice(&a.to_le_bytes());
        }
        v.extend_from_slice(&self.data);
        v
    }
}

/// An SCP reply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScpReply {
    /// Return code ([`RC_OK`]…).
    pub rc: u16,
    /// Sequence number of the request.
    pub seq: u16,
    /// What follows cmd_rc and seq: for most commands some argument words, then data.
    pub body: Vec<u8>,
}

impl ScpReply {
    /// A reply with return code `rc` and no body.
    pub fn status(rc: u16, seq: u16) -> ScpReply {
        ScpReply {
            rc,
            seq,
            body: Vec::new(),
        }
    }

    /// An [`RC_OK`] reply whose body is `args` (little-endian words) followed by `data`.
    pub fn ok(seq: u16, args: &[u32], data: &[u8]) -> ScpReply {
        let mut body = Vec::with_capacity(args.len() * 4 + data.len());
        for a in args {
            body.extend_from_slice(&a.to_le_bytes());
        }
        body.extend_from_slice(data);
        ScpReply {
            rc: RC_OK,
            seq,
            body,
        }
    }

    /// Parses SDP data: at least cmd_rc and seq; the body may be empty and is not length-limited.
    pub fn parse(sdp_data: &[u8]) -> Result<ScpReply, ProtoError> {
        let (Some(rc), Some(seq)) = (half(sdp_data, 0), half(sdp_data, 2)) else {
            return Err(ProtoError::ScpReplyTooShort {
                len: sdp_data.len(),
            });
        };
        Ok(ScpReply {
            rc,
            seq,
            body: sdp_data
                .get(REPLY_HEADER_LEN..)
                .unwrap_or_default()
                .to_vec(),
        })
    }

    /// The SDP data: cmd_rc, seq, body.
    pub fn to_sdp_data(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(REPLY_HEADER_LEN + self.body.len());
        v.extend_from_slice(&self.rc.to_le_bytes());
        v.extend_from_slice(&self.seq.to_le_bytes());
        v.extend_from_slice(&self.body);
        v
    }

    /// Argument word `i` of the body (0 = arg1), if the body is long enough.
    pub fn arg(&self, i: usize) -> Option<u32> {
        word(&self.body, i.checked_mul(4)?)
    }

    /// The body after the first `n_args` argument words (empty if the body is shorter).
    pub fn data_after(&self, n_args: usize) -> &[u8] {
        n_args
            .checked_mul(4)
            .and_then(|n| self.body.get(n..))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trip() {
        let r = ScpRequest {
            cmd: CMD_WRITE,
            seq: 0xBEEF,
            args: [0x6024_0000, 4, TYPE_WORD],
            data: vec![1, 2, 3, 4],
        };
        let d = r.to_sdp_data();
        assert_eq!(&d[..4], &[3, 0, 0xEF, 0xBE]);
        assert_eq!(&d[4..8], &[0, 0, 0x24, 0x60]);
        assert_eq!(ScpRequest::parse(&d).unwrap(), r);
        let full = ScpRequest {
            data: vec![7; 256],
            ..ScpRequest::new(CMD_WRITE, 1, [0; 3])
        };
        assert_eq!(ScpRequest::parse(&full.to_sdp_data()).unwrap(), full);
    }

    #[test]
    fn request_malformations() {
        for n in 0..16 {
            assert_eq!(
                ScpRequest::parse(&vec![0; n]),
                Err(ProtoError::ScpRequestTooShort { len: n })
            );
        }
        assert_eq!(
            ScpRequest::parse(&[0; 16 + 257]),
            Err(ProtoError::ScpDataTooLong { len: 257 })
        );
        assert!(ScpRequest::parse(&[0; 16]).unwrap().data.is_empty());
    }

    #[test]
    fn reply_round_trip_and_args() {
        let r = ScpReply::ok(9, &[0x1234_5678, 2], b"SC&MP/SpiNNaker\0");
        let d = r.to_sdp_data();
        assert_eq!(&d[..4], &[0x80, 0, 9, 0]);
        let p = ScpReply::parse(&d).unwrap();
        assert_eq!(p, r);
        assert_eq!(p.arg(0), Some(0x1234_5678));
        assert_eq!(p.arg(1), Some(2));
        assert_eq!(p.data_after(2), b"SC&MP/SpiNNaker\0");
        assert_eq!(p.arg(100), None);
        assert_eq!(p.arg(usize::MAX), None);
        assert_eq!(p.data_after(usize::MAX), b"");
        let s = ScpReply::status(RC_LEN, 3);
        assert_eq!(s.to_sdp_data(), vec![0x81, 0, 3, 0]);
        assert_eq!(ScpReply::parse(&s.to_sdp_data()).unwrap().arg(0), None);
    }

    #[test]
    fn reply_malformations() {
        for n in 0..4 {
            assert_eq!(
                ScpReply::parse(&vec![0; n]),
                Err(ProtoError::ScpReplyTooShort { len: n })
            );
        }
    }
}
