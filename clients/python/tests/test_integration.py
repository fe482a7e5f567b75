"""The two integration points against a real errmap, and the tables the fallback uses."""

import json

import grpc
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

import errmap
from errmap import pb


def details_of(status_or_error, message_type):
    """The first detail of the given type in an error's grpc-status-details-bin."""
    if isinstance(status_or_error, grpc.RpcError):
        status = rpc_status.from_call(status_or_error)
    else:
        status = status_pb2.Status.FromString(dict(status_or_error.trailing_metadata)[errmap.STATUS_DETAILS_KEY])
    found = message_type()
    for detail in status.details:
        if detail.Unpack(found):
            return found
    raise AssertionError(f"no {message_type.DESCRIPTOR.name} in {status}")


def gateway_sent_body(entry, request_id="gw-req-1"):
    """An error body as the gateway sends it."""
    return errmap.gateway_body(request_id, entry.http_status, entry.code, entry.message)


def test_round_trip_of_every_catalog_entry(client, fail_server):
    """gateway -> gRPC status -> a grpcio server aborts with it -> its caller
    decodes it -> gRPC -> gateway: the same entry, for all 82."""
    entries = list(client.list_errors())
    assert len(entries) == 82
    successes = 0
    for entry in entries:
        want = (entry.code, entry.http_status)
        for how in ({"code": entry.code}, {"body": gateway_sent_body(entry)}):
            status = client.gateway_to_grpc(entry.http_status, **how)
            if entry.grpc_code == code_pb2.OK:
                # Success is no error at all; and "no error" maps back to it.
                assert status is None, want
                gw = client.grpc_to_gateway(None)
                assert (gw.code, gw.http_status, gw.fallback) == (*want, False)
                successes += 1
                continue
            assert status.code.value[0] == entry.grpc_code, want
            assert not errmap.is_fallback(status), want

            err = fail_server.call(status)
            assert err is not None and err.code() == status.code, want
            assert err.details() == status.details, want
            info = details_of(err, error_details_pb2.ErrorInfo)
            assert info.reason == entry.code, want
            assert info.metadata["httpStatus"] == str(entry.http_status), want
            assert not errmap.is_fallback(err), want

            gw = client.grpc_to_gateway(err)
            assert (gw.code, gw.http_status, gw.fallback) == (*want, False), how
            assert gw.grpc_code == status.code
            body = json.loads(gw.body)
            assert (body["error"]["status"], body["error"]["code"]) == want
            assert gw.message == body["error"]["message"] == entry.message
    assert successes == 2  # APIGATEWAY_SUCCESS, by code and by body


def test_gateway_to_grpc_details_and_request_id(client):
    status = client.gateway_to_grpc(429, code="RATE_LIMIT_EXCEEDED", request_id="req-7")
    assert status.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    retry = details_of(status, error_details_pb2.RetryInfo)
    assert retry.retry_delay.seconds == 1
    gw = client.grpc_to_gateway(status, request_id="req-7")
    assert json.loads(gw.body)["requestId"] == "req-7"
    assert gw.code == "RATE_LIMIT_EXCEEDED"


def test_unknown_gateway_code_answers_by_status(client):
    before = client.fallbacks
    status = client.gateway_to_grpc(404, code="NO_SUCH_CODE")
    assert status.code == grpc.StatusCode.NOT_FOUND
    assert not errmap.is_fallback(status)
    assert client.fallbacks == before


def test_params_fill_the_message(client):
    status = client.gateway_to_grpc(400, code="ARGUMENT_NOT_FOUND", params={"argument": "vpcId"}, locale="en-US")
    assert "vpcId" in details_of(status, error_details_pb2.LocalizedMessage).message
    gw = client.grpc_to_gateway(status, params={"argument": "vpcId"})
    assert gw.code == "ARGUMENT_NOT_FOUND"
    assert "vpcId" in gw.message


def test_grpc_to_gateway_takes_every_error_shape(client):
    by_code = client.grpc_to_gateway(grpc.StatusCode.UNAVAILABLE)
    assert (by_code.code, by_code.http_status) == ("UNAVAILABLE", 503)
    proto = status_pb2.Status(code=code_pb2.NOT_FOUND, message="no such order")
    by_proto = client.grpc_to_gateway(proto)
    assert (by_proto.code, by_proto.http_status) == ("NOT_FOUND", 404)
    # A plain status with a reason-less message keeps the default entry.
    plain = client.grpc_to_gateway(errmap.fallback_status(409))
    assert (plain.code, plain.http_status) == ("ABORTED", 409)
    crash = client.grpc_to_gateway(KeyError("order-1"))
    assert (crash.code, crash.http_status, crash.message) == ("UNKNOWN", 500, client.get_error("UNKNOWN").entry.message)
    try:
        client.grpc_to_gateway("PERMISSION_DENIED")
    except TypeError:
        pass
    else:
        raise AssertionError("a string was taken for an error")


