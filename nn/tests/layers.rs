// SPDX-License-Identifier: GPL-2.0-or-later
//! Every layer kind trained on the simulated machine against the host reference: small
//! networks on random data, split over several cores, whose weights must agree after training.

use spinn_hw::geometry::MachineDesc;
use spinn_nn::machine::{self, weights_within, MachineOptions};
use spinn_nn::{
    Activation, Conv, Dataset, Dense, Layer, Loss, Merge, MergeOp, Padding, Pool, PoolOp, Reshape,
    Sequential, Sgd, Shape, SplitMix64,
};
use spinn_sim::chip::ChipConfig;
use spinn_toolchain::target::SimTarget;

fn conv(rank: u8, filters: usize, k: usize, stride: usize, padding: Padding) -> Layer {
    Layer::Conv(Conv::new(
        rank,
        filters,
        k,
        stride,
        padding,
        Activation::Tanh,
    ))
}

fn pool(rank: u8, op: PoolOp, size: usize, stride: usize, global: bool) -> Layer {
    Layer::Pool(if global {
        Pool::global(rank)
    } else {
        Pool::new(rank, op, size, stride)
    })
}

/// Trains `layers` (then Dense(3, softmax)) on `shape`d random samples on the host and on the
/// machine with at most `per_core` output values per core; both must agree.
fn check(name: &str, shape: Shape, layers: Vec<Layer>, per_core: u32) {
    let mut m = Sequential::with_shape(shape);
    for l in layers {
        m.try_add(l).unwrap();
    }
    check_model(name, m, per_core);
}

/// Trains `m` (then Dense(3, softmax)) as [`check`] does.
fn check_model(name: &str, mut m: Sequential, per_core: u32) {
    let shape = m.input_shape().clone();
    m.add(Dense::new(3, Activation::Softmax));
    m.compile(
        Loss::CategoricalCrossEntropy,
        Sgd {
            learning_rate: 0.2,
            batch_size: 3,
        },
    );
    m.init(9);
    let n: usize = shape.iter().product();
    let mut rng = SplitMix64::new(4);
    let x: Vec<Vec<f32>> = (0..12)
        .map(|_| (0..n).map(|_| rng.next_f32() * 2.0 - 1.0).collect())
        .collect();
    let y: Vec<Vec<f32>> = (0..12)
        .map(|i| (0..3).map(|c| f32::from(u8::from(c == i % 3))).collect())
        .collect();
    let d = Dataset {
        x,
        y,
        class_names: vec!["a".into(), "b".into(), "c".into()],
    };
    let mut host = m.clone();
    host.fit(&d.x, &d.y, 2, Some(3)).unwrap();
    let opts = MachineOptions {
        units_per_core: per_core,
        ..MachineOptions::default()
    };
    let mut target = SimTarget::new(MachineDesc::spinn3(), ChipConfig::default());
    let run = machine::train(&mut target, &mut m, &d, &d, 2, Some(3), &opts, &mut |_| {})
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!((run.dropped, run.requests), (0, 0), "{name}");
    // Issue 13's bound: 1e-4, absolute plus relative.
    weights_within(&host.get_weights(), &run.weights, 1e-4)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    // Some layer was split: more layer cores than layers on cores.
    let layer_cores: Vec<&str> = run
        .placements
        .iter()
        .map(|(n, ..)| {
            n.split(" channels")
                .next()
                .unwrap()
                .split(" units")
                .next()
                .unwrap()
        })
        .filter(|n| *n != "input" && *n != "loss")
        .collect();
    let mut distinct = layer_cores.clone();
    distinct.dedup();
    assert!(
        layer_cores.len() > distinct.len(),
        "{name}: {:?}",
        run.placements
    );
}

#[test]
fn conv2d_valid_and_max_pooling() {
    let flat = Layer::Reshape(Reshape::Flatten);
    check(
        "conv2d valid, max pooling",
        vec![6, 6, 2],
        vec![
            conv(2, 4, 3, 1, Padding::Valid),
            pool(2, PoolOp::Max, 2, 2, false),
            flat,
        ],
        8,
    );
}

