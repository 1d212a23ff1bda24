// SPDX-License-Identifier: GPL-2.0-or-later
//! Layer kinds, one module each: its spec, shapes and parameters, and the host reference's
//! forward and backward passes. [`Layer`] registers them; the machine's side of each kind (how
//! it splits across cores, its parameter words and its firmware kernel) is in
//! `crate::machine::kinds`.
//!
//! Values are channels-last and flattened in row-major order, as Keras lays them out.

pub mod conv;
pub mod dense;
pub mod merge;
pub mod pool;
pub mod reshape;

use crate::{Activation, NnError};
pub use conv::Conv;
pub use dense::Dense;
pub use merge::{Merge, MergeOp};
pub use pool::{Pool, PoolOp};
pub use reshape::Reshape;

/// A sample's shape without the batch dimension, e.g. `[8, 8, 1]` or `[64]`.
pub type Shape = Vec<usize>;

/// How a convolution treats the edges (Keras `padding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Padding {
    #[default]
    /// No padding: windows lie wholly inside the input.
    Valid,
    /// Zero padding so that the output has `ceil(input / stride)` positions.
    Same,
}

/// One layer of a network, of any registered kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layer {
    /// `Dense`.
    Dense(Dense),
    /// `Conv1D`, `Conv2D`.
    Conv(Conv),
    /// `MaxPooling*`, `AveragePooling*`, `GlobalAveragePooling*`.
    Pool(Pool),
    /// `Flatten`, `Reshape`.
    Reshape(Reshape),
    /// `Add`, `Concatenate`: several inputs, seen stacked.
    Merge(Merge),
}

impl From<Dense> for Layer {
    fn from(d: Dense) -> Layer {
        Layer::Dense(d)
    }
}

impl From<Conv> for Layer {
    fn from(c: Conv) -> Layer {
        Layer::Conv(c)
    }
}

impl From<Pool> for Layer {
    fn from(p: Pool) -> Layer {
        Layer::Pool(p)
    }
}

impl From<Reshape> for Layer {
    fn from(r: Reshape) -> Layer {
        Layer::Reshape(r)
    }
}

