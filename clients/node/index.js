'use strict';
// errmap's Node.js client: gateway errors to gRPC errors and back.
//
//   const errmap = require('errmap-client');
//   const client = new errmap.Client('127.0.0.1:50051');
//   const err = await client.gatewayToGrpc(403, { code: 'APIGW_NONCE_CONFLICT' });
//   callback(err);                              // in a handler; null means success
//   const gw = await client.grpcToGateway(err); // gw.httpStatus, gw.code, gw.body
//
// When errmap is unreachable, slower than the deadline (50 ms by default) or
// answers with an error, both calls answer from built-in tables instead,
// marked as fallbacks (isFallback), and never reject for errmap's sake.

const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');
const tables = require('./lib/tables');

/** errmap's API address when none is given (its --listen default). */
const DEFAULT_TARGET = '127.0.0.1:50051';
/** Deadline of each call to errmap, in milliseconds, when none is given:
 * errmap answers from memory over loopback, so anything slower is treated
 * as errmap being away and the fallback answers instead. */
const DEFAULT_TIMEOUT_MS = 50;
/** How long the connecting call of a new client (Client.ready) may take. */
const WARM_UP_TIMEOUT_MS = 5000;
/** ErrorInfo.domain of fallback errors: errmap's --error-domain default. */
const DEFAULT_DOMAIN = 'apigateway.jdcloud.com';
/** The metadata key that carries an encoded google.rpc.Status. */
const STATUS_DETAILS_KEY = 'grpc-status-details-bin';
/** The ErrorInfo.metadata key, set to "true", that marks a fallback error:
 * the same in errmap's Go, Java, Python and Node clients, so any of them can
 * tell a fallback that another one built and sent over the wire. */
const FALLBACK_METADATA_KEY = 'errmapFallback';
/** The environment variable that names errmap's proto/ directory. */
const PROTO_DIR_ENV = 'ERRMAP_PROTO_DIR';

/** errmap's limit on the status message it is sent, in bytes. The message
 * plays no part in errmap's answer, so a longer one is sent cut (at a
 * character boundary) rather than costing errmap's refusal and a fallback. */
const MAX_MESSAGE_BYTES = 4096;

const TYPE_URL_PREFIX = 'type.googleapis.com/';
const ERROR_INFO_TYPE = 'google.rpc.ErrorInfo';
// As proto-loader gives the API's messages: defaults filled in, 64-bit
// numbers as strings, enums by name.
const DECODE_OPTIONS = { defaults: true, longs: String, enums: String };

// proto/: ERRMAP_PROTO_DIR, else a copy packed with the package (npm pack
// copies it, see package.json), else the repository's own.
function protoDir() {
  const candidates = [process.env[PROTO_DIR_ENV], path.join(__dirname, 'proto'), path.resolve(__dirname, '..', '..', 'proto')];
  const found = candidates.find((dir) => dir && fs.existsSync(path.join(dir, 'errmap', 'v1', 'error_map_service.proto')));
  if (!found) {
    throw new Error(`errmap's proto files are not in ${candidates.filter(Boolean).join(' or ')}; set ${PROTO_DIR_ENV}`);
  }
  return found;
}

const PROTO_DIR = protoDir();
const packageDefinition = protoLoader.loadSync('errmap/v1/error_map_service.proto', {
  includeDirs: [PROTO_DIR],
  keepCase: true, // field names as in the .proto: http_status, grpc_code
  enums: String, // enum values by name: 'PERMISSION_DENIED'
  longs: String,
  defaults: true,
  oneofs: true, // a oneof's case in a virtual field: result.result === 'error'
});
const { ErrorMapService } = grpc.loadPackageDefinition(packageDefinition).errmap.v1;

// google.rpc.Status and its details, to encode and decode
// grpc-status-details-bin.
const rpcRoot = new protobuf.Root();
rpcRoot.resolvePath = (_origin, target) => path.join(PROTO_DIR, target);
rpcRoot.loadSync(['google/rpc/status.proto', 'google/rpc/error_details.proto'], { keepCase: true });
const StatusType = rpcRoot.lookupType('google.rpc.Status');
const ErrorInfoType = rpcRoot.lookupType(ERROR_INFO_TYPE);