#[test]
fn pooling_on_its_own_cores() {
    // Pooling fuses into the convolution below it only when it is that convolution's only
    // taker: on the input, or behind a reshape, it has cores of its own.
    let flat = Layer::Reshape(Reshape::Flatten);
    check(
        "max pooling on the input",
        vec![6, 6, 3],
        vec![pool(2, PoolOp::Max, 2, 2, false), flat.clone()],
        9,
    );
    check(
        "conv1d, reshape, average pooling 1d",
        vec![8, 2],
        vec![
            conv(1, 4, 3, 1, Padding::Valid),
            Layer::Reshape(Reshape::To(vec![6, 4])),
            pool(1, PoolOp::Average, 2, 2, false),
            flat,
        ],
        6,
    );
}

#[test]
fn conv2d_same_strided_twice_and_average_pooling() {
    let flat = Layer::Reshape(Reshape::Flatten);
    check(
        "conv2d same stride 2, conv2d, average pooling stride 1",
        vec![6, 5, 1],
        vec![
            conv(2, 3, 3, 2, Padding::Same),
            conv(2, 4, 2, 1, Padding::Same),
            pool(2, PoolOp::Average, 2, 1, false),
            flat,
        ],
        12,
    );
}

#[test]
fn conv1d_and_every_1d_pooling() {
    let flat = Layer::Reshape(Reshape::Flatten);
    check(
        "conv1d same, max pooling 1d",
        vec![10, 2],
        vec![
            conv(1, 4, 3, 1, Padding::Same),
            pool(1, PoolOp::Max, 2, 2, false),
            flat.clone(),
        ],
        10,
    );
    check(
        "reshape, conv1d valid stride 2, average pooling 1d",
        vec![24],
        vec![
            Layer::Reshape(Reshape::To(vec![12, 2])),
            conv(1, 3, 3, 2, Padding::Valid),
            pool(1, PoolOp::Average, 2, 1, false),
            flat,
        ],
        4,
    );
}

#[test]
fn global_average_pooling_1d_and_2d() {
    check(
        "conv1d, global average pooling 1d",
        vec![8, 1],
        vec![
            conv(1, 4, 3, 1, Padding::Valid),
            pool(1, PoolOp::Average, 1, 1, true),
        ],
        2,
    );
    check(
        "conv2d, global average pooling 2d",
        vec![4, 4, 2],
        vec![
            conv(2, 4, 2, 1, Padding::Valid),
            pool(2, PoolOp::Average, 1, 1, true),
        ],
        2,
    );
}

#[test]
fn softmax_on_hidden_layers() {
    // Over each position's channels for a convolution, over the units for a dense layer; both
    // kept on one core.
    check(
        "conv2d softmax, dense softmax",
        vec![5, 5, 1],
        vec![
            Layer::Conv(Conv::new(2, 4, 2, 1, Padding::Valid, Activation::Softmax)),
            Layer::Reshape(Reshape::Flatten),
            Layer::Dense(Dense::new(6, Activation::Softmax)),
            Layer::Dense(Dense::new(5, Activation::Tanh)),
        ],
        4,
    );
}

#[test]
fn residual_add_and_concatenated_branches() {
    let merge = |op| Layer::Merge(Merge { op, parts: vec![] });
    let mut residual = Sequential::with_shape(vec![5, 5, 1]);
    residual
        .try_add(conv(2, 3, 3, 1, Padding::Same))
        .unwrap()
        .try_add(conv(2, 3, 3, 1, Padding::Same))
        .unwrap()
        .try_add_from(merge(MergeOp::Add), &[Some(0), Some(1)])
        .unwrap()
        .try_add(Layer::Reshape(Reshape::Flatten))
        .unwrap();
    check_model("residual add", residual, 25);
    // Two branches of one convolution, joined in the other order, through reshapes.
    let mut branches = Sequential::with_shape(vec![6, 2]);
    branches
        .try_add(conv(1, 2, 3, 1, Padding::Same))
        .unwrap()
        .try_add(conv(1, 3, 2, 1, Padding::Same))
        .unwrap()
        .try_add_from(Layer::Reshape(Reshape::Flatten), &[Some(0)])
        .unwrap()
        .try_add_from(Layer::Reshape(Reshape::To(vec![6, 2])), &[Some(2)])
        .unwrap()
        .try_add_from(merge(MergeOp::Concatenate), &[Some(1), Some(3)])
        .unwrap()
        .try_add(Layer::Reshape(Reshape::Flatten))
        .unwrap();
    check_model("concatenated branches", branches, 6);
}
