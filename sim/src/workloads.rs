// SPDX-License-Identifier: GPL-2.0-or-later
//! Ready-made machine workloads for tests and benchmarks, built on the `fabric` firmware.

use std::sync::Arc;

use crate::chip::sysram::{vcpu, VCPU_BASE, VCPU_SIZE};
use crate::chip::ChipConfig;
use crate::geometry::MachineDesc;
use crate::parallel::{Load, Poke, Setup};
use crate::program::Program;
use crate::routes::{chip_key, to_every_chip};

/// Where each core's `fabric` parameter block goes: user SDRAM, 64 KiB per core.
pub const FABRIC_PARAMS: u32 = 0x6100_0000;

/// What one `fabric` core does.
#[derive(Clone, Debug, Default)]
pub struct FabricParams<'a> {
    /// Packets it waits for before exiting.
    pub expect: u32,
    /// Keys it sends, in order.
    pub keys: &'a [u32],
    /// Send with payload (the key's complement).
    pub payload: bool,
    /// Microseconds between two sends.
    pub gap_us: u32,
}

/// Loads `fabric` on virtual core `p` of chip (x, y) with its parameters.
pub fn fabric_core(
    setup: &mut Setup,
    fabric: &Arc<Program>,
    chip: (u8, u8),
    p: u32,
    params: &FabricParams,
) {
    setup.loads.push(Load {
        x: chip.0,
        y: chip.1,
        p,
        program: fabric.clone(),
        app_id: 30,
    });
    let addr = FABRIC_PARAMS + 0x1_0000 * p;
    let mut words = vec![
        params.expect,
        params.keys.len() as u32,
        params.payload as u32 | params.gap_us << 8,
    ];
    words.extend_from_slice(params.keys);
    setup.pokes.push(Poke {
        x: chip.0,
        y: chip.1,
        addr,
        data: words.iter().flat_map(|w| w.to_le_bytes()).collect(),
    });
    // The parameter block's address in vcpu user0, as the toolchain passes data regions.
    let user0 = VCPU_BASE + VCPU_SIZE * p + vcpu::USER;
    setup.pokes.push(Poke {
        x: chip.0,
        y: chip.1,
        addr: user0,
        data: addr.to_le_bytes().to_vec(),
    });
}

/// Core 1 of every chip sends `rounds` packets to every other chip (source i starts with chip
/// i+1, so that no two sources aim at one chip at once), 2 µs apart, routed over shortest
/// paths by destination chip. Keys: the destination's [`chip_key`] with the source's index in
/// the low bits.
pub fn all_to_all(desc: MachineDesc, fabric: Arc<Program>, rounds: usize, payload: bool) -> Setup {
    let chips = desc.chips();
    let n = chips.len();
    let mut setup = Setup {
        routes: to_every_chip(&desc, 1),
        desc,
        config: ChipConfig::default(),
        loads: vec![],
        pokes: vec![],
        fingerprint: false,
        trace: None,
    };
    for (i, &src) in chips.iter().enumerate() {
        let keys: Vec<u32> = (0..rounds)
            .flat_map(|r| (1..n).map(move |k| (i + k + r) % n))
            .filter(|&d| d != i)
            .map(|d| chip_key(chips[d].0, chips[d].1) | i as u32)
            .collect();
        let params = FabricParams {
            expect: keys.len() as u32,
            keys: &keys,
            payload,
            gap_us: 2,
        };
        fabric_core(&mut setup, &fabric, src, 1, &params);
    }
    setup
}
