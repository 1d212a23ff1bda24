// SPDX-License-Identifier: GPL-2.0-or-later
//! UDP round trips with the virtual board on 127.0.0.1 (ephemeral ports).

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use spinn_proto::scp::*;
use spinn_proto::sdp::{SdpHeader, SdpMessage};

use super::*;
use crate::program::Program;

/// A board on 127.0.0.1 with an ephemeral port, served on its own thread.
fn start(desc: MachineDesc) -> Spawned {
    spawn(desc, ChipConfig::default(), "127.0.0.1:0".parse().unwrap()).unwrap()
}

struct Client {
    sock: UdpSocket,
    board: SocketAddr,
    seq: u16,
}

impl Client {
    fn new(board: &Spawned) -> Client {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        Client {
            sock,
            board: board.addr(),
            seq: 0,
        }
    }

    fn send_raw(&self, bytes: &[u8]) {
        self.sock.send_to(bytes, self.board).unwrap();
    }

    fn recv(&self) -> SdpMessage {
        let mut buf = [0u8; 1024];
        let (n, from) = self.sock.recv_from(&mut buf).expect("a reply");
        assert_eq!(
            from, self.board,
            "replies come from the port the board listens on"
        );
        SdpMessage::from_udp(&buf[..n]).unwrap()
    }

    fn call_at(&mut self, x: u8, y: u8, p: u8, cmd: u16, args: [u32; 3], data: &[u8]) -> ScpReply {
        self.seq = self.seq.wrapping_add(1);
        let req = ScpRequest {
            cmd,
            seq: self.seq,
            args,
            data: data.to_vec(),
        };
        let msg = SdpMessage {
            header: SdpHeader::to_core(x, y, p, 0, true),
            data: req.to_sdp_data(),
        };
        self.send_raw(&msg.to_udp());
        let reply = ScpReply::parse(&self.recv().data).unwrap();
        assert_eq!(reply.seq, self.seq);
        reply
    }

    fn call(&mut self, x: u8, y: u8, cmd: u16, args: [u32; 3], data: &[u8]) -> ScpReply {
        self.call_at(x, y, 0, cmd, args, data)
    }

    fn ok(&mut self, x: u8, y: u8, cmd: u16, args: [u32; 3], data: &[u8]) -> ScpReply {
        let r = self.call(x, y, cmd, args, data);
        assert_eq!(r.rc, RC_OK, "command {cmd} {args:x?}");
        r
    }

    fn write(&mut self, x: u8, y: u8, addr: u32, data: &[u8]) {
        for (i, chunk) in data.chunks(256).enumerate() {
            self.ok(
                x,
                y,
                CMD_WRITE,
                [addr + 256 * i as u32, chunk.len() as u32, TYPE_BYTE],
                chunk,
            );
        }
    }

    fn read(&mut self, x: u8, y: u8, addr: u32, len: u32) -> Vec<u8> {
        self.ok(x, y, CMD_READ, [addr, len, TYPE_BYTE], &[]).body
    }

    fn word(&mut self, x: u8, y: u8, addr: u32) -> u32 {
        let b = self.ok(x, y, CMD_READ, [addr, 4, TYPE_WORD], &[]).body;
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }

    fn count(&mut self, app: u32, state: u8) -> u32 {
        self.ok(255, 255, CMD_COUNT, [app, u32::from(state), 0], &[])
            .arg(0)
            .unwrap()
    }
}

#[test]
fn listens_on_loopback_unless_remote_hosts_are_allowed() {
    let remote: SocketAddr = "192.0.2.1:17893".parse().unwrap();
    assert!(matches!(
        check_listen(remote, false),
        Err(ServeError::NotLoopback(_))
    ));
    assert!(check_listen(remote, true).is_ok());
    assert!(check_listen("127.0.0.2:17893".parse().unwrap(), false).is_ok());
    assert!(check_listen("[::1]:17893".parse().unwrap(), false).is_ok());
    assert!(check_listen("0.0.0.0:17893".parse().unwrap(), false).is_err());
    let e = bind(remote, false).unwrap_err().to_string();
    assert!(e.contains("not a loopback address"), "{e}");
}

