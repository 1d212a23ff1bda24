// SPDX-License-Identifier: GPL-2.0-or-later
//! Multicast routing-table minimisation.
//!
//! A SpiNNaker router is a TCAM: entry `i` matches key `k` iff
//! `(k & mask[i]) == key[i]`, and the lowest-index matching entry decides the
//! route. Packets that match nothing and arrive on link `l` leave on the
//! opposite link `(l + 3) % 6` ("default routing"); unmatched packets from
//! local cores are dropped.
//!
//! A generator naturally emits one entry per (source, destination set), which
//! easily exceeds the 1023 usable entries. [`minimise`] shrinks such a table
//! with Ordered Covering (Mundy et al., 2016), which exploits the priority
//! order: a general entry may cover keys that belong to other routes as long
//! as more specific entries above it catch those keys first.

pub mod examples;

use std::collections::BTreeMap;

/// One multicast routing entry: packets whose key matches `key` under `mask` go to `route`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Entry {
    /// The values a packet key must have in the bits `mask` selects.
    pub key: u32,
    /// Which key bits matter (1 = must equal `key`, 0 = don't care).
    pub mask: u32,
    /// Where matching packets go: bits 0..5 links, bits 6..23 physical cores.
    pub route: u32,
    /// Links the packets arrive on, when known (bit l = link l), and [`SOURCE_LOCAL`] when
    /// they also come from a core of this chip; lets default routes be removed safely.
    pub sources: u8,
}

impl Entry {
    /// An entry whose packet sources are unknown, so it is never mistaken for a default route.
    pub const fn new(key: u32, mask: u32, route: u32) -> Self {
        Entry {
            key,
            mask,
            route,
            sources: 0,
        }
    }

    /// Whether a packet carrying `key` matches this entry.
    pub const fn matches(&self, key: u32) -> bool {
        key & self.mask == self.key
    }

    /// Whether any key can match at all: a key bit set outside the mask can
    /// never be matched (SARK writes cleared entries this way).
    pub const fn is_matchable(&self) -> bool {
        self.key & !self.mask == 0
    }

    /// Whether some key matches both entries.
    pub const fn overlaps(&self, other: &Entry) -> bool {
        self.is_matchable()
            && other.is_matchable()
            && intersects(self.key, self.mask, other.key, other.mask)
    }

    /// Number of don't-care bits: how many keys (as a power of two) the entry covers.
    pub const fn generality(&self) -> u32 {
        (!self.mask).count_ones()
    }
}

/// A router's usable entries (1024 minus the one SC&MP keeps).
pub const ROUTER_CAPACITY: usize = 1023;

/// Number of inter-chip links; the route bit of link `l` is bit `l`.
const NUM_LINKS: u32 = 6;

/// Why a table could not be minimised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompressError {
    /// Even fully compressed the table needs more entries than the target.
    #[error(
        "routing table needs {needed} entries after compression, more than the {target} available"
    )]
    TooBig {
        /// Entries left when no further merge was possible.
        needed: usize,
        /// The size the table had to fit.
        target: usize,
    },
    /// Two entries with overlapping keys send the same key to different routes: the table is ambiguous as given.
    #[error(
        "entries {first} and {second} both match key {key:#010x} but route it differently \
         ({first_route:#x} vs {second_route:#x}): the table is ambiguous"
    )]
    Ambiguous {
        /// Index of the earlier entry in the input table.
        first: usize,
        /// Index of the later entry in the input table.
        second: usize,
        /// A key both entries match.
        key: u32,
        /// Route of the earlier entry.
        first_route: u32,
        /// Route of the later entry.
        second_route: u32,
    },
}

/// The route a table gives `key`: the first matching entry's route, None when nothing matches.
pub fn lookup(table: &[Entry], key: u32) -> Option<u32> {
    table.iter().find(|e| e.matches(key)).map(|e| e.route)
}

/// Removes entries a router does not need because default routing does the same: one source link l and route == exactly the opposite link.
///
/// An entry is kept anyway when a later entry overlaps it, because removing
/// it would hand its keys to that later entry instead of to default routing.
/// Entries with unknown sources (`sources == 0`), several sources, any core
/// or several links in the route always stay.
pub fn remove_default_routes(table: &[Entry]) -> Vec<Entry> {
    table
        .iter()
        .enumerate()
        .filter(|&(i, e)| {
            let removable =
                is_default_route(e) && !table[i + 1..].iter().any(|later| later.overlaps(e));
            !removable
        })
        .map(|(_, e)| *e)
        .collect()
}

/// Bit of [`Entry::sources`] saying packets also come from a core of the chip: such packets
/// cannot be default-routed, and the bit survives merges (sources are OR-ed), so a merged
/// entry is never mistaken for a default route.
pub const SOURCE_LOCAL: u8 = 1 << 6;

