// SPDX-License-Identifier: GPL-2.0-or-later
//! Arbitrary bytes as a firmware file: the ELF and APLX loaders must refuse what they cannot
//! load with an error, never panic; what they accept has segments that fit their memory sizes,
//! and an ELF's never overlap.

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
        // An APLX image's writes run in order, so a later one may overwrite an earlier one;
        // an ELF's segments have no order, so they must not overlap.
        if data.starts_with(b"\x7fELF") {
            for w in spans.windows(2) {
                assert!(w[0].1 <= w[1].0, "accepted overlapping ELF segments");
            }
        }
    }
});
