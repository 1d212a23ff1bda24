// SPDX-License-Identifier: GPL-2.0-or-later
//! Training and evaluating a [`Sequential`] on a SpiNNaker [`Target`]: the network becomes an
//! application graph (an input core, the slices of each dense layer, a loss core), is mapped
//! with the toolchain, gets its data laid out in SDRAM, and runs as the `nn` firmware
//! (firmware/apps/nn) with no host in the loop between samples.
//!
//! # Numbers
//! The firmware computes in IEEE binary32 in software (libgcc's soft float, round to nearest
//! even) and in the same order as the host reference, so each add, multiply and divide gives
//! the host's bits. Two things differ: exp, log and tanh are the firmware's own (within a few
//! units in the last place of the correctly rounded value), and when a layer is split over
//! several cores, the sum of its units' contributions to the layer below is added per core and
//! then across cores. Both change the last bits of a step; over training these differences
//! stay small: [`WEIGHT_TOLERANCE`] bounds the trained weights' distance from the host
//! reference's, and is checked by the tests on XOR and iris.
//!
//! # Lost packets
//! Every value carries its sample's parity in the key and lands in a slot with a received
//! flag; a core that waits too long sends a resend request and the senders repeat their last
//! values. Losses cost time, not results: training with dropped packets gives the same bits.

use std::collections::BTreeMap;
use std::path::PathBuf;

use spinn_hw::program::{LoadError, Program};
use spinn_hw::report::StopReason;
use spinn_hw::sysram::{vcpu, CpuState, VCPU_BASE, VCPU_SIZE};
use spinn_toolchain::graph::{AppVertexId, MachineGraph, MachineVertexId, PartitionId};
use spinn_toolchain::mapping::{map, Algorithms, DTCM_DATA_BYTES};
use spinn_toolchain::target::{Target, TargetError};
use spinn_toolchain::{AppGraph, MapError, Vertex};

use crate::model::{epoch_order, History, Sequential};
use crate::{Activation, Dataset, Loss, NnError};

/// Largest difference between a weight trained on the machine and the same weight trained
/// by the host reference from the same start and sample order (absolute, plus this much of
/// the weight's size), for the example networks.
pub const WEIGHT_TOLERANCE: f32 = 1e-3;

/// The `nn` firmware built in this workspace.
pub fn default_firmware() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../firmware/build/nn.elf")
}

/// How a network is put on the machine.
#[derive(Clone, Debug)]
pub struct MachineOptions {
    /// Most units of one layer on one core (0: as many as fit in DTCM).
    pub units_per_core: u32,
    /// Seed of the placer.
    pub placement_seed: u64,
    /// The `nn` firmware ELF.
    pub firmware: PathBuf,
    /// Application id the cores run under.
    pub app_id: u8,
    /// Timer tick of every core, in microseconds.
    pub tick_us: u32,
    /// Ticks a core waits for missing values before asking for them again.
    pub timeout_ticks: u32,
    /// Idle ticks a core stays to answer requests after its last sample.
    pub linger_ticks: u32,
    /// Simulated time without any sample finishing after which the run is declared stalled.
    pub stall_ms: u64,
}

impl Default for MachineOptions {
    fn default() -> Self {
        MachineOptions {
            units_per_core: 16,
            placement_seed: 1,
            firmware: default_firmware(),
            app_id: 30,
            tick_us: 1000,
            timeout_ticks: 20,
            linger_ticks: 60,
            stall_ms: 5000,
        }
    }
}

impl MachineOptions {
    /// The defaults, with what a model file's `[machine]` section asks for.
    pub fn for_model(spec: &crate::ModelSpec) -> Self {
        let mut o = MachineOptions::default();
        if let Some(n) = spec.machine.units_per_core {
            o.units_per_core = n as u32;
        }
        o
    }
}