/// Whether the router would send this entry's packets the same way without it.
fn is_default_route(e: &Entry) -> bool {
    if e.sources.count_ones() != 1 {
        return false;
    }
    let link = e.sources.trailing_zeros();
    link < NUM_LINKS && e.route == 1 << ((link + 3) % NUM_LINKS)
}

/// Minimises `table` (entries with non-overlapping keys, in any order, as a generator produces them) to at most `target` entries with the Ordered Covering algorithm (Mundy et al., "On-chip order-exploiting routing table minimization for a multicast supercomputer network", 2016).
///
/// Entries with the same route are repeatedly merged into one covering
/// key/mask, provided that changes the route of no key an input entry
/// matched. The result is ordered (more specific entries first) and routes
/// every key that matched an input entry exactly as the input did; keys that
/// matched nothing may now match an entry. Entries that can never match
/// (a key bit outside the mask) are dropped. A table that already fits is
/// returned as given (minus such dead entries).
///
/// Overlapping input entries are accepted when they share a route (the key
/// goes the same way whichever wins); otherwise the input's meaning would
/// depend on its order, which this function does not preserve, so it is
/// rejected with [`CompressError::Ambiguous`]. When no merge is left and the
/// table still exceeds `target`, the result is [`CompressError::TooBig`].
pub fn minimise(table: &[Entry], target: usize) -> Result<Vec<Entry>, CompressError> {
    check_unambiguous(table)?;
    let live: Vec<Entry> = table.iter().copied().filter(Entry::is_matchable).collect();
    if live.len() <= target {
        return Ok(live);
    }
    let out = ordered_covering(&live, target);
    if out.len() > target {
        return Err(CompressError::TooBig {
            needed: out.len(),
            target,
        });
    }
    Ok(out)
}

/// Whether the key sets of two normalised (key within mask) patterns meet:
/// they do unless some bit both care about differs.
const fn intersects(key_a: u32, mask_a: u32, key_b: u32, mask_b: u32) -> bool {
    (key_a ^ key_b) & mask_a & mask_b == 0
}

/// Rejects inputs in which two entries with different routes share a key.
/// Pairwise is quadratic, which is cheap next to the minimisation itself.
fn check_unambiguous(table: &[Entry]) -> Result<(), CompressError> {
    let live: Vec<(usize, &Entry)> = table
        .iter()
        .enumerate()
        .filter(|(_, e)| e.is_matchable())
        .collect();
    for (a, &(first, e)) in live.iter().enumerate() {
        for &(second, f) in &live[a + 1..] {
            if e.route != f.route && e.overlaps(f) {
                return Err(CompressError::Ambiguous {
                    first,
                    second,
                    // Both keys agree on commonly cared bits and are zero
                    // elsewhere, so their union lies in both entries.
                    key: e.key | f.key,
                    first_route: e.route,
                    second_route: f.route,
                });
            }
        }
    }
    Ok(())
}

/// An entry of the table being minimised.
#[derive(Debug)]
struct Row {
    key: u32,
    mask: u32,
    route: u32,
    sources: u8,
    /// Don't-care bit count; the table is kept sorted by it so that specific
    /// entries sit above the general ones that may cover them.
    generality: u32,
    /// The input key/mask pairs this row stands for. Only these keys must
    /// keep their route, so only they constrain later merges; the rest of
    /// the row's key space is free to be claimed by anything above it.
    aliases: Vec<(u32, u32)>,
}

impl Row {
    fn from_entry(e: &Entry) -> Self {
        Row {
            key: e.key,
            mask: e.mask,
            route: e.route,
            sources: e.sources,
            generality: e.generality(),
            aliases: vec![(e.key, e.mask)],
        }
    }

    fn to_entry(&self) -> Entry {
        Entry {
            key: self.key,
            mask: self.mask,
            route: self.route,
            sources: self.sources,
        }
    }
}

/// Runs Ordered Covering until the table has at most `target` entries or no
/// merge is possible, returning the table reached either way.
///
/// Invariant kept by every merge: each key of every row's aliases is first
/// matched by a row with that row's route. It holds initially because
/// overlapping input entries share a route, and it implies the output routes
/// every input key as the input did.
///
/// Public so that `benches/compress.rs` can time the algorithm alone: use [`minimise`], which
/// drops dead entries, rejects ambiguous input and reports a table that does not fit. This
/// function assumes input as `minimise` passes it (every entry matchable, overlapping entries
/// sharing a route) and returns the best table it reached, whatever its size.
pub fn ordered_covering(entries: &[Entry], target: usize) -> Vec<Entry> {
    let mut rows: Vec<Row> = entries.iter().map(Row::from_entry).collect();
    // Sorting on every field makes the result independent of input order.
    rows.sort_by_key(|r| (r.generality, r.key, r.mask, r.route, r.sources));
    let mut in_merge = vec![false; rows.len()];
    let mut bounds = BTreeMap::new();
    let mut refreshed = false;
    while rows.len() > target {
        match next_merge(&rows, &mut bounds, &mut in_merge) {
            Some(members) => {
                // The merged route's group changed; its bound is unknown again.
                bounds.remove(&rows[members[0]].route);
                rows = apply_merge(rows, &members);
                refreshed = false;
            }
            // Bounds are estimates, so before giving up look at every
            // route afresh once.
            None if !refreshed => {
                bounds.clear();
                refreshed = true;
            }
            None => break,
        }
    }
    rows.iter().map(Row::to_entry).collect()
}