#[test]
fn udp_version_memory_and_allocation() {
    let board = start(MachineDesc::spinn5());
    let mut c = Client::new(&board);
    let v = c.ok(255, 255, CMD_VER, [0; 3], &[]);
    assert_eq!(v.arg(0).unwrap() >> 16, 0, "root chip (0,0), not 255,255");
    assert_eq!(v.data_after(3), b"SC&MP/SpiNNaker\x004.0.0\x00");
    // Dimensions, then memory on another chip.
    assert_eq!(
        c.ok(255, 255, CMD_READ, [0xF500_7F02, 2, TYPE_HALF], &[])
            .body,
        vec![8, 8]
    );
    let data: Vec<u8> = (0..700u32).map(|i| (i % 251) as u8).collect();
    c.write(4, 6, 0x6500_0003, &data);
    let mut back = Vec::new();
    for off in (0..700).step_by(256) {
        back.extend(c.read(4, 6, 0x6500_0003 + off, (700 - off).min(256)));
    }
    assert_eq!(back, data);
    c.ok(4, 6, CMD_FILL, [0x6500_1000, 0xDEAD_BEEF, 64], &[]);
    assert_eq!(c.word(4, 6, 0x6500_103C), 0xDEAD_BEEF);
    assert_eq!(c.word(4, 6, 0x6500_1040), 0);
    // Allocation with a tag, and its lookup.
    let p = c
        .ok(
            4,
            6,
            CMD_ALLOC,
            [4 << 16 | 33 << 8 | ALLOC_SDRAM, 4096, 5],
            &[],
        )
        .arg(0)
        .unwrap();
    assert!((0x6024_0000..0x6780_0000).contains(&p));
    assert_eq!(
        c.ok(4, 6, CMD_ALLOC, [33 << 8 | HEAP_TAG_PTR, 5, 0], &[])
            .arg(0),
        Some(p)
    );
    // A request repeated with the same sequence number (a host's retry) is answered again.
    let req = ScpRequest::new(CMD_VER, 0x4242, [0; 3]);
    let msg = SdpMessage {
        header: SdpHeader::to_core(0, 0, 0, 0, true),
        data: req.to_sdp_data(),
    };
    c.send_raw(&msg.to_udp());
    c.send_raw(&msg.to_udp());
    for _ in 0..2 {
        assert_eq!(ScpReply::parse(&c.recv().data).unwrap().seq, 0x4242);
    }
}

#[test]
fn udp_malformed_datagrams_never_stop_the_board() {
    let board = start(MachineDesc::spinn3());
    let mut c = Client::new(&board);
    // Dropped silently: shorter than an SDP header, longer than SC&MP's buffer.
    for bytes in [
        vec![],
        vec![0u8; 1],
        vec![0u8; 9],
        vec![0x87u8; 2 + 8 + 16 + 257],
    ] {
        c.send_raw(&bytes);
    }
    // Truncated SCP: RC_LEN; unknown command: RC_CMD; a read longer than 256: RC_ARG;
    // an unmapped address: RC_ARG; a core that does not exist: RC_CPU; a chip: RC_ROUTE.
    let short = SdpMessage {
        header: SdpHeader::to_core(0, 0, 0, 0, true),
        data: vec![0, 0, 5, 0, 1, 2],
    };
    c.send_raw(&short.to_udp());
    let r = ScpReply::parse(&c.recv().data).unwrap();
    assert_eq!((r.rc, r.seq), (RC_LEN, 5));
    assert_eq!(c.call(0, 0, 99, [0; 3], &[]).rc, RC_CMD);
    assert_eq!(
        c.call(0, 0, CMD_READ, [0x6000_0000, 300, TYPE_BYTE], &[])
            .rc,
        RC_ARG
    );
    assert_eq!(
        c.call(0, 0, CMD_READ, [0x9000_0000, 4, TYPE_WORD], &[]).rc,
        RC_ARG
    );
    assert_eq!(c.call_at(0, 0, 20, CMD_VER, [0; 3], &[]).rc, RC_CPU);
    assert_eq!(c.call(9, 9, CMD_VER, [0; 3], &[]).rc, RC_ROUTE);
    // Still answering.
    assert_eq!(c.ok(255, 255, CMD_VER, [0; 3], &[]).rc, RC_OK);
}

