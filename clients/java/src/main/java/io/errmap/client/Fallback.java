package io.errmap.client;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.errmap.client.rpc.ErrorInfo;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.Map;

/**
 * The answers built without errmap, from the status alone, with the tables errmap itself uses
 * (docs/mapping.md).
 */
public final class Fallback {
  /** ErrorInfo.domain of fallback errors: errmap's default error domain. */
  public static final String DOMAIN = "apigateway.jdcloud.com";

  /**
   * Marks a fallback error: its ErrorInfo has an empty reason (no catalog entry was chosen; errmap
   * always names one) and this metadata key set to "true", beside "httpStatus". The mark is the
   * same in errmap's Go, Java, Python and Node clients and travels in grpc-status-details-bin, so
   * any of them can tell a fallback that another one built.
   */
  public static final String METADATA_KEY = "errmapFallback";

  /**
   * errmap's table for a bare HTTP status under its default profile (docs/mapping.md, "HTTP status
   * alone → gRPC"), for the statuses it names one by one; ranges follow in codeForHttpStatus.
   */
  private static final Map<Integer, Status.Code> STATUS_ONLY =
      Map.ofEntries(
          Map.entry(200, Status.Code.OK),
          Map.entry(400, Status.Code.INVALID_ARGUMENT),
          Map.entry(401, Status.Code.UNAUTHENTICATED),
          Map.entry(403, Status.Code.PERMISSION_DENIED),
          Map.entry(404, Status.Code.NOT_FOUND),
          Map.entry(409, Status.Code.ABORTED),
          Map.entry(429, Status.Code.RESOURCE_EXHAUSTED),
          Map.entry(499, Status.Code.CANCELLED),
          Map.entry(500, Status.Code.INTERNAL),
          Map.entry(501, Status.Code.UNIMPLEMENTED),
          Map.entry(502, Status.Code.UNAVAILABLE),
          Map.entry(503, Status.Code.UNAVAILABLE),
          Map.entry(504, Status.Code.DEADLINE_EXCEEDED));

  /** google/rpc/code.proto's HTTP status of each gRPC code, indexed by the code's number. */
  private static final int[] HTTP_FOR_CODE = {
    200, // OK
    499, // CANCELLED
    500, // UNKNOWN
    400, // INVALID_ARGUMENT
    504, // DEADLINE_EXCEEDED
    404, // NOT_FOUND
    409, // ALREADY_EXISTS
    403, // PERMISSION_DENIED
    429, // RESOURCE_EXHAUSTED
    400, // FAILED_PRECONDITION
    409, // ABORTED
    400, // OUT_OF_RANGE
    501, // UNIMPLEMENTED
    500, // INTERNAL
    503, // UNAVAILABLE
    500, // DATA_LOSS
    401, // UNAUTHENTICATED
  };

  private Fallback() {}

  /**
   * The gRPC code errmap gives an HTTP status that comes without a known gateway code (its default
   * profile, PROFILE_GOOGLE).
   */
  public static Status.Code codeForHttpStatus(int httpStatus) {
    Status.Code code = STATUS_ONLY.get(httpStatus);
    if (code != null) {
      return code;
    }
    if (httpStatus >= 200 && httpStatus < 300) {
      return Status.Code.OK;
    }
    if (httpStatus >= 400 && httpStatus < 500) {
      return Status.Code.FAILED_PRECONDITION;
    }
    return Status.Code.UNKNOWN;
  }

  /** The HTTP status google/rpc/code.proto gives a gRPC code. */
  public static int httpStatusForCode(Status.Code code) {
    int n = code.value();
    return n >= 0 && n < HTTP_FOR_CODE.length ? HTTP_FOR_CODE[n] : 500;
  }

  /**
   * gatewayToGrpc's answer without errmap, null for a 2xx: the code from the HTTP status, the
   * message "HTTP status N" (errmap's own wording for a status without an entry), and the fallback
   * mark: an ErrorInfo with an empty reason, domain, and metadata {"errmapFallback": "true",
   * "httpStatus": "N"}.
   *
   * @throws IllegalArgumentException for an httpStatus outside 100-599
   */
  public static StatusRuntimeException status(int httpStatus, String domain) {
    if (httpStatus < 100 || httpStatus > 599) {
      throw new IllegalArgumentException(
          "httpStatus must be an integer in 100-599, got " + httpStatus);
    }
    Status.Code code = codeForHttpStatus(httpStatus);
    if (code == Status.Code.OK) {
      return null;
    }
    String message = "HTTP status " + httpStatus;
    ErrorInfo.Builder info =
        ErrorInfo.newBuilder()
            .setDomain(domain)
            .putMetadata(METADATA_KEY, "true")
            .putMetadata("httpStatus", Integer.toString(httpStatus));
    return StatusProto.toStatusRuntimeException(
        com.google.rpc.Status.newBuilder()
            .setCode(code.value())
            .setMessage(message)
            .addDetails(Any.pack(info.build()))
            .build());
  }

  /** Whether err carries the fallback mark. */
  static boolean isFallback(Throwable err) {
    if (err == null) {
      return false;
    }
    com.google.rpc.Status st = StatusProto.fromThrowable(err);
    if (st == null) {
      return false;
    }
    for (Any detail : st.getDetailsList()) {
      if (!detail.is(ErrorInfo.class)) {
        continue;
      }
      try {
        ErrorInfo info = detail.unpack(ErrorInfo.class);
        if (info.getReason().isEmpty()
            && "true".equals(info.getMetadataOrDefault(METADATA_KEY, ""))) {
          return true;
        }
      } catch (InvalidProtocolBufferException e) {
        // A detail that does not decode carries no mark.
      }
    }
    return false;
  }

  /** grpcToGateway's answer without errmap. */
  static GatewayError gateway(Status.Code code, String message, String requestId, Throwable cause) {
    int httpStatus = httpStatusForCode(code);
    return new GatewayError(
        httpStatus, "", body(requestId, httpStatus, code.name(), message), message, true, cause);
  }

  /**
   * The gateway's JSON error body in errmap's shape:
   * {"requestId":"...","error":{"code":503,"status":"UNAVAILABLE","message":"..."}}.
   */
  static String body(String requestId, int httpStatus, String status, String message) {
    StringBuilder b = new StringBuilder(64 + message.length());
    b.append("{\"requestId\":");
    quote(b, requestId);
    b.append(",\"error\":{\"code\":").append(httpStatus).append(",\"status\":");
    quote(b, status);
    b.append(",\"message\":");
    quote(b, message);
    return b.append("}}").toString();
  }

  /** A JSON string: quotes, backslashes and control characters escaped, the rest as it is. */
  private static void quote(StringBuilder b, String s) {
    b.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        case '\b' -> b.append("\\b");
        case '\f' -> b.append("\\f");
        default -> {
          if (c < 0x20) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    b.append('"');
  }
}
