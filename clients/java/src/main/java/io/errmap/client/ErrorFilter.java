package io.errmap.client;

import io.errmap.v1.ListErrorsRequest;
import io.errmap.v1.Table;
import io.grpc.Status;

/** Narrows {@link ErrmapClient#listErrors}; a new filter lists every entry. */
public final class ErrorFilter {
  private Table table;
  private Integer httpStatus;
  private Status.Code grpcCode;

  /** Only this table's entries. */
  public ErrorFilter table(Table table) {
    this.table = table;
    return this;
  }

  /** Only entries with this HTTP status. */
  public ErrorFilter httpStatus(int httpStatus) {
    this.httpStatus = httpStatus;
    return this;
  }

  /** Only entries that translate to this gRPC code. */
  public ErrorFilter grpcCode(Status.Code grpcCode) {
    this.grpcCode = grpcCode;
    return this;
  }

  void apply(ListErrorsRequest.Builder req) {
    if (table != null) {
      req.setTable(table);
    }
    if (httpStatus != null) {
      req.setHttpStatus(httpStatus);
    }
    if (grpcCode != null) {
      req.setGrpcCodeValue(grpcCode.value());
    }
  }
}
