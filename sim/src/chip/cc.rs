// SPDX-License-Identifier: GPL-2.0-or-later
//! Per-core communications controller: the register window through which a core sends and
//! receives packets (hardware notes §2.1 registers, §3.1–3.2 packet format, §4 VIC sources).
//!
//! TX is a one-packet buffer that the router drains after [`TX_CYCLES`]; RX is a short FIFO of
//! packets handed over by the chip, each becoming visible at its arrival cycle.

use super::device::{Access, Device};
use std::collections::VecDeque;

use super::packet::{Packet, PacketKind};
use crate::Cycle;

/// Cycles the CC holds a sent packet before the router has taken it (TX full meanwhile).
// UNVERIFIED: no source gives the CC-to-router hand-over time; 20 cycles (100 ns, 10 M
// packets/s per core) is the order of a Comms NoC transfer plus one router pipeline slot.
pub const TX_CYCLES: Cycle = 20;

/// Packets the RX side can hold (visible head included) before the router must drop.
// UNVERIFIED: the CC itself has one RX buffer; the router's output stage and its wait1 delay
// add slack before a dump, which we fold into a small FIFO rather than model blocking.
pub const RX_FIFO_DEPTH: usize = 8;

const TCR: u32 = 0x00;
const TXDATA: u32 = 0x04;
const TXKEY: u32 = 0x08;
const RSR: u32 = 0x0C;
const RXDATA: u32 = 0x10;
const RXKEY: u32 = 0x14;
const SAR: u32 = 0x18;

const TCR_NOT_FULL: u32 = 1 << 28;
const TCR_OVERRUN: u32 = 1 << 29;
const TCR_FULL: u32 = 1 << 30;
const TCR_EMPTY: u32 = 1 << 31;
const RSR_ERROR_FREE: u32 = 1 << 28;
const RSR_RECEIVED: u32 = 1 << 31;
// SAR keeps the P2P source id [15:0] and the "fake route" [26:24].
const SAR_MASK: u32 = 0x0700_FFFF;

const IRQ_CC_RDY: u32 = 1 << 6;
const IRQ_CC_TFL: u32 = 1 << 9;
const IRQ_CC_TOV: u32 = 1 << 10;
const IRQ_CC_TMT: u32 = 1 << 11;
const IRQ_CC_TNF: u32 = 1 << 23;
const IRQ_CC_MC: u32 = 1 << 24;

/// One core's communications controller.
#[derive(Clone, Debug, Default)]
pub struct CommsController {
    control: u8,
    tx_data: u32,
    tx_key: u32,
    // The TX buffer holds a packet while `now < tx_until`.
    tx_until: Cycle,
    // TCR bit30 latch: set by every send, cleared by a TCR write unless a packet is still held.
    full_sticky: bool,
    overrun: bool,
    sar: u32,
    rx: VecDeque<(Packet, Cycle)>,
    // The packet the last TXKEY write launched, until the core's wiring takes it.
    launched: Option<Packet>,
}

impl CommsController {
    /// A controller as after reset: TX empty, RX empty, control byte 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the register at byte `offset`; reading RXKEY consumes the visible packet.
    pub fn read(&mut self, offset: u32, now: Cycle) -> u32 {
        match offset & !3 {
            TCR => self.tcr(now),
            TXDATA => self.tx_data,
            TXKEY => self.tx_key,
            RSR => self.visible(now).map_or(0, rsr_of),
            RXDATA => self.visible(now).and_then(|p| p.payload).unwrap_or(0),
            RXKEY => match self.visible(now) {
                Some(p) => {
                    let key = rx_key_of(p);
                    self.rx.pop_front();
                    key
                }
                None => 0,
            },
            SAR => self.sar,
            _ => 0,
        }
    }

