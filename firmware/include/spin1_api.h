// SPDX-License-Identifier: GPL-2.0-or-later
//
// spin1_api.h: the event-driven application interface of the spinn runtime.
// It is source-compatible with the SpiNNaker spin1_api surface described in
// section 7 of the hardware reference (same names, arguments and meanings),
// but it is our own implementation (runtime/spin1_api.c).

#ifndef SPIN1_API_H
#define SPIN1_API_H

#include "sark.h"

#define SUCCESS ((uint) 1)
#define FAILURE ((uint) 0)

typedef void (*callback_t)(uint, uint);

// Events and the arguments their callbacks receive.
enum spin1_event {
    MC_PACKET_RECEIVED   = 0,   // (key, 0)
    DMA_TRANSFER_DONE    = 1,   // (transfer id, tag)
    TIMER_TICK           = 2,   // (ticks so far, counting this one; 0)
    SDP_PACKET_RX        = 3,   // (sdp_msg_t *msg, port): free msg with spin1_msg_free
    USER_EVENT           = 4,   // (arg0, arg1) of spin1_trigger_user_event
    MCPL_PACKET_RECEIVED = 5,   // (key, payload)
    FR_PACKET_RECEIVED   = 6,   // (key, 0)
    FRPL_PACKET_RECEIVED = 7    // (key, payload)
};
#define NUM_EVENTS 8

typedef enum { SYNC_NOWAIT = 0, SYNC_WAIT = 1 } sync_bool;

#define DMA_READ     0          // system (SDRAM/SysRAM) -> TCM
#define DMA_WRITE    1          // TCM -> system
#define NO_PAYLOAD   0
#define WITH_PAYLOAD 1

// Queue geometry.  Every ring keeps one slot empty, so a queue of N slots
// holds N - 1 entries.
#define N_TASK_QUEUES      4    // callback priorities 1..4
#define TASK_QUEUE_SIZE    16
#define TX_PACKET_QUEUE_SIZE 16
#define DMA_QUEUE_SIZE     16
#define USER_EVENT_QUEUE_SIZE 4

// VIC slot assignment (section 4, last paragraph).  Slot 0 is the highest
// priority.  Slots 8..15 are left for applications.
#define SARK_PRIORITY   0       // CPU_INT: the monitor's mailbox (SDP, signals)
#define TIMER2_PRIORITY 1       // reserved (timer_schedule_proc not provided)
#define TIMER1_PRIORITY 2
#define DMA_DONE_PRIORITY 3
#define CC_MC_PRIORITY  4
#define CC_FR_PRIORITY  5
#define CC_TMT_PRIORITY 6
#define SOFT_PRIORITY   7

// --- control ---------------------------------------------------------------
uint spin1_start(sync_bool sync);
void spin1_exit(uint error);
void spin1_set_timer_tick_and_phase(uint time_us, uint phase_us);
static inline void spin1_set_timer_tick(uint time_us)
{
    spin1_set_timer_tick_and_phase(time_us, 0);
}
uint spin1_get_simulation_time(void);
void spin1_rte(rte_code code) __attribute__((noreturn));

// --- callbacks ---------------------------------------------------------------
// priority -1: preeminent, runs in the FIQ handler (one event only; MC and
//              MCPL share the receive interrupt and count as one, likewise
//              FR and FRPL);
// priority  0: non-queueable, runs inside the IRQ handler;
// priority 1..4: queued, run by the dispatcher (1 first).
void spin1_callback_on(uint event_id, callback_t cback, int priority);
void spin1_callback_off(uint event_id);
uint spin1_schedule_callback(callback_t cback, uint arg0, uint arg1,
                             uint priority);
uint spin1_trigger_user_event(uint arg0, uint arg1);

// --- DMA -------------------------------------------------------------------
// Returns a non-zero transfer id, or 0 if the software queue is full.
// Addresses and length must be word multiples.
uint spin1_dma_transfer(uint tag, void *system_address, void *tcm_address,
                        uint direction, uint length);
void spin1_dma_flush(void);

// --- packets ---------------------------------------------------------------
uint spin1_send_packet(uint key, uint data, uint tcr);
static inline uint spin1_send_mc_packet(uint key, uint data, uint load)
{
    return spin1_send_packet(key, data, PKT_MC | (load ? PKT_PL : 0));
}
static inline uint spin1_send_fr_packet(uint key, uint data, uint load)
{
    return spin1_send_packet(key, data, PKT_FR | (load ? PKT_PL : 0));
}
void spin1_flush_tx_packet_queue(void);
void spin1_flush_rx_packet_queue(void);

// Program router entry `entry` (0..1023).  `route` has link bits 0..5 and
// VIRTUAL core bits 6..23; cores are translated with sv->v2p_map.
uint spin1_set_mc_table_entry(uint entry, uint key, uint mask, uint route);

// --- identity ----------------------------------------------------------------
uint spin1_get_core_id(void);       // virtual core
uint spin1_get_chip_id(void);       // (x << 8) | y
uint spin1_get_id(void);            // (chip_id << 5) | core

// --- interrupt control (return the previous CPSR) ----------------------------
static inline uint spin1_irq_disable(void) { return cpu_irq_disable(); }
static inline uint spin1_fiq_disable(void) { return cpu_fiq_disable(); }
static inline uint spin1_int_disable(void) { return cpu_int_disable(); }
static inline void spin1_mode_restore(uint cpsr) { cpu_int_restore(cpsr); }
static inline void spin1_int_enable(void) { cpu_int_enable(); }

// The ARM968 has no caches and the runtime's shared state is accessed under
// masked interrupts, so a compiler barrier is all that is needed.
static inline void spin1_memory_barrier(void)
{
    __asm__ volatile ("" : : : "memory");
}
static inline void spin1_store_barrier(void)
{
    __asm__ volatile ("" : : : "memory");
}

// --- misc ----------------------------------------------------------------
static inline void spin1_delay_us(uint us) { sark_delay_us(us); }
void *spin1_malloc(uint bytes);
void spin1_memcpy(void *dst, void const *src, uint len);
void spin1_srand(uint seed);
uint spin1_rand(void);
void spin1_led_control(uint p);     // no LEDs in the simulator: ignored

// spinn extension: set/get this core's vcpu user0..user3 (n = 0..3).
static inline void spin1_set_user(uint n, uint value) { sark_set_user(n, value); }
static inline uint spin1_get_user(uint n) { return sark_get_user(n); }

// --- SDP to the host (runtime/sdp.c) -------------------------------------
// sdp_msg_t and uint spin1_send_sdp_msg(sdp_msg_t *msg, uint timeout).
#include "sdp.h"

#endif // SPIN1_API_H