#[test]
fn udp_aplx_load_wait_start_count_and_iobuf() {
    let board = start(MachineDesc::spinn3());
    let mut c = Client::new(&board);
    let elf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware/build/hello.elf");
    let aplx = Program::from_file(&elf).unwrap().to_aplx().unwrap();
    // SpiNNMan's execute_flood: the image to (0,0) at 0x67800000, CMD_AR there, then
    // CMD_APP_COPY_RUN chip by chip from each chip's parent (here (1,0) from (0,0) over W).
    c.write(0, 0, 0x6780_0000, &aplx);
    let app = 17u32;
    let wait = 1 << 18;
    c.ok(0, 0, CMD_AR, [app << 24 | wait | 0b1110, 0, 0], &[]);
    let n = aplx.len().div_ceil(4) as u32 * 4;
    c.ok(1, 0, CMD_APP_COPY_RUN, [3, n, app << 24 | wait | 0b10], &[]);
    assert_eq!(
        c.count(app, 5),
        4,
        "four cores held in WAIT (SpiNNMan's READY)"
    );
    c.ok(
        255,
        255,
        CMD_SIG,
        [SIG_TYPE_MC, SIG_START << 16 | 0xFF << 8 | app, 0xFFFF],
        &[],
    );
    // The board runs the cores while the host polls.
    let deadline = Instant::now() + Duration::from_secs(60);
    while c.count(app, 11) < 4 {
        assert!(Instant::now() < deadline, "cores did not finish");
        std::thread::sleep(Duration::from_millis(5));
    }
    // IOBUF through the vcpu block: {next, time, ms, bytes used}, then the text.
    for (x, p) in [(0u8, 1u32), (0, 2), (0, 3), (1, 1)] {
        let iobuf = c.word(x, 0, 0xE500_7000 + 128 * p + 88);
        let used = c.word(x, 0, iobuf + 12);
        let text = c.read(x, 0, iobuf + 16, used);
        assert_eq!(
            String::from_utf8(text).unwrap(),
            format!("hello from core {p} on chip {x},0\n")
        );
    }
    // CPU info (vcpu) as SpiNNMan reads it: state EXIT, app ID.
    let vcpu = c.read(0, 0, 0xE500_7000 + 128, 128);
    assert_eq!(
        (vcpu[45], vcpu[46], vcpu[47]),
        (1, 11, app as u8),
        "phys_cpu, state EXIT, app ID"
    );
    // Stop: back to IDLE.
    c.ok(
        255,
        255,
        CMD_NNP,
        [
            0x3F << 16,
            5 << 28 | SIG_STOP << 16 | 0xFF << 8 | app,
            1 << 31 | 0x3F << 8,
        ],
        &[],
    );
    assert_eq!(c.count(app, 11), 0);
    assert_eq!(c.count(0, 15), 4 * 17);
}

/// Loads `sdp_out` on `cores` (virtual numbers) of chip (0, 0), and on core 1 of (1, 0) when
/// `both_chips`, starts it, and returns the datagrams the host socket `host` receives (one per
/// core) with the app ID used.
fn run_sdp_out(
    c: &mut Client,
    host: &UdpSocket,
    cores: u32,
    both_chips: bool,
) -> (Vec<Vec<u8>>, u32) {
    let elf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware/build/sdp_out.elf");
    let aplx = Program::from_file(&elf).unwrap().to_aplx().unwrap();
    c.write(0, 0, 0x6780_0000, &aplx);
    let app = 30u32;
    c.ok(0, 0, CMD_AR, [app << 24 | cores, 0, 0], &[]);
    let mut expected = cores.count_ones();
    if both_chips {
        let n = aplx.len().div_ceil(4) as u32 * 4;
        c.ok(1, 0, CMD_APP_COPY_RUN, [3, n, app << 24 | 0b10], &[]);
        expected += 1;
    }
    host.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    for _ in 0..expected {
        let (n, from) = host
            .recv_from(&mut buf)
            .expect("a datagram through the IP tag");
        assert_eq!(from, c.board, "sent from the board's socket");
        got.push(buf[..n].to_vec());
    }
    (got, app)
}

/// The SCP words and text `sdp_out` sends from core `p` of chip (x, y).
fn sdp_out_payload(x: u8, y: u8, p: u8) -> Vec<u8> {
    let chip = u32::from(x) << 8 | u32::from(y);
    let mut d = Vec::new();
    d.extend_from_slice(&0x5D0Cu16.to_le_bytes());
    d.extend_from_slice(&u16::from(p).to_le_bytes());
    for w in [chip, u32::from(p), 0x600D_F00D] {
        d.extend_from_slice(&w.to_le_bytes());
    }
    d.extend_from_slice(format!("hello host from core {p} on chip {x},{y}").as_bytes());
    d
}

