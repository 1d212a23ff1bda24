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
//! # Samples in flight
//! Within a batch the weights do not change, so up to [`MachineOptions::pipeline_depth`]
//! samples go through the machine at once, forward and backward: the input core sends sample
//! s once sample s - depth is done, and a batch's first sample once the batch before it is
//! done. Every core keeps each sample's values in a slot of its own and takes the samples in
//! order, so gradients add up in the same order and the weights are the same bits at any depth.
//!
//! # Lost packets
//! Every value carries its sample's tag (sequence number modulo twice the depth) in the key
//! and lands in its sample's slot with a received flag; a core that waits too long asks for
//! the oldest sample it waits for, and the senders repeat their values of that sample. Losses
//! cost time, not results: training with dropped packets gives the same bits.

use std::collections::BTreeMap;
use std::path::PathBuf;

use spinn_hw::geometry::MachineDesc;
use spinn_hw::program::{LoadError, Program};
use spinn_hw::report::StopReason;
use spinn_hw::routes::RouteEntry;
use spinn_hw::sysram::{vcpu, CpuState, VCPU_BASE, VCPU_SIZE};
use spinn_toolchain::graph::{
    AppVertexId, MachineGraph, MachineVertex, MachineVertexId, PartitionId,
};
use spinn_toolchain::mapping::{map, Algorithms, Mapping, DTCM_DATA_BYTES};
use spinn_toolchain::target::{Target, TargetError};
use spinn_toolchain::{AppGraph, MapError, Placement, Vertex};

use crate::model::{epoch_order, History, Sequential};
use crate::{Activation, Dataset, Loss, NnError};

mod kinds;
mod nn_h;
use kinds::MachineLayer;
use nn_h::*;

/// Largest difference between a weight trained on the machine and the same weight trained
/// by the host reference from the same start and sample order (absolute, plus this much of
/// the weight's size), for the example networks.
pub const WEIGHT_TOLERANCE: f32 = 1e-3;

/// The default base gap of [`MachineOptions::pace_cycles`] (1.5 µs): well above what a link
/// takes to carry a packet with payload (58 cycles) and a receiving core to queue one in its
/// FIQ, because slices of unequal size do not send in step. Measured with `cargo bench --bench
/// nn_scaling`: at 150 and 200 cycles digits at 4 units per core still lost packets or timed
/// out (18 drops, 55 resend requests in 100 samples); at 300 nothing was lost at any split.
pub const PACE_CYCLES: u32 = 300;

/// The deepest pipeline the firmware keeps slots for (samples in flight at once).
pub const MAX_PIPELINE_DEPTH: u32 = MAX_DEPTH;

/// The `nn` firmware built in this workspace (binary32).
pub fn default_firmware() -> PathBuf {
    firmware_for(Arithmetic::Float32)
}

/// The `nn` firmware built in this workspace for `arithmetic`.
pub fn firmware_for(arithmetic: Arithmetic) -> PathBuf {
    let name = match arithmetic {
        Arithmetic::Float32 => "nn.elf",
        Arithmetic::S16_15 => "nn_s1615.elf",
    };
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../firmware/build")
        .join(name)
}

/// The numbers the layer cores compute in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Arithmetic {
    /// IEEE binary32 in software (libgcc's soft float), in the host reference's order.
    #[default]
    #[serde(rename = "float32")]
    Float32,
    /// s16.15 fixed point (SpiNNaker's `accum`: value × 2^15 in a 32-bit word), integer
    /// multiplies rounded to nearest; sigmoid, tanh, softmax and the loss through binary32.
    #[serde(rename = "s16.15")]
    S16_15,
}

impl Arithmetic {
    /// Every kind, in the order the command line lists them.
    pub const ALL: [Arithmetic; 2] = [Arithmetic::Float32, Arithmetic::S16_15];

    /// The kind of a model-file or command-line name.
    pub fn from_name(name: &str) -> Option<Arithmetic> {
        Arithmetic::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The name model files and the command line use.
    pub fn name(self) -> &'static str {
        match self {
            Arithmetic::Float32 => "float32",
            Arithmetic::S16_15 => "s16.15",
        }
    }

    fn code(self) -> u32 {
        match self {
            Arithmetic::Float32 => NN_ARITH_FLOAT32,
            Arithmetic::S16_15 => NN_ARITH_S1615,
        }
    }
}

/// How a network is put on the machine.
#[derive(Clone, Debug)]
pub struct MachineOptions {
    /// Most units of one layer on one core (0: as many as fit in DTCM).
    pub units_per_core: u32,
    /// Seed of the placer.
    pub placement_seed: u64,
    /// The `nn` firmware ELF (`None`: this workspace's build for `arithmetic`).
    pub firmware: Option<PathBuf>,
    /// The numbers the layer cores compute in.
    pub arithmetic: Arithmetic,
    /// Application id the cores run under.
    pub app_id: u8,
    /// Timer tick of every core, in microseconds.
    pub tick_us: u32,
    /// Ticks a core waits for missing values before asking for them again.
    pub timeout_ticks: u32,
    /// Idle ticks a core stays to answer requests after its last sample when the input
    /// core's "stop" (sent once every sample is done) does not reach it.
    pub linger_ticks: u32,
    /// Simulated time without any sample finishing after which the run is declared stalled.
    pub stall_ms: u64,
    /// Core cycles between two packets reaching any receiver or link when a layer's slices
    /// send at once (0: no pacing, every burst at full speed).
    pub pace_cycles: u32,
    /// Most samples in flight at once, forward and backward (0: as many as the firmware
    /// keeps slots for, [`MAX_PIPELINE_DEPTH`]); lowered to a power of two that every core's
    /// DTCM holds. The weights come out the same bits at any depth.
    pub pipeline_depth: u32,
}

impl Default for MachineOptions {
    fn default() -> Self {
        MachineOptions {
            units_per_core: 16,
            placement_seed: 1,
            firmware: None,
            arithmetic: Arithmetic::Float32,
            app_id: 30,
            tick_us: 1000,
            timeout_ticks: 20,
            linger_ticks: 1000,
            stall_ms: 5000,
            pace_cycles: PACE_CYCLES,
            pipeline_depth: 0,
        }
    }
}

