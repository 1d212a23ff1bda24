// SPDX-License-Identifier: GPL-2.0-or-later
//! The board target against the virtual board (`sim::serve`): the same training as on the
//! in-process simulator, bit for bit.

use spinn_hw::geometry::MachineDesc;
use spinn_nn::machine::{self, MachineOptions};
use spinn_nn::ModelSpec;
use spinn_sim::chip::ChipConfig;
use spinn_sim::serve::spawn;
use spinn_toolchain::board::BoardTarget;
use spinn_toolchain::target::{SimTarget, Target};

fn train(target: &mut dyn Target, name: &str, epochs: usize) -> machine::MachineRun {
    let spec = ModelSpec::from_file(format!(
        "{}/../models/{name}.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let (train, test) = spec.load_data().unwrap();
    let mut model = spec.build();
    machine::train(
        target,
        &mut model,
        &train,
        &test,
        epochs,
        spec.training.shuffle_seed,
        &MachineOptions::default(),
        &mut |_| {},
    )
    .unwrap()
}

#[test]
fn xor_on_the_virtual_board_matches_the_simulator_bit_for_bit() {
    let served = spawn(
        MachineDesc::spinn3(),
        ChipConfig::default(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap();
    let mut board = BoardTarget::connect(&served.addr().to_string()).unwrap();
    assert_eq!(board.machine().chips().len(), 4);
    assert!(board.version().starts_with("SC&MP"), "{}", board.version());
    let on_board = train(&mut board, "xor", 30);
    let mut sim = SimTarget::new(MachineDesc::spinn3(), ChipConfig::default());
    let on_sim = train(&mut sim, "xor", 30);
    let bits = |w: &[Vec<f32>]| w.concat().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&on_board.weights), bits(&on_sim.weights));
    assert_eq!(on_board.history, on_sim.history);
    assert_eq!(on_board.predictions, on_sim.predictions);
    assert_eq!(on_board.cores, on_sim.cores);
}
