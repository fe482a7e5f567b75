#!/usr/bin/env node
// Calls every errmap RPC from Node.js and checks the answers.
//
//   cd clients/node && npm ci
//   node check.js [HOST:PORT]    # default localhost:50051
//
// proto/ is loaded at run time with @grpc/proto-loader: nothing is generated.
// Exits 1 with a message on the first answer that is not the expected one.
'use strict';

const path = require('node:path');
const assert = require('node:assert/strict');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO_DIR = path.resolve(__dirname, '..', '..', 'proto');

const packageDefinition = protoLoader.loadSync('errmap/v1/error_map_service.proto', {
  includeDirs: [PROTO_DIR],
  keepCase: true, // field names as in the .proto: http_status, grpc_code
  enums: String, // enum values by name: 'PERMISSION_DENIED'
  longs: String,
  defaults: true,
  oneofs: true, // a oneof's case in a virtual field: result.result === 'error'
});
const { ErrorMapService } = grpc.loadPackageDefinition(packageDefinition).errmap.v1;

function expect(what, got, want) {
  try {
    assert.deepStrictEqual(got, want);
  } catch {
    throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
  console.log(`ok   ${what} = ${JSON.stringify(got)}`);
}

async function expectError(what, promise, wantCode) {
  try {
    await promise;
  } catch (err) {
    expect(what, grpc.status[err.code], grpc.status[wantCode]);
    return err;
  }
  throw new Error(`${what}: the call succeeded, want ${grpc.status[wantCode]}`);
}

// How a service of your own fails a call with errmap's ready-made status:
// its code and message, and the encoded google.rpc.Status (ErrorInfo,
// LocalizedMessage, Help, RetryInfo) in the grpc-status-details-bin trailer.
function statusFrom(resolution) {
  const metadata = new grpc.Metadata();
  metadata.set('grpc-status-details-bin', resolution.status_details_bin);
  return { code: resolution.status.code, details: resolution.status.message, metadata };
}

// Serves one method that fails with the resolution's status, calls it and
// checks what a caller receives.
async function checkAttach(resolution) {
  const bytes = (b) => b;
  const place = {
    path: '/demo.Orders/Place',
    requestStream: false,
    responseStream: false,
    requestSerialize: bytes,
    requestDeserialize: bytes,
    responseSerialize: bytes,
    responseDeserialize: bytes,
  };
  const server = new grpc.Server();
  server.addService({ Place: place }, { Place: (call, callback) => callback(statusFrom(resolution)) });
  const port = await new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  try {
    const call = new Promise((resolve, reject) =>
      client.makeUnaryRequest(place.path, bytes, bytes, Buffer.alloc(0), (err, res) => (err ? reject(err) : resolve(res))),
    );
    const err = await expectError('attached status: code', call, grpc.status.PERMISSION_DENIED);
    expect('attached status: message', err.details, resolution.status.message);
    const [details] = err.metadata.get('grpc-status-details-bin');
    expect('attached status: grpc-status-details-bin', Buffer.compare(details, resolution.status_details_bin), 0);
  } finally {
    client.close();
    server.forceShutdown();
  }
}

async function main() {
  const addr = process.argv[2] || 'localhost:50051';
  const client = new ErrorMapService(addr, grpc.credentials.createInsecure());
  // Promise-returning calls with a 5 s deadline: await rpc('GetError', {...}).
  const rpc = (method, request) =>
    new Promise((resolve, reject) =>
      client[method](request, { deadline: Date.now() + 5000 }, (err, res) => (err ? reject(err) : resolve(res))),
    );
  await new Promise((resolve, reject) =>
    client.waitForReady(Date.now() + 10000, (err) => (err ? reject(new Error(`no gRPC server answers at ${addr}: ${err.message}`)) : resolve())),
  );

  try {
    // Gateway error -> gRPC.
    let { resolution } = await rpc('ResolveGatewayError', { code: 'APIGW_NONCE_CONFLICT' });
    expect('ResolveGatewayError(APIGW_NONCE_CONFLICT).grpc_code', resolution.grpc_code, 'PERMISSION_DENIED');
    expect('ResolveGatewayError(APIGW_NONCE_CONFLICT).http_status', resolution.http_status, 403);
    expect('ResolveGatewayError(APIGW_NONCE_CONFLICT).status.code', resolution.status?.code, grpc.status.PERMISSION_DENIED);
    await checkAttach(resolution);

    // gRPC -> gateway error.
    ({ resolution } = await rpc('ResolveGrpcStatus', { code: 'UNAVAILABLE' }));
    expect('ResolveGrpcStatus(UNAVAILABLE).http_status', resolution.http_status, 503);
    expect('ResolveGrpcStatus(UNAVAILABLE).entry.code', resolution.entry?.code, 'UNAVAILABLE');

    // A batch: answers in request order, the bad query fails alone.
    const { results } = await rpc('BatchResolve', {
      queries: [
        { gateway_error: { code: 'APIGW_SIGN_RESULT_NOT_SAME' } },
        { grpc_status: { code: 'DEADLINE_EXCEEDED' } },
        { gateway_error: { http_status: 700 } },
      ],
    });
    expect('BatchResolve result kinds', results.map((r) => r.result), ['resolution', 'resolution', 'error']);
    expect('BatchResolve[0].grpc_code', results[0].resolution?.grpc_code, 'UNAUTHENTICATED');
    expect('BatchResolve[1].http_status', results[1].resolution?.http_status, 504);
    expect('BatchResolve[2].error.code', results[2].error?.code, grpc.status.INVALID_ARGUMENT);

    // The catalog.
    const got = await rpc('GetError', { code: 'FAILED_PRECONDITION', http_status: 409 });
    expect('GetError(FAILED_PRECONDITION, 409).entry.http_status', got.entry?.http_status, 409);
    expect('GetError(FAILED_PRECONDITION, 409).other_rows', got.other_rows.map((r) => r.http_status), [400]);
    const page = await rpc('ListErrors', { page_size: 1000 });
    expect('ListErrors().total_size', page.total_size, 82);
    expect('ListErrors() entries on one page', page.entries.length, 82);

    // Errors.
    await expectError('ResolveGatewayError(NO_SUCH_CODE)', rpc('ResolveGatewayError', { code: 'NO_SUCH_CODE' }), grpc.status.NOT_FOUND);
    await expectError('ResolveGatewayError(http_status=700)', rpc('ResolveGatewayError', { http_status: 700 }), grpc.status.INVALID_ARGUMENT);
  } finally {
    client.close();
  }
  console.log(`node client: every RPC answered as expected by ${addr}`);
}

main().catch((err) => {
  console.error(`FAIL: ${err.message}`);
  process.exit(1);
});
