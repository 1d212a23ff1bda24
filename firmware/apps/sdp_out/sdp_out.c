// SPDX-License-Identifier: GPL-2.0-or-later
//
// sdp_out: sends one SDP message to the host and exits.  The message goes
// out of the Ethernet chip (dest_addr = sv->dbg_addr, dest_port PORT_ETH)
// through IP tag 1, which the host sets beforehand (CMD_IPTAG).  Its SCP
// words are cmd_rc 0x5D0C, seq = virtual core, arg1 = chip id, arg2 = core,
// arg3 = 0x600DF00D, then the text "hello host from core C on chip X,Y"
// (no NUL).  user0 = 0x5D0 when sent, user1 = spin1_send_sdp_msg's result,
// user2 = text length.

#include "spin1_api.h"

static sdp_msg_t msg;

static uint text(char *dst, const char *src)
{
    uint n = 0;

    while (src[n] != 0) {
        dst[n] = src[n];
        n++;
    }
    return n;
}

void c_main(void)
{
    uint chip = spin1_get_chip_id();
    uint core = spin1_get_core_id();
    char line[64];

    io_printf(line, "hello host from core %u on chip %u,%u",
              core, chip >> 8, chip & 0xFF);
    uint n = text((char *) msg.data, line);

    msg.flags = 0x07;                       // no reply expected
    msg.tag = 1;
    msg.dest_port = PORT_ETH;
    msg.srce_port = (1 << PORT_SHIFT) | core;
    msg.dest_addr = sv->dbg_addr;
    msg.srce_addr = chip;
    msg.cmd_rc = 0x5D0C;
    msg.seq = core;
    msg.arg1 = chip;
    msg.arg2 = core;
    msg.arg3 = 0x600DF00D;
    msg.length = SDP_HEADER_LEN + SCP_HEADER_LEN + n;

    uint rc = spin1_send_sdp_msg(&msg, 100);

    io_printf(IO_BUF, "sdp_out: sent %u bytes, rc %u\n", n, rc);
    spin1_set_user(0, 0x5D0);
    spin1_set_user(1, rc);
    spin1_set_user(2, n);
}
