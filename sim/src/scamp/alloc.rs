// SPDX-License-Identifier: GPL-2.0-or-later
//! The monitor's allocators, modelled on SARK's (hardware notes §6.3; `sark_alloc.c` read for
//! the rules): a first-fit allocator over an address-ordered list of blocks that split on
//! allocation and merge with free neighbours on release. It serves the SDRAM heap (8-byte block
//! headers `{next, free}` kept in SDRAM exactly where SARK keeps them, so a host walking the
//! heap sees SARK's layout) and the router's multicast entries 1..1023.

use std::collections::BTreeMap;

/// Blocks covering `[first, end)`: each starts at a key and runs to the next key (or `end`);
/// `Some(owner)` when allocated.
#[derive(Clone, Debug)]
pub(crate) struct Partition {
    blocks: BTreeMap<u32, Option<u32>>,
    end: u32,
}

impl Partition {
    fn new(first: u32, end: u32) -> Partition {
        Partition { blocks: BTreeMap::from([(first, None)]), end }
    }

    fn block_end(&self, start: u32) -> u32 {
        self.blocks.range(start + 1..).next().map_or(self.end, |(&a, _)| a)
    }

    /// First fit of `need` units; the rest of the block splits off when more than `min_rest`
    /// units remain (SARK leaves no block smaller than its header).
    fn alloc(&mut self, need: u64, min_rest: u64, owner: u32) -> Option<u32> {
        let free: Vec<u32> = self.blocks.iter().filter(|(_, o)| o.is_none()).map(|(&a, _)| a).collect();
        for start in free {
            let end = u64::from(self.block_end(start));
            let new = u64::from(start) + need;
            if new > end {
                continue;
            }
            if new + min_rest < end {
                self.blocks.insert(new as u32, None);
            }
            self.blocks.insert(start, Some(owner));
            return Some(start);
        }
        None
    }

    /// Frees the allocated block starting at `start`, merging with free neighbours; false when
    /// no allocated block starts there.
    fn free(&mut self, start: u32) -> bool {
        if !matches!(self.blocks.get(&start), Some(Some(_))) {
            return false;
        }
        self.blocks.insert(start, None);
        let next = self.block_end(start);
        if next != self.end && self.blocks.get(&next) == Some(&None) {
            self.blocks.remove(&next);
        }
        if let Some((_, None)) = self.blocks.range(..start).next_back() {
            self.blocks.remove(&start);
        }
        true
    }

    fn owner(&self, start: u32) -> Option<u32> {
        self.blocks.get(&start).copied().flatten()
    }

    fn allocated(&self) -> Vec<(u32, u32)> {
        self.blocks.iter().filter_map(|(&a, o)| o.map(|o| (a, o))).collect()
    }

    fn largest_free(&self, overhead: u32) -> u32 {
        self.blocks
            .iter()
            .filter(|(_, o)| o.is_none())
            .map(|(&a, _)| (self.block_end(a) - a).saturating_sub(overhead))
            .max()
            .unwrap_or(0)
    }
}

/// Size of SARK's heap header `{free, first, last, free_bytes}`.
const HEAP_HEADER: u32 = 16;
/// Size of a block header `{next, free}`.
const BLOCK_HEADER: u32 = 8;
/// `sark_xalloc` flag: a tagged allocation repeated with the same size returns the block it
/// already made (SpiNNMan sets it so that a retried request does not fail).
pub(crate) const ALLOC_TAG_RETRY: u32 = 4;

/// A SARK heap (`heap_t` at `base`, blocks up to `top`), tags included (`sv->alloc_tag`).
#[derive(Clone, Debug)]
pub(crate) struct Heap {
    base: u32,
    last: u32,
    blocks: Partition,
    /// (app_id << 8 | tag) → pointer, for tags other than 0.
    tags: BTreeMap<u32, u32>,
    /// `heap->free_bytes`, kept as SARK keeps it (less each request's size, plus each freed
    /// block's size).
    free_bytes: u32,
}

impl Heap {
    /// An empty heap over `[base, top)`, laid out as `sark_heap_init` lays it out.
    pub(crate) fn new(base: u32, top: u32) -> Heap {
        let first = base + HEAP_HEADER;
        let last = top - BLOCK_HEADER;
        Heap { base, last, blocks: Partition::new(first, last), tags: BTreeMap::new(), free_bytes: last - first - BLOCK_HEADER }
    }

