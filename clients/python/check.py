#!/usr/bin/env python3
"""Calls every errmap RPC from Python and checks the answers.

    pip install -r clients/python/requirements.txt
    python3 clients/python/check.py [HOST:PORT [HEALTH_HOST:PORT]]

The API address defaults to localhost:50051; health is checked there too,
or at the second address (errmap's admin listener, say).

The stubs are generated from proto/ into a temporary directory at start;
nothing generated is kept. The google/rpc messages come from
googleapis-common-protos (a dependency of grpcio-status). Exits 1 with a
message on the first answer that is not the expected one.
"""

import pathlib
import sys
import tempfile
from concurrent import futures

import grpc
import grpc_tools
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from grpc_tools import protoc

PROTO_DIR = pathlib.Path(__file__).resolve().parents[2] / "proto"


def generate_stubs(out_dir):
    """Compiles proto/errmap/v1/*.proto into out_dir and makes it importable."""
    well_known = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    protos = [str(p.relative_to(PROTO_DIR)) for p in sorted(PROTO_DIR.glob("errmap/v1/*.proto"))]
    args = [f"-I{PROTO_DIR}", f"-I{well_known}", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}"]
    if protoc.main(["protoc", *args, *protos]) != 0:
        sys.exit(f"FAIL: protoc could not compile {PROTO_DIR}/errmap/v1")
    sys.path.insert(0, out_dir)


def expect(what, got, want):
    if got != want:
        sys.exit(f"FAIL: {what}: got {got!r}, want {want!r}")
    print(f"ok   {what} = {got!r}")


def expect_error(what, call, want_code):
    try:
        call()
    except grpc.RpcError as err:
        expect(what, err.code().name, want_code.name)
        return err
    sys.exit(f"FAIL: {what}: the call succeeded, want {want_code.name}")


def fail_with(resolution, context):
    """How a servicer of your own fails a call with errmap's ready-made status:
    the code, the message and the details (ErrorInfo, LocalizedMessage, Help,
    RetryInfo) go to your caller. Without grpcio-status, set the trailer
    yourself:
        context.set_trailing_metadata([("grpc-status-details-bin", resolution.status_details_bin)])
        code = next(c for c in grpc.StatusCode if c.value[0] == resolution.status.code)
        context.abort(code, resolution.status.message)
    """
    context.abort_with_status(rpc_status.to_status(resolution.status))


def check_attach(resolution):
    """Serves one method that fails with the resolution's status, calls it and
    reads the status back as any caller would."""
    handler = grpc.unary_unary_rpc_method_handler(lambda request, context: fail_with(resolution, context))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("demo.Orders", {"Place": handler})])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            place = channel.unary_unary("/demo.Orders/Place")
            err = expect_error("attached status: code", lambda: place(b"", timeout=10), grpc.StatusCode.PERMISSION_DENIED)
            status = rpc_status.from_call(err)  # None without a grpc-status-details-bin trailer
            info = error_details_pb2.ErrorInfo()
            found = status is not None and any(detail.Unpack(info) for detail in status.details)
            expect("attached status: has an ErrorInfo", found, True)
            expect("attached status: ErrorInfo.reason", info.reason, "APIGW_NONCE_CONFLICT")
    finally:
        server.stop(None)


