"""errmap's client: the two integration points, the helpers and the fallback."""

import collections
import dataclasses
import json
import logging
import threading

import grpc
from google.protobuf import message as _message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from errmap.v1 import catalog_pb2 as catalog_pb
from errmap.v1 import error_map_service_pb2 as pb
from errmap.v1 import error_map_service_pb2_grpc as pb_grpc

from . import _tables

#: errmap's API address when none is given (its --listen default).
DEFAULT_TARGET = "127.0.0.1:50051"
#: Deadline of each call to errmap, in seconds, when none is given: errmap
#: answers from memory over loopback, so anything slower is treated as
#: errmap being away and the fallback answers instead.
DEFAULT_TIMEOUT = 0.05
#: ErrorInfo.domain of fallback statuses: errmap's --error-domain default.
DEFAULT_DOMAIN = "apigateway.jdcloud.com"
#: The trailer that carries an encoded google.rpc.Status.
STATUS_DETAILS_KEY = "grpc-status-details-bin"
#: The ErrorInfo.metadata key, set to "true", that marks a fallback status:
#: the same in errmap's Go, Java, Python and Node clients, so any of them
#: can tell a fallback that another one built and sent over the wire.
FALLBACK_METADATA_KEY = "errmapFallback"

#: errmap's limit on the status message it is sent, in bytes. The message
#: plays no part in errmap's answer, so a longer one is sent cut (at a
#: character boundary) rather than costing errmap's refusal and a fallback.
MAX_MESSAGE_BYTES = 4096

_LOG = logging.getLogger("errmap")
_CODE_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}
_ERROR_INFO_TYPE = error_details_pb2.ErrorInfo.DESCRIPTOR.full_name


class _Status(collections.namedtuple("_Status", ("code", "details", "trailing_metadata")), grpc.Status):
    """A grpc.Status as context.abort_with_status takes it."""


@dataclasses.dataclass(frozen=True)
class GatewayError:
    """What to send an HTTP caller for a gRPC error.

    ``body`` is the gateway's JSON error body. ``code`` is the gateway code,
    empty on a fallback; ``fallback`` is true when errmap could not answer
    and the status came from google/rpc/code.proto's mapping of the gRPC
    code. ``resolution`` is errmap's full answer (None on a fallback).
    """

    http_status: int
    code: str
    body: str
    message: str
    fallback: bool
    grpc_code: grpc.StatusCode
    resolution: object = None


@dataclasses.dataclass(frozen=True)
class BatchItem:
    """One result of resolve_batch: a resolution, or the status its query failed with."""

    resolution: object = None
    error: object = None

    @property
    def ok(self):
        return self.error is None


def match_kind_name(kind):
    """The proto enum name of a MatchKind, such as "MATCH_KIND_CODE".

    Takes the number or a Resolution. A number this library's proto does
    not know (a newer errmap) is named "MATCH_KIND_<number>".
    """
    if isinstance(kind, pb.Resolution):
        kind = kind.match_kind
    try:
        return pb.MatchKind.Name(kind)
    except ValueError:
        return f"MATCH_KIND_{int(kind)}"


def is_fallback(error):
    """True when the error was built by the fallback, not by errmap.

    Takes what gateway_to_grpc returns (a grpc.Status), a grpc.RpcError a
    caller received (the mark travels in grpc-status-details-bin), a
    google.rpc.Status, or a GatewayError. The mark: an ErrorInfo with an
    empty reason (errmap always names one) and metadata errmapFallback:
    "true".
    """
    if error is None:
        return False
    if isinstance(error, GatewayError):
        return error.fallback
    status = error if isinstance(error, status_pb2.Status) else _details_status(error)
    if status is None:
        return False
    for detail in status.details:
        if detail.TypeName() == _ERROR_INFO_TYPE:
            info = error_details_pb2.ErrorInfo()
            if detail.Unpack(info) and not info.reason and info.metadata.get(FALLBACK_METADATA_KEY) == "true":
                return True
    return False


