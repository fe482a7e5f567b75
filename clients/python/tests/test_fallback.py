"""errmap down, slow or confused: both integration points answer from the
built-in tables, marked as fallbacks, without hanging or raising."""

import json
import socket
import threading
import time
from concurrent import futures

import grpc
import pytest
from google.rpc import error_details_pb2

import errmap

#: Far more than the default deadline, far less than "hangs": a call that
#: returns within it did not wait for errmap.
NO_HANG = 2.0


def fallback_info(status):
    info = error_details_pb2.ErrorInfo()
    from google.rpc import status_pb2

    decoded = status_pb2.Status.FromString(dict(status.trailing_metadata)[errmap.STATUS_DETAILS_KEY])
    assert any(d.Unpack(info) for d in decoded.details)
    return info


def test_stopping_errmap_mid_run(own_errmap, fail_server):
    with errmap.Client(own_errmap.addr, timeout=10) as client:
        status = client.gateway_to_grpc(403, code="APIGW_NONCE_CONFLICT")
        assert not errmap.is_fallback(status)
        assert client.grpc_to_gateway(status).code == "APIGW_NONCE_CONFLICT"
        assert client.fallbacks == 0

        assert own_errmap.stop() == 0

        start = time.monotonic()
        status = client.gateway_to_grpc(403, code="APIGW_NONCE_CONFLICT")
        assert time.monotonic() - start < NO_HANG
        assert status.code == grpc.StatusCode.PERMISSION_DENIED
        assert status.details == "HTTP status 403"
        assert errmap.is_fallback(status)
        info = fallback_info(status)
        assert (info.reason, info.domain, dict(info.metadata)) == ("", errmap.DEFAULT_DOMAIN, {"errmapFallback": "true", "httpStatus": "403"})
        assert client.fallbacks == 1

        # The mark travels: the caller of a service that raised it sees it.
        err = fail_server.call(status)
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED
        assert errmap.is_fallback(err)

        start = time.monotonic()
        gw = client.grpc_to_gateway(err, request_id="req-9")
        assert time.monotonic() - start < NO_HANG
        assert (gw.http_status, gw.code, gw.fallback, gw.message) == (403, "", True, "HTTP status 403")
        assert errmap.is_fallback(gw)
        assert json.loads(gw.body) == {"requestId": "req-9", "error": {"code": 403, "status": "PERMISSION_DENIED", "message": "HTTP status 403"}}
        assert client.fallbacks == 2

        # Success stays "no error"; every status and code has an answer.
        assert client.gateway_to_grpc(200) is None
        assert client.gateway_to_grpc(502, body=b'{"error": {}}').code == grpc.StatusCode.UNAVAILABLE
        assert client.grpc_to_gateway(grpc.StatusCode.DEADLINE_EXCEEDED).http_status == 504
        assert client.grpc_to_gateway(None).http_status == 200
        assert client.fallbacks == 6


