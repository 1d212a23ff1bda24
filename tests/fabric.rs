// SPDX-License-Identifier: GPL-2.0-or-later
//! End-to-end tests of many chips: the `fabric` firmware on every chip sends multicast packets
//! through routing tables written by the test, over the links of real machine shapes.

use spinn_hw::geometry::MachineDesc;
use spinn_hw::program::Program;
use spinn_hw::report::StopReason;
use spinn_hw::routes::RouteEntry;
use spinn_hw::routes::{chip_key, to_every_chip};
use spinn_hw::sysram::vcpu;
use spinn_sim::chip::ChipConfig;
use spinn_sim::machine::Machine;
use spinn_sim::CPU_CLK_MHZ;

mod common;

const MS: u64 = CPU_CLK_MHZ * 1000;
/// Where the test leaves each core's parameter block (user SDRAM, one 64 KiB slot per core).
const PARAMS: u32 = 0x6100_0000;

fn fabric() -> Program {
    common::firmware("fabric")
}

fn key(dst: (u8, u8), src: (u8, u8), n: u8) -> u32 {
    chip_key(dst.0, dst.1) | (src.0 as u32) << 12 | (src.1 as u32) << 8 | n as u32
}

/// Loads `fabric` on core `p` of chip `c` with what it expects, sends and how.
fn setup(m: &mut Machine, c: (u8, u8), p: u8, expect: u32, keys: &[u32], payload: bool) {
    setup_paced(m, c, p, expect, keys, payload, 0);
}

/// As `setup`, waiting `gap_us` microseconds between two sends.
fn setup_paced(
    m: &mut Machine,
    c: (u8, u8),
    p: u8,
    expect: u32,
    keys: &[u32],
    payload: bool,
    gap_us: u32,
) {
    m.load(c.0, c.1, p as u32, &fabric(), 30).unwrap();
    let chip = m.chip(c.0, c.1).unwrap();
    let addr = PARAMS + 0x1_0000 * p as u32;
    let mut words = vec![expect, keys.len() as u32, payload as u32 | gap_us << 8];
    words.extend_from_slice(keys);
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    assert!(chip.write_system(addr, &bytes));
    chip.set_vcpu_word(p, vcpu::USER, addr);
}

fn all_to_all(desc: MachineDesc, payload: bool) -> (Machine, StopReason) {
    let chips = desc.chips();
    let mut m = Machine::new(desc.clone(), ChipConfig::default());
    for (i, &src) in chips.iter().enumerate() {
        // Source i sends to i+1, i+2, ... so that no two sources aim at one chip at once.
        let n = chips.len();
        let keys: Vec<u32> = (1..n).map(|k| key(chips[(i + k) % n], src, 0)).collect();
        // Paced, so that no receiver gets more than it can take within the router's wait time.
        setup_paced(&mut m, src, 1, chips.len() as u32 - 1, &keys, payload, 2);
    }
    m.load_routes(&to_every_chip(&desc, 1)).unwrap();
    let stop = m.run(20 * MS);
    (m, stop)
}

#[test]
fn every_chip_of_a_spinn5_reaches_every_other_over_shortest_paths() {
    let desc = MachineDesc::spinn5();
    let chips = desc.chips();
    assert_eq!(chips.len(), 48);
    let (m, stop) = all_to_all(desc.clone(), true);
    assert_eq!(stop, StopReason::AllFinished);
    for r in m.reports() {
        let me = (r.x, r.y);
        let expected_sum = chips
            .iter()
            .filter(|&&s| s != me)
            .fold(0u32, |a, &s| a.wrapping_add(key(me, s, 0)));
        assert_eq!(r.state, "EXIT", "{r:?}");
        assert_eq!(r.user[1], 47, "chip {me:?} received");
        assert_eq!(r.user[2], expected_sum, "chip {me:?} keys");
        assert_eq!(r.user[3], 47, "chip {me:?} sent");
    }
    // Every packet crossed exactly as many links as the shortest path between its chips.
    let hops: u64 = chips
        .iter()
        .flat_map(|&s| chips.iter().map(move |&d| (s, d)))
        .filter(|(s, d)| s != d)
        .map(|(s, d)| desc.hops(s, d).unwrap() as u64)
        .sum();
    let link_packets: u64 = m.router_reports().iter().flat_map(|r| r.link_packets).sum();
    assert_eq!(link_packets, hops);
    assert!(m.router_reports().iter().all(|r| r.counters.dropped == 0));
}

