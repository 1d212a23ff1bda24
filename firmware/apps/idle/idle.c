// SPDX-License-Identifier: GPL-2.0-or-later
//
// idle: a 1 ms timer tick and nothing else, forever: the dispatcher sleeps in
// WFI between ticks.  user0 counts the ticks.  Used by benches/idle_chip.rs.

#include "spin1_api.h"

static void tick(uint ticks, uint unused)
{
    (void) unused;
    spin1_set_user(0, ticks);
}

void c_main(void)
{
    spin1_set_timer_tick(1000);
    spin1_callback_on(TIMER_TICK, tick, 1);
    spin1_start(SYNC_NOWAIT);
}
