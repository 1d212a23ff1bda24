// SPDX-License-Identifier: GPL-2.0-or-later
//! `Sequential` stack of layers (any kind in [`crate::layers`]) trained by mini-batch SGD,
//! mirroring the Keras API and weight layout so results can be compared directly.

use crate::layers::{Dense, Layer, Shape};
use crate::rng::SplitMix64;
use crate::{Activation, Loss, NnError};

/// Clip probabilities like Keras's `epsilon()` so `ln` never sees 0.
const EPSILON: f32 = 1e-7;

/// The input of a network (`keras.Input(shape=(features,))`): features per sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Input {
    /// Number of features of each sample.
    pub features: usize,
}

impl Input {
    /// An input of `features` features.
    pub fn new(features: usize) -> Self {
        Input { features }
    }
}

/// Plain stochastic gradient descent (no momentum), as `keras.optimizers.SGD`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sgd {
    /// Step size applied to the batch-averaged gradient.
    pub learning_rate: f32,
    /// Samples per update; the last batch of an epoch may be smaller.
    pub batch_size: usize,
}

/// Per-epoch training metrics returned by [`Sequential::fit`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// Mean training loss of each epoch, measured before each batch's update (as Keras logs it).
    pub loss: Vec<f32>,
    /// Training accuracy of each epoch, measured the same way.
    pub accuracy: Vec<f32>,
}

/// One layer of a model with its shapes and weights (Keras order).
#[derive(Debug, Clone)]
struct Slot {
    spec: Layer,
    /// Where its inputs come from: the model's input (`None`) or earlier layers.
    sources: Vec<Option<usize>>,
    /// Its input's shape (a merge layer's inputs stacked, flat).
    input: Shape,
    output: Shape,
    params: Vec<Vec<f32>>,
}

/// A Keras-like model: a stack of layers, or (with [`Sequential::try_add_from`]) a graph in
/// which a layer may take several earlier layers' outputs (`Add`, `Concatenate`), as Keras's
/// functional models do. The last layer is the output.
#[derive(Debug, Clone)]
pub struct Sequential {
    input: Shape,
    layers: Vec<Slot>,
    loss: Option<Loss>,
    optimizer: Option<Sgd>,
}

/// The sample order used for `epoch` of a fit: `0..n` when `seed` is `None`,
/// otherwise a Fisher-Yates shuffle by a SplitMix64 seeded from `seed` and
/// `epoch`, so an on-machine run can reproduce any epoch independently.
pub fn epoch_order(n: usize, seed: Option<u64>, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    if let Some(seed) = seed {
        // Mix the epoch through one SplitMix64 step so nearby seeds/epochs diverge.
        let mixed =
            SplitMix64::new(seed ^ (epoch as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)).next_u64();
        SplitMix64::new(mixed).shuffle(&mut order);
    }
    order
}

fn activate(activation: Activation, z: &[f32]) -> Vec<f32> {
    match activation {
        Activation::Identity => z.to_vec(),
        Activation::Relu => z.iter().map(|&v| v.max(0.0)).collect(),
        Activation::Sigmoid => z.iter().map(|&v| 1.0 / (1.0 + (-v).exp())).collect(),
        Activation::Tanh => z.iter().map(|&v| v.tanh()).collect(),
        Activation::Softmax => {
            // Subtract the maximum so exp never overflows.
            let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let e: Vec<f32> = z.iter().map(|&v| (v - max).exp()).collect();
            let sum: f32 = e.iter().sum();
            e.iter().map(|&v| v / sum).collect()
        }
    }
}

/// [`activate`] over a layer whose last axis has `group` values: softmax normalises each
/// position's group (Keras's softmax on axis -1), the other activations are element-wise.
fn activate_layer(activation: Activation, z: &[f32], group: usize) -> Vec<f32> {
    if activation != Activation::Softmax || group == 0 || group >= z.len() {
        return activate(activation, z);
    }
    z.chunks(group)
        .flat_map(|g| activate(activation, g))
        .collect()
}

