"""errmap's Python client: gateway errors to gRPC statuses and back.

    import errmap

    client = errmap.Client("127.0.0.1:50051")
    status = client.gateway_to_grpc(403, code="APIGW_NONCE_CONFLICT")
    context.abort_with_status(status)          # in a servicer; None means success
    gw = client.grpc_to_gateway(rpc_error)     # gw.http_status, gw.code, gw.body

When errmap is unreachable, slower than the deadline (50 ms by default) or
answers with an error, both calls answer from built-in tables instead,
marked as fallbacks (is_fallback), and never raise for errmap's sake.
"""

from errmap.v1 import catalog_pb2, error_map_service_pb2, error_map_service_pb2_grpc

from ._client import (
    DEFAULT_DOMAIN,
    DEFAULT_TARGET,
    DEFAULT_TIMEOUT,
    FALLBACK_METADATA_KEY,
    STATUS_DETAILS_KEY,
    BatchItem,
    Client,
    GatewayError,
    fallback_status,
    gateway_body,
    is_fallback,
    match_kind_name,
    status_from_resolution,
)
from ._tables import grpc_code_for_http_status, http_status_for_grpc_code

#: The generated messages of errmap.v1 (requests, Resolution, MatchKind...).
pb = error_map_service_pb2
pb_grpc = error_map_service_pb2_grpc
catalog = catalog_pb2

__all__ = [
    "DEFAULT_DOMAIN",
    "DEFAULT_TARGET",
    "DEFAULT_TIMEOUT",
    "FALLBACK_METADATA_KEY",
    "STATUS_DETAILS_KEY",
    "BatchItem",
    "Client",
    "GatewayError",
    "catalog",
    "fallback_status",
    "gateway_body",
    "grpc_code_for_http_status",
    "http_status_for_grpc_code",
    "is_fallback",
    "match_kind_name",
    "pb",
    "pb_grpc",
    "status_from_resolution",
]
