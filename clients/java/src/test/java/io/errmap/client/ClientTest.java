package io.errmap.client;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.Code;
import io.errmap.client.rpc.ErrorInfo;
import io.errmap.client.rpc.LocalizedMessage;
import io.errmap.v1.CatalogEntry;
import io.errmap.v1.ErrorMapServiceGrpc;
import io.errmap.v1.GetErrorResponse;
import io.errmap.v1.ResolveGatewayErrorRequest;
import io.errmap.v1.ResolveGatewayErrorResponse;
import io.errmap.v1.ResolveGrpcStatusRequest;
import io.errmap.v1.ResolveGrpcStatusResponse;
import io.errmap.v1.Resolution;
import io.errmap.v1.Table;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The client's tests against a real errmap: ERRMAP_ADDR, or ERRMAP_BINARY started on a free
 * loopback port. A plain main: prints one line per test and "N passed, N failed", and exits 1 when
 * any failed (or, with CI=true, when there is no errmap to test against).
 */
public final class ClientTest {
  /** The clients' per-call deadline in tests: the machine may be busy. */
  private static final Duration TEST_TIMEOUT = Duration.ofSeconds(5);

  private static final Pattern LISTENING = Pattern.compile("listening on (\\S+:\\d+)");

  private static String addr;

  private ClientTest() {}

  interface Check {
    void run() throws Exception;
  }

  public static void main(String[] args) throws Exception {
    String binary = System.getenv("ERRMAP_BINARY");
    addr = System.getenv("ERRMAP_ADDR");
    boolean ci = "true".equals(System.getenv("CI"));
    if ((addr == null || addr.isEmpty()) && (binary == null || binary.isEmpty())) {
      System.out.println("neither ERRMAP_ADDR nor ERRMAP_BINARY is set");
      System.exit(ci ? 1 : 0);
    }
    Errmap shared = null;
    if (addr == null || addr.isEmpty()) {
      shared = Errmap.start(binary);
      addr = shared.addr;
    }
    Map<String, Check> tests = new LinkedHashMap<>();
    tests.put("gatewayToGrpc", ClientTest::gatewayToGrpc);
    tests.put("grpcToGateway", ClientTest::grpcToGateway);
    tests.put("locale", ClientTest::locale);
    tests.put("helpers", ClientTest::helpers);
    tests.put("round trip of every entry", ClientTest::roundTripAllEntries);
    tests.put("fallback tables match the server", ClientTest::fallbackTables);
    tests.put("fallback body", ClientTest::fallbackBody);
    tests.put("fallback when errmap stops", () -> fallbackWhenStopped(binary, ci));
    tests.put("fallback when errmap is slow or confused", ClientTest::fallbackSlowOrConfused);
    tests.put("match kind names", ClientTest::matchKindNames);
    tests.put("fallback mark on the wire", ClientTest::fallbackMark);
    tests.put("isFallback needs the whole mark", ClientTest::wholeMark);
    tests.put("fallback body escapes", ClientTest::fallbackBodyEscapes);
    int passed = 0;
    int failed = 0;
    int skipped = 0;
    for (Map.Entry<String, Check> t : tests.entrySet()) {
      try {
        t.getValue().run();
        System.out.println("ok   " + t.getKey());
        passed++;
      } catch (Skip s) {
        System.out.println("skip " + t.getKey() + ": " + s.getMessage());
        skipped++;
      } catch (Throwable e) {
        System.out.println("FAIL " + t.getKey() + ": " + e);
        e.printStackTrace(System.out);
        failed++;
      }
    }
    if (shared != null) {
      shared.stop();
    }
    System.out.println();
    System.out.println(
        "java: " + passed + " passed, " + failed + " failed" + (skipped > 0 ? ", " + skipped + " skipped" : ""));
    System.exit(failed == 0 ? 0 : 1);
  }