/// Picks the merge to apply next, as sorted row indices, or None when no
/// route has a merge worth doing.
///
/// Greedy Ordered Covering applies the largest safe merge. Refining every
/// route on every step is costly with many routes, so this is lazy:
/// `bounds` keeps, per route, the goodness (rows saved) its merge had when
/// last refined. A merge mostly makes other merges harder, not easier, so
/// that figure serves as an upper bound; only the route with the highest
/// bound is refined, and its merge is taken if it still beats every other
/// bound, otherwise its bound drops and the next route is tried.
fn next_merge(
    rows: &[Row],
    bounds: &mut BTreeMap<u32, usize>,
    in_merge: &mut [bool],
) -> Option<Vec<usize>> {
    // A BTreeMap keeps the grouping independent of hashing.
    let mut by_route: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        by_route.entry(r.route).or_default().push(i);
    }
    // (bound, group); a merge of n rows saves at most n - 1.
    let mut groups: Vec<(usize, Vec<usize>)> = by_route
        .into_iter()
        .filter(|(_, g)| g.len() >= 2)
        .map(|(route, g)| {
            (
                bounds
                    .get(&route)
                    .map_or(g.len() - 1, |&b| b.min(g.len() - 1)),
                g,
            )
        })
        .collect();
    loop {
        // Highest bound first; ties go to the route appearing first.
        let top =
            (0..groups.len()).max_by_key(|&k| (groups[k].0, std::cmp::Reverse(groups[k].1[0])))?;
        if groups[top].0 == 0 {
            return None;
        }
        let rival = groups
            .iter()
            .enumerate()
            .filter(|&(k, _)| k != top)
            .map(|(_, g)| g.0)
            .max()
            .unwrap_or(0);
        // Refine without a floor so that, when it loses, its bound becomes
        // exact rather than creeping down one rival at a time.
        let group = &groups[top].1;
        let mut best: Option<Vec<usize>> = None;
        for cure in [UpCure::Evict, UpCure::Shrink] {
            let min_goodness = best.as_ref().map_or(0, |m| m.len() - 1);
            if let Some(members) = refine(rows, group, min_goodness, cure, in_merge) {
                best = Some(members);
            }
        }
        let goodness = best.as_ref().map_or(0, |m| m.len() - 1);
        // Good enough if it saves at least as much as any rival could.
        if goodness > 0 && goodness >= rival {
            return best;
        }
        bounds.insert(rows[group[0]].route, goodness);
        groups[top].0 = goodness;
    }
}

/// A candidate merge: rows with one route and the key/mask covering them.
struct Merge {
    route: u32,
    /// Row indices, ascending.
    members: Vec<usize>,
    key: u32,
    mask: u32,
    /// `counts[b][v]`: members that care about bit `b` and have value `v`
    /// there, i.e. how many would survive fixing bit `b` of the merge to `v`.
    counts: [[usize; 2]; 32],
}

impl Merge {
    fn new(rows: &[Row], members: Vec<usize>) -> Self {
        let mut counts = [[0; 2]; 32];
        for &i in &members {
            add_counts(&mut counts, rows[i].key, rows[i].mask, 1);
        }
        let mut merge = Merge {
            route: rows[members[0]].route,
            members,
            key: 0,
            mask: 0,
            counts,
        };
        merge.recompute_cover(rows);
        merge
    }

    /// Recomputes the covering key/mask: the bits every member cares about
    /// and agrees on stay cared, all others become don't-care.
    fn recompute_cover(&mut self, rows: &[Row]) {
        let first = &rows[self.members[0]];
        let mut mask = first.mask;
        let mut differ = 0;
        for &i in &self.members[1..] {
            mask &= rows[i].mask;
            differ |= rows[i].key ^ first.key;
        }
        self.mask = mask & !differ;
        self.key = first.key & self.mask;
    }

    fn generality(&self) -> u32 {
        (!self.mask).count_ones()
    }