#[test]
fn udp_sdp_from_cores_leaves_through_an_ip_tag() {
    let board = start(MachineDesc::spinn3());
    let mut c = Client::new(&board);
    let host = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = u32::from(host.local_addr().unwrap().port());
    // Tag 1 to the host socket (SpiNNMan's IPTagSet: op SET, port, IP with byte 0 first).
    let ip = u32::from_le_bytes([127, 0, 0, 1]);
    c.ok(255, 255, CMD_IPTAG, [IPTAG_SET << 16 | 1, port, ip], &[]);
    let (got, app) = run_sdp_out(&mut c, &host, 0b110, true);
    let mut seen = Vec::new();
    for d in &got {
        let m = SdpMessage::from_udp(d).unwrap();
        assert_eq!(&d[..2], &[0, 0], "two pad bytes before the SDP header");
        let h = m.header;
        assert_eq!((h.flags, h.tag, h.dest_port_cpu), (0x07, 1, 0xFF), "{h:?}");
        assert_eq!((h.dest_x, h.dest_y), (0, 0), "to the root (sv->dbg_addr)");
        assert_eq!(h.src_port(), 1);
        let (x, y, p) = (h.src_x, h.src_y, h.src_cpu());
        assert_eq!(
            m.data,
            sdp_out_payload(x, y, p),
            "from core {p} of ({x}, {y})"
        );
        seen.push((x, y, p));
    }
    seen.sort();
    assert_eq!(seen, vec![(0, 0, 1), (0, 0, 2), (1, 0, 1)]);
    // The cores saw their messages taken (user1 = SUCCESS) and exited.
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.count(app, 11) < 3 {
        assert!(Instant::now() < deadline, "cores did not finish");
        std::thread::sleep(Duration::from_millis(5));
    }
    for (x, p) in [(0u8, 1u32), (0, 2), (1, 1)] {
        assert_eq!(
            c.word(x, 0, 0xE500_7000 + 128 * p + 116),
            1,
            "spin1_send_sdp_msg result on ({x},0) core {p}"
        );
    }
    // Mailboxes idle, flags clear, every SHM buffer back in the pool, the tag counted 3 uses.
    for x in [0u8, 1] {
        assert_eq!(c.word(x, 0, 0xE500_7F00 + 0xEC), 0, "mbox_flags");
        assert_eq!(
            c.word(x, 0, 0xE500_7F00 + 0x6C) & 0xFFFF,
            0,
            "SHM buffers in use"
        );
        let mut free = c.word(x, 0, 0xE500_7F00 + 0x68);
        let mut n = 0;
        while free != 0 {
            n += 1;
            assert!(n <= 7, "free list loops");
            free = c.word(x, 0, free);
        }
        assert_eq!(n, 7, "SHM pool of chip ({x},0)");
    }
    let entry = c
        .ok(255, 255, CMD_IPTAG, [IPTAG_GET << 16 | 1, 1, 0], &[])
        .body;
    assert_eq!(
        u32::from_le_bytes([entry[16], entry[17], entry[18], entry[19]]),
        3,
        "tag 1 count"
    );
}

#[test]
fn udp_sdp_from_a_core_through_a_strip_tag() {
    let board = start(MachineDesc::spinn3());
    let mut c = Client::new(&board);
    let host = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = u32::from(host.local_addr().unwrap().port());
    let ip = u32::from_le_bytes([127, 0, 0, 1]);
    let strip = 1 << 28;
    c.ok(
        255,
        255,
        CMD_IPTAG,
        [strip | IPTAG_SET << 16 | 1, port, ip],
        &[],
    );
    let (got, _) = run_sdp_out(&mut c, &host, 1 << 3, false);
    assert_eq!(
        got,
        vec![sdp_out_payload(0, 0, 3)],
        "no pad, no SDP header: from cmd_rc on"
    );
}

/// Loads `sdp_echo` (app 31) on virtual core `p` of chip (x, y) by CMD_WRITE of its APLX there
/// and CMD_AS, after writing `peer` into the core's user0.
fn load_sdp_echo(c: &mut Client, x: u8, y: u8, p: u8, peer: u32) {
    let elf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware/build/sdp_echo.elf");
    let aplx = Program::from_file(&elf).unwrap().to_aplx().unwrap();
    c.write(x, y, 0x6780_0000, &aplx);
    let user0 = 0xE500_7000 + 128 * u32::from(p) + 112;
    c.write(x, y, user0, &peer.to_le_bytes());
    c.ok(x, y, CMD_AS, [0x6780_0000, 31 << 24 | 1 << p, 0], &[]);
}

