// SPDX-License-Identifier: GPL-2.0-or-later
//! SARK's shared data structures as they lie in a chip's memory (hardware notes §11.1–§11.3):
//! heaps (`heap_t` and 8-byte block headers), the `alloc_tag` table, the router-entry copy and
//! its allocator, the `app_data` table, and the system area SC&MP lays out at boot (§11.2).
//!
//! The memory is the only state: the monitor model (`scamp`) and application cores running
//! SARK's own `sark_xalloc`/`sark_xfree`/`rtr_alloc` work on the same words, so whatever one
//! allocates the other sees, as on a board. The algorithms follow the behaviour §11.1 gives
//! (first fit from the address-ordered free list, split when more than a header remains, merge
//! with free neighbours on release); they were written from that description.

use crate::chip::memory::Ram;
use crate::chip::sysram::{SDRAM_SYS, SDRAM_USER_BASE, SV_BASE};
use crate::chip::{system_read, system_write, Shared};

/// Size of `heap_t` {free, first, last, free_bytes}.
pub const HEAP_HEADER: u32 = 16;
/// Size of a block header {next, free}.
pub const BLOCK_HEADER: u32 = 8;
/// `sark_xalloc` flag: tag the block with the app ID in flag bits 15:8 (`ALLOC_ID`).
pub const ALLOC_ID: u32 = 2;
/// `sark_xalloc` flag: a tagged allocation repeated with the same size returns the block it
/// already made (`ALLOC_TAG_RETRY`, which SpiNNMan sets).
pub const ALLOC_TAG_RETRY: u32 = 4;
/// `free` word of an allocated block: this in the top half, (app_id << 8 | tag) below.
const IN_USE: u32 = 0xFFFF_0000;

/// `sv` fields of the booted system area (§6.7).
pub mod sv {
    /// SysRAM heap (`heap_t *`).
    pub const SYSRAM_HEAP: u32 = 0x48;
    /// SDRAM heap (`heap_t *`).
    pub const SDRAM_HEAP: u32 = 0x4C;
    /// Per-core SDRAM buffers (`sdram_bufs`).
    pub const SDRAM_BUFS: u32 = 0x54;
    /// System heap in SDRAM (`heap_t *`).
    pub const SYS_HEAP: u32 = 0xD0;
    /// Copy of the router's MC table (`rtr_entry_t *`).
    pub const RTR_COPY: u32 = 0xD4;
    /// P2P hop table (`uint *`).
    pub const HOP_TABLE: u32 = 0xD8;
    /// The `alloc_tag` table (`block_t **`).
    pub const ALLOC_TAG: u32 = 0xDC;
    /// First free router entry (u16).
    pub const RTR_FREE: u32 = 0xE0;
    /// Count of active P2P addresses (u16).
    pub const P2P_ACTIVE: u32 = 0xE2;
    /// The `app_data` table (`app_data_t *`).
    pub const APP_DATA: u32 = 0xE4;
    /// Virtual-core copy of the router's FR register.
    pub const FR_COPY: u32 = 0xF4;
    /// Board information from the serial ROM (`uint *`; 0 without one).
    pub const BOARD_INFO: u32 = 0xF8;
    /// The SHM pool's `mem_block_t` {free, u16 count, u16 max}.
    pub const SHM_ROOT: u32 = 0x68;
    /// The SHM pool's first buffer.
    pub const SHM_BUF: u32 = 0xE8;
    /// Bit v set while virtual core v has a message for the monitor.
    pub const MBOX_FLAGS: u32 = 0xEC;
}

/// Word access to a chip's System RAM and SDRAM at core addresses (either alias).
#[derive(Clone, Copy)]
pub struct SysMem<'a> {
    /// System RAM.
    pub sysram: &'a Ram,
    /// SDRAM.
    pub sdram: &'a Ram,
}

impl<'a> SysMem<'a> {
    /// The System RAM and SDRAM of a chip's shared blocks.
    pub(crate) fn of(sh: &'a Shared) -> SysMem<'a> {
        SysMem {
            sysram: &sh.sysram,
            sdram: &sh.sdram,
        }
    }
}

impl SysMem<'_> {
    /// The word at `addr` (0 outside System RAM and SDRAM).
    pub fn r32(&self, addr: u32) -> u32 {
        let mut b = [0u8; 4];
        system_read(self.sysram, self.sdram, addr, &mut b);
        u32::from_le_bytes(b)
    }

