// SPDX-License-Identifier: GPL-2.0-or-later
//! The data layout and codes of firmware/apps/nn/nn.h, under the header's own names, so that
//! a word written by the host can be found in the header by name; a test holds every value
//! here to the header's.

/// Declares the constants, and for the test, all of them by name (the names cannot then
/// differ from the identifiers).
macro_rules! nn_h {
    ($($(#[$attr:meta])* $name:ident: $ty:ty = $value:expr;)*) => {
        $($(#[$attr])* pub(super) const $name: $ty = $value;)*

        /// Every constant declared here, by name.
        #[cfg(test)]
        const ALL: &[(&str, u64)] = &[$((stringify!($name), $name as u64)),*];
    };
}

nn_h! {
    /// First word of every parameter block ("SNN1").
    NN_MAGIC: u32 = 0x314E_4E53;

    /// Reads samples from SDRAM and sends them.
    NN_ROLE_INPUT: u32 = 0;
    /// A slice of the units of one dense layer.
    NN_ROLE_DENSE: u32 = 1;
    /// Output activation, loss, accuracy, predictions.
    NN_ROLE_LOSS: u32 = 2;

    P_MAGIC: usize = 0;
    P_ROLE: usize = 1;
    /// Training samples per epoch.
    P_N_TRAIN: usize = 2;
    P_EPOCHS: usize = 3;
    /// Forward-only samples after training.
    P_N_EVAL: usize = 4;
    P_TICK_US: usize = 5;
    /// Ticks of waiting before a resend request.
    P_TIMEOUT: usize = 6;
    /// Idle ticks after the last sample before exit.
    P_LINGER: usize = 7;
    /// Incoming partitions.
    P_N_IN_PARTS: usize = 8;
    /// Address of P_N_IN_PARTS entries of IN_WORDS words.
    P_IN_PARTS: usize = 9;
    P_OUT0_BASE: usize = 10;
    P_OUT0_MASK: usize = 11;
    P_OUT0_COUNT: usize = 12;
    P_OUT1_BASE: usize = 13;
    P_OUT1_MASK: usize = 14;
    P_OUT1_COUNT: usize = 15;
    /// Address: sample row of each sequence number.
    P_ORDER: usize = 16;
    /// Address of the core's status block (S_*).
    P_STATUS: usize = 17;
    /// Only the firmware needs it: the host writes the role's words by their own names.
    #[allow(dead_code)]
    P_ROLE_WORDS: usize = 18;
    /// Wait before resending on request (slices take turns).
    P_STAGGER_US: usize = 27;
    /// Layer role: LAYER_* (the kernel that computes it).
    P_D_KIND: usize = 28;
    /// Window kinds (conv, pool): input rows, columns, channels.
    P_G_IN_ROWS: usize = 29;
    P_G_IN_COLS: usize = 30;
    P_G_IN_CH: usize = 31;
    /// Output rows and columns.
    P_G_OUT_ROWS: usize = 32;
    P_G_OUT_COLS: usize = 33;
    /// Window (kernel or pool) rows and columns.
    P_G_WIN_ROWS: usize = 34;
    P_G_WIN_COLS: usize = 35;
    P_G_STRIDE_ROWS: usize = 36;
    P_G_STRIDE_COLS: usize = 37;
    /// Padding before the first row and column.
    P_G_PAD_ROWS: usize = 38;
    P_G_PAD_COLS: usize = 39;
    /// Output channels of the whole layer.
    P_G_CHANNELS: usize = 40;
    /// POOL_MAX or POOL_AVERAGE.
    P_G_POOL_OP: usize = 41;
    /// Packets the receive ring holds (a power of two).
    P_RX_RING: usize = 42;
    /// Layer role: the whole layer's output values.
    P_D_OUTPUTS: usize = 43;
    /// Merge kinds: MERGE_ADD or MERGE_CONCATENATE.
    P_M_OP: usize = 44;
    /// Merge kinds: inputs (at most MERGE_MAX_INPUTS).
    P_M_INPUTS: usize = 45;
    /// Merge kinds: channels of input 0 (then 1, 2, 3).
    P_M_CH0: usize = 46;
    /// A convolution with the pooling above fused in: 1.
    P_F_POOL: usize = 50;
    /// The fused pooling: POOL_MAX or POOL_AVERAGE, output rows and columns, window, strides.
    P_F_OP: usize = 51;
    P_F_OUT_ROWS: usize = 52;
    P_F_OUT_COLS: usize = 53;
    P_F_WIN_ROWS: usize = 54;
    P_F_WIN_COLS: usize = 55;
    P_F_STRIDE_ROWS: usize = 56;
    P_F_STRIDE_COLS: usize = 57;
    /// The convolution's own activation, applied before pooling.
    P_F_ACT: usize = 58;
    /// Cycles before the first packet of a burst (slice k of a layer: k times the base gap).
    P_PACE_START: usize = 59;
    /// Cycles between two packets of a burst (a layer of S slices: S times the base gap).
    P_PACE_GAP: usize = 60;
    /// Samples in flight at once (a power of two, at most MAX_DEPTH).
    P_DEPTH: usize = 61;
    /// The numbers the image computes in (NN_ARITH_*).
    P_ARITH: usize = 62;
    P_WORDS: usize = 63;
    /// nn.elf: IEEE binary32 in software.
    NN_ARITH_FLOAT32: u32 = 0;
    /// nn_s1615.elf: s16.15 fixed point.
    NN_ARITH_S1615: u32 = 1;
    /// The deepest pipeline the firmware keeps slots for.
    MAX_DEPTH: u32 = 8;
    MERGE_MAX_INPUTS: usize = 4;
    MERGE_ADD: u32 = 0;
    MERGE_CONCATENATE: u32 = 1;

    /// Microseconds between two resent values.
    RESEND_GAP_US: u32 = 2;

    P_IN_FEATURES: usize = 18;
    /// Address: rows of P_IN_FEATURES floats.
    P_IN_X: usize = 19;
    /// Samples per update: a batch's first sample waits for the batch before.
    P_IN_BATCH: usize = 20;

    /// Units of the layer below (or features).
    P_D_INPUTS: usize = 18;
    /// This core's units are [P_D_LO, P_D_HI) of the layer.
    P_D_LO: usize = 19;
    P_D_HI: usize = 20;
    /// Activation (ACT_*); identity on the last layer.
    P_D_ACT: usize = 21;
    /// FLAG_FIRST, FLAG_LAST.
    P_D_FLAGS: usize = 22;
    /// Learning rate (float bits).
    P_D_LR: usize = 23;
    /// Samples per update.
    P_D_BATCH: usize = 24;
    /// Address: kernel [inputs x units] row-major, then bias [units].
    P_D_WEIGHTS: usize = 25;
    /// Cores sending backward values to this one.
    P_D_BWD_SRCS: usize = 26;

    P_L_OUTPUTS: usize = 18;
    /// The last layer's activation, applied by the loss core.
    P_L_ACT: usize = 19;
    /// LOSS_*.
    P_L_LOSS: usize = 20;
    /// Address: rows of P_L_OUTPUTS floats (targets).
    P_L_Y: usize = 21;
    /// Address: P_N_EVAL rows of P_L_OUTPUTS floats (written by the core).
    P_L_PRED: usize = 22;
    /// Address: P_EPOCHS pairs (mean loss, accuracy) (written by the core).
    P_L_HISTORY: usize = 23;

    /// Inputs come from the input core: send "done" back.
    /// layer_dense.c.
    LAYER_DENSE: u32 = 0;
    /// layer_conv.c.
    LAYER_CONV: u32 = 1;
    /// layer_pool.c.
    LAYER_POOL: u32 = 2;
    /// layer_merge.c.
    LAYER_MERGE: u32 = 3;
    POOL_MAX: u32 = 0;
    POOL_AVERAGE: u32 = 1;

    FLAG_FIRST: u32 = 1;
    /// Outputs go to the loss core as pre-activations.
    FLAG_LAST: u32 = 2;

    IN_BASE: usize = 0;
    IN_MASK: usize = 1;
    IN_COUNT: usize = 2;
    IN_KIND: usize = 3;
    IN_ARG: usize = 4;
    /// KIND_BWD: where the receiver's outputs start among the values.
    IN_OFFSET: usize = 5;
    IN_WORDS: usize = 6;

    /// Values flowing forward; arg: first input slot they fill.
    KIND_FWD: u32 = 0;
    /// Values flowing backward; arg: index of the sending core.
    KIND_BWD: u32 = 1;
    /// "Sample finished" to the input core; arg: index of the sender.
    KIND_DONE: u32 = 2;
    /// Input core to loss core: resend requests only.
    KIND_CTL: u32 = 3;

    /// 0 running, 1 all samples done.
    S_STATE: usize = 0;
    /// Resend requests this core sent.
    S_REQUESTS: usize = 1;
    /// Times this core resent its values on request.
    S_RESENDS: usize = 2;
    /// Packets ignored; the host reads the count from the core's user3 instead.
    #[allow(dead_code)]
    S_STALE: usize = 3;
    /// Samples finished by this core.
    S_SAMPLES: usize = 4;
    /// Loss core: correctly classified eval samples.
    S_HITS: usize = 5;
    /// Loss core: sum of eval sample losses (float bits).
    S_EVAL_LOSS: usize = 6;
    /// What the core waits for: state << 24 | values still missing.
    S_WAIT: usize = 7;
    S_WORDS: usize = 8;

    ACT_IDENTITY: u32 = 0;
    ACT_RELU: u32 = 1;
    ACT_SIGMOID: u32 = 2;
    ACT_TANH: u32 = 3;
    ACT_SOFTMAX: u32 = 4;

    LOSS_MSE: u32 = 0;
    LOSS_BCE: u32 = 1;
    LOSS_CCE: u32 = 2;
}

/// The arg of the loss core's "done" entry, after every first-layer core's slice number (nn.c's
/// DONE_FROM_LOSS, which the header does not declare).
pub(super) const DONE_FROM_LOSS: u32 = 255;

#[cfg(test)]
mod tests {
    use super::{ALL, DONE_FROM_LOSS};
    use std::collections::BTreeMap;

    const NN_H: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../firmware/apps/nn/nn.h"
    ));
    const NN_C: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../firmware/apps/nn/nn.c"
    ));

    /// Every `#define NAME value` of a C file; the value is None where it is not an integer.
    fn defines(c: &str) -> BTreeMap<&str, Option<u64>> {
        c.lines()
            .filter_map(|line| {
                let mut words = line.split_whitespace();
                if words.next()? != "#define" {
                    return None;
                }
                let name = words.next()?;
                let value = words.next()?.trim_end_matches(['u', 'U']);
                let number = match value.strip_prefix("0x").or(value.strip_prefix("0X")) {
                    Some(hex) => u64::from_str_radix(hex, 16).ok(),
                    None => value.parse().ok(),
                };
                Some((name, number))
            })
            .collect()
    }

    #[test]
    fn every_constant_has_the_value_nn_h_gives_it() {
        let header = defines(NN_H);
        let wrong: Vec<String> = ALL
            .iter()
            .filter(|&&(name, value)| header.get(name) != Some(&Some(value)))
            .map(|&(name, value)| match header.get(name) {
                Some(Some(h)) => format!("{name}: {value} here, {h} in nn.h"),
                Some(None) => format!("{name}: {value} here, not a number in nn.h"),
                None => format!("{name}: {value} here, not in nn.h"),
            })
            .collect();
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn every_word_offset_and_code_of_nn_h_is_known_here() {
        let header = defines(NN_H);
        // The parameter, status and entry offsets whatever their value, and every other
        // integer too: a new code (an activation, say) is one the host must learn to send.
        let unknown: Vec<&&str> = header
            .iter()
            .filter(|&(name, value)| {
                (value.is_some() || ["P_", "S_", "IN_"].iter().any(|p| name.starts_with(p)))
                    && !ALL.iter().any(|(n, _)| n == name)
            })
            .map(|(name, _)| name)
            .collect();
        assert!(unknown.is_empty(), "in nn.h but not here: {unknown:?}");
    }

    #[test]
    fn done_from_loss_is_nn_c_s() {
        assert_eq!(
            defines(NN_C).get("DONE_FROM_LOSS"),
            Some(&Some(u64::from(DONE_FROM_LOSS)))
        );
    }
}
