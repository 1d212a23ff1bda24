// SPDX-License-Identifier: GPL-2.0-or-later
//! A real SpiNNaker board (or `spinn serve`) as a [`Target`]: SCP over SDP over UDP to the
//! SC&MP monitors of a booted machine (hardware reference §5, §6).
//!
//! Memory moves in 256-byte SCP reads and writes with up to [`WINDOW`] requests in flight;
//! every request carries a sequence number and is sent again on a timeout or a retryable
//! return code. Applications are converted to APLX, written to the chip's SDRAM and started
//! with `CMD_AS` under the WAIT flag, so that the host can lay out their data before the first
//! [`Target::run`] sends `SIG_START`.

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

use spinn_hw::geometry::MachineDesc;
use spinn_hw::map::{router_reg, ROUTER_BASE};
use spinn_hw::program::Program;
use spinn_hw::report::{CoreReport, StopReason};
use spinn_hw::routes::RouteEntry;
use spinn_hw::sysram::{self, vcpu, CpuState, SDRAM_SYS, SV_BASE, VCPU_BASE, VCPU_SIZE};
use spinn_proto::aplx;
use spinn_proto::scp::{self, ScpReply, ScpRequest};
use spinn_proto::sdp::{SdpHeader, SdpMessage, SCP_PORT};

use crate::target::{PacketCounts, RunEnd, Target, TargetError};

/// Requests in flight at once.
pub const WINDOW: usize = 8;
/// Largest read or write of one SCP request.
const CHUNK: usize = 256;
/// Return codes worth another try (checksum, timeouts, P2P busy or lost).
const RETRYABLE: [u16; 5] = [
    scp::RC_SUM,
    scp::RC_TIMEOUT,
    scp::RC_P2P_NOREPLY,
    scp::RC_P2P_BUSY,
    scp::RC_P2P_TIMEOUT,
];
/// Where APLX images are staged in each chip's SDRAM before `CMD_AS` (SC&MP's `sdram_sys`).
const APLX_BUFFER: u32 = SDRAM_SYS;
/// Where routing tables are staged for `CMD_RTR`, clear of the APLX images cores may still read.
const TABLE_BUFFER: u32 = SDRAM_SYS + 0x3_0000;
/// Signals (§6.4).
const SIG_START: u32 = 3;
/// Releases the cores waiting at the SYNC0 barrier (§6.4).
const SIG_SYNC0: u32 = 4;
/// Router register block and its first diagnostic counter (§2.5).
const RTR_DGC0: u32 = ROUTER_BASE + router_reg::DGC0;

/// Timeouts and retries of the SCP connection.
#[derive(Clone, Copy, Debug)]
pub struct ScpTiming {
    /// How long to wait for a reply before sending again.
    pub timeout: Duration,
    /// How many times a request is sent before giving up.
    pub attempts: u32,
}

impl Default for ScpTiming {
    fn default() -> Self {
        ScpTiming {
            timeout: Duration::from_millis(500),
            attempts: 6,
        }
    }
}

/// A booted SpiNNaker machine reached over UDP.
pub struct BoardTarget {
    sock: UdpSocket,
    peer: SocketAddr,
    timing: ScpTiming,
    seq: u16,
    desc: MachineDesc,
    /// Loaded cores and the app id each runs.
    loaded: BTreeMap<(u8, u8, u8), u8>,
    /// When the first run sent SIG_START.
    started: Option<Instant>,
    version: String,
}

/// One request of a batch: where it goes and what it asks.
struct Pending {
    x: u8,
    y: u8,
    req: ScpRequest,
}

impl BoardTarget {
    /// Connects to the board at `host` (a name or address, optionally `:port`; default port
    /// 17893), checks that SC&MP 4.x answers, and discovers the machine's chips, cores and links.
    pub fn connect(host: &str) -> Result<BoardTarget, TargetError> {
        Self::connect_with(host, ScpTiming::default())
    }

