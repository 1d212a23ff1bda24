// SPDX-License-Identifier: GPL-2.0-or-later
//! Summary statistics of a trace (`spinn trace stats`): core activity, packet totals,
//! send-to-deliver latency, the busiest links, where packets were dropped, and callbacks.

use std::collections::BTreeMap;
use std::fmt;

use super::replay::{bounds, by_cycle, initial_modes, CoreId, CoreMachine, Matcher, Mode, Place};
use super::{callback_name, core_list, fmt_us, link_name, state_name, vic_source_name};
use crate::trace::{Event, Record};
use crate::Cycle;

/// How many entries the "busiest links" and "most dropping places" lists of [`Stats`] keep.
pub const TOP: usize = 10;

/// How often a core took one interrupt source.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct IrqCount {
    /// VIC source number.
    pub source: u8,
    /// Its name (`TIMER1`, ...).
    pub name: &'static str,
    /// Taken as FIQ rather than IRQ.
    pub fiq: bool,
    /// Times taken.
    pub count: u64,
}

/// One core's activity over the trace.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CoreStats {
    /// Chip x.
    pub x: u8,
    /// Chip y.
    pub y: u8,
    /// Physical core number.
    pub p: u8,
    /// Cycles running: not between a Sleep and the following Wake, nor halted.
    pub busy_cycles: u64,
    /// Cycles asleep (between a Sleep and the following Wake; before the first Wake when the
    /// core's first sleep record is a Wake).
    pub asleep_cycles: u64,
    /// Cycles after a halting state (DEAD, PWRDN, RTE, WDOG, EXIT), when no code runs.
    pub halted_cycles: u64,
    /// `busy_cycles` over the trace's span (0 for a trace of one instant).
    pub busy_share: f64,
    /// The rest of the span: asleep or halted.
    pub idle_share: f64,
    /// Interrupts taken, by source (IRQs before FIQs, by source number).
    pub interrupts: Vec<IrqCount>,
    /// DMA transfers started.
    pub dma_transfers: u64,
    /// Bytes in those transfers.
    pub dma_bytes: u64,
    /// Packets sent.
    pub sent: u64,
    /// Packets delivered to it.
    pub delivered: u64,
    /// Its last traced `cpu_state`, if any.
    pub last_state: Option<u8>,
}

/// Drops on one chip, by cause. A drop that failed both links and cores counts under both.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ChipDrops {
    /// Chip x.
    pub x: u8,
    /// Chip y.
    pub y: u8,
    /// Drop records.
    pub drops: u64,
    /// Drops that failed on a link (dead, or blocked past the wait times).
    pub links: u64,
    /// Drops that failed on a core (its receive buffer stayed full).
    pub cores: u64,
    /// Drops of packets the router had no route for.
    pub unrouted: u64,
}

/// Packet totals.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PacketStats {
    /// Send records.
    pub sent: u64,
    /// Deliver records (one per receiving core).
    pub delivered: u64,
    /// Deliveries that matched no Send (sent before the trace, or filtered out).
    pub unmatched_deliveries: u64,
    /// Drop records.
    pub dropped: u64,
    /// Emergency records (packets sent round a blocked link).
    pub emergency_routed: u64,
    /// Router hops.
    pub hops: u64,
    /// Link transmissions.
    pub link_outs: u64,
    /// Drops per chip, by cause, for chips that dropped.
    pub drops_by_chip: Vec<ChipDrops>,
}

/// One log2 bucket of the latency histogram: latencies in `from..to` cycles.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LatencyBucket {
    /// Lowest latency in the bucket (cycles).
    pub from: u64,
    /// First latency above the bucket (cycles).
    pub to: u64,
    /// Deliveries in the bucket.
    pub count: u64,
}

