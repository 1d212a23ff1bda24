// SPDX-License-Identifier: GPL-2.0-or-later
//! Small data sets and loaders in the formats of the project's shared data
//! folder, scaled the way the reference Keras scripts scale them.

use crate::rng::SplitMix64;
use crate::NnError;

/// Samples with one-hot (or scalar) targets.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Feature vectors, one per sample.
    pub x: Vec<Vec<f32>>,
    /// Target vectors, one per sample.
    pub y: Vec<Vec<f32>>,
    /// Class names, index = class number.
    pub class_names: Vec<String>,
}

impl Dataset {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.x.len()
    }

    /// The samples at `rows`, in that order.
    pub fn pick(&self, rows: &[usize]) -> Dataset {
        Dataset {
            x: rows.iter().map(|&i| self.x[i].clone()).collect(),
            y: rows.iter().map(|&i| self.y[i].clone()).collect(),
            class_names: self.class_names.clone(),
        }
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }
}

/// The four XOR samples with a single 0/1 target each.
pub fn xor() -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let x = vec![
        vec![0.0, 0.0],
        vec![0.0, 1.0],
        vec![1.0, 0.0],
        vec![1.0, 1.0],
    ];
    let y = vec![vec![0.0], vec![1.0], vec![1.0], vec![0.0]];
    (x, y)
}

/// The four XOR samples as a [`Dataset`] with class names `"0"` and `"1"`.
pub fn xor_dataset() -> Dataset {
    let (x, y) = xor();
    Dataset {
        x,
        y,
        class_names: vec!["0".into(), "1".into()],
    }
}

fn one_hot(class: usize, classes: usize) -> Vec<f32> {
    let mut v = vec![0.0; classes];
    v[class] = 1.0;
    v
}

/// Parses `features` numbers plus a class in `0..classes` from one CSV line.
fn parse_row(
    line: &str,
    number: usize,
    features: usize,
    classes: usize,
) -> Result<(Vec<f32>, usize), NnError> {
    let err = |message: String| NnError::Data {
        line: number,
        message,
    };
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    if fields.len() != features + 1 {
        return Err(err(format!(
            "expected {} columns, found {}",
            features + 1,
            fields.len()
        )));
    }
    let mut x = Vec::with_capacity(features);
    for (col, f) in fields[..features].iter().enumerate() {
        let v: f32 = f
            .parse()
            .map_err(|_| err(format!("column {} is not a number: {f:?}", col + 1)))?;
        if !v.is_finite() {
            return Err(err(format!("column {} is not finite: {f:?}", col + 1)));
        }
        x.push(v);
    }
    let label = fields[features];
    let class: usize = label
        .parse()
        .map_err(|_| err(format!("class is not a non-negative integer: {label:?}")))?;
    if class >= classes {
        return Err(err(format!("class {class} out of range 0..{classes}")));
    }
    Ok((x, class))
}

/// Iris in the shared-data format: header `count,features,name...`, then
/// features and a class number per line, as measured (a model file standardises them with
/// what it learns on its training split, [`crate::table::Normalisation`]).
pub fn iris_from_csv(text: &str) -> Result<Dataset, NnError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or(NnError::Data {
        line: 1,
        message: "empty file, expected header".into(),
    })?;
    let head: Vec<&str> = header.split(',').map(str::trim).collect();
    let header_err = |message: &str| NnError::Data {
        line: 1,
        message: message.into(),
    };
    if head.len() < 3 {
        return Err(header_err(
            "header needs count, feature count and class names",
        ));
    }
    let count: usize = head[0]
        .parse()
        .map_err(|_| header_err("sample count is not a number"))?;
    let features: usize = head[1]
        .parse()
        .map_err(|_| header_err("feature count is not a number"))?;
    let class_names: Vec<String> = head[2..].iter().map(|s| s.to_string()).collect();
    let mut x = Vec::new();
    let mut y = Vec::new();
    for (i, line) in lines {
        let (f, c) = parse_row(line, i + 1, features, class_names.len())?;
        x.push(f);
        y.push(one_hot(c, class_names.len()));
    }
    if x.len() != count {
        return Err(header_err(&format!(
            "header promises {count} samples, file has {}",
            x.len()
        )));
    }
    Ok(Dataset { x, y, class_names })
}

/// UCI optical digits as plain CSV (no header): 64 pixels in `0..=16` then
/// the label `0..=9`; pixels scaled by 1/16, targets one-hot over 10 classes.
pub fn digits_from_csv(text: &str) -> Result<Dataset, NnError> {
    let (x, y) = labelled_rows(text, 64, 10, |line, f| {
        if let Some(col) = f.iter().position(|&p| !(0.0..=16.0).contains(&p)) {
            return Err(NnError::Data {
                line,
                message: format!("pixel in column {} outside 0..=16", col + 1),
            });
        }
        f.iter_mut().for_each(|p| *p /= 16.0);
        Ok(())
    })?;
    Ok(Dataset {
        x,
        y,
        class_names: (0..10).map(|d| d.to_string()).collect(),
    })
}

