// SPDX-License-Identifier: GPL-2.0-or-later
//
// real.h: the numbers a layer core computes in.  The nn sources build twice:
//   nn.elf        binary32 in software (libgcc), the host reference's order;
//   nn_s1615.elf  with NN_FIXED: s16.15 fixed point (SpiNNaker's `accum`: a
//                 32-bit word holding value * 2^15), integer multiplies with
//                 round to nearest; no soft float in the layers' sums.
// Values travel in packets, and weights lie in SDRAM, as the image's own
// numbers; the host writes and reads binary32 and the cores convert at the
// edges (input features, weights, the loss core's errors).  Sigmoid, tanh,
// softmax and the loss are computed in binary32 on either image.

#ifndef REAL_H
#define REAL_H

#include "spin1_api.h"

typedef union { float f; uint u; } fbits;

static inline uint f2u(float f) { fbits b; b.f = f; return b.u; }
static inline float u2f(uint u) { fbits b; b.u = u; return b.f; }

#ifdef NN_FIXED

typedef int real;
#define R_ONE (1 << 15)
#define R_ZERO 0
#define NN_ARITH NN_ARITH_S1615

// a * b, rounded to nearest (ties up), as an s16.15.
static inline real r_mul(real a, real b)
{
    long long p = (long long) a * b;

    return (real) ((p + (1 << 14)) >> 15);
}

// a / n, rounded to nearest (ties away from zero).
static inline real r_div(real a, uint n)
{
    int h = (int) (n / 2);

    return a >= 0 ? (a + h) / (int) n : -((-a + h) / (int) n);
}

// The s16.15 nearest f, saturated to the format's range.
static inline real r_from_float(float f)
{
    float s = f * 32768.0f;

    if (s >= 2147483647.0f)
        return 0x7FFFFFFF;
    if (s <= -2147483648.0f)
        return (real) 0x80000000;
    return (real) (s >= 0.0f ? s + 0.5f : s - 0.5f);
}

static inline float r_to_float(real r) { return (float) r * (1.0f / 32768.0f); }

// A packet's payload, or an SDRAM word, and back.
static inline real r_of_word(uint w) { return (real) w; }
static inline uint word_of_r(real r) { return (uint) r; }

#else

typedef float real;
#define R_ONE 1.0f
#define R_ZERO 0.0f
#define NN_ARITH NN_ARITH_FLOAT32

static inline real r_mul(real a, real b) { return a * b; }
static inline real r_div(real a, uint n) { return a / (float) n; }
static inline real r_from_float(float f) { return f; }
static inline float r_to_float(real r) { return r; }
static inline real r_of_word(uint w) { return u2f(w); }
static inline uint word_of_r(real r) { return f2u(r); }

#endif

#endif // REAL_H