// protobufjs builds each message type's encoder and decoder on first use,
// which costs tens of milliseconds: more than a call's whole default
// deadline. Build them now, at load time, so that the first call is as fast
// as the others.
for (const method of Object.values(ErrorMapService.service)) {
  method.responseDeserialize(method.responseSerialize({}));
  method.requestDeserialize(method.requestSerialize({}));
}

const MATCH_KINDS = packageDefinition['errmap.v1.MatchKind'].type.value.map((v) => [v.number, v.name]);

/** The proto enum name of a MatchKind, such as "MATCH_KIND_CODE": takes the
 * number, the name, or a resolution. A number this proto does not know (a
 * newer errmap) is named "MATCH_KIND_<number>". */
function matchKindName(kind) {
  if (kind && typeof kind === 'object') kind = kind.match_kind;
  if (typeof kind === 'string') return kind;
  const found = MATCH_KINDS.find(([number]) => number === kind);
  return found ? found[1] : `MATCH_KIND_${kind}`;
}

/** An Error shaped as grpc-js's ServiceError: code, details, metadata. */
function serviceError(code, details, metadata) {
  const err = new Error(`${code} ${grpc.status[code]}: ${details}`);
  err.code = code;
  err.details = details;
  err.metadata = metadata;
  return err;
}

/** The google.rpc.Status in an error's grpc-status-details-bin (or in a
 * Buffer), as a plain object with its details unpacked where the type is
 * known ({type: 'google.rpc.ErrorInfo', value: {...}}), or null. */
function decodeStatus(errOrBytes) {
  const bytes = Buffer.isBuffer(errOrBytes) || errOrBytes instanceof Uint8Array ? errOrBytes : detailsBin(errOrBytes);
  if (!bytes || !bytes.length) return null;
  let status;
  try {
    status = StatusType.toObject(StatusType.decode(bytes), DECODE_OPTIONS);
  } catch {
    return null;
  }
  status.details = status.details.map((any) => {
    const type = any.type_url.slice(any.type_url.lastIndexOf('/') + 1);
    try {
      const messageType = rpcRoot.lookupType(type);
      return { type, value: messageType.toObject(messageType.decode(any.value), DECODE_OPTIONS) };
    } catch {
      return { type, value: null, raw: any.value };
    }
  });
  return status;
}

function detailsBin(err) {
  const metadata = err && err.metadata;
  if (!metadata || typeof metadata.get !== 'function') return null;
  const [bytes] = metadata.get(STATUS_DETAILS_KEY);
  return Buffer.isBuffer(bytes) ? bytes : null;
}

/** True when the error was built by the fallback, not by errmap: takes what
 * gatewayToGrpc returns, an error a caller received (the mark travels in
 * grpc-status-details-bin), or a GatewayError. The mark: an ErrorInfo with
 * an empty reason (errmap always names one) and metadata errmapFallback:
 * "true". */
function isFallback(err) {
  if (!err) return false;
  if (typeof err.fallback === 'boolean') return err.fallback;
  const status = decodeStatus(err);
  return !!status && status.details.some((d) => d.type === ERROR_INFO_TYPE && d.value && !d.value.reason && d.value.metadata[FALLBACK_METADATA_KEY] === 'true');
}

/** The gateway's JSON error body, rendered as errmap renders it. */
function gatewayBody(requestId, httpStatus, status, message) {
  return JSON.stringify({ requestId, error: { code: httpStatus, status, message } });
}

/** text cut to at most limit bytes of UTF-8, at a character boundary. */
function cutUtf8(text, limit) {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= limit) return text;
  let end = limit;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end -= 1;
  return bytes.subarray(0, end).toString('utf8');
}