    /// As [`BoardTarget::connect`], with other timeouts.
    pub fn connect_with(host: &str, timing: ScpTiming) -> Result<BoardTarget, TargetError> {
        let with_port = if host.contains(':') {
            host.to_string()
        } else {
            format!("{host}:{SCP_PORT}")
        };
        let peer = with_port
            .to_socket_addrs()
            .map_err(|e| TargetError::Board(format!("{host}: {e}")))?
            .next()
            .ok_or_else(|| TargetError::Board(format!("{host}: no address")))?;
        let bind = if peer.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        let sock = UdpSocket::bind(bind)
            .map_err(|e| TargetError::Board(format!("cannot open a UDP socket: {e}")))?;
        sock.connect(peer)
            .map_err(|e| TargetError::Board(format!("{host}: {e}")))?;
        let mut t = BoardTarget {
            sock,
            peer,
            timing,
            seq: 0,
            desc: MachineDesc::single(),
            loaded: BTreeMap::new(),
            started: None,
            version: String::new(),
        };
        t.discover()?;
        Ok(t)
    }

    /// As [`BoardTarget::connect`], but a board that does not answer is booted first with
    /// `image` (SC&MP's boot image, `scamp.boot`) for board version `board_version` (3 for a
    /// SpiNN-3, 5 for a SpiNN-5), and then waited for until SC&MP says it has finished booting.
    pub fn connect_booting(
        host: &str,
        image: &[u8],
        board_version: u8,
    ) -> Result<BoardTarget, TargetError> {
        let quick = ScpTiming {
            timeout: Duration::from_millis(300),
            attempts: 3,
        };
        match Self::connect_with(host, quick) {
            Err(TargetError::NoReply { .. }) => {}
            other => return other,
        }
        crate::boot::boot(host, image, board_version, Duration::from_millis(100))?;
        // SC&MP answers CMD_VER with P2P address 0xFFFF until the machine is up.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            std::thread::sleep(Duration::from_secs(1));
            match Self::connect_with(host, quick) {
                Ok(t) => return Ok(t),
                Err(e) if Instant::now() > deadline => {
                    return Err(TargetError::Board(format!(
                        "booted {host}, but it did not come up within 30 s: {e}"
                    )))
                }
                Err(_) => {}
            }
        }
    }

    /// What the board said it runs, e.g. "SC&MP/SpiNNaker 4.0.0".
    pub fn version(&self) -> &str {
        &self.version
    }

    fn next_seq(&mut self) -> u16 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Sends every request, at most [`WINDOW`] in flight, and returns the replies in order.
    /// A request is sent again after a timeout or a retryable return code; any other code than
    /// RC_OK is an error naming the command.
    fn batch(&mut self, reqs: Vec<Pending>) -> Result<Vec<ScpReply>, TargetError> {
        let n = reqs.len();
        let mut replies: Vec<Option<ScpReply>> = vec![None; n];
        let mut seqs = vec![0u16; n];
        let mut tries = vec![0u32; n];
        let mut sent_at: Vec<Option<Instant>> = vec![None; n];
        let mut next = 0usize;
        let mut in_flight: Vec<usize> = Vec::new();
        let mut buf = [0u8; 2048];
        let mut done = 0;
        while done < n {
            while in_flight.len() < WINDOW && next < n {
                seqs[next] = self.next_seq();
                self.send(&reqs[next], seqs[next])?;
                tries[next] = 1;
                sent_at[next] = Some(Instant::now());
                in_flight.push(next);
                next += 1;
            }
            // Resend what timed out.
            let now = Instant::now();
            for &i in &in_flight {
                if sent_at[i].is_some_and(|t| now.duration_since(t) >= self.timing.timeout) {
                    if tries[i] >= self.timing.attempts {
                        return Err(TargetError::NoReply {
                            peer: self.peer.to_string(),
                            what: describe(&reqs[i]),
                            attempts: tries[i],
                        });
                    }
                    tries[i] += 1;
                    self.send(&reqs[i], seqs[i])?;
                    sent_at[i] = Some(Instant::now());
                }
            }
            let wait = in_flight
                .iter()
                .filter_map(|&i| sent_at[i])
                .map(|t| self.timing.timeout.saturating_sub(t.elapsed()))
                .min()
                .unwrap_or(self.timing.timeout)
                .max(Duration::from_millis(1));
            self.sock.set_read_timeout(Some(wait)).map_err(io_err)?;
            let len = match self.sock.recv(&mut buf) {
                Ok(len) => len,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue
                }
                // Nothing listens there (an ICMP "port unreachable" came back): like silence.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                Err(e) => return Err(io_err(e)),
            };
            let Ok(msg) = SdpMessage::from_udp(&buf[..len]) else {
                continue;
            };
            let Ok(reply) = ScpReply::parse(&msg.data) else {
                continue;
            };
            let Some(pos) = in_flight.iter().position(|&i| seqs[i] == reply.seq) else {
                continue;
            };
            let i = in_flight[pos];
            if RETRYABLE.contains(&reply.rc) && tries[i] < self.timing.attempts {
                tries[i] += 1;
                self.send(&reqs[i], seqs[i])?;
                sent_at[i] = Some(Instant::now());
                continue;
            }
            if reply.rc != scp::RC_OK {
                return Err(TargetError::ScpFailed {
                    what: describe(&reqs[i]),
                    rc: reply.rc,
                });
            }
            in_flight.swap_remove(pos);
            replies[i] = Some(reply);
            done += 1;
        }
        Ok(replies
            .into_iter()
            .map(|r| r.expect("every reply arrived"))
            .collect())
    }

    fn send(&self, p: &Pending, seq: u16) -> Result<(), TargetError> {
        let req = ScpRequest {
            seq,
            ..p.req.clone()
        };
        let msg = SdpMessage {
            header: SdpHeader {
                flags: 0x87,
                tag: 0xFF,
                dest_port_cpu: 0,
                src_port_cpu: 0xFF,
                dest_x: p.x,
                dest_y: p.y,
                src_x: 0,
                src_y: 0,
            },
            data: req.to_sdp_data(),
        };
        self.sock.send(&msg.to_udp()).map_err(io_err)?;
        Ok(())
    }

    fn one(
        &mut self,
        x: u8,
        y: u8,
        cmd: u16,
        args: [u32; 3],
        data: Vec<u8>,
    ) -> Result<ScpReply, TargetError> {
        let mut r = self.batch(vec![Pending {
            x,
            y,
            req: ScpRequest {
                cmd,
                seq: 0,
                args,
                data,
            },
        }])?;
        Ok(r.remove(0))
    }

    fn read_words(
        &mut self,
        x: u8,
        y: u8,
        addr: u32,
        words: usize,
    ) -> Result<Vec<u32>, TargetError> {
        let bytes = self.read_memory(x, y, addr, 4 * words)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    /// Version check and machine discovery, as SpiNNMan does it: the root chip's version
    /// reply, the machine's dimensions from its system variables, which chips exist from its
    /// P2P table, and each chip's working cores and links from CMD_INFO.
    fn discover(&mut self) -> Result<(), TargetError> {
        let ver = self.one(255, 255, scp::CMD_VER, [0; 3], vec![])?;
        let text: Vec<String> = ver
            .body
            .get(12..)
            .unwrap_or(&[])
            .split(|&b| b == 0)
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect();
        let name = text.first().cloned().unwrap_or_default();
        let number = text.get(1).cloned().unwrap_or_default();
        if !name.starts_with("SC&MP") || !number.starts_with("4.") {
            return Err(TargetError::WrongVersion(
                format!("{name} {number}").trim().to_string(),
            ));
        }
        self.version = format!("{name} {number}");
        let p2p = ver.arg(0).unwrap_or(0) >> 16;
        if p2p == 0xFFFF {
            return Err(TargetError::Board(
                "the machine has not finished booting (P2P address 0xFFFF)".into(),
            ));
        }
        let root = ((p2p >> 8) as u8, p2p as u8);
        let dims = self.read_memory(root.0, root.1, SV_BASE + sysram::sv::P2P_DIMS, 2)?;
        let (w, h) = (dims[1], dims[0]);
        if w == 0 || h == 0 {
            return Err(TargetError::Board(format!(
                "the machine reports {w}x{h} chips"
            )));
        }
        // The root's P2P table: 3 bits per chip address (x << 8 | y), 8 to a word; 6 = no route.
        let mut chips = Vec::new();
        for x in 0..w {
            let first = (u32::from(x) << 8) / 8;
            let last = ((u32::from(x) << 8) | u32::from(h - 1)) / 8;
            let words = self.read_words(
                root.0,
                root.1,
                ROUTER_BASE + router_reg::P2P_TABLE + 4 * first,
                (last - first + 1) as usize,
            )?;
            for y in 0..h {
                let a = (u32::from(x) << 8) | u32::from(y);
                let word = words[(a / 8 - first) as usize];
                if (word >> (3 * (a % 8))) & 7 != 6 {
                    chips.push((x, y));
                }
            }
        }
        let base = match (w, h, chips.len()) {
            (2, 2, 4) => MachineDesc::spinn3(),
            (8, 8, 48) => MachineDesc::spinn5(),
            (1, 1, 1) => MachineDesc::single(),
            _ if chips.len() == usize::from(w) * usize::from(h) => MachineDesc::torus(w, h),
            _ => {
                return Err(TargetError::Board(format!(
                    "a {w}x{h} machine of {} chips is not a shape spinn knows",
                    chips.len()
                )))
            }
        };
        let reqs = chips
            .iter()
            .map(|&(x, y)| Pending {
                x,
                y,
                req: ScpRequest {
                    cmd: scp::CMD_INFO,
                    seq: 0,
                    args: [0; 3],
                    data: vec![],
                },
            })
            .collect();
        let infos = self.batch(reqs)?;
        let mut dead_cores = Vec::new();
        let mut dead_links = Vec::new();
        for (&(x, y), info) in chips.iter().zip(&infos) {
            let word = info.arg(0).unwrap_or(0);
            let cores = (word & 0x1F) as u8;
            for p in cores..18 {
                dead_cores.push((x, y, p));
            }
            let links = ((word >> 8) & 0x3F) as u8;
            for l in 0..6 {
                if base.live_links(x, y) & (1 << l) != 0 && links & (1 << l) == 0 {
                    dead_links.push((x, y, l));
                }
            }
        }
        let mut json: serde_json::Value =
            serde_json::from_str(&base.to_json()).expect("JSON of a description");
        json["dead_cores"] = serde_json::json!(dead_cores);
        json["dead_links"] = serde_json::json!(dead_links);
        self.desc = MachineDesc::from_json(&json.to_string())
            .map_err(|e| TargetError::Board(format!("discovered machine: {e}")))?;
        Ok(())
    }

    fn report(&mut self, x: u8, y: u8, p: u8) -> Result<CoreReport, TargetError> {
        let bytes = self.read_memory(
            x,
            y,
            VCPU_BASE + VCPU_SIZE * u32::from(p),
            VCPU_SIZE as usize,
        )?;
        let v = sysram::Vcpu::parse(bytes.as_slice().try_into().expect("one vcpu block"));
        Ok(CoreReport {
            x,
            y,
            p,
            phys: v.phys,
            state: v.state,
            rt_code: v.rt_code,
            rt_name: sysram::rte_name(v.rt_code).to_string(),
            // A board does not say where a running core is.
            pc: v.fault_pc().unwrap_or(0),
            user: v.user,
            cycles: 0,
            instructions: 0,
            iobuf: self.iobuf(x, y, v.iobuf)?,
            halt_reason: None,
        })
    }

    /// The text of the IOBUF chain starting at `block` of chip (x, y).
    fn iobuf(&mut self, x: u8, y: u8, block: u32) -> Result<String, TargetError> {
        sysram::iobuf_text(block, |addr, len| {
            self.read_memory(x, y, addr, len).map(Some)
        })
    }

    /// Sends `signal` (§6.4, e.g. 3 = SIG_START, 2 = SIG_STOP) to the cores running `app_id`,
    /// through the root chip as a multicast signal.
    pub fn signal(&mut self, signal: u32, app_id: u8) -> Result<(), TargetError> {
        let root = self.root();
        let arg2 = (signal << 16) | (0xFF << 8) | u32::from(app_id);
        self.one(root.0, root.1, scp::CMD_SIG, [0, arg2, 0xFFFF], vec![])?;
        Ok(())
    }

    /// The root (Ethernet) chip the board answers from.
    fn root(&self) -> (u8, u8) {
        self.desc
            .ethernet_chips()
            .first()
            .copied()
            .or_else(|| self.desc.chips().first().copied())
            .unwrap_or((0, 0))
    }

    /// How many cores of application `app_id` are in `state` (a vcpu state number, §6.5), over
    /// the whole board (CMD_COUNT).
    pub fn count_state(&mut self, app_id: u8, state: u8) -> Result<u32, TargetError> {
        let root = self.root();
        let r = self.one(
            root.0,
            root.1,
            scp::CMD_COUNT,
            [u32::from(app_id), u32::from(state), 0],
            vec![],
        )?;
        r.arg(0)
            .ok_or_else(|| TargetError::Board("CMD_COUNT reply without a count".into()))
    }

    /// Fills `bytes` bytes (a multiple of 4) from `addr` of chip (x, y) with `word` (CMD_FILL).
    pub fn fill(
        &mut self,
        x: u8,
        y: u8,
        addr: u32,
        word: u32,
        bytes: u32,
    ) -> Result<(), TargetError> {
        self.one(x, y, scp::CMD_FILL, [addr, word, bytes], vec![])?;
        Ok(())
    }

    /// Allocates a tagged SDRAM block (CMD_ALLOC op 0 with a non-zero tag, so that the
    /// application can find it with `sark_tag_ptr(tag, app_id)`).
    pub fn alloc_sdram_tagged(
        &mut self,
        x: u8,
        y: u8,
        bytes: u32,
        app_id: u8,
        tag: u8,
    ) -> Result<u32, TargetError> {
        let reply = self.one(
            x,
            y,
            scp::CMD_ALLOC,
            [u32::from(app_id) << 8, bytes, u32::from(tag)],
            vec![],
        )?;
        match reply.arg(0) {
            Some(addr) if addr != 0 => Ok(addr),
            _ => Err(TargetError::OutOfSdram { x, y, bytes }),
        }
    }

    /// Points IP tag `tag` at `ip`:`port`, so that SDP a core sends with that tag reaches the
    /// host there (`strip`: without the SDP header). `ip` 0 means "the address this request
    /// came from".
    pub fn set_iptag(
        &mut self,
        tag: u8,
        ip: [u8; 4],
        port: u16,
        strip: bool,
    ) -> Result<(), TargetError> {
        let root = self.root();
        let arg1 = (u32::from(strip) << 28) | (IPTAG_SET << 16) | u32::from(tag);
        self.one(
            root.0,
            root.1,
            scp::CMD_IPTAG,
            [arg1, u32::from(port), u32::from_le_bytes(ip)],
            vec![],
        )?;
        Ok(())
    }

    /// Makes UDP sent to the board's `port` arrive as SDP at core `p` of chip (x, y), port
    /// `sdp_port`, through reverse IP tag `tag`.
    pub fn set_reverse_iptag(
        &mut self,
        tag: u8,
        port: u16,
        x: u8,
        y: u8,
        p: u8,
        sdp_port: u8,
    ) -> Result<(), TargetError> {
        let root = self.root();
        let dest_port = u32::from(((sdp_port & 7) << 5) | (p & 31));
        let arg1 = (1 << 29) | (1 << 28) | (IPTAG_SET << 16) | (dest_port << 8) | u32::from(tag);
        let arg2 = (u32::from(x) << 24) | (u32::from(y) << 16) | u32::from(port);
        self.one(root.0, root.1, scp::CMD_IPTAG, [arg1, arg2, 0], vec![])?;
        Ok(())
    }

    /// Frees IP tag `tag`.
    pub fn clear_iptag(&mut self, tag: u8) -> Result<(), TargetError> {
        let root = self.root();
        self.one(
            root.0,
            root.1,
            scp::CMD_IPTAG,
            [(IPTAG_CLR << 16) | u32::from(tag), 0, 0],
            vec![],
        )?;
        Ok(())
    }

    /// The raw 32-byte entry of IP tag `tag` (CMD_IPTAG GET): {ip[4], mac[6], tx_port, timeout,
    /// flags, count, rx_port, dest_addr, dest_port, …}.
    pub fn iptag(&mut self, tag: u8) -> Result<Vec<u8>, TargetError> {
        let root = self.root();
        let r = self.one(
            root.0,
            root.1,
            scp::CMD_IPTAG,
            [(IPTAG_GET << 16) | u32::from(tag), 1, 0],
            vec![],
        )?;
        Ok(r.body)
    }
}