def gateway_body(request_id, http_status, status, message):
    """The gateway's JSON error body, rendered as errmap renders it."""
    body = {"requestId": request_id, "error": {"code": http_status, "status": status, "message": message}}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def fallback_status(http_status, domain=DEFAULT_DOMAIN):
    """The status for a gateway error from its HTTP status alone, or None for success.

    What gateway_to_grpc returns when errmap cannot answer: the gRPC code of
    errmap's status-alone table, the message "HTTP status N", and the
    fallback mark: an ErrorInfo with an empty reason, ``domain``, and
    metadata {"errmapFallback": "true", "httpStatus": "N"}.
    """
    _check_http_status(http_status)
    code = _tables.grpc_code_for_http_status(http_status)
    if code is grpc.StatusCode.OK:
        return None
    info = error_details_pb2.ErrorInfo(domain=domain, metadata={FALLBACK_METADATA_KEY: "true", "httpStatus": str(http_status)})
    status = status_pb2.Status(code=code.value[0], message=f"HTTP status {http_status}")
    status.details.add().Pack(info)
    return rpc_status.to_status(status)


class Client:
    """A connection to errmap's API, plaintext.

    ``target`` is errmap's HOST:PORT; ``timeout`` the deadline of each call
    in seconds (DEFAULT_TIMEOUT, 50 ms); ``locale`` the answers' locale
    ("zh-CN" or "en-US"; None leaves it to errmap); ``channel`` an existing
    grpc.Channel to use instead of opening one (it is not closed by
    close()); ``domain`` the ErrorInfo.domain of fallback statuses.

    ``fallbacks`` counts the answers the fallback gave because errmap was
    unreachable, too slow, or answered with an error.
    """

    def __init__(self, target=DEFAULT_TARGET, *, timeout=DEFAULT_TIMEOUT, locale=None, channel=None, domain=DEFAULT_DOMAIN):
        if timeout is None or timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.timeout = timeout
        self.locale = locale
        self.domain = domain
        self._own_channel = channel is None
        self._channel = grpc.insecure_channel(target) if channel is None else channel
        self.stub = pb_grpc.ErrorMapServiceStub(self._channel)
        self._lock = threading.Lock()
        self._fallbacks = 0

    @property
    def fallbacks(self):
        with self._lock:
            return self._fallbacks

    def close(self):
        if self._own_channel:
            self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # Integration point 1: gateway -> gRPC.
    def gateway_to_grpc(self, http_status, body=None, code=None, locale=None, params=None, request_id=None):
        """The gRPC error to raise for what the gateway answered, or None for success.

        ``http_status`` is the gateway's HTTP status (100-599; anything else
        raises ValueError). ``body`` is its raw error body (bytes or str),
        read by errmap; without it, ``code`` is the gateway code. The result
        goes to ``context.abort_with_status``: code, message and
        grpc-status-details-bin (ErrorInfo, LocalizedMessage, Help,
        RetryInfo). When errmap cannot answer, the status comes from the
        HTTP status alone and is_fallback() is true for it; this never
        raises for errmap's sake.
        """
        _check_http_status(http_status)
        request = pb.ResolveGatewayErrorRequest(
            http_status=http_status,
            locale=self._locale(locale),
            params=params or {},
            request_id=request_id or "",
        )
        if body is not None:
            request.body = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        elif code is not None:
            request.code = code
        try:
            resolution = self.stub.ResolveGatewayError(request, timeout=self.timeout).resolution
        except (grpc.RpcError, ValueError) as err:  # ValueError: the channel was closed
            self._fell_back("ResolveGatewayError", err)
            return fallback_status(http_status, self.domain)
        return status_from_resolution(resolution)

    # Integration point 2: gRPC -> gateway.
    def grpc_to_gateway(self, error, locale=None, params=None, request_id=None):
        """The HTTP status, gateway code and JSON body for a gRPC error.

        ``error`` is a grpc.RpcError the service received, a grpc.Status
        (what gateway_to_grpc returns), a google.rpc.Status, a
        grpc.StatusCode, None for success, or any other exception (UNKNOWN
        with its text, as grpcio reports an exception a servicer lets out). Its details go to errmap, so an
        ErrorInfo naming a gateway code brings back that exact entry. A
        message over errmap's 4096-byte limit is sent cut (the caller's
        error is untouched; the answer does not use it). When
        errmap cannot answer, the HTTP status comes from
        google/rpc/code.proto's mapping, the code is empty and ``fallback``
        is true; this never raises for errmap's sake.
        """
        code, message, details = _status_parts(error)
        request = pb.ResolveGrpcStatusRequest(
            code=code.value[0],
            message=_cut_utf8(message, MAX_MESSAGE_BYTES),
            status_details_bin=details or b"",
            locale=self._locale(locale),
            params=params or {},
            request_id=request_id or "",
        )
        try:
            res = self.stub.ResolveGrpcStatus(request, timeout=self.timeout).resolution
        except (grpc.RpcError, ValueError) as err:  # ValueError: the channel was closed
            self._fell_back("ResolveGrpcStatus", err)
            http_status = _tables.http_status_for_grpc_code(code)
            body = gateway_body(request_id or "", http_status, code.name, message)
            return GatewayError(http_status, "", body, message, True, code)
        grpc_code = _CODE_BY_NUMBER.get(res.grpc_code, grpc.StatusCode.UNKNOWN)
        return GatewayError(res.http_status, res.entry.code, res.gateway_error_body, res.message, False, grpc_code, res)

    # Helpers.
    def resolve_batch(self, queries, view=pb.RESOLUTION_VIEW_UNSPECIFIED, timeout=None):
        """Resolves many queries in one call; one BatchItem per query, in order.

        A query is a ResolveGatewayErrorRequest, a ResolveGrpcStatusRequest
        or a BatchQuery. A failed query has ``error`` (a google.rpc.Status);
        the others ``resolution``. A failure of the whole call raises
        grpc.RpcError.
        """
        request = pb.BatchResolveRequest(queries=[_batch_query(q) for q in queries], view=view)
        reply = self.stub.BatchResolve(request, timeout=timeout or self.timeout)
        items = []
        for result in reply.results:
            if result.WhichOneof("result") == "resolution":
                items.append(BatchItem(resolution=result.resolution))
            else:
                items.append(BatchItem(error=result.error))
        return items

    def list_errors(self, http_status=None, grpc_code=None, table=None, page_size=0, timeout=None):
        """Yields every catalog entry that matches the filters, page after page.

        ``grpc_code`` is a grpc.StatusCode, a number or a name; ``table`` a
        Table number or name. Raises grpc.RpcError when errmap cannot answer.
        """
        request = pb.ListErrorsRequest(page_size=page_size)
        if http_status is not None:
            request.http_status = http_status
        if grpc_code is not None:
            request.grpc_code = _code_number(grpc_code)
        if table is not None:
            request.table = catalog_pb.Table.Value(table) if isinstance(table, str) else table
        while True:
            page = self.stub.ListErrors(request, timeout=timeout or self.timeout)
            yield from page.entries
            if not page.next_page_token:
                return
            request.page_token = page.next_page_token

    def resolve_gateway_error(self, timeout=None, **fields):
        """ResolveGatewayError as it is: the Resolution, or grpc.RpcError."""
        return self.stub.ResolveGatewayError(pb.ResolveGatewayErrorRequest(**fields), timeout=timeout or self.timeout).resolution

    def resolve_grpc_status(self, timeout=None, **fields):
        """ResolveGrpcStatus as it is: the Resolution, or grpc.RpcError."""
        return self.stub.ResolveGrpcStatus(pb.ResolveGrpcStatusRequest(**fields), timeout=timeout or self.timeout).resolution

    def get_error(self, code, http_status=None, timeout=None):
        """GetError: the GetErrorResponse (entry and other rows), or grpc.RpcError."""
        request = pb.GetErrorRequest(code=code)
        if http_status is not None:
            request.http_status = http_status
        return self.stub.GetError(request, timeout=timeout or self.timeout)

    def _locale(self, locale):
        return locale or self.locale or ""

    def _fell_back(self, method, err):
        with self._lock:
            self._fallbacks += 1
        if callable(getattr(err, "code", None)):
            what = f"{err.code().name}: {err.details()}"
        else:
            what = f"{type(err).__name__}: {err}"
        _LOG.warning("errmap %s failed (%s); answering with the fallback", method, what)


