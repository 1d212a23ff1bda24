// SPDX-License-Identifier: GPL-2.0-or-later
//! The SC&MP model against what SpiNNMan and SC&MP's sources say, without UDP (the UDP round
//! trips are in `serve`'s tests).

use std::net::SocketAddr;
use std::path::Path;

use spinn_proto::aplx;
use spinn_proto::scp::*;
use spinn_proto::sdp::{port_cpu, SdpHeader, SdpMessage};

use super::*;
use crate::chip::ChipConfig;
use crate::geometry::MachineDesc;

const HOST: Requester = Requester {
    ip: [127, 0, 0, 1],
    port: 40000,
};

fn board(desc: MachineDesc) -> (Machine, Scamp) {
    let mut m = Machine::new(desc, ChipConfig::default());
    let s = Scamp::new(&mut m, [127, 0, 0, 1]);
    (m, s)
}

/// One request through routing, as it would arrive from the host: the reply's SDP message.
fn send(m: &mut Machine, s: &mut Scamp, x: u8, y: u8, cpu: u8, req: &ScpRequest) -> SdpMessage {
    let h = SdpHeader::to_core(x, y, cpu, 0, true);
    let mut out = s.route(m, h, &req.to_sdp_data(), HOST);
    assert_eq!(out.len(), 1, "one reply");
    out.remove(0)
}

fn call(
    m: &mut Machine,
    s: &mut Scamp,
    x: u8,
    y: u8,
    cmd: u16,
    args: [u32; 3],
    data: &[u8],
) -> ScpReply {
    let req = ScpRequest {
        cmd,
        seq: 7,
        args,
        data: data.to_vec(),
    };
    let reply = ScpReply::parse(&send(m, s, x, y, 0, &req).data).unwrap();
    assert_eq!(reply.seq, 7);
    reply
}

fn ok(
    m: &mut Machine,
    s: &mut Scamp,
    x: u8,
    y: u8,
    cmd: u16,
    args: [u32; 3],
    data: &[u8],
) -> ScpReply {
    let r = call(m, s, x, y, cmd, args, data);
    assert_eq!(r.rc, RC_OK, "command {cmd} args {args:x?}");
    r
}

fn read(m: &mut Machine, s: &mut Scamp, x: u8, y: u8, addr: u32, len: u32) -> Vec<u8> {
    let kind = if addr.is_multiple_of(4) && len.is_multiple_of(4) {
        TYPE_WORD
    } else {
        TYPE_BYTE
    };
    ok(m, s, x, y, CMD_READ, [addr, len, kind], &[]).body
}

fn write(m: &mut Machine, s: &mut Scamp, x: u8, y: u8, addr: u32, data: &[u8]) {
    for (i, chunk) in data.chunks(256).enumerate() {
        let a = addr + 256 * i as u32;
        let kind = if a.is_multiple_of(4) && chunk.len().is_multiple_of(4) {
            TYPE_WORD
        } else {
            TYPE_BYTE
        };
        ok(m, s, x, y, CMD_WRITE, [a, chunk.len() as u32, kind], chunk);
    }
}

fn hello_aplx() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware/build/hello.elf");
    Program::from_file(&path).unwrap().to_aplx().unwrap()
}

fn state(m: &Machine, x: u8, y: u8, p: u8) -> CpuState {
    m.chip(x, y).unwrap().cpu_state(p)
}

#[test]
fn version_names_scamp_4_with_the_root_coordinates() {
    let (mut m, mut s) = board(MachineDesc::spinn5());
    let reply = send(
        &mut m,
        &mut s,
        255,
        255,
        0,
        &ScpRequest::new(CMD_VER, 1, [0; 3]),
    );
    // The reply comes from the root chip to the host's port.
    assert_eq!(
        (
            reply.header.src_x,
            reply.header.src_y,
            reply.header.dest_port_cpu
        ),
        (0, 0, 0xFF)
    );
    assert_eq!(reply.header.flags & 0x80, 0);
    let r = ScpReply::parse(&reply.data).unwrap();
    assert_eq!(r.rc, RC_OK);
    let phys = m.chip(0, 0).unwrap().phys_of(0);
    assert_eq!(r.arg(0), Some(u32::from(phys) << 8));
    assert_eq!(r.arg(1), Some(0xFFFF_0100));
    assert_eq!(r.data_after(3), b"SC&MP/SpiNNaker\x004.0.0\x00");
    // Another chip, another core (SARK answers for application cores).
    let r = ScpReply::parse(
        &send(
            &mut m,
            &mut s,
            2,
            3,
            4,
            &ScpRequest::new(CMD_VER, 2, [0; 3]),
        )
        .data,
    )
    .unwrap();
    assert_eq!(r.arg(0).unwrap() >> 16, 0x0203);
    assert_eq!(r.arg(0).unwrap() & 0xFF, 4);
    assert!(r.data_after(3).starts_with(b"SARK/SpiNNaker\0"));
}

#[test]
fn system_variables_p2p_table_and_vcpu_blocks_read_as_spinnman_reads_them() {
    let (mut m, mut s) = board(MachineDesc::spinn5());
    // Machine dimensions from (255, 255) at 0xF5007F02: height, width.
    let dims = ok(
        &mut m,
        &mut s,
        255,
        255,
        CMD_READ,
        [0xF500_7F02, 2, TYPE_HALF],
        &[],
    )
    .body;
    assert_eq!(dims, vec![8, 8]);
    // P2P table columns (3 bits per chip, 8 chips per word, 128 bytes per column).
    let p2p = read(&mut m, &mut s, 0, 0, 0xE101_0000, 4);
    let w = u32::from_le_bytes(p2p.try_into().unwrap());
    assert_eq!(w & 7, 7, "(0,0) is the root itself");
    for y in 1..4 {
        assert!((w >> (3 * y)) & 7 < 6, "(0,{y}) is reachable");
    }
    assert_eq!((w >> 12) & 7, 6, "(0,4) is not on a SpiNN-5 board");
    let col7 = read(&mut m, &mut s, 0, 0, 0xE101_0000 + 7 * 128, 4);
    let w7 = u32::from_le_bytes(col7.try_into().unwrap());
    assert_eq!(w7 & 7, 6, "(7,0) does not exist");
    assert!((w7 >> 21) & 7 < 6, "(7,7) does");
    // p2v and v2p maps; vcpu blocks (128 bytes) with state IDLE.
    let maps = read(&mut m, &mut s, 3, 2, 0xF500_7F94, 40);
    assert_eq!(&maps[..3], &[0, 1, 2]);
    let vcpu = read(&mut m, &mut s, 3, 2, 0xE500_7000 + 5 * 128, 128);
    assert_eq!(vcpu[46], CpuState::Idle.to_u8());
    assert_eq!(vcpu[45], 5);
    // Byte reads at odd addresses, and the heap pointer SC&MP keeps in sv.
    let b = ok(
        &mut m,
        &mut s,
        0,
        0,
        CMD_READ,
        [0xE500_7F24, 1, TYPE_BYTE],
        &[],
    )
    .body;
    assert_eq!(b, vec![200]);
    assert_eq!(
        read(&mut m, &mut s, 0, 0, 0xF500_7F4C, 4),
        SDRAM_HEAP_BASE.to_le_bytes()
    );
    assert_eq!(
        read(&mut m, &mut s, 0, 0, 0xF500_7FF0, 4),
        vec![127, 0, 0, 1]
    );
}

