// SPDX-License-Identifier: GPL-2.0-or-later
//! The machine's side of each layer kind: how a layer splits across cores, what a slice
//! needs, the parameter words its cores get (beside the common ones) and where its weights
//! lie. The firmware's side is one kernel file per kind (firmware/apps/nn/layer_*.c).
//!
//! A layer is cut into slices of "atoms": a dense layer's units, a convolution's filters, a
//! pooling layer's channels. A window kind's slice computes its channels at every position.

use super::nn_h::*;
use crate::layers::conv::Window;
use crate::layers::{Layer, MergeOp, Pool, PoolOp, Shape};
use crate::model::Sequential;
use crate::Activation;

/// A layer that takes cores (`Flatten` and `Reshape` take none: the layer above reads the same
/// values under the same indices), with its shapes.
#[derive(Debug, Clone)]
pub(super) struct MachineLayer {
    /// Its index among the model's layers.
    pub k: usize,
    pub spec: Layer,
    pub input: Shape,
    pub output: Shape,
    /// Where its inputs come from: the input core (`None`) or earlier machine layers.
    pub sources: Vec<Option<usize>>,
    /// Where each source's values start in its (stacked) input.
    pub offsets: Vec<u32>,
    /// A convolution's pooling layer fused in (its index among the model's layers and its
    /// window over the convolution's output): the cores send pooled values.
    pub fused: Option<(usize, Pool, Window)>,
}

impl MachineLayer {
    /// The layers of `model` that take cores, in order, each wired to the machine layers
    /// (or the input) its values come from, through any reshapes between.
    pub fn of(model: &Sequential) -> Vec<MachineLayer> {
        let layers = model.layers();
        let takers = |j: usize| {
            (0..layers.len())
                .filter(|&k| model.layer_sources(k).contains(&Some(j)))
                .count()
        };
        // The machine layer (None: the input) whose values model layer k's output is.
        let mut producer: Vec<Option<usize>> = Vec::with_capacity(layers.len());
        let mut out: Vec<MachineLayer> = Vec::new();
        for (k, spec) in layers.iter().cloned().enumerate() {
            let sources: Vec<Option<usize>> = model
                .layer_sources(k)
                .iter()
                .map(|s| s.and_then(|j| producer[j]))
                .collect();
            if matches!(spec, Layer::Reshape(_)) {
                producer.push(sources[0]);
                continue;
            }
            // Pooling fuses into the convolution below when it is that convolution's only
            // taker: the convolution's cores pool their own channels and send fewer values.
            if let (Layer::Pool(pool), &[Some(j)]) = (&spec, model.layer_sources(k)) {
                let below = producer[j].filter(|&m| {
                    let conv = &out[m];
                    conv.k == j
                        && conv.fused.is_none()
                        && takers(j) == 1
                        && matches!(&conv.spec, Layer::Conv(c) if c.activation != crate::Activation::Softmax)
                });
                if let Some(m) = below {
                    let window = pool
                        .window(model.layer_output(j))
                        .expect("checked when added");
                    out[m].fused = Some((k, *pool, window));
                    out[m].output = model.layer_output(k).clone();
                    producer.push(Some(m));
                    continue;
                }
            }
            let mut offsets = Vec::with_capacity(sources.len());
            let mut at = 0u32;
            for s in model.layer_sources(k) {
                offsets.push(at);
                let n = s.map_or(model.inputs(), |j| model.layer_output(j).iter().product());
                at += n as u32;
            }
            producer.push(Some(out.len()));
            out.push(MachineLayer {
                k,
                spec,
                input: model.layer_input(k).clone(),
                output: model.layer_output(k).clone(),
                sources,
                offsets,
                fused: None,
            });
        }
        out
    }

    /// Where machine layer `m`'s values start in this layer's (stacked) input.
    pub fn offset_of(&self, m: usize) -> u32 {
        self.sources
            .iter()
            .position(|&s| s == Some(m))
            .map_or(0, |i| self.offsets[i])
    }