/// Send-to-deliver latency of matched deliveries, in cycles.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Latency {
    /// Matched deliveries.
    pub samples: u64,
    /// Smallest.
    pub min: Option<u64>,
    /// Median (the lower middle value for an even count).
    pub median: Option<u64>,
    /// Largest.
    pub max: Option<u64>,
    /// Buckets [0, 1), [1, 2), [2, 4), [4, 8), ... from the first to the last non-empty one.
    pub buckets: Vec<LatencyBucket>,
}

/// Traffic on one link output.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LinkStats {
    /// Chip x.
    pub x: u8,
    /// Chip y.
    pub y: u8,
    /// Link number.
    pub link: u8,
    /// Its direction (`E`, `NE`, ...).
    pub name: &'static str,
    /// Packets that left on it.
    pub packets: u64,
    /// Cycles they waited for it, in total.
    pub queued_cycles: u64,
    /// The longest wait.
    pub max_queued: u64,
    /// Packets detoured onto it by emergency routing.
    pub emergencies: u64,
}

/// An output that failed packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum DropOutput {
    /// A link.
    Link(u8),
    /// A core.
    Core(u8),
    /// No output at all: the router found no route.
    NoRoute,
}

impl fmt::Display for DropOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DropOutput::Link(l) => write!(f, "link {l} ({})", link_name(l)),
            DropOutput::Core(p) => write!(f, "core {p}"),
            DropOutput::NoRoute => write!(f, "no route"),
        }
    }
}

/// Where packets were dropped: a chip and output.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DropPlace {
    /// Chip x.
    pub x: u8,
    /// Chip y.
    pub y: u8,
    /// The failed output.
    pub output: DropOutput,
    /// Packets dropped there.
    pub count: u64,
}

/// A summary of a trace: core activity, packet traffic, latency, hot links and drops.
/// `Display` gives a readable report; serialise it for a machine-readable one.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Stats {
    /// Records in the trace.
    pub records: usize,
    /// Cycle of the earliest record.
    pub first_cycle: Cycle,
    /// Cycle of the latest record.
    pub last_cycle: Cycle,
    /// `last_cycle - first_cycle`: what shares are of.
    pub span_cycles: Cycle,
    /// Every core with a record, in (x, y, p) order.
    pub cores: Vec<CoreStats>,
    /// Packet totals.
    pub packets: PacketStats,
    /// Send-to-deliver latency.
    pub latency: Latency,
    /// Up to [`TOP`] links by packets sent (then by queueing).
    pub busiest_links: Vec<LinkStats>,
    /// Up to [`TOP`] chip outputs by packets dropped.
    pub drop_places: Vec<DropPlace>,
    /// Runtime callbacks per core and kind: how many ran and the cycles they took.
    pub callbacks: Vec<CallbackStats>,
}

/// One core's callbacks of one kind.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CallbackStats {
    /// Chip x.
    pub x: u8,
    /// Chip y.
    pub y: u8,
    /// Physical core.
    pub p: u8,
    /// The spin1 event (8: scheduled).
    pub event: u8,
    /// Its name.
    pub name: &'static str,
    /// Callbacks that ran to completion.
    pub count: u64,
    /// Cycles between entry and exit, nested callbacks included.
    pub cycles: u64,
}

#[derive(Default)]
struct CoreAcc {
    irqs: BTreeMap<(bool, u8), u64>,
    dma_transfers: u64,
    dma_bytes: u64,
    sent: u64,
    delivered: u64,
    last_state: Option<u8>,
}

/// Log2 bucket bounds of a latency: [0, 1), then [2^(k-1), 2^k).
fn bucket_of(latency: u64) -> (u32, u64, u64) {
    if latency == 0 {
        return (0, 0, 1);
    }
    let k = 64 - latency.leading_zeros();
    let from = 1u64 << (k - 1);
    (k, from, from.saturating_mul(2))
}

fn link_entry(
    links: &mut BTreeMap<(u8, u8, u8), LinkStats>,
    x: u8,
    y: u8,
    l: u8,
) -> &mut LinkStats {
    links.entry((x, y, l)).or_insert_with(|| LinkStats {
        x,
        y,
        link: l,
        name: link_name(l),
        packets: 0,
        queued_cycles: 0,
        max_queued: 0,
        emergencies: 0,
    })
}