#[test]
fn write_fill_and_read_back_anywhere_in_sdram_and_system_ram() {
    let (mut m, mut s) = board(MachineDesc::spinn3());
    let data: Vec<u8> = (0..600u32).map(|i| (i * 7) as u8).collect();
    write(&mut m, &mut s, 1, 1, 0x6100_0001, &data);
    let mut back = read(&mut m, &mut s, 1, 1, 0x6100_0001, 256);
    back.extend(read(&mut m, &mut s, 1, 1, 0x6100_0101, 256));
    back.extend(read(&mut m, &mut s, 1, 1, 0x6100_0201, 88));
    assert_eq!(back, data);
    // The unbuffered alias is the same memory; other chips are not touched.
    assert_eq!(read(&mut m, &mut s, 1, 1, 0x7100_0001, 3), &data[..3]);
    assert_eq!(read(&mut m, &mut s, 0, 1, 0x6100_0001, 3), vec![0, 0, 0]);
    // Half-word writes.
    ok(
        &mut m,
        &mut s,
        0,
        0,
        CMD_WRITE,
        [0xE500_0100, 4, TYPE_HALF],
        &[1, 2, 3, 4],
    );
    assert_eq!(read(&mut m, &mut s, 0, 0, 0xE500_0100, 4), vec![1, 2, 3, 4]);
    // Fill: whole words.
    ok(
        &mut m,
        &mut s,
        0,
        1,
        CMD_FILL,
        [0x6200_0000, 0xA5A5_0102, 0x2_0000],
        &[],
    );
    let f = read(&mut m, &mut s, 0, 1, 0x6201_FFF8, 12);
    assert_eq!(f, [2, 1, 0xA5, 0xA5, 2, 1, 0xA5, 0xA5, 0, 0, 0, 0]);
    // A word read whose length is not whole words keeps the request's bytes in the tail.
    let r = ok(
        &mut m,
        &mut s,
        0,
        1,
        CMD_READ,
        [0x6200_0000, 6, TYPE_WORD],
        &[],
    )
    .body;
    assert_eq!(r.len(), 6);
    assert_eq!(&r[..4], &[2, 1, 0xA5, 0xA5]);
    // Router registers: the fixed-route register through the memory commands.
    write(
        &mut m,
        &mut s,
        0,
        0,
        0xE100_0084,
        &0x0000_0041u32.to_le_bytes(),
    );
    assert_eq!(
        read(&mut m, &mut s, 0, 0, 0xF100_0084, 4),
        0x41u32.to_le_bytes()
    );
}

#[test]
fn bad_memory_requests_get_rc_arg() {
    let (mut m, mut s) = board(MachineDesc::single());
    for args in [
        [0x6000_0000, 257, TYPE_BYTE], // longer than 256
        [0x6000_0000, 4, 3],           // no such access type
        [0x6000_0002, 4, TYPE_WORD],   // misaligned word
        [0x6000_0001, 2, TYPE_HALF],   // misaligned half-word
        [0x5000_0000, 4, TYPE_WORD],   // nothing there
        [0x67FF_FFFC, 8, TYPE_WORD],   // runs off the end of SDRAM
        [0x0000_0000, 4, TYPE_WORD],   // the monitor's own ITCM (not modelled)
        [0xF600_0000, 4, TYPE_WORD],   // System ROM (not modelled)
    ] {
        assert_eq!(
            call(&mut m, &mut s, 0, 0, CMD_READ, args, &[]).rc,
            RC_ARG,
            "read {args:x?}"
        );
        assert_eq!(
            call(&mut m, &mut s, 0, 0, CMD_WRITE, args, &[0; 8]).rc,
            RC_ARG,
            "write {args:x?}"
        );
    }
    assert_eq!(
        call(&mut m, &mut s, 0, 0, CMD_FILL, [0x6000_0002, 0, 8], &[]).rc,
        RC_ARG
    );
    assert_eq!(
        call(&mut m, &mut s, 0, 0, CMD_FILL, [0x67FF_FFF0, 0, 0x100], &[]).rc,
        RC_ARG
    );
    assert_eq!(
        call(
            &mut m,
            &mut s,
            0,
            0,
            CMD_FILL,
            [0x6000_0000, 0, u32::MAX],
            &[]
        )
        .rc,
        RC_ARG
    );
    // Zero-length reads anywhere reachable (a peripheral at an odd offset too).
    assert!(call(
        &mut m,
        &mut s,
        0,
        0,
        CMD_READ,
        [0xE100_0001, 0, TYPE_BYTE],
        &[]
    )
    .body
    .is_empty());
    // Peripheral writes must be whole words.
    assert_eq!(
        call(
            &mut m,
            &mut s,
            0,
            0,
            CMD_WRITE,
            [0xE100_0084, 2, TYPE_HALF],
            &[1, 0]
        )
        .rc,
        RC_ARG
    );
}