/// [`activation_backward`] per group of `group` values, as [`activate_layer`].
fn activation_backward_layer(
    activation: Activation,
    z: &[f32],
    a: &[f32],
    grad: &[f32],
    group: usize,
) -> Vec<f32> {
    if activation != Activation::Softmax || group == 0 || group >= z.len() {
        return activation_backward(activation, z, a, grad);
    }
    z.chunks(group)
        .zip(a.chunks(group))
        .zip(grad.chunks(group))
        .flat_map(|((z, a), g)| activation_backward(activation, z, a, g))
        .collect()
}

/// Turns dL/da into dL/dz for one layer (`z` pre-activations, `a` outputs).
fn activation_backward(activation: Activation, z: &[f32], a: &[f32], grad: &[f32]) -> Vec<f32> {
    match activation {
        Activation::Identity => grad.to_vec(),
        Activation::Relu => grad
            .iter()
            .zip(z)
            .map(|(&g, &v)| if v > 0.0 { g } else { 0.0 })
            .collect(),
        Activation::Sigmoid => grad
            .iter()
            .zip(a)
            .map(|(&g, &s)| g * s * (1.0 - s))
            .collect(),
        Activation::Tanh => grad
            .iter()
            .zip(a)
            .map(|(&g, &t)| g * (1.0 - t * t))
            .collect(),
        Activation::Softmax => {
            // Full Jacobian: dz_i = s_i (g_i - sum_j g_j s_j).
            let dot: f32 = grad.iter().zip(a).map(|(&g, &s)| g * s).sum();
            grad.iter().zip(a).map(|(&g, &s)| s * (g - dot)).collect()
        }
    }
}

/// Loss of one sample.
fn sample_loss(loss: Loss, p: &[f32], y: &[f32]) -> f32 {
    let n = p.len() as f32;
    match loss {
        Loss::MeanSquaredError => {
            p.iter()
                .zip(y)
                .map(|(&p, &y)| (p - y) * (p - y))
                .sum::<f32>()
                / n
        }
        Loss::BinaryCrossEntropy => {
            -p.iter()
                .zip(y)
                .map(|(&p, &y)| {
                    let p = p.clamp(EPSILON, 1.0 - EPSILON);
                    y * p.ln() + (1.0 - y) * (1.0 - p).ln()
                })
                .sum::<f32>()
                / n
        }
        Loss::CategoricalCrossEntropy => -p
            .iter()
            .zip(y)
            .map(|(&p, &y)| y * p.clamp(EPSILON, 1.0).ln())
            .sum::<f32>(),
    }
}

/// dL/dp of one sample (before the output activation).
fn loss_gradient(loss: Loss, p: &[f32], y: &[f32]) -> Vec<f32> {
    let n = p.len() as f32;
    match loss {
        Loss::MeanSquaredError => p.iter().zip(y).map(|(&p, &y)| 2.0 * (p - y) / n).collect(),
        Loss::BinaryCrossEntropy => p
            .iter()
            .zip(y)
            .map(|(&p, &y)| {
                let p = p.clamp(EPSILON, 1.0 - EPSILON);
                (p - y) / (p * (1.0 - p)) / n
            })
            .collect(),
        Loss::CategoricalCrossEntropy => p
            .iter()
            .zip(y)
            .map(|(&p, &y)| -y / p.clamp(EPSILON, 1.0))
            .collect(),
    }
}

fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// The class an output vector (or one-hot target) stands for: 0 or 1 by a 0.5 threshold for a
/// single output, else the index of the largest value (the first, on a tie).
pub fn predicted_class(v: &[f32]) -> usize {
    if v.len() == 1 {
        usize::from(v[0] >= 0.5)
    } else {
        argmax(v)
    }
}

/// Whether a prediction counts as correct: it stands for the target's class.
fn correct(p: &[f32], y: &[f32]) -> bool {
    predicted_class(p) == predicted_class(y)
}

impl Sequential {
    /// A model built as Keras's `Sequential([Input(...), Dense(...), ...])`: not yet compiled,
    /// parameters zero until [`Sequential::init`].
    pub fn from_layers(input: Input, layers: &[Dense]) -> Self {
        let mut m = Sequential::new(input.features);
        for &l in layers {
            m.add(l);
        }
        m
    }

    /// An empty model taking `inputs` features per sample.
    pub fn new(inputs: usize) -> Self {
        Sequential::with_shape(vec![inputs])
    }

