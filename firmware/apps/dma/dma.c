// SPDX-License-Identifier: GPL-2.0-or-later
//
// dma: round trip through SDRAM with the runtime's DMA queue.  A 1 KiB
// pattern in DTCM is DMA-written to SDRAM at 0x60240000 + 0x10000 * core,
// read back into a second DTCM buffer and compared.  The write starts from
// a callback scheduled before spin1_start; each DMA_TRANSFER_DONE callback
// (priority 1) starts the next step.

#include "spin1_api.h"

#define WORDS       256
#define BYTES       (WORDS * 4)
#define TAG_WRITE   1
#define TAG_READ    2

static uint pattern[WORDS];
static uint readback[WORDS];
static uint *sdram;
static uint checksum, matches, done_count, ids;

static void start_write(uint a0, uint a1)
{
    (void) a0;
    (void) a1;
    spin1_dma_transfer(TAG_WRITE, sdram, pattern, DMA_WRITE, BYTES);
}

static void dma_done(uint id, uint tag)
{
    done_count++;
    ids = (ids << 8) | id;
    io_printf(IO_BUF, "dma %s done id %u tag %u\n",
              (tag == TAG_WRITE) ? "write" : "read", id, tag);

    if (tag == TAG_WRITE) {
        spin1_dma_transfer(TAG_READ, sdram, readback, DMA_READ, BYTES);
        return;
    }

    matches = 1;
    for (uint i = 0; i < WORDS; i++)
        if (readback[i] != pattern[i])
            matches = 0;
    spin1_exit(0);
}

void c_main(void)
{
    uint core = spin1_get_core_id();

    sdram = (uint *) (SDRAM_USER_BASE + 0x10000 * core);

    // pattern[i] = (i * 0x9E3779B9) ^ 0xA5A5A5A5; checksum = 32-bit sum.
    for (uint i = 0; i < WORDS; i++) {
        pattern[i] = (i * 0x9E3779B9u) ^ 0xA5A5A5A5u;
        readback[i] = 0xDEADBEEF;
        checksum += pattern[i];
    }

    spin1_callback_on(DMA_TRANSFER_DONE, dma_done, 1);
    spin1_schedule_callback(start_write, 0, 0, 1);
    spin1_start(SYNC_NOWAIT);

    spin1_set_user(0, checksum);
    spin1_set_user(1, matches);
    spin1_set_user(2, done_count);
    spin1_set_user(3, ids);
    io_printf(IO_BUF, "dma checksum 0x%08x match %u callbacks %u\n",
              checksum, matches, done_count);
}
