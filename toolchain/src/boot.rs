// SPDX-License-Identifier: GPL-2.0-or-later
//! Booting an unbooted board (hardware reference §5.5): the boot image the user supplies
//! (SC&MP's `scamp.boot`) goes to UDP port 54321 in 1 KiB flood-fill blocks, with the first 128
//! bytes of the system variables patched in at byte 384 of the image.

use std::net::{ToSocketAddrs, UdpSocket};
use std::time::Duration;

use spinn_proto::sdp::BOOT_PORT;

use crate::target::TargetError;

/// Largest boot image: 32 blocks of 1 KiB, the size of the boot ROM's DTCM buffer.
pub const MAX_BOOT_IMAGE: usize = 32 * BLOCK_BYTES;
/// Bytes of image in one boot packet.
pub const BLOCK_BYTES: usize = 1024;
/// Where in the image the system-variable block goes, and how long it is.
const SV_OFFSET: usize = 384;
const SV_BYTES: usize = 128;
/// Boot packet opcodes.
const FLOOD_FILL_START: u32 = 1;
const FLOOD_FILL_BLOCK: u32 = 3;
const FLOOD_FILL_CONTROL: u32 = 5;

/// The first 128 bytes of `sv_t` as a host sends them at boot: the defaults SC&MP expects
/// (clock dividers and frequencies, buffer sizes, link mask, LED setting for the board), the
/// board version, the time, the boot signature, and "this is the root chip".
pub fn sv_boot_values(board_version: u8, unix_time: u32) -> [u8; SV_BYTES] {
    let mut sv = [0u8; SV_BYTES];
    let mut put =
        |offset: usize, bytes: &[u8]| sv[offset..offset + bytes.len()].copy_from_slice(bytes);
    put(0x0A, &[board_version]); // hardware version
    put(0x0C, &[4]); // P2PB repeats
    put(0x0D, &[4]); // log2 of the P2P sequence length
    put(0x0E, &[0x33]); // system and router clock divisors
    put(0x1C, &unix_time.to_le_bytes()); // unix time
    put(0x24, &200u16.to_le_bytes()); // CPU clock, MHz
    put(0x26, &130u16.to_le_bytes()); // SDRAM clock, MHz
    put(0x28, &[0x3F]); // NN forward
    put(0x2A, &[200]); // link peek timeout, µs
    put(0x2B, &[1]); // LED half period: show load
    put(0x2C, &[50]); // netinit wait after the last BC, 10 ms units
                      // LED definitions differ by board: SpiNN-2/3 drive theirs as 0x502, SpiNN-4/5 as 1.
    let led0: u32 = match board_version {
        1 => 0x0007_6104,
        2 => 0x0000_6103,
        3 => 0x0000_0502,
        _ => 0x0000_0001,
    };
    put(0x30, &led0.to_le_bytes());
    put(0x40, &[1]); // is the root chip
    put(0x41, &[7]); // shared message buffers
    put(0x42, &[20]); // NN packet delay, µs
    put(0x48, &1024u32.to_le_bytes()); // SysRAM heap
    put(0x50, &16384u32.to_le_bytes()); // IOBUF size
    put(0x54, &8_388_608u32.to_le_bytes()); // system SDRAM bytes
    put(0x58, &32768u32.to_le_bytes()); // system buffer words
    put(0x5C, &unix_time.to_le_bytes()); // boot signature
    put(0x65, &[0x3F]); // links enabled
    sv
}

fn packet(opcode: u32, op1: u32, op2: u32, op3: u32, data: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(18 + data.len());
    p.extend_from_slice(&1u16.to_be_bytes());
    for w in [opcode, op1, op2, op3] {
        p.extend_from_slice(&w.to_be_bytes());
    }
    // Image words travel big-endian.
    for w in data.chunks(4) {
        let mut word = [0u8; 4];
        word[..w.len()].copy_from_slice(w);
        p.extend_from_slice(&u32::from_le_bytes(word).to_be_bytes());
    }
    p
}