#[test]
fn chip_info_is_what_spinnman_parses() {
    let (mut m, mut s) = board(MachineDesc::spinn5());
    let r = ok(&mut m, &mut s, 0, 0, CMD_INFO, [0x5F, 0, 0], &[]);
    let flags = r.arg(0).unwrap();
    assert_eq!(flags & 0x1F, 18);
    assert_eq!(
        (flags >> 8) & 0x3F,
        u32::from(m.chip(0, 0).unwrap().live_links())
    );
    assert_eq!((flags >> 14) & 0x7FF, 1023);
    assert_eq!(flags >> 25 & 1, 1, "Ethernet up on the root");
    assert_eq!(r.arg(1), Some(123_469_792));
    assert_eq!(r.arg(2), Some(22_236));
    let d = r.data_after(3);
    assert_eq!(d.len(), 18 + 2 + 4 + 2);
    assert_eq!(d[0], CpuState::Run.to_u8());
    assert!(d[1..18].iter().all(|&st| st == CpuState::Idle.to_u8()));
    assert_eq!(&d[18..20], &[0, 0], "nearest Ethernet (0,0)");
    assert_eq!(&d[20..24], &[127, 0, 0, 1]);
    assert_eq!(d[24], 7, "the root has no parent link");
    // Another chip: no Ethernet, no IP, a parent link towards the root.
    let r = ok(&mut m, &mut s, 4, 5, CMD_INFO, [0x5F, 0, 0], &[]);
    assert_eq!(r.arg(0).unwrap() >> 25 & 1, 0);
    let d = r.data_after(3);
    assert_eq!(&d[20..24], &[0, 0, 0, 0]);
    assert!(d[24] < 6);
    // A chip with a dead core reports 17 cores and state DEAD beyond them.
    let desc = MachineDesc::from_json(r#"{"base": "spinn3", "dead_cores": [[1,1,5]]}"#).unwrap();
    let (mut m, mut s) = board(desc);
    let r = ok(&mut m, &mut s, 1, 1, CMD_INFO, [0x5F, 0, 0], &[]);
    assert_eq!(r.arg(0).unwrap() & 0x1F, 17);
    assert_eq!(r.data_after(3)[17], 0);
}

#[test]
fn sdram_allocation_with_tags_free_and_retries() {
    let (mut m, mut s) = board(MachineDesc::spinn3());
    let alloc = |m: &mut Machine, s: &mut Scamp, size, tag, app: u32, extra: u32| {
        ok(
            m,
            s,
            1,
            0,
            CMD_ALLOC,
            [extra << 16 | app << 8 | ALLOC_SDRAM, size, tag],
            &[],
        )
        .arg(0)
        .unwrap()
    };
    let a = alloc(&mut m, &mut s, 1000, 0, 17, 0);
    assert_eq!(a, SDRAM_HEAP_BASE + 16 + 8);
    let b = alloc(&mut m, &mut s, 64, 3, 17, 0);
    assert_eq!(b, a + 1000 + 8);
    // The block header SARK keeps: {next, 0xFFFF0000 + (app_id << 8 | tag)}.
    assert_eq!(
        read(&mut m, &mut s, 1, 0, b - 8, 8)[4..],
        (0xFFFF_0000u32 + (17 << 8) + 3).to_le_bytes()
    );
    // Tag lookup (op 7), tag in use, SpiNNMan's retry flag returns the same block.
    assert_eq!(
        ok(
            &mut m,
            &mut s,
            1,
            0,
            CMD_ALLOC,
            [17 << 8 | HEAP_TAG_PTR, 3, 0],
            &[]
        )
        .arg(0),
        Some(b)
    );
    assert_eq!(alloc(&mut m, &mut s, 64, 3, 17, 0), 0);
    assert_eq!(alloc(&mut m, &mut s, 64, 3, 17, 4), b);
    // A request repeated (same sequence number) allocates again, as SC&MP does.
    let c1 = alloc(&mut m, &mut s, 16, 0, 18, 0);
    let c2 = alloc(&mut m, &mut s, 16, 0, 18, 0);
    assert_ne!(c1, c2);
    // Too big, size 0.
    assert_eq!(alloc(&mut m, &mut s, 0x0800_0000, 0, 17, 0), 0);
    assert_eq!(alloc(&mut m, &mut s, 0, 0, 17, 0), 0);
    // Space (op 6), free (op 1), free by app (op 2).
    let space = ok(&mut m, &mut s, 1, 0, CMD_ALLOC, [SDRAM_SPACE, 0, 0], &[]);
    assert!(space.arg(1).unwrap() < 123_469_792);
    ok(&mut m, &mut s, 1, 0, CMD_ALLOC, [FREE_SDRAM, a, 0], &[]);
    assert_eq!(
        call(&mut m, &mut s, 1, 0, CMD_ALLOC, [FREE_SDRAM, a, 0], &[]).rc,
        RC_ARG,
        "double free"
    );
    assert_eq!(
        ok(
            &mut m,
            &mut s,
            1,
            0,
            CMD_ALLOC,
            [17 << 8 | FREE_SDRAM_ID, 0, 0],
            &[]
        )
        .arg(0),
        Some(1)
    );
    assert_eq!(
        ok(
            &mut m,
            &mut s,
            1,
            0,
            CMD_ALLOC,
            [18 << 8 | FREE_SDRAM_ID, 0, 0],
            &[]
        )
        .arg(0),
        Some(2)
    );
    let space = ok(&mut m, &mut s, 1, 0, CMD_ALLOC, [SDRAM_SPACE, 0, 0], &[]);
    assert_eq!(space.arg(1), Some(123_469_792));
    assert_eq!(
        call(&mut m, &mut s, 1, 0, CMD_ALLOC, [8, 0, 0], &[]).rc,
        RC_ARG,
        "no op 8"
    );
    // The heap as SARK lays it out: heap_t {free, first, last, free_bytes}.
    let h = read(&mut m, &mut s, 1, 0, SDRAM_HEAP_BASE, 16);
    assert_eq!(word_at(&h, 1), SDRAM_HEAP_BASE + 16);
    assert_eq!(word_at(&h, 2), crate::sark::SDRAM_HEAP_TOP - 8);
}

#[test]
fn router_entries_allocated_and_loaded_from_sdram() {
    let (mut m, mut s) = board(MachineDesc::spinn3());
    let base = ok(
        &mut m,
        &mut s,
        0,
        0,
        CMD_ALLOC,
        [30 << 8 | ALLOC_RTR, 3, 0],
        &[],
    )
    .arg(0)
    .unwrap();
    assert_eq!(base, 1);
    // SpiNNMan's table: rtr_entry_t {u16 next (index), u16 free, route, key, mask}, then an end.
    let mut table = Vec::new();
    for (i, (key, route)) in [(0x100u32, 1u32 << 7 | 1), (0x200, 1 << 8), (0x300, 1 << 2)]
        .iter()
        .enumerate()
    {
        table.extend_from_slice(&(i as u16).to_le_bytes());
        table.extend_from_slice(&[0, 0]);
        table.extend_from_slice(&route.to_le_bytes());
        table.extend_from_slice(&key.to_le_bytes());
        table.extend_from_slice(&0xFFFF_FF00u32.to_le_bytes());
    }
    table.extend_from_slice(&[0xFF; 16]);
    write(&mut m, &mut s, 0, 0, 0x6780_0000, &table);
    ok(
        &mut m,
        &mut s,
        0,
        0,
        CMD_RTR,
        [3 << 16 | 30 << 8 | RTR_LOAD, 0x6780_0000, base],
        &[],
    );
    let chip = m.chip(0, 0).unwrap();
    let phys1 = chip.phys_of(1);
    let r = chip.mc_entry(1);
    assert_eq!(r, (0x100, 0xFFFF_FF00, 1 << (6 + phys1) | 1));
    assert_eq!(chip.mc_entry(3).0, 0x300);
    // INFO shows the smaller free block; free by app clears the entries.
    assert_eq!(
        (ok(&mut m, &mut s, 0, 0, CMD_INFO, [0; 3], &[])
            .arg(0)
            .unwrap()
            >> 14)
            & 0x7FF,
        1020
    );
    assert_eq!(
        ok(
            &mut m,
            &mut s,
            0,
            0,
            CMD_ALLOC,
            [30 << 8 | FREE_RTR_ID, 1, 0],
            &[]
        )
        .arg(0),
        Some(1)
    );
    assert_eq!(
        m.chip(0, 0).unwrap().mc_entry(1),
        (0xFFFF_FFFF, 0, 0xFF00_0000)
    );
    // Bad loads: past the table end, unreadable table.
    assert_eq!(
        call(
            &mut m,
            &mut s,
            0,
            0,
            CMD_RTR,
            [3 << 16 | RTR_LOAD, 0x6780_0000, 1022],
            &[]
        )
        .rc,
        RC_ARG
    );
    assert_eq!(
        call(
            &mut m,
            &mut s,
            0,
            0,
            CMD_RTR,
            [1 << 16 | RTR_LOAD, 0x1234_0000, 1],
            &[]
        )
        .rc,
        RC_ARG
    );
    assert_eq!(
        call(
            &mut m,
            &mut s,
            0,
            0,
            CMD_RTR,
            [2000 << 16 | RTR_CLEAR, 1, 0],
            &[]
        )
        .rc,
        RC_ARG
    );
    assert_eq!(
        call(&mut m, &mut s, 0, 0, CMD_RTR, [4, 0, 0], &[]).rc,
        RC_ARG
    );
    // Fixed route: set, then get (bit 31).
    ok(&mut m, &mut s, 0, 0, CMD_RTR, [RTR_FR, 0x45, 0], &[]);
    assert_eq!(
        ok(&mut m, &mut s, 0, 0, CMD_RTR, [RTR_FR, 1 << 31, 0], &[]).arg(0),
        Some(0x45)
    );
    // Init clears everything from entry 1 and resets the allocator.
    ok(&mut m, &mut s, 0, 0, CMD_RTR, [RTR_INIT, 0, 0], &[]);
    assert_eq!(
        m.chip(0, 0).unwrap().mc_entry(3),
        (0xFFFF_FFFF, 0, 0xFF00_0000)
    );
    assert_eq!(
        m.chip(0, 0).unwrap().mc_entry(0).0,
        0xFFFF_5554,
        "entry 0 stays SC&MP's"
    );
}

#[test]
fn ip_tags_set_get_clear_and_timeout() {
    let (mut m, mut s) = board(MachineDesc::single());
    let tto = ok(
        &mut m,
        &mut s,
        0,
        0,
        CMD_IPTAG,
        [IPTAG_TTO << 16, 9, 0],
        &[],
    )
    .arg(0)
    .unwrap();
    assert_eq!(tto, 8 << 24 | 8 << 16 | 32 << 8 | 9);
    // SET tag 3 to 10.0.0.2:5000 with strip; arg3 = IP, byte 0 = first octet.
    let ip = u32::from_le_bytes([10, 0, 0, 2]);
    ok(
        &mut m,
        &mut s,
        0,
        0,
        CMD_IPTAG,
        [1 << 28 | IPTAG_SET << 16 | 3, 5000, ip],
        &[],
    );
    let got = ok(
        &mut m,
        &mut s,
        0,
        0,
        CMD_IPTAG,
        [IPTAG_GET << 16 | 3, 1, 0],
        &[],
    )
    .body;
    assert_eq!(got.len(), 32);
    assert_eq!(&got[0..4], &[10, 0, 0, 2]);
    assert_eq!(u16::from_le_bytes([got[10], got[11]]), 5000);
    let flags = u16::from_le_bytes([got[14], got[15]]);
    assert_eq!(
        flags & (IPFLAG_VALID | IPFLAG_STRIP),
        IPFLAG_VALID | IPFLAG_STRIP
    );
    // IP 0: the requester's address. NEW takes a pool tag.
    let t = ok(
        &mut m,
        &mut s,
        0,
        0,
        CMD_IPTAG,
        [IPTAG_NEW << 16, 6000, 0],
        &[],
    )
    .arg(0)
    .unwrap();
    assert!((8..16).contains(&t));
    let got = ok(
        &mut m,
        &mut s,
        0,
        0,
        CMD_IPTAG,
        [IPTAG_GET << 16 | t, 1, 0],
        &[],
    )
    .body;
    assert_eq!(&got[0..4], &HOST.ip);
    // Reverse tag: rx port and destination.
    ok(
        &mut m,
        &mut s,
        0,
        0,
        CMD_IPTAG,
        [
            1 << 29 | IPTAG_SET << 16 | 1 << 8 | 4,
            0x0102 << 16 | 7000,
            0,
        ],
        &[],
    );
    let got = ok(
        &mut m,
        &mut s,
        0,
        0,
        CMD_IPTAG,
        [IPTAG_GET << 16 | 4, 1, 0],
        &[],
    )
    .body;
    assert_eq!(u16::from_le_bytes([got[20], got[21]]), 7000);
    assert_eq!(u16::from_le_bytes([got[22], got[23]]), 0x0102);
    // Clear; bad tag, bad op, too many to get.
    ok(
        &mut m,
        &mut s,
        0,
        0,
        CMD_IPTAG,
        [IPTAG_CLR << 16 | 3, 0, 0],
        &[],
    );
    let got = ok(
        &mut m,
        &mut s,
        0,
        0,
        CMD_IPTAG,
        [IPTAG_GET << 16 | 3, 1, 0],
        &[],
    )
    .body;
    assert_eq!(u16::from_le_bytes([got[14], got[15]]), 0);
    assert_eq!(
        call(
            &mut m,
            &mut s,
            0,
            0,
            CMD_IPTAG,
            [IPTAG_GET << 16 | 16, 1, 0],
            &[]
        )
        .rc,
        RC_ARG
    );
    assert_eq!(
        call(&mut m, &mut s, 0, 0, CMD_IPTAG, [5 << 16, 1, 0], &[]).rc,
        RC_ARG
    );
    assert_eq!(
        call(
            &mut m,
            &mut s,
            0,
            0,
            CMD_IPTAG,
            [IPTAG_GET << 16, 9, 0],
            &[]
        )
        .rc,
        RC_ARG
    );
}

#[test]
fn malformed_requests_get_scamps_return_codes() {
    let (mut m, mut s) = board(MachineDesc::spinn3());
    // SDP data shorter than the 16-byte SCP header: RC_LEN.
    for n in [0usize, 2, 4, 15] {
        let data: Vec<u8> = [0u8, 0, 9, 0]
            .iter()
            .copied()
            .chain(std::iter::repeat(0))
            .take(n)
            .collect();
        let out = s.route(&mut m, SdpHeader::to_core(0, 0, 0, 0, true), &data, HOST);
        let r = ScpReply::parse(&out[0].data).unwrap();
        assert_eq!(r.rc, RC_LEN, "{n} bytes");
        if n >= 4 {
            assert_eq!(r.seq, 9);
        }
    }
    // Unknown and unmodelled commands: RC_CMD; so are the monitor-only ones at an application core.
    for cmd in [1u16, 4, 6, 14, 16, 27, 30, 33, 64, 0xFFFF] {
        assert_eq!(
            call(&mut m, &mut s, 0, 0, cmd, [0; 3], &[]).rc,
            RC_CMD,
            "command {cmd}"
        );
    }
    let r = ScpReply::parse(
        &send(
            &mut m,
            &mut s,
            0,
            0,
            3,
            &ScpRequest::new(CMD_ALLOC, 1, [0; 3]),
        )
        .data,
    )
    .unwrap();
    assert_eq!(r.rc, RC_CMD);
    // No such core, a port other than 0 at the monitor, no such chip.
    let r = ScpReply::parse(
        &send(
            &mut m,
            &mut s,
            0,
            0,
            18,
            &ScpRequest::new(CMD_VER, 1, [0; 3]),
        )
        .data,
    )
    .unwrap();
    assert_eq!(r.rc, RC_CPU);
    let h = SdpHeader::to_core(0, 0, 0, 1, true);
    let out = s.route(
        &mut m,
        h,
        &ScpRequest::new(CMD_VER, 1, [0; 3]).to_sdp_data(),
        HOST,
    );
    assert_eq!(ScpReply::parse(&out[0].data).unwrap().rc, RC_PORT);
    let r = ScpReply::parse(
        &send(
            &mut m,
            &mut s,
            5,
            5,
            0,
            &ScpRequest::new(CMD_VER, 1, [0; 3]),
        )
        .data,
    )
    .unwrap();
    assert_eq!(r.rc, RC_ROUTE);
    // Without the reply flag: handled, nothing sent.
    let h = SdpHeader::to_core(0, 0, 0, 0, false);
    let w = ScpRequest {
        data: vec![1, 2, 3, 4],
        ..ScpRequest::new(CMD_WRITE, 1, [0x6000_0000, 4, TYPE_WORD])
    };
    assert!(s.route(&mut m, h, &w.to_sdp_data(), HOST).is_empty());
    assert_eq!(read(&mut m, &mut s, 0, 0, 0x6000_0000, 4), vec![1, 2, 3, 4]);
    // A signal by multicast is only valid at the root; type 1 (P2P) is not supported.
    assert_eq!(
        call(&mut m, &mut s, 1, 0, CMD_SIG, [SIG_TYPE_MC, 0, 0], &[]).rc,
        RC_ARG
    );
    assert_eq!(
        call(&mut m, &mut s, 0, 0, CMD_SIG, [SIG_TYPE_P2P, 0, 0], &[]).rc,
        RC_ARG
    );
    assert_eq!(
        call(&mut m, &mut s, 0, 0, CMD_SIG, [3, 0, 0], &[]).rc,
        RC_ARG
    );
    // Starting on the monitor is refused.
    assert_eq!(
        call(&mut m, &mut s, 0, 0, CMD_AR, [1, 0, 0], &[]).rc,
        RC_ARG
    );
    assert_eq!(
        call(&mut m, &mut s, 0, 0, CMD_APP_COPY_RUN, [3, 4, 1], &[]).rc,
        RC_ARG
    );
    assert_eq!(
        call(&mut m, &mut s, 0, 0, CMD_APP_COPY_RUN, [6, 4, 2], &[]).rc,
        RC_ARG
    );
    assert_eq!(
        call(&mut m, &mut s, 0, 0, CMD_APP_COPY_RUN, [3, 5, 2], &[]).rc,
        RC_ARG
    );
}

#[test]
fn datagrams_sc_and_mp_drops_get_no_answer() {
    let (mut m, mut s) = board(MachineDesc::single());
    let from: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    assert!(
        s.handle_datagram(&mut m, &[0; 9], from).is_empty(),
        "no SDP header"
    );
    assert!(
        s.handle_datagram(&mut m, &[0; 2 + 8 + 16 + 257], from)
            .is_empty(),
        "longer than SC&MP takes"
    );
    // Reply expected through a tag that is not set.
    let mut h = SdpHeader::to_core(0, 0, 0, 0, true);
    h.tag = 3;
    let msg = SdpMessage {
        header: h,
        data: ScpRequest::new(CMD_VER, 1, [0; 3]).to_sdp_data(),
    };
    assert!(s.handle_datagram(&mut m, &msg.to_udp(), from).is_empty());
    // With tag 0xFF: a transient tag, the reply to the sender, tag released afterwards.
    let msg = SdpMessage {
        header: SdpHeader::to_core(0, 0, 0, 0, true),
        data: msg.data,
    };
    for _ in 0..20 {
        let out = s.handle_datagram(&mut m, &msg.to_udp(), from);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, from);
        let reply = SdpMessage::from_udp(&out[0].1).unwrap();
        assert_eq!(reply.header.tag, 8, "the first transient tag");
    }
}