fn latency_of(mut samples: Vec<u64>) -> Latency {
    if samples.is_empty() {
        return Latency::default();
    }
    samples.sort_unstable();
    let mut counts: BTreeMap<u32, (u64, u64, u64)> = BTreeMap::new();
    for &s in &samples {
        let (k, from, to) = bucket_of(s);
        counts.entry(k).or_insert((from, to, 0)).2 += 1;
    }
    let (lo, hi) = (
        *counts.first_key_value().expect("non-empty").0,
        *counts.last_key_value().expect("non-empty").0,
    );
    // Empty buckets between the extremes stay, so that the histogram's shape reads right.
    let buckets = (lo..=hi)
        .map(|k| {
            let (from, to, count) = counts.get(&k).copied().unwrap_or_else(|| {
                let (_, from, to) = bucket_of(1u64 << (k - 1));
                (from, to, 0)
            });
            LatencyBucket { from, to, count }
        })
        .collect();
    Latency {
        samples: samples.len() as u64,
        min: samples.first().copied(),
        median: Some(samples[(samples.len() - 1) / 2]),
        max: samples.last().copied(),
        buckets,
    }
}

/// Computes [`Stats`] over a trace (see each field for its meaning; packets are matched to
/// their sends as the [`trace_tools`](super) documentation describes).
pub fn stats(records: &[Record]) -> Stats {
    let sorted = by_cycle(records);
    let (first, last) = bounds(records);
    let span = last - first;
    let initial = initial_modes(&sorted);
    let mut machines: BTreeMap<CoreId, (CoreMachine, CoreAcc)> = BTreeMap::new();
    let mut matcher = Matcher::default();
    let mut packets = PacketStats::default();
    let mut latencies = Vec::new();
    let mut links: BTreeMap<(u8, u8, u8), LinkStats> = BTreeMap::new();
    let mut chip_drops: BTreeMap<(u8, u8), ChipDrops> = BTreeMap::new();
    let mut places: BTreeMap<(u8, u8, DropOutput), u64> = BTreeMap::new();
    // The stats need only the totals the machines keep, not the drawing segments.
    let mut segs = Vec::new();
    let mut open_callbacks: BTreeMap<(u8, u8, u8), Vec<(u8, Cycle)>> = BTreeMap::new();
    let mut callbacks: BTreeMap<(u8, u8, u8, u8), (u64, u64)> = BTreeMap::new();
    for r in &sorted {
        if let Event::Callback { p, event, enter } = r.event {
            let open = open_callbacks.entry((r.x, r.y, p)).or_default();
            if enter {
                open.push((event, r.cycle));
            } else if let Some((e, start)) = open.pop() {
                let acc = callbacks.entry((r.x, r.y, p, e)).or_default();
                acc.0 += 1;
                acc.1 += r.cycle - start;
            }
        }
    }

    for r in &sorted {
        let (x, y) = (r.x, r.y);
        if let Some(p) = r.event.core() {
            let (m, acc) = machines.entry((x, y, p)).or_insert_with(|| {
                let mode = initial.get(&(x, y, p)).copied().unwrap_or(Mode::Running);
                (CoreMachine::new(mode, first, &mut segs), CoreAcc::default())
            });
            m.step(r, &mut segs);
            segs.clear();
            match r.event {
                Event::State { state, .. } => acc.last_state = Some(state),
                Event::Interrupt { source, fiq, .. } => {
                    *acc.irqs.entry((fiq, source)).or_default() += 1
                }
                Event::DmaStart { bytes, .. } => {
                    acc.dma_transfers += 1;
                    acc.dma_bytes += bytes as u64;
                }
                Event::Send { .. } => acc.sent += 1,
                Event::Deliver { .. } => acc.delivered += 1,
                _ => {}
            }
        }
        match r.event {
            Event::Send { key, .. } => {
                packets.sent += 1;
                matcher.send(key, r.cycle);
            }
            Event::Deliver { p, key } => {
                packets.delivered += 1;
                match matcher.arrive(key, Place::Core(x, y, p)) {
                    Some(inst) => latencies.push(r.cycle.saturating_sub(inst.sent)),
                    None => packets.unmatched_deliveries += 1,
                }
            }
            Event::Hop { .. } => packets.hops += 1,
            Event::LinkOut {
                link: l, queued, ..
            } => {
                packets.link_outs += 1;
                let s = link_entry(&mut links, x, y, l);
                s.packets += 1;
                s.queued_cycles += queued as u64;
                s.max_queued = s.max_queued.max(queued as u64);
            }
            Event::Emergency { link: l, .. } => {
                packets.emergency_routed += 1;
                link_entry(&mut links, x, y, l).emergencies += 1;
            }
            Event::Drop {
                links: failed_links,
                cores: failed_cores,
                ..
            } => {
                packets.dropped += 1;
                let d = chip_drops.entry((x, y)).or_insert_with(|| ChipDrops {
                    x,
                    y,
                    ..ChipDrops::default()
                });
                d.drops += 1;
                d.links += (failed_links != 0) as u64;
                d.cores += (failed_cores != 0) as u64;
                d.unrouted += (failed_links == 0 && failed_cores == 0) as u64;
                let mut outputs: Vec<DropOutput> = (0..6u8)
                    .filter(|l| failed_links & (1 << l) != 0)
                    .map(DropOutput::Link)
                    .collect();
                outputs.extend(core_list(failed_cores).into_iter().map(DropOutput::Core));
                if outputs.is_empty() {
                    outputs.push(DropOutput::NoRoute);
                }
                for o in outputs {
                    *places.entry((x, y, o)).or_default() += 1;
                }
            }
            _ => {}
        }
    }

    let share = |c: u64| {
        if span == 0 {
            0.0
        } else {
            c as f64 / span as f64
        }
    };
    let cores = machines
        .into_iter()
        .map(|((x, y, p), (mut m, acc))| {
            m.finish(last, &mut segs);
            segs.clear();
            let busy_share = share(m.busy);
            let interrupts = acc
                .irqs
                .iter()
                .map(|(&(fiq, source), &count)| IrqCount {
                    source,
                    name: vic_source_name(source),
                    fiq,
                    count,
                })
                .collect();
            CoreStats {
                x,
                y,
                p,
                busy_cycles: m.busy,
                asleep_cycles: m.asleep,
                halted_cycles: m.halted,
                busy_share,
                idle_share: if span == 0 { 0.0 } else { 1.0 - busy_share },
                interrupts,
                dma_transfers: acc.dma_transfers,
                dma_bytes: acc.dma_bytes,
                sent: acc.sent,
                delivered: acc.delivered,
                last_state: acc.last_state,
            }
        })
        .collect();

    let mut busiest: Vec<LinkStats> = links.into_values().filter(|l| l.packets > 0).collect();
    // Stable on the (x, y, link) order for ties, so the report is deterministic.
    busiest.sort_by(|a, b| {
        b.packets
            .cmp(&a.packets)
            .then(b.queued_cycles.cmp(&a.queued_cycles))
    });
    busiest.truncate(TOP);
    let mut drop_places: Vec<DropPlace> = places
        .into_iter()
        .map(|((x, y, output), count)| DropPlace {
            x,
            y,
            output,
            count,
        })
        .collect();
    drop_places.sort_by_key(|d| std::cmp::Reverse(d.count));
    drop_places.truncate(TOP);
    packets.drops_by_chip = chip_drops.into_values().collect();

    Stats {
        records: records.len(),
        first_cycle: first,
        last_cycle: last,
        span_cycles: span,
        cores,
        packets,
        latency: latency_of(latencies),
        busiest_links: busiest,
        drop_places,
        callbacks: callbacks
            .into_iter()
            .map(|((x, y, p, event), (count, cycles))| CallbackStats {
                x,
                y,
                p,
                event,
                name: callback_name(event),
                count,
                cycles,
            })
            .collect(),
    }
}