impl Layer {
    /// The Keras class name (`Dense`, `Conv2D`, `MaxPooling1D`, ...).
    pub fn keras_class(&self) -> &'static str {
        match self {
            Layer::Dense(_) => "Dense",
            Layer::Conv(c) if c.rank == 1 => "Conv1D",
            Layer::Conv(_) => "Conv2D",
            Layer::Pool(p) => match (p.global, p.op, p.rank) {
                (true, _, 1) => "GlobalAveragePooling1D",
                (true, _, _) => "GlobalAveragePooling2D",
                (false, PoolOp::Max, 1) => "MaxPooling1D",
                (false, PoolOp::Max, _) => "MaxPooling2D",
                (false, PoolOp::Average, 1) => "AveragePooling1D",
                (false, PoolOp::Average, _) => "AveragePooling2D",
            },
            Layer::Reshape(Reshape::Flatten) => "Flatten",
            Layer::Reshape(Reshape::To(_)) => "Reshape",
            Layer::Merge(m) if m.op == MergeOp::Add => "Add",
            Layer::Merge(_) => "Concatenate",
        }
    }

    /// Connects the layer to inputs of `shapes` and gives the input shape it sees: a merge
    /// layer records them and sees them stacked (flat); any other kind takes exactly one.
    pub fn connect(&mut self, shapes: &[Shape]) -> Result<Shape, NnError> {
        match (self, shapes) {
            (Layer::Merge(m), _) => {
                m.parts = shapes.to_vec();
                Ok(vec![shapes
                    .iter()
                    .map(|s| s.iter().product::<usize>())
                    .sum()])
            }
            (_, [one]) => Ok(one.clone()),
            (layer, _) => Err(NnError::Shape(format!(
                "a {} layer takes one input, not {}",
                layer.keras_class(),
                shapes.len()
            ))),
        }
    }

    /// The activation applied to its outputs (identity for kinds without one).
    pub fn activation(&self) -> Activation {
        match self {
            Layer::Dense(d) => d.activation,
            Layer::Conv(c) => c.activation,
            Layer::Pool(_) | Layer::Reshape(_) | Layer::Merge(_) => Activation::Identity,
        }
    }

    /// Its output shape for an input of shape `input` (an error if it cannot take it).
    pub fn output_shape(&self, input: &Shape) -> Result<Shape, NnError> {
        match self {
            Layer::Dense(d) => d.inputs(input).map(|_| vec![d.units]),
            Layer::Conv(c) => c.output_shape(input),
            Layer::Pool(p) => p.output_shape(input),
            Layer::Reshape(r) => r.output_shape(input),
            Layer::Merge(m) => {
                let out = m.output_shape()?;
                let stacked: usize = m.parts.iter().map(|p| p.iter().product::<usize>()).sum();
                if input.iter().product::<usize>() != stacked {
                    return Err(NnError::Shape(format!(
                        "{input:?} is not its inputs {:?} stacked",
                        m.parts
                    )));
                }
                Ok(out)
            }
        }
    }

    /// The shapes of its weight arrays in Keras order (none for kinds without weights).
    pub fn param_shapes(&self, input: &Shape) -> Result<Vec<Shape>, NnError> {
        match self {
            Layer::Dense(d) => d.param_shapes(input),
            Layer::Conv(c) => c.param_shapes(input),
            Layer::Pool(_) | Layer::Reshape(_) | Layer::Merge(_) => Ok(Vec::new()),
        }
    }

    /// Keras's (fan in, fan out) of its kernel, for Glorot initialisation.
    pub fn fans(&self, input: &Shape) -> Result<(usize, usize), NnError> {
        Ok(match self {
            Layer::Dense(d) => (d.inputs(input)?, d.units),
            Layer::Conv(c) => {
                let [_, _, ch] = c.input_dims(input)?;
                let field = c.kernel[0] * c.kernel[1];
                (field * ch, field * c.filters)
            }
            Layer::Pool(_) | Layer::Reshape(_) | Layer::Merge(_) => (0, 0),
        })
    }

    /// Pre-activations for one sample `x` of shape `input`, with weights `params`.
    pub(crate) fn forward(&self, input: &Shape, params: &[Vec<f32>], x: &[f32]) -> Vec<f32> {
        match self {
            Layer::Dense(d) => d.forward(&params[0], &params[1], x),
            Layer::Conv(c) => {
                let w = c
                    .window(input)
                    .expect("shapes checked when the layer was added");
                c.forward(&w, &params[0], &params[1], x)
            }
            Layer::Pool(p) => {
                let w = p
                    .window(input)
                    .expect("shapes checked when the layer was added");
                p.forward(&w, x)
            }
            Layer::Reshape(_) => x.to_vec(),
            Layer::Merge(m) => m.forward(x),
        }
    }

    /// Adds one sample's weight gradients for `delta` (dL/dz) to `grads` (the layout of
    /// `params`) and returns dL/dx when `want_dx`.
    pub(crate) fn backward(
        &self,
        input: &Shape,
        params: &[Vec<f32>],
        x: &[f32],
        delta: &[f32],
        grads: &mut [Vec<f32>],
        want_dx: bool,
    ) -> Vec<f32> {
        match self {
            Layer::Dense(d) => {
                let (gk, gb) = grads.split_at_mut(1);
                d.backward(&params[0], x, delta, &mut gk[0], &mut gb[0], want_dx)
            }
            Layer::Conv(c) => {
                let w = c
                    .window(input)
                    .expect("shapes checked when the layer was added");
                let (gk, gb) = grads.split_at_mut(1);
                c.backward(&w, &params[0], x, delta, &mut gk[0], &mut gb[0], want_dx)
            }
            Layer::Pool(p) => {
                let w = p
                    .window(input)
                    .expect("shapes checked when the layer was added");
                p.backward(&w, x, delta)
            }
            Layer::Reshape(_) => delta.to_vec(),
            Layer::Merge(m) => m.backward(delta),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Loss, Sequential, Sgd, SplitMix64};
    use Activation::{Softmax, Tanh};

    fn conv(rank: u8, filters: usize, k: usize, stride: usize, padding: Padding) -> Layer {
        Layer::Conv(Conv::new(rank, filters, k, stride, padding, Tanh))
    }

    fn pool(rank: u8, op: PoolOp, size: usize, stride: usize) -> Layer {
        Layer::Pool(Pool::new(rank, op, size, stride))
    }

    fn global(rank: u8) -> Layer {
        Layer::Pool(Pool::global(rank))
    }

    /// Every layer kind in a small network whose last layer is Dense(3, softmax).
    fn networks() -> Vec<(&'static str, Shape, Vec<Layer>)> {
        use Padding::{Same, Valid};
        use PoolOp::{Average, Max};
        let flat = Layer::Reshape(Reshape::Flatten);
        vec![
            (
                "conv2d valid",
                vec![5, 5, 2],
                vec![conv(2, 3, 3, 1, Valid), flat.clone()],
            ),
            (
                "conv2d same stride 2",
                vec![5, 4, 2],
                vec![conv(2, 2, 3, 2, Same), flat.clone()],
            ),
            (
                "conv2d conv2d",
                vec![5, 5, 1],
                vec![
                    conv(2, 2, 2, 1, Valid),
                    conv(2, 3, 2, 1, Same),
                    flat.clone(),
                ],
            ),
            (
                "conv2d max pooling",
                vec![6, 6, 1],
                vec![conv(2, 2, 3, 1, Valid), pool(2, Max, 2, 2), flat.clone()],
            ),
            (
                "conv2d average pooling stride 1",
                vec![5, 5, 1],
                vec![
                    conv(2, 2, 2, 1, Valid),
                    pool(2, Average, 2, 1),
                    flat.clone(),
                ],
            ),
            (
                "conv2d global average",
                vec![4, 4, 2],
                vec![conv(2, 3, 3, 1, Same), global(2)],
            ),
            (
                "conv1d max pooling",
                vec![7, 2],
                vec![conv(1, 4, 3, 1, Same), pool(1, Max, 2, 2), flat.clone()],
            ),
            (
                "conv1d average pooling",
                vec![8, 1],
                vec![
                    conv(1, 2, 3, 1, Valid),
                    pool(1, Average, 3, 2),
                    flat.clone(),
                ],
            ),
            (
                "conv1d global average",
                vec![6, 2],
                vec![conv(1, 3, 2, 2, Valid), global(1)],
            ),
            (
                "conv2d softmax over channels, dense softmax",
                vec![4, 4, 2],
                vec![
                    Layer::Conv(Conv::new(2, 3, 2, 1, Padding::Valid, Softmax)),
                    flat.clone(),
                    Layer::Dense(Dense::new(5, Softmax)),
                ],
            ),
            (
                "reshape conv1d",
                vec![12],
                vec![
                    Layer::Reshape(Reshape::To(vec![4, 3])),
                    conv(1, 2, 2, 1, Valid),
                    flat,
                ],
            ),
        ]
    }

    fn build(shape: &Shape, layers: &[Layer]) -> Sequential {
        let mut m = Sequential::with_shape(shape.clone());
        for l in layers {
            m.try_add(l.clone()).unwrap();
        }
        finish(&mut m);
        m
    }

    /// Puts a softmax dense head on `m`, compiles it and draws its initial weights.
    fn finish(m: &mut Sequential) {
        m.add(Dense::new(3, Softmax));
        m.compile(
            Loss::CategoricalCrossEntropy,
            Sgd {
                learning_rate: 0.1,
                batch_size: 2,
            },
        );
        m.init(5);
    }

    /// Graphs with merges: a residual block (conv, conv, add the first), and a concatenation
    /// of two branches of the input.
    fn graphs() -> Vec<(&'static str, Sequential)> {
        use Padding::Same;
        let add = || {
            Layer::Merge(Merge {
                op: MergeOp::Add,
                parts: vec![],
            })
        };
        let cat = || {
            Layer::Merge(Merge {
                op: MergeOp::Concatenate,
                parts: vec![],
            })
        };
        let flat = || Layer::Reshape(Reshape::Flatten);
        let mut residual = Sequential::with_shape(vec![4, 4, 1]);
        residual
            .try_add(conv(2, 2, 3, 1, Same))
            .unwrap()
            .try_add(conv(2, 2, 3, 1, Same))
            .unwrap()
            .try_add_from(add(), &[Some(0), Some(1)])
            .unwrap()
            .try_add(flat())
            .unwrap();
        let mut branches = Sequential::with_shape(vec![5, 2]);
        branches
            .try_add_from(conv(1, 2, 3, 1, Same), &[None])
            .unwrap()
            .try_add_from(conv(1, 3, 2, 1, Same), &[None])
            .unwrap()
            .try_add_from(cat(), &[Some(1), Some(0)])
            .unwrap()
            .try_add(flat())
            .unwrap();
        let mut out = vec![
            ("residual add", residual),
            ("concatenate two branches", branches),
        ];
        for (_, m) in &mut out {
            finish(m);
        }
        out
    }

    #[test]
    fn gradients_of_every_kind_match_finite_differences() {
        let stacks = networks()
            .into_iter()
            .map(|(name, shape, layers)| (name, build(&shape, &layers)));
        for (name, mut m) in stacks.chain(graphs()) {
            let shape = m.input_shape().clone();
            // Non-zero biases, so that padding and pooling see varied values.
            let mut w = m.get_weights();
            let mut rng = SplitMix64::new(11);
            for b in w.iter_mut().skip(1).step_by(2) {
                b.iter_mut().for_each(|v| *v = rng.next_f32() - 0.5);
            }
            m.set_weights(&w).unwrap();
            let n: usize = shape.iter().product();
            let x: Vec<Vec<f32>> = (0..2)
                .map(|_| (0..n).map(|_| rng.next_f32() * 2.0 - 1.0).collect())
                .collect();
            let y = vec![vec![1.0, 0.0, 0.0], vec![0.0, 0.0, 1.0]];
            let (_, g) = m.gradients(&x, &y).unwrap();
            for a in 0..w.len() {
                for b in 0..w[a].len() {
                    let eps = 1e-3;
                    let mut probe = m.clone();
                    let mut wp = w.clone();
                    wp[a][b] += eps;
                    probe.set_weights(&wp).unwrap();
                    let lp = probe.gradients(&x, &y).unwrap().0;
                    wp[a][b] -= 2.0 * eps;
                    probe.set_weights(&wp).unwrap();
                    let lm = probe.gradients(&x, &y).unwrap().0;
                    let numeric = (lp - lm) / (2.0 * eps);
                    let tol = 2e-3 + 2e-2 * numeric.abs();
                    assert!(
                        (numeric - g[a][b]).abs() < tol,
                        "{name}: w[{a}][{b}]: analytic {} numeric {numeric}",
                        g[a][b]
                    );
                }
            }
        }
    }

    #[test]
    fn merges_follow_keras() {
        let m = Merge {
            op: MergeOp::Concatenate,
            parts: vec![vec![2, 1], vec![2, 2]],
        };
        assert_eq!(m.output_shape().unwrap(), vec![2, 3]);
        // Inputs stacked: [a0, a1] then [b00, b01, b10, b11]; out per position: a, b, b.
        let x = [1.0, 2.0, 10.0, 11.0, 20.0, 21.0];
        assert_eq!(m.forward(&x), vec![1.0, 10.0, 11.0, 2.0, 20.0, 21.0]);
        assert_eq!(m.backward(&[1.0, 10.0, 11.0, 2.0, 20.0, 21.0]), x.to_vec());
        let add = Merge {
            op: MergeOp::Add,
            parts: vec![vec![3], vec![3]],
        };
        assert_eq!(
            add.forward(&[1.0, 2.0, 3.0, 10.0, 20.0, 30.0]),
            vec![11.0, 22.0, 33.0]
        );
        assert_eq!(
            add.backward(&[1.0, 2.0, 3.0]),
            vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0]
        );
        assert!(Merge {
            op: MergeOp::Add,
            parts: vec![vec![3], vec![4]]
        }
        .output_shape()
        .is_err());
        assert!(Merge {
            op: MergeOp::Concatenate,
            parts: vec![vec![2, 1], vec![3, 1]]
        }
        .output_shape()
        .is_err());
    }

    #[test]
    fn shapes_and_weights_follow_keras() {
        let valid = conv(2, 8, 3, 1, Padding::Valid);
        assert_eq!(valid.output_shape(&vec![8, 8, 1]).unwrap(), vec![6, 6, 8]);
        assert_eq!(
            valid.param_shapes(&vec![8, 8, 1]).unwrap(),
            vec![vec![3, 3, 1, 8], vec![8]]
        );
        // "same" keeps ceil(size / stride) positions.
        let same = conv(2, 4, 3, 2, Padding::Same);
        assert_eq!(same.output_shape(&vec![7, 8, 3]).unwrap(), vec![4, 4, 4]);
        let c1 = conv(1, 5, 3, 1, Padding::Valid);
        assert_eq!(c1.output_shape(&vec![10, 2]).unwrap(), vec![8, 5]);
        assert_eq!(c1.param_shapes(&vec![10, 2]).unwrap()[0], vec![3, 2, 5]);
        assert_eq!(
            pool(2, PoolOp::Max, 2, 2)
                .output_shape(&vec![6, 6, 8])
                .unwrap(),
            vec![3, 3, 8]
        );
        assert_eq!(
            pool(2, PoolOp::Max, 2, 2)
                .output_shape(&vec![7, 7, 1])
                .unwrap(),
            vec![3, 3, 1]
        );
        assert_eq!(global(1).output_shape(&vec![9, 4]).unwrap(), vec![4]);
        assert_eq!(
            Layer::Reshape(Reshape::Flatten)
                .output_shape(&vec![3, 3, 8])
                .unwrap(),
            vec![72]
        );
        // Wrong input ranks and sizes are errors, not panics.
        assert!(valid.output_shape(&vec![64]).is_err());
        assert!(valid.output_shape(&vec![2, 2, 1]).is_err());
        assert!(Layer::Dense(Dense::new(3, Tanh))
            .output_shape(&vec![2, 2])
            .is_err());
        assert!(Layer::Reshape(Reshape::To(vec![5]))
            .output_shape(&vec![2, 2])
            .is_err());
    }

    #[test]
    fn max_pooling_takes_the_first_maximum_and_sends_its_gradient_there() {
        let p = Pool {
            rank: 2,
            op: PoolOp::Max,
            size: [2, 2],
            strides: [2, 2],
            global: false,
        };
        let w = p.window(&vec![2, 2, 1]).unwrap();
        let x = [1.0, 3.0, 3.0, 2.0];
        assert_eq!(p.forward(&w, &x), vec![3.0]);
        assert_eq!(p.backward(&w, &x, &[5.0]), vec![0.0, 5.0, 0.0, 0.0]);
        let avg = Pool {
            op: PoolOp::Average,
            ..p
        };
        assert_eq!(avg.forward(&w, &x), vec![2.25]);
        assert_eq!(avg.backward(&w, &x, &[4.0]), vec![1.0; 4]);
    }
}
