// SPDX-License-Identifier: GPL-2.0-or-later
//! Model files: everything needed to train a network (data, split, layers,
//! loss, optimiser, seeds, machine hints) in one TOML file, and the JSON
//! weights file a trained network is saved to.
//!
//! ```toml
//! name = "iris"
//! [data]
//! file = "../data/iris.csv"   # relative to this file's directory; none for xor
//! format = "iris"             # xor | iris | digits | waves | csv (a table of your own) |
//!                             # npy (file: samples, labels_file: labels) | npz (arrays x, y)
//! test_fraction = 0.3         # held-out share; 0 = evaluate on the training set
//! split_seed = 1
//! normalise = "standard"      # optional: "standard" (learnt on the training split, saved
//!                             # with the weights; default for iris and csv) or "none"
//! # csv only: label = "species" (a column by name, or number from 0; default the last) of
//! # class names or numbers, or label = ["cat", "dog"] (one-hot columns); header = true|false
//! # (default: found out)
//! [model]
//! inputs = 4
//! layers = [ { units = 16, activation = "relu" }, { units = 3, activation = "softmax" } ]
//! loss = "categorical_crossentropy"
//! [training]
//! optimizer = "sgd"
//! learning_rate = 0.2
//! batch_size = 16
//! epochs = 50
//! init_seed = 3               # Sequential::init
//! shuffle_seed = 9            # epoch_order; omit for no shuffling
//! [machine]                   # optional
//! units_per_core = 16         # optional: most output values of one layer on one core
//! pipeline_depth = 4          # optional: most samples in flight at once (default: as many
//!                             # as DTCM holds, up to 8; the weights are the same bits)
//! arithmetic = "s16.15"       # optional: the layer cores' numbers, "float32" (default) or
//!                             # "s16.15" fixed point
//! ```
//!
//! Layers other than dense name their Keras type and take Keras's arguments, on an input
//! given as a shape (channels last), e.g. `models/digits_cnn.toml`:
//!
//! ```toml
//! inputs = [8, 8, 1]
//! layers = [
//!     { type = "conv2d", filters = 8, kernel_size = 3, activation = "relu" },
//!     { type = "max_pooling2d", pool_size = 2 },
//!     { type = "flatten" },
//!     { units = 10, activation = "softmax" },
//! ]
//! ```
//!
//! Types: `dense` (default), `conv1d`, `conv2d` (`filters`, `kernel_size`, `strides`,
//! `padding` = `valid` | `same`, `activation`), `max_pooling1d/2d`, `average_pooling1d/2d`
//! (`pool_size`, `strides`), `global_average_pooling1d/2d`, `flatten`, `reshape`
//! (`target_shape`), `add`, `concatenate`. A layer given an argument its type does not take
//! is refused. Any layer may have a `name` and name the layers it takes in `inputs`
//! (`"input"`: the model's input; default the layer before), so a model is a graph:
//!
//! ```toml
//! layers = [
//!     { name = "c1", type = "conv2d", filters = 4, kernel_size = 3, padding = "same" },
//!     { name = "c2", type = "conv2d", filters = 4, kernel_size = 3, padding = "same" },
//!     { type = "add", inputs = ["c1", "c2"] },
//!     # ...
//! ]
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use spinn_hw::files;

use crate::arrays;
use crate::data::{self, Dataset};
use crate::layers::{Conv, Layer, Merge, MergeOp, Padding, Pool, PoolOp, Reshape, Shape};
use crate::table::{read_csv, CsvOptions, Label, Normalisation};
use crate::{Activation, Dense, History, Loss, NnError, Sequential, Sgd};

/// Where a model description came from, for error messages.
const TEXT_ORIGIN: &str = "<model text>";

/// Errors from reading, checking or using model and weights files.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The model file is not valid TOML or does not fit the format (unknown
    /// field, unknown activation or loss name, wrong type, ...).
    #[error("{origin}: line {line}, column {column}: {message}")]
    Toml {
        /// The model file (or `<model text>`).
        origin: String,
        /// 1-based line of the offending text (0 if unknown).
        line: usize,
        /// 1-based column of the offending text (0 if unknown).
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A value is out of range or inconsistent with the rest of the model.
    #[error("{origin}: {field}: {message}")]
    Invalid {
        /// The model file (or `<model text>`).
        origin: String,
        /// The offending key, e.g. `training.learning_rate` or `model.layers[1].units`.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The data file named by a model could not be read.
    #[error("{origin}: cannot read data file {}: {source}", path.display())]
    DataRead {
        /// The model file (or `<model text>`).
        origin: String,
        /// The resolved data path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The data file is malformed (the error names the line).
    #[error("{}: {source}", path.display())]
    Data {
        /// The data file.
        path: PathBuf,
        /// What is wrong, with its line.
        #[source]
        source: NnError,
    },
    /// A weights file is not valid JSON or does not fit the format.
    #[error("{}: line {line}, column {column}: {message}", path.display())]
    Json {
        /// The weights file.
        path: PathBuf,
        /// 1-based line (0 if unknown).
        line: usize,
        /// 1-based column (0 if unknown).
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// Weights do not fit a model, or a weights file contradicts itself.
    #[error("{origin}: {message}")]
    Weights {
        /// The weights file, or the model name when no file is involved.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// Training or evaluating on the host reference failed.
    #[error("{origin}: {source}")]
    Nn {
        /// The model file (or `<model text>`).
        origin: String,
        /// The error from the network.
        #[source]
        source: NnError,
    },
}

/// Most weights and biases a model file may describe: 2^26, 256 MiB as binary32 for one copy
/// of the weights (the host reference holds a few, training on the machine as many again in
/// SDRAM), far beyond what the simulated machine trains in reasonable time.
pub const MAX_PARAMETERS: u64 = 1 << 26;

/// Valid activation names as written in model files (Keras names).
pub const ACTIVATION_NAMES: &[&str] = &["linear", "relu", "sigmoid", "tanh", "softmax"];

/// Valid loss names as written in model files (Keras names; `mse` is also accepted).
pub const LOSS_NAMES: &[&str] = &[
    "mean_squared_error",
    "mse",
    "binary_crossentropy",
    "categorical_crossentropy",
];

impl Activation {
    /// The Keras name used in model files (`linear` for [`Activation::Identity`]).
    pub fn keras_name(self) -> &'static str {
        match self {
            Activation::Identity => "linear",
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Softmax => "softmax",
        }
    }

    /// The activation with Keras name `name` (also `identity` for `linear`).
    pub fn from_keras_name(name: &str) -> Option<Activation> {
        Some(match name {
            "linear" | "identity" => Activation::Identity,
            "relu" => Activation::Relu,
            "sigmoid" => Activation::Sigmoid,
            "tanh" => Activation::Tanh,
            "softmax" => Activation::Softmax,
            _ => return None,
        })
    }
}

impl Loss {
    /// The Keras name used in model files.
    pub fn keras_name(self) -> &'static str {
        match self {
            Loss::MeanSquaredError => "mean_squared_error",
            Loss::BinaryCrossEntropy => "binary_crossentropy",
            Loss::CategoricalCrossEntropy => "categorical_crossentropy",
        }
    }

    /// The loss with Keras name `name` (also `mse`).
    pub fn from_keras_name(name: &str) -> Option<Loss> {
        Some(match name {
            "mean_squared_error" | "mse" => Loss::MeanSquaredError,
            "binary_crossentropy" => Loss::BinaryCrossEntropy,
            "categorical_crossentropy" => Loss::CategoricalCrossEntropy,
            _ => return None,
        })
    }
}

impl Serialize for Activation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.keras_name())
    }
}

impl<'de> Deserialize<'de> for Activation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Activation::from_keras_name(&name).ok_or_else(|| {
            de::Error::custom(format!(
                "unknown activation {name:?}; valid: {}",
                ACTIVATION_NAMES.join(", ")
            ))
        })
    }
}

impl Serialize for Loss {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.keras_name())
    }
}

impl<'de> Deserialize<'de> for Loss {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Loss::from_keras_name(&name).ok_or_else(|| {
            de::Error::custom(format!(
                "unknown loss {name:?}; valid: {}",
                LOSS_NAMES.join(", ")
            ))
        })
    }
}