function checkHttpStatus(httpStatus) {
  if (!Number.isInteger(httpStatus) || httpStatus < 100 || httpStatus > 599) {
    throw new RangeError(`httpStatus must be an integer in 100-599, got ${JSON.stringify(httpStatus)}`);
  }
}

/** The error for a gateway error from its HTTP status alone, or null for
 * success: what gatewayToGrpc returns when errmap cannot answer. The gRPC
 * code of errmap's status-alone table, the message "HTTP status N", and the
 * fallback mark: an ErrorInfo with an empty reason, the domain, and metadata
 * {errmapFallback: "true", httpStatus: "N"}. */
function fallbackError(httpStatus, domain = DEFAULT_DOMAIN) {
  checkHttpStatus(httpStatus);
  const code = tables.grpcCodeForHttpStatus(httpStatus);
  if (code === grpc.status.OK) return null;
  const message = `HTTP status ${httpStatus}`;
  const info = ErrorInfoType.encode({ domain, metadata: { [FALLBACK_METADATA_KEY]: 'true', httpStatus: String(httpStatus) } }).finish();
  const bytes = StatusType.encode({ code, message, details: [{ type_url: TYPE_URL_PREFIX + ERROR_INFO_TYPE, value: info }] }).finish();
  const metadata = new grpc.Metadata();
  metadata.set(STATUS_DETAILS_KEY, Buffer.from(bytes));
  return serviceError(code, message, metadata);
}

/** Whether an errmap resolution has no error to raise (gRPC OK). errmap
 * says so in success; an errmap that predates the field leaves it false,
 * and its grpc_code still says OK. */
function isSuccess(resolution) {
  return resolution.success === true || resolution.grpc_code === 'OK' || resolution.grpc_code === grpc.status.OK;
}

/** The ServiceError of an errmap resolution, or null when it is success
 * (gRPC OK). */
function errorFromResolution(resolution) {
  if (isSuccess(resolution)) return null;
  const status = resolution.status || { code: grpc.status[resolution.grpc_code] ?? grpc.status.UNKNOWN, message: resolution.message };
  if (!status.code) return null;
  const metadata = new grpc.Metadata();
  const bytes = resolution.status_details_bin && resolution.status_details_bin.length ? resolution.status_details_bin : null;
  if (bytes) metadata.set(STATUS_DETAILS_KEY, Buffer.from(bytes));
  return serviceError(status.code, status.message, metadata);
}

// (code, message, grpc-status-details-bin or null) of what grpcToGateway takes.
function statusParts(err) {
  if (err === null || err === undefined) return [grpc.status.OK, '', null];
  if (typeof err === 'number') return [err, '', null];
  if (typeof err === 'object' && Number.isInteger(err.code)) {
    const message = typeof err.details === 'string' ? err.details : typeof err.message === 'string' && !err.metadata ? err.message : '';
    return [err.code, message, detailsBin(err)];
  }
  // What grpc-js sends for an Error without a gRPC code.
  if (err instanceof Error) return [grpc.status.UNKNOWN, err.message, null];
  throw new TypeError('expected a gRPC error ({code, details, metadata}), an Error, a status code, or null');
}

const CODE_NAMES = Object.keys(grpc.status).filter((k) => Number.isNaN(Number(k)));

function codeNumber(code) {
  if (typeof code === 'string') {
    if (!CODE_NAMES.includes(code)) throw new RangeError(`unknown gRPC code ${code}`);
    return grpc.status[code];
  }
  return code;
}