    /// Where the merged row would go: below every row at most as general,
    /// which includes all members.
    fn insertion_point(&self, rows: &[Row]) -> usize {
        let g = self.generality();
        rows.partition_point(|r| r.generality <= g)
    }

    /// Whether the merge still removes more than `min_goodness` rows.
    fn beats(&self, min_goodness: usize) -> bool {
        self.members.len() >= 2 && self.members.len() - 1 > min_goodness
    }

    /// Drops the members `keep` rejects.
    fn retain(&mut self, rows: &[Row], mut keep: impl FnMut(usize) -> bool) {
        let counts = &mut self.counts;
        self.members.retain(|&i| {
            let kept = keep(i);
            if !kept {
                add_counts(counts, rows[i].key, rows[i].mask, -1);
            }
            kept
        });
        if !self.members.is_empty() {
            self.recompute_cover(rows);
        }
    }

    /// Down-check: the merged row must not claim keys of an alias of any
    /// other-route row placed below it, since it would now match them first.
    /// Collisions are cured by fixing don't-care bits of the merge (dropping
    /// the members that disagree) one at a time. Returns false when the
    /// merge no longer beats `min_goodness`.
    ///
    /// Which bit to fix matters: a bit on which members and colliding
    /// aliases are spread alike (say a chip coordinate, when every chip has
    /// both routes) halves both and never converges, while a bit that
    /// separates them (say a core number) resolves collisions cheaply. So
    /// each step takes the bit and value maximising the estimated final
    /// size, members kept divided by collisions left.
    fn down_check(&mut self, rows: &[Row], min_goodness: usize) -> bool {
        let mut collisions: Vec<(u32, u32)> = Vec::new();
        // `ccounts[b][v]`: collisions caring about bit `b` with value `v`,
        // i.e. the ones fixing bit `b` to `1 - v` resolves.
        let mut ccounts = [[0usize; 2]; 32];
        // Rows from `scanned` down have been searched. The merge only
        // shrinks, so its insertion point only moves up and rows searched
        // once need no second look beyond the collisions they gave.
        let mut scanned = rows.len();
        loop {
            let below = self.insertion_point(rows);
            for row in &rows[below..scanned] {
                // Same-route keys may be claimed freely; a row's key/mask
                // contains all its aliases, so missing it misses them all.
                if row.route == self.route || !intersects(self.key, self.mask, row.key, row.mask) {
                    continue;
                }
                for &(k, m) in &row.aliases {
                    if intersects(self.key, self.mask, k, m) {
                        collisions.push((k, m));
                        add_counts(&mut ccounts, k, m, 1);
                    }
                }
            }
            scanned = scanned.min(below);
            collisions.retain(|&(k, m)| {
                let keep = intersects(self.key, self.mask, k, m);
                if !keep {
                    add_counts(&mut ccounts, k, m, -1);
                }
                keep
            });
            if collisions.is_empty() {
                return true;
            }

            // (members kept, collisions left, bit, value)
            let mut choice: Option<(usize, usize, u32, u32)> = None;
            let mut free = !self.mask;
            while free != 0 {
                let bit = free.trailing_zeros();
                free &= free - 1;
                for want in 0..2u32 {
                    let kept = self.counts[bit as usize][want as usize];
                    let resolved = ccounts[bit as usize][1 - want as usize];
                    if kept <= min_goodness || kept < 2 || resolved == 0 {
                        continue;
                    }
                    let left = collisions.len() - resolved;
                    let better = choice.is_none_or(|(bk, bl, _, _)| {
                        // kept / max(left, 1) against bk / max(bl, 1),
                        // then more members kept.
                        let (a, b) = (kept * bl.max(1), bk * left.max(1));
                        a > b || (a == b && kept > bk)
                    });
                    if better {
                        choice = Some((kept, left, bit, want));
                    }
                }
            }
            // Without a viable bit the merge cannot beat `min_goodness`.
            let Some((_, _, bit, want)) = choice else {
                return false;
            };
            self.retain(rows, |i| {
                let r = &rows[i];
                (r.mask >> bit) & 1 == 1 && (r.key >> bit) & 1 == want
            });
        }
    }

