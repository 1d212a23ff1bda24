// SPDX-License-Identifier: GPL-2.0-or-later
//! An unbooted board: the board target sends the boot image to port 54321, then finds SC&MP
//! answering (here a virtual board that comes up once the last boot packet has arrived).

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use spinn_hw::geometry::MachineDesc;
use spinn_sim::chip::ChipConfig;
use spinn_sim::serve::{bind, Board};
use spinn_toolchain::board::BoardTarget;
use spinn_toolchain::target::Target;

#[test]
fn an_unbooted_board_is_booted_then_used() {
    // A loopback address whose boot port is free.
    let (ip, boot_sock) = (20..=254u8)
        .find_map(|n| {
            let ip = format!("127.0.0.{n}");
            UdpSocket::bind(format!("{ip}:54321")).ok().map(|s| (ip, s))
        })
        .expect("a free boot port on loopback");
    let scp = UdpSocket::bind(format!("{ip}:0")).unwrap();
    let scp_addr = scp.local_addr().unwrap();
    drop(scp);
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let board = std::thread::spawn(move || {
        // Boot packets until the control packet (opcode 5), then SC&MP comes up.
        let mut got = Vec::new();
        let mut buf = [0u8; 2048];
        loop {
            let n = boot_sock.recv(&mut buf).unwrap();
            let opcode = u32::from_be_bytes([buf[2], buf[3], buf[4], buf[5]]);
            got.push((opcode, n));
            if opcode == 5 {
                break;
            }
        }
        let socket = bind(scp_addr, false).unwrap();
        let mut b = Board::new(MachineDesc::spinn3(), ChipConfig::default(), socket).unwrap();
        b.serve(&flag).unwrap();
        got
    });
    let image: Vec<u8> = (0..4096u32).map(|i| i as u8).collect();
    let target = BoardTarget::connect_booting(&scp_addr.to_string(), &image, 3).unwrap();
    assert_eq!(target.machine().chips().len(), 4);
    stop.store(true, Ordering::Relaxed);
    let got = board.join().unwrap();
    assert_eq!(
        got.iter().map(|g| g.0).collect::<Vec<_>>(),
        [1, 3, 3, 3, 3, 5]
    );
    assert!(got[1..5].iter().all(|g| g.1 == 18 + 1024));
    assert!(target.version().starts_with("SC&MP"));
}

#[test]
fn a_bad_boot_image_is_refused_before_sending() {
    let quiet = UdpSocket::bind("127.0.0.1:0").unwrap();
    let e = BoardTarget::connect_booting(&quiet.local_addr().unwrap().to_string(), &[0; 100], 5)
        .err()
        .unwrap();
    assert!(e.to_string().contains("boot image"), "{e}");
}