    /// `sark_xalloc`: a block of `size` bytes owned by (app_id, tag); 0 on failure (size 0,
    /// tag in use, no room).
    pub(crate) fn alloc(&mut self, size: u32, tag: u32, app_id: u32, flags: u32) -> u32 {
        if size == 0 || tag > 255 {
            return 0;
        }
        let entry = (app_id & 255) << 8 | tag;
        if tag != 0 {
            if let Some(&ptr) = self.tags.get(&entry) {
                let block = ptr - BLOCK_HEADER;
                let have = self.blocks.block_end(block) - block - BLOCK_HEADER;
                return if flags & ALLOC_TAG_RETRY != 0 && have == size { ptr } else { 0 };
            }
        }
        let need = u64::from(size).div_ceil(4) * 4 + u64::from(BLOCK_HEADER);
        let Some(block) = self.blocks.alloc(need, u64::from(BLOCK_HEADER), entry) else { return 0 };
        let ptr = block + BLOCK_HEADER;
        self.free_bytes = self.free_bytes.wrapping_sub(need as u32);
        if tag != 0 {
            self.tags.insert(entry, ptr);
        }
        ptr
    }

    /// `sark_xfree`: false (and nothing done) when `ptr` is not an allocated block (SARK would
    /// corrupt its heap instead).
    pub(crate) fn free(&mut self, ptr: u32) -> bool {
        let Some(block) = ptr.checked_sub(BLOCK_HEADER) else { return false };
        let Some(entry) = self.blocks.owner(block) else { return false };
        if entry & 255 != 0 {
            self.tags.remove(&entry);
        }
        self.free_bytes = self.free_bytes.wrapping_add(self.blocks.block_end(block) - block);
        self.blocks.free(block)
    }

    /// `sark_xfree_id`: frees every block of `app_id`; the number freed.
    pub(crate) fn free_app(&mut self, app_id: u32) -> u32 {
        let mine: Vec<u32> =
            self.blocks.allocated().into_iter().filter(|&(_, e)| (e >> 8) & 255 == app_id).map(|(a, _)| a).collect();
        for &block in &mine {
            self.free(block + BLOCK_HEADER);
        }
        mine.len() as u32
    }

    /// `sark_tag_ptr`: the block of (tag, app_id), or 0.
    pub(crate) fn tag_ptr(&self, tag: u32, app_id: u32) -> u32 {
        self.tags.get(&((app_id & 255) << 8 | (tag & 255))).copied().unwrap_or(0)
    }

    /// `sark_heap_max`: bytes in the largest free block.
    pub(crate) fn largest_free(&self) -> u32 {
        self.blocks.largest_free(BLOCK_HEADER)
    }

    /// `heap->free_bytes`.
    pub(crate) fn free_bytes(&self) -> u32 {
        self.free_bytes
    }

    /// The heap as SARK keeps it in memory: `(address, word)` pairs of the `heap_t` and every
    /// block header (allocated blocks' `free` = 0xFFFF0000 + (app_id << 8 | tag); free blocks
    /// chain to the next free block).
    pub(crate) fn layout(&self) -> Vec<(u32, u32)> {
        let starts: Vec<(u32, Option<u32>)> = self.blocks.blocks.iter().map(|(&a, &o)| (a, o)).collect();
        let free_list: Vec<u32> = starts.iter().filter(|(_, o)| o.is_none()).map(|&(a, _)| a).collect();
        let first = starts.first().map_or(0, |s| s.0);
        let mut words = vec![
            (self.base, free_list.first().copied().unwrap_or(0)),
            (self.base + 4, first),
            (self.base + 8, self.last),
            (self.base + 12, self.free_bytes()),
        ];
        for (i, &(a, owner)) in starts.iter().enumerate() {
            let next = starts.get(i + 1).map_or(self.last, |s| s.0);
            let free = match owner {
                Some(e) => 0xFFFF_0000 + e,
                None => free_list.iter().copied().find(|&f| f > a).unwrap_or(0),
            };
            words.push((a, next));
            words.push((a + 4, free));
        }
        words.push((self.last, 0));
        words.push((self.last + 4, 0));
        words
    }
}

