// SPDX-License-Identifier: GPL-2.0-or-later
//! The booted-board layout of System RAM (hardware notes §1.4, §6.5–§6.7): the system variables
//! `sv` and one `vcpu` block per core, as SC&MP leaves them, read exactly as SpiNNMan reads them.

use super::memory::{Ram, SYSRAM_BASE};

/// Address of the per-core `vcpu_t` blocks (`SV_VCPU`).
pub const VCPU_BASE: u32 = 0xE500_7000;
/// Size of one `vcpu_t` block.
pub const VCPU_SIZE: u32 = 128;
/// Address of the system variables (`SV_SV`).
pub const SV_BASE: u32 = 0xE500_7F00;
/// SDRAM block that SC&MP keeps for APLX staging (`sv->sdram_sys`).
pub const SDRAM_SYS: u32 = 0x6780_0000;
/// Default IOBUF text capacity per core (`sv->iobuf_size`, sark.struct default 16 KiB).
pub const IOBUF_SIZE: u32 = 16384;
/// Bytes of the IOBUF block header {next, unix_time, time_ms, ptr} before the text.
pub const IOBUF_HEADER: u32 = 16;
/// First byte of user SDRAM after the 18 per-core system buffers (§1.5).
pub const SDRAM_USER_BASE: u32 = 0x6024_0000;
/// First byte of user System RAM (`SYS_USER_BASE`).
pub const SYSRAM_USER_BASE: u32 = 0xE500_0100;
/// SC&MP software version word (4.0.0, `SLLT_VER_NUM`).
pub const SW_VER: u32 = 0x0004_0000;

/// Offsets inside `vcpu_t` (§6.6).
pub mod vcpu {
    /// Saved r0..r7 on a run-time error.
    pub const R: u32 = 0;
    /// Saved PSR.
    pub const PSR: u32 = 32;
    /// Saved SP.
    pub const SP: u32 = 36;
    /// Saved LR.
    pub const LR: u32 = 40;
    /// Run-time error code (u8).
    pub const RT_CODE: u32 = 44;
    /// Physical core number (u8).
    pub const PHYS_CPU: u32 = 45;
    /// Core state (u8), see [`super::CpuState`].
    pub const CPU_STATE: u32 = 46;
    /// Application ID (u8).
    pub const APP_ID: u32 = 47;
    /// Unix time the application was loaded.
    pub const TIME: u32 = 68;
    /// Application name, 16 bytes.
    pub const APP_NAME: u32 = 72;
    /// Pointer to the IOBUF block in SDRAM.
    pub const IOBUF: u32 = 88;
    /// Software version.
    pub const SW_VER: u32 = 92;
    /// user0..user3 (host-visible words).
    pub const USER: u32 = 112;
}

/// Offsets inside `sv_t` (§6.7).
pub mod sv {
    /// This chip's P2P address (x<<8)|y, u16.
    pub const P2P_ADDR: u32 = 0x00;
    /// Machine dimensions (w<<8)|h, u16.
    pub const P2P_DIMS: u32 = 0x02;
    /// P2P address of the host-facing chip, u16.
    pub const DBG_ADDR: u32 = 0x04;
    /// P2P up flag, u8.
    pub const P2P_UP: u32 = 0x06;
    /// Ethernet-chip address, u16.
    pub const ETH_ADDR: u32 = 0x08;
    /// Hardware version, u8.
    pub const HW_VER: u32 = 0x0A;
    /// Ethernet up, u8.
    pub const ETH_UP: u32 = 0x0B;
    /// Clock divider, u8.
    pub const CLK_DIV: u32 = 0x0E;
    /// Milliseconds since boot, u64.
    pub const CLOCK_MS: u32 = 0x10;
    /// Milliseconds in the current second, u32.
    pub const TIME_MS: u32 = 0x18;
    /// Unix time, u32.
    pub const UNIX_TIME: u32 = 0x1C;
    /// CPU clock in MHz, u16.
    pub const CPU_CLK: u32 = 0x24;
    /// Memory clock in MHz, u16.
    pub const MEM_CLK: u32 = 0x26;
    /// Peek timeout (µs), u8.
    pub const PEEK_TIME: u32 = 0x2A;
    /// Network-initialisation phase, u8 (0xFF = done).
    pub const NETINIT_PHASE: u32 = 0x2D;
    /// P2P address of the root chip, u16.
    pub const P2P_ROOT: u32 = 0x2E;
    /// Root-chip flag, u8.
    pub const ROOT_CHIP: u32 = 0x40;
    /// Number of SHM buffers, u8.
    pub const NUM_BUF: u32 = 0x41;
    /// IOBUF size, u32.
    pub const IOBUF_SIZE: u32 = 0x50;
    /// Per-core system buffer size in words, u32.
    pub const SYSBUF_SIZE: u32 = 0x58;
    /// Link enable mask, u8.
    pub const LINK_EN: u32 = 0x65;
    /// Core status map, 20 bytes.
    pub const STATUS_MAP: u32 = 0x80;
    /// Physical-to-virtual core map, 20 bytes.
    pub const P2V_MAP: u32 = 0x94;
    /// Virtual-to-physical core map, 20 bytes.
    pub const V2P_MAP: u32 = 0xA8;
    /// Number of cores, u8.
    pub const NUM_CPUS: u32 = 0xBC;
    /// User SDRAM base, u32.
    pub const SDRAM_BASE: u32 = 0xC0;
    /// User SysRAM base, u32.
    pub const SYSRAM_BASE: u32 = 0xC4;
    /// System SDRAM block (APLX staging), u32.
    pub const SDRAM_SYS: u32 = 0xC8;
    /// vcpu block base, u32.
    pub const VCPU_BASE: u32 = 0xCC;
    /// Software version, u32.
    pub const SW_VER: u32 = 0xFC;
}

