@ SPDX-License-Identifier: GPL-2.0-or-later
@
@ vic_nest.S: entry stubs that let a C handler run with IRQs re-enabled
@ (nested interrupts) under the PL190 VIC.
@
@ The stub saves what a nested IRQ would overwrite (the IRQ-mode return
@ address and SPSR) on the IRQ stack, then runs the C handler in SYS mode
@ with IRQ unmasked, on an 8-byte aligned SYS stack.  Afterwards it masks
@ IRQ again, returns to IRQ mode and acknowledges the VIC (VADDR write)
@ before restoring the interrupted context, so that only higher-priority
@ sources can preempt while the handler runs and the same source cannot
@ re-enter before the stub has returned.

#include "spinnaker.h"

        .syntax unified
        .arm

        .macro  NESTED name, handler
        .global \name
        .type   \name, %function
\name:
        sub     lr, lr, #4
        stmfd   sp!, {r0, lr}           @ IRQ stack: r0, return address
        mrs     r0, spsr
        stmfd   sp!, {r0}               @ IRQ stack: interrupted CPSR
        msr     cpsr_c, #MODE_SYS       @ SYS mode, IRQ and FIQ unmasked
        mov     r0, sp
        bic     sp, sp, #7
        stmfd   sp!, {r0-r3, r12, lr}   @ 24 bytes keeps 8-byte alignment
        bl      \handler
        ldmfd   sp!, {r0-r3, r12, lr}
        mov     sp, r0
        msr     cpsr_c, #(MODE_IRQ | IMASK_ALL)
        ldr     r0, =VIC_BASE
        str     r0, [r0, #(VIC_VADDR * 4)]
        ldmfd   sp!, {r0}
        msr     spsr_cxsf, r0
        ldmfd   sp!, {r0, pc}^
        .size   \name, . - \name
        .endm

        NESTED  low_entry, low_handler
        NESTED  mid_entry, mid_handler

        .ltorg