/// Writes the hello APLX to (0,0)'s staging buffer and returns its length.
fn stage_hello(m: &mut Machine, s: &mut Scamp, x: u8, y: u8) -> usize {
    let aplx = hello_aplx();
    write(m, s, x, y, SDRAM_SYS, &aplx);
    aplx.len()
}

/// CMD_COUNT from the host: SC&MP answers after its 10 ms wait (the machine runs meanwhile),
/// with the counts as they were when asked.
fn count(m: &mut Machine, s: &mut Scamp, app: u32, st: CpuState) -> u32 {
    let req = ScpRequest::new(CMD_COUNT, 77, [app, u32::from(st.to_u8()), 0]);
    let msg = SdpMessage {
        header: SdpHeader::to_core(0, 0, 0, 0, true),
        data: req.to_sdp_data(),
    };
    let from: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    assert!(
        s.handle_datagram(m, &msg.to_udp(), from).is_empty(),
        "no answer before the wait"
    );
    let asked = m.now();
    // Time goes on to `t` (as the board moves it when every core has finished).
    let run_to = |m: &mut Machine, t| {
        m.run(t);
        m.advance_to(t);
    };
    run_to(m, asked + 2_000_000 - 1);
    assert!(s.service_mailboxes(m).is_empty(), "no answer before 10 ms");
    run_to(m, asked + 2_000_000);
    let out = s.service_mailboxes(m);
    assert_eq!(out.len(), 1, "the answer after 10 ms");
    let reply = ScpReply::parse(&SdpMessage::from_udp(&out[0].1).unwrap().data).unwrap();
    assert_eq!((reply.rc, reply.seq), (RC_OK, 77));
    reply.arg(0).unwrap()
}

