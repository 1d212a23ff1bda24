// SPDX-License-Identifier: GPL-2.0-or-later
//
// spin1_api.c: the spinn event-driven runtime (spin1_api interface).
//
// Interrupt handlers turn hardware events into callbacks: priority 0
// callbacks run inside the IRQ handler, priority -1 inside the FIQ handler,
// priorities 1..4 are queued and run by the dispatcher loop in spin1_start,
// which sleeps in WFI when there is nothing to do.  Outgoing multicast
// packets and DMA requests that the hardware cannot take at once are queued
// in software and fed to it from the CC "TX empty" and "DMA done"
// interrupts.
//
// Concurrency rule: every queue is touched only with IRQ and FIQ masked,
// because a FIQ (priority -1) callback may schedule callbacks, send packets
// or start DMA at any time.

#include "spin1_api.h"

#define NO_SOURCE 0xFF

// Assembler symbols in start.S.
extern volatile uint sark_fiq_vector;
extern void fiq_default(void);

#define IRQ_HANDLER __attribute__((interrupt("IRQ")))
#define FIQ_HANDLER __attribute__((interrupt("FIQ")))

// ---------------------------------------------------------------------------
// State

typedef struct {
    callback_t cback;
    int priority;
} callback_entry_t;

typedef struct {
    callback_t cback;
    uint arg0;
    uint arg1;
    uint event;             // for trace marks: the event, or SPINN_TRACE_SCHEDULED
} task_t;

typedef struct {
    uint start;             // next to take
    uint end;               // next free slot
    task_t task[TASK_QUEUE_SIZE];
} task_queue_t;

typedef struct {
    uint key;
    uint data;
    uint tcr;
} tx_packet_t;

typedef struct {
    uint id;
    uint tag;
    uint sys;
    uint tcm;
    uint desc;
} dma_request_t;

static callback_entry_t callback[NUM_EVENTS];
static task_queue_t task_queue[N_TASK_QUEUES];

static struct {
    uint start, end;
    tx_packet_t pkt[TX_PACKET_QUEUE_SIZE];
} tx_queue;

// DMA: at most one transfer is given to the controller at a time, so each
// "done" interrupt belongs to exactly one request (the controller's own
// second descriptor slot is not used).
static struct {
    uint start, end;
    dma_request_t req[DMA_QUEUE_SIZE];
} dma_queue;
static dma_request_t dma_current;
static volatile uint dma_busy;
static uint dma_next_id = 1;
static uint dma_ready;          // controller initialised

static struct {
    uint start, end;
    uint arg0[USER_EVENT_QUEUE_SIZE];
    uint arg1[USER_EVENT_QUEUE_SIZE];
} user_queue;

static volatile uint run;       // dispatcher keeps going while set
static volatile uint exit_code;
static volatile uint ticks;     // timer ticks since spin1_start
static uint timer_tick_us;      // 0: no timer
static uint timer_phase_us;
static uint fiq_source = NO_SOURCE;
static uint rand_seed = 1;

// Which VIC source raises each event (NO_SOURCE: not raised).
static const uchar event_source[NUM_EVENTS] = {
    [MC_PACKET_RECEIVED]   = CC_MC_INT,
    [DMA_TRANSFER_DONE]    = DMA_DONE_INT,
    [TIMER_TICK]           = TIMER1_INT,
    [SDP_PACKET_RX]        = NO_SOURCE,
    [USER_EVENT]           = SOFTWARE_INT,
    [MCPL_PACKET_RECEIVED] = CC_MC_INT,
    [FR_PACKET_RECEIVED]   = CC_FR_INT,
    [FRPL_PACKET_RECEIVED] = CC_FR_INT,
};

static void source_configure(uint source);

// Ring helpers: a ring of n slots is empty when start == end and full when
// advancing end would reach start.
#define RING_NEXT(i, n)   (((i) + 1) % (n))