    /// Writes the register at byte `offset`; a TXKEY write returns the packet launched, if any.
    pub fn write(&mut self, offset: u32, value: u32, now: Cycle) -> Option<Packet> {
        match offset & !3 {
            TCR => {
                self.control = (value >> 16) as u8;
                self.overrun = false;
                // Full is a level as well as a latch: clearing it while the router has not yet
                // taken the packet leaves it set, which is what spin1's clear-then-test relies on.
                self.full_sticky = self.held(now);
            }
            TXDATA => self.tx_data = value,
            TXKEY => {
                self.tx_key = value;
                if self.held(now) {
                    self.overrun = true;
                    return None;
                }
                self.tx_until = now.saturating_add(TX_CYCLES);
                self.full_sticky = true;
                return Some(self.build_packet(value));
            }
            SAR => self.sar = value & SAR_MASK,
            _ => {}
        }
        None
    }

    /// The packet launched by the last write through [`Device::write`], if any (taken once).
    pub fn take_launched(&mut self) -> Option<Packet> {
        self.launched.take()
    }

    /// Queues an incoming packet visible from `arrival`; false when the RX FIFO is full.
    pub fn deliver(&mut self, packet: Packet, arrival: Cycle) -> bool {
        if self.rx.len() >= RX_FIFO_DEPTH {
            return false;
        }
        self.rx.push_back((packet, arrival));
        true
    }

    /// VIC source lines (bit n = source n) this controller drives at `now`.
    pub fn irq_sources(&self, now: Cycle) -> u32 {
        let mut irq = 0;
        if let Some(p) = self.visible(now) {
            irq |= IRQ_CC_RDY | IRQ_CC_MC << kind_index(p.kind());
        }
        let tcr = self.tcr(now);
        if tcr & TCR_FULL != 0 {
            irq |= IRQ_CC_TFL;
        }
        if tcr & TCR_OVERRUN != 0 {
            irq |= IRQ_CC_TOV;
        }
        if tcr & TCR_EMPTY != 0 {
            irq |= IRQ_CC_TMT;
        }
        if tcr & TCR_NOT_FULL != 0 {
            irq |= IRQ_CC_TNF;
        }
        irq
    }

    /// Earliest cycle after `now` at which the TX hold ends or the RX head becomes visible.
    pub fn next_event(&self, now: Cycle) -> Option<Cycle> {
        let tx = (self.tx_until > now).then_some(self.tx_until);
        // Packets behind the head only surface when the guest reads RXKEY, never by themselves.
        let rx = self.rx.front().map(|&(_, at)| at).filter(|&at| at > now);
        tx.into_iter().chain(rx).min()
    }

    /// Packets queued on the RX side, visible or not yet arrived.
    pub fn rx_pending(&self) -> usize {
        self.rx.len()
    }

    fn held(&self, now: Cycle) -> bool {
        now < self.tx_until
    }

    fn tcr(&self, now: Cycle) -> u32 {
        let held = self.held(now);
        let mut v = u32::from(self.control) << 16;
        if !held {
            v |= TCR_NOT_FULL | TCR_EMPTY;
        }
        if self.overrun {
            v |= TCR_OVERRUN;
        }
        if held || self.full_sticky {
            v |= TCR_FULL;
        }
        v
    }

    fn visible(&self, now: Cycle) -> Option<&Packet> {
        self.rx.front().filter(|(_, at)| *at <= now).map(|(p, _)| p)
    }

    fn build_packet(&self, key: u32) -> Packet {
        let payload = (self.control & 0x02 != 0).then_some(self.tx_data);
        let mut control = self.control;
        let mut key = key;
        if control >> 6 == 1 {
            // P2P: TXKEY carries dest [15:0] and sequence code [17:16]; on the wire the code
            // sits in control bits [5:4] and the source id from SAR fills key [31:16] (§3.2).
            control = (control & !0x30) | ((((key >> 16) & 3) as u8) << 4);
            key = (self.sar & 0xFFFF) << 16 | (key & 0xFFFF);
        }
        let packet = Packet::new(control, key, payload);
        with_parity(packet)
    }
}