/// CMD_IPTAG operations (§5.6).
const IPTAG_SET: u32 = 1;
const IPTAG_GET: u32 = 2;
const IPTAG_CLR: u32 = 3;

fn io_err(e: std::io::Error) -> TargetError {
    TargetError::Board(format!("UDP: {e}"))
}

fn describe(p: &Pending) -> String {
    let name = match p.req.cmd {
        scp::CMD_VER => "CMD_VER",
        scp::CMD_READ => "CMD_READ",
        scp::CMD_WRITE => "CMD_WRITE",
        scp::CMD_FILL => "CMD_FILL",
        scp::CMD_AS => "CMD_AS",
        scp::CMD_SIG => "CMD_SIG",
        scp::CMD_ALLOC => "CMD_ALLOC",
        scp::CMD_RTR => "CMD_RTR",
        scp::CMD_INFO => "CMD_INFO",
        scp::CMD_COUNT => "CMD_COUNT",
        _ => "SCP command",
    };
    format!(
        "{name} ({}) to chip ({},{}) arg1 {:#x}",
        p.req.cmd, p.x, p.y, p.req.args[0]
    )
}

impl Target for BoardTarget {
    fn machine(&self) -> &MachineDesc {
        &self.desc
    }

    fn signal_sync0(&mut self, app_id: u8) -> Result<(), TargetError> {
        self.signal(SIG_SYNC0, app_id)
    }

