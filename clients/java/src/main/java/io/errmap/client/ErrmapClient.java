package io.errmap.client;

import com.google.protobuf.ByteString;
import com.google.rpc.Code;
import io.errmap.v1.BatchResolveRequest;
import io.errmap.v1.BatchResolveResponse;
import io.errmap.v1.BatchResult;
import io.errmap.v1.CatalogEntry;
import io.errmap.v1.ErrorMapServiceGrpc;
import io.errmap.v1.GetErrorRequest;
import io.errmap.v1.GetErrorResponse;
import io.errmap.v1.ListErrorsRequest;
import io.errmap.v1.ListErrorsResponse;
import io.errmap.v1.MatchKind;
import io.errmap.v1.ResolveGatewayErrorRequest;
import io.errmap.v1.ResolveGatewayErrorResponse;
import io.errmap.v1.ResolveGrpcStatusRequest;
import io.errmap.v1.ResolveGrpcStatusResponse;
import io.errmap.v1.Resolution;
import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.MetadataUtils;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;

/**
 * The Java client of errmap, the sidecar that translates JD Cloud API Gateway errors to gRPC
 * statuses and back.
 *
 * <p>A service needs two calls: {@link #gatewayToGrpc} turns what the gateway answered into the
 * {@link StatusRuntimeException} to fail a call with (errmap's rich status attached), and {@link
 * #grpcToGateway} turns a gRPC error into the HTTP status, gateway code and JSON body for an HTTP
 * caller. Neither ever blocks longer than the client's timeout nor throws because errmap is away:
 * the answer is then built from the status alone with the tables errmap itself uses, marked as a
 * fallback ({@link #isFallback}, {@link GatewayError#fallback()}) and counted ({@link
 * #fallbacks()}).
 *
 * <p>Thread-safe; make one per process and {@link #close()} it at shutdown.
 */
public final class ErrmapClient implements AutoCloseable {
  /** errmap's API address when none is given: the sidecar's own default listen address. */
  public static final String DEFAULT_TARGET = "127.0.0.1:50051";

  /**
   * The bound of every call when {@link Options#timeout} is not set. errmap answers over loopback
   * in well under a millisecond; 50 ms leaves room for a busy node while keeping a dead sidecar
   * from slowing the caller's own request noticeably.
   */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofMillis(50);

  /** Options of a client; every field is optional. */
  public static final class Options {
    Duration timeout = DEFAULT_TIMEOUT;
    String locale = "";
    Channel channel;
    BiConsumer<String, Throwable> onFallback;
    String domain = Fallback.DOMAIN;

    /** The ErrorInfo.domain of fallback errors (default {@link Fallback#DOMAIN}). */
    public Options domain(String domain) {
      this.domain = domain == null || domain.isEmpty() ? Fallback.DOMAIN : domain;
      return this;
    }

    /**
     * Bounds every call to errmap (default {@link #DEFAULT_TIMEOUT}). The helpers (batch, listing)
     * use it per call too.
     */
    public Options timeout(Duration timeout) {
      if (timeout == null || timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("timeout must be positive, got " + timeout);
      }
      this.timeout = timeout;
      return this;
    }

    /**
     * Sent as accept-language metadata on every call: "zh-CN", "en-US", or an Accept-Language list
     * such as "en-GB,en;q=0.8". Unset: errmap's own default. A call's own locale takes precedence.
     */
    public Options locale(String locale) {
      this.locale = locale == null ? "" : locale;
      return this;
    }

    /** An existing channel to use instead of dialling the target; the client does not close it. */
    public Options channel(Channel channel) {
      this.channel = channel;
      return this;
    }

    /**
     * Called on every fallback with the operation ("gatewayToGrpc" or "grpcToGateway") and why
     * errmap's answer was not used: a place for a log line or a metric.
     */
    public Options onFallback(BiConsumer<String, Throwable> onFallback) {
      this.onFallback = onFallback;
      return this;
    }
  }

  private final ManagedChannel ownChannel;
  private final ErrorMapServiceGrpc.ErrorMapServiceBlockingStub stub;
  private final Duration timeout;
  private final BiConsumer<String, Throwable> onFallback;
  private final String domain;
  private final AtomicLong fallbacks = new AtomicLong();
  /** ListErrors' page size: errmap's maximum, so one call usually does; tests lower it. */
  int pageSize = 1000;

