// SPDX-License-Identifier: GPL-2.0-or-later
//! Training on the simulated machine against the host reference.

use spinn_hw::geometry::MachineDesc;
use spinn_nn::machine::{self, weights_close, Arithmetic, MachineOptions};
use spinn_nn::table::Normalisation;
use spinn_nn::{
    data, Activation, Conv, Dataset, Dense, Loss, ModelSpec, Padding, Reshape, Sequential, Sgd,
};
use spinn_sim::chip::ChipConfig;
use spinn_toolchain::target::SimTarget;

fn xor_set() -> Dataset {
    let (x, y) = data::xor();
    Dataset {
        x,
        y,
        class_names: vec!["0".into(), "1".into()],
    }
}

fn xor_model() -> Sequential {
    let mut m = Sequential::new(2);
    m.add(Dense::new(4, Activation::Sigmoid))
        .add(Dense::new(1, Activation::Sigmoid));
    m.compile(
        Loss::MeanSquaredError,
        Sgd {
            learning_rate: 2.0,
            batch_size: 1,
        },
    );
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
    let run = machine::train(
        &mut target,
        &mut on_machine,
        &d,
        &d,
        epochs,
        Some(7),
        &MachineOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    eprintln!("{run:?}");
    weights_close(&host.get_weights(), &run.weights).unwrap();
}

/// The model file `models/NAME.toml` and its data.
fn model_file(name: &str) -> (ModelSpec, Dataset, Dataset) {
    let path = format!("{}/../models/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    let spec = ModelSpec::from_file(&path).unwrap();
    let (train, test) = spec.load_data().unwrap();
    (spec, train, test)
}

/// Trains `spec`'s network from its initial weights on a simulated `desc` machine, in the
/// model file's sample order.
fn train_on(
    desc: MachineDesc,
    config: ChipConfig,
    spec: &ModelSpec,
    (train, test): (&Dataset, &Dataset),
    epochs: usize,
    opts: &MachineOptions,
) -> Result<machine::MachineRun, machine::MachineError> {
    let mut m = spec.build();
    let mut target = SimTarget::new(desc, config);
    machine::train(
        &mut target,
        &mut m,
        train,
        test,
        epochs,
        spec.training.shuffle_seed,
        opts,
        &mut |_| {},
    )
}

fn bits(w: &[Vec<f32>]) -> Vec<u32> {
    w.concat().iter().map(|v| v.to_bits()).collect()
}

fn iris() -> (Dataset, Dataset) {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../data/iris.csv")).unwrap();
    let (mut train, mut test) = data::split(&data::iris_from_csv(&text).unwrap(), 0.3, 1);
    // Standardised with the training split's statistics, as a model file does.
    let n = Normalisation::fit(&train.x);
    n.apply(&mut train.x).unwrap();
    n.apply(&mut test.x).unwrap();
    (train, test)
}

fn iris_model() -> Sequential {
    let mut m = Sequential::new(4);
    m.add(Dense::new(16, Activation::Relu))
        .add(Dense::new(3, Activation::Softmax));
    m.compile(
        Loss::CategoricalCrossEntropy,
        Sgd {
            learning_rate: 0.05,
            batch_size: 8,
        },
    );
    m.init(3);
    m
}

#[test]
fn lost_packets_are_recovered_and_change_no_bit() {
    // Layers split over several cores, so that every kind of packet crosses cores.
    let d = xor_set();
    let opts = MachineOptions {
        units_per_core: 2,
        ..MachineOptions::default()
    };
    let train = |drop_every: u32| {
        let mut m = xor_model();
        let config = ChipConfig {
            drop_mc_every: drop_every,
            ..ChipConfig::default()
        };
        let mut target = SimTarget::new(MachineDesc::spinn3(), config);
        machine::train(&mut target, &mut m, &d, &d, 10, Some(7), &opts, &mut |_| {}).unwrap()
    };
    let clean = train(0);
    let lossy = train(13);
    assert_eq!(clean.dropped, 0);
    assert!(lossy.dropped > 10, "dropped {}", lossy.dropped);
    assert!(lossy.requests > 0 && lossy.resends > 0, "{lossy:?}");
    assert_eq!(bits(&clean.weights), bits(&lossy.weights));
    assert_eq!(clean.predictions, lossy.predictions);
    assert_eq!(clean.history, lossy.history);
    assert!(lossy.sim_time_ns > clean.sim_time_ns);
}

#[test]
fn split_layers_match_the_host_reference() {
    let (train, test) = iris();
    let mut host = iris_model();
    host.fit(&train.x, &train.y, 3, Some(9)).unwrap();
    for per_core in [16, 5, 2, 1] {
        let mut m = iris_model();
        let opts = MachineOptions {
            units_per_core: per_core,
            ..MachineOptions::default()
        };
        let mut target = SimTarget::new(MachineDesc::spinn3(), ChipConfig::default());
        let run = machine::train(
            &mut target,
            &mut m,
            &train,
            &test,
            3,
            Some(9),
            &opts,
            &mut |_| {},
        )
        .unwrap();
        let slices = |units: u32| units.div_ceil(per_core) as usize;
        assert_eq!(
            run.cores,
            1 + slices(16) + slices(3) + 1,
            "{:?}",
            run.placements
        );
        weights_close(&host.get_weights(), &run.weights)
            .unwrap_or_else(|e| panic!("{per_core} units per core: {e}"));
        let host_pred = host.predict(&test.x);
        for (p, q) in host_pred.iter().zip(&run.predictions) {
            for (a, b) in p.iter().zip(q) {
                assert!(
                    (a - b).abs() < 1e-4,
                    "{per_core}: prediction {a} against {b}"
                );
            }
        }
    }
}

#[test]
fn models_the_machine_cannot_run_are_refused_clearly() {
    let d = xor_set();
    let mut target = SimTarget::new(MachineDesc::single(), ChipConfig::default());
    let sgd = Sgd {
        learning_rate: 0.1,
        batch_size: 1,
    };
    let refusal = |m: &mut Sequential| {
        m.compile(Loss::MeanSquaredError, sgd);
        machine::train(
            &mut SimTarget::new(MachineDesc::single(), ChipConfig::default()),
            m,
            &d,
            &d,
            1,
            None,
            &MachineOptions::default(),
            &mut |_| {},
        )
        .unwrap_err()
        .to_string()
    };
    // The loss core takes the last layer's units: it must be dense.
    let mut m = Sequential::with_shape(vec![2, 1]);
    m.add(Conv::new(1, 1, 2, 1, Padding::Valid, Activation::Sigmoid))
        .add(Reshape::Flatten);
    let e = refusal(&mut m);
    assert!(e.contains("the last layer must be Dense"), "{e}");
    // A hidden softmax layer stays whole on one core; this one does not fit.
    let mut m = Sequential::new(2);
    m.add(Dense::new(4000, Activation::Softmax))
        .add(Dense::new(1, Activation::Sigmoid));
    let e = refusal(&mut m);
    assert!(
        e.contains("softmax needs all of the layer's 4000 units"),
        "{e}"
    );

    let mut wide = Sequential::new(2);
    wide.add(Dense::new(300, Activation::Relu))
        .add(Dense::new(1, Activation::Sigmoid));
    wide.compile(
        Loss::MeanSquaredError,
        Sgd {
            learning_rate: 0.1,
            batch_size: 1,
        },
    );
    let opts = MachineOptions {
        units_per_core: 1,
        ..MachineOptions::default()
    };
    let e =
        machine::train(&mut target, &mut wide, &d, &d, 1, None, &opts, &mut |_| {}).unwrap_err();
    assert!(
        e.to_string().contains("layer 0 would need 300 cores"),
        "{e}"
    );
    let mut fits = Sequential::new(2);
    fits.add(Dense::new(40, Activation::Relu))
        .add(Dense::new(1, Activation::Sigmoid));
    fits.compile(
        Loss::MeanSquaredError,
        Sgd {
            learning_rate: 0.1,
            batch_size: 1,
        },
    );
    let opts = MachineOptions {
        units_per_core: 2,
        ..MachineOptions::default()
    };
    let e =
        machine::train(&mut target, &mut fits, &d, &d, 1, None, &opts, &mut |_| {}).unwrap_err();
    assert!(
        e.to_string()
            .contains("the machine has 17 application cores"),
        "{e}"
    );

    let opts = MachineOptions {
        firmware: Some("/nonexistent/nn.elf".into()),
        ..MachineOptions::default()
    };
    let e = machine::train(
        &mut target,
        &mut xor_model(),
        &d,
        &d,
        1,
        None,
        &opts,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("/nonexistent/nn.elf"), "{e}");

    let bad = Dataset {
        x: vec![vec![1.0; 3]],
        y: vec![vec![1.0]],
        class_names: vec![],
    };
    let e = machine::train(
        &mut target,
        &mut xor_model(),
        &bad,
        &d,
        1,
        None,
        &MachineOptions::default(),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("3 features"), "{e}");
}

#[test]
fn training_converges_to_the_same_bits_at_every_loss_rate() {
    // Every router drops every Nth multicast packet, N = 2 (half of them) to 23: resend
    // requests may be lost too, and a fixed round trip would lose the same packets for ever
    // without the copies that each further timeout asks for.
    for (name, epochs) in [("xor", None), ("iris", Some(2))] {
        let (spec, train, test) = model_file(name);
        let opts = MachineOptions::for_model(&spec);
        let epochs = epochs.unwrap_or(spec.training.epochs);
        let run = |drop_every: u32| {
            let config = ChipConfig {
                drop_mc_every: drop_every,
                ..ChipConfig::default()
            };
            train_on(
                MachineDesc::spinn3(),
                config,
                &spec,
                (&train, &test),
                epochs,
                &opts,
            )
            .unwrap_or_else(|e| panic!("{name}, dropping every {drop_every}: {e}"))
        };
        let clean = run(0);
        for n in 2..=23 {
            let lossy = run(n);
            assert!(lossy.dropped > 0, "{name} {n}");
            assert_eq!(bits(&clean.weights), bits(&lossy.weights), "{name} {n}");
            assert_eq!(clean.predictions, lossy.predictions, "{name} {n}");
            assert_eq!(clean.history, lossy.history, "{name} {n}");
        }
    }
}

#[test]
fn pipelined_training_gives_the_same_bits_as_one_sample_at_a_time() {
    // Samples of a batch overlap on the machine at depths 2, 4 and 8; gradients still add up
    // in sample order, and a batch's first sample waits for the update before it. digits at
    // 4 units per core (13 cores), with losses at depth 8 on iris.
    let cases = [
        ("xor", 4, 30, 0),
        ("iris", 1000, 1, 0),
        ("iris", 1000, 1, 5),
        ("digits", 40, 1, 0),
    ];
    for (name, samples, epochs, drop_every) in cases {
        let (spec, mut train, mut test) = model_file(name);
        train.x.truncate(samples);
        train.y.truncate(samples);
        test.x.truncate(20);
        test.y.truncate(20);
        let run = |depth: u32, drop_every: u32| {
            let opts = MachineOptions {
                pipeline_depth: depth,
                units_per_core: if name == "digits" { 4 } else { 16 },
                ..MachineOptions::for_model(&spec)
            };
            let config = ChipConfig {
                drop_mc_every: drop_every,
                ..ChipConfig::default()
            };
            let desc = if name == "digits" {
                MachineDesc::spinn5()
            } else {
                MachineDesc::spinn3()
            };
            let data = (&train, &test);
            let run = train_on(desc, config, &spec, data, epochs, &opts)
                .unwrap_or_else(|e| panic!("{name} at depth {depth}: {e}"));
            assert_eq!(run.pipeline_depth, depth, "{name}");
            run
        };
        let one = run(1, 0);
        let depths = if drop_every > 0 {
            vec![8]
        } else {
            vec![2, 4, 8]
        };
        for depth in depths {
            let deep = run(depth, drop_every);
            let what = format!("{name} at depth {depth}, dropping every {drop_every}");
            if drop_every > 0 {
                assert!(deep.dropped > 0, "{what}");
            } else {
                assert_eq!((deep.dropped, deep.requests), (0, 0), "{what}");
                assert!(deep.sim_time_ns < one.sim_time_ns, "{what}: not faster");
            }
            assert_eq!(bits(&one.weights), bits(&deep.weights), "{what}");
            assert_eq!(one.predictions, deep.predictions, "{what}");
            assert_eq!(one.history, deep.history, "{what}");
        }
    }
}

#[test]
fn the_pipeline_is_as_deep_as_dtcm_holds() {
    // 256 inputs into 8 units: each sample in flight needs 2 KiB of inputs and 2 KiB of
    // receive ring beside the 16 KiB of weights and gradients, so 8 do not fit in DTCM and
    // the toolchain goes down to 4. The run proves that the firmware's buffers fit too.
    let mut m = Sequential::new(256);
    m.add(Dense::new(8, Activation::Relu))
        .add(Dense::new(2, Activation::Softmax));
    m.compile(
        Loss::CategoricalCrossEntropy,
        Sgd {
            learning_rate: 0.1,
            batch_size: 4,
        },
    );
    m.init(1);
    let d = Dataset {
        x: (0..8)
            .map(|i| (0..256).map(|j| ((i * 7 + j) % 13) as f32 / 13.0).collect())
            .collect(),
        y: (0..8)
            .map(|i| {
                if i % 2 == 0 {
                    vec![1.0, 0.0]
                } else {
                    vec![0.0, 1.0]
                }
            })
            .collect(),
        class_names: vec![],
    };
    let opts = MachineOptions {
        pipeline_depth: 0,
        ..MachineOptions::default()
    };
    let mut target = SimTarget::new(MachineDesc::spinn3(), ChipConfig::default());
    let run = machine::train(&mut target, &mut m, &d, &d, 1, Some(1), &opts, &mut |_| {}).unwrap();
    assert_eq!(run.pipeline_depth, 4);
}

#[test]
fn paced_layers_drop_nothing_and_more_cores_train_faster() {
    // digits on a SpiNN-5, 30 samples of one epoch, the layers spread over 5, 13, 23 and 44
    // cores (at 4 units per core, slices of unequal size lost packets with a shorter gap).
    let (spec, mut train, mut test) = model_file("digits");
    train.x.truncate(30);
    train.y.truncate(30);
    test.x.clear();
    test.y.clear();
    let run = |units: u32, pace_cycles: u32| {
        let opts = MachineOptions {
            units_per_core: units,
            pace_cycles,
            ..MachineOptions::for_model(&spec)
        };
        let data = (&train, &test);
        let run = train_on(
            MachineDesc::spinn5(),
            ChipConfig::default(),
            &spec,
            data,
            1,
            &opts,
        )
        .unwrap_or_else(|e| panic!("{units} units per core: {e}"));
        let per_sample_us = run.sim_time_ns as f64 / 30.0 / 1e3;
        (run, per_sample_us)
    };
    let mut times = Vec::new();
    for units in [16, 4, 2, 1] {
        let (r, t) = run(units, machine::PACE_CYCLES);
        assert_eq!((r.dropped, r.requests), (0, 0), "{units} units per core");
        times.push(t);
    }
    assert!(
        times[2] < times[0],
        "µs per sample at 16, 4, 2, 1 units: {times:?}"
    );
    // Without pacing the layer slices' bursts overflow routers at 2 units per core.
    let (r, _) = run(2, 0);
    assert!(r.dropped > 0);
}

#[test]
fn unpaced_bursts_cost_time_not_results() {
    // digits_cnn at one unit per core on a SpiNN-5 without pacing: its 20 cores' bursts drop
    // thousands of packets. Every loss is recovered (requests are answered once for all who
    // asked, not once per request copy, which stormed until nothing moved) and the weights
    // are those of the paced run, bit for bit.
    let (spec, mut train, mut test) = model_file("digits_cnn");
    train.x.truncate(10);
    train.y.truncate(10);
    test.x.truncate(2);
    test.y.truncate(2);
    let run = |pace_cycles: u32| {
        let opts = MachineOptions {
            units_per_core: 1,
            pace_cycles,
            ..MachineOptions::for_model(&spec)
        };
        let data = (&train, &test);
        train_on(
            MachineDesc::spinn5(),
            ChipConfig::default(),
            &spec,
            data,
            1,
            &opts,
        )
        .unwrap_or_else(|e| panic!("pace {pace_cycles}: {e}"))
    };
    let paced = run(machine::PACE_CYCLES);
    let unpaced = run(0);
    assert_eq!(paced.dropped, 0);
    assert!(unpaced.dropped > 1000, "{}", unpaced.dropped);
    assert_eq!(bits(&paced.weights), bits(&unpaced.weights));
    assert_eq!(paced.predictions, unpaced.predictions);
}

#[test]
fn fixed_point_trains_iris_about_as_float_does() {
    // Every layer core in s16.15 (nn_s1615.elf): iris still learns, its weights stay near
    // the binary32 run's (not equal: it really computes in fixed point), it is faster than
    // soft float, and pipelining changes no bit of it either.
    let (spec, train, test) = model_file("iris");
    let run = |arithmetic: Arithmetic, depth: u32| {
        let opts = MachineOptions {
            arithmetic,
            pipeline_depth: depth,
            ..MachineOptions::for_model(&spec)
        };
        train_on(
            MachineDesc::spinn3(),
            ChipConfig::default(),
            &spec,
            (&train, &test),
            10,
            &opts,
        )
        .unwrap_or_else(|e| panic!("{} at depth {depth}: {e}", arithmetic.name()))
    };
    let float = run(Arithmetic::Float32, 0);
    let fixed = run(Arithmetic::S16_15, 0);
    let fixed_one = run(Arithmetic::S16_15, 1);
    assert!(fixed.eval_accuracy >= 0.9, "{}", fixed.eval_accuracy);
    assert_ne!(bits(&float.weights), bits(&fixed.weights));
    machine::weights_within(&float.weights, &fixed.weights, 1e-2).unwrap();
    assert!(fixed.sim_time_ns < float.sim_time_ns);
    assert_eq!(bits(&fixed.weights), bits(&fixed_one.weights));
    assert_eq!(fixed.history, fixed_one.history);
}

#[test]
fn a_parameter_block_for_the_other_image_is_refused() {
    // The binary32 image given a block for s16.15: every core stops at once (SWERR) rather
    // than reading fixed-point words as floats.
    let (spec, train, test) = model_file("xor");
    let opts = MachineOptions {
        arithmetic: Arithmetic::S16_15,
        firmware: Some(machine::firmware_for(Arithmetic::Float32)),
        ..MachineOptions::for_model(&spec)
    };
    let e = train_on(
        MachineDesc::spinn3(),
        ChipConfig::default(),
        &spec,
        (&train, &test),
        1,
        &opts,
    )
    .unwrap_err();
    assert!(e.to_string().contains("SWERR"), "{e}");
}

#[test]
fn every_core_starts_once_all_are_set_up() {
    // In s16.15 a first-layer core of digits at 16 units per core takes more than a tick to
    // convert its 1,024 weights; started as soon as it was loaded, the input core's first
    // sample found it not listening (112 drops and a 20 ms timeout). The cores now wait at
    // the SYNC0 barrier until the host releases them together.
    let (spec, mut train, mut test) = model_file("digits");
    train.x.truncate(10);
    train.y.truncate(10);
    test.x.clear();
    test.y.clear();
    let opts = MachineOptions {
        arithmetic: Arithmetic::S16_15,
        units_per_core: 16,
        ..MachineOptions::for_model(&spec)
    };
    let run = train_on(
        MachineDesc::spinn5(),
        ChipConfig::default(),
        &spec,
        (&train, &test),
        1,
        &opts,
    )
    .unwrap();
    assert_eq!((run.dropped, run.requests), (0, 0));
}
