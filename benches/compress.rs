// SPDX-License-Identifier: GPL-2.0-or-later
//! Routing-table minimisation (Ordered Covering, `spinn_toolchain::compress`): host time to
//! shrink a SpiNNaker-like table and random tables of three shapes (full-mask keys, aligned
//! blocks, scattered don't-care bits) of 3,000 and 5,000 entries towards a router's 1023. Each
//! table is timed through `minimise` (which first checks the input pairwise for ambiguity) side
//! by side with the covering alone, with the ratio; medians of interleaved repeats. Last, the
//! SpiNNaker-like table merged until nothing more merges (no target).
//!
//! Run: `cargo bench --bench compress` (knob: `REPEATS=N`, default 5).

use std::time::Instant;

use spinn_toolchain::compress::examples::{
    machine_table, random_block_table, random_full_table, random_ternary_table, Rng,
};
use spinn_toolchain::compress::{minimise, ordered_covering, CompressError, ROUTER_CAPACITY};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Seconds taken by `f` and what it returned.
fn timed<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let t = Instant::now();
    let out = f();
    (t.elapsed().as_secs_f64(), out)
}

fn main() {
    let repeats: usize = std::env::var("REPEATS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let mut rng = Rng(11);
    let mut tables = vec![("machine-like".to_string(), machine_table(16))];
    for (n, r) in [
        (3000, 2),
        (3000, 4),
        (3000, 8),
        (3000, 30),
        (3000, 200),
        (5000, 4),
        (5000, 30),
    ] {
        tables.push((
            format!("full-mask {r} routes"),
            random_full_table(&mut rng, n, r),
        ));
        tables.push((
            format!("blocks {r} routes"),
            random_block_table(&mut rng, n, r),
        ));
        tables.push((
            format!("ternary {r} routes"),
            random_ternary_table(&mut rng, n, r, 20, 6),
        ));
    }

    println!("to at most {ROUTER_CAPACITY} entries, medians of {repeats} repeats");
    println!(
        "(minimise: its pairwise input check, then the same covering; ratio: minimise / covering)"
    );
    println!(
        "  {:<22} {:>6} {:>6}  {:>12} {:>12}  ratio",
        "table", "in", "out", "covering", "minimise"
    );
    let (mut total_cover, mut total_min) = (0.0, 0.0);
    for (name, table) in &tables {
        let (mut cover, mut min) = (Vec::new(), Vec::new());
        let mut out_len = 0;
        // Interleaved so that machine noise hits both alike.
        for _ in 0..repeats {
            let (t, out) = timed(|| ordered_covering(table, ROUTER_CAPACITY));
            cover.push(t);
            out_len = out.len();
            let (t, result) = timed(|| minimise(table, ROUTER_CAPACITY));
            min.push(t);
            // The same covering, whether the table fits or not.
            let needed = match result {
                Ok(out) => out.len(),
                Err(CompressError::TooBig { needed, .. }) => needed,
                Err(e) => panic!("{name}: {e}"),
            };
            assert_eq!(needed, out_len, "{name}");
        }
        let (c, m) = (median(cover), median(min));
        total_cover += c;
        total_min += m;
        println!(
            "  {name:<22} {:>6} {out_len:>6}  {:>9.1} ms {:>9.1} ms  {:.2}x",
            table.len(),
            c * 1e3,
            m * 1e3,
            m / c
        );
    }
    println!(
        "  {:<22} {:>6} {:>6}  {:>9.1} ms {:>9.1} ms  {:.2}x",
        "all tables",
        "",
        "",
        total_cover * 1e3,
        total_min * 1e3,
        total_min / total_cover
    );

    // Merging until nothing more merges: the whole run of the algorithm on the machine table.
    let machine = &tables[0].1;
    let runs: Vec<(f64, usize)> = (0..repeats)
        .map(|_| {
            let (t, out) = timed(|| ordered_covering(machine, 0));
            (t, out.len())
        })
        .collect();
    println!(
        "machine-like with no target: {} -> {} entries in {:.1} ms",
        machine.len(),
        runs[0].1,
        median(runs.iter().map(|r| r.0).collect()) * 1e3
    );
}