    /// Up-check: a member moving down to the insertion point passes the
    /// non-member rows between; any with another route that overlaps the
    /// member would then catch the member's keys first. `cure` decides how
    /// such conflicts are resolved. Returns whether the merge changed; it
    /// may stop early once eviction leaves no more than `min_goodness`.
    fn up_check(
        &mut self,
        rows: &[Row],
        cure: UpCure,
        min_goodness: usize,
        in_merge: &mut [bool],
    ) -> bool {
        let end = self.insertion_point(rows);
        for &i in &self.members {
            in_merge[i] = true;
        }
        let mut remaining = self.members.len();
        let mut blocked = false;
        // Bottom-up, because the most general rows sit low and block the
        // most members, so a hopeless merge is found out early.
        'rows: for j in (self.members[0] + 1..end).rev() {
            let row = &rows[j];
            // A row the merge does not reach cannot overlap any member,
            // which lies inside the merge.
            if in_merge[j]
                || row.route == self.route
                || !intersects(self.key, self.mask, row.key, row.mask)
            {
                continue;
            }
            // A row containing the whole merge overlaps every member.
            let covers = self.mask & row.mask == row.mask;
            for &i in self.members.iter().take_while(|&&i| i < j) {
                if in_merge[i]
                    && (covers || intersects(rows[i].key, rows[i].mask, row.key, row.mask))
                {
                    blocked = true;
                    if cure == UpCure::Shrink {
                        // Any block means shrinking; which one is irrelevant.
                        break 'rows;
                    }
                    in_merge[i] = false;
                    remaining -= 1;
                    if remaining < 2 || remaining - 1 <= min_goodness {
                        break 'rows;
                    }
                }
            }
        }
        let keep: Vec<bool> = self.members.iter().map(|&i| in_merge[i]).collect();
        for &i in &self.members {
            in_merge[i] = false;
        }
        if !blocked {
            return false;
        }
        match cure {
            UpCure::Evict => {
                // Blocked members stay in place with the merge's route, so
                // they cannot trouble the others; and the merge only
                // shrinks, so rows already passed stay clear.
                let mut pos = 0;
                self.retain(rows, |_| {
                    pos += 1;
                    keep[pos - 1]
                });
            }
            UpCure::Shrink => {
                // Fix the don't-care bit (and value) that keeps the most
                // members: a more specific merge is inserted higher, and
                // once above a blocking row only that row's aliases (checked
                // by the down-check) constrain it, not its whole key space.
                let mut choice: Option<(usize, u32, u32)> = None;
                let mut free = !self.mask;
                while free != 0 {
                    let bit = free.trailing_zeros();
                    free &= free - 1;
                    for want in 0..2 {
                        let kept = self.counts[bit as usize][want as usize];
                        if choice.is_none_or(|(best, _, _)| kept > best) {
                            choice = Some((kept, bit, want));
                        }
                    }
                }
                match choice {
                    Some((_, bit, want)) => self.retain(rows, |i| {
                        let r = &rows[i];
                        (r.mask >> bit) & 1 == 1 && (r.key >> bit) & 1 == want
                    }),
                    // A merge with no don't-care bits cannot be blocked
                    // unless the input was ambiguous; give up safely.
                    None => self.retain(rows, |_| false),
                }
            }
        }
        true
    }
}

/// How [`Merge::up_check`] resolves members blocked by a row between them
/// and the merge's insertion point. Neither dominates: eviction keeps the
/// merge general, shrinking moves it above the blocking rows, so both are
/// tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UpCure {
    /// Leave the blocked members out of the merge.
    Evict,
    /// Make the merge more specific until nothing blocks it.
    Shrink,
}

/// Adds `delta` to `counts[b][v]` for every bit `b` the pattern cares about,
/// `v` being its value there.
fn add_counts(counts: &mut [[usize; 2]; 32], key: u32, mask: u32, delta: isize) {
    let mut cared = mask;
    while cared != 0 {
        let bit = cared.trailing_zeros();
        cared &= cared - 1;
        let v = ((key >> bit) & 1) as usize;
        counts[bit as usize][v] = counts[bit as usize][v].wrapping_add_signed(delta);
    }
}

/// Shrinks the merge of `group` (all rows of one route) until it is safe,
/// returning its members if it still removes more than `min_goodness` rows.
fn refine(
    rows: &[Row],
    group: &[usize],
    min_goodness: usize,
    cure: UpCure,
    in_merge: &mut [bool],
) -> Option<Vec<usize>> {
    let mut merge = Merge::new(rows, group.to_vec());
    loop {
        if !merge.down_check(rows, min_goodness) {
            return None;
        }
        // Shrinking moves the insertion point up and exposes rows the
        // down-check has not seen, so check again. (The down-check cannot
        // create up-check conflicts: it only shrinks the merge.)
        if !merge.up_check(rows, cure, min_goodness, in_merge) {
            return Some(merge.members);
        }
        if !merge.beats(min_goodness) {
            return None;
        }
    }
}

