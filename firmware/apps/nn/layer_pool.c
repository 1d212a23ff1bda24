// SPDX-License-Identifier: GPL-2.0-or-later
//
// layer_pool.c: some channels of a max or average pooling layer (global
// average pooling is one window over every position), at every position,
// padding "valid" (nn/src/layers/pool.rs does the same, in the same order).
// No weights.  Outputs are numbered and sent as layer_conv.c's are.

#include "layer.h"

static uint pool_setup(layer_t *l)
{
    if (l->in_rows * l->in_cols * l->in_ch != l->n_in || l->channels != l->in_ch
            || l->hi > l->channels || l->win_rows == 0 || l->win_cols == 0
            || l->out_rows == 0 || l->out_cols == 0)
        return 0;
    l->units = l->out_rows * l->out_cols * l->cols;
    l->rows = 0;
    return 1;
}

// Index in x of window cell (ky, kx) of output (oy, ox), channel ch.
static inline uint cell(const layer_t *l, uint oy, uint ox, uint ky, uint kx, uint ch)
{
    uint iy = oy * l->stride_rows + ky, ix = ox * l->stride_cols + kx;

    return (iy * l->in_cols + ix) * l->in_ch + ch;
}

static void pool_forward(const layer_t *l, const float *w, const float *bias,
                         const float *x, float *z)
{
    (void) w; (void) bias;
    float area = (float) (l->win_rows * l->win_cols);

    for (uint oy = 0; oy < l->out_rows; oy++)
        for (uint ox = 0; ox < l->out_cols; ox++)
            for (uint c = 0; c < l->cols; c++) {
                uint ch = l->lo + c;
                float v = x[cell(l, oy, ox, 0, 0, ch)];

                for (uint k = 1; k < l->win_rows * l->win_cols; k++) {
                    float u = x[cell(l, oy, ox, k / l->win_cols, k % l->win_cols, ch)];

                    if (l->pool_op == POOL_MAX) {
                        if (u > v)
                            v = u;
                    } else {
                        v += u;
                    }
                }
                if (l->pool_op != POOL_MAX)
                    v = v / area;
                z[(oy * l->out_cols + ox) * l->cols + c] = v;
            }
}

static void pool_backward(const layer_t *l, const float *w, const float *x,
                          const float *delta, float *dw, float *dbias, float *dx)
{
    (void) w; (void) dw; (void) dbias;
    float area = (float) (l->win_rows * l->win_cols);

    if (dx == NULL)
        return;
    for (uint i = 0; i < l->n_in; i++)
        dx[i] = 0.0f;
    for (uint oy = 0; oy < l->out_rows; oy++)
        for (uint ox = 0; ox < l->out_cols; ox++)
            for (uint c = 0; c < l->cols; c++) {
                uint ch = l->lo + c;
                float d = delta[(oy * l->out_cols + ox) * l->cols + c];
                uint n = l->win_rows * l->win_cols;

                if (l->pool_op == POOL_MAX) {
                    uint best = cell(l, oy, ox, 0, 0, ch);

                    for (uint k = 1; k < n; k++) {
                        uint i = cell(l, oy, ox, k / l->win_cols, k % l->win_cols, ch);

                        if (x[i] > x[best])
                            best = i;
                    }
                    dx[best] += d;
                } else {
                    float share = d / area;

                    for (uint k = 0; k < n; k++)
                        dx[cell(l, oy, ox, k / l->win_cols, k % l->win_cols, ch)] += share;
                }
            }
}

static uint pool_out_index(const layer_t *l, uint j)
{
    return (j / l->cols) * l->channels + l->lo + j % l->cols;
}

static uint pool_local_of(const layer_t *l, uint idx)
{
    uint ch = idx % l->channels;

    if (ch < l->lo || ch >= l->hi)
        return l->units;
    return (idx / l->channels) * l->cols + (ch - l->lo);
}

const kernel_t kernel_pool = {
    pool_setup, pool_forward, pool_backward, pool_out_index, pool_local_of
};
