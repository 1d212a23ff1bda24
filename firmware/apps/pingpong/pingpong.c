// SPDX-License-Identifier: GPL-2.0-or-later
//
// pingpong: multicast ping-pong between virtual cores 1 and 2 of one chip
// (same ELF on both).
//
// Each core routes keys (core << 16) | x to itself with router entry
// `core`.  On its first timer tick every core sends itself one packet
// without payload (key (core << 16) | 0xFFFF), and core 1 then sends hop 0
// to core 2.  A core receiving hop h replies with hop h + 1 to the other
// core, key (other << 16) | (h + 1), until hop 199, so each core receives
// exactly 100 hops and then stops.  Hop h carries a payload, equal to
// 0x1000 + h, when h % 4 is 0 or 1: payload and no-payload hops alternate
// for each receiver, so both cores exercise both packet kinds.  No-payload
// hops are handled at priority 0 (inside the IRQ handler), payload hops at
// priority 1 (queued).

#include "spin1_api.h"

#define HOPS_PER_CORE  100
#define LAST_HOP       (2 * HOPS_PER_CORE - 1)
#define SELF_HOP       0xFFFF
#define PAYLOAD_BASE   0x1000

static uint me, other;
static uint received, last_key, payload_sum, self_received;

static uint hop_has_payload(uint hop)
{
    return (hop & 3) < 2;
}

static void send_hop(uint hop)
{
    uint key = (other << 16) | hop;

    if (hop_has_payload(hop))
        spin1_send_mc_packet(key, PAYLOAD_BASE + hop, WITH_PAYLOAD);
    else
        spin1_send_mc_packet(key, 0, NO_PAYLOAD);
}

// All bookkeeping happens before the reply is sent: the next packet for
// this core can only arrive after that, and it may be handled at a higher
// priority than the callback that sent the reply.
static void receive(uint key, uint payload, uint with_payload)
{
    uint hop = key & 0xFFFF;

    if (hop == SELF_HOP) {
        self_received++;
        io_printf(IO_BUF, "self packet 0x%08x\n", key);
        return;
    }
    received++;
    last_key = key;
    if (with_payload)
        payload_sum += payload;
    if (received == HOPS_PER_CORE)
        spin1_exit(0);
    if (hop < LAST_HOP)
        send_hop(hop + 1);
}

static void mc_received(uint key, uint unused)
{
    (void) unused;
    receive(key, 0, 0);
}

static void mcpl_received(uint key, uint payload)
{
    receive(key, payload, 1);
}

static void tick(uint n, uint unused)
{
    (void) unused;
    if (n != 1)
        return;
    spin1_send_mc_packet((me << 16) | SELF_HOP, 0, NO_PAYLOAD);
    if (me == 1)
        send_hop(0);
}

void c_main(void)
{
    me = spin1_get_core_id();
    other = (me == 1) ? 2 : 1;

    spin1_set_mc_table_entry(me, me << 16, 0xFFFF0000, MC_CORE_ROUTE(me));
    io_printf(IO_BUF, "pingpong core %u ready\n", me);

    spin1_set_timer_tick(1000);
    spin1_callback_on(TIMER_TICK, tick, 2);
    spin1_callback_on(MC_PACKET_RECEIVED, mc_received, 0);
    spin1_callback_on(MCPL_PACKET_RECEIVED, mcpl_received, 1);

    spin1_start(SYNC_NOWAIT);

    spin1_set_user(0, received);
    spin1_set_user(1, last_key);
    spin1_set_user(2, payload_sum);
    spin1_set_user(3, self_received);
    io_printf(IO_BUF, "received %u last 0x%08x sum %u self %u\n",
              received, last_key, payload_sum, self_received);
}
