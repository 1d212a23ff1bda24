// SPDX-License-Identifier: GPL-2.0-or-later
//! `spinn train`, `spinn predict` and `spinn evaluate`: model files on a SpiNNaker target.

use crate::out::outln;
use std::path::PathBuf;
use std::time::Instant;

use clap::builder::TypedValueParser as _;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use spinn_hw::geometry::MachineDesc;
use spinn_nn::machine::{
    self, weights_close, Arithmetic, MachineError, MachineOptions, MachineRun, Progress,
};
use spinn_nn::{predicted_class, Dataset, ModelSpec, Sequential, WeightsFile};
use spinn_sim::chip::ChipConfig;
use spinn_toolchain::board::BoardTarget;
use spinn_toolchain::target::{SimTarget, Target, TargetError};

/// Where a network runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TargetKind {
    /// The simulated machine, in this process.
    Sim,
    /// A real SpiNNaker board over UDP.
    Board,
}

/// Options shared by train, predict and evaluate.
#[derive(Args, Debug)]
pub struct MachineArgs {
    /// Where to run.
    #[arg(long, value_enum, default_value = "sim")]
    target: TargetKind,
    /// Machine shape for the simulator: single, spinn3, spinn5, WxH, boards:N or a JSON file.
    #[arg(long, default_value = "spinn3")]
    machine: String,
    /// The board's address (name or IP, optionally :port) for `--target board`.
    #[arg(long, value_name = "HOST")]
    host: Option<String>,
    /// Boot image (SC&MP's scamp.boot) to boot the board with if it does not answer.
    #[arg(long, value_name = "FILE")]
    boot_image: Option<PathBuf>,
    /// Board version for booting: 3 (SpiNN-3) or 5 (SpiNN-5).
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u8).range(1..=5))]
    board_version: u8,
    /// Most units of one layer on one core, at least 1 (default: the model file's, else 16).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    units_per_core: Option<u32>,
    /// Most samples in flight at once, 1 to 8 (default: the model file's, else as many as
    /// every core's DTCM holds); the weights come out the same bits at any depth.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=8))]
    pipeline_depth: Option<u32>,
    /// The numbers the layer cores compute in: float32 or s16.15 (fixed point) (default:
    /// the model file's, else float32).
    #[arg(long, value_name = "NUMBERS", value_parser = arithmetic_parser())]
    arithmetic: Option<Arithmetic>,
    /// Drop every Nth multicast packet at each router (simulator fault injection, to see
    /// lost packets recovered).
    #[arg(long, value_name = "N", default_value_t = 0)]
    drop_every: u32,
    /// The nn firmware ELF.
    #[arg(long, value_name = "ELF")]
    firmware: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// `spinn train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// The model file (TOML).
    model: PathBuf,
    /// Data file instead of the one the model file names.
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,
    /// Epochs instead of the model file's.
    #[arg(long, value_name = "N")]
    epochs: Option<usize>,
    /// Where to write the trained weights (default: NAME.weights.json here).
    #[arg(long, value_name = "FILE")]
    weights: Option<PathBuf>,
    /// Also train the host reference from the same start and sample order, and compare.
    #[arg(long)]
    compare_host: bool,
    #[command(flatten)]
    machine: MachineArgs,
}

/// `spinn predict` and `spinn evaluate`.
#[derive(Args, Debug)]
pub struct UseArgs {
    /// The model file (TOML).
    model: PathBuf,
    /// The weights file written by `spinn train`.
    #[arg(long, value_name = "FILE")]
    weights: PathBuf,
    /// Data file instead of the model file's (all its samples are used; otherwise the
    /// model file's held-out split).
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,
    #[command(flatten)]
    machine: MachineArgs,
}

/// The summary `spinn train --json` prints.
#[derive(Serialize)]
struct TrainSummary {
    model: String,
    history: HistoryJson,
    test_accuracy: f32,
    test_loss: f32,
    sim_time_ns: u64,
    host_time_s: f64,
    cores: usize,
    pipeline_depth: u32,
    arithmetic: &'static str,
    packets: u64,
    dropped: u64,
    resend_requests: u64,
    resends: u64,
    samples: usize,
    weights_file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    host_reference: Option<HostComparison>,
}

#[derive(Serialize)]
struct HistoryJson {
    loss: Vec<f32>,
    accuracy: Vec<f32>,
}

#[derive(Serialize)]
struct HostComparison {
    test_accuracy: f32,
    max_weight_difference: f32,
    within_tolerance: bool,
}

