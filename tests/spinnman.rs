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

use std::time::Duration;

use spinn_hw::program::Program;

mod common;
use common::{root, tail, Scratch};
/// How long the Python test may run.
const PYTHON_LIMIT: Duration = Duration::from_secs(900);

#[test]
fn spinnman_uses_spinn_serve_as_a_spinn5_board() {
    common::venv_python();
    let scratch = Scratch::new("spinnman");

    // Our hello app as APLX, by the project's own converter.
    let hello =
        Program::from_file(&root().join("firmware/build/hello.elf")).expect("hello.elf loads");
    let aplx = scratch.0.join("hello.aplx");
    std::fs::write(&aplx, hello.to_aplx().expect("hello converts to APLX")).unwrap();

    // The virtual SpiNN-5.
    let (mut server, addr, server_log) = common::serve("spinn5", &scratch);

    // SpiNNMan against it.
    let script = root().join("tests/spinnman/test_virtual_board.py");
    let py_log = scratch.0.join("python.log");
    let ip = addr.ip().to_string();
    common::python_must_pass(
        "the SpiNNMan test",
        &script,
        &[ip.as_ref(), "--aplx".as_ref(), aplx.as_os_str()],
        &scratch.0,
        &[],
        &py_log,
        &server_log,
        PYTHON_LIMIT,
    );
    if let Some(status) = server.0.try_wait().unwrap() {
        panic!(
            "spinn serve exited ({status}) during the test:\n{}",
            tail(&server_log)
        );
    }
}