impl MachineOptions {
    /// The firmware ELF the cores run.
    pub fn firmware_path(&self) -> PathBuf {
        self.firmware
            .clone()
            .unwrap_or_else(|| firmware_for(self.arithmetic))
    }

    /// The defaults, with what a model file's `[machine]` section asks for.
    pub fn for_model(spec: &crate::ModelSpec) -> Self {
        let mut o = MachineOptions::default();
        if let Some(n) = spec.machine.units_per_core {
            o.units_per_core = n as u32;
        }
        if let Some(n) = spec.machine.pipeline_depth {
            o.pipeline_depth = n as u32;
        }
        if let Some(a) = spec.machine.arithmetic {
            o.arithmetic = a;
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
    /// Samples that were in flight at once (the depth the toolchain chose).
    pub pipeline_depth: u32,
}

/// The input core tracks "done" from each first-layer core by its slice number, below
/// DONE_FROM_LOSS, the loss core's.
const MAX_FIRST_LAYER_CORES: u32 = DONE_FROM_LOSS;

pub(crate) fn act_code(a: Activation) -> u32 {
    match a {
        Activation::Identity => ACT_IDENTITY,
        Activation::Relu => ACT_RELU,
        Activation::Sigmoid => ACT_SIGMOID,
        Activation::Tanh => ACT_TANH,
        Activation::Softmax => ACT_SOFTMAX,
    }
}

fn loss_code(l: Loss) -> u32 {
    match l {
        Loss::MeanSquaredError => LOSS_MSE,
        Loss::BinaryCrossEntropy => LOSS_BCE,
        Loss::CategoricalCrossEntropy => LOSS_CCE,
    }
}

/// What each application vertex is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Input,
    /// A slice of machine layer `m` (an index into [`Plan::mlayers`]).
    Layer(usize),
    Loss,
}

/// The network as an application graph, with what is needed to lay it out.
struct Plan {
    graph: AppGraph,
    parts: BTreeMap<AppVertexId, Part>,
    layers: Vec<AppVertexId>,
    /// The layers that take cores, in order.
    mlayers: Vec<MachineLayer>,
    /// Per machine layer: cores sending each of its cores backward values, and the values
    /// they send per sample.
    sources: Vec<u32>,
    back: Vec<u32>,
    /// Samples in flight at once.
    depth: u32,
}

impl Plan {
    /// The name of the core running slice `mv` of `part`, for reports.
    fn core_name(&self, part: Part, mv: &MachineVertex) -> String {
        match part {
            Part::Input => "input".to_string(),
            Part::Layer(m) => {
                let l = &self.mlayers[m];
                let what = if l.layer_indices() {
                    "channels"
                } else {
                    "units"
                };
                format!("{} {what} {}..{}", l.name().to_lowercase(), mv.lo, mv.hi)
            }
            Part::Loss => "loss".to_string(),
        }
    }
}

fn check_model(model: &Sequential) -> Result<(Loss, crate::Sgd), MachineError> {
    let loss = model
        .loss()
        .ok_or_else(|| MachineError::Model("the model is not compiled: no loss".into()))?;
    let sgd = model
        .optimizer()
        .ok_or_else(|| MachineError::Model("the model is not compiled: no optimiser".into()))?;
    let layers = MachineLayer::of(model);
    if let Some(l) = layers
        .iter()
        .find(|l| l.sources.contains(&None) && !l.first())
    {
        return Err(MachineError::Model(format!(
            "layer {} ({}): a layer that takes the model's input takes nothing else on the machine",
            l.k,
            l.spec.keras_class()
        )));
    }
    if let Some(l) = layers
        .iter()
        .find(|l| (1..l.sources.len()).any(|i| l.sources[..i].contains(&l.sources[i])))
    {
        return Err(MachineError::Model(format!(
            "layer {} ({}): takes the same layer twice, which the machine does not do",
            l.k,
            l.spec.keras_class()
        )));
    }
    if let Some(l) = layers.iter().find(|l| l.sources.len() > MERGE_MAX_INPUTS) {
        return Err(MachineError::Model(format!(
            "layer {} ({}): at most {MERGE_MAX_INPUTS} inputs on the machine",
            l.k,
            l.spec.keras_class()
        )));
    }
    let Some(last) = layers.last() else {
        return Err(MachineError::Model(
            "the model has no layers that compute".into(),
        ));
    };
    if !matches!(last.spec, crate::Layer::Dense(_)) || last.k + 1 != model.layers().len() {
        return Err(MachineError::Model(
            "the last layer must be Dense on the machine (the loss core takes its units)".into(),
        ));
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
    let layers = MachineLayer::of(model);
    let mut graph = AppGraph::new();
    let mut parts = BTreeMap::new();
    let input = graph.add_vertex(one_core("input", model.inputs(), input_sdram));
    parts.insert(input, Part::Input);
    // Atoms per core, last layer first: a slice's DTCM holds the partial sums of every core of
    // the layer above, so that layer's split comes first.
    let mut per = vec![1u32; layers.len()];
    let mut sources = vec![1u32; layers.len()];
    // Backward values a core receives per sample (the loss core sends the last layer's outputs).
    let mut back: Vec<u32> = layers.iter().map(MachineLayer::n_out).collect();
    for k in (0..layers.len()).rev() {
        let l = &layers[k];
        if k + 1 < layers.len() {
            // Every slice of every layer that takes this one's values sends it a value for each
            // of its own inputs.
            let slices = |c: usize| layers[c].atoms().div_ceil(per[c]);
            sources[k] = consumers(&layers, k).map(slices).sum::<u32>().max(1);
            back[k] = consumers(&layers, k)
                .map(|c| slices(c) * layers[c].n_in())
                .sum();
        }
        let last = k + 1 == layers.len();
        if l.activation() == Activation::Softmax && !last {
            // Softmax normalises over a position's channels (a dense layer's units): they
            // must all be on one core.
            let one = l.atoms();
            if l.dtcm(one, sources[k], back[k], 1) > DTCM_DATA_BYTES {
                return Err(MachineError::Model(format!(
                    "layer {}: softmax needs all of the layer's {one} units or channels on one core, which {} bytes of DTCM do not hold",
                    l.k,
                    l.dtcm(one, sources[k], back[k], 1)
                )));
            }
            per[k] = one;
            continue;
        }
        let mut p = l.per_core(opts.units_per_core);
        while p > 1 && l.dtcm(p, sources[k], back[k], 1) > DTCM_DATA_BYTES {
            p -= 1;
        }
        per[k] = p;
    }
    // The split is the same at any depth; the depth is then the deepest that every slice's
    // DTCM holds (each sample in flight needs its own buffers and room in the receive ring).
    let fits = |d: u32| {
        layers
            .iter()
            .enumerate()
            .all(|(m, l)| l.dtcm(per[m], sources[m], back[m], d) <= DTCM_DATA_BYTES)
    };
    let mut depth = pipeline_depth(opts.pipeline_depth);
    while depth > 1 && !fits(depth) {
        depth /= 2;
    }
    let mut ids = Vec::new();
    for (m, l) in layers.iter().enumerate() {
        let (atoms, per) = (l.atoms(), per[m]);
        let dtcm = l.dtcm(per, sources[m], back[m], depth);
        if l.first() && atoms.div_ceil(per) > MAX_FIRST_LAYER_CORES {
            return Err(MachineError::Model(format!(
                "layer {} would need {} cores, the input core follows at most {MAX_FIRST_LAYER_CORES}: raise units_per_core",
                l.k,
                atoms.div_ceil(per)
            )));
        }
        let id = graph.add_vertex(Vertex {
            name: format!("{} ({atoms} atoms, {:?})", l.name(), l.activation()),
            atoms,
            max_atoms_per_core: per,
            dtcm_bytes: dtcm,
            sdram_bytes: 4
                * (P_WORDS as u32 + S_WORDS as u32 + (l.rows() + 1) * per + IN_WORDS as u32 * 8),
        });
        parts.insert(id, Part::Layer(m));
        ids.push(id);
    }
    let loss = graph.add_vertex(one_core("loss", model.outputs(), loss_sdram));
    parts.insert(loss, Part::Loss);

    // The input core's control partition: its requests to the loss core, and to every core
    // the "stop" that ends the run once every sample is done.
    graph.add_edge(input, loss, "ctl");
    for &id in &ids {
        graph.add_edge(input, id, "ctl");
    }
    for (m, l) in layers.iter().enumerate() {
        for src in &l.sources {
            let below = src.map_or(input, |s| ids[s]);
            graph.add_edge(below, ids[m], "fwd");
            graph.add_edge(ids[m], below, "back");
        }
    }
    let last = *ids.last().expect("a layer");
    graph.add_edge(last, loss, "fwd");
    graph.add_edge(loss, last, "back");
    graph.add_edge(loss, input, "done");
    Ok(Plan {
        graph,
        parts,
        layers: ids,
        mlayers: layers,
        sources,
        back,
        depth,
    })
}

/// The deepest pipeline `asked` allows: a power of two, at most [`MAX_DEPTH`] (0: that).
fn pipeline_depth(asked: u32) -> u32 {
    match asked {
        0 => MAX_DEPTH,
        n => 1 << n.min(MAX_DEPTH).ilog2(),
    }
}

/// The machine layers that take machine layer `k`'s values, in order.
fn consumers(layers: &[MachineLayer], k: usize) -> impl Iterator<Item = usize> + '_ {
    (k + 1..layers.len()).filter(move |&c| layers[c].sources.contains(&Some(k)))
}

/// Values a partition carries (its requests use index `count`).
fn partition_count(mg: &MachineGraph, plan: &Plan, model: &Sequential, p: &PartitionId) -> u32 {
    let v = mg.vertex(p.source).expect("partition source");
    match (plan.parts[&v.app_vertex], p.name.as_str()) {
        (Part::Input, "fwd") => model.inputs() as u32,
        // "ctl": value 0 is "stop" (every sample is done).
        (Part::Input, _) => 1,
        (Part::Layer(m), "fwd") => {
            let l = &plan.mlayers[m];
            if l.layer_indices() {
                l.n_out()
            } else {
                v.atoms()
            }
        }
        (Part::Layer(m), _) if plan.mlayers[m].first() => 1,
        (Part::Layer(m), _) => plan.mlayers[m].n_in(),
        (Part::Loss, "back") => model.outputs() as u32,
        (Part::Loss, _) => 1,
    }
}

/// Keys a partition's block needs with `depth` samples in flight: values with a tag of the
/// sample (twice as many tags as samples in flight), and the request key.
fn block_keys(count: u32, depth: u32) -> u32 {
    2 * depth * (count + 1).next_power_of_two()
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

/// Runs `epochs` of `train` then `test` through `model` on the machine: lay out, load, run,
/// read back.
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
    let job = Job::new(model, train, test, epochs, shuffle_seed)?;
    let firmware = opts.firmware_path();
    let program = Program::from_file(&firmware).map_err(|source| MachineError::Firmware {
        path: firmware.clone(),
        source,
    })?;
    let layout = lay_out(target, model, &job, opts)?;
    let depth = layout.depth;
    let cores = load(target, layout, &program, opts.app_id)?;
    let start_ns = start_together(target, &cores, opts.app_id, opts.stall_ms)?;
    let sim_time_ns = run_to_end(target, &cores, &job, start_ns, opts.stall_ms, progress)?;
    read_back(target, model, &cores, &job, sim_time_ns, depth)
}

/// The samples of one run, checked against the model, in the order the cores take them.
struct Job<'a> {
    loss: Loss,
    sgd: crate::Sgd,
    epochs: usize,
    /// Training samples per epoch (none without epochs).
    n_train: usize,
    n_eval: usize,
    /// Samples in the whole run.
    total: u64,
    /// Row of each sequence number: every epoch's shuffle of the training rows, then the
    /// evaluation rows.
    order: Vec<u32>,
    /// The training rows, then the evaluation rows.
    rows: Vec<&'a Vec<f32>>,
    /// The targets of `rows`.
    targets: Vec<&'a Vec<f32>>,
}