/// Sets control bit0 so the whole packet has odd parity, as the CC does on transmit (§3.1).
fn with_parity(mut packet: Packet) -> Packet {
    let ones = (packet.control & !1).count_ones()
        + packet.key.count_ones()
        + packet.payload.map_or(0, u32::count_ones);
    packet.control = (packet.control & !1) | u8::from(ones.is_multiple_of(2));
    packet
}

fn kind_index(kind: PacketKind) -> u32 {
    match kind {
        PacketKind::Mc => 0,
        PacketKind::P2p => 1,
        PacketKind::Nn => 2,
        PacketKind::Fr => 3,
    }
}

fn rsr_of(p: &Packet) -> u32 {
    // SC&MP reads the arrival link of NN packets from RSR[26:24]; the chip stamps it into the
    // NN route field (control bits [4:2]) when it hands over a packet from a link.
    let route = if p.kind() == PacketKind::Nn {
        u32::from(p.control >> 2) & 7
    } else {
        0
    };
    RSR_RECEIVED
        | RSR_ERROR_FREE
        | route << 24
        | u32::from(p.control) << 16
        | 1 << kind_index(p.kind())
}

fn rx_key_of(p: &Packet) -> u32 {
    if p.kind() == PacketKind::P2p {
        // Software sees the source id in [15:0] and the sequence code in [17:16] (§3.2).
        (u32::from(p.control >> 4) & 3) << 16 | p.key >> 16
    } else {
        p.key
    }
}

impl Device for CommsController {
    fn read(&mut self, offset: u32, at: Access) -> u32 {
        CommsController::read(self, offset, at.now)
    }

    /// A TXKEY write that launches a packet leaves it for [`CommsController::take_launched`].
    fn write(&mut self, offset: u32, value: u32, at: Access) {
        self.launched = CommsController::write(self, offset, value, at.now);
    }

    fn irq_lines(&self, at: Access) -> u32 {
        self.irq_sources(at.now)
    }

    fn next_event(&self, now: Cycle) -> Option<Cycle> {
        CommsController::next_event(self, now)
    }