    fn load(
        &mut self,
        x: u8,
        y: u8,
        p: u32,
        program: &Program,
        app_id: u8,
    ) -> Result<(), TargetError> {
        if !self.desc.has_chip(x, y) || p == 0 || p >= 18 {
            return Err(TargetError::Board(format!(
                "no application core ({x},{y},{p}) on this machine"
            )));
        }
        let segments: Vec<(u32, &[u8], u32)> = program
            .segments
            .iter()
            .map(|s| (s.addr, s.data.as_slice(), s.mem_size))
            .collect();
        let image = aplx::build(&segments, program.entry)
            .map_err(|e| TargetError::Board(format!("{}: {e}", program.name)))?;
        self.write_memory(x, y, APLX_BUFFER, &image)?;
        // WAIT flag (bit 18): the core holds until SIG_START, once the host has laid out its data.
        let id_op_mask = (u32::from(app_id) << 24) | (1 << 18) | (1 << p);
        self.one(x, y, scp::CMD_AS, [APLX_BUFFER, id_op_mask, 0], vec![])?;
        self.loaded.insert((x, y, p as u8), app_id);
        Ok(())
    }

    fn load_routes(&mut self, entries: &[RouteEntry]) -> Result<(), TargetError> {
        let mut per_chip: BTreeMap<(u8, u8), Vec<&RouteEntry>> = BTreeMap::new();
        for e in entries {
            per_chip.entry((e.x, e.y)).or_default().push(e);
        }
        for ((x, y), list) in per_chip {
            let app_id = self.loaded.values().next().copied().unwrap_or(0);
            // Router entries from SC&MP's allocator, then the table through SDRAM.
            let count = list.len() as u32;
            let alloc = self.one(
                x,
                y,
                scp::CMD_ALLOC,
                [(u32::from(app_id) << 8) | 3, count, 0],
                vec![],
            )?;
            let base = alloc.arg(0).unwrap_or(0);
            if base == 0 {
                return Err(TargetError::Board(format!(
                    "chip ({x},{y}): no room for {count} router entries"
                )));
            }
            let mut table = Vec::with_capacity(16 * list.len());
            // rtr_entry_t {u16 next (the entry's offset from the allocated base), u16 free,
            // u32 route, u32 key, u32 mask}.
            for (i, e) in list.iter().enumerate() {
                table.extend_from_slice(&(i as u16).to_le_bytes());
                table.extend_from_slice(&0u16.to_le_bytes());
                table.extend_from_slice(&e.route.to_le_bytes());
                table.extend_from_slice(&e.key.to_le_bytes());
                table.extend_from_slice(&e.mask.to_le_bytes());
            }
            self.write_memory(x, y, TABLE_BUFFER, &table)?;
            self.one(
                x,
                y,
                scp::CMD_RTR,
                [
                    (count << 16) | (u32::from(app_id) << 8) | 2,
                    TABLE_BUFFER,
                    base,
                ],
                vec![],
            )?;
        }
        Ok(())
    }

