// SPDX-License-Identifier: GPL-2.0-or-later
//
// layer_dense.c: a slice of a dense layer's units (nn/src/layers/dense.rs
// does the same sums in the same order).  Its outputs go out under their
// index in the slice; receivers place them from the slice's first unit.

#include "layer.h"

static uint dense_setup(layer_t *l)
{
    l->units = l->cols;
    l->rows = l->n_in;
    return 1;
}

static void dense_forward(const layer_t *l, const real *w, const real *bias,
                          const real *x, real *z)
{
    uint units = l->units;

    for (uint j = 0; j < units; j++)
        z[j] = bias[j];
    for (uint i = 0; i < l->n_in; i++) {
        real ai = x[i];
        const real *row = &w[i * units];

        for (uint j = 0; j < units; j++)
            z[j] += r_mul(ai, row[j]);
    }
}

static void dense_backward(const layer_t *l, const real *w, const real *x,
                           const real *delta, real *dw, real *dbias, real *dx)
{
    uint units = l->units;

    for (uint i = 0; i < l->n_in; i++) {
        real ai = x[i];
        real *g = &dw[i * units];

        for (uint j = 0; j < units; j++)
            g[j] += r_mul(ai, delta[j]);
    }
    for (uint j = 0; j < units; j++)
        dbias[j] += delta[j];
    if (dx == NULL)
        return;
    for (uint i = 0; i < l->n_in; i++) {
        const real *row = &w[i * units];
        real sum = r_mul(row[0], delta[0]);

        for (uint j = 1; j < units; j++)
            sum += r_mul(row[j], delta[j]);
        dx[i] = sum;
    }
}

static uint dense_out_index(const layer_t *l, uint j)
{
    (void) l;
    return j;
}

static uint dense_local_of(const layer_t *l, uint idx)
{
    return (idx >= l->lo && idx < l->hi) ? idx - l->lo : l->units;
}

const kernel_t kernel_dense = {
    dense_setup, dense_forward, dense_backward, dense_out_index, dense_local_of
};
