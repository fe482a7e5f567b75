"""Fixtures: a real errmap, the library's client, and a tiny grpcio server.

errmap is the one named by ERRMAP_ADDR (HOST:PORT, with its health service
at ERRMAP_HEALTH_ADDR, else at the same address), or else started here from
ERRMAP_BINARY (default: target/release/errmap, then errmap on PATH) on free
loopback ports. The fallback tests always start their own, from the binary,
to stop it mid-run. Without a binary these tests skip, except under
CI=true, where they fail.
"""

import os
import pathlib
import re
import shutil
import signal
import subprocess
import tempfile
import time
from concurrent import futures

import grpc
import pytest

import errmap

ROOT = pathlib.Path(__file__).resolve().parents[3]
IN_CI = os.environ.get("CI") == "true"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
#: Deadline of the tests' own client: generous, since these tests check
#: answers, not speed, on a machine that may be busy.
TEST_TIMEOUT = 10.0
LISTENING = re.compile(r"errmap listening on (\S+)")
ADMIN_LISTENING = re.compile(r"admin listening on (\S+)")


def errmap_binary():
    """The errmap binary to start, or skip (fail under CI) when there is none."""
    for candidate in (os.environ.get("ERRMAP_BINARY"), ROOT / "target" / "release" / "errmap", shutil.which("errmap")):
        if candidate and os.access(candidate, os.X_OK) and pathlib.Path(candidate).is_file():
            return str(candidate)
    message = "no errmap binary: set ERRMAP_BINARY"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


class Errmap:
    """An errmap process on free loopback ports."""

    def __init__(self, binary):
        self.log = tempfile.NamedTemporaryFile(prefix="errmap-", suffix=".log", delete=False)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ERRMAP_")}
        args = [binary, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--http-listen", "off", "--shutdown-grace", "1s"]
        self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.addr = self.health_addr = None
        deadline = time.monotonic() + START_TIMEOUT
        while self.addr is None or self.health_addr is None:
            text = pathlib.Path(self.log.name).read_text(errors="replace")
            found, admin = LISTENING.search(text), ADMIN_LISTENING.search(text)
            self.addr = found and found.group(1)
            self.health_addr = admin and admin.group(1)
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"errmap did not start:\n{text}")
            time.sleep(0.02)

    def stop(self):
        """SIGTERM, and the exit code (it must be 0)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self.log.closed:
            self.log.close()
            os.unlink(self.log.name)
        return self.process.returncode


@pytest.fixture(scope="session")
def server():
    """(API address, health address) of the errmap the tests use."""
    addr = os.environ.get("ERRMAP_ADDR")
    if addr:
        yield addr, os.environ.get("ERRMAP_HEALTH_ADDR") or addr
        return
    own = Errmap(errmap_binary())
    yield own.addr, own.health_addr
    assert own.stop() == 0


@pytest.fixture(scope="session")
def addr(server):
    return server[0]


@pytest.fixture(scope="session")
def client(addr):
    with errmap.Client(addr, timeout=TEST_TIMEOUT) as c:
        yield c


@pytest.fixture
def own_errmap():
    """An errmap of this test's own, which it may stop."""
    own = Errmap(errmap_binary())
    yield own
    own.stop()


class FailServer:
    """A tiny grpcio server whose one method fails with the status it is told to.

    call(status) registers the status, calls demo.Orders/Place over a real
    socket and returns the grpc.RpcError the caller receives (None if the
    call succeeded).
    """

    def __init__(self):
        self._statuses = {}
        handler = grpc.unary_unary_rpc_method_handler(self._place)
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        self._server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("demo.Orders", {"Place": handler})])
        port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()
        self._channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self._place_call = self._channel.unary_unary("/demo.Orders/Place")

    def _place(self, request, context):
        status = self._statuses.get(request)
        if status is not None:
            context.abort_with_status(status)
        return b"placed"

    def call(self, status):
        key = str(len(self._statuses)).encode()
        self._statuses[key] = status
        try:
            self._place_call(key, timeout=TEST_TIMEOUT)
        except grpc.RpcError as err:
            return err
        return None

    def close(self):
        self._channel.close()
        self._server.stop(None)


@pytest.fixture(scope="session")
def fail_server():
    s = FailServer()
    yield s
    s.close()