    /// An empty model taking samples of shape `input` (e.g. `[8, 8, 1]`, channels last).
    pub fn with_shape(input: Shape) -> Self {
        Sequential {
            input,
            layers: Vec::new(),
            loss: None,
            optimizer: None,
        }
    }

    /// Appends a layer; its parameters are zero until [`Sequential::init`].
    ///
    /// # Panics
    /// If the layer cannot take the output of the layer before (see [`Sequential::try_add`]).
    pub fn add(&mut self, layer: impl Into<Layer>) -> &mut Self {
        let layer = layer.into();
        if let Err(e) = self.try_add(layer) {
            panic!("{e}");
        }
        self
    }

    /// Appends a layer, or says why it cannot take the output of the layer before.
    pub fn try_add(&mut self, layer: impl Into<Layer>) -> Result<&mut Self, NnError> {
        let previous = self.layers.len().checked_sub(1);
        self.try_add_from(layer, &[previous])
    }

    /// Appends a layer taking the outputs of `sources` (`None`: the model's input; otherwise
    /// an earlier layer's index), or says why it cannot. Only `Add` and `Concatenate` take
    /// more than one; their input shapes are filled in here.
    pub fn try_add_from(
        &mut self,
        layer: impl Into<Layer>,
        sources: &[Option<usize>],
    ) -> Result<&mut Self, NnError> {
        let mut spec = layer.into();
        let k = self.layers.len();
        let shapes = sources
            .iter()
            .map(|s| match *s {
                None => Ok(self.input.clone()),
                Some(j) if j < k => Ok(self.layers[j].output.clone()),
                Some(j) => Err(NnError::Shape(format!(
                    "layer {k} ({}) takes layer {j}, which does not come before it",
                    spec.keras_class()
                ))),
            })
            .collect::<Result<Vec<Shape>, NnError>>()?;
        let input = spec.connect(&shapes).map_err(|e| match e {
            NnError::Shape(m) => NnError::Shape(format!("layer {k}: {m}")),
            other => other,
        })?;
        let at = |e: NnError| match e {
            NnError::Shape(m) => NnError::Shape(format!("layer {k} ({}): {m}", spec.keras_class())),
            other => other,
        };
        let output = spec.output_shape(&input).map_err(at)?;
        let params = spec
            .param_shapes(&input)
            .map_err(at)?
            .iter()
            .map(|s| vec![0.0; s.iter().product()])
            .collect();
        self.layers.push(Slot {
            spec,
            sources: sources.to_vec(),
            input,
            output,
            params,
        });
        Ok(self)
    }

    /// Sets the loss and optimiser used by `fit` and `evaluate`.
    pub fn compile(&mut self, loss: Loss, optimizer: Sgd) -> &mut Self {
        self.loss = Some(loss);
        self.optimizer = Some(optimizer);
        self
    }

    /// Glorot-uniform kernels (limit `sqrt(6 / (fan_in + fan_out))`) drawn in
    /// Keras order from one SplitMix64 seeded by `seed`; zero biases.
    pub fn init(&mut self, seed: u64) -> &mut Self {
        let mut rng = SplitMix64::new(seed);
        for layer in &mut self.layers {
            let Some((kernel, rest)) = layer.params.split_first_mut() else {
                continue;
            };
            let (fan_in, fan_out) = layer.spec.fans(&layer.input).expect("checked when added");
            let limit = (6.0 / (fan_in + fan_out) as f32).sqrt();
            for w in kernel {
                *w = (rng.next_f32() * 2.0 - 1.0) * limit;
            }
            rest.iter_mut().flatten().for_each(|b| *b = 0.0);
        }
        self
    }

    /// Number of input values per sample (the product of the input shape).
    pub fn inputs(&self) -> usize {
        self.input.iter().product()
    }

    /// The shape of a sample.
    pub fn input_shape(&self) -> &Shape {
        &self.input
    }

    /// Number of outputs (the last layer's values, or the inputs when empty).
    pub fn outputs(&self) -> usize {
        self.output_shape().iter().product()
    }

    /// The shape of the last layer's output (the input's when empty).
    pub fn output_shape(&self) -> Shape {
        self.layers
            .last()
            .map_or_else(|| self.input.clone(), |l| l.output.clone())
    }

