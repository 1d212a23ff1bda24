// SPDX-License-Identifier: GPL-2.0-or-later
//
// fabric: sends a list of multicast keys and counts what arrives, for the
// multi-chip tests.  The host leaves a parameter block in SDRAM and its
// address in vcpu user0, as the toolchain does for data regions:
//   word 0: packets this core expects to receive
//   word 1: number of keys to send, n
//   word 2: bit 0 set = send with payload (the payload is the key's complement);
//           bits 31:8 = microseconds to wait between two sends (0: back to back)
//   words 3 .. 3+n-1: the keys
// It sends on the first 100 us timer tick and exits once everything expected
// has arrived (or after 50 ticks).  Results: user1 = packets received,
// user2 = wrapping sum of the received keys, user3 = packets sent.

#include "spin1_api.h"

static uint *params;
static uint received, key_sum, sent;

static void got(uint key)
{
    received++;
    key_sum += key;
    spin1_set_user(1, received);
    spin1_set_user(2, key_sum);
    if (received == params[0])
        spin1_exit(0);
}

static void mc(uint key, uint unused)
{
    (void) unused;
    got(key);
}

static void mcpl(uint key, uint payload)
{
    if (payload == ~key)
        got(key);
}

static void tick(uint n, uint unused)
{
    (void) unused;
    if (n == 1) {
        uint with_payload = params[2] & 1;
        uint gap_us = params[2] >> 8;
        for (uint i = 0; i < params[1]; i++) {
            if (i > 0 && gap_us > 0)
                spin1_delay_us(gap_us);
            while (!spin1_send_mc_packet(params[3 + i], ~params[3 + i], with_payload))
                ;
            sent++;
        }
        spin1_set_user(3, sent);
        if (params[0] == 0)
            spin1_exit(0);
    }
    if (n == 50)
        spin1_exit(1);
}

void c_main(void)
{
    params = (uint *) sark_get_user(0);
    spin1_set_timer_tick(100);
    spin1_callback_on(TIMER_TICK, tick, 2);
    spin1_callback_on(MC_PACKET_RECEIVED, mc, 0);
    spin1_callback_on(MCPL_PACKET_RECEIVED, mcpl, 0);
    spin1_start(SYNC_NOWAIT);
}