impl<'a> Job<'a> {
    /// `epochs` over `train`, then `test` once; an error if `model` cannot run them.
    fn new(
        model: &Sequential,
        train: &'a Dataset,
        test: &'a Dataset,
        epochs: usize,
        shuffle_seed: Option<u64>,
    ) -> Result<Self, MachineError> {
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
        let mut order: Vec<u32> = Vec::with_capacity(total as usize);
        for e in 0..epochs {
            order.extend(
                epoch_order(n_train, shuffle_seed, e)
                    .into_iter()
                    .map(|i| i as u32),
            );
        }
        order.extend((0..n_eval).map(|k| (n_train + k) as u32));
        Ok(Job {
            loss,
            sgd,
            epochs,
            n_train,
            n_eval,
            total,
            order,
            rows: train.x[..n_train].iter().chain(&test.x).collect(),
            targets: train.y[..n_train].iter().chain(&test.y).collect(),
        })
    }
}

/// The network laid out on the machine: every core's SDRAM image, and the routing tables.
struct Layout {
    cores: Vec<CoreImage>,
    routes: Vec<RouteEntry>,
    /// Samples in flight at once.
    depth: u32,
}

/// One core: where it is, and its parameter block and data at their SDRAM addresses.
struct CoreImage {
    info: CoreInfo,
    /// Address of the parameter block, for the core's user0.
    params: u32,
    /// (address, bytes) to write before the core starts.
    writes: Vec<(u32, Vec<u8>)>,
}

