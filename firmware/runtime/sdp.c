// SPDX-License-Identifier: GPL-2.0-or-later
//
// sdp.c: SDP between this core and its monitor through the vcpu mailboxes
// and the shared System RAM message pool (see include/sdp.h), and the SCP
// commands a core answers on port 0 (section 11.5 of the reference).

#include "spin1_api.h"
#include "sdp.h"

sdp_msg_t *sark_shmsg_get(void)
{
    uint cpsr = sark_lock_get(LOCK_MSG);
    volatile mem_block_t *root = SV_SHM_ROOT;
    mem_link_t *blk = root->free;

    if (blk != NULL) {
        root->free = blk->next;
        root->count++;
        if (root->count > root->max)
            root->max = root->count;
    }
    sark_lock_free(cpsr, LOCK_MSG);
    return (sdp_msg_t *) blk;
}

void sark_shmsg_free(sdp_msg_t *msg)
{
    uint cpsr = sark_lock_get(LOCK_MSG);
    volatile mem_block_t *root = SV_SHM_ROOT;
    mem_link_t *m = (mem_link_t *) msg;

    m->next = root->free;
    root->free = m;
    root->count--;
    sark_lock_free(cpsr, LOCK_MSG);
}

// Copies length/checksum and the `length` bytes from flags onward, a word at
// a time (both buffers are word aligned).
static void msg_copy(sdp_msg_t *to, const sdp_msg_t *from, uint length)
{
    const uint *s = (const uint *) &from->length;
    uint *d = (uint *) &to->length;
    uint words = 1 + (length + 3) / 4;

    for (uint i = 0; i < words; i++)
        d[i] = s[i];
}

// True once the monitor has taken the message; polls for about `ms`
// milliseconds.  The wait is measured by busy-waiting (spin1_delay_us), not
// by sv->clock_ms, which nothing advances in the simulator.
static uint wait_taken(volatile vcpu_t *vcpu, uint ms)
{
    for (uint t = 0; t <= ms; t++) {
        for (uint us = 0; us < 1000; us += 10) {
            if (vcpu->mbox_mp_cmd == SHM_IDLE)
                return 1;
            sark_delay_us(10);
        }
    }
    return vcpu->mbox_mp_cmd == SHM_IDLE;
}

uint spin1_send_sdp_msg(sdp_msg_t *msg, uint timeout)
{
    uint length = msg->length;

    if (length < SDP_HEADER_LEN || length > SDP_MAX_LENGTH)
        return FAILURE;

    sdp_msg_t *shm = sark_shmsg_get();

    if (shm == NULL)
        return FAILURE;

    msg_copy(shm, msg, length);

    volatile vcpu_t *vcpu = sark.vcpu;
    uint bit = 1u << sark.virt_cpu;

    vcpu->mbox_mp_msg = (uint) shm;
    vcpu->mbox_mp_cmd = SHM_MSG;

    uint cpsr = sark_lock_get(LOCK_MBOX);
    uint flags = *SV_MBOX_FLAGS;

    *SV_MBOX_FLAGS = flags | bit;
    if (flags == 0)
        sc[SC_SET_IRQ] = SC_CODE | (1u << sv->v2p_map[0]);
    sark_lock_free(cpsr, LOCK_MBOX);

    if (wait_taken(vcpu, timeout))
        return SUCCESS;

    // Not taken in time: withdraw it (SARK leaves it posted; we take it back
    // so that the monitor can never read a buffer already returned).
    cpsr = sark_lock_get(LOCK_MBOX);
    uint taken = vcpu->mbox_mp_cmd == SHM_IDLE;

    if (!taken) {
        *SV_MBOX_FLAGS &= ~bit;
        vcpu->mbox_mp_cmd = SHM_IDLE;
    }
    sark_lock_free(cpsr, LOCK_MBOX);
    if (taken)
        return SUCCESS;
    sark_shmsg_free(shm);
    return FAILURE;
}

uint sark_msg_send(sdp_msg_t *msg, uint timeout)
{
    return spin1_send_sdp_msg(msg, timeout);
}

// ---------------------------------------------------------------------------
// Messages from the monitor

// Taken from the DTCM heap when the first message arrives, as SARK takes its
// num_msgs buffers from its heap (not cleared: applications that never get
// SDP pay nothing).
static sdp_msg_t *msg_pool;
static uint msg_used;           // bit i: msg_pool[i] handed out