class Client {
  /**
   * A connection to errmap's API, plaintext.
   * @param {string} [target] errmap's HOST:PORT (DEFAULT_TARGET).
   * @param {object} [options]
   * @param {number} [options.timeout] deadline of each call in ms (DEFAULT_TIMEOUT_MS, 50).
   * @param {string} [options.locale] the answers' locale, "zh-CN" or "en-US" (default: errmap's).
   * @param {grpc.Channel} [options.channel] an existing channel to use (close() leaves it open).
   * @param {string} [options.domain] ErrorInfo.domain of fallback errors.
   * @param {function} [options.onFallback] called with (method, error) on each fallback.
   */
  constructor(target = DEFAULT_TARGET, options = {}) {
    const { timeout = DEFAULT_TIMEOUT_MS, locale = '', channel, domain = DEFAULT_DOMAIN, onFallback } = options;
    if (!(typeof timeout === 'number' && timeout > 0)) throw new RangeError(`timeout must be a positive number of ms, got ${timeout}`);
    this.timeout = timeout;
    this.locale = locale;
    this.domain = domain;
    this.onFallback = onFallback;
    /** Answers the fallback gave because errmap was unreachable, too slow, or answered with an error. */
    this.fallbacks = 0;
    const channelOptions = channel ? { channelOverride: channel } : {};
    this.stub = new ErrorMapService(target, grpc.credentials.createInsecure(), channelOptions);
    // Connect now with one small call, so that the first real call spends
    // its short deadline neither on the TCP and HTTP/2 handshakes nor on
    // grpc-js's first-call set-up (tens of milliseconds on a busy machine).
    // `ready` resolves to true once errmap answered it, false if it could
    // not; either way the client works.
    this.ready = new Promise((resolve) => {
      this.warmUp = this.stub.ListErrors({ page_size: 1 }, { deadline: Date.now() + WARM_UP_TIMEOUT_MS }, (err) => {
        this.warmUp = null;
        resolve(!err);
      });
    });
  }

  close() {
    if (this.warmUp) this.warmUp.cancel();
    this.stub.close();
  }

  call(method, request, { timeout = this.timeout, metadata = new grpc.Metadata() } = {}) {
    return new Promise((resolve, reject) => {
      this.stub[method](request, metadata, { deadline: Date.now() + timeout }, (err, reply) => (err ? reject(err) : resolve(reply)));
    });
  }

  fellBack(method, err) {
    this.fallbacks += 1;
    if (this.onFallback) this.onFallback(method, err);
  }

  /**
   * Integration point 1, gateway -> gRPC: the error to fail a gRPC call with
   * for what the gateway answered (code, details, metadata with
   * grpc-status-details-bin), or null for success. httpStatus is the
   * gateway's HTTP status (100-599; anything else rejects with RangeError);
   * body its raw error body (string or Buffer), read by errmap; without it,
   * code is the gateway code. When errmap cannot answer, the error comes
   * from the HTTP status alone and isFallback() is true for it.
   */
  async gatewayToGrpc(httpStatus, { body, code, locale, params, requestId } = {}) {
    checkHttpStatus(httpStatus);
    const request = { http_status: httpStatus, locale: locale || this.locale, params: params || {}, request_id: requestId || '' };
    if (body !== undefined && body !== null) request.body = body instanceof Uint8Array ? Buffer.from(body) : Buffer.from(String(body), 'utf8');
    else if (code !== undefined && code !== null) request.code = code;
    let reply;
    try {
      reply = await this.call('ResolveGatewayError', request);
    } catch (err) {
      this.fellBack('ResolveGatewayError', err);
      return fallbackError(httpStatus, this.domain);
    }
    return errorFromResolution(reply.resolution);
  }

