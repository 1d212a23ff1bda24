// SPDX-License-Identifier: GPL-2.0-or-later
//! The virtual board: a simulated machine behind a UDP socket that answers SDP/SCP as a booted
//! SpiNNaker board running SC&MP does ([`crate::scamp`]), from the port it listens on.
//!
//! While some application core runs, simulated time advances as fast as the host allows, in
//! slices of [`SLICE_CYCLES`] between looks at the socket; when no core can run (none loaded,
//! all finished, or all asleep with nothing to wake them) the board blocks on the socket.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::chip::ChipConfig;
use crate::geometry::MachineDesc;
use crate::machine::Machine;
use crate::report::StopReason;
use crate::scamp::Scamp;
use crate::Cycle;

/// Simulated time run between two looks at the socket while cores run (1 ms).
pub const SLICE_CYCLES: Cycle = 200_000;
/// Longest wait on an idle socket before looking at the stop flag again.
pub const IDLE_POLL: Duration = Duration::from_millis(100);
/// Largest datagram read (SC&MP accepts at most 2 + 8 + 16 + 256 bytes; longer ones are read
/// whole and dropped).
const MAX_DATAGRAM: usize = 2048;

/// Why the board cannot serve.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A listen address outside the host without `--allow-remote`.
    #[error("{0} is not a loopback address: a virtual board listens on loopback only, unless remote hosts are allowed explicitly")]
    NotLoopback(SocketAddr),
    /// The socket could not be opened or used.
    #[error("{0}: {1}")]
    Io(SocketAddr, io::Error),
}

/// Checks a listen address: loopback only unless `allow_remote`.
pub fn check_listen(addr: SocketAddr, allow_remote: bool) -> Result<(), ServeError> {
    if allow_remote || addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(ServeError::NotLoopback(addr))
    }
}

/// Opens the board's socket at `addr` after [`check_listen`].
pub fn bind(addr: SocketAddr, allow_remote: bool) -> Result<UdpSocket, ServeError> {
    check_listen(addr, allow_remote)?;
    UdpSocket::bind(addr).map_err(|e| ServeError::Io(addr, e))
}

/// The local address a host at `peer` reaches us by (for a socket bound to 0.0.0.0).
fn local_ip_towards(peer: SocketAddr) -> Option<[u8; 4]> {
    let probe = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    probe.connect(peer).ok()?;
    match probe.local_addr().ok()?.ip() {
        IpAddr::V4(v4) => Some(v4.octets()),
        IpAddr::V6(_) => None,
    }
}

/// A machine, its monitors and the socket it answers on.
pub struct Board {
    machine: Machine,
    scamp: Scamp,
    socket: UdpSocket,
    /// True while the socket is bound to an unspecified address: the root's IP is learnt from
    /// the first host.
    learn_ip: bool,
    /// Set when the last run found nothing able to run: wait on the socket.
    idle: bool,
    datagrams: u64,
}

impl Board {
    /// Boots `desc` and serves it on `socket`.
    pub fn new(desc: MachineDesc, config: ChipConfig, socket: UdpSocket) -> io::Result<Board> {
        let local = socket.local_addr()?;
        let (ip, learn_ip) = match local.ip() {
            IpAddr::V4(v4) if !v4.is_unspecified() => (v4.octets(), false),
            IpAddr::V6(v6) if v6.is_loopback() => ([127, 0, 0, 1], false),
            _ => ([0; 4], true),
        };
        let mut machine = Machine::new(desc, config);
        let scamp = Scamp::new(&mut machine, ip);
        Ok(Board {
            machine,
            scamp,
            socket,
            learn_ip,
            idle: true,
            datagrams: 0,
        })
    }

    /// The simulated machine.
    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    /// The address the board answers on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Datagrams received so far.
    pub fn datagrams(&self) -> u64 {
        self.datagrams
    }

    /// Handles one datagram from `from` and sends what SC&MP would send back.
    pub fn handle(&mut self, bytes: &[u8], from: SocketAddr) -> io::Result<()> {
        self.datagrams += 1;
        if self.learn_ip {
            if let Some(ip) = local_ip_towards(from) {
                self.scamp.set_ip(&self.machine, ip);
                self.learn_ip = false;
            }
        }
        for (to, out) in self.scamp.handle_datagram(&mut self.machine, bytes, from) {
            // A host that went away must not stop the board.
            let _ = self.socket.send_to(&out, to);
        }
        // Whatever the request did, cores may be able to run now.
        self.idle = false;
        Ok(())
    }