/// How a data file is laid out (the loaders in [`crate::data`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataFormat {
    /// The four XOR samples, built in (no file): 2 features, 1 target.
    Xor,
    /// [`data::iris_from_csv`]: size header, one-hot classes (standardised by default).
    Iris,
    /// [`data::digits_from_csv`]: 64 pixels scaled to 0..=1, 10 one-hot classes.
    Digits,
    /// [`data::waves_from_csv`]: 32-step noisy waveforms, 4 one-hot classes.
    Waves,
    /// [`crate::table::read_csv`]: a table of your own, numeric features and a label column
    /// (`label`, `header`; standardised by default).
    Csv,
    /// [`crate::arrays`]: NumPy arrays, samples in `file` and labels in `labels_file` (class
    /// numbers, or targets per sample).
    Npy,
    /// [`crate::arrays`]: a NumPy archive holding arrays `x` (samples) and `y` (labels).
    Npz,
}

impl DataFormat {
    /// Features and targets per sample when fixed by the format (`None` for
    /// iris, whose header says).
    pub fn shape(self) -> Option<(usize, usize)> {
        match self {
            DataFormat::Xor => Some((2, 1)),
            DataFormat::Iris => None,
            DataFormat::Digits => Some((64, 10)),
            DataFormat::Waves => Some((data::WAVE_STEPS, data::WAVE_CLASSES.len())),
            DataFormat::Csv | DataFormat::Npy | DataFormat::Npz => None,
        }
    }

    /// How the format's features are scaled unless `normalise` says otherwise: tables of
    /// measurements are standardised, the image and waveform sets come scaled.
    pub fn default_normalise(self) -> Normalise {
        match self {
            DataFormat::Iris | DataFormat::Csv => Normalise::Standard,
            DataFormat::Xor
            | DataFormat::Digits
            | DataFormat::Waves
            | DataFormat::Npy
            | DataFormat::Npz => Normalise::None,
        }
    }
}

/// How features are scaled before training, and then for every use of the trained model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Normalise {
    /// Zero mean and unit variance per feature, learnt on the training split
    /// ([`Normalisation`]) and saved with the weights.
    Standard,
    /// As the file has them.
    None,
}

impl fmt::Display for DataFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DataFormat::Xor => "xor",
            DataFormat::Iris => "iris",
            DataFormat::Digits => "digits",
            DataFormat::Waves => "waves",
            DataFormat::Csv => "csv",
            DataFormat::Npy => "npy",
            DataFormat::Npz => "npz",
        })
    }
}

/// The `[data]` section: which samples, and how they are split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// Data file, relative to the model file's directory (none for `xor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// Layout of the file.
    pub format: DataFormat,
    /// Share of the samples held out for testing, in `0..1`; 0 evaluates on
    /// the training set (the only choice for `xor`).
    #[serde(default)]
    pub test_fraction: f32,
    /// Seed of [`data::split`].
    #[serde(default)]
    pub split_seed: u64,
    /// csv: the label, a column (name or number from 0) of class names or numbers, or a list
    /// of one-hot columns (default: the last column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
    /// csv: whether the first row names the columns (default: found out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<bool>,
    /// npy: the labels' array file, relative to the model file's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels_file: Option<PathBuf>,
    /// How features are scaled (default: the format's, [`DataFormat::default_normalise`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalise: Option<Normalise>,
}

/// A layer and where its inputs come from (`None`: the model's input).
type Wired = (Layer, Vec<Option<usize>>);

/// Layer kinds a model file names in `type` (Keras's layer names in snake case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerType {
    /// `Dense` (the default when `type` is left out).
    #[default]
    Dense,
    /// `Conv1D`.
    Conv1d,
    /// `Conv2D`.
    Conv2d,
    /// `MaxPooling1D`.
    MaxPooling1d,
    /// `MaxPooling2D`.
    MaxPooling2d,
    /// `AveragePooling1D`.
    AveragePooling1d,
    /// `AveragePooling2D`.
    AveragePooling2d,
    /// `GlobalAveragePooling1D`.
    GlobalAveragePooling1d,
    /// `GlobalAveragePooling2D`.
    GlobalAveragePooling2d,
    /// `Flatten`.
    Flatten,
    /// `Reshape`.
    Reshape,
    /// `Add` (takes `inputs`).
    Add,
    /// `Concatenate` along the last axis (takes `inputs`).
    Concatenate,
}

/// A size given as one number or a list (`kernel_size = 3` or `[3, 3]`; `inputs = 64` or
/// `[8, 8, 1]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Dims {
    /// One number (for a 2-D window: the same in both dimensions).
    One(usize),
    /// One number per dimension.
    Many(Vec<usize>),
}

impl Dims {
    /// As a shape.
    pub fn shape(&self) -> Shape {
        match self {
            Dims::One(n) => vec![*n],
            Dims::Many(v) => v.clone(),
        }
    }

    /// As `[rows, cols]` of a window of `rank` 1 (rows 1) or 2.
    fn window(&self, rank: u8, what: &str) -> Result<[usize; 2], String> {
        let w = match (rank, self) {
            (1, Dims::One(n)) => [1, *n],
            (1, Dims::Many(v)) if v.len() == 1 => [1, v[0]],
            (2, Dims::One(n)) => [*n, *n],
            (2, Dims::Many(v)) if v.len() == 2 => [v[0], v[1]],
            _ => return Err(format!("{what} needs {rank} number(s), got {self:?}")),
        };
        if w.contains(&0) {
            return Err(format!("{what} must be at least 1"));
        }
        Ok(w)
    }
}

fn is_dense(t: &LayerType) -> bool {
    *t == LayerType::Dense
}

/// One layer in the `[model]` section, with Keras's argument names.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerSpec {
    /// A name other layers' `inputs` may give (default `layerK`, K its position).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The layers it takes, by name (`"input"`: the model's input); default the layer before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Vec<String>>,
    /// The kind (default `dense`).
    #[serde(rename = "type", default, skip_serializing_if = "is_dense")]
    pub kind: LayerType,
    /// Dense: number of units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units: Option<usize>,
    /// Dense, convolutions: activation (Keras name, see [`ACTIVATION_NAMES`]; default linear).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation: Option<Activation>,
    /// Convolutions: output channels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<usize>,
    /// Convolutions: window size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_size: Option<Dims>,
    /// Convolutions and pooling: strides (default 1, or the pool size for pooling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strides: Option<Dims>,
    /// Convolutions: `valid` (default) or `same`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub padding: Option<Padding>,
    /// Pooling: window size (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_size: Option<Dims>,
    /// Reshape: the new shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_shape: Option<Vec<usize>>,
}

impl LayerSpec {
    /// A dense layer's spec.
    pub fn dense(units: usize, activation: Activation) -> LayerSpec {
        LayerSpec {
            units: Some(units),
            activation: Some(activation),
            ..LayerSpec::default()
        }
    }