#[test]
fn aplx_started_by_ar_runs_and_fills_iobuf() {
    let (mut m, mut s) = board(MachineDesc::spinn3());
    stage_hello(&mut m, &mut s, 0, 0);
    ok(&mut m, &mut s, 0, 0, CMD_AR, [30 << 24 | 0b1110, 0, 0], &[]);
    assert_eq!(count(&mut m, &mut s, 30, CpuState::Init), 3);
    m.run(200_000_000);
    assert_eq!(count(&mut m, &mut s, 30, CpuState::Exit), 3);
    assert_eq!(count(&mut m, &mut s, 30, CpuState::Idle), 0);
    assert_eq!(count(&mut m, &mut s, 0, CpuState::Idle), 4 * 17 - 3);
    for p in 1..4u8 {
        assert_eq!(state(&m, 0, 0, p), CpuState::Exit);
        // IOBUF through the vcpu block, as SpiNNMan reads it.
        let iobuf = word_at(
            &read(
                &mut m,
                &mut s,
                0,
                0,
                0xE500_7000 + 128 * u32::from(p) + 88,
                4,
            ),
            0,
        );
        let head = read(&mut m, &mut s, 0, 0, iobuf, 16);
        let used = word_at(&head, 3);
        let text = read(&mut m, &mut s, 0, 0, iobuf + 16, used);
        assert_eq!(
            String::from_utf8(text).unwrap(),
            format!("hello from core {p} on chip 0,0\n")
        );
        // user1 = r0 at entry = (flags << 8) | app_id.
        let user1 = word_at(
            &read(
                &mut m,
                &mut s,
                0,
                0,
                0xE500_7000 + 128 * u32::from(p) + 116,
                4,
            ),
            0,
        );
        assert_eq!(user1, 30);
    }
    // SIG_STOP through CMD_NNP (SpiNNMan's AppStop): cores idle again, app 30 gone.
    ok(
        &mut m,
        &mut s,
        255,
        255,
        CMD_NNP,
        [
            0x3F << 16,
            5 << 28 | SIG_STOP << 16 | 0xFF << 8 | 30,
            1 << 31 | 0x3F << 8,
        ],
        &[],
    );
    assert_eq!(count(&mut m, &mut s, 30, CpuState::Exit), 0);
    assert_eq!(state(&m, 0, 0, 1), CpuState::Idle);
}