// ---------------------------------------------------------------------------
// Callback delivery

// Runs a callback between the simulator's trace marks (one store each).
static inline void run_callback(callback_t cback, uint arg0, uint arg1, uint event)
{
    SPINN_TRACE_MARK = (event << 1) | 1;
    cback(arg0, arg1);
    SPINN_TRACE_MARK = event << 1;
}

static uint schedule_task(callback_t cback, uint arg0, uint arg1,
                          uint priority, uint event)
{
    if (priority < 1 || priority > N_TASK_QUEUES)
        return FAILURE;

    task_queue_t *q = &task_queue[priority - 1];
    uint cpsr = cpu_int_disable();
    uint next = RING_NEXT(q->end, TASK_QUEUE_SIZE);
    uint rc = FAILURE;

    if (next != q->start) {
        q->task[q->end].cback = cback;
        q->task[q->end].arg0 = arg0;
        q->task[q->end].arg1 = arg1;
        q->task[q->end].event = event;
        q->end = next;
        rc = SUCCESS;
    }
    cpu_int_restore(cpsr);
    return rc;
}

uint spin1_schedule_callback(callback_t cback, uint arg0, uint arg1,
                             uint priority)
{
    return schedule_task(cback, arg0, arg1, priority, SPINN_TRACE_SCHEDULED);
}

// Run or queue the callback for an event, according to its priority.
static void deliver(uint event, uint arg0, uint arg1)
{
    callback_t cback = callback[event].cback;
    int priority = callback[event].priority;

    if (cback == NULL)
        return;
    if (priority <= 0)
        run_callback(cback, arg0, arg1, event);
    else
        (void) schedule_task(cback, arg0, arg1, priority, event);
}

// ---------------------------------------------------------------------------
// Interrupt handler bodies.  Each source has an IRQ entry (ends by writing
// VIC_VADDR so the VIC re-arms its priority logic) and a FIQ entry (FIQ is
// not vectored, so no VADDR write).

static inline void timer_body(void)
{
    tc[TC_INT_CLR] = 1;
    ticks++;
    deliver(TIMER_TICK, ticks, 0);
}

// A received packet: read the status first (payload flag), then the
// payload, then the key, since reading the key frees the receive buffer.
static inline void rx_body(uint event_plain, uint event_payload)
{
    uint rsr = cc[CC_RSR];

    if (rsr & PKT_PL) {
        uint data = cc[CC_RXDATA];
        uint key = cc[CC_RXKEY];

        deliver(event_payload, key, data);
    } else {
        uint key = cc[CC_RXKEY];

        deliver(event_plain, key, 0);
    }
}

static void dma_start(const dma_request_t *r)
{
    dma_current = *r;
    dma_busy = 1;
    dma[DMA_ADRS] = r->sys;
    dma[DMA_ADRT] = r->tcm;
    dma[DMA_DESC] = r->desc;
}

static inline void dma_body(void)
{
    uint cpsr = cpu_int_disable();
    dma_request_t done = dma_current;

    dma[DMA_CTRL] = DMA_CTRL_CLR_DONE;
    dma_busy = 0;
    if (dma_queue.start != dma_queue.end) {
        dma_start(&dma_queue.req[dma_queue.start]);
        dma_queue.start = RING_NEXT(dma_queue.start, DMA_QUEUE_SIZE);
    }
    cpu_int_restore(cpsr);
    deliver(DMA_TRANSFER_DONE, done.id, done.tag);
}

static inline void soft_body(void)
{
    uint cpsr = cpu_int_disable();
    uint arg0 = 0, arg1 = 0, have = 0;

    if (user_queue.start != user_queue.end) {
        arg0 = user_queue.arg0[user_queue.start];
        arg1 = user_queue.arg1[user_queue.start];
        user_queue.start = RING_NEXT(user_queue.start, USER_EVENT_QUEUE_SIZE);
        have = 1;
    }
    // Drop the forced interrupt before the callback runs, so that a user
    // event triggered from inside the callback is not lost.
    if (user_queue.start == user_queue.end)
        vic[VIC_SOFT_CLR] = 1 << SOFTWARE_INT;
    cpu_int_restore(cpsr);
    if (have)
        deliver(USER_EVENT, arg0, arg1);
}