/// The rows of a headerless CSV of `features` values then a class below `classes` (blank
/// lines skipped): features, each row passed through `fix` with its 1-based line number,
/// and one-hot targets.
#[allow(clippy::type_complexity)]
fn labelled_rows(
    text: &str,
    features: usize,
    classes: usize,
    mut fix: impl FnMut(usize, &mut Vec<f32>) -> Result<(), NnError>,
) -> Result<(Vec<Vec<f32>>, Vec<Vec<f32>>), NnError> {
    let mut x = Vec::new();
    let mut y = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let (mut f, c) = parse_row(line, i + 1, features, classes)?;
        fix(i + 1, &mut f)?;
        x.push(f);
        y.push(one_hot(c, classes));
    }
    Ok((x, y))
}

/// Samples per waveform in the `waves` data set.
pub const WAVE_STEPS: usize = 32;
/// The `waves` classes, in label order.
pub const WAVE_CLASSES: [&str; 4] = ["sine", "square", "triangle", "sawtooth"];

/// The `waves` data set as CSV (no header; [`WAVE_STEPS`] values then the class `0..=3`):
/// `per_class` noisy waveforms of each class, in class-interleaved order, each with a random
/// frequency (1 to 2 periods in the window), phase, amplitude (0.8 to 1) and noise (sum of
/// three uniforms, standard deviation 0.15), all drawn from SplitMix64(`seed`). data/waves.csv
/// is `waves_csv(250, 2026)`.
pub fn waves_csv(per_class: usize, seed: u64) -> String {
    let mut rng = SplitMix64::new(seed);
    let mut out = String::new();
    for _ in 0..per_class {
        for class in 0..WAVE_CLASSES.len() {
            let periods = 1.0 + rng.next_f32();
            let phase = rng.next_f32();
            let amplitude = 0.8 + 0.2 * rng.next_f32();
            for t in 0..WAVE_STEPS {
                let u = (phase + periods * t as f32 / WAVE_STEPS as f32).fract();
                let shape = match class {
                    0 => (2.0 * std::f32::consts::PI * u).sin(),
                    1 => {
                        if u < 0.5 {
                            1.0
                        } else {
                            -1.0
                        }
                    }
                    2 => 1.0 - 4.0 * (u - 0.5).abs(),
                    _ => 2.0 * u - 1.0,
                };
                // Three uniforms on -0.5..0.5 sum to variance 0.25; scaled to sd 0.15.
                let noise = (rng.next_f32() + rng.next_f32() + rng.next_f32() - 1.5) * 0.3;
                out.push_str(&format!("{:.4},", amplitude * shape + noise));
            }
            out.push_str(&format!("{class}\n"));
        }
    }
    out
}

/// The `waves` data set from its CSV ([`waves_csv`]): [`WAVE_STEPS`] values per sample, one-hot
/// over the four classes.
pub fn waves_from_csv(text: &str) -> Result<Dataset, NnError> {
    let (x, y) = labelled_rows(text, WAVE_STEPS, WAVE_CLASSES.len(), |_, _| Ok(()))?;
    Ok(Dataset {
        x,
        y,
        class_names: WAVE_CLASSES.iter().map(|c| c.to_string()).collect(),
    })
}

/// Deterministic train/test split: shuffles indices with SplitMix64(`seed`)
/// and holds out `round(len * test_fraction)` samples (fraction clamped to 0..=1).
pub fn split(dataset: &Dataset, test_fraction: f32, seed: u64) -> (Dataset, Dataset) {
    let (train, test) = split_rows(dataset.len(), test_fraction, seed);
    (dataset.pick(&train), dataset.pick(&test))
}