fn pct(share: f64) -> String {
    format!("{:5.1}%", share * 100.0)
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "trace: {} records, cycles {}..{} ({} cycles, {} µs)",
            self.records,
            self.first_cycle,
            self.last_cycle,
            self.span_cycles,
            fmt_us(self.span_cycles)
        )?;
        writeln!(f)?;
        writeln!(f, "cores ({}):", self.cores.len())?;
        if !self.cores.is_empty() {
            writeln!(
                f,
                "  {:<16} {:>6} {:>6} {:>6} {:>7} {:>6} {:>10} {:>7} {:>7}  state",
                "core", "busy", "asleep", "halted", "irqs", "dma", "dma bytes", "sent", "recv"
            )?;
        }
        let share = |c: u64| {
            if self.span_cycles == 0 {
                0.0
            } else {
                c as f64 / self.span_cycles as f64
            }
        };
        for c in &self.cores {
            let irqs: u64 = c.interrupts.iter().map(|i| i.count).sum();
            let state = c.last_state.map(state_name).unwrap_or("-");
            writeln!(
                f,
                "  {:<16} {} {} {} {:>7} {:>6} {:>10} {:>7} {:>7}  {state}",
                format!("chip {},{} core {}", c.x, c.y, c.p),
                pct(c.busy_share),
                pct(share(c.asleep_cycles)),
                pct(share(c.halted_cycles)),
                irqs,
                c.dma_transfers,
                c.dma_bytes,
                c.sent,
                c.delivered
            )?;
            if !c.interrupts.is_empty() {
                let list: Vec<String> = c
                    .interrupts
                    .iter()
                    .map(|i| {
                        format!(
                            "{}{} ({}) ×{}",
                            if i.fiq { "FIQ " } else { "" },
                            i.name,
                            i.source,
                            i.count
                        )
                    })
                    .collect();
                writeln!(f, "      interrupts: {}", list.join(", "))?;
            }
        }
        writeln!(f)?;
        let p = &self.packets;
        writeln!(
            f,
            "packets: {} sent, {} delivered ({} unmatched), {} dropped, {} emergency-routed, {} hops, {} link transmissions",
            p.sent, p.delivered, p.unmatched_deliveries, p.dropped, p.emergency_routed, p.hops, p.link_outs
        )?;
        for d in &p.drops_by_chip {
            writeln!(
                f,
                "  chip {},{}: {} dropped (links {}, cores {}, no route {})",
                d.x, d.y, d.drops, d.links, d.cores, d.unrouted
            )?;
        }
        writeln!(f)?;
        let l = &self.latency;
        match (l.min, l.median, l.max) {
            (Some(min), Some(median), Some(max)) => {
                writeln!(f, "latency, send to deliver ({} matched): min {min}, median {median}, max {max} cycles", l.samples)?;
                let most = l.buckets.iter().map(|b| b.count).max().unwrap_or(1).max(1);
                for b in &l.buckets {
                    let bar = "#".repeat(((b.count * 40).div_ceil(most)) as usize);
                    writeln!(f, "  [{:>10}, {:>10}) {:>8} {bar}", b.from, b.to, b.count)?;
                }
            }
            _ => writeln!(f, "latency, send to deliver: no matched deliveries")?,
        }
        writeln!(f)?;
        writeln!(f, "busiest links:")?;
        if self.busiest_links.is_empty() {
            writeln!(f, "  none")?;
        }
        for k in &self.busiest_links {
            writeln!(
                f,
                "  chip {},{} link {} ({}): {} packets, {} cycles queued in total (max {}), {} emergency detours",
                k.x, k.y, k.link, k.name, k.packets, k.queued_cycles, k.max_queued, k.emergencies
            )?;
        }
        writeln!(f)?;
        writeln!(f, "most dropping places:")?;
        if self.drop_places.is_empty() {
            writeln!(f, "  none")?;
        }
        for d in &self.drop_places {
            writeln!(
                f,
                "  chip {},{} {}: {} dropped",
                d.x, d.y, d.output, d.count
            )?;
        }
        writeln!(f)?;
        writeln!(f, "callbacks (cycles per call):")?;
        if self.callbacks.is_empty() {
            writeln!(f, "  none traced")?;
        }
        for c in &self.callbacks {
            let per = c.cycles.checked_div(c.count).unwrap_or(0);
            writeln!(
                f,
                "  chip {},{} core {} {:<22} {:>7} calls {:>9} cycles  {:>7} per call",
                c.x, c.y, c.p, c.name, c.count, c.cycles, per
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace_tools::tests::{rec, story};

    #[test]
    fn stats_shares_interrupts_and_dma() {
        let s = stats(&story());
        assert_eq!(
            (s.records, s.first_cycle, s.last_cycle, s.span_cycles),
            (17, 0, 400, 400)
        );
        assert_eq!(s.cores.len(), 2);
        let c1 = &s.cores[0];
        assert_eq!((c1.x, c1.y, c1.p), (0, 0, 1));
        // Busy 0..100 and 200..250; asleep 100..200 and 250..400.
        assert_eq!(
            (c1.busy_cycles, c1.asleep_cycles, c1.halted_cycles),
            (150, 250, 0)
        );
        assert_eq!(c1.busy_share, 0.375);
        assert_eq!(c1.idle_share, 0.625);
        assert_eq!(
            c1.interrupts,
            vec![IrqCount {
                source: 4,
                name: "TIMER1",
                fiq: false,
                count: 1
            }]
        );
        assert_eq!(
            (c1.dma_transfers, c1.dma_bytes, c1.sent, c1.delivered),
            (1, 256, 1, 0)
        );
        assert_eq!(c1.last_state, Some(7));
        let c2 = &s.cores[1];
        assert_eq!(
            (c2.x, c2.p, c2.busy_cycles, c2.asleep_cycles),
            (1, 2, 190, 210)
        );
        assert_eq!(
            c2.interrupts,
            vec![IrqCount {
                source: 24,
                name: "CC_MC",
                fiq: true,
                count: 1
            }]
        );
        assert_eq!(c2.delivered, 1);
    }

    #[test]
    fn stats_halted_and_initially_asleep_cores() {
        let t = vec![
            rec(0, 0, 0, Event::State { p: 1, state: 7 }),
            // Core 2's first sleep record is a Wake: it slept from the start.
            rec(40, 0, 0, Event::Wake { p: 2 }),
            rec(60, 0, 0, Event::State { p: 1, state: 11 }),
            rec(100, 0, 0, Event::Sleep { p: 2 }),
        ];
        let s = stats(&t);
        let c1 = &s.cores[0];
        assert_eq!(
            (c1.busy_cycles, c1.asleep_cycles, c1.halted_cycles),
            (60, 0, 40)
        );
        assert_eq!(c1.busy_share, 0.6);
        assert_eq!(c1.last_state, Some(11));
        let c2 = &s.cores[1];
        assert_eq!(
            (c2.busy_cycles, c2.asleep_cycles, c2.halted_cycles),
            (60, 40, 0)
        );
        // A trace of one instant has no shares to speak of.
        let one = stats(&t[..1]);
        assert_eq!(
            (
                one.span_cycles,
                one.cores[0].busy_share,
                one.cores[0].idle_share
            ),
            (0, 0.0, 0.0)
        );
    }

    #[test]
    fn stats_latency_histogram() {
        let mut t = Vec::new();
        // Latencies 0, 1, 5, 6, 7, 100 (key 1 each, FIFO), and 3 on key 2.
        for (i, lat) in [0u64, 1, 5, 6, 7, 100].into_iter().enumerate() {
            let sent = 1000 * i as u64;
            t.push(rec(
                sent,
                0,
                0,
                Event::Send {
                    p: 1,
                    key: 1,
                    payload: None,
                    control: 0,
                },
            ));
            t.push(rec(sent + lat, 0, 0, Event::Deliver { p: 2, key: 1 }));
        }
        t.push(rec(
            7000,
            0,
            0,
            Event::Send {
                p: 1,
                key: 2,
                payload: None,
                control: 0,
            },
        ));
        t.push(rec(7003, 0, 0, Event::Deliver { p: 2, key: 2 }));
        t.push(rec(7010, 0, 0, Event::Deliver { p: 3, key: 9 }));
        let s = stats(&t);
        assert_eq!(
            (
                s.packets.sent,
                s.packets.delivered,
                s.packets.unmatched_deliveries
            ),
            (7, 8, 1)
        );
        let l = &s.latency;
        assert_eq!(
            (l.samples, l.min, l.median, l.max),
            (7, Some(0), Some(5), Some(100))
        );
        let b: Vec<(u64, u64, u64)> = l.buckets.iter().map(|b| (b.from, b.to, b.count)).collect();
        assert_eq!(
            b,
            vec![
                (0, 1, 1),
                (1, 2, 1),
                (2, 4, 1),
                (4, 8, 3),
                (8, 16, 0),
                (16, 32, 0),
                (32, 64, 0),
                (64, 128, 1)
            ]
        );
        assert_eq!(stats(&[]).latency, Latency::default());
    }

    #[test]
    fn stats_multicast_and_fifo_latency() {
        let k = 5;
        let t = vec![
            rec(
                0,
                0,
                0,
                Event::Send {
                    p: 1,
                    key: k,
                    payload: None,
                    control: 0,
                },
            ),
            rec(
                10,
                0,
                0,
                Event::Send {
                    p: 1,
                    key: k,
                    payload: None,
                    control: 0,
                },
            ),
            rec(20, 0, 0, Event::Deliver { p: 2, key: k }),
            rec(21, 1, 1, Event::Deliver { p: 2, key: k }),
            rec(30, 0, 0, Event::Deliver { p: 2, key: k }),
        ];
        let s = stats(&t);
        // (0,0) core 2 gets the first packet at 20 and the second at 30; (1,1) the first at 21.
        assert_eq!(
            (s.latency.min, s.latency.median, s.latency.max),
            (Some(20), Some(20), Some(21))
        );
    }

    #[test]
    fn stats_drops_by_chip_cause_and_place() {
        let t = vec![
            rec(
                1,
                0,
                0,
                Event::Drop {
                    key: 1,
                    links: 1 << 3,
                    cores: 0,
                },
            ),
            rec(
                2,
                0,
                0,
                Event::Drop {
                    key: 1,
                    links: 1 << 3,
                    cores: 0,
                },
            ),
            rec(
                3,
                0,
                0,
                Event::Drop {
                    key: 2,
                    links: 0,
                    cores: 0,
                },
            ),
            rec(
                4,
                1,
                2,
                Event::Drop {
                    key: 3,
                    links: 0,
                    cores: 1 << 5,
                },
            ),
            rec(
                5,
                1,
                2,
                Event::Drop {
                    key: 4,
                    links: 1,
                    cores: 1 << 5,
                },
            ),
            rec(6, 1, 2, Event::Emergency { link: 2, key: 4 }),
        ];
        let s = stats(&t);
        assert_eq!((s.packets.dropped, s.packets.emergency_routed), (5, 1));
        assert_eq!(
            s.packets.drops_by_chip,
            vec![
                ChipDrops {
                    x: 0,
                    y: 0,
                    drops: 3,
                    links: 2,
                    cores: 0,
                    unrouted: 1
                },
                ChipDrops {
                    x: 1,
                    y: 2,
                    drops: 2,
                    links: 1,
                    cores: 2,
                    unrouted: 0
                },
            ]
        );
        let places: Vec<(u8, u8, DropOutput, u64)> = s
            .drop_places
            .iter()
            .map(|d| (d.x, d.y, d.output, d.count))
            .collect();
        assert_eq!(
            places,
            vec![
                (0, 0, DropOutput::Link(3), 2),
                (1, 2, DropOutput::Core(5), 2),
                (0, 0, DropOutput::NoRoute, 1),
                (1, 2, DropOutput::Link(0), 1),
            ]
        );
        // The emergency counts on its detour link, which sent nothing: not among the busiest.
        assert!(s.busiest_links.is_empty());
    }

    #[test]
    fn stats_busiest_links_top_ten() {
        let mut t = Vec::new();
        // 12 links on chip (0,0)..(1,5): link l of chip x sends 1 + x*6 + l packets, each queued 10.
        for x in 0..2u8 {
            for l in 0..6u8 {
                for i in 0..(1 + x as u64 * 6 + l as u64) {
                    t.push(rec(
                        i,
                        x,
                        0,
                        Event::LinkOut {
                            link: l,
                            key: 0,
                            queued: 10,
                        },
                    ));
                }
            }
        }
        // A tie broken by queueing: link 4 of (0,0) catches up with link 5's 6 packets, with a
        // long wait.
        t.push(rec(
            50,
            0,
            0,
            Event::LinkOut {
                link: 4,
                key: 0,
                queued: 100,
            },
        ));
        t.push(rec(50, 0, 0, Event::Emergency { link: 5, key: 0 }));
        let s = stats(&t);
        assert_eq!(s.busiest_links.len(), TOP);
        let order: Vec<(u8, u8, u64)> = s
            .busiest_links
            .iter()
            .map(|l| (l.x, l.link, l.packets))
            .collect();
        assert_eq!(
            order,
            vec![
                (1, 5, 12),
                (1, 4, 11),
                (1, 3, 10),
                (1, 2, 9),
                (1, 1, 8),
                (1, 0, 7),
                (0, 4, 6),
                (0, 5, 6),
                (0, 3, 4),
                (0, 2, 3)
            ]
        );
        assert_eq!(s.busiest_links[6].queued_cycles, 150);
        assert_eq!(s.busiest_links[0].queued_cycles, 120);
        assert_eq!(s.busiest_links[0].max_queued, 10);
        assert_eq!(s.busiest_links[0].name, "S");
        let l05 = s
            .busiest_links
            .iter()
            .find(|l| (l.x, l.link) == (0, 5))
            .unwrap();
        assert_eq!(l05.emergencies, 1);
        assert_eq!(s.packets.link_outs, (1..=12).sum::<u64>() + 1);
    }

    #[test]
    fn stats_report_and_json() {
        let mut t = story();
        t.push(rec(
            400,
            1,
            0,
            Event::Drop {
                key: 0x10,
                links: 0,
                cores: 0,
            },
        ));
        let s = stats(&t);
        let text = s.to_string();
        for needle in [
            "trace: 18 records, cycles 0..400",
            "chip 0,0 core 1",
            " 37.5%",
            "TIMER1 (4) ×1",
            "FIQ CC_MC (24) ×1",
            "packets: 1 sent, 1 delivered (0 unmatched), 1 dropped",
            "chip 1,0: 1 dropped (links 0, cores 0, no route 1)",
            "min 90, median 90, max 90 cycles",
            "chip 0,0 link 0 (E): 1 packets, 0 cycles queued",
            "chip 1,0 no route: 1 dropped",
        ] {
            assert!(text.contains(needle), "{needle:?} not in\n{text}");
        }
        let j = serde_json::to_value(&s).unwrap();
        assert_eq!(j["cores"][0]["busy_cycles"], 150);
        assert_eq!(j["latency"]["buckets"][0]["from"], 64);
        assert_eq!(j["drop_places"][0]["output"], "NoRoute");
        assert!(stats(&[]).to_string().contains("no matched deliveries"));
    }
}
