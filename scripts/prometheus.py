#!/usr/bin/env python3
"""A real Prometheus scraping a real errmap, with errmap's rules loaded.

    scripts/prometheus.py --binary target/release/errmap

Starts errmap on loopback ports, and Prometheus on a loopback port with a
one-second scrape and rule interval, scraping errmap's admin listener as
`job="errmap"` and loading deploy/observability/errmap.rules.yml. Makes a
known number of calls (gRPC with grpcurl, from the .proto files so that no
reflection call is counted, and HTTP/JSON), then asks Prometheus' HTTP API
and checks:

- `errmap_calls_total` of each RPC, protocol and code equals the calls made;
- every rule of the file is loaded and evaluates without error, and the
  recording rules answer: one pod on the catalog version errmap logged,
  call and unknown-code rates above zero;
- every query of the dashboard (with its variables filled in) returns
  series;
- the catalog reloads: errmap serves a --catalog file; a valid new file
  is counted as `errmap_catalog_reloads_total{result="ok"}` and its version
  shows in the recording rule, and a file that fails to load is counted as
  `result="error"` and fires the ErrmapCatalogReloadFailed alert;
- once errmap stops, ErrmapDown is pending.

Bounded in time (--timeout); both processes are stopped and the temporary
directory removed whatever happens.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from observability import (  # noqa: E402
    DASHBOARD,
    RULES,
    ROOT,
    Errmap,
    dashboard_queries,
    fail,
)

API = "errmap.v1.ErrorMapService"

# A catalog file laid over the embedded catalog: one code of its own. The
# second version changes its retry delay; the third is refused (status 700).
CATALOG = """entries {{
  code: "PROMETHEUS_CHECK_LOCKED"
  http_status: {status}
  table: TABLE_COMMON
  grpc_code: ABORTED
  message: "已锁定"
  solution: "请稍后重试"
  message_en: "Locked"
  solution_en: "Try again later."
  retry_delay {{ seconds: {delay} }}
}}
"""
UNKNOWN_CODE = "PROMETHEUS_CHECK_UNKNOWN"

# (protocol, method, code) -> calls made.
PLAN = {
    ("grpc", "ResolveGatewayError", "OK"): 5,
    ("grpc", "ResolveGatewayError", "NOT_FOUND"): 2,
    ("grpc", "ResolveGrpcStatus", "OK"): 3,
    ("http", "ResolveGatewayError", "OK"): 4,
    ("http", "ResolveGatewayError", "NOT_FOUND"): 1,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    def __init__(self, workdir: Path, target: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        config = workdir / "prometheus.yml"
        # JSON is YAML: no YAML library needed.
        config.write_text(json.dumps({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            "scrape_configs": [{
                "job_name": "errmap",
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [target]}],
            }],
        }))
        self.log = open(workdir / "prometheus.log", "w+")
        self.proc = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def logs(self) -> str:
        self.log.seek(0)
        return self.log.read()[-4000:]

    def get(self, path: str, **params: str) -> dict:
        url = f"{self.base}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as answer:
            body = json.load(answer)
        if body.get("status") != "success":
            fail(f"Prometheus answered {path} with {body}")
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        data = self.get("/api/v1/query", query=expr)
        if data["resultType"] != "vector":
            fail(f"{expr}: expected a vector, got {data['resultType']}")
        return data["result"]

    def wait_ready(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                fail(f"prometheus exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                with urllib.request.urlopen(f"{self.base}/-/ready", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.2)
        fail(f"prometheus was not ready in time:\n{self.logs()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def grpc_call(errmap: Errmap, method: str, body: dict, ok: bool) -> None:
    result = subprocess.run(
        [
            "grpcurl", "-plaintext",
            "-import-path", str(ROOT / "proto"),
            "-proto", "errmap/v1/error_map_service.proto",
            "-d", json.dumps(body),
            errmap.api, f"{API}/{method}",
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    if ok != (result.returncode == 0):
        fail(f"grpcurl {method} {body}: exit {result.returncode}\n{result.stdout}{result.stderr}")


def call(errmap: Errmap, key: tuple[str, str, str]) -> None:
    """One call of the plan's kind `key`."""
    protocol, method, code = key
    if protocol == "grpc":
        body = {"ResolveGatewayError": {"code": "APIGW_NONCE_CONFLICT"},
                "ResolveGrpcStatus": {"code": "RESOURCE_EXHAUSTED"}}[method]
        if code == "NOT_FOUND":
            body = {"code": UNKNOWN_CODE}
        grpc_call(errmap, method, body, ok=code == "OK")
        return
    body, expected = ({"httpStatus": 429}, 200) if code == "OK" else ({"code": UNKNOWN_CODE}, 404)
    status = errmap.post("/v1/resolve/gateway", body)
    if status != expected:
        fail(f"POST /v1/resolve/gateway {body} answered {status}, expected {expected}")


