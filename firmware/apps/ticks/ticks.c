// SPDX-License-Identifier: GPL-2.0-or-later
//
// ticks: a 1 ms timer tick through the event runtime.  The tick callback
// (queued, priority 1) prints "tick N" and stops the runtime after the
// tenth tick; c_main then records what it saw.

#include "spin1_api.h"

#define TICK_US   1000
#define N_TICKS   10

static uint seen;               // tick callbacks run
static uint last_arg;           // tick number passed to the last callback

static void tick(uint n, uint unused)
{
    (void) unused;
    seen++;
    last_arg = n;
    io_printf(IO_BUF, "tick %u\n", n);
    if (seen == N_TICKS)
        spin1_exit(0);
}

void c_main(void)
{
    spin1_set_timer_tick(TICK_US);
    spin1_callback_on(TIMER_TICK, tick, 1);

    uint rc = spin1_start(SYNC_NOWAIT);

    spin1_set_user(0, seen);
    spin1_set_user(1, spin1_get_simulation_time());
    spin1_set_user(2, last_arg);
    spin1_set_user(3, rc);
    io_printf(IO_BUF, "done %u ticks, time %u, rc %u\n",
              seen, spin1_get_simulation_time(), rc);
}