fn load_spec(model: &PathBuf, data: &Option<PathBuf>) -> Result<ModelSpec, String> {
    let mut spec = ModelSpec::from_file(model).map_err(|e| e.to_string())?;
    if let Some(d) = data {
        let abs = std::env::current_dir().map_err(|e| e.to_string())?.join(d);
        spec.data.file = Some(abs);
    }
    Ok(spec)
}

/// `--arithmetic`'s values, by their model-file names.
fn arithmetic_parser() -> impl clap::builder::TypedValueParser<Value = Arithmetic> {
    clap::builder::PossibleValuesParser::new(Arithmetic::ALL.map(Arithmetic::name))
        .map(|name| Arithmetic::from_name(&name).expect("a possible value"))
}

fn options(spec: &ModelSpec, args: &MachineArgs) -> MachineOptions {
    let mut o = MachineOptions::for_model(spec);
    if let Some(n) = args.units_per_core {
        o.units_per_core = n;
    }
    if let Some(n) = args.pipeline_depth {
        o.pipeline_depth = n;
    }
    if let Some(a) = args.arithmetic {
        o.arithmetic = a;
    }
    if let Some(f) = &args.firmware {
        o.firmware = Some(f.clone());
    }
    o
}

fn target(args: &MachineArgs) -> Result<Box<dyn Target>, String> {
    match args.target {
        TargetKind::Sim => {
            let desc = MachineDesc::parse(&args.machine).map_err(|e| format!("--machine: {e}"))?;
            let config = ChipConfig {
                drop_mc_every: args.drop_every,
                ..ChipConfig::default()
            };
            let target = SimTarget::checked(desc, config).map_err(|e| e.to_string())?;
            Ok(Box::new(target))
        }
        TargetKind::Board => {
            let host = args
                .host
                .as_deref()
                .ok_or("--target board needs --host HOST (the board's address)")?;
            if args.drop_every != 0 {
                return Err(
                    "--drop-every is a simulator fault injection; it does not apply to a board"
                        .into(),
                );
            }
            let board = match &args.boot_image {
                Some(path) => {
                    let image = spinn_hw::files::read_input(path, spinn_hw::files::MAX_IMAGE_BYTES)
                        .map_err(|e| format!("--boot-image {}: {e}", path.display()))?;
                    BoardTarget::connect_booting(host, &image, args.board_version)
                }
                None => BoardTarget::connect(host),
            }
            .map_err(|e| format!("--host {host}: {e}"))?;
            Ok(Box::new(board))
        }
    }
}

fn progress_bar(total: u64, hidden: bool) -> ProgressBar {
    let bar = if hidden {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} samples  {msg}",
        )
        .expect("a valid template"),
    );
    bar
}

fn report(bar: &ProgressBar, epochs: usize, p: &Progress) {
    bar.set_length(p.total);
    bar.set_position(p.samples);
    let loss = p
        .loss
        .map_or_else(String::new, |l| format!("  loss {l:.4}"));
    bar.set_message(format!(
        "epoch {}/{epochs}{loss}  machine {:.2} s",
        p.epochs.min(epochs),
        p.sim_time_ns as f64 * 1e-9
    ));
}

