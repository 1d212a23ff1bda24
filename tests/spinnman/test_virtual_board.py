#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""SpiNNMan, installed from PyPI, drives `spinn serve --machine spinn5` as it would a SpiNN-5.

Run with the virtualenv that scripts/install-deps makes:

    .venv-spinnman/bin/python tests/spinnman/test_virtual_board.py HOST[:PORT] --aplx hello.aplx

(or SPINN_BOARD=HOST[:PORT] SPINN_HELLO_APLX=hello.aplx). This script starts nothing: a
`spinn serve` must already listen there; tests/spinnman.rs starts one and runs this script.

HOST must not be the literal 127.0.0.1: SpiNNMan's factory gives a fake ("virtual") transceiver
for exactly that string. Use another loopback address (127.0.0.2 ...) or `localhost`. SpiNNMan
talks to SC&MP on port 17893; with that port (the default) the transceiver is made as a user's
script makes it, by `create_transceiver_from_hostname`; with another port, by
`create_transceiver_from_connections` over a `SCAMPConnection` to that port.

What it checks, through SpiNNMan's public API only:
  1. the board answers as booted SC&MP 4 (`ensure_board_is_ready` in the factory), and
     `discover_scamp_connections` reaches the Ethernet chip at the IP address it advertises;
  2. `get_machine_details` finds the 48 chips of a SpiNN-5 board (8x8, no wrap), 18 cores each
     (17 for applications), the links between neighbours on the board, and one Ethernet chip
     (0,0) with an IP address;
  3. `malloc_sdram` gives disjoint blocks in SDRAM on near and far chips, and `write_memory` /
     `read_memory` move data larger than one SCP packet there and back;
  4. `execute_flood` loads our hello APLX onto 3 cores of chip (0,0) to run at once, and onto
     cores of two far chips under the WAIT flag (state READY until `send_signal(START)`);
     `wait_for_cores_to_be_in_state` sees them FINISHED; `get_cpu_infos` and `read_user` see
     the app id and hello's marker; `get_iobuf` reads "hello from core C on chip X,Y";
  5. `stop_application` returns the cores to IDLE and frees the app's SDRAM.
Exit status 0 when everything holds, 1 with the first failed check otherwise.
"""

import argparse
import atexit
import os
import random
import shutil
import socket
import sys
import tempfile
import time
import traceback

from spinn_utilities.config_holder import (
    clear_cfg_files, load_config, set_config)
from spinn_machine import CoreSubsets
from spinnman.config_setup import add_spinnman_cfg
from spinnman.connections.udp_packet_connections import SCAMPConnection
from spinnman.constants import SCP_SCAMP_PORT
from spinnman.data import SpiNNManDataView
from spinnman.data.spinnman_data_writer import SpiNNManDataWriter
from spinnman.messages.scp.enums import Signal
from spinnman.model.enums import CPUState, UserRegister
from spinnman.transceiver import (
    create_transceiver_from_connections, create_transceiver_from_hostname)

#: SpiNN-5: 8x8 chips without wrap-around, 48 of them; SC&MP on core 0 of each chip.
WIDTH, HEIGHT, N_CHIPS = 8, 8, 48
#: Cores per chip on spinn serve's spinn5 (no dead cores): the monitor and 17 for applications.
CORES_PER_CHIP = 18
#: SpiNNaker1's SDRAM, as the cores see it.
SDRAM_START, SDRAM_END = 0x6000_0000, 0x6800_0000
#: What hello leaves in user0 (firmware/README.md).
HELLO_MARKER = 0x600D
#: How long the cores may take to reach a state (simulated time runs slower than real).
STATE_TIMEOUT_S = 120.0

#: (dx, dy) of each link, in SpiNNaker's numbering (E, NE, N, W, SW, S).
LINK_DELTAS = [(1, 0), (1, 1), (0, 1), (-1, 0), (-1, -1), (0, -1)]

_checks = 0


def check(cond, what):
    """Counts a check; raises AssertionError naming it if it does not hold."""
    global _checks
    if not cond:
        raise AssertionError(what)
    _checks += 1


def step(text):
    print(f"[spinnman test] {text}", flush=True)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "board", nargs="?", default=os.environ.get("SPINN_BOARD"),
        help="HOST[:PORT] of a running `spinn serve --machine spinn5` (default: $SPINN_BOARD)")
    p.add_argument(
        "--aplx", default=os.environ.get("SPINN_HELLO_APLX"),
        help="the hello app as APLX (default: $SPINN_HELLO_APLX)")
    args = p.parse_args(argv)
    if not args.board:
        p.error("no board: give HOST[:PORT] or set SPINN_BOARD")
    if not args.aplx or not os.path.isfile(args.aplx):
        p.error(f"no APLX file: {args.aplx!r} (give --aplx or set SPINN_HELLO_APLX)")
    host, sep, port = args.board.rpartition(":")
    if not sep:
        host, port = args.board, str(SCP_SCAMP_PORT)
    if host == "127.0.0.1":
        p.error("127.0.0.1 makes SpiNNMan use its fake transceiver: use 127.0.0.2 or localhost")
    return host, int(port), args.aplx


def configure(report_dir):
    """The least configuration SpiNNMan needs: the defaults of SpiNNUtils, SpiNNMachine and
    SpiNNMan, the board version (5: a 48-chip SpiNN-5), and a place for its report folders
    (by default it makes them in the working directory)."""
    clear_cfg_files(False)
    add_spinnman_cfg()
    load_config()
    set_config("Machine", "version", "5")
    set_config("Reports", "default_report_file_path", report_dir)
    return SpiNNManDataWriter.setup()


def connect(host, port):
    """A transceiver for a booted SpiNN-5: the factory checks SC&MP's version on the way."""
    if port == SCP_SCAMP_PORT:
        return create_transceiver_from_hostname(host)
    return create_transceiver_from_connections(
        [SCAMPConnection(remote_host=host, remote_port=port)],
        ensure_board_is_ready=True)


