// SPDX-License-Identifier: GPL-2.0-or-later
//
// layer_conv.c: some output channels (filters) of a Conv1D/Conv2D layer, at
// every position (nn/src/layers/conv.rs does the same sums in the same
// order).  Local output j is position j / cols, channel lo + j % cols; it goes
// out under its index in the layer's channels-last output.
//
// Fused with the pooling above it (P_F_POOL), a core applies its own
// activation, pools its channels and sends the pooled values: the outputs
// are then the pooling's, numbered the same way.

#include "layer.h"

// The fused pooling's window over this core's channels (cols of them).
static pool_geom_t fused;

static uint conv_setup(layer_t *l)
{
    if (l->in_rows * l->in_cols * l->in_ch != l->n_in || l->hi > l->channels
            || l->win_rows == 0 || l->win_cols == 0)
        return 0;
    l->units = l->out_rows * l->out_cols * l->cols;
    l->rows = l->win_rows * l->win_cols * l->in_ch;
    if (l->fused) {
        uint n = l->units;

        if (l->f_win_rows == 0 || l->f_win_cols == 0 || l->f_out_rows == 0 || l->f_out_cols == 0)
            return 0;
        fused = (pool_geom_t) {
            l->out_rows, l->out_cols, l->cols, l->f_out_rows, l->f_out_cols,
            l->f_win_rows, l->f_win_cols, l->f_stride_rows, l->f_stride_cols, l->f_op
        };
        l->fz = spin1_malloc(4 * n * l->depth);
        l->fa = spin1_malloc(4 * n * l->depth);
        l->fd = spin1_malloc(4 * n);
        if (l->fz == NULL || l->fa == NULL || l->fd == NULL)
            return 0;
        l->units = l->f_out_rows * l->f_out_cols * l->cols;
    }
    return 1;
}

// The input row (or column) under window cell k at output o; -1 in padding.
static inline int source(uint o, uint k, uint stride, uint pad, uint size)
{
    int v = (int) (o * stride + k) - (int) pad;

    return (v < 0 || v >= (int) size) ? -1 : v;
}

static void conv_sums(const layer_t *l, const real *w, const real *bias,
                      const real *x, real *z)
{
    uint nc = l->cols, c = l->in_ch;

    for (uint oy = 0; oy < l->out_rows; oy++)
        for (uint ox = 0; ox < l->out_cols; ox++) {
            real *zo = &z[(oy * l->out_cols + ox) * nc];

            for (uint f = 0; f < nc; f++)
                zo[f] = bias[f];
            for (uint ky = 0; ky < l->win_rows; ky++) {
                int iy = source(oy, ky, l->stride_rows, l->pad_rows, l->in_rows);
                if (iy < 0)
                    continue;
                for (uint kx = 0; kx < l->win_cols; kx++) {
                    int ix = source(ox, kx, l->stride_cols, l->pad_cols, l->in_cols);
                    if (ix < 0)
                        continue;
                    for (uint ci = 0; ci < c; ci++) {
                        real xi = x[((uint) iy * l->in_cols + (uint) ix) * c + ci];
                        const real *row = &w[((ky * l->win_cols + kx) * c + ci) * nc];

                        for (uint f = 0; f < nc; f++)
                            zo[f] += r_mul(xi, row[f]);
                    }
                }
            }
        }
}

static void conv_forward(const layer_t *l, const real *w, const real *bias,
                         const real *x, real *z)
{
    if (!l->fused) {
        conv_sums(l, w, bias, x, z);
        return;
    }
    uint n = l->out_rows * l->out_cols * l->cols;
    real *fz = l->fz + l->slot * n, *fa = l->fa + l->slot * n;

    conv_sums(l, w, bias, x, fz);
    activate(l->f_act, fz, fa, n);
    pool_forward_window(&fused, 0, l->cols, fa, z);
}

static void conv_gradients(const layer_t *l, const real *w, const real *x,
                           const real *delta, real *dw, real *dbias, real *dx);

static void conv_backward(const layer_t *l, const real *w, const real *x,
                          const real *delta, real *dw, real *dbias, real *dx)
{
    if (!l->fused) {
        conv_gradients(l, w, x, delta, dw, dbias, dx);
        return;
    }
    uint n = l->out_rows * l->out_cols * l->cols;
    const real *fz = l->fz + l->slot * n, *fa = l->fa + l->slot * n;

    // Through the pooling, then the convolution's activation, to its sums.
    for (uint i = 0; i < n; i++)
        l->fd[i] = R_ZERO;
    pool_backward_window(&fused, 0, l->cols, fa, delta, l->fd);
    activation_backward(l->f_act, fz, fa, l->fd, n);
    conv_gradients(l, w, x, l->fd, dw, dbias, dx);
}

static void conv_gradients(const layer_t *l, const real *w, const real *x,
                           const real *delta, real *dw, real *dbias, real *dx)
{
    uint nc = l->cols, c = l->in_ch;

    if (dx != NULL)
        for (uint i = 0; i < l->n_in; i++)
            dx[i] = R_ZERO;
    for (uint oy = 0; oy < l->out_rows; oy++)
        for (uint ox = 0; ox < l->out_cols; ox++) {
            const real *d = &delta[(oy * l->out_cols + ox) * nc];

            for (uint f = 0; f < nc; f++)
                dbias[f] += d[f];
            for (uint ky = 0; ky < l->win_rows; ky++) {
                int iy = source(oy, ky, l->stride_rows, l->pad_rows, l->in_rows);
                if (iy < 0)
                    continue;
                for (uint kx = 0; kx < l->win_cols; kx++) {
                    int ix = source(ox, kx, l->stride_cols, l->pad_cols, l->in_cols);
                    if (ix < 0)
                        continue;
                    for (uint ci = 0; ci < c; ci++) {
                        uint i = ((uint) iy * l->in_cols + (uint) ix) * c + ci;
                        uint r = ((ky * l->win_cols + kx) * c + ci) * nc;
                        real xi = x[i];

                        for (uint f = 0; f < nc; f++)
                            dw[r + f] += r_mul(xi, d[f]);
                        if (dx != NULL) {
                            real s = r_mul(w[r], d[0]);

                            for (uint f = 1; f < nc; f++)
                                s += r_mul(w[r + f], d[f]);
                            dx[i] += s;
                        }
                    }
                }
            }
        }
}

const kernel_t kernel_conv = {
    conv_setup, conv_forward, conv_backward, channel_out_index, channel_local_of
};
