// SPDX-License-Identifier: GPL-2.0-or-later
//
// sark.h: the low-level half of the spinn runtime, our own clean-room
// counterpart of the SARK layer that spin1_api sits on: system-variable and
// vcpu block layouts, core identity, run-time errors, SysRAM locks, IOBUF
// printing and interrupt-mask helpers.  Names follow SARK where an
// application might reasonably rely on them; everything else is ours.

#ifndef SARK_H
#define SARK_H

#include "spinnaker.h"
#include <stdarg.h>

#ifndef NULL
#define NULL ((void *) 0)
#endif

typedef unsigned long long uint64;

// ---------------------------------------------------------------------------
// Core states kept in vcpu->cpu_state (section 6.5).  The simulator treats
// RTE, WDOG and EXIT as "finished".

enum cpu_state {
    CPU_STATE_DEAD  = 0,
    CPU_STATE_PWRDN = 1,
    CPU_STATE_RTE   = 2,
    CPU_STATE_WDOG  = 3,
    CPU_STATE_INIT  = 4,
    CPU_STATE_WAIT  = 5,
    CPU_STATE_SARK  = 6,
    CPU_STATE_RUN   = 7,
    CPU_STATE_SYNC0 = 8,
    CPU_STATE_SYNC1 = 9,
    CPU_STATE_PAUSE = 10,
    CPU_STATE_EXIT  = 11,
    CPU_STATE_IDLE  = 15
};

// Run-time error codes stored in vcpu->rt_code (section 6.2).
typedef enum rte_code {
    RTE_NONE   = 0,
    RTE_RESET  = 1,
    RTE_UNDEF  = 2,
    RTE_SVC    = 3,
    RTE_PABT   = 4,
    RTE_DABT   = 5,
    RTE_IRQ    = 6,
    RTE_FIQ    = 7,
    RTE_VIC    = 8,
    RTE_ABORT  = 9,
    RTE_MALLOC = 10,
    RTE_DIV0   = 11,
    RTE_EVENT  = 12,
    RTE_SWERR  = 13,
    RTE_IOBUF  = 14,
    RTE_ENABLE = 15,
    RTE_NULL   = 16,
    RTE_PKT    = 17,
    RTE_TIMER  = 18,
    RTE_API    = 19,
    RTE_VER    = 20
} rte_code;

// ---------------------------------------------------------------------------
// vcpu_t: one 128-byte block per virtual core at SV_VCPU (section 6.6).

typedef struct vcpu {
    uint r[8];              // 0   r0-r7 at a run-time error
    uint psr;               // 32  interrupted CPSR (SPSR) at a run-time error
    uint sp;                // 36  sp of the interrupted mode
    uint lr;                // 40  exception LR (see README: PC = lr - 8/4)
    uchar rt_code;          // 44  rte_code
    uchar phys_cpu;         // 45
    uchar cpu_state;        // 46  enum cpu_state
    uchar app_id;           // 47
    uint mbox_ap_msg;       // 48  monitor -> application
    uint mbox_mp_msg;       // 52  application -> monitor
    uchar mbox_ap_cmd;      // 56
    uchar mbox_mp_cmd;      // 57
    ushort sw_count;        // 58
    char *sw_file;          // 60
    uint sw_line;           // 64
    uint time;              // 68  unix time of load
    char app_name[16];      // 72
    void *iobuf;            // 88  -> iobuf_t in SDRAM (or NULL)
    uint sw_ver;            // 92
    uint _pad[4];           // 96
    uint user0;             // 112 host-visible application words
    uint user1;             // 116
    uint user2;             // 120
    uint user3;             // 124
} vcpu_t;

_Static_assert(sizeof(vcpu_t) == 128, "vcpu_t must be 128 bytes");
_Static_assert(__builtin_offsetof(vcpu_t, rt_code) == 44, "vcpu_t layout");
_Static_assert(__builtin_offsetof(vcpu_t, iobuf) == 88, "vcpu_t layout");
_Static_assert(__builtin_offsetof(vcpu_t, user0) == 112, "vcpu_t layout");

// Header of an IOBUF block in SDRAM; buf[] holds sv->iobuf_size bytes.
typedef struct iobuf {
    struct iobuf *next;
    uint unix_time;
    uint time_ms;
    uint ptr;               // bytes of buf[] used so far
    char buf[];
} iobuf_t;

// ---------------------------------------------------------------------------
// sv_t: system variables at SV_SV (section 6.7).  Only the fields the
// runtime uses are named; the rest is reserved padding that keeps the
// documented offsets.

