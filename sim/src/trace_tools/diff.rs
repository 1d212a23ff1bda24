// SPDX-License-Identifier: GPL-2.0-or-later
//! The first difference between two traces, with the records before it, and a side-by-side
//! count of their records by kind (`spinn trace diff`).

use std::fmt;

use super::describe;
use crate::trace::{Kind, Record};

/// How many records before a difference [`first_divergence`] shows.
pub const CONTEXT: usize = 5;

/// Where two traces first differ (see [`first_divergence`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Divergence {
    /// Position of the first differing record.
    pub index: usize,
    /// The first trace's record there (None: it ended).
    pub a: Option<Record>,
    /// The second trace's record there (None: it ended).
    pub b: Option<Record>,
    /// Up to [`CONTEXT`] records before it, the same in both traces.
    pub context_before: Vec<Record>,
}

/// The first position at which two traces differ, in file order (a deterministic simulation
/// writes the same records in the same order, so the first difference is where behaviour
/// split); None when they are identical. A trace that is a prefix of the other differs where
/// it ends.
pub fn first_divergence(a: &[Record], b: &[Record]) -> Option<Divergence> {
    let index = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i))?;
    Some(Divergence {
        index,
        a: a.get(index).copied(),
        b: b.get(index).copied(),
        context_before: a[index.saturating_sub(CONTEXT)..index].to_vec(),
    })
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = |r: &Option<Record>| {
            r.as_ref()
                .map(describe)
                .unwrap_or_else(|| "end of trace".into())
        };
        writeln!(f, "first difference at record {}:", self.index)?;
        writeln!(f, "  a: {}", side(&self.a))?;
        writeln!(f, "  b: {}", side(&self.b))?;
        if self.context_before.is_empty() {
            writeln!(f, "no records before it")?;
        } else {
            writeln!(f, "before it, in both:")?;
            let start = self.index - self.context_before.len();
            for (i, r) in self.context_before.iter().enumerate() {
                writeln!(f, "  [{}] {}", start + i, describe(r))?;
            }
        }
        Ok(())
    }
}

/// A side-by-side summary of two traces: records per kind in each, and how many positions hold
/// different records (a missing record counts as different).
pub fn summary(a: &[Record], b: &[Record]) -> String {
    let count = |t: &[Record], k: Kind| t.iter().filter(|r| r.event.kind() == k).count();
    let mut s = format!("{:<12} {:>10} {:>10}\n", "kind", "a", "b");
    for k in Kind::ALL {
        let (na, nb) = (count(a, k), count(b, k));
        let mark = if na != nb { "  *" } else { "" };
        s += &format!("{:<12} {na:>10} {nb:>10}{mark}\n", k.name());
    }
    s += &format!("{:<12} {:>10} {:>10}\n", "total", a.len(), b.len());
    let n = a.len().max(b.len());
    let differing = (0..n).filter(|&i| a.get(i) != b.get(i)).count();
    s += &format!("records differing positionally: {differing} of {n}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Event;
    use crate::trace_tools::tests::{rec, story};

    fn numbered(n: u64) -> Vec<Record> {
        (0..n)
            .map(|i| rec(i * 10, 0, 0, Event::Wake { p: i as u8 }))
            .collect()
    }

    #[test]
    fn divergence_finds_the_first_differing_record() {
        let a = numbered(10);
        let mut b = a.clone();
        b[7].cycle += 1;
        b[8].cycle += 1;
        let d = first_divergence(&a, &b).unwrap();
        assert_eq!(d.index, 7);
        assert_eq!((d.a, d.b), (Some(a[7]), Some(b[7])));
        assert_eq!(d.context_before, a[2..7].to_vec());
        // Near the start the context is shorter.
        let mut c = a.clone();
        c[1].x = 1;
        let d = first_divergence(&a, &c).unwrap();
        assert_eq!((d.index, d.context_before.clone()), (1, vec![a[0]]));
        let mut c = a.clone();
        c[0].event = Event::Sleep { p: 0 };
        assert!(first_divergence(&a, &c).unwrap().context_before.is_empty());
    }

    #[test]
    fn divergence_of_a_prefix_is_the_end_of_trace() {
        let a = numbered(6);
        let d = first_divergence(&a, &a[..4]).unwrap();
        assert_eq!((d.index, d.a, d.b), (4, Some(a[4]), None));
        assert_eq!(d.context_before, a[..4].to_vec());
        let d = first_divergence(&a[..4], &a).unwrap();
        assert_eq!((d.index, d.a, d.b), (4, None, Some(a[4])));
        let d = first_divergence(&[], &a).unwrap();
        assert_eq!((d.index, d.a, d.b.is_some()), (0, None, true));
    }

    #[test]
    fn identical_traces_do_not_diverge() {
        let a = story();
        assert_eq!(first_divergence(&a, &a.clone()), None);
        assert_eq!(first_divergence(&[], &[]), None);
    }

    #[test]
    fn divergence_display_shows_both_sides_and_context() {
        let a = numbered(8);
        let d = first_divergence(&a, &a[..7]).unwrap();
        let text = d.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "first difference at record 7:");
        assert!(
            lines[1].starts_with("  a: cycle         70 (       0.350 µs) chip 0,0 core 7: wakes"),
            "{text}"
        );
        assert_eq!(lines[2], "  b: end of trace");
        assert_eq!(lines[3], "before it, in both:");
        assert_eq!(lines.len(), 4 + CONTEXT);
        assert!(lines[4].starts_with("  [2] cycle         20"), "{text}");
        assert!(lines[8].contains("core 6: wakes"));
    }

    #[test]
    fn summary_counts_kinds_and_positional_differences() {
        let a = story();
        let mut b = a.clone();
        b.remove(5); // the DMA start: everything after it shifts
        b.push(rec(999, 0, 0, Event::Sleep { p: 1 }));
        let s = summary(&a, &b);
        let line = |kind: &str| {
            s.lines()
                .find(|l| l.split_whitespace().next() == Some(kind))
                .unwrap()
                .to_string()
        };
        assert_eq!(
            line("dma").split_whitespace().collect::<Vec<_>>(),
            vec!["dma", "1", "0", "*"]
        );
        assert_eq!(
            line("sleep").split_whitespace().collect::<Vec<_>>(),
            vec!["sleep", "4", "5", "*"]
        );
        assert_eq!(
            line("hop").split_whitespace().collect::<Vec<_>>(),
            vec!["hop", "2", "2"]
        );
        assert_eq!(
            line("total").split_whitespace().collect::<Vec<_>>(),
            vec!["total", "17", "17"]
        );
        assert!(
            s.contains("records differing positionally: 12 of 17"),
            "{s}"
        );
        assert!(summary(&a, &a).contains("records differing positionally: 0 of 17"));
    }
}
