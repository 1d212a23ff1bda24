// SPDX-License-Identifier: GPL-2.0-or-later
//! Tracing overhead: the same multi-chip run (all-to-all over a SpiNN-5) with tracing off,
//! with every event on, and with a narrow filter (drops on one chip), in interleaved repeats.
//!
//! Run: `cargo bench --bench trace`

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use spinn_hw::geometry::MachineDesc;
use spinn_hw::program::Program;
use spinn_sim::trace::{Filter, Kind};
use spinn_sim::{parallel, workloads, CPU_CLK_MHZ};

fn main() {
    let fabric = Arc::new(
        Program::from_file(
            &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("firmware/build/fabric.elf"),
        )
        .unwrap(),
    );
    let base = workloads::all_to_all(MachineDesc::spinn5(), fabric, 2, false);
    let file = std::env::temp_dir().join(format!("spinn-bench-{}.trc", std::process::id()));
    let narrow = Filter {
        chips: vec![(3, 3)],
        kinds: vec![Kind::Drop],
        ..Filter::default()
    };
    let variants: [(&str, Option<Filter>); 3] = [
        ("off", None),
        ("all events", Some(Filter::default())),
        ("narrow filter", Some(narrow)),
    ];
    let mut times = vec![Vec::new(); variants.len()];
    let mut sizes = vec![0u64; variants.len()];
    for _ in 0..3 {
        for (i, (_, filter)) in variants.iter().enumerate() {
            let mut setup = base.clone();
            setup.trace = filter.clone().map(|f| (file.clone(), f));
            let t = Instant::now();
            parallel::run(&setup, 1, 100 * 1000 * CPU_CLK_MHZ).unwrap();
            times[i].push(t.elapsed().as_secs_f64());
            sizes[i] = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
            let _ = std::fs::remove_file(&file);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    let off = median(&mut times[0].clone());
    for (i, (name, _)) in variants.iter().enumerate() {
        let t = median(&mut times[i]);
        let size = if i == 0 {
            String::new()
        } else {
            format!(", trace {} bytes", sizes[i])
        };
        println!(
            "tracing {name:14}: {t:.3} s  ({:.2}x the untraced run{size})",
            t / off
        );
    }
}