  /**
   * Integration point 2, gRPC -> gateway: the HTTP status, gateway code and
   * JSON body for a gRPC error (a ServiceError received or raised, anything
   * with {code, details, metadata}, a status code number, null for
   * success, or any other Error: UNKNOWN with its message, as grpc-js
   * reports it). Its grpc-status-details-bin goes to errmap, so an ErrorInfo
   * naming a gateway code brings back that exact entry; a message over
   * errmap's 4096-byte limit is sent cut (the answer does not use it). When errmap cannot
   * answer: code.proto's HTTP status, code '', fallback true.
   */
  async grpcToGateway(err, { locale, params, requestId } = {}) {
    const [code, message, bytes] = statusParts(err);
    const request = {
      code,
      message: cutUtf8(message, MAX_MESSAGE_BYTES),
      status_details_bin: bytes || Buffer.alloc(0),
      locale: locale || this.locale,
      params: params || {},
      request_id: requestId || '',
    };
    let resolution;
    try {
      ({ resolution } = await this.call('ResolveGrpcStatus', request));
    } catch (callErr) {
      this.fellBack('ResolveGrpcStatus', callErr);
      const httpStatus = tables.httpStatusForGrpcCode(code);
      const name = grpc.status[code] || 'UNKNOWN';
      return { httpStatus, code: '', body: gatewayBody(requestId || '', httpStatus, name, message), message, fallback: true, grpcCode: code, resolution: null };
    }
    return {
      httpStatus: resolution.http_status,
      code: resolution.entry ? resolution.entry.code : '',
      body: resolution.gateway_error_body,
      message: resolution.message,
      fallback: false,
      grpcCode: grpc.status[resolution.grpc_code] ?? grpc.status.UNKNOWN,
      resolution,
    };
  }

  /**
   * Resolves many queries in one call: one result per query, in order,
   * each {resolution} or {error} (a google.rpc.Status). A query is a
   * BatchQuery ({gateway_error: {...}} or {grpc_status: {...}}, also spelled
   * gatewayError / grpcStatus). A failure of the whole call rejects.
   */
  async resolveBatch(queries, { view, timeout } = {}) {
    const request = {
      queries: queries.map((q) => {
        const gatewayError = q.gateway_error || q.gatewayError;
        const grpcStatus = q.grpc_status || q.grpcStatus;
        if (!gatewayError === !grpcStatus) throw new TypeError('a batch query has exactly one of gateway_error and grpc_status');
        return gatewayError ? { gateway_error: gatewayError } : { grpc_status: grpcStatus };
      }),
      view: view || 'RESOLUTION_VIEW_UNSPECIFIED',
    };
    const { results } = await this.call('BatchResolve', request, { timeout });
    return results.map((r) => (r.result === 'resolution' ? { resolution: r.resolution } : { error: r.error }));
  }

  /**
   * Every catalog entry that matches the filters, page after page, as an
   * async iterator. grpcCode is a number or a name, table a Table name.
   */
  async *listErrors({ httpStatus, grpcCode, table, pageSize = 0, timeout } = {}) {
    const request = { page_size: pageSize, page_token: '' };
    if (httpStatus !== undefined) request.http_status = httpStatus;
    if (grpcCode !== undefined) request.grpc_code = codeNumber(grpcCode);
    if (table !== undefined) request.table = table;
    for (;;) {
      const page = await this.call('ListErrors', request, { timeout });
      yield* page.entries;
      if (!page.next_page_token) return;
      request.page_token = page.next_page_token;
    }
  }

  /** ResolveGatewayError as it is: the resolution, or a rejection. */
  async resolveGatewayError(request, options) {
    return (await this.call('ResolveGatewayError', request, options)).resolution;
  }

  /** ResolveGrpcStatus as it is: the resolution, or a rejection. */
  async resolveGrpcStatus(request, options) {
    return (await this.call('ResolveGrpcStatus', request, options)).resolution;
  }

  /** GetError: {entry, other_rows, catalog_version}, or a rejection. */
  async getError(code, httpStatus, options) {
    const request = httpStatus === undefined ? { code } : { code, http_status: httpStatus };
    return this.call('GetError', request, options);
  }
}

module.exports = {
  Client,
  DEFAULT_DOMAIN,
  DEFAULT_TARGET,
  DEFAULT_TIMEOUT_MS,
  FALLBACK_METADATA_KEY,
  STATUS_DETAILS_KEY,
  decodeStatus,
  errorFromResolution,
  fallbackError,
  gatewayBody,
  grpcCodeForHttpStatus: tables.grpcCodeForHttpStatus,
  httpStatusForGrpcCode: tables.httpStatusForGrpcCode,
  isFallback,
  matchKindName,
  packageDefinition,
};
