// SPDX-License-Identifier: GPL-2.0-or-later
//
// nn.h: the data layout the host (nn/src/machine.rs) leaves in SDRAM for a
// core of a network, and the codes both sides use.  vcpu user0 holds
// the address of the parameter block, as the SpiNNaker toolchain does for
// data regions.  Every field is a 32-bit little-endian word; floats are
// IEEE-754 binary32 bit patterns.
//
// Keys.  A partition that carries `count` values owns an aligned block of
// T * P keys, P the smallest power of two above `count` and T twice the
// pipeline depth (P_DEPTH, the samples in flight at once):
//   key = base | tag * P | index         index < count: a value (payload)
//   key = base | count                   a resend request (payload:
//                                        sample << 4 | copies)
// The tag is the sample's sequence number modulo T: a receiver takes a value
// for any of the DEPTH samples it may be sent next, and a value resent late
// for one of the DEPTH samples before them can never be taken for another.

#ifndef NN_H
#define NN_H

#define NN_MAGIC 0x314E4E53u            // "SNN1"

// Roles.
#define NN_ROLE_INPUT 0                 // reads samples from SDRAM and sends them
#define NN_ROLE_DENSE 1                 // a slice of one layer (of kind P_D_KIND)
#define NN_ROLE_LOSS  2                 // output activation, loss, accuracy, predictions

// Parameter block, common part (word offsets).
#define P_MAGIC        0
#define P_ROLE         1
#define P_N_TRAIN      2                // training samples per epoch
#define P_EPOCHS       3
#define P_N_EVAL       4                // forward-only samples after training
#define P_TICK_US      5
#define P_TIMEOUT      6                // ticks of waiting before a resend request
#define P_LINGER       7                // idle ticks after the last sample before a core exits
                                        // without the input core's "stop" (it may have been lost)
#define P_N_IN_PARTS   8                // incoming partitions
#define P_IN_PARTS     9                // address of N_IN_PARTS entries of IN_* words
#define P_OUT0_BASE    10               // first outgoing partition: base, mask, count
#define P_OUT0_MASK    11
#define P_OUT0_COUNT   12
#define P_OUT1_BASE    13               // second outgoing partition
#define P_OUT1_MASK    14
#define P_OUT1_COUNT   15
#define P_ORDER        16               // address: sample row of each sequence number
#define P_STATUS       17               // address of the core's status block (S_*)
#define P_ROLE_WORDS   18               // role-specific words start here
#define P_STAGGER_US   27               // wait before resending on request (slices take turns)
#define P_D_KIND       28               // layer role: LAYER_* (the kernel that computes it)
// Layer role, window kinds (conv, pool): the geometry, as nn/src/layers/conv.rs's Window.
#define P_G_IN_ROWS    29               // input rows, columns, channels
#define P_G_IN_COLS    30
#define P_G_IN_CH      31
#define P_G_OUT_ROWS   32               // output rows, columns
#define P_G_OUT_COLS   33
#define P_G_WIN_ROWS   34               // window (kernel or pool) rows, columns
#define P_G_WIN_COLS   35
#define P_G_STRIDE_ROWS 36
#define P_G_STRIDE_COLS 37
#define P_G_PAD_ROWS   38               // padding before the first row, column
#define P_G_PAD_COLS   39
#define P_G_CHANNELS   40               // output channels of the whole layer
#define P_G_POOL_OP    41               // POOL_MAX, POOL_AVERAGE
#define P_RX_RING      42               // packets the receive ring holds (a power of two)
#define P_D_OUTPUTS    43               // layer role: the whole layer's output values
// Layer role, merge kinds: the operation and each input's channels (at most
// MERGE_MAX_INPUTS inputs, seen stacked one after the other).
#define P_M_OP         44               // MERGE_ADD, MERGE_CONCATENATE
#define P_M_INPUTS     45
#define P_M_CH0        46               // channels of input 0; then 1, 2, 3
// Layer role, a convolution with the pooling above it fused in (its cores
// send pooled values): the pooling's geometry and the convolution's own
// activation, applied before pooling (P_D_ACT is then the identity).
#define P_F_POOL       50               // 1: fused
#define P_F_OP         51               // POOL_MAX, POOL_AVERAGE
#define P_F_OUT_ROWS   52
#define P_F_OUT_COLS   53
#define P_F_WIN_ROWS   54
#define P_F_WIN_COLS   55
#define P_F_STRIDE_ROWS 56
#define P_F_STRIDE_COLS 57
#define P_F_ACT        58
// Pacing of every burst this core sends (cycles): the slices of a layer send
// at once, so slice k of S starts k * base late and spaces its packets S *
// base apart; their packets then interleave, reaching receivers and links one
// base apart (the host picks base from what a receiver and a link can take).
#define P_PACE_START   59
#define P_PACE_GAP     60
// Samples in flight at once (a power of two, at most MAX_DEPTH): within a
// batch the weights do not change, so the input core sends the next samples
// before the earlier ones are done; every core keeps each one's values in its
// own slot, and handles samples in order, so the result is the same bits.
#define P_DEPTH        61
// The numbers the image computes in (NN_ARITH_*): a core refuses a block
// written for the other image.
#define P_ARITH        62
#define P_WORDS        63
#define NN_ARITH_FLOAT32 0              // nn.elf
#define NN_ARITH_S1615   1              // nn_s1615.elf (real.h)
#define MAX_DEPTH      8
#define MERGE_MAX_INPUTS 4
#define MERGE_ADD         0
#define MERGE_CONCATENATE 1