/// What went wrong running a network on a machine, in words a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum MachineError {
    /// The model cannot run on the machine as described.
    #[error("{0}")]
    Model(String),
    /// The model or data do not fit each other.
    #[error(transparent)]
    Nn(#[from] NnError),
    /// The network does not fit the machine.
    #[error(transparent)]
    Map(#[from] MapError),
    /// The target refused something.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// The firmware could not be loaded.
    #[error("firmware {path}: {source} (build it with `make -C firmware`)")]
    Firmware {
        /// The ELF's path.
        path: PathBuf,
        /// Why it could not be used.
        source: LoadError,
    },
    /// A core stopped with a run-time error or watchdog reset.
    #[error(
        "core ({x},{y},{p}) ({role}) stopped in {state} ({rt_name}) at pc {pc:#010x}: {iobuf}"
    )]
    CoreFailed {
        /// Chip x.
        x: u8,
        /// Chip y.
        y: u8,
        /// Virtual core.
        p: u8,
        /// What the core was doing in the network.
        role: String,
        /// Its state (RTE or WDOG).
        state: CpuState,
        /// Run-time error name.
        rt_name: String,
        /// Where it stopped.
        pc: u32,
        /// Its IOBUF text.
        iobuf: String,
    },
    /// No sample finished for a long time: the run was stopped.
    #[error("no progress for {ms} ms of machine time after {done} of {total} samples: stopped ({cores})")]
    Stalled {
        /// Milliseconds without progress.
        ms: u64,
        /// Samples finished.
        done: u64,
        /// Samples in the run.
        total: u64,
        /// Each core: role, state, samples finished, resend requests sent, packets ignored.
        cores: String,
    },
}

/// Where a run is, for progress displays.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    /// Samples finished (training then evaluation).
    pub samples: u64,
    /// Samples in the whole run.
    pub total: u64,
    /// Training epochs finished.
    pub epochs: usize,
    /// Mean training loss of the last finished epoch.
    pub loss: Option<f32>,
    /// Machine time so far.
    pub sim_time_ns: u64,
}

/// What a run on the machine produced.
#[derive(Clone, Debug, PartialEq)]
pub struct MachineRun {
    /// Per-epoch mean loss and accuracy of training (as the loss core measured them).
    pub history: History,
    /// Mean loss over the evaluation samples.
    pub eval_loss: f32,
    /// Share of evaluation samples classified correctly.
    pub eval_accuracy: f32,
    /// Outputs for each evaluation sample.
    pub predictions: Vec<Vec<f32>>,
    /// The weights at the end, in Keras layout.
    pub weights: Vec<Vec<f32>>,
    /// Machine time of the run.
    pub sim_time_ns: u64,
    /// Cores the network used.
    pub cores: usize,
    /// Multicast packets sent.
    pub packets: u64,
    /// Packets the routers dropped.
    pub dropped: u64,
    /// Resend requests cores sent after waiting too long.
    pub requests: u64,
    /// Times cores repeated their values on request.
    pub resends: u64,
    /// Where each part of the network ran: (name, x, y, core).
    pub placements: Vec<(String, u8, u8, u8)>,
}

// Layout shared with firmware/apps/nn/nn.h.
const NN_MAGIC: u32 = 0x314E_4E53;
const ROLE_INPUT: u32 = 0;
const ROLE_DENSE: u32 = 1;
const ROLE_LOSS: u32 = 2;
const PARAM_WORDS: usize = 28;
/// Microseconds between two resent values (RESEND_GAP_US in nn.h).
const RESEND_GAP_US: u32 = 2;
const STATUS_WORDS: usize = 8;
const S_STATE: usize = 0;
const S_REQUESTS: usize = 1;
const S_RESENDS: usize = 2;
const S_SAMPLES: usize = 4;
const S_HITS: usize = 5;
const S_EVAL_LOSS: usize = 6;
const S_WAIT: usize = 7;
const KIND_FWD: u32 = 0;
const KIND_BWD: u32 = 1;
const KIND_DONE: u32 = 2;
const KIND_CTL: u32 = 3;
const DONE_FROM_LOSS: u32 = 31;
const FLAG_FIRST: u32 = 1;
const FLAG_LAST: u32 = 2;
/// The input core tracks "done" from each first-layer core in one word (bit 31: the loss core).
const MAX_FIRST_LAYER_CORES: u32 = 31;

fn act_code(a: Activation) -> u32 {
    match a {
        Activation::Identity => 0,
        Activation::Relu => 1,
        Activation::Sigmoid => 2,
        Activation::Tanh => 3,
        Activation::Softmax => 4,
    }
}

fn loss_code(l: Loss) -> u32 {
    match l {
        Loss::MeanSquaredError => 0,
        Loss::BinaryCrossEntropy => 1,
        Loss::CategoricalCrossEntropy => 2,
    }
}

