// SPDX-License-Identifier: GPL-2.0-or-later
//! Event traces: what cores and routers did, cycle by cycle, as a compact versioned binary stream.
//!
//! A file is the header (`SPINNTRC`, then the format version as a little-endian u16), then
//! records: a kind byte, a length byte (the bytes that follow), then the fields, little-endian.
//! Every record starts with its cycle (u64) and the chip (x, y); readers skip kinds they do not
//! know by their length, so new kinds do not break old readers. Records of one chip come in the
//! order its simulation produced them; chips follow each other in a fixed order per
//! synchronisation window, so a trace is the same bytes for any number of threads.

use std::io::{self, Read, Write};

use crate::Cycle;

/// File magic.
pub const MAGIC: &[u8; 8] = b"SPINNTRC";
/// Format version written by this build.
pub const VERSION: u16 = 1;

/// Where a packet entered a router.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum From {
    /// A core of the chip (physical number).
    Core(u8),
    /// A link (0..5).
    Link(u8),
}

/// One traced event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Event {
    /// A core's `cpu_state` changed (SpiNNaker's numbering).
    State { p: u8, state: u8 },
    /// A core took IRQ (`fiq` false) or FIQ for VIC source `source`.
    Interrupt { p: u8, fiq: bool, source: u8 },
    /// A core's interrupt handler acknowledged the VIC (wrote VIC_VADDR): the handler returns.
    InterruptDone { p: u8 },
    /// A core went to sleep in WFI.
    Sleep { p: u8 },
    /// A sleeping core woke up.
    Wake { p: u8 },
    /// A core committed a DMA transfer of `bytes` (`write`: TCM to system).
    DmaStart { p: u8, bytes: u32, write: bool },
    /// A core launched a packet.
    Send {
        p: u8,
        key: u32,
        payload: Option<u32>,
        control: u8,
    },
    /// A router handled a packet: where it came from, the links and cores it went to.
    Hop {
        from: From,
        key: u32,
        links: u8,
        cores: u32,
    },
    /// A packet left on a link after waiting `queued` cycles for it.
    LinkOut { link: u8, key: u32, queued: u32 },
    /// A packet went round a blocked link by `link` (emergency routing).
    Emergency { link: u8, key: u32 },
    /// A packet reached a core's receive buffer.
    Deliver { p: u8, key: u32 },
    /// A packet was dropped; `links`/`cores` name the outputs that failed.
    Drop { key: u32, links: u8, cores: u32 },
    /// A core's DMA transfer finished.
    DmaDone { p: u8 },
    /// A runtime callback for `event` (spin1 numbering; 8 = a scheduled callback) began
    /// (`enter`) or ended, as the runtime marks it on the simulator's trace port.
    Callback { p: u8, event: u8, enter: bool },
}

/// A traced event with its time and chip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Record {
    /// Cycle (200 MHz).
    pub cycle: Cycle,
    /// Chip x.
    pub x: u8,
    /// Chip y.
    pub y: u8,
    /// What happened.
    pub event: Event,
}

/// Event kinds, for filters and for the stream's kind byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Kind {
    /// [`Event::State`]
    State = 1,
    /// [`Event::Interrupt`]
    Interrupt = 2,
    /// [`Event::InterruptDone`]
    InterruptDone = 3,
    /// [`Event::Sleep`]
    Sleep = 4,
    /// [`Event::Wake`]
    Wake = 5,
    /// [`Event::DmaStart`]
    DmaStart = 6,
    /// [`Event::Send`]
    Send = 7,
    /// [`Event::Hop`]
    Hop = 8,
    /// [`Event::LinkOut`]
    LinkOut = 9,
    /// [`Event::Emergency`]
    Emergency = 10,
    /// [`Event::Deliver`]
    Deliver = 11,
    /// [`Event::Drop`]
    Drop = 12,
    /// [`Event::Callback`]
    Callback = 13,
    /// [`Event::DmaDone`]
    DmaDone = 14,
}

