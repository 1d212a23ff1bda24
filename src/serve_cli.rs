// SPDX-License-Identifier: GPL-2.0-or-later
//! `spinn serve`: the simulated machine as a virtual SpiNNaker board on UDP, answering SDP/SCP
//! as a booted board running SC&MP 4.0.0 does (SpiNNMan, ybug-style tools and our own board
//! client can drive it).

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use spinn_hw::geometry::MachineDesc;
use spinn_sim::chip::ChipConfig;
use spinn_sim::serve::{self, Board};

/// Arguments of `spinn serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// The machine: single, spinn3, spinn5, WxH (a torus), boards:N, or a JSON description file.
    #[arg(long, default_value = "spinn5")]
    machine: String,
    /// Address and UDP port to answer on (SC&MP's port is 17893). Loopback only, unless
    /// --allow-remote.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:17893")]
    listen: String,
    /// Accept a listen address that other hosts can reach.
    #[arg(long)]
    allow_remote: bool,
    /// No alignment faults, whatever the guest's CP15 c1 bit A asks, and no extra cycles for System RAM and SDRAM accesses.
    #[arg(long)]
    no_align_check: bool,
}

fn listen_addr(spec: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = spec.parse::<SocketAddr>() {
        return Ok(a);
    }
    spec.to_socket_addrs()
        .map_err(|e| format!("--listen `{spec}`: {e}"))?
        .next()
        .ok_or_else(|| format!("--listen `{spec}`: no address"))
}

/// Serves until the process is stopped; errors are bad input (exit 2).
pub fn serve(args: ServeArgs) -> Result<ExitCode, String> {
    let desc = MachineDesc::parse(&args.machine).map_err(|e| format!("--machine: {e}"))?;
    // The machine, before anything is built (the cores host tools load later are not foreseen).
    let estimate = spinn_sim::budget::Estimate {
        chips: desc.chips().len() as u64,
        cores: 0,
        threads: 1,
    };
    spinn_sim::budget::check(&estimate).map_err(|e| e.to_string())?;
    let addr = listen_addr(&args.listen)?;
    let socket = serve::bind(addr, args.allow_remote).map_err(|e| format!("--listen: {e}"))?;
    let local = socket.local_addr().map_err(|e| format!("--listen: {e}"))?;
    let chips = desc.chips().len();
    let config = ChipConfig {
        align_check: !args.no_align_check,
        ..ChipConfig::default()
    };
    let mut board = Board::new(desc, config, socket).map_err(|e| format!("--listen: {e}"))?;
    eprintln!(
        "spinn serve: {} ({chips} chips) answers SC&MP 4.0.0 on udp://{local}; stop with Ctrl-C",
        args.machine
    );
    let stop = AtomicBool::new(false);
    match board.serve(&stop) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("spinn serve: {e}");
            Ok(ExitCode::from(1))
        }
    }
}