static IRQ_HANDLER void timer_irq(void) { timer_body(); vic[VIC_VADDR] = 0; }
static FIQ_HANDLER void timer_fiq(void) { timer_body(); }
static IRQ_HANDLER void mc_irq(void)
{
    rx_body(MC_PACKET_RECEIVED, MCPL_PACKET_RECEIVED);
    vic[VIC_VADDR] = 0;
}
static FIQ_HANDLER void mc_fiq(void)
{
    rx_body(MC_PACKET_RECEIVED, MCPL_PACKET_RECEIVED);
}
static IRQ_HANDLER void fr_irq(void)
{
    rx_body(FR_PACKET_RECEIVED, FRPL_PACKET_RECEIVED);
    vic[VIC_VADDR] = 0;
}
static FIQ_HANDLER void fr_fiq(void)
{
    rx_body(FR_PACKET_RECEIVED, FRPL_PACKET_RECEIVED);
}
static IRQ_HANDLER void dma_irq(void) { dma_body(); vic[VIC_VADDR] = 0; }
static FIQ_HANDLER void dma_fiq(void) { dma_body(); }
static IRQ_HANDLER void soft_irq(void) { soft_body(); vic[VIC_VADDR] = 0; }
static FIQ_HANDLER void soft_fiq(void) { soft_body(); }

// ---------------------------------------------------------------------------
// Packet transmission

// TX_FULL is sticky: clear the sticky bits, then look again.
static inline uint cc_tx_full(void)
{
    cc[CC_TCR] = 0;
    return cc[CC_TCR] & TX_FULL_MASK;
}

static inline void cc_send(uint key, uint data, uint tcr)
{
    cc[CC_TCR] = tcr;
    if (tcr & PKT_PL)
        cc[CC_TXDATA] = data;
    cc[CC_TXKEY] = key;
}

static void tx_queue_send_head(void)
{
    tx_packet_t *p = &tx_queue.pkt[tx_queue.start];

    cc_send(p->key, p->data, p->tcr);
    tx_queue.start = RING_NEXT(tx_queue.start, TX_PACKET_QUEUE_SIZE);
}

static IRQ_HANDLER void tx_irq(void)
{
    uint cpsr = cpu_fiq_disable();

    while (tx_queue.start != tx_queue.end && !cc_tx_full())
        tx_queue_send_head();
    if (tx_queue.start == tx_queue.end)
        vic[VIC_DISABLE] = 1 << CC_TMT_INT;
    cpu_int_restore(cpsr);
    vic[VIC_VADDR] = 0;
}

static void vic_slot_set(uint slot, uint source, void (*handler)(void))
{
    vic[VIC_ADDR + slot] = (uint) handler;
    vic[VIC_CNTL + slot] = VIC_CNTL_ENABLE | source;
}

uint spin1_send_packet(uint key, uint data, uint tcr)
{
    uint cpsr = cpu_int_disable();
    uint rc = SUCCESS;

    if (tx_queue.start == tx_queue.end && !cc_tx_full()) {
        cc_send(key, data, tcr);
    } else {
        uint next = RING_NEXT(tx_queue.end, TX_PACKET_QUEUE_SIZE);

        if (next == tx_queue.start) {
            // Queue full: if the CC has room after all, send the oldest
            // packet to make space; otherwise give up on this one.
            if (cc_tx_full()) {
                rc = FAILURE;
                goto out;
            }
            tx_queue_send_head();
        }
        tx_queue.pkt[tx_queue.end].key = key;
        tx_queue.pkt[tx_queue.end].data = data;
        tx_queue.pkt[tx_queue.end].tcr = tcr;
        tx_queue.end = next;
        vic_slot_set(CC_TMT_PRIORITY, CC_TMT_INT, tx_irq);
        vic[VIC_ENABLE] = 1 << CC_TMT_INT;
    }
out:
    cpu_int_restore(cpsr);
    return rc;
}

