// SPDX-License-Identifier: GPL-2.0-or-later
//
// alloc.c: the shared heaps (SDRAM, SysRAM, the system heap) as SARK lays
// them out, so that blocks this core takes are seen by the monitor and by
// host tools walking the heap (section 11.1 of the reference): a first-fit
// list of free blocks in address order; a block splits when more than a
// header would be left and merges with free neighbours when it is freed.

#include "sark.h"

#define OWNER_MARK 0xFFFF0000u

void *sark_xalloc(heap_t *heap, uint size, uint tag, uint flag)
{
    if (heap == NULL || size == 0 || tag > 255)
        return NULL;

    uint app_id = (flag & ALLOC_ID) ? ((flag >> 8) & 255) : sark.app_id;
    uint entry = (app_id << 8) | tag;

    if (tag != 0 && sv->alloc_tag[entry] != NULL)
        return NULL;
    if (size > 0x7FFFFFF0u)
        return NULL;

    uint need = ((size + 3) & ~3u) + sizeof(block_t);
    uint cpsr = 0;

    if (flag & ALLOC_LOCK)
        cpsr = sark_lock_get(LOCK_HEAP);

    block_t *prev = NULL;
    block_t *blk = heap->free;
    void *result = NULL;

    while (blk != NULL) {
        block_t *next = blk->next;
        block_t *cut = (block_t *) ((char *) blk + need);

        if (cut <= blk)
            break;
        if (cut > next) {
            prev = blk;
            blk = blk->free;
            continue;
        }
        if (cut + 1 < next) {
            // The rest stays free and takes this block's place in the list.
            cut->next = next;
            cut->free = blk->free;
            blk->next = cut;
            blk->free = cut;
        }
        if (prev != NULL)
            prev->free = blk->free;
        else
            heap->free = blk->free;
        heap->free_bytes -= need;
        blk->free = (block_t *) (OWNER_MARK + entry);
        result = blk + 1;
        if (tag != 0)
            sv->alloc_tag[entry] = result;
        break;
    }

    if (flag & ALLOC_LOCK)
        sark_lock_free(cpsr, LOCK_HEAP);
    return result;
}

void sark_xfree(heap_t *heap, void *ptr, uint flag)
{
    if (ptr == NULL)
        rt_error(RTE_NULL);

    uint cpsr = 0;

    if (flag & ALLOC_LOCK)
        cpsr = sark_lock_get(LOCK_HEAP);

    block_t *blk = (block_t *) ptr - 1;
    uint entry = (uint) blk->free & 0xFFFF;

    if ((entry & 255) != 0)
        sv->alloc_tag[entry] = NULL;
    heap->free_bytes += (uint) ((char *) blk->next - (char *) blk);

    block_t *prev = NULL;
    block_t *next = heap->free;

    while (next != NULL && next < blk) {
        prev = next;
        next = next->free;
    }
    blk->free = next;
    if (prev != NULL)
        prev->free = blk;
    else
        heap->free = blk;
    if (next != NULL && blk->next == next) {
        blk->next = next->next;
        blk->free = next->free;
    }
    if (prev != NULL && prev->next == blk) {
        prev->next = blk->next;
        prev->free = blk->free;
    }

    if (flag & ALLOC_LOCK)
        sark_lock_free(cpsr, LOCK_HEAP);
}

void *sark_tag_ptr(uint tag, uint app_id)
{
    if (app_id == 0)
        app_id = sark.app_id;
    return sv->alloc_tag[((app_id & 255) << 8) | (tag & 255)];
}
