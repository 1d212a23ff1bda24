// SPDX-License-Identifier: GPL-2.0-or-later
//! `Dense` (`keras.layers.Dense`) on a one-dimensional input: the spec, its shapes, and the
//! host reference's passes. On the machine a dense layer is split by units: each core holds
//! its units' kernel columns (firmware/apps/nn/layer_dense.c, same sums in the same order).

use super::Shape;
use crate::{Activation, NnError};

/// A fully connected layer description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dense {
    /// Number of output units.
    pub units: usize,
    /// Activation applied to the layer's pre-activations.
    pub activation: Activation,
}

impl Dense {
    /// A layer of `units` units with `activation`.
    pub fn new(units: usize, activation: Activation) -> Self {
        Dense { units, activation }
    }

    /// Its inputs: the length of a one-dimensional `input`.
    pub fn inputs(&self, input: &Shape) -> Result<usize, NnError> {
        match input.as_slice() {
            &[n] => Ok(n),
            _ => Err(NnError::Shape(format!(
                "Dense takes a one-dimensional input, got {input:?}: add a Flatten layer before it"
            ))),
        }
    }

    /// Keras's weight shapes: kernel `[inputs, units]`, bias `[units]`.
    pub fn param_shapes(&self, input: &Shape) -> Result<Vec<Shape>, NnError> {
        Ok(vec![
            vec![self.inputs(input)?, self.units],
            vec![self.units],
        ])
    }

    /// Pre-activations of one sample: bias, then inputs in order.
    pub fn forward(&self, kernel: &[f32], bias: &[f32], x: &[f32]) -> Vec<f32> {
        let units = self.units;
        let mut z = bias.to_vec();
        for (i, &ai) in x.iter().enumerate() {
            let row = &kernel[i * units..(i + 1) * units];
            for (zj, &w) in z.iter_mut().zip(row) {
                *zj += ai * w;
            }
        }
        z
    }

    /// Adds one sample's gradients for `delta` (dL/dz) and returns dL/dx (when `want_dx`).
    pub fn backward(
        &self,
        kernel: &[f32],
        x: &[f32],
        delta: &[f32],
        dkernel: &mut [f32],
        dbias: &mut [f32],
        want_dx: bool,
    ) -> Vec<f32> {
        let units = self.units;
        for (i, &ai) in x.iter().enumerate() {
            for (g, &d) in dkernel[i * units..(i + 1) * units].iter_mut().zip(delta) {
                *g += ai * d;
            }
        }
        for (g, &d) in dbias.iter_mut().zip(delta) {
            *g += d;
        }
        if !want_dx {
            return Vec::new();
        }
        (0..x.len())
            .map(|i| {
                let row = &kernel[i * units..(i + 1) * units];
                row.iter().zip(delta).map(|(&w, &d)| w * d).sum()
            })
            .collect()
    }
}
