// SPDX-License-Identifier: GPL-2.0-or-later
//! Data a NumPy user brings: samples and labels as `.npy` arrays, or as arrays `x` and `y` of
//! one `.npz` archive (`np.savez(path, x=x, y=y)`), read with the `npyz` crate.

use std::io::Cursor;

use crate::data::Dataset;
use crate::NnError;

/// A numeric array: its shape, and its values in C (row-major) order.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// Length of each axis.
    pub shape: Vec<usize>,
    /// Every value, converted to f64.
    pub values: Vec<f64>,
    /// Whether the array held integers (or booleans) rather than floats.
    pub integer: bool,
}

fn error(name: &str, message: impl Into<String>) -> NnError {
    NnError::Array {
        name: name.to_string(),
        message: message.into(),
    }
}

/// Reads one `.npy` array (`name` says which, in errors).
pub fn read_npy(bytes: &[u8], name: &str) -> Result<Array, NnError> {
    let npy = npyz::NpyFile::new(bytes).map_err(|e| error(name, e.to_string()))?;
    from_npy(npy, name)
}

/// Reads array `name` of a `.npz` archive.
pub fn read_npz(bytes: &[u8], name: &str) -> Result<Array, NnError> {
    let mut archive =
        npyz::npz::NpzArchive::new(Cursor::new(bytes)).map_err(|e| error(name, e.to_string()))?;
    let names: Vec<String> = archive.array_names().map(str::to_string).collect();
    let npy = archive
        .by_name(name)
        .map_err(|e| error(name, e.to_string()))?
        .ok_or_else(|| error(name, format!("not in the archive, which holds {names:?}")))?;
    from_npy(npy, name)
}

fn from_npy<R: std::io::Read>(npy: npyz::NpyFile<R>, name: &str) -> Result<Array, NnError> {
    use npyz::TypeChar;
    if npy.order() == npyz::Order::Fortran {
        return Err(error(
            name,
            "is in Fortran order; save it with np.ascontiguousarray first",
        ));
    }
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let npyz::DType::Plain(ty) = npy.dtype() else {
        return Err(error(name, "is a structured array, not numbers"));
    };
    let read = |e: std::io::Error| error(name, e.to_string());
    let (values, integer): (Vec<f64>, bool) = match (ty.type_char(), ty.size_field()) {
        (TypeChar::Float, 4) => (
            npy.into_vec::<f32>()
                .map_err(read)?
                .into_iter()
                .map(f64::from)
                .collect(),
            false,
        ),
        (TypeChar::Float, 8) => (npy.into_vec::<f64>().map_err(read)?, false),
        (TypeChar::Int, 1) => ints(npy.into_vec::<i8>().map_err(read)?),
        (TypeChar::Int, 2) => ints(npy.into_vec::<i16>().map_err(read)?),
        (TypeChar::Int, 4) => ints(npy.into_vec::<i32>().map_err(read)?),
        (TypeChar::Int, 8) => (
            npy.into_vec::<i64>()
                .map_err(read)?
                .into_iter()
                .map(|v| v as f64)
                .collect(),
            true,
        ),
        (TypeChar::Uint, 1) => ints(npy.into_vec::<u8>().map_err(read)?),
        (TypeChar::Uint, 2) => ints(npy.into_vec::<u16>().map_err(read)?),
        (TypeChar::Uint, 4) => ints(npy.into_vec::<u32>().map_err(read)?),
        (TypeChar::Bool, 1) => ints(
            npy.into_vec::<bool>()
                .map_err(read)?
                .into_iter()
                .map(u8::from)
                .collect(),
        ),
        _ => return Err(error(name, format!("has type {ty}, not one of numbers"))),
    };
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(error(name, format!("value {i} is not finite")));
    }
    Ok(Array {
        shape,
        values,
        integer,
    })
}

fn ints<T: Into<f64>>(v: Vec<T>) -> (Vec<f64>, bool) {
    (v.into_iter().map(Into::into).collect(), true)
}

/// Samples from `x` (first axis: samples; the rest flattened into features) and labels from
/// `y`: class numbers (integers, one per sample) or targets per sample (`[n, classes]`, e.g.
/// one-hot). `classes`, when given, are the training data's class names, which class numbers
/// must be among.
pub fn dataset(x: &Array, y: &Array, classes: Option<&[String]>) -> Result<Dataset, NnError> {
    let n = *x
        .shape
        .first()
        .ok_or_else(|| error("x", "is a single number, not samples"))?;
    if n == 0 {
        return Err(error("x", "has no samples"));
    }
    let features = x.values.len() / n;
    if features == 0 {
        return Err(error("x", "has no features"));
    }
    if y.shape.first() != Some(&n) {
        return Err(error(
            "y",
            format!("has shape {:?}, but x has {n} samples", y.shape),
        ));
    }
    let xs: Vec<Vec<f32>> = x
        .values
        .chunks(features)
        .map(|s| s.iter().map(|&v| v as f32).collect())
        .collect();
    let per = y.values.len() / n;
    let sparse = per == 1 && y.values.iter().all(|v| v.fract() == 0.0 && *v >= 0.0);
    let (ys, class_names) = if sparse {
        let largest = y.values.iter().copied().fold(0.0, f64::max) as usize;
        let names: Vec<String> = match classes {
            Some(c) => c.to_vec(),
            None => (0..=largest).map(|k| k.to_string()).collect(),
        };
        let mut ys = Vec::with_capacity(n);
        for (i, &v) in y.values.iter().enumerate() {
            let k = v as usize;
            if k >= names.len() {
                return Err(error(
                    "y",
                    format!(
                        "label {k} of sample {i} is not one of the {} classes",
                        names.len()
                    ),
                ));
            }
            let mut t = vec![0.0; names.len()];
            t[k] = 1.0;
            ys.push(t);
        }
        (ys, names)
    } else {
        if y.integer && per == 1 {
            return Err(error("y", "has negative class numbers"));
        }
        let names: Vec<String> = match classes {
            Some(c) if c.len() == per => c.to_vec(),
            Some(c) => {
                return Err(error(
                    "y",
                    format!(
                        "has {per} targets per sample, the model {} classes",
                        c.len()
                    ),
                ))
            }
            None => (0..per).map(|k| k.to_string()).collect(),
        };
        let ys = y
            .values
            .chunks(per)
            .map(|t| t.iter().map(|&v| v as f32).collect())
            .collect();
        (ys, names)
    };
    Ok(Dataset {
        x: xs,
        y: ys,
        class_names,
    })
}
