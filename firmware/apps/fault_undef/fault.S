@ SPDX-License-Identifier: GPL-2.0-or-later
@
@ fault.S: the undefined instruction of fault_undef, at a known symbol,
@ with recognisable values in r0-r7.

        .syntax unified
        .arm
        .text
        .global fault_undef_now
        .type   fault_undef_now, %function
fault_undef_now:
        stmfd   sp!, {r4-r7, lr}
        ldr     r0, =0xF0F0F0F0
        ldr     r1, =0x11111111
        ldr     r2, =0x22222222
        ldr     r3, =0x33333333
        ldr     r4, =0x44444444
        ldr     r5, =0x55555555
        ldr     r6, =0x66666666
        ldr     r7, =0x77777777
        .global fault_here
fault_here:
        .word   0xe7f000f0              @ permanently undefined (UDF space)
        ldmfd   sp!, {r4-r7, pc}
        .size   fault_undef_now, . - fault_undef_now
        .ltorg
