// SPDX-License-Identifier: GPL-2.0-or-later
//! The board target against the virtual board (`sim::serve`): the same training as on the
//! in-process simulator, bit for bit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use spinn_nn::machine::{self, MachineOptions};
use spinn_nn::ModelSpec;
use spinn_sim::chip::ChipConfig;
use spinn_sim::geometry::MachineDesc;
use spinn_sim::serve::{bind, Board};
use spinn_toolchain::board::BoardTarget;
use spinn_toolchain::target::{SimTarget, Target};

struct Served {
    addr: String,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(desc: MachineDesc) -> Served {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    // The machine's engines stay on the thread that made them.
    let thread = std::thread::spawn(move || {
        let socket = bind("127.0.0.1:0".parse().unwrap(), false).unwrap();
        let mut board = Board::new(desc, ChipConfig::default(), socket).unwrap();
        tx.send(board.local_addr().unwrap().to_string()).unwrap();
        board.serve(&flag).unwrap();
    });
    let addr = rx.recv().unwrap();
    Served { addr, stop, thread: Some(thread) }
}

fn train(target: &mut dyn Target, name: &str, epochs: usize) -> machine::MachineRun {
    let spec = ModelSpec::from_file(format!("{}/../models/{name}.toml", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let (train, test) = spec.load_data().unwrap();
    let mut model = spec.build();
    machine::train(target, &mut model, &train, &test, epochs, spec.training.shuffle_seed, &MachineOptions::default(), &mut |_| {})
        .unwrap()
}

#[test]
fn xor_on_the_virtual_board_matches_the_simulator_bit_for_bit() {
    let served = serve(MachineDesc::spinn3());
    let mut board = BoardTarget::connect(&served.addr).unwrap();
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