def _is_success(resolution):
    """Whether an errmap Resolution has no error to raise (gRPC OK).

    errmap says so in ``success``; an errmap that predates the field leaves
    it false, and its ``grpc_code`` still says OK.
    """
    return resolution.success or resolution.grpc_code == code_pb2.OK


def status_from_resolution(resolution):
    """The grpc.Status of an errmap Resolution, or None when it is success (gRPC OK)."""
    if _is_success(resolution):
        return None
    if not resolution.HasField("status"):
        # The basic view carries no status; the code and message still say it.
        code = _CODE_BY_NUMBER.get(resolution.grpc_code, grpc.StatusCode.UNKNOWN)
        return _Status(code, resolution.message, ())
    code = _CODE_BY_NUMBER.get(resolution.status.code, grpc.StatusCode.UNKNOWN)
    details = resolution.status_details_bin or resolution.status.SerializeToString()
    return _Status(code, resolution.status.message, ((STATUS_DETAILS_KEY, details),))


def _cut_utf8(text, limit):
    """text cut to at most limit bytes of UTF-8, at a character boundary."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore")


def _check_http_status(http_status):
    if isinstance(http_status, bool) or not isinstance(http_status, int) or not 100 <= http_status <= 599:
        raise ValueError(f"http_status must be an integer in 100-599, got {http_status!r}")


def _code_number(code):
    if isinstance(code, grpc.StatusCode):
        return code.value[0]
    if isinstance(code, str):
        return code_pb2.Code.Value(code)
    return int(code)


def _batch_query(query):
    if isinstance(query, pb.BatchQuery):
        return query
    if isinstance(query, pb.ResolveGatewayErrorRequest):
        return pb.BatchQuery(gateway_error=query)
    if isinstance(query, pb.ResolveGrpcStatusRequest):
        return pb.BatchQuery(grpc_status=query)
    raise TypeError(f"a batch query is a ResolveGatewayErrorRequest, ResolveGrpcStatusRequest or BatchQuery, got {type(query).__name__}")


def _metadata_details(metadata):
    for key, value in metadata or ():
        if key == STATUS_DETAILS_KEY:
            return value
    return None


def _details_status(error):
    """The google.rpc.Status in an error's grpc-status-details-bin, or None."""
    metadata = error.trailing_metadata() if callable(getattr(error, "trailing_metadata", None)) else getattr(error, "trailing_metadata", None)
    details = _metadata_details(metadata)
    if not details:
        return None
    try:
        return status_pb2.Status.FromString(details)
    except _message.DecodeError:
        return None


def _status_parts(error):
    """(grpc.StatusCode, message, grpc-status-details-bin or None) of an error."""
    if error is None:
        return grpc.StatusCode.OK, "", None
    if isinstance(error, grpc.StatusCode):
        return error, "", None
    if isinstance(error, status_pb2.Status):
        return _CODE_BY_NUMBER.get(error.code, grpc.StatusCode.UNKNOWN), error.message, error.SerializeToString()
    if callable(getattr(error, "code", None)):  # grpc.RpcError from a call
        metadata = error.trailing_metadata() if callable(getattr(error, "trailing_metadata", None)) else None
        return error.code(), error.details() or "", _metadata_details(metadata)
    if isinstance(getattr(error, "code", None), grpc.StatusCode):  # grpc.Status
        return error.code, error.details or "", _metadata_details(error.trailing_metadata)
    if isinstance(error, Exception):  # what grpcio sends for an uncaught exception
        return grpc.StatusCode.UNKNOWN, str(error), None
    raise TypeError(f"expected a grpc.RpcError, grpc.Status, google.rpc.Status, grpc.StatusCode or exception, got {type(error).__name__}")
