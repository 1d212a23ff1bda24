// SPDX-License-Identifier: GPL-2.0-or-later
//
// events: exercises the runtime's less common paths in one run, with
// results that do not depend on timing:
//   - callbacks scheduled before spin1_start run highest priority first;
//   - a preeminent (priority -1, FIQ) timer callback that triggers user
//     events and queues work;
//   - ten multicast packets to itself sent back to back from a queued
//     callback (software TX queue and the CC "TX empty" interrupt), half of
//     them with payload; not from the FIQ callback, where the receive
//     interrupt could not drain them and the router would drop what waits
//     longer than its wait time;
//   - five DMA writes issued back to back (software DMA queue chained by
//     the DMA-done interrupt), DMA_TRANSFER_DONE at priority 0;
//   - spin1_callback_off of the timer from inside its own callback;
//   - spin1_exit with a non-zero code from a user-event callback;
//   - io_printf field widths, padding and conversions.

#include "spin1_api.h"

#define N_PACKETS   10
#define N_DMA       5
#define LAST_TICK   5
#define EXIT_CODE   5

static uint order, ticks_seen, user_seen, dma_ids, mc_rx, mcpl_rx, key_sum;
static uint dma_buf[64];

static void ordered(uint n, uint unused)
{
    (void) unused;
    order = order * 10 + n;
}

static void user(uint arg0, uint arg1)
{
    user_seen++;
    if (arg0 == 1) {
        uint me = spin1_get_core_id();

        for (uint i = 0; i < N_PACKETS; i++)
            spin1_send_mc_packet((me << 16) | i, 0x100 + i, i & 1);
    }
    io_printf(IO_BUF, "user %u %u\n", arg0, arg1);
    if (arg0 == 99)
        spin1_exit(EXIT_CODE);
}

// Runs in the FIQ handler.
static void tick(uint n, uint unused)
{
    (void) unused;
    ticks_seen++;
    if (n == 1) {
        uint me = spin1_get_core_id();

        for (uint i = 0; i < N_DMA; i++)
            spin1_dma_transfer(10 + i,
                               (void *) (SDRAM_USER_BASE + 0x10000 * me +
                                         0x100 * i),
                               dma_buf, DMA_WRITE, sizeof(dma_buf));
    }
    spin1_trigger_user_event(n, 7);
    if (n == LAST_TICK) {
        spin1_callback_off(TIMER_TICK);
        spin1_trigger_user_event(99, 0);
    }
}

static void dma_done(uint id, uint tag)
{
    (void) tag;
    dma_ids = (dma_ids << 4) | id;
}

static void mc(uint key, uint unused)
{
    (void) unused;
    mc_rx++;
    key_sum += key & 0xFFFF;
}

static void mcpl(uint key, uint payload)
{
    mcpl_rx++;
    key_sum += (key & 0xFFFF) + payload;
}

void c_main(void)
{
    uint me = spin1_get_core_id();

    spin1_set_mc_table_entry(me, me << 16, 0xFFFF0000, MC_CORE_ROUTE(me));
    spin1_set_timer_tick(500);
    spin1_callback_on(TIMER_TICK, tick, -1);
    spin1_callback_on(USER_EVENT, user, 1);
    spin1_callback_on(DMA_TRANSFER_DONE, dma_done, 0);
    spin1_callback_on(MC_PACKET_RECEIVED, mc, 2);
    spin1_callback_on(MCPL_PACKET_RECEIVED, mcpl, 3);
    spin1_schedule_callback(ordered, 3, 0, 3);
    spin1_schedule_callback(ordered, 1, 0, 1);
    spin1_schedule_callback(ordered, 2, 0, 2);

    uint rc = spin1_start(SYNC_NOWAIT);

    spin1_set_user(0, order);
    spin1_set_user(1, (ticks_seen << 24) | (user_seen << 16) | rc);
    spin1_set_user(2, dma_ids);
    spin1_set_user(3, (mc_rx << 24) | (mcpl_rx << 16) | key_sum);

    char line[80];

    io_printf(line, "[%5d|%-5d|%05u|%x|%X|%c|%s|%p|%%]", -42, 7, 42,
              0xabcu, 0xabcu, 'z', "str", (void *) 0x1234);
    io_printf(IO_BUF, "%s\n", line);
    io_printf(IO_BUF, "events rc %u order %u dma 0x%x mc %u mcpl %u sum %u\n",
              rc, order, dma_ids, mc_rx, mcpl_rx, key_sum);
}