void spin1_flush_tx_packet_queue(void)
{
    uint cpsr = cpu_int_disable();

    tx_queue.start = tx_queue.end = 0;
    vic[VIC_DISABLE] = 1 << CC_TMT_INT;
    cpu_int_restore(cpsr);
}

// Received packets are handed over one by one as they arrive; there is no
// software receive queue to flush.
void spin1_flush_rx_packet_queue(void)
{
}

// Send whatever is still queued by polling the CC (used when the
// application exits).  Bounded so that a blocked router cannot hang exit.
static void tx_queue_drain(void)
{
    uint cpsr = cpu_int_disable();

    for (uint tries = 0; tx_queue.start != tx_queue.end && tries < 1000000;
         tries++) {
        if (!cc_tx_full())
            tx_queue_send_head();
    }
    tx_queue.start = tx_queue.end = 0;
    vic[VIC_DISABLE] = 1 << CC_TMT_INT;
    cpu_int_restore(cpsr);
}

// ---------------------------------------------------------------------------
// DMA

static void dma_init(void)
{
    if (dma_ready)
        return;
    dma[DMA_CTRL] = DMA_CTRL_UNCOMMIT | DMA_CTRL_ABORT | DMA_CTRL_RESTART |
                    DMA_CTRL_CLR_DONE | DMA_CTRL_CLR_TO | DMA_CTRL_CLR_WB;
    dma[DMA_CTRL] = DMA_CTRL_UNCOMMIT | DMA_CTRL_RESTART | DMA_CTRL_CLR_DONE;
    dma[DMA_GCTL] = DMA_STAT_DONE | DMA_STAT_DONE2;   // IRQ on done
    dma_ready = 1;
}

uint spin1_dma_transfer(uint tag, void *system_address, void *tcm_address,
                        uint direction, uint length)
{
    uint cpsr = cpu_int_disable();
    uint id = 0;
    dma_request_t r;

    dma_init();
    // The done interrupt drives the queue, so it is on whenever DMA is used
    // (spin1_start / spin1_exit switch it with the other sources).
    source_configure(DMA_DONE_INT);
    vic[VIC_ENABLE] = 1 << DMA_DONE_INT;
    r.tag = tag;
    r.sys = (uint) system_address;
    r.tcm = (uint) tcm_address;
    // Doubleword width, bursts of 16, direction, length in bytes.
    r.desc = DMA_DESC_DWORD | DMA_DESC_BURST(4) |
             (direction ? DMA_DESC_WRITE : 0) | (length & DMA_DESC_LEN_MASK);

    if (!dma_busy) {
        r.id = id = dma_next_id;
        dma_start(&r);
    } else {
        uint next = RING_NEXT(dma_queue.end, DMA_QUEUE_SIZE);

        if (next != dma_queue.start) {
            r.id = id = dma_next_id;
            dma_queue.req[dma_queue.end] = r;
            dma_queue.end = next;
        }
    }
    if (id != 0 && ++dma_next_id == 0)
        dma_next_id = 1;
    cpu_int_restore(cpsr);
    return id;
}

// Abort the transfer in progress and forget queued ones; their
// DMA_TRANSFER_DONE callbacks never happen.
void spin1_dma_flush(void)
{
    uint cpsr = cpu_int_disable();

    dma[DMA_CTRL] = DMA_CTRL_UNCOMMIT | DMA_CTRL_ABORT | DMA_CTRL_RESTART |
                    DMA_CTRL_CLR_DONE | DMA_CTRL_CLR_TO;
    dma_queue.start = dma_queue.end = 0;
    dma_busy = 0;
    cpu_int_restore(cpsr);
}

