// SPDX-License-Identifier: GPL-2.0-or-later
//! Acceptance test of `spinn serve` against SpiNNMan, the SpiNNaker project's own host library
//! from PyPI: SpiNNMan connects to the virtual SpiNN-5 as to a real board, discovers its 48 chips,
//! allocates, writes and reads SDRAM, loads our hello app (as APLX) with its own loading calls,
//! waits for the cores' states and reads their IOBUF (tests/spinnman/test_virtual_board.py).
//!
//! SpiNNMan lives in `.venv-spinnman/`, which `scripts/install-deps` makes; without it this test
//! fails (it does not skip). The server listens on port 17893, SC&MP's, which SpiNNMan's
//! `create_transceiver_from_hostname` always uses, at the first loopback address from
//! 127.0.0.2 up that has that port free (never 127.0.0.1: for that literal address SpiNNMan
//! makes a fake transceiver).

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use spinn_sim::loader::Program;

/// SC&MP's UDP port.
const SCP_PORT: u16 = 17893;
/// How long the server may take to answer its first CMD_VER.
const SERVER_START: Duration = Duration::from_secs(60);
/// How long the Python test may run.
const PYTHON_LIMIT: Duration = Duration::from_secs(900);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch directory for this test run, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!("spinn-spinnman-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch directory");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed (and reaped) when dropped, whatever happened to the test.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The first address 127.0.0.N (N >= 2) where UDP port 17893 can be bound now.
fn free_loopback_address() -> Ipv4Addr {
    (2..=254u8)
        .map(|n| Ipv4Addr::new(127, 0, 0, n))
        .find(|ip| UdpSocket::bind(SocketAddrV4::new(*ip, SCP_PORT)).is_ok())
        .expect("UDP port 17893 is taken on every address 127.0.0.2 to 127.0.0.254")
}

/// Whether SC&MP answers a CMD_VER (SCP command 0) sent to chip (0,0), core 0, within `wait`.
fn answers_cmd_ver(addr: SocketAddrV4, wait: Duration) -> bool {
    let sock = UdpSocket::bind("0.0.0.0:0").expect("UDP socket");
    sock.set_read_timeout(Some(wait)).unwrap();
    // 2 padding bytes; SDP header: flags 0x87 (reply expected), tag 0xFF, dest port/cpu 0,
    // src port/cpu 0xFF, dest y 0, dest x 0, src y 0, src x 0; SCP: cmd 0 (CMD_VER), seq 1,
    // arguments 0, 0, 0.
    let mut dgram = vec![0, 0, 0x87, 0xFF, 0, 0xFF, 0, 0, 0, 0];
    dgram.extend_from_slice(&0u16.to_le_bytes());
    dgram.extend_from_slice(&1u16.to_le_bytes());
    dgram.extend_from_slice(&[0; 12]);
    if sock.send_to(&dgram, addr).is_err() {
        return false;
    }
    let mut buf = [0u8; 600];
    // The reply: padding, header, then cmd_rc 0x80 (RC_OK) and our sequence number.
    matches!(sock.recv_from(&mut buf), Ok((n, _)) if n >= 14 && buf[10..14] == [0x80, 0, 1, 0])
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

#[test]
fn spinnman_uses_spinn_serve_as_a_spinn5_board() {
    let python = root().join(".venv-spinnman/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/install-deps (it makes .venv-spinnman/ with SpiNNMan from PyPI)",
        python.display()
    );
    // install-deps copies the requirements it installed into the venv: a venv from an
    // interrupted install, or from older pins, is not the one this test is meant to run with.
    let pinned = std::fs::read(root().join("tests/spinnman/requirements.txt")).expect("tests/spinnman/requirements.txt");
    let installed = std::fs::read(root().join(".venv-spinnman/installed-requirements.txt")).unwrap_or_default();
    assert!(
        pinned == installed,
        ".venv-spinnman/ does not hold the packages pinned in tests/spinnman/requirements.txt: run scripts/install-deps"
    );
    let scratch = Scratch::new();

    // Our hello app as APLX, by the project's own converter.
    let hello = Program::from_file(&root().join("firmware/build/hello.elf")).expect("hello.elf loads");
    let aplx = scratch.0.join("hello.aplx");
    std::fs::write(&aplx, hello.to_aplx().expect("hello converts to APLX")).unwrap();

    // The virtual SpiNN-5.
    let ip = free_loopback_address();
    let addr = SocketAddrV4::new(ip, SCP_PORT);
    let server_log = scratch.0.join("serve.log");
    let log = File::create(&server_log).unwrap();
    let mut server = Killed(
        Command::new(env!("CARGO_BIN_EXE_spinn"))
            .args(["serve", "--machine", "spinn5", "--listen", &addr.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spinn serve starts"),
    );
    let start = Instant::now();
    loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            panic!("spinn serve exited ({status}) before answering:\n{}", tail(&server_log));
        }
        if answers_cmd_ver(addr, Duration::from_millis(500)) {
            break;
        }
        assert!(start.elapsed() < SERVER_START, "spinn serve did not answer CMD_VER at {addr} within {SERVER_START:?}:\n{}", tail(&server_log));
    }

    // SpiNNMan against it.
    let script = root().join("tests/spinnman/test_virtual_board.py");
    let py_log = scratch.0.join("python.log");
    let log = File::create(&py_log).unwrap();
    let mut python = Killed(
        Command::new(&python)
            .arg(&script)
            .arg(ip.to_string())
            .arg("--aplx")
            .arg(&aplx)
            .current_dir(&scratch.0)
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("the venv's python starts"),
    );
    let start = Instant::now();
    let status = loop {
        if let Some(status) = python.0.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > PYTHON_LIMIT {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let report = format!(
        "--- SpiNNMan test output ---\n{}\n--- spinn serve output (last lines) ---\n{}",
        tail(&py_log),
        tail(&server_log)
    );
    match status {
        Some(s) if s.success() => println!("{report}"),
        Some(s) => panic!("the SpiNNMan test failed ({s}):\n{report}"),
        None => panic!("the SpiNNMan test did not finish within {PYTHON_LIMIT:?}:\n{report}"),
    }
    drop(python);
    if let Some(status) = server.0.try_wait().unwrap() {
        panic!("spinn serve exited ({status}) during the test:\n{}", tail(&server_log));
    }
}
