// SPDX-License-Identifier: GPL-2.0-or-later
//! The shipped model files (models/*.toml) parse, and each trains on the host
//! reference to its acceptance threshold with the settings in the file.

use std::path::{Path, PathBuf};

use spinn_nn::ModelSpec;

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

fn load(name: &str) -> ModelSpec {
    let path = models_dir().join(name);
    ModelSpec::from_file(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// Trains the model in `file` on the host and returns (held-out loss, held-out accuracy).
fn train(file: &str) -> (f32, f32) {
    let spec = load(file);
    let (train, test) = spec.load_data().unwrap_or_else(|e| panic!("{e}"));
    let (model, history) = spec.train_host(&train).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(history.loss.len(), spec.training.epochs);
    let (loss, acc) = model.evaluate(&test.x, &test.y).unwrap();
    eprintln!(
        "{file}: {} epochs, last epoch loss {:.4}; test loss {loss:.4} accuracy {acc:.4} of {}",
        spec.training.epochs,
        history.loss.last().unwrap(),
        test.len()
    );
    (loss, acc)
}

#[test]
fn every_model_file_parses_and_loads_its_data() {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(models_dir()).expect("models/ is committed") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let spec = ModelSpec::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
            let stem = path.file_stem().unwrap().to_string_lossy().to_string();
            assert!(
                spec.name.contains(&stem),
                "{}: name {:?}",
                path.display(),
                spec.name
            );
            let (train, test) = spec.load_data().unwrap_or_else(|e| panic!("{e}"));
            assert!(!train.is_empty() && !test.is_empty(), "{}", path.display());
            let model = spec.build();
            assert_eq!(model.inputs(), train.x[0].len());
            assert_eq!(model.outputs(), train.y[0].len());
            names.push(stem);
        }
    }
    names.sort();
    assert_eq!(
        names,
        [
            "digits",
            "digits_cnn",
            "digits_residual",
            "iris",
            "waves",
            "xor"
        ]
    );
}

#[test]
fn xor_reaches_100_percent() {
    let (loss, acc) = train("xor.toml");
    assert_eq!(acc, 1.0, "loss {loss}");
    // Margin: every output is far on the right side of 0.5.
    assert!(loss < 0.01, "loss {loss}");
}

#[test]
fn iris_reaches_90_percent_held_out() {
    let (loss, acc) = train("iris.toml");
    assert!(acc >= 0.9, "accuracy {acc}, loss {loss}");
}

#[test]
fn digits_reaches_85_percent_held_out() {
    let (loss, acc) = train("digits.toml");
    assert!(acc >= 0.85, "accuracy {acc}, loss {loss}");
}