/// `spinn train`: exit status 0 when training finished, 1 when it failed on the machine.
pub fn train(args: TrainArgs) -> Result<bool, String> {
    let spec = load_spec(&args.model, &args.data)?;
    let (train_set, test_set, normalisation) = spec.load_prepared().map_err(|e| e.to_string())?;
    let epochs = args.epochs.unwrap_or(spec.training.epochs);
    let mut model = spec.build();
    let start = model.clone();
    let opts = options(&spec, &args.machine);
    let weights_path = args
        .weights
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.weights.json", spec.name)));
    crate::out::check_output_path(&weights_path)?;
    let mut target = target(&args.machine)?;
    let bar = progress_bar(
        (epochs * train_set.len() + test_set.len()) as u64,
        args.machine.json,
    );
    let t0 = Instant::now();
    let result = machine::train(
        target.as_mut(),
        &mut model,
        &train_set,
        &test_set,
        epochs,
        spec.training.shuffle_seed,
        &opts,
        &mut |p| report(&bar, epochs, p),
    );
    let host_time = t0.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let run = match result {
        Ok(run) => run,
        Err(e) => return failed(e),
    };
    // The file carries what new data needs to be read and scaled as the training data was.
    let mut saved = WeightsFile::from_model(&spec.name, &model);
    saved.normalisation = normalisation;
    saved.classes = train_set.class_names.clone();
    saved.save(&weights_path).map_err(|e| e.to_string())?;

    let host_reference = if args.compare_host {
        let mut host = start;
        host.fit(
            &train_set.x,
            &train_set.y,
            epochs,
            spec.training.shuffle_seed,
        )
        .map_err(|e| e.to_string())?;
        let (_, acc) = host
            .evaluate(&test_set.x, &test_set.y)
            .map_err(|e| e.to_string())?;
        let diff = host
            .get_weights()
            .concat()
            .iter()
            .zip(run.weights.concat())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        Some(HostComparison {
            test_accuracy: acc,
            max_weight_difference: diff,
            within_tolerance: weights_close(&host.get_weights(), &run.weights).is_ok(),
        })
    } else {
        None
    };
    let summary = TrainSummary {
        model: spec.name.clone(),
        history: HistoryJson {
            loss: run.history.loss.clone(),
            accuracy: run.history.accuracy.clone(),
        },
        test_accuracy: run.eval_accuracy,
        test_loss: run.eval_loss,
        sim_time_ns: run.sim_time_ns,
        host_time_s: host_time,
        cores: run.cores,
        pipeline_depth: run.pipeline_depth,
        arithmetic: opts.arithmetic.name(),
        packets: run.packets,
        dropped: run.dropped,
        resend_requests: run.requests,
        resends: run.resends,
        samples: epochs * train_set.len() + test_set.len(),
        weights_file: weights_path.display().to_string(),
        host_reference,
    };
    if args.machine.json {
        outln!("{}", serde_json::to_string(&summary).expect("serialisable"))?;
    } else {
        print_summary(&summary, &run)?;
    }
    Ok(true)
}

fn print_summary(s: &TrainSummary, run: &MachineRun) -> Result<(), crate::out::WriteError> {
    outln!(
        "model {}: {} samples on {} cores, {} in flight at once",
        s.model,
        s.samples,
        s.cores,
        s.pipeline_depth
    )?;
    outln!("epoch  loss      accuracy")?;
    let n = s.history.loss.len();
    for (e, (l, a)) in s.history.loss.iter().zip(&s.history.accuracy).enumerate() {
        // Long runs: the first, every tenth and the last few epochs.
        if n <= 20 || e < 3 || e + 3 >= n || (e + 1) % 10 == 0 {
            outln!("{:>5}  {l:<8.5}  {:.1} %", e + 1, a * 100.0)?;
        }
    }
    outln!(
        "held-out accuracy {:.1} % (loss {:.5})",
        s.test_accuracy * 100.0,
        s.test_loss
    )?;
    outln!(
        "machine time {:.3} s, host time {:.1} s, packets {} ({} dropped, {} resend requests)",
        s.sim_time_ns as f64 * 1e-9,
        s.host_time_s,
        s.packets,
        s.dropped,
        s.resend_requests
    )?;
    for (name, x, y, p) in &run.placements {
        outln!("  {name}: chip ({x},{y}) core {p}")?;
    }
    if let Some(h) = &s.host_reference {
        outln!(
            "host reference: held-out accuracy {:.1} %, largest weight difference {:.2e} ({})",
            h.test_accuracy * 100.0,
            h.max_weight_difference,
            if h.within_tolerance {
                "within tolerance"
            } else {
                "OUTSIDE tolerance"
            }
        )?;
    }
    outln!("weights written to {}", s.weights_file)?;
    Ok(())
}

/// The model with its weights, the samples to run and each one's row in the data file
/// (counting samples from 0).
fn use_weights(args: &UseArgs) -> Result<(ModelSpec, Sequential, Dataset, Vec<usize>), String> {
    let spec = load_spec(&args.model, &args.data)?;
    let mut model = spec.build();
    let weights = WeightsFile::load(&args.weights).map_err(|e| e.to_string())?;
    if weights.model != spec.name {
        return Err(format!(
            "{}: weights of model `{}`, not of `{}` ({})",
            args.weights.display(),
            weights.model,
            spec.name,
            args.model.display()
        ));
    }
    weights.apply(&mut model).map_err(|e| e.to_string())?;
    let classes = (!weights.classes.is_empty()).then_some(weights.classes.as_slice());
    let mut all = spec.load_rows_as(classes).map_err(|e| e.to_string())?;
    // Scaled as the training data was: with what the weights file saved, or (a file from
    // before it saved any) with what the model file's training split gives again.
    let normalisation = match weights.normalisation {
        Some(n) => Some(n),
        None => {
            let own = load_spec(&args.model, &None)?;
            own.load_prepared().map_err(|e| e.to_string())?.2
        }
    };
    if let Some(n) = &normalisation {
        n.apply(&mut all.x)
            .map_err(|e| format!("{}: {e}", args.weights.display()))?;
    }
    // With --data, every sample of that file in its order; else the model file's held-out
    // split, in the order training held it out.
    let rows = if args.data.is_some() {
        (0..all.len()).collect()
    } else {
        spec.held_out_rows(all.len())
    };
    Ok((spec, model, all.pick(&rows), rows))
}