/// A core's state as `vcpu->cpu_state` holds it, with SpiNNaker's numbering (§6.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CpuState {
    /// 0: dead.
    Dead,
    /// 1: powered down.
    PowerDown,
    /// 2: run-time error.
    RunTimeException,
    /// 3: watchdog expired.
    Watchdog,
    /// 4: initialising.
    Init,
    /// 5: waiting to start (SpiNNMan's READY).
    Wait,
    /// 6: in c_main.
    CMain,
    /// 7: running.
    Run,
    /// 8: at barrier 0.
    Sync0,
    /// 9: at barrier 1.
    Sync1,
    /// 10: paused.
    Paused,
    /// 11: finished.
    Exit,
    /// 15: idle stub.
    Idle,
    /// 12–14 and anything else.
    Other(u8),
}

impl CpuState {
    /// Decodes the `cpu_state` byte.
    pub fn from_u8(v: u8) -> CpuState {
        use CpuState::*;
        match v {
            0 => Dead,
            1 => PowerDown,
            2 => RunTimeException,
            3 => Watchdog,
            4 => Init,
            5 => Wait,
            6 => CMain,
            7 => Run,
            8 => Sync0,
            9 => Sync1,
            10 => Paused,
            11 => Exit,
            15 => Idle,
            x => Other(x),
        }
    }

    /// The `cpu_state` byte.
    pub fn to_u8(self) -> u8 {
        use CpuState::*;
        match self {
            Dead => 0,
            PowerDown => 1,
            RunTimeException => 2,
            Watchdog => 3,
            Init => 4,
            Wait => 5,
            CMain => 6,
            Run => 7,
            Sync0 => 8,
            Sync1 => 9,
            Paused => 10,
            Exit => 11,
            Idle => 15,
            Other(x) => x,
        }
    }

    /// The name SpiNNaker's tools print (ybug's short names: RTE, WDOG, EXIT, ...).
    pub fn name(self) -> String {
        use CpuState::*;
        match self {
            Dead => "DEAD".into(),
            PowerDown => "PWRDN".into(),
            RunTimeException => "RTE".into(),
            Watchdog => "WDOG".into(),
            Init => "INIT".into(),
            Wait => "WAIT".into(),
            CMain => "SARK".into(),
            Run => "RUN".into(),
            Sync0 => "SYNC0".into(),
            Sync1 => "SYNC1".into(),
            Paused => "PAUSE".into(),
            Exit => "EXIT".into(),
            Idle => "IDLE".into(),
            Other(x) => format!("STATE{x}"),
        }
    }

    /// True once a core will not run on by itself: EXIT, RTE or WDOG.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            CpuState::Exit | CpuState::RunTimeException | CpuState::Watchdog
        )
    }
}

/// Run-time error names, indexed by `rt_code` (§6.2).
pub const RTE_NAMES: [&str; 21] = [
    "NONE", "RESET", "UNDEF", "SVC", "PABT", "DABT", "IRQ", "FIQ", "VIC", "ABORT", "MALLOC",
    "DIV0", "EVENT", "SWERR", "IOBUF", "ENABLE", "NULL", "PKT", "TIMER", "API", "VER",
];

/// Name of a run-time error code.
pub fn rte_name(code: u8) -> &'static str {
    RTE_NAMES.get(code as usize).copied().unwrap_or("UNKNOWN")
}

fn off(addr: u32) -> usize {
    (addr - SYSRAM_BASE) as usize
}

/// Offset of a field of core `virt`'s vcpu block inside System RAM.
pub fn vcpu_field(virt: u8, field: u32) -> usize {
    off(VCPU_BASE + VCPU_SIZE * virt as u32 + field)
}