// ---------------------------------------------------------------------------
// User events

uint spin1_trigger_user_event(uint arg0, uint arg1)
{
    uint cpsr = cpu_int_disable();
    uint next = RING_NEXT(user_queue.end, USER_EVENT_QUEUE_SIZE);
    uint rc = FAILURE;

    if (next != user_queue.start) {
        user_queue.arg0[user_queue.end] = arg0;
        user_queue.arg1[user_queue.end] = arg1;
        user_queue.end = next;
        vic[VIC_SOFT_SET] = 1 << SOFTWARE_INT;
        rc = SUCCESS;
    }
    cpu_int_restore(cpsr);
    return rc;
}

// ---------------------------------------------------------------------------
// Callback registration and interrupt routing

// VIC slot and handlers of each event source.
static void source_handlers(uint source, uint *slot, void (**irq)(void),
                            void (**fiq)(void))
{
    switch (source) {
    case TIMER1_INT:
        *slot = TIMER1_PRIORITY; *irq = timer_irq; *fiq = timer_fiq;
        break;
    case DMA_DONE_INT:
        *slot = DMA_DONE_PRIORITY; *irq = dma_irq; *fiq = dma_fiq;
        break;
    case CC_MC_INT:
        *slot = CC_MC_PRIORITY; *irq = mc_irq; *fiq = mc_fiq;
        break;
    case CC_FR_INT:
        *slot = CC_FR_PRIORITY; *irq = fr_irq; *fiq = fr_fiq;
        break;
    default:    // SOFTWARE_INT
        *slot = SOFT_PRIORITY; *irq = soft_irq; *fiq = soft_fiq;
        break;
    }
}

static uint source_in_use(uint source)
{
    for (uint e = 0; e < NUM_EVENTS; e++)
        if (event_source[e] == source && callback[e].cback != NULL)
            return 1;
    return 0;
}

// Point the VIC (and, for priority -1, the FIQ vector) at this source's
// handler.  The source itself is enabled only while the runtime runs (the
// DMA done interrupt stays on once DMA is in use: it feeds the queue).
static void source_configure(uint source)
{
    uint slot;
    void (*irq)(void), (*fiq)(void);

    source_handlers(source, &slot, &irq, &fiq);
    if (source == fiq_source) {
        sark_fiq_vector = (uint) fiq;
        vic[VIC_SELECT] |= 1 << source;
        vic[VIC_CNTL + slot] = 0;
    } else {
        vic[VIC_SELECT] &= ~(1u << source);
        vic_slot_set(slot, source, irq);
    }
}

void spin1_callback_on(uint event_id, callback_t cback, int priority)
{
    if (event_id >= NUM_EVENTS || cback == NULL || priority > N_TASK_QUEUES)
        rt_error(RTE_API, event_id, priority);

    uint source = event_source[event_id];
    uint cpsr = cpu_int_disable();

    if (priority < 0) {
        // Only one source may use the FIQ.
        if (fiq_source != NO_SOURCE && fiq_source != source)
            rt_error(RTE_API, event_id, priority);
        if (source != NO_SOURCE)
            fiq_source = source;
    }
    callback[event_id].cback = cback;
    callback[event_id].priority = priority;

    if (source != NO_SOURCE) {
        source_configure(source);
        if (run && source != TIMER1_INT)
            vic[VIC_ENABLE] = 1 << source;
    }
    cpu_int_restore(cpsr);
}

void spin1_callback_off(uint event_id)
{
    if (event_id >= NUM_EVENTS)
        return;

    uint source = event_source[event_id];
    uint cpsr = cpu_int_disable();

    callback[event_id].cback = NULL;
    callback[event_id].priority = 0;
    if (source != NO_SOURCE && !source_in_use(source)) {
        if (source != DMA_DONE_INT)
            vic[VIC_DISABLE] = 1 << source;
        if (source == fiq_source) {
            fiq_source = NO_SOURCE;
            sark_fiq_vector = (uint) fiq_default;
            source_configure(source);
        }
    }
    cpu_int_restore(cpsr);
}