    /// The layer descriptions in order.
    pub fn layers(&self) -> Vec<Layer> {
        self.layers.iter().map(|l| l.spec.clone()).collect()
    }

    /// The input shape of layer `k`.
    pub fn layer_input(&self, k: usize) -> &Shape {
        &self.layers[k].input
    }

    /// Where layer `k`'s inputs come from (`None`: the model's input).
    pub fn layer_sources(&self, k: usize) -> &[Option<usize>] {
        &self.layers[k].sources
    }

    /// The output shape of layer `k`.
    pub fn layer_output(&self, k: usize) -> &Shape {
        &self.layers[k].output
    }

    /// Index in [`Sequential::get_weights`] of layer `k`'s first array.
    pub fn first_weight(&self, k: usize) -> usize {
        self.layers[..k].iter().map(|l| l.params.len()).sum()
    }

    /// The compiled loss, if any.
    pub fn loss(&self) -> Option<Loss> {
        self.loss
    }

    /// The compiled optimiser, if any.
    pub fn optimizer(&self) -> Option<Sgd> {
        self.optimizer
    }

    /// Weights in Keras order: per layer with weights, its kernel (row-major, Keras's shape)
    /// then its bias.
    pub fn get_weights(&self) -> Vec<Vec<f32>> {
        self.layers
            .iter()
            .flat_map(|l| l.params.iter().cloned())
            .collect()
    }

    /// Replaces all weights (layout of [`Sequential::get_weights`]); nothing changes on error.
    pub fn set_weights(&mut self, weights: &[Vec<f32>]) -> Result<(), NnError> {
        let expected: usize = self.layers.iter().map(|l| l.params.len()).sum();
        if weights.len() != expected {
            return Err(NnError::WeightCount {
                expected,
                found: weights.len(),
            });
        }
        // Check everything first so a failed call leaves the model untouched.
        let mut index = 0;
        for (k, layer) in self.layers.iter().enumerate() {
            let shapes = layer.spec.param_shapes(&layer.input)?;
            for (n, shape) in shapes.iter().enumerate() {
                let what = match (n, shape.as_slice()) {
                    (0, &[i, u]) => format!("layer {k} kernel [{i} x {u}]"),
                    (0, _) => format!("layer {k} kernel {shape:?}"),
                    _ => format!("layer {k} bias {shape:?}"),
                };
                let expected = shape.iter().product();
                if weights[index].len() != expected {
                    return Err(NnError::WeightShape {
                        index,
                        what,
                        expected,
                        found: weights[index].len(),
                    });
                }
                index += 1;
            }
        }
        let mut it = weights.iter();
        for layer in &mut self.layers {
            for p in &mut layer.params {
                p.copy_from_slice(it.next().expect("counted above"));
            }
        }
        Ok(())
    }

    /// The input layer `k` sees, given every output so far (`acts[0]` the sample's, `acts[j +
    /// 1]` layer j's): one source's output, or a merge layer's sources stacked.
    fn input_of(&self, k: usize, acts: &[Vec<f32>]) -> Vec<f32> {
        let at = |s: &Option<usize>| s.map_or(0, |j| j + 1);
        match self.layers[k].sources.as_slice() {
            [one] => acts[at(one)].clone(),
            many => many
                .iter()
                .flat_map(|s| acts[at(s)].iter().copied())
                .collect(),
        }
    }