    /// Writes the word at `addr` (ignored outside System RAM and SDRAM).
    pub fn w32(&self, addr: u32, v: u32) {
        system_write(self.sysram, self.sdram, addr, &v.to_le_bytes());
    }

    /// The half-word at `addr`.
    pub fn r16(&self, addr: u32) -> u16 {
        let mut b = [0u8; 2];
        system_read(self.sysram, self.sdram, addr, &mut b);
        u16::from_le_bytes(b)
    }

    /// Writes the half-word at `addr`.
    pub fn w16(&self, addr: u32, v: u16) {
        system_write(self.sysram, self.sdram, addr, &v.to_le_bytes());
    }

    /// The `sv` word at `field`.
    pub fn sv(&self, field: u32) -> u32 {
        self.r32(SV_BASE + field)
    }

    /// Writes the `sv` word at `field`.
    pub fn set_sv(&self, field: u32, v: u32) {
        self.w32(SV_BASE + field, v)
    }
}

/// One block of a heap, as a host walking it from `first` sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    /// Address of the block header.
    pub addr: u32,
    /// Bytes after the header up to the next block.
    pub size: u32,
    /// `Some(app_id << 8 | tag)` when allocated.
    pub owner: Option<u32>,
}

/// A SARK heap (`heap_t`) at `base` in a chip's memory, with the chip's `alloc_tag` table.
#[derive(Clone, Copy)]
pub struct Heap<'a> {
    mem: SysMem<'a>,
    base: u32,
    /// Address of `sv->alloc_tag` (0: none yet, while SC&MP builds the system heap).
    tags: u32,
}

