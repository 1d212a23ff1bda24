// SPDX-License-Identifier: GPL-2.0-or-later
//
// fault_undef: a permanently undefined instruction (0xE7F000F0) must take
// the undefined-instruction vector and be recorded as RTE_UNDEF.  The
// instruction is at the global label fault_here (fault.S); the recorded
// vcpu lr is fault_here + 4.

#include "spin1_api.h"

void fault_undef_now(void);     // fault.S; never returns

void c_main(void)
{
    spin1_set_user(0, 0xFA17);
    io_printf(IO_BUF, "fault_undef: executing 0xe7f000f0\n");
    fault_undef_now();
    spin1_set_user(1, 0xBAD);   // not reached
}
