#!/usr/bin/env python3
"""Attacks a running errmap binary from loopback and measures what it costs.

    python3 scripts/attack.py --binary target/release/errmap [--seconds 20]

Starts the binary (loopback ports chosen here), then runs each attack in
turn while sampling the server's resident memory and CPU from /proc, and
checks that a real client is still served during and after it:

- reset storm: clients that open streams and overflow each one's
  flow-control window, so the server must reset them, reconnecting as soon
  as the server sends GOAWAY, on the API and on the admin listener;
- silent sockets: twice the connection cap of sockets that send nothing,
  and as many slowloris ones (a byte every second), on the API;
- admin flood: 18,000 sockets that connect to the admin listener and stay
  silent, then close.

Attackers connect from 127.0.0.2, the real client from 127.0.0.1, as an
attacker on the pod network has another address than the pod's own
containers. Prints one line per attack; with --check, exits non-zero when a real call
fails or a bound is broken (GOAWAY missing, a call slower than the
handshake timeout plus a second, peak RSS over --max-rss-mib). The figures
themselves are for BENCHMARKS.md ("Under attack").
"""

import argparse
import os
import resource
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# Attacks come from another loopback address than the real client's, as on
# a pod network, where the attacker is not the pod's own container.
ATTACKER = "127.0.0.2"


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def request_block(path):
    block = bytearray([0x83, 0x86])
    for index, value in ((0x04, path), (0x01, "localhost")):
        block += bytes([index, len(value)]) + value.encode()
    block += bytes([0x0F, 0x10, 16]) + b"application/grpc"
    return bytes(block)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """The server's memory and CPU, from /proc."""

    def __init__(self, pid):
        self.pid = pid
        self.ticks = os.sysconf("SC_CLK_TCK")

    def rss_mib(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def cpu_seconds(self):
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self.ticks


class Sampler(threading.Thread):
    def __init__(self, proc):
        super().__init__(daemon=True)
        self.proc, self.peak, self.stop = proc, 0.0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, self.proc.rss_mib())
            except OSError:
                return
            time.sleep(0.05)


def storm_client(port, until, counts):
    """One reconnecting reset-storm client."""
    block = request_block("/errmap.v1.ErrorMapService/GetError")
    overflow = struct.pack(">I", 0x7FFFFFFF)
    while time.time() < until:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2, source_address=(ATTACKER, 0))
        except OSError:
            counts["refused"] += 1
            time.sleep(0.01)
            continue
        counts["connections"] += 1
        stream = 1
        try:
            s.sendall(PREFACE + frame(4, 0, 0))
            s.setblocking(False)
            got = b""
            while time.time() < until:
                out = b"".join(
                    frame(1, 4, stream + 2 * i, block) + frame(8, 0, stream + 2 * i, overflow)
                    for i in range(32)
                )
                stream += 64
                try:
                    s.sendall(out)
                except BlockingIOError:
                    pass
                try:
                    data = s.recv(65536)
                    if not data:
                        break
                    got += data
                    if b"too_many_internal_resets" in got:
                        counts["goaways"] += 1
                        break
                    got = got[-64:]
                except BlockingIOError:
                    pass
        except OSError:
            pass
        finally:
            s.close()


def real_call(grpc_port):
    """A real gRPC call (GetError over h2 with prior knowledge), timed."""
    started = time.time()
    try:
        s = socket.create_connection(("127.0.0.1", grpc_port), timeout=10)
        body = b"\x0a\x0bUNAVAILABLE"
        message = b"\x00" + struct.pack(">I", len(body)) + body
        s.sendall(
            PREFACE
            + frame(4, 0, 0)
            + frame(1, 4, 1, request_block("/errmap.v1.ErrorMapService/GetError"))
            + frame(0, 1, 1, message)
        )
        got = b""
        s.settimeout(10)
        while True:
            data = s.recv(65536)
            if not data:
                break
            got += data
            # A HEADERS frame with END_STREAM (flags 0x5) on stream 1 ends it.
            if _ended(got):
                s.close()
                return time.time() - started, True
        s.close()
        return time.time() - started, _ended(got)
    except OSError:
        return time.time() - started, False


def _ended(data):
    i = 0
    while i + 9 <= len(data):
        length = int.from_bytes(data[i : i + 3], "big")
        kind, flags = data[i + 3], data[i + 4]
        stream = int.from_bytes(data[i + 5 : i + 9], "big") & 0x7FFFFFFF
        if kind == 1 and stream == 1 and flags & 1:
            return True
        i += 9 + length
    return False


