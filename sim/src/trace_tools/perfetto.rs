// SPDX-License-Identifier: GPL-2.0-or-later
//! The Perfetto/Chrome trace-event export (`spinn trace perfetto`): a timeline of every core,
//! router and link output, with each packet drawn as a flow from its send to its deliveries.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{json, Value};

use super::replay::{
    bounds, by_cycle, initial_modes, CoreId, CoreMachine, Matcher, Mode, Place, Seg,
};
use super::{
    callback_name, core_list, hex, link_list, link_name, packet_type, state_name, vic_source_name,
};
use crate::trace::{Event, From as TraceFrom, Record};
use crate::{Cycle, NS_PER_CYCLE};

/// Thread id of a chip's router track in [`perfetto`] output.
pub const ROUTER_TID: u32 = 99;
/// Thread id of link 0's track in [`perfetto`] output (link `l` is `LINK_TID + l`).
pub const LINK_TID: u32 = 100;

/// `cycle` as Perfetto microseconds. The nanosecond count is exact in an f64, so the division
/// is the closest double to the true value and Perfetto's rounding (`llround(ts * 1000)`)
/// gets the nanosecond back: a span's `ts + dur` then lands exactly on the cycle it ends at.
fn ts_us(cycle: Cycle) -> f64 {
    // In u128: a damaged trace may hold any cycle count, and nanoseconds must not wrap.
    (u128::from(cycle) * u128::from(NS_PER_CYCLE)) as f64 / 1000.0
}

/// Builds the trace-event list: events in processing order, each with its sort cycle.
struct Timeline {
    events: Vec<(Cycle, Value)>,
    /// Per core, the index of its open "running" span, whose `dur` is filled when it ends.
    running: HashMap<CoreId, (usize, Cycle)>,
}

/// A Perfetto track: chip x, chip y, thread id.
type Track = (u8, u8, u32);

fn pid(x: u8, y: u8) -> u32 {
    x as u32 * 256 + y as u32
}

impl Timeline {
    fn push(&mut self, cycle: Cycle, (x, y, tid): Track, mut fields: Value) {
        fields["ts"] = json!(ts_us(cycle));
        fields["pid"] = json!(pid(x, y));
        fields["tid"] = json!(tid);
        self.events.push((cycle, fields));
    }

    fn instant(&mut self, cycle: Cycle, track: Track, name: &str, args: Value) {
        self.push(
            cycle,
            track,
            json!({"ph": "i", "s": "t", "name": name, "args": args}),
        );
    }

    /// A zero-length slice for a flow event to bind to: flows attach to slices, not instants,
    /// in the legacy Chrome viewer, and Perfetto binds a flow to the topmost open slice of its
    /// track, which is this one when the flow event follows it at the same time.
    fn anchor(&mut self, cycle: Cycle, track: Track, name: &str, args: Value) {
        self.push(
            cycle,
            track,
            json!({"ph": "X", "dur": 0.0, "name": name, "cat": "packet", "args": args}),
        );
    }

    /// A flow event: `ph` "s", "t" or "f". Perfetto identifies a v1 flow by (id, cat, name), so
    /// all events of one packet share the name.
    fn flow(&mut self, ph: &str, cycle: Cycle, track: Track, id: u64, key: u32) {
        let mut ev =
            json!({"ph": ph, "id": id, "cat": "packet", "name": format!("packet {}", hex(key))});
        if ph == "f" {
            // Bind to the enclosing slice (the delivery), not to the next slice of the track.
            ev["bp"] = json!("e");
        }
        self.push(cycle, track, ev);
    }

