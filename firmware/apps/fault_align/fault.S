@ SPDX-License-Identifier: GPL-2.0-or-later
@
@ fault.S: the faulting instruction of fault_align, at a known symbol, with
@ recognisable values in r1-r7 so that the recorded registers can be
@ checked too.

        .syntax unified
        .arm
        .text
        .global fault_align_now
        .type   fault_align_now, %function
fault_align_now:
        stmfd   sp!, {r4-r7, lr}
        ldr     r1, =0x11111111
        ldr     r2, =0x22222222
        ldr     r3, =0x33333333
        ldr     r4, =0x44444444
        ldr     r5, =0x55555555
        ldr     r6, =0x66666666
        ldr     r7, =0x77777777
        ldr     r0, =0x00400001         @ DTCM, not word aligned
        .global fault_here
fault_here:
        ldr     r0, [r0]                @ data abort (alignment)
        ldmfd   sp!, {r4-r7, pc}
        .size   fault_align_now, . - fault_align_now
        .ltorg