def main():
    addr = sys.argv[1] if len(sys.argv) > 1 else "localhost:50051"
    health_addr = sys.argv[2] if len(sys.argv) > 2 else addr
    with tempfile.TemporaryDirectory(prefix="errmap-stubs-") as stubs:
        generate_stubs(stubs)
        from errmap.v1 import error_map_service_pb2 as pb
        from errmap.v1 import error_map_service_pb2_grpc as pb_grpc

        with grpc.insecure_channel(addr) as channel, grpc.insecure_channel(health_addr) as health_channel:
            for target, ch in ((addr, channel), (health_addr, health_channel)):
                try:
                    grpc.channel_ready_future(ch).result(timeout=10)
                except grpc.FutureTimeoutError:
                    sys.exit(f"FAIL: no gRPC server answers at {target}")
            errmap = pb_grpc.ErrorMapServiceStub(channel)
            health = health_pb2_grpc.HealthStub(health_channel)

            # Health: the whole server and the API service.
            for service in ("", "errmap.v1.ErrorMapService"):
                reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
                status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
                expect(f"Health.Check({service!r}) at {health_addr}", status, "SERVING")

            # Gateway error -> gRPC.
            res = errmap.ResolveGatewayError(pb.ResolveGatewayErrorRequest(code="APIGW_NONCE_CONFLICT"), timeout=5).resolution
            expect("ResolveGatewayError(APIGW_NONCE_CONFLICT).grpc_code", code_pb2.Code.Name(res.grpc_code), "PERMISSION_DENIED")
            expect("ResolveGatewayError(APIGW_NONCE_CONFLICT).http_status", res.http_status, 403)
            expect("ResolveGatewayError(APIGW_NONCE_CONFLICT).status.code", res.status.code, code_pb2.PERMISSION_DENIED)
            expect("status_details_bin decodes to status", status_pb2.Status.FromString(res.status_details_bin) == res.status, True)
            check_attach(res)

            # gRPC -> gateway error.
            res = errmap.ResolveGrpcStatus(pb.ResolveGrpcStatusRequest(code=code_pb2.UNAVAILABLE), timeout=5).resolution
            expect("ResolveGrpcStatus(UNAVAILABLE).http_status", res.http_status, 503)
            expect("ResolveGrpcStatus(UNAVAILABLE).entry.code", res.entry.code, "UNAVAILABLE")

            # A batch: answers in request order, the bad query fails alone.
            batch = errmap.BatchResolve(
                pb.BatchResolveRequest(
                    queries=[
                        pb.BatchQuery(gateway_error=pb.ResolveGatewayErrorRequest(code="APIGW_SIGN_RESULT_NOT_SAME")),
                        pb.BatchQuery(grpc_status=pb.ResolveGrpcStatusRequest(code=code_pb2.DEADLINE_EXCEEDED)),
                        pb.BatchQuery(gateway_error=pb.ResolveGatewayErrorRequest(http_status=700)),
                    ]
                ),
                timeout=5,
            )
            kinds = [result.WhichOneof("result") for result in batch.results]
            expect("BatchResolve result kinds", kinds, ["resolution", "resolution", "error"])
            expect("BatchResolve[0].grpc_code", code_pb2.Code.Name(batch.results[0].resolution.grpc_code), "UNAUTHENTICATED")
            expect("BatchResolve[1].http_status", batch.results[1].resolution.http_status, 504)
            expect("BatchResolve[2].error.code", batch.results[2].error.code, code_pb2.INVALID_ARGUMENT)

            # The catalog.
            got = errmap.GetError(pb.GetErrorRequest(code="FAILED_PRECONDITION", http_status=409), timeout=5)
            expect("GetError(FAILED_PRECONDITION, 409).entry.http_status", got.entry.http_status, 409)
            expect("GetError(FAILED_PRECONDITION, 409).other_rows", [r.http_status for r in got.other_rows], [400])
            page = errmap.ListErrors(pb.ListErrorsRequest(page_size=1000), timeout=5)
            expect("ListErrors().total_size", page.total_size, 82)
            expect("ListErrors() entries on one page", len(page.entries), 82)

            # Errors, and the details that come with them.
            expect_error(
                "ResolveGatewayError(NO_SUCH_CODE)",
                lambda: errmap.ResolveGatewayError(pb.ResolveGatewayErrorRequest(code="NO_SUCH_CODE"), timeout=5),
                grpc.StatusCode.NOT_FOUND,
            )
            err = expect_error(
                "ResolveGatewayError(http_status=700)",
                lambda: errmap.ResolveGatewayError(pb.ResolveGatewayErrorRequest(http_status=700), timeout=5),
                grpc.StatusCode.INVALID_ARGUMENT,
            )
            status = rpc_status.from_call(err)
            bad_request = error_details_pb2.BadRequest()
            found = status is not None and any(detail.Unpack(bad_request) for detail in status.details)
            expect("ResolveGatewayError(http_status=700) has a BadRequest", found, True)
            expect("BadRequest fields", [v.field for v in bad_request.field_violations], ["http_status"])
    print(f"python client: every RPC answered as expected by {addr}")


if __name__ == "__main__":
    main()
