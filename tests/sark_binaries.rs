// SPDX-License-Identifier: GPL-2.0-or-later
//! Every SARK-built binary the SpiNNaker project ships on PyPI (sPyNNaker's `model_binaries`,
//! SpiNNFrontEndCommon's `common_model_binaries`, from the pinned wheels in `.venv-spinnman/`)
//! boots on a simulated chip as on a board with SC&MP 4.0.0: loaded from its APLX on a core
//! with no host data, it gets through SARK's start-up (state, version check, IOBUF from the
//! system heap on its first print) into its own code. Binaries built against SARK 3 stop with
//! SARK's version error (RTE_VER), as they would on a board.
//!
//! Each binary is run twice, both times without the data its host tools would write:
//! - with user0 = 0 (nothing at all): most read their data-specification header through a
//!   null pointer and stop in a data abort in their own code;
//! - with user0 pointing at a zeroed SDRAM block (allocated from SC&MP's heap, as a host
//!   does): the header's magic number is wrong, and the binary says so in its IOBUF.
//!
//! The table printed (with `--nocapture`) is the one in the README.

use std::path::{Path, PathBuf};

use spinn_hw::geometry::MachineDesc;
use spinn_hw::program::Program;
use spinn_sim::chip::sysram::{self, vcpu, CpuState};
use spinn_sim::chip::ChipConfig;
use spinn_sim::machine::Machine;
use spinn_sim::sark::{self, Heap};

mod common;
use common::root;

/// The wheels' binaries, sorted by package then name.
fn binaries() -> Vec<PathBuf> {
    let lib = root().join(".venv-spinnman/lib");
    let site = std::fs::read_dir(&lib)
        .unwrap_or_else(|e| panic!("{}: {e}: run scripts/install-deps", lib.display()))
        .filter_map(|e| e.ok().map(|e| e.path().join("site-packages")))
        .find(|p| p.exists())
        .expect("a site-packages in .venv-spinnman: run scripts/install-deps");
    let mut out = Vec::new();
    for dir in [
        "spinn_front_end_common/common_model_binaries",
        "spynnaker/pyNN/model_binaries",
    ] {
        let d = site.join(dir);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&d)
            .unwrap_or_else(|e| panic!("{}: {e}: run scripts/install-deps", d.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "aplx"))
            .collect();
        files.sort();
        out.extend(files);
    }
    out
}

/// What one run left in the core's vcpu block.
#[derive(Debug)]
struct Outcome {
    state: CpuState,
    rt_code: u8,
    sw_ver: u32,
    iobuf: u32,
    text: String,
}

fn run(path: &Path, zeroed_data: bool) -> Outcome {
    let program = Program::from_file(path).unwrap_or_else(|e| panic!("{e}"));
    let mut m = Machine::new(MachineDesc::single(), ChipConfig::default());
    if zeroed_data {
        let chip = m.chip(0, 0).unwrap();
        let block = chip.with_sys_mem(|mem| {
            Heap::from_sv(mem, sark::sv::SDRAM_HEAP).unwrap().alloc(
                4096,
                1,
                30,
                sark::ALLOC_ID | 30 << 8,
            )
        });
        assert_ne!(block, 0);
        chip.set_vcpu_word(1, vcpu::USER, block);
    }
    m.load(0, 0, 1, &program, 30).unwrap();
    m.run(m.now() + 2_000_000);
    let chip = m.chip(0, 0).unwrap();
    Outcome {
        state: chip.cpu_state(1),
        rt_code: chip.vcpu_byte(1, vcpu::RT_CODE),
        sw_ver: chip.vcpu_word(1, vcpu::SW_VER),
        iobuf: chip.vcpu_word(1, vcpu::IOBUF),
        text: chip.iobuf(1),
    }
}

fn describe(o: &Outcome) -> String {
    let state = if o.state == CpuState::RunTimeException {
        format!("RTE {}", sysram::rte_name(o.rt_code))
    } else {
        o.state.name()
    };
    let first = o
        .text
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(40)
        .collect::<String>();
    if o.iobuf == 0 {
        state
    } else {
        format!("{state}; IOBUF `{first}`")
    }
}

#[test]
fn every_shipped_binary_boots_as_on_a_board() {
    let bins = binaries();
    assert!(
        bins.len() >= 100,
        "the pinned wheels ship 100 binaries, found {}",
        bins.len()
    );
    println!("| binary | SARK | no data (user0 = 0) | zeroed data region |");
    println!("|---|---|---|---|");
    let mut failures = Vec::new();
    for path in &bins {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bare = run(path, false);
        let zeroed = run(path, true);
        let sark = format!(
            "{}.{}.{}",
            bare.sw_ver >> 16,
            (bare.sw_ver >> 8) & 255,
            bare.sw_ver & 255
        );
        println!(
            "| {name} | {sark} | {} | {} |",
            describe(&bare),
            describe(&zeroed)
        );
        for o in [&bare, &zeroed] {
            // SARK's start-up ran: it wrote its own version into the vcpu block.
            if o.sw_ver >> 16 == 0 {
                failures.push(format!("{name}: SARK's start-up did not run ({o:?})"));
            }
            let sark3 = o.sw_ver >> 16 == 3;
            let ver_error = o.state == CpuState::RunTimeException && o.rt_code == 20;
            if sark3 != ver_error {
                failures.push(format!("{name}: SARK {sark} but {} ", describe(o)));
            }
            if !sark3
                && matches!(
                    o.state,
                    CpuState::Init | CpuState::Wait | CpuState::Idle | CpuState::Dead
                )
            {
                failures.push(format!(
                    "{name}: stuck before its own code ({})",
                    describe(o)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
