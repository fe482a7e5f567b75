package io.errmap.client;

import java.util.Map;

/** Optional fields of a gRPC error's translation. */
public final class GrpcInput {
  String locale = "";
  Map<String, String> params = Map.of();
  String requestId = "";
  String reason = "";

  /** The locale of the answer ("zh-CN", "en-US"); overrides the client's. */
  public GrpcInput locale(String locale) {
    this.locale = locale == null ? "" : locale;
    return this;
  }

  /** Values for the message's placeholders. */
  public GrpcInput params(Map<String, String> params) {
    this.params = ErrmapClient.copyParams(params);
    return this;
  }

  /** The request id for the gateway error body. */
  public GrpcInput requestId(String requestId) {
    this.requestId = requestId == null ? "" : requestId;
    return this;
  }

  /**
   * The gateway code to report when the error carries no ErrorInfo naming one, such as
   * "RATE_LIMIT_EXCEEDED" for RESOURCE_EXHAUSTED.
   */
  public GrpcInput reason(String reason) {
    this.reason = reason == null ? "" : reason;
    return this;
  }
}