def readyz(admin_port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/readyz", timeout=10) as r:
            return r.status
    except OSError as err:
        return getattr(err, "code", 0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", default="target/release/errmap")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--max-connections", type=int, default=1024)
    parser.add_argument("--flood", type=int, default=18000)
    parser.add_argument("--max-rss-mib", type=float, default=32)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    grpc, admin, http = free_port(), free_port(), free_port()
    server = subprocess.Popen(
        [
            args.binary,
            "--listen", f"127.0.0.1:{grpc}",
            "--admin-listen", f"127.0.0.1:{admin}",
            "--http-listen", f"127.0.0.1:{http}",
            "--max-connections", str(args.max_connections),
            "--log", "error",
        ],
        stdout=subprocess.DEVNULL,
    )
    failures = []
    try:
        for _ in range(100):
            if readyz(admin) == 200:
                break
            time.sleep(0.05)
        proc = Proc(server.pid)
        baseline = proc.rss_mib()
        print(f"baseline: RSS {baseline:.1f} MiB")

        for name, port in (("api", grpc), ("admin", admin)):
            sampler = Sampler(proc)
            sampler.start()
            counts = {"connections": 0, "goaways": 0, "refused": 0}
            cpu0, t0 = proc.cpu_seconds(), time.time()
            until = t0 + args.seconds
            threads = [
                threading.Thread(target=storm_client, args=(port, until, counts), daemon=True)
                for _ in range(args.clients)
            ]
            for t in threads:
                t.start()
            calls = []
            while time.time() < until:
                calls.append(real_call(grpc))
                time.sleep(0.2)
            for t in threads:
                t.join()
            cpu = (proc.cpu_seconds() - cpu0) / (time.time() - t0)
            sampler.stop.set()
            worst = max(c[0] for c in calls)
            failed = sum(1 for c in calls if not c[1])
            print(
                f"reset storm on {name}: {args.clients} clients, {counts['connections']} connections, "
                f"{counts['goaways']} GOAWAYs; server CPU {cpu:.2f} cores; peak RSS {sampler.peak:.1f} MiB; "
                f"real calls {len(calls) - failed}/{len(calls)} ok, slowest {worst * 1000:.0f} ms; "
                f"RSS after {proc.rss_mib():.1f} MiB"
            )
            if counts["goaways"] == 0:
                failures.append(f"{name}: no GOAWAY")
            if failed:
                failures.append(f"{name}: {failed} real calls failed during the storm")
            if sampler.peak > args.max_rss_mib:
                failures.append(f"{name}: peak RSS {sampler.peak:.1f} MiB")

        held = []
        for i in range(2 * args.max_connections):
            try:
                held.append(socket.create_connection(("127.0.0.1", grpc), timeout=2, source_address=(ATTACKER, 0)))
            except OSError:
                break
        time.sleep(0.2)
        took, ok = real_call(grpc)
        print(
            f"silent sockets: {len(held)} held on the API (cap {args.max_connections}); "
            f"a real call {'succeeded' if ok else 'FAILED'} in {took * 1000:.0f} ms; readyz {readyz(admin)}"
        )
        if not ok or took > 6:
            failures.append("a real call behind silent sockets")
        for s in held:
            s.close()

        sampler = Sampler(proc)
        sampler.start()
        flood = []
        for i in range(args.flood):
            try:
                flood.append(socket.create_connection(("127.0.0.1", admin), timeout=2, source_address=(ATTACKER, 0)))
            except OSError:
                break
        status = readyz(admin)
        peak = sampler.peak
        for s in flood:
            s.close()
        time.sleep(2)
        sampler.stop.set()
        print(
            f"admin flood: {len(flood)} silent sockets; readyz during it {status}; "
            f"peak RSS {max(peak, sampler.peak):.1f} MiB; RSS 2 s after {proc.rss_mib():.1f} MiB"
        )
        if status != 200:
            failures.append(f"readyz {status} during the admin flood")
        if max(peak, sampler.peak) > args.max_rss_mib:
            failures.append(f"admin flood peak RSS {max(peak, sampler.peak):.1f} MiB")
    finally:
        server.terminate()
        server.wait(timeout=30)
    if failures:
        print("bounds broken: " + "; ".join(failures))
        if args.check:
            sys.exit(1)


if __name__ == "__main__":
    main()
