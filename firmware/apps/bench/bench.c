// SPDX-License-Identifier: GPL-2.0-or-later
//
// bench: a compute kernel for measuring emulation speed.  c_main runs
// bench_kernel(ROUNDS) (a 16x16 integer matrix multiply into DTCM, with a
// running checksum) and leaves the checksum in user0.  The kernel touches no
// peripheral, so a plain Unicorn engine can run it too (benches/core_mips.rs
// compares the two).

#include "spin1_api.h"

#define N 16
#define ROUNDS 400

static int a[N][N], b[N][N], c[N][N];

// Not static and not inlined: the benchmark calls it by its symbol.
__attribute__((noinline)) uint bench_kernel(uint rounds)
{
    uint sum = 0;
    for (uint r = 0; r < rounds; r++) {
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++)
                a[i][j] = (int) (i * 7 + j * 3 + r), b[i][j] = (int) (i ^ j ^ r);
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) {
                int acc = 0;
                for (int k = 0; k < N; k++)
                    acc += a[i][k] * b[k][j];
                c[i][j] = acc;
                sum = (sum << 1 | sum >> 31) ^ (uint) acc;
            }
    }
    return sum;
}

void c_main(void)
{
    uint sum = bench_kernel(ROUNDS);
    spin1_set_user(0, sum);
    spin1_set_user(1, ROUNDS);
    io_printf(IO_BUF, "bench %u rounds checksum 0x%08x\n", ROUNDS, sum);
}
