// SPDX-License-Identifier: GPL-2.0-or-later
//! `Flatten` and `Reshape`: a new shape for the same values in the same (channels-last) order.
//! They take no core on the machine: the layer above reads the values under the same indices.

use super::Shape;
use crate::NnError;

/// `Flatten` (to one dimension) or `Reshape` (to a given shape).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reshape {
    /// `keras.layers.Flatten`.
    Flatten,
    /// `keras.layers.Reshape(target_shape)`.
    To(Shape),
}

impl Reshape {
    /// The output shape for `input`.
    pub fn output_shape(&self, input: &Shape) -> Result<Shape, NnError> {
        let n: usize = input.iter().product();
        match self {
            Reshape::Flatten => Ok(vec![n]),
            Reshape::To(target) => {
                if target.iter().product::<usize>() != n || target.contains(&0) {
                    return Err(NnError::Shape(format!(
                        "cannot reshape {input:?} ({n} values) to {target:?}"
                    )));
                }
                Ok(target.clone())
            }
        }
    }
}