impl<'a> Heap<'a> {
    /// The heap at `base`, tagging through the table at `tags`.
    pub fn at(mem: SysMem<'a>, base: u32, tags: u32) -> Heap<'a> {
        Heap { mem, base, tags }
    }

    /// The heap whose pointer is in `sv` field `field` (`SDRAM_HEAP`, `SYS_HEAP`, ...), with the
    /// chip's tag table; None while the pointer is 0.
    pub fn from_sv(mem: SysMem<'a>, field: u32) -> Option<Heap<'a>> {
        let base = mem.sv(field);
        (base != 0).then(|| Heap::at(mem, base, mem.sv(sv::ALLOC_TAG)))
    }

    /// `sark_heap_init`: an empty heap over `[base, top)`.
    pub fn init(mem: SysMem<'a>, base: u32, top: u32, tags: u32) -> Heap<'a> {
        let first = base + HEAP_HEADER;
        let last = top - BLOCK_HEADER;
        mem.w32(base, first);
        mem.w32(base + 4, first);
        mem.w32(base + 8, last);
        mem.w32(base + 12, last - first - BLOCK_HEADER);
        mem.w32(first, last);
        mem.w32(first + 4, 0);
        mem.w32(last, 0);
        mem.w32(last + 4, 0);
        Heap { mem, base, tags }
    }

    /// The heap's base address.
    pub fn base(&self) -> u32 {
        self.base
    }

    fn tag_slot(&self, entry: u32) -> Option<u32> {
        (self.tags != 0).then(|| self.tags + 4 * (entry & 0xFFFF))
    }

    /// `sark_xalloc`: a block of `size` bytes owned by (`app_id`, `tag`); 0 on failure (size 0,
    /// tag over 255 or in use, no room).
    pub fn alloc(&self, size: u32, tag: u32, app_id: u32, flags: u32) -> u32 {
        let m = self.mem;
        if size == 0 || tag > 255 {
            return 0;
        }
        let entry = (app_id & 255) << 8 | tag;
        if tag != 0 {
            let held = self.tag_slot(entry).map_or(0, |s| m.r32(s));
            if held != 0 {
                let block = held.wrapping_sub(BLOCK_HEADER);
                let have = m.r32(block).wrapping_sub(held);
                return if flags & ALLOC_TAG_RETRY != 0 && have == size {
                    held
                } else {
                    0
                };
            }
        }
        let Some(need) = size.checked_add(3).map(|s| (s & !3) + BLOCK_HEADER) else {
            return 0;
        };
        let mut prev = 0u32;
        let mut free = m.r32(self.base);
        let mut guard = 0u32;
        while free != 0 && guard < 1 << 20 {
            guard += 1;
            let next = m.r32(free);
            let new = free.wrapping_add(need);
            if new <= free {
                break;
            }
            if new > next {
                prev = free;
                free = m.r32(free + 4);
                continue;
            }
            if u64::from(new) + u64::from(BLOCK_HEADER) < u64::from(next) {
                // Split: the rest stays free, in this block's place on the free list.
                m.w32(new, next);
                m.w32(new + 4, m.r32(free + 4));
                m.w32(free, new);
                m.w32(free + 4, new);
            }
            let after = m.r32(free + 4);
            if prev != 0 {
                m.w32(prev + 4, after);
            } else {
                m.w32(self.base, after);
            }
            m.w32(self.base + 12, m.r32(self.base + 12).wrapping_sub(need));
            m.w32(free + 4, IN_USE + entry);
            let ptr = free + BLOCK_HEADER;
            if tag != 0 {
                if let Some(s) = self.tag_slot(entry) {
                    m.w32(s, ptr);
                }
            }
            return ptr;
        }
        0
    }

    /// The allocated block whose user pointer is `ptr`, walking from `first`.
    fn allocated_block(&self, ptr: u32) -> Option<u32> {
        let block = ptr.checked_sub(BLOCK_HEADER)?;
        self.blocks()
            .into_iter()
            .find(|b| b.addr == block && b.owner.is_some())
            .map(|b| b.addr)
    }

    /// `sark_xfree`; false (and nothing done) when `ptr` is not an allocated block of this heap
    /// (SARK would corrupt its heap instead: a choice of the model).
    pub fn free(&self, ptr: u32) -> bool {
        let m = self.mem;
        let Some(block) = self.allocated_block(ptr) else {
            return false;
        };
        let entry = m.r32(block + 4) & 0xFFFF;
        if entry & 255 != 0 {
            if let Some(s) = self.tag_slot(entry) {
                m.w32(s, 0);
            }
        }
        m.w32(
            self.base + 12,
            m.r32(self.base + 12)
                .wrapping_add(m.r32(block).wrapping_sub(block)),
        );
        let mut prev = 0u32;
        let mut next = m.r32(self.base);
        while next != 0 && next < block {
            prev = next;
            next = m.r32(next + 4);
        }
        m.w32(block + 4, next);
        if prev != 0 {
            m.w32(prev + 4, block);
        } else {
            m.w32(self.base, block);
        }
        if next != 0 && m.r32(block) == next {
            m.w32(block, m.r32(next));
            m.w32(block + 4, m.r32(next + 4));
        }
        if prev != 0 && m.r32(prev) == block {
            m.w32(prev, m.r32(block));
            m.w32(prev + 4, m.r32(block + 4));
        }
        true
    }

    /// `sark_xfree_id`: frees every block of `app_id`; the number freed.
    pub fn free_app(&self, app_id: u32) -> u32 {
        let mine: Vec<u32> = self
            .blocks()
            .into_iter()
            .filter(|b| b.owner.is_some_and(|o| (o >> 8) & 255 == app_id & 255))
            .map(|b| b.addr)
            .collect();
        for &b in &mine {
            self.free(b + BLOCK_HEADER);
        }
        mine.len() as u32
    }

    /// Every block from `first` to the sentinel (at most 2^20: a corrupted heap ends the walk).
    pub fn blocks(&self) -> Vec<Block> {
        let m = self.mem;
        let mut out = Vec::new();
        let mut b = m.r32(self.base + 4);
        while b != 0 && out.len() < 1 << 20 {
            let next = m.r32(b);
            if next == 0 || next <= b {
                break;
            }
            let free = m.r32(b + 4);
            let owner = (free & IN_USE == IN_USE).then_some(free & 0xFFFF);
            out.push(Block {
                addr: b,
                size: next - b - BLOCK_HEADER,
                owner,
            });
            b = next;
        }
        out
    }

    /// `sark_heap_max`: bytes in the largest free block.
    pub fn largest_free(&self) -> u32 {
        let m = self.mem;
        let mut max = 0;
        let mut p = m.r32(self.base);
        let mut guard = 0;
        while p != 0 && guard < 1 << 20 {
            guard += 1;
            let next = m.r32(p);
            if next != 0 {
                max = max.max(next.wrapping_sub(p).wrapping_sub(BLOCK_HEADER));
            }
            p = m.r32(p + 4);
        }
        max
    }

    /// `heap->free_bytes`.
    pub fn free_bytes(&self) -> u32 {
        self.mem.r32(self.base + 12)
    }
}

/// `sark_tag_ptr`: the block of (`tag`, `app_id`) in the chip's `alloc_tag` table, or 0.
pub fn tag_ptr(mem: SysMem<'_>, tag: u32, app_id: u32) -> u32 {
    let table = mem.sv(sv::ALLOC_TAG);
    if table == 0 {
        return 0;
    }
    mem.r32(table + 4 * ((app_id & 255) << 8 | (tag & 255)))
}

/// First router entry the allocator hands out (`RTR_ALLOC_FIRST`; entry 0 is SC&MP's).
pub const RTR_ALLOC_FIRST: u32 = 1;
/// One past the last (`RTR_ALLOC_LAST`).
pub const RTR_ALLOC_LAST: u32 = 1024;
/// Size of an `rtr_entry_t` {u16 next, u16 free, u32 route, u32 key, u32 mask}.
pub const RTR_ENTRY: u32 = 16;
/// Route word of an unused entry in the copy.
pub const RTR_UNUSED_ROUTE: u32 = 0xFF00_0000;

/// The router-entry copy (`sv->rtr_copy`) and its allocator (`sv->rtr_free`).
#[derive(Clone, Copy)]
pub struct RouterCopy<'a> {
    mem: SysMem<'a>,
    base: u32,
}

impl<'a> RouterCopy<'a> {
    /// The chip's copy, or None while `sv->rtr_copy` is 0.
    pub fn of(mem: SysMem<'a>) -> Option<RouterCopy<'a>> {
        let base = mem.sv(sv::RTR_COPY);
        (base != 0).then_some(RouterCopy { mem, base })
    }

    fn at(&self, i: u32) -> u32 {
        self.base + RTR_ENTRY * i
    }

    fn next(&self, i: u32) -> u32 {
        u32::from(self.mem.r16(self.at(i)))
    }

    fn set_next(&self, i: u32, v: u32) {
        self.mem.w16(self.at(i), v as u16)
    }

    fn free_of(&self, i: u32) -> u32 {
        u32::from(self.mem.r16(self.at(i) + 2))
    }

    fn set_free(&self, i: u32, v: u32) {
        self.mem.w16(self.at(i) + 2, v as u16)
    }

    fn head(&self) -> u32 {
        u32::from(self.mem.r16(SV_BASE + sv::RTR_FREE))
    }

    fn set_head(&self, v: u32) {
        self.mem.w16(SV_BASE + sv::RTR_FREE, v as u16)
    }

    /// `rtr_mc_init(start)`: entries from `start` unused, one free block 1..1024.
    pub fn init(&self, start: u32) {
        for i in start..RTR_ALLOC_LAST {
            self.set_entry(i, 0xFFFF_FFFF, 0, RTR_UNUSED_ROUTE);
            self.set_next(i, 0);
            self.set_free(i, 0);
        }
        self.set_head(RTR_ALLOC_FIRST);
        self.set_next(RTR_ALLOC_FIRST, RTR_ALLOC_LAST);
        self.set_free(RTR_ALLOC_FIRST, 0);
        self.set_next(RTR_ALLOC_LAST, 0);
        self.set_free(RTR_ALLOC_LAST, 0);
    }

    /// Writes entry `i`'s key, mask and route (route in SARK's virtual-core form) in the copy.
    pub fn set_entry(&self, i: u32, key: u32, mask: u32, route: u32) {
        let a = self.at(i);
        self.mem.w32(a + 4, route);
        self.mem.w32(a + 8, key);
        self.mem.w32(a + 12, mask);
    }

    /// Marks entry `i` as set by (`virt_cpu`, `app_id`), as `rtr_mc_set` does.
    pub fn mark_set(&self, i: u32, virt_cpu: u8, app_id: u8) {
        self.set_free(i, 0x8000 + (u32::from(virt_cpu) << 8) + u32::from(app_id));
    }

    /// Entry `i` as (key, mask, route).
    pub fn entry(&self, i: u32) -> (u32, u32, u32) {
        let a = self.at(i);
        (
            self.mem.r32(a + 8),
            self.mem.r32(a + 12),
            self.mem.r32(a + 4),
        )
    }

    /// `rtr_alloc_id`: first entry of a block of `size` entries, or 0.
    pub fn alloc(&self, size: u32, app_id: u32) -> u32 {
        if size == 0 {
            return 0;
        }
        let mut prev = 0;
        let mut free = self.head();
        let mut guard = 0;
        while free != 0 && guard <= RTR_ALLOC_LAST {
            guard += 1;
            let next = self.next(free);
            let new = free + size;
            if new > next {
                prev = free;
                free = self.free_of(free);
                continue;
            }
            if new < next {
                self.set_next(new, next);
                self.set_next(free, new);
                self.set_free(new, self.free_of(free));
                self.set_free(free, new);
            }
            if prev != 0 {
                self.set_free(prev, self.free_of(free));
            } else {
                self.set_head(self.free_of(free));
            }
            self.set_free(free, (app_id & 255) | 0x8000);
            return free;
        }
        0
    }

    /// `rtr_free`: frees the allocated block starting at `entry`; its (first, count) when it was
    /// one (the caller clears the entries when asked to). Anything else (outside 1..1023, not an
    /// allocated block) is refused.
    pub fn free(&self, entry: u32) -> Option<(u32, u32)> {
        if !(RTR_ALLOC_FIRST..RTR_ALLOC_LAST).contains(&entry)
            || !self.blocks().iter().any(|b| b.0 == entry && b.2.is_some())
        {
            return None;
        }
        let count = self.next(entry) - entry;
        let mut prev = 0;
        let mut next = self.head();
        while next != 0 && next < entry {
            prev = next;
            next = self.free_of(next);
        }
        self.set_free(entry, next);
        if prev != 0 {
            self.set_free(prev, entry);
        } else {
            self.set_head(entry);
        }
        if next != 0 && self.next(entry) == next {
            self.set_next(entry, self.next(next));
            self.set_free(entry, self.free_of(next));
        }
        if prev != 0 && self.next(prev) == entry {
            self.set_next(prev, self.next(entry));
            self.set_free(prev, self.free_of(entry));
        }
        Some((entry, count))
    }

    /// `rtr_free_id`: frees every block of `app_id`; their (first, count).
    pub fn free_app(&self, app_id: u32) -> Vec<(u32, u32)> {
        let mine: Vec<u32> = self
            .blocks()
            .into_iter()
            .filter(|b| b.2.is_some_and(|o| o & 0xE0FF == 0x8000 | (app_id & 255)))
            .map(|b| b.0)
            .collect();
        mine.into_iter().filter_map(|a| self.free(a)).collect()
    }

    /// Blocks from entry 1: (first, count, Some(free word) when allocated).
    pub fn blocks(&self) -> Vec<(u32, u32, Option<u32>)> {
        let mut out = Vec::new();
        let mut b = RTR_ALLOC_FIRST;
        while b < RTR_ALLOC_LAST && out.len() < RTR_ALLOC_LAST as usize {
            let next = self.next(b);
            if next <= b || next > RTR_ALLOC_LAST {
                break;
            }
            let free = self.free_of(b);
            out.push((b, next - b, (free & 0x8000 != 0).then_some(free)));
            b = next;
        }
        out
    }

    /// `rtr_alloc_max`: entries in the largest free block.
    pub fn largest_free(&self) -> u32 {
        let mut max = 0;
        let mut b = self.head();
        let mut guard = 0;
        while b != 0 && guard <= RTR_ALLOC_LAST {
            guard += 1;
            let next = self.next(b);
            if next != 0 {
                max = max.max(next.saturating_sub(b));
            }
            b = self.free_of(b);
        }
        max
    }
}

/// One `app_data_t` {u8 cores, u8 clean, u8 sema, u8 lead, u32 mask}.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AppData {
    /// Cores running the app on this chip.
    pub cores: u8,
    /// Set once its resources were freed.
    pub clean: u8,
    /// Semaphore (apps' own use).
    pub sema: u8,
    /// Lowest virtual core of the app.
    pub lead: u8,
    /// Virtual cores of the app.
    pub mask: u32,
}

/// Size of an `app_data_t`.
pub const APP_DATA_SIZE: u32 = 8;

/// The `app_data` entry of `app_id` (None while `sv->app_data` is 0).
pub fn app_data(mem: SysMem<'_>, app_id: u8) -> Option<AppData> {
    let t = mem.sv(sv::APP_DATA);
    if t == 0 {
        return None;
    }
    let a = t + APP_DATA_SIZE * u32::from(app_id);
    let w = mem.r32(a);
    Some(AppData {
        cores: w as u8,
        clean: (w >> 8) as u8,
        sema: (w >> 16) as u8,
        lead: (w >> 24) as u8,
        mask: mem.r32(a + 4),
    })
}

/// Writes the `app_data` entry of `app_id`.
pub fn set_app_data(mem: SysMem<'_>, app_id: u8, d: AppData) {
    let t = mem.sv(sv::APP_DATA);
    if t == 0 {
        return;
    }
    let a = t + APP_DATA_SIZE * u32::from(app_id);
    mem.w32(
        a,
        u32::from(d.cores)
            | u32::from(d.clean) << 8
            | u32::from(d.sema) << 16
            | u32::from(d.lead) << 24,
    );
    mem.w32(a + 4, d.mask);
}

/// Where SC&MP's SDRAM heap starts: user SDRAM, with no user area before it (SpiNNMan boots
/// with `sdram_heap` 0, §11.2).
pub const SDRAM_HEAP_BASE: u32 = SDRAM_USER_BASE;
/// Where it ends: the system area (`sv->sdram_sys`).
pub const SDRAM_HEAP_TOP: u32 = SDRAM_SYS;
/// The system heap (`sv->sys_heap`): after the 256 KiB APLX staging area, to the end of SDRAM.
pub const SYS_HEAP_BASE: u32 = SDRAM_SYS + 0x4_0000;
/// End of the system heap.
pub const SYS_HEAP_TOP: u32 = 0x6800_0000;
/// The SysRAM heap (`sv->sysram_heap`): after the default 4 KiB of user SysRAM.
pub const SYSRAM_HEAP_BASE: u32 = 0xE500_1100;
/// End of the SysRAM heap (`SYS_USER_TOP`, where the vcpu blocks start).
pub const SYSRAM_HEAP_TOP: u32 = 0xE500_7000;
/// Per-core SDRAM buffers (`sv->sdram_bufs`).
pub const SDRAM_BUFS: u32 = spinn_hw::map::SDRAM_BASE;
/// Entries of the P2P hop table (one per P2P address).
pub const HOP_TABLE_ENTRIES: u32 = 65536;
/// A hop-table entry no P2PB has reached: id 128, hops 0xFFFF.
pub const HOP_UNSEEN: u32 = 0x8000_FFFF;
/// Entries of the `alloc_tag` table (app_id << 8 | tag).
pub const ALLOC_TAG_ENTRIES: u32 = 65536;
/// Entries of the `app_data` table.
pub const APP_DATA_ENTRIES: u32 = 256;
/// Size of the block whose contents seed `sv->random` (`random_init`).
pub const SEED_BLOCK: u32 = 1024;
/// Size of the netinit `p2p_addr_table` (never freed).
pub const P2P_ADDR_TABLE: u32 = 32 * 1024;

/// Size of an `sdp_msg_t` (`next`, `length`, `checksum`, header, SCP words, 256 data bytes, pad).
pub const SDP_MSG_SIZE: u32 = 292;
/// Buffers in the SHM pool (`sv->num_buf` as booted).
pub const SHM_NUM_BUF: u32 = 7;

/// Where the system-heap blocks of a booted chip are (user pointers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemArea {
    /// The P2P hop table.
    pub hop_table: u32,
    /// The router-entry copy.
    pub rtr_copy: u32,
    /// The `alloc_tag` table.
    pub alloc_tag: u32,
    /// The `app_data` table.
    pub app_data: u32,
    /// The SHM message pool (in the SysRAM heap).
    pub shm_buf: u32,
}

/// Lays out a chip's heaps and SDRAM system area as SC&MP's start-up leaves them (§11.2): the
/// SDRAM heap, the system heap with (in SC&MP's order, all owned by app 0) the hop table, the
/// router copy (entry 0 = `entry0` as (key, mask, route), the rest free), the `alloc_tag` and
/// `app_data` tables, the random-seed block and netinit's P2P address table; and their `sv`
/// pointers; the SysRAM heap with the SHM message pool. `self_p2p` is the chip's own P2P address (hop count 0).
pub fn boot_system_area(mem: SysMem<'_>, self_p2p: u16, entry0: (u32, u32, u32)) -> SystemArea {
    mem.set_sv(sv::SDRAM_BUFS, SDRAM_BUFS);
    let sdram = Heap::init(mem, SDRAM_HEAP_BASE, SDRAM_HEAP_TOP, 0);
    mem.set_sv(sv::SDRAM_HEAP, sdram.base());
    let sys = Heap::init(mem, SYS_HEAP_BASE, SYS_HEAP_TOP, 0);
    mem.set_sv(sv::SYS_HEAP, sys.base());
    let flags = ALLOC_ID; // app 0
    let hop_table = sys.alloc(HOP_TABLE_ENTRIES * 4, 0, 0, flags);
    let hops = HOP_UNSEEN.to_le_bytes().repeat(HOP_TABLE_ENTRIES as usize);
    system_write(mem.sysram, mem.sdram, hop_table, &hops);
    mem.w32(hop_table + 4 * u32::from(self_p2p), 0);
    let rtr_copy = sys.alloc((RTR_ALLOC_LAST + 1) * RTR_ENTRY, 0, 0, flags);
    let alloc_tag = sys.alloc(ALLOC_TAG_ENTRIES * 4, 0, 0, flags);
    let app_data = sys.alloc(APP_DATA_ENTRIES * APP_DATA_SIZE, 0, 0, flags);
    let _seed = sys.alloc(SEED_BLOCK, 0, 0, flags);
    let _p2p_addr = sys.alloc(P2P_ADDR_TABLE, 0, 0, flags);
    mem.set_sv(sv::HOP_TABLE, hop_table);
    mem.set_sv(sv::RTR_COPY, rtr_copy);
    mem.set_sv(sv::ALLOC_TAG, alloc_tag);
    mem.set_sv(sv::APP_DATA, app_data);
    mem.set_sv(sv::FR_COPY, 0);
    mem.set_sv(sv::BOARD_INFO, 0);
    let copy = RouterCopy {
        mem,
        base: rtr_copy,
    };
    copy.set_entry(0, entry0.0, entry0.1, entry0.2);
    copy.init(RTR_ALLOC_FIRST);
    // The SysRAM heap, whose first block is the SHM message pool.
    let sysram = Heap::init(mem, SYSRAM_HEAP_BASE, SYSRAM_HEAP_TOP, 0);
    mem.set_sv(sv::SYSRAM_HEAP, sysram.base());
    let pool = sysram.alloc(SHM_NUM_BUF * SDP_MSG_SIZE, 0, 0, flags);
    for i in 0..SHM_NUM_BUF {
        let buf = pool + i * SDP_MSG_SIZE;
        mem.w32(
            buf,
            if i + 1 < SHM_NUM_BUF {
                buf + SDP_MSG_SIZE
            } else {
                0
            },
        );
    }
    mem.set_sv(sv::SHM_ROOT, pool);
    mem.set_sv(sv::SHM_ROOT + 4, 0);
    mem.set_sv(sv::SHM_BUF, pool);
    mem.set_sv(sv::MBOX_FLAGS, 0);
    SystemArea {
        hop_table,
        rtr_copy,
        alloc_tag,
        app_data,
        shm_buf: pool,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chip::memory::{SDRAM_SIZE, SYSRAM_SIZE};
    use std::rc::Rc;

    fn mems() -> (Rc<Ram>, Rc<Ram>) {
        (
            Ram::new(SYSRAM_SIZE as usize),
            Ram::new(SDRAM_SIZE as usize),
        )
    }

    #[test]
    fn booted_system_heap_is_where_scamp_puts_it() {
        let (sysram, sdram) = mems();
        let mem = SysMem {
            sysram: &sysram,
            sdram: &sdram,
        };
        let area = boot_system_area(mem, 0x0101, (0xFFFF_5554, 0xFFFF_FFFE, 0x40));
        // §11.2: data addresses of the system-heap blocks and what is left free.
        assert_eq!(area.hop_table, 0x6784_0018);
        assert_eq!(area.rtr_copy, 0x6788_0020);
        assert_eq!(area.alloc_tag, 0x6788_4038);
        assert_eq!(area.app_data, 0x678C_4040);
        let sys = Heap::from_sv(mem, sv::SYS_HEAP).unwrap();
        assert_eq!(
            sys.blocks()[6].addr,
            0x678C_CC50,
            "first free block after boot"
        );
        assert_eq!(sys.free_bytes(), 7_549_856);
        assert_eq!(mem.r32(area.hop_table), HOP_UNSEEN);
        assert_eq!(mem.r32(area.hop_table + 4 * 0x0101), 0);
        let copy = RouterCopy::of(mem).unwrap();
        assert_eq!(copy.entry(0), (0xFFFF_5554, 0xFFFF_FFFE, 0x40));
        assert_eq!(copy.entry(5), (0xFFFF_FFFF, 0, RTR_UNUSED_ROUTE));
        assert_eq!(copy.largest_free(), 1023);
        // SpiNNMachine plans with 123,469,792 bytes per chip: the SDRAM heap's largest block.
        let sdram_heap = Heap::from_sv(mem, sv::SDRAM_HEAP).unwrap();
        assert_eq!(sdram_heap.largest_free(), 123_469_792);
        assert_eq!(sdram_heap.free_bytes(), 123_469_792);
        // The SHM pool is the SysRAM heap's first block; one free block is left (CMD_INFO arg3).
        assert_eq!(area.shm_buf, 0xE500_1118);
        let sysram_heap = Heap::from_sv(mem, sv::SYSRAM_HEAP).unwrap();
        assert_eq!(sysram_heap.blocks()[1].addr, 0xE500_1914);
        assert_eq!(sysram_heap.largest_free(), 22_236);
    }

    #[test]
    fn alloc_free_merge_and_tags_in_memory() {
        let (sysram, sdram) = mems();
        let mem = SysMem {
            sysram: &sysram,
            sdram: &sdram,
        };
        boot_system_area(mem, 0, (0, 0, 0));
        let h = Heap::from_sv(mem, sv::SDRAM_HEAP).unwrap();
        let base = SDRAM_HEAP_BASE;
        let a = h.alloc(100, 0, 17, 0);
        assert_eq!(a, base + 16 + 8);
        let b = h.alloc(4, 3, 17, 0);
        assert_eq!(b, a + 100 + 8);
        assert_eq!(tag_ptr(mem, 3, 17), b);
        assert_eq!(h.alloc(4, 3, 17, 0), 0, "tag in use");
        assert_eq!(
            h.alloc(4, 3, 17, ALLOC_TAG_RETRY),
            b,
            "retry of the same request"
        );
        assert_eq!(
            h.alloc(8, 3, 17, ALLOC_TAG_RETRY),
            0,
            "retry with another size"
        );
        assert_eq!(h.alloc(0, 0, 17, 0), 0);
        assert_eq!(h.alloc(u32::MAX, 0, 17, 0), 0);
        assert_eq!(h.alloc(0x7000_0000, 0, 17, 0), 0);
        assert_eq!(mem.r32(b - 4), 0xFFFF_1103, "owner word");
        assert!(h.free(a));
        assert!(!h.free(a), "double free refused");
        assert!(!h.free(7));
        assert_eq!(h.free_app(17), 1);
        assert_eq!(tag_ptr(mem, 3, 17), 0);
        assert_eq!(h.largest_free(), 123_469_792, "everything merged back");
        assert_eq!(h.free_bytes(), 123_469_792);
        assert_eq!(h.blocks().len(), 1);
        // Freeing out of order merges both ways.
        let p: Vec<u32> = (0..4).map(|_| h.alloc(64, 0, 5, 0)).collect();
        assert!(h.free(p[1]) && h.free(p[3]) && h.free(p[2]) && h.free(p[0]));
        assert_eq!(h.blocks().len(), 1);
        assert_eq!(h.largest_free(), 123_469_792);
    }

    #[test]
    fn router_entries_in_the_copy() {
        let (sysram, sdram) = mems();
        let mem = SysMem {
            sysram: &sysram,
            sdram: &sdram,
        };
        boot_system_area(mem, 0, (0, 0, 0));
        let r = RouterCopy::of(mem).unwrap();
        assert_eq!(r.largest_free(), 1023);
        assert_eq!(r.alloc(10, 5), 1);
        assert_eq!(r.alloc(5, 6), 11);
        assert_eq!(r.alloc(2000, 5), 0);
        assert_eq!(r.alloc(0, 5), 0);
        r.set_entry(3, 0x1234, 0xFFFF, 1 << 7);
        r.mark_set(3, 2, 5);
        assert_eq!(r.free_app(5), vec![(1, 10)]);
        assert_eq!(
            r.entry(3),
            (0x1234, 0xFFFF, 1 << 7),
            "freeing without clear leaves the entries"
        );
        assert_eq!(r.free(11), Some((11, 5)));
        assert_eq!(r.free(11), None);
        assert_eq!(r.free(0), None);
        assert_eq!(r.largest_free(), 1023);
        assert_eq!(r.blocks(), vec![(1, 1023, None)]);
    }
}
