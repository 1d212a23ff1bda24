// SPDX-License-Identifier: GPL-2.0-or-later
//! The booted-board layout of System RAM (hardware notes §1.4, §6.5–§6.7): where SC&MP keeps
//! the system variables `sv` and one `vcpu` block per core, what their fields mean, and the
//! core states and run-time error codes SpiNNaker's tools use.

use crate::map::SYSRAM_BASE;

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

    /// The name SpiNNaker's tools print (ybug's short names: RTE, WDOG, EXIT, ...); None for
    /// the numbers no tool names.
    pub fn known_name(self) -> Option<&'static str> {
        use CpuState::*;
        Some(match self {
            Dead => "DEAD",
            PowerDown => "PWRDN",
            RunTimeException => "RTE",
            Watchdog => "WDOG",
            Init => "INIT",
            Wait => "WAIT",
            CMain => "SARK",
            Run => "RUN",
            Sync0 => "SYNC0",
            Sync1 => "SYNC1",
            Paused => "PAUSE",
            Exit => "EXIT",
            Idle => "IDLE",
            Other(_) => return None,
        })
    }

    /// The name SpiNNaker's tools print, or `STATEn` for a number none of them names.
    pub fn name(self) -> String {
        match self.known_name() {
            Some(n) => n.to_string(),
            None => format!("STATE{}", self.to_u8()),
        }
    }

    /// True in the states where a core runs no code any more: dead, powered down, stopped by
    /// a run-time error or the watchdog, exited.
    pub fn runs_no_code(self) -> bool {
        use CpuState::*;
        matches!(self, Dead | PowerDown | RunTimeException | Watchdog | Exit)
    }

    /// True once a core will not run on by itself: EXIT, RTE or WDOG.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            CpuState::Exit | CpuState::RunTimeException | CpuState::Watchdog
        )
    }
}

impl serde::Serialize for CpuState {
    /// As the name SpiNNaker's tools print ("RTE", "EXIT", ...).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl PartialEq<&str> for CpuState {
    /// True when `name` is the state's ybug name ("RTE", "EXIT", ...).
    fn eq(&self, name: &&str) -> bool {
        self.name() == *name
    }
}

impl std::fmt::Display for CpuState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
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

/// Offset of a System RAM address inside System RAM.
pub fn off(addr: u32) -> usize {
    (addr - SYSRAM_BASE) as usize
}

/// Offset of a field of core `virt`'s vcpu block inside System RAM.
pub fn vcpu_field(virt: u8, field: u32) -> usize {
    off(VCPU_BASE + VCPU_SIZE * virt as u32 + field)
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
            .then(|| fault_pc(self.rt_code, self.lr, self.psr))
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

/// The faulting instruction's address from the exception link SARK-style handlers save:
/// data aborts return to +8, undefined instructions and prefetch aborts to +4 (+2 in Thumb).
pub fn fault_pc(rt_code: u8, lr: u32, psr: u32) -> u32 {
    let thumb = psr & (1 << 5) != 0;
    match rt_code {
        5 => lr.wrapping_sub(8),
        2 | 3 if thumb => lr.wrapping_sub(2),
        2..=4 => lr.wrapping_sub(4),
        _ => lr,
    }
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
