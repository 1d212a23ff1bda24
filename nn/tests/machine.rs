// SPDX-License-Identifier: GPL-2.0-or-later
//! Training on the simulated machine against the host reference.

use spinn_nn::machine::{self, weights_close, MachineOptions};
use spinn_nn::{data, Activation, Dataset, Dense, Loss, Sequential, Sgd};
use spinn_sim::chip::ChipConfig;
use spinn_sim::geometry::MachineDesc;
use spinn_toolchain::target::SimTarget;

fn xor_set() -> Dataset {
    let (x, y) = data::xor();
    Dataset { x, y, class_names: vec!["0".into(), "1".into()] }
}

fn xor_model() -> Sequential {
    let mut m = Sequential::new(2);
    m.add(Dense::new(4, Activation::Sigmoid)).add(Dense::new(1, Activation::Sigmoid));
    m.compile(Loss::MeanSquaredError, Sgd { learning_rate: 2.0, batch_size: 1 });
    m.init(42);
    m
}

#[test]
fn xor_short_run_matches_host() {
    let d = xor_set();
    let mut host = xor_model();
    let mut on_machine = xor_model();
    let epochs = 20;
    host.fit(&d.x, &d.y, epochs, Some(7)).unwrap();
    let mut target = SimTarget::new(MachineDesc::spinn3(), ChipConfig::default());
    let run = machine::train(&mut target, &mut on_machine, &d, &d, epochs, Some(7), &MachineOptions::default(), &mut |_| {}).unwrap();
    eprintln!("{run:?}");
    weights_close(&host.get_weights(), &run.weights).unwrap();
}

#[test]
fn probe_timing() {
    let d = xor_set();
    let mut host = xor_model();
    let mut on_machine = xor_model();
    let epochs = 500;
    host.fit(&d.x, &d.y, epochs, Some(7)).unwrap();
    let t = std::time::Instant::now();
    let mut target = SimTarget::new(MachineDesc::spinn3(), ChipConfig::default());
    let run = machine::train(&mut target, &mut on_machine, &d, &d, epochs, Some(7), &MachineOptions::default(), &mut |_| {}).unwrap();
    eprintln!("host {:?} sim {} ms packets {} acc {}", t.elapsed(), run.sim_time_ns / 1_000_000, run.packets, run.eval_accuracy);
    let hw = host.get_weights();
    let same = hw.concat().iter().zip(run.weights.concat()).filter(|(a, b)| a.to_bits() == b.to_bits()).count();
    eprintln!("bit-identical {same} of {}", hw.concat().len());
    weights_close(&hw, &run.weights).unwrap();
}
