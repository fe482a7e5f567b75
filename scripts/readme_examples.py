#!/usr/bin/env python3
"""Checks the grpcurl and curl examples of README.md against a running errmap.

An example is a fenced block with info string `sh` holding one command line
that starts with `grpcurl` (the gRPC API) or `curl` (the HTTP/JSON face),
followed (after at most one blank line) by a
fenced block with the expected output:

- `json`: the call must succeed (exit 0) and its stdout, parsed as JSON, must
  equal the block parsed as JSON;
- `text`: stdout and stderr together must equal the block, ignoring trailing
  white space on each line and blank lines around the text. A block that
  starts with "ERROR:" expects grpcurl to fail (non-zero exit); any other
  text block expects it to succeed.

Commands are run with the shell after replacing `localhost:50051` and
`localhost:8080` with the addresses to test. Usage:

    scripts/readme_examples.py --addr 127.0.0.1:50151   # a running server
    scripts/readme_examples.py --binary target/release/errmap
    scripts/readme_examples.py --binary target/debug/errmap --update

With --binary the script starts the server itself on a free loopback port
(with the ERRMAP_* environment variables removed, so the defaults apply),
runs the examples, then sends SIGTERM and requires exit code 0 within 15 s.
With --update it rewrites the expected blocks of README.md with the actual
outputs (JSON as grpcurl prints it) instead of comparing.

Exit code 0 when every example passes, 1 otherwise (also when README.md has
no example at all), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README_ADDR = "localhost:50051"
README_HTTP_ADDR = "localhost:8080"
COMMAND_TIMEOUT = 60.0
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0

FENCE_OPEN = re.compile(r"^(`{3,})[ \t]*([^`\s]*)[^`]*$")


@dataclass
class Block:
    info: str
    body: list[str]
    open_line: int  # index of the opening fence line
    close_line: int  # index of the closing fence line
    fence: str


@dataclass
class Example:
    command: str
    expected: Block
    line: int  # 1-based line number of the command, for messages


class ReadmeError(Exception):
    pass


def parse_blocks(lines: list[str]) -> list[Block]:
    blocks = []
    i = 0
    while i < len(lines):
        m = FENCE_OPEN.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info = m.group(1), m.group(2)
        close = re.compile(r"^`{%d,}[ \t]*$" % len(fence))
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        if j == len(lines):
            raise ReadmeError(f"line {i + 1}: fenced block is never closed")
        blocks.append(Block(info, lines[i + 1 : j], i, j, fence))
        i = j + 1
    return blocks


def find_examples(lines: list[str]) -> list[Example]:
    blocks = parse_blocks(lines)
    examples = []
    for k, block in enumerate(blocks):
        if block.info != "sh":
            continue
        body = [line for line in block.body if line.strip()]
        if not body or not body[0].lstrip().startswith(("grpcurl ", "curl ")):
            continue
        where = f"README line {block.open_line + 2}"
        if len(body) != 1:
            raise ReadmeError(f"{where}: an example must be one command line")
        if body[0].rstrip().endswith("\\"):
            raise ReadmeError(f"{where}: line continuations are not supported")
        nxt = blocks[k + 1] if k + 1 < len(blocks) else None
        if (
            nxt is None
            or nxt.info not in ("json", "text")
            or any(lines[n].strip() for n in range(block.close_line + 1, nxt.open_line))
            or nxt.open_line - block.close_line > 2
        ):
            raise ReadmeError(
                f"{where}: the command must be followed by a json or text block"
                " (after at most one blank line)"
            )
        examples.append(Example(body[0].strip(), nxt, block.open_line + 2))
    return examples


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str


def run(command: str, addr: str) -> Outcome:
    """Runs a command; `addr` is "GRPC_ADDR HTTP_ADDR", the addresses that
    stand in for the README's localhost:50051 and localhost:8080."""
    grpc_addr, http_addr = addr.split(" ")
    cmd = command.replace(README_ADDR, grpc_addr).replace(README_HTTP_ADDR, http_addr)
    try:
        proc = subprocess.run(
            cmd,
            shell=True,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            timeout=COMMAND_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return Outcome(-1, "", f"timed out after {COMMAND_TIMEOUT:.0f} s\n")
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def normalize_text(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def pretty(value) -> list[str]:
    return json.dumps(value, indent=2, ensure_ascii=False).splitlines()


def diff(expected: list[str], actual: list[str]) -> str:
    return "\n".join(
        difflib.unified_diff(expected, actual, "expected", "actual", lineterm="")
    )


def check(example: Example, outcome: Outcome) -> str | None:
    """Returns None when the example passes, else why it fails."""
    block = example.expected
    if block.info == "json":
        try:
            want = json.loads("\n".join(block.body))
        except json.JSONDecodeError as err:
            return f"the README's json block is not JSON: {err}"
        if outcome.returncode != 0:
            got = normalize_text(outcome.stdout + outcome.stderr)
            return f"exit code {outcome.returncode}, expected 0\n" + "\n".join(got)
        try:
            got = json.loads(outcome.stdout)
        except json.JSONDecodeError as err:
            return f"stdout is not JSON ({err}):\n{outcome.stdout}{outcome.stderr}"
        if got != want:
            return diff(pretty(want), pretty(got))
        return None
    want_lines = normalize_text("\n".join(block.body))
    got_lines = normalize_text(outcome.stdout + outcome.stderr)
    problems = []
    expects_error = bool(want_lines) and want_lines[0] == "ERROR:"
    if expects_error and outcome.returncode == 0:
        problems.append("grpcurl succeeded, but the README shows an error")
    if not expects_error and outcome.returncode != 0:
        problems.append(f"exit code {outcome.returncode}, expected 0")
    if got_lines != want_lines:
        problems.append(diff(want_lines, got_lines))
    return "\n".join(problems) or None


def updated_block(example: Example, outcome: Outcome) -> list[str]:
    """The expected block rewritten with the actual outcome."""
    fence = example.expected.fence
    if outcome.returncode == 0:
        try:
            json.loads(outcome.stdout)
        except json.JSONDecodeError:
            pass
        else:
            # grpcurl's own rendering (2-space indent), kept as printed.
            return [f"{fence}json", *normalize_text(outcome.stdout), fence]
    return [f"{fence}text", *normalize_text(outcome.stdout + outcome.stderr), fence]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def show_log(log) -> None:
    log.flush()
    log.seek(0)
    text = log.read().decode("utf-8", "replace")
    if text.strip():
        print("--- server output ---", file=sys.stderr)
        print(text.rstrip(), file=sys.stderr)
        print("---", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Run README.md's grpcurl and curl examples against errmap and compare outputs."
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--addr",
        default=README_ADDR,
        metavar="HOST:PORT",
        help=f"address of a running errmap (default {README_ADDR})",
    )
    parser.add_argument(
        "--http-addr",
        default=README_HTTP_ADDR,
        metavar="HOST:PORT",
        help=f"with --addr, the running errmap's HTTP/JSON address (default {README_HTTP_ADDR})",
    )
    target.add_argument(
        "--binary",
        metavar="PATH",
        help="start this errmap binary on a free port, test it, then stop it with SIGTERM",
    )
    parser.add_argument(
        "--update",
        action="store_true",
        help="rewrite README.md's expected outputs with the actual ones",
    )
    parser.add_argument(
        "--readme",
        default=str(ROOT / "README.md"),
        metavar="PATH",
        help="the file to read (default: README.md at the repository root)",
    )
    args = parser.parse_args()

    readme = Path(args.readme)
    try:
        text = readme.read_text(encoding="utf-8")
        lines = text.splitlines()
        examples = find_examples(lines)
    except (OSError, ReadmeError) as err:
        print(f"FAIL {readme}: {err}")
        return 1
    if not examples:
        print(f"FAIL {readme}: no examples found")
        return 1
    if shutil.which("grpcurl") is None:
        print("FAIL grpcurl is not on PATH")
        return 1

    if not args.binary:
        addrs = f"{args.addr} {args.http_addr}"
        failed = run_examples(readme, text, lines, examples, addrs, args.update)
        return summary(len(examples), failed, args.update)

    binary = Path(args.binary)
    if not binary.is_file() or not os.access(binary, os.X_OK):
        print(f"FAIL {binary} is not an executable file")
        return 1
    port = free_port()
    http_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ERRMAP_")}
    env["NO_COLOR"] = "1"
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [
                str(binary),
                "--listen",
                f"127.0.0.1:{port}",
                # The other listeners on free ports, clear of anything else.
                "--admin-listen",
                "127.0.0.1:0",
                "--http-listen",
                f"127.0.0.1:{http_port}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            if not wait_for_port(port, proc, START_TIMEOUT):
                code = proc.poll()
                why = (
                    f"exited with code {code}"
                    if code is not None
                    else f"did not accept connections within {START_TIMEOUT:.0f} s"
                )
                print(f"FAIL {binary} --listen 127.0.0.1:{port} {why}")
                show_log(log)
                return 1
            print(f"started {binary} on 127.0.0.1:{port} (pid {proc.pid})")
            addrs = f"127.0.0.1:{port} 127.0.0.1:{http_port}"
            failed = run_examples(readme, text, lines, examples, addrs, args.update)
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                print(f"FAIL server did not exit within {STOP_TIMEOUT:.0f} s of SIGTERM")
                show_log(log)
                return 1
            if code != 0:
                print(f"FAIL server exited with code {code} after SIGTERM, expected 0")
                show_log(log)
                return 1
            print("ok   server exited with code 0 after SIGTERM")
            if failed:
                show_log(log)
            return summary(len(examples), failed, args.update)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def run_examples(
    readme: Path,
    text: str,
    lines: list[str],
    examples: list[Example],
    addr: str,
    update: bool,
) -> int:
    """Runs (or, with update, rewrites) the examples; returns how many failed."""
    failed = 0
    replacements = []
    for example in examples:
        outcome = run(example.command, addr)
        label = f"README:{example.line} {example.command}"
        if update:
            new = updated_block(example, outcome)
            old = lines[example.expected.open_line : example.expected.close_line + 1]
            replacements.append((example.expected, new))
            print(f"{'same' if new == old else 'new '} {label}")
            continue
        problem = check(example, outcome)
        if problem is None:
            print(f"ok   {label}")
        else:
            failed += 1
            print(f"FAIL {label}")
            for line in problem.splitlines():
                print(f"    {line}")
    if update:
        out = list(lines)
        for block, new in sorted(replacements, key=lambda r: -r[0].open_line):
            out[block.open_line : block.close_line + 1] = new
        newline = "\n" if text.endswith("\n") else ""
        readme.write_text("\n".join(out) + newline, encoding="utf-8")
        print(f"updated {readme} ({len(examples)} examples)")
    return failed


def summary(total: int, failed: int, update: bool) -> int:
    if not update:
        print(f"{total - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