  /** A client of errmap at {@link #DEFAULT_TARGET} with default options. */
  public ErrmapClient() {
    this(DEFAULT_TARGET, new Options());
  }

  /**
   * A client of errmap at target ("host:port", plaintext). It does not wait for errmap: a sidecar
   * that is not up yet only makes the first calls fall back.
   */
  public ErrmapClient(String target, Options options) {
    Options opts = options == null ? new Options() : options;
    Channel channel = opts.channel;
    if (channel == null) {
      ownChannel =
          NettyChannelBuilder.forTarget(target == null || target.isEmpty() ? DEFAULT_TARGET : target)
              .usePlaintext()
              .build();
      // Connect now, in the background, so that the first call does not pay
      // for the connection inside its short deadline.
      ownChannel.getState(true);
      channel = ownChannel;
    } else {
      ownChannel = null;
    }
    ErrorMapServiceGrpc.ErrorMapServiceBlockingStub s = ErrorMapServiceGrpc.newBlockingStub(channel);
    if (!opts.locale.isEmpty()) {
      Metadata headers = new Metadata();
      headers.put(Metadata.Key.of("accept-language", Metadata.ASCII_STRING_MARSHALLER), opts.locale);
      s = s.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
    }
    this.stub = s;
    this.timeout = opts.timeout;
    this.onFallback = opts.onFallback;
    this.domain = opts.domain;
  }