    /// Whether it reads the input core's values (and tells the input core when it is done).
    pub fn first(&self) -> bool {
        self.sources == [None]
    }

    /// The kind's code (nn.h LAYER_*).
    pub fn kind(&self) -> u32 {
        match self.spec {
            Layer::Dense(_) => LAYER_DENSE,
            Layer::Conv(_) => LAYER_CONV,
            Layer::Pool(_) => LAYER_POOL,
            Layer::Merge(_) => LAYER_MERGE,
            Layer::Reshape(_) => unreachable!("reshapes take no core"),
        }
    }

    /// Atoms the layer is cut into: units, filters or channels.
    pub fn atoms(&self) -> u32 {
        match &self.spec {
            Layer::Dense(d) => d.units as u32,
            _ => *self.output.last().expect("a shape") as u32,
        }
    }

    /// Output values per atom: 1 for a dense layer, the output positions for window kinds.
    pub fn positions(&self) -> u32 {
        self.n_out() / self.atoms().max(1)
    }

    /// Values of the layer below (or features).
    pub fn n_in(&self) -> u32 {
        self.input.iter().product::<usize>() as u32
    }

    /// Values the layer outputs.
    pub fn n_out(&self) -> u32 {
        self.output.iter().product::<usize>() as u32
    }

    /// Kernel rows (one column per atom); 0 for kinds without weights.
    pub fn rows(&self) -> u32 {
        match &self.spec {
            Layer::Dense(_) => self.n_in(),
            Layer::Conv(c) => c.kernel_rows(&self.input).expect("checked when added") as u32,
            _ => 0,
        }
    }

    /// Whether a slice sends its values under their index in the whole layer's output (window
    /// kinds, whose slices' values interleave) rather than their index in the slice (dense).
    pub fn layer_indices(&self) -> bool {
        !matches!(self.spec, Layer::Dense(_))
    }

    /// Values one slice of `atoms` atoms sends forward.
    pub fn slice_values(&self, atoms: u32) -> u32 {
        atoms * self.positions()
    }

    /// Atoms per core for a budget of `values_per_core` output values (0: no limit).
    pub fn per_core(&self, values_per_core: u32) -> u32 {
        let atoms = self.atoms();
        if values_per_core == 0 {
            return atoms;
        }
        (values_per_core / self.positions().max(1)).clamp(1, atoms)
    }

    /// Packets a slice's receive ring holds when the cores above send it `back` values per
    /// sample and `depth` samples are in flight: every sample's whole burst, forward (every
    /// input) or backward, since all of them may come while the slice computes.
    pub fn rx_ring(&self, back: u32, depth: u32) -> u32 {
        rx_ring(self.n_in().max(back).saturating_mul(depth))
    }

    /// Bytes of DTCM a slice of `atoms` atoms needs with `sources` cores sending it `back`
    /// backward values per sample and `depth` samples in flight (mirrors setup_common,
    /// setup_dense and conv_setup in nn.c, plus the runtime's heap slack).
    pub fn dtcm(&self, atoms: u32, sources: u32, back: u32, depth: u32) -> u32 {
        let (n_in, units) = (self.n_in(), self.slice_values(atoms));
        let fused = self.before_pooling(atoms);
        // Each sample in flight: its inputs, what the forward pass made of them (and a fused
        // pooling's input), the partial sums from above and dL/dx for below, their bitmaps.
        let slot = 2 * units
            + 2 * n_in
            + sources * units
            + 2 * fused
            + n_in.div_ceil(32)
            + (sources * units).div_ceil(32)
            + 2;
        let shared = 2 * self.rows() * atoms + 2 * atoms + units + fused;
        4 * (shared + depth * slot + 2 * self.rx_ring(back, depth)) + 512
    }

