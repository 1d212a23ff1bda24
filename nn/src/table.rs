// SPDX-License-Identifier: GPL-2.0-or-later
//! Data a user brings: a CSV table of numeric features and a label (one column of class names
//! or class numbers, or one-hot columns), and the per-feature standardisation learnt on the
//! training split that every later use of the model applies.

use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::NnError;

/// A column of a CSV table: its header name, or its number counting from 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Column {
    /// Column number, from 0.
    Number(usize),
    /// Header name.
    Name(String),
}

/// Where a CSV table's label is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Label {
    /// One column of class names or class numbers (sparse labels).
    Column(Column),
    /// One column per class, in class order, 1 in the sample's class and 0 elsewhere.
    OneHot(Vec<Column>),
}

/// How to read a CSV table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CsvOptions {
    /// Whether the first row names the columns (`None`: it does when it has text where the
    /// second row has a number).
    pub header: Option<bool>,
    /// The label (`None`: the last column).
    pub label: Option<Label>,
}

/// Reads a CSV table: every column but the label's is a feature. `classes`, when given, are
/// the class names of the training data (from a weights file): labels are read as those, and
/// a label outside them is an error; otherwise the classes are the label's distinct values,
/// numerically ordered when every one is a whole number, else sorted as text.
pub fn read_csv(
    text: &str,
    opts: &CsvOptions,
    classes: Option<&[String]>,
) -> Result<Dataset, NnError> {
    let err = |line: usize, message: String| NnError::Data { line, message };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows: Vec<(usize, Vec<String>)> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            err(line, e.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record.iter().all(str::is_empty) {
            continue;
        }
        rows.push((line, record.iter().map(str::to_string).collect()));
    }
    let Some((first_line, first)) = rows.first().cloned() else {
        return Err(err(1, "no rows".into()));
    };
    let is_number = |s: &str| s.parse::<f32>().is_ok();
    let header = opts.header.unwrap_or_else(|| {
        rows.get(1).is_some_and(|(_, second)| {
            first
                .iter()
                .zip(second)
                .any(|(a, b)| !is_number(a) && is_number(b))
        })
    });
    let names: Vec<String> = if header {
        rows.remove(0);
        first.clone()
    } else {
        (0..first.len()).map(|i| format!("column {i}")).collect()
    };
    let width = names.len();
    let column = |c: &Column| -> Result<usize, NnError> {
        match c {
            Column::Number(n) if *n < width => Ok(*n),
            Column::Number(n) => Err(err(
                first_line,
                format!("label column {n} is beyond the table's {width} columns"),
            )),
            Column::Name(name) if header => names.iter().position(|h| h == name).ok_or_else(|| {
                err(
                    first_line,
                    format!("no column named {name:?} (the header has {names:?})"),
                )
            }),
            Column::Name(name) => Err(err(
                first_line,
                format!("label column {name:?} named, but the table has no header row"),
            )),
        }
    };
    let label_columns: Vec<usize> = match &opts.label {
        None => vec![width.saturating_sub(1)],
        Some(Label::Column(c)) => vec![column(c)?],
        Some(Label::OneHot(cs)) => cs.iter().map(column).collect::<Result<_, _>>()?,
    };
    if label_columns.len() >= width || label_columns.is_empty() {
        return Err(err(
            first_line,
            "no feature columns beside the label".into(),
        ));
    }
    if rows.is_empty() {
        return Err(err(first_line, "no samples below the header".into()));
    }
    let one_hot = matches!(opts.label, Some(Label::OneHot(_)));
    let mut x = Vec::with_capacity(rows.len());
    let mut labels = Vec::with_capacity(rows.len());
    for (line, row) in &rows {
        if row.len() != width {
            return Err(err(
                *line,
                format!("expected {width} columns, found {}", row.len()),
            ));
        }
        let mut features = Vec::with_capacity(width - label_columns.len());
        for (c, field) in row.iter().enumerate() {
            if label_columns.contains(&c) {
                continue;
            }
            let v: f32 = field.parse().map_err(|_| {
                err(
                    *line,
                    format!("column {c} ({}) is not a number: {field:?}", names[c]),
                )
            })?;
            if !v.is_finite() {
                return Err(err(
                    *line,
                    format!("column {c} ({}) is not finite: {field:?}", names[c]),
                ));
            }
            features.push(v);
        }
        x.push(features);
        labels.push((
            *line,
            label_columns.iter().map(|&c| row[c].clone()).collect(),
        ));
    }
    let (y, class_names) = if one_hot {
        one_hot_targets(&labels, &label_columns, &names, classes)?
    } else {
        sparse_targets(&labels, classes)?
    };
    Ok(Dataset { x, y, class_names })
}