def check_machine(machine, host):
    step(f"machine: {machine.summary_string()}")
    check((machine.width, machine.height) == (WIDTH, HEIGHT),
          f"machine is {machine.width}x{machine.height}, expected {WIDTH}x{HEIGHT}")
    check(machine.n_chips == N_CHIPS, f"{machine.n_chips} chips found, expected {N_CHIPS}")
    board = set(SpiNNManDataView.get_machine_version().chip_core_map)
    found = set(machine.chip_coordinates)
    check(found == board,
          f"chips are not those of a SpiNN-5: missing {sorted(board - found)}, "
          f"extra {sorted(found - board)}")
    for chip in machine.chips:
        where = f"chip ({chip.x},{chip.y})"
        check(chip.n_processors == CORES_PER_CHIP,
              f"{where} has {chip.n_processors} cores, expected {CORES_PER_CHIP}")
        check(list(chip.scamp_processors_ids) == [0],
              f"{where}: monitor cores {list(chip.scamp_processors_ids)}, expected [0]")
        check(list(chip.placable_processors_ids) == list(range(1, CORES_PER_CHIP)),
              f"{where}: application cores {list(chip.placable_processors_ids)}, "
              f"expected 1..{CORES_PER_CHIP - 1} (all IDLE)")
        check(chip.sdram > 0, f"{where} reports no free SDRAM")
        links = sorted(link.source_link_id for link in chip.router.links)
        expected = [
            link for link, (dx, dy) in enumerate(LINK_DELTAS)
            if (chip.x + dx, chip.y + dy) in board]
        check(links == expected, f"{where} has links {links}, expected {expected}")
        check((chip.nearest_ethernet_x, chip.nearest_ethernet_y) == (0, 0),
              f"{where}: nearest Ethernet chip "
              f"({chip.nearest_ethernet_x},{chip.nearest_ethernet_y}), expected (0,0)")
    ethernets = [(c.x, c.y) for c in machine.ethernet_connected_chips]
    check(ethernets == [(0, 0)], f"Ethernet chips {ethernets}, expected [(0, 0)]")
    ip = machine[0, 0].ip_address
    check(ip is not None, "chip (0,0) has no IP address")
    step(f"48 chips with {CORES_PER_CHIP} cores each; Ethernet chip (0,0) at {ip} "
         f"(connected to {host} = {socket.gethostbyname(host)})")


