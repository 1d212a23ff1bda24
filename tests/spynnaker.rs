// SPDX-License-Identifier: GPL-2.0-or-later
//! Acceptance test of `spinn serve` against sPyNNaker 1!7.4.1 from PyPI, unchanged: PyNN
//! scripts map, load and run their networks on the virtual SpiNN-5 with the SARK-built binaries
//! sPyNNaker ships, and read back what the neurons did.
//!
//! - `tests/spynnaker/if_curr_exp.py`: a SpikeSourceArray drives an IF_curr_exp neuron; its
//!   spikes and voltage agree with an independent integration of the model in the script, and
//!   a second run gives the same numbers;
//! - `tests/spynnaker/synfire.py`: a ring of populations passes activity round and round.
//!
//! sPyNNaker lives in `.venv-spinnman/` (made by `scripts/install-deps`); without it the test
//! fails. The board is named in a `.spynnaker.cfg` in a scratch directory used as `HOME`, with
//! the wait after a run raised as for any board slower than real time.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{numbers, root, tail, Scratch};

/// How long one PyNN script may run.
const SCRIPT_LIMIT: Duration = Duration::from_secs(900);
/// How long past a run's end sPyNNaker waits for the cores to finish (its default, 5 s, assumes
/// a board that runs in real time; the virtual board runs slower, the debug build of CI more so).
const OVERRUN_S: u32 = 300;
/// Largest difference allowed between the recorded voltage and the reference: sPyNNaker
/// computes in 16.15 fixed point (2^-15 mV), the reference in binary64.
const V_TOLERANCE_MV: f64 = 0.01;

/// Runs one PyNN script against the board; returns its JSON output and how long it took.
fn run_script(scratch: &Scratch, name: &str, out: &str, server_log: &Path) -> (Value, Duration) {
    let log = scratch.0.join(format!("{out}.log"));
    let out_path = scratch.0.join(out);
    let start = Instant::now();
    common::python_must_pass(
        name,
        &root().join("tests/spynnaker").join(name),
        &[out_path.as_os_str()],
        &scratch.0,
        &[("HOME", scratch.0.as_os_str())],
        &log,
        server_log,
        SCRIPT_LIMIT,
    );
    let took = start.elapsed();
    let text = std::fs::read_to_string(&out_path).expect("the script's JSON");
    (serde_json::from_str(&text).expect("JSON"), took)
}

#[test]
fn pynn_scripts_run_on_spinn_serve_and_their_neurons_behave() {
    let scratch = Scratch::new("spynnaker");
    let (mut server, addr, server_log) = common::serve("spinn5", &scratch);
    std::fs::write(
        scratch.0.join(".spynnaker.cfg"),
        format!(
            "[Machine]\nmachine_name = {}\nversion = 5\n\
             post_simulation_overrun_before_error = {OVERRUN_S}\n",
            addr.ip()
        ),
    )
    .unwrap();

    // One neuron, checked against the reference integration.
    let (first, took) = run_script(&scratch, "if_curr_exp.py", "lif1.json", &server_log);
    let spikes = numbers(&first["spikes"]);
    let reference = numbers(&first["reference_spikes"]);
    assert!(!reference.is_empty(), "the reference neuron fires");
    assert_eq!(
        spikes.len(),
        reference.len(),
        "spikes {spikes:?}, reference {reference:?}"
    );
    for (s, r) in spikes.iter().zip(&reference) {
        assert!(
            (s - r).abs() <= 1.0,
            "spikes {spikes:?}, reference {reference:?}"
        );
    }
    let v = numbers(&first["v"]);
    let ref_v = numbers(&first["reference_v"]);
    assert_eq!(v.len(), ref_v.len());
    let worst = v
        .iter()
        .zip(&ref_v)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        worst <= V_TOLERANCE_MV,
        "voltage differs by up to {worst} mV:\n{v:?}\n{ref_v:?}"
    );
    println!("IF_curr_exp: {} spikes as the reference, voltage within {worst:.6} mV; script took {took:?}", spikes.len());

    // The same script again: the same numbers.
    let (second, _) = run_script(&scratch, "if_curr_exp.py", "lif2.json", &server_log);
    assert_eq!(first["spikes"], second["spikes"]);
    assert_eq!(first["v"], second["v"]);

    // A synfire ring: every population fires, each after the one before it, and the first
    // fires again once activity has come round.
    let (syn, took) = run_script(&scratch, "synfire.py", "synfire.json", &server_log);
    let pops: Vec<Vec<f64>> = syn["spikes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            p.as_array()
                .unwrap()
                .iter()
                .map(|s| s[1].as_f64().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(pops.len(), 4);
    let firsts: Vec<f64> = pops
        .iter()
        .map(|p| p.iter().copied().fold(f64::INFINITY, f64::min))
        .collect();
    assert!(
        firsts.iter().all(|t| t.is_finite()),
        "every population fires: {firsts:?}"
    );
    assert!(
        firsts.windows(2).all(|w| w[0] < w[1]),
        "activity passes on in order: {firsts:?}"
    );
    assert!(
        pops[0].iter().any(|&t| t > firsts[3]),
        "activity comes round the ring to population 0 again"
    );
    println!("synfire: first spikes {firsts:?}; script took {took:?}");

    if let Some(status) = server.0.try_wait().unwrap() {
        panic!(
            "spinn serve exited ({status}) during the test:\n{}",
            tail(&server_log)
        );
    }
}