/// Targets from one-hot label columns (their header names are the classes).
fn one_hot_targets(
    labels: &[(usize, Vec<String>)],
    columns: &[usize],
    names: &[String],
    classes: Option<&[String]>,
) -> Result<(Vec<Vec<f32>>, Vec<String>), NnError> {
    let class_names: Vec<String> = match classes {
        Some(c) if c.len() != columns.len() => {
            return Err(NnError::Data {
                line: labels.first().map_or(1, |l| l.0),
                message: format!(
                    "{} one-hot label columns for the {} classes the model was trained on",
                    columns.len(),
                    c.len()
                ),
            })
        }
        Some(c) => c.to_vec(),
        None => columns.iter().map(|&c| names[c].clone()).collect(),
    };
    let mut y = Vec::with_capacity(labels.len());
    for (line, fields) in labels {
        let v: Vec<f32> = fields
            .iter()
            .map(|f| match f.parse::<f32>() {
                Ok(v) if v == 0.0 || v == 1.0 => Ok(v),
                _ => Err(NnError::Data {
                    line: *line,
                    message: format!("one-hot label {f:?} is not 0 or 1"),
                }),
            })
            .collect::<Result<_, _>>()?;
        if v.iter().filter(|&&b| b == 1.0).count() != 1 {
            return Err(NnError::Data {
                line: *line,
                message: format!("one-hot labels {fields:?} need exactly one 1"),
            });
        }
        y.push(v);
    }
    Ok((y, class_names))
}

/// Targets from one column of class names or numbers, one-hot over the classes.
fn sparse_targets(
    labels: &[(usize, Vec<String>)],
    classes: Option<&[String]>,
) -> Result<(Vec<Vec<f32>>, Vec<String>), NnError> {
    let values: Vec<&str> = labels.iter().map(|(_, f)| f[0].as_str()).collect();
    let class_names: Vec<String> = match classes {
        Some(c) => c.to_vec(),
        None => {
            let numbers: Option<Vec<u32>> = values.iter().map(|v| v.parse().ok()).collect();
            match numbers {
                // Class numbers: every class up to the largest (Keras's sparse labels).
                Some(n) => (0..=n.iter().copied().max().unwrap_or(0))
                    .map(|k| k.to_string())
                    .collect(),
                None => {
                    let mut names: Vec<String> = values.iter().map(|v| v.to_string()).collect();
                    names.sort();
                    names.dedup();
                    names
                }
            }
        }
    };
    let mut y = Vec::with_capacity(labels.len());
    for ((line, _), v) in labels.iter().zip(&values) {
        let k = class_names
            .iter()
            .position(|c| c == v)
            .ok_or_else(|| NnError::Data {
                line: *line,
                message: format!("label {v:?} is not one of the classes {class_names:?}"),
            })?;
        let mut t = vec![0.0; class_names.len()];
        t[k] = 1.0;
        y.push(t);
    }
    Ok((y, class_names))
}

/// Per-feature standardisation, `(x - mean) / scale`, learnt on a training split and saved
/// with the weights, so that new data is scaled as the training data was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Normalisation {
    /// Each feature's mean over the training samples.
    pub mean: Vec<f32>,
    /// Each feature's standard deviation over them (1 for a constant feature).
    pub scale: Vec<f32>,
}

impl Normalisation {
    /// Zero mean and unit (population) variance for each feature of `x`.
    pub fn fit(x: &[Vec<f32>]) -> Normalisation {
        let n = x.len().max(1) as f32;
        let features = x.first().map_or(0, Vec::len);
        let mut mean = Vec::with_capacity(features);
        let mut scale = Vec::with_capacity(features);
        for f in 0..features {
            let m = x.iter().map(|s| s[f]).sum::<f32>() / n;
            let var = x.iter().map(|s| (s[f] - m).powi(2)).sum::<f32>() / n;
            mean.push(m);
            scale.push(if var > 0.0 { var.sqrt() } else { 1.0 });
        }
        Normalisation { mean, scale }
    }

    /// Scales every sample of `x` in place.
    pub fn apply(&self, x: &mut [Vec<f32>]) -> Result<(), NnError> {
        for s in x.iter_mut() {
            if s.len() != self.mean.len() {
                return Err(NnError::Shape(format!(
                    "samples of {} features, normalisation learnt on {}",
                    s.len(),
                    self.mean.len()
                )));
            }
            for ((v, m), d) in s.iter_mut().zip(&self.mean).zip(&self.scale) {
                *v = (*v - m) / d;
            }
        }
        Ok(())
    }

