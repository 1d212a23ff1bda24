// SPDX-License-Identifier: GPL-2.0-or-later
//! The board target's SCP operations against a virtual board (sim::serve) on loopback.

use std::path::PathBuf;

use spinn_hw::geometry::MachineDesc;
use spinn_hw::program::Program;
use spinn_hw::report::StopReason;
use spinn_hw::sysram::CpuState;
use spinn_sim::chip::ChipConfig;
use spinn_sim::serve::{spawn, Spawned};
use spinn_toolchain::board::BoardTarget;
use spinn_toolchain::target::Target;

fn serve() -> (Spawned, String) {
    let s = spawn(
        MachineDesc::spinn3(),
        ChipConfig::default(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap();
    let addr = s.addr().to_string();
    (s, addr)
}

#[test]
fn memory_allocation_fill_and_counts() {
    let (_s, addr) = serve();
    let mut t = BoardTarget::connect(&addr).unwrap();
    assert_eq!(t.machine().chips().len(), 4);
    // Reads and writes of odd sizes and alignments, across 256-byte pieces.
    let a = t.alloc_sdram(1, 1, 3000, 30).unwrap();
    let data: Vec<u8> = (0..2999u32).map(|i| (i * 7) as u8).collect();
    t.write_memory(1, 1, a + 1, &data).unwrap();
    assert_eq!(t.read_memory(1, 1, a + 1, data.len()).unwrap(), data);
    t.fill(1, 1, a, 0xDEAD_BEEF, 64).unwrap();
    assert_eq!(
        t.read_memory(1, 1, a, 8).unwrap(),
        [0xEF, 0xBE, 0xAD, 0xDE, 0xEF, 0xBE, 0xAD, 0xDE]
    );
    let b = t.alloc_sdram_tagged(1, 1, 100, 30, 7).unwrap();
    assert!(b >= a + 3000 || b + 100 <= a, "blocks overlap");
    assert!(
        t.alloc_sdram_tagged(1, 1, 100, 30, 7).is_err(),
        "a tag is used once per app"
    );
    assert!(t.alloc_sdram(1, 1, 1 << 30, 30).is_err());

    // hello on three cores of two chips: held until SIG_START, then EXIT, counted by CMD_COUNT.
    let hello = Program::from_file(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../firmware/build/hello.elf"),
    )
    .unwrap();
    for (x, y, p) in [(0, 0, 1), (0, 0, 2), (1, 0, 5)] {
        t.load(x, y, p, &hello, 31).unwrap();
    }
    assert_eq!(t.count_state(31, CpuState::Wait.to_u8()).unwrap(), 3);
    let end = t.run(10_000_000_000).unwrap();
    assert_eq!(end.stop, StopReason::AllFinished);
    assert_eq!(t.count_state(31, CpuState::Exit.to_u8()).unwrap(), 3);
    let cores = t.cores().unwrap();
    assert_eq!(cores.len(), 3);
    for c in cores {
        assert_eq!((c.state.name().as_str(), c.user[0]), ("EXIT", 0x600D));
        assert_eq!(
            c.iobuf,
            format!("hello from core {} on chip {},{}\n", c.p, c.x, c.y)
        );
    }
}

#[test]
fn ip_tags() {
    let (_s, addr) = serve();
    let mut t = BoardTarget::connect(&addr).unwrap();
    t.set_iptag(3, [127, 0, 0, 1], 40000, true).unwrap();
    // {ip[4], mac[6], tx_port, timeout, flags, ...}
    let e = t.iptag(3).unwrap();
    assert_eq!(&e[..4], &[127, 0, 0, 1]);
    assert_eq!(u16::from_le_bytes([e[10], e[11]]), 40000, "tx port");
    assert_ne!(u16::from_le_bytes([e[14], e[15]]) & 0x8000, 0, "valid");
    assert_ne!(u16::from_le_bytes([e[14], e[15]]) & 0x0100, 0, "strip");
    t.set_reverse_iptag(4, 40001, 1, 0, 3, 1).unwrap();
    let r = t.iptag(4).unwrap();
    let flags = u16::from_le_bytes([r[14], r[15]]);
    assert_ne!(flags & 0x0200, 0, "reverse");
    // {ip[4], mac[6], tx_port, timeout, flags, u32 count, rx_port, dest_addr, dest_port}
    assert_eq!(u16::from_le_bytes([r[20], r[21]]), 40001, "rx port");
    assert_eq!(
        u16::from_le_bytes([r[22], r[23]]),
        0x0100,
        "destination chip (1,0)"
    );
    assert_eq!(r[24], (1 << 5) | 3, "destination SDP port 1, core 3");
    t.clear_iptag(3).unwrap();
    assert_eq!(
        u16::from_le_bytes(t.iptag(3).unwrap()[14..16].try_into().unwrap()) & 0x8000,
        0
    );
}