  /** A test that cannot run here (only outside CI). */
  static final class Skip extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Skip(String why) {
      super(why);
    }
  }

  static void check(boolean ok, String what) {
    if (!ok) {
      throw new AssertionError(what);
    }
  }

  static void equal(Object got, Object want, String what) {
    if (got == null ? want != null : !got.equals(want)) {
      throw new AssertionError(what + ": got " + got + ", want " + want);
    }
  }

  static ErrmapClient client(ErrmapClient.Options opts) {
    return new ErrmapClient(addr, opts.timeout(TEST_TIMEOUT));
  }

  static ErrorInfo errorInfo(Throwable err) throws InvalidProtocolBufferException {
    com.google.rpc.Status st = StatusProto.fromThrowable(err);
    check(st != null, "no details in " + err);
    for (Any d : st.getDetailsList()) {
      if (d.is(ErrorInfo.class)) {
        return d.unpack(ErrorInfo.class);
      }
    }
    throw new AssertionError("no ErrorInfo in " + st);
  }

  static String localized(Throwable err) throws InvalidProtocolBufferException {
    com.google.rpc.Status st = StatusProto.fromThrowable(err);
    check(st != null, "no details in " + err);
    for (Any d : st.getDetailsList()) {
      if (d.is(LocalizedMessage.class)) {
        LocalizedMessage m = d.unpack(LocalizedMessage.class);
        return m.getLocale() + " " + m.getMessage();
      }
    }
    throw new AssertionError("no LocalizedMessage in " + st);
  }

  static void gatewayToGrpc() throws Exception {
    try (ErrmapClient c = client(new ErrmapClient.Options())) {
      StatusRuntimeException err =
          c.gatewayToGrpc(403, new GatewayInput().code("APIGW_NONCE_CONFLICT").requestId("req-1"));
      equal(err.getStatus().getCode(), Status.Code.PERMISSION_DENIED, "code");
      ErrorInfo info = errorInfo(err);
      equal(info.getReason(), "APIGW_NONCE_CONFLICT", "reason");
      equal(info.getMetadataOrDefault("httpStatus", ""), "403", "httpStatus metadata");
      check(!ErrmapClient.isFallback(err), "errmap's answer reads as a fallback");

      byte[] body =
          "{\"requestId\":\"r9\",\"error\":{\"code\":429,\"status\":\"RATE_LIMIT_EXCEEDED\",\"message\":\"x\"}}"
              .getBytes(StandardCharsets.UTF_8);
      err = c.gatewayToGrpc(429, new GatewayInput().body(body));
      equal(err.getStatus().getCode(), Status.Code.RESOURCE_EXHAUSTED, "body: code");
      equal(errorInfo(err).getReason(), "RATE_LIMIT_EXCEEDED", "body: reason");

      err = c.gatewayToGrpc(404, "NO_SUCH_CODE_AT_ALL");
      equal(err.getStatus().getCode(), Status.Code.NOT_FOUND, "unknown code");
      check(!ErrmapClient.isFallback(err), "unknown code reads as a fallback");

      err =
          c.gatewayToGrpc(
              404,
              new GatewayInput()
                  .code("RESOURCE_NOT_EXIST")
                  .locale("en-US")
                  .params(Map.of("resource", "vpc-7")));
      check(localized(err).contains("vpc-7"), "params: " + localized(err));

      equal(c.gatewayToGrpc(200, "APIGATEWAY_SUCCESS"), null, "success entry");
      equal(c.gatewayToGrpc(200, ""), null, "bare 200");
      equal(c.gatewayToGrpc(204, new GatewayInput()), null, "bare 204");

      // errmap says success plainly; an errmap that predates the field says it by grpc_code
      // alone, and either is enough.
      Resolution success =
          c.api()
              .resolveGatewayError(
                  ResolveGatewayErrorRequest.newBuilder()
                      .setCode("APIGATEWAY_SUCCESS")
                      .setHttpStatus(200)
                      .build())
              .getResolution();
      check(success.getSuccess() && success.getGrpcCode() == Code.OK, "success: " + success);
      check(ErrmapClient.isSuccess(success), "the success entry is not read as success");
      Resolution denied =
          c.api()
              .resolveGatewayError(
                  ResolveGatewayErrorRequest.newBuilder()
                      .setCode("APIGW_NONCE_CONFLICT")
                      .setHttpStatus(403)
                      .build())
              .getResolution();
      check(!denied.getSuccess() && !ErrmapClient.isSuccess(denied), "denied: " + denied);
      check(
          ErrmapClient.isSuccess(
              Resolution.newBuilder().setSuccess(true).setGrpcCode(Code.UNAVAILABLE).build()),
          "the success field is not read");
      check(
          ErrmapClient.isSuccess(Resolution.newBuilder().setGrpcCode(Code.OK).build()),
          "grpc_code OK without the field is not read as success");
      check(
          !ErrmapClient.isSuccess(Resolution.newBuilder().setGrpcCode(Code.UNAVAILABLE).build()),
          "UNAVAILABLE without success is read as success");

      // An HTTP status outside 100-599 is the caller's own mistake.
      for (int hs : new int[] {700, 99, 0, -1}) {
        try {
          c.gatewayToGrpc(hs, new GatewayInput());
          throw new AssertionError("HTTP " + hs + ": no IllegalArgumentException");
        } catch (IllegalArgumentException e) {
          check(e.getMessage().contains("100-599"), "HTTP " + hs + ": " + e.getMessage());
        }
      }
      equal(c.fallbacks(), 0L, "fallbacks with errmap up");

      // errmap refusing the gateway's own data (a body over 64 KiB) is a fallback.
      err = c.gatewayToGrpc(403, new GatewayInput().body(new byte[65 * 1024]));
      equal(err.getStatus().getCode(), Status.Code.PERMISSION_DENIED, "oversized body: code");
      check(ErrmapClient.isFallback(err), "oversized body: not a fallback: " + err);
      equal(c.fallbacks(), 1L, "fallbacks after an oversized body");
    }
  }

  static void grpcToGateway() throws Exception {
    try (ErrmapClient c = client(new ErrmapClient.Options())) {
      GatewayError g =
          c.grpcToGateway(
              Status.RESOURCE_EXHAUSTED.withDescription("slow down").asRuntimeException(),
              new GrpcInput().requestId("req-2"));
      equal(g.httpStatus(), 429, "http");
      equal(g.code(), "QUOTA_EXCEEDED", "code");
      check(!g.fallback(), "fallback");
      equal(
          g.body(),
          Fallback.body("req-2", 429, "QUOTA_EXCEEDED", g.message()),
          "body (rendered by this library's renderer for comparison)");

      g =
          c.grpcToGateway(
              Status.RESOURCE_EXHAUSTED.asException(), new GrpcInput().reason("RATE_LIMIT_EXCEEDED"));
      equal(g.code(), "RATE_LIMIT_EXCEEDED", "reason");

      // A message over errmap's 4096 bytes is cut, not a reason to fall back.
      String longMessage = "é".repeat(5000);
      StatusRuntimeException withInfo =
          StatusProto.toStatusRuntimeException(
              com.google.rpc.Status.newBuilder()
                  .setCode(Status.Code.RESOURCE_EXHAUSTED.value())
                  .setMessage(longMessage)
                  .addDetails(Any.pack(ErrorInfo.newBuilder().setReason("RATE_LIMIT_EXCEEDED").build()))
                  .build());
      for (StatusRuntimeException e :
          List.of(Status.NOT_FOUND.withDescription(longMessage).asRuntimeException(), withInfo)) {
        g = c.grpcToGateway(e);
        check(!g.fallback(), "long message: " + g);
        equal(g.httpStatus(), Fallback.httpStatusForCode(e.getStatus().getCode()), "long message: http");
      }
      equal(ErrmapClient.cutUtf8(longMessage, 4096).getBytes(StandardCharsets.UTF_8).length, 4096, "cut");
      equal(ErrmapClient.cutUtf8("aé", 2), "a", "cut at a boundary");

      // errmap refusing the input (a control character in the request id) still gives an
      // answer, from the code, saying why.
      g =
          c.grpcToGateway(
              Status.NOT_FOUND.withDescription("gone").asRuntimeException(),
              new GrpcInput().requestId("a\u0001b"));
      check(
          g.fallback()
              && Status.fromThrowable(g.cause()).getCode() == Status.Code.INVALID_ARGUMENT
              && g.httpStatus() == 404
              && c.fallbacks() == 1,
          "refused input: " + g + ", " + c.fallbacks() + " fallbacks");

      Object[][] cases = {
        {null, 200, "APIGATEWAY_SUCCESS"},
        {new IllegalStateException("plain"), 500, "UNKNOWN"},
        {Status.DATA_LOSS.withDescription("lost").asRuntimeException(), 500, "INTERNAL"},
        {Status.CANCELLED.asException(), 499, "CANCELLED"},
      };
      for (Object[] tc : cases) {
        g = c.grpcToGateway((Throwable) tc[0]);
        equal(g.httpStatus(), tc[1], tc[0] + ": http");
        equal(g.code(), tc[2], tc[0] + ": code");
        check(!g.fallback(), tc[0] + ": fallback");
      }
    }
  }

  static void locale() throws Exception {
    StatusRuntimeException unavailable = Status.UNAVAILABLE.asRuntimeException();
    try (ErrmapClient zh = client(new ErrmapClient.Options());
        ErrmapClient en = client(new ErrmapClient.Options().locale("en-US"));
        ErrmapClient enList =
            client(new ErrmapClient.Options().locale("en-GB,en;q=0.8,zh;q=0.5"))) {
      equal(zh.grpcToGateway(unavailable).message(), "服务不可用", "default locale");
      equal(en.grpcToGateway(unavailable).message(), "Service is unavailable", "accept-language en-US");
      equal(enList.grpcToGateway(unavailable).message(), "Service is unavailable", "accept-language list");
      equal(
          en.grpcToGateway(unavailable, new GrpcInput().locale("zh-CN")).message(),
          "服务不可用",
          "call locale over accept-language");
      equal(localized(en.gatewayToGrpc(503, "UNAVAILABLE")), "en-US Service is unavailable", "gateway, accept-language");
      equal(
          localized(en.gatewayToGrpc(503, new GatewayInput().code("UNAVAILABLE").locale("zh"))),
          "zh-CN 服务不可用",
          "gateway, call locale");
    }
  }

  static void helpers() throws Exception {
    try (ErrmapClient c = client(new ErrmapClient.Options())) {
      List<Result> results =
          c.resolveBatch(
              List.of(
                  Query.gateway(ResolveGatewayErrorRequest.newBuilder().setCode("APIGW_SIGN_RESULT_NOT_SAME").build()),
                  Query.grpc(ResolveGrpcStatusRequest.newBuilder().setCode(com.google.rpc.Code.DEADLINE_EXCEEDED).build()),
                  Query.gateway(ResolveGatewayErrorRequest.newBuilder().setHttpStatus(700).build())));
      equal(results.size(), 3, "results");
      check(results.get(0).ok() && results.get(1).ok() && !results.get(2).ok(), "result kinds " + results);
      equal(results.get(0).resolution().getGrpcCode(), com.google.rpc.Code.UNAUTHENTICATED, "[0]");
      equal(results.get(1).resolution().getHttpStatus(), 504, "[1]");
      equal(results.get(2).error().getCode(), Status.Code.INVALID_ARGUMENT.value(), "[2]");
      equal(ErrmapClient.matchKindName(results.get(0).resolution().getMatchKind()), "MATCH_KIND_CODE", "kind [0]");
      equal(ErrmapClient.matchKindName(results.get(1).resolution().getMatchKind()), "MATCH_KIND_GRPC_CODE", "kind [1]");

      List<CatalogEntry> all = c.listErrors();
      equal(all.size(), 82, "all entries");
      long want =
          all.stream()
              .filter(e -> e.getHttpStatus() == 409 && e.getGrpcCode() == com.google.rpc.Code.ALREADY_EXISTS)
              .count();
      check(want > 0, "no 409 ALREADY_EXISTS entries");
      equal(
          (long) c.listErrors(new ErrorFilter().httpStatus(409).grpcCode(Status.Code.ALREADY_EXISTS)).size(),
          want,
          "409 ALREADY_EXISTS");
      equal(c.listErrors(new ErrorFilter().table(Table.TABLE_SDK)).size(), 20, "TABLE_SDK");
      List<CatalogEntry> ok = c.listErrors(new ErrorFilter().grpcCode(Status.Code.OK));
      check(ok.size() == 1 && ok.get(0).getCode().equals("APIGATEWAY_SUCCESS"), "OK entries " + ok);

      try (ErrmapClient small = client(new ErrmapClient.Options())) {
        small.pageSize = 7;
        equal(small.listErrors(), all, "pages of 7");
      }

      GetErrorResponse got = c.getError("FAILED_PRECONDITION", 409);
      equal(got.getEntry().getHttpStatus(), 409, "GetError entry");
      check(
          got.getOtherRowsCount() == 1 && got.getOtherRows(0).getHttpStatus() == 400,
          "GetError other rows " + got.getOtherRowsList());
      try {
        c.getError("NO_SUCH_CODE_AT_ALL", 0);
        throw new AssertionError("GetError of an unknown code succeeded");
      } catch (StatusRuntimeException e) {
        equal(e.getStatus().getCode(), Status.Code.NOT_FOUND, "GetError unknown");
      }
    }
  }

  /**
   * A tiny grpc-java server of the test's own: every call fails with the exception registered
   * under the request's bytes (a key), as a service's handler would fail it, so what its caller
   * sees is what travelled over the wire.
   */
  static final class Relay implements AutoCloseable {
    static final MethodDescriptor.Marshaller<byte[]> BYTES =
        new MethodDescriptor.Marshaller<>() {
          @Override
          public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
          }

          @Override
          public byte[] parse(InputStream stream) {
            try {
              return stream.readAllBytes();
            } catch (IOException e) {
              throw new UncheckedIOException(e);
            }
          }
        };
    static final MethodDescriptor<byte[], byte[]> PLACE =
        MethodDescriptor.<byte[], byte[]>newBuilder()
            .setType(MethodDescriptor.MethodType.UNARY)
            .setFullMethodName("demo.v1.Orders/Place")
            .setRequestMarshaller(BYTES)
            .setResponseMarshaller(BYTES)
            .build();

    final Map<String, StatusRuntimeException> errors = new ConcurrentHashMap<>();
    final Server server;
    final ManagedChannel channel;

    Relay() throws IOException {
      ServerServiceDefinition service =
          ServerServiceDefinition.builder("demo.v1.Orders")
              .addMethod(
                  PLACE,
                  ServerCalls.asyncUnaryCall(
                      (byte[] req, StreamObserver<byte[]> out) -> {
                        StatusRuntimeException e =
                            errors.get(new String(req, StandardCharsets.UTF_8));
                        if (e != null) {
                          out.onError(e);
                        } else {
                          out.onNext(new byte[0]);
                          out.onCompleted();
                        }
                      }))
              .build();
      server =
          NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
              .addService(service)
              .build()
              .start();
      channel =
          NettyChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext().build();
    }

    /** What a caller of the relay receives when its handler fails with err (null: success). */
    StatusRuntimeException through(String key, StatusRuntimeException err) {
      if (err != null) {
        errors.put(key, err);
      }
      try {
        ClientCalls.blockingUnaryCall(
            channel,
            PLACE,
            CallOptions.DEFAULT.withDeadlineAfter(TEST_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS),
            key.getBytes(StandardCharsets.UTF_8));
        return null;
      } catch (StatusRuntimeException e) {
        return e;
      }
    }

    @Override
    public void close() {
      channel.shutdownNow();
      server.shutdownNow();
      try {
        channel.awaitTermination(5, TimeUnit.SECONDS);
        server.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * Every catalog entry makes a round trip: the library builds the exception from the entry, a
   * grpc-java handler fails with it, its caller decodes the status from the wire, and errmap
   * translates it back to the same entry.
   */
  static void roundTripAllEntries() throws Exception {
    try (ErrmapClient c = client(new ErrmapClient.Options());
        Relay relay = new Relay()) {
      List<CatalogEntry> all = c.listErrors();
      equal(all.size(), 82, "entries");
      int i = 0;
      for (CatalogEntry e : all) {
        String key = i++ + "-" + e.getCode() + "-" + e.getHttpStatus();
        StatusRuntimeException made = c.gatewayToGrpc(e.getHttpStatus(), e.getCode());
        StatusRuntimeException received = relay.through(key, made);
        Status.Code got = received == null ? Status.Code.OK : received.getStatus().getCode();
        equal(got.value(), e.getGrpcCodeValue(), key + ": received code");
        if (received != null) {
          equal(errorInfo(received).getReason(), e.getCode(), key + ": reason");
        }
        GatewayError back = c.grpcToGateway(received);
        check(!back.fallback(), key + ": fallback");
        equal(back.code(), e.getCode(), key + ": code back");
        equal(back.httpStatus(), e.getHttpStatus(), key + ": HTTP status back");
      }
      equal(c.fallbacks(), 0L, "fallbacks");
    }
  }

  /**
   * The fallback tables are errmap's own: compared with its answers for every HTTP status the
   * catalog uses (and a few it does not), and every code.
   */
  static void fallbackTables() throws Exception {
    try (ErrmapClient c = client(new ErrmapClient.Options())) {
      Set<Integer> statuses = new TreeSet<>(List.of(100, 204, 302, 418, 451, 505, 599));
      for (CatalogEntry e : c.listErrors()) {
        statuses.add(e.getHttpStatus());
      }
      for (int hs : statuses) {
        ResolveGatewayErrorResponse res =
            c.api().resolveGatewayError(ResolveGatewayErrorRequest.newBuilder().setHttpStatus(hs).build());
        equal(
            Fallback.codeForHttpStatus(hs).value(),
            res.getResolution().getGrpcCodeValue(),
            "HTTP " + hs + ": table vs errmap");
      }
      for (Status.Code code : Status.Code.values()) {
        ResolveGrpcStatusResponse res =
            c.api().resolveGrpcStatus(ResolveGrpcStatusRequest.newBuilder().setCodeValue(code.value()).build());
        equal(Fallback.httpStatusForCode(code), res.getResolution().getHttpStatus(), code + ": table vs errmap");
      }
    }
  }

  /** The fallback body is rendered the way errmap renders its own, escapes included. */
  static void fallbackBody() throws Exception {
    try (ErrmapClient c = client(new ErrmapClient.Options())) {
      String id = "r\"1\\/<&>é中";
      GatewayError real =
          c.grpcToGateway(Status.UNAVAILABLE.asRuntimeException(), new GrpcInput().requestId(id));
      check(!real.fallback(), "errmap did not answer: " + real);
      equal(Fallback.body(id, real.httpStatus(), real.code(), real.message()), real.body(), "body");
    }
  }

  /** Stopping errmap mid-run: the calls that follow fall back, within the deadline, and say so. */
  static void fallbackWhenStopped(String binary, boolean ci) throws Exception {
    if (binary == null || binary.isEmpty()) {
      if (ci) {
        throw new AssertionError("ERRMAP_BINARY is not set; under CI=true this fails");
      }
      throw new Skip("ERRMAP_BINARY is not set");
    }
    Errmap own = Errmap.start(binary);
    List<String> causes = new CopyOnWriteArrayList<>();
    try (ErrmapClient c =
            new ErrmapClient(
                own.addr,
                new ErrmapClient.Options()
                    .onFallback((op, cause) -> causes.add(op + ": " + Status.fromThrowable(cause).getCode())));
        Relay relay = new Relay()) {
      // Up: real answers (retried while the first connection warms up, as
      // the default deadline is short).
      StatusRuntimeException up = null;
      for (int i = 0; i < 100; i++) {
        up = c.gatewayToGrpc(403, "APIGW_NONCE_CONFLICT");
        if (!ErrmapClient.isFallback(up)) {
          break;
        }
      }
      check(!ErrmapClient.isFallback(up), "errmap up: " + up);
      equal(errorInfo(up).getReason(), "APIGW_NONCE_CONFLICT", "errmap up: reason");
      GatewayError real =
          c.grpcToGateway(
              Status.UNAVAILABLE.withDescription("db down").asRuntimeException(),
              new GrpcInput().requestId("r-1"));
      check(!real.fallback(), "errmap up: " + real);
      long before = c.fallbacks();

      own.stop();

      for (int i = 0; i < 20; i++) {
        long start = System.nanoTime();
        StatusRuntimeException err = c.gatewayToGrpc(403, "APIGW_NONCE_CONFLICT");
        GatewayError g =
            c.grpcToGateway(
                Status.UNAVAILABLE.withDescription("db down").asRuntimeException(),
                new GrpcInput().requestId("r-1"));
        long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        check(took < 2000, "two calls with errmap down took " + took + " ms");
        equal(err.getStatus().getCode(), Status.Code.PERMISSION_DENIED, "fallback code");
        check(ErrmapClient.isFallback(err), "not marked as a fallback: " + err);
        ErrorInfo info = errorInfo(err);
        check(
            info.getReason().isEmpty()
                && info.getDomain().equals(Fallback.DOMAIN)
                && info.getMetadataMap().equals(Map.of("errmapFallback", "true", "httpStatus", "403"))
                && err.getStatus().getDescription().equals("HTTP status 403"),
            "fallback " + err + ", ErrorInfo " + info);
        StatusRuntimeException received = relay.through("fallback-" + i, err);
        check(
            ErrmapClient.isFallback(received)
                && received.getStatus().getCode() == Status.Code.PERMISSION_DENIED,
            "fallback through a server: " + received);
        check(
            g.fallback() && g.cause() != null && g.httpStatus() == 503 && g.code().isEmpty() && g.message().equals("db down"),
            "gRPC→gateway with errmap down: " + g);
        equal(g.body(), Fallback.body("r-1", 503, "UNAVAILABLE", "db down"), "fallback body");
        check(
            real.body().startsWith("{\"requestId\":\"r-1\",\"error\":{\"code\":503,\"status\":\""),
            "a real body has the fallback's shape: " + real.body());
        equal(c.gatewayToGrpc(200, "APIGATEWAY_SUCCESS"), null, "success with errmap down");
      }
      equal(c.fallbacks() - before, 60L, "fallbacks counted");
      equal((long) causes.size(), c.fallbacks(), "onFallback calls");
    } finally {
      own.stop();
    }
  }

  /** An errmap that never answers, or answers with statuses it should not. */
  static final class Fake extends ErrorMapServiceGrpc.ErrorMapServiceImplBase {
    final Status answer;

    Fake(Status answer) {
      this.answer = answer;
    }

    @Override
    public void resolveGatewayError(
        ResolveGatewayErrorRequest request, StreamObserver<ResolveGatewayErrorResponse> out) {
      if (answer != null) {
        out.onError(answer.asRuntimeException());
      }
    }

    @Override
    public void resolveGrpcStatus(
        ResolveGrpcStatusRequest request, StreamObserver<ResolveGrpcStatusResponse> out) {
      if (answer != null) {
        out.onError(answer.asRuntimeException());
      }
    }
  }

  static void fallbackSlowOrConfused() throws Exception {
    List<Server> servers = new ArrayList<>();
    Map<String, String> addrs = new LinkedHashMap<>();
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      addrs.put("nothing listening", "127.0.0.1:" + s.getLocalPort());
    }
    try {
      Map<String, NettyServerBuilder> builders = new LinkedHashMap<>();
      builders.put("slow", builder().addService(new Fake(null)));
      builders.put("INTERNAL", builder().addService(new Fake(Status.INTERNAL.withDescription("confused"))));
      builders.put("UNIMPLEMENTED", builder());
      for (Map.Entry<String, NettyServerBuilder> b : builders.entrySet()) {
        Server server = b.getValue().build().start();
        servers.add(server);
        addrs.put(b.getKey(), "127.0.0.1:" + server.getPort());
      }
      for (Map.Entry<String, String> a : addrs.entrySet()) {
        try (ErrmapClient c = new ErrmapClient(a.getValue(), new ErrmapClient.Options())) {
          long start = System.nanoTime();
          StatusRuntimeException err = c.gatewayToGrpc(503, "UNAVAILABLE");
          GatewayError g = c.grpcToGateway(Status.NOT_FOUND.withDescription("gone").asRuntimeException());
          long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
          check(
              ErrmapClient.isFallback(err) && err.getStatus().getCode() == Status.Code.UNAVAILABLE,
              a.getKey() + ": gatewayToGrpc " + err);
          check(g.fallback() && g.httpStatus() == 404, a.getKey() + ": grpcToGateway " + g);
          check(took < 2000, a.getKey() + ": two calls took " + took + " ms");
          equal(c.fallbacks(), 2L, a.getKey() + ": fallbacks");
        }
      }
    } finally {
      for (Server s : servers) {
        s.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }

  static NettyServerBuilder builder() {
    return NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0));
  }

  static final Metadata.Key<byte[]> DETAILS_KEY =
      Metadata.Key.of("grpc-status-details-bin", Metadata.BINARY_BYTE_MARSHALLER);

  /**
   * Decodes raw grpc-status-details-bin bytes and checks the fallback mark the four clients share:
   * one ErrorInfo with an empty reason, the domain, and metadata {"errmapFallback": "true",
   * "httpStatus": "N"}; the message "HTTP status N".
   */
  static void checkMark(byte[] raw, Status.Code code, int httpStatus, String domain)
      throws InvalidProtocolBufferException {
    check(raw != null && raw.length > 0, "no grpc-status-details-bin");
    com.google.rpc.Status st = com.google.rpc.Status.parseFrom(raw);
    equal(st.getCode(), code.value(), "mark: code");
    equal(st.getMessage(), "HTTP status " + httpStatus, "mark: message");
    equal(st.getDetailsCount(), 1, "mark: details");
    equal(st.getDetails(0).getTypeUrl(), "type.googleapis.com/google.rpc.ErrorInfo", "mark: type URL");
    ErrorInfo info = ErrorInfo.parseFrom(st.getDetails(0).getValue());
    equal(info.getReason(), "", "mark: reason");
    equal(info.getDomain(), domain, "mark: domain");
    equal(
        info.getMetadataMap(),
        Map.of("errmapFallback", "true", "httpStatus", Integer.toString(httpStatus)),
        "mark: metadata");
  }

  /** The fallback mark, read from the raw bytes, as returned and as a caller receives it. */
  static void fallbackMark() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    try (ErrmapClient c =
            new ErrmapClient(
                "127.0.0.1:" + port,
                new ErrmapClient.Options().timeout(TEST_TIMEOUT).domain("orders.example.com"));
        Relay relay = new Relay()) {
      StatusRuntimeException made = c.gatewayToGrpc(429, "QUOTA_EXCEEDED");
      check(ErrmapClient.isFallback(made), "not a fallback: " + made);
      equal(Fallback.METADATA_KEY, "errmapFallback", "METADATA_KEY");
      byte[] sent = made.getTrailers().get(DETAILS_KEY);
      checkMark(sent, Status.Code.RESOURCE_EXHAUSTED, 429, "orders.example.com");
      check(
          java.util.Arrays.equals(
              Fallback.status(429, "orders.example.com").getTrailers().get(DETAILS_KEY), sent),
          "Fallback.status differs from gatewayToGrpc's fallback");
      equal(Fallback.status(204, Fallback.DOMAIN), null, "Fallback.status(204)");
      StatusRuntimeException received = relay.through("mark", made);
      byte[] got = received.getTrailers().get(DETAILS_KEY);
      check(java.util.Arrays.equals(got, sent), "the bytes changed on the wire");
      checkMark(got, Status.Code.RESOURCE_EXHAUSTED, 429, "orders.example.com");
      check(ErrmapClient.isFallback(received), "received is not a fallback: " + received);
    }
  }

  /** isFallback wants the whole mark; errmap's own answers never carry it. */
  static void wholeMark() throws Exception {
    java.util.function.Function<ErrorInfo, StatusRuntimeException> with =
        info ->
            StatusProto.toStatusRuntimeException(
                com.google.rpc.Status.newBuilder()
                    .setCode(Status.Code.INTERNAL.value())
                    .setMessage("x")
                    .addDetails(Any.pack(info))
                    .build());
    Map<String, String> mark = Map.of("errmapFallback", "true", "httpStatus", "500");
    check(
        ErrmapClient.isFallback(with.apply(ErrorInfo.newBuilder().setDomain("d").putAllMetadata(mark).build())),
        "the mark is not read");
    for (ErrorInfo info :
        List.of(
            ErrorInfo.newBuilder().setDomain("d").putMetadata("httpStatus", "500").build(),
            ErrorInfo.newBuilder().setReason("INTERNAL").setDomain("d").putAllMetadata(mark).build(),
            ErrorInfo.newBuilder().setDomain("d").putMetadata("errmapFallback", "1").build())) {
      check(!ErrmapClient.isFallback(with.apply(info)), info + " reads as a fallback");
    }
    try (ErrmapClient c = client(new ErrmapClient.Options())) {
      for (Object[] tc : new Object[][] {{500, "INTERNAL"}, {418, ""}, {403, "APIGW_NONCE_CONFLICT"}}) {
        StatusRuntimeException err = c.gatewayToGrpc((Integer) tc[0], (String) tc[1]);
        check(
            !ErrmapClient.isFallback(err) && !errorInfo(err).containsMetadata("errmapFallback"),
            tc[0] + " " + tc[1] + ": errmap's answer carries the mark: " + err);
      }
      equal(c.fallbacks(), 0L, "fallbacks with errmap up");
    }
  }

  /**
   * The fallback body escapes strings as errmap and the other three clients do: the same input and
   * expected text are in each client's tests.
   */
  static void fallbackBodyEscapes() {
    equal(
        Fallback.body("r-1", 500, "INTERNAL", "a\"b\\c\b\f\n\r\t\u0001\u001f\u2028中"),
        "{\"requestId\":\"r-1\",\"error\":{\"code\":500,\"status\":\"INTERNAL\",\"message\":"
            + "\"a\\\"b\\\\c\\b\\f\\n\\r\\t\\u0001\\u001f\u2028中\"}}",
        "escaped body");
  }

  static void matchKindNames() {
    equal(
        ErrmapClient.matchKindName(io.errmap.v1.MatchKind.MATCH_KIND_STATUS_FALLBACK),
        "MATCH_KIND_STATUS_FALLBACK",
        "by enum");
    equal(ErrmapClient.matchKindName(1), "MATCH_KIND_CODE", "by number");
    equal(ErrmapClient.matchKindName(99), "MATCH_KIND_99", "unknown number");
    equal(
        ErrmapClient.matchKindName(io.errmap.v1.Resolution.newBuilder().setMatchKindValue(99).build()),
        "MATCH_KIND_99",
        "unknown number in a resolution");
  }

  /** An errmap process started by the tests. */
  static final class Errmap {
    final Process process;
    final String addr;

    private Errmap(Process process, String addr) {
      this.process = process;
      this.addr = addr;
    }

    static Errmap start(String binary) throws IOException, InterruptedException {
      Process p =
          new ProcessBuilder(
                  binary,
                  "--listen", "127.0.0.1:0",
                  "--admin-listen", "off",
                  "--http-listen", "off",
                  "--shutdown-grace", "1s")
              .redirectErrorStream(true)
              .start();
      BufferedReader out =
          new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      String line;
      while (System.nanoTime() < deadline && (line = out.readLine()) != null) {
        Matcher m = LISTENING.matcher(line);
        if (m.find()) {
          // Keep reading, so that the log never fills the pipe.
          Thread drain =
              new Thread(
                  () -> {
                    try {
                      while (out.readLine() != null) {
                        // discarded
                      }
                    } catch (IOException e) {
                      // the process is gone
                    }
                  });
          drain.setDaemon(true);
          drain.start();
          waitForPort(m.group(1));
          return new Errmap(p, m.group(1));
        }
      }
      p.destroyForcibly();
      throw new IOException(binary + " did not log its address within 20s");
    }

    static void waitForPort(String addr) throws InterruptedException {
      int colon = addr.lastIndexOf(':');
      for (int i = 0; i < 100; i++) {
        try (Socket s = new Socket(addr.substring(0, colon), Integer.parseInt(addr.substring(colon + 1)))) {
          check(s.isConnected(), "connected to " + addr);
          return;
        } catch (IOException e) {
          Thread.sleep(50);
        }
      }
    }

    /** SIGTERM, and wait; SIGKILL after 10 s. */
    void stop() throws InterruptedException {
      if (!process.isAlive()) {
        return;
      }
      process.destroy();
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor();
        throw new AssertionError("errmap still ran 10s after SIGTERM");
      }
    }
  }
}