def test_a_long_message_is_cut_not_a_fallback(client):
    """errmap refuses a status message over 4096 bytes; the message plays no
    part in its answer, so it is sent cut and the entry is kept."""
    before = client.fallbacks
    long = "é" * 5000
    info = error_details_pb2.ErrorInfo(reason="RATE_LIMIT_EXCEEDED", domain=errmap.DEFAULT_DOMAIN)
    proto = status_pb2.Status(code=code_pb2.RESOURCE_EXHAUSTED, message=long)
    proto.details.add().Pack(info)
    gw = client.grpc_to_gateway(proto)
    assert (gw.code, gw.http_status, gw.fallback) == ("RATE_LIMIT_EXCEEDED", 429, False)
    gw = client.grpc_to_gateway(status_pb2.Status(code=code_pb2.NOT_FOUND, message=long))
    assert (gw.http_status, gw.fallback) == (404, False)
    assert proto.message == long
    assert client.fallbacks == before


def test_fallback_body_escapes():
    """The same input and expected text are in each client's tests."""
    got = errmap.gateway_body("r-1", 500, "INTERNAL", 'a"b\\c\b\f\n\r\t\x01\x1f\u2028中')
    want = '{"requestId":"r-1","error":{"code":500,"status":"INTERNAL","message":"a\\"b\\\\c\\b\\f\\n\\r\\t\\u0001\\u001f\u2028中"}}'
    assert got == want


def test_locale_and_accept_language(client, addr):
    entry = client.get_error("APIGW_NONCE_CONFLICT").entry
    for locale, want in ((None, entry.message), ("en-US", entry.message_en), ("zh-CN", entry.message), ("en", entry.message_en), ("zh-TW", entry.message)):
        status = client.gateway_to_grpc(403, code="APIGW_NONCE_CONFLICT", locale=locale)
        assert details_of(status, error_details_pb2.LocalizedMessage).message == want, locale
        gw = client.grpc_to_gateway(status, locale=locale)
        assert gw.message == want, locale
        assert json.loads(gw.body)["error"]["message"] == want, locale

    # The client's default locale, and a call's own beating it.
    with errmap.Client(addr, timeout=10, locale="en-US") as english:
        assert english.grpc_to_gateway(grpc.StatusCode.UNAVAILABLE).message == "Service is unavailable"
        assert english.grpc_to_gateway(grpc.StatusCode.UNAVAILABLE, locale="zh-CN").message == "服务不可用"

    # The accept-language metadata, when the request names no locale.
    request = pb.ResolveGatewayErrorRequest(code="APIGW_NONCE_CONFLICT")
    for header, want_locale in (("en-US,en;q=0.9", "en-US"), ("zh-CN", "zh-CN"), ("fr-FR, en;q=0.5", "en-US")):
        res = client.stub.ResolveGatewayError(request, metadata=[("accept-language", header)], timeout=10).resolution
        assert res.locale == want_locale, header
    res = client.stub.ResolveGatewayError(
        pb.ResolveGatewayErrorRequest(code="APIGW_NONCE_CONFLICT", locale="zh-CN"), metadata=[("accept-language", "en-US")], timeout=10
    ).resolution
    assert res.locale == "zh-CN"


def test_status_alone_table_matches_errmap(client):
    """The fallback's HTTP -> gRPC table gives errmap's own answer for every
    status the catalog uses, and for statuses of every class it does not."""
    statuses = {e.http_status for e in client.list_errors()} | {100, 101, 201, 204, 299, 302, 304, 402, 418, 451, 505, 599}
    for http_status in sorted(statuses):
        res = client.resolve_gateway_error(http_status=http_status)
        assert errmap.grpc_code_for_http_status(http_status).value[0] == res.grpc_code, http_status
        fallback = errmap.fallback_status(http_status)
        if res.grpc_code == code_pb2.OK:
            assert fallback is None
        else:
            assert fallback.code.value[0] == res.grpc_code, http_status


def test_code_table_matches_errmap(client):
    for code in grpc.StatusCode:
        res = client.resolve_grpc_status(code=code.value[0])
        assert errmap.http_status_for_grpc_code(code) == res.http_status, code


def test_fallback_body_has_errmap_shape(client):
    res = client.resolve_gateway_error(http_status=418, request_id="req-418")
    assert res.gateway_error_body == errmap.gateway_body("req-418", 418, "FAILED_PRECONDITION", res.message)
    res = client.resolve_grpc_status(code=code_pb2.UNAVAILABLE, request_id='quote " and \\ and 中文')
    assert res.gateway_error_body == errmap.gateway_body('quote " and \\ and 中文', 503, "UNAVAILABLE", res.message)


def test_bad_http_status_is_the_callers_error(client):
    before = client.fallbacks
    for bad in (99, 600, "403", None, True, 403.0):
        try:
            client.gateway_to_grpc(bad)
        except ValueError:
            pass
        else:
            raise AssertionError(f"{bad!r} was accepted")
    assert client.fallbacks == before