/// The boot packets for `image`, in sending order: start, one per 1 KiB block, control.
pub fn boot_packets(
    image: &[u8],
    board_version: u8,
    unix_time: u32,
) -> Result<Vec<Vec<u8>>, TargetError> {
    if image.len() < SV_OFFSET + SV_BYTES
        || image.len() > MAX_BOOT_IMAGE
        || !image.len().is_multiple_of(4)
    {
        return Err(TargetError::Board(format!(
            "a boot image must be a multiple of 4 bytes, {} to {MAX_BOOT_IMAGE} long; this one has {}",
            SV_OFFSET + SV_BYTES,
            image.len()
        )));
    }
    let mut image = image.to_vec();
    image[SV_OFFSET..SV_OFFSET + SV_BYTES]
        .copy_from_slice(&sv_boot_values(board_version, unix_time));
    let blocks: Vec<&[u8]> = image.chunks(BLOCK_BYTES).collect();
    let mut out = vec![packet(FLOOD_FILL_START, 0, 0, blocks.len() as u32 - 1, &[])];
    for (k, block) in blocks.iter().enumerate() {
        out.push(packet(
            FLOOD_FILL_BLOCK,
            ((BLOCK_BYTES as u32 / 4 - 1) << 8) | k as u32,
            0,
            0,
            block,
        ));
    }
    out.push(packet(FLOOD_FILL_CONTROL, 1, 0, 0, &[]));
    Ok(out)
}

/// Boots the board at `host` with `image`, a packet every `gap` (SpiNNaker's tools wait 50 to
/// 100 ms). The board takes a few seconds after the last packet to come up.
pub fn boot(host: &str, image: &[u8], board_version: u8, gap: Duration) -> Result<(), TargetError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32);
    let packets = boot_packets(image, board_version, now)?;
    let name = host.split(':').next().unwrap_or(host);
    let addr = (name, BOOT_PORT)
        .to_socket_addrs()
        .map_err(|e| TargetError::Board(format!("{host}: {e}")))?
        .next()
        .ok_or_else(|| TargetError::Board(format!("{host}: no address")))?;
    let sock = UdpSocket::bind(if addr.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    })
    .map_err(|e| TargetError::Board(format!("cannot open a UDP socket: {e}")))?;
    for p in packets {
        sock.send_to(&p, addr)
            .map_err(|e| TargetError::Board(format!("boot packet to {addr}: {e}")))?;
        std::thread::sleep(gap);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_flood_fill_the_patched_image_big_endian() {
        let image: Vec<u8> = (0..2048 + 512).map(|i| i as u8).collect();
        let p = boot_packets(&image, 5, 0x1234_5678).unwrap();
        assert_eq!(p.len(), 1 + 3 + 1);
        // Start: version 1, opcode 1, operands 0, 0, blocks - 1.
        assert_eq!(p[0], [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        // Block 1: opcode 3, operand 1 = (255 << 8) | 1, then 1 KiB of byte-swapped words.
        assert_eq!(
            &p[2][..18],
            &[0, 1, 0, 0, 0, 3, 0, 0, 0xFF, 1, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(p[2].len(), 18 + 1024);
        assert_eq!(
            &p[2][18..22],
            &[image[1027], image[1026], image[1025], image[1024]]
        );
        // The last block is short; the control packet says go.
        assert_eq!(p[3].len(), 18 + 512);
        assert_eq!(p[4], [0, 1, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        // The system variables at byte 384: root chip, time, board version.
        let sv = |o: usize| p[1][18 + 384 + (o & !3) + 3 - (o & 3)];
        assert_eq!((sv(0x40), sv(0x0A), sv(0x1C), sv(0x1F)), (1, 5, 0x78, 0x12));
        // Bytes outside the block are the image's own.
        assert_eq!(&p[1][18..22], &[3, 2, 1, 0]);
    }

    #[test]
    fn bad_images_are_refused() {
        for len in [0, 511, 1026, MAX_BOOT_IMAGE + 4] {
            let e = boot_packets(&vec![0; len], 5, 0).unwrap_err();
            assert!(e.to_string().contains("boot image"), "{e}");
        }
    }
}