/// Waits until `f` holds, asking every 20 ms for up to 20 s.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn udp_sdp_to_a_core_is_answered_by_its_own_code() {
    let board = start(MachineDesc::spinn3());
    let mut c = Client::new(&board);
    load_sdp_echo(&mut c, 1, 1, 2, 0);
    // The core is running once its IOBUF says so (it prints before spin1_start).
    eventually("sdp_echo to start", || {
        c.word(1, 1, 0xE500_7000 + 2 * 128 + 44) >> 16 & 0xFF == 7
    });
    // Port 1, reply through a transient tag: the application's PONG comes back.
    let req = ScpRequest {
        cmd: 0x5E01,
        seq: 77,
        args: [1000, 0, 0],
        data: b"abc".to_vec(),
    };
    let msg = SdpMessage {
        header: SdpHeader::to_core(1, 1, 2, 1, true),
        data: req.to_sdp_data(),
    };
    c.send_raw(&msg.to_udp());
    let reply = c.recv();
    assert_eq!(
        (
            reply.header.src_x,
            reply.header.src_y,
            reply.header.src_port_cpu
        ),
        (1, 1, 1 << 5 | 2)
    );
    let r = ScpRequest::parse(&reply.data).unwrap();
    assert_eq!((r.cmd, r.seq, r.args), (0x5E02, 77, [1001, 1, 1]));
    assert_eq!(r.data, b"abc");
    // Port 0 is SCP to the core itself, answered by the runtime running there (not by SARK's
    // idle stub, which answers for a core with nothing loaded).
    let ver = c.call_at(1, 1, 2, CMD_VER, [0, 0, 0], &[]);
    assert_eq!(ver.rc, RC_OK);
    assert_eq!(
        ver.arg(0),
        Some(0x0101_0202),
        "chip (1, 1), physical and virtual core 2"
    );
    assert!(
        ver.body[12..].starts_with(b"spinn/SpiNNaker\0"),
        "{:?}",
        String::from_utf8_lossy(&ver.body)
    );
    let idle = c.call_at(1, 1, 3, CMD_VER, [0, 0, 0], &[]);
    assert!(idle.body[12..].starts_with(b"SARK/SpiNNaker\0"));
    // The core's own CMD_WRITE and CMD_READ of its DTCM.
    assert_eq!(
        c.call_at(
            1,
            1,
            2,
            CMD_WRITE,
            [0x0040_8000, 4, TYPE_WORD],
            &0xFEED_F00Du32.to_le_bytes()
        )
        .rc,
        RC_OK
    );
    let back = c.call_at(1, 1, 2, CMD_READ, [0x0040_8000, 4, TYPE_WORD], &[]);
    assert_eq!(
        (back.rc, back.body),
        (RC_OK, 0xFEED_F00Du32.to_le_bytes().to_vec())
    );
    // STOP: the application exits; user3 counted PING, STOP (SCP on port 0 is not its).
    let stop = ScpRequest {
        cmd: 0x5E0F,
        seq: 1,
        args: [0; 3],
        data: vec![],
    };
    c.send_raw(
        &SdpMessage {
            header: SdpHeader::to_core(1, 1, 2, 1, false),
            data: stop.to_sdp_data(),
        }
        .to_udp(),
    );
    eventually("sdp_echo to exit", || {
        c.word(1, 1, 0xE500_7000 + 2 * 128 + 44) >> 16 & 0xFF == 11
    });
    assert_eq!(c.word(1, 1, 0xE500_7000 + 2 * 128 + 124), 2);
}

#[test]
fn udp_sdp_between_cores_of_two_chips() {
    let board = start(MachineDesc::spinn3());
    let mut c = Client::new(&board);
    // (1, 0) core 4 answers; (0, 1) core 3 pings it as it starts.
    load_sdp_echo(&mut c, 1, 0, 4, 0);
    eventually("the answering core to run", || {
        c.word(1, 0, 0xE500_7000 + 4 * 128 + 44) >> 16 & 0xFF == 7
    });
    load_sdp_echo(&mut c, 0, 1, 3, 1 << 24 | 4);
    let user = |c: &mut Client, n: u32| c.word(0, 1, 0xE500_7000 + 3 * 128 + 112 + 4 * n);
    eventually("the PONG", || user(&mut c, 1) == 42);
    assert_eq!(
        user(&mut c, 2),
        0x0100 << 16 | (1 << 5 | 4),
        "from (1, 0) core 4, port 1"
    );
    assert_eq!(
        c.word(1, 0, 0xE500_7000 + 4 * 128 + 124),
        1,
        "one message at the answering core"
    );
}

