@ SPDX-License-Identifier: GPL-2.0-or-later
@
@ start.S: reset entry, exception vectors and fault capture for spinn
@ applications.
@
@ A core enters cpu_reset in SVC mode with IRQ and FIQ masked and
@ r0 = (app_flags << 8) | app_id, as after SC&MP's APLX EXEC.  The startup
@ sets CP15 c1, gives every mode its stack, copies .data, clears .bss, runs
@ sark_init and any constructors, then calls c_main in SYS mode with IRQ and
@ FIQ unmasked (the VIC has no source enabled yet) and marks the core EXIT
@ when c_main returns.
@
@ Faults (undefined instruction, SVC, prefetch/data abort, unexpected FIQ)
@ are recorded SARK-style in the core's vcpu block: r0-r7, psr = SPSR (the
@ interrupted CPSR), sp = the interrupted mode's banked sp, lr = the
@ exception's own LR, rt_code; then cpu_state = RTE and the core parks.
@ The faulting PC is lr - 8 for a data abort and lr - 4 for undef, prefetch
@ abort and SVC (the address after the SVC).

#include "spinnaker.h"

        .syntax unified
        .arm

@ vcpu_t field offsets (section 6.6 of the hardware reference)
#define VCPU_R0         0
#define VCPU_PSR        32
#define VCPU_SP         36
#define VCPU_LR         40
#define VCPU_RT_CODE    44
#define VCPU_STATE      46
#define SV_P2V_MAP      0x94

#define RTE_UNDEF       2
#define RTE_SVC         3
#define RTE_PABT        4
#define RTE_DABT        5
#define RTE_FIQ         7
#define RTE_VIC         8
#define RTE_ABORT       9
#define CPU_STATE_RTE   2
#define CPU_STATE_EXIT  11

@ First word of .data: lets the startup tell whether the loader placed the
@ .data image at its load address (copy needed) or only at its run address.
#define DATA_MAGIC      0x5EC0DA7A

@ ---------------------------------------------------------------------------
@ Exception vectors at 0.  Every vector but IRQ loads its handler from the
@ literal table at 0x20..0x3C, so the FIQ handler is the word at 0x3C
@ (sark_fiq_vector), which spin1_callback_on rewrites for priority -1 events.
@ IRQ goes straight to the handler address the VIC presents in VIC_VADDR:
@ pc + 8 - 0xFF0 = 0xFFFFF030, the VIC's high alias.

        .section .vectors, "ax", %progbits
        .global _vectors