    fn alloc_sdram(&mut self, x: u8, y: u8, bytes: u32, app_id: u8) -> Result<u32, TargetError> {
        // CMD_ALLOC op 0: a block of SC&MP's SDRAM heap, owned by the app, untagged.
        let reply = self.one(
            x,
            y,
            scp::CMD_ALLOC,
            [u32::from(app_id) << 8, bytes, 0],
            vec![],
        )?;
        match reply.arg(0) {
            Some(addr) if addr != 0 => Ok(addr),
            _ => Err(TargetError::OutOfSdram { x, y, bytes }),
        }
    }

    fn write_memory(&mut self, x: u8, y: u8, addr: u32, data: &[u8]) -> Result<(), TargetError> {
        let reqs = data
            .chunks(CHUNK)
            .enumerate()
            .map(|(i, c)| {
                let a = addr + (i * CHUNK) as u32;
                let ty = if a.is_multiple_of(4) && c.len().is_multiple_of(4) {
                    2
                } else {
                    0
                };
                Pending {
                    x,
                    y,
                    req: ScpRequest {
                        cmd: scp::CMD_WRITE,
                        seq: 0,
                        args: [a, c.len() as u32, ty],
                        data: c.to_vec(),
                    },
                }
            })
            .collect();
        self.batch(reqs)?;
        Ok(())
    }

