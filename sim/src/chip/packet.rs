//! Packets as they travel between comms controllers and routers (§3.1 of the hardware notes),
//! and [`InFlight`], the one form a packet has on its whole way from one core's comms
//! controller to another's receive buffer.

use crate::Cycle;

/// The four SpiNNaker packet types, from control byte bits [7:6].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum PacketKind {
    /// Multicast: routed by key through the associative table.
    Mc,
    /// Point-to-point: routed by destination chip through the P2P table.
    P2p,
    /// Nearest-neighbour: to the monitor of the chip over a link.
    Nn,
    /// Fixed-route: routed by the single FR register.
    Fr,
}

/// One packet: its 8-bit control byte, 32-bit key and optional 32-bit payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Packet {
    /// Control byte (header): bit1 payload, bits[7:6] type, bits[5:4] ER/sequence, bit0 parity.
    pub control: u8,
    /// Routing key (MC), destination/source + sequence (P2P), or NN key.
    pub key: u32,
    /// Payload, present when control bit1 is set.
    pub payload: Option<u32>,
}

impl Packet {
    /// Builds a packet from a control byte, key and payload; the payload bit follows `payload`.
    pub fn new(control: u8, key: u32, payload: Option<u32>) -> Packet {
        let control = if payload.is_some() {
            control | 0x02
        } else {
            control & !0x02
        };
        Packet {
            control,
            key,
            payload,
        }
    }

    /// The packet type from control bits [7:6].
    pub fn kind(&self) -> PacketKind {
        match self.control >> 6 {
            0 => PacketKind::Mc,
            1 => PacketKind::P2p,
            2 => PacketKind::Nn,
            _ => PacketKind::Fr,
        }
    }

    /// Length on a link in bits: 40 without payload, 72 with.
    pub fn bits(&self) -> u32 {
        if self.payload.is_some() {
            72
        } else {
            40
        }
    }
}

/// Where a packet enters a router.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// Sent by the local core with this physical number.
    Core(u8),
    /// Arrived on this inter-chip link (0..=5).
    Link(u8),
}

/// A packet on its way: launched by a core (into the core's outbox), held for a full receive
/// buffer, or on a link to the next chip. The same value passes through every stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InFlight {
    /// The packet.
    pub packet: Packet,
    /// When it reaches its next stage: the router (launched), the receive buffer (held), the
    /// next chip's router (on a link).
    pub at: Cycle,
    /// Where the router it heads for (or came through, once held) takes it from.
    pub from: Source,
}