/// Replaces the members with their merged row, placed below every row at
/// most as general so the table stays sorted by generality.
fn apply_merge(mut rows: Vec<Row>, members: &[usize]) -> Vec<Row> {
    let merge = Merge::new(&rows, members.to_vec());
    let mut merged = Row {
        key: merge.key,
        mask: merge.mask,
        route: merge.route,
        sources: 0,
        generality: merge.generality(),
        aliases: Vec::new(),
    };
    let mut is_member = vec![false; rows.len()];
    for &i in members {
        is_member[i] = true;
        merged.sources |= rows[i].sources;
        merged.aliases.append(&mut rows[i].aliases);
    }
    let mut out = Vec::with_capacity(rows.len() - members.len() + 1);
    let mut pending = Some(merged);
    for (i, row) in rows.into_iter().enumerate() {
        if is_member[i] {
            continue;
        }
        if row.generality > merge.generality() {
            if let Some(m) = pending.take() {
                out.push(m);
            }
        }
        out.push(row);
    }
    out.extend(pending);
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn entries_that_also_carry_local_packets_are_never_default_routes() {
        // Arrives on link 3 (W), leaves on link 0 (E): a default route, unless a local core
        // also sends under this key, which the router would then drop without the entry.
        let e = Entry {
            key: 5,
            mask: !0,
            route: 1,
            sources: 1 << 3,
        };
        assert!(remove_default_routes(&[e]).is_empty());
        let local = Entry {
            sources: (1 << 3) | SOURCE_LOCAL,
            ..e
        };
        assert_eq!(remove_default_routes(&[local]), vec![local]);
        assert_eq!(
            remove_default_routes(&[Entry {
                sources: SOURCE_LOCAL,
                ..e
            }])
            .len(),
            1
        );
    }

    use super::examples::*;
    use super::*;
    use std::time::Instant;

    const A: u32 = 1 << 0;
    const B: u32 = 1 << 7;
    const C: u32 = (1 << 2) | (1 << 10);

    fn link(l: u32) -> u32 {
        1 << l
    }

    fn full(key: u32, route: u32) -> Entry {
        Entry::new(key, 0xFFFF_FFFF, route)
    }

    /// Checks that every listed key routes as the input routed it.
    fn assert_same_routes(input: &[Entry], output: &[Entry], keys: impl IntoIterator<Item = u32>) {
        for k in keys {
            let want = lookup(input, k);
            assert!(want.is_some(), "test key {k:#x} should match the input");
            assert_eq!(lookup(output, k), want, "key {k:#x} rerouted");
        }
    }

    /// Keys inside each input entry: its base, its top and random samples.
    fn sample_keys(rng: &mut Rng, table: &[Entry], per_entry: usize) -> Vec<u32> {
        let mut keys = Vec::new();
        for e in table {
            keys.push(e.key);
            keys.push(e.key | !e.mask);
            for _ in 0..per_entry {
                keys.push(e.key | (rng.next_u32() & !e.mask));
            }
        }
        keys
    }

    #[test]
    fn lookup_takes_the_first_match() {
        let table = [
            Entry::new(0x10, 0xFFFF_FFF0, A),
            Entry::new(0x00, 0xFFFF_FF00, B),
            Entry::new(0x00, 0x0000_0000, C),
        ];
        assert_eq!(lookup(&table, 0x13), Some(A));
        assert_eq!(lookup(&table, 0x23), Some(B));
        assert_eq!(lookup(&table, 0x123), Some(C));
        let reordered = [table[2], table[0], table[1]];
        assert_eq!(lookup(&reordered, 0x13), Some(C));
    }

    #[test]
    fn lookup_misses_return_none_and_dead_entries_never_match() {
        let table = [
            Entry::new(0x10, 0xFFFF_FFF0, A),
            Entry::new(0xFFFF_FFFF, 0, 0xFF00_0000),
        ];
        assert_eq!(lookup(&table, 0x20), None);
        assert_eq!(lookup(&table, 0xFFFF_FFFF), None);
        assert_eq!(lookup(&[], 5), None);
        assert!(!table[1].is_matchable());
        assert!(!table[1].overlaps(&Entry::new(0, 0, A)));
    }

    #[test]
    fn default_routes_are_removed_for_every_link() {
        for l in 0..6 {
            let e = Entry {
                key: l,
                mask: 0xFFFF_FFFF,
                route: link((l + 3) % 6),
                sources: 1 << l,
            };
            assert_eq!(remove_default_routes(&[e]), vec![], "link {l}");
        }
    }

    #[test]
    fn non_default_routes_stay() {
        let keep = [
            // Straight-through shape but unknown sources.
            Entry {
                key: 1,
                mask: !0,
                route: link(3),
                sources: 0,
            },
            // Same link out as in.
            Entry {
                key: 2,
                mask: !0,
                route: link(0),
                sources: 1,
            },
            // Turning onto a neighbouring link.
            Entry {
                key: 3,
                mask: !0,
                route: link(4),
                sources: 1,
            },
            // Opposite link plus a core.
            Entry {
                key: 4,
                mask: !0,
                route: link(3) | (1 << 6),
                sources: 1,
            },
            // Opposite link plus another link.
            Entry {
                key: 5,
                mask: !0,
                route: link(3) | link(2),
                sources: 1,
            },
            // Two sources.
            Entry {
                key: 6,
                mask: !0,
                route: link(3),
                sources: 0b1001,
            },
            // Source bits beyond the six links.
            Entry {
                key: 7,
                mask: !0,
                route: link(4),
                sources: 1 << 7,
            },
            // Only a core.
            Entry {
                key: 8,
                mask: !0,
                route: 1 << 9,
                sources: 1,
            },
        ];
        let gone = Entry {
            key: 9,
            mask: !0,
            route: link(5),
            sources: 1 << 2,
        };
        let mut table = keep.to_vec();
        table.insert(3, gone);
        assert_eq!(remove_default_routes(&table), keep.to_vec());
    }

    #[test]
    fn default_route_stays_when_a_later_entry_would_catch_its_keys() {
        let default = Entry {
            key: 0x10,
            mask: !0,
            route: link(3),
            sources: link(0) as u8,
        };
        let catch_all = Entry::new(0, 0xFFFF_FF00, B);
        assert_eq!(
            remove_default_routes(&[default, catch_all]),
            vec![default, catch_all]
        );
        // An earlier overlapping entry already wins, so removal is harmless.
        assert_eq!(
            remove_default_routes(&[catch_all, default]),
            vec![catch_all]
        );
    }

    #[test]
    fn a_table_that_fits_is_returned_as_given() {
        let table = [full(3, A), full(1, A), full(2, B)];
        assert_eq!(minimise(&table, 3).unwrap(), table.to_vec());
        assert_eq!(minimise(&[], 0).unwrap(), vec![]);
    }

    #[test]
    fn dead_entries_are_dropped() {
        let dead = Entry::new(0xFFFF_FFFF, 0, 0xFF00_0000);
        assert_eq!(minimise(&[full(1, A), dead], 1).unwrap(), vec![full(1, A)]);
    }

    #[test]
    fn eight_consecutive_keys_collapse_to_one_entry() {
        let table: Vec<Entry> = (0..8).rev().map(|k| full(k, A)).collect();
        let out = minimise(&table, 1).unwrap();
        assert_eq!(out, vec![Entry::new(0, !7, A)]);
    }

    #[test]
    fn sources_are_combined_by_merging() {
        let table = [
            Entry {
                key: 0,
                mask: !0,
                route: A,
                sources: 1,
            },
            Entry {
                key: 1,
                mask: !0,
                route: A,
                sources: 4,
            },
        ];
        assert_eq!(
            minimise(&table, 1).unwrap(),
            vec![Entry {
                key: 0,
                mask: !1,
                route: A,
                sources: 5
            }]
        );
    }

    #[test]
    fn interleaved_routes_become_two_entries() {
        let table: Vec<Entry> = (0..16)
            .map(|k| full(k, if k % 2 == 0 { A } else { B }))
            .collect();
        let out = minimise(&table, 2).unwrap();
        assert_eq!(out.len(), 2);
        assert!(out.contains(&Entry::new(0, 0xFFFF_FFF1, A)));
        assert!(out.contains(&Entry::new(1, 0xFFFF_FFF1, B)));
        assert_same_routes(&table, &out, 0..16);
    }

    #[test]
    fn order_lets_an_exception_sit_above_a_covering_entry() {
        // Keys 0..8 go to A except 5, which goes to B: two ordered entries.
        let table: Vec<Entry> = (0..8)
            .map(|k| full(k, if k == 5 { B } else { A }))
            .collect();
        let out = minimise(&table, 2).unwrap();
        assert_eq!(out, vec![full(5, B), Entry::new(0, !7, A)]);
    }

    #[test]
    fn down_check_shrinks_a_merge_that_would_steal_keys() {
        // Merging all of A (0, 1, 0x13) would cover keys of the more general
        // B entry (bit 0 clear, bit 4 set, bits 1-3 and 5 free) placed below it.
        let b = Entry::new(0x10, !0b10_1110, B);
        let table = [full(0, A), full(1, A), full(0x13, A), b];
        let out = minimise(&table, 3).unwrap();
        assert_eq!(out.len(), 3);
        let keys: Vec<u32> = (0..64).filter(|&k| lookup(&table, k).is_some()).collect();
        assert_same_routes(&table, &out, keys);
        // Nothing safe is left to merge.
        assert_eq!(
            minimise(&table, 2),
            Err(CompressError::TooBig {
                needed: 3,
                target: 2
            })
        );
    }

    #[test]
    fn distinct_routes_cannot_fit() {
        let table: Vec<Entry> = (0..2000).map(|k| full(k * 7, k + 1)).collect();
        assert_eq!(
            minimise(&table, ROUTER_CAPACITY),
            Err(CompressError::TooBig {
                needed: 2000,
                target: ROUTER_CAPACITY
            })
        );
    }

    #[test]
    fn overlapping_entries_with_different_routes_are_rejected() {
        let table = [
            full(9, A),
            Entry::new(0x100, 0xFFFF_FF00, B),
            Entry::new(0x1F0, 0xFFFF_FFF0, C),
        ];
        let err = minimise(&table, 1).unwrap_err();
        assert_eq!(
            err,
            CompressError::Ambiguous {
                first: 1,
                second: 2,
                key: 0x1F0,
                first_route: B,
                second_route: C
            }
        );
        assert!(err.to_string().contains("0x000001f0"));
        // Overlap with equal routes is harmless.
        let table = [
            Entry::new(0x100, 0xFFFF_FF00, B),
            Entry::new(0x1F0, 0xFFFF_FFF0, B),
            full(0x1F0, B),
        ];
        assert_eq!(
            minimise(&table, 1).unwrap(),
            vec![Entry::new(0x100, 0xFFFF_FF00, B)]
        );
    }

    #[test]
    fn input_order_does_not_change_the_result() {
        let mut rng = Rng(7);
        let table = random_ternary_table(&mut rng, 300, 4, 12, 3);
        let first = minimise(&table, 50).ok();
        let mut shuffled = table.clone();
        for i in (1..shuffled.len()).rev() {
            shuffled.swap(i, rng.below(i as u64 + 1) as usize);
        }
        assert_eq!(minimise(&shuffled, 50).ok(), first);
        assert_eq!(minimise(&table, 50).ok(), first);
    }

    #[test]
    fn full_compression_of_dense_ternary_tables_keeps_every_route() {
        // Merging until nothing more merges (target 0) exercises every
        // up-check and down-check; the small key space makes them collide.
        let mut rng = Rng(1);
        for round in 0..40 {
            let bits = 8 + (round % 5) as u32;
            let n = rng.range(50, 400);
            let n_routes = rng.range(2, 6);
            let table = random_ternary_table(&mut rng, n, n_routes, bits, 4);
            let out = ordered_covering(&table, 0);
            assert!(out.len() <= table.len());
            let keys: Vec<u32> = (0..1u32 << bits)
                .filter(|&k| lookup(&table, k).is_some())
                .collect();
            assert_same_routes(&table, &out, keys);
        }
    }

    #[test]
    fn random_full_key_tables_keep_every_route() {
        let mut rng = Rng(2);
        for round in 0..12 {
            let n = if round == 0 {
                3000
            } else {
                rng.range(50, 3000)
            };
            let n_routes = rng.range(2, 5);
            let table = random_full_table(&mut rng, n, n_routes);
            match minimise(&table, ROUTER_CAPACITY) {
                Ok(out) => {
                    assert!(out.len() <= ROUTER_CAPACITY);
                    assert_same_routes(&table, &out, table.iter().map(|e| e.key));
                }
                Err(CompressError::TooBig { needed, target }) => {
                    assert!(needed > target);
                    // The best table reached must still be correct.
                    let out = ordered_covering(&table, ROUTER_CAPACITY);
                    assert_same_routes(&table, &out, table.iter().map(|e| e.key));
                }
                Err(e) => panic!("unexpected {e}"),
            }
        }
    }

    #[test]
    fn random_block_tables_keep_every_route() {
        let mut rng = Rng(3);
        for round in 0..10 {
            let n = if round == 0 {
                3000
            } else {
                rng.range(50, 3000)
            };
            let n_routes = rng.range(2, 5);
            let table = random_block_table(&mut rng, n, n_routes);
            let keys = sample_keys(&mut rng, &table, 4);
            match minimise(&table, ROUTER_CAPACITY) {
                Ok(out) => {
                    assert!(out.len() <= ROUTER_CAPACITY);
                    assert_same_routes(&table, &out, keys);
                }
                Err(CompressError::TooBig { needed, target }) => {
                    assert!(needed > target);
                    let out = ordered_covering(&table, ROUTER_CAPACITY);
                    assert_same_routes(&table, &out, keys);
                }
                Err(e) => panic!("unexpected {e}"),
            }
        }
    }

    #[test]
    fn machine_like_table_fits_a_router() {
        let table = machine_table(16); // 4096 entries
        let start = Instant::now();
        let out = minimise(&table, ROUTER_CAPACITY).unwrap();
        let elapsed = start.elapsed();
        eprintln!(
            "machine table: {} -> {} entries in {elapsed:?}",
            table.len(),
            out.len()
        );
        let mut rng = Rng(4);
        assert_same_routes(&table, &out, sample_keys(&mut rng, &table, 2));
        // Determinism.
        assert_eq!(minimise(&table, ROUTER_CAPACITY).unwrap(), out);
    }
}
