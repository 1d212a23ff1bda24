// SPDX-License-Identifier: GPL-2.0-or-later
//
// fault_align: an unaligned word load with alignment checking on (the
// startup writes CP15 c1 = 0x1F7E) must data-abort and be recorded as
// RTE_DABT.  The load is at the global label fault_here (fault.S); the
// recorded vcpu lr is fault_here + 8.

#include "spin1_api.h"

void fault_align_now(void);     // fault.S; never returns

void c_main(void)
{
    spin1_set_user(0, 0xFA17);
    io_printf(IO_BUF, "fault_align: loading a word from 0x00400001\n");
    fault_align_now();
    spin1_set_user(1, 0xBAD);   // not reached
}
