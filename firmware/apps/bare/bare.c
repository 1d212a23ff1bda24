// SPDX-License-Identifier: GPL-2.0-or-later
//
// bare: a bare-metal application that uses no runtime code at all.  It
// finds its own vcpu block from the hardware (DMA_STAT[31:24] = physical
// core, sv->p2v_map -> virtual core), writes its results there and marks
// itself EXIT directly.

#include "sark.h"

void bare_main(uint r0);

void bare_main(uint r0)
{
    uint phys = dma[DMA_STAT] >> DMA_ID_SHIFT;
    uint virt = sv->p2v_map[phys];
    volatile vcpu_t *vcpu = sv_vcpu + virt;

    vcpu->user0 = 0xB00B;
    vcpu->user1 = r0;           // (app_flags << 8) | app_id
    vcpu->user2 = phys;
    vcpu->user3 = virt;
    vcpu->cpu_state = CPU_STATE_EXIT;
}
