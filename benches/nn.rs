// SPDX-License-Identifier: GPL-2.0-or-later
//! Training on the simulated machine, per sample: machine (simulated) time, host time, cores
//! and multicast packets, for the iris and digits example models; and, measured side by side
//! in the same run, the host reference's time per sample for scale.
//!
//! Run: `cargo bench --bench nn` (knobs: `IRIS_EPOCHS=N` (default 5), `DIGITS_SAMPLES=N` training
//! samples of digits for one epoch (default 300)).

use std::time::Instant;

mod common;

fn bench(name: &str, epochs: usize, train_samples: usize) {
    let (spec, mut train, mut test) = common::model(name);
    train.x.truncate(train_samples);
    train.y.truncate(train_samples);
    // Per training sample: no evaluation pass in the measured run.
    test.x.clear();
    test.y.clear();
    let mut model = spec.build();
    let mut host = model.clone();
    let (run, machine_host) = common::train_on_spinn3(&spec, &mut model, &train, &test, epochs);
    let t = Instant::now();
    host.fit(&train.x, &train.y, epochs, spec.training.shuffle_seed)
        .unwrap();
    let reference_host = t.elapsed().as_secs_f64();
    let n = (epochs * train.len()) as f64;
    // The run ends when the last sample is done (the input core then stops every core).
    let sim_ns = run.sim_time_ns as f64;
    println!(
        "{name}: {} training samples on {} cores: machine {:.1} us/sample, host {:.3} ms/sample \
         ({:.0}x slower than the machine it simulates), {:.1} packets/sample, {} dropped; \
         host reference {:.2} us/sample (simulated training {:.0}x its time)",
        n,
        run.cores,
        sim_ns / n / 1e3,
        machine_host / n * 1e3,
        machine_host / (sim_ns * 1e-9),
        run.packets as f64 / n,
        run.dropped,
        reference_host / n * 1e6,
        machine_host / reference_host,
    );
}

fn main() {
    bench("iris", common::knob("IRIS_EPOCHS", 5) as usize, usize::MAX);
    bench("digits", 1, common::knob("DIGITS_SAMPLES", 300) as usize);
}
