// SPDX-License-Identifier: GPL-2.0-or-later
//
// sdp_echo: SDP into a core, in both directions.  Waits for SDP on port 1
// (SDP_PACKET_RX) and answers each message back to where it came from:
//   PING (cmd_rc 0x5E01): answered with PONG (0x5E02), arg1 + 1, arg2 = the
//     port it came on, arg3 = messages received so far, data echoed;
//   PONG: arg1 is recorded in user1 and the sender ((addr << 16) | port/cpu)
//     in user2;
//   STOP (0x5E0F): the core exits.
// user3 counts the messages received.  If user0 holds a peer when the core
// starts ((x << 24) | (y << 16) | core), the core first sends that peer a
// PING with arg1 = 41 (core to core, through the monitors).  Port 0 is the
// runtime's: CMD_VER, CMD_READ, CMD_WRITE and CMD_FILL are answered there.

#include "spin1_api.h"

#define PING 0x5E01
#define PONG 0x5E02
#define STOP 0x5E0F

static sdp_msg_t out;
static uint received;

static void swap_and_send(sdp_msg_t *msg)
{
    ushort addr = msg->dest_addr;
    uchar port = msg->dest_port;

    msg->dest_addr = msg->srce_addr;
    msg->srce_addr = addr;
    msg->dest_port = msg->srce_port;
    msg->srce_port = port;
    msg->flags = 0x07;
    (void) spin1_send_sdp_msg(msg, 10);
}

static void on_sdp(uint m, uint port)
{
    sdp_msg_t *msg = (sdp_msg_t *) m;
    uint cmd = msg->cmd_rc;

    received++;
    spin1_set_user(3, received);
    if (cmd == PING) {
        msg->cmd_rc = PONG;
        msg->arg1 = msg->arg1 + 1;
        msg->arg2 = port;
        msg->arg3 = received;
        swap_and_send(msg);
    } else if (cmd == PONG) {
        spin1_set_user(1, msg->arg1);
        spin1_set_user(2, ((uint) msg->srce_addr << 16) | msg->srce_port);
    }
    spin1_msg_free(msg);
    if (cmd == STOP)
        spin1_exit(0);
}

static void ping_peer(uint peer, uint unused)
{
    (void) unused;
    out.flags = 0x07;
    out.tag = 0;
    out.dest_port = (1 << PORT_SHIFT) | (peer & 31);
    out.srce_port = (1 << PORT_SHIFT) | spin1_get_core_id();
    out.dest_addr = peer >> 16;
    out.srce_addr = spin1_get_chip_id();
    out.cmd_rc = PING;
    out.seq = 0;
    out.arg1 = 41;
    out.arg2 = 0;
    out.arg3 = 0;
    out.length = SDP_HEADER_LEN + SCP_HEADER_LEN;
    (void) spin1_send_sdp_msg(&out, 10);
}

void c_main(void)
{
    uint peer = spin1_get_user(0);

    spin1_callback_on(SDP_PACKET_RX, on_sdp, 1);
    if (peer != 0)
        spin1_schedule_callback(ping_peer, peer, 0, 2);
    io_printf(IO_BUF, "sdp_echo on core %u\n", spin1_get_core_id());
    spin1_start(SYNC_NOWAIT);
    io_printf(IO_BUF, "sdp_echo: %u messages\n", received);
}
