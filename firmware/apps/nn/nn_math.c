// SPDX-License-Identifier: GPL-2.0-or-later
//
// nn_math.c: exp, log and tanh in binary32 for cores with no FPU and no libm.
// Arithmetic is software floating point (libgcc, round to nearest even), so
// each basic operation matches the host's f32 bit for bit; these functions
// agree with a correctly rounded library to within a few units in the last
// place (nn/src/machine.rs documents the effect on training).

#include "nn.h"

typedef union { float f; unsigned int u; } fbits;

static float from_bits(unsigned int u)
{
    fbits b;
    b.u = u;
    return b.f;
}

static unsigned int to_bits(float f)
{
    fbits b;
    b.f = f;
    return b.u;
}

// 2^k for -149 <= k <= 127 (subnormals below -126).
static float pow2i(int k)
{
    if (k >= -126)
        return from_bits((unsigned int) (k + 127) << 23);
    return from_bits(1u << (k + 149));
}

float nn_expf(float x)
{
    if (x != x)
        return x;
    if (x > 88.72283f)
        return from_bits(0x7F800000u);
    if (x < -103.97208f)
        return 0.0f;
    // x = k ln2 + r with |r| <= ln2 / 2; ln2 split so k * LN2_HI is exact.
    const float LN2_HI = 0.693145751953125f;
    const float LN2_LO = 1.428606765330187e-06f;
    float t = x * 1.44269504088896341f;
    int k = (int) (t < 0.0f ? t - 0.5f : t + 0.5f);
    float r = (x - (float) k * LN2_HI) - (float) k * LN2_LO;
    // Taylor to r^7: truncation below 2^-29 relative on |r| <= 0.35.
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 +
              r * (1.0f / 120 + r * (1.0f / 720 + r * (1.0f / 5040)))))));
    if (k < -126) {
        // Scale in two steps so the subnormal result rounds once.
        return (p * pow2i(k + 64)) * pow2i(-64);
    }
    if (k > 127)
        return (p * pow2i(k - 1)) * 2.0f;
    return p * pow2i(k);
}

float nn_logf(float x)
{
    unsigned int u = to_bits(x);

    if (x != x || u == 0x7F800000u)
        return x;
    if (x < 0.0f)
        return from_bits(0x7FC00000u);
    if (x == 0.0f)
        return from_bits(0xFF800000u);
    int e = 0;
    if ((u >> 23) == 0) {                       // subnormal: normalise first
        x *= 16777216.0f;                       // 2^24
        u = to_bits(x);
        e = -24;
    }
    e += (int) (u >> 23) - 127;
    float m = from_bits((u & 0x007FFFFFu) | 0x3F800000u);     // [1, 2)
    if (m > 1.41421356f) {
        m *= 0.5f;
        e += 1;
    }
    // log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.1716.
    float s = (m - 1.0f) / (m + 1.0f);
    float s2 = s * s;
    float series = s * (2.0f + s2 * (2.0f / 3 + s2 * (2.0f / 5 + s2 * (2.0f / 7 +
                   s2 * (2.0f / 9)))));
    return (float) e * 0.693147180559945309f + series;
}

float nn_tanhf(float x)
{
    if (x != x)
        return x;
    if (x > 9.0f)
        return 1.0f;
    if (x < -9.0f)
        return -1.0f;
    float ax = x < 0.0f ? -x : x;
    if (ax < 0.0625f) {
        // Series: avoids the cancellation of (e - 1) near 0.
        float x2 = x * x;
        return x * (1.0f + x2 * (-1.0f / 3 + x2 * (2.0f / 15 + x2 * (-17.0f / 315))));
    }
    float t = nn_expf(2.0f * x);
    return (t - 1.0f) / (t + 1.0f);
}