    /// Pre-activations and outputs of every layer for one sample (`acts[0]` is the sample).
    fn forward(&self, x: &[f32]) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
        let mut zs = Vec::with_capacity(self.layers.len());
        let mut acts = Vec::with_capacity(self.layers.len() + 1);
        acts.push(x.to_vec());
        for (k, layer) in self.layers.iter().enumerate() {
            let input = self.input_of(k, &acts);
            let z = layer.spec.forward(&layer.input, &layer.params, &input);
            let group = *layer.output.last().expect("a shape");
            acts.push(activate_layer(layer.spec.activation(), &z, group));
            zs.push(z);
        }
        (zs, acts)
    }

    /// Outputs for each sample.
    ///
    /// # Panics
    /// If a sample does not have [`Sequential::inputs`] features.
    pub fn predict(&self, x: &[Vec<f32>]) -> Vec<Vec<f32>> {
        x.iter()
            .map(|s| {
                assert_eq!(
                    s.len(),
                    self.inputs(),
                    "sample has wrong number of features"
                );
                self.forward(s).1.pop().expect("at least the input")
            })
            .collect()
    }

    /// Errors unless `x` and `y` pair up and fit the model's inputs and outputs.
    pub(crate) fn check_data(&self, x: &[Vec<f32>], y: &[Vec<f32>]) -> Result<(), NnError> {
        if x.len() != y.len() {
            return Err(NnError::Shape(format!(
                "{} samples but {} targets",
                x.len(),
                y.len()
            )));
        }
        if let Some((k, s)) = x.iter().enumerate().find(|(_, s)| s.len() != self.inputs()) {
            return Err(NnError::Shape(format!(
                "sample {k} has {} features, model takes {}",
                s.len(),
                self.inputs()
            )));
        }
        if let Some((k, t)) = y
            .iter()
            .enumerate()
            .find(|(_, t)| t.len() != self.outputs())
        {
            return Err(NnError::Shape(format!(
                "target {k} has {} values, model outputs {}",
                t.len(),
                self.outputs()
            )));
        }
        Ok(())
    }

    fn compiled_loss(&self) -> Result<Loss, NnError> {
        self.loss
            .ok_or_else(|| NnError::Shape("model is not compiled (no loss)".into()))
    }

    /// Batch-mean loss and its gradient in [`Sequential::get_weights`] layout,
    /// plus the number of correctly classified samples.
    fn batch_gradient(
        &self,
        loss: Loss,
        x: &[&[f32]],
        y: &[&[f32]],
    ) -> (f32, usize, Vec<Vec<f32>>) {
        let mut grads: Vec<Vec<f32>> = self
            .get_weights()
            .iter()
            .map(|w| vec![0.0; w.len()])
            .collect();
        let mut total = 0.0;
        let mut hits = 0;
        for (xs, ys) in x.iter().zip(y) {
            let (zs, acts) = self.forward(xs);
            let out = acts.last().expect("output");
            total += sample_loss(loss, out, ys);
            hits += usize::from(correct(out, ys));
            let Some(last) = self.layers.len().checked_sub(1) else {
                continue;
            };
            let last_act = self.layers[last].spec.activation();
            let group = *self.layers[last].output.last().expect("a shape");
            let mut delta = if last_act == Activation::Softmax
                && loss == Loss::CategoricalCrossEntropy
                && group == out.len()
            {
                // Combined softmax + cross-entropy gradient: stable and exact for one-hot targets.
                out.iter().zip(ys.iter()).map(|(&p, &t)| p - t).collect()
            } else {
                let g = loss_gradient(loss, out, ys);
                activation_backward_layer(last_act, &zs[last], out, &g, group)
            };
            // dL/d(output) of every layer, summed over the layers that take it.
            let mut douts: Vec<Option<Vec<f32>>> = vec![None; self.layers.len()];
            let mut first = grads.len();
            for k in (0..self.layers.len()).rev() {
                let layer = &self.layers[k];
                first -= layer.params.len();
                if k != last {
                    let Some(dout) = douts[k].take() else {
                        continue; // its output goes nowhere
                    };
                    delta = activation_backward_layer(
                        layer.spec.activation(),
                        &zs[k],
                        &acts[k + 1],
                        &dout,
                        *layer.output.last().expect("a shape"),
                    );
                }
                let input = self.input_of(k, &acts);
                let want_dx = layer.sources.iter().any(Option::is_some);
                let g = &mut grads[first..first + layer.params.len()];
                let back =
                    layer
                        .spec
                        .backward(&layer.input, &layer.params, &input, &delta, g, want_dx);
                if !want_dx {
                    continue;
                }
                let mut at = 0;
                for src in &layer.sources {
                    let n = src.map_or(self.inputs(), |j| self.layers[j].output.iter().product());
                    if let Some(j) = *src {
                        let part = &back[at..at + n];
                        match &mut douts[j] {
                            Some(d) => d.iter_mut().zip(part).for_each(|(d, &v)| *d += v),
                            none => *none = Some(part.to_vec()),
                        }
                    }
                    at += n;
                }
            }
        }
        let n = x.len().max(1) as f32;
        for g in grads.iter_mut().flatten() {
            *g /= n;
        }
        (total / n, hits, grads)
    }

    /// Batch-mean loss and its gradient with respect to every weight, in
    /// [`Sequential::get_weights`] layout (for checks against the machine).
    pub fn gradients(
        &self,
        x: &[Vec<f32>],
        y: &[Vec<f32>],
    ) -> Result<(f32, Vec<Vec<f32>>), NnError> {
        let loss = self.compiled_loss()?;
        self.check_data(x, y)?;
        let xr: Vec<&[f32]> = x.iter().map(Vec::as_slice).collect();
        let yr: Vec<&[f32]> = y.iter().map(Vec::as_slice).collect();
        let (l, _, g) = self.batch_gradient(loss, &xr, &yr);
        Ok((l, g))
    }

    /// Mean loss and accuracy over the samples.
    pub fn evaluate(&self, x: &[Vec<f32>], y: &[Vec<f32>]) -> Result<(f32, f32), NnError> {
        let loss = self.compiled_loss()?;
        self.check_data(x, y)?;
        let mut total = 0.0;
        let mut hits = 0;
        for (p, t) in self.predict(x).iter().zip(y) {
            total += sample_loss(loss, p, t);
            hits += usize::from(correct(p, t));
        }
        let n = x.len().max(1) as f32;
        Ok((total / n, hits as f32 / n))
    }

    /// Mini-batch SGD for `epochs` epochs; batches follow [`epoch_order`].
    pub fn fit(
        &mut self,
        x: &[Vec<f32>],
        y: &[Vec<f32>],
        epochs: usize,
        shuffle_seed: Option<u64>,
    ) -> Result<History, NnError> {
        let loss = self.compiled_loss()?;
        let sgd = self
            .optimizer
            .ok_or_else(|| NnError::Shape("model is not compiled (no optimizer)".into()))?;
        if sgd.batch_size == 0 {
            return Err(NnError::Shape("batch_size must be at least 1".into()));
        }
        self.check_data(x, y)?;
        let mut history = History::default();
        let n = x.len().max(1) as f32;
        for epoch in 0..epochs {
            let order = epoch_order(x.len(), shuffle_seed, epoch);
            let mut total = 0.0;
            let mut hits = 0;
            for batch in order.chunks(sgd.batch_size) {
                let xb: Vec<&[f32]> = batch.iter().map(|&i| x[i].as_slice()).collect();
                let yb: Vec<&[f32]> = batch.iter().map(|&i| y[i].as_slice()).collect();
                let (l, h, grads) = self.batch_gradient(loss, &xb, &yb);
                total += l * batch.len() as f32;
                hits += h;
                let params = self.layers.iter_mut().flat_map(|l| l.params.iter_mut());
                for (p, g) in params.zip(&grads) {
                    for (w, g) in p.iter_mut().zip(g) {
                        *w -= sgd.learning_rate * g;
                    }
                }
            }
            history.loss.push(total / n);
            history.accuracy.push(hits as f32 / n);
        }
        Ok(history)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data;
    use Activation::*;

    fn net(hidden: Activation, out: Activation, loss: Loss) -> Sequential {
        let mut m = Sequential::new(3);
        m.add(Dense::new(4, hidden)).add(Dense::new(3, out));
        m.compile(
            loss,
            Sgd {
                learning_rate: 0.1,
                batch_size: 2,
            },
        );
        m.init(11);
        // Non-zero biases so the bias gradients are exercised away from symmetry.
        let mut w = m.get_weights();
        w[1] = vec![0.1, -0.2, 0.3, 0.05];
        w[3] = vec![-0.1, 0.2, 0.0];
        m.set_weights(&w).unwrap();
        m
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = vec![
            vec![0.5, -1.0, 0.3],
            vec![-0.7, 0.2, 0.9],
            vec![1.1, 0.4, -0.6],
        ];
        let one_hot = vec![
            vec![1.0, 0.0, 0.0],
            vec![0.0, 0.0, 1.0],
            vec![0.0, 1.0, 0.0],
        ];
        let real = vec![
            vec![0.2, -0.4, 0.7],
            vec![0.9, 0.1, -0.3],
            vec![0.0, 0.5, 0.5],
        ];
        let unit = vec![
            vec![0.2, 0.6, 0.7],
            vec![0.9, 0.1, 0.3],
            vec![0.0, 0.5, 1.0],
        ];
        let pairs = [
            (Identity, Loss::MeanSquaredError, &real),
            (Relu, Loss::MeanSquaredError, &real),
            (Tanh, Loss::MeanSquaredError, &real),
            (Sigmoid, Loss::MeanSquaredError, &unit),
            (Softmax, Loss::MeanSquaredError, &one_hot),
            (Sigmoid, Loss::BinaryCrossEntropy, &unit),
            (Softmax, Loss::BinaryCrossEntropy, &one_hot),
            (Sigmoid, Loss::CategoricalCrossEntropy, &one_hot),
            (Softmax, Loss::CategoricalCrossEntropy, &one_hot),
        ];
        for hidden in [Identity, Relu, Sigmoid, Tanh, Softmax] {
            for &(out, loss, y) in &pairs {
                let m = net(hidden, out, loss);
                let (_, g) = m.gradients(&x, y).unwrap();
                let w = m.get_weights();
                for a in 0..w.len() {
                    for b in 0..w[a].len() {
                        let eps = 1e-3;
                        let mut probe = m.clone();
                        let mut wp = w.clone();
                        wp[a][b] += eps;
                        probe.set_weights(&wp).unwrap();
                        let lp = probe.gradients(&x, y).unwrap().0;
                        wp[a][b] -= 2.0 * eps;
                        probe.set_weights(&wp).unwrap();
                        let lm = probe.gradients(&x, y).unwrap().0;
                        let numeric = (lp - lm) / (2.0 * eps);
                        let tol = 2e-3 + 2e-2 * numeric.abs();
                        assert!(
                            (numeric - g[a][b]).abs() < tol,
                            "{hidden:?}->{out:?} {loss:?} w[{a}][{b}]: analytic {} numeric {numeric}",
                            g[a][b]
                        );
                    }
                }
            }
        }
    }

    fn xor_model(seed: u64) -> Sequential {
        let mut m = Sequential::new(2);
        m.add(Dense::new(4, Sigmoid)).add(Dense::new(1, Sigmoid));
        m.compile(
            Loss::MeanSquaredError,
            Sgd {
                learning_rate: 2.0,
                batch_size: 1,
            },
        );
        m.init(seed);
        m
    }

    #[test]
    fn xor_learns() {
        let (x, y) = data::xor();
        let mut m = xor_model(42);
        let h = m.fit(&x, &y, 3000, Some(7)).unwrap();
        assert_eq!(h.loss.len(), 3000);
        let (loss, acc) = m.evaluate(&x, &y).unwrap();
        assert_eq!(acc, 1.0, "loss {loss}, predictions {:?}", m.predict(&x));
        assert!(loss < h.loss[0]);
    }

    #[test]
    fn iris_reaches_90_percent_held_out() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/iris.csv");
        // The project ships its copy (data/README.md), so this always runs.
        let text = std::fs::read_to_string(path).expect("data/iris.csv is committed");
        let d = data::iris_from_csv(&text).unwrap();
        let (mut train, mut test) = data::split(&d, 0.3, 1);
        // Standardised with the training split's statistics, as a model file does.
        let n = crate::table::Normalisation::fit(&train.x);
        n.apply(&mut train.x).unwrap();
        n.apply(&mut test.x).unwrap();
        let mut m = Sequential::new(4);
        m.add(Dense::new(16, Relu)).add(Dense::new(3, Softmax));
        m.compile(
            Loss::CategoricalCrossEntropy,
            Sgd {
                learning_rate: 0.05,
                batch_size: 8,
            },
        );
        m.init(3);
        let h = m.fit(&train.x, &train.y, 100, Some(9)).unwrap();
        let (loss, acc) = m.evaluate(&test.x, &test.y).unwrap();
        eprintln!(
            "iris: train acc {} held-out loss {loss} acc {acc}",
            h.accuracy.last().unwrap()
        );
        assert!(acc >= 0.9, "held-out accuracy {acc}");
    }

    #[test]
    fn weights_round_trip_and_shape_errors() {
        let mut m = Sequential::new(2);
        m.add(Dense::new(3, Relu)).add(Dense::new(1, Sigmoid));
        m.init(5);
        let w = m.get_weights();
        assert_eq!(w.iter().map(Vec::len).collect::<Vec<_>>(), [6, 3, 3, 1]);
        // Glorot limit for fan 2+3 and zero biases.
        assert!(w[0].iter().all(|v| v.abs() <= (6.0f32 / 5.0).sqrt()));
        assert!(w[1].iter().all(|&v| v == 0.0));
        let changed: Vec<Vec<f32>> = w
            .iter()
            .map(|a| a.iter().map(|v| v + 1.0).collect())
            .collect();
        m.set_weights(&changed).unwrap();
        assert_eq!(m.get_weights(), changed);
        // Keras layout: kernel[i * units + j] links input i to unit j.
        let mut k = Sequential::new(2);
        k.add(Dense::new(2, Identity));
        k.set_weights(&[vec![1.0, 2.0, 3.0, 4.0], vec![0.5, 0.0]])
            .unwrap();
        assert_eq!(k.predict(&[vec![1.0, 10.0]]), vec![vec![31.5, 42.0]]);

        assert_eq!(
            m.set_weights(&changed[..3]),
            Err(NnError::WeightCount {
                expected: 4,
                found: 3
            })
        );
        let mut bad = changed.clone();
        bad[2].push(0.0);
        let e = m.set_weights(&bad).unwrap_err();
        assert!(
            matches!(
                e,
                NnError::WeightShape {
                    index: 2,
                    expected: 3,
                    found: 4,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("layer 1 kernel [3 x 1]"), "{e}");
        assert_eq!(
            m.get_weights(),
            changed,
            "failed set_weights must not modify"
        );
    }

    #[test]
    fn same_seeds_give_identical_weights() {
        let (x, y) = data::xor();
        let run = |init, shuffle| {
            let mut m = xor_model(init);
            m.fit(&x, &y, 50, shuffle).unwrap();
            m.get_weights()
        };
        let bits = |w: Vec<Vec<f32>>| w.concat().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(run(1, Some(2))), bits(run(1, Some(2))));
        assert_eq!(bits(run(1, None)), bits(run(1, None)));
        assert_ne!(bits(run(1, Some(2))), bits(run(1, Some(3))));
        assert_ne!(bits(run(1, Some(2))), bits(run(4, Some(2))));
    }

    #[test]
    fn keras_style_construction() {
        let m = Sequential::from_layers(
            Input::new(4),
            &[Dense::new(16, Relu), Dense::new(3, Softmax)],
        );
        assert_eq!((m.inputs(), m.outputs()), (4, 3));
        assert_eq!(
            m.layers(),
            vec![
                Dense::new(16, Relu).into(),
                Layer::from(Dense::new(3, Softmax))
            ]
        );
        assert_eq!(
            m.get_weights().iter().map(Vec::len).collect::<Vec<_>>(),
            [64, 16, 48, 3]
        );
    }

    #[test]
    fn epoch_order_is_a_permutation() {
        assert_eq!(epoch_order(5, None, 3), vec![0, 1, 2, 3, 4]);
        let a = epoch_order(20, Some(1), 0);
        assert_eq!(a, epoch_order(20, Some(1), 0));
        assert_ne!(a, epoch_order(20, Some(1), 1));
        let mut s = a.clone();
        s.sort();
        assert_eq!(s, (0..20).collect::<Vec<_>>());
    }

    #[test]
    fn shape_and_compile_errors() {
        let mut m = Sequential::new(2);
        m.add(Dense::new(1, Sigmoid));
        let (x, y) = data::xor();
        assert!(m.evaluate(&x, &y).is_err());
        m.compile(
            Loss::MeanSquaredError,
            Sgd {
                learning_rate: 0.1,
                batch_size: 2,
            },
        );
        assert!(m.fit(&x, &y[..3], 1, None).is_err());
        assert!(m.fit(&[vec![1.0]], &[vec![0.0]], 1, None).is_err());
        assert!(m.fit(&x, &vec![vec![0.0, 1.0]; 4], 1, None).is_err());
    }
}