sdp_msg_t *spin1_msg_get(void)
{
    uint cpsr = cpu_int_disable();
    sdp_msg_t *m = NULL;

    if (msg_pool == NULL)
        msg_pool = sark_alloc(SDP_NUM_MSGS, sizeof(sdp_msg_t));
    for (uint i = 0; msg_pool != NULL && i < SDP_NUM_MSGS; i++) {
        if ((msg_used & (1u << i)) == 0) {
            msg_used |= 1u << i;
            m = &msg_pool[i];
            break;
        }
    }
    cpu_int_restore(cpsr);
    return m;
}

void spin1_msg_free(sdp_msg_t *msg)
{
    uint i = (uint) (msg - msg_pool);

    if (i < SDP_NUM_MSGS) {
        uint cpsr = cpu_int_disable();

        msg_used &= ~(1u << i);
        cpu_int_restore(cpsr);
    }
}

// SCP command and return codes (section 5.4).
#define CMD_VER     0
#define CMD_READ    2
#define CMD_WRITE   3
#define CMD_FILL    5
#define RC_OK       0x80
#define RC_ARG      0x83
#define RC_CMD      0x86

static uint copy_text(uchar *dst, const char *src)
{
    uint n = 0;

    do {
        dst[n] = (uchar) src[n];
    } while (src[n++] != 0);
    return n;
}

// Whether [addr, addr + len) may be touched with accesses of 1 << type bytes.
static uint access_ok(uint addr, uint len, uint type)
{
    return type <= 2 && len <= SDP_BUF_SIZE && (addr & ((1u << type) - 1)) == 0;
}

static void move(void *dst, const void *src, uint len, uint type)
{
    if (type == 2) {
        uint *d = dst;
        const volatile uint *s = src;
        for (uint i = 0; i < len / 4; i++)
            d[i] = s[i];
    } else if (type == 1) {
        ushort *d = dst;
        const volatile ushort *s = src;
        for (uint i = 0; i < len / 2; i++)
            d[i] = s[i];
    } else {
        uchar *d = dst;
        const volatile uchar *s = src;
        for (uint i = 0; i < len; i++)
            d[i] = s[i];
    }
}

// Answers SCP on port 0 in place and sends the reply (whatever the flags
// say, as SARK does).
static void scp_serve(sdp_msg_t *msg)
{
    uint len = 0;
    uint nargs = 0;
    uint rc = RC_OK;

    switch (msg->cmd_rc) {
    case CMD_VER:
        msg->arg1 = ((uint) sv->p2p_addr << 16) | (sark.phys_cpu << 8) | sark.virt_cpu;
        msg->arg2 = 0xFFFF0000u | SDP_BUF_SIZE;
        msg->arg3 = 0;
        len = copy_text(msg->data, "spinn/SpiNNaker");
        len += copy_text(msg->data + len, "4.0.0");
        nargs = 3;
        break;
    case CMD_READ:
        if (!access_ok(msg->arg1, msg->arg2, msg->arg3)) {
            rc = RC_ARG;
            break;
        }
        len = msg->arg2;
        move((uchar *) &msg->arg1, (const void *) msg->arg1, len, msg->arg3);
        break;
    case CMD_WRITE:
        if (!access_ok(msg->arg1, msg->arg2, msg->arg3)) {
            rc = RC_ARG;
            break;
        }
        move((void *) msg->arg1, msg->data, msg->arg2, msg->arg3);
        break;
    case CMD_FILL:
        if ((msg->arg1 & 3) != 0) {
            rc = RC_ARG;
            break;
        }
        for (uint i = 0; i < msg->arg3 / 4; i++)
            ((volatile uint *) msg->arg1)[i] = msg->arg2;
        break;
    default:
        rc = RC_CMD;
    }

    ushort addr = msg->dest_addr;
    uchar port = msg->dest_port;

    msg->dest_addr = msg->srce_addr;
    msg->srce_addr = addr;
    msg->dest_port = msg->srce_port;
    msg->srce_port = port;
    msg->cmd_rc = rc;
    if (rc != RC_OK) {
        nargs = 0;
        len = 0;
    }
    // A read's data starts where arg1 was; other replies carry nargs words.
    msg->length = SDP_HEADER_LEN + 4 + 4 * nargs + len;
    (void) sark_msg_send(msg, 10);
}

sdp_msg_t *sdp_receive(sdp_msg_t *shm)
{
    sdp_msg_t *msg = spin1_msg_get();

    if (msg == NULL) {
        sark_shmsg_free(shm);
        return NULL;
    }
    uint length = shm->length;

    if (length > SDP_MAX_LENGTH)
        length = SDP_MAX_LENGTH;
    msg_copy(msg, shm, length);
    sark_shmsg_free(shm);
    if ((msg->dest_port >> PORT_SHIFT) == 0) {
        scp_serve(msg);
        spin1_msg_free(msg);
        return NULL;
    }
    return msg;
}
