package io.errmap.client;

import java.util.Map;

/** What the gateway answered besides its HTTP status, and how to phrase the answer; all optional. */
public final class GatewayInput {
  byte[] body;
  String code = "";
  String locale = "";
  Map<String, String> params = Map.of();
  String requestId = "";

  /** The gateway's raw JSON error body; errmap reads the code from it. When set, code is not sent. */
  public GatewayInput body(byte[] body) {
    this.body = body == null ? null : body.clone();
    return this;
  }

  /** The gateway code, such as "APIGW_NONCE_CONFLICT". */
  public GatewayInput code(String code) {
    this.code = code == null ? "" : code;
    return this;
  }

  /** The locale of the answer for this call ("zh-CN", "en-US"); overrides the client's. */
  public GatewayInput locale(String locale) {
    this.locale = locale == null ? "" : locale;
    return this;
  }

  /** Values for the message's placeholders, such as {"resource": "vpc-1"}. */
  public GatewayInput params(Map<String, String> params) {
    this.params = ErrmapClient.copyParams(params);
    return this;
  }

  /** The request id for the gateway error body errmap renders. */
  public GatewayInput requestId(String requestId) {
    this.requestId = requestId == null ? "" : requestId;
    return this;
  }
}
