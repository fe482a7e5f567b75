package io.errmap.client;

import io.errmap.v1.BatchQuery;
import io.errmap.v1.ResolveGatewayErrorRequest;
import io.errmap.v1.ResolveGrpcStatusRequest;

/** One query of a batch, in either direction. */
public final class Query {
  private final BatchQuery proto;

  private Query(BatchQuery proto) {
    this.proto = proto;
  }

  /** Asks for a gateway error's translation. */
  public static Query gateway(ResolveGatewayErrorRequest req) {
    return new Query(BatchQuery.newBuilder().setGatewayError(req).build());
  }

  /** Asks for a gRPC status's translation. */
  public static Query grpc(ResolveGrpcStatusRequest req) {
    return new Query(BatchQuery.newBuilder().setGrpcStatus(req).build());
  }

  BatchQuery toProto() {
    return proto;
  }
}
