#!/usr/bin/env python3
"""errmap against the limit of its own stack, side by side, with h2load.

Runs each scenario on errmap and on the baseline server (benches/load/kit.rs:
the same generated service, runtime and HTTP/2 settings, handlers that return
a prepared reply), interleaved, ROUNDS times. The server is pinned to CPU 0
and h2load to CPU 1 when the machine has two. Every run is a fixed number of
calls, and afterwards the server's own count of OK answers must equal it:
that is the check that every reply carried grpc-status 0.

Prints, per scenario and server, the median over rounds of: calls/s, items/s
(batches), latency percentiles from h2load's per-request log, server CPU per
call and reply bytes per item; and errmap/baseline, the median of each
round's ratio (the order within a round alternates). Then the latency at half of
errmap's measured maximum, and resident memory over a long run.

    benches/load.sh              # builds, then runs this with the defaults
    python3 benches/load.py --help

`--instructions CALLS` counts instead what a call costs errmap's whole
process in instructions under valgrind's callgrind, which do not drift
with the machine's load: the way to compare two builds of a change on the
request path on a machine whose timings do.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

SERVICE = "errmap.v1.ErrorMapService"

# name, method, body file, connections, streams per connection, calls,
# items per call
SCENARIOS = [
    ("unary gateway by code", "ResolveGatewayError", "gateway.bin", 8, 16, 400_000, 1),
    ("unary gRPC status", "ResolveGrpcStatus", "grpc.bin", 8, 16, 400_000, 1),
    ("100 connections x 2 streams", "ResolveGatewayError", "gateway.bin", 100, 2, 300_000, 1),
    ("batch 100, full view", "BatchResolve", "batch100-full.bin", 4, 4, 20_000, 100),
    ("batch 100, basic view", "BatchResolve", "batch100-basic.bin", 4, 4, 40_000, 100),
    ("batch 1000, full view", "BatchResolve", "batch1000-full.bin", 2, 2, 2_000, 1000),
    ("batch 1000, basic view", "BatchResolve", "batch1000-basic.bin", 2, 2, 10_000, 1000),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pinned(cpu, argv):
    if cpu is None:
        return argv
    return ["taskset", "-c", str(cpu)] + argv


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_port(port, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited early with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.01)
    raise SystemExit(f"server did not listen on {port}")


class Server:
    """errmap or the baseline, started fresh for each run."""

    def __init__(self, kind, args, wrap=(), start_within=10.0):
        self.kind = kind
        self.args = args
        self.port = free_port()
        self.admin = free_port()
        if kind == "errmap":
            argv = [args.errmap, "--listen", f"127.0.0.1:{self.port}",
                    "--admin-listen", f"127.0.0.1:{self.admin}",
                    "--http-listen", "off", "--log", "warn"]
            if args.workers:
                argv += ["--worker-threads", str(args.workers)]
            argv += args.errmap_arg
        else:
            argv = [args.kit, "baseline", f"127.0.0.1:{self.port}"]
            if args.baseline_runtime:
                argv.append(args.baseline_runtime)
            elif args.workers:
                argv.append(str(args.workers))
        self.proc = subprocess.Popen(pinned(args.server_cpu, list(wrap) + argv),
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_port(self.port, self.proc, start_within)
        if kind == "errmap":
            wait_port(self.admin, self.proc, start_within)

    def ok_calls(self, method):
        """Stops the server if needed; returns (OK answers, other answers)."""
        if self.kind == "errmap":
            url = f"http://127.0.0.1:{self.admin}/metrics"
            text = urllib.request.urlopen(url, timeout=5).read().decode()
            ok = other = 0
            for line in text.splitlines():
                if line.startswith("errmap_calls_total{") and f'method="{method}"' in line:
                    value = int(float(line.rsplit(" ", 1)[1]))
                    if 'code="OK"' in line:
                        ok += value
                    else:
                        other += value
            return ok, other
        self.stop()
        out = self.output
        m = re.search(r"baseline answered (\d+) calls", out)
        if not m:
            raise SystemExit(f"baseline printed no count:\n{out}")
        return int(m.group(1)), 0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.output, _ = self.proc.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.output, _ = self.proc.communicate()
            if self.proc.returncode != 0:
                raise SystemExit(f"{self.kind} exited with {self.proc.returncode}:\n{self.output}")


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def h2load(args, server, scenario, work, rps=None, counted_before=0):
    name, method, body, conns, streams, calls, items = scenario
    log = os.path.join(work, "requests.log")
    if os.path.exists(log):
        os.remove(log)  # h2load appends
    argv = ["h2load", "-t", "1", "-n", str(calls), "-c", str(conns), "-m", str(streams),
            f"--data={os.path.join(work, body)}", "--log-file", log,
            "-H", "content-type: application/grpc", "-H", "te: trailers"]
    if rps:
        argv += ["--rps", str(rps)]
    argv.append(f"http://127.0.0.1:{server.port}/{SERVICE}/{method}")
    before = cpu_ticks(server.proc.pid)
    run = subprocess.run(pinned(args.client_cpu, argv), capture_output=True, text=True)
    after = cpu_ticks(server.proc.pid)
    rss = rss_kib(server.proc.pid)
    out = run.stdout
    if run.returncode != 0:
        raise SystemExit(f"h2load failed:\n{out}\n{run.stderr}")
    m = re.search(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s", out)
    done = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored", out)
    traffic = re.search(r"traffic: .*?\((\d+)\) total, .*?\((\d+)\) headers.*?, .*?\((\d+)\) data", out)
    if not (m and done and traffic):
        raise SystemExit(f"cannot read h2load's output:\n{out}")
    seconds = float(m.group(1)) / (1000 if m.group(2) == "ms" else 1)
    succeeded = int(done.group(3))
    if succeeded != calls:
        raise SystemExit(f"{server.kind} {name}: {succeeded} of {calls} calls succeeded:\n{out}")
    ok, other = server.ok_calls(method)
    ok -= counted_before
    if ok != calls or other != 0:
        raise SystemExit(f"{server.kind} {name}: the server counted {ok} OK and {other} other answers for {calls} calls")
    latencies = []
    with open(log) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3:
                latencies.append(int(parts[2]))
    latencies.sort()
    return {
        "rps": calls / seconds,
        "items": calls * items / seconds,
        "p50": percentile(latencies, 0.50) / 1000,
        "p99": percentile(latencies, 0.99) / 1000,
        "p999": percentile(latencies, 0.999) / 1000,
        "cpu_us": (after - before) / os.sysconf("SC_CLK_TCK") * 1e6 / calls,
        "bytes_item": int(traffic.group(3)) / calls / items,
        "rss": rss,
    }


def one_run(args, kind, scenario, work, rps=None):
    server = Server(kind, args)
    try:
        return h2load(args, server, scenario, work, rps)
    finally:
        server.stop()


def median_of(runs, key):
    return statistics.median(r[key] for r in runs)


def report_line(name, kind, runs, ratio=None):
    m = {k: median_of(runs, k) for k in runs[0]}
    rate = f"{m['rps']:>10,.0f}"
    items = f"{m['items']:>12,.0f}"
    tail = f"  {ratio:5.3f}" if ratio is not None else ""
    print(f"{name:<29} {kind:<8} {rate} {items} {m['p50']:7.3f} {m['p99']:7.3f} {m['p999']:7.3f}"
          f" {m['cpu_us']:7.2f} {m['bytes_item']:8.1f}{tail}", flush=True)
    return m


def compare(args, work):
    print(f"{'scenario':<29} {'server':<8} {'calls/s':>10} {'items/s':>12} {'p50 ms':>7} {'p99 ms':>7}"
          f" {'p999 ms':>7} {'cpu us':>7} {'B/item':>8}  ratio", flush=True)
    chosen = [s for s in SCENARIOS if not args.only or any(o in s[0] for o in args.only)]
    results = {}
    for scenario in chosen:
        scaled = scenario[:5] + (max(1, int(scenario[5] * args.scale)),) + scenario[6:]
        runs = {"baseline": [], "errmap": []}
        for round_ in range(args.rounds):
            # Alternate which server goes first, so a drift of the machine
            # over a round weighs on both alike.
            order = args.servers if round_ % 2 == 0 else list(reversed(args.servers))
            for kind in order:
                runs[kind].append(one_run(args, kind, scaled, work))
        base = report_line(scenario[0], "baseline", runs["baseline"]) if runs["baseline"] else None
        if runs["errmap"]:
            # Each round's errmap run against the same round's baseline run:
            # the pairs ran back to back, so they share the machine's state.
            paired = [e["rps"] / b["rps"] for e, b in zip(runs["errmap"], runs["baseline"])]
            ratio = statistics.median(paired) if paired else None
            results[scenario[0]] = report_line(scenario[0], "errmap", runs["errmap"], ratio)
            if len(paired) > 1:
                print(f"{'':<29} {'':<8} per-round ratios: "
                      + " ".join(f"{r:.3f}" for r in paired), flush=True)
    return results


def callgrind_total(pid, work):
    """Has the callgrind of `pid` write its counts, and returns their total."""
    dumps = set(os.listdir(work))
    subprocess.run(["callgrind_control", "-d", str(pid)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for name in set(os.listdir(work)) - dumps:
            if name.startswith("callgrind."):
                for line in open(os.path.join(work, name)):
                    if line.startswith("summary:"):
                        return int(line.split()[1])
        time.sleep(0.2)
    raise SystemExit("callgrind wrote no counts")


def instructions(args, work):
    """Instructions per call of errmap's whole process, under callgrind.
    Each scenario gets a fresh server: a warm-up of the scenario's calls
    (valgrind translates code on first use), then the counts are zeroed,
    CALLS calls made with the scenario's connections and streams, and the
    counts written."""
    chosen = [s for s in SCENARIOS if not args.only or any(o in s[0] for o in args.only)]
    print(f"instructions per call, {args.instructions} calls per scenario, {args.errmap}:", flush=True)
    wrap = ["valgrind", "--tool=callgrind", "--quiet",
            f"--callgrind-out-file={os.path.join(work, 'callgrind.%p')}"]
    for scenario in chosen:
        warm = max(1, args.instructions // 5)
        server = Server("errmap", args, wrap=wrap, start_within=120.0)
        try:
            h2load(args, server, scenario[:5] + (warm,) + scenario[6:], work)
            subprocess.run(["callgrind_control", "-z", str(server.proc.pid)], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            h2load(args, server, scenario[:5] + (args.instructions,) + scenario[6:], work,
                   counted_before=warm)
            total = callgrind_total(server.proc.pid, work)
        finally:
            server.stop()
        print(f"  {scenario[0]}: {total / args.instructions:,.0f} per call"
              f" ({total / args.instructions / scenario[6]:,.0f} per item)", flush=True)


def half_load(args, work, results):
    """Latency at half of errmap's measured maximum, paced by h2load's --rps.
    One stream per connection: with more, h2load sends each tick's calls in
    a burst, and the figure would measure the burst, not the server."""
    name = SCENARIOS[0][0]
    if name not in results:
        return
    conns = 16
    target = results[name]["rps"] / 2
    per_client = max(1, int(target / conns))
    calls = max(1, int(per_client * conns * 10 * args.scale))
    scenario = (name + " @ half", SCENARIOS[0][1], SCENARIOS[0][2], conns, 1, calls, 1)
    print(f"\nhalf of errmap's maximum: {per_client * conns:,} calls/s ({conns} connections,"
          f" one stream each, {per_client:,}/s each), {calls:,} calls:", flush=True)
    for kind in args.servers:
        runs = [one_run(args, kind, scenario, work, rps=per_client) for _ in range(args.rounds)]
        report_line(scenario[0], kind, runs)


def startup(args):
    """Time from starting the process to /readyz answering 200, which errmap
    does once health reports SERVING and every listener is bound."""
    times = []
    for _ in range(args.startups):
        port, admin = free_port(), free_port()
        argv = [args.errmap, "--listen", f"127.0.0.1:{port}", "--admin-listen",
                f"127.0.0.1:{admin}", "--http-listen", "off", "--log", "warn"]
        start = time.perf_counter()
        proc = subprocess.Popen(pinned(args.server_cpu, argv))
        try:
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"errmap exited with {proc.returncode}")
                try:
                    with socket.create_connection(("127.0.0.1", admin), timeout=1) as s:
                        s.sendall(b"GET /readyz HTTP/1.1\r\nHost: errmap\r\nConnection: close\r\n\r\n")
                        if s.recv(64).startswith(b"HTTP/1.1 200"):
                            times.append(time.perf_counter() - start)
                            break
                except OSError:
                    time.sleep(0.0002)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)
    times.sort()
    print(f"\nstart-up to ready (embedded catalog, {len(times)} starts): median"
          f" {statistics.median(times) * 1000:.1f} ms, p90 {percentile(times, 0.9) * 1000:.1f} ms,"
          f" max {times[-1] * 1000:.1f} ms", flush=True)


def memory(args, work):
    """Resident size after one long run, and after a second one as long."""
    scenario = SCENARIOS[0]
    calls = int(args.memory_calls)
    scaled = scenario[:5] + (calls,) + scenario[6:]
    server = Server("errmap", args)
    try:
        start = rss_kib(server.proc.pid)
        first = h2load(args, server, scaled, work)
        second = h2load(args, server, scaled, work, counted_before=calls)
    finally:
        server.stop()
    print(f"\nmemory (errmap, {calls:,} + {calls:,} unary calls): RSS at start {start / 1024:.1f} MiB,"
          f" after the first {calls:,} {first['rss'] / 1024:.1f} MiB, after the second"
          f" {second['rss'] / 1024:.1f} MiB ({first['rps']:,.0f} and {second['rps']:,.0f} calls/s)", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--errmap", default="target/release/errmap")
    parser.add_argument("--kit", default="target/release/examples/kit")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every call count")
    parser.add_argument("--workers", type=int, help="worker threads for both servers (default: their own)")
    parser.add_argument("--only", nargs="*", help="scenarios whose name contains any of these")
    parser.add_argument("--servers", nargs="*", default=["baseline", "errmap"], choices=["baseline", "errmap"])
    parser.add_argument("--baseline-runtime", help="the baseline's runtime: a worker count or multi:N")
    parser.add_argument("--errmap-arg", action="append", default=[],
                        help="one more argument for errmap, such as --errmap-arg=--no-prepared-answers")
    parser.add_argument("--memory-calls", type=float, default=1e6)
    parser.add_argument("--startups", type=int, default=20)
    parser.add_argument("--no-pin", action="store_true", help="let the kernel place server and h2load")
    parser.add_argument("--skip", nargs="*", default=[], choices=["compare", "half", "memory", "startup"])
    parser.add_argument("--instructions", type=int, default=0, metavar="CALLS",
                        help="count errmap's instructions per call under callgrind, CALLS calls"
                        " per scenario (those of --only), in place of everything else")
    args = parser.parse_args()
    for tool in ("h2load",) + (("valgrind", "callgrind_control") if args.instructions else ()):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing (Debian: apt-get install nghttp2-client valgrind)")
    two = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") and not args.no_pin
    args.server_cpu, args.client_cpu = (0, 1) if two else (None, None)
    print(f"server on CPU {args.server_cpu}, h2load on CPU {args.client_cpu}; "
          f"{args.rounds} interleaved rounds, medians", flush=True)
    work = tempfile.mkdtemp(prefix="errmap-load-")
    try:
        subprocess.run([args.kit, "bodies", work], check=True)
        if args.instructions:
            instructions(args, work)
            return
        results = compare(args, work) if "compare" not in args.skip else {}
        if "half" not in args.skip:
            half_load(args, work, results)
        if "memory" not in args.skip:
            memory(args, work)
        if "startup" not in args.skip:
            startup(args)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