    /// The layer it describes, or what is wrong with it.
    pub fn to_layer(&self) -> Result<Layer, String> {
        use LayerType as T;
        let takes: &[&str] = match self.kind {
            T::Dense => &["units", "activation"],
            T::Conv1d | T::Conv2d => {
                &["filters", "kernel_size", "strides", "padding", "activation"]
            }
            T::MaxPooling1d | T::MaxPooling2d | T::AveragePooling1d | T::AveragePooling2d => {
                &["pool_size", "strides"]
            }
            T::GlobalAveragePooling1d | T::GlobalAveragePooling2d | T::Flatten => &[],
            T::Reshape => &["target_shape"],
            T::Add | T::Concatenate => &[],
        };
        let given = [
            ("units", self.units.is_some()),
            ("activation", self.activation.is_some()),
            ("filters", self.filters.is_some()),
            ("kernel_size", self.kernel_size.is_some()),
            ("strides", self.strides.is_some()),
            ("padding", self.padding.is_some()),
            ("pool_size", self.pool_size.is_some()),
            ("target_shape", self.target_shape.is_some()),
        ];
        if let Some((name, _)) = given.iter().find(|(n, set)| *set && !takes.contains(n)) {
            let kind =
                toml::Value::try_from(self.kind).map_or_else(|_| "?".into(), |v| v.to_string());
            return Err(format!("a {kind} layer takes no `{name}`"));
        }
        let activation = self.activation.unwrap_or(Activation::Identity);
        let rank = match self.kind {
            T::Conv1d | T::MaxPooling1d | T::AveragePooling1d | T::GlobalAveragePooling1d => 1,
            _ => 2,
        };
        let pool = |op: PoolOp| -> Result<Layer, String> {
            let size = self
                .pool_size
                .as_ref()
                .unwrap_or(&Dims::One(2))
                .window(rank, "pool_size")?;
            let strides = match &self.strides {
                Some(s) => s.window(rank, "strides")?,
                None => size,
            };
            Ok(Layer::Pool(Pool {
                rank,
                op,
                size,
                strides,
                global: false,
            }))
        };
        Ok(match self.kind {
            T::Dense => match self.units {
                Some(units) if units > 0 => Layer::Dense(Dense::new(units, activation)),
                _ => return Err("a dense layer needs `units` of at least 1".into()),
            },
            T::Conv1d | T::Conv2d => {
                let filters = match self.filters {
                    Some(f) if f > 0 => f,
                    _ => return Err("a convolution needs `filters` of at least 1".into()),
                };
                let Some(kernel) = &self.kernel_size else {
                    return Err("a convolution needs `kernel_size`".into());
                };
                Layer::Conv(Conv {
                    rank,
                    filters,
                    kernel: kernel.window(rank, "kernel_size")?,
                    strides: self
                        .strides
                        .as_ref()
                        .unwrap_or(&Dims::One(1))
                        .window(rank, "strides")?,
                    padding: self.padding.unwrap_or_default(),
                    activation,
                })
            }
            T::MaxPooling1d | T::MaxPooling2d => pool(PoolOp::Max)?,
            T::AveragePooling1d | T::AveragePooling2d => pool(PoolOp::Average)?,
            T::GlobalAveragePooling1d | T::GlobalAveragePooling2d => Layer::Pool(Pool {
                rank,
                op: PoolOp::Average,
                size: [1, 1],
                strides: [1, 1],
                global: true,
            }),
            T::Flatten => Layer::Reshape(Reshape::Flatten),
            T::Add => Layer::Merge(Merge {
                op: MergeOp::Add,
                parts: Vec::new(),
            }),
            T::Concatenate => Layer::Merge(Merge {
                op: MergeOp::Concatenate,
                parts: Vec::new(),
            }),
            T::Reshape => match &self.target_shape {
                Some(t) => Layer::Reshape(Reshape::To(t.clone())),
                None => return Err("a reshape layer needs `target_shape`".into()),
            },
        })
    }
}

/// The `[model]` section: the network's shape and loss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// The shape of a sample: features per sample, or e.g. `[8, 8, 1]` (channels last).
    pub inputs: Dims,
    /// Layers from input to output.
    pub layers: Vec<LayerSpec>,
    /// Loss (Keras name, see [`LOSS_NAMES`]).
    pub loss: Loss,
}

/// Optimisers a model file can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Optimizer {
    /// Plain mini-batch SGD ([`Sgd`]).
    #[default]
    Sgd,
}

/// The `[training]` section: optimiser, schedule and seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingSpec {
    /// The optimiser (default `sgd`).
    #[serde(default)]
    pub optimizer: Optimizer,
    /// SGD step size.
    pub learning_rate: f32,
    /// Samples per update.
    pub batch_size: usize,
    /// Passes over the training set.
    pub epochs: usize,
    /// Seed of the Glorot initialisation ([`Sequential::init`]).
    pub init_seed: u64,
    /// Seed of the sample order ([`crate::epoch_order`]); `None` keeps file order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shuffle_seed: Option<u64>,
}

/// The optional `[machine]` section: hints for running on SpiNNaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineSpec {
    /// Most units of one layer placed on one core (`None`: the mapper decides).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units_per_core: Option<usize>,
    /// Most samples in flight at once (`None`: as many as every core's DTCM holds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_depth: Option<usize>,
    /// The numbers the layer cores compute in (`None`: binary32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arithmetic: Option<crate::machine::Arithmetic>,
}

/// A whole model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Name of the model (used in reports and weights files).
    pub name: String,
    /// The `[data]` section.
    pub data: DataSpec,
    /// The `[model]` section.
    pub model: NetworkSpec,
    /// The `[training]` section.
    pub training: TrainingSpec,
    /// The optional `[machine]` section.
    #[serde(default)]
    pub machine: MachineSpec,
    /// Directory that relative data paths start from (the model file's directory).
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// Where the description came from, for error messages (the model file's path).
    #[serde(skip)]
    pub origin: String,
}

/// 1-based line and column of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(before.chars().count(), |nl| {
        before[nl + 1..].chars().count()
    }) + 1;
    (line, column)
}

impl ModelSpec {
    /// Reads and checks the model file at `path`; data paths in it are
    /// relative to the file's directory.
    pub fn from_file(path: impl AsRef<Path>) -> Result<ModelSpec, SpecError> {
        let path = path.as_ref();
        let text = files::read_text_input(path, files::MAX_TEXT_BYTES).map_err(|source| {
            SpecError::Read {
                path: path.to_path_buf(),
                source,
            }
        })?;
        let base = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        Self::parse(&text, base, &path.display().to_string())
    }

    /// Parses and checks a model description; relative data paths start at `base_dir`.
    #[allow(clippy::should_implement_trait)] // needs base_dir, unlike FromStr
    pub fn from_str(text: &str, base_dir: impl AsRef<Path>) -> Result<ModelSpec, SpecError> {
        Self::parse(text, base_dir.as_ref(), TEXT_ORIGIN)
    }