/// First router entry the allocator hands out (`RTR_ALLOC_FIRST`; entry 0 is SC&MP's).
pub(crate) const RTR_ALLOC_FIRST: u32 = 1;
/// One past the last (`RTR_ALLOC_LAST`).
pub(crate) const RTR_ALLOC_LAST: u32 = 1024;

/// Router-entry blocks (`rtr_alloc_id` and friends), owned by app IDs.
#[derive(Clone, Debug)]
pub(crate) struct RouterAlloc {
    blocks: Partition,
}

impl RouterAlloc {
    pub(crate) fn new() -> RouterAlloc {
        RouterAlloc { blocks: Partition::new(RTR_ALLOC_FIRST, RTR_ALLOC_LAST) }
    }

    /// First entry of a block of `size` entries, or 0.
    pub(crate) fn alloc(&mut self, size: u32, app_id: u32) -> u32 {
        if size == 0 {
            return 0;
        }
        self.blocks.alloc(u64::from(size), 0, app_id & 255).unwrap_or(0)
    }

    /// Frees the block starting at `entry`; its entries (first, count) when it was one.
    pub(crate) fn free(&mut self, entry: u32) -> Option<(u32, u32)> {
        if !(RTR_ALLOC_FIRST..RTR_ALLOC_LAST).contains(&entry) {
            return None;
        }
        let count = self.blocks.block_end(entry) - entry;
        self.blocks.free(entry).then_some((entry, count))
    }

    /// Frees every block of `app_id`: their (first, count).
    pub(crate) fn free_app(&mut self, app_id: u32) -> Vec<(u32, u32)> {
        let mine: Vec<u32> = self.blocks.allocated().into_iter().filter(|&(_, o)| o == app_id & 255).map(|(a, _)| a).collect();
        mine.into_iter().filter_map(|a| self.free(a)).collect()
    }

    /// Entries in the largest free block (`rtr_alloc_max`).
    pub(crate) fn largest_free(&self) -> u32 {
        self.blocks.largest_free(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: u32 = 0x6024_0000;
    const TOP: u32 = 0x6780_0000;

    #[test]
    fn empty_heap_matches_spinnmachine_sdram_figure() {
        // SpiNNMachine plans with 123,469,792 bytes per chip: the largest block of this heap.
        let h = Heap::new(BASE, TOP);
        assert_eq!(h.largest_free(), 123_469_792);
        assert_eq!(h.free_bytes(), 123_469_792);
    }

    #[test]
    fn alloc_free_merge_and_tags() {
        let mut h = Heap::new(BASE, TOP);
        let a = h.alloc(100, 0, 17, 0);
        assert_eq!(a, BASE + 16 + 8);
        let b = h.alloc(4, 3, 17, 0);
        assert_eq!(b, a + 100 + 8);
        assert_eq!(h.tag_ptr(3, 17), b);
        assert_eq!(h.alloc(4, 3, 17, 0), 0, "tag in use");
        assert_eq!(h.alloc(4, 3, 17, ALLOC_TAG_RETRY), b, "retry of the same request");
        assert_eq!(h.alloc(8, 3, 17, ALLOC_TAG_RETRY), 0, "retry with another size");
        assert_eq!(h.alloc(0, 0, 17, 0), 0);
        assert_eq!(h.alloc(u32::MAX, 0, 17, 0), 0);
        assert!(h.free(a));
        assert!(!h.free(a), "double free refused");
        assert!(!h.free(7));
        assert_eq!(h.free_app(17), 1);
        assert_eq!(h.tag_ptr(3, 17), 0);
        assert_eq!(h.largest_free(), 123_469_792, "everything merged back");
        assert_eq!(h.free_bytes(), 123_469_792);
        let layout = h.layout();
        assert_eq!(layout[0], (BASE, BASE + 16));
    }

    #[test]
    fn router_entries() {
        let mut r = RouterAlloc::new();
        assert_eq!(r.largest_free(), 1023);
        let a = r.alloc(10, 5);
        assert_eq!(a, 1);
        let b = r.alloc(5, 6);
        assert_eq!(b, 11);
        assert_eq!(r.alloc(2000, 5), 0);
        assert_eq!(r.free_app(5), vec![(1, 10)]);
        assert_eq!(r.free(11), Some((11, 5)));
        assert_eq!(r.free(11), None);
        assert_eq!(r.free(0), None);
        assert_eq!(r.largest_free(), 1023);
    }
}