    fn reset(&mut self) {
        *self = CommsController::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PKT_MC: u32 = 0x0000_0000;
    const PKT_P2P: u32 = 0x0040_0000;
    const PKT_NN: u32 = 0x0080_0000;
    const PKT_FR: u32 = 0x00C0_0000;
    const PKT_PL: u32 = 0x0002_0000;

    fn parity_ok(p: &Packet) -> bool {
        let ones =
            p.control.count_ones() + p.key.count_ones() + p.payload.map_or(0, u32::count_ones);
        ones % 2 == 1
    }

    #[test]
    fn reset_state_is_empty_and_not_full() {
        let mut cc = CommsController::new();
        assert_eq!(cc.read(TCR, 0), TCR_EMPTY | TCR_NOT_FULL);
        assert_eq!(cc.read(RSR, 0), 0);
        assert_eq!(cc.read(RXKEY, 0), 0);
        assert_eq!(cc.read(RXDATA, 0), 0);
        assert_eq!(cc.irq_sources(0), IRQ_CC_TMT | IRQ_CC_TNF);
        assert_eq!(cc.next_event(0), None);
        assert_eq!(cc.rx_pending(), 0);
    }

    #[test]
    fn txkey_sends_mc_without_payload() {
        let mut cc = CommsController::new();
        assert_eq!(cc.write(TCR, PKT_MC, 0), None);
        cc.write(TXDATA, 0xDEAD_BEEF, 0);
        let p = cc.write(TXKEY, 0x1234_5678, 0).expect("packet sent");
        assert_eq!(p.kind(), PacketKind::Mc);
        assert_eq!(p.key, 0x1234_5678);
        assert_eq!(p.payload, None);
        assert!(parity_ok(&p));
        assert_eq!(p.control & !1, 0);
    }

    #[test]
    fn payload_bit_takes_txdata() {
        let mut cc = CommsController::new();
        cc.write(TCR, PKT_MC | PKT_PL, 0);
        cc.write(TXDATA, 0xCAFE_F00D, 0);
        let p = cc.write(TXKEY, 7, 0).unwrap();
        assert_eq!(p.payload, Some(0xCAFE_F00D));
        assert_eq!(p.control & 0x02, 0x02);
        assert!(parity_ok(&p));
    }

    #[test]
    fn fr_and_nn_control_bytes_pass_through() {
        let mut cc = CommsController::new();
        cc.write(TCR, PKT_FR, 0);
        let p = cc.write(TXKEY, 1, 0).unwrap();
        assert_eq!(p.kind(), PacketKind::Fr);
        // NN on link 4, as SC&MP writes PKT_NN + PKT_PL + (link << 18).
        cc.write(TCR, PKT_NN | PKT_PL | 4 << 18, 100);
        let p = cc.write(TXKEY, 2, 100).unwrap();
        assert_eq!(p.kind(), PacketKind::Nn);
        assert_eq!((p.control >> 2) & 7, 4);
        assert!(parity_ok(&p));
    }

    #[test]
    fn p2p_inserts_source_and_sequence_code() {
        let mut cc = CommsController::new();
        cc.write(SAR, 0x0700_0102, 0);
        assert_eq!(cc.read(SAR, 0), 0x0700_0102);
        cc.write(TCR, PKT_P2P | PKT_PL, 0);
        cc.write(TXDATA, 9, 0);
        let p = cc.write(TXKEY, 1 << 16 | 0x0304, 0).unwrap();
        assert_eq!(p.kind(), PacketKind::P2p);
        assert_eq!(p.key, 0x0102_0304);
        assert_eq!((p.control >> 4) & 3, 1);
        // The receiver sees source id and sequence code.
        let mut rx = CommsController::new();
        assert!(rx.deliver(p, 0));
        assert_eq!(rx.read(RSR, 0) & 0xF, 2);
        assert_eq!(rx.read(RXDATA, 0), 9);
        assert_eq!(rx.read(RXKEY, 0), 1 << 16 | 0x0102);
    }

    #[test]
    fn full_while_held_then_empty() {
        let mut cc = CommsController::new();
        cc.write(TXKEY, 1, 10).unwrap();
        let tcr = cc.read(TCR, 10);
        assert_eq!(tcr & (TCR_FULL | TCR_EMPTY | TCR_NOT_FULL), TCR_FULL);
        assert_eq!(cc.irq_sources(10), IRQ_CC_TFL);
        assert_eq!(cc.next_event(10), Some(10 + TX_CYCLES));
        assert_eq!(cc.read(TCR, 10 + TX_CYCLES - 1) & TCR_EMPTY, 0);
        let tcr = cc.read(TCR, 10 + TX_CYCLES);
        assert_ne!(tcr & TCR_EMPTY, 0);
        assert_ne!(tcr & TCR_NOT_FULL, 0);
        // Full stays latched until TCR is written.
        assert_ne!(tcr & TCR_FULL, 0);
        assert_eq!(cc.next_event(10 + TX_CYCLES), None);
        cc.write(TCR, 0, 10 + TX_CYCLES);
        assert_eq!(cc.read(TCR, 10 + TX_CYCLES) & TCR_FULL, 0);
        assert_eq!(cc.irq_sources(10 + TX_CYCLES), IRQ_CC_TMT | IRQ_CC_TNF);
    }

    #[test]
    fn tcr_write_while_held_keeps_full() {
        // spin1_send_packet: write TCR (clear sticky), read TCR, test bit30.
        let mut cc = CommsController::new();
        cc.write(TXKEY, 1, 0).unwrap();
        cc.write(TCR, 0, 5);
        assert_ne!(cc.read(TCR, 5) & TCR_FULL, 0);
        // ...and the latch survives the end of the hold.
        assert_ne!(cc.read(TCR, 5 + TX_CYCLES) & TCR_FULL, 0);
        cc.write(TCR, 0, 5 + TX_CYCLES);
        assert_eq!(cc.read(TCR, 5 + TX_CYCLES) & TCR_FULL, 0);
    }

    #[test]
    fn overrun_loses_packet_and_is_sticky() {
        let mut cc = CommsController::new();
        cc.write(TXKEY, 1, 0).unwrap();
        assert_eq!(cc.write(TXKEY, 2, 1), None);
        assert_ne!(cc.read(TCR, 1) & TCR_OVERRUN, 0);
        assert_ne!(cc.irq_sources(1) & IRQ_CC_TOV, 0);
        // The overrun does not extend the hold.
        assert_eq!(cc.next_event(1), Some(TX_CYCLES));
        assert_ne!(cc.read(TCR, 100) & TCR_OVERRUN, 0);
        cc.write(TCR, PKT_MC, 100);
        assert_eq!(cc.read(TCR, 100) & TCR_OVERRUN, 0);
        assert!(cc.write(TXKEY, 3, 100).is_some());
    }

    #[test]
    fn tcr_keeps_control_byte_and_ignores_low_bits() {
        let mut cc = CommsController::new();
        // SARK writes (ctrl << 16) + 3.
        cc.write(TCR, 0x0042_0003, 0);
        assert_eq!(cc.read(TCR, 0) & 0x00FF_FFFF, 0x0042_0000);
    }

    #[test]
    fn spin1_drain_loop_sends_one_per_hold() {
        // cc_tx_empty_isr: clear, then send while !(TCR & full).
        let mut cc = CommsController::new();
        let mut sent = 0;
        let mut now = 0;
        for _ in 0..3 {
            cc.write(TCR, 0, now);
            while cc.read(TCR, now) & TCR_FULL == 0 {
                cc.write(TCR, PKT_MC, now);
                assert!(cc.write(TXKEY, sent, now).is_some());
                sent += 1;
            }
            assert_eq!(cc.irq_sources(now) & IRQ_CC_TMT, 0);
            now = cc.next_event(now).unwrap();
            assert_ne!(cc.irq_sources(now) & IRQ_CC_TMT, 0);
        }
        assert_eq!(sent, 3);
    }

    #[test]
    fn rx_visible_only_from_arrival() {
        let mut cc = CommsController::new();
        assert!(cc.deliver(Packet::new(0, 0xAB, Some(5)), 50));
        assert_eq!(cc.read(RSR, 49), 0);
        assert_eq!(cc.read(RXKEY, 49), 0);
        assert_eq!(cc.rx_pending(), 1);
        assert_eq!(cc.irq_sources(49) & IRQ_CC_RDY, 0);
        assert_eq!(cc.next_event(49), Some(50));
        let rsr = cc.read(RSR, 50);
        assert_eq!(
            rsr & (RSR_RECEIVED | RSR_ERROR_FREE | 0xF),
            RSR_RECEIVED | RSR_ERROR_FREE | 1
        );
        assert_eq!((rsr >> 16) & 0xFF, 0x02);
        assert_eq!(
            cc.irq_sources(50) & (IRQ_CC_RDY | 0xF << 24),
            IRQ_CC_RDY | IRQ_CC_MC
        );
        assert_eq!(cc.next_event(50), None);
        assert_eq!(cc.read(RXDATA, 50), 5);
        assert_eq!(cc.read(RXKEY, 50), 0xAB);
        assert_eq!(cc.read(RSR, 50), 0);
        assert_eq!(cc.rx_pending(), 0);
    }

    #[test]
    fn rxkey_consumes_in_order() {
        let mut cc = CommsController::new();
        for k in 0..3 {
            assert!(cc.deliver(Packet::new(0, k, None), 10));
        }
        assert!(cc.deliver(Packet::new(0xC0, 99, None), 30));
        assert_eq!(cc.read(RXKEY, 10), 0);
        assert_eq!(cc.read(RXKEY, 10), 1);
        // RXDATA of a packet without payload reads 0 and does not consume.
        assert_eq!(cc.read(RXDATA, 10), 0);
        assert_eq!(cc.read(RXKEY, 10), 2);
        assert_eq!(cc.read(RXKEY, 20), 0);
        assert_eq!(cc.rx_pending(), 1);
        assert_eq!(cc.next_event(20), Some(30));
        assert_eq!(cc.read(RSR, 30) & 0xF, 8);
        assert_ne!(cc.irq_sources(30) & 1 << 27, 0);
        assert_eq!(cc.read(RXKEY, 30), 99);
    }

    #[test]
    fn per_type_irq_sources() {
        for (ctrl, bit) in [(0x00u8, 24), (0x40, 25), (0x80, 26), (0xC0, 27)] {
            let mut cc = CommsController::new();
            cc.deliver(Packet::new(ctrl, 0, None), 0);
            let irq = cc.irq_sources(0) & (0xF << 24 | IRQ_CC_RDY);
            assert_eq!(irq, 1 << bit | IRQ_CC_RDY, "control {ctrl:#x}");
        }
    }

    #[test]
    fn nn_route_field_appears_in_rsr() {
        let mut cc = CommsController::new();
        cc.deliver(Packet::new(0x80 | 5 << 2, 0x10, Some(1)), 0);
        let rsr = cc.read(RSR, 0);
        assert_eq!((rsr >> 24) & 7, 5);
        assert_eq!(rsr & 0xF, 4);
        assert_ne!((rsr >> 16) & 0x02, 0);
    }

    #[test]
    fn rx_fifo_depth_is_enforced() {
        let mut cc = CommsController::new();
        for k in 0..RX_FIFO_DEPTH as u32 {
            assert!(cc.deliver(Packet::new(0, k, None), 0));
        }
        assert!(!cc.deliver(Packet::new(0, 100, None), 0));
        assert_eq!(cc.rx_pending(), RX_FIFO_DEPTH);
        cc.read(RXKEY, 0);
        assert!(cc.deliver(Packet::new(0, 101, None), 0));
    }

    #[test]
    fn next_event_is_earliest_of_tx_and_rx() {
        let mut cc = CommsController::new();
        cc.deliver(Packet::new(0, 1, None), 5);
        cc.write(TXKEY, 0, 0).unwrap();
        assert_eq!(cc.next_event(0), Some(5));
        assert_eq!(cc.next_event(5), Some(TX_CYCLES));
        assert_eq!(cc.next_event(TX_CYCLES), None);
    }

    #[test]
    fn unknown_offsets_and_test_register() {
        let mut cc = CommsController::new();
        for off in [0x1C, 0x20, 0xFFC, u32::MAX] {
            assert_eq!(cc.write(off, 0xFFFF_FFFF, 0), None);
            assert_eq!(cc.read(off, 0), 0);
        }
        // RSR, RXDATA and RXKEY are read-only.
        cc.write(RSR, 1, 0);
        cc.write(RXKEY, 1, 0);
        assert_eq!(cc.read(RSR, 0), 0);
        assert_eq!(cc.read(TCR, 0), TCR_EMPTY | TCR_NOT_FULL);
    }

    #[test]
    fn txdata_and_txkey_read_back() {
        let mut cc = CommsController::new();
        cc.write(TXDATA, 0x55, 0);
        cc.write(TXKEY, 0x66, 0);
        assert_eq!(cc.read(TXDATA, 0), 0x55);
        assert_eq!(cc.read(TXKEY, 0), 0x66);
        cc.write(SAR, 0xFFFF_FFFF, 0);
        assert_eq!(cc.read(SAR, 0), SAR_MASK);
    }

    #[test]
    fn time_near_end_of_range_does_not_panic() {
        let mut cc = CommsController::new();
        assert!(cc.write(TXKEY, 1, Cycle::MAX - 1).is_some());
        assert_eq!(cc.next_event(Cycle::MAX - 1), Some(Cycle::MAX));
        assert_eq!(cc.write(TXKEY, 1, Cycle::MAX - 1), None);
    }
}