#[test]
fn wait_flag_holds_cores_until_sig_start() {
    let (mut m, mut s) = board(MachineDesc::spinn3());
    stage_hello(&mut m, &mut s, 0, 0);
    // SpiNNMan's ApplicationRun with wait: bit 18.
    ok(
        &mut m,
        &mut s,
        0,
        0,
        CMD_AR,
        [40 << 24 | 1 << 18 | 0b110, 0, 0],
        &[],
    );
    assert_eq!(count(&mut m, &mut s, 40, CpuState::Wait), 2);
    m.run(20_000_000);
    assert_eq!(
        count(&mut m, &mut s, 40, CpuState::Wait),
        2,
        "nothing runs while held"
    );
    // SpiNNMan's SendSignal(START): CMD_SIG type 0 at the root, arg3 0xFFFF.
    ok(
        &mut m,
        &mut s,
        255,
        255,
        CMD_SIG,
        [SIG_TYPE_MC, SIG_START << 16 | 0xFF << 8 | 40, 0xFFFF],
        &[],
    );
    m.run(200_000_000);
    assert_eq!(count(&mut m, &mut s, 40, CpuState::Exit), 2);
    let user1 = word_at(&read(&mut m, &mut s, 0, 0, 0xE500_7000 + 128 + 116, 4), 0);
    assert_eq!(user1, 40, "started without the WAIT flag");
}

#[test]
fn application_copy_run_copies_from_the_parent_and_checks_the_sum() {
    let (mut m, mut s) = board(MachineDesc::spinn5());
    let n = stage_hello(&mut m, &mut s, 0, 0) as u32;
    let n4 = n.div_ceil(4) * 4;
    let image = read_all(&mut m, &mut s, 0, 0, SDRAM_SYS, n4);
    let sum = (0..n4 as usize / 4).fold(0u32, |acc, i| acc.wrapping_add(word_at(&image, i)));
    // (1,1) copies from its parent: the link its INFO names.
    let parent = ok(&mut m, &mut s, 1, 1, CMD_INFO, [0; 3], &[]).data_after(3)[24];
    assert!(parent < 6);
    let (px, py) = m.desc().neighbour(1, 1, parent).unwrap();
    // Its parent has no image yet (all zeros): a wrong checksum is RC_SUM with the sum found.
    let r = call(
        &mut m,
        &mut s,
        1,
        1,
        CMD_APP_COPY_RUN,
        [
            (sum & 0x1FFF_FFFF) << 3 | u32::from(parent),
            n4,
            50 << 24 | 2,
        ],
        &[],
    );
    if (px, py) != (0, 0) {
        assert_eq!(r.rc, RC_SUM);
        assert_eq!(r.arg(0), Some(0));
        ok(
            &mut m,
            &mut s,
            px,
            py,
            CMD_APP_COPY_RUN,
            [(sum & 0x1FFF_FFFF) << 3 | 4, n4, 50 << 24],
            &[],
        );
        ok(
            &mut m,
            &mut s,
            1,
            1,
            CMD_APP_COPY_RUN,
            [
                (sum & 0x1FFF_FFFF) << 3 | u32::from(parent),
                n4,
                50 << 24 | 2,
            ],
            &[],
        );
    } else {
        assert_eq!(r.rc, RC_OK);
    }
    m.run(200_000_000);
    assert_eq!(state(&m, 1, 1, 1), CpuState::Exit);
    assert!(m.chip(1, 1).unwrap().iobuf(1).contains("chip 1,1"));
    // A link with no chip behind it times out.
    assert_eq!(
        call(&mut m, &mut s, 0, 0, CMD_APP_COPY_RUN, [3, 4, 2], &[]).rc,
        RC_TIMEOUT
    );
    // A copy of nearly 4 GiB is refused before anything is read.
    assert_eq!(
        call(
            &mut m,
            &mut s,
            0,
            0,
            CMD_APP_COPY_RUN,
            [0, 0xFFFF_FFFC, 2],
            &[]
        )
        .rc,
        RC_ARG
    );
}

fn read_all(m: &mut Machine, s: &mut Scamp, x: u8, y: u8, addr: u32, len: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut done = 0;
    while done < len {
        let n = (len - done).min(256);
        out.extend(read(m, s, x, y, addr + done, n));
        done += n;
    }
    out
}

#[test]
fn flood_fill_loads_every_chip() {
    let (mut m, mut s) = board(MachineDesc::spinn3());
    let aplx = hello_aplx();
    let words: Vec<u8> = {
        let mut v = aplx.clone();
        v.resize(aplx.len().div_ceil(4) * 4, 0);
        v
    };
    let blocks: Vec<&[u8]> = words.chunks(256).collect();
    let nn_id = 6u32;
    let fwd = 1 << 31 | 0x3F << 8 | 0x1A;
    ok(
        &mut m,
        &mut s,
        255,
        255,
        CMD_NNP,
        [
            6 << 24 | nn_id << 16 | (blocks.len() as u32) << 8,
            0xFFFF,
            fwd,
        ],
        &[],
    );
    for (b, block) in blocks.iter().enumerate() {
        let a1 = 0x3F << 24 | 0x1E << 16 | nn_id;
        let a2 = (b as u32) << 16 | ((block.len() as u32 / 4) - 1) << 8;
        ok(
            &mut m,
            &mut s,
            255,
            255,
            CMD_FFD,
            [a1, a2, SDRAM_SYS + 256 * b as u32],
            block,
        );
    }
    ok(
        &mut m,
        &mut s,
        255,
        255,
        CMD_NNP,
        [15 << 24 | nn_id, 60 << 24 | 0b10, 0x3F << 8 | 0x1A],
        &[],
    );
    m.run(200_000_000);
    for &(x, y) in &[(0u8, 0u8), (0, 1), (1, 0), (1, 1)] {
        assert_eq!(state(&m, x, y, 1), CpuState::Exit, "chip ({x},{y})");
    }
    assert_eq!(count(&mut m, &mut s, 60, CpuState::Exit), 4);
    // A flood fill whose blocks do not all arrive starts nothing.
    ok(
        &mut m,
        &mut s,
        255,
        255,
        CMD_NNP,
        [6 << 24 | 8 << 16 | 2 << 8, 0xFFFF, fwd],
        &[],
    );
    ok(
        &mut m,
        &mut s,
        255,
        255,
        CMD_FFD,
        [8, 0, SDRAM_SYS],
        &[0; 4],
    );
    ok(
        &mut m,
        &mut s,
        255,
        255,
        CMD_NNP,
        [15 << 24 | 8, 61 << 24 | 0b100, 0],
        &[],
    );
    assert_eq!(count(&mut m, &mut s, 61, CpuState::Init), 0);
}