def check_sdram(txrx, far, app_id):
    """Returns the address of the first block allocated on chip (0,0)."""
    rng = random.Random(6)
    first = None
    for (x, y) in [(0, 0), far]:
        data = bytes(rng.getrandbits(8) for _ in range(10_000))
        a = txrx.malloc_sdram(x, y, len(data), app_id)
        b = txrx.malloc_sdram(x, y, 4096, app_id, tag=7)
        first = a if first is None else first
        where = f"chip ({x},{y})"
        step(f"{where}: malloc_sdram gave {a:#010x} (10000 bytes) and {b:#010x} (4096, tag 7)")
        for base, size in [(a, len(data)), (b, 4096)]:
            check(SDRAM_START <= base and base + size <= SDRAM_END,
                  f"{where}: block {base:#010x}+{size} is not in SDRAM")
        check(a + len(data) <= b or b + 4096 <= a,
              f"{where}: blocks {a:#010x}+{len(data)} and {b:#010x}+4096 overlap")
        txrx.write_memory(x, y, a, data)
        back = txrx.read_memory(x, y, a, len(data))
        check(bytes(back) == data, f"{where}: SDRAM read back differs from what was written")
        txrx.write_memory(x, y, b + 8, 0xC0FFEE42)
        check(txrx.read_word(x, y, b + 8) == 0xC0FFEE42, f"{where}: word read back differs")
        unaligned = data[:37]
        txrx.write_memory(x, y, b + 1, unaligned)
        check(bytes(txrx.read_memory(x, y, b + 1, 37)) == unaligned,
              f"{where}: unaligned bytes read back differ")
    step("SDRAM: allocations, writes and reads agree on both chips")
    return first


def wait_for(txrx, cores, app_id, state):
    step(f"app {app_id}: waiting for {len(cores)} cores to be {state.name}")
    txrx.wait_for_cores_to_be_in_state(
        subsets(cores), app_id, state, timeout=STATE_TIMEOUT_S)
    check(txrx.get_core_state_count(app_id, state) == len(cores),
          f"app {app_id}: CMD_COUNT does not find {len(cores)} cores {state.name}")


def check_hello_ran(txrx, cores, app_id):
    infos = txrx.get_cpu_infos(subsets(cores))
    for (x, y, p) in cores:
        where = f"core ({x},{y},{p})"
        check(infos.is_core(x, y, p), f"{where}: no CPU info")
        info = infos.get_cpu_info(x, y, p)
        check(info.state == CPUState.FINISHED, f"{where}: state {info.state.name}, not FINISHED")
        check(info.application_id == app_id,
              f"{where}: app id {info.application_id}, expected {app_id}")
        check(txrx.read_user(x, y, p, UserRegister.USER_0) == HELLO_MARKER,
              f"{where}: user0 is not hello's marker {HELLO_MARKER:#x}")
        user1 = txrx.read_user(x, y, p, UserRegister.USER_1)
        check(user1 & 0xFF == app_id,
              f"{where}: hello was entered with r0 = {user1:#x}, not app id {app_id}")
    texts = {(b.x, b.y, b.p): b.iobuf for b in txrx.get_iobuf(subsets(cores))}
    for (x, y, p) in cores:
        want = f"hello from core {p} on chip {x},{y}\n"
        got = texts.get((x, y, p))
        check(got == want, f"core ({x},{y},{p}): IOBUF is {got!r}, expected {want!r}")
    step(f"app {app_id}: IOBUF of {len(cores)} cores says hello from the right core and chip")


def stop(txrx, cores, app_id):
    txrx.stop_application(app_id)
    deadline = time.time() + 10.0
    while True:
        infos = txrx.get_cpu_infos(subsets(cores))
        states = {xyp: infos.get_cpu_info(*xyp).state for xyp in cores}
        if all(s == CPUState.IDLE for s in states.values()) or time.time() > deadline:
            break
        time.sleep(0.1)
    busy = {xyp: s.name for xyp, s in states.items() if s != CPUState.IDLE}
    check(not busy, f"app {app_id}: cores not IDLE after stop_application: {busy}")
    step(f"app {app_id}: stopped, its cores are IDLE again")


