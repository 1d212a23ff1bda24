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

use spinn_toolchain::compress::{
    minimise, ordered_covering, CompressError, Entry, ROUTER_CAPACITY,
};

/// SplitMix64: a tiny deterministic generator, so every run times the same tables.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// `n` distinct route words mixing links and cores.
fn routes(rng: &mut Rng, n: usize) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::new();
    while out.len() < n {
        let r = rng.next_u32() & 0x00FF_FFFF;
        if r != 0 && !out.contains(&r) {
            out.push(r);
        }
    }
    out
}

/// Distinct random keys with full masks.
fn random_full_table(rng: &mut Rng, n: usize, n_routes: usize) -> Vec<Entry> {
    let rs = routes(rng, n_routes);
    let mut seen = std::collections::HashSet::new();
    let mut table = Vec::new();
    while table.len() < n {
        let k = rng.next_u32();
        if seen.insert(k) {
            table.push(Entry::new(
                k,
                0xFFFF_FFFF,
                rs[rng.below(n_routes as u64) as usize],
            ));
        }
    }
    table
}

/// Non-overlapping entries with random (possibly scattered) don't-care bits inside a
/// `bits`-wide key space, so that merges collide often.
fn random_ternary_table(
    rng: &mut Rng,
    n: usize,
    n_routes: usize,
    bits: u32,
    max_x: u32,
) -> Vec<Entry> {
    let rs = routes(rng, n_routes);
    let space = (1u32 << bits) - 1;
    let mut table: Vec<Entry> = Vec::new();
    let mut attempts = 0;
    while table.len() < n && attempts < n * 50 {
        attempts += 1;
        let mut x = 0u32;
        for _ in 0..rng.below(u64::from(max_x) + 1) {
            x |= 1 << rng.below(u64::from(bits));
        }
        let mask = !x;
        let key = rng.next_u32() & space & mask;
        let e = Entry::new(key, mask, rs[rng.below(n_routes as u64) as usize]);
        if !table.iter().any(|t| t.overlaps(&e)) {
            table.push(e);
        }
    }
    table
}

/// Aligned, non-overlapping blocks of 2^s keys anywhere in 32 bits.
fn random_block_table(rng: &mut Rng, n: usize, n_routes: usize) -> Vec<Entry> {
    let rs = routes(rng, n_routes);
    let mut table: Vec<Entry> = Vec::new();
    while table.len() < n {
        let s = rng.below(9) as u32;
        let mask = u32::MAX << s;
        let e = Entry::new(
            rng.next_u32() & mask,
            mask,
            rs[rng.below(n_routes as u64) as usize],
        );
        if !table.iter().any(|t| t.overlaps(&e)) {
            table.push(e);
        }
    }
    table
}

/// A SpiNNaker-like table: key = x<<24 | y<<16 | core<<11, one entry per source core of a
/// `side` x `side` machine, routed by where the source chip lies.
fn machine_table(side: u32) -> Vec<Entry> {
    let mut table = Vec::new();
    for x in 0..side {
        for y in 0..side {
            for p in 1..17 {
                let route = if x < side / 2 {
                    1 << 0
                } else if y < side / 2 {
                    1 << 2
                } else {
                    1 << (6 + p % 3)
                };
                table.push(Entry::new(
                    (x << 24) | (y << 16) | (p << 11),
                    0xFFFF_F800,
                    route,
                ));
            }
        }
    }
    table
}

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
