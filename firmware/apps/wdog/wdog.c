// SPDX-License-Identifier: GPL-2.0-or-later
//
// wdog: arms the chip's SP805 watchdog with reset enabled and never feeds
// it.  The counter reaches zero after 1 ms (10,000 ticks of the 10 MHz
// watchdog clock) and raises its interrupt, which nobody clears; at the next
// zero the reset output asserts and the system controller resets the chip,
// so this core must stop in state WDOG after about 2 ms.  It counts timer
// ticks in user0 and would exit after 100 of them if the reset never came.

#include "spin1_api.h"

#define WDOG_LOAD_TICKS 10000   // 1 ms at 10 MHz
#define TICK_US         1000
#define GIVE_UP_TICKS   100

static uint ticks;

static void tick(uint n, uint unused)
{
    (void) n;
    (void) unused;
    ticks++;
    spin1_set_user(0, ticks);
    if (ticks == GIVE_UP_TICKS)
        spin1_exit(0);
}

void c_main(void)
{
    volatile uint *wd = (volatile uint *) WDOG_BASE;

    wd[WD_LOCK] = WD_UNLOCK_KEY;
    wd[WD_LOAD] = WDOG_LOAD_TICKS;
    wd[WD_CTRL] = WD_CTRL_INT_EN | WD_CTRL_RES_EN;
    wd[WD_LOCK] = 0;
    io_printf(IO_BUF, "wdog: armed with reset, never fed\n");

    spin1_set_timer_tick(TICK_US);
    spin1_callback_on(TIMER_TICK, tick, 1);
    spin1_start(SYNC_NOWAIT);

    io_printf(IO_BUF, "wdog: no reset after %u ticks\n", ticks);
}
