# SPDX-License-Identifier: GPL-2.0-or-later
"""SpiNNakerGraphFrontEnd end to end against `spinn serve`: SpiNNFrontEndCommon's
ReverseIpTagMultiCastSource sends multicast packets at the times it was given (its buffers are
loaded by the host before the run); a LivePacketGather receives them and sends them to this
script over UDP (EIEIO through an IP tag). The run must complete with no warning or error in
its provenance, and every key sent must arrive.

Usage: ripmcs_to_lpg.py OUT.json   (the board is named in ./.spiNNakerGraphFrontEnd.cfg)
Writes {"received": [[key, ...] per EIEIO datagram], "expected": [every key the source sends],
"log": [messages at WARNING or above]}.
"""
import glob
import json
import os
import socket
import sqlite3
import struct
import sys
import threading

import spinnaker_graph_front_end as front_end
from pacman.model.graphs.application import ApplicationEdge
from spinn_front_end_common.utility_models import (
    LivePacketGather, ReverseIpTagMultiCastSource)
from spinn_front_end_common.utilities.utility_objs import (
    LivePacketGatherParameters)

N_KEYS = 4
SEND_TIMES = [[1, 2], [3], [], [5, 6, 7]]
PARTITION = "packets"


def listen(sock, got, stop):
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            data, _ = sock.recvfrom(2048)
        except socket.timeout:
            continue
        got.append(data)


def keys_of(datagram):
    """The 32-bit keys of an EIEIO data message (16-bit header, then keys, maybe payloads)."""
    (header,) = struct.unpack_from("<H", datagram, 0)
    count = header & 0xFF
    eieio_type = (header >> 10) & 3
    offset = 2
    if header & (1 << 14):      # payload prefix present
        offset += 4 if eieio_type >= 2 else 2
    if header & (1 << 15):      # key prefix
        offset += 2
    step = {0: 2, 1: 4, 2: 4, 3: 8}[eieio_type]
    return [struct.unpack_from("<H" if eieio_type < 2 else "<I", datagram, offset + i * step)[0]
            for i in range(count)]


def main():
    out = sys.argv[1]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    got, stop = [], threading.Event()
    thread = threading.Thread(target=listen, args=(sock, got, stop))
    thread.start()

    front_end.setup()
    src = ReverseIpTagMultiCastSource(
        n_keys=N_KEYS, label="source", send_buffer_times=SEND_TIMES)
    lpg = LivePacketGather(LivePacketGatherParameters(
        port=port, hostname="127.0.0.1", payload_as_time_stamps=False,
        use_payload_prefix=False), label="gather")
    front_end.add_vertex_instance(src)
    front_end.add_vertex_instance(lpg)
    front_end.add_edge_instance(ApplicationEdge(src, lpg), PARTITION)
    front_end.run(20)
    front_end.stop()
    stop.set()
    thread.join()

    log = []
    for db in glob.glob(os.path.join("reports", "*", "global_provenance.sqlite3")):
        with sqlite3.connect(db) as c:
            log += [row[0] for row in c.execute(
                "SELECT message FROM p_log_provenance WHERE level >= 30")]
    received = [keys_of(d) for d in got]
    with open(out, "w") as f:
        expected = sorted(k for k, times in enumerate(SEND_TIMES) for _ in times)
        json.dump({"received": received, "expected": expected, "log": log}, f)
    print("received", received)
    print("log", log)


if __name__ == "__main__":
    main()
