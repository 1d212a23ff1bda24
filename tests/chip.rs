// SPDX-License-Identifier: GPL-2.0-or-later
//! End-to-end tests: the committed firmware ELFs run on a simulated chip, and their observable
//! results (core states, vcpu user words, IOBUF text) are what firmware/README.md says.

use std::path::PathBuf;

use spinn_hw::geometry::MachineDesc;
use spinn_hw::program::Program;
use spinn_hw::report::{CoreReport, StopReason};
use spinn_sim::chip::{Chip, ChipConfig};
use spinn_sim::machine::Machine;
use spinn_sim::CPU_CLK_MHZ;

const MS: u64 = CPU_CLK_MHZ * 1000;

fn elf(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("firmware/build")
        .join(format!("{name}.elf"))
}

fn program(name: &str) -> Program {
    Program::from_file(&elf(name)).expect("committed ELF loads")
}

/// Loads `name` on `cores` of a fresh chip, runs up to `ms`, returns the chip and its reports.
fn run(name: &str, cores: &[u32], ms: u64) -> (Chip, StopReason, Vec<CoreReport>) {
    let prog = program(name);
    let mut chip = Chip::new(0, 0, 1, 1, ChipConfig::default());
    for &c in cores {
        chip.load(c, &prog, 16, 0).unwrap();
    }
    let stop = chip.run(ms * MS);
    let reports = chip.reports();
    (chip, stop, reports)
}

#[test]
fn hello_prints_and_exits() {
    let (_, stop, r) = run("hello", &[1], 100);
    assert_eq!(stop, StopReason::AllFinished);
    assert_eq!(r[0].state, "EXIT");
    assert_eq!(r[0].user, [0x600D, 16, 1, 0]);
    assert_eq!(r[0].iobuf, "hello from core 1 on chip 0,0\n");
    assert!(r[0].instructions > 0 && r[0].cycles >= r[0].instructions);
}

#[test]
fn hello_on_many_cores_knows_each_core() {
    let (_, _, r) = run("hello", &[1, 5, 17], 100);
    assert_eq!(r.len(), 3);
    for rep in &r {
        assert_eq!(rep.state, "EXIT");
        assert_eq!(
            rep.iobuf,
            format!("hello from core {} on chip 0,0\n", rep.p)
        );
        assert_eq!(rep.user[2], rep.p as u32);
    }
}

#[test]
fn tick_count_matches_simulated_time() {
    let (chip, stop, r) = run("ticks", &[1], 1000);
    assert_eq!(stop, StopReason::AllFinished);
    assert_eq!(r[0].state, "EXIT");
    assert_eq!(r[0].user, [10, 10, 10, 0]);
    let lines: Vec<&str> = r[0].iobuf.lines().collect();
    assert_eq!(lines.len(), 11);
    assert_eq!(lines[0], "tick 1");
    assert_eq!(lines[10], "done 10 ticks, time 10, rc 0");
    // Ten 1 ms ticks: the tenth fires at 10 ms of simulated time and the core exits just after.
    let now = chip.now();
    assert!(
        (10 * MS..11 * MS).contains(&now),
        "finished at {now} cycles"
    );
}

#[test]
fn mc_ping_pong_between_two_cores_with_and_without_payload() {
    let (chip, stop, r) = run("pingpong", &[1, 2], 1000);
    assert_eq!(stop, StopReason::AllFinished);
    assert_eq!(r[0].state, "EXIT");
    assert_eq!(r[1].state, "EXIT");
    assert_eq!(r[0].user, [100, 0x0001_00C7, 209_750, 1]);
    assert_eq!(r[1].user, [100, 0x0002_00C6, 209_700, 1]);
    assert_eq!(r[0].iobuf, "pingpong core 1 ready\nself packet 0x0001ffff\nreceived 100 last 0x000100c7 sum 209750 self 1\n");
    assert_eq!(r[1].iobuf, "pingpong core 2 ready\nself packet 0x0002ffff\nreceived 100 last 0x000200c6 sum 209700 self 1\n");
    // The first hop leaves on the 1 ms tick; 200 hops of a few hundred cycles each follow, so
    // the exchange must not wait for later ticks.
    assert!(
        chip.now() < 2 * MS,
        "ping-pong ended at {} cycles",
        chip.now()
    );
    // 200 hops plus one self packet per core went through the router.
    assert_eq!(chip.packets_sent(), 202);
    assert_eq!(chip.router_counters().dropped, 0);
}

