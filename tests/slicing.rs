// SPDX-License-Identifier: GPL-2.0-or-later
//! Slicing does not change results: a core's run is the same, to the bit, whatever runs on
//! other chips of the machine (which changes where its slices and the machine's windows end),
//! whatever the quantum, and whatever the number of host threads. (Cores of one chip that
//! contend for a lock or memory are another matter: how they interleave is the model's.)

use std::sync::Arc;

use spinn_hw::geometry::MachineDesc;
use spinn_hw::program::Program;
use spinn_sim::chip::ChipConfig;
use spinn_sim::parallel::{self, Load, Setup};
use spinn_sim::CPU_CLK_MHZ;

mod common;

fn program(name: &str) -> Arc<Program> {
    Arc::new(common::firmware(name))
}

/// The fingerprint lines of core (0,0,1) running `app`, with `others` loaded elsewhere.
fn core_lines(
    app: &str,
    others: &[(u8, u8, u32, &str)],
    quantum: u64,
    threads: usize,
) -> Vec<String> {
    let mut loads = vec![Load {
        x: 0,
        y: 0,
        p: 1,
        program: program(app),
        app_id: 16,
    }];
    for &(x, y, p, name) in others {
        loads.push(Load {
            x,
            y,
            p,
            program: program(name),
            app_id: 17,
        });
    }
    let setup = Setup {
        desc: MachineDesc::spinn3(),
        config: ChipConfig {
            quantum,
            ..ChipConfig::default()
        },
        loads,
        routes: vec![],
        pokes: vec![],
        fingerprint: true,
        trace: None,
    };
    let out = parallel::run(&setup, threads, 300 * CPU_CLK_MHZ * 1000).unwrap();
    out.fingerprint
        .into_iter()
        .filter(|l| l.starts_with("core 0,0,1"))
        .collect()
}

#[test]
fn a_core_runs_the_same_whatever_runs_elsewhere_and_however_it_is_sliced() {
    for app in ["hello", "ticks", "dma", "vic", "events", "fault_align"] {
        let alone = core_lines(app, &[], 2_000, 1);
        assert!(!alone.is_empty());
        for (others, quantum, threads) in [
            (&[(1, 1, 1, "events")][..], 2_000, 1),
            (
                &[(1, 0, 1, "pingpong"), (1, 0, 2, "pingpong")][..],
                2_000,
                2,
            ),
            (&[(0, 1, 3, "ticks"), (1, 1, 2, "dma")][..], 137, 2),
            (&[(1, 1, 1, "events"), (0, 1, 1, "hello")][..], 7_919, 1),
        ] {
            let lines = core_lines(app, others, quantum, threads);
            assert_eq!(
                alone, lines,
                "{app} beside {others:?}, quantum {quantum}, {threads} thread(s)"
            );
        }
    }
}
