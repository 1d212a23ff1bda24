// SPDX-License-Identifier: GPL-2.0-or-later
//! NumPy data: the array readers, and iris saved as `.npy` arrays and as a `.npz` archive
//! loading in a model file as the same samples as the shipped iris file, split, scaled and
//! labelled alike.

use std::io::Write;
use std::path::{Path, PathBuf};

use npyz::WriterBuilder;
use spinn_nn::arrays::{dataset, read_npy, read_npz};
use spinn_nn::{data, ModelSpec};

fn npy<T: npyz::Serialize + npyz::AutoSerialize + Copy>(shape: &[u64], v: &[T]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(&mut out)
        .begin_nd()
        .unwrap();
    w.extend(v.iter().copied()).unwrap();
    w.finish().unwrap();
    out
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("spinn-arrays-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn spec(dir: &Path, name: &str, data: &str) -> ModelSpec {
    let text = format!(
        "name = \"iris\"\n[data]\n{data}\ntest_fraction = 0.3\nsplit_seed = 1\n[model]\n\
         inputs = 4\nlayers = [ {{ units = 16, activation = \"relu\" }}, {{ units = 3, \
         activation = \"softmax\" }} ]\nloss = \"categorical_crossentropy\"\n[training]\n\
         optimizer = \"sgd\"\nlearning_rate = 0.05\nbatch_size = 16\nepochs = 50\n\
         init_seed = 3\nshuffle_seed = 9\n"
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    ModelSpec::from_file(&path).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn iris_as_numpy_arrays_loads_as_the_iris_file_does() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join("data/iris.csv")).unwrap();
    let iris = data::iris_from_csv(&text).unwrap();
    let n = iris.len() as u64;
    let x: Vec<f64> = iris.x.iter().flatten().map(|&v| f64::from(v)).collect();
    let y: Vec<i64> = iris
        .y
        .iter()
        .map(|t| t.iter().position(|&v| v == 1.0).unwrap() as i64)
        .collect();
    let dir = scratch();
    std::fs::write(dir.join("x.npy"), npy(&[n, 4], &x)).unwrap();
    std::fs::write(dir.join("y.npy"), npy(&[n], &y)).unwrap();
    // np.savez: an (uncompressed) zip of x.npy and y.npy.
    let zip = zip_of(&[("x.npy", npy(&[n, 4], &x)), ("y.npy", npy(&[n], &y))]);
    std::fs::write(dir.join("iris.npz"), zip).unwrap();

    let shipped = format!("file = {:?}\nformat = \"iris\"", root.join("data/iris.csv"));
    let (train, test) = spec(&dir, "shipped", &shipped).load_data().unwrap();
    for (name, data) in [
        (
            "npy",
            "file = \"x.npy\"\nlabels_file = \"y.npy\"\nformat = \"npy\"\nnormalise = \"standard\"",
        ),
        (
            "npz",
            "file = \"iris.npz\"\nformat = \"npz\"\nnormalise = \"standard\"",
        ),
    ] {
        let (tr, te) = spec(&dir, name, data)
            .load_data()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (tr.x.clone(), tr.y.clone()),
            (train.x.clone(), train.y.clone()),
            "{name}"
        );
        assert_eq!((te.x, te.y), (test.x.clone(), test.y.clone()), "{name}");
        assert_eq!(tr.class_names, ["0", "1", "2"]);
    }
    // Without its labels' file, or with labels for other samples: refused, by name.
    let e = ModelSpec::from_file({
        let p = dir.join("nolabels.toml");
        std::fs::write(
            &p,
            std::fs::read_to_string(dir.join("npy.toml"))
                .unwrap()
                .replace("labels_file = \"y.npy\"\n", ""),
        )
        .unwrap();
        p
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("labels_file"), "{e}");
    std::fs::write(dir.join("y.npy"), npy(&[3], &[0i64, 1, 2])).unwrap();
    let e = spec(
        &dir,
        "npy",
        "file = \"x.npy\"\nlabels_file = \"y.npy\"\nformat = \"npy\"",
    )
    .load_data()
    .unwrap_err()
    .to_string();
    assert!(e.contains("array y") && e.contains("150 samples"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A zip archive of `files`, stored, as `np.savez` writes one.
fn zip_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut z = npyz::zip::ZipWriter::new(&mut out);
        let opts = npyz::zip::write::FileOptions::default()
            .compression_method(npyz::zip::CompressionMethod::Stored);
        for (name, bytes) in files {
            z.start_file(*name, opts).unwrap();
            z.write_all(bytes).unwrap();
        }
        z.finish().unwrap();
    }
    out.into_inner()
}

#[test]
fn samples_and_class_numbers() {
    let x = read_npy(&npy(&[3, 2], &[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]), "x").unwrap();
    let y = read_npy(&npy(&[3], &[2i64, 0, 1]), "y").unwrap();
    let d = dataset(&x, &y, None).unwrap();
    assert_eq!(d.x, vec![vec![1.0, 2.0], vec![3.0, 4.0], vec![5.0, 6.0]]);
    assert_eq!(d.class_names, ["0", "1", "2"]);
    assert_eq!(d.y[0], [0.0, 0.0, 1.0]);
    // Images: every axis after the first is features.
    let x = read_npy(&npy(&[1, 2, 2, 1], &[1u8, 2, 3, 4]), "x").unwrap();
    let y = read_npy(&npy(&[1, 2], &[0.0f64, 1.0]), "y").unwrap();
    let d = dataset(&x, &y, None).unwrap();
    assert_eq!((d.x[0].len(), d.y[0].clone()), (4, vec![0.0, 1.0]));
}

#[test]
fn bad_arrays_are_refused_by_name() {
    let x = read_npy(&npy(&[2, 2], &[1.0f64, 2.0, 3.0, 4.0]), "x").unwrap();
    let y = read_npy(&npy(&[3], &[0i32, 1, 1]), "y").unwrap();
    let e = dataset(&x, &y, None).unwrap_err().to_string();
    assert!(e.contains("array y") && e.contains("2 samples"), "{e}");
    let e = read_npy(b"not numpy", "x").unwrap_err().to_string();
    assert!(e.starts_with("array x"), "{e}");
    let nan = read_npy(&npy(&[1], &[f64::NAN]), "x")
        .unwrap_err()
        .to_string();
    assert!(nan.contains("not finite"), "{nan}");
    let y = read_npy(&npy(&[2], &[0i32, 5]), "y").unwrap();
    let classes = ["a".to_string(), "b".to_string()];
    let e = dataset(&x, &y, Some(&classes)).unwrap_err().to_string();
    assert!(e.contains("label 5"), "{e}");
    assert!(read_npz(b"PK", "x").is_err());
}