/// Maps the network onto the machine and lays out every core's data in its chip's SDRAM.
fn lay_out(
    target: &mut dyn Target,
    model: &Sequential,
    job: &Job,
    opts: &MachineOptions,
) -> Result<Layout, MachineError> {
    let mapped = Mapped::new(target.machine(), model, job, opts)?;
    let weights = model.get_weights();
    let mut cores = Vec::new();
    for (v, place) in mapped.mapping.placements.iter() {
        cores.push(mapped.core(target, v, place, &weights)?);
    }
    Ok(Layout {
        cores,
        routes: mapped.mapping.entries,
        depth: mapped.plan.depth,
    })
}

/// The network mapped onto the machine, with what laying out its cores needs.
struct Mapped<'a> {
    model: &'a Sequential,
    job: &'a Job<'a>,
    opts: &'a MachineOptions,
    plan: Plan,
    mapping: Mapping,
    /// Each machine vertex's incoming partitions (IN_* entries), unsorted.
    incoming: BTreeMap<MachineVertexId, Vec<[u32; IN_WORDS]>>,
}

/// An outgoing partition as a parameter block gives it (P_OUT0_* or P_OUT1_*).
#[derive(Clone, Copy)]
struct OutPart {
    base: u32,
    mask: u32,
    count: u32,
}

impl<'a> Mapped<'a> {
    /// The application graph of `model`, mapped onto `machine`.
    fn new(
        machine: &MachineDesc,
        model: &'a Sequential,
        job: &'a Job<'a>,
        opts: &'a MachineOptions,
    ) -> Result<Self, MachineError> {
        let (features, outputs) = (model.inputs(), model.outputs());
        let input_sdram = 4
            * (P_WORDS + S_WORDS + IN_WORDS * 2 + job.rows.len() * features + job.order.len())
                as u32;
        let loss_sdram = 4
            * (P_WORDS
                + S_WORDS
                + IN_WORDS * 64
                + job.order.len()
                + job.targets.len() * outputs
                + job.n_eval * outputs
                + 2 * job.epochs) as u32;
        let plan = plan(model, opts, input_sdram, loss_sdram)?;
        let mapping = map(
            &plan.graph,
            machine,
            opts.placement_seed,
            &Algorithms::default(),
            |mg: &MachineGraph, p: &PartitionId| {
                block_keys(partition_count(mg, &plan, model, p), plan.depth)
            },
        )?;
        let incoming = incoming_entries(&plan, &mapping, model);
        Ok(Mapped {
            model,
            job,
            opts,
            plan,
            mapping,
            incoming,
        })
    }

    /// Outgoing partition `name` of `v`; an empty one where `v` has none of that name.
    fn outgoing(&self, v: MachineVertexId, name: &str) -> OutPart {
        let pid = PartitionId {
            source: v,
            name: name.into(),
        };
        self.mapping.keys.get(&pid).map_or(
            OutPart {
                base: 0,
                mask: !1,
                count: 0,
            },
            |s| OutPart {
                base: s.base,
                mask: s.mask,
                count: partition_count(&self.mapping.graph, &self.plan, self.model, &pid),
            },
        )
    }

    /// Allocates the SDRAM of machine vertex `v`'s core at `place` and lays out its data there.
    fn core(
        &self,
        target: &mut dyn Target,
        v: MachineVertexId,
        place: Placement,
        weights: &[Vec<f32>],
    ) -> Result<CoreImage, MachineError> {
        let mv = self.mapping.graph.vertex(v).expect("placed vertex");
        let part = self.plan.parts[&mv.app_vertex];
        let (x, y, p) = (place.x, place.y, place.core);
        let ins = self.incoming_of(v);
        if std::env::var_os("NN_DEBUG").is_some() {
            let words = |o: OutPart| [o.base, o.mask, o.count];
            eprintln!(
                "{:?} at {x},{y},{p}: in {:x?} out {:x?} {:x?}",
                part,
                ins,
                words(self.outgoing(v, "fwd")),
                words(self.outgoing(v, "back"))
            );
        }
        let out = match part {
            Part::Input => ["fwd", "ctl"],
            Part::Layer(_) => ["fwd", "back"],
            Part::Loss => ["back", "done"],
        }
        .map(|name| self.outgoing(v, name));

        let mut sdram = Sdram {
            target,
            x,
            y,
            app_id: self.opts.app_id,
            writes: Vec::new(),
        };
        let param_addr = sdram.alloc(4 * P_WORDS)?;
        let status = sdram.alloc(4 * S_WORDS)?;
        let in_parts = sdram.alloc(4 * IN_WORDS * ins.len().max(1))?;
        sdram.write(in_parts, words_to_bytes(&ins.concat()));
        let role = match part {
            Part::Input => self.input_role(&mut sdram)?,
            Part::Layer(m) => self.layer_role(&mut sdram, m, mv, weights)?,
            Part::Loss => self.loss_role(&mut sdram)?,
        };
        let (data, history) = role.results();
        let params = Params {
            n_train: self.job.n_train as u32,
            epochs: self.job.epochs as u32,
            n_eval: self.job.n_eval as u32,
            tick_us: self.opts.tick_us,
            timeout: self.opts.timeout_ticks,
            linger: self.opts.linger_ticks,
            n_in_parts: ins.len() as u32,
            in_parts,
            out,
            status,
            stagger_us: self.stagger_us(v, out),
            pace: self.pace(v),
            rx_ring: self.rx_ring(part),
            depth: self.plan.depth,
            arithmetic: self.opts.arithmetic,
            role,
        };
        sdram.write(param_addr, words_to_bytes(&params.words()));
        sdram.write(status, vec![0; 4 * S_WORDS]);
        Ok(CoreImage {
            info: CoreInfo {
                x,
                y,
                p,
                part,
                lo: mv.lo,
                hi: mv.hi,
                status,
                data,
                history,
                name: self.plan.core_name(part, mv),
            },
            params: param_addr,
            writes: sdram.writes,
        })
    }

