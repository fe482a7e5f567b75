'use strict';
// Every RPC of errmap, through the library's client (the old check script's assertions).

const assert = require('node:assert/strict');
const { describe, it, before, after } = require('node:test');
const grpc = require('@grpc/grpc-js');
const errmap = require('..');
const { TEST_TIMEOUT_MS, sharedErrmap, skipWithoutErrmap, startFailServer } = require('./helpers');

describe('every RPC', { skip: skipWithoutErrmap() }, () => {
  let server;
  let client;
  let failServer;
  before(async () => {
    server = await sharedErrmap();
    client = new errmap.Client(server.addr, { timeout: TEST_TIMEOUT_MS });
    failServer = await startFailServer();
  });
  after(async () => {
    client.close();
    failServer.close();
    assert.equal(await server.stop(), 0);
  });

  it('Health.Check', async () => {
    // grpc.health.v1 by hand (its .proto is not errmap's): HealthCheckRequest
    // is field 1, the service name; HealthCheckResponse field 1 the status,
    // SERVING = 1.
    const health = new grpc.Client(server.healthAddr, grpc.credentials.createInsecure());
    try {
      for (const service of ['', 'errmap.v1.ErrorMapService']) {
        const name = Buffer.from(service);
        const request = name.length ? Buffer.concat([Buffer.from([0x0a, name.length]), name]) : Buffer.alloc(0);
        const reply = await new Promise((resolve, reject) =>
          health.makeUnaryRequest('/grpc.health.v1.Health/Check', (b) => b, (b) => b, request, { deadline: Date.now() + TEST_TIMEOUT_MS }, (err, r) =>
            err ? reject(err) : resolve(r),
          ),
        );
        assert.deepEqual([...reply], [0x08, 0x01], `Health.Check(${JSON.stringify(service)}) is SERVING`);
      }
    } finally {
      health.close();
    }
  });

  it('connects at construction', async () => {
    assert.equal(await client.ready, true);
  });

  it('ResolveGatewayError', async () => {
    const resolution = await client.resolveGatewayError({ code: 'APIGW_NONCE_CONFLICT' });
    assert.equal(resolution.grpc_code, 'PERMISSION_DENIED');
    assert.equal(resolution.http_status, 403);
    assert.equal(resolution.status?.code, grpc.status.PERMISSION_DENIED);
    assert.equal(errmap.matchKindName(resolution), 'MATCH_KIND_CODE');
    const decoded = errmap.decodeStatus(resolution.status_details_bin);
    assert.equal(decoded.code, resolution.status.code);
    assert.equal(decoded.message, resolution.status.message);

    // The ready-made status, attached by a handler and read by its caller.
    const metadata = new grpc.Metadata();
    metadata.set('grpc-status-details-bin', resolution.status_details_bin);
    const err = await failServer.call({ code: resolution.status.code, details: resolution.status.message, metadata });
    assert.equal(grpc.status[err.code], 'PERMISSION_DENIED');
    assert.equal(err.details, resolution.status.message);
    const [details] = err.metadata.get('grpc-status-details-bin');
    assert.equal(Buffer.compare(details, resolution.status_details_bin), 0);
  });

  it('says success plainly, and the library reads it either way', async () => {
    const success = await client.resolveGatewayError({ code: 'APIGATEWAY_SUCCESS', http_status: 200 });
    assert.equal(success.success, true);
    assert.equal(success.grpc_code, 'OK');
    assert.equal(errmap.errorFromResolution(success), null);
    const denied = await client.resolveGatewayError({ code: 'APIGW_NONCE_CONFLICT', http_status: 403 });
    assert.equal(denied.success, false);
    assert.equal(errmap.errorFromResolution(denied).code, grpc.status.PERMISSION_DENIED);
    // The field is read; an errmap that predates it says OK by grpc_code alone.
    assert.equal(errmap.errorFromResolution({ ...denied, success: true }), null);
    assert.equal(errmap.errorFromResolution({ ...denied, grpc_code: 'OK', status: null }), null);
  });

  it('ResolveGrpcStatus', async () => {
    const resolution = await client.resolveGrpcStatus({ code: 'UNAVAILABLE' });
    assert.equal(resolution.http_status, 503);
    assert.equal(resolution.entry?.code, 'UNAVAILABLE');
    assert.equal(errmap.matchKindName(resolution.match_kind), 'MATCH_KIND_GRPC_CODE');
  });

  it('BatchResolve', async () => {
    const results = await client.resolveBatch([
      { gateway_error: { code: 'APIGW_SIGN_RESULT_NOT_SAME' } },
      { grpc_status: { code: 'DEADLINE_EXCEEDED' } },
      { gateway_error: { http_status: 700 } },
      { gatewayError: { http_status: 429 } },
    ]);
    assert.deepEqual(results.map((r) => Object.keys(r)), [['resolution'], ['resolution'], ['error'], ['resolution']]);
    assert.equal(results[0].resolution.grpc_code, 'UNAUTHENTICATED');
    assert.equal(results[1].resolution.http_status, 504);
    assert.equal(results[2].error.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(results[3].resolution.entry.code, 'QUOTA_EXCEEDED');
    assert.equal(errmap.matchKindName(results[3].resolution), 'MATCH_KIND_STATUS_ONLY');
    await assert.rejects(client.resolveBatch([{ code: 'APIGW_NONCE_CONFLICT' }]), TypeError);
  });

  it('GetError', async () => {
    const got = await client.getError('FAILED_PRECONDITION', 409);
    assert.equal(got.entry?.http_status, 409);
    assert.deepEqual(got.other_rows.map((r) => r.http_status), [400]);
    await assert.rejects(client.getError('NO_SUCH_CODE'), (err) => err.code === grpc.status.NOT_FOUND);
  });

  it('ListErrors', async () => {
    const page = await client.call('ListErrors', { page_size: 1000 });
    assert.equal(page.total_size, 82);
    assert.equal(page.entries.length, 82);

    // The iterator hides the paging: 82 entries over 9 pages of 10.
    const all = [];
    for await (const entry of client.listErrors({ pageSize: 10 })) all.push(entry);
    assert.deepEqual(all.map((e) => [e.code, e.http_status]), page.entries.map((e) => [e.code, e.http_status]));

    const collect = async (filter) => {
      const out = [];
      for await (const entry of client.listErrors(filter)) out.push(entry.code + '/' + entry.http_status);
      return out;
    };
    const key = (e) => e.code + '/' + e.http_status;
    assert.deepEqual(await collect({ httpStatus: 403 }), page.entries.filter((e) => e.http_status === 403).map(key));
    const unavailable = page.entries.filter((e) => e.grpc_code === 'UNAVAILABLE').map(key);
    assert.ok(unavailable.length > 0);
    assert.deepEqual(await collect({ grpcCode: grpc.status.UNAVAILABLE }), unavailable);
    assert.deepEqual(await collect({ grpcCode: 'UNAVAILABLE' }), unavailable);
    assert.equal((await collect({ table: 'TABLE_SDK' })).length, 20);
  });

  it('errors and their details', async () => {
    await assert.rejects(client.resolveGatewayError({ code: 'NO_SUCH_CODE' }), (err) => err.code === grpc.status.NOT_FOUND);
    await assert.rejects(client.resolveGatewayError({ http_status: 700 }), (err) => {
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
      const badRequest = errmap.decodeStatus(err).details.find((d) => d.type === 'google.rpc.BadRequest');
      assert.deepEqual(badRequest.value.field_violations.map((v) => v.field), ['http_status']);
      return true;
    });
  });

  it('match kinds by name', async () => {
    let aliased;
    for await (const entry of client.listErrors()) if (!aliased && entry.aliases.length) aliased = entry;
    const cases = [
      [{ code: 'APIGW_NONCE_CONFLICT' }, 'MATCH_KIND_CODE'],
      [{ code: aliased.aliases[0] }, 'MATCH_KIND_ALIAS'],
      [{ code: 'APIGW_NONCE_CONFLICT', http_status: 500 }, 'MATCH_KIND_CODE_STATUS_MISMATCH'],
      [{ http_status: 404 }, 'MATCH_KIND_STATUS_ONLY'],
      [{ code: 'NO_SUCH_CODE', http_status: 404 }, 'MATCH_KIND_STATUS_FALLBACK'],
    ];
    for (const [request, want] of cases) {
      assert.equal(errmap.matchKindName(await client.resolveGatewayError(request)), want, JSON.stringify(request));
    }
    assert.equal(errmap.matchKindName(await client.resolveGrpcStatus({ code: 'NOT_FOUND' })), 'MATCH_KIND_GRPC_CODE');
    const byReason = await client.resolveGrpcStatus({ code: 'RESOURCE_EXHAUSTED', reason: 'RATE_LIMIT_EXCEEDED' });
    assert.equal(errmap.matchKindName(byReason), 'MATCH_KIND_GRPC_REASON');
    const { status_details_bin } = await client.resolveGatewayError({ code: 'APIGW_NONCE_CONFLICT' });
    const byDetails = await client.resolveGrpcStatus({ code: 'PERMISSION_DENIED', status_details_bin });
    assert.equal(errmap.matchKindName(byDetails), 'MATCH_KIND_ERROR_INFO');
    assert.equal(errmap.matchKindName(0), 'MATCH_KIND_UNSPECIFIED');
    assert.equal(errmap.matchKindName(1), 'MATCH_KIND_CODE');
    assert.equal(errmap.matchKindName(99), 'MATCH_KIND_99');
  });
});