    fn parse(text: &str, base_dir: &Path, origin: &str) -> Result<ModelSpec, SpecError> {
        let mut spec: ModelSpec = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map_or((0, 0), |s| line_column(text, s.start));
            SpecError::Toml {
                origin: origin.to_string(),
                line,
                column,
                message: e.message().trim_end().to_string(),
            }
        })?;
        spec.base_dir = base_dir.to_path_buf();
        spec.origin = origin.to_string();
        spec.validate()?;
        Ok(spec)
    }

    /// The model as TOML (without `base_dir` and `origin`).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("every field of a model spec serialises to TOML")
    }

    fn invalid(&self, field: impl Into<String>, message: impl Into<String>) -> SpecError {
        SpecError::Invalid {
            origin: self.origin_name().to_string(),
            field: field.into(),
            message: message.into(),
        }
    }

    fn origin_name(&self) -> &str {
        if self.origin.is_empty() {
            TEXT_ORIGIN
        } else {
            &self.origin
        }
    }

    /// Checks ranges and consistency: positive sizes, at most [`MAX_PARAMETERS`] weights and
    /// biases (per layer and in all), at least one layer,
    /// finite positive learning rate, `0 <= test_fraction < 1`, a file for
    /// file formats (none for xor), and inputs and outputs matching formats
    /// whose shape is fixed ([`ModelSpec::load_data`] checks the data itself).
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.name.trim().is_empty() {
            return Err(self.invalid("name", "must not be empty"));
        }
        let net = &self.model;
        let shape = net.inputs.shape();
        if shape.is_empty() || shape.contains(&0) {
            return Err(self.invalid("model.inputs", "must be at least 1 (in every dimension)"));
        }
        if net.layers.is_empty() {
            return Err(self.invalid("model.layers", "needs at least one layer"));
        }
        self.check_size()?;
        let t = &self.training;
        if !(t.learning_rate.is_finite() && t.learning_rate > 0.0) {
            return Err(self.invalid(
                "training.learning_rate",
                format!("must be a finite number > 0, got {}", t.learning_rate),
            ));
        }
        if t.batch_size == 0 {
            return Err(self.invalid("training.batch_size", "must be at least 1"));
        }
        if t.epochs == 0 {
            return Err(self.invalid("training.epochs", "must be at least 1"));
        }
        if self.machine.units_per_core == Some(0) {
            return Err(self.invalid("machine.units_per_core", "must be at least 1"));
        }
        if let Some(d) = self.machine.pipeline_depth {
            if !(1..=8).contains(&d) {
                return Err(self.invalid("machine.pipeline_depth", "must be 1 to 8"));
            }
        }
        let d = &self.data;
        if !(0.0..1.0).contains(&d.test_fraction) {
            return Err(self.invalid(
                "data.test_fraction",
                format!(
                    "must be in 0..1 (0 = test on the training set), got {}",
                    d.test_fraction
                ),
            ));
        }
        match (d.format, &d.file) {
            (DataFormat::Xor, Some(_)) => {
                return Err(
                    self.invalid("data.file", "format \"xor\" is built in and takes no file")
                )
            }
            (DataFormat::Xor, None) if d.test_fraction != 0.0 => {
                return Err(self.invalid(
                    "data.test_fraction",
                    "must be 0 for xor (all four samples train and test)",
                ))
            }
            (DataFormat::Xor, None) => {}
            (_, None) => {
                return Err(self.invalid(
                    "data.file",
                    format!("format \"{}\" needs a data file", d.format),
                ))
            }
            _ => {}
        }
        match (d.format, &d.labels_file) {
            (DataFormat::Npy, None) => {
                return Err(self.invalid(
                    "data.labels_file",
                    "format \"npy\" needs the labels' array file",
                ))
            }
            (DataFormat::Npy, Some(_)) | (_, None) => {}
            (_, Some(_)) => {
                return Err(self.invalid("data.labels_file", "is for format \"npy\" only"))
            }
        }
        if d.format != DataFormat::Csv {
            for (set, field) in [
                (d.label.is_some(), "data.label"),
                (d.header.is_some(), "data.header"),
            ] {
                if set {
                    return Err(self.invalid(field, "is for format \"csv\" only"));
                }
            }
        }
        if let Some((features, targets)) = d.format.shape() {
            self.check_shape(features, targets)?;
        }
        Ok(())
    }

    /// Refuses networks too large to hold ([`MAX_PARAMETERS`]), before anything is allocated
    /// for them: the host reference and the machine would otherwise grow until the host runs
    /// out of memory.
    fn check_size(&self) -> Result<(), SpecError> {
        let gib = |params: u64| params as f64 * 4.0 / f64::from(1u32 << 30);
        let limit = format!(
            "a model may have at most {MAX_PARAMETERS} ({:.2} GiB as binary32)",
            gib(MAX_PARAMETERS)
        );
        let input = self.model.inputs.shape();
        let mut outputs: Vec<Shape> = Vec::new();
        let mut total = 0u64;
        for (k, (mut layer, sources)) in self.resolve()?.into_iter().enumerate() {
            let at = format!("model.layers[{k}]");
            let shapes: Vec<Shape> = sources
                .iter()
                .map(|s| s.map_or_else(|| input.clone(), |j| outputs[j].clone()))
                .collect();
            let shape = layer.connect(&shapes).map_err(|e| match e {
                NnError::Shape(m) => self.invalid(&at, m),
                other => self.invalid(&at, other.to_string()),
            })?;
            let wrong = |e: NnError| match e {
                NnError::Shape(m) => self.invalid(&at, format!("{}: {m}", layer.keras_class())),
                other => self.invalid(&at, other.to_string()),
            };
            let next = layer.output_shape(&shape).map_err(wrong)?;
            let values = next.iter().fold(1u64, |n, &d| n.saturating_mul(d as u64));
            let params = layer
                .param_shapes(&shape)
                .map_err(wrong)?
                .iter()
                .map(|s| s.iter().fold(1u64, |n, &d| n.saturating_mul(d as u64)))
                .fold(0u64, u64::saturating_add);
            if params > MAX_PARAMETERS || values > MAX_PARAMETERS {
                return Err(self.invalid(
                    &at,
                    format!(
                        "a {} layer on inputs {shape:?} has {params} weights and biases ({:.1} GiB as binary32) and {values} outputs; {limit}",
                        layer.keras_class(),
                        gib(params)
                    ),
                ));
            }
            total = total.saturating_add(params);
            outputs.push(next);
        }
        if total > MAX_PARAMETERS {
            return Err(self.invalid(
                "model.layers",
                format!(
                    "the layers have {total} weights and biases in all ({:.1} GiB as binary32); {limit}",
                    gib(total)
                ),
            ));
        }
        Ok(())
    }

    /// Checks the model's inputs and outputs against the data's shape.
    fn check_shape(&self, features: usize, targets: usize) -> Result<(), SpecError> {
        let fmt = self.data.format;
        let inputs: usize = self.model.inputs.shape().iter().product();
        if inputs != features {
            return Err(self.invalid(
                "model.inputs",
                format!("is {inputs} values but the {fmt} data has {features} features per sample"),
            ));
        }
        let last = self.model.layers.len() - 1;
        let units = self.build_unchecked().outputs();
        if units != targets {
            return Err(self.invalid(
                format!("model.layers[{last}]"),
                format!("the last layer has {units} outputs but the {fmt} data has {targets} targets per sample"),
            ));
        }
        Ok(())
    }

    /// The data file resolved against the model file's directory (`None` for xor).
    pub fn data_path(&self) -> Option<PathBuf> {
        self.data.file.as_ref().map(|f| self.base_dir.join(f))
    }

    /// The optimiser settings.
    pub fn sgd(&self) -> Sgd {
        Sgd {
            learning_rate: self.training.learning_rate,
            batch_size: self.training.batch_size,
        }
    }

    /// The layers (meaningful for a validated spec: a layer that does not convert is left
    /// out).
    pub fn layers(&self) -> Vec<Layer> {
        self.model
            .layers
            .iter()
            .filter_map(|l| l.to_layer().ok())
            .collect()
    }

    /// Each layer with where its inputs come from (`None`: the model's input), from the
    /// layers' names and `inputs`.
    fn resolve(&self) -> Result<Vec<Wired>, SpecError> {
        let mut names: Vec<String> = Vec::new();
        let mut out = Vec::new();
        for (k, l) in self.model.layers.iter().enumerate() {
            let at = format!("model.layers[{k}]");
            let layer = l.to_layer().map_err(|m| self.invalid(&at, m))?;
            let name = l.name.clone().unwrap_or_else(|| format!("layer{k}"));
            if name == "input" || names.contains(&name) {
                return Err(self.invalid(&at, format!("the name {name:?} is taken")));
            }
            let sources = match &l.inputs {
                None => vec![k.checked_sub(1)],
                Some(list) => list
                    .iter()
                    .map(|n| match names.iter().position(|m| m == n) {
                        _ if n == "input" => Ok(None),
                        Some(j) => Ok(Some(j)),
                        None => Err(self.invalid(
                            &at,
                            format!("`inputs` names {n:?}, which is not a layer before this one"),
                        )),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            };
            if sources.is_empty() {
                return Err(self.invalid(&at, "`inputs` is empty"));
            }
            names.push(name);
            out.push((layer, sources));
        }
        Ok(out)
    }

    /// The network's layers on its input shape, uncompiled and zero (for a validated spec;
    /// layers that do not fit are left out).
    fn build_unchecked(&self) -> Sequential {
        let mut m = Sequential::with_shape(self.model.inputs.shape());
        for (layer, sources) in self.resolve().unwrap_or_default() {
            let _ = m.try_add_from(layer, &sources);
        }
        m
    }

    /// The network, compiled with the loss and optimiser and initialised with
    /// `init_seed` (meaningful for a validated spec).
    pub fn build(&self) -> Sequential {
        let mut m = self.build_unchecked();
        m.compile(self.model.loss, self.sgd());
        m.init(self.training.init_seed);
        m
    }

    /// Loads the data and splits it into (train, test) with `test_fraction`
    /// and `split_seed`; with `test_fraction = 0` (always for xor) the test
    /// set is the training set. Checks the data's shape against the model. Features are
    /// scaled as `normalise` says, with what [`ModelSpec::normalisation_of`] learns on the
    /// training split.
    pub fn load_data(&self) -> Result<(Dataset, Dataset), SpecError> {
        let (train, test, _) = self.load_prepared()?;
        Ok((train, test))
    }

    /// [`ModelSpec::load_data`], and the normalisation it applied (to save with the weights).
    pub fn load_prepared(&self) -> Result<(Dataset, Dataset, Option<Normalisation>), SpecError> {
        let (mut train, mut test) = self.split_rows()?;
        let norm = self.normalisation_of(&train);
        if let Some(n) = &norm {
            let err = |source| SpecError::Nn {
                origin: self.origin_name().to_string(),
                source,
            };
            n.apply(&mut train.x).map_err(err)?;
            n.apply(&mut test.x).map_err(err)?;
        }
        Ok((train, test, norm))
    }

    /// The standardisation `normalise` asks for, learnt on `train` (`None`: features as they
    /// are).
    pub fn normalisation_of(&self, train: &Dataset) -> Option<Normalisation> {
        let kind = self
            .data
            .normalise
            .unwrap_or_else(|| self.data.format.default_normalise());
        (kind == Normalise::Standard).then(|| Normalisation::fit(&train.x))
    }

    /// The rows, unscaled, split into (train, test).
    fn split_rows(&self) -> Result<(Dataset, Dataset), SpecError> {
        let all = self.load_rows()?;
        if self.data.test_fraction == 0.0 {
            return Ok((all.clone(), all));
        }
        let (train, test) = data::split(&all, self.data.test_fraction, self.data.split_seed);
        if train.is_empty() || test.is_empty() {
            return Err(self.invalid(
                "data.test_fraction",
                format!(
                    "splits {} samples into {} for training and {} for testing; both need some",
                    all.len(),
                    train.len(),
                    test.len()
                ),
            ));
        }
        Ok((train, test))
    }

    /// The rows of the held-out set among `n` samples, in the order [`ModelSpec::load_data`]
    /// gives them (every row when `test_fraction` is 0).
    pub fn held_out_rows(&self, n: usize) -> Vec<usize> {
        if self.data.test_fraction == 0.0 {
            return (0..n).collect();
        }
        data::split_rows(n, self.data.test_fraction, self.data.split_seed).1
    }

    /// Every sample of the data, in the file's order, unsplit (one row is enough) and
    /// unscaled.
    pub fn load_rows(&self) -> Result<Dataset, SpecError> {
        self.load_rows_as(None)
    }

    /// [`ModelSpec::load_rows`], a table's labels read as `classes` (a trained model's; the
    /// file may hold any of them).
    pub fn load_rows_as(&self, classes: Option<&[String]>) -> Result<Dataset, SpecError> {
        let all = match self.data.format {
            DataFormat::Xor => data::xor_dataset(),
            format => {
                let path = self.data_path().ok_or_else(|| {
                    self.invalid(
                        "data.file",
                        format!("format \"{format}\" needs a data file"),
                    )
                })?;
                if matches!(format, DataFormat::Npy | DataFormat::Npz) {
                    return self.load_arrays(&path, classes);
                }
                let text =
                    files::read_text_input(&path, files::MAX_DATA_BYTES).map_err(|source| {
                        SpecError::DataRead {
                            origin: self.origin_name().to_string(),
                            path: path.clone(),
                            source,
                        }
                    })?;
                let table = CsvOptions {
                    header: self.data.header,
                    label: self.data.label.clone(),
                };
                let parsed = match format {
                    DataFormat::Iris => data::iris_from_csv(&text),
                    DataFormat::Waves => data::waves_from_csv(&text),
                    DataFormat::Csv => read_csv(&text, &table, classes),
                    _ => data::digits_from_csv(&text),
                };
                parsed.map_err(|source| SpecError::Data { path, source })?
            }
        };
        if all.is_empty() {
            return Err(self.invalid("data.file", "the data file has no samples"));
        }
        self.check_shape(all.x[0].len(), all.y[0].len())?;
        Ok(all)
    }

    /// The samples of a `.npy` pair or a `.npz` archive at `path`, checked against the model.
    fn load_arrays(&self, path: &Path, classes: Option<&[String]>) -> Result<Dataset, SpecError> {
        let read = |p: &Path| {
            files::read_input(p, files::MAX_DATA_BYTES).map_err(|source| SpecError::DataRead {
                origin: self.origin_name().to_string(),
                path: p.to_path_buf(),
                source,
            })
        };
        let bad = |p: &Path| {
            let path = p.to_path_buf();
            move |source| SpecError::Data { path, source }
        };
        let bytes = read(path)?;
        let (x, y) = match &self.data.labels_file {
            Some(labels) => {
                let labels = self.base_dir.join(labels);
                let x = arrays::read_npy(&bytes, "x").map_err(bad(path))?;
                let y = arrays::read_npy(&read(&labels)?, "y").map_err(bad(&labels))?;
                (x, y)
            }
            None => (
                arrays::read_npz(&bytes, "x").map_err(bad(path))?,
                arrays::read_npz(&bytes, "y").map_err(bad(path))?,
            ),
        };
        let all = arrays::dataset(&x, &y, classes).map_err(bad(path))?;
        self.check_shape(all.x[0].len(), all.y[0].len())?;
        Ok(all)
    }

    /// Builds the network and trains it on `train` with the host reference
    /// (`epochs`, `shuffle_seed`), returning it and its history.
    pub fn train_host(&self, train: &Dataset) -> Result<(Sequential, History), SpecError> {
        let mut m = self.build();
        let history = m
            .fit(
                &train.x,
                &train.y,
                self.training.epochs,
                self.training.shuffle_seed,
            )
            .map_err(|source| SpecError::Nn {
                origin: self.origin_name().to_string(),
                source,
            })?;
        Ok((m, history))
    }
}

/// Trained weights as saved to JSON: the model's name, each layer's
/// `(inputs, units)`, and the arrays in Keras order (per layer the kernel
/// `[inputs x units]` row-major, then the bias), as [`Sequential::get_weights`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightsFile {
    /// Name of the model the weights belong to.
    pub model: String,
    /// `(rows, columns)` of each layer's kernel: (inputs, units) for a dense layer,
    /// (window cells × input channels, filters) for a convolution; layers without weights have
    /// no entry.
    pub layers: Vec<(usize, usize)>,
    /// Kernel and bias of each layer, in Keras order.
    pub weights: Vec<Vec<f32>>,
    /// The standardisation learnt on the training split, which new data gets too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalisation: Option<Normalisation>,
    /// The classes of the training data, in output order (a table's labels are read as these).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
}