def make_calls(errmap: Errmap, prometheus: Prometheus, deadline: float) -> None:
    """The plan's calls, in two rounds: one of each kind, then, once
    Prometheus has scraped the series that round created, the rest. A
    series' first sample holds whatever it counted before, which rate()
    cannot see; the second round is what the rates show."""
    for key in PLAN:
        call(errmap, key)
    first = {key: 1.0 for key in PLAN}
    wait_for("the first round of calls to be scraped",
             lambda: calls_seen(prometheus) == first, deadline)
    for key, count in PLAN.items():
        for _ in range(count - 1):
            call(errmap, key)


def replace_file(path: Path, text: str) -> None:
    """Writes `text` beside `path` and renames it into place, as a
    ConfigMap update does: errmap never reads a half-written file."""
    temporary = path.with_name(path.name + ".new")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def check_reloads(prometheus: Prometheus, catalog: Path, deadline: float) -> None:
    """A valid new catalog, then a refused one, as Prometheus sees them."""
    reloads = 'errmap_catalog_reloads_total{{job="errmap", result="{}"}}'
    versions_before = {s["metric"]["version"]
                       for s in prometheus.query('errmap_catalog_info{job="errmap"}')}
    if len(versions_before) != 1 or scalar(prometheus, reloads.format("ok")) != 0:
        fail("before any reload: expected one catalog version and no reload")

    replace_file(catalog, CATALOG.format(status=409, delay=7))
    wait_for("errmap_catalog_reloads_total{result=\"ok\"} to reach 1",
             lambda: scalar(prometheus, reloads.format("ok")) == 1, deadline)

    def new_version() -> str | None:
        found = prometheus.query('job_version:errmap_catalog_info:count{job="errmap"}')
        versions = {s["metric"]["version"] for s in found}
        return versions.pop() if len(versions) == 1 and not versions & versions_before else None

    version = wait_for("the recording rule to show the new catalog version", new_version, deadline)
    print(f"a valid new catalog file: reloads ok = 1, the recording rule shows {version}")

    replace_file(catalog, CATALOG.format(status=700, delay=7))
    wait_for("errmap_catalog_reloads_total{result=\"error\"} to reach 1",
             lambda: scalar(prometheus, reloads.format("error")) == 1, deadline)

    def firing() -> list[dict]:
        alerts = prometheus.get("/api/v1/alerts")["alerts"]
        return [a for a in alerts
                if a["labels"].get("alertname") == "ErrmapCatalogReloadFailed"
                and a["state"] == "firing"]

    alert = wait_for("the ErrmapCatalogReloadFailed alert to fire", firing, deadline)[0]
    still = {s["metric"]["version"] for s in prometheus.query('errmap_catalog_info{job="errmap"}')}
    if still != {version}:
        fail(f"after a refused file errmap serves {still}, expected the last good {version}")
    print(f"a refused catalog file: reloads error = 1, {alert['labels']['alertname']} firing "
          f"({alert['annotations']['summary']}), {version} still in service")


def calls_seen(prometheus: Prometheus) -> dict:
    seen = {}
    for sample in prometheus.query(f'errmap_calls_total{{job="errmap", service="{API}"}}'):
        labels = sample["metric"]
        key = (labels["protocol"], labels["method"], labels["code"])
        seen[key] = float(sample["value"][1])
    return seen


def scalar(prometheus: Prometheus, expr: str) -> float | None:
    result = prometheus.query(expr)
    if len(result) != 1:
        return None
    return float(result[0]["value"][1])


def positive(value: float | None) -> float | None:
    return value if value is not None and value > 0 else None


def wait_for(what: str, check, deadline: float):
    """Polls `check` until it returns something true; the last value."""
    value = None
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    fail(f"timed out waiting for {what}; last seen: {value!r}")