    /// Whether every mean and scale is finite and every scale positive.
    pub fn check(&self) -> Result<(), String> {
        if self.mean.len() != self.scale.len() {
            return Err(format!(
                "{} means for {} scales",
                self.mean.len(),
                self.scale.len()
            ));
        }
        if self.mean.iter().any(|m| !m.is_finite())
            || self.scale.iter().any(|s| !(s.is_finite() && *s > 0.0))
        {
            return Err("means must be finite and scales finite and positive".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(header: Option<bool>, label: Option<Label>) -> CsvOptions {
        CsvOptions { header, label }
    }

    #[test]
    fn a_header_and_class_names_are_found() {
        let text = "a,b,species\n1,2,virginica\n3,4,setosa\n5,6,virginica\n";
        let d = read_csv(text, &CsvOptions::default(), None).unwrap();
        assert_eq!(d.x, vec![vec![1.0, 2.0], vec![3.0, 4.0], vec![5.0, 6.0]]);
        assert_eq!(d.class_names, ["setosa", "virginica"]);
        assert_eq!(d.y[0], [0.0, 1.0]);
        // By name, first column, no header detection needed.
        let text = "species,a,b\nsetosa,1,2\nvirginica,3,4\n";
        let label = Label::Column(Column::Name("species".into()));
        let d = read_csv(text, &opts(Some(true), Some(label)), None).unwrap();
        assert_eq!(d.x[1], [3.0, 4.0]);
        assert_eq!(d.y[1], [0.0, 1.0]);
    }

    #[test]
    fn numbered_classes_without_a_header() {
        let d = read_csv("0.5,2\n1.5,0\n", &CsvOptions::default(), None).unwrap();
        assert_eq!(d.class_names, ["0", "1", "2"]);
        assert_eq!(d.y, vec![vec![0.0, 0.0, 1.0], vec![1.0, 0.0, 0.0]]);
        let label = Label::Column(Column::Number(0));
        let d = read_csv("2,0.5\n0,1.5\n", &opts(None, Some(label)), None).unwrap();
        assert_eq!(d.x, vec![vec![0.5], vec![1.5]]);
    }

    #[test]
    fn one_hot_columns_and_known_classes() {
        let text = "x,cat,dog\n1,1,0\n2,0,1\n";
        let label = Label::OneHot(vec![Column::Name("cat".into()), Column::Name("dog".into())]);
        let d = read_csv(text, &opts(None, Some(label.clone())), None).unwrap();
        assert_eq!(d.class_names, ["cat", "dog"]);
        assert_eq!(d.y, vec![vec![1.0, 0.0], vec![0.0, 1.0]]);
        let e = read_csv("x,cat,dog\n1,1,1\n", &opts(Some(true), Some(label)), None).unwrap_err();
        assert!(e.to_string().contains("exactly one"), "{e}");
        // New data read with the training data's classes: one class present is enough.
        let classes = ["setosa".to_string(), "virginica".to_string()];
        let d = read_csv("a,s\n1,virginica\n", &CsvOptions::default(), Some(&classes)).unwrap();
        assert_eq!(d.y, vec![vec![0.0, 1.0]]);
        let e = read_csv("a,s\n1,rose\n", &opts(Some(true), None), Some(&classes)).unwrap_err();
        assert!(e.to_string().contains("rose"), "{e}");
    }

    #[test]
    fn bad_tables_name_the_line() {
        let e = read_csv("a,b\n1,x\n2,y\n3\n", &CsvOptions::default(), None).unwrap_err();
        assert!(matches!(e, NnError::Data { line: 4, .. }), "{e}");
        let e = read_csv("1,0\nnan,1\n", &CsvOptions::default(), None).unwrap_err();
        assert!(matches!(e, NnError::Data { line: 2, .. }), "{e}");
        let e = read_csv("1,0\nq,1\n", &opts(Some(false), None), None).unwrap_err();
        assert!(e.to_string().contains("not a number"), "{e}");
        let label = Label::Column(Column::Name("kind".into()));
        let e = read_csv("a,b\n1,0\n", &opts(Some(true), Some(label)), None).unwrap_err();
        assert!(e.to_string().contains("kind"), "{e}");
        assert!(read_csv("", &CsvOptions::default(), None).is_err());
        assert!(read_csv("a,b\n", &opts(Some(true), None), None).is_err());
    }

    #[test]
    fn normalisation_is_learnt_on_one_set_and_applied_to_another() {
        let train = vec![vec![1.0, 5.0], vec![3.0, 5.0]];
        let n = Normalisation::fit(&train);
        assert_eq!(
            (n.mean.clone(), n.scale.clone()),
            (vec![2.0, 5.0], vec![1.0, 1.0])
        );
        let mut new = vec![vec![4.0, 6.0]];
        n.apply(&mut new).unwrap();
        assert_eq!(new, vec![vec![2.0, 1.0]]);
        assert!(n.apply(&mut [vec![1.0]]).is_err());
        assert!(n.check().is_ok());
        let bad = Normalisation {
            mean: vec![0.0],
            scale: vec![0.0],
        };
        assert!(bad.check().is_err());
    }
}