    /// Packets the receive ring of a core of `part` holds.
    fn rx_ring(&self, part: Part) -> u32 {
        match part {
            // "done" from each first-layer core and the loss core.
            Part::Input => kinds::rx_ring(MAX_FIRST_LAYER_CORES + 1),
            Part::Layer(m) => self.plan.mlayers[m].rx_ring(self.plan.back[m], self.plan.depth),
            Part::Loss => kinds::rx_ring(self.model.outputs() as u32 * self.plan.depth),
        }
    }

    /// The entries of `v`'s incoming partitions, as the firmware searches them.
    fn incoming_of(&self, v: MachineVertexId) -> Vec<[u32; IN_WORDS]> {
        let mut ins = self.incoming.get(&v).cloned().unwrap_or_default();
        // The firmware finds a key's entry by binary search over the bases.
        ins.sort_unstable_by_key(|e| e[IN_BASE]);
        ins
    }

    /// How `v` paces its bursts: the slices of a layer send at once, so slice k of S starts k
    /// base gaps late and sends every S base gaps, and their packets interleave.
    fn pace(&self, v: MachineVertexId) -> (u32, u32) {
        let (k, slices) = self.slice_of(v);
        let base = self.opts.pace_cycles;
        (k * base, slices * base)
    }

    /// Which slice of its layer `v` is, and of how many.
    fn slice_of(&self, v: MachineVertexId) -> (u32, u32) {
        let mg = &self.mapping.graph;
        let app_vertex = mg.vertex(v).expect("placed vertex").app_vertex;
        let slices = mg.slices_of(app_vertex);
        let k = slices.iter().position(|&s| s == v).unwrap_or(0);
        (k as u32, slices.len().max(1) as u32)
    }

    /// How long `v` waits before resending on request, given its outgoing partitions `out`.
    fn stagger_us(&self, v: MachineVertexId, out: [OutPart; 2]) -> u32 {
        // Slices of a layer resend in turn: slice k waits for the packets of slices 0..k.
        let (slice_index, _) = self.slice_of(v);
        let per_resend = out[0].count.max(out[1].count).max(1);
        slice_index * per_resend * RESEND_GAP_US
    }

    /// The input core's data: the sample order and the rows.
    fn input_role(&self, sdram: &mut Sdram) -> Result<RoleParams, TargetError> {
        let order = sdram.block(words_to_bytes(&self.job.order))?;
        let x = sdram.block(floats_to_bytes(
            self.job.rows.iter().flat_map(|r| r.iter().copied()),
        ))?;
        Ok(RoleParams::Input {
            order,
            features: self.model.inputs() as u32,
            x,
            batch: self.job.sgd.batch_size as u32,
        })
    }

    /// A layer core's data: its atoms' columns of the layer's kernel, then their biases.
    fn layer_role(
        &self,
        sdram: &mut Sdram,
        m: usize,
        mv: &MachineVertex,
        weights: &[Vec<f32>],
    ) -> Result<RoleParams, TargetError> {
        let layers = &self.plan.mlayers;
        let l = &layers[m];
        let last = m + 1 == layers.len();
        let (lo, hi) = (mv.lo as usize, mv.hi as usize);
        let (rows, atoms) = (l.rows() as usize, l.atoms() as usize);
        let weights = if rows == 0 {
            0
        } else {
            let first = self.model.first_weight(l.k);
            let (kernel, bias) = (&weights[first], &weights[first + 1]);
            let slice: Vec<f32> = (0..rows)
                .flat_map(|r| kernel[r * atoms + lo..r * atoms + hi].iter().copied())
                .chain(bias[lo..hi].iter().copied())
                .collect();
            sdram.block(floats_to_bytes(slice))?
        };
        let bwd_srcs = self.plan.sources[m];
        Ok(RoleParams::Layer {
            kind: l.kind(),
            inputs: l.n_in(),
            lo: mv.lo,
            hi: mv.hi,
            // The loss core applies the last layer's activation.
            act: if last {
                ACT_IDENTITY
            } else {
                act_code(l.activation())
            },
            flags: if l.first() { FLAG_FIRST } else { 0 } | if last { FLAG_LAST } else { 0 },
            outputs: l.n_out(),
            learning_rate: self.job.sgd.learning_rate,
            batch: self.job.sgd.batch_size as u32,
            weights,
            bwd_srcs,
            geometry: l.geometry(),
        })
    }

    /// The loss core's data: the sample order, the targets, and room for what it writes.
    fn loss_role(&self, sdram: &mut Sdram) -> Result<RoleParams, TargetError> {
        let job = self.job;
        let outputs = self.model.outputs();
        let order = sdram.block(words_to_bytes(&job.order))?;
        let y = sdram.block(floats_to_bytes(
            job.targets.iter().flat_map(|r| r.iter().copied()),
        ))?;
        let pred = sdram.block(vec![0; 4 * (job.n_eval * outputs).max(1)])?;
        let history = sdram.block(vec![0; 4 * (2 * job.epochs).max(1)])?;
        let last_act = self.plan.mlayers.last().expect("a layer").activation();
        Ok(RoleParams::Loss {
            order,
            outputs: outputs as u32,
            act: act_code(last_act),
            loss: loss_code(job.loss),
            y,
            pred,
            history,
        })
    }
}

