// SPDX-License-Identifier: GPL-2.0-or-later
//
// layer_merge.c: some output channels of an Add or Concatenate layer (along
// the last axis), at every position (nn/src/layers/merge.rs does the same, in
// the same order).  The inputs arrive stacked, one after the other, each in
// its own channels-last layout; backward values go out in that stacked
// layout, so that each layer below takes its own block.  No weights.  Outputs
// are numbered and sent as layer_conv.c's are.

#include "layer.h"

// Positions: values per channel of any input.
static uint positions;

static uint merge_setup(layer_t *l)
{
    uint total = 0, stacked = 0;

    if (l->merge_inputs < 2 || l->merge_inputs > MERGE_MAX_INPUTS || l->hi > l->channels)
        return 0;
    for (uint k = 0; k < l->merge_inputs; k++)
        total += l->merge_ch[k];
    if (l->merge_op == MERGE_ADD) {
        for (uint k = 1; k < l->merge_inputs; k++)
            if (l->merge_ch[k] != l->merge_ch[0])
                return 0;
        total = l->merge_ch[0];
    }
    if (total != l->channels || l->channels == 0 || l->n_out % l->channels != 0)
        return 0;
    positions = l->n_out / l->channels;
    for (uint k = 0; k < l->merge_inputs; k++)
        stacked += positions * l->merge_ch[k];
    if (stacked != l->n_in)
        return 0;
    l->units = positions * l->cols;
    l->rows = 0;
    return 1;
}

// Where channel ch of the output comes from, at position p, among the
// stacked inputs; for Add, input k's value (k counts the inputs).
static uint source(const layer_t *l, uint p, uint ch, uint k)
{
    uint offset = 0;

    if (l->merge_op == MERGE_ADD)
        return k * positions * l->channels + p * l->channels + ch;
    for (uint i = 0; i < l->merge_inputs; i++) {
        uint c = l->merge_ch[i];

        if (ch < c)
            return offset + p * c + ch;
        ch -= c;
        offset += positions * c;
    }
    return 0;                   // not reached: ch < channels
}

static void merge_forward(const layer_t *l, const real *w, const real *bias,
                          const real *x, real *z)
{
    (void) w; (void) bias;
    for (uint p = 0; p < positions; p++)
        for (uint c = 0; c < l->cols; c++) {
            uint ch = l->lo + c;
            real v = x[source(l, p, ch, 0)];

            if (l->merge_op == MERGE_ADD)
                for (uint k = 1; k < l->merge_inputs; k++)
                    v += x[source(l, p, ch, k)];
            z[p * l->cols + c] = v;
        }
}

static void merge_backward(const layer_t *l, const real *w, const real *x,
                           const real *delta, real *dx_, real *dbias, real *dx)
{
    (void) w; (void) x; (void) dx_; (void) dbias;
    if (dx == NULL)
        return;
    for (uint i = 0; i < l->n_in; i++)
        dx[i] = R_ZERO;
    for (uint p = 0; p < positions; p++)
        for (uint c = 0; c < l->cols; c++) {
            uint ch = l->lo + c;
            real d = delta[p * l->cols + c];
            uint n = l->merge_op == MERGE_ADD ? l->merge_inputs : 1;

            for (uint k = 0; k < n; k++)
                dx[source(l, p, ch, k)] = d;
        }
}

const kernel_t kernel_merge = {
    merge_setup, merge_forward, merge_backward, channel_out_index, channel_local_of
};
