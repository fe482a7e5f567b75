"""The fallback mark, read from the raw grpc-status-details-bin bytes: an
ErrorInfo with an empty reason, the client's domain, and metadata
{"errmapFallback": "true", "httpStatus": "N"}, the same in the Go, Java,
Python and Node clients."""

import socket

import grpc
from google.rpc import error_details_pb2, status_pb2

import errmap

ERROR_INFO_URL = "type.googleapis.com/google.rpc.ErrorInfo"


def decode_mark(details_bin):
    """(code, message, [(type_url, ErrorInfo)]) decoded from the raw bytes."""
    assert isinstance(details_bin, bytes) and details_bin
    status = status_pb2.Status.FromString(details_bin)
    infos = []
    for any_ in status.details:
        info = error_details_pb2.ErrorInfo.FromString(any_.value)
        infos.append((any_.type_url, info))
    return status.code, status.message, infos


def refused_target():
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def test_the_mark_on_the_wire(fail_server):
    with errmap.Client(refused_target(), timeout=10, domain="orders.example.com") as client:
        status = client.gateway_to_grpc(429, code="QUOTA_EXCEEDED")
    sent = dict(status.trailing_metadata)[errmap.STATUS_DETAILS_KEY]
    err = fail_server.call(status)
    received = dict(err.trailing_metadata())[errmap.STATUS_DETAILS_KEY]
    assert received == sent
    for raw in (sent, received):
        code, message, infos = decode_mark(raw)
        assert (code, message) == (grpc.StatusCode.RESOURCE_EXHAUSTED.value[0], "HTTP status 429")
        assert len(infos) == 1
        url, info = infos[0]
        assert url == ERROR_INFO_URL
        assert info.reason == ""
        assert info.domain == "orders.example.com"
        assert dict(info.metadata) == {"errmapFallback": "true", "httpStatus": "429"}
    assert errmap.is_fallback(status) and errmap.is_fallback(err)
    assert errmap.FALLBACK_METADATA_KEY == "errmapFallback"


def test_is_fallback_needs_the_whole_mark(client):
    def status_with(info):
        st = status_pb2.Status(code=grpc.StatusCode.INTERNAL.value[0], message="x")
        st.details.add().Pack(info)
        return st

    mark = {"errmapFallback": "true", "httpStatus": "500"}
    assert errmap.is_fallback(status_with(error_details_pb2.ErrorInfo(domain="d", metadata=mark)))
    # An empty reason alone, the key alone, or a key not "true" is no mark.
    assert not errmap.is_fallback(status_with(error_details_pb2.ErrorInfo(domain="d", metadata={"httpStatus": "500"})))
    assert not errmap.is_fallback(status_with(error_details_pb2.ErrorInfo(reason="INTERNAL", domain="d", metadata=mark)))
    assert not errmap.is_fallback(status_with(error_details_pb2.ErrorInfo(domain="d", metadata={"errmapFallback": "1"})))
    # errmap's own answers never carry it.
    for http_status, code in ((500, "INTERNAL"), (418, None), (403, "APIGW_NONCE_CONFLICT")):
        status = client.gateway_to_grpc(http_status, code=code)
        _, _, infos = decode_mark(dict(status.trailing_metadata)[errmap.STATUS_DETAILS_KEY])
        assert all(info.metadata.get("errmapFallback") is None for _, info in infos)
        assert not errmap.is_fallback(status)