/// The entries (IN_* words) of every machine vertex's incoming partitions.
fn incoming_entries(
    plan: &Plan,
    mapping: &Mapping,
    model: &Sequential,
) -> BTreeMap<MachineVertexId, Vec<[u32; IN_WORDS]>> {
    let mg = &mapping.graph;
    let mut incoming: BTreeMap<MachineVertexId, Vec<[u32; IN_WORDS]>> = BTreeMap::new();
    for (pid, dsts) in mg.partitions() {
        let src = mg.vertex(pid.source).expect("source");
        let src_part = plan.parts[&src.app_vertex];
        let slice_index = mg
            .slices_of(src.app_vertex)
            .iter()
            .position(|&s| s == pid.source)
            .expect("own slice") as u32;
        let space = mapping.keys[pid];
        let count = partition_count(mg, plan, model, pid);
        for &d in dsts {
            let dst_part = plan.parts[&mg.vertex(d).expect("target").app_vertex];
            let mut offset = 0;
            let (kind, arg) = match (src_part, pid.name.as_str(), dst_part) {
                (Part::Input, "fwd", _) => (KIND_FWD, 0),
                (Part::Input, _, _) => (KIND_CTL, 0),
                (Part::Layer(m), "fwd", dst) => {
                    let l = &plan.mlayers[m];
                    // Where this layer's values start in the receiver's (stacked) input.
                    let at = match dst {
                        Part::Layer(c) => plan.mlayers[c].offset_of(m),
                        _ => 0,
                    };
                    (KIND_FWD, at + if l.layer_indices() { 0 } else { src.lo })
                }
                (Part::Layer(_), _, Part::Input) => (KIND_DONE, slice_index),
                (Part::Layer(m), _, Part::Layer(s)) => {
                    // Senders of backward values to layer s: every slice of every layer that
                    // takes its values, in layer order.
                    let before: u32 = consumers(&plan.mlayers, s)
                        .take_while(|&c| c != m)
                        .map(|c| mg.slices_of(plan.layers[c]).len() as u32)
                        .sum();
                    offset = plan.mlayers[m].offset_of(s);
                    (KIND_BWD, before + slice_index)
                }
                (Part::Layer(_), _, _) => (KIND_BWD, slice_index),
                (Part::Loss, "back", _) => (KIND_BWD, 0),
                (Part::Loss, _, _) => (KIND_DONE, DONE_FROM_LOSS),
            };
            let mut entry = [0; IN_WORDS];
            entry[IN_BASE] = space.base;
            entry[IN_MASK] = space.mask;
            entry[IN_COUNT] = count;
            entry[IN_KIND] = kind;
            entry[IN_ARG] = arg;
            entry[IN_OFFSET] = offset;
            incoming.entry(d).or_default().push(entry);
        }
    }
    incoming
}

/// One core's SDRAM blocks as they are allocated on its chip, and what goes into them.
struct Sdram<'t> {
    target: &'t mut dyn Target,
    x: u8,
    y: u8,
    app_id: u8,
    /// (address, bytes), in the order they are to be written.
    writes: Vec<(u32, Vec<u8>)>,
}

impl Sdram<'_> {
    /// A block of `bytes`, filled by a later [`Sdram::write`].
    fn alloc(&mut self, bytes: usize) -> Result<u32, TargetError> {
        self.target
            .alloc_sdram(self.x, self.y, bytes as u32, self.app_id)
    }

    /// Queues `bytes` to be written at `addr` when the core is loaded.
    fn write(&mut self, addr: u32, bytes: Vec<u8>) {
        self.writes.push((addr, bytes));
    }

    /// A block holding `bytes`.
    fn block(&mut self, bytes: Vec<u8>) -> Result<u32, TargetError> {
        let addr = self.alloc(bytes.len())?;
        self.write(addr, bytes);
        Ok(addr)
    }
}

/// A core's parameter block (nn.h's P_* words), by field.
struct Params {
    n_train: u32,
    epochs: u32,
    n_eval: u32,
    tick_us: u32,
    timeout: u32,
    linger: u32,
    n_in_parts: u32,
    /// Address of the incoming partition entries.
    in_parts: u32,
    out: [OutPart; 2],
    /// Address of the status block.
    status: u32,
    stagger_us: u32,
    /// Cycles before a burst's first packet and between its packets.
    pace: (u32, u32),
    /// Packets the receive ring holds.
    rx_ring: u32,
    /// Samples in flight at once.
    depth: u32,
    arithmetic: Arithmetic,
    role: RoleParams,
}

/// The role and the words of a parameter block that depend on it (addresses are SDRAM's).
#[derive(Clone)]
enum RoleParams {
    Input {
        order: u32,
        features: u32,
        x: u32,
        /// Samples per update.
        batch: u32,
    },
    Layer {
        kind: u32,
        inputs: u32,
        /// The whole layer's output values.
        outputs: u32,
        lo: u32,
        hi: u32,
        act: u32,
        flags: u32,
        learning_rate: f32,
        batch: u32,
        weights: u32,
        bwd_srcs: u32,
        /// The kind's geometry words (P_G_*).
        geometry: Vec<(usize, u32)>,
    },
    Loss {
        order: u32,
        outputs: u32,
        act: u32,
        loss: u32,
        y: u32,
        pred: u32,
        history: u32,
    },
}

impl RoleParams {
    /// Where the host reads the core's results: (weights or predictions, training history).
    fn results(&self) -> (u32, u32) {
        match *self {
            RoleParams::Input { .. } => (0, 0),
            RoleParams::Layer { weights, .. } => (weights, 0),
            RoleParams::Loss { pred, history, .. } => (pred, history),
        }
    }
}

