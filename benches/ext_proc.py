#!/usr/bin/env python3
"""The cost of errmap as Envoy's external processor, measured with h2load.

Two Envoys on loopback in front of the same upstream (an errmap API
listener, answering ResolveGatewayError): one plain, one with the ext_proc
filter calling a second errmap (`--ext-proc-listen`), wired behind a
matcher as deploy/envoy/envoy.yaml wires it (`--wiring matched`, the
default: only failing responses reach errmap; a call without
accept-language takes its branch without attributes) or on every request
as Envoy Gateway wires it (`--wiring every`), with the shipped runtime
(ext_proc streams closed without a reset; `--envoy-runtime` changes it;
`--versus-runtime` compares two Envoys with errmap that differ in it, in
place of Envoy alone and Envoy with errmap).
Each scenario runs on both, interleaved, ROUNDS times: successful calls
(an OK answer, about 1 KB),
failing calls (an unknown code: NOT_FOUND trailers-only, with a long
message and errmap's own details, which the processor merges with its
own), plain failing calls (a method the upstream lacks: UNIMPLEMENTED
trailers-only, no message, no details, as most applications fail), and
the same naming a language ("failing-plain-language": behind the matcher,
the branch with attributes; run only when named in `--scenarios`), and
gateway errors ("gateway": gRPC calls through each Envoy's second
listener, wired as deploy/envoy/envoy.yaml's egress, to a stand-in for
the JD gateway (this script, over HTTP/1.1), which answers every call 403
with the gateway's JSON error body; errmap asks for the body and answers with an
immediate gRPC status, 2 messages a call).

Prints, per scenario and Envoy, the median over rounds of calls/s and of
h2load's per-request p50/p99 latency, the ratio with/without, the
processor's CPU (utime+stime of the ext_proc errmap) per call and per
message it answered, each Envoy's CPU per call, and then p50/p99 at half
of the lower of the two Envoys' maximum rates (`--rps`, 16 connections of
one stream each, as BENCHMARKS.md measures the API's latency, opened 1 ms
apart so that their ticks do not coincide), paired, with the processor's
CPU per message at that rate (each call then wakes it on its own).
`--pin` puts the proxies and the load on CPUs of their own. `--stock`
adds a third Envoy, its filter calling a processor that changes nothing
(`kit stock-processor`: envoy-types' generated server on tonic's own
`Server`, every message answered "continue"), so that what errmap's
translation adds is told from what any processor's round trip costs.

    cargo build --release --bin errmap
    python3 benches/ext_proc.py --binary target/release/errmap
    cargo build --release --example kit     # for --stock

Needs envoy and h2load on PATH. The figures are only as good as the
machine is quiet.

`--instructions CALLS` measures instead what a processed response costs
errmap in instructions, which do not drift with the machine's load: the
processor runs under valgrind's callgrind, behind the Envoy with the
filter, and each scenario sends CALLS calls at a slow pace (4 connections
of one stream, 20 calls/s each, so that valgrind's slower processor stays
within Envoy's message_timeout); the counts cover errmap's whole process
from just before the first of those calls to just after the last. Needs
valgrind and callgrind_control on PATH. The figure moves by under 1%
between runs of one binary with the same scenarios in the same order (a
scenario's count depends by up to 3% on those run before it); compare
binaries run by run.
"""

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

PATH = "/errmap.v1.ErrorMapService/ResolveGatewayError"
# A method the upstream does not have: UNIMPLEMENTED, trailers-only, with
# no message and no details, as most applications fail.
PLAIN_PATH = "/errmap.v1.ErrorMapService/NoSuchMethod"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def frame(message):
    return b"\x00" + len(message).to_bytes(4, "big") + message


def gateway_request(code):
    raw = code.encode()
    return frame(b"\x0a" + bytes([len(raw)]) + raw)


