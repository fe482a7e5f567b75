package io.errmap.client;

/**
 * What to send an HTTP caller for a gRPC error.
 *
 * @param httpStatus the HTTP status to answer with
 * @param code the gateway code, such as "QUOTA_EXCEEDED"; empty in a fallback
 * @param body the gateway's JSON error body:
 *     {"requestId":"...","error":{"code":429,"status":"QUOTA_EXCEEDED","message":"..."}}
 * @param message the body's message, in the answer's locale
 * @param fallback true when errmap did not answer and the rest was built from the gRPC code alone
 * @param cause why this is a fallback; null otherwise
 */
public record GatewayError(
    int httpStatus, String code, String body, String message, boolean fallback, Throwable cause) {}
