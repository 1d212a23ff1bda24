// SPDX-License-Identifier: GPL-2.0-or-later
//! Helpers shared by the end-to-end tests: the committed firmware, `spinn` runs, and driving
//! `spinn serve` over UDP.
#![allow(dead_code)]

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use spinn_proto::scp::{ScpReply, ScpRequest, CMD_VER, RC_OK};
use spinn_proto::sdp::{SdpHeader, SdpMessage};

/// The committed firmware `firmware/build/NAME.elf`.
pub fn firmware(name: &str) -> spinn_hw::program::Program {
    spinn_hw::program::Program::from_file(&root().join(format!("firmware/build/{name}.elf")))
        .unwrap()
}

/// Runs `spinn` with `args`: exit status, stdout, stderr.
pub fn spinn(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_spinn"))
        .args(args)
        .output()
        .expect("spinn runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `spinn` with `args` and extra environment `env` as [`spinn`] does, killing it and
/// failing the test when it has not finished within `limit` (a guard against hangs, not a
/// measurement).
pub fn spinn_within(args: &[&str], env: &[(&str, &str)], limit: Duration) -> (i32, String, String) {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let scratch = Scratch::new(&format!("within-{n}"));
    let (out_path, err_path) = (scratch.0.join("stdout"), scratch.0.join("stderr"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spinn"));
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = Killed(cmd.spawn().expect("spinn runs"));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < limit,
            "spinn {args:?} did not finish within {limit:?} (killed)"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    (
        status.code().unwrap_or(-1),
        std::fs::read_to_string(&out_path).unwrap_or_default(),
        std::fs::read_to_string(&err_path).unwrap_or_default(),
    )
}

/// SC&MP's UDP port.
pub const SCP_PORT: u16 = 17893;
/// How long the server may take to answer its first CMD_VER.
pub const SERVER_START: Duration = Duration::from_secs(60);

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch directory for this test run, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("spinn-{name}-{}", std::process::id()));
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
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An address 127.0.0.N (N >= 2), not given to an earlier call, where UDP port 17893 can be bound now.
pub fn free_loopback_address() -> Ipv4Addr {
    // Tests of one binary run on parallel threads: each call takes addresses no other call
    // has been given, so that two servers never race for one address.
    static NEXT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(2);
    loop {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        assert!(
            (2..=254).contains(&n),
            "UDP port 17893 is taken on every address 127.0.0.N to 127.0.0.254"
        );
        let ip = Ipv4Addr::new(127, 0, 0, n);
        if UdpSocket::bind(SocketAddrV4::new(ip, SCP_PORT)).is_ok() {
            return ip;
        }
    }
}

/// Whether SC&MP answers a CMD_VER (SCP command 0) sent to chip (0,0), core 0, within `wait`.
pub fn answers_cmd_ver(addr: SocketAddrV4, wait: Duration) -> bool {
    let sock = UdpSocket::bind("0.0.0.0:0").expect("UDP socket");
    sock.set_read_timeout(Some(wait)).unwrap();
    let req = ScpRequest::new(CMD_VER, 1, [0; 3]);
    let msg = SdpMessage {
        header: SdpHeader::to_core(0, 0, 0, 0, true),
        data: req.to_sdp_data(),
    };
    if sock.send_to(&msg.to_udp(), addr).is_err() {
        return false;
    }
    let mut buf = [0u8; 600];
    let Ok((n, _)) = sock.recv_from(&mut buf) else {
        return false;
    };
    let reply = SdpMessage::from_udp(&buf[..n])
        .ok()
        .and_then(|m| ScpReply::parse(&m.data).ok());
    matches!(reply, Some(r) if r.rc == RC_OK && r.seq == 1)
}

pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

/// Starts `spinn serve --machine MACHINE` on the first free 127.0.0.N:17893 (N >= 2) and waits
/// until it answers; returns the server (killed when dropped), its address and its log file.
pub fn serve(machine: &str, scratch: &Scratch) -> (Killed, SocketAddrV4, PathBuf) {
    let ip = free_loopback_address();
    let addr = SocketAddrV4::new(ip, SCP_PORT);
    let server_log = scratch.0.join("serve.log");
    let log = File::create(&server_log).unwrap();
    let mut server = Killed(
        Command::new(env!("CARGO_BIN_EXE_spinn"))
            .args(["serve", "--machine", machine, "--listen", &addr.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spinn serve starts"),
    );
    let start = Instant::now();
    loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            panic!(
                "spinn serve exited ({status}) before answering:\n{}",
                tail(&server_log)
            );
        }
        if answers_cmd_ver(addr, Duration::from_millis(500)) {
            break;
        }
        assert!(
            start.elapsed() < SERVER_START,
            "spinn serve did not answer CMD_VER at {addr} within {SERVER_START:?}:\n{}",
            tail(&server_log)
        );
    }
    (server, addr, server_log)
}

/// The Python of `.venv-spinnman/`, after checking that `scripts/install-deps` made it with the
/// packages pinned in `tests/spinnman/requirements.txt` (a venv from an interrupted install, or
/// from older pins, is not the one the tests are meant to run with).
pub fn venv_python() -> PathBuf {
    let python = root().join(".venv-spinnman/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/install-deps (it makes .venv-spinnman/ with the SpiNNaker host stack from PyPI)",
        python.display()
    );
    let pinned = std::fs::read(root().join("tests/spinnman/requirements.txt"))
        .expect("tests/spinnman/requirements.txt");
    let installed =
        std::fs::read(root().join(".venv-spinnman/installed-requirements.txt")).unwrap_or_default();
    assert!(
        pinned == installed,
        ".venv-spinnman/ does not hold the packages pinned in tests/spinnman/requirements.txt: run scripts/install-deps"
    );
    python
}

/// Runs `python script args...` in `dir` with extra environment `env`, its output to `log`;
/// its exit status, or None when it did not finish within `limit` (it is then killed).
pub fn run_python(
    python: &Path,
    script: &Path,
    args: &[&std::ffi::OsStr],
    dir: &Path,
    env: &[(&str, &std::ffi::OsStr)],
    log: &Path,
    limit: Duration,
) -> Option<std::process::ExitStatus> {
    let out = File::create(log).unwrap();
    let mut cmd = Command::new(python);
    cmd.arg(script)
        .args(args)
        .current_dir(dir)
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = Killed(cmd.spawn().expect("the venv's python starts"));
    let start = Instant::now();
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            return Some(status);
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs a Python script as [`run_python`] does and prints its output with the last lines of
/// the server's log; panics with both when it fails or does not finish within `limit`.
#[allow(clippy::too_many_arguments)]
pub fn python_must_pass(
    what: &str,
    script: &Path,
    args: &[&std::ffi::OsStr],
    dir: &Path,
    env: &[(&str, &std::ffi::OsStr)],
    log: &Path,
    server_log: &Path,
    limit: Duration,
) {
    let status = run_python(&venv_python(), script, args, dir, env, log, limit);
    let report = format!(
        "--- {what} output ---\n{}\n--- spinn serve output (last lines) ---\n{}",
        tail(log),
        tail(server_log)
    );
    match status {
        Some(s) if s.success() => println!("{report}"),
        Some(s) => panic!("{what} failed ({s}):\n{report}"),
        None => panic!("{what} did not finish within {limit:?}:\n{report}"),
    }
}

/// The numbers of a JSON array.
pub fn numbers(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}
