// SPDX-License-Identifier: GPL-2.0-or-later
//
// lock: LOCK_CORES cores increment one SysRAM word 1000 times each under
// system-controller lock 7, then wait until all increments are in.  The
// read-modify-write is deliberately slow (a short delay between the read
// and the write) so that missing mutual exclusion would lose updates.
//
// Relies on the SysRAM user word at 0xE5000100 being 0 when the cores start
// (the simulator clears SysRAM at boot).

#include "spin1_api.h"

#define LOCK_CORES  2           // cores running this app (compile-time)
#define INCREMENTS  1000
#define THE_LOCK    7
#define COUNTER     ((volatile uint *) SYSRAM_USER_BASE)

void c_main(void)
{
    uint mine = 0;

    for (uint i = 0; i < INCREMENTS; i++) {
        uint cpsr = sark_lock_get(THE_LOCK);
        uint v = *COUNTER;

        for (volatile uint k = 0; k < 4; k++)
            continue;
        *COUNTER = v + 1;
        sark_lock_free(cpsr, THE_LOCK);
        mine++;
    }

    uint final;

    while ((final = *COUNTER) < LOCK_CORES * INCREMENTS)
        spin1_delay_us(10);

    spin1_set_user(0, final);
    spin1_set_user(1, mine);
    io_printf(IO_BUF, "lock core %u: %u increments, counter %u\n",
              spin1_get_core_id(), mine, final);
}