def dashboard_exprs() -> list[str]:
    """The dashboard's queries as Grafana would send them for job errmap;
    `label_values(METRIC, LABEL)` becomes `METRIC`."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = []
    for query in dashboard_queries(dashboard):
        query = (query.replace("$__rate_interval", "30s")
                 .replace('"$job"', '"errmap"')
                 .replace('"$instance"', '".*"'))
        if query.startswith("label_values("):
            query = query[len("label_values("):].rsplit(",", 1)[0]
        exprs.append(query)
    return exprs


def check(binary: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    workdir = Path(tempfile.mkdtemp(prefix="errmap-prometheus-"))
    errmap = prometheus = None
    try:
        catalog = workdir / "catalog.textproto"
        catalog.write_text(CATALOG.format(status=409, delay=2), encoding="utf-8")
        errmap = Errmap(binary, ["--catalog", str(catalog), "--catalog-poll", "1s"])
        version = next((line.split('version="', 1)[1].split('"', 1)[0]
                        for line in errmap.log if 'version="' in line), None)
        if not version:
            fail("errmap's start-up log names no catalog version")
        prometheus = Prometheus(workdir, errmap.admin)
        prometheus.wait_ready(deadline)
        print(f"errmap admin on {errmap.admin}, prometheus on {prometheus.base}")

        # The first scrape, before any call: the counts start from it.
        wait_for("the first scrape of errmap",
                 lambda: scalar(prometheus, 'up{job="errmap"}') == 1, deadline)
        make_calls(errmap, prometheus, deadline)
        total = sum(PLAN.values())
        print(f"made {total} calls: "
              + ", ".join(f"{p} {m} {c} x{n}" for (p, m, c), n in PLAN.items()))

        expected = {key: float(n) for key, n in PLAN.items()}
        seen: dict = {}
        while time.monotonic() < deadline:
            seen = calls_seen(prometheus)
            if seen == expected:
                break
            time.sleep(0.5)
        else:
            fail(f"errmap_calls_total in Prometheus: {seen}, calls made: {expected}")
        summed = scalar(prometheus, f'sum(errmap_calls_total{{job="errmap", service="{API}"}})')
        if summed != total:
            fail(f"sum(errmap_calls_total) is {summed}, expected {total}")
        print(f"errmap_calls_total: {len(seen)} series, {summed:.0f} calls, as made")

        unknown = scalar(prometheus, 'errmap_unknown_codes_total{job="errmap"}')
        top = scalar(prometheus, f'errmap_unknown_code_top{{job="errmap", code="{UNKNOWN_CODE}"}}')
        unknown_calls = sum(n for (_, _, code), n in PLAN.items() if code == "NOT_FOUND")
        if unknown != unknown_calls or top != unknown_calls:
            fail(f"unknown codes: total {unknown}, top {top}, expected {unknown_calls}")
        print(f"errmap_unknown_codes_total and errmap_unknown_code_top: {unknown_calls}, as sent")

        # Every rule loaded and evaluated without error.
        def evaluated() -> list[dict] | None:
            rules = [r for g in prometheus.get("/api/v1/rules")["groups"] for r in g["rules"]]
            # An unevaluated rule's lastEvaluation is the zero time, year 1.
            done = all(not r.get("lastEvaluation", "0001").startswith("0001") for r in rules)
            return rules if rules and done else None

        rules = wait_for("every rule to be evaluated", evaluated, deadline)
        bad = [f"{r['name']}: {r.get('health')} {r.get('lastError', '')}"
               for r in rules if r.get("health") != "ok"]
        if bad:
            fail("rules failing in Prometheus:\n  " + "\n  ".join(bad))
        file_rules = RULES.read_text(encoding="utf-8").count("- record:") + \
            RULES.read_text(encoding="utf-8").count("- alert:")
        if len(rules) != file_rules:
            fail(f"Prometheus loaded {len(rules)} rules, the file has {file_rules}")
        print(f"{len(rules)} rules loaded, every one healthy")

        pods = wait_for(
            "the recording rule job_version:errmap_catalog_info:count",
            lambda: scalar(prometheus,
                           f'job_version:errmap_catalog_info:count{{job="errmap", version="{version}"}}'),
            deadline,
        )
        if pods != 1:
            fail(f"job_version:errmap_catalog_info:count is {pods}, expected 1")
        rate = wait_for(
            "the recording rule job_service_method_code:errmap_calls:rate5m",
            lambda: positive(scalar(prometheus, 'job_service_method_code:errmap_calls:rate5m'
                                    '{job="errmap", method="ResolveGatewayError", code="OK"}')),
            deadline,
        )
        unknown_rate = wait_for(
            "the recording rule job:errmap_unknown_codes:rate5m",
            lambda: positive(scalar(prometheus, 'job:errmap_unknown_codes:rate5m{job="errmap"}')),
            deadline,
        )
        print(f"recording rules: 1 pod on {version}, {rate:.3f} ResolveGatewayError OK calls/s, "
              f"{unknown_rate:.4f} unknown codes/s")

        # A rate needs two samples of a series: a series born in the last
        # scrape shows in the next one.
        exprs = dashboard_exprs()
        empty = exprs
        while empty and time.monotonic() < deadline:
            empty = [expr for expr in exprs if not prometheus.query(expr)]
            if empty:
                time.sleep(0.5)
        if empty:
            fail("dashboard queries with no series:\n  " + "\n  ".join(empty))
        print(f"every one of the dashboard's {len(exprs)} queries returns series")

        check_reloads(prometheus, catalog, deadline)

        # errmap stops: its target goes down and ErrmapDown starts pending
        # (it fires after 5 minutes).
        errmap.stop()

        def down_pending() -> list[dict]:
            return [a for a in prometheus.get("/api/v1/alerts")["alerts"]
                    if a["labels"].get("alertname") == "ErrmapDown" and a["state"] == "pending"]

        wait_for("ErrmapDown to be pending once errmap stopped", down_pending, deadline)
        print("errmap stopped: up = 0, ErrmapDown pending")
    finally:
        if prometheus:
            prometheus.stop()
        if errmap:
            errmap.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", default="target/release/errmap")
    parser.add_argument("--timeout", type=float, default=90,
                        help="seconds the whole check may take (default 90)")
    args = parser.parse_args()
    for tool in ("prometheus", "grpcurl"):
        if not shutil.which(tool):
            fail(f"{tool} is not on PATH")
    check(args.binary, args.timeout)
    print("prometheus: a real Prometheus scraped errmap, evaluated its rules and "
          "answered every dashboard query")


if __name__ == "__main__":
    main()
