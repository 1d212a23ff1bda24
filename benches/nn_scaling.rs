// SPDX-License-Identifier: GPL-2.0-or-later
//! Issue 14's scaling curve: training on a simulated SpiNN-5 with the layers spread thinner
//! (units per core 16, 8, 4, 2, 1) and several samples in flight at once (pipeline depth 1,
//! 2, 4, 8), per training sample: machine time, host time, multicast packets, drops and
//! resend requests. `depth` is the depth the toolchain chose (it lowers the one asked for to
//! what every core's DTCM holds).
//!
//! Run: `cargo bench --bench nn_scaling` (knobs: `SAMPLES=N` training samples, one epoch,
//! default 100; `MODELS=digits,digits_cnn`; `UNITS=16,8,4,2,1`; `DEPTH=1,2,4,8`; `PACE=cycles`,
//! the base gap of the slices' paced bursts, 0 for none; `ARITH=float32,s16.15`, the layer
//! cores' numbers, default float32).

use std::time::Instant;

use spinn_hw::geometry::MachineDesc;
use spinn_nn::machine::{self, Arithmetic, MachineOptions};
use spinn_sim::chip::ChipConfig;
use spinn_toolchain::target::SimTarget;

mod common;

/// A comma-separated knob, or `default`.
fn list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn main() {
    let samples = common::knob("SAMPLES", 100) as usize;
    println!(
        "{:<11} {:>7} {:>6} {:>6} {:>6} {:>13} {:>12} {:>13} {:>8} {:>9}",
        "model",
        "numbers",
        "units",
        "depth",
        "cores",
        "machine us/s",
        "host ms/s",
        "packets/s",
        "dropped",
        "requests"
    );
    for name in list("MODELS", "digits,digits_cnn") {
        let (spec, mut train, mut test) = common::model(&name);
        train.x.truncate(samples);
        train.y.truncate(samples);
        test.x.clear();
        test.y.clear();
        let depths: Vec<u32> = list("DEPTH", "1,2,4,8")
            .iter()
            .filter_map(|d| d.parse().ok())
            .collect();
        let ariths: Vec<Arithmetic> = list("ARITH", "float32")
            .iter()
            .filter_map(|a| Arithmetic::from_name(a))
            .collect();
        let units: Vec<u32> = list("UNITS", "16,8,4,2,1")
            .iter()
            .filter_map(|u| u.parse().ok())
            .collect();
        let mut runs = Vec::new();
        for &a in &ariths {
            for &u in &units {
                runs.extend(depths.iter().map(|&d| (a, u, d)));
            }
        }
        for (arithmetic, units, depth) in runs {
            let numbers = arithmetic.name();
            let opts = MachineOptions {
                units_per_core: units,
                pipeline_depth: depth,
                arithmetic,
                pace_cycles: common::knob("PACE", u64::from(machine::PACE_CYCLES)) as u32,
                ..MachineOptions::for_model(&spec)
            };
            let mut model = spec.build();
            let mut target = SimTarget::new(MachineDesc::spinn5(), ChipConfig::default());
            let t = Instant::now();
            let run = machine::train(
                &mut target,
                &mut model,
                &train,
                &test,
                1,
                spec.training.shuffle_seed,
                &opts,
                &mut |_| {},
            );
            let host = t.elapsed().as_secs_f64();
            let run = match run {
                Ok(run) => run,
                Err(e) => {
                    println!("{name:<11} {numbers:>7} {units:>6} {depth:>6}  failed: {e}");
                    continue;
                }
            };
            // The run ends when the last sample is done (the input core then stops every core).
            let sim_ns = run.sim_time_ns as f64;
            let n = train.len() as f64;
            println!(
                "{name:<11} {numbers:>7} {units:>6} {:>6} {:>6} {:>13.0} {:>12.1} {:>13.0} {:>8} {:>9}",
                run.pipeline_depth,
                run.cores,
                sim_ns / n / 1e3,
                host / n * 1e3,
                run.packets as f64 / n,
                run.dropped,
                run.requests
            );
        }
    }
}
