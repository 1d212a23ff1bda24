// SPDX-License-Identifier: GPL-2.0-or-later
//! Host reference implementation (plain Rust, `f32`) of Keras-shaped dense
//! networks; training on the simulated SpiNNaker is later compared with it.
#![warn(missing_docs)]

pub mod arrays;
pub mod data;
pub mod machine;
mod model;
mod rng;
pub mod spec;
pub mod table;

pub use data::Dataset;
pub mod layers;
pub use layers::{Conv, Dense, Layer, Merge, MergeOp, Padding, Pool, PoolOp, Reshape, Shape};
pub use model::{epoch_order, predicted_class, History, Input, Sequential, Sgd};
pub use rng::SplitMix64;
pub use spec::{ModelSpec, SpecError, WeightsFile};

use std::fmt;

/// Element-wise (or, for softmax, per-layer) activation function of a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `f(z) = z`.
    Identity,
    /// `f(z) = max(0, z)`.
    Relu,
    /// `f(z) = 1 / (1 + e^-z)`.
    Sigmoid,
    /// `f(z) = tanh(z)`.
    Tanh,
    /// `f(z)_i = e^z_i / sum_j e^z_j` over the layer's units.
    Softmax,
}

/// Training loss, averaged over the batch as Keras does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Mean over the outputs of `(y - y_hat)^2`.
    MeanSquaredError,
    /// Mean over the outputs of `-(y ln p + (1 - y) ln(1 - p))`.
    BinaryCrossEntropy,
    /// `-sum_i y_i ln p_i` over the outputs.
    CategoricalCrossEntropy,
}

/// Errors from building, loading weights into or feeding data to a network.
#[derive(Debug, Clone, PartialEq)]
pub enum NnError {
    /// `set_weights` got the wrong number of arrays.
    WeightCount {
        /// Arrays the model has (two per layer).
        expected: usize,
        /// Arrays supplied.
        found: usize,
    },
    /// One weight array in `set_weights` has the wrong length.
    WeightShape {
        /// Index of the array in Keras order (kernel, bias, kernel, ...).
        index: usize,
        /// What the array is, e.g. "layer 0 kernel [2 x 4]".
        what: String,
        /// Expected number of elements.
        expected: usize,
        /// Supplied number of elements.
        found: usize,
    },
    /// Inputs and targets do not fit the model or each other.
    Shape(String),
    /// A data file line is malformed (line numbers start at 1).
    Data {
        /// 1-based line number in the text.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// A NumPy array (`.npy`, or one of a `.npz`) cannot be used.
    Array {
        /// Which array: `x`, `y`, or a file.
        name: String,
        /// What is wrong with it.
        message: String,
    },
}

impl fmt::Display for NnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NnError::WeightCount { expected, found } => write!(
                f,
                "expected {expected} weight arrays (kernel and bias per layer), got {found}"
            ),
            NnError::WeightShape {
                index,
                what,
                expected,
                found,
            } => write!(
                f,
                "weight array {index} ({what}) needs {expected} values, got {found}"
            ),
            NnError::Shape(message) => write!(f, "shape mismatch: {message}"),
            NnError::Data { line, message } => write!(f, "line {line}: {message}"),
            NnError::Array { name, message } => write!(f, "array {name}: {message}"),
        }
    }
}

impl std::error::Error for NnError {}
