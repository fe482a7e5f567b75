"""The two tables the library falls back on when errmap cannot answer.

Both are copies of the tables errmap itself uses (docs/mapping.md), kept as
data so that a service whose errmap is away still raises a sensible gRPC
error and still answers its HTTP callers with a sensible status. The tests
compare them with a live errmap's answers for every status and code.
"""

import grpc

#: "HTTP status alone -> gRPC" (docs/mapping.md, the default profile,
#: google/rpc/code.proto as REST clients read statuses).
HTTP_STATUS_TO_GRPC = {
    200: grpc.StatusCode.OK,
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.ABORTED,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    499: grpc.StatusCode.CANCELLED,
    500: grpc.StatusCode.INTERNAL,
    501: grpc.StatusCode.UNIMPLEMENTED,
    502: grpc.StatusCode.UNAVAILABLE,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}

#: The answer for a status of each class that the table above lacks.
HTTP_CLASS_TO_GRPC = {
    1: grpc.StatusCode.UNKNOWN,
    2: grpc.StatusCode.OK,
    3: grpc.StatusCode.UNKNOWN,
    4: grpc.StatusCode.FAILED_PRECONDITION,
    5: grpc.StatusCode.UNKNOWN,
}

#: google/rpc/code.proto's HTTP status of each gRPC code (gRPC -> gateway).
GRPC_TO_HTTP_STATUS = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}


def grpc_code_for_http_status(http_status):
    """The gRPC code errmap gives an HTTP status (100-599) that comes alone."""
    code = HTTP_STATUS_TO_GRPC.get(http_status)
    if code is None:
        code = HTTP_CLASS_TO_GRPC[http_status // 100]
    return code


def http_status_for_grpc_code(code):
    """The HTTP status google/rpc/code.proto gives a gRPC code."""
    return GRPC_TO_HTTP_STATUS[code]
