// SPDX-License-Identifier: GPL-2.0-or-later
//! `Conv1D` and `Conv2D` (`keras.layers.Conv1D/Conv2D`, channels-last): the spec, its shapes,
//! and the host reference's forward and backward passes. A 1-D convolution is a 2-D one of
//! height 1. On the machine a convolution is split by output channels (filters): each core
//! holds its filters' kernel columns, computes every position of its channels, and sends
//! them under their index in the layer's channels-last output (firmware/apps/nn/layer_conv.c
//! does the same sums in the same order).

use super::{Padding, Shape};
use crate::{Activation, NnError};

/// A convolution layer's description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv {
    /// 1 for `Conv1D` (input `[steps, channels]`), 2 for `Conv2D` (`[rows, cols, channels]`).
    pub rank: u8,
    /// Output channels.
    pub filters: usize,
    /// Kernel size `[rows, cols]` (rows is 1 for `Conv1D`).
    pub kernel: [usize; 2],
    /// Strides `[rows, cols]`.
    pub strides: [usize; 2],
    /// `valid` or `same`.
    pub padding: Padding,
    /// Activation applied to the pre-activations.
    pub activation: Activation,
}

/// Where a convolution or pooling window sits: input and output sizes, window, strides and the
/// padding before the first row and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Input rows, columns, channels.
    pub input: [usize; 3],
    /// Output rows and columns.
    pub output: [usize; 2],
    /// Window rows and columns.
    pub size: [usize; 2],
    /// Strides.
    pub strides: [usize; 2],
    /// Padding before the first row and the first column.
    pub pad: [usize; 2],
}

impl Window {
    /// The window of `size` and `strides` over an input `[rows, cols, channels]`, as Keras
    /// pads it.
    pub fn new(
        input: [usize; 3],
        size: [usize; 2],
        strides: [usize; 2],
        padding: Padding,
    ) -> Result<Window, NnError> {
        let mut output = [0; 2];
        let mut pad = [0; 2];
        for d in 0..2 {
            if size[d] == 0 || strides[d] == 0 {
                return Err(NnError::Shape(
                    "window sizes and strides must be at least 1".into(),
                ));
            }
            match padding {
                Padding::Valid => {
                    if input[d] < size[d] {
                        return Err(NnError::Shape(format!(
                            "a window of {:?} does not fit an input of {:?} with padding \"valid\"",
                            size,
                            &input[..2]
                        )));
                    }
                    output[d] = (input[d] - size[d]) / strides[d] + 1;
                }
                Padding::Same => {
                    output[d] = input[d].div_ceil(strides[d]);
                    let total = ((output[d] - 1) * strides[d] + size[d]).saturating_sub(input[d]);
                    pad[d] = total / 2;
                }
            }
        }
        Ok(Window {
            input,
            output,
            size,
            strides,
            pad,
        })
    }

    /// The input row and column under window cell (ky, kx) at output (oy, ox), if not padding.
    pub fn source(&self, oy: usize, ox: usize, ky: usize, kx: usize) -> Option<(usize, usize)> {
        let iy = (oy * self.strides[0] + ky).checked_sub(self.pad[0])?;
        let ix = (ox * self.strides[1] + kx).checked_sub(self.pad[1])?;
        (iy < self.input[0] && ix < self.input[1]).then_some((iy, ix))
    }
}

impl Conv {
    /// A convolution as Keras's integer arguments give it: a kernel of `k` (1-D) or k × k
    /// (2-D) and the same stride in every dimension.
    pub fn new(
        rank: u8,
        filters: usize,
        k: usize,
        stride: usize,
        padding: Padding,
        activation: Activation,
    ) -> Conv {
        let d = |n| if rank == 1 { [1, n] } else { [n, n] };
        Conv {
            rank,
            filters,
            kernel: d(k),
            strides: d(stride),
            padding,
            activation,
        }
    }

    /// The layer's input as `[rows, cols, channels]`.
    pub fn input_dims(&self, input: &Shape) -> Result<[usize; 3], NnError> {
        match (self.rank, input.as_slice()) {
            (1, &[steps, channels]) => Ok([1, steps, channels]),
            (2, &[rows, cols, channels]) => Ok([rows, cols, channels]),
            _ => Err(NnError::Shape(format!(
                "Conv{}D takes inputs of {} dimensions, got {input:?}",
                self.rank,
                self.rank + 1
            ))),
        }
    }

