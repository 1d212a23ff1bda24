// SPDX-License-Identifier: GPL-2.0-or-later
//
// sdp.h: SDP messages between an application core and its monitor, the way SARK
// sends them (hardware reference §5.2, §5.6, §6.4): the message is copied
// into a shared System RAM buffer taken from the monitor's SHM pool
// (sv->shm_root), the buffer is posted in this core's vcpu mailbox
// (mbox_mp_msg, mbox_mp_cmd = SHM_MSG), this core's bit is set in
// sv->mbox_flags under LOCK_MBOX, and the monitor's CPU interrupt is raised
// when no other core had a message waiting.  The monitor takes the message,
// frees the buffer and sets mbox_mp_cmd back to SHM_IDLE.
//
// Our own declarations; names and layouts follow SARK so that application
// sources stay compatible.  Implemented in runtime/sdp.c.

#ifndef SDP_H
#define SDP_H

#include "sark.h"

#define SDP_BUF_SIZE    256         // bytes of data[] after the SCP arguments
#define SDP_HEADER_LEN  8           // flags .. srce_addr
#define SCP_HEADER_LEN  16          // cmd_rc, seq, arg1..arg3
// Largest msg->length (counted from flags): header, SCP words, data.
#define SDP_MAX_LENGTH  (SDP_HEADER_LEN + SCP_HEADER_LEN + SDP_BUF_SIZE)

#define PORT_SHIFT      5
#define PORT_MASK       0xE0
#define CPU_MASK        0x1F
#define PORT_ETH        0xFF        // dest_port: out of the Ethernet via msg->tag

// SDP header flags.
#define SDPF_REPLY      0x80
#define SDPF_SUM        0x40
#define SDPF_NR         0x20

// Mailbox commands (vcpu mbox_ap_cmd / mbox_mp_cmd).
#define SHM_IDLE        0
#define SHM_MSG         1
#define SHM_NOP         2
#define SHM_SIGNAL      3
#define SHM_CMD         4

// Signals the monitor posts with SHM_SIGNAL (section 6.4).
#define SIG_EXIT        8

// An SDP message as SARK keeps it in memory: 292 bytes.  `length` counts the
// bytes from `flags` onward (8 + 16 + data bytes used).
typedef struct sdp_msg {
    struct sdp_msg *next;   // 0   free-list link while in a pool
    ushort length;          // 4
    ushort checksum;        // 6
    uchar flags;            // 8   SDP header
    uchar tag;              // 9   IP tag (for dest_port PORT_ETH)
    uchar dest_port;        // 10  (port << 5) | virtual core, or PORT_ETH
    uchar srce_port;        // 11
    ushort dest_addr;       // 12  (x << 8) | y
    ushort srce_addr;       // 14
    ushort cmd_rc;          // 16  SCP header / start of the SDP data
    ushort seq;             // 18
    uint arg1;              // 20
    uint arg2;              // 24
    uint arg3;              // 28
    uchar data[SDP_BUF_SIZE];   // 32
    uint _pad;              // 288
} sdp_msg_t;

_Static_assert(sizeof(sdp_msg_t) == 292, "sdp_msg_t must be 292 bytes");
_Static_assert(__builtin_offsetof(sdp_msg_t, flags) == 8, "sdp_msg_t layout");
_Static_assert(__builtin_offsetof(sdp_msg_t, cmd_rc) == 16, "sdp_msg_t layout");
_Static_assert(__builtin_offsetof(sdp_msg_t, data) == 32, "sdp_msg_t layout");

// A pool of equal blocks linked through their first word (SARK's
// mem_block_t); sv->shm_root at sv + 0x68 is the monitor's SHM pool.
typedef struct mem_link {
    struct mem_link *next;
} mem_link_t;

typedef struct mem_block {
    mem_link_t *free;
    ushort count;           // blocks taken
    ushort max;             // high-water mark of count
} mem_block_t;

// sv fields used here (offsets in sv_t, §6.7).
#define SV_SHM_ROOT     ((volatile mem_block_t *) (SV_SV + 0x68))
#define SV_SHM_BUF      ((void * volatile *) (SV_SV + 0xE8))
#define SV_MBOX_FLAGS   ((volatile uint *) (SV_SV + 0xEC))

// Sends `msg` (msg->length bytes from flags onward) to this chip's monitor,
// which routes it (dest_port PORT_ETH: out of the Ethernet through IP tag
// msg->tag).  Waits up to about `timeout` ms for the monitor to take it.
// Returns SUCCESS (1) once taken; FAILURE (0) when the length is out of
// range, the SHM pool is empty (or absent: no monitor), or the monitor did
// not take the message in time (the message is then withdrawn).
uint spin1_send_sdp_msg(sdp_msg_t *msg, uint timeout);

// Messages from the monitor: a DTCM pool of SDP_NUM_MSGS buffers.  An SDP
// message for a port other than 0 is copied into one and given to the
// SDP_PACKET_RX callback as (msg, port); the application returns it with
// spin1_msg_free.  Port 0 carries SCP to the core itself: the runtime
// answers CMD_VER, CMD_READ, CMD_WRITE and CMD_FILL as SARK does.  With no
// free buffer, or no callback, the message is dropped.
#define SDP_NUM_MSGS    4
sdp_msg_t *spin1_msg_get(void);
void spin1_msg_free(sdp_msg_t *msg);

// Runtime internal: the monitor posted `shm` (an SHM pool buffer) in this
// core's mailbox; copies it, returns the buffer to the pool and handles it.
// Returns the message to hand to SDP_PACKET_RX, or NULL when handled here.
sdp_msg_t *sdp_receive(sdp_msg_t *shm);

// Runtime internal: where the mailbox handler hands on an SDP message for a
// port other than 0 (the application frees it) and a signal.  Defaults in
// mailbox.c free and ignore; spin1_api.c replaces them.
void runtime_sdp_rx(sdp_msg_t *msg, uint port);
void runtime_signal(uint signal);

// SARK's names for the same service.
uint sark_msg_send(sdp_msg_t *msg, uint timeout);
sdp_msg_t *sark_shmsg_get(void);
void sark_shmsg_free(sdp_msg_t *msg);

#endif // SDP_H