impl Kind {
    /// Every kind, in stream order.
    pub const ALL: [Kind; 14] = [
        Kind::State,
        Kind::Interrupt,
        Kind::InterruptDone,
        Kind::Sleep,
        Kind::Wake,
        Kind::DmaStart,
        Kind::Send,
        Kind::Hop,
        Kind::LinkOut,
        Kind::Emergency,
        Kind::Deliver,
        Kind::Drop,
        Kind::Callback,
        Kind::DmaDone,
    ];

    /// The name used on the command line (`--trace-kinds send,drop`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::State => "state",
            Kind::Interrupt => "irq",
            Kind::InterruptDone => "irq-done",
            Kind::Sleep => "sleep",
            Kind::Wake => "wake",
            Kind::DmaStart => "dma",
            Kind::Send => "send",
            Kind::Hop => "hop",
            Kind::LinkOut => "link",
            Kind::Emergency => "emergency",
            Kind::Deliver => "deliver",
            Kind::Drop => "drop",
            Kind::Callback => "callback",
            Kind::DmaDone => "dma-done",
        }
    }

    /// The kind with this command-line name.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl Event {
    /// This event's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Event::State { .. } => Kind::State,
            Event::Interrupt { .. } => Kind::Interrupt,
            Event::InterruptDone { .. } => Kind::InterruptDone,
            Event::Sleep { .. } => Kind::Sleep,
            Event::Wake { .. } => Kind::Wake,
            Event::DmaStart { .. } => Kind::DmaStart,
            Event::Send { .. } => Kind::Send,
            Event::Hop { .. } => Kind::Hop,
            Event::LinkOut { .. } => Kind::LinkOut,
            Event::Emergency { .. } => Kind::Emergency,
            Event::Deliver { .. } => Kind::Deliver,
            Event::Drop { .. } => Kind::Drop,
            Event::Callback { .. } => Kind::Callback,
            Event::DmaDone { .. } => Kind::DmaDone,
        }
    }

    /// The core the event belongs to, if any.
    pub fn core(&self) -> Option<u8> {
        match *self {
            Event::State { p, .. }
            | Event::Interrupt { p, .. }
            | Event::InterruptDone { p }
            | Event::Sleep { p }
            | Event::Wake { p }
            | Event::DmaStart { p, .. }
            | Event::Send { p, .. }
            | Event::Deliver { p, .. }
            | Event::Callback { p, .. }
            | Event::DmaDone { p } => Some(p),
            _ => None,
        }
    }

    /// The packet key the event concerns, if any.
    pub fn key(&self) -> Option<u32> {
        match *self {
            Event::Send { key, .. }
            | Event::Hop { key, .. }
            | Event::LinkOut { key, .. }
            | Event::Emergency { key, .. }
            | Event::Deliver { key, .. }
            | Event::Drop { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// Which events to keep.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only these chips (empty: all).
    pub chips: Vec<(u8, u8)>,
    /// Only events of these cores (by the event's core number; empty: all). Router events,
    /// which belong to no core, pass.
    pub cores: Vec<u8>,
    /// Only packet events whose key is in one of these inclusive ranges (empty: all); events
    /// without a key pass.
    pub keys: Vec<(u32, u32)>,
    /// Only these kinds (empty: all).
    pub kinds: Vec<Kind>,
    /// Only events in this inclusive cycle window.
    pub window: Option<(Cycle, Cycle)>,
}

impl Filter {
    /// True when `r` passes.
    pub fn keeps(&self, r: &Record) -> bool {
        (self.chips.is_empty() || self.chips.contains(&(r.x, r.y)))
            && (self.kinds.is_empty() || self.kinds.contains(&r.event.kind()))
            && (self.cores.is_empty() || r.event.core().is_none_or(|p| self.cores.contains(&p)))
            && (self.keys.is_empty()
                || r.event
                    .key()
                    .is_none_or(|k| self.keys.iter().any(|&(a, b)| a <= k && k <= b)))
            && self
                .window
                .is_none_or(|(a, b)| a <= r.cycle && r.cycle <= b)
    }
}

/// Appends the encoding of `r` to `out`.
pub fn encode(r: &Record, out: &mut Vec<u8>) {
    let start = out.len();
    out.push(r.event.kind() as u8);
    out.push(0);
    out.extend_from_slice(&r.cycle.to_le_bytes());
    out.push(r.x);
    out.push(r.y);
    match r.event {
        Event::State { p, state } => out.extend_from_slice(&[p, state]),
        Event::Interrupt { p, fiq, source } => out.extend_from_slice(&[p, fiq as u8, source]),
        Event::InterruptDone { p }
        | Event::Sleep { p }
        | Event::Wake { p }
        | Event::DmaDone { p } => out.push(p),
        Event::DmaStart { p, bytes, write } => {
            out.push(p);
            out.extend_from_slice(&bytes.to_le_bytes());
            out.push(write as u8);
        }
        Event::Send {
            p,
            key,
            payload,
            control,
        } => {
            out.extend_from_slice(&[p, control]);
            out.extend_from_slice(&key.to_le_bytes());
            if let Some(v) = payload {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        Event::Hop {
            from,
            key,
            links,
            cores,
        } => {
            let (tag, n) = match from {
                From::Core(p) => (0, p),
                From::Link(l) => (1, l),
            };
            out.extend_from_slice(&[tag, n, links]);
            out.extend_from_slice(&key.to_le_bytes());
            out.extend_from_slice(&cores.to_le_bytes());
        }
        Event::LinkOut { link, key, queued } => {
            out.push(link);
            out.extend_from_slice(&key.to_le_bytes());
            out.extend_from_slice(&queued.to_le_bytes());
        }
        Event::Emergency { link, key } => {
            out.push(link);
            out.extend_from_slice(&key.to_le_bytes());
        }
        Event::Deliver { p, key } => {
            out.push(p);
            out.extend_from_slice(&key.to_le_bytes());
        }
        Event::Drop { key, links, cores } => {
            out.push(links);
            out.extend_from_slice(&key.to_le_bytes());
            out.extend_from_slice(&cores.to_le_bytes());
        }
        Event::Callback { p, event, enter } => out.extend_from_slice(&[p, event, enter as u8]),
    }
    out[start + 1] = (out.len() - start - 2) as u8;
}

/// Why a trace cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// Reading failed.
    #[error("cannot read: {0}")]
    Io(#[from] io::Error),
    /// Not a trace, or a newer version.
    #[error("not a spinn trace (version {VERSION} or older): {0}")]
    Format(String),
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// Decodes one record body (after kind and length); None for unknown kinds or short bodies.
fn decode(kind: u8, b: &[u8]) -> Option<Record> {
    if b.len() < 10 {
        return None;
    }
    let cycle = u64::from_le_bytes(b[..8].try_into().ok()?);
    let (x, y) = (b[8], b[9]);
    let f = &b[10..];
    let need = |n: usize| (f.len() >= n).then_some(());
    let event = match kind {
        1 => need(2).map(|_| Event::State {
            p: f[0],
            state: f[1],
        })?,
        2 => need(3).map(|_| Event::Interrupt {
            p: f[0],
            fiq: f[1] != 0,
            source: f[2],
        })?,
        3 => need(1).map(|_| Event::InterruptDone { p: f[0] })?,
        4 => need(1).map(|_| Event::Sleep { p: f[0] })?,
        5 => need(1).map(|_| Event::Wake { p: f[0] })?,
        6 => need(6).map(|_| Event::DmaStart {
            p: f[0],
            bytes: u32_at(f, 1),
            write: f[5] != 0,
        })?,
        7 => {
            need(6)?;
            let payload = (f.len() >= 10).then(|| u32_at(f, 6));
            Event::Send {
                p: f[0],
                control: f[1],
                key: u32_at(f, 2),
                payload,
            }
        }
        8 => {
            need(11)?;
            let from = if f[0] == 0 {
                From::Core(f[1])
            } else {
                From::Link(f[1])
            };
            Event::Hop {
                from,
                links: f[2],
                key: u32_at(f, 3),
                cores: u32_at(f, 7),
            }
        }
        9 => need(9).map(|_| Event::LinkOut {
            link: f[0],
            key: u32_at(f, 1),
            queued: u32_at(f, 5),
        })?,
        10 => need(5).map(|_| Event::Emergency {
            link: f[0],
            key: u32_at(f, 1),
        })?,
        11 => need(5).map(|_| Event::Deliver {
            p: f[0],
            key: u32_at(f, 1),
        })?,
        12 => need(9).map(|_| Event::Drop {
            links: f[0],
            key: u32_at(f, 1),
            cores: u32_at(f, 5),
        })?,
        13 => need(3).map(|_| Event::Callback {
            p: f[0],
            event: f[1],
            enter: f[2] != 0,
        })?,
        14 => need(1).map(|_| Event::DmaDone { p: f[0] })?,
        _ => return None,
    };
    Some(Record { cycle, x, y, event })
}

/// A trace read as far as it is complete.
#[derive(Clone, Debug, PartialEq)]
pub struct Partial {
    /// The complete records, in file order (unknown kinds skipped).
    pub records: Vec<Record>,
    /// The byte where a record cut short begins, when the stream ends inside one (the run
    /// writing it was stopped); None when the stream ends between records.
    pub truncated_at: Option<usize>,
}

/// Reads a trace stream as far as it is complete: a stream cut short inside a record (or
/// inside its header) gives the records before the cut and where it is.
pub fn read_complete(mut input: impl Read) -> Result<Partial, TraceError> {
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes)?;
    let head = bytes.len().min(MAGIC.len());
    if bytes.len() < 10 && bytes[..head] == MAGIC[..head] {
        return Ok(Partial {
            records: Vec::new(),
            truncated_at: Some(0),
        });
    }
    if bytes.len() < 10 || &bytes[..8] != MAGIC {
        return Err(TraceError::Format("missing the SPINNTRC header".into()));
    }
    let version = u16::from_le_bytes([bytes[8], bytes[9]]);
    if version > VERSION {
        return Err(TraceError::Format(format!("it is version {version}")));
    }
    let mut records = Vec::new();
    let mut i = 10;
    while i < bytes.len() {
        let Some(&len) = bytes.get(i + 1) else {
            break;
        };
        let Some(body) = bytes.get(i + 2..i + 2 + len as usize) else {
            break;
        };
        if let Some(r) = decode(bytes[i], body) {
            records.push(r);
        }
        i += 2 + len as usize;
    }
    Ok(Partial {
        records,
        truncated_at: (i < bytes.len()).then_some(i),
    })
}

/// Reads a whole trace stream: its records in file order (unknown kinds skipped); a stream
/// cut short is an error (see [`read_complete`] for what it holds).
pub fn read_all(input: impl Read) -> Result<Vec<Record>, TraceError> {
    let p = read_complete(input)?;
    match p.truncated_at {
        Some(i) => Err(TraceError::Format(format!("truncated record at byte {i}"))),
        None => Ok(p.records),
    }
}

/// Writes the stream header.
pub fn write_header(out: &mut impl Write) -> io::Result<()> {
    out.write_all(MAGIC)?;
    out.write_all(&VERSION.to_le_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_events() -> Vec<Record> {
        let evs = [
            Event::State { p: 1, state: 7 },
            Event::Interrupt {
                p: 2,
                fiq: true,
                source: 4,
            },
            Event::InterruptDone { p: 2 },
            Event::Sleep { p: 3 },
            Event::Wake { p: 3 },
            Event::DmaStart {
                p: 4,
                bytes: 1024,
                write: true,
            },
            Event::Send {
                p: 5,
                key: 0xDEAD_BEEF,
                payload: Some(7),
                control: 2,
            },
            Event::Send {
                p: 5,
                key: 1,
                payload: None,
                control: 0,
            },
            Event::Hop {
                from: From::Link(3),
                key: 9,
                links: 0x21,
                cores: 1 << 7,
            },
            Event::Hop {
                from: From::Core(1),
                key: 9,
                links: 0,
                cores: 0,
            },
            Event::LinkOut {
                link: 4,
                key: 9,
                queued: 33,
            },
            Event::Emergency { link: 1, key: 9 },
            Event::Deliver { p: 6, key: 10 },
            Event::Drop {
                key: 11,
                links: 1,
                cores: 0,
            },
            Event::Callback {
                p: 7,
                event: 2,
                enter: true,
            },
            Event::DmaDone { p: 4 },
        ];
        evs.iter()
            .enumerate()
            .map(|(i, &event)| Record {
                cycle: 1000 + i as u64,
                x: 1,
                y: 2,
                event,
            })
            .collect()
    }

    #[test]
    fn every_event_round_trips() {
        let recs = all_events();
        let mut bytes = Vec::new();
        write_header(&mut bytes).unwrap();
        for r in &recs {
            encode(r, &mut bytes);
        }
        assert_eq!(read_all(&bytes[..]).unwrap(), recs);
    }

    #[test]
    fn unknown_kinds_are_skipped_and_garbage_refused() {
        let mut bytes = Vec::new();
        write_header(&mut bytes).unwrap();
        bytes.extend_from_slice(&[200, 3, 1, 2, 3]);
        encode(&all_events()[0], &mut bytes);
        assert_eq!(read_all(&bytes[..]).unwrap().len(), 1);
        assert!(read_all(&b"hello"[..]).is_err());
        bytes.push(7);
        assert!(read_all(&bytes[..]).is_err(), "truncated record");
    }

    #[test]
    fn a_trace_cut_short_gives_its_complete_records_and_where_it_ends() {
        let recs = all_events();
        let mut bytes = Vec::new();
        write_header(&mut bytes).unwrap();
        let mut ends = vec![bytes.len()];
        for r in &recs {
            encode(r, &mut bytes);
            ends.push(bytes.len());
        }
        for cut in 0..bytes.len() {
            let p = read_complete(&bytes[..cut]).unwrap();
            // The records whose bytes all lie before the cut, and the cut if it is inside one.
            let whole = ends.iter().filter(|&&e| e <= cut).count().saturating_sub(1);
            assert_eq!(p.records, recs[..whole], "cut at {cut}");
            let at = if cut < 10 { 0 } else { ends[whole] };
            assert_eq!(
                p.truncated_at,
                (cut != at || cut < 10).then_some(at),
                "cut at {cut}"
            );
        }
        let p = read_complete(&bytes[..]).unwrap();
        assert_eq!((p.records, p.truncated_at), (recs, None));
    }

    #[test]
    fn filters_select_chips_cores_keys_kinds_and_time() {
        let recs = all_events();
        let f = Filter {
            kinds: vec![Kind::Send, Kind::Drop],
            keys: vec![(0, 100)],
            ..Filter::default()
        };
        let kept: Vec<_> = recs
            .iter()
            .filter(|r| f.keeps(r))
            .map(|r| r.event.kind())
            .collect();
        assert_eq!(kept, vec![Kind::Send, Kind::Drop]);
        let f = Filter {
            cores: vec![3],
            window: Some((1003, 1004)),
            ..Filter::default()
        };
        assert_eq!(recs.iter().filter(|r| f.keeps(r)).count(), 2);
        let f = Filter {
            chips: vec![(0, 0)],
            ..Filter::default()
        };
        assert_eq!(recs.iter().filter(|r| f.keeps(r)).count(), 0);
    }
}