typedef struct sv {
    ushort p2p_addr;        // 0x00 this chip's (x << 8) | y
    ushort p2p_dims;        // 0x02 (width << 8) | height
    ushort dbg_addr;        // 0x04
    uchar p2p_up;           // 0x06
    uchar _r07;
    ushort eth_addr;        // 0x08
    uchar hw_ver;           // 0x0A
    uchar eth_up;           // 0x0B
    uchar _r0c[4];
    volatile uint64 clock_ms;   // 0x10
    volatile ushort time_ms;    // 0x18
    ushort _r1a;
    volatile uint unix_time;    // 0x1C
    uint _r20;
    ushort cpu_clk;         // 0x24 CPU clock in MHz (timer input clock)
    ushort mem_clk;         // 0x26
    uchar _r28[16];
    int clock_drift;        // 0x38
    uint _r3c[3];
    struct heap *sysram_heap;   // 0x48
    struct heap *sdram_heap;    // 0x4C
    uint iobuf_size;        // 0x50 bytes in each IOBUF block's buf[]
    uint _r54;
    uint sysbuf_size;       // 0x58
    uint boot_sig;          // 0x5C
    uint _r60[8];
    uchar status_map[20];   // 0x80
    uchar p2v_map[20];      // 0x94 physical -> virtual core
    uchar v2p_map[20];      // 0xA8 virtual -> physical core
    uchar num_cpus;         // 0xBC
    uchar _rbd[3];
    uint _rc0[4];           // 0xC0 .. 0xCF
    struct heap *sys_heap;  // 0xD0 system heap in SDRAM (IOBUFs come from it)
    uint _rd4[2];           // 0xD4 rtr_copy, hop_table
    void **alloc_tag;       // 0xDC (app_id << 8 | tag) -> tagged block
    uint _re0[8];           // 0xE0 .. 0xFF
} sv_t;

_Static_assert(__builtin_offsetof(sv_t, cpu_clk) == 0x24, "sv_t layout");
_Static_assert(__builtin_offsetof(sv_t, iobuf_size) == 0x50, "sv_t layout");
_Static_assert(__builtin_offsetof(sv_t, p2v_map) == 0x94, "sv_t layout");
_Static_assert(__builtin_offsetof(sv_t, v2p_map) == 0xA8, "sv_t layout");
_Static_assert(__builtin_offsetof(sv_t, num_cpus) == 0xBC, "sv_t layout");
_Static_assert(__builtin_offsetof(sv_t, sdram_heap) == 0x4C, "sv_t layout");
_Static_assert(__builtin_offsetof(sv_t, sys_heap) == 0xD0, "sv_t layout");
_Static_assert(__builtin_offsetof(sv_t, alloc_tag) == 0xDC, "sv_t layout");
_Static_assert(sizeof(sv_t) == 0x100, "sv_t size");

#define sv      ((volatile sv_t *) SV_SV)
#define sv_vcpu ((volatile vcpu_t *) SV_VCPU)

// ---------------------------------------------------------------------------
// Per-core runtime data, filled in by sark_init() before c_main runs.

typedef struct sark_data {
    volatile vcpu_t *vcpu;  // this core's vcpu block
    uint virt_cpu;          // virtual core number (sv->p2v_map[phys_cpu])
    uint phys_cpu;          // physical core number (DMA_STAT[31:24])
    uint app_id;            // r0[7:0] at entry
    uint app_flags;         // r0[15:8] at entry
    char *heap_ptr;         // next free byte of the DTCM heap
    char *heap_end;         // end of the DTCM heap
} sark_data_t;

extern sark_data_t sark;

// ---------------------------------------------------------------------------
// Interrupt masking.  Each *_disable returns the previous CPSR so that the
// caller can put it back with cpu_int_restore; they work in every privileged
// mode (the runtime never runs code in USR mode).

static inline uint cpu_irq_disable(void)
{
    uint old, tmp;
    __asm__ volatile ("mrs %0, cpsr\n\t"
                      "orr %1, %0, #0x80\n\t"
                      "msr cpsr_c, %1"
                      : "=r" (old), "=r" (tmp) : : "memory");
    return old;
}

static inline uint cpu_fiq_disable(void)
{
    uint old, tmp;
    __asm__ volatile ("mrs %0, cpsr\n\t"
                      "orr %1, %0, #0x40\n\t"
                      "msr cpsr_c, %1"
                      : "=r" (old), "=r" (tmp) : : "memory");
    return old;
}

static inline uint cpu_int_disable(void)
{
    uint old, tmp;
    __asm__ volatile ("mrs %0, cpsr\n\t"
                      "orr %1, %0, #0xC0\n\t"
                      "msr cpsr_c, %1"
                      : "=r" (old), "=r" (tmp) : : "memory");
    return old;
}