/// Chip facts the monitor writes into `sv` at boot.
#[derive(Clone, Debug)]
pub struct BootInfo {
    /// This chip's coordinates.
    pub x: u8,
    /// This chip's coordinates.
    pub y: u8,
    /// Machine width in chips.
    pub width: u8,
    /// Machine height in chips.
    pub height: u8,
    /// Virtual-to-physical core map (index = virtual core).
    pub v2p: Vec<u8>,
    /// True on the chip with the Ethernet connection (the root).
    pub ethernet: bool,
}

/// Writes `sv` and the vcpu blocks as a booted monitor leaves them: application cores idle.
pub fn boot(sysram: &Ram, info: &BootInfo) {
    let p2p = ((info.x as u16) << 8) | info.y as u16;
    let w16 = |a: u32, v: u16| sysram.write(off(SV_BASE + a), &v.to_le_bytes());
    let w8 = |a: u32, v: u8| sysram.write_u8(off(SV_BASE + a), v);
    let w32 = |a: u32, v: u32| sysram.write_u32(off(SV_BASE + a), v);
    w16(sv::P2P_ADDR, p2p);
    w16(
        sv::P2P_DIMS,
        ((info.width as u16) << 8) | info.height as u16,
    );
    w16(sv::DBG_ADDR, 0);
    w8(sv::P2P_UP, 1);
    w16(sv::ETH_ADDR, 0);
    w8(sv::HW_VER, 5);
    w8(sv::ETH_UP, info.ethernet as u8);
    w8(sv::CLK_DIV, 0x33);
    w16(sv::CPU_CLK, crate::CPU_CLK_MHZ as u16);
    w16(sv::MEM_CLK, 130);
    w8(sv::PEEK_TIME, 200);
    w8(sv::NETINIT_PHASE, 0xFF);
    w16(sv::P2P_ROOT, 0);
    w8(sv::ROOT_CHIP, info.ethernet as u8);
    w8(sv::NUM_BUF, 7);
    w32(sv::IOBUF_SIZE, IOBUF_SIZE);
    w32(sv::SYSBUF_SIZE, 32768);
    w8(sv::LINK_EN, 0x3F);
    w8(sv::NUM_CPUS, info.v2p.len() as u8);
    w32(sv::SDRAM_BASE, SDRAM_USER_BASE);
    w32(sv::SYSRAM_BASE, SYSRAM_USER_BASE);
    w32(sv::SDRAM_SYS, SDRAM_SYS);
    w32(sv::VCPU_BASE, VCPU_BASE);
    w32(sv::SW_VER, SW_VER);
    let mut p2v = [0xFFu8; 20];
    let mut v2p = [0xFFu8; 20];
    for (virt, &phys) in info.v2p.iter().enumerate() {
        v2p[virt] = phys;
        p2v[phys as usize] = virt as u8;
    }
    sysram.write(off(SV_BASE + sv::P2V_MAP), &p2v);
    sysram.write(off(SV_BASE + sv::V2P_MAP), &v2p);
    for (virt, &phys) in info.v2p.iter().enumerate() {
        let v = virt as u8;
        sysram.write_u8(vcpu_field(v, vcpu::PHYS_CPU), phys);
        // The monitor runs SC&MP; application cores run the idle SARK stub (app ID 0).
        let state = if virt == 0 {
            CpuState::Run
        } else {
            CpuState::Idle
        };
        sysram.write_u8(vcpu_field(v, vcpu::CPU_STATE), state.to_u8());
        sysram.write_u32(vcpu_field(v, vcpu::SW_VER), SW_VER);
        let name: &[u8] = if virt == 0 { b"scamp-3" } else { b"sark" };
        sysram.write(vcpu_field(v, vcpu::APP_NAME), name);
    }
}

/// Reads a core's state from its vcpu block.
pub fn cpu_state(sysram: &Ram, virt: u8) -> CpuState {
    CpuState::from_u8(sysram.read_u8(vcpu_field(virt, vcpu::CPU_STATE)))
}

/// What a core's vcpu block says about it: the fields a host reads to report on the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vcpu {
    /// Core state.
    pub state: CpuState,
    /// Run-time error code.
    pub rt_code: u8,
    /// Physical core number.
    pub phys: u8,
    /// Saved LR and PSR (meaningful after a run-time error).
    pub lr: u32,
    /// Saved PSR.
    pub psr: u32,
    /// user0..user3.
    pub user: [u32; 4],
    /// Address of the first IOBUF block (0: none).
    pub iobuf: u32,
}