#[test]
fn region_words_select_chips_as_spinnman_encodes_them() {
    let one = |x: u32, y: u32| {
        ((x & 0xFC) << 24) + ((y & 0xFC) << 16) + (3 << 16) + (1 << ((y & 3) * 4 + (x & 3)))
    };
    assert!(region_selects(0xFFFF, 200, 13));
    assert!(region_selects(one(5, 6), 5, 6));
    assert!(!region_selects(one(5, 6), 6, 5));
    assert!(!region_selects(one(5, 6), 5, 7));
    assert!(region_selects(one(0, 0), 0, 0));
}

#[test]
fn bad_aplx_leaves_the_core_in_rte() {
    let (mut m, mut s) = board(MachineDesc::single());
    // An image that copies into the monitor-only System ROM, and an ACOPY.
    let bad = aplx::build(&[(0xF600_0000, &[1, 2, 3, 4], 4)], 0).unwrap();
    write(&mut m, &mut s, 0, 0, 0x6100_0000, &bad);
    ok(
        &mut m,
        &mut s,
        0,
        0,
        CMD_AS,
        [0x6100_0000, 70 << 24 | 0b10, 0],
        &[],
    );
    assert_eq!(state(&m, 0, 0, 1), CpuState::RunTimeException);
    let acopy = aplx::AplxEntry::Acopy {
        dest: 0,
        src: 0x6000_0000,
        len: 4,
    }
    .to_bytes();
    write(&mut m, &mut s, 0, 0, 0x6100_0000, &acopy);
    ok(
        &mut m,
        &mut s,
        0,
        0,
        CMD_AS,
        [0x6100_0000, 70 << 24 | 0b100, 0],
        &[],
    );
    assert_eq!(state(&m, 0, 0, 2), CpuState::RunTimeException);
    assert_eq!(
        read(&mut m, &mut s, 0, 0, 0xE500_7000 + 2 * 128 + 44, 1),
        vec![RTE_ABORT]
    );
    // An APLX address outside SDRAM and System RAM.
    ok(
        &mut m,
        &mut s,
        0,
        0,
        CMD_AS,
        [0x1000_0000, 70 << 24 | 0b1000, 0],
        &[],
    );
    assert_eq!(state(&m, 0, 0, 3), CpuState::RunTimeException);
    // A mask of 0 starts nothing; bit 0 (the monitor) is ignored.
    ok(
        &mut m,
        &mut s,
        0,
        0,
        CMD_AS,
        [0x6100_0000, 70 << 24 | 1, 0],
        &[],
    );
    assert_eq!(state(&m, 0, 0, 0), CpuState::Run);
}

#[test]
fn sync_signals_drive_the_sc_flags_and_cpu_int() {
    let (mut m, mut s) = board(MachineDesc::single());
    stage_hello(&mut m, &mut s, 0, 0);
    ok(&mut m, &mut s, 0, 0, CMD_AR, [80 << 24 | 0b10, 0, 0], &[]);
    let flags = || m.chip(0, 0).unwrap().sc_flags();
    assert_eq!(flags() & 0b10, 0b10, "set when the app starts");
    let mut m2 = m;
    ok(
        &mut m2,
        &mut s,
        0,
        0,
        CMD_SIG,
        [SIG_TYPE_MC, SIG_SYNC0 << 16 | 0xFF << 8 | 80, 0xFFFF],
        &[],
    );
    let chip = m2.chip(0, 0).unwrap();
    assert_eq!(chip.sc_flags() & 0b10, 0);
    assert!(chip.cpu_int(chip.phys_of(1)));
    ok(
        &mut m2,
        &mut s,
        0,
        0,
        CMD_SIG,
        [SIG_TYPE_NN, SIG_SYNC1 << 16 | 0xFF << 8 | 80, 0xFFFF],
        &[],
    );
    assert_eq!(m2.chip(0, 0).unwrap().sc_flags() & 0b10, 0b10);
    // Other signals go through the mailbox.
    ok(
        &mut m2,
        &mut s,
        0,
        0,
        CMD_SIG,
        [SIG_TYPE_MC, SIG_EXIT << 16 | 0xFF << 8 | 80, 0xFFFF],
        &[],
    );
    let vcpu = read(&mut m2, &mut s, 0, 0, 0xE500_7000 + 128, 128);
    assert_eq!((vcpu[56], word_at(&vcpu, 12)), (3, SIG_EXIT));
    let _ = port_cpu(0, 0);
}

fn sdp_out() -> crate::program::Program {
    crate::program::Program::from_file(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware/build/sdp_out.elf"),
    )
    .unwrap()
}

#[test]
fn core_sdp_waits_in_the_mailbox_until_the_monitor_takes_it() {
    let (mut m, mut s) = board(MachineDesc::spinn3());
    let host = SocketAddr::from(([127, 0, 0, 1], 40001));
    ok(
        &mut m,
        &mut s,
        0,
        0,
        CMD_IPTAG,
        [
            IPTAG_SET << 16 | 1,
            40001,
            u32::from_le_bytes([127, 0, 0, 1]),
        ],
        &[],
    );
    m.load(0, 0, 4, &sdp_out(), 9).unwrap();
    m.run(m.now() + 200_000);
    {
        let chip = m.chip(0, 0).unwrap();
        // Posted: flag bit 4, mailbox SHM_MSG with the pool's first buffer, monitor's CPU_INT up.
        assert_eq!(chip.sv_word(crate::sark::sv::MBOX_FLAGS), 1 << 4);
        assert_eq!(chip.vcpu_byte(4, 57), 1);
        assert_eq!(chip.vcpu_word(4, 52), 0xE500_1118);
        assert!(chip.cpu_int(chip.phys_of(0)));
        assert_eq!(chip.cpu_state(4), CpuState::CMain, "still waiting");
    }
    let out = s.service_mailboxes(&mut m);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, host);
    let msg = SdpMessage::from_udp(&out[0].1).unwrap();
    assert_eq!((msg.header.src_cpu(), msg.header.tag), (4, 1));
    assert!(msg.data.ends_with(b"hello host from core 4 on chip 0,0"));
    {
        let chip = m.chip(0, 0).unwrap();
        assert!(!chip.cpu_int(chip.phys_of(0)), "monitor's CPU_INT cleared");
    }
    m.run(m.now() + 200_000);
    let chip = m.chip(0, 0).unwrap();
    assert_eq!(chip.cpu_state(4), CpuState::Exit);
    assert_eq!(chip.vcpu_word(4, vcpu::USER + 4), 1, "SUCCESS");
}