def subsets(cores):
    s = CoreSubsets()
    for (x, y, p) in cores:
        s.add_processor(x, y, p)
    return s


def run(host, port, aplx, report_dir):
    writer = configure(report_dir)
    step(f"connecting to {host}:{port}")
    txrx = connect(host, port)
    try:
        if port == SCP_SCAMP_PORT:
            # What SpiNNMan's own machine set-up does next: connect to every Ethernet chip at
            # the IP address the board advertises in its system variables.
            txrx.discover_scamp_connections()
            remotes = sorted(
                c.remote_ip_address for c in txrx.get_connections()
                if isinstance(c, SCAMPConnection))
            check(remotes == [socket.gethostbyname(host)] * 2,
                  f"SCAMP connections after discovery go to {remotes}: expected two to {host} "
                  "(ours and the one found at the Ethernet chip's advertised address)")
            step("discover_scamp_connections found the Ethernet chip at its advertised address")
        machine = txrx.get_machine_details()
        writer.set_machine(machine)
        check_machine(machine, host)

        # The chip farthest from (0,0), and one half way.
        far = max(machine.chip_coordinates, key=lambda xy: (xy[0] + xy[1], xy))
        mid = (4, 3)
        first_block = check_sdram(txrx, far, app_id=30)

        # Hello on three cores of the Ethernet chip, started at once.
        now = [(0, 0, 1), (0, 0, 2), (0, 0, 3)]
        step(f"execute_flood {os.path.basename(aplx)} on {now}, app 31")
        txrx.execute_flood(subsets(now), aplx, 31)
        wait_for(txrx, now, 31, CPUState.FINISHED)
        check_hello_ran(txrx, now, 31)

        # Hello on far chips under the WAIT flag: READY until the START signal.
        held = [(far[0], far[1], 1), (far[0], far[1], 17), (mid[0], mid[1], 9)]
        # (a bytearray: SpiNNMan 7.4.1's checksum of a flood fails on an immutable bytes object)
        with open(aplx, "rb") as f:
            image = bytearray(f.read())
        step(f"execute_flood (in memory, wait=True) on {held}, app 32")
        txrx.execute_flood(subsets(held), image, 32, wait=True)
        wait_for(txrx, held, 32, CPUState.READY)
        txrx.send_signal(32, Signal.START)
        wait_for(txrx, held, 32, CPUState.FINISHED)
        check_hello_ran(txrx, held, 32)

        # Cores that were not loaded stayed IDLE.
        others = txrx.get_cpu_infos(subsets([(0, 0, 4), (far[0], far[1], 2)]))
        for xyp in [(0, 0, 4), (far[0], far[1], 2)]:
            state = others.get_cpu_info(*xyp).state
            check(state == CPUState.IDLE, f"core {xyp} was not loaded but is {state.name}")

        # The first app is still there; stopping each frees its cores, and stopping the app
        # that owns the SDRAM blocks frees them (SC&MP frees an app's SDRAM when it stops).
        stop(txrx, now, 31)
        stop(txrx, held, 32)
        txrx.stop_application(30)
        again = txrx.malloc_sdram(0, 0, 10_000, 33)
        check(again == first_block,
              f"after stop_application(30), a new 10000-byte block is at {again:#010x}, "
              f"not at {first_block:#010x} where app 30's freed block was")
        txrx.stop_application(33)
        step("stop_application freed app 30's SDRAM")
    finally:
        txrx.close()
    writer.write_finished_file()


def main(argv):
    host, port, aplx = parse_args(argv)
    # SpiNNMan's report folders go here; removed at exit, after SpiNNMan's own exit handler
    # (registered later, so run earlier) has written its last file there.
    report_dir = tempfile.mkdtemp(prefix="spinnman-test-")
    atexit.register(shutil.rmtree, report_dir, ignore_errors=True)
    try:
        run(host, port, aplx, report_dir)
    except Exception:  # pylint: disable=broad-except
        traceback.print_exc()
        print(f"[spinnman test] FAILED after {_checks} checks passed", flush=True)
        return 1
    print(f"[spinnman test] all {_checks} checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