    fn read_memory(&mut self, x: u8, y: u8, addr: u32, len: usize) -> Result<Vec<u8>, TargetError> {
        let mut reqs = Vec::new();
        let mut off = 0;
        while off < len {
            let n = CHUNK.min(len - off);
            let a = addr + off as u32;
            let ty = if a.is_multiple_of(4) && n.is_multiple_of(4) {
                2
            } else {
                0
            };
            reqs.push(Pending {
                x,
                y,
                req: ScpRequest {
                    cmd: scp::CMD_READ,
                    seq: 0,
                    args: [a, n as u32, ty],
                    data: vec![],
                },
            });
            off += n;
        }
        let replies = self.batch(reqs)?;
        let mut out = Vec::with_capacity(len);
        for r in replies {
            out.extend_from_slice(&r.body);
        }
        if out.len() != len {
            return Err(TargetError::Board(format!(
                "chip ({x},{y}): read of {len} bytes at {addr:#010x} returned {}",
                out.len()
            )));
        }
        Ok(out)
    }

    fn run(&mut self, limit_ns: u64) -> Result<RunEnd, TargetError> {
        if self.started.is_none() {
            let apps: std::collections::BTreeSet<u8> = self.loaded.values().copied().collect();
            for app in apps {
                self.signal(SIG_START, app)?;
            }
            self.started = Some(Instant::now());
        }
        let start = self.started.expect("set above");
        loop {
            let mut finished = true;
            let cores: Vec<(u8, u8, u8)> = self.loaded.keys().copied().collect();
            for (x, y, p) in cores {
                let state = self.read_memory(
                    x,
                    y,
                    VCPU_BASE + VCPU_SIZE * u32::from(p) + vcpu::CPU_STATE,
                    1,
                )?[0];
                let s = CpuState::from_u8(state);
                if !matches!(
                    s,
                    CpuState::Exit | CpuState::RunTimeException | CpuState::Watchdog
                ) {
                    finished = false;
                    break;
                }
            }
            let now = start.elapsed().as_nanos() as u64;
            if finished {
                return Ok(RunEnd {
                    stop: StopReason::AllFinished,
                    time_ns: now,
                });
            }
            if now >= limit_ns {
                return Ok(RunEnd {
                    stop: StopReason::TimeLimit,
                    time_ns: now,
                });
            }
            std::thread::sleep(Duration::from_nanos((limit_ns - now).min(5_000_000)));
        }
    }