#[test]
fn core_sdp_times_out_without_a_monitor_model() {
    // A booted chip has the SHM pool, but with no monitor model nothing takes the message:
    // spin1_send_sdp_msg gives up after its timeout (100 ms), returns FAILURE and gives the
    // buffer back.
    let mut m = Machine::new(MachineDesc::spinn3(), ChipConfig::default());
    m.load(0, 0, 1, &sdp_out(), 9).unwrap();
    m.run(m.now() + 25_000_000);
    let chip = m.chip(0, 0).unwrap();
    assert_eq!(chip.cpu_state(1), CpuState::Exit);
    assert_eq!(chip.vcpu_word(1, vcpu::USER + 4), 0, "FAILURE");
    assert_eq!(chip.vcpu_word(1, vcpu::USER), 0x5D0);
    assert_eq!(
        chip.sv_word(crate::sark::sv::SHM_ROOT),
        0xE500_1118,
        "buffer returned"
    );
    assert_eq!(
        chip.sv_word(crate::sark::sv::MBOX_FLAGS),
        0,
        "flag withdrawn"
    );
}

/// Runs the machine as the virtual board does (to the next delivery, the mailboxes serviced
/// after each run, time moved on to the next delivery when nothing runs) for `steps` rounds.
fn run_board(m: &mut Machine, s: &mut Scamp, steps: usize) {
    for _ in 0..steps {
        let now = m.now();
        let limit = s
            .next_delivery()
            .filter(|&t| t > now)
            .map_or(now + 200_000, |t| t.min(now + 200_000));
        let stop = m.run(limit);
        s.service_mailboxes(m);
        if matches!(
            stop,
            crate::report::StopReason::Deadlock | crate::report::StopReason::AllFinished
        ) && s.deliveries_pending()
        {
            s.deliver_next(m);
        }
    }
}

#[test]
fn a_flood_of_sdp_reaches_a_core_in_order_up_to_the_monitors_buffers() {
    let (mut m, mut s) = board(MachineDesc::spinn3());
    let p = crate::program::Program::from_file(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware/build/sdp_echo.elf"),
    )
    .unwrap();
    m.load(0, 0, 1, &p, 31).unwrap();
    m.run(m.now() + 200_000);
    assert_eq!(state(&m, 0, 0, 1), CpuState::Run);
    let user3 = |m: &Machine| m.chip(0, 0).unwrap().vcpu_word(1, vcpu::USER + 12);
    let flood = |m: &mut Machine, s: &mut Scamp, n: u16| {
        for i in 0..n {
            let h = SdpHeader::to_core(0, 0, 1, 2, false);
            s.route(
                m,
                h,
                &ScpRequest {
                    cmd: 9,
                    seq: i,
                    args: [0; 3],
                    data: vec![],
                }
                .to_sdp_data(),
                HOST,
            );
        }
    };
    // 30 at once: the monitor posts them one after another as the core takes each; none lost.
    flood(&mut m, &mut s, 30);
    run_board(&mut m, &mut s, 200);
    assert!(!s.deliveries_pending());
    assert_eq!(user3(&m), 30);
    // 100 at once: the monitor holds 32; the rest are freed on arrival.
    flood(&mut m, &mut s, 100);
    run_board(&mut m, &mut s, 400);
    assert!(!s.deliveries_pending());
    assert_eq!(user3(&m), 30 + 32);
    // Every SHM buffer is back in the pool.
    assert_eq!(
        m.chip(0, 0).unwrap().sv_word(crate::sark::sv::SHM_ROOT + 4) & 0xFFFF,
        0
    );
}

#[test]
fn a_second_count_while_one_runs_is_busy() {
    let (mut m, mut s) = board(MachineDesc::spinn3());
    let from: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let ask = |m: &mut Machine, s: &mut Scamp, seq: u16| {
        let req = ScpRequest::new(CMD_COUNT, seq, [0, u32::from(CpuState::Idle.to_u8()), 0]);
        let msg = SdpMessage {
            header: SdpHeader::to_core(0, 0, 0, 0, true),
            data: req.to_sdp_data(),
        };
        s.handle_datagram(m, &msg.to_udp(), from)
    };
    assert!(ask(&mut m, &mut s, 1).is_empty());
    let busy = ask(&mut m, &mut s, 2);
    assert_eq!(busy.len(), 1);
    let r = ScpReply::parse(&SdpMessage::from_udp(&busy[0].1).unwrap().data).unwrap();
    assert_eq!((r.rc, r.seq), (RC_P2P_BUSY, 2));
    // The machine is idle: the board moves time on to the first count's answer.
    let out = s.deliver_next(&mut m);
    assert_eq!(m.now(), 2_000_000, "10 ms after the request");
    let r = ScpReply::parse(&SdpMessage::from_udp(&out[0].1).unwrap().data).unwrap();
    assert_eq!((r.rc, r.seq, r.arg(0)), (RC_OK, 1, Some(4 * 17)));
    assert!(ask(&mut m, &mut s, 3).is_empty(), "a new count may start");
}

#[test]
fn a_core_stopped_while_holding_a_lock_leaves_it_held() {
    // The lock app takes system-controller lock 7 a thousand times; stop it while it holds the
    // lock: nobody frees a hardware lock on a core's behalf, as on a board.
    let (mut m, mut s) = board(MachineDesc::spinn3());
    let p = crate::program::Program::from_file(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware/build/lock.elf"),
    )
    .unwrap();
    m.load(0, 0, 1, &p, 30).unwrap();
    let held = |m: &Machine| m.chip(0, 0).unwrap().lock_held(7);
    let mut steps = 0;
    while !held(&m) {
        m.run(m.now() + 50);
        steps += 1;
        assert!(steps < 100_000, "the app takes the lock");
    }
    ok(
        &mut m,
        &mut s,
        255,
        255,
        CMD_NNP,
        [
            0x3F << 16,
            5 << 28 | SIG_STOP << 16 | 0xFF << 8 | 30,
            1 << 31 | 0x3F << 8,
        ],
        &[],
    );
    assert_eq!(state(&m, 0, 0, 1), CpuState::Idle);
    m.run(m.now() + 200_000);
    assert!(held(&m), "lock 7 is still held after the core was stopped");
}