impl Vcpu {
    /// Decodes a vcpu block of [`VCPU_SIZE`] bytes.
    pub fn parse(block: &[u8; VCPU_SIZE as usize]) -> Vcpu {
        let word = |o: u32| {
            u32::from_le_bytes([
                block[o as usize],
                block[o as usize + 1],
                block[o as usize + 2],
                block[o as usize + 3],
            ])
        };
        Vcpu {
            state: CpuState::from_u8(block[vcpu::CPU_STATE as usize]),
            rt_code: block[vcpu::RT_CODE as usize],
            phys: block[vcpu::PHYS_CPU as usize],
            lr: word(vcpu::LR),
            psr: word(vcpu::PSR),
            user: [0, 1, 2, 3].map(|i| word(vcpu::USER + 4 * i)),
            iobuf: word(vcpu::IOBUF),
        }
    }

    /// For a core stopped by a run-time error, the instruction it stopped at.
    pub fn fault_pc(&self) -> Option<u32> {
        (self.state == CpuState::RunTimeException)
            .then(|| super::fault_pc(self.rt_code, self.lr, self.psr))
    }
}

/// The text of an IOBUF chain starting at `block`: blocks of {next, unix time, ms, bytes used}
/// then the text, followed along `next` (at most 64 blocks). `read(addr, len)` reads memory
/// (`Ok(None)` where there is none, which ends the chain there); its errors are passed on.
pub fn iobuf_text<E>(
    mut block: u32,
    mut read: impl FnMut(u32, usize) -> Result<Option<Vec<u8>>, E>,
) -> Result<String, E> {
    let mut text = Vec::new();
    for _ in 0..64 {
        if block == 0 {
            break;
        }
        let Some(head) =
            read(block, IOBUF_HEADER as usize)?.filter(|h| h.len() >= IOBUF_HEADER as usize)
        else {
            break;
        };
        let word = |i: usize| {
            u32::from_le_bytes([
                head[4 * i],
                head[4 * i + 1],
                head[4 * i + 2],
                head[4 * i + 3],
            ])
        };
        let used = word(3).min(IOBUF_SIZE) as usize;
        let Some(body) = read(block + IOBUF_HEADER, used)? else {
            break;
        };
        text.extend_from_slice(&body);
        block = word(0);
    }
    Ok(String::from_utf8_lossy(&text).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iobuf_chains_are_followed_and_stop_where_memory_ends() {
        // Two blocks at 0x100 and 0x200 of a little memory; the second points at 0x900 (none).
        let mut mem = vec![0u8; 0x400];
        let block = |mem: &mut Vec<u8>, at: usize, next: u32, text: &[u8]| {
            mem[at..at + 4].copy_from_slice(&next.to_le_bytes());
            mem[at + 12..at + 16].copy_from_slice(&(text.len() as u32).to_le_bytes());
            mem[at + 16..at + 16 + text.len()].copy_from_slice(text);
        };
        block(&mut mem, 0x100, 0x200, b"hello ");
        block(&mut mem, 0x200, 0x900, b"world");
        let read = |addr: u32, len: usize| -> Result<Option<Vec<u8>>, ()> {
            Ok(mem
                .get(addr as usize..addr as usize + len)
                .map(<[u8]>::to_vec))
        };
        assert_eq!(iobuf_text(0x100, read), Ok("hello world".to_string()));
        assert_eq!(iobuf_text(0, read), Ok(String::new()));
        assert_eq!(
            iobuf_text(0x100, |_, _| Err::<Option<Vec<u8>>, _>("bus")),
            Err("bus")
        );
    }

    #[test]
    fn boot_writes_sv_and_vcpu_where_spinnman_reads_them() {
        let ram = Ram::new(0x8000);
        boot(
            &ram,
            &BootInfo {
                x: 0,
                y: 0,
                width: 1,
                height: 1,
                v2p: (0..18).collect(),
                ethernet: true,
            },
        );
        assert_eq!(ram.read_u8(0x7F24), 200);
        assert_eq!(ram.read_u8(0x7F00 + 0xBC), 18);
        assert_eq!(cpu_state(&ram, 0), CpuState::Run);
        assert_eq!(cpu_state(&ram, 5), CpuState::Idle);
        assert_eq!(ram.read_u8(0x7000 + 5 * 128 + 45), 5);
        assert_eq!(ram.read_u8(0x7F00 + 0x94 + 7), 7);
    }

    #[test]
    fn states_round_trip_and_name_like_ybug() {
        for v in 0..=255u8 {
            assert_eq!(CpuState::from_u8(v).to_u8(), v);
        }
        assert_eq!(CpuState::from_u8(2).name(), "RTE");
        assert_eq!(CpuState::from_u8(11).name(), "EXIT");
        assert!(CpuState::Watchdog.is_final());
        assert_eq!(rte_name(5), "DABT");
    }
}