// ---------------------------------------------------------------------------
// Timer

void spin1_set_timer_tick_and_phase(uint time_us, uint phase_us)
{
    timer_tick_us = time_us;
    timer_phase_us = phase_us;
}

uint spin1_get_simulation_time(void)
{
    return ticks;
}

// Periodic, 32-bit, interrupting, no prescale; the first period is
// lengthened by the phase through TC_LOAD, later ones come from TC_BG_LOAD.
static void timer_start(void)
{
    uint clk = sv->cpu_clk;

    tc[TC_CONTROL] = 0;
    tc[TC_INT_CLR] = 1;
    tc[TC_LOAD] = clk * (timer_tick_us + timer_phase_us);
    tc[TC_BG_LOAD] = clk * timer_tick_us;
    tc[TC_CONTROL] = TC_ENABLE | TC_PERIODIC | TC_IRQ_EN | TC_32BIT;
}

static void timer_stop(void)
{
    tc[TC_CONTROL] = 0;
    tc[TC_INT_CLR] = 1;
    vic[VIC_DISABLE] = 1 << TIMER1_INT;
}

// ---------------------------------------------------------------------------
// Start / exit

// What the mailbox handler (runtime/mailbox.c) hands on: SDP for a port
// other than 0 goes to SDP_PACKET_RX (or is freed with no callback), and
// SIG_EXIT stops the dispatcher.
void runtime_sdp_rx(sdp_msg_t *msg, uint port)
{
    if (callback[SDP_PACKET_RX].cback != NULL)
        deliver(SDP_PACKET_RX, (uint) msg, port);
    else
        spin1_msg_free(msg);
}

void runtime_signal(uint signal)
{
    if (signal == SIG_EXIT)
        spin1_exit(255);
}

// SYNC0 barrier: SC&MP's SIG_SYNC0 clears this core's SC flag bit (indexed
// by virtual core) and raises CPU_INT; wait for the bit to clear.
static void sync_wait(void)
{
    uint bit = 1u << sark.virt_cpu;

    sark_cpu_state(CPU_STATE_SYNC0);
    for (;;) {
        uint cpsr = cpu_int_disable();

        if ((sc[SC_FLAG] & bit) == 0) {
            cpu_int_restore(cpsr);
            break;
        }
        cpu_wfi();
        cpu_int_restore(cpsr);
    }
}

// Take the next queued callback (highest priority first) and run it, or
// sleep until an interrupt when there is none.  The check and the WFI both
// happen with interrupts masked; an interrupt that arrives in between still
// wakes the WFI and is taken as soon as the mask is restored.
static void dispatch(void)
{
    for (;;) {
        uint cpsr = cpu_int_disable();
        task_t t;
        uint found = 0;

        if (!run) {
            cpu_int_restore(cpsr);
            return;
        }
        for (uint p = 0; p < N_TASK_QUEUES; p++) {
            task_queue_t *q = &task_queue[p];

            if (q->start != q->end) {
                t = q->task[q->start];
                q->start = RING_NEXT(q->start, TASK_QUEUE_SIZE);
                found = 1;
                break;
            }
        }
        if (found) {
            cpu_int_restore(cpsr);
            run_callback(t.cback, t.arg0, t.arg1, t.event);
        } else {
            cpu_wfi();
            cpu_int_restore(cpsr);
        }
    }
}

// Sources enabled while the runtime runs (timer handled separately).
static uint running_sources(void)
{
    uint mask = 1u << DMA_DONE_INT;

    for (uint e = 0; e < NUM_EVENTS; e++) {
        uint s = event_source[e];

        if (s != NO_SOURCE && s != TIMER1_INT && callback[e].cback != NULL)
            mask |= 1u << s;
    }
    return mask;
}