#[test]
fn multicast_reaches_many_cores_on_many_chips() {
    let desc = MachineDesc::spinn3();
    let mut m = Machine::new(desc, ChipConfig::default());
    let k = 0xAB00_0000;
    let cores = |v: &[u8]| v.iter().fold(0u32, |a, p| a | 1 << (6 + p));
    for c in [(0, 0), (1, 0), (0, 1), (1, 1)] {
        for p in 1..=3u8 {
            let source = c == (0, 0) && p == 1;
            let keys: &[u32] = if source { &[k] } else { &[] };
            setup(&mut m, c, p, if source { 0 } else { 1 }, keys, false);
        }
    }
    let tree = [
        RouteEntry {
            x: 0,
            y: 0,
            key: k,
            mask: 0xFFFF_FFFF,
            route: 1 << 0 | 1 << 2 | cores(&[2, 3]),
        },
        RouteEntry {
            x: 1,
            y: 0,
            key: k,
            mask: 0xFFFF_FFFF,
            route: 1 << 2 | cores(&[1, 2, 3]),
        },
        RouteEntry {
            x: 0,
            y: 1,
            key: k,
            mask: 0xFFFF_FFFF,
            route: cores(&[1, 2, 3]),
        },
        RouteEntry {
            x: 1,
            y: 1,
            key: k,
            mask: 0xFFFF_FFFF,
            route: cores(&[1, 2, 3]),
        },
    ];
    m.load_routes(&tree).unwrap();
    assert_eq!(m.run(20 * MS), StopReason::AllFinished);
    let reports = m.reports();
    assert_eq!(reports.len(), 12);
    for r in reports {
        let source = (r.x, r.y, r.p) == (0, 0, 1);
        assert_eq!(r.user[1], if source { 0 } else { 1 }, "{r:?}");
        assert_eq!(r.user[2], if source { 0 } else { k });
        assert_eq!(r.state, "EXIT");
    }
}

#[test]
fn default_routing_carries_a_packet_straight_along_a_row() {
    // Only the first and last chips of row 0 of a SpiNN-5 have entries: (1..3, 0) default-route
    // the packet out of the link opposite the one it came in on.
    let mut m = Machine::new(MachineDesc::spinn5(), ChipConfig::default());
    let k = 0x1234_0000;
    setup(&mut m, (0, 0), 1, 0, &[k], false);
    setup(&mut m, (4, 0), 1, 1, &[], false);
    m.load_routes(&[
        RouteEntry {
            x: 0,
            y: 0,
            key: k,
            mask: 0xFFFF_FFFF,
            route: 1 << 0,
        },
        RouteEntry {
            x: 4,
            y: 0,
            key: k,
            mask: 0xFFFF_FFFF,
            route: 1 << (6 + 1),
        },
    ])
    .unwrap();
    assert_eq!(m.run(20 * MS), StopReason::AllFinished);
    let r = m.reports();
    assert_eq!(r[1].user[1], 1, "{:?}", r[1]);
    for x in 0..4u8 {
        let chip = m.chip(x, 0).unwrap();
        assert_eq!(chip.link_packets()[0], 1, "chip ({x},0) forwards east");
    }
    assert!(m.router_reports().iter().all(|r| r.counters.dropped == 0));
}