    /// Handles every datagram waiting; when `wait` is given and none is waiting, waits that long
    /// for one. Returns how many were handled.
    pub fn poll(&mut self, wait: Option<Duration>) -> io::Result<usize> {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut n = 0;
        if let Some(t) = wait {
            self.socket.set_nonblocking(false)?;
            self.socket
                .set_read_timeout(Some(t.max(Duration::from_millis(1))))?;
            match self.socket.recv_from(&mut buf) {
                Ok((len, from)) => {
                    self.handle(&buf[..len], from)?;
                    n += 1;
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(0)
                }
                // An ICMP "port unreachable" from an earlier reply shows up here on some hosts.
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(0),
                Err(e) => return Err(e),
            }
        }
        self.socket.set_nonblocking(true)?;
        loop {
            match self.socket.recv_from(&mut buf) {
                Ok((len, from)) => {
                    self.handle(&buf[..len], from)?;
                    n += 1;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }

    /// Runs one slice of simulated time if some core can run; false when none can (the board
    /// is idle until a request arrives).
    pub fn step(&mut self) -> bool {
        if self.idle {
            return false;
        }
        let now = self.machine.now();
        // Run no further than the next message due at a core's mailbox, so it is posted on time.
        let limit = self
            .scamp
            .next_delivery()
            .filter(|&t| t > now)
            .map_or(now + SLICE_CYCLES, |t| t.min(now + SLICE_CYCLES));
        let stop = self.machine.run(limit);
        // SDP the cores posted to their monitors, and SDP due at cores' mailboxes: what leaves
        // through IP tags goes from the board's socket.
        let mut out = self.scamp.service_mailboxes(&mut self.machine);
        let ran_out = matches!(stop, StopReason::AllFinished | StopReason::Deadlock);
        if ran_out && self.scamp.deliveries_pending() {
            // Nothing would move time on but the messages still on their way: time goes to the
            // next one's arrival, which may wake its core.
            out.extend(self.scamp.deliver_next(&mut self.machine));
            self.send(out);
            return true;
        }
        self.send(out);
        if ran_out {
            self.idle = true;
            return false;
        }
        true
    }

    fn send(&self, out: crate::scamp::Outgoing) {
        for (to, bytes) in out {
            let _ = self.socket.send_to(&bytes, to);
        }
    }

    /// Serves until `stop` is set: runs cores while they can run, blocks on the socket while
    /// nothing can.
    pub fn serve(&mut self, stop: &AtomicBool) -> io::Result<()> {
        while !stop.load(Ordering::Relaxed) {
            if self.step() {
                self.poll(None)?;
            } else {
                self.poll(Some(IDLE_POLL))?;
            }
        }
        Ok(())
    }
}

/// A virtual board serving on its own thread (the machine's engines stay on that thread);
/// dropping it stops the board.
pub struct Spawned {
    addr: SocketAddr,
    stop: std::sync::Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl Spawned {
    /// The address the board answers on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts a board of shape `desc` on `addr` (a loopback address; port 0 picks a free port) on
/// a thread of its own, and returns once it listens.
pub fn spawn(
    desc: MachineDesc,
    config: ChipConfig,
    addr: SocketAddr,
) -> Result<Spawned, ServeError> {
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let started = bind(addr, false).and_then(|socket| {
            Board::new(desc, config, socket).map_err(|e| ServeError::Io(addr, e))
        });
        let mut board = match started.and_then(|b| {
            b.local_addr()
                .map(|a| (b, a))
                .map_err(|e| ServeError::Io(addr, e))
        }) {
            Ok((board, local)) => {
                let _ = tx.send(Ok(local));
                board
            }
            Err(e) => {
                let _ = tx.send(Err(e));
                return Ok(());
            }
        };
        board.serve(&flag)
    });
    let addr = rx
        .recv()
        .map_err(|_| ServeError::Io(addr, io::Error::other("the board thread ended")))??;
    Ok(Spawned {
        addr,
        stop,
        thread: Some(thread),
    })
}

#[cfg(test)]
mod tests;
