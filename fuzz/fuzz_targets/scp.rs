// SPDX-License-Identifier: GPL-2.0-or-later
//! Arbitrary bytes into the host-protocol parsers and the virtual board's SC&MP model.
//!
//! The input is a sequence of datagrams, each a length byte then that many bytes, handled in
//! order by a freshly booted SpiNN-3 (so a finding reproduces from its input alone) on which
//! the `sdp_echo` app runs on core 1 of (0, 0) and core 2 of (1, 1), so that SDP into cores
//! (the mailboxes, the monitors' queues, the cores' own answers) is reached too; after each
//! datagram the machine runs on as the virtual board runs it. Each datagram also goes to every
//! parser on its own.

#![no_main]

use libfuzzer_sys::fuzz_target;
use spinn_proto::scp::{ScpReply, ScpRequest};
use spinn_proto::sdp::SdpMessage;
use spinn_proto::aplx;
use spinn_hw::geometry::MachineDesc;
use spinn_hw::program::Program;
use spinn_hw::report::StopReason;
use spinn_sim::chip::ChipConfig;
use spinn_sim::machine::Machine;
use spinn_sim::scamp::{Requester, Scamp};

fuzz_target!(|data: &[u8]| {
    let from = "127.0.0.1:40000".parse().unwrap();
    let mut machine = Machine::new(MachineDesc::spinn3(), ChipConfig::default());
    let mut scamp = Scamp::new(&mut machine, [127, 0, 0, 1]);
    let echo = Program::from_bytes("sdp_echo.elf", "sdp_echo", include_bytes!("../../firmware/build/sdp_echo.elf")).unwrap();
    machine.load(0, 0, 1, &echo, 31).unwrap();
    machine.load(1, 1, 2, &echo, 31).unwrap();
    machine.run(machine.now() + 100_000);
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len).min(tail.len());
        let (datagram, next) = tail.split_at(n);
        rest = next;
        let _ = ScpRequest::parse(datagram);
        let _ = ScpReply::parse(datagram);
        let _ = aplx::parse(datagram);
        let _ = aplx::interpret(datagram, 64);
        if let Ok(msg) = SdpMessage::from_udp(datagram) {
            assert_eq!(SdpMessage::from_udp(&msg.to_udp()).as_ref(), Ok(&msg));
            // Straight to routing, whatever the tag (reaches the commands more often).
            for out in scamp.route(&mut machine, msg.header, &msg.data, Requester { ip: [127, 0, 0, 1], port: 40000 }) {
                // Either a reply (cmd_rc and seq at least) or the message itself going out
                // through Ethernet (destination port 0xFF).
                assert!(ScpReply::parse(&out.data).is_ok() || out.data == msg.data);
            }
        }
        for (_, out) in scamp.handle_datagram(&mut machine, datagram, from) {
            // A reply is at most the padding, SDP header, cmd_rc, seq and 256 + 12 bytes.
            assert!(out.len() <= 2 + 8 + 4 + 12 + 256);
        }
        // 50 us of machine time, as the board runs between looks at its socket.
        let now = machine.now();
        let limit = scamp.next_delivery().filter(|&t| t > now).map_or(now + 10_000, |t| t.min(now + 10_000));
        let stop = machine.run(limit);
        let mut out = scamp.service_mailboxes(&mut machine);
        if matches!(stop, StopReason::AllFinished | StopReason::Deadlock) && scamp.deliveries_pending() {
            out.extend(scamp.deliver_next(&mut machine));
        }
        for (_, d) in out {
            assert!(d.len() <= 2 + 8 + 16 + 256);
        }
    }
});