    /// The activation on its outputs (a fused pooling's: none).
    pub fn activation(&self) -> Activation {
        match self.fused {
            Some(_) => Activation::Identity,
            None => self.spec.activation(),
        }
    }

    /// A name for reports: the Keras class and the layer's index (and the fused pooling's).
    pub fn name(&self) -> String {
        let own = format!("{} {}", self.spec.keras_class(), self.k);
        match &self.fused {
            Some((k, pool, _)) => format!("{own} + {} {k}", Layer::Pool(*pool).keras_class()),
            None => own,
        }
    }

    /// Values a slice of `atoms` atoms computes before a fused pooling (0 without one).
    fn before_pooling(&self, atoms: u32) -> u32 {
        match &self.fused {
            Some((_, _, w)) => (w.input[0] * w.input[1]) as u32 * atoms,
            None => 0,
        }
    }

    /// The geometry words (P_G_*) a slice's parameter block carries; none for dense.
    pub fn geometry(&self) -> Vec<(usize, u32)> {
        let window = match &self.spec {
            Layer::Conv(c) => c.window(&self.input),
            Layer::Pool(p) => p.window(&self.input),
            Layer::Merge(m) => {
                let op = match m.op {
                    MergeOp::Add => MERGE_ADD,
                    MergeOp::Concatenate => MERGE_CONCATENATE,
                };
                let mut words = vec![
                    (P_G_CHANNELS, self.atoms()),
                    (P_M_OP, op),
                    (P_M_INPUTS, m.parts.len() as u32),
                ];
                for (i, part) in m.parts.iter().enumerate().take(MERGE_MAX_INPUTS) {
                    words.push((P_M_CH0 + i, *part.last().expect("a shape") as u32));
                }
                return words;
            }
            _ => return Vec::new(),
        }
        .expect("checked when added");
        let op = match &self.spec {
            Layer::Pool(p) => pool_code(p.op),
            _ => POOL_MAX,
        };
        let u = |v: usize| v as u32;
        let mut fused = Vec::new();
        if let (Some((_, pool, w)), Layer::Conv(c)) = (&self.fused, &self.spec) {
            fused = vec![
                (P_F_POOL, 1),
                (P_F_OP, pool_code(pool.op)),
                (P_F_OUT_ROWS, u(w.output[0])),
                (P_F_OUT_COLS, u(w.output[1])),
                (P_F_WIN_ROWS, u(w.size[0])),
                (P_F_WIN_COLS, u(w.size[1])),
                (P_F_STRIDE_ROWS, u(w.strides[0])),
                (P_F_STRIDE_COLS, u(w.strides[1])),
                (P_F_ACT, super::act_code(c.activation)),
            ];
        }
        fused.extend([
            (P_G_IN_ROWS, u(window.input[0])),
            (P_G_IN_COLS, u(window.input[1])),
            (P_G_IN_CH, u(window.input[2])),
            (P_G_OUT_ROWS, u(window.output[0])),
            (P_G_OUT_COLS, u(window.output[1])),
            (P_G_WIN_ROWS, u(window.size[0])),
            (P_G_WIN_COLS, u(window.size[1])),
            (P_G_STRIDE_ROWS, u(window.strides[0])),
            (P_G_STRIDE_COLS, u(window.strides[1])),
            (P_G_PAD_ROWS, u(window.pad[0])),
            (P_G_PAD_COLS, u(window.pad[1])),
            (P_G_CHANNELS, self.atoms()),
            (P_G_POOL_OP, op),
        ]);
        fused
    }
}

/// The firmware's code for a pooling operation (nn.h's POOL_*).
fn pool_code(op: PoolOp) -> u32 {
    match op {
        PoolOp::Average => POOL_AVERAGE,
        PoolOp::Max => POOL_MAX,
    }
}

/// A receive ring for bursts of up to `values` packets: a power of two above it, 16 at least.
pub(super) fn rx_ring(values: u32) -> u32 {
    values.saturating_add(1).next_power_of_two().max(16)
}
