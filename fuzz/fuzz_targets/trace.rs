// SPDX-License-Identifier: GPL-2.0-or-later
//! Arbitrary bytes as a trace file: the reader must take what is complete and refuse the rest
//! with an error, never panic; what it reads must go through every trace tool.

#![no_main]

use libfuzzer_sys::fuzz_target;
use spinn_sim::trace;
use spinn_sim::trace_tools;

fuzz_target!(|data: &[u8]| {
    if let Ok(read) = trace::read_complete(data) {
        let r = &read.records;
        let _ = trace_tools::stats(r).to_string();
        let _ = trace_tools::perfetto(r);
        assert!(trace_tools::first_divergence(r, r).is_none());
        if read.truncated_at.is_none() {
            assert_eq!(trace::read_all(data).ok().as_ref(), Some(r));
        }
    }
});