def test_calls_in_flight_while_errmap_stops(own_errmap):
    """Four threads call without pause while errmap is stopped: every call
    returns the right code, none raises or hangs, the ones that start after
    errmap exited are fallbacks, and the counter counts every fallback."""
    results = []  # (seconds, status, started after errmap exited)
    exited = threading.Event()
    done = threading.Event()
    errors = []

    def call_in_a_loop(client):
        try:
            while not done.is_set():
                after_exit = exited.is_set()
                start = time.monotonic()
                status = client.gateway_to_grpc(403, code="APIGW_NONCE_CONFLICT")
                results.append((time.monotonic() - start, status, after_exit))
        except Exception as err:  # noqa: BLE001 - the test is that nothing is raised
            errors.append(err)

    with errmap.Client(own_errmap.addr, timeout=1.0) as client:
        threads = [threading.Thread(target=call_in_a_loop, args=(client,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        try:
            while len(results) < 100 and not errors:
                time.sleep(0.01)
            assert own_errmap.stop() == 0
            exited.set()
            count = len(results)
            while len(results) < count + 100 and not errors:
                time.sleep(0.01)
        finally:
            done.set()
            for thread in threads:
                thread.join()
        assert errors == []
        assert all(status.code == grpc.StatusCode.PERMISSION_DENIED for _, status, _ in results)
        assert all(errmap.is_fallback(status) for _, status, after_exit in results if after_exit)
        assert any(not errmap.is_fallback(status) for _, status, _ in results)
        assert sum(errmap.is_fallback(status) for _, status, _ in results) == client.fallbacks
        assert max(seconds for seconds, _, _ in results) < NO_HANG


def test_fallback_within_the_default_deadline_when_errmap_is_slow():
    """An errmap that answers after 5 s: calls with the default 50 ms deadline
    return the fallback long before that."""
    release = threading.Event()

    def slow(request, context):
        release.wait(5)
        context.abort(grpc.StatusCode.INTERNAL, "too late")

    handlers = {m: grpc.unary_unary_rpc_method_handler(slow) for m in ("ResolveGatewayError", "ResolveGrpcStatus")}
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("errmap.v1.ErrorMapService", handlers)])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with errmap.Client(f"127.0.0.1:{port}") as client:
            assert client.timeout == errmap.DEFAULT_TIMEOUT == 0.05
            start = time.monotonic()
            status = client.gateway_to_grpc(503, code="UNAVAILABLE")
            gw = client.grpc_to_gateway(grpc.StatusCode.RESOURCE_EXHAUSTED)
            assert time.monotonic() - start < NO_HANG
            assert status.code == grpc.StatusCode.UNAVAILABLE and errmap.is_fallback(status)
            assert (gw.http_status, gw.code, gw.fallback) == (429, "", True)
            assert client.fallbacks == 2
    finally:
        release.set()
        server.stop(None)


def test_fallback_when_errmap_answers_with_an_error():
    """A server without errmap's service (UNIMPLEMENTED), and nothing at all
    listening (UNAVAILABLE), both give the fallback."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with socket.socket() as sock:  # a port nothing listens on: refused
        sock.bind(("127.0.0.1", 0))
        free_port = sock.getsockname()[1]
    try:
        for target in (f"127.0.0.1:{port}", f"127.0.0.1:{free_port}"):
            with errmap.Client(target, timeout=10) as client:
                status = client.gateway_to_grpc(401, code="APIGW_KEY_DISABLED")
                assert status.code == grpc.StatusCode.UNAUTHENTICATED and errmap.is_fallback(status), target
                gw = client.grpc_to_gateway(status)
                assert (gw.http_status, gw.fallback) == (401, True), target
                assert client.fallbacks == 2
    finally:
        server.stop(None)


def test_an_oversized_gateway_body_falls_back(client):
    """errmap refuses a body over 64 KiB: the gateway's data, not the
    caller's mistake, so the answer comes from the status alone."""
    before = client.fallbacks
    status = client.gateway_to_grpc(403, body=b"x" * (65 * 1024))
    assert status.code == grpc.StatusCode.PERMISSION_DENIED and errmap.is_fallback(status)
    assert client.fallbacks == before + 1


def test_client_options():
    with pytest.raises(ValueError):
        errmap.Client(timeout=0)
    channel = grpc.insecure_channel("127.0.0.1:1")
    with errmap.Client(channel=channel) as client:
        assert errmap.is_fallback(client.gateway_to_grpc(500))
    # A channel passed in stays open for its owner.
    with pytest.raises(grpc.RpcError):
        channel.unary_unary("/x/y")(b"", timeout=5)
    channel.close()


def test_a_closed_client_still_answers(addr, caplog):
    client = errmap.Client(addr, timeout=10)
    client.close()
    with caplog.at_level("WARNING", logger="errmap"):
        status = client.gateway_to_grpc(404, code="NOT_FOUND")
        gw = client.grpc_to_gateway(status)
    assert status.code == grpc.StatusCode.NOT_FOUND and errmap.is_fallback(status)
    assert (gw.http_status, gw.fallback) == (404, True)
    assert client.fallbacks == 2
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == ["errmap ResolveGatewayError failed", "errmap ResolveGrpcStatus failed"]