/// The rows (in file order's numbering) [`split`] puts in the training and held-out sets, in
/// the order it puts them there.
pub fn split_rows(n: usize, test_fraction: f32, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..n).collect();
    SplitMix64::new(seed).shuffle(&mut order);
    let n_test = (n as f32 * test_fraction.clamp(0.0, 1.0)).round() as usize;
    let (test, train) = order.split_at(n_test);
    (train.to_vec(), test.to_vec())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_shipped_waves_file_is_the_generator_s_output() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/waves.csv");
        let shipped = std::fs::read_to_string(path).unwrap();
        assert!(
            shipped == waves_csv(250, 2026),
            "data/waves.csv differs from waves_csv(250, 2026)"
        );
        let d = waves_from_csv(&shipped).unwrap();
        assert_eq!((d.len(), d.x[0].len(), d.y[0].len()), (1000, 32, 4));
        // Classes interleave, so any split holds all four.
        assert_eq!(d.y[5], vec![0.0, 1.0, 0.0, 0.0]);
    }

    use super::*;

    #[test]
    fn iris_small_parses_as_measured() {
        let d = iris_from_csv("3,2,a,b\n1,2,0\n3,2,1\n5,2,1\n").unwrap();
        assert_eq!(d.y, vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![0.0, 1.0]]);
        assert_eq!(d.x, vec![vec![1.0, 2.0], vec![3.0, 2.0], vec![5.0, 2.0]]);
    }

    #[test]
    fn iris_errors_name_the_line() {
        let e = iris_from_csv("2,2,a,b\n1,2,0\n1,x,0\n").unwrap_err();
        assert!(matches!(e, NnError::Data { line: 3, .. }), "{e}");
        let e = iris_from_csv("1,2,a,b\n1,2,2\n").unwrap_err();
        assert!(matches!(e, NnError::Data { line: 2, .. }), "{e}");
        assert!(e.to_string().contains("line 2"));
        let e = iris_from_csv("1,2,a,b\n1,2,3,0\n").unwrap_err();
        assert!(matches!(e, NnError::Data { line: 2, .. }), "{e}");
        let e = iris_from_csv("5,2,a,b\n1,2,0\n").unwrap_err();
        assert!(matches!(e, NnError::Data { line: 1, .. }), "{e}");
    }

    #[test]
    fn iris_shipped_file() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/iris.csv");
        // The project ships its copy (data/README.md), so this always runs.
        let text = std::fs::read_to_string(path).expect("data/iris.csv is committed");
        let d = iris_from_csv(&text).unwrap();
        assert_eq!(d.len(), 150);
        assert_eq!(d.class_names, ["setosa", "versicolor", "virginica"]);
        assert!(d.x.iter().all(|s| s.len() == 4));
    }

    #[test]
    fn digits_parse_and_errors() {
        let row = |label: &str| {
            let mut v: Vec<String> = (0..64).map(|i| (i % 17).to_string()).collect();
            v.push(label.into());
            v.join(",")
        };
        let d = digits_from_csv(&format!("{}\n{}\n", row("3"), row("9"))).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d.x[0][16], 1.0);
        assert_eq!(d.y[0][3], 1.0);
        let e = digits_from_csv(&format!("{}\n{}\n", row("3"), row("10"))).unwrap_err();
        assert!(matches!(e, NnError::Data { line: 2, .. }), "{e}");
        let e = digits_from_csv("1,2,3\n").unwrap_err();
        assert!(matches!(e, NnError::Data { line: 1, .. }), "{e}");
        let bad = row("1").replacen("0,", "17,", 1);
        let e = digits_from_csv(&bad).unwrap_err();
        assert!(e.to_string().contains("outside"), "{e}");
    }

    #[test]
    fn digits_shipped_file() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/digits.csv");
        // The project ships its copy (data/README.md), so this always runs.
        let text = std::fs::read_to_string(path).expect("data/digits.csv is committed");
        let d = digits_from_csv(&text).unwrap();
        assert_eq!(d.len(), 1797);
        assert!(d.x.iter().flatten().all(|p| (0.0..=1.0).contains(p)));
        assert!(d.x.iter().flatten().any(|&p| p == 1.0));
        let mut per_class = [0usize; 10];
        for t in &d.y {
            per_class[t.iter().position(|&v| v == 1.0).unwrap()] += 1;
        }
        assert_eq!(
            per_class,
            [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
        );
    }

    #[test]
    fn xor_dataset_has_class_names() {
        let d = xor_dataset();
        assert_eq!((d.len(), d.class_names.len()), (4, 2));
        assert_eq!((d.x.clone(), d.y.clone()), xor());
    }

    #[test]
    fn split_is_deterministic_and_disjoint() {
        let d = Dataset {
            x: (0..10).map(|i| vec![i as f32]).collect(),
            y: (0..10).map(|_| vec![0.0]).collect(),
            class_names: vec![],
        };
        let (tr, te) = split(&d, 0.3, 5);
        assert_eq!((tr.len(), te.len()), (7, 3));
        assert_eq!(split(&d, 0.3, 5), (tr.clone(), te.clone()));
        let mut all: Vec<f32> = tr.x.iter().chain(&te.x).map(|s| s[0]).collect();
        all.sort_by(f32::total_cmp);
        assert_eq!(all, (0..10).map(|i| i as f32).collect::<Vec<_>>());
    }
}
