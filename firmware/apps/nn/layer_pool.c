// SPDX-License-Identifier: GPL-2.0-or-later
//
// layer_pool.c: some channels of a max or average pooling layer (global
// average pooling is one window over every position), at every position,
// padding "valid" (nn/src/layers/pool.rs does the same, in the same order).
// No weights.  Outputs are numbered and sent as layer_conv.c's are.  The
// window functions also serve a convolution with its pooling fused in.

#include "layer.h"

// Index in x of window cell k of output (oy, ox), channel ch.
static inline uint cell(const pool_geom_t *g, uint oy, uint ox, uint k, uint ch)
{
    uint iy = oy * g->stride_rows + k / g->win_cols;
    uint ix = ox * g->stride_cols + k % g->win_cols;

    return (iy * g->in_cols + ix) * g->in_ch + ch;
}

void pool_forward_window(const pool_geom_t *g, uint lo, uint cols, const real *x, real *z)
{
    uint area = g->win_rows * g->win_cols;

    for (uint oy = 0; oy < g->out_rows; oy++)
        for (uint ox = 0; ox < g->out_cols; ox++)
            for (uint c = 0; c < cols; c++) {
                uint ch = lo + c;
                real v = x[cell(g, oy, ox, 0, ch)];

                for (uint k = 1; k < g->win_rows * g->win_cols; k++) {
                    real u = x[cell(g, oy, ox, k, ch)];

                    if (g->op == POOL_MAX) {
                        if (u > v)
                            v = u;
                    } else {
                        v += u;
                    }
                }
                if (g->op != POOL_MAX)
                    v = r_div(v, area);
                z[(oy * g->out_cols + ox) * cols + c] = v;
            }
}

void pool_backward_window(const pool_geom_t *g, uint lo, uint cols, const real *x,
                          const real *delta, real *dx)
{
    uint n = g->win_rows * g->win_cols;

    for (uint oy = 0; oy < g->out_rows; oy++)
        for (uint ox = 0; ox < g->out_cols; ox++)
            for (uint c = 0; c < cols; c++) {
                uint ch = lo + c;
                real d = delta[(oy * g->out_cols + ox) * cols + c];

                if (g->op == POOL_MAX) {
                    uint best = cell(g, oy, ox, 0, ch);

                    for (uint k = 1; k < n; k++) {
                        uint i = cell(g, oy, ox, k, ch);

                        if (x[i] > x[best])
                            best = i;
                    }
                    dx[best] += d;
                } else {
                    real share = r_div(d, n);

                    for (uint k = 0; k < n; k++)
                        dx[cell(g, oy, ox, k, ch)] += share;
                }
            }
}

static pool_geom_t geom;

static uint pool_setup(layer_t *l)
{
    if (l->in_rows * l->in_cols * l->in_ch != l->n_in || l->channels != l->in_ch
            || l->hi > l->channels || l->win_rows == 0 || l->win_cols == 0
            || l->out_rows == 0 || l->out_cols == 0)
        return 0;
    geom = (pool_geom_t) {
        l->in_rows, l->in_cols, l->in_ch, l->out_rows, l->out_cols,
        l->win_rows, l->win_cols, l->stride_rows, l->stride_cols, l->pool_op
    };
    l->units = l->out_rows * l->out_cols * l->cols;
    l->rows = 0;
    return 1;
}

static void pool_forward(const layer_t *l, const real *w, const real *bias,
                         const real *x, real *z)
{
    (void) w; (void) bias;
    pool_forward_window(&geom, l->lo, l->cols, x, z);
}

static void pool_backward(const layer_t *l, const real *w, const real *x,
                          const real *delta, real *dw, real *dbias, real *dx)
{
    (void) w; (void) dw; (void) dbias;
    if (dx == NULL)
        return;
    for (uint i = 0; i < l->n_in; i++)
        dx[i] = R_ZERO;
    pool_backward_window(&geom, l->lo, l->cols, x, delta, dx);
}

const kernel_t kernel_pool = {
    pool_setup, pool_forward, pool_backward, channel_out_index, channel_local_of
};
