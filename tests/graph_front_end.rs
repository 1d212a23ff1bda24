// SPDX-License-Identifier: GPL-2.0-or-later
//! Acceptance test of `spinn serve` against SpiNNakerGraphFrontEnd 1!7.4.1 from PyPI (what
//! SpiDNN was built on), unchanged, in its Debug mode (every report and provenance read):
//! SpiNNFrontEndCommon's ReverseIpTagMultiCastSource, its send buffers loaded by the host,
//! sends multicast packets to a LivePacketGather, which sends them on to the host over UDP
//! through an IP tag (`tests/gfe/ripmcs_to_lpg.py`). Every key sent arrives, and the run's
//! provenance holds no warning or error.

use std::time::Duration;

mod common;
use common::{root, tail, Scratch};

/// How long the script may run.
const SCRIPT_LIMIT: Duration = Duration::from_secs(900);

#[test]
fn graph_front_end_streams_packets_from_a_reverse_ip_tag_source_to_a_live_packet_gatherer() {
    let scratch = Scratch::new("gfe");
    let (mut server, addr, server_log) = common::serve("spinn5", &scratch);
    std::fs::write(
        scratch.0.join(".spiNNakerGraphFrontEnd.cfg"),
        format!(
            "[Machine]\nmachine_name = {}\nversion = 5\npost_simulation_overrun_before_error = 300\n\
             [Mode]\nmode = Debug\n",
            addr.ip()
        ),
    )
    .unwrap();
    let log = scratch.0.join("gfe.log");
    let out = scratch.0.join("gfe.json");
    common::python_must_pass(
        "the GraphFrontEnd script",
        &root().join("tests/gfe/ripmcs_to_lpg.py"),
        &[out.as_os_str()],
        &scratch.0,
        &[("HOME", scratch.0.as_os_str())],
        &log,
        &server_log,
        SCRIPT_LIMIT,
    );
    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("the script's JSON")).unwrap();
    let mut received: Vec<u64> = result["received"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d.as_array().unwrap().iter().map(|k| k.as_u64().unwrap()))
        .collect();
    received.sort_unstable();
    let expected: Vec<u64> = result["expected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_u64().unwrap())
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(
        received, expected,
        "keys received by the host through the LivePacketGather"
    );
    assert_eq!(
        result["log"],
        serde_json::json!([]),
        "warnings or errors in the provenance"
    );
    if let Some(status) = server.0.try_wait().unwrap() {
        panic!(
            "spinn serve exited ({status}) during the test:\n{}",
            tail(&server_log)
        );
    }
}