/// The samples to run, their rows in the data file, and the machine's run of them forward.
type Forward = (Dataset, Vec<usize>, MachineRun);

fn run_forward(args: &UseArgs) -> Result<Option<Forward>, String> {
    let (spec, model, data, rows) = use_weights(args)?;
    let opts = options(&spec, &args.machine);
    let mut target = target(&args.machine)?;
    let bar = progress_bar(data.len() as u64, args.machine.json);
    let result = machine::evaluate(target.as_mut(), &model, &data, &opts, &mut |p| {
        report(&bar, 0, p)
    });
    bar.finish_and_clear();
    match result {
        Ok(run) => Ok(Some((data, rows, run))),
        Err(e) => failed(e).map(|_| None),
    }
}

/// A run that went wrong: the user's input (status 2), or the machine (status 1).
fn failed(e: MachineError) -> Result<bool, String> {
    match e {
        // The host cannot hold the run: bad input, like a machine that does not exist.
        MachineError::Target(TargetError::Budget(_)) => Err(e.to_string()),
        MachineError::CoreFailed { .. }
        | MachineError::Stalled { .. }
        | MachineError::Target(_) => {
            eprintln!("spinn: {e}");
            Ok(false)
        }
        _ => Err(e.to_string()),
    }
}

fn class_of(v: &[f32], names: &[String]) -> String {
    let k = predicted_class(v);
    names.get(k).cloned().unwrap_or_else(|| k.to_string())
}

/// `spinn predict`: the outputs and class of every sample.
pub fn predict(args: UseArgs) -> Result<bool, String> {
    let Some((data, rows, run)) = run_forward(&args)? else {
        return Ok(false);
    };
    if args.machine.json {
        #[derive(Serialize)]
        struct Out<'a> {
            /// Each prediction's sample in the data file (counting from 0).
            rows: &'a [usize],
            predictions: &'a [Vec<f32>],
            classes: Vec<String>,
            sim_time_ns: u64,
        }
        let classes = run
            .predictions
            .iter()
            .map(|p| class_of(p, &data.class_names))
            .collect();
        let out = Out {
            rows: &rows,
            predictions: &run.predictions,
            classes,
            sim_time_ns: run.sim_time_ns,
        };
        outln!("{}", serde_json::to_string(&out).expect("serialisable"))?;
    } else {
        for (k, p) in rows.iter().zip(&run.predictions) {
            let values: Vec<String> = p.iter().map(|v| format!("{v:.4}")).collect();
            outln!(
                "{k:>5}  {:<12} [{}]",
                class_of(p, &data.class_names),
                values.join(", ")
            )?;
        }
    }
    Ok(true)
}

/// `spinn evaluate`: loss and accuracy over the samples.
pub fn evaluate(args: UseArgs) -> Result<bool, String> {
    let Some((data, _, run)) = run_forward(&args)? else {
        return Ok(false);
    };
    if args.machine.json {
        #[derive(Serialize)]
        struct Out {
            samples: usize,
            loss: f32,
            accuracy: f32,
            sim_time_ns: u64,
            packets: u64,
            dropped: u64,
        }
        let out = Out {
            samples: data.len(),
            loss: run.eval_loss,
            accuracy: run.eval_accuracy,
            sim_time_ns: run.sim_time_ns,
            packets: run.packets,
            dropped: run.dropped,
        };
        outln!("{}", serde_json::to_string(&out).expect("serialisable"))?;
    } else {
        outln!(
            "{} samples: accuracy {:.1} %, loss {:.5} (machine time {:.3} s)",
            data.len(),
            run.eval_accuracy * 100.0,
            run.eval_loss,
            run.sim_time_ns as f64 * 1e-9
        )?;
    }
    Ok(true)
}