impl Params {
    /// The block as the firmware reads it; words the role does not use are 0.
    fn words(&self) -> [u32; P_WORDS] {
        let mut w = [0; P_WORDS];
        w[P_MAGIC] = NN_MAGIC;
        w[P_N_TRAIN] = self.n_train;
        w[P_EPOCHS] = self.epochs;
        w[P_N_EVAL] = self.n_eval;
        w[P_TICK_US] = self.tick_us;
        w[P_TIMEOUT] = self.timeout;
        w[P_LINGER] = self.linger;
        w[P_N_IN_PARTS] = self.n_in_parts;
        w[P_IN_PARTS] = self.in_parts;
        let [out0, out1] = self.out;
        w[P_OUT0_BASE] = out0.base;
        w[P_OUT0_MASK] = out0.mask;
        w[P_OUT0_COUNT] = out0.count;
        w[P_OUT1_BASE] = out1.base;
        w[P_OUT1_MASK] = out1.mask;
        w[P_OUT1_COUNT] = out1.count;
        w[P_STATUS] = self.status;
        w[P_STAGGER_US] = self.stagger_us;
        (w[P_PACE_START], w[P_PACE_GAP]) = self.pace;
        w[P_RX_RING] = self.rx_ring;
        w[P_DEPTH] = self.depth;
        w[P_ARITH] = self.arithmetic.code();
        match &self.role {
            &RoleParams::Input {
                order,
                features,
                x,
                batch,
            } => {
                w[P_ROLE] = NN_ROLE_INPUT;
                w[P_ORDER] = order;
                w[P_IN_FEATURES] = features;
                w[P_IN_X] = x;
                w[P_IN_BATCH] = batch;
            }
            RoleParams::Layer {
                kind,
                inputs,
                outputs,
                lo,
                hi,
                act,
                flags,
                learning_rate,
                batch,
                weights,
                bwd_srcs,
                geometry,
            } => {
                w[P_ROLE] = NN_ROLE_DENSE;
                w[P_D_KIND] = *kind;
                w[P_D_OUTPUTS] = *outputs;
                for &(at, v) in geometry {
                    w[at] = v;
                }
                w[P_D_INPUTS] = *inputs;
                w[P_D_LO] = *lo;
                w[P_D_HI] = *hi;
                w[P_D_ACT] = *act;
                w[P_D_FLAGS] = *flags;
                w[P_D_LR] = learning_rate.to_bits();
                w[P_D_BATCH] = *batch;
                w[P_D_WEIGHTS] = *weights;
                w[P_D_BWD_SRCS] = *bwd_srcs;
            }
            &RoleParams::Loss {
                order,
                outputs,
                act,
                loss,
                y,
                pred,
                history,
            } => {
                w[P_ROLE] = NN_ROLE_LOSS;
                w[P_ORDER] = order;
                w[P_L_OUTPUTS] = outputs;
                w[P_L_ACT] = act;
                w[P_L_LOSS] = loss;
                w[P_L_Y] = y;
                w[P_L_PRED] = pred;
                w[P_L_HISTORY] = history;
            }
        }
        w
    }
}

/// Loads every core (firmware, then its data, then user0: the parameter block's address, as
/// the SpiNNaker toolchain gives data regions), then the routing tables; the cores, as run.
fn load(
    target: &mut dyn Target,
    layout: Layout,
    program: &Program,
    app_id: u8,
) -> Result<Vec<CoreInfo>, MachineError> {
    // All or nothing: a network the target cannot hold is refused before its first core.
    target.check_capacity(layout.cores.len())?;
    let mut cores = Vec::with_capacity(layout.cores.len());
    for image in layout.cores {
        let (x, y, p) = (image.info.x, image.info.y, image.info.p);
        target.load(x, y, u32::from(p), program, app_id)?;
        for (addr, bytes) in image.writes {
            target.write_memory(x, y, addr, &bytes)?;
        }
        let user0 = VCPU_BASE + VCPU_SIZE * u32::from(p) + vcpu::USER;
        target.write_memory(x, y, user0, &image.params.to_le_bytes())?;
        cores.push(image.info);
    }
    target.load_routes(&layout.routes)?;
    Ok(cores)
}