_vectors:
        ldr     pc, vec_reset           @ 0x00
        ldr     pc, vec_undef           @ 0x04
        ldr     pc, vec_svc             @ 0x08
        ldr     pc, vec_pabt            @ 0x0C
        ldr     pc, vec_dabt            @ 0x10
        ldr     pc, vec_rsvd            @ 0x14
        ldr     pc, [pc, #-0xff0]       @ 0x18 IRQ, vectored by the VIC
        ldr     pc, sark_fiq_vector     @ 0x1C

vec_reset:      .word   cpu_reset       @ 0x20
vec_undef:      .word   undef_handler   @ 0x24
vec_svc:        .word   svc_handler     @ 0x28
vec_pabt:       .word   pabt_handler    @ 0x2C
vec_dabt:       .word   dabt_handler    @ 0x30
vec_rsvd:       .word   rsvd_handler    @ 0x34
vec_irq:        .word   vic_default_isr @ 0x38 (not used by the IRQ vector)
        .global sark_fiq_vector
sark_fiq_vector:
                .word   fiq_default     @ 0x3C

@ ---------------------------------------------------------------------------
@ Reset entry.

        .section .text.cpu_reset, "ax", %progbits
        .global cpu_reset
        .type   cpu_reset, %function
cpu_reset:
        mov     r4, r0                  @ (app_flags << 8) | app_id

        msr     cpsr_c, #(MODE_SVC | IMASK_ALL)
        ldr     r1, =CP15_C1_VALUE      @ alignment faults on, TCMs on
        mcr     p15, 0, r1, c1, c0, 0

        msr     cpsr_c, #(MODE_IRQ | IMASK_ALL)
        ldr     sp, =__irq_stack_top
        msr     cpsr_c, #(MODE_FIQ | IMASK_ALL)
        ldr     sp, =__fiq_stack_top
        msr     cpsr_c, #(MODE_ABT | IMASK_ALL)
        ldr     sp, =__abt_stack_top
        msr     cpsr_c, #(MODE_UND | IMASK_ALL)
        ldr     sp, =__und_stack_top
        msr     cpsr_c, #(MODE_SYS | IMASK_ALL)
        ldr     sp, =__sys_stack_top
        msr     cpsr_c, #(MODE_SVC | IMASK_ALL)
        ldr     sp, =__svc_stack_top

        @ Copy .data from its load address, but only if the image is really
        @ there: a loader that places segments at their run address leaves
        @ the load area empty, and .data is then already in place.
        ldr     r0, =__data_load
        ldr     r1, =__data_start
        ldr     r2, =__data_end
        ldr     r3, [r0]
        ldr     r12, =DATA_MAGIC
        cmp     r3, r12
        bne     2f
        cmp     r0, r1
        beq     2f
1:      cmp     r1, r2
        ldrlo   r3, [r0], #4
        strlo   r3, [r1], #4
        blo     1b
2:
        ldr     r1, =__bss_start
        ldr     r2, =__bss_end
        mov     r3, #0
3:      cmp     r1, r2
        strlo   r3, [r1], #4
        blo     3b

        mov     r0, r4
        bl      sark_init               @ ids, vcpu, VIC, heap; state SARK

        msr     cpsr_c, #(MODE_SYS | IMASK_ALL)
        ldr     r5, =__init_array_start
        ldr     r6, =__init_array_end
4:      cmp     r5, r6
        bhs     5f
        ldr     r3, [r5], #4
        blx     r3
        b       4b
5:
        msr     cpsr_c, #MODE_SYS       @ application mode, IRQ/FIQ unmasked
        bl      c_main

        mov     r0, #CPU_STATE_EXIT
        bl      sark_cpu_state
        b       cpu_halt
        .size   cpu_reset, . - cpu_reset

@ The .data magic word (see DATA_MAGIC); placed first in .data by spinn.ld.
        .section .data.spinn_magic, "aw", %progbits
        .global __data_magic
__data_magic:
        .word   DATA_MAGIC

@ ---------------------------------------------------------------------------
@ Park the core for good: IRQ and FIQ masked, WFI forever.  A pending
@ interrupt still wakes WFI, so loop.

        .text
        .global cpu_halt
        .type   cpu_halt, %function
cpu_halt:
        mrs     r0, cpsr
        orr     r0, r0, #IMASK_ALL
        msr     cpsr_c, r0
        mov     r0, #0
1:      mcr     p15, 0, r0, c7, c0, 4
        b       1b
        .size   cpu_halt, . - cpu_halt

@ ---------------------------------------------------------------------------
@ Exception handlers: push the interrupted r0-r7 on the exception mode's
@ stack and hand the RTE code to rte_exception.

        .macro  FAULT name, code
        .global \name
        .type   \name, %function
\name:
        stmfd   sp!, {r0-r7}
        mov     r0, #\code
        b       rte_exception
        .size   \name, . - \name
        .endm

        FAULT   undef_handler,  RTE_UNDEF
        FAULT   svc_handler,    RTE_SVC
        FAULT   pabt_handler,   RTE_PABT
        FAULT   dabt_handler,   RTE_DABT
        FAULT   rsvd_handler,   RTE_ABORT
        FAULT   fiq_default,    RTE_FIQ   @ FIQ with no preeminent callback
        FAULT   vic_slot_error, RTE_VIC   @ vectored IRQ with no handler

@ r0 = RTE code, [sp] = interrupted r0-r7, lr = exception LR, SPSR = the
@ interrupted CPSR.  The sp recorded is the interrupted mode's banked sp,
@ read by briefly switching to that mode (SYS for USR).
rte_exception:
        mov     r7, lr
        mrs     r6, spsr
        and     r3, r6, #MODE_MASK
        cmp     r3, #MODE_USR
        moveq   r3, #MODE_SYS
        orr     r3, r3, #IMASK_ALL
        mrs     r4, cpsr
        msr     cpsr_c, r3
        mov     r5, sp
        msr     cpsr_c, r4
        b       rte_store

@ void rt_error(uint code, ...): record a software run-time error the same
@ way, with psr = the current CPSR, sp = the caller's sp and lr = the return
@ address of the rt_error call.
        .global rt_error
        .type   rt_error, %function
rt_error:
        stmfd   sp!, {r0-r7}
        mov     r7, lr
        mrs     r6, cpsr
        add     r5, sp, #32
        b       rte_store
        .size   rt_error, . - rt_error

@ r0 = code, r5 = sp, r6 = psr, r7 = lr, [sp] = r0-r7 to record.
@ The vcpu block is found from the hardware (DMA_STAT[31:24] -> p2v_map)
@ rather than from sark.vcpu so that faults before sark_init are recorded.
rte_store:
        ldr     r1, =DMA_BASE
        ldr     r1, [r1, #(DMA_STAT * 4)]
        lsr     r1, r1, #DMA_ID_SHIFT
        ldr     r2, =(SV_SV + SV_P2V_MAP)
        ldrb    r1, [r2, r1]
        ldr     r2, =SV_VCPU
        add     r1, r2, r1, lsl #7      @ 128-byte vcpu blocks

        ldmfd   sp!, {r2, r3, r4, r12}  @ r0-r3 of the faulting code
        stmia   r1, {r2, r3, r4, r12}
        ldmfd   sp!, {r2, r3, r4, r12}  @ r4-r7
        add     r8, r1, #16
        stmia   r8, {r2, r3, r4, r12}
        str     r6, [r1, #VCPU_PSR]
        str     r5, [r1, #VCPU_SP]
        str     r7, [r1, #VCPU_LR]
        strb    r0, [r1, #VCPU_RT_CODE]
        mov     r2, #CPU_STATE_RTE
        strb    r2, [r1, #VCPU_STATE]
        b       cpu_halt

@ ---------------------------------------------------------------------------
@ VIC default vector: a non-vectored (spurious) IRQ.  Acknowledge and go back.

        .global vic_default_isr
        .type   vic_default_isr, %function
vic_default_isr:
        sub     lr, lr, #4
        stmfd   sp!, {r0, lr}
        ldr     r0, =VIC_BASE
        str     r0, [r0, #(VIC_VADDR * 4)]
        ldmfd   sp!, {r0, pc}^
        .size   vic_default_isr, . - vic_default_isr

        .ltorg