    fn segs(&mut self, (x, y, p): CoreId, segs: &mut Vec<Seg>) {
        let track = (x, y, p as u32);
        for seg in segs.drain(..) {
            match seg {
                Seg::RunStart { at } => {
                    self.running.insert((x, y, p), (self.events.len(), at));
                    self.push(
                        at,
                        track,
                        json!({"ph": "X", "name": "running", "cat": "core", "dur": 0.0}),
                    );
                }
                Seg::RunEnd { at } => {
                    if let Some((i, start)) = self.running.remove(&(x, y, p)) {
                        self.events[i].1["dur"] = json!(ts_us(at - start));
                    }
                }
                Seg::IrqBegin { at, source, fiq } | Seg::IrqEnd { at, source, fiq } => {
                    let ph = if matches!(seg, Seg::IrqBegin { .. }) {
                        "B"
                    } else {
                        "E"
                    };
                    self.push(at, track, json!({"ph": ph, "name": irq_name(source, fiq), "cat": "irq",
                        "args": {"source": source, "source_name": vic_source_name(source), "fiq": fiq}}));
                }
            }
        }
    }
}

fn irq_name(source: u8, fiq: bool) -> String {
    let fiq = if fiq { " (fiq)" } else { "" };
    format!("irq {source} {}{fiq}", vic_source_name(source))
}

fn metadata(name: &str, x: u8, y: u8, tid: u32, args: Value) -> Value {
    json!({"ph": "M", "name": name, "pid": pid(x, y), "tid": tid, "args": args})
}

