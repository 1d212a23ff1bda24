// SPDX-License-Identifier: GPL-2.0-or-later
//! Host buffers behind the chip's memories (hardware notes §1.2): private ITCM/DTCM per core,
//! System RAM and SDRAM shared by all cores of a chip, System ROM.
//!
//! Each buffer is mapped into Unicorn engines with `mem_map_ptr`, so the guest and the Rust side
//! (DMA controller, monitor, result extraction) see the same bytes without copies.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::cell::Cell;
use std::rc::Rc;

pub use spinn_hw::map::{
    region_of, Region, DTCM_BASE, DTCM_SIZE, ITCM_BASE, ITCM_SIZE, SDRAM_BASE, SDRAM_BASE_UNBUF,
    SDRAM_SIZE, SYSRAM_BASE, SYSRAM_BASE_UNBUF, SYSRAM_SIZE, SYSROM_BASE, SYSROM_SIZE,
};

const PAGE: usize = 4096;

/// A zero-initialised, page-aligned host buffer that Unicorn engines map directly.
///
/// Shared by `Rc`: the chip, its cores' engines and the DMA controllers hold the same buffer.
/// Every access goes through raw copies because the guest writes the same bytes behind our back.
pub struct Ram {
    ptr: *mut u8,
    len: usize,
    /// The allocation behind `ptr` (`ptr` is rounded up to a page inside it).
    base: *mut u8,
    /// Set when the Rust side wrote into the buffer (engines may hold stale translations).
    dirty_code: Cell<bool>,
}

impl Ram {
    /// Allocates `len` zeroed bytes (a multiple of 4 KiB, as Unicorn maps whole pages).
    pub fn new(len: usize) -> Rc<Ram> {
        assert!(
            len > 0 && len.is_multiple_of(PAGE),
            "RAM size must be whole pages"
        );
        // A small alignment lets the allocator hand out fresh zero pages from the kernel (calloc)
        // instead of clearing 128 MiB of SDRAM by hand; the page alignment is made by rounding.
        let layout = Layout::from_size_align(len + PAGE, 16).expect("valid layout");
        // SAFETY: layout has non-zero size; a null result is handled below.
        let base = unsafe { alloc_zeroed(layout) };
        if base.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        // SAFETY: the rounded pointer stays inside the allocation (it has PAGE bytes to spare).
        let ptr = unsafe { base.add(base.align_offset(PAGE)) };
        Rc::new(Ram {
            ptr,
            len,
            base,
            dirty_code: Cell::new(false),
        })
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for a zero-sized buffer (never: kept for API completeness).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Raw pointer for `mem_map_ptr`.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// Copies `buf.len()` bytes from `offset`; false (and nothing read) when out of range.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> bool {
        if offset
            .checked_add(buf.len())
            .is_none_or(|end| end > self.len)
        {
            return false;
        }
        // SAFETY: range checked above; the buffer lives as long as self.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr.add(offset), buf.as_mut_ptr(), buf.len()) };
        true
    }

    /// Copies `data` to `offset`; false (and nothing written) when out of range.
    pub fn write(&self, offset: usize, data: &[u8]) -> bool {
        if offset
            .checked_add(data.len())
            .is_none_or(|end| end > self.len)
        {
            return false;
        }
        // SAFETY: range checked above; the buffer lives as long as self.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.add(offset), data.len()) };
        self.dirty_code.set(true);
        true
    }

    /// Reads a little-endian word at `offset` (0 when out of range).
    pub fn read_u32(&self, offset: usize) -> u32 {
        let mut b = [0u8; 4];
        self.read(offset, &mut b);
        u32::from_le_bytes(b)
    }

    /// Writes a little-endian word at `offset` (ignored when out of range).
    pub fn write_u32(&self, offset: usize, value: u32) {
        self.write(offset, &value.to_le_bytes());
    }

    /// Reads a byte at `offset` (0 when out of range).
    pub fn read_u8(&self, offset: usize) -> u8 {
        let mut b = [0u8; 1];
        self.read(offset, &mut b);
        b[0]
    }

    /// Writes a byte at `offset` (ignored when out of range).
    pub fn write_u8(&self, offset: usize, value: u8) {
        self.write(offset, &[value]);
    }

    /// Returns and clears the "written from the host side" flag.
    pub fn take_dirty(&self) -> bool {
        self.dirty_code.replace(false)
    }

    /// A 64-bit FNV-1a digest of the whole buffer, for determinism checks.
    pub fn digest(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        // SAFETY: the whole buffer is valid for reads.
        let bytes = unsafe { std::slice::from_raw_parts(self.ptr, self.len) };
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            h ^= u64::from_le_bytes(w);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h
    }
}

impl Drop for Ram {
    fn drop(&mut self) {
        let layout = Layout::from_size_align(self.len + PAGE, 16).expect("valid layout");
        // SAFETY: allocated in `new` with the same layout.
        unsafe { dealloc(self.base, layout) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram_bounds_are_checked() {
        let r = Ram::new(4096);
        assert!(r.write(4092, &[1, 2, 3, 4]));
        assert!(!r.write(4093, &[1, 2, 3, 4]));
        assert_eq!(r.read_u32(4092), 0x0403_0201);
        assert!(!r.read(usize::MAX, &mut [0u8; 2]));
    }
}
