// SPDX-License-Identifier: GPL-2.0-or-later
//! Trace analysis: a Perfetto/Chrome timeline, summary statistics, and the first difference
//! between two traces (for `spinn trace perfetto|stats|diff`).
//!
//! Every tool works on records in cycle order (a stable sort of the file order): a trace file
//! interleaves chips window by window, so a neighbour's records may precede earlier events of
//! another chip in the file.
//!
//! # Matching packets
//!
//! Packets carry no identity, so a packet's events are tied to its `Send` by key, first in
//! first out: every `Send` opens a packet instance of its key, and an event of that key at a
//! place (a chip's router, one of its links, one of its cores) belongs to the oldest instance
//! of the key that has not been at that place yet. Each instance visits a place at most once,
//! so a multicast packet's deliveries to several cores all match the same `Send`, and events
//! the simulator does not trace (deliveries to monitor or idle cores) leave other places'
//! matching undisturbed. It is an approximation: two packets of one key that overtake each
//! other (an emergency detour can do that), a `Send` outside the traced window or filter, or
//! a packet dropped before reaching a place shift the matching for that key and place.
//!
//! One file per tool: `perfetto.rs` (the timeline), `stats.rs` (the statistics) and `diff.rs`
//! (the first difference); `replay.rs` holds what the first two share (core timelines, packet
//! matching) and this file the naming helpers and [`describe`].

use crate::trace::{Event, From as TraceFrom, Record};
use crate::{Cycle, CPU_CLK_MHZ, NS_PER_CYCLE};
use spinn_hw::sysram::CpuState;

mod diff;
mod perfetto;
mod replay;
mod stats;

pub use diff::{first_divergence, summary, Divergence, CONTEXT};
pub use perfetto::{perfetto, LINK_TID, ROUTER_TID};
pub use stats::{
    stats, CallbackStats, ChipDrops, CoreStats, DropOutput, DropPlace, IrqCount, Latency,
    LatencyBucket, LinkStats, PacketStats, Stats, TOP,
};

const LINK_NAMES: [&str; 6] = ["E", "NE", "N", "W", "SW", "S"];

/// VIC source names (hardware notes §4), indexed by source number.
const VIC_NAMES: [&str; 32] = [
    "WDOG", "SOFTWARE", "COMM_RX", "COMM_TX", "TIMER1", "TIMER2", "CC_RDY", "CC_RPE", "CC_RFE",
    "CC_TFL", "CC_TOV", "CC_TMT", "DMA_DONE", "DMA_ERR", "DMA_TO", "RTR_DIAG", "RTR_DUMP",
    "RTR_ERR", "CPU", "ETH_TX", "ETH_RX", "ETH_PHY", "SLOW_CLK", "CC_TNF", "CC_MC", "CC_P2P",
    "CC_NN", "CC_FR", "INT0", "INT1", "GPIO8", "GPIO9",
];

/// Short name of a link direction (0 E, 1 NE, 2 N, 3 W, 4 SW, 5 S); "?" for other numbers.
pub fn link_name(link: u8) -> &'static str {
    LINK_NAMES.get(link as usize).copied().unwrap_or("?")
}

/// Name of a VIC interrupt source (`TIMER1`, `CC_MC`, ...); "?" beyond 31.
pub fn vic_source_name(source: u8) -> &'static str {
    VIC_NAMES.get(source as usize).copied().unwrap_or("?")
}

/// Name of a SpiNNaker `cpu_state` value (`RUN`, `EXIT`, ...); "?" for unassigned numbers.
pub fn state_name(state: u8) -> &'static str {
    CpuState::from_u8(state).known_name().unwrap_or("?")
}

/// The spin1 event a runtime callback serves (8: a callback queued by spin1_schedule_callback).
pub fn callback_name(event: u8) -> &'static str {
    const NAMES: [&str; 9] = [
        "MC_PACKET_RECEIVED",
        "DMA_TRANSFER_DONE",
        "TIMER_TICK",
        "SDP_PACKET_RX",
        "USER_EVENT",
        "MCPL_PACKET_RECEIVED",
        "FR_PACKET_RECEIVED",
        "FRPL_PACKET_RECEIVED",
        "SCHEDULED",
    ];
    NAMES.get(event as usize).copied().unwrap_or("UNKNOWN")
}

/// `cycle` as microseconds, exactly to the nanosecond ("6.170").
fn fmt_us(cycle: Cycle) -> String {
    format!(
        "{}.{:03}",
        cycle / CPU_CLK_MHZ,
        (cycle % CPU_CLK_MHZ) * NS_PER_CYCLE
    )
}