  /** Closes the channel the client dialled (not one passed in {@link Options#channel}). */
  @Override
  public void close() {
    if (ownChannel != null) {
      ownChannel.shutdownNow();
      try {
        ownChannel.awaitTermination(1, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * Connects to errmap and asks it one question, waiting at most max, and builds one fallback
   * answer: a service calls it once at start-up, so that its first real calls do not spend their
   * short deadline on the connection and on loading classes (a cold JVM's first call takes
   * hundreds of milliseconds). Returns whether errmap answered; never throws.
   */
  public boolean warmUp(Duration max) {
    Fallback.status(500, domain);
    Fallback.gateway(Status.Code.INTERNAL, "", "", null);
    try {
      stub.withDeadlineAfter(max.toNanos(), TimeUnit.NANOSECONDS)
          .withWaitForReady()
          .resolveGrpcStatus(ResolveGrpcStatusRequest.getDefaultInstance());
      return true;
    } catch (RuntimeException e) {
      return false;
    }
  }

  /** How many answers so far were built without errmap. */
  public long fallbacks() {
    return fallbacks.get();
  }

  /** The generated stub with the client's deadline, for the RPCs' full requests and answers. */
  public ErrorMapServiceGrpc.ErrorMapServiceBlockingStub api() {
    return stub.withDeadlineAfter(timeout.toNanos(), TimeUnit.NANOSECONDS);
  }

  /**
   * The exception a gRPC service should fail its call with for what the gateway answered, carrying
   * errmap's code, message and details (ErrorInfo, LocalizedMessage, Help, RetryInfo) for the
   * grpc-status-details-bin trailer. {@code null} for the success entry (gRPC OK, such as
   * APIGATEWAY_SUCCESS or a bare 2xx).
   *
   * <p>When errmap cannot answer (unreachable, past the deadline, or answering with any error
   * status, including INVALID_ARGUMENT for an oversized body: that is the gateway's data, not the
   * caller's), the exception is built from httpStatus alone and carries the fallback mark (see
   * {@link #isFallback}). Never throws for errmap's sake.
   *
   * @throws IllegalArgumentException for an httpStatus outside 100-599, the caller's own mistake
   *     (errmap is not asked)
   */
  public StatusRuntimeException gatewayToGrpc(int httpStatus, GatewayInput in) {
    if (httpStatus < 100 || httpStatus > 599) {
      throw new IllegalArgumentException(
          "httpStatus must be an integer in 100-599, got " + httpStatus);
    }
    GatewayInput input = in == null ? new GatewayInput() : in;
    ResolveGatewayErrorRequest.Builder req =
        ResolveGatewayErrorRequest.newBuilder()
            .setHttpStatus(httpStatus)
            .setLocale(input.locale)
            .putAllParams(input.params)
            .setRequestId(input.requestId);
    if (input.body != null) {
      req.setBody(ByteString.copyFrom(input.body));
    } else {
      req.setCode(input.code);
    }
    ResolveGatewayErrorResponse res;
    try {
      res = api().resolveGatewayError(req.build());
    } catch (RuntimeException e) {
      fellBack("gatewayToGrpc", e);
      return Fallback.status(httpStatus, domain);
    }
    Resolution r = res.getResolution();
    if (isSuccess(r)) {
      return null;
    }
    if (!r.hasStatus()) {
      return Status.fromCodeValue(r.getGrpcCodeValue())
          .withDescription(r.getMessage())
          .asRuntimeException();
    }
    return StatusProto.toStatusRuntimeException(r.getStatus());
  }

  /**
   * Whether a resolution has no error to raise: the success entry, a bare 2xx, gRPC OK. errmap says
   * so in {@code success}; an errmap that predates the field leaves it false, and its grpc_code
   * still says OK.
   */
  static boolean isSuccess(Resolution r) {
    return r.getSuccess() || r.getGrpcCode() == Code.OK;
  }

  /** {@link #gatewayToGrpc(int, GatewayInput)} with the HTTP status and the code alone. */
  public StatusRuntimeException gatewayToGrpc(int httpStatus, String code) {
    return gatewayToGrpc(httpStatus, new GatewayInput().code(code));
  }

  /**
   * The HTTP status, gateway code and gateway JSON body for a gRPC error, as received from a call
   * or about to be raised. Its details (grpc-status-details-bin) travel to errmap, so an exception
   * made by {@link #gatewayToGrpc} comes back as the very entry it was made from. {@code null} is
   * OK (HTTP 200, the success entry); anything not a gRPC exception counts as UNKNOWN.
   *
   * <p>Always returns an answer: when errmap cannot give one, it is built from the code with
   * google/rpc/code.proto's HTTP mapping, {@code fallback()} is true and {@code code()} empty.
   */
  public GatewayError grpcToGateway(Throwable err, GrpcInput in) {
    GrpcInput input = in == null ? new GrpcInput() : in;
    Status status = err == null ? Status.OK : Status.fromThrowable(err);
    com.google.rpc.Status rich = err == null ? null : StatusProto.fromThrowable(err);
    String message = status.getDescription() == null ? "" : status.getDescription();
    String sent = cutUtf8(message, MAX_MESSAGE_BYTES);
    ResolveGrpcStatusRequest.Builder req =
        ResolveGrpcStatusRequest.newBuilder()
            .setCodeValue(status.getCode().value())
            .setMessage(sent)
            .setReason(input.reason)
            .putAllParams(input.params)
            .setLocale(input.locale)
            .setRequestId(input.requestId);
    if (rich != null && rich.getDetailsCount() > 0) {
      req.setStatus(rich.toBuilder().setMessage(sent));
    }
    ResolveGrpcStatusResponse res;
    try {
      res = api().resolveGrpcStatus(req.build());
    } catch (RuntimeException e) {
      fellBack("grpcToGateway", e);
      return Fallback.gateway(status.getCode(), message, input.requestId, e);
    }
    Resolution r = res.getResolution();
    return new GatewayError(
        r.getHttpStatus(),
        r.getEntry().getCode(),
        r.getGatewayErrorBody(),
        r.getMessage(),
        false,
        null);
  }

  /** {@link #grpcToGateway(Throwable, GrpcInput)} with no options. */
  public GatewayError grpcToGateway(Throwable err) {
    return grpcToGateway(err, null);
  }

  /**
   * Whether err was built by {@link #gatewayToGrpc} without errmap. Works on the exception as
   * returned and on the one a caller of the service received (the mark travels in the details).
   */
  public static boolean isFallback(Throwable err) {
    return Fallback.isFallback(err);
  }

  /**
   * The proto enum name of a resolution's match kind, such as "MATCH_KIND_CODE", read by number so
   * that a kind this client's proto does not know is named "MATCH_KIND_&lt;number&gt;".
   */
  public static String matchKindName(Resolution resolution) {
    return matchKindName(resolution.getMatchKindValue());
  }

  /** The proto enum name of a match kind, such as "MATCH_KIND_CODE". */
  public static String matchKindName(MatchKind kind) {
    return kind == MatchKind.UNRECOGNIZED ? "UNRECOGNIZED" : kind.name();
  }

  /**
   * The proto enum name of a match kind given by number, such as 1: "MATCH_KIND_CODE";
   * "MATCH_KIND_&lt;number&gt;" for a kind this client's proto does not know (a newer errmap).
   */
  public static String matchKindName(int kind) {
    MatchKind k = MatchKind.forNumber(kind);
    return k == null ? "MATCH_KIND_" + kind : k.name();
  }

  /**
   * Resolves many queries in one call and returns one result per query, in order; one bad query
   * fails only its own result. Throws {@link StatusRuntimeException} when the call itself fails.
   */
  public List<Result> resolveBatch(List<Query> queries) {
    BatchResolveRequest.Builder req = BatchResolveRequest.newBuilder();
    for (Query q : queries) {
      req.addQueries(q.toProto());
    }
    BatchResolveResponse res = api().batchResolve(req.build());
    if (res.getResultsCount() != queries.size()) {
      throw Status.INTERNAL
          .withDescription(
              "errmap: " + res.getResultsCount() + " results for " + queries.size() + " queries")
          .asRuntimeException();
    }
    List<Result> out = new ArrayList<>(res.getResultsCount());
    for (BatchResult r : res.getResultsList()) {
      switch (r.getResultCase()) {
        case RESOLUTION:
          out.add(new Result(r.getResolution(), null));
          break;
        case ERROR:
          out.add(new Result(null, r.getError()));
          break;
        default:
          out.add(
              new Result(
                  null,
                  com.google.rpc.Status.newBuilder()
                      .setCode(Code.UNKNOWN_VALUE)
                      .setMessage("errmap: a batch result with neither a resolution nor an error")
                      .build()));
      }
    }
    return out;
  }

  /**
   * Every catalog entry that passes the filter, in catalog order, read from ListErrors page by
   * page (each page a call with the client's deadline).
   */
  public List<CatalogEntry> listErrors(ErrorFilter filter) {
    ErrorFilter f = filter == null ? new ErrorFilter() : filter;
    ListErrorsRequest.Builder req = ListErrorsRequest.newBuilder().setPageSize(pageSize);
    f.apply(req);
    List<CatalogEntry> entries = new ArrayList<>();
    while (true) {
      ListErrorsResponse page = api().listErrors(req.build());
      entries.addAll(page.getEntriesList());
      String next = page.getNextPageToken();
      if (next.isEmpty()) {
        return Collections.unmodifiableList(entries);
      }
      if (next.equals(req.getPageToken())) {
        throw Status.INTERNAL
            .withDescription("errmap: ListErrors returned the same page token twice: " + next)
            .asRuntimeException();
      }
      req.setPageToken(next);
    }
  }

  /** Every catalog entry. */
  public List<CatalogEntry> listErrors() {
    return listErrors(null);
  }

  /**
   * One catalog entry by code or alias; httpStatus, when not 0, picks between rows sharing the
   * code. Throws NOT_FOUND for an unknown code.
   */
  public GetErrorResponse getError(String code, int httpStatus) {
    GetErrorRequest.Builder req = GetErrorRequest.newBuilder().setCode(code);
    if (httpStatus != 0) {
      req.setHttpStatus(httpStatus);
    }
    return api().getError(req.build());
  }

  /**
   * errmap's limit on a status message it is sent. The message plays no part in errmap's answer,
   * so a longer one is cut rather than costing the caller errmap's refusal and a fallback.
   */
  static final int MAX_MESSAGE_BYTES = 4096;

  /** s cut to at most max bytes of UTF-8, at a character boundary. */
  static String cutUtf8(String s, int max) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    if (b.length <= max) {
      return s;
    }
    int n = max;
    while (n > 0 && (b[n] & 0xC0) == 0x80) {
      n--;
    }
    return new String(b, 0, n, StandardCharsets.UTF_8);
  }

  private void fellBack(String op, Throwable cause) {
    fallbacks.incrementAndGet();
    if (onFallback != null) {
      onFallback.accept(op, cause);
    }
  }

  /** Copies params, refusing null keys or values the way protobuf would, but up front. */
  static Map<String, String> copyParams(Map<String, String> params) {
    if (params == null) {
      return Map.of();
    }
    return Map.copyOf(params);
  }
}
