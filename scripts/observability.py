#!/usr/bin/env python3
"""Checks deploy/observability: the rules and the dashboard against a real errmap.

    scripts/observability.py --binary target/release/errmap

1. `promtool check rules` on the rule file;
2. `promtool test rules` on its unit tests;
3. starts the binary on loopback ports, makes a few calls over the HTTP/JSON
   face (one of them with an unknown code, so that every metric family
   shows), reads `/metrics`, and checks that every errmap metric the
   dashboard's queries and the rule file name is one errmap exports, or a
   recording rule of the file. A metric renamed in code fails here instead
   of leaving an empty panel. The README's metrics section is held to the
   same, and must name every metric family errmap exports.

The helpers that start errmap are shared with scripts/prometheus.py.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OBSERVABILITY = ROOT / "deploy" / "observability"
RULES = OBSERVABILITY / "errmap.rules.yml"
RULE_TESTS = OBSERVABILITY / "errmap.rules.test.yml"
DASHBOARD = OBSERVABILITY / "errmap-dashboard.json"
README = ROOT / "README.md"
# The README's section on metrics, dashboard and alerts.
README_SECTION = ("## Admin listener: probes and metrics", "## HTTP/JSON")

# A PromQL identifier that names an errmap metric or a recording rule over
# one (such as `job:errmap_unknown_codes:rate5m`).
METRIC_TOKEN = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
LISTENING = re.compile(r"(errmap|admin|http|ext_proc) listening on (\S+)")


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


class Errmap:
    """errmap started on loopback with every listener (the ext_proc one too,
    so that its metric families are exported) on a port of its own
    choosing, read back from its start-up log."""

    def __init__(self, binary: str, extra: list[str] | None = None, timeout: float = 15.0) -> None:
        self.proc = subprocess.Popen(
            [
                binary,
                "--listen", "127.0.0.1:0",
                "--admin-listen", "127.0.0.1:0",
                "--http-listen", "127.0.0.1:0",
                "--ext-proc-listen", "127.0.0.1:0",
                "--log", "info",
                *(extra or []),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.addresses: dict[str, str] = {}
        self.log: list[str] = []
        found = threading.Event()

        def read() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                self.log.append(line.rstrip("\n"))
                match = LISTENING.search(line)
                if match:
                    self.addresses[match.group(1)] = match.group(2)
                    if len(self.addresses) == 4:
                        found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(timeout):
            self.stop()
            fail(f"errmap did not report its four addresses within {timeout:.0f} s; log:\n"
                 + "\n".join(self.log[-20:]))

    @property
    def api(self) -> str:
        return self.addresses["errmap"]

    @property
    def admin(self) -> str:
        return self.addresses["admin"]

    @property
    def http(self) -> str:
        return self.addresses["http"]

    def post(self, path: str, body: dict) -> int:
        """POSTs JSON to the HTTP/JSON face; the HTTP status."""
        request = urllib.request.Request(
            f"http://{self.http}{path}",
            data=json.dumps(body).encode(),
            headers={"content-type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                answer.read()
                return answer.status
        except urllib.error.HTTPError as error:
            error.read()
            return error.code

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://{self.admin}/metrics", timeout=10) as answer:
            return answer.read().decode()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def exported_families(text: str) -> set[str]:
    """The metric families (`# TYPE` lines) of a /metrics page."""
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}


def readme_section() -> str:
    text = README.read_text(encoding="utf-8")
    begin, end = README_SECTION
    if begin not in text or end not in text.split(begin, 1)[1]:
        fail(f"README.md lacks the section between {begin!r} and {end!r}")
    return text.split(begin, 1)[1].split(end, 1)[0]


def exported_names(text: str) -> set[str]:
    """Every metric name in a /metrics page: families (`# TYPE`) and samples
    (`_bucket`, `_sum`, `_count`, `_total`)."""
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def recorded_names(rules_text: str) -> set[str]:
    return set(re.findall(r"^\s*-\s*record:\s*(\S+)", rules_text, flags=re.MULTILINE))


def dashboard_queries(dashboard: dict) -> list[str]:
    """The PromQL of every panel target and templating query."""
    queries = []

    def panels(items: list) -> None:
        for panel in items:
            for target in panel.get("targets", []):
                if target.get("expr"):
                    queries.append(target["expr"])
            panels(panel.get("panels", []))

    panels(dashboard.get("panels", []))
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if variable.get("type") == "query" and query:
            queries.append(query)
    return queries


def errmap_tokens(text: str) -> set[str]:
    return {t for t in METRIC_TOKEN.findall(text) if re.search(r"errmap_[a-z0-9]", t)}


def make_calls(errmap: Errmap) -> None:
    """One call that finds an entry and one with a code the catalog lacks."""
    ok = errmap.post("/v1/resolve/gateway", {"code": "APIGW_NONCE_CONFLICT"})
    unknown = errmap.post("/v1/resolve/gateway", {"code": "OBSERVABILITY_CHECK_UNKNOWN"})
    if (ok, unknown) != (200, 404):
        fail(f"expected HTTP 200 and 404 from the calls, got {ok} and {unknown}")


def check_names(binary: str) -> None:
    rules_text = RULES.read_text(encoding="utf-8")
    try:
        dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        fail(f"{DASHBOARD.relative_to(ROOT)} is not JSON: {error}")
    queries = dashboard_queries(dashboard)
    if not queries:
        fail("the dashboard has no queries")

    errmap = Errmap(binary)
    try:
        make_calls(errmap)
        page = errmap.metrics()
    finally:
        errmap.stop()
    exported = exported_names(page)
    recorded = recorded_names(rules_text)
    known = exported | recorded

    readme = readme_section()
    used = {
        "the dashboard": set().union(*(errmap_tokens(q) for q in queries)),
        "the rules": errmap_tokens(rules_text),
        "the README": errmap_tokens(readme),
    }
    undocumented = sorted(f for f in exported_families(page) if f not in used["the README"])
    if undocumented:
        fail("metric families errmap exports that the README's metrics section does not name: "
             + ", ".join(undocumented))
    missing = []
    for where, names in used.items():
        for name in sorted(names - known):
            missing.append(f"{where} uses {name}, which errmap does not export")
        print(f"{where}: {len(names)} errmap metric names, all exported or recorded"
              if not names - known else f"{where}: {len(names - known)} unknown name(s)")
    if missing:
        print("exported: " + ", ".join(sorted(n for n in exported if n.startswith("errmap_"))),
              file=sys.stderr)
        fail("\n  ".join(["metric names not exported by errmap:"] + missing))


def promtool(*args: str) -> None:
    print(f"$ promtool {' '.join(args)}", flush=True)
    result = subprocess.run(["promtool", *args], cwd=OBSERVABILITY)
    if result.returncode != 0:
        fail(f"promtool {args[0]} {args[1]} failed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", default="target/release/errmap")
    args = parser.parse_args()
    promtool("check", "rules", RULES.name)
    promtool("test", "rules", RULE_TESTS.name)
    check_names(args.binary)
    print("observability: rules valid, rule tests pass, every metric name is errmap's")


if __name__ == "__main__":
    main()