fn hex(key: u32) -> String {
    format!("{key:#010x}")
}

/// Names of the links set in `links` ("E", "N", ...).
fn link_list(links: u8) -> Vec<&'static str> {
    (0..6)
        .filter(|l| links & (1 << l) != 0)
        .map(link_name)
        .collect()
}

/// Numbers of the cores set in `cores`.
fn core_list(cores: u32) -> Vec<u8> {
    (0..32u8).filter(|p| cores & (1 << p) != 0).collect()
}

fn packet_type(control: u8) -> &'static str {
    ["MC", "P2P", "NN", "FR"][(control >> 6) as usize]
}

/// One readable line for a record: cycle (and µs), chip, core or router, what happened.
pub fn describe(r: &Record) -> String {
    let lists = |links: u8, cores: u32| {
        let mut parts = Vec::new();
        if links != 0 {
            parts.push(format!("links {}", link_list(links).join(",")));
        }
        if cores != 0 {
            let cs: Vec<String> = core_list(cores).iter().map(u8::to_string).collect();
            parts.push(format!("cores {}", cs.join(",")));
        }
        parts.join(" ")
    };
    let what = match r.event {
        Event::State { p, state } => format!("core {p}: state {} ({state})", state_name(state)),
        Event::Interrupt { p, fiq, source } => {
            let kind = if fiq { "FIQ" } else { "IRQ" };
            format!("core {p}: {kind} {} ({source})", vic_source_name(source))
        }
        Event::InterruptDone { p } => format!("core {p}: interrupt done"),
        Event::Sleep { p } => format!("core {p}: sleeps"),
        Event::Wake { p } => format!("core {p}: wakes"),
        Event::DmaStart { p, bytes, write } => {
            let dir = if write {
                "write (TCM to system)"
            } else {
                "read (system to TCM)"
            };
            format!("core {p}: DMA {dir} of {bytes} bytes")
        }
        Event::Send {
            p,
            key,
            payload,
            control,
        } => {
            let payload = payload
                .map(|v| format!(" payload {v:#010x}"))
                .unwrap_or_default();
            format!(
                "core {p}: sends {} key {}{payload} (control {control:#04x})",
                packet_type(control),
                hex(key)
            )
        }
        Event::Hop {
            from,
            key,
            links,
            cores,
        } => {
            let from = match from {
                TraceFrom::Core(p) => format!("core {p}"),
                TraceFrom::Link(l) => format!("link {l} ({})", link_name(l)),
            };
            let to = if links == 0 && cores == 0 {
                "nowhere".to_string()
            } else {
                lists(links, cores)
            };
            format!("router: key {} from {from} to {to}", hex(key))
        }
        Event::LinkOut { link, key, queued } => {
            format!(
                "link {link} ({}): key {} leaves after {queued} cycles queued",
                link_name(link),
                hex(key)
            )
        }
        Event::Emergency { link, key } => {
            format!(
                "router: key {} detoured by link {link} ({})",
                hex(key),
                link_name(link)
            )
        }
        Event::Deliver { p, key } => format!("core {p}: receives key {}", hex(key)),
        Event::Drop { key, links, cores } => {
            let why = if links == 0 && cores == 0 {
                "no route".to_string()
            } else {
                format!("failed {}", lists(links, cores))
            };
            format!("router: drops key {} ({why})", hex(key))
        }
        Event::Callback { p, event, enter } => {
            format!(
                "core {p}: {} {} callback",
                if enter { "enters" } else { "leaves" },
                callback_name(event)
            )
        }
        Event::DmaDone { p } => format!("core {p}: DMA transfer done"),
    };
    format!(
        "cycle {:>10} ({:>12} µs) chip {},{} {what}",
        r.cycle,
        fmt_us(r.cycle),
        r.x,
        r.y
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn rec(cycle: Cycle, x: u8, y: u8, event: Event) -> Record {
        Record { cycle, x, y, event }
    }

    /// A small two-chip story: core 1 of (0,0) runs, takes a timer interrupt, sends key 0x10
    /// to core 2 of (1,0) over link 0 and sleeps; core 2 wakes on the packet.
    pub(super) fn story() -> Vec<Record> {
        vec![
            rec(0, 0, 0, Event::State { p: 1, state: 7 }),
            rec(100, 0, 0, Event::Sleep { p: 1 }),
            rec(100, 1, 0, Event::Sleep { p: 2 }),
            rec(200, 0, 0, Event::Wake { p: 1 }),
            rec(
                200,
                0,
                0,
                Event::Interrupt {
                    p: 1,
                    fiq: false,
                    source: 4,
                },
            ),
            rec(
                210,
                0,
                0,
                Event::DmaStart {
                    p: 1,
                    bytes: 256,
                    write: false,
                },
            ),
            rec(
                220,
                0,
                0,
                Event::Send {
                    p: 1,
                    key: 0x10,
                    payload: None,
                    control: 0,
                },
            ),
            rec(
                220,
                0,
                0,
                Event::Hop {
                    from: TraceFrom::Core(1),
                    key: 0x10,
                    links: 1,
                    cores: 0,
                },
            ),
            rec(
                230,
                0,
                0,
                Event::LinkOut {
                    link: 0,
                    key: 0x10,
                    queued: 0,
                },
            ),
            rec(240, 0, 0, Event::InterruptDone { p: 1 }),
            rec(250, 0, 0, Event::Sleep { p: 1 }),
            rec(
                300,
                1,
                0,
                Event::Hop {
                    from: TraceFrom::Link(3),
                    key: 0x10,
                    links: 0,
                    cores: 1 << 2,
                },
            ),
            rec(310, 1, 0, Event::Deliver { p: 2, key: 0x10 }),
            rec(310, 1, 0, Event::Wake { p: 2 }),
            rec(
                310,
                1,
                0,
                Event::Interrupt {
                    p: 2,
                    fiq: true,
                    source: 24,
                },
            ),
            rec(320, 1, 0, Event::InterruptDone { p: 2 }),
            rec(400, 1, 0, Event::Sleep { p: 2 }),
        ]
    }

    #[test]
    fn describe_every_event() {
        let cases = [
            (Event::State { p: 1, state: 7 }, "core 1: state RUN (7)"),
            (Event::State { p: 1, state: 12 }, "core 1: state ? (12)"),
            (
                Event::Interrupt {
                    p: 2,
                    fiq: true,
                    source: 4,
                },
                "core 2: FIQ TIMER1 (4)",
            ),
            (
                Event::Interrupt {
                    p: 2,
                    fiq: false,
                    source: 24,
                },
                "core 2: IRQ CC_MC (24)",
            ),
            (Event::InterruptDone { p: 2 }, "core 2: interrupt done"),
            (Event::Sleep { p: 3 }, "core 3: sleeps"),
            (Event::Wake { p: 3 }, "core 3: wakes"),
            (
                Event::DmaStart {
                    p: 4,
                    bytes: 1024,
                    write: true,
                },
                "core 4: DMA write (TCM to system) of 1024 bytes",
            ),
            (
                Event::Send {
                    p: 5,
                    key: 0xDEAD_BEEF,
                    payload: Some(7),
                    control: 2,
                },
                "core 5: sends MC key 0xdeadbeef payload 0x00000007 (control 0x02)",
            ),
            (
                Event::Send {
                    p: 5,
                    key: 1,
                    payload: None,
                    control: 0x80,
                },
                "core 5: sends NN key 0x00000001 (control 0x80)",
            ),
            (
                Event::Hop {
                    from: TraceFrom::Link(3),
                    key: 9,
                    links: 0x21,
                    cores: 1 << 7,
                },
                "router: key 0x00000009 from link 3 (W) to links E,S cores 7",
            ),
            (
                Event::Hop {
                    from: TraceFrom::Core(1),
                    key: 9,
                    links: 0,
                    cores: 0,
                },
                "router: key 0x00000009 from core 1 to nowhere",
            ),
            (
                Event::LinkOut {
                    link: 4,
                    key: 9,
                    queued: 33,
                },
                "link 4 (SW): key 0x00000009 leaves after 33 cycles queued",
            ),
            (
                Event::Emergency { link: 1, key: 9 },
                "router: key 0x00000009 detoured by link 1 (NE)",
            ),
            (
                Event::Deliver { p: 6, key: 10 },
                "core 6: receives key 0x0000000a",
            ),
            (
                Event::Drop {
                    key: 11,
                    links: 1,
                    cores: 0,
                },
                "router: drops key 0x0000000b (failed links E)",
            ),
            (
                Event::Drop {
                    key: 11,
                    links: 0,
                    cores: 0,
                },
                "router: drops key 0x0000000b (no route)",
            ),
        ];
        for (event, what) in cases {
            let line = describe(&rec(123_457, 1, 2, event));
            assert_eq!(
                line,
                format!("cycle     123457 (     617.285 µs) chip 1,2 {what}")
            );
        }
    }
}
