// SPDX-License-Identifier: GPL-2.0-or-later
//! Helpers shared by the benchmarks: firmware, environment knobs, the plain engine they are
//! measured against, and a machine idling on every core.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use spinn_hw::geometry::MachineDesc;
use spinn_hw::program::Program;
use spinn_nn::machine::{self, MachineOptions, MachineRun};
use spinn_nn::{Dataset, ModelSpec, Sequential};
use spinn_sim::chip::ChipConfig;
use spinn_sim::parallel::{Load, Setup};
use spinn_toolchain::target::SimTarget;
use unicorn_engine::unicorn_const::{Arch, Mode, Permission};
use unicorn_engine::{RegisterARM, Unicorn};

/// The committed firmware `firmware/build/NAME.elf`.
pub fn elf(name: &str) -> Program {
    Program::from_file(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("firmware/build/{name}.elf")),
    )
    .unwrap()
}

/// The number in environment variable `name`, or `default`.
pub fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Host seconds a plain engine of our build (no hooks, TCMs only) takes to run the `bench`
/// firmware's `bench_kernel` for `rounds` rounds.
pub fn plain_engine_seconds(prog: &Program, rounds: u64) -> f64 {
    let mut uc = Unicorn::new(Arch::ARM, Mode::ARM946).unwrap();
    uc.mem_map(0, 0x8000, Permission::ALL).unwrap();
    uc.mem_map(0x40_0000, 0x1_0000, Permission::ALL).unwrap();
    for seg in &prog.segments {
        uc.mem_write(seg.addr as u64, &seg.data).unwrap();
    }
    // The kernel's arrays are in .bss (zero), so skipping the runtime's start-up changes nothing.
    let stop = 0x7F00u64;
    uc.reg_write(RegisterARM::SP, 0x41_0000).unwrap();
    uc.reg_write(RegisterARM::R0, rounds).unwrap();
    uc.reg_write(RegisterARM::LR, stop).unwrap();
    let t = Instant::now();
    uc.emu_start(prog.symbols["bench_kernel"] as u64, stop, 0, 0)
        .unwrap();
    t.elapsed().as_secs_f64()
}

/// `desc` with `program` on every application core of every chip (app ID 30).
pub fn loaded_everywhere(desc: MachineDesc, program: Arc<Program>) -> Setup {
    let mut setup = Setup {
        desc,
        config: ChipConfig::default(),
        loads: vec![],
        routes: vec![],
        pokes: vec![],
        fingerprint: false,
        trace: None,
    };
    for (x, y) in setup.desc.chips() {
        setup.loads.extend((1..18).map(|p| Load {
            x,
            y,
            p,
            program: program.clone(),
            app_id: 30,
        }));
    }
    setup
}

/// The example model `models/NAME.toml` with its training and held-out data.
pub fn model(name: &str) -> (ModelSpec, Dataset, Dataset) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("models/{name}.toml"));
    let spec = ModelSpec::from_file(&path).unwrap();
    let (train, test) = spec.load_data().unwrap();
    (spec, train, test)
}

/// `spec`'s network `model` trained for `epochs` on a simulated SpiNN-3, as `spinn train`
/// does: the run and the host seconds it took.
pub fn train_on_spinn3(
    spec: &ModelSpec,
    model: &mut Sequential,
    train: &Dataset,
    test: &Dataset,
    epochs: usize,
) -> (MachineRun, f64) {
    let opts = MachineOptions::for_model(spec);
    let mut target = SimTarget::new(MachineDesc::spinn3(), ChipConfig::default());
    let t = Instant::now();
    let run = machine::train(
        &mut target,
        model,
        train,
        test,
        epochs,
        spec.training.shuffle_seed,
        &opts,
        &mut |_| {},
    )
    .unwrap();
    (run, t.elapsed().as_secs_f64())
}
