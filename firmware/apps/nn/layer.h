// SPDX-License-Identifier: GPL-2.0-or-later
//
// layer.h: what nn.c's layer role asks of a layer kind.  Each kind is one
// kernel file (layer_dense.c, layer_conv.c, layer_pool.c) that fills in a
// kernel_t (layer_merge.c: Add, Concatenate); nn.c does the rest (packets, waiting, resends, activations, the
// weight update) the same way for every kind.  The host's side of each kind
// is nn/src/layers/<kind>.rs (the reference maths, in the same order) and
// nn/src/machine/kinds.rs (how it splits and the words it writes).

#ifndef LAYER_H
#define LAYER_H

#include "spin1_api.h"
#include "nn.h"
#include "real.h"

// One core's share of a layer.
typedef struct {
    uint n_in;                  // values of the layer below
    uint lo, hi;                // this core's units (or channels) of the layer
    uint cols;                  // hi - lo
    uint units;                 // values this core outputs (set by setup)
    uint rows;                  // kernel rows this core holds; 0: no weights (set by setup)
    // Window kinds: geometry (nn.h P_G_*).
    uint in_rows, in_cols, in_ch, out_rows, out_cols;
    uint win_rows, win_cols, stride_rows, stride_cols, pad_rows, pad_cols;
    uint channels, pool_op;
    uint n_out;                 // the whole layer's output values
    // Merge kinds (nn.h P_M_*).
    uint merge_op, merge_inputs, merge_ch[MERGE_MAX_INPUTS];
    // A convolution with pooling fused in (nn.h P_F_*), and its buffers: the
    // convolution's pre-activations, outputs and their errors.
    uint fused, f_op, f_out_rows, f_out_cols, f_win_rows, f_win_cols;
    uint f_stride_rows, f_stride_cols, f_act;
    real *fz, *fa, *fd;        // fz, fa: one set per sample in flight
    // Samples in flight at once (set before setup), and the one whose buffers
    // forward and backward use (set before each call).
    uint depth, slot;
} layer_t;

// Pooling over a channels-last input of in_ch channels (valid windows), for
// the cols channels from lo: layer_pool.c's, also used by a fused convolution.
typedef struct {
    uint in_rows, in_cols, in_ch, out_rows, out_cols;
    uint win_rows, win_cols, stride_rows, stride_cols, op;
} pool_geom_t;

void pool_forward_window(const pool_geom_t *g, uint lo, uint cols, const real *x, real *z);
void pool_backward_window(const pool_geom_t *g, uint lo, uint cols, const real *x,
                          const real *delta, real *dx);

typedef struct {
    // Sets units and rows from the rest (0 on a geometry it cannot take).
    uint (*setup)(layer_t *l);
    // Pre-activations z[units] of inputs x[n_in] (w: rows x cols, bias: cols).
    void (*forward)(const layer_t *l, const real *w, const real *bias,
                    const real *x, real *z);
    // Adds this sample's gradients for delta (dL/dz) to dw, dbias; when dx is
    // not NULL, writes this core's share of dL/dx[n_in] there.
    void (*backward)(const layer_t *l, const real *w, const real *x,
                     const real *delta, real *dw, real *dbias, real *dx);
    // The key index local output j goes out under.
    uint (*out_index)(const layer_t *l, uint j);
    // The local output a backward value of key index idx is for (units: not ours).
    uint (*local_of)(const layer_t *l, uint idx);
} kernel_t;

extern const kernel_t kernel_dense, kernel_conv, kernel_pool, kernel_merge;

// nn.c: activations over n values (softmax normalises all n), and dL/dz from
// dL/da (g), in place.
void activate(uint act, const real *z, real *a, uint n);
void activation_backward(uint act, const real *z, const real *a, real *g, uint n);

// The numbering of a kind split by channels (conv, pool, merge): local output j
// is position j / cols, channel lo + j % cols, sent under its index in the
// layer's channels-last output.
static inline uint channel_out_index(const layer_t *l, uint j)
{
    return (j / l->cols) * l->channels + l->lo + j % l->cols;
}

// The local output of index idx of the layer's output (units: another core's).
static inline uint channel_local_of(const layer_t *l, uint idx)
{
    uint ch = idx % l->channels;

    if (ch < l->lo || ch >= l->hi)
        return l->units;
    return (idx / l->channels) * l->cols + (ch - l->lo);
}

#endif // LAYER_H
