#!/usr/bin/env python3
"""Call latency while a large catalog file is reloaded, again and again.

Starts the release build with --catalog naming a file of ENTRIES generated
entries (written like benches/catalog_load.rs writes them), pinned to CPU 0,
and runs h2load on CPU 1 at a steady pace of plain ResolveGatewayError calls;
this script, which writes the files, runs on CPU 1 too (--driver-cpu).
Twice (per round): once with the file left alone (the baseline), once while the file is
replaced (a new link to one of two files written before the run, renamed
over it) by one differing in one message as soon as the previous
replacement is in service, so that the whole run is spent reloading. Prints, for each run, the calls, the reloads that took effect,
the latency percentiles from h2load's per-request log, and the peak resident
memory; every call must succeed.

    cargo build --release --bin errmap --example kit
    python3 benches/reload.py [--entries 100000] [--calls 40000] [--rps 2000]

Needs h2load (Debian: apt-get install nghttp2-client), taskset and python3.
"""

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

SERVICE = "errmap.v1.ErrorMapService"


def catalog_text(count, tag):
    parts = ["# generated\n"]
    for i in range(count):
        status = 400 + i % 100
        retry = "  retry_delay { seconds: 2 }\n" if i % 3 == 0 else ""
        message = f"操作 {i} 暂时无法完成" + (f" {tag}" if i == 0 else "")
        parts.append(
            f'entries {{\n  code: "GENERATED_CODE_{i}"\n  http_status: {status}\n'
            f"  table: TABLE_CONSOLE\n  grpc_code: FAILED_PRECONDITION\n"
            f'  message: "{message}"\n  solution: "请稍后再试，或联系管理员"\n'
            f'  message_en: "Operation {i} cannot be completed now"\n'
            f'  solution_en: "Try again later, or ask an administrator."\n{retry}}}\n'
        )
    return "".join(parts)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pinned(cpu, argv):
    if os.cpu_count() and os.cpu_count() >= 2:
        return ["taskset", "-c", str(cpu)] + argv
    return argv


def metric(admin, name):
    with urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=5) as r:
        body = r.read().decode()
    m = re.search(rf"^{re.escape(name)} (\d+)", body, re.M)
    return int(m.group(1)) if m else 0


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def percentile(values, q):
    index = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return values[index]


def run(args, work, reloading):
    path = os.path.join(work, "catalog.textproto")
    versions = [os.path.join(work, f"version-{tag}") for tag in "ab"]
    for version, tag in zip(versions, "ab"):
        with open(version, "w") as f:
            f.write(catalog_text(args.entries, tag))
    if os.path.exists(path):
        os.remove(path)
    os.link(versions[0], path)
    port, admin = free_port(), free_port()
    argv = [args.errmap, "--listen", f"127.0.0.1:{port}", "--admin-listen",
            f"127.0.0.1:{admin}", "--catalog", path, "--log", "warn"]
    proc = subprocess.Popen(pinned(0, argv))
    try:
        deadline = time.time() + 120
        while True:
            try:
                metric(admin, "errmap_catalog_entries")
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise SystemExit("errmap did not start")
                time.sleep(0.2)
        ok = 'errmap_catalog_reloads_total{result="ok"}'
        stop = threading.Event()
        peak = [rss_kib(proc.pid)]
        reloads = [0]

        def replace():
            n = 0
            while not stop.is_set():
                n += 1
                before = metric(admin, ok)
                aside = path + ".tmp"
                # A new name for a file written before the run: the
                # rename swaps in a new inode, as a ConfigMap update does,
                # and the writer spends no CPU on 33 MB of text meanwhile.
                os.link(versions[n % 2], aside)
                os.rename(aside, path)
                while not stop.is_set() and metric(admin, ok) == before:
                    peak[0] = max(peak[0], rss_kib(proc.pid))
                    time.sleep(0.05)
                if metric(admin, ok) > before:
                    reloads[0] += 1

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], rss_kib(proc.pid))
                time.sleep(0.05)

        worker = threading.Thread(target=replace if reloading else sample)
        body = os.path.join(work, "gateway.bin")
        # Outside the catalog's folder unless asked: each line h2load logs
        # there is a file event, which wakes the watcher's thread.
        folder = work if args.log_beside_catalog else tempfile.gettempdir()
        log = os.path.join(folder, f"errmap-reload-{os.getpid()}.log")
        if os.path.exists(log):
            os.remove(log)
        h2load = ["h2load", "-t", "1", "-n", str(args.calls), "-c", "4", "-m", "1",
                  "--rps", str(args.rps // 4), f"--data={body}", "--log-file", log,
                  "-H", "content-type: application/grpc", "-H", "te: trailers",
                  f"http://127.0.0.1:{port}/{SERVICE}/ResolveGatewayError"]
        worker.start()
        done = subprocess.run(pinned(1, h2load), capture_output=True, text=True)
        stop.set()
        worker.join()
        m = re.search(r"(\d+) succeeded, (\d+) failed, (\d+) errored", done.stdout)
        if done.returncode != 0 or not m or int(m.group(1)) != args.calls:
            raise SystemExit(f"h2load:\n{done.stdout}\n{done.stderr}")
        with open(log) as f:
            latencies = sorted(int(line.split()[2]) for line in f if len(line.split()) >= 3)
        return {
            "calls": args.calls,
            "reloads": reloads[0],
            "p50": percentile(latencies, 0.5) / 1000,
            "p99": percentile(latencies, 0.99) / 1000,
            "p999": percentile(latencies, 0.999) / 1000,
            "max": latencies[-1] / 1000,
            "rss_mib": peak[0] / 1024,
        }
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--errmap", default="target/release/errmap")
    parser.add_argument("--kit", default="target/release/examples/kit")
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=40_000)
    parser.add_argument("--rps", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=1,
                        help="pairs of runs (unchanged, reloading), one after the other")
    parser.add_argument("--driver-cpu", type=int, default=1,
                        help="the CPU this script runs on, beside h2load (-1: any); what "
                        "writes the files stands for kubelet or an operator, not errmap")
    parser.add_argument("--log-beside-catalog", action="store_true",
                        help="write h2load's per-request log in the catalog's folder: "
                        "a file written 2,000 times a second beside the catalog")
    parser.add_argument("--only-reloading", action="store_true",
                        help="skip the runs with the file left alone")
    args = parser.parse_args()
    if args.driver_cpu >= 0 and (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {args.driver_cpu})
    with tempfile.TemporaryDirectory() as work:
        subprocess.run([args.kit, "bodies", work], check=True, stdout=subprocess.DEVNULL)
        for reloading in ([True] if args.only_reloading else [False, True]) * args.rounds:
            r = run(args, work, reloading)
            label = "reloading" if reloading else "file unchanged"
            print(f"{label:>15}: {r['calls']} calls, {r['reloads']} reloads of "
                  f"{args.entries} entries; latency ms p50 {r['p50']:.3f} "
                  f"p99 {r['p99']:.3f} p99.9 {r['p999']:.3f} max {r['max']:.3f}; "
                  f"peak RSS {r['rss_mib']:.1f} MiB", flush=True)


if __name__ == "__main__":
    sys.exit(main())
