// SPDX-License-Identifier: GPL-2.0-or-later
//! A trace replayed in cycle order: each core's running/asleep/halted timeline and the matching
//! of packet events to their sends, shared by the Perfetto export and the statistics.

use std::collections::HashMap;

use crate::trace::{Event, Record};
use crate::Cycle;

/// True for states in which a core runs no code any more (dead, powered down, run-time error,
/// watchdog, exited): time spent there is neither busy nor asleep.
fn halts(state: u8) -> bool {
    spinn_hw::sysram::CpuState::from_u8(state).runs_no_code()
}

/// The records in cycle order; equal cycles keep their file order.
pub(super) fn by_cycle(records: &[Record]) -> Vec<&Record> {
    let mut sorted: Vec<&Record> = records.iter().collect();
    sorted.sort_by_key(|r| r.cycle);
    sorted
}

/// First and last cycle of a trace ((0, 0) when empty).
pub(super) fn bounds(records: &[Record]) -> (Cycle, Cycle) {
    let first = records.iter().map(|r| r.cycle).min().unwrap_or(0);
    let last = records.iter().map(|r| r.cycle).max().unwrap_or(0);
    (first, last)
}

pub(super) type CoreId = (u8, u8, u8);

/// What a core is doing between two of its records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    Running,
    Asleep,
    Halted,
}

/// A change in a core's timeline, for drawing it.
#[derive(Clone, Copy, Debug)]
pub(super) enum Seg {
    RunStart { at: Cycle },
    RunEnd { at: Cycle },
    IrqBegin { at: Cycle, source: u8, fiq: bool },
    IrqEnd { at: Cycle, source: u8, fiq: bool },
}

/// Rebuilds one core's running/asleep/halted timeline and its open interrupts from its records,
/// shared by [`perfetto`](super::perfetto()) and [`stats`](super::stats()) so that the picture
/// and the numbers agree.
pub(super) struct CoreMachine {
    mode: Mode,
    since: Cycle,
    /// Interrupts being handled, innermost last (an FIQ can interrupt an IRQ handler).
    irqs: Vec<(u8, bool)>,
    pub(super) busy: u64,
    pub(super) asleep: u64,
    pub(super) halted: u64,
}

impl CoreMachine {
    pub(super) fn new(mode: Mode, start: Cycle, out: &mut Vec<Seg>) -> Self {
        if mode == Mode::Running {
            out.push(Seg::RunStart { at: start });
        }
        CoreMachine {
            mode,
            since: start,
            irqs: Vec::new(),
            busy: 0,
            asleep: 0,
            halted: 0,
        }
    }

    fn close_irqs(&mut self, at: Cycle, out: &mut Vec<Seg>) {
        while let Some((source, fiq)) = self.irqs.pop() {
            out.push(Seg::IrqEnd { at, source, fiq });
        }
    }

    fn switch(&mut self, mode: Mode, at: Cycle, out: &mut Vec<Seg>) {
        if self.mode == mode {
            return;
        }
        let spent = at.saturating_sub(self.since);
        match self.mode {
            Mode::Running => {
                // A handler cannot outlive the running stretch it belongs to: close it here so
                // that spans stay nested even when the trace misses its acknowledgement.
                self.close_irqs(at, out);
                out.push(Seg::RunEnd { at });
                self.busy += spent;
            }
            Mode::Asleep => self.asleep += spent,
            Mode::Halted => self.halted += spent,
        }
        if mode == Mode::Running {
            out.push(Seg::RunStart { at });
        }
        self.mode = mode;
        self.since = at;
    }

    pub(super) fn step(&mut self, r: &Record, out: &mut Vec<Seg>) {
        let at = r.cycle;
        match r.event {
            Event::Sleep { .. } if self.mode == Mode::Running => self.switch(Mode::Asleep, at, out),
            Event::Wake { .. } if self.mode == Mode::Asleep => self.switch(Mode::Running, at, out),
            Event::State { state, .. } if halts(state) => self.switch(Mode::Halted, at, out),
            // A halted core that changes to a live state was restarted.
            Event::State { .. } if self.mode == Mode::Halted => self.switch(Mode::Running, at, out),
            Event::Interrupt { source, fiq, .. } => {
                // Taking an interrupt means the core runs, whatever order the records of one
                // cycle came in.
                self.switch(Mode::Running, at, out);
                self.irqs.push((source, fiq));
                out.push(Seg::IrqBegin { at, source, fiq });
            }
            Event::InterruptDone { .. } => {
                self.switch(Mode::Running, at, out);
                if let Some((source, fiq)) = self.irqs.pop() {
                    out.push(Seg::IrqEnd { at, source, fiq });
                }
            }
            Event::DmaStart { .. } | Event::Send { .. } => self.switch(Mode::Running, at, out),
            _ => {}
        }
    }

    /// Accounts for the last stretch and closes every open span at `end`.
    pub(super) fn finish(&mut self, end: Cycle, out: &mut Vec<Seg>) {
        if self.mode == Mode::Halted {
            self.halted += end.saturating_sub(self.since);
            self.since = end;
        } else {
            // Parking in Halted at the end adds nothing to the halted time.
            self.switch(Mode::Halted, end, out);
        }
    }
}

/// Each core's mode at the start of the trace: asleep when its first sleep-related record is a
/// Wake (the trace starts while it waits), running otherwise.
pub(super) fn initial_modes(sorted: &[&Record]) -> HashMap<CoreId, Mode> {
    let mut modes = HashMap::new();
    for r in sorted {
        let Some(p) = r.event.core() else { continue };
        let mode = match r.event {
            Event::Wake { .. } => Mode::Asleep,
            Event::Sleep { .. }
            | Event::Interrupt { .. }
            | Event::InterruptDone { .. }
            | Event::DmaStart { .. }
            | Event::Send { .. } => Mode::Running,
            _ => continue,
        };
        modes.entry((r.x, r.y, p)).or_insert(mode);
    }
    modes
}

/// Where a packet event happened, for matching (see the [`trace_tools`](super) documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Place {
    Router(u8, u8),
    Link(u8, u8, u8),
    Core(u8, u8, u8),
}

/// A packet instance: its flow id and the cycle it was sent.
#[derive(Clone, Copy, Debug)]
pub(super) struct Instance {
    pub(super) id: u64,
    pub(super) sent: Cycle,
}

/// Ties packet events to sends, by key in FIFO order per place.
#[derive(Default)]
pub(super) struct Matcher {
    sends: HashMap<u32, Vec<Instance>>,
    /// Per key and place, how many instances have been there. Each event takes the oldest
    /// instance not yet there, so those are always a prefix of the key's instances.
    visited: HashMap<(u32, Place), usize>,
    next_id: u64,
}

impl Matcher {
    pub(super) fn send(&mut self, key: u32, cycle: Cycle) -> u64 {
        self.next_id += 1;
        self.sends.entry(key).or_default().push(Instance {
            id: self.next_id,
            sent: cycle,
        });
        self.next_id
    }

    pub(super) fn arrive(&mut self, key: u32, place: Place) -> Option<Instance> {
        let instances = self.sends.get(&key)?;
        let n = self.visited.entry((key, place)).or_insert(0);
        let found = instances.get(*n).copied()?;
        *n += 1;
        Some(found)
    }
}
