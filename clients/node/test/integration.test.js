'use strict';
// The two integration points against a real errmap, and the tables the fallback uses.

const assert = require('node:assert/strict');
const { describe, it, before, after } = require('node:test');
const grpc = require('@grpc/grpc-js');
const errmap = require('..');
const { TEST_TIMEOUT_MS, sharedErrmap, skipWithoutErrmap, startFailServer } = require('./helpers');

const detail = (err, type) => {
  const found = errmap.decodeStatus(err).details.find((d) => d.type === type);
  assert.ok(found, `no ${type} in the error's details`);
  return found.value;
};

describe('integration points', { skip: skipWithoutErrmap() }, () => {
  let server;
  let client;
  let failServer;
  let entries;
  before(async () => {
    server = await sharedErrmap();
    client = new errmap.Client(server.addr, { timeout: TEST_TIMEOUT_MS });
    failServer = await startFailServer();
    entries = [];
    for await (const entry of client.listErrors()) entries.push(entry);
  });
  after(async () => {
    client.close();
    failServer.close();
    assert.equal(await server.stop(), 0);
  });

  it('round-trips every catalog entry through a grpc-js server', async () => {
    // gateway -> gRPC error -> a grpc-js handler fails with it -> its caller
    // receives it -> gRPC -> gateway: the same entry, for all 82.
    assert.equal(entries.length, 82);
    let successes = 0;
    for (const entry of entries) {
      const want = [entry.code, entry.http_status];
      const gatewaySent = errmap.gatewayBody('gw-req-1', entry.http_status, entry.code, entry.message);
      for (const how of [{ code: entry.code }, { body: gatewaySent }]) {
        const err = await client.gatewayToGrpc(entry.http_status, how);
        if (entry.grpc_code === 'OK') {
          // Success is no error at all; and "no error" maps back to it.
          assert.equal(err, null, String(want));
          const gw = await client.grpcToGateway(null);
          assert.deepEqual([gw.code, gw.httpStatus, gw.fallback], [...want, false]);
          successes += 1;
          continue;
        }
        assert.equal(grpc.status[err.code], entry.grpc_code, String(want));
        assert.equal(errmap.isFallback(err), false);

        const received = await failServer.call(err);
        assert.ok(received, String(want));
        assert.equal(received.code, err.code, String(want));
        assert.equal(received.details, err.details, String(want));
        const info = detail(received, 'google.rpc.ErrorInfo');
        assert.equal(info.reason, entry.code, String(want));
        assert.equal(info.metadata.httpStatus, String(entry.http_status), String(want));
        assert.equal(errmap.isFallback(received), false);

        const gw = await client.grpcToGateway(received);
        assert.deepEqual([gw.code, gw.httpStatus, gw.fallback], [...want, false], JSON.stringify(how));
        assert.equal(gw.grpcCode, err.code);
        const body = JSON.parse(gw.body);
        assert.deepEqual([body.error.status, body.error.code], want);
        assert.equal(gw.message, entry.message);
        assert.equal(body.error.message, entry.message);
      }
    }
    assert.equal(successes, 2); // APIGATEWAY_SUCCESS, by code and by body
  });

  it('attaches every detail and the request id', async () => {
    const err = await client.gatewayToGrpc(429, { code: 'RATE_LIMIT_EXCEEDED', requestId: 'req-7' });
    assert.equal(err.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.ok(err instanceof Error);
    assert.equal(detail(err, 'google.rpc.RetryInfo').retry_delay.seconds, '1');
    const gw = await client.grpcToGateway(err, { requestId: 'req-7' });
    assert.equal(JSON.parse(gw.body).requestId, 'req-7');
    assert.equal(gw.code, 'RATE_LIMIT_EXCEEDED');
  });

  it('reads a body given as a string, a Buffer or a Uint8Array', async () => {
    const body = errmap.gatewayBody('gw-2', 401, 'APIGW_KEY_DISABLED', '无效的密钥');
    for (const given of [body, Buffer.from(body), new TextEncoder().encode(body)]) {
      const err = await client.gatewayToGrpc(401, { body: given });
      assert.equal(detail(err, 'google.rpc.ErrorInfo').reason, 'APIGW_KEY_DISABLED', given.constructor.name);
    }
  });

  it('answers an unknown gateway code by its status, without a fallback', async () => {
    const before = client.fallbacks;
    const err = await client.gatewayToGrpc(404, { code: 'NO_SUCH_CODE' });
    assert.equal(err.code, grpc.status.NOT_FOUND);
    assert.equal(errmap.isFallback(err), false);
    assert.equal(client.fallbacks, before);
  });

  it('fills the message from params', async () => {
    const err = await client.gatewayToGrpc(400, { code: 'ARGUMENT_NOT_FOUND', params: { argument: 'vpcId' }, locale: 'en-US' });
    assert.match(detail(err, 'google.rpc.LocalizedMessage').message, /vpcId/);
    const gw = await client.grpcToGateway(err, { params: { argument: 'vpcId' } });
    assert.equal(gw.code, 'ARGUMENT_NOT_FOUND');
    assert.match(gw.message, /vpcId/);
  });

  it('takes every error shape', async () => {
    const byCode = await client.grpcToGateway(grpc.status.UNAVAILABLE);
    assert.deepEqual([byCode.code, byCode.httpStatus], ['UNAVAILABLE', 503]);
    const plain = await client.grpcToGateway({ code: grpc.status.NOT_FOUND, details: 'no such order', metadata: new grpc.Metadata() });
    assert.deepEqual([plain.code, plain.httpStatus], ['NOT_FOUND', 404]);
    const fallback = await client.grpcToGateway(errmap.fallbackError(409));
    assert.deepEqual([fallback.code, fallback.httpStatus], ['ABORTED', 409]);
    const crash = await client.grpcToGateway(new Error('order-1 is gone'));
    assert.deepEqual([crash.code, crash.httpStatus], ['UNKNOWN', 500]);
    assert.equal(crash.message, (await client.getError('UNKNOWN')).entry.message);
    await assert.rejects(client.grpcToGateway('PERMISSION_DENIED'), TypeError);
  });

  it('answers in the locale asked for, and by accept-language', async () => {
    const { entry } = await client.getError('APIGW_NONCE_CONFLICT');
    const cases = [
      [undefined, entry.message],
      ['en-US', entry.message_en],
      ['zh-CN', entry.message],
      ['en', entry.message_en],
      ['zh-TW', entry.message],
    ];
    for (const [locale, want] of cases) {
      const err = await client.gatewayToGrpc(403, { code: 'APIGW_NONCE_CONFLICT', locale });
      assert.equal(detail(err, 'google.rpc.LocalizedMessage').message, want, locale);
      const gw = await client.grpcToGateway(err, { locale });
      assert.equal(gw.message, want, locale);
      assert.equal(JSON.parse(gw.body).error.message, want, locale);
    }

    // The client's default locale, and a call's own beating it.
    const english = new errmap.Client(server.addr, { timeout: TEST_TIMEOUT_MS, locale: 'en-US' });
    try {
      assert.equal((await english.grpcToGateway(grpc.status.UNAVAILABLE)).message, 'Service is unavailable');
      assert.equal((await english.grpcToGateway(grpc.status.UNAVAILABLE, { locale: 'zh-CN' })).message, '服务不可用');
    } finally {
      english.close();
    }

    // The accept-language metadata, when the request names no locale.
    for (const [header, want] of [['en-US,en;q=0.9', 'en-US'], ['zh-CN', 'zh-CN'], ['fr-FR, en;q=0.5', 'en-US']]) {
      const metadata = new grpc.Metadata();
      metadata.set('accept-language', header);
      const res = await client.resolveGatewayError({ code: 'APIGW_NONCE_CONFLICT' }, { metadata });
      assert.equal(res.locale, want, header);
    }
    const metadata = new grpc.Metadata();
    metadata.set('accept-language', 'en-US');
    assert.equal((await client.resolveGatewayError({ code: 'APIGW_NONCE_CONFLICT', locale: 'zh-CN' }, { metadata })).locale, 'zh-CN');
  });

  it("has errmap's status-alone table", async () => {
    const statuses = new Set([...entries.map((e) => e.http_status), 100, 101, 201, 204, 299, 302, 304, 402, 418, 451, 505, 599]);
    for (const httpStatus of [...statuses].sort((a, b) => a - b)) {
      const res = await client.resolveGatewayError({ http_status: httpStatus });
      assert.equal(grpc.status[errmap.grpcCodeForHttpStatus(httpStatus)], res.grpc_code, String(httpStatus));
      const fallback = errmap.fallbackError(httpStatus);
      if (res.grpc_code === 'OK') assert.equal(fallback, null);
      else assert.equal(grpc.status[fallback.code], res.grpc_code, String(httpStatus));
    }
  });

  it("has code.proto's HTTP status for every gRPC code", async () => {
    for (let code = 0; code <= 16; code++) {
      const res = await client.resolveGrpcStatus({ code });
      assert.equal(errmap.httpStatusForGrpcCode(code), res.http_status, grpc.status[code]);
    }
  });

  it("renders the fallback body in errmap's shape", async () => {
    let res = await client.resolveGatewayError({ http_status: 418, request_id: 'req-418' });
    assert.equal(res.gateway_error_body, errmap.gatewayBody('req-418', 418, 'FAILED_PRECONDITION', res.message));
    const odd = 'quote " and \\ and 中文';
    res = await client.resolveGrpcStatus({ code: 'UNAVAILABLE', request_id: odd });
    assert.equal(res.gateway_error_body, errmap.gatewayBody(odd, 503, 'UNAVAILABLE', res.message));
  });

  it('sends a message over 4096 bytes cut, not as a reason to fall back', async () => {
    const before = client.fallbacks;
    const long = 'é'.repeat(5000);
    let gw = await client.grpcToGateway({ code: grpc.status.NOT_FOUND, details: long, metadata: new grpc.Metadata() });
    assert.deepEqual([gw.httpStatus, gw.fallback], [404, false]);
    const made = await client.gatewayToGrpc(429, { code: 'RATE_LIMIT_EXCEEDED' });
    gw = await client.grpcToGateway({ code: made.code, details: long, metadata: made.metadata });
    assert.deepEqual([gw.code, gw.httpStatus, gw.fallback], ['RATE_LIMIT_EXCEEDED', 429, false]);
    assert.equal(client.fallbacks, before);
  });

  it("rejects a bad HTTP status as the caller's own error", async () => {
    const before = client.fallbacks;
    for (const bad of [99, 600, '403', null, true, 403.5]) {
      await assert.rejects(client.gatewayToGrpc(bad), RangeError, JSON.stringify(bad));
    }
    assert.equal(client.fallbacks, before);
  });
});