// Resent values go out this far apart, so that a receiver that lost some
// of a burst is not sent the same burst again.
#define RESEND_GAP_US  2

// Input role.
#define P_IN_FEATURES  18
#define P_IN_X         19               // address: rows of FEATURES floats
#define P_IN_BATCH     20               // samples per update (a batch's first sample waits for the batch before)

// Layer role (any kind; "units" are a dense layer's units, or a window
// layer's channels, which a core holds at every position).
#define P_D_INPUTS     18               // values of the layer below (or features)
#define P_D_LO         19               // this core's units: [LO, HI) of the layer
#define P_D_HI         20
#define P_D_ACT        21               // activation (ACT_*); identity on the last layer
#define P_D_FLAGS      22               // FLAG_FIRST, FLAG_LAST
#define P_D_LR         23               // learning rate (float)
#define P_D_BATCH      24               // samples per update
#define P_D_WEIGHTS    25               // address: kernel [rows x units] row-major, then bias [units]
                                        // (rows: INPUTS for dense, window cells x input channels for conv)
#define P_D_BWD_SRCS   26               // cores sending backward values to this one

// Loss role.
#define P_L_OUTPUTS    18
#define P_L_ACT        19               // the last layer's activation, applied here
#define P_L_LOSS       20               // LOSS_*
#define P_L_Y          21               // address: rows of OUTPUTS floats (targets)
#define P_L_PRED       22               // address: N_EVAL rows of OUTPUTS floats (written)
#define P_L_HISTORY    23               // address: EPOCHS pairs (mean loss, accuracy) (written)

// Layer kinds (P_D_KIND).
#define LAYER_DENSE 0                   // layer_dense.c
#define LAYER_CONV  1                   // layer_conv.c
#define LAYER_POOL  2                   // layer_pool.c
#define LAYER_MERGE 3                   // layer_merge.c

#define POOL_MAX     0
#define POOL_AVERAGE 1

#define FLAG_FIRST 1                    // inputs come from the input core: send "done" back
#define FLAG_LAST  2                    // outputs go to the loss core as pre-activations

// Incoming partition entry (words).
#define IN_BASE  0
#define IN_MASK  1
#define IN_COUNT 2
#define IN_KIND  3
#define IN_ARG   4
#define IN_OFFSET 5     // KIND_BWD: where the receiver's outputs start among the values
#define IN_WORDS 6

// Kinds of incoming partitions.
#define KIND_FWD  0     // values flowing forward; ARG = first input slot they fill
#define KIND_BWD  1     // values flowing backward; ARG = index of the sending core
#define KIND_DONE 2     // "sample finished" to the input core; ARG = index of the sender
#define KIND_CTL  3     // input core to every core: "stop" (value 0); requests (to the loss core)

// Status block written by every core (words).
#define S_STATE     0   // 0 running, 1 all samples done
#define S_REQUESTS  1   // resend requests this core sent
#define S_RESENDS   2   // times this core resent its values on request
#define S_STALE     3   // packets ignored (duplicates, other parity, unknown keys)
#define S_SAMPLES   4   // samples finished by this core
#define S_HITS      5   // loss core: correctly classified eval samples
#define S_EVAL_LOSS 6   // loss core: sum of eval sample losses (float)
#define S_WAIT      7   // what the core waits for: state << 24 | values still missing
#define S_WORDS     8

// Activations and losses.
#define ACT_IDENTITY 0
#define ACT_RELU     1
#define ACT_SIGMOID  2
#define ACT_TANH     3
#define ACT_SOFTMAX  4

#define LOSS_MSE 0
#define LOSS_BCE 1
#define LOSS_CCE 2

// nn_math.c: binary32 functions with no libm.
float nn_expf(float x);
float nn_logf(float x);
float nn_tanhf(float x);

#endif // NN_H
