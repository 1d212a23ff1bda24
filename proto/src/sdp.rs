// SPDX-License-Identifier: GPL-2.0-or-later
//! SDP messages as SC&MP exchanges them over UDP (hardware notes §5.1, §5.2).
//!
//! A datagram is 2 padding bytes, the 8-byte SDP header, then the SDP data (for SCP: cmd_rc,
//! seq, three arguments and up to 256 bytes of payload).

use crate::ProtoError;

/// UDP port of SC&MP's SDP/SCP service (`SCP_SCAMP_PORT`). [SM constants.py]
pub const SCP_PORT: u16 = 17893;
/// UDP port of the boot ROM's boot protocol. [SM constants.py; RIG consts.py]
pub const BOOT_PORT: u16 = 54321;

/// Flag: the sender expects a reply (`SDPF_REPLY`).
pub const FLAG_REPLY: u8 = 0x80;
/// Flag: a checksum is present (`SDPF_SUM`; SC&MP clears it and does not check).
pub const FLAG_SUM: u8 = 0x40;
/// Flag: do not P2P-route the message (`SDPF_NR`).
pub const FLAG_NR: u8 = 0x20;
/// Flags a host puts on a message that expects no reply.
pub const FLAGS_NO_REPLY: u8 = 0x07;
/// Flags a host puts on a message that expects a reply.
pub const FLAGS_REPLY: u8 = 0x87;
/// IP tag value meaning "none" (SC&MP allocates a transient tag for a reply).
pub const TAG_NONE: u8 = 0xFF;
/// Port/cpu byte meaning "out through Ethernet" (`PORT_ETH`).
pub const PORT_ETH: u8 = 0xFF;
/// Number of padding bytes before the SDP header in a UDP datagram.
pub const UDP_PAD: usize = 2;
/// Size of the SDP header.
pub const HEADER_LEN: usize = 8;
/// Largest SDP data SC&MP accepts from UDP: 16 bytes of SCP header plus `SDP_BUF_SIZE` (256).
/// [ST-scamp udp_pkt discards longer datagrams]
pub const MAX_DATA_LEN: usize = 16 + 256;

/// The 8-byte SDP header (hardware notes §5.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SdpHeader {
    /// Flags ([`FLAG_REPLY`], [`FLAG_SUM`], [`FLAG_NR`]; the low bits are 0x07 by convention).
    pub flags: u8,
    /// IP tag (for messages to the host: which tag; [`TAG_NONE`] for none).
    pub tag: u8,
    /// Destination port (bits 7:5) and virtual core (bits 4:0).
    pub dest_port_cpu: u8,
    /// Source port (bits 7:5) and virtual core (bits 4:0); a host sends 0xFF.
    pub src_port_cpu: u8,
    /// Destination chip x.
    pub dest_x: u8,
    /// Destination chip y.
    pub dest_y: u8,
    /// Source chip x.
    pub src_x: u8,
    /// Source chip y.
    pub src_y: u8,
}

/// Packs a port (0..7) and virtual core (0..31) into an SDP port/cpu byte.
pub fn port_cpu(port: u8, cpu: u8) -> u8 {
    ((port & 7) << 5) | (cpu & 31)
}

impl SdpHeader {
    /// A host's request header to core `cpu`, port `port`, of chip (x, y): source is the host
    /// (port/cpu 0xFF, chip 0,0), tag [`TAG_NONE`], flags 0x87 if `reply` else 0x07.
    pub fn to_core(x: u8, y: u8, cpu: u8, port: u8, reply: bool) -> SdpHeader {
        SdpHeader {
            flags: if reply { FLAGS_REPLY } else { FLAGS_NO_REPLY },
            tag: TAG_NONE,
            dest_port_cpu: port_cpu(port, cpu),
            src_port_cpu: 0xFF,
            dest_x: x,
            dest_y: y,
            src_x: 0,
            src_y: 0,
        }
    }

    /// Destination virtual core (bits 4:0 of `dest_port_cpu`).
    pub fn dest_cpu(&self) -> u8 {
        self.dest_port_cpu & 31
    }

    /// Destination port (bits 7:5 of `dest_port_cpu`; port 0 is SCP).
    pub fn dest_port(&self) -> u8 {
        self.dest_port_cpu >> 5
    }

    /// Source virtual core (bits 4:0 of `src_port_cpu`).
    pub fn src_cpu(&self) -> u8 {
        self.src_port_cpu & 31
    }

    /// Source port (bits 7:5 of `src_port_cpu`).
    pub fn src_port(&self) -> u8 {
        self.src_port_cpu >> 5
    }

    /// Whether the sender expects a reply.
    pub fn reply_expected(&self) -> bool {
        self.flags & FLAG_REPLY != 0
    }

    /// Destination chip address as SC&MP holds it: `(x << 8) | y`.
    pub fn dest_addr(&self) -> u16 {
        (u16::from(self.dest_x) << 8) | u16::from(self.dest_y)
    }

    /// Source chip address: `(x << 8) | y`.
    pub fn src_addr(&self) -> u16 {
        (u16::from(self.src_x) << 8) | u16::from(self.src_y)
    }

