"""Every RPC of errmap, through the library's client (the old check script's assertions)."""

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

import errmap
from errmap import pb


def test_health(server):
    _, health_addr = server
    with grpc.insecure_channel(health_addr) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "errmap.v1.ErrorMapService"):
            reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            assert health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status) == "SERVING"


def test_resolve_gateway_error(client, fail_server):
    res = client.resolve_gateway_error(code="APIGW_NONCE_CONFLICT")
    assert code_pb2.Code.Name(res.grpc_code) == "PERMISSION_DENIED"
    assert res.http_status == 403
    assert res.status.code == code_pb2.PERMISSION_DENIED
    assert status_pb2.Status.FromString(res.status_details_bin) == res.status
    assert errmap.match_kind_name(res) == "MATCH_KIND_CODE"

    # The ready-made status, attached by a servicer and read by its caller.
    err = fail_server.call(rpc_status.to_status(res.status))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    status = rpc_status.from_call(err)
    info = error_details_pb2.ErrorInfo()
    assert status is not None and any(detail.Unpack(info) for detail in status.details)
    assert info.reason == "APIGW_NONCE_CONFLICT"


def test_success_is_said_plainly_and_read_either_way(client):
    success = client.resolve_gateway_error(code="APIGATEWAY_SUCCESS", http_status=200)
    assert success.success and success.grpc_code == code_pb2.OK
    assert errmap.status_from_resolution(success) is None
    denied = client.resolve_gateway_error(code="APIGW_NONCE_CONFLICT", http_status=403)
    assert not denied.success
    assert errmap.status_from_resolution(denied).code == grpc.StatusCode.PERMISSION_DENIED
    # The field is read; an errmap that predates it says OK by grpc_code alone.
    assert errmap.status_from_resolution(pb.Resolution(success=True, grpc_code=code_pb2.UNAVAILABLE)) is None
    assert errmap.status_from_resolution(pb.Resolution(grpc_code=code_pb2.OK)) is None
    # A basic-view resolution has no status: its code and message say it.
    (item,) = client.resolve_batch([pb.ResolveGatewayErrorRequest(code="APIGW_NONCE_CONFLICT")], view=pb.RESOLUTION_VIEW_BASIC)
    status = errmap.status_from_resolution(item.resolution)
    assert status.code == grpc.StatusCode.PERMISSION_DENIED
    assert status.details == item.resolution.message


def test_resolve_grpc_status(client):
    res = client.resolve_grpc_status(code=code_pb2.UNAVAILABLE)
    assert res.http_status == 503
    assert res.entry.code == "UNAVAILABLE"
    assert errmap.match_kind_name(res.match_kind) == "MATCH_KIND_GRPC_CODE"


def test_batch_resolve(client):
    items = client.resolve_batch(
        [
            pb.ResolveGatewayErrorRequest(code="APIGW_SIGN_RESULT_NOT_SAME"),
            pb.ResolveGrpcStatusRequest(code=code_pb2.DEADLINE_EXCEEDED),
            pb.ResolveGatewayErrorRequest(http_status=700),
            pb.BatchQuery(gateway_error=pb.ResolveGatewayErrorRequest(http_status=429)),
        ]
    )
    assert [item.ok for item in items] == [True, True, False, True]
    assert code_pb2.Code.Name(items[0].resolution.grpc_code) == "UNAUTHENTICATED"
    assert items[1].resolution.http_status == 504
    assert items[2].resolution is None
    assert items[2].error.code == code_pb2.INVALID_ARGUMENT
    assert items[3].resolution.entry.code == "QUOTA_EXCEEDED"
    assert errmap.match_kind_name(items[3].resolution) == "MATCH_KIND_STATUS_ONLY"


def test_batch_resolve_refuses_other_queries(client):
    with pytest.raises(TypeError):
        client.resolve_batch(["APIGW_NONCE_CONFLICT"])


def test_get_error(client):
    got = client.get_error("FAILED_PRECONDITION", http_status=409)
    assert got.entry.http_status == 409
    assert [row.http_status for row in got.other_rows] == [400]
    with pytest.raises(grpc.RpcError) as caught:
        client.get_error("NO_SUCH_CODE")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_list_errors(client):
    page = client.stub.ListErrors(pb.ListErrorsRequest(page_size=1000), timeout=10)
    assert page.total_size == 82
    assert len(page.entries) == 82

    # The generator hides the paging: 82 entries over 9 pages of 10.
    entries = list(client.list_errors(page_size=10, timeout=10))
    assert [(e.code, e.http_status) for e in entries] == [(e.code, e.http_status) for e in page.entries]

    # Filters, each checked against the whole list.
    forbidden = list(client.list_errors(http_status=403))
    assert forbidden and forbidden == [e for e in page.entries if e.http_status == 403]
    unavailable = list(client.list_errors(grpc_code=grpc.StatusCode.UNAVAILABLE))
    assert unavailable == [e for e in page.entries if e.grpc_code == code_pb2.UNAVAILABLE]
    assert list(client.list_errors(grpc_code="UNAVAILABLE")) == unavailable
    sdk = list(client.list_errors(table="TABLE_SDK"))
    assert len(sdk) == 20


def test_errors_and_their_details(client):
    with pytest.raises(grpc.RpcError) as caught:
        client.resolve_gateway_error(code="NO_SUCH_CODE")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND

    with pytest.raises(grpc.RpcError) as caught:
        client.resolve_gateway_error(http_status=700)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(caught.value)
    bad_request = error_details_pb2.BadRequest()
    assert status is not None and any(detail.Unpack(bad_request) for detail in status.details)
    assert [v.field for v in bad_request.field_violations] == ["http_status"]


def test_match_kind_names(client):
    alias_entry = next(e for e in client.list_errors() if e.aliases)
    cases = [
        ({"code": "APIGW_NONCE_CONFLICT"}, "MATCH_KIND_CODE"),
        ({"code": alias_entry.aliases[0]}, "MATCH_KIND_ALIAS"),
        ({"code": "APIGW_NONCE_CONFLICT", "http_status": 500}, "MATCH_KIND_CODE_STATUS_MISMATCH"),
        ({"http_status": 404}, "MATCH_KIND_STATUS_ONLY"),
        ({"code": "NO_SUCH_CODE", "http_status": 404}, "MATCH_KIND_STATUS_FALLBACK"),
    ]
    for fields, want in cases:
        assert errmap.match_kind_name(client.resolve_gateway_error(**fields)) == want, fields
    assert errmap.match_kind_name(client.resolve_grpc_status(code=code_pb2.NOT_FOUND)) == "MATCH_KIND_GRPC_CODE"
    assert errmap.match_kind_name(client.resolve_grpc_status(code=code_pb2.RESOURCE_EXHAUSTED, reason="RATE_LIMIT_EXCEEDED")) == "MATCH_KIND_GRPC_REASON"
    details = client.resolve_gateway_error(code="APIGW_NONCE_CONFLICT").status_details_bin
    by_details = client.resolve_grpc_status(code=code_pb2.PERMISSION_DENIED, status_details_bin=details)
    assert errmap.match_kind_name(by_details) == "MATCH_KIND_ERROR_INFO"
    assert errmap.match_kind_name(0) == "MATCH_KIND_UNSPECIFIED"
    assert errmap.match_kind_name(99) == "MATCH_KIND_99"