uint spin1_start(sync_bool sync)
{
    uint cpsr = cpu_int_disable();

    cc[CC_TCR] = 0;                 // clear sticky TX status
    if (!dma_busy && dma_queue.start == dma_queue.end)
        dma_next_id = 1;
    dma_init();
    source_configure(DMA_DONE_INT);

    for (uint e = 0; e < NUM_EVENTS; e++)
        if (event_source[e] != NO_SOURCE && callback[e].cback != NULL)
            source_configure(event_source[e]);

    ticks = 0;
    exit_code = 0;
    run = 1;
    vic[VIC_ENABLE] = running_sources();
    cpu_int_restore(cpsr);

    if (sync == SYNC_WAIT)
        sync_wait();

    sark_cpu_state(CPU_STATE_RUN);

    cpsr = cpu_int_disable();
    if (timer_tick_us != 0 && callback[TIMER_TICK].cback != NULL) {
        source_configure(TIMER1_INT);
        timer_start();
        vic[VIC_ENABLE] = 1 << TIMER1_INT;
    }
    cpu_int_restore(cpsr);
    cpu_int_enable();

    dispatch();

    cpsr = cpu_int_disable();
    timer_stop();
    vic[VIC_DISABLE] = running_sources() | (1 << SOFTWARE_INT);
    vic[VIC_SOFT_CLR] = 1 << SOFTWARE_INT;
    cpu_int_restore(cpsr);
    tx_queue_drain();
    return exit_code;
}

// Stop the dispatcher after the current callback; events stop at once
// (timer, packet receive, user events), queued packets are still sent.
void spin1_exit(uint error)
{
    uint cpsr = cpu_int_disable();

    exit_code = error;
    run = 0;
    timer_stop();
    vic[VIC_DISABLE] = running_sources();
    cpu_int_restore(cpsr);
}

void spin1_rte(rte_code code)
{
    rt_error(code);
}

// ---------------------------------------------------------------------------
// Router

uint spin1_set_mc_table_entry(uint entry, uint key, uint mask, uint route)
{
    if (entry >= MC_TABLE_SIZE)
        return FAILURE;

    // The hardware table is indexed by physical core.
    uint phys_route = route & MC_LINK_MASK;

    for (uint v = 0; v < NUM_CPUS; v++) {
        if (route & MC_CORE_ROUTE(v)) {
            uint p = sv->v2p_map[v];

            if (p < NUM_CPUS)
                phys_route |= MC_CORE_ROUTE(p);
        }
    }

    volatile uint *ram = (volatile uint *) RTR_MCRAM_BASE;
    volatile uint *keys = (volatile uint *) RTR_MCKEY_BASE;
    volatile uint *masks = (volatile uint *) RTR_MCMASK_BASE;
    uint cpsr = cpu_int_disable();

    ram[entry] = phys_route;
    keys[entry] = key;
    masks[entry] = mask;
    cpu_int_restore(cpsr);
    return SUCCESS;
}

// ---------------------------------------------------------------------------
// Identity and small services

uint spin1_get_core_id(void)
{
    return sark.virt_cpu;
}

uint spin1_get_chip_id(void)
{
    return sv->p2p_addr;
}

uint spin1_get_id(void)
{
    return ((uint) sv->p2p_addr << 5) | sark.virt_cpu;
}

void *spin1_malloc(uint bytes)
{
    return sark_alloc(bytes, 1);
}

void spin1_memcpy(void *dst, void const *src, uint len)
{
    sark_memcpy(dst, src, len);
}

// Linear congruential generator (Numerical Recipes constants).
void spin1_srand(uint seed)
{
    rand_seed = seed;
}

uint spin1_rand(void)
{
    rand_seed = rand_seed * 1664525u + 1013904223u;
    return rand_seed;
}

void spin1_led_control(uint p)
{
    (void) p;
}