static inline void cpu_int_restore(uint cpsr)
{
    __asm__ volatile ("msr cpsr_c, %0" : : "r" (cpsr) : "memory");
}

static inline void cpu_int_enable(void)
{
    uint tmp;
    __asm__ volatile ("mrs %0, cpsr\n\t"
                      "bic %0, %0, #0xC0\n\t"
                      "msr cpsr_c, %0"
                      : "=r" (tmp) : : "memory");
}

static inline uint cpu_get_cpsr(void)
{
    uint v;
    __asm__ volatile ("mrs %0, cpsr" : "=r" (v));
    return v;
}

// Wait for interrupt (CP15 c7, c0, 4).  The core wakes when an interrupt is
// pending even if the CPSR masks it, which is what makes the
// "mask, test, WFI, unmask" idle pattern race-free.
static inline void cpu_wfi(void)
{
    __asm__ volatile ("mcr p15, 0, %0, c7, c0, 4" : : "r" (0) : "memory");
}

// ---------------------------------------------------------------------------
// Runtime services (runtime/sark.c, runtime/start.s, runtime/io.c)

// Record a run-time error exactly like a processor fault: r0-r7 (r0 = code,
// r1-r3 = the first three extra arguments), CPSR as psr, sp, lr = the return
// address of the call, rt_code = code; state RTE; then park the core forever.
void rt_error(uint code, ...) __attribute__((noreturn));

// Park the core for good: IRQ and FIQ masked, WFI loop.
void cpu_halt(void) __attribute__((noreturn));

// Set this core's vcpu cpu_state.
void sark_cpu_state(uint state);

// Application-visible words user0..user3 of this core's vcpu block.
void sark_set_user(uint n, uint value);
uint sark_get_user(uint n);

// SysRAM hardware locks 0..31 (system controller test-and-set).  Both IRQ
// and FIQ are masked while the lock is held; sark_lock_free restores the
// CPSR that sark_lock_get returned.
#define LOCK_MSG    0
#define LOCK_MBOX   1
#define LOCK_ETHER  2
#define LOCK_GPIO   3
#define LOCK_API_ROOT 4
#define LOCK_SEMA   5
#define LOCK_HEAP   6
#define LOCK_RTR    7

uint sark_lock_get(uint lock);
void sark_lock_free(uint cpsr, uint lock);

// DTCM heap (bump allocator from the end of .bss to the SYS stack reserve).
void *sark_alloc(uint count, uint size);

// Heaps shared with the monitor and the other cores (SDRAM, SysRAM, the
// system heap): SARK's heap_t and 8-byte block headers, section 11.1 of the
// reference.  A used block's `free` word is 0xFFFF0000 + (app_id << 8 | tag).
typedef struct block {
    struct block *next;     // next block in address order
    struct block *free;     // next free block, or the owner word when used
} block_t;

typedef struct heap {
    block_t *free;          // first free block
    block_t *first;         // first block
    block_t *last;          // zero-size sentinel at the top
    uint free_bytes;
    block_t buffer[];
} heap_t;

#define ALLOC_LOCK  1       // take LOCK_HEAP (interrupts off) around the change
#define ALLOC_ID    2       // the owner's app ID is in flag bits 15:8

// First-fit allocation of `size` bytes tagged (app_id, tag); NULL when there
// is no room, size is 0, tag > 255 or a non-zero tag is in use.
void *sark_xalloc(heap_t *heap, uint size, uint tag, uint flag);
// Frees a block of `heap` (merging with free neighbours); NULL: RTE_NULL.
void sark_xfree(heap_t *heap, void *ptr, uint flag);
// The block tagged (tag, app_id) in sv->alloc_tag (app_id 0: this core's).
void *sark_tag_ptr(uint tag, uint app_id);

// Runtime internal (mailbox.c): turns on the mailbox interrupt (CPU_INT)
// at the end of sark_init, as SARK does.
void runtime_cpu_int_init(void);

void sark_delay_us(uint us);

void *sark_memcpy(void *dst, const void *src, uint n);
void *sark_memset(void *dst, int c, uint n);

// io_printf streams, numbered as in SARK.  IO_STD and IO_DBG currently go to
// the IOBUF as well (the simulator has no tube); IO_NULL discards; any other
// value is a char buffer to format into (NUL-terminated, like sprintf).
#define IO_STD  ((char *) 0)
#define IO_DBG  ((char *) 1)
#define IO_BUF  ((char *) 2)
#define IO_NULL ((char *) 3)

void io_printf(char *stream, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
void io_vprintf(char *stream, const char *format, va_list ap);

// Entry point every runtime-based application provides.
void c_main(void);

#endif // SARK_H
