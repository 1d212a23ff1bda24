// SPDX-License-Identifier: GPL-2.0-or-later
//! Every timing constant of the fabric in one place, in core clock cycles (200 MHz, 5 ns), with
//! its source or the reason for the choice (hardware notes §3.6 lists what no source states).

use crate::Cycle;

/// Router pipeline: from a packet entering the router to it leaving on a core port or a link
/// (UNVERIFIED: the notes estimate ~0.1–0.2 µs per router hop, §3.6; we take 0.1 µs).
pub const ROUTER_LATENCY_CYCLES: Cycle = 20;

/// Core cycles per bit on an inter-chip link (UNVERIFIED: ~250 Mbit/s per link, §3.6, is
/// 0.8 cycles per bit at 200 MHz; kept as a ratio so that packet lengths stay exact).
pub const LINK_CYCLES_PER_BIT_NUM: Cycle = 4;
/// Denominator of the cycles-per-bit ratio.
pub const LINK_CYCLES_PER_BIT_DEN: Cycle = 5;

/// Propagation along the board wiring between two chips (UNVERIFIED: a self-timed link's
/// handshake over a few centimetres; we take 50 ns).
pub const LINK_WIRE_CYCLES: Cycle = 10;

/// Cycles to serialise a packet of `bits` (40 without payload, 72 with) onto a link.
pub fn link_serialisation_cycles(bits: u32) -> Cycle {
    (bits as Cycle * LINK_CYCLES_PER_BIT_NUM).div_ceil(LINK_CYCLES_PER_BIT_DEN)
}

/// The shortest time from a packet being routed on one chip to its arrival at a neighbour's
/// router: the lookahead that lets chips run apart that long without missing a packet.
pub fn min_link_latency() -> Cycle {
    ROUTER_LATENCY_CYCLES + link_serialisation_cycles(40) + LINK_WIRE_CYCLES
}

/// The router's two waits in core cycles: wait1 (before emergency routing around a blocked
/// link, or before dropping a packet for a blocked core) and wait2 (before dropping a packet
/// that emergency routing could not place either). RTR_CONTROL bits [23:16] and [31:24] are
/// 8-bit floats counting router clock cycles (§2.5); the router clock is 133 MHz against the
/// 200 MHz core clock (PLL_CLK_SEL: system PLL 400 MHz / 3).
pub fn router_waits(control: u32) -> (Cycle, Cycle) {
    let decode = |v: u32| -> u64 {
        let (m, e) = ((v & 0xF) as u64, (v >> 4) as u64);
        let router_cycles = if e <= 4 {
            (m + 16 - (1 << (4 - e))) << e
        } else {
            (m + 16) << e
        };
        router_cycles * 3 / 2
    };
    (decode((control >> 16) & 0xFF), decode(control >> 24))
}

/// Core cycles the router waits for a blocked core before dropping a packet: wait1 then wait2.
pub fn router_wait_cycles(control: u32) -> Cycle {
    let (w1, w2) = router_waits(control);
    w1 + w2
}

/// Cycles for one P2P packet to cross one chip: routing, serialising a packet with payload
/// (P2P data packets carry 3 bytes in a 32-bit payload) and the wire.
pub fn p2p_hop_cycles() -> Cycle {
    ROUTER_LATENCY_CYCLES + link_serialisation_cycles(72) + LINK_WIRE_CYCLES
}

/// Cycles SC&MP's P2P transport (hardware notes §11.6) takes to carry an SDP message of
/// `length` bytes (from the flags on) across `hops` chips: OPEN_REQ/OPEN_ACK and
/// CLOSE_REQ/CLOSE_ACK round trips, the data packets (3 bytes each, 2 checksum bytes first)
/// streamed one behind the other, and the DATA_ACK of each full window, every packet taking
/// [`p2p_hop_cycles`] per hop. 0 on the same chip. The monitors' own code time is not counted.
// INFERRED: an estimate from the protocol's packet count and the link model; SC&MP's code
// between packets is not simulated.
pub fn p2p_message_cycles(hops: u32, length: usize) -> Cycle {
    if hops == 0 {
        return 0;
    }
    let hop = p2p_hop_cycles();
    let data = (length as Cycle + 2).div_ceil(3);
    let windows = data.div_ceil(16);
    let round_trips = 2 + windows;
    round_trips * 2 * Cycle::from(hops) * hop + (data + Cycle::from(hops)) * hop
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_take_their_bits_on_a_link() {
        assert_eq!(link_serialisation_cycles(40), 32);
        assert_eq!(link_serialisation_cycles(72), 58);
        assert_eq!(min_link_latency(), 62);
    }

    #[test]
    fn wait_fields_decode_as_8_bit_floats() {
        // SARK's rtr_init: wait1 = 0x40 (M 0, E 4: (16 - 1) << 4 = 240), wait2 = 0.
        assert_eq!(router_wait_cycles(0x0040_0001), 240 * 3 / 2);
        // M 15, E 15: (15 + 16) << 15.
        assert_eq!(router_wait_cycles(0x00FF_0000), (31u64 << 15) * 3 / 2);
    }
}