/// Bytes of DTCM a dense core with `units` of a layer of `inputs` inputs needs, with `sources`
/// cores sending it backward values (mirrors setup_dense in nn.c, plus the runtime's heap slack).
fn dense_dtcm(inputs: u32, units: u32, sources: u32) -> u32 {
    let words = 2 * inputs * units + 5 * units + 2 * inputs + sources * units;
    let bits = inputs.div_ceil(32) + (sources * units).div_ceil(32);
    4 * (words + bits) + 512
}

/// What each application vertex is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Input,
    Dense(usize),
    Loss,
}

/// The network as an application graph, with what is needed to lay it out.
struct Plan {
    graph: AppGraph,
    parts: BTreeMap<AppVertexId, Part>,
    layers: Vec<AppVertexId>,
}

fn check_model(model: &Sequential) -> Result<(Loss, crate::Sgd), MachineError> {
    let loss = model
        .loss()
        .ok_or_else(|| MachineError::Model("the model is not compiled: no loss".into()))?;
    let sgd = model
        .optimizer()
        .ok_or_else(|| MachineError::Model("the model is not compiled: no optimiser".into()))?;
    let layers = model.layers();
    if layers.is_empty() {
        return Err(MachineError::Model("the model has no layers".into()));
    }
    if let Some(k) = layers[..layers.len() - 1]
        .iter()
        .position(|l| l.activation == Activation::Softmax)
    {
        return Err(MachineError::Model(format!(
            "layer {k}: softmax is only supported on the last layer on the machine (its units may be split over cores)"
        )));
    }
    if sgd.batch_size == 0 || !(sgd.learning_rate.is_finite()) {
        return Err(MachineError::Model(
            "batch size must be at least 1 and the learning rate finite".into(),
        ));
    }
    Ok((loss, sgd))
}

/// A vertex that always takes one core (the input and loss cores).
fn one_core(name: &str, atoms: usize, sdram_bytes: u32) -> Vertex {
    Vertex {
        name: name.into(),
        atoms: atoms as u32,
        max_atoms_per_core: atoms as u32,
        dtcm_bytes: 1024,
        sdram_bytes,
    }
}

fn plan(
    model: &Sequential,
    opts: &MachineOptions,
    input_sdram: u32,
    loss_sdram: u32,
) -> Result<Plan, MachineError> {
    let layers = model.layers();
    let mut graph = AppGraph::new();
    let mut parts = BTreeMap::new();
    let input = graph.add_vertex(one_core("input", model.inputs(), input_sdram));
    parts.insert(input, Part::Input);
    let inputs_of = |k: usize| if k == 0 { model.inputs() } else { layers[k - 1].units } as u32;
    // Units per core, last layer first: a slice's DTCM holds the partial sums of every core of
    // the layer above, so that layer's split comes first.
    let mut per = vec![1u32; layers.len()];
    let mut sources = vec![1u32; layers.len()];
    for k in (0..layers.len()).rev() {
        let units = layers[k].units as u32;
        if let Some(next) = layers.get(k + 1) {
            sources[k] = (next.units as u32).div_ceil(per[k + 1]);
        }
        let mut p = if opts.units_per_core == 0 {
            units
        } else {
            opts.units_per_core.min(units)
        };
        while p > 1 && dense_dtcm(inputs_of(k), p, sources[k]) > DTCM_DATA_BYTES {
            p -= 1;
        }
        per[k] = p;
    }
    let mut ids = Vec::new();
    for (k, l) in layers.iter().enumerate() {
        let (units, inputs, per) = (l.units as u32, inputs_of(k), per[k]);
        let dtcm = dense_dtcm(inputs, per, sources[k]);
        if k == 0 && units.div_ceil(per) > MAX_FIRST_LAYER_CORES {
            return Err(MachineError::Model(format!(
                "layer 0 would need {} cores, the input core follows at most {MAX_FIRST_LAYER_CORES}: raise units_per_core",
                units.div_ceil(per)
            )));
        }
        let id = graph.add_vertex(Vertex {
            name: format!("dense {k} ({units} units, {:?})", l.activation),
            atoms: units,
            max_atoms_per_core: per,
            dtcm_bytes: dtcm,
            sdram_bytes: 4
                * (PARAM_WORDS as u32 + STATUS_WORDS as u32 + (inputs + 1) * per + 5 * 8),
        });
        parts.insert(id, Part::Dense(k));
        ids.push(id);
    }
    let loss = graph.add_vertex(one_core("loss", model.outputs(), loss_sdram));
    parts.insert(loss, Part::Loss);

    graph.add_edge(input, ids[0], "fwd");
    graph.add_edge(input, loss, "ctl");
    for k in 0..ids.len() {
        let up = if k + 1 < ids.len() { ids[k + 1] } else { loss };
        graph.add_edge(ids[k], up, "fwd");
        let down = if k == 0 { input } else { ids[k - 1] };
        graph.add_edge(ids[k], down, "back");
    }
    graph.add_edge(loss, *ids.last().expect("a layer"), "back");
    graph.add_edge(loss, input, "done");
    Ok(Plan {
        graph,
        parts,
        layers: ids,
    })
}