def wait_port(port, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on {port}")


def indented(text, spaces):
    return "".join(" " * spaces + line + "\n" for line in text.strip("\n").splitlines())


def ext_proc_filter(request_header_mode, response_trailer_mode, attributes=(), client=None,
                    translate=None):
    """The ext_proc filter's config, calling the errmap cluster; `client`
    names the client's kind in the stream's metadata, and `translate` the
    one translation the route asks for."""
    listed = "".join(f"\n    - {a}" for a in attributes)
    response_attributes = f"\n  response_attributes:{listed}" if attributes else ""
    pairs = [("x-errmap-translate", translate)] if translate else []
    pairs += [("x-errmap-client", client)] if client else []
    metadata = ("\n    initial_metadata: [" + ", ".join(
        f"{{ key: {key}, value: {value} }}" for key, value in pairs) + "]") if pairs else ""
    return f"""
name: envoy.filters.http.ext_proc
typed_config:
  "@type": type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor
  grpc_service:
    envoy_grpc: {{ cluster_name: errmap }}{metadata}
  failure_mode_allow: true
  message_timeout: 0.2s
  allow_mode_override: true{response_attributes}
  processing_mode:
    request_header_mode: {request_header_mode}
    response_header_mode: SEND
    request_body_mode: NONE
    response_body_mode: NONE
    request_trailer_mode: SKIP
    response_trailer_mode: {response_trailer_mode}"""


def request_predicate(header, regex):
    return f"""
- single_predicate:
    input:
      name: {header}
      typed_config:
        "@type": type.googleapis.com/envoy.type.matcher.v3.HttpRequestHeaderMatchInput
        header_name: {header}
    value_match: {{ safe_regex: {{ google_re2: {{}}, regex: "{regex}" }} }}"""


def grpc_status_predicate(input_type):
    return f"""
- single_predicate:
    input:
      name: grpc-status
      typed_config:
        "@type": type.googleapis.com/envoy.type.matcher.v3.{input_type}
        header_name: grpc-status
    value_match: {{ safe_regex: {{ google_re2: {{}}, regex: "[1-9][0-9]*" }} }}"""


# An HTTP error status, as the JD gateway answers a failure.
HTTP_ERROR = """
- single_predicate:
    input:
      name: ":status"
      typed_config:
        "@type": type.googleapis.com/envoy.type.matcher.v3.HttpResponseHeaderMatchInput
        header_name: ":status"
    value_match: { safe_regex: { google_re2: {}, regex: "[45][0-9][0-9]" } }"""


def action(name, filter_config):
    return f"""                              on_match:
                                action:
                                  name: {name}
                                  typed_config:
                                    "@type": type.googleapis.com/envoy.extensions.filters.http.composite.v3.ExecuteFilterAction
                                    typed_config:
""" + indented(filter_config, 38)


# The ext_proc filter on every request (as Envoy Gateway wires it): errmap
# sees each request's headers and each response's, and asks for a gRPC
# response's trailers.
EVERY = "\n" + indented("- " + ext_proc_filter("SEND", "SKIP").strip().replace("\n", "\n  "), 18).rstrip("\n")

# The filter behind a matcher, as deploy/envoy/envoy.yaml's ingress wires
# it: only a response with a grpc-status other than 0, in its headers or
# its trailers, brings it into being. A gRPC client that sent no
# accept-language takes the first branch, named to errmap in the stream's
# metadata; any other, the second, with the request's headers as
# attributes.
GRPC_STATUS = indented(grpc_status_predicate("HttpResponseHeaderMatchInput"), 0) + indented(
    grpc_status_predicate("HttpResponseTrailerMatchInput"), 0)
MATCHED = """
                  - name: errmap
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.common.matching.v3.ExtensionWithMatcher
                      extension_config:
                        name: errmap
                        typed_config:
                          "@type": type.googleapis.com/envoy.extensions.filters.http.composite.v3.Composite
                      xds_matcher:
                        matcher_list:
                          matchers:
                            - predicate:
                                and_matcher:
                                  predicate:
""" + indented(request_predicate("content-type", "application/grpc([+;].*)?"), 36) + """\
                                    - not_matcher:
""" + indented(request_predicate("accept-language", ".*").strip()[2:], 42) + """\
                                    - or_matcher:
                                        predicate:
""" + indented(GRPC_STATUS, 42) + action("translate-grpc-client", ext_proc_filter(
    "SKIP", "SEND", client="grpc")) + """\
                            - predicate:
                                or_matcher:
                                  predicate:
""" + indented(GRPC_STATUS, 36) + action("translate", ext_proc_filter("SKIP", "SEND", [
    "request.headers['content-type']",
    "request.headers['accept-language']",
    "request.headers['x-request-id']",
])).rstrip("\n")


# The filter behind a matcher, as deploy/envoy/envoy.yaml's egress wires
# it: a gateway error (an HTTP error status) answering a gRPC client is
# turned into a gRPC status; errmap asks for the body itself. A client that
# sent no accept-language takes the first branch, any other the second,
# with the request's headers as attributes.
EGRESS = MATCHED.split("                          matchers:\n")[0] + """\
                          matchers:
                            - predicate:
                                and_matcher:
                                  predicate:
""" + indented(request_predicate("content-type", "application/grpc([+;].*)?"), 36) + indented(
    HTTP_ERROR, 36) + """\
                                    - not_matcher:
""" + indented(request_predicate("accept-language", ".*").strip()[2:], 42) + action(
    "translate-grpc-client", ext_proc_filter(
        "SKIP", "SKIP", client="grpc", translate="http-to-grpc")) + """\
                            - predicate:
                                and_matcher:
                                  predicate:
""" + indented(request_predicate("content-type", "application/grpc([+;].*)?"), 36) + indented(
    HTTP_ERROR, 36) + action("translate", ext_proc_filter("SKIP", "SKIP", [
        "request.headers['content-type']",
        "request.headers['accept-language']",
        "request.headers['x-request-id']",
    ], translate="http-to-grpc")).rstrip("\n")

# Scenarios sent to the egress listener, towards the gateway.
EGRESS_SCENARIOS = {"gateway"}

# What the stand-in for the JD gateway answers every request with.
GATEWAY_STATUS = 403
GATEWAY_BODY = ('{"requestId":"bench-1","error":{"code":403,'
                '"status":"APIGW_NONCE_CONFLICT","message":"重复访问"}}')


def serve_gateway(port):
    """Stands in for the JD gateway on `port`, over HTTP/1.1: every request
    answered GATEWAY_STATUS with GATEWAY_BODY, as JSON. (An Envoy's direct
    response will not do: Envoy turns its own replies to a gRPC request
    into a gRPC status.)"""
    import asyncio

    body = GATEWAY_BODY.encode()
    reply = (f"HTTP/1.1 {GATEWAY_STATUS} Forbidden\r\ncontent-type: application/json\r\n"
             f"content-length: {len(body)}\r\n\r\n").encode() + body

    class Gateway(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport, self.pending = transport, b""

        def data_received(self, data):
            self.pending += data
            while True:
                head_end = self.pending.find(b"\r\n\r\n")
                if head_end < 0:
                    return
                head = self.pending[:head_end].lower()
                if b"transfer-encoding: chunked" in head:
                    end = self.pending.find(b"\r\n0\r\n\r\n", head_end)
                    if end < 0:
                        return
                    end += 7
                else:
                    at = head.find(b"content-length:")
                    length = int(head[at + 15:].split(b"\r\n", 1)[0]) if at >= 0 else 0
                    end = head_end + 4 + length
                    if len(self.pending) < end:
                        return
                self.pending = self.pending[end:]
                self.transport.write(reply)

    async def run():
        server = await asyncio.get_running_loop().create_server(Gateway, "127.0.0.1", port)
        await server.serve_forever()

    asyncio.run(run())


# Envoy's runtime as deploy/envoy/envoy.yaml sets it: ext_proc streams end
# without a reset. `--envoy-runtime KEY=VALUE` changes or adds a value.
RUNTIME = {"envoy.reloadable_features.ext_proc_graceful_grpc_close": "true"}


def bootstrap(listen, admin, upstream, processor, wiring, runtime=None, egress=None, gateway=None):
    """An Envoy in front of `upstream` on `listen` and, given `egress` and
    `gateway`, in front of the stand-in gateway on `egress`; with the filter
    calling errmap on `processor`, if given."""
    runtime = RUNTIME if runtime is None else runtime
    layer = "".join(f"\n        {key}: {value}" for key, value in runtime.items())
    layered_runtime = f"""
layered_runtime:
  layers:
    - name: bench
      static_layer:{layer}""" if runtime else ""
    ingress_filter = egress_filter = ""
    if processor:
        ingress_filter = MATCHED if wiring == "matched" else EVERY
        egress_filter = EGRESS if wiring == "matched" else EVERY
    cluster = """
    - name: {name}
      type: STATIC
      connect_timeout: 1s
      typed_extension_protocol_options:
        envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
          "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
          explicit_http_config: {{ {protocol}: {{}} }}
      load_assignment:
        cluster_name: {name}
        endpoints: [{{ lb_endpoints: [{{ endpoint: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: {port} }} }} }} }}] }}]"""
    listener = """
    - name: {name}
      address: {{ socket_address: {{ address: 127.0.0.1, port_value: {port} }} }}
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: {name}
                route_config:
                  virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes: [{{ match: {{ prefix: "/" }}, route: {{ cluster: {cluster} }} }}]
                http_filters:{filters}
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"""
    listeners = listener.format(name="ingress", port=listen, cluster="upstream", filters=ingress_filter)
    clusters = cluster.format(name="upstream", port=upstream, protocol="http2_protocol_options")
    if egress and gateway:
        listeners += listener.format(name="egress", port=egress, cluster="gateway",
                                     filters=egress_filter)
        clusters += cluster.format(name="gateway", port=gateway, protocol="http_protocol_options")
    if processor:
        clusters += cluster.format(name="errmap", port=processor, protocol="http2_protocol_options")
    return f"""
admin:
  address: {{ socket_address: {{ address: 127.0.0.1, port_value: {admin} }} }}{layered_runtime}
static_resources:
  listeners:{listeners}
  clusters:{clusters}
"""


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def processed(admin_port):
    """Messages the processor answered."""
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics") as r:
        text = r.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith("errmap_ext_proc_messages_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


# Envoy's own account of its streams to errmap, over both listeners: a
# stream that failed or timed out went out untranslated, and more than one
# connection means errmap (or Envoy) closed one.
ENVOY_STATS = (
    "ext_proc.streams_failed",
    "ext_proc.message_timeouts",
    "cluster.errmap.upstream_cx_total",
    "cluster.errmap.upstream_rq_tx_reset",
    "cluster.errmap.upstream_rq_total",
)
# Streams to the processor.
STREAMS = "cluster.errmap.upstream_rq_total"


def envoy_stats(admin_port):
    """The counters of ENVOY_STATS, from an Envoy's admin listener; an
    ext_proc counter summed over the listeners."""
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/stats") as r:
        text = r.read().decode()
    found = {}
    for line in text.splitlines():
        name, _, value = line.partition(": ")
        for stat in ENVOY_STATS:
            if name == stat or (stat.startswith("ext_proc.") and name in (
                    f"http.ingress.{stat}", f"http.egress.{stat}")):
                found[stat] = found.get(stat, 0) + int(value)
    return found


# CPUs for the proxies (both Envoys and the processor) and for the load
# (the upstream, the stand-in gateway and h2load), set by `--pin`; None
# leaves the scheduler free.
PIN = {"proxies": None, "load": None}


def pinned(role):
    """A preexec_fn putting a child on its role's CPUs, if `--pin` named them."""
    cpus = PIN[role]
    return (lambda: os.sched_setaffinity(0, cpus)) if cpus else None


def h2load(port, body, calls, clients, streams, rps=None, path=PATH, headers=(), stagger_ms=0,
           expect="2xx"):
    with tempfile.NamedTemporaryFile(suffix=".log") as log:
        argv = [
            "h2load", "-n", str(calls), "-c", str(clients), "-m", str(streams),
            "-H", "content-type: application/grpc", "-H", "te: trailers",
            *[arg for header in headers for arg in ("-H", header)],
            "-d", body, "--log-file", log.name,
            f"http://127.0.0.1:{port}{path}",
        ]
        if rps:
            argv[1:1] = ["--rps", str(rps)]
        if stagger_ms:
            argv[1:1] = ["-r", "1", "--rate-period", f"{stagger_ms}ms"]
        out = subprocess.run(argv, capture_output=True, text=True, check=True,
                             preexec_fn=pinned("load")).stdout
        finished = next(l for l in out.splitlines() if l.startswith("finished in"))
        per_s = float(finished.split(",")[1].split()[0])
        status = next(l for l in out.splitlines() if l.startswith("status codes:"))
        if expect and f" {calls} {expect}" not in status:
            sys.exit(f"not every call answered {expect}: {status}")
        times = sorted(int(l.split()[2]) for l in open(log.name) if l.strip())
    p = lambda q: times[min(len(times) - 1, int(q * len(times)))] / 1000.0
    return per_s, p(0.50), p(0.99)


def callgrind(command, pid):
    subprocess.run(["callgrind_control", command, str(pid)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def count_instructions(args, work, pid, upstream, gateway, processor, admin, runtime, bodies,
                       paths, languages, stock=False):
    """Instructions per processed response of the processor `pid`, which
    runs under callgrind, behind an Envoy with the filter: errmap, or the
    stock processor if `stock` (whose messages are counted as Envoy's
    streams to it, one each)."""
    listen, egress, envoy_admin = free_port(), free_port(), free_port()
    path = os.path.join(work, "envoy.yaml")
    open(path, "w").write(bootstrap(listen, envoy_admin, upstream, processor, args.wiring, runtime,
                                    egress, gateway))
    envoy = subprocess.Popen(
        ["envoy", "-c", path, "--concurrency", "1", "--disable-hot-restart", "-l", "error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=pinned("proxies"))
    def answered_so_far():
        if stock:
            return envoy_stats(envoy_admin).get(STREAMS, 0)
        return processed(admin)

    try:
        wait_port(listen)
        clients, rate = 4, 20
        print(f"instructions per processed response of {'the stock processor' if stock else 'errmap'}, "
              f"{args.instructions} calls per scenario "
              f"({clients} connections x 1 stream, {rate} calls/s each), {args.wiring} wiring:")
        for scenario in args.scenarios.split(","):
            body, headers = bodies[scenario], languages.get(scenario, [])
            port = egress if scenario in EGRESS_SCENARIOS else listen
            # Valgrind translates the code a path runs on first use: warm
            # each path up before counting.
            # Valgrind's first pass over a path can take longer than
            # Envoy's message_timeout, and that call goes out untranslated.
            h2load(port, body, 200, clients, 1, rps=5, path=paths[scenario], headers=headers,
                   expect=None)
            timeouts = envoy_stats(envoy_admin).get("ext_proc.message_timeouts", 0)
            callgrind("-z", pid)
            before = answered_so_far()
            h2load(port, body, args.instructions, clients, 1, rps=rate, path=paths[scenario],
                   headers=headers, expect=None)
            answered = answered_so_far() - before
            dumps = set(os.listdir(work))
            callgrind("-d", pid)
            deadline = time.time() + 30
            total = None
            while total is None and time.time() < deadline:
                for name in set(os.listdir(work)) - dumps:
                    if name.startswith("callgrind."):
                        for line in open(os.path.join(work, name)):
                            if line.startswith("summary:"):
                                total = int(line.split()[1])
                time.sleep(0.2)
            if total is None:
                sys.exit("callgrind wrote no counts")
            late = envoy_stats(envoy_admin).get("ext_proc.message_timeouts", 0) - timeouts
            per_message = f"{total / answered:,.0f} per processed response" if answered else "no message"
            print(f"  {scenario}: {per_message} ({answered / args.instructions:.1f} messages a call, "
                  f"{total / args.instructions:,.0f} per call)")
            if late:
                print(f"    {late} answers came after Envoy's message_timeout: lower the pace")
    finally:
        envoy.terminate()
        envoy.wait()


def main():
    if sys.argv[1:2] == ["--serve-gateway"]:
        serve_gateway(int(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default="target/release/errmap")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=40_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--streams", type=int, default=16)
    parser.add_argument("--wiring", choices=("matched", "every"), default="matched",
                        help="the ext_proc filter behind a matcher (as deploy/envoy wires it) "
                        "or on every request (as Envoy Gateway does)")
    parser.add_argument("--scenarios", default="success,failing,failing-plain,gateway",
                        help="which scenarios to run, comma-separated")
    parser.add_argument("--paced-clients", type=int, default=16,
                        help="connections of one stream each for the paced runs (with more "
                        "streams a connection, h2load sends each tick's calls in a burst, "
                        "which measures the burst)")
    parser.add_argument("--stagger-ms", type=int, default=1,
                        help="open the paced runs' connections this many ms apart, so that "
                        "their ticks do not coincide (0: all at once, and each tick sends "
                        "one call on every connection together)")
    parser.add_argument("--worker-threads", type=int, default=0,
                        help="the processor's --worker-threads (0: errmap's default)")
    parser.add_argument("--envoy-runtime", action="append", default=[], metavar="KEY=VALUE",
                        help="an Envoy runtime value for both Envoys, over the shipped ones "
                        "(e.g. envoy.reloadable_features.ext_proc_graceful_grpc_close=false "
                        "for Envoy's default, a reset at the end of each ext_proc stream)")
    parser.add_argument("--versus-runtime", action="append", default=[], metavar="KEY=VALUE",
                        help="compare two Envoys with errmap, the second with these runtime "
                        "values over the first's, in place of Envoy alone against Envoy with "
                        "errmap (a paired before/after of a runtime setting)")
    parser.add_argument("--instructions", type=int, default=0, metavar="CALLS",
                        help="count the processor's instructions per processed response "
                        "under callgrind, CALLS paced calls per scenario, in place of the "
                        "timed runs")
    parser.add_argument("--stock", nargs="?", const="target/release/examples/kit", metavar="KIT",
                        help="also measure an Envoy whose filter calls a processor that "
                        "changes nothing (KIT stock-processor; default "
                        "target/release/examples/kit)")
    parser.add_argument("--pin", metavar="PROXIES/LOAD",
                        help="pin both Envoys and the processor to the CPUs PROXIES, the "
                        "upstream and h2load to the CPUs LOAD (comma-separated lists, e.g. "
                        "0/1: Envoy and errmap share a CPU, as two sidecars of one pod under "
                        "a limit of one CPU do, and the load does not take it from them)")
    args = parser.parse_args()
    if args.stock and args.versus_runtime:
        sys.exit("--stock compares with Envoy alone: not with --versus-runtime")
    if args.pin:
        try:
            proxies, load = (
                {int(cpu) for cpu in part.split(",")} for part in args.pin.split("/"))
        except ValueError:
            sys.exit(f"--pin {args.pin!r}: expected PROXIES/LOAD, e.g. 0/1")
        PIN.update(proxies=proxies, load=load)
        print(f"pinned: Envoys and the processor on CPUs {sorted(proxies)}, "
              f"the upstream and h2load on CPUs {sorted(load)}")

    def with_values(base, values, flag):
        runtime = dict(base)
        for value in values:
            key, sep, setting = value.partition("=")
            if not sep or not key:
                sys.exit(f"{flag} {value!r}: expected KEY=VALUE")
            runtime[key] = setting
        return runtime

    runtime = with_values(RUNTIME, args.envoy_runtime, "--envoy-runtime")
    versus = with_values(runtime, args.versus_runtime, "--versus-runtime")
    tools = ("envoy", "h2load") + (("valgrind", "callgrind_control") if args.instructions else ())
    for tool in tools:
        if not shutil.which(tool):
            sys.exit(f"{tool} is not on PATH")

    work = tempfile.mkdtemp()
    bodies = {
        "success": os.path.join(work, "ok.bin"),
        "failing": os.path.join(work, "fail.bin"),
    }
    open(bodies["success"], "wb").write(gateway_request("APIGW_NONCE_CONFLICT"))
    open(bodies["failing"], "wb").write(gateway_request("NO_SUCH_CODE_AT_ALL"))
    bodies["failing-plain"] = bodies["success"]
    bodies["failing-plain-language"] = bodies["success"]
    bodies["gateway"] = bodies["success"]
    paths = {"success": PATH, "failing": PATH, "failing-plain": PLAIN_PATH,
             "failing-plain-language": PLAIN_PATH, "gateway": PATH}
    for scenario in args.scenarios.split(","):
        if scenario not in paths:
            sys.exit(f"--scenarios: no scenario {scenario!r} (there are {', '.join(paths)})")
    # Behind the matcher, a call naming a language takes the branch with
    # attributes.
    languages = {"failing-plain-language": ["accept-language: en-US"]}

    procs = []
    try:
        upstream, processor, admin = free_port(), free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ERRMAP_")}
        common = ["--http-listen", "off", "--log", "warn"]
        procs.append(subprocess.Popen(
            [args.binary, "--listen", f"127.0.0.1:{upstream}", "--admin-listen", "off", *common],
            env=env, preexec_fn=pinned("load")))
        gateway = free_port()
        procs.append(subprocess.Popen([sys.executable, __file__, "--serve-gateway", str(gateway)],
                                      preexec_fn=pinned("load")))
        threads = ["--worker-threads", str(args.worker_threads)] if args.worker_threads else []
        counted = ["valgrind", "--tool=callgrind", "--quiet",
                   f"--callgrind-out-file={work}/callgrind.%p"] if args.instructions else []
        ext = subprocess.Popen(
            # Under --stock, callgrind counts the stock processor instead.
            [*([] if args.stock else counted), args.binary, "--listen", f"127.0.0.1:{free_port()}",
             "--admin-listen", f"127.0.0.1:{admin}", "--ext-proc-listen", f"127.0.0.1:{processor}", *common,
             *threads],
            env=env, preexec_fn=pinned("proxies"))
        procs.append(ext)
        stock_port = None
        if args.stock:
            stock_port = free_port()
            procs.append(subprocess.Popen(
                [*counted, args.stock, "stock-processor", f"127.0.0.1:{stock_port}"],
                stdout=subprocess.DEVNULL, preexec_fn=pinned("proxies")))
            stock = procs[-1]
        for port in (upstream, gateway, processor, admin, stock_port):
            if port:
                wait_port(port, timeout=120 if args.instructions else 20)
        if args.instructions and args.stock:
            count_instructions(args, work, stock.pid, upstream, gateway, stock_port, admin, runtime,
                               bodies, paths, languages, stock=True)
            return
        if args.instructions:
            count_instructions(args, work, ext.pid, upstream, gateway, processor, admin, runtime,
                               bodies, paths, languages)
            return
        # The first is the reference, the second the one measured against it.
        if args.versus_runtime:
            stacks = (("envoy+errmap", processor, runtime),
                      ("envoy+errmap " + ",".join(args.versus_runtime), processor, versus))
        else:
            stacks = (("envoy", None, runtime), ("envoy+errmap", processor, runtime))
        if args.stock:
            stacks += (("envoy+stock", stock_port, runtime),)
        first = stacks[0][0]
        others = [name for name, _, _ in stacks[1:]]
        processed_by = [name for name, proc_port, _ in stacks if proc_port]
        translating = [name for name in processed_by if name != "envoy+stock"]
        envoys, egresses, envoy_pids, envoy_admins = {}, {}, {}, {}
        for i, (name, proc_port, values) in enumerate(stacks):
            listen, egress, envoy_admin = free_port(), free_port(), free_port()
            path = os.path.join(work, f"envoy-{i}.yaml")
            open(path, "w").write(bootstrap(listen, envoy_admin, upstream, proc_port, args.wiring,
                                            values, egress, gateway))
            procs.append(subprocess.Popen(
                ["envoy", "-c", path, "--concurrency", "1", "--disable-hot-restart", "-l", "error"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=pinned("proxies")))
            wait_port(listen)
            envoys[name] = listen
            egresses[name] = egress
            envoy_pids[name] = procs[-1].pid
            envoy_admins[name] = envoy_admin

        def processor_of(name):
            """The processor behind an Envoy: its pid, and a count of the
            messages it answered so far (for the stock one, which counts
            nothing, Envoy's streams to it: it answers one message each,
            as it never asks for more)."""
            if name == "envoy+stock":
                return stock.pid, lambda: envoy_stats(envoy_admins[name]).get(STREAMS, 0)
            return ext.pid, lambda: processed(admin)        # Warm up both paths.
        for port in envoys.values():
            h2load(port, bodies["success"], 2000, args.clients, args.streams)

        for scenario in args.scenarios.split(","):
            body = bodies[scenario]
            headers = languages.get(scenario, [])
            ports = egresses if scenario in EGRESS_SCENARIOS else envoys
            # Untranslated, a gateway error reaches the gRPC client as the
            # gateway's HTTP status; translated, as a gRPC status.
            expect = {name: "4xx" if scenario in EGRESS_SCENARIOS and name not in translating
                      else "2xx" for name in envoys}
            results = {name: [] for name in envoys}
            cpu = {name: [] for name in processed_by}
            messages = {name: [] for name in processed_by}
            envoy_cpu = {name: [] for name in envoys}
            for r in range(args.rounds):
                order = list(envoys) if r % 2 == 0 else list(reversed(envoys))
                for name in order:
                    pid, count = processor_of(name)
                    before = (cpu_seconds(pid), count())
                    envoy_before = cpu_seconds(envoy_pids[name])
                    results[name].append(h2load(ports[name], body, args.calls, args.clients,
                                                args.streams, path=paths[scenario], headers=headers,
                                                expect=expect[name]))
                    envoy_cpu[name].append(
                        (cpu_seconds(envoy_pids[name]) - envoy_before) / args.calls * 1e6)
                    if name in processed_by:
                        messages[name].append((count() - before[1]) / args.calls)
                        cpu[name].append((cpu_seconds(pid) - before[0]) / args.calls * 1e6)
            med = {n: [statistics.median(x[i] for x in rs) for i in range(3)] for n, rs in results.items()}
            print(f"\n{scenario} calls, {args.rounds} rounds of {args.calls} "
                  f"({args.clients} connections x {args.streams} streams), medians:")
            for name, (rate, p50, p99) in med.items():
                print(f"  {name:13} {rate:10.0f} calls/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")
            for name in others:
                ratios = [b[0] / a[0] for a, b in zip(results[first], results[name])]
                print(f"  {name}/{first}  {statistics.median(ratios):.2f}x calls/s "
                      "(median of paired rounds)")
            for name in processed_by:
                spent, sent = cpu[name], messages[name]
                who = "stock processor" if name == "envoy+stock" else "errmap"
                print(f"  {who} CPU behind {name}: {statistics.median(spent):.1f} us per call "
                      f"({statistics.median(sent):.1f} messages each; min {min(spent):.1f}, "
                      f"max {max(spent):.1f})")
                per_message = [c / m for c, m in zip(spent, sent) if m > 0]
                if per_message:
                    print(f"    {statistics.median(per_message):.1f} us per processed response "
                          f"message (min {min(per_message):.1f}, max {max(per_message):.1f})")
                else:
                    print(f"    no message reached the {who}")
            for name, spent in envoy_cpu.items():
                print(f"  {name} CPU {statistics.median(spent):.1f} us per call "
                      f"(min {min(spent):.1f}, max {max(spent):.1f})")
            # Half of the lower maximum, so that neither Envoy is saturated:
            # past its maximum, latency is queueing, not the processor's.
            half = int(min(m[0] for m in med.values()) / 2 / args.paced_clients)
            paced = {name: [] for name in envoys}
            paced_cpu = {name: [] for name in processed_by}
            for r in range(args.rounds):
                order = list(envoys) if r % 2 == 0 else list(reversed(envoys))
                for name in order:
                    calls = max(2000, half * args.paced_clients * 3)
                    pid, count = processor_of(name)
                    before = (cpu_seconds(pid), count())
                    paced[name].append(h2load(ports[name], body, calls, args.paced_clients, 1,
                                              rps=half, path=paths[scenario], headers=headers,
                                              stagger_ms=args.stagger_ms, expect=expect[name]))
                    answered = count() - before[1]
                    if name in processed_by and answered:
                        paced_cpu[name].append((cpu_seconds(pid) - before[0]) / answered * 1e6)
            p50s = {n: statistics.median(x[1] for x in v) for n, v in paced.items()}
            p99s = {n: statistics.median(x[2] for x in v) for n, v in paced.items()}
            print(f"  at {half * args.paced_clients} calls/s (half of the lower maximum, "
                  f"{args.paced_clients} connections x 1 stream, opened {args.stagger_ms} ms apart):")
            for name in others:
                added = [b[2] - a[2] for a, b in zip(paced[first], paced[name])]
                print(f"    {name}: p50 {p50s[first]:.2f} -> {p50s[name]:.2f} ms, "
                      f"p99 {p99s[first]:.2f} -> {p99s[name]:.2f} ms "
                      f"(p99 added, median of paired rounds: {statistics.median(added):.2f} ms)")
            for name, spent in paced_cpu.items():
                if spent:
                    who = "stock processor" if name == "envoy+stock" else "errmap"
                    print(f"    {who} CPU behind {name} at that rate: "
                          f"{statistics.median(spent):.1f} us per processed response message "
                          f"(min {min(spent):.1f}, max {max(spent):.1f})")
        print("\nEnvoy's streams to its processor over the whole run:")
        for name in processed_by:
            stats = envoy_stats(envoy_admins[name])
            print(f"  {name}: " + ", ".join(
                f"{stat.rsplit('.', 1)[1]} {stats.get(stat, 0)}" for stat in ENVOY_STATS))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