    /// The header of a reply to this message, as SC&MP makes it: reply flag cleared, source and
    /// destination (chip and port/cpu) swapped, tag kept.
    pub fn reply(&self) -> SdpHeader {
        SdpHeader {
            flags: self.flags & !FLAG_REPLY,
            tag: self.tag,
            dest_port_cpu: self.src_port_cpu,
            src_port_cpu: self.dest_port_cpu,
            dest_x: self.src_x,
            dest_y: self.src_y,
            src_x: self.dest_x,
            src_y: self.dest_y,
        }
    }

    /// The 8 header bytes (byte 4 = dest y, 5 = dest x, 6 = src y, 7 = src x).
    pub fn to_bytes(&self) -> [u8; 8] {
        [
            self.flags,
            self.tag,
            self.dest_port_cpu,
            self.src_port_cpu,
            self.dest_y,
            self.dest_x,
            self.src_y,
            self.src_x,
        ]
    }

    /// Reads a header from its 8 bytes.
    pub fn from_bytes(b: &[u8; 8]) -> SdpHeader {
        SdpHeader {
            flags: b[0],
            tag: b[1],
            dest_port_cpu: b[2],
            src_port_cpu: b[3],
            dest_y: b[4],
            dest_x: b[5],
            src_y: b[6],
            src_x: b[7],
        }
    }
}

/// An SDP message: header and data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SdpMessage {
    /// The header.
    pub header: SdpHeader,
    /// The data (for SCP: cmd_rc, seq, arguments, payload), at most [`MAX_DATA_LEN`] bytes.
    pub data: Vec<u8>,
}

impl SdpMessage {
    /// Parses a UDP datagram: 2 padding bytes (their values are ignored, as SC&MP ignores them),
    /// the header, then at most [`MAX_DATA_LEN`] bytes of data.
    pub fn from_udp(bytes: &[u8]) -> Result<SdpMessage, ProtoError> {
        let Some((hdr, data)) = bytes
            .get(UDP_PAD..)
            .and_then(|b| b.split_first_chunk::<HEADER_LEN>())
        else {
            return Err(ProtoError::UdpTooShort { len: bytes.len() });
        };
        if data.len() > MAX_DATA_LEN {
            return Err(ProtoError::SdpDataTooLong {
                len: data.len(),
                max: MAX_DATA_LEN,
            });
        }
        Ok(SdpMessage {
            header: SdpHeader::from_bytes(hdr),
            data: data.to_vec(),
        })
    }

    /// The UDP datagram: 2 zero padding bytes, header, data (not length-checked: a message
    /// built with longer data is sent as it is).
    pub fn to_udp(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(UDP_PAD + HEADER_LEN + self.data.len());
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(&self.header.to_bytes());
        v.extend_from_slice(&self.data);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_byte_order_and_fields() {
        let h = SdpHeader {
            flags: 0x87,
            tag: 0xFF,
            dest_port_cpu: port_cpu(1, 3),
            src_port_cpu: 0xFF,
            dest_x: 2,
            dest_y: 5,
            src_x: 7,
            src_y: 9,
        };
        let b = h.to_bytes();
        assert_eq!(b, [0x87, 0xFF, 0x23, 0xFF, 5, 2, 9, 7]);
        assert_eq!(SdpHeader::from_bytes(&b), h);
        assert_eq!(
            (h.dest_cpu(), h.dest_port(), h.src_cpu(), h.src_port()),
            (3, 1, 31, 7)
        );
        assert!(h.reply_expected());
        assert_eq!(h.dest_addr(), 0x0205);
        assert_eq!(h.src_addr(), 0x0709);
        let r = h.reply();
        assert_eq!(
            (r.flags, r.dest_x, r.dest_y, r.src_x, r.src_y),
            (0x07, 7, 9, 2, 5)
        );
        assert_eq!((r.dest_port_cpu, r.src_port_cpu), (0xFF, 0x23));
        let c = SdpHeader::to_core(1, 2, 3, 0, false);
        assert_eq!(
            (c.flags, c.tag, c.dest_port_cpu, c.src_port_cpu),
            (0x07, 0xFF, 3, 0xFF)
        );
    }

    #[test]
    fn udp_round_trip() {
        let m = SdpMessage {
            header: SdpHeader::to_core(0, 0, 0, 0, true),
            data: (0..=255u8).chain(0..16).collect(),
        };
        let u = m.to_udp();
        assert_eq!(&u[..2], &[0, 0]);
        assert_eq!(u.len(), 10 + 272);
        assert_eq!(SdpMessage::from_udp(&u).unwrap(), m);
        let empty = SdpMessage {
            header: SdpHeader::default(),
            data: vec![],
        };
        assert_eq!(SdpMessage::from_udp(&empty.to_udp()).unwrap(), empty);
    }

    #[test]
    fn udp_malformations() {
        for n in 0..10 {
            assert_eq!(
                SdpMessage::from_udp(&vec![0; n]),
                Err(ProtoError::UdpTooShort { len: n })
            );
        }
        assert_eq!(
            SdpMessage::from_udp(&[0u8; 10 + 273]),
            Err(ProtoError::SdpDataTooLong {
                len: 273,
                max: MAX_DATA_LEN
            })
        );
        // Padding values are ignored, as SC&MP ignores them.
        let mut u = SdpMessage::default().to_udp();
        u[0] = 0xAB;
        assert!(SdpMessage::from_udp(&u).is_ok());
    }
}