    fn cores(&mut self) -> Result<Vec<CoreReport>, TargetError> {
        let cores: Vec<(u8, u8, u8)> = self.loaded.keys().copied().collect();
        cores
            .into_iter()
            .map(|(x, y, p)| self.report(x, y, p))
            .collect()
    }

    fn packet_counts(&mut self) -> Result<PacketCounts, TargetError> {
        // SARK's diagnostic counters: 0 local multicast routed, 8 multicast dropped.
        let mut counts = PacketCounts::default();
        for (x, y) in self.desc.chips() {
            let dgc = self.read_words(x, y, RTR_DGC0, 9)?;
            counts.sent += u64::from(dgc[0]) + u64::from(dgc[8]);
            counts.dropped += u64::from(dgc[8]);
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_is_a_clear_no_reply_error() {
        // A bound socket that never answers.
        let quiet = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = quiet.local_addr().unwrap().to_string();
        let timing = ScpTiming {
            timeout: Duration::from_millis(30),
            attempts: 3,
        };
        let e = BoardTarget::connect_with(&addr, timing)
            .err()
            .expect("no board there");
        let text = e.to_string();
        assert!(
            text.contains("no reply to CMD_VER") && text.contains("after 3 attempts"),
            "{text}"
        );
        // Three copies of the same request, all with one sequence number.
        let mut buf = [0u8; 512];
        quiet
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut seqs = Vec::new();
        while let Ok(n) = quiet.recv(&mut buf) {
            let msg = SdpMessage::from_udp(&buf[..n]).unwrap();
            let req = ScpRequest::parse(&msg.data).unwrap();
            assert_eq!(
                (req.cmd, msg.header.dest_x, msg.header.dest_y),
                (scp::CMD_VER, 255, 255)
            );
            seqs.push(req.seq);
        }
        assert_eq!(seqs.len(), 3);
        assert!(seqs.windows(2).all(|w| w[0] == w[1]));
    }

    #[test]
    fn a_machine_that_is_not_scamp_is_refused() {
        let fake = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = fake.local_addr().unwrap().to_string();
        let server = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            let (n, from) = fake.recv_from(&mut buf).unwrap();
            let msg = SdpMessage::from_udp(&buf[..n]).unwrap();
            let req = ScpRequest::parse(&msg.data).unwrap();
            let mut data = b"SARK/SpiNNaker\0".to_vec();
            data.extend_from_slice(b"3.1.0\0");
            let reply = ScpReply::ok(req.seq, &[0, 0xFFFF_0100, 0], &data);
            let out = SdpMessage {
                header: msg.header.reply(),
                data: reply.to_sdp_data(),
            };
            fake.send_to(&out.to_udp(), from).unwrap();
        });
        let e = BoardTarget::connect(&addr).err().expect("not SC&MP");
        server.join().unwrap();
        assert!(
            e.to_string().contains("expected SC&MP 4.x")
                && e.to_string().contains("SARK/SpiNNaker 3.1.0"),
            "{e}"
        );
    }
}