#[test]
fn udp_sdp_to_cores_bad_and_busy_is_dropped_or_refused_as_scamp_does() {
    let board = start(MachineDesc::spinn3());
    let mut c = Client::new(&board);
    // A core beyond the chip's, a chip that does not exist, a monitor port other than 0.
    assert_eq!(c.call_at(0, 0, 19, CMD_VER, [0; 3], &[]).rc, RC_CPU);
    assert_eq!(c.call_at(9, 9, 1, CMD_VER, [0; 3], &[]).rc, RC_ROUTE);
    let m = SdpMessage {
        header: SdpHeader::to_core(0, 0, 0, 3, true),
        data: ScpRequest {
            cmd: 0,
            seq: 5,
            args: [0; 3],
            data: vec![],
        }
        .to_sdp_data(),
    };
    c.send_raw(&m.to_udp());
    assert_eq!(ScpReply::parse(&c.recv().data).unwrap().rc, RC_PORT);
    // An idle core's application port: nobody handles it, nothing comes back; the board goes on.
    let m = SdpMessage {
        header: SdpHeader::to_core(0, 0, 5, 2, true),
        data: ScpRequest {
            cmd: 1,
            seq: 6,
            args: [0; 3],
            data: vec![],
        }
        .to_sdp_data(),
    };
    c.send_raw(&m.to_udp());
    assert_eq!(c.call(0, 0, CMD_VER, [0; 3], &[]).rc, RC_OK);
    // A flood of 200 messages at a running core that answers none of them (port 2, no reply
    // asked): the monitor holds at most 32 at a time and posts them in turn, the rest are
    // lost; the board keeps answering, and so does the core.
    load_sdp_echo(&mut c, 0, 0, 1, 0);
    eventually("sdp_echo to run", || {
        c.word(0, 0, 0xE500_7000 + 128 + 44) >> 16 & 0xFF == 7
    });
    for i in 0..200u16 {
        let m = SdpMessage {
            header: SdpHeader::to_core(0, 0, 1, 2, false),
            data: ScpRequest {
                cmd: 9,
                seq: i,
                args: [0; 3],
                data: vec![],
            }
            .to_sdp_data(),
        };
        c.send_raw(&m.to_udp());
    }
    assert_eq!(c.call(0, 0, CMD_VER, [0; 3], &[]).rc, RC_OK);
    // A PING that finds the monitor's buffers still full is lost: the host retries, as
    // SpiNNMan does.
    c.sock
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut pong = None;
    for _ in 0..10 {
        let req = ScpRequest {
            cmd: 0x5E01,
            seq: 900,
            args: [1, 0, 0],
            data: vec![],
        };
        c.send_raw(
            &SdpMessage {
                header: SdpHeader::to_core(0, 0, 1, 1, true),
                data: req.to_sdp_data(),
            }
            .to_udp(),
        );
        let mut buf = [0u8; 1024];
        if let Ok((n, _)) = c.sock.recv_from(&mut buf) {
            pong = Some(SdpMessage::from_udp(&buf[..n]).unwrap());
            break;
        }
    }
    // The PONGs of earlier tries may still come: drain them before the next request.
    c.sock
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 1024];
    while c.sock.recv_from(&mut buf).is_ok() {}
    c.sock
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let r =
        ScpRequest::parse(&pong.expect("the core answers a PING after the flood").data).unwrap();
    assert_eq!((r.cmd, r.seq, r.args[0]), (0x5E02, 900, 2));
    let received = c.word(0, 0, 0xE500_7000 + 128 + 124);
    assert!(
        (33..=201).contains(&received),
        "the core took {received} messages"
    );
    // Once the monitor has posted what it still held, every SHM buffer is back in the pool.
    eventually("the SHM pool to be whole", || {
        c.word(0, 0, 0xE500_7F68 + 4) & 0xFFFF == 0
    });
}
