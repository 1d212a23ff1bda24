// SPDX-License-Identifier: GPL-2.0-or-later
//
// sark.c: core identity, VIC reset, vcpu access, SysRAM locks, DTCM heap
// and small memory helpers for the spinn runtime.

#include "sark.h"

sark_data_t sark;

// Linker-script symbols (link/spinn.ld).
extern char __heap_start[], __heap_end[];

// Assembler handlers in start.S.
extern void vic_default_isr(void);
extern void vic_slot_error(void);

// Called once from cpu_reset in SVC mode, IRQ/FIQ masked, after .data and
// .bss are set up.  r0 is the value the loader passed to the entry point.
void sark_init(uint r0)
{
    sark.app_id = r0 & 0xFF;
    sark.app_flags = (r0 >> 8) & 0xFF;
    sark.phys_cpu = dma[DMA_STAT] >> DMA_ID_SHIFT;
    sark.virt_cpu = sv->p2v_map[sark.phys_cpu];
    sark.vcpu = sv_vcpu + sark.virt_cpu;
    // As SARK does: no IOBUF until the first print (io.c allocates it).
    sark.vcpu->iobuf = NULL;

    // Bring the VIC to a known state: nothing enabled, nothing forced, all
    // IRQ (no FIQ), every slot disabled and pointing at an error trap, the
    // default vector acknowledging spurious IRQs.  A final VADDR write
    // clears any in-service state left by a previous application.
    vic[VIC_DISABLE] = 0xFFFFFFFF;
    vic[VIC_SOFT_CLR] = 0xFFFFFFFF;
    vic[VIC_SELECT] = 0;
    for (uint slot = 0; slot < VIC_SLOTS; slot++) {
        vic[VIC_CNTL + slot] = 0;
        vic[VIC_ADDR + slot] = (uint) vic_slot_error;
    }
    vic[VIC_DEFADDR] = (uint) vic_default_isr;
    vic[VIC_VADDR] = 0;

    sark.heap_ptr = __heap_start;
    sark.heap_end = __heap_end;

    runtime_cpu_int_init();
    sark.vcpu->cpu_state = CPU_STATE_SARK;
}

void sark_cpu_state(uint state)
{
    sark.vcpu->cpu_state = state;
}

void sark_set_user(uint n, uint value)
{
    volatile uint *user = &sark.vcpu->user0;

    if (n < 4)
        user[n] = value;
}

uint sark_get_user(uint n)
{
    volatile uint *user = &sark.vcpu->user0;

    return (n < 4) ? user[n] : 0;
}

// The system controller's TAS register reads back bit 31 set if the lock
// was already held (and sets it either way); TAC releases it.  Interrupts
// stay masked while the lock is held so that a handler on this core cannot
// deadlock against its own interrupted code.
uint sark_lock_get(uint lock)
{
    uint cpsr = cpu_int_disable();

    while (sc[SC_TAS0 + (lock & 31)] & SC_LOCK_HELD)
        continue;
    return cpsr;
}

void sark_lock_free(uint cpsr, uint lock)
{
    (void) sc[SC_TAC0 + (lock & 31)];
    cpu_int_restore(cpsr);
}

// DTCM heap: a bump allocator; blocks are never returned.  8-byte aligned
// so that any type (including 64-bit ones) can live in a block.
void *sark_alloc(uint count, uint size)
{
    uint bytes = (count * size + 7) & ~7u;
    uint cpsr = cpu_int_disable();
    void *p = NULL;

    if (bytes <= (uint) (sark.heap_end - sark.heap_ptr)) {
        p = sark.heap_ptr;
        sark.heap_ptr += bytes;
    }
    cpu_int_restore(cpsr);
    return p;
}

// Busy wait.  The loop body (SUBS + taken BHI) costs about 4 cycles on an
// ARM9E-class core, so us * cpu_clk / 4 iterations approximate the delay;
// on a simulator that charges one cycle per instruction it runs short by
// about half.
void sark_delay_us(uint us)
{
    uint n = (us * sv->cpu_clk) >> 2;

    __asm__ volatile ("1: subs %0, %0, #1\n\t"
                      "bhi 1b"
                      : "+r" (n) : : "cc");
}

void *sark_memcpy(void *dst, const void *src, uint n)
{
    char *d = dst;
    const char *s = src;

    if ((((uint) d | (uint) s | n) & 3) == 0) {
        uint *dw = (uint *) d;
        const uint *sw = (const uint *) s;

        for (n >>= 2; n != 0; n--)
            *dw++ = *sw++;
        return dst;
    }
    while (n-- != 0)
        *d++ = *s++;
    return dst;
}

void *sark_memset(void *dst, int c, uint n)
{
    char *d = dst;

    while (n-- != 0)
        *d++ = (char) c;
    return dst;
}

// GCC may emit calls to these for structure copies and initialisers even
// in freestanding code, so the runtime provides them.
void *memcpy(void *dst, const void *src, unsigned int n)
{
    return sark_memcpy(dst, src, n);
}

void *memset(void *dst, int c, unsigned int n)
{
    return sark_memset(dst, c, n);
}
