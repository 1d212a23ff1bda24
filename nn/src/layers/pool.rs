// SPDX-License-Identifier: GPL-2.0-or-later
//! Pooling (`MaxPooling1D/2D`, `AveragePooling1D/2D`, `GlobalAveragePooling1D/2D`,
//! channels-last, padding "valid"): the spec, its shapes, and the host reference's passes.
//! No weights. On the machine a pooling layer is split by channels: each core pools its
//! channels at every position (firmware/apps/nn/layer_pool.c, same order).

use super::conv::Window;
use super::{Padding, Shape};
use crate::NnError;

/// Maximum or mean over each window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolOp {
    /// `MaxPooling`: the largest value (the first one, on ties); its gradient goes there.
    Max,
    /// `AveragePooling`: the mean of the window; its gradient is shared evenly.
    Average,
}

/// A pooling layer's description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    /// 1 (input `[steps, channels]`) or 2 (`[rows, cols, channels]`).
    pub rank: u8,
    /// Maximum or average.
    pub op: PoolOp,
    /// Window `[rows, cols]` (rows 1 for 1-D); ignored when `global`.
    pub size: [usize; 2],
    /// Strides `[rows, cols]`; ignored when `global`.
    pub strides: [usize; 2],
    /// `GlobalAveragePooling`: one window over all positions, output `[channels]`.
    pub global: bool,
}

impl Pool {
    /// Max or average pooling as Keras's integer arguments give it: a window of `size` (1-D)
    /// or size × size (2-D) and the same stride in every dimension.
    pub fn new(rank: u8, op: PoolOp, size: usize, stride: usize) -> Pool {
        let d = |n| if rank == 1 { [1, n] } else { [n, n] };
        Pool {
            rank,
            op,
            size: d(size),
            strides: d(stride),
            global: false,
        }
    }

    /// Global average pooling (`GlobalAveragePooling1D/2D`).
    pub fn global(rank: u8) -> Pool {
        Pool {
            rank,
            op: PoolOp::Average,
            size: [1, 1],
            strides: [1, 1],
            global: true,
        }
    }

    /// The layer's input as `[rows, cols, channels]`.
    pub fn input_dims(&self, input: &Shape) -> Result<[usize; 3], NnError> {
        match (self.rank, input.as_slice()) {
            (1, &[steps, channels]) => Ok([1, steps, channels]),
            (2, &[rows, cols, channels]) => Ok([rows, cols, channels]),
            _ => Err(NnError::Shape(format!(
                "{}-D pooling takes inputs of {} dimensions, got {input:?}",
                self.rank,
                self.rank + 1
            ))),
        }
    }

    /// Its window over `input`.
    pub fn window(&self, input: &Shape) -> Result<Window, NnError> {
        let dims = self.input_dims(input)?;
        let (size, strides) = if self.global {
            ([dims[0], dims[1]], [1, 1])
        } else {
            (self.size, self.strides)
        };
        Window::new(dims, size, strides, Padding::Valid)
    }

    /// The output shape for `input`.
    pub fn output_shape(&self, input: &Shape) -> Result<Shape, NnError> {
        let w = self.window(input)?;
        let c = w.input[2];
        Ok(match (self.global, self.rank) {
            (true, _) => vec![c],
            (false, 1) => vec![w.output[1], c],
            (false, _) => vec![w.output[0], w.output[1], c],
        })
    }

    /// One sample's outputs.
    pub fn forward(&self, w: &Window, x: &[f32]) -> Vec<f32> {
        let [_, cols, c] = w.input;
        let area = (w.size[0] * w.size[1]) as f32;
        let mut out = Vec::with_capacity(w.output[0] * w.output[1] * c);
        for oy in 0..w.output[0] {
            for ox in 0..w.output[1] {
                for ch in 0..c {
                    let mut cells = (0..w.size[0])
                        .flat_map(|ky| (0..w.size[1]).map(move |kx| (ky, kx)))
                        .filter_map(|(ky, kx)| w.source(oy, ox, ky, kx))
                        .map(|(iy, ix)| x[(iy * cols + ix) * c + ch]);
                    let first = cells.next().expect("valid windows are never empty");
                    out.push(match self.op {
                        PoolOp::Max => cells.fold(first, |m, v| if v > m { v } else { m }),
                        PoolOp::Average => cells.fold(first, |s, v| s + v) / area,
                    });
                }
            }
        }
        out
    }

    /// dL/dx for one sample from `delta` (dL/d output).
    pub fn backward(&self, w: &Window, x: &[f32], delta: &[f32]) -> Vec<f32> {
        let [_, cols, c] = w.input;
        let area = (w.size[0] * w.size[1]) as f32;
        let mut dx = vec![0.0; x.len()];
        for oy in 0..w.output[0] {
            for ox in 0..w.output[1] {
                for ch in 0..c {
                    let d = delta[(oy * w.output[1] + ox) * c + ch];
                    let cells: Vec<usize> = (0..w.size[0])
                        .flat_map(|ky| (0..w.size[1]).map(move |kx| (ky, kx)))
                        .filter_map(|(ky, kx)| w.source(oy, ox, ky, kx))
                        .map(|(iy, ix)| (iy * cols + ix) * c + ch)
                        .collect();
                    match self.op {
                        PoolOp::Max => {
                            let mut best = cells[0];
                            for &i in &cells[1..] {
                                if x[i] > x[best] {
                                    best = i;
                                }
                            }
                            dx[best] += d;
                        }
                        PoolOp::Average => {
                            let share = d / area;
                            for &i in &cells {
                                dx[i] += share;
                            }
                        }
                    }
                }
            }
        }
        dx
    }
}