#[test]
fn a_dead_link_drops_what_the_table_sends_over_it() {
    let desc = MachineDesc::from_json(r#"{"base": "spinn3", "dead_links": [[0, 0, 0]]}"#).unwrap();
    assert_eq!(desc.neighbour(0, 0, 0), None);
    let mut m = Machine::new(desc, ChipConfig::default());
    let k = 0x0BAD_0000;
    setup(&mut m, (0, 0), 1, 0, &[k], false);
    setup(&mut m, (1, 0), 1, 0, &[], false);
    m.load_routes(&[
        RouteEntry {
            x: 0,
            y: 0,
            key: k,
            mask: 0xFFFF_FFFF,
            route: 1 << 0,
        },
        RouteEntry {
            x: 1,
            y: 0,
            key: k,
            mask: 0xFFFF_FFFF,
            route: 1 << (6 + 1),
        },
    ])
    .unwrap();
    m.run(20 * MS);
    assert_eq!(m.chip(0, 0).unwrap().router_counters().dropped, 1);
    assert_eq!(m.reports()[1].user[1], 0);
}

#[test]
fn multi_chip_runs_are_identical() {
    let digest = || {
        let (m, stop) = all_to_all(MachineDesc::spinn3(), false);
        (
            format!("{stop:?} {:?}", m.reports()),
            format!("{:?}", m.router_reports()),
            m.now(),
        )
    };
    assert_eq!(digest(), digest());
}

#[test]
fn tables_too_big_for_a_router_are_refused() {
    let mut m = Machine::new(MachineDesc::single(), ChipConfig::default());
    let entries: Vec<RouteEntry> = (0..1024)
        .map(|i| RouteEntry {
            x: 0,
            y: 0,
            key: i,
            mask: !0,
            route: 1,
        })
        .collect();
    let e = m.load_routes(&entries).unwrap_err().to_string();
    assert!(e.contains("1024 routing entries do not fit"), "{e}");
}

#[test]
fn bursts_overflow_receivers_into_counted_drops_the_same_every_run() {
    // Every chip sends to the same destinations in the same order at the same moment: receivers
    // cannot keep up, the router gives up on what waits longer than its wait time, and counts it.
    let run = || {
        let desc = MachineDesc::spinn5();
        let chips = desc.chips();
        let mut m = Machine::new(desc.clone(), ChipConfig::default());
        for &src in &chips {
            let keys: Vec<u32> = chips
                .iter()
                .filter(|&&d| d != src)
                .map(|&d| key(d, src, 0))
                .collect();
            setup(&mut m, src, 1, chips.len() as u32 - 1, &keys, false);
        }
        m.load_routes(&to_every_chip(&desc, 1)).unwrap();
        m.run(20 * MS);
        let received: u64 = m.reports().iter().map(|r| r.user[1] as u64).sum();
        let dropped: u64 = m.router_reports().iter().map(|r| r.counters.dropped).sum();
        (received, dropped, format!("{:?}", m.router_reports()))
    };
    let (received, dropped, routers) = run();
    assert!(
        dropped > 0,
        "a burst of 47 x 48 packets must overflow some receiver"
    );
    assert_eq!(
        received + dropped,
        48 * 47,
        "every packet is either received or counted as dropped"
    );
    assert_eq!(run(), (received, dropped, routers));
}

/// The all-to-all traffic of the SpiNN-5 test as a plain-data setup, for threaded runs.
fn all_to_all_setup() -> spinn_sim::parallel::Setup {
    spinn_sim::workloads::all_to_all(
        MachineDesc::spinn5(),
        std::sync::Arc::new(fabric()),
        1,
        true,
    )
}

#[test]
fn results_do_not_depend_on_the_number_of_threads() {
    let setup = all_to_all_setup();
    let one = spinn_sim::parallel::run(&setup, 1, 20 * MS).unwrap();
    assert_eq!(one.stop, StopReason::AllFinished);
    assert!(
        one.cores.iter().all(|r| r.user[1] == 47),
        "every chip got its 47 packets"
    );
    for threads in [2, 4] {
        let many = spinn_sim::parallel::run(&setup, threads, 20 * MS).unwrap();
        assert_eq!(many, one, "{threads} threads differ from one");
    }
}

#[test]
fn a_saturated_link_leads_to_emergency_routing_then_counted_drops() {
    // Eight cores of (1,1) flood link 0 (east) towards core 1 of (2,1). Once the link is busy
    // for longer than wait1, packets detour over (2,2); once that is busy too, they are dropped.
    let run = || {
        let mut m = Machine::new(MachineDesc::spinn5(), ChipConfig::default());
        let k = 0x00C0_FFEE;
        let burst: Vec<u32> = vec![k; 200];
        for p in 1..=8 {
            setup(&mut m, (1, 1), p, 0, &burst, false);
        }
        setup(&mut m, (2, 1), 1, 1600, &[], false);
        m.load_routes(&[
            RouteEntry {
                x: 1,
                y: 1,
                key: k,
                mask: !0,
                route: 1 << 0,
            },
            RouteEntry {
                x: 2,
                y: 1,
                key: k,
                mask: !0,
                route: 1 << (6 + 1),
            },
        ])
        .unwrap();
        m.run(20 * MS);
        let received = m.chip(2, 1).unwrap().reports()[0].user[1] as u64;
        let routers = m.router_reports();
        let dropped: u64 = routers.iter().map(|r| r.counters.dropped).sum();
        let emergency = m.chip(1, 1).unwrap().router_counters().emergency_routed;
        let detours = m.chip(2, 2).unwrap().link_packets()[5];
        (
            received,
            dropped,
            emergency,
            detours,
            format!("{routers:?}"),
        )
    };
    let first = run();
    let (received, dropped, emergency, detours, _) = first.clone();
    assert!(
        emergency > 0,
        "the blocked link sent packets round by (2,2)"
    );
    assert_eq!(
        detours, emergency,
        "(2,2) passed every detour on to (2,1) over link 5"
    );
    assert!(
        dropped > 0,
        "the detour saturates too and packets are dropped"
    );
    assert_eq!(
        received + dropped,
        1600,
        "every packet is received or counted as dropped"
    );
    assert_eq!(run(), first, "the same drops on every run");
}

#[test]
fn a_packet_takes_the_modelled_time_per_hop() {
    use spinn_sim::timing::{link_serialisation_cycles, LINK_WIRE_CYCLES, ROUTER_LATENCY_CYCLES};
    // (0,0) to (4,0) along row 0: four links, default-routed through (1..3, 0).
    let mut m = Machine::new(MachineDesc::spinn5(), ChipConfig::default());
    let k = 0x0005_0000;
    setup(&mut m, (0, 0), 1, 0, &[k], true);
    setup(&mut m, (4, 0), 1, 1, &[], true);
    m.load_routes(&[
        RouteEntry {
            x: 0,
            y: 0,
            key: k,
            mask: !0,
            route: 1 << 0,
        },
        RouteEntry {
            x: 4,
            y: 0,
            key: k,
            mask: !0,
            route: 1 << (6 + 1),
        },
    ])
    .unwrap();
    assert_eq!(m.run(20 * MS), StopReason::AllFinished);
    let sent = m.chip(0, 0).unwrap().core(1).unwrap().state().last_tx;
    let arrived = m
        .chip(4, 0)
        .unwrap()
        .core(1)
        .unwrap()
        .state()
        .last_rx_arrival;
    let hop = ROUTER_LATENCY_CYCLES + link_serialisation_cycles(72) + LINK_WIRE_CYCLES;
    assert_eq!(
        arrived - sent,
        4 * hop + ROUTER_LATENCY_CYCLES,
        "4 hops of {hop} cycles and the last router"
    );
    assert_eq!(m.chip(4, 0).unwrap().reports()[0].user[1], 1);
}

#[test]
fn tables_route_around_a_dead_link() {
    // Kill a link in the middle of a SpiNN-5: shortest paths avoid it and everything arrives.
    let desc =
        MachineDesc::from_json(r#"{"base": "spinn5", "dead_links": [[3, 3, 0], [3, 3, 1]]}"#)
            .unwrap();
    let (m, stop) = all_to_all(desc, false);
    assert_eq!(stop, StopReason::AllFinished);
    assert!(m.reports().iter().all(|r| r.user[1] == 47));
    assert!(m.router_reports().iter().all(|r| r.counters.dropped == 0));
}

#[test]
fn dead_cores_are_skipped_in_the_virtual_numbering() {
    let desc = MachineDesc::from_json(r#"{"base": "spinn3", "dead_cores": [[1, 1, 5]]}"#).unwrap();
    let mut m = Machine::new(desc, ChipConfig::default());
    let hello = common::firmware("hello");
    let chip = m.chip(1, 1).unwrap();
    assert_eq!(chip.num_cores(), 17);
    assert_eq!(
        (chip.phys_of(4), chip.phys_of(5), chip.phys_of(16)),
        (4, 6, 17)
    );
    assert!(
        m.load(1, 1, 17, &hello, 16).is_err(),
        "only 16 application cores are left"
    );
    m.load(1, 1, 5, &hello, 16).unwrap();
    m.run(10 * MS);
    let r = &m.reports()[0];
    assert_eq!((r.p, r.phys, r.state.name().as_str()), (5, 6, "EXIT"));
    assert_eq!(r.iobuf, "hello from core 5 on chip 1,1\n");
}

#[test]
fn traces_are_the_same_bytes_for_any_number_of_threads() {
    let dir = std::env::temp_dir().join(format!("spinn-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut bytes = Vec::new();
    for threads in [1, 2, 4] {
        let mut setup = all_to_all_setup();
        let path = dir.join(format!("t{threads}.trc"));
        setup.trace = Some((path.clone(), spinn_sim::trace::Filter::default()));
        spinn_sim::parallel::run(&setup, threads, 20 * MS).unwrap();
        bytes.push(std::fs::read(&path).unwrap());
    }
    assert!(bytes[0].len() > 10_000);
    assert_eq!(bytes[0], bytes[1]);
    assert_eq!(bytes[0], bytes[2]);
    let records = spinn_sim::trace::read_all(&bytes[0][..]).unwrap();
    use spinn_sim::trace::Event;
    let count = |f: fn(&Event) -> bool| records.iter().filter(|r| f(&r.event)).count();
    assert_eq!(count(|e| matches!(e, Event::Send { .. })), 48 * 47);
    assert_eq!(count(|e| matches!(e, Event::Deliver { .. })), 48 * 47);
    assert_eq!(count(|e| matches!(e, Event::Drop { .. })), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn p2p_tables_are_built_as_after_boot() {
    let m = Machine::new(MachineDesc::spinn5(), ChipConfig::default());
    let desc = m.desc().clone();
    for &(x, y) in &desc.chips() {
        let chip = m.chip(x, y).unwrap();
        assert_eq!(
            chip.p2p_entry((x as u16) << 8 | y as u16),
            7,
            "own entry: the monitor"
        );
        for &(dx, dy) in &desc.chips() {
            if (dx, dy) == (x, y) {
                continue;
            }
            let l = chip.p2p_entry((dx as u16) << 8 | dy as u16);
            let n = desc.neighbour(x, y, l).expect("a live link");
            assert_eq!(
                desc.hops(n, (dx, dy)).unwrap() + 1,
                desc.hops((x, y), (dx, dy)).unwrap(),
                "({x},{y}) -> ({dx},{dy}) by link {l}"
            );
        }
    }
}

/// The P2P tables SC&MP leaves, written out in full: every entry as a router read it before
/// the tables were looked up lazily (drop, then the monitor for the chip itself, then a
/// shortest path's first link to every chip it reaches).
fn written_out_p2p(desc: &MachineDesc, chip: (u8, u8)) -> Vec<u8> {
    let mut table = vec![6u8; 65536];
    table[usize::from(chip.0) << 8 | usize::from(chip.1)] = 7;
    for dst in desc.chips() {
        if let Some(&l) = spinn_hw::routes::next_links(desc, dst).get(&chip) {
            table[usize::from(dst.0) << 8 | usize::from(dst.1)] = l;
        }
    }
    table
}

#[test]
fn looked_up_p2p_tables_read_as_the_written_out_ones_by_entry_and_by_register() {
    use spinn_hw::map::router_reg::P2P_TABLE;
    let descs = [
        MachineDesc::spinn3(),
        MachineDesc::boards(3).unwrap(),
        MachineDesc::from_json(
            r#"{"base": "spinn5", "dead_chips": [[2, 2], [3, 3], [0, 3]],
                "dead_links": [[4, 4, 0], [5, 6, 2], [1, 0, 1]]}"#,
        )
        .unwrap(),
    ];
    for desc in descs {
        let m = Machine::new(desc.clone(), ChipConfig::default());
        for (i, &(x, y)) in desc.chips().iter().enumerate() {
            let chip = m.chip(x, y).unwrap();
            let expected = written_out_p2p(&desc, (x, y));
            // Entry by entry (as packets and SC&MP look them up)...
            for (a, &e) in expected.iter().enumerate() {
                assert_eq!(chip.p2p_entry(a as u16), e, "({x},{y}) entry {a:#06x}");
            }
            // ...and word by word through the registers (as SARK reads them), on some chips
            // before a write and on others after one.
            if i % 2 == 1 {
                chip.set_p2p_entry(0xFF00, 3);
            }
            for w in 0..8192u32 {
                let word = chip.read_router_reg(P2P_TABLE + 4 * w);
                for k in 0..8u32 {
                    let a = (w * 8 + k) as usize;
                    let e = if i % 2 == 1 && a == 0xFF00 {
                        3
                    } else {
                        expected[a]
                    };
                    assert_eq!((word >> (3 * k)) & 7, u32::from(e), "({x},{y}) word {w}");
                }
            }
        }
    }
}

#[test]
fn dropping_every_fifth_mc_packet_on_a_spinn3_is_counted_the_same_on_1_and_2_threads() {
    use spinn_sim::parallel::{run, Setup};
    use spinn_sim::workloads::{fabric_core, FabricParams};
    // Two flows whose routers handle nothing else, so the injected losses can be counted by hand:
    // 20 packets from (0,0) over link 1 (NE) to (1,1), whose router sees the 16 that (0,0)
    // passed on; 11 packets between two cores of (1,0).
    let desc = MachineDesc::spinn3();
    assert_eq!(desc.neighbour(0, 0, 1), Some((1, 1)));
    let (far, near) = (0x00FA_0000, 0x0010_0000);
    let core = |p: u32| 1 << (6 + p);
    let mut setup = Setup {
        desc,
        config: ChipConfig {
            drop_mc_every: 5,
            ..ChipConfig::default()
        },
        loads: vec![],
        routes: vec![
            RouteEntry {
                x: 0,
                y: 0,
                key: far,
                mask: !0,
                route: 1 << 1,
            },
            RouteEntry {
                x: 1,
                y: 1,
                key: far,
                mask: !0,
                route: core(1),
            },
            RouteEntry {
                x: 1,
                y: 0,
                key: near,
                mask: !0,
                route: core(2),
            },
        ],
        pokes: vec![],
        fingerprint: false,
        trace: None,
    };
    let fabric = std::sync::Arc::new(fabric());
    // Receivers expect everything and give up after 50 ticks (5 ms) when some never comes.
    let far_keys = [far; 20];
    let near_keys = [near; 11];
    fabric_core(
        &mut setup,
        &fabric,
        (0, 0),
        1,
        &FabricParams {
            keys: &far_keys,
            gap_us: 2,
            ..FabricParams::default()
        },
    );
    fabric_core(
        &mut setup,
        &fabric,
        (1, 1),
        1,
        &FabricParams {
            expect: 20,
            ..FabricParams::default()
        },
    );
    fabric_core(
        &mut setup,
        &fabric,
        (1, 0),
        1,
        &FabricParams {
            keys: &near_keys,
            gap_us: 2,
            ..FabricParams::default()
        },
    );
    fabric_core(
        &mut setup,
        &fabric,
        (1, 0),
        2,
        &FabricParams {
            expect: 11,
            ..FabricParams::default()
        },
    );

    let one = run(&setup, 1, 20 * MS).unwrap();
    assert_eq!(one.stop, StopReason::AllFinished);
    let dropped = |x, y| {
        one.routers
            .iter()
            .find(|r| (r.x, r.y) == (x, y))
            .unwrap()
            .counters
            .dropped
    };
    // 20 / 5 at (0,0), then 16 / 5 at (1,1); 11 / 5 at (1,0); nothing goes through (0,1).
    assert_eq!(
        [dropped(0, 0), dropped(1, 1), dropped(1, 0), dropped(0, 1)],
        [4, 3, 2, 0]
    );
    assert_eq!(one.packets_dropped(), 9);
    let received = |x, y, p| {
        one.cores
            .iter()
            .find(|r| (r.x, r.y, r.p) == (x, y, p))
            .unwrap()
            .user[1]
    };
    assert_eq!((received(1, 1, 1), received(1, 0, 2)), (20 - 4 - 3, 11 - 2));
    assert_eq!(one.packets_sent, 31);

    // (0,0) and (0,1) run on one thread, (1,0) and (1,1) on the other: the far flow crosses.
    let two = run(&setup, 2, 20 * MS).unwrap();
    assert_eq!(two, one, "2 threads differ from one");

    // Without injection nothing is lost and every receiver gets all it expects.
    setup.config.drop_mc_every = 0;
    let clean = run(&setup, 2, 20 * MS).unwrap();
    assert_eq!(clean.packets_dropped(), 0);
    assert!(clean
        .cores
        .iter()
        .all(|r| r.state == "EXIT" && r.rt_code == 0));
}

#[test]
fn injected_drops_under_all_to_all_traffic_are_every_fifth_packet_at_each_router() {
    // Mixed traffic: each router loses every fifth MC packet it routes, whatever its flow, and
    // every packet is either received or counted once as dropped.
    let config = ChipConfig {
        drop_mc_every: 5,
        ..ChipConfig::default()
    };
    let mut setup = spinn_sim::workloads::all_to_all(
        MachineDesc::spinn3(),
        std::sync::Arc::new(fabric()),
        5,
        true,
    );
    setup.config = config.clone();
    let mut m = Machine::new(setup.desc.clone(), config);
    for l in &setup.loads {
        m.load(l.x, l.y, l.p, &l.program, l.app_id).unwrap();
    }
    for p in &setup.pokes {
        assert!(m.chip(p.x, p.y).unwrap().write_system(p.addr, &p.data));
    }
    m.load_routes(&setup.routes).unwrap();
    assert_eq!(m.run(20 * MS), StopReason::AllFinished);
    for r in m.router_reports() {
        assert!(r.counters.mc > 0);
        assert_eq!(
            r.counters.dropped,
            r.counters.mc / 5,
            "router ({},{})",
            r.x,
            r.y
        );
    }
    let received: u64 = m.reports().iter().map(|r| r.user[1] as u64).sum();
    assert!(m.packets_dropped() > 0);
    assert_eq!(
        m.packets_sent(),
        m.reports().iter().map(|r| r.user[3] as u64).sum::<u64>()
    );
    assert_eq!(received + m.packets_dropped(), m.packets_sent());
    // The threaded runner builds the same machine from the setup and agrees.
    for threads in [1, 2] {
        let o = spinn_sim::parallel::run(&setup, threads, 20 * MS).unwrap();
        assert_eq!(
            o.packets_dropped(),
            m.packets_dropped(),
            "{threads} threads"
        );
        assert_eq!(
            format!("{:?}", o.routers),
            format!("{:?}", m.router_reports())
        );
    }
}
