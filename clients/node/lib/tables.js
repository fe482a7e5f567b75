'use strict';
// The two tables the library falls back on when errmap cannot answer: copies
// of the tables errmap itself uses (docs/mapping.md), kept as data so that a
// service whose errmap is away still raises a sensible gRPC error and still
// answers its HTTP callers with a sensible status. The tests compare them
// with a live errmap's answers for every status and code.

const { status } = require('@grpc/grpc-js');

// "HTTP status alone -> gRPC" (docs/mapping.md, the default profile).
const HTTP_STATUS_TO_GRPC = new Map([
  [200, status.OK],
  [400, status.INVALID_ARGUMENT],
  [401, status.UNAUTHENTICATED],
  [403, status.PERMISSION_DENIED],
  [404, status.NOT_FOUND],
  [409, status.ABORTED],
  [429, status.RESOURCE_EXHAUSTED],
  [499, status.CANCELLED],
  [500, status.INTERNAL],
  [501, status.UNIMPLEMENTED],
  [502, status.UNAVAILABLE],
  [503, status.UNAVAILABLE],
  [504, status.DEADLINE_EXCEEDED],
]);

// The answer for a status of each class (1xx..5xx) that the table lacks.
const HTTP_CLASS_TO_GRPC = [undefined, status.UNKNOWN, status.OK, status.UNKNOWN, status.FAILED_PRECONDITION, status.UNKNOWN];

// google/rpc/code.proto's HTTP status of each gRPC code, indexed by code.
const GRPC_TO_HTTP_STATUS = [200, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401];

/** The gRPC code (a number) errmap gives an HTTP status (100-599) that comes alone. */
function grpcCodeForHttpStatus(httpStatus) {
  const code = HTTP_STATUS_TO_GRPC.get(httpStatus);
  return code === undefined ? HTTP_CLASS_TO_GRPC[Math.floor(httpStatus / 100)] : code;
}

/** The HTTP status google/rpc/code.proto gives a gRPC code (a number 0-16). */
function httpStatusForGrpcCode(code) {
  return GRPC_TO_HTTP_STATUS[code] ?? 500;
}

module.exports = { grpcCodeForHttpStatus, httpStatusForGrpcCode };
