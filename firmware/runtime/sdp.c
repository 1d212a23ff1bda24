// SPDX-License-Identifier: GPL-2.0-or-later
//
// sdp.c: SDP from this core to its monitor through the vcpu mailbox and the
// shared System RAM message pool (see include/sdp.h).  A separate object in
// the runtime archive: applications that send no SDP do not link it.

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
