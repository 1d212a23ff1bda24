// SPDX-License-Identifier: GPL-2.0-or-later
//
// mailbox.c: the monitor-to-core mailbox, SARK's sark_int (section 11.5 of
// the reference).  CPU_INT is on from start-up: the handler clears this
// core's system-controller interrupt bit, takes the command from the vcpu
// mailbox and sets it idle; an SDP message is copied out of the SHM pool and
// answered here (port 0) or handed on, a signal is handed on.  What is handed
// on goes to runtime_sdp_rx / runtime_signal: spin1_api.c provides them when
// the application uses the event API; otherwise these defaults free the
// message and ignore the signal, so small applications do not link the whole
// event API.

#include "spin1_api.h"

#define IRQ_HANDLER __attribute__((interrupt("IRQ")))

__attribute__((weak)) void runtime_sdp_rx(sdp_msg_t *msg, uint port)
{
    (void) port;
    spin1_msg_free(msg);
}

__attribute__((weak)) void runtime_signal(uint signal)
{
    (void) signal;
}

static IRQ_HANDLER void cpu_int_irq(void)
{
    volatile vcpu_t *v = sark.vcpu;

    sc[SC_CLR_IRQ] = SC_CODE | (1 << sark.phys_cpu);
    uint cmd = v->mbox_ap_cmd;
    uint arg = v->mbox_ap_msg;

    v->mbox_ap_cmd = SHM_IDLE;
    if (cmd == SHM_MSG) {
        sdp_msg_t *msg = sdp_receive((sdp_msg_t *) arg);

        if (msg != NULL)
            runtime_sdp_rx(msg, msg->dest_port >> PORT_SHIFT);
    } else if (cmd == SHM_SIGNAL) {
        runtime_signal(arg);
    }
    vic[VIC_VADDR] = 0;
}

void runtime_cpu_int_init(void)
{
    vic[VIC_ADDR + SARK_PRIORITY] = (uint) cpu_int_irq;
    vic[VIC_CNTL + SARK_PRIORITY] = VIC_CNTL_ENABLE | CPU_INT;
    vic[VIC_ENABLE] = 1 << CPU_INT;
}