impl WeightsFile {
    /// The current weights of `network`, labelled with `model`.
    pub fn from_model(model: &str, network: &Sequential) -> WeightsFile {
        let weights = network.get_weights();
        let mut layers = Vec::new();
        for k in 0..network.layers().len() {
            let first = network.first_weight(k);
            let Some(kernel) = network.layers()[k]
                .param_shapes(network.layer_input(k))
                .ok()
                .and_then(|s| s.first().cloned())
            else {
                continue;
            };
            let columns = *kernel.last().expect("a kernel has dimensions");
            layers.push((weights[first].len() / columns.max(1), columns));
        }
        WeightsFile {
            model: model.to_string(),
            layers,
            weights,
            normalisation: None,
            classes: Vec::new(),
        }
    }

    /// Checks that the layer shapes chain and the arrays fit them, and that
    /// every weight is finite (JSON cannot hold NaN or infinity).
    pub fn check(&self) -> Result<(), String> {
        if self.layers.is_empty() {
            return Err("no layers".into());
        }
        if let Some(n) = &self.normalisation {
            n.check().map_err(|m| format!("normalisation: {m}"))?;
        }
        if self.weights.len() != 2 * self.layers.len() {
            return Err(format!(
                "{} layers need {} weight arrays (kernel and bias each), found {}",
                self.layers.len(),
                2 * self.layers.len(),
                self.weights.len()
            ));
        }
        for (k, &(i, u)) in self.layers.iter().enumerate() {
            for (index, what, len) in [
                (2 * k, format!("layer {k} kernel [{i} x {u}]"), i * u),
                (2 * k + 1, format!("layer {k} bias [{u}]"), u),
            ] {
                let found = self.weights[index].len();
                if found != len {
                    return Err(format!(
                        "weight array {index} ({what}) needs {len} values, has {found}"
                    ));
                }
                if let Some(j) = self.weights[index].iter().position(|v| !v.is_finite()) {
                    return Err(format!(
                        "weight array {index} ({what}) value {j} is not finite"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Writes the weights as JSON to `path` (after [`WeightsFile::check`]).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), SpecError> {
        let path = path.as_ref();
        self.check().map_err(|message| SpecError::Weights {
            origin: format!("{} (not written)", path.display()),
            message,
        })?;
        let mut text = serde_json::to_string(self).expect("weights serialise to JSON");
        text.push('\n');
        std::fs::write(path, text).map_err(|source| SpecError::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Reads and checks a weights file written by [`WeightsFile::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<WeightsFile, SpecError> {
        let path = path.as_ref();
        let text = files::read_text_input(path, files::MAX_DATA_BYTES).map_err(|source| {
            SpecError::Read {
                path: path.to_path_buf(),
                source,
            }
        })?;
        let file: WeightsFile = serde_json::from_str(&text).map_err(|e| SpecError::Json {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        file.check().map_err(|message| SpecError::Weights {
            origin: path.display().to_string(),
            message,
        })?;
        Ok(file)
    }

    /// Loads the weights into `network` after checking that its layer shapes
    /// are the file's; `network` is unchanged on error.
    pub fn apply(&self, network: &mut Sequential) -> Result<(), SpecError> {
        let err = |message: String| SpecError::Weights {
            origin: format!("weights of {:?}", self.model),
            message,
        };
        self.check().map_err(err)?;
        let ours = WeightsFile::from_model(&self.model, network).layers;
        if ours != self.layers {
            return Err(err(format!(
                "layer shapes (inputs, units) {:?} do not match the network's {:?}",
                self.layers, ours
            )));
        }
        network
            .set_weights(&self.weights)
            .map_err(|e| err(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IRIS: &str = r#"
name = "iris"
[data]
file = "../data/iris.csv"
format = "iris"
test_fraction = 0.3
split_seed = 1
[model]
inputs = 4
layers = [ { units = 16, activation = "relu" }, { units = 3, activation = "softmax" } ]
loss = "categorical_crossentropy"
[training]
optimizer = "sgd"
learning_rate = 0.05
batch_size = 8
epochs = 100
init_seed = 3
shuffle_seed = 9
[machine]
units_per_core = 16
"#;

    const XOR: &str = r#"
name = "xor"
[data]
format = "xor"
[model]
inputs = 2
layers = [ { units = 4, activation = "sigmoid" }, { units = 1, activation = "sigmoid" } ]
loss = "mse"
[training]
learning_rate = 8
batch_size = 4
epochs = 10
init_seed = 1
"#;

    fn nn_dir() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    fn parse(text: &str) -> Result<ModelSpec, SpecError> {
        // From nn/, "../data/..." is the project's data folder.
        ModelSpec::from_str(text, nn_dir())
    }

    #[test]
    fn parses_every_section() {
        let s = parse(IRIS).unwrap();
        assert_eq!(s.name, "iris");
        assert_eq!(s.data.format, DataFormat::Iris);
        assert_eq!(s.data.file.as_deref(), Some(Path::new("../data/iris.csv")));
        assert_eq!((s.data.test_fraction, s.data.split_seed), (0.3, 1));
        assert_eq!(s.model.inputs, Dims::One(4));
        assert_eq!(
            s.layers(),
            [
                Dense::new(16, Activation::Relu).into(),
                Layer::from(Dense::new(3, Activation::Softmax))
            ]
        );
        assert_eq!(s.model.loss, Loss::CategoricalCrossEntropy);
        assert_eq!(s.training.optimizer, Optimizer::Sgd);
        assert_eq!(
            s.sgd(),
            Sgd {
                learning_rate: 0.05,
                batch_size: 8
            }
        );
        assert_eq!((s.training.epochs, s.training.init_seed), (100, 3));
        assert_eq!(s.training.shuffle_seed, Some(9));
        assert_eq!(s.machine.units_per_core, Some(16));
        assert_eq!(s.data_path().unwrap(), nn_dir().join("../data/iris.csv"));
    }

    #[test]
    fn machine_hints_parse_and_bad_ones_are_refused() {
        let with = |extra: &str| IRIS.replacen("units_per_core = 16", extra, 1);
        let s = parse(&with("pipeline_depth = 2\narithmetic = \"s16.15\"")).unwrap();
        assert_eq!(s.machine.pipeline_depth, Some(2));
        assert_eq!(
            s.machine.arithmetic,
            Some(crate::machine::Arithmetic::S16_15)
        );
        let s = parse(&with("arithmetic = \"float32\"")).unwrap();
        assert_eq!(
            s.machine.arithmetic,
            Some(crate::machine::Arithmetic::Float32)
        );
        assert_eq!(parse(IRIS).unwrap().machine.arithmetic, None);
        let e = parse(&with("arithmetic = \"float16\""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("float16"), "{e}");
    }

    #[test]
    fn defaults_and_aliases() {
        // No [machine], no optimizer, no shuffle seed, "mse", integer learning rate.
        let s = parse(XOR).unwrap();
        assert_eq!(s.model.loss, Loss::MeanSquaredError);
        assert_eq!(s.training.learning_rate, 8.0);
        assert_eq!(s.training.optimizer, Optimizer::Sgd);
        assert_eq!(s.training.shuffle_seed, None);
        assert_eq!(s.machine, MachineSpec::default());
        assert_eq!((s.data.test_fraction, s.data.split_seed), (0.0, 0));
        assert_eq!(s.data_path(), None);
        let s = parse(&IRIS.replace("\"relu\"", "\"identity\"")).unwrap();
        assert_eq!(s.model.layers[0].activation, Some(Activation::Identity));
        for &name in ACTIVATION_NAMES {
            let a = Activation::from_keras_name(name).unwrap();
            assert_eq!(a.keras_name(), name);
        }
        for &name in LOSS_NAMES {
            assert!(Loss::from_keras_name(name).is_some(), "{name}");
        }
    }

    #[test]
    fn toml_round_trip() {
        for text in [IRIS, XOR] {
            let s = parse(text).unwrap();
            let again = parse(&s.to_toml()).unwrap();
            assert_eq!(again, s, "{}", s.to_toml());
        }
    }

    #[test]
    fn build_compiles_and_initialises() {
        let s = parse(IRIS).unwrap();
        let m = s.build();
        assert_eq!((m.inputs(), m.outputs()), (4, 3));
        assert_eq!(m.layers(), s.layers());
        assert_eq!(m.loss(), Some(Loss::CategoricalCrossEntropy));
        assert_eq!(m.optimizer(), Some(s.sgd()));
        let mut reference = Sequential::new(4);
        reference
            .add(Dense::new(16, Activation::Relu))
            .add(Dense::new(3, Activation::Softmax))
            .init(3);
        assert_eq!(m.get_weights(), reference.get_weights());
        assert!(m.get_weights()[0].iter().any(|&w| w != 0.0));
    }

    #[test]
    fn load_data_resolves_and_splits() {
        let s = parse(IRIS).unwrap();
        let (train, test) = s.load_data().unwrap();
        assert_eq!((train.len(), test.len()), (105, 45));
        let s = parse(XOR).unwrap();
        let (train, test) = s.load_data().unwrap();
        assert_eq!(train, test);
        assert_eq!(train.len(), 4);
        assert_eq!(train.class_names, ["0", "1"]);
    }

    #[test]
    fn train_host_runs_epochs() {
        let s = parse(XOR).unwrap();
        let (train, _) = s.load_data().unwrap();
        let (m, h) = s.train_host(&train).unwrap();
        assert_eq!(h.loss.len(), 10);
        assert_ne!(m.get_weights(), s.build().get_weights());
    }

    fn invalid_field(text: &str) -> (String, String) {
        match parse(text) {
            Err(SpecError::Invalid { field, message, .. }) => (field, message),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn validation_errors_name_the_field() {
        let cases: &[(&str, &str, &str)] = &[
            ("inputs = 4", "inputs = 0", "model.inputs"),
            ("{ units = 16,", "{ units = 0,", "model.layers[0]"),
            (
                "learning_rate = 0.05",
                "learning_rate = 0.0",
                "training.learning_rate",
            ),
            (
                "learning_rate = 0.05",
                "learning_rate = -1.0",
                "training.learning_rate",
            ),
            (
                "learning_rate = 0.05",
                "learning_rate = nan",
                "training.learning_rate",
            ),
            (
                "learning_rate = 0.05",
                "learning_rate = inf",
                "training.learning_rate",
            ),
            ("batch_size = 8", "batch_size = 0", "training.batch_size"),
            ("epochs = 100", "epochs = 0", "training.epochs"),
            (
                "test_fraction = 0.3",
                "test_fraction = 1.0",
                "data.test_fraction",
            ),
            (
                "test_fraction = 0.3",
                "test_fraction = -0.1",
                "data.test_fraction",
            ),
            (
                "units_per_core = 16",
                "units_per_core = 0",
                "machine.units_per_core",
            ),
            (
                "units_per_core = 16",
                "units_per_core = 16\npipeline_depth = 9",
                "machine.pipeline_depth",
            ),
            (
                "units_per_core = 16",
                "units_per_core = 16\npipeline_depth = 0",
                "machine.pipeline_depth",
            ),
            ("name = \"iris\"", "name = \" \"", "name"),
            (
                "format = \"iris\"",
                "format = \"iris\"\nlabel = 0",
                "data.label",
            ),
            (
                "format = \"iris\"",
                "format = \"iris\"\nheader = true",
                "data.header",
            ),
            ("file = \"../data/iris.csv\"\n", "", "data.file"),
            // digits has a fixed shape: 64 inputs, 10 outputs.
            ("format = \"iris\"", "format = \"digits\"", "model.inputs"),
        ];
        for &(from, to, field) in cases {
            let text = IRIS.replacen(from, to, 1);
            assert_ne!(text, IRIS, "{from}");
            let (f, message) = invalid_field(&text);
            assert_eq!(f, field, "{to}: {message}");
        }
        let (f, m) = invalid_field(&IRIS.replace(
            "layers = [ { units = 16, activation = \"relu\" }, { units = 3, activation = \"softmax\" } ]",
            "layers = []",
        ));
        assert_eq!(f, "model.layers", "{m}");
        // Outputs must match the data's targets.
        let digits = IRIS
            .replace("format = \"iris\"", "format = \"digits\"")
            .replace("inputs = 4", "inputs = 64");
        let (f, m) = invalid_field(&digits);
        assert_eq!(f, "model.layers[1]");
        assert!(m.contains("3 outputs") && m.contains("10 targets"), "{m}");
        // xor takes no file and no held-out share.
        let (f, _) =
            invalid_field(&XOR.replace("format = \"xor\"", "format = \"xor\"\nfile = \"x.csv\""));
        assert_eq!(f, "data.file");
        let (f, _) = invalid_field(
            &XOR.replace("format = \"xor\"", "format = \"xor\"\ntest_fraction = 0.5"),
        );
        assert_eq!(f, "data.test_fraction");
        let (f, m) = invalid_field(&XOR.replace("inputs = 2", "inputs = 3"));
        assert_eq!(f, "model.inputs");
        assert!(m.contains("2 features"), "{m}");
        let e = parse(&XOR.replace("inputs = 2", "inputs = 3")).unwrap_err();
        assert!(
            e.to_string().starts_with("<model text>: model.inputs: "),
            "{e}"
        );
    }

    #[test]
    fn window_layers_parse_and_bad_ones_name_the_layer() {
        let cnn = IRIS.replace("format = \"iris\"", "format = \"digits\"").replace(
            "inputs = 4\nlayers = [ { units = 16, activation = \"relu\" }, { units = 3, activation = \"softmax\" } ]",
            "inputs = [8, 8, 1]\nlayers = [ { type = \"conv2d\", filters = 4, kernel_size = [3, 2], strides = 1, padding = \"same\" }, \
             { type = \"average_pooling2d\" }, { type = \"flatten\" }, { units = 10, activation = \"softmax\" } ]",
        );
        assert_ne!(cnn, IRIS);
        let s = parse(&cnn).unwrap();
        let m = s.build();
        assert_eq!(m.layer_output(0), &vec![8, 8, 4]);
        assert_eq!(m.layer_output(1), &vec![4, 4, 4]);
        assert_eq!(m.get_weights()[0].len(), 3 * 2 * 4);
        for (from, to, says) in [
            (
                "filters = 4,",
                "filters = 4, units = 3,",
                "takes no `units`",
            ),
            ("filters = 4,", "", "needs `filters`"),
            (
                "kernel_size = [3, 2]",
                "kernel_size = [3, 2, 1]",
                "kernel_size needs 2",
            ),
            ("strides = 1", "strides = 0", "strides must be at least 1"),
            (
                "inputs = [8, 8, 1]",
                "inputs = [64]",
                "Conv2D takes inputs of 3 dimensions",
            ),
            ("{ type = \"flatten\" }, ", "", "add a Flatten layer"),
        ] {
            let text = cnn.replacen(from, to, 1);
            assert_ne!(text, cnn, "{from}");
            let (f, m) = invalid_field(&text);
            assert!(f.starts_with("model.layers["), "{to}: {f}: {m}");
            assert!(m.contains(says), "{to}: {m}");
        }
    }

    #[test]
    fn graphs_name_their_inputs() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../models/digits_residual.toml"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let s = parse(&text).unwrap();
        let m = s.build();
        assert_eq!(m.layer_sources(2), &[Some(0), Some(1)]);
        assert_eq!(m.layer_output(2), &vec![8, 8, 4]);
        for (from, to, says) in [
            (
                r#"inputs = ["c1", "c2"]"#,
                r#"inputs = ["c1", "c9"]"#,
                "names \"c9\"",
            ),
            (
                r#"name = "c2","#,
                r#"name = "c1","#,
                "the name \"c1\" is taken",
            ),
            (
                r#"{ type = "add", inputs = ["c1", "c2"] }"#,
                r#"{ type = "add" }"#,
                "at least 2 inputs",
            ),
            (
                r#"{ type = "max_pooling2d", pool_size = 2 }"#,
                r#"{ type = "max_pooling2d", inputs = ["c1", "c2"] }"#,
                "takes one input",
            ),
            (
                r#"inputs = ["c1", "c2"]"#,
                r#"inputs = ["input", "c2"]"#,
                "one shape",
            ),
        ] {
            let t = text.replacen(from, to, 1);
            assert_ne!(t, text, "{from}");
            let (f, m) = invalid_field(&t);
            assert!(f.starts_with("model.layers["), "{to}: {f}: {m}");
            assert!(m.contains(says), "{to}: {m}");
        }
    }

    #[test]
    fn a_billion_unit_layer_is_refused_before_anything_is_allocated() {
        // Parsing is all that happens: the error comes back without building the network.
        let huge = XOR.replace("{ units = 4,", "{ units = 1_000_000_000,");
        assert_ne!(huge, XOR);
        let (f, m) = invalid_field(&huge);
        assert_eq!(f, "model.layers[0]", "{m}");
        assert!(
            m.contains("a Dense layer on inputs [2] has 3000000000 weights and biases"),
            "{m}"
        );
        assert!(
            m.contains("11.2 GiB") && m.contains("at most 67108864"),
            "{m}"
        );
        // Only the first layer over the limit is named (the one fed by it is over it too).
        // Inputs count too: a wide input into a modest layer.
        let (f, m) = invalid_field(
            &XOR.replace("inputs = 2", "inputs = 100_000_000")
                .replace("format = \"xor\"", "format = \"iris\"\nfile = \"x.csv\""),
        );
        assert_eq!(f, "model.layers[0]", "{m}");
        // Layers each under the limit, too many in all.
        let wide = XOR.replace(
            "layers = [ { units = 4, activation = \"sigmoid\" }, { units = 1, activation = \"sigmoid\" } ]",
            "layers = [ { units = 6000, activation = \"relu\" }, { units = 6000, activation = \"relu\" }, \
             { units = 6000, activation = \"relu\" }, { units = 1, activation = \"sigmoid\" } ]",
        );
        let (f, m) = invalid_field(&wide);
        assert_eq!(f, "model.layers", "{m}");
        assert!(m.contains("in all"), "{m}");
        // At the limit's scale but under it: accepted.
        let big = XOR.replace("{ units = 4,", "{ units = 4096,");
        assert!(parse(&big).is_ok());
        // Through the file reader, as `spinn train` reads it.
        let e = parse(&huge).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "<model text>: model.layers[0]: a Dense layer on inputs [2] has 3000000000"
            ),
            "{e}"
        );
    }

    fn toml_error(text: &str) -> (usize, String) {
        match parse(text) {
            Err(SpecError::Toml { line, message, .. }) => (line, message),
            other => panic!("expected Toml, got {other:?}"),
        }
    }

    fn line_of(text: &str, needle: &str) -> usize {
        text.lines().position(|l| l.contains(needle)).unwrap() + 1
    }

    #[test]
    fn toml_errors_name_the_line() {
        let text = IRIS.replace("\"softmax\"", "\"softmin\"");
        let (line, m) = toml_error(&text);
        assert_eq!(line, line_of(&text, "softmin"), "{m}");
        assert!(
            m.contains("softmin") && m.contains("linear, relu, sigmoid, tanh, softmax"),
            "{m}"
        );

        let text = IRIS.replace("\"categorical_crossentropy\"", "\"hinge\"");
        let (line, m) = toml_error(&text);
        assert_eq!(line, line_of(&text, "hinge"), "{m}");
        assert!(
            m.contains("hinge") && m.contains("categorical_crossentropy") && m.contains("mse"),
            "{m}"
        );

        let text = IRIS.replace("epochs = 100", "epochs = 100\nmomentum = 0.9");
        let (line, m) = toml_error(&text);
        assert_eq!(line, line_of(&text, "momentum"), "{m}");
        assert!(m.contains("momentum"), "{m}");

        let text = IRIS.replace("optimizer = \"sgd\"", "optimizer = \"adam\"");
        let (line, m) = toml_error(&text);
        assert_eq!(line, line_of(&text, "adam"), "{m}");
        assert!(m.contains("sgd"), "{m}");

        let text = IRIS.replace("format = \"iris\"", "format = \"mnist\"");
        let (line, m) = toml_error(&text);
        assert_eq!(line, line_of(&text, "mnist"), "{m}");
        assert!(m.contains("xor") && m.contains("digits"), "{m}");

        let text = IRIS.replace("batch_size = 8", "batch_size = \"eight\"");
        let (line, _) = toml_error(&text);
        assert_eq!(line, line_of(&text, "eight"));

        let text = IRIS.replace("split_seed = 1", "split_seed = = 1");
        let (line, _) = toml_error(&text);
        assert_eq!(line, line_of(&text, "split_seed"));

        // A missing key is reported (at its table).
        let (_, m) = toml_error(&IRIS.replace("epochs = 100\n", ""));
        assert!(m.contains("epochs"), "{m}");
        let e = parse(&IRIS.replace("[machine]", "[machin]")).unwrap_err();
        assert!(e.to_string().starts_with("<model text>: line "), "{e}");
    }

    #[test]
    fn file_errors_name_the_file() {
        let dir = std::env::temp_dir().join(format!("spinn-nn-spec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.toml");
        let e = ModelSpec::from_file(&missing).unwrap_err();
        assert!(matches!(e, SpecError::Read { .. }), "{e}");
        assert!(e.to_string().contains("missing.toml"), "{e}");

        let bad = dir.join("bad.toml");
        let text = IRIS.replace("epochs = 100", "epochs = 1O0");
        std::fs::write(&bad, &text).unwrap();
        let e = ModelSpec::from_file(&bad).unwrap_err();
        let at = format!("bad.toml: line {},", line_of(&text, "1O0"));
        assert!(e.to_string().contains(&at), "{e}");

        // The data path is relative to the model file's directory.
        let model = dir.join("iris.toml");
        std::fs::write(&model, IRIS).unwrap();
        let s = ModelSpec::from_file(&model).unwrap();
        assert_eq!(s.base_dir, dir);
        let e = s.load_data().unwrap_err();
        assert!(matches!(e, SpecError::DataRead { .. }), "{e}");
        assert!(
            e.to_string().contains("iris.toml") && e.to_string().contains("iris.csv"),
            "{e}"
        );

        // Malformed data names the data file and line.
        let csv = dir.join("broken.csv");
        std::fs::write(&csv, "2,4,a,b,c\n1,2,3,4,0\n1,2,x,4,0\n").unwrap();
        let s = ModelSpec::from_file(&model)
            .map(|mut s| {
                s.data.file = Some("broken.csv".into());
                s
            })
            .unwrap();
        let e = s.load_data().unwrap_err();
        assert!(matches!(e, SpecError::Data { .. }), "{e}");
        assert!(e.to_string().contains("broken.csv: line 3"), "{e}");
        // Data with a different shape than the model.
        std::fs::write(&csv, "2,4,a,b\n1,2,3,4,0\n1,2,3,4,1\n").unwrap();
        let e = s.load_data().unwrap_err();
        assert!(
            matches!(e, SpecError::Invalid { ref field, .. } if field == "model.layers[1]"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn weights_file_round_trip_and_errors() {
        let dir = std::env::temp_dir().join(format!("spinn-nn-weights-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let s = parse(IRIS).unwrap();
        let m = s.build();
        let w = WeightsFile::from_model(&s.name, &m);
        assert_eq!(w.layers, [(4, 16), (16, 3)]);
        let path = dir.join("iris.json");
        w.save(&path).unwrap();
        let back = WeightsFile::load(&path).unwrap();
        assert_eq!(back, w);
        let bits = |v: &[Vec<f32>]| v.concat().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(
            bits(&back.weights),
            bits(&m.get_weights()),
            "exact round trip"
        );

        let mut other = parse(IRIS).unwrap();
        other.training.init_seed = 99;
        let mut m2 = other.build();
        assert_ne!(m2.get_weights(), m.get_weights());
        back.apply(&mut m2).unwrap();
        assert_eq!(m2.get_weights(), m.get_weights());

        // Wrong shapes are refused and leave the network unchanged.
        let mut xor = parse(XOR).unwrap().build();
        let before = xor.get_weights();
        let e = back.apply(&mut xor).unwrap_err();
        assert!(e.to_string().contains("(4, 16)"), "{e}");
        assert_eq!(xor.get_weights(), before);

        // Files that contradict themselves, or are not JSON.
        let mut bad = w.clone();
        bad.weights[3].pop();
        let e = bad.save(dir.join("bad.json")).unwrap_err();
        assert!(e.to_string().contains("layer 1 bias [3]"), "{e}");
        assert!(!dir.join("bad.json").exists());
        let mut bad = w.clone();
        bad.weights[0][5] = f32::NAN;
        assert!(bad
            .save(dir.join("bad.json"))
            .unwrap_err()
            .to_string()
            .contains("not finite"));
        let mut bad = w.clone();
        bad.layers[1] = (15, 3);
        assert!(bad.check().unwrap_err().contains("needs 45 values"));
        let mut bad = w.clone();
        bad.weights.pop();
        assert!(bad.check().unwrap_err().contains("need 4 weight arrays"));

        let text = serde_json::to_string(&w)
            .unwrap()
            .replacen("[[4,16]", "[[4,17]", 1);
        std::fs::write(dir.join("shape.json"), text).unwrap();
        let e = WeightsFile::load(dir.join("shape.json")).unwrap_err();
        assert!(matches!(e, SpecError::Weights { .. }), "{e}");
        assert!(e.to_string().contains("shape.json"), "{e}");

        std::fs::write(
            dir.join("broken.json"),
            "{\"model\": \"x\",\n \"layers\": [[1, 2]],\n \"extra\": 1}",
        )
        .unwrap();
        let e = WeightsFile::load(dir.join("broken.json")).unwrap_err();
        assert!(matches!(e, SpecError::Json { line: 3, .. }), "{e}");
        assert!(e.to_string().contains("broken.json: line 3"), "{e}");
        let e = WeightsFile::load(dir.join("none.json")).unwrap_err();
        assert!(matches!(e, SpecError::Read { .. }), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn line_column_counts_from_one() {
        assert_eq!(line_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
        assert_eq!(line_column("ab\ncd", 99), (2, 3));
    }
}