/// The trace as Chrome/Perfetto trace-event JSON (`{"traceEvents": [...], "displayTimeUnit":
/// "ns"}`), to open in ui.perfetto.dev or chrome://tracing.
///
/// One process per chip (`pid` = x·256 + y, named "chip X,Y"); in it one thread per core
/// (`tid` = core, "core P"), one for the router (`tid` 99) and one per link output (`tid`
/// 100 + link, "link L (E)"). Timestamps are microseconds (a cycle is 0.005 µs).
///
/// - A core's running stretches (from a Wake, or the trace start, to the next Sleep) are "X"
///   slices named "running"; interrupt handlers are "B"/"E" pairs named "irq SOURCE NAME"
///   inside them, closed at the next Sleep, halt or the end of the trace when the trace has no
///   acknowledgement, so that pairs always balance.
/// - State changes (named by state), DMA starts, drops and emergency detours are instants; the
///   last two on the router track with args `key`, `links`, `cores`.
/// - Packets are flows (category "packet", `id` per packet instance, matched as described in
///   the [`trace_tools`](super) documentation): "s" at the Send on the core, "t" at each
///   router hop and link output, "f" at each delivery. Each flow event follows a zero-length
///   slice to bind to.
///
/// Metadata events come first; the rest are sorted by `ts` (stably, so that events of one
/// cycle keep their causal order).
pub fn perfetto(records: &[Record]) -> Value {
    // Callbacks still running at the end of the trace are left out (no end to draw).
    let mut callbacks_open: HashMap<(u8, u8, u8), Vec<(u8, Cycle)>> = HashMap::new();
    let sorted = by_cycle(records);
    let (start, end) = bounds(records);
    let initial = initial_modes(&sorted);
    let mut tl = Timeline {
        events: Vec::new(),
        running: HashMap::new(),
    };
    let mut cores: BTreeMap<CoreId, CoreMachine> = BTreeMap::new();
    let mut chips: BTreeSet<(u8, u8)> = BTreeSet::new();
    let mut matcher = Matcher::default();
    let mut segs = Vec::new();

    for r in &sorted {
        let (x, y, c) = (r.x, r.y, r.cycle);
        chips.insert((x, y));
        if let Some(p) = r.event.core() {
            let id = (x, y, p);
            let m = cores.entry(id).or_insert_with(|| {
                let mode = initial.get(&id).copied().unwrap_or(Mode::Running);
                CoreMachine::new(mode, start, &mut segs)
            });
            // A new core's first segment (running from the start) goes before its record's.
            m.step(r, &mut segs);
            tl.segs(id, &mut segs);
        }
        match r.event {
            Event::State { p, state } => tl.instant(
                c,
                (x, y, p as u32),
                state_name(state),
                json!({"state": state}),
            ),
            Event::DmaStart { p, bytes, write } => {
                let name = if write { "dma write" } else { "dma read" };
                tl.instant(
                    c,
                    (x, y, p as u32),
                    name,
                    json!({"bytes": bytes, "write": write}),
                );
            }
            Event::Send {
                p,
                key,
                payload,
                control,
            } => {
                let args = json!({"key": hex(key), "payload": payload.map(hex), "control": control, "type": packet_type(control)});
                tl.anchor(c, (x, y, p as u32), &format!("send {}", hex(key)), args);
                let id = matcher.send(key, c);
                tl.flow("s", c, (x, y, p as u32), id, key);
            }
            Event::Hop {
                from,
                key,
                links,
                cores: to,
            } => {
                let from = match from {
                    TraceFrom::Core(p) => format!("core {p}"),
                    TraceFrom::Link(l) => format!("link {l} ({})", link_name(l)),
                };
                let args = json!({"key": hex(key), "from": from, "links": link_list(links), "cores": core_list(to)});
                tl.anchor(c, (x, y, ROUTER_TID), &format!("hop {}", hex(key)), args);
                if let Some(inst) = matcher.arrive(key, Place::Router(x, y)) {
                    tl.flow("t", c, (x, y, ROUTER_TID), inst.id, key);
                }
            }
            Event::LinkOut { link, key, queued } => {
                let track = (x, y, LINK_TID + link as u32);
                tl.anchor(
                    c,
                    track,
                    &format!("out {}", hex(key)),
                    json!({"key": hex(key), "queued_cycles": queued}),
                );
                if let Some(inst) = matcher.arrive(key, Place::Link(x, y, link)) {
                    tl.flow("t", c, track, inst.id, key);
                }
            }
            Event::Deliver { p, key } => {
                tl.anchor(
                    c,
                    (x, y, p as u32),
                    &format!("receive {}", hex(key)),
                    json!({"key": hex(key)}),
                );
                if let Some(inst) = matcher.arrive(key, Place::Core(x, y, p)) {
                    tl.flow("f", c, (x, y, p as u32), inst.id, key);
                }
            }
            Event::Drop {
                key,
                links,
                cores: failed,
            } => {
                tl.instant(
                    c,
                    (x, y, ROUTER_TID),
                    "drop",
                    json!({"key": hex(key), "links": link_list(links), "cores": core_list(failed)}),
                );
            }
            Event::Emergency { link, key } => {
                // The same args as a drop, so that one query covers both: the detour link.
                tl.instant(
                    c,
                    (x, y, ROUTER_TID),
                    "emergency",
                    json!({"key": hex(key), "links": [link_name(link)], "cores": []}),
                );
            }
            Event::Callback { p, event, enter } => {
                let open = callbacks_open.entry((x, y, p)).or_default();
                if enter {
                    open.push((event, c));
                } else if let Some((e, start)) = open.pop() {
                    let ev = json!({"ph": "X", "cat": "callback", "name": format!("callback {}", callback_name(e)), "ts": ts_us(start), "dur": ts_us(c) - ts_us(start), "pid": pid(x, y), "tid": p as u32});
                    tl.events.push((start, ev));
                }
            }
            Event::DmaDone { p } => tl.instant(c, (x, y, p as u32), "dma done", json!({})),
            Event::Interrupt { .. }
            | Event::InterruptDone { .. }
            | Event::Sleep { .. }
            | Event::Wake { .. } => {}
        }
    }
    for (&id, m) in cores.iter_mut() {
        m.finish(end, &mut segs);
        tl.segs(id, &mut segs);
    }
    tl.events.sort_by_key(|(c, _)| *c);

    let mut out = Vec::new();
    for &(x, y) in &chips {
        out.push(metadata(
            "process_name",
            x,
            y,
            0,
            json!({"name": format!("chip {x},{y}")}),
        ));
        out.push(metadata(
            "process_sort_index",
            x,
            y,
            0,
            json!({"sort_index": pid(x, y)}),
        ));
        let mut threads: Vec<(u32, String)> = cores
            .keys()
            .filter(|k| (k.0, k.1) == (x, y))
            .map(|k| (k.2 as u32, format!("core {}", k.2)))
            .collect();
        threads.push((ROUTER_TID, "router".into()));
        threads.extend(
            (0..6u8).map(|l| (LINK_TID + l as u32, format!("link {l} ({})", link_name(l)))),
        );
        for (tid, name) in threads {
            out.push(metadata("thread_name", x, y, tid, json!({"name": name})));
            out.push(metadata(
                "thread_sort_index",
                x,
                y,
                tid,
                json!({"sort_index": tid}),
            ));
        }
    }
    out.extend(tl.events.into_iter().map(|(_, v)| v));
    json!({"traceEvents": out, "displayTimeUnit": "ns"})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace_tools::tests::{rec, story};

    #[test]
    fn any_cycle_count_converts_without_overflow() {
        // A damaged trace (found by fuzz/fuzz_targets/trace.rs) may hold any cycle count.
        let v = perfetto(&[
            rec(u64::MAX, 0, 0, Event::Sleep { p: 1 }),
            rec(u64::MAX, 0, 0, Event::Wake { p: 1 }),
        ]);
        assert!(!events(&v).is_empty());
        assert_eq!(ts_us(u64::MAX), u64::MAX as f64 * 5.0 / 1000.0);
    }

    fn events(v: &Value) -> &Vec<Value> {
        v["traceEvents"]
            .as_array()
            .expect("traceEvents is an array")
    }

    fn on_track(v: &Value, pid: u32, tid: u32) -> Vec<&Value> {
        events(v)
            .iter()
            .filter(|e| e["pid"] == pid && e["tid"] == tid && e["ph"] != "M")
            .collect()
    }

    /// Checks the required fields, the time order and the balance and nesting of B/E pairs.
    fn check_well_formed(v: &Value) {
        assert_eq!(v["displayTimeUnit"], "ns");
        let evs = events(v);
        let mut last_ts = f64::MIN;
        let mut seen_timed = false;
        let mut stacks: HashMap<(u64, u64), Vec<String>> = HashMap::new();
        for e in evs {
            for field in ["ph", "pid", "tid", "name"] {
                assert!(e.get(field).is_some(), "{field} missing in {e}");
            }
            assert!(e["name"].is_string() && e["ph"].is_string(), "{e}");
            if e["ph"] == "M" {
                assert!(!seen_timed, "metadata comes first: {e}");
                continue;
            }
            seen_timed = true;
            let ts = e["ts"]
                .as_f64()
                .unwrap_or_else(|| panic!("ts missing in {e}"));
            assert!(ts >= last_ts, "sorted by ts: {e}");
            last_ts = ts;
            let track = (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap());
            let name = e["name"].as_str().unwrap().to_string();
            match e["ph"].as_str().unwrap() {
                "B" => stacks.entry(track).or_default().push(name),
                "E" => assert_eq!(
                    stacks.entry(track).or_default().pop(),
                    Some(name),
                    "E matches the innermost B: {e}"
                ),
                "X" => assert!(e["dur"].as_f64().unwrap() >= 0.0, "{e}"),
                "s" | "t" | "f" => {
                    assert_eq!(e["cat"], "packet");
                    assert!(e["id"].is_u64(), "{e}");
                }
                "i" => {}
                other => panic!("unexpected phase {other}"),
            }
        }
        assert!(
            stacks.values().all(Vec::is_empty),
            "unbalanced B/E: {stacks:?}"
        );
    }

    #[test]
    fn perfetto_events_have_the_required_fields_and_order() {
        let v = perfetto(&story());
        check_well_formed(&v);
        // A 5 ns cycle is 0.005 µs.
        let send = events(&v).iter().find(|e| e["ph"] == "s").unwrap();
        assert_eq!(send["ts"].as_f64().unwrap(), 1.1);
        assert_eq!(send["pid"], 0);
        assert_eq!(send["tid"], 1);
        let hop = events(&v)
            .iter()
            .find(|e| e["name"] == "hop 0x00000010" && e["pid"] == 256)
            .unwrap();
        assert_eq!(hop["ts"].as_f64().unwrap(), 1.5);
        assert_eq!(hop["tid"], ROUTER_TID);
    }

    #[test]
    fn perfetto_names_processes_and_threads() {
        let v = perfetto(&story());
        let meta = |name: &str, pid: u32, tid: u32| {
            events(&v)
                .iter()
                .find(|e| e["ph"] == "M" && e["name"] == name && e["pid"] == pid && e["tid"] == tid)
                .map(|e| e["args"]["name"].as_str().unwrap().to_string())
        };
        assert_eq!(meta("process_name", 0, 0).as_deref(), Some("chip 0,0"));
        assert_eq!(meta("process_name", 256, 0).as_deref(), Some("chip 1,0"));
        assert_eq!(meta("thread_name", 0, 1).as_deref(), Some("core 1"));
        assert_eq!(meta("thread_name", 256, 2).as_deref(), Some("core 2"));
        assert_eq!(meta("thread_name", 0, 2), None, "no core 2 on chip 0,0");
        assert_eq!(meta("thread_name", 0, 99).as_deref(), Some("router"));
        assert_eq!(meta("thread_name", 0, 100).as_deref(), Some("link 0 (E)"));
        assert_eq!(
            meta("thread_name", 256, 101).as_deref(),
            Some("link 1 (NE)")
        );
        assert_eq!(meta("thread_name", 256, 105).as_deref(), Some("link 5 (S)"));
    }

    #[test]
    fn perfetto_running_spans_go_from_wake_to_sleep() {
        let v = perfetto(&story());
        let running: Vec<(f64, f64)> = on_track(&v, 0, 1)
            .into_iter()
            .filter(|e| e["name"] == "running")
            .map(|e| {
                assert_eq!(e["ph"], "X");
                (e["ts"].as_f64().unwrap(), e["dur"].as_f64().unwrap())
            })
            .collect();
        // Before the first Sleep (from the trace start), then Wake 200 to Sleep 250.
        assert_eq!(running, vec![(0.0, 0.5), (1.0, 0.25)]);
        // Core 2 sleeps first, then runs 310..400.
        let running: Vec<(f64, f64)> = on_track(&v, 256, 2)
            .into_iter()
            .filter(|e| e["name"] == "running")
            .map(|e| (e["ts"].as_f64().unwrap(), e["dur"].as_f64().unwrap()))
            .collect();
        assert_eq!(running, vec![(0.0, 0.5), (1.55, 0.45)]);
    }

    #[test]
    fn perfetto_interrupts_are_balanced_even_when_the_trace_is_cut() {
        let mut t = story();
        // Nested: an FIQ inside an IRQ, neither acknowledged before the trace ends.
        t.push(rec(500, 0, 0, Event::Wake { p: 1 }));
        t.push(rec(
            510,
            0,
            0,
            Event::Interrupt {
                p: 1,
                fiq: false,
                source: 5,
            },
        ));
        t.push(rec(
            520,
            0,
            0,
            Event::Interrupt {
                p: 1,
                fiq: true,
                source: 12,
            },
        ));
        t.push(rec(600, 1, 0, Event::State { p: 2, state: 11 }));
        let v = perfetto(&t);
        check_well_formed(&v);
        let core1 = on_track(&v, 0, 1);
        let b: Vec<&str> = core1
            .iter()
            .filter(|e| e["ph"] == "B")
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            b,
            vec!["irq 4 TIMER1", "irq 5 TIMER2", "irq 12 DMA_DONE (fiq)"]
        );
        let e: Vec<(&str, f64)> = core1
            .iter()
            .filter(|e| e["ph"] == "E")
            .map(|e| (e["name"].as_str().unwrap(), e["ts"].as_f64().unwrap()))
            .collect();
        assert_eq!(
            e,
            vec![
                ("irq 4 TIMER1", 1.2),
                ("irq 12 DMA_DONE (fiq)", 3.0),
                ("irq 5 TIMER2", 3.0)
            ]
        );
        // The last running span is closed at the last timestamp too.
        let last = core1.iter().rfind(|e| e["name"] == "running").unwrap();
        assert_eq!(
            (last["ts"].as_f64().unwrap(), last["dur"].as_f64().unwrap()),
            (2.5, 0.5)
        );
        // Core 2's FIQ is named as such; its state change is an instant.
        assert!(on_track(&v, 256, 2)
            .iter()
            .any(|e| e["ph"] == "B" && e["name"] == "irq 24 CC_MC (fiq)"));
        assert!(on_track(&v, 256, 2)
            .iter()
            .any(|e| e["ph"] == "i" && e["name"] == "EXIT" && e["args"]["state"] == 11));
    }

    #[test]
    fn perfetto_unacknowledged_interrupt_closes_at_sleep() {
        let t = vec![
            rec(
                0,
                0,
                0,
                Event::Interrupt {
                    p: 3,
                    fiq: false,
                    source: 18,
                },
            ),
            rec(50, 0, 0, Event::Sleep { p: 3 }),
            rec(60, 0, 0, Event::InterruptDone { p: 3 }),
            rec(70, 0, 0, Event::Sleep { p: 3 }),
        ];
        let v = perfetto(&t);
        check_well_formed(&v);
        let ends: Vec<f64> = on_track(&v, 0, 3)
            .iter()
            .filter(|e| e["ph"] == "E")
            .map(|e| e["ts"].as_f64().unwrap())
            .collect();
        assert_eq!(ends, vec![0.25]);
        // The stray acknowledgement at 60 means the core ran again: 60..70.
        let running: Vec<f64> = on_track(&v, 0, 3)
            .iter()
            .filter(|e| e["name"] == "running")
            .map(|e| e["ts"].as_f64().unwrap())
            .collect();
        assert_eq!(running, vec![0.0, 0.3]);
    }

    /// (ph, pid, tid) of every flow event of `id`, in order.
    fn flow(v: &Value, id: u64) -> Vec<(String, u64, u64)> {
        events(v)
            .iter()
            .filter(|e| matches!(e["ph"].as_str(), Some("s" | "t" | "f")) && e["id"] == id)
            .map(|e| {
                (
                    e["ph"].as_str().unwrap().to_string(),
                    e["pid"].as_u64().unwrap(),
                    e["tid"].as_u64().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn perfetto_packets_are_flows_from_send_to_delivery() {
        let v = perfetto(&story());
        let f = flow(&v, 1);
        let expect = [
            ("s", 0, 1),
            ("t", 0, 99),
            ("t", 0, 100),
            ("t", 256, 99),
            ("f", 256, 2),
        ];
        assert_eq!(f, expect.map(|(p, a, b)| (p.to_string(), a, b)));
        // Every flow event shares the name (Perfetto's v1 flow identity) and follows a slice
        // of its track at the same time to bind to.
        let evs = events(&v);
        for (i, e) in evs.iter().enumerate().filter(|(_, e)| e["id"] == 1) {
            assert_eq!(e["name"], "packet 0x00000010");
            let anchor = &evs[i - 1];
            assert_eq!(
                (
                    anchor["ph"].as_str(),
                    &anchor["pid"],
                    &anchor["tid"],
                    &anchor["ts"]
                ),
                (Some("X"), &e["pid"], &e["tid"], &e["ts"])
            );
            assert_eq!(anchor["dur"].as_f64(), Some(0.0));
        }
        let end = evs.iter().find(|e| e["ph"] == "f").unwrap();
        assert_eq!(end["bp"], "e");
    }

    #[test]
    fn perfetto_matches_packets_of_one_key_first_in_first_out() {
        let k = 0xABC;
        let t = vec![
            rec(
                10,
                0,
                0,
                Event::Send {
                    p: 1,
                    key: k,
                    payload: Some(1),
                    control: 2,
                },
            ),
            rec(
                10,
                0,
                0,
                Event::Hop {
                    from: TraceFrom::Core(1),
                    key: k,
                    links: 0,
                    cores: (1 << 2) | (1 << 3),
                },
            ),
            rec(
                20,
                0,
                0,
                Event::Send {
                    p: 1,
                    key: k,
                    payload: Some(2),
                    control: 2,
                },
            ),
            rec(
                20,
                0,
                0,
                Event::Hop {
                    from: TraceFrom::Core(1),
                    key: k,
                    links: 0,
                    cores: (1 << 2) | (1 << 3),
                },
            ),
            // Multicast: both deliveries of the first packet come before the second's.
            rec(25, 0, 0, Event::Deliver { p: 2, key: k }),
            rec(26, 0, 0, Event::Deliver { p: 3, key: k }),
            rec(35, 0, 0, Event::Deliver { p: 3, key: k }),
            rec(36, 0, 0, Event::Deliver { p: 2, key: k }),
            // A delivery with no send left: an anchor but no flow end.
            rec(40, 0, 0, Event::Deliver { p: 2, key: k }),
        ];
        let v = perfetto(&t);
        check_well_formed(&v);
        let s = |v: &[(&str, u64, u64)]| {
            v.iter()
                .map(|&(p, a, b)| (p.to_string(), a, b))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            flow(&v, 1),
            s(&[("s", 0, 1), ("t", 0, 99), ("f", 0, 2), ("f", 0, 3)])
        );
        assert_eq!(
            flow(&v, 2),
            s(&[("s", 0, 1), ("t", 0, 99), ("f", 0, 3), ("f", 0, 2)])
        );
        assert_eq!(events(&v).iter().filter(|e| e["ph"] == "f").count(), 4);
        assert_eq!(
            events(&v)
                .iter()
                .filter(|e| e["name"] == "receive 0x00000abc")
                .count(),
            5
        );
    }

    #[test]
    fn perfetto_drops_and_emergencies_are_router_instants() {
        let t = vec![
            rec(5, 2, 3, Event::Emergency { link: 1, key: 7 }),
            rec(
                6,
                2,
                3,
                Event::Drop {
                    key: 7,
                    links: 0b101,
                    cores: 1 << 4,
                },
            ),
            rec(
                7,
                2,
                3,
                Event::DmaStart {
                    p: 6,
                    bytes: 64,
                    write: true,
                },
            ),
        ];
        let v = perfetto(&t);
        check_well_formed(&v);
        let router = on_track(&v, 2 * 256 + 3, ROUTER_TID);
        assert_eq!(router.len(), 2);
        assert_eq!(router[0]["ph"], "i");
        assert_eq!(router[0]["name"], "emergency");
        assert_eq!(
            router[0]["args"],
            json!({"key": "0x00000007", "links": ["NE"], "cores": []})
        );
        assert_eq!(router[1]["name"], "drop");
        assert_eq!(
            router[1]["args"],
            json!({"key": "0x00000007", "links": ["E", "N"], "cores": [4]})
        );
        let dma = on_track(&v, 2 * 256 + 3, 6);
        assert!(dma
            .iter()
            .any(|e| e["ph"] == "i" && e["name"] == "dma write" && e["args"]["bytes"] == 64));
    }

    #[test]
    fn perfetto_json_round_trips() {
        let v = perfetto(&story());
        let text = serde_json::to_string(&v).unwrap();
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v);
        let empty = perfetto(&[]);
        assert_eq!(empty, json!({"traceEvents": [], "displayTimeUnit": "ns"}));
        assert_eq!(
            serde_json::from_str::<Value>(&empty.to_string()).unwrap(),
            empty
        );
    }
}
