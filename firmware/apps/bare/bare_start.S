@ SPDX-License-Identifier: GPL-2.0-or-later
@
@ bare_start.S: the whole startup of the bare application: no vectors, no
@ runtime.  Sets the stack (the loader already did, but do not rely on
@ it), calls bare_main(r0) in SVC mode with interrupts masked, then parks.

#include "spinnaker.h"

        .syntax unified
        .arm
        .section .text.cpu_reset, "ax", %progbits
        .global cpu_reset
        .type   cpu_reset, %function
cpu_reset:
        ldr     sp, =DTCM_TOP
        bl      bare_main
        mov     r0, #0
1:      mcr     p15, 0, r0, c7, c0, 4   @ WFI
        b       1b
        .size   cpu_reset, . - cpu_reset
        .ltorg
