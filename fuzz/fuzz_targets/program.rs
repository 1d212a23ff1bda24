// SPDX-License-Identifier: GPL-2.0-or-later
//! Arbitrary bytes as a firmware file: the ELF and APLX loaders must refuse what they cannot
//! load with an error, never panic, and what they accept must lie inside the core's memories.

#![no_main]

use libfuzzer_sys::fuzz_target;
use spinn_hw::program::Program;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Program::from_bytes("fuzz", "fuzz", data) {
        assert!(!p.segments.is_empty());
        let mut spans: Vec<(u64, u64)> = p
            .segments
            .iter()
            .map(|s| (u64::from(s.addr), u64::from(s.addr) + u64::from(s.mem_size)))
            .collect();
        spans.sort();
        for s in &p.segments {
            assert!(s.data.len() as u64 <= u64::from(s.mem_size));
        }
        for w in spans.windows(2) {
            assert!(w[0].1 <= w[1].0, "accepted overlapping segments");
        }
    }
});