    /// Its window over `input`.
    pub fn window(&self, input: &Shape) -> Result<Window, NnError> {
        if self.filters == 0 {
            return Err(NnError::Shape(
                "a convolution needs at least 1 filter".into(),
            ));
        }
        Window::new(
            self.input_dims(input)?,
            self.kernel,
            self.strides,
            self.padding,
        )
    }

    /// The output shape for `input`.
    pub fn output_shape(&self, input: &Shape) -> Result<Shape, NnError> {
        let w = self.window(input)?;
        Ok(match self.rank {
            1 => vec![w.output[1], self.filters],
            _ => vec![w.output[0], w.output[1], self.filters],
        })
    }

    /// Keras's weight shapes: the kernel `[rows, cols, in, filters]` (no rows for `Conv1D`),
    /// then the bias.
    pub fn param_shapes(&self, input: &Shape) -> Result<Vec<Shape>, NnError> {
        let [_, _, c] = self.input_dims(input)?;
        let kernel = match self.rank {
            1 => vec![self.kernel[1], c, self.filters],
            _ => vec![self.kernel[0], self.kernel[1], c, self.filters],
        };
        Ok(vec![kernel, vec![self.filters]])
    }

    /// Kernel rows as the machine stores them: one per (window row, column, input channel).
    pub fn kernel_rows(&self, input: &Shape) -> Result<usize, NnError> {
        let [_, _, c] = self.input_dims(input)?;
        Ok(self.kernel[0] * self.kernel[1] * c)
    }

    /// Pre-activations of one sample: bias, then the window's products in (row, column,
    /// channel) order.
    pub fn forward(&self, w: &Window, kernel: &[f32], bias: &[f32], x: &[f32]) -> Vec<f32> {
        let f = self.filters;
        let [_, cols, c] = w.input;
        let mut z = Vec::with_capacity(w.output[0] * w.output[1] * f);
        for oy in 0..w.output[0] {
            for ox in 0..w.output[1] {
                let o = z.len();
                z.extend_from_slice(bias);
                for ky in 0..w.size[0] {
                    for kx in 0..w.size[1] {
                        let Some((iy, ix)) = w.source(oy, ox, ky, kx) else {
                            continue;
                        };
                        for ci in 0..c {
                            let xi = x[(iy * cols + ix) * c + ci];
                            let r = ((ky * w.size[1] + kx) * c + ci) * f;
                            for (zj, &k) in z[o..o + f].iter_mut().zip(&kernel[r..r + f]) {
                                *zj += xi * k;
                            }
                        }
                    }
                }
            }
        }
        z
    }

    /// Adds one sample's kernel and bias gradients for `delta` (dL/dz) to `dkernel` and `dbias`
    /// and returns dL/dx (when `want_dx`).
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        w: &Window,
        kernel: &[f32],
        x: &[f32],
        delta: &[f32],
        dkernel: &mut [f32],
        dbias: &mut [f32],
        want_dx: bool,
    ) -> Vec<f32> {
        let f = self.filters;
        let [_, cols, c] = w.input;
        let mut dx = vec![0.0; if want_dx { x.len() } else { 0 }];
        for oy in 0..w.output[0] {
            for ox in 0..w.output[1] {
                let o = (oy * w.output[1] + ox) * f;
                let d = &delta[o..o + f];
                for (g, &dj) in dbias.iter_mut().zip(d) {
                    *g += dj;
                }
                for ky in 0..w.size[0] {
                    for kx in 0..w.size[1] {
                        let Some((iy, ix)) = w.source(oy, ox, ky, kx) else {
                            continue;
                        };
                        for ci in 0..c {
                            let i = (iy * cols + ix) * c + ci;
                            let r = ((ky * w.size[1] + kx) * c + ci) * f;
                            let xi = x[i];
                            for (g, &dj) in dkernel[r..r + f].iter_mut().zip(d) {
                                *g += xi * dj;
                            }
                            if want_dx {
                                let row = &kernel[r..r + f];
                                let mut s = row[0] * d[0];
                                for j in 1..f {
                                    s += row[j] * d[j];
                                }
                                dx[i] += s;
                            }
                        }
                    }
                }
            }
        }
        dx
    }
}
