// SPDX-License-Identifier: GPL-2.0-or-later
//
// hello: the smallest runtime application.  Prints one line naming the core
// and chip, leaves markers in user0/user1 and returns from c_main (the
// runtime then marks the core EXIT).  No spin1_start.

#include "spin1_api.h"

void c_main(void)
{
    uint chip = spin1_get_chip_id();

    io_printf(IO_BUF, "hello from core %u on chip %u,%u\n",
              spin1_get_core_id(), chip >> 8, chip & 0xFF);

    spin1_set_user(0, 0x600D);
    spin1_set_user(1, (sark.app_flags << 8) | sark.app_id);   // r0 at entry
    spin1_set_user(2, spin1_get_id());
}
