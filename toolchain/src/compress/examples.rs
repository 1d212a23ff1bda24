// SPDX-License-Identifier: GPL-2.0-or-later
//! Example routing tables for the tests and the `compress` benchmark: deterministic random
//! tables of three shapes (full-mask keys, aligned blocks, scattered don't-care bits) and a
//! SpiNNaker-like one, all free of overlaps between different routes.

use super::Entry;

/// SplitMix64: a tiny deterministic generator, so every run builds the same tables.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// The next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A number in `lo..hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below((hi - lo) as u64) as usize
    }
}

/// `n` distinct route words mixing links and cores.
pub fn routes(rng: &mut Rng, n: usize) -> Vec<u32> {
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
pub fn random_full_table(rng: &mut Rng, n: usize, n_routes: usize) -> Vec<Entry> {
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
pub fn random_ternary_table(
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
pub fn random_block_table(rng: &mut Rng, n: usize, n_routes: usize) -> Vec<Entry> {
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
pub fn machine_table(side: u32) -> Vec<Entry> {
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