/// Values a partition carries (its requests use index `count`).
fn partition_count(mg: &MachineGraph, plan: &Plan, model: &Sequential, p: &PartitionId) -> u32 {
    let v = mg.vertex(p.source).expect("partition source");
    match (plan.parts[&v.app_vertex], p.name.as_str()) {
        (Part::Input, "fwd") => model.inputs() as u32,
        (Part::Input, _) => 0,
        (Part::Dense(_), "fwd") => v.atoms(),
        (Part::Dense(0), _) => 1,
        (Part::Dense(k), _) => model.layers()[k - 1].units as u32,
        (Part::Loss, "back") => model.outputs() as u32,
        (Part::Loss, _) => 1,
    }
}

/// Keys a partition's block needs: values with a parity bit, and the request key.
fn block_keys(count: u32) -> u32 {
    2 * (count + 1).next_power_of_two()
}

fn words_to_bytes(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn floats_to_bytes(values: impl IntoIterator<Item = f32>) -> Vec<u8> {
    values
        .into_iter()
        .flat_map(|v| v.to_bits().to_le_bytes())
        .collect()
}

fn bytes_to_words(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn bytes_to_floats(bytes: &[u8]) -> Vec<f32> {
    bytes_to_words(bytes)
        .into_iter()
        .map(f32::from_bits)
        .collect()
}

/// One machine core of the network and where its results are.
struct CoreInfo {
    x: u8,
    y: u8,
    p: u8,
    part: Part,
    lo: u32,
    hi: u32,
    status: u32,
    /// Dense: the weights; loss: the predictions.
    data: u32,
    /// Loss: the training history.
    history: u32,
    name: String,
}

/// Trains `model` on the machine behind `target` for `epochs` epochs over `train` (sample
/// order [`epoch_order`] with `shuffle_seed`, as [`Sequential::fit`]), then evaluates `test`;
/// the model's weights become the trained ones. `target` must be a freshly booted machine.
#[allow(clippy::too_many_arguments)]
pub fn train(
    target: &mut dyn Target,
    model: &mut Sequential,
    train: &Dataset,
    test: &Dataset,
    epochs: usize,
    shuffle_seed: Option<u64>,
    opts: &MachineOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<MachineRun, MachineError> {
    let run = execute(
        target,
        model,
        train,
        test,
        epochs,
        shuffle_seed,
        opts,
        progress,
    )?;
    model.set_weights(&run.weights)?;
    Ok(run)
}

/// Runs `data` forward through `model` on the machine: predictions, loss and accuracy.
pub fn evaluate(
    target: &mut dyn Target,
    model: &Sequential,
    data: &Dataset,
    opts: &MachineOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<MachineRun, MachineError> {
    let empty = Dataset {
        x: vec![],
        y: vec![],
        class_names: data.class_names.clone(),
    };
    execute(target, model, &empty, data, 0, None, opts, progress)
}

fn check_data(model: &Sequential, d: &Dataset, what: &str) -> Result<(), MachineError> {
    model.check_data(&d.x, &d.y).map_err(|e| match e {
        NnError::Shape(m) => NnError::Shape(format!("{what}: {m}")).into(),
        other => other.into(),
    })
}

#[allow(clippy::too_many_arguments)]
fn execute(
    target: &mut dyn Target,
    model: &Sequential,
    train: &Dataset,
    test: &Dataset,
    epochs: usize,
    shuffle_seed: Option<u64>,
    opts: &MachineOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<MachineRun, MachineError> {
    let (loss, sgd) = check_model(model)?;
    check_data(model, train, "training data")?;
    check_data(model, test, "evaluation data")?;
    let n_train = if epochs == 0 { 0 } else { train.len() };
    if epochs > 0 && n_train == 0 {
        return Err(MachineError::Model("no training samples".into()));
    }
    let n_eval = test.len();
    let total = (epochs * n_train + n_eval) as u64;
    if total == 0 {
        return Err(MachineError::Model("nothing to run: no samples".into()));
    }
    if total > u64::from(u32::MAX / 2) {
        return Err(MachineError::Model(format!(
            "{total} samples are too many for one run"
        )));
    }
    let program = Program::from_file(&opts.firmware).map_err(|source| MachineError::Firmware {
        path: opts.firmware.clone(),
        source,
    })?;

    // Sample order: every epoch's shuffle of the training rows, then the evaluation rows.
    let mut order: Vec<u32> = Vec::with_capacity(total as usize);
    for e in 0..epochs {
        order.extend(
            epoch_order(n_train, shuffle_seed, e)
                .into_iter()
                .map(|i| i as u32),
        );
    }
    order.extend((0..n_eval).map(|k| (n_train + k) as u32));
    let rows: Vec<&Vec<f32>> = train.x[..n_train].iter().chain(&test.x).collect();
    let targets: Vec<&Vec<f32>> = train.y[..n_train].iter().chain(&test.y).collect();
    let (features, outputs) = (model.inputs(), model.outputs());

    let input_sdram =
        4 * (PARAM_WORDS + STATUS_WORDS + 5 * 2 + rows.len() * features + order.len()) as u32;
    let loss_sdram = 4
        * (PARAM_WORDS
            + STATUS_WORDS
            + 5 * 64
            + order.len()
            + targets.len() * outputs
            + n_eval * outputs
            + 2 * epochs) as u32;
    let plan = plan(model, opts, input_sdram, loss_sdram)?;
    let mg_keys =
        |mg: &MachineGraph, p: &PartitionId| block_keys(partition_count(mg, &plan, model, p));
    let mapping = map(
        &plan.graph,
        target.machine(),
        opts.placement_seed,
        &Algorithms::default(),
        mg_keys,
    )?;
    let mg = &mapping.graph;

    // Incoming partitions of each machine vertex.
    let mut incoming: BTreeMap<MachineVertexId, Vec<[u32; 5]>> = BTreeMap::new();
    for (pid, dsts) in mg.partitions() {
        let src = mg.vertex(pid.source).expect("source");
        let src_part = plan.parts[&src.app_vertex];
        let slice_index = mg
            .slices_of(src.app_vertex)
            .iter()
            .position(|&s| s == pid.source)
            .expect("own slice") as u32;
        let space = mapping.keys[pid];
        let count = partition_count(mg, &plan, model, pid);
        for &d in dsts {
            let dst_part = plan.parts[&mg.vertex(d).expect("target").app_vertex];
            let (kind, arg) = match (src_part, pid.name.as_str(), dst_part) {
                (Part::Input, "fwd", _) => (KIND_FWD, 0),
                (Part::Input, _, _) => (KIND_CTL, 0),
                (Part::Dense(_), "fwd", _) => (KIND_FWD, src.lo),
                (Part::Dense(_), _, Part::Input) => (KIND_DONE, slice_index),
                (Part::Dense(_), _, _) => (KIND_BWD, slice_index),
                (Part::Loss, "back", _) => (KIND_BWD, 0),
                (Part::Loss, _, _) => (KIND_DONE, DONE_FROM_LOSS),
            };
            incoming
                .entry(d)
                .or_default()
                .push([space.base, space.mask, count, kind, arg]);
        }
    }
    let out_part = |v: MachineVertexId, name: &str| -> [u32; 3] {
        let pid = PartitionId {
            source: v,
            name: name.into(),
        };
        mapping.keys.get(&pid).map_or([0, !1, 0], |s| {
            [s.base, s.mask, partition_count(mg, &plan, model, &pid)]
        })
    };

    // Lay out and write every core's data, load the firmware, point user0 at the parameters.
    let mut cores: Vec<CoreInfo> = Vec::new();
    let layer_specs = model.layers();
    let weights = model.get_weights();
    for (v, place) in mapping.placements.iter() {
        let mv = mg.vertex(v).expect("placed vertex");
        let part = plan.parts[&mv.app_vertex];
        let (x, y, p) = (place.x, place.y, place.core);
        let mut ins = incoming.get(&v).cloned().unwrap_or_default();
        // The firmware finds a key's entry by binary search over the bases.
        ins.sort_unstable();
        if std::env::var_os("NN_DEBUG").is_some() {
            eprintln!(
                "{:?} at {x},{y},{p}: in {:x?} out {:x?} {:x?}",
                part,
                ins,
                out_part(v, "fwd"),
                out_part(v, "back")
            );
        }
        let mut params = vec![0u32; PARAM_WORDS];
        params[0] = NN_MAGIC;
        params[2] = n_train as u32;
        params[3] = epochs as u32;
        params[4] = n_eval as u32;
        params[5] = opts.tick_us;
        params[6] = opts.timeout_ticks;
        params[7] = opts.linger_ticks;
        params[8] = ins.len() as u32;
        let (o0, o1) = match part {
            Part::Input => ("fwd", "ctl"),
            Part::Dense(_) => ("fwd", "back"),
            Part::Loss => ("back", "done"),
        };
        params[10..13].copy_from_slice(&out_part(v, o0));
        params[13..16].copy_from_slice(&out_part(v, o1));
        // Slices of a layer resend in turn: slice k waits for the packets of slices 0..k.
        let slice_index = mg
            .slices_of(mv.app_vertex)
            .iter()
            .position(|&s| s == v)
            .unwrap_or(0) as u32;
        let per_resend = params[12].max(params[15]).max(1);
        params[27] = slice_index * per_resend * RESEND_GAP_US;

        let app_id = opts.app_id;
        let mut alloc = |bytes: usize| target.alloc_sdram(x, y, bytes as u32, app_id);
        let param_addr = alloc(4 * PARAM_WORDS)?;
        let status = alloc(4 * STATUS_WORDS)?;
        let in_addr = alloc(4 * 5 * ins.len().max(1))?;
        params[9] = in_addr;
        params[17] = status;
        let mut writes: Vec<(u32, Vec<u8>)> = vec![(in_addr, words_to_bytes(&ins.concat()))];
        let mut weights_addr = 0;
        let mut history_addr = 0;
        let name;
        match part {
            Part::Input => {
                name = "input".to_string();
                params[1] = ROLE_INPUT;
                let order_addr = alloc(4 * order.len())?;
                let x_addr = alloc(4 * rows.len() * features)?;
                params[16] = order_addr;
                params[18] = features as u32;
                params[19] = x_addr;
                writes.push((order_addr, words_to_bytes(&order)));
                writes.push((
                    x_addr,
                    floats_to_bytes(rows.iter().flat_map(|r| r.iter().copied())),
                ));
            }
            Part::Dense(k) => {
                name = format!("dense {k} units {}..{}", mv.lo, mv.hi);
                params[1] = ROLE_DENSE;
                let n_in = if k == 0 {
                    features
                } else {
                    layer_specs[k - 1].units
                };
                let units = layer_specs[k].units;
                let last = k + 1 == layer_specs.len();
                let (lo, hi) = (mv.lo as usize, mv.hi as usize);
                let kernel = &weights[2 * k];
                let bias = &weights[2 * k + 1];
                let slice: Vec<f32> = (0..n_in)
                    .flat_map(|i| kernel[i * units + lo..i * units + hi].iter().copied())
                    .chain(bias[lo..hi].iter().copied())
                    .collect();
                weights_addr = alloc(4 * slice.len())?;
                writes.push((weights_addr, floats_to_bytes(slice)));
                let sources = if last {
                    1
                } else {
                    mg.slices_of(plan.layers[k + 1]).len() as u32
                };
                params[18] = n_in as u32;
                params[19] = mv.lo;
                params[20] = mv.hi;
                params[21] = if last {
                    0
                } else {
                    act_code(layer_specs[k].activation)
                };
                params[22] = if k == 0 { FLAG_FIRST } else { 0 } | if last { FLAG_LAST } else { 0 };
                params[23] = sgd.learning_rate.to_bits();
                params[24] = sgd.batch_size as u32;
                params[25] = weights_addr;
                params[26] = sources;
            }
            Part::Loss => {
                name = "loss".to_string();
                params[1] = ROLE_LOSS;
                let order_addr = alloc(4 * order.len())?;
                let y_addr = alloc(4 * targets.len() * outputs)?;
                let pred_addr = alloc(4 * (n_eval * outputs).max(1))?;
                let hist_addr = alloc(4 * (2 * epochs).max(1))?;
                params[16] = order_addr;
                params[18] = outputs as u32;
                params[19] = act_code(layer_specs.last().expect("a layer").activation);
                params[20] = loss_code(loss);
                params[21] = y_addr;
                params[22] = pred_addr;
                params[23] = hist_addr;
                writes.push((order_addr, words_to_bytes(&order)));
                writes.push((
                    y_addr,
                    floats_to_bytes(targets.iter().flat_map(|r| r.iter().copied())),
                ));
                writes.push((pred_addr, vec![0; 4 * (n_eval * outputs).max(1)]));
                writes.push((hist_addr, vec![0; 4 * (2 * epochs).max(1)]));
                weights_addr = pred_addr;
                history_addr = hist_addr;
            }
        }
        writes.push((param_addr, words_to_bytes(&params)));
        writes.push((status, vec![0; 4 * STATUS_WORDS]));
        target.load(x, y, u32::from(p), &program, opts.app_id)?;
        for (addr, bytes) in writes {
            target.write_memory(x, y, addr, &bytes)?;
        }
        let user0 = VCPU_BASE + VCPU_SIZE * u32::from(p) + vcpu::USER;
        target.write_memory(x, y, user0, &param_addr.to_le_bytes())?;
        cores.push(CoreInfo {
            x,
            y,
            p,
            part,
            lo: mv.lo,
            hi: mv.hi,
            status,
            data: weights_addr,
            history: history_addr,
            name,
        });
    }
    target.load_routes(&mapping.entries)?;

    // Run in slices of machine time, reporting progress from the loss core's status.
    let loss_core = cores
        .iter()
        .find(|c| c.part == Part::Loss)
        .expect("a loss core");
    let (lx, ly, ls, hist_addr) = (
        loss_core.x,
        loss_core.y,
        loss_core.status,
        loss_core.history,
    );
    let slice_ns = 20 * 1_000_000;
    let mut now = 0;
    let mut last_done = 0u64;
    let mut last_progress_ns = 0u64;
    loop {
        let end = target.run(now + slice_ns)?;
        now = end.time_ns;
        for c in target.cores()? {
            if matches!(c.state, CpuState::RunTimeException | CpuState::Watchdog) {
                let role = cores
                    .iter()
                    .find(|i| (i.x, i.y, i.p) == (c.x, c.y, c.p))
                    .map_or_else(String::new, |i| i.name.clone());
                return Err(MachineError::CoreFailed {
                    x: c.x,
                    y: c.y,
                    p: c.p,
                    role,
                    state: c.state,
                    rt_name: c.rt_name,
                    pc: c.pc,
                    iobuf: c.iobuf.trim().to_string(),
                });
            }
        }
        let st = bytes_to_words(&target.read_memory(lx, ly, ls, 4 * STATUS_WORDS)?);
        let done = u64::from(st[S_SAMPLES]);
        let epochs_done = (done as usize)
            .checked_div(n_train)
            .unwrap_or(0)
            .min(epochs);
        let loss_now = if epochs_done > 0 {
            let h = bytes_to_floats(&target.read_memory(
                lx,
                ly,
                hist_addr + 8 * (epochs_done as u32 - 1),
                4,
            )?);
            Some(h[0])
        } else {
            None
        };
        progress(&Progress {
            samples: done,
            total,
            epochs: epochs_done,
            loss: loss_now,
            sim_time_ns: now,
        });
        if done != last_done {
            last_done = done;
            last_progress_ns = now;
        }
        let stalled = match end.stop {
            StopReason::AllFinished => break,
            StopReason::Deadlock => true,
            StopReason::TimeLimit => now - last_progress_ns > opts.stall_ms * 1_000_000,
        };
        if stalled {
            let reports = target.cores()?;
            let mut lines = Vec::new();
            for i in &cores {
                let r = reports.iter().find(|c| (i.x, i.y, i.p) == (c.x, c.y, c.p));
                let (state, user) =
                    r.map_or(("?".to_string(), [0; 4]), |c| (c.state.name(), c.user));
                let st =
                    bytes_to_words(&target.read_memory(i.x, i.y, i.status, 4 * STATUS_WORDS)?);
                let waiting = ["forward values", "backward values", "nothing"]
                    .get((st[S_WAIT] >> 24) as usize)
                    .unwrap_or(&"?");
                lines.push(format!(
                    "{} {state}: {} samples done, waits for {waiting} ({} missing), {} requests, {} ignored {}",
                    i.name, user[1], st[S_WAIT] & 0xFF_FFFF, user[2], user[3], r.map_or("", |c| c.iobuf.as_str())
                ));
            }
            let cores = lines.join("; ");
            return Err(MachineError::Stalled {
                ms: (now - last_progress_ns) / 1_000_000,
                done,
                total,
                cores,
            });
        }
    }

    // Results.
    let mut requests = 0;
    let mut resends = 0;
    let mut out_weights: Vec<Vec<f32>> = weights.iter().map(|w| vec![0.0; w.len()]).collect();
    let mut run = MachineRun {
        history: History::default(),
        eval_loss: 0.0,
        eval_accuracy: 0.0,
        predictions: vec![],
        weights: vec![],
        sim_time_ns: now,
        cores: cores.len(),
        packets: 0,
        dropped: 0,
        requests: 0,
        resends: 0,
        placements: cores
            .iter()
            .map(|c| (c.name.clone(), c.x, c.y, c.p))
            .collect(),
    };
    for c in &cores {
        let st = bytes_to_words(&target.read_memory(c.x, c.y, c.status, 4 * STATUS_WORDS)?);
        requests += u64::from(st[S_REQUESTS]);
        resends += u64::from(st[S_RESENDS]);
        if st[S_STATE] != 1 {
            return Err(MachineError::Model(format!(
                "{} finished without completing its samples",
                c.name
            )));
        }
        match c.part {
            Part::Dense(k) => {
                let n_in = if k == 0 {
                    features
                } else {
                    layer_specs[k - 1].units
                };
                let units = layer_specs[k].units;
                let w = (c.hi - c.lo) as usize;
                let vals =
                    bytes_to_floats(&target.read_memory(c.x, c.y, c.data, 4 * (n_in + 1) * w)?);
                for i in 0..n_in {
                    for j in 0..w {
                        out_weights[2 * k][i * units + c.lo as usize + j] = vals[i * w + j];
                    }
                }
                out_weights[2 * k + 1][c.lo as usize..c.hi as usize]
                    .copy_from_slice(&vals[n_in * w..]);
            }
            Part::Loss => {
                let preds =
                    bytes_to_floats(&target.read_memory(c.x, c.y, c.data, 4 * n_eval * outputs)?);
                run.predictions = preds.chunks(outputs.max(1)).map(<[f32]>::to_vec).collect();
                let hist = bytes_to_floats(&target.read_memory(c.x, c.y, hist_addr, 8 * epochs)?);
                run.history.loss = hist.iter().step_by(2).copied().collect();
                run.history.accuracy = hist.iter().skip(1).step_by(2).copied().collect();
                if n_eval > 0 {
                    run.eval_accuracy = st[S_HITS] as f32 / n_eval as f32;
                    run.eval_loss = f32::from_bits(st[S_EVAL_LOSS]) / n_eval as f32;
                }
            }
            Part::Input => {}
        }
    }
    let counts = target.packet_counts()?;
    run.weights = out_weights;
    run.requests = requests;
    run.resends = resends;
    run.packets = counts.sent;
    run.dropped = counts.dropped;
    Ok(run)
}

/// Whether two weight sets agree within [`WEIGHT_TOLERANCE`]; the largest difference otherwise.
pub fn weights_close(a: &[Vec<f32>], b: &[Vec<f32>]) -> Result<(), String> {
    if a.len() != b.len() {
        return Err(format!("{} arrays against {}", a.len(), b.len()));
    }
    let mut worst = (0.0f32, 0, 0);
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        if x.len() != y.len() {
            return Err(format!("array {k}: {} values against {}", x.len(), y.len()));
        }
        for (i, (&p, &q)) in x.iter().zip(y).enumerate() {
            let excess = (p - q).abs() - WEIGHT_TOLERANCE * (1.0 + p.abs().max(q.abs()));
            let excess = if excess.is_nan() {
                f32::INFINITY
            } else {
                excess
            };
            if excess > worst.0 {
                worst = (excess, k, i);
            }
        }
    }
    if worst.0 > 0.0 {
        let (_, k, i) = worst;
        return Err(format!(
            "array {k} value {i}: {} against {}",
            a[k][i], b[k][i]
        ));
    }
    Ok(())
}