/// Runs the machine until every core has set itself up and waits at the SYNC0 barrier, then
/// releases them together (SIG_SYNC0), as SpiNNaker's tools start an application; the machine
/// time then.
fn start_together(
    target: &mut dyn Target,
    cores: &[CoreInfo],
    app_id: u8,
    stall_ms: u64,
) -> Result<u64, MachineError> {
    let slice_ns = 1_000_000;
    let mut now = 0;
    loop {
        now = target.run(now + slice_ns)?.time_ns;
        check_cores(target, cores)?;
        let reports = target.cores()?;
        let waiting = |c: &CoreInfo| {
            reports
                .iter()
                .any(|r| (r.x, r.y, r.p) == (c.x, c.y, c.p) && r.state == CpuState::Sync0)
        };
        if cores.iter().all(waiting) {
            target.signal_sync0(app_id)?;
            return Ok(now);
        }
        if now > stall_ms * 1_000_000 {
            return Err(MachineError::Model(format!(
                "after {} ms the cores had not all set themselves up: {}",
                now / 1_000_000,
                cores
                    .iter()
                    .filter(|c| !waiting(c))
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
}

/// Runs the machine in slices of time from `start_ns` until every core has finished,
/// reporting progress after each slice; the machine time at the end.
fn run_to_end(
    target: &mut dyn Target,
    cores: &[CoreInfo],
    job: &Job,
    start_ns: u64,
    stall_ms: u64,
    progress: &mut dyn FnMut(&Progress),
) -> Result<u64, MachineError> {
    let loss_core = cores
        .iter()
        .find(|c| c.part == Part::Loss)
        .expect("a loss core");
    let slice_ns = 20 * 1_000_000;
    let mut now = start_ns;
    let mut last_done = 0u64;
    let mut last_progress_ns = start_ns;
    loop {
        let end = target.run(now + slice_ns)?;
        now = end.time_ns;
        check_cores(target, cores)?;
        let at = progress_at(target, loss_core, job, now)?;
        progress(&at);
        if at.samples != last_done {
            last_done = at.samples;
            last_progress_ns = now;
        }
        let stalled = match end.stop {
            StopReason::AllFinished => return Ok(now),
            StopReason::Deadlock => true,
            StopReason::TimeLimit => now - last_progress_ns > stall_ms * 1_000_000,
        };
        if stalled {
            return Err(MachineError::Stalled {
                ms: (now - last_progress_ns) / 1_000_000,
                done: at.samples,
                total: job.total,
                cores: stall_report(target, cores)?,
            });
        }
    }
}

/// An error for the first core found stopped by a run-time error or a watchdog reset.
fn check_cores(target: &mut dyn Target, cores: &[CoreInfo]) -> Result<(), MachineError> {
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
    Ok(())
}

/// A core's status block (S_* words).
fn read_status(target: &mut dyn Target, c: &CoreInfo) -> Result<Vec<u32>, MachineError> {
    Ok(bytes_to_words(&target.read_memory(
        c.x,
        c.y,
        c.status,
        4 * S_WORDS,
    )?))
}

/// Where the run is at `now`, from the loss core's status and training history.
fn progress_at(
    target: &mut dyn Target,
    loss_core: &CoreInfo,
    job: &Job,
    now: u64,
) -> Result<Progress, MachineError> {
    let st = read_status(target, loss_core)?;
    let done = u64::from(st[S_SAMPLES]);
    let epochs = (done as usize)
        .checked_div(job.n_train)
        .unwrap_or(0)
        .min(job.epochs);
    let loss = if epochs > 0 {
        let h = bytes_to_floats(&target.read_memory(
            loss_core.x,
            loss_core.y,
            loss_core.history + 8 * (epochs as u32 - 1),
            4,
        )?);
        Some(h[0])
    } else {
        None
    };
    Ok(Progress {
        samples: done,
        total: job.total,
        epochs,
        loss,
        sim_time_ns: now,
    })
}

/// Each core of a stalled run: its state, what it waits for, and what it has done.
fn stall_report(target: &mut dyn Target, cores: &[CoreInfo]) -> Result<String, MachineError> {
    let reports = target.cores()?;
    let mut lines = Vec::new();
    for i in cores {
        let r = reports.iter().find(|c| (i.x, i.y, i.p) == (c.x, c.y, c.p));
        let (state, user) = r.map_or(("?".to_string(), [0; 4]), |c| (c.state.name(), c.user));
        let st = read_status(target, i)?;
        let waiting = ["forward values", "backward values", "nothing"]
            .get((st[S_WAIT] >> 24) as usize)
            .unwrap_or(&"?");
        lines.push(format!(
            "{} {state}: {} samples done, waits for {waiting} ({} missing), {} requests, {} resends, {} ignored {}",
            i.name, user[1], st[S_WAIT] & 0xFF_FFFF, user[2], st[S_RESENDS], user[3], r.map_or("", |c| c.iobuf.as_str())
        ));
    }
    Ok(lines.join("; "))
}

/// What the finished run left in the cores' SDRAM: history, predictions, evaluation, the
/// trained weights, and the counts of the run.
fn read_back(
    target: &mut dyn Target,
    model: &Sequential,
    cores: &[CoreInfo],
    job: &Job,
    sim_time_ns: u64,
    pipeline_depth: u32,
) -> Result<MachineRun, MachineError> {
    let (n_eval, outputs) = (job.n_eval, model.outputs());
    let mlayers = MachineLayer::of(model);
    let mut run = MachineRun {
        history: History::default(),
        eval_loss: 0.0,
        eval_accuracy: 0.0,
        predictions: vec![],
        weights: model
            .get_weights()
            .iter()
            .map(|w| vec![0.0; w.len()])
            .collect(),
        sim_time_ns,
        cores: cores.len(),
        packets: 0,
        dropped: 0,
        requests: 0,
        resends: 0,
        pipeline_depth,
        placements: cores
            .iter()
            .map(|c| (c.name.clone(), c.x, c.y, c.p))
            .collect(),
    };
    // NN_DEBUG: each core's counts and IOBUF on stderr.
    let debug = match std::env::var_os("NN_DEBUG") {
        Some(_) => Some(target.cores()?),
        None => None,
    };
    for c in cores {
        let st = read_status(target, c)?;
        if let Some(reports) = &debug {
            let iobuf = reports
                .iter()
                .find(|r| (r.x, r.y, r.p) == (c.x, c.y, c.p))
                .map_or("", |r| r.iobuf.as_str());
            eprintln!(
                "{}: requests {} resends {} stale {} {}",
                c.name,
                st[S_REQUESTS],
                st[S_RESENDS],
                st[S_STALE],
                iobuf.trim()
            );
        }
        run.requests += u64::from(st[S_REQUESTS]);
        run.resends += u64::from(st[S_RESENDS]);
        if st[S_STATE] != 1 {
            return Err(MachineError::Model(format!(
                "{} finished without completing its samples",
                c.name
            )));
        }
        match c.part {
            Part::Layer(m) => read_weights(target, model, &mlayers[m], c, &mut run.weights)?,
            Part::Loss => {
                let preds =
                    bytes_to_floats(&target.read_memory(c.x, c.y, c.data, 4 * n_eval * outputs)?);
                run.predictions = preds.chunks(outputs.max(1)).map(<[f32]>::to_vec).collect();
                let hist =
                    bytes_to_floats(&target.read_memory(c.x, c.y, c.history, 8 * job.epochs)?);
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
    run.packets = counts.sent;
    run.dropped = counts.dropped;
    Ok(run)
}

/// Layer core `c`'s columns of layer `l`'s kernel and its biases, put in place in `weights`.
fn read_weights(
    target: &mut dyn Target,
    model: &Sequential,
    l: &MachineLayer,
    c: &CoreInfo,
    weights: &mut [Vec<f32>],
) -> Result<(), MachineError> {
    let (rows, atoms) = (l.rows() as usize, l.atoms() as usize);
    if rows == 0 {
        return Ok(());
    }
    let first = model.first_weight(l.k);
    let w = (c.hi - c.lo) as usize;
    let vals = bytes_to_floats(&target.read_memory(c.x, c.y, c.data, 4 * (rows + 1) * w)?);
    for r in 0..rows {
        for j in 0..w {
            weights[first][r * atoms + c.lo as usize + j] = vals[r * w + j];
        }
    }
    weights[first + 1][c.lo as usize..c.hi as usize].copy_from_slice(&vals[rows * w..]);
    Ok(())
}

/// Whether two weight sets agree within [`WEIGHT_TOLERANCE`]; the largest difference otherwise.
pub fn weights_close(a: &[Vec<f32>], b: &[Vec<f32>]) -> Result<(), String> {
    weights_within(a, b, WEIGHT_TOLERANCE)
}

/// Whether two weight sets agree within `tolerance` (absolute plus relative: a difference of
/// at most `tolerance * (1 + the larger magnitude)`); the largest excess otherwise.
pub fn weights_within(a: &[Vec<f32>], b: &[Vec<f32>], tolerance: f32) -> Result<(), String> {
    if a.len() != b.len() {
        return Err(format!("{} arrays against {}", a.len(), b.len()));
    }
    let mut worst = (0.0f32, 0, 0);
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        if x.len() != y.len() {
            return Err(format!("array {k}: {} values against {}", x.len(), y.len()));
        }
        for (i, (&p, &q)) in x.iter().zip(y).enumerate() {
            let excess = (p - q).abs() - tolerance * (1.0 + p.abs().max(q.abs()));
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
