// SPDX-License-Identifier: GPL-2.0-or-later
//! `Add` and `Concatenate` (`keras.layers.Add/Concatenate`, along the last axis): layers with
//! several inputs, for graphs such as residual blocks. The layer sees its inputs stacked, one
//! after the other in the order it names them, each in its own channels-last layout. No
//! weights. On the machine a merge layer is split by output channels, like a convolution
//! (firmware/apps/nn/layer_merge.c, same sums in the same order).

use super::Shape;
use crate::NnError;

/// Sum or concatenation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeOp {
    /// Element-wise sum of inputs of one shape.
    Add,
    /// Inputs side by side along the last axis (channels).
    Concatenate,
}

/// A merge layer: its operation and the shapes of its inputs (known once it is placed in a
/// model).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merge {
    /// Sum or concatenation.
    pub op: MergeOp,
    /// Each input's shape, in order.
    pub parts: Vec<Shape>,
}

impl Merge {
    /// The output shape (an error unless the inputs fit the operation).
    pub fn output_shape(&self) -> Result<Shape, NnError> {
        let Some(first) = self.parts.first() else {
            return Err(NnError::Shape("a merge layer needs inputs".into()));
        };
        if self.parts.len() < 2 {
            return Err(NnError::Shape(
                "a merge layer needs at least 2 inputs".into(),
            ));
        }
        let rest = &first[..first.len() - 1];
        match self.op {
            MergeOp::Add => {
                if let Some(p) = self.parts.iter().find(|p| *p != first) {
                    return Err(NnError::Shape(format!(
                        "Add takes inputs of one shape, got {first:?} and {p:?}"
                    )));
                }
                Ok(first.clone())
            }
            MergeOp::Concatenate => {
                if let Some(p) = self
                    .parts
                    .iter()
                    .find(|p| p.len() != first.len() || &p[..p.len() - 1] != rest)
                {
                    return Err(NnError::Shape(format!(
                        "Concatenate joins inputs along their last axis only, got {first:?} and {p:?}"
                    )));
                }
                let mut out = rest.to_vec();
                out.push(self.parts.iter().map(|p| p[p.len() - 1]).sum());
                Ok(out)
            }
        }
    }

    /// Positions (values per channel) and each input's channels.
    pub fn layout(&self) -> (usize, Vec<usize>) {
        let first = &self.parts[0];
        let channels: Vec<usize> = self.parts.iter().map(|p| p[p.len() - 1]).collect();
        (first[..first.len() - 1].iter().product(), channels)
    }

    /// One sample's output from its stacked inputs `x`.
    pub fn forward(&self, x: &[f32]) -> Vec<f32> {
        let (positions, channels) = self.layout();
        let offsets = offsets(positions, &channels);
        match self.op {
            MergeOp::Add => {
                let n = positions * channels[0];
                (0..n)
                    .map(|i| {
                        let mut s = x[i];
                        for &o in &offsets[1..] {
                            s += x[o + i];
                        }
                        s
                    })
                    .collect()
            }
            MergeOp::Concatenate => {
                let mut out = Vec::with_capacity(x.len());
                for p in 0..positions {
                    for (k, &c) in channels.iter().enumerate() {
                        out.extend_from_slice(&x[offsets[k] + p * c..offsets[k] + (p + 1) * c]);
                    }
                }
                out
            }
        }
    }

    /// dL/dx for the stacked inputs from `delta` (dL/d output).
    pub fn backward(&self, delta: &[f32]) -> Vec<f32> {
        let (positions, channels) = self.layout();
        match self.op {
            MergeOp::Add => delta.repeat(channels.len()),
            MergeOp::Concatenate => {
                let total: usize = channels.iter().sum();
                let offsets = offsets(positions, &channels);
                let mut dx = vec![0.0; positions * total];
                for p in 0..positions {
                    let mut ch = 0;
                    for (k, &c) in channels.iter().enumerate() {
                        dx[offsets[k] + p * c..offsets[k] + (p + 1) * c]
                            .copy_from_slice(&delta[p * total + ch..p * total + ch + c]);
                        ch += c;
                    }
                }
                dx
            }
        }
    }
}

/// Where each input starts among the stacked inputs.
fn offsets(positions: usize, channels: &[usize]) -> Vec<usize> {
    channels
        .iter()
        .scan(0, |at, &c| {
            let o = *at;
            *at += positions * c;
            Some(o)
        })
        .collect()
}