#[test]
fn dma_round_trip_with_checksum() {
    let (chip, _, r) = run("dma", &[3], 100);
    assert_eq!(r[0].state, "EXIT");
    assert_eq!(r[0].user, [0xCE2E_2380, 1, 2, 0x102]);
    // The pattern is in SDRAM afterwards, at 0x60240000 + 0x10000 * core.
    let core = chip.core(3).unwrap();
    let bytes = core.read_mem(0x6024_0000 + 0x3_0000, 1024).unwrap();
    let sum = bytes.chunks(4).fold(0u32, |s, w| {
        s.wrapping_add(u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
    });
    assert_eq!(sum, 0xCE2E_2380);
}

#[test]
fn lock_shared_by_two_cores() {
    let (_, stop, r) = run("lock", &[1, 2], 2000);
    assert_eq!(stop, StopReason::AllFinished);
    for rep in &r {
        assert_eq!(rep.state, "EXIT", "{rep:?}");
        assert_eq!(rep.user[0], 2000);
        assert_eq!(rep.user[1], 1000);
    }
}

#[test]
fn vic_priority_and_nesting() {
    let (_, _, r) = run("vic", &[1], 100);
    assert_eq!(r[0].state, "EXIT", "{}", r[0].iobuf);
    assert_eq!(r[0].user[0], 0x0123_4567, "{}", r[0].iobuf);
    assert_eq!(r[0].user[1], 7);
    assert_eq!(r[0].user[2], 1);
}

#[test]
fn runtime_events_fiq_user_events_queues() {
    let (_, _, r) = run("events", &[1], 100);
    assert_eq!(r[0].state, "EXIT", "{}", r[0].iobuf);
    assert_eq!(
        r[0].user,
        [123, 0x0506_0005, 0x0001_2345, 0x0505_0546],
        "{}",
        r[0].iobuf
    );
    assert!(r[0]
        .iobuf
        .contains("[  -42|7    |00042|abc|ABC|z|str|0x00001234|%]\n"));
}

#[test]
fn alignment_fault_ends_in_rte_dabt_with_pc() {
    let (_, stop, r) = run("fault_align", &[1], 100);
    assert_eq!(stop, StopReason::AllFinished);
    assert_eq!(r[0].state, "RTE");
    assert_eq!(r[0].rt_code, 5);
    assert_eq!(r[0].rt_name, "DABT");
    assert_eq!(r[0].pc, program("fault_align").symbols["fault_here"]);
}

#[test]
fn undefined_instruction_ends_in_rte_undef_with_pc() {
    let (_, _, r) = run("fault_undef", &[2], 100);
    assert_eq!(r[0].state, "RTE");
    assert_eq!(r[0].rt_code, 2);
    assert_eq!(r[0].pc, program("fault_undef").symbols["fault_here"]);
}

#[test]
fn bare_metal_elf_reports_through_its_vcpu_block() {
    let (_, stop, r) = run("bare", &[4], 100);
    assert_eq!(stop, StopReason::AllFinished);
    assert_eq!(r[0].state, "EXIT");
    assert_eq!(r[0].user, [0xB00B, 16, 4, 4]);
    assert_eq!(r[0].iobuf, "");
}

#[test]
fn two_runs_are_identical() {
    let digest = |name: &str, cores: &[u32]| {
        let (chip, stop, r) = run(name, cores, 1000);
        let mems: Vec<u64> = cores
            .iter()
            .map(|&c| {
                let core = chip.core(c as u8).unwrap();
                core.state().dtcm.digest() ^ core.state().itcm.digest().rotate_left(1)
            })
            .collect();
        (
            format!("{stop:?} {r:?}"),
            chip.now(),
            chip.sysram_digest(),
            chip.sdram_digest(),
            mems,
            chip.packets_sent(),
        )
    };
    for (name, cores) in [
        ("pingpong", &[1u32, 2][..]),
        ("lock", &[1, 2]),
        ("events", &[1]),
    ] {
        assert_eq!(
            digest(name, cores),
            digest(name, cores),
            "{name} differs between runs"
        );
    }
}

#[test]
fn an_unfed_watchdog_resets_the_chip_and_its_cores_show_wdog() {
    // wdog arms the SP805 with reset (1 ms per count-down at the 10 MHz watchdog clock) and
    // never feeds it: the interrupt comes at the first zero, the reset at the second.
    let (chip, stop, r) = run("wdog", &[1, 2], 200);
    assert_eq!(stop, StopReason::AllFinished);
    let fired = chip.watchdog_fired().expect("the watchdog fired");
    assert!(
        (2 * MS..2 * MS + MS / 10).contains(&fired),
        "fired at {fired} cycles"
    );
    for c in &r {
        assert_eq!(c.state, "WDOG", "{c:?}");
        assert!(c.user[0] < 100, "reset before the app gave up: {c:?}");
        assert_eq!(
            c.halt_reason.as_deref(),
            Some("the watchdog of chip (0,0) reset it at 2015 µs")
        );
    }
    // The system controller says why the chip was reset: SC_RST_CODE = 1 (WDT).
    assert_eq!(chip.read_sysctl_reg(0x30), 1);
}

#[test]
fn a_watchdog_set_to_reset_only_the_monitor_leaves_application_cores_running() {
    // SC_MON_ID bit 16 (reset on watchdog) set by the host: the monitor alone is reset.
    let prog = program("wdog");
    let mut chip = Chip::new(0, 0, 1, 1, ChipConfig::default());
    chip.write_sysctl_reg(0x34, 0x5EC0_0000 | 1 << 16);
    chip.load(1, &prog, 16, 0).unwrap();
    assert_eq!(chip.run(200 * MS), StopReason::AllFinished);
    assert!(chip.watchdog_fired().is_some());
    let r = chip.reports();
    assert_eq!(
        (r[0].state, r[0].user[0]),
        (spinn_hw::sysram::CpuState::Exit, 100)
    );
    assert_eq!(chip.cpu_state(0), spinn_hw::sysram::CpuState::Watchdog);
}

#[test]
fn where_a_core_stops_does_not_depend_on_other_cores() {
    // hello alone on a SpiNN-3, and hello beside the `events` app on the same chip: the slices
    // of core 1 end at different places (the machine's windows, the other core), but it stops
    // right after the block that writes EXIT either way.
    let run = |with_events: bool| {
        let mut m = Machine::new(MachineDesc::spinn3(), ChipConfig::default());
        m.load(0, 0, 1, &program("hello"), 16).unwrap();
        if with_events {
            m.load(0, 0, 5, &program("events"), 16).unwrap();
        }
        m.run(200 * MS);
        m.reports().remove(0)
    };
    let (a, b) = (run(false), run(true));
    assert_eq!(a.state, "EXIT");
    assert_eq!(
        (a.cycles, a.instructions, a.pc),
        (b.cycles, b.instructions, b.pc)
    );
}
