'use strict';
// The fallback mark, read from the raw grpc-status-details-bin bytes: an
// ErrorInfo with an empty reason, the client's domain, and metadata
// {errmapFallback: "true", httpStatus: "N"}, the same in the Go, Java,
// Python and Node clients.

const assert = require('node:assert/strict');
const net = require('node:net');
const path = require('node:path');
const { after, before, describe, it } = require('node:test');
const grpc = require('@grpc/grpc-js');
const protobuf = require('protobufjs');
const errmap = require('..');
const { ROOT, TEST_TIMEOUT_MS, sharedErrmap, skipWithoutErrmap, startFailServer } = require('./helpers');

const ERROR_INFO_URL = 'type.googleapis.com/google.rpc.ErrorInfo';

// The test's own decoder, from the proto files, not the library's.
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => path.join(ROOT, 'proto', target);
root.loadSync(['google/rpc/status.proto', 'google/rpc/error_details.proto'], { keepCase: true });
const Status = root.lookupType('google.rpc.Status');
const ErrorInfo = root.lookupType('google.rpc.ErrorInfo');

/** {code, message, infos: [{url, info}]} decoded from the raw bytes. */
function decodeMark(raw) {
  assert.ok(Buffer.isBuffer(raw) && raw.length > 0);
  const st = Status.decode(raw);
  const infos = st.details.map((any) => ({ url: any.type_url, info: ErrorInfo.toObject(ErrorInfo.decode(any.value), { defaults: true }) }));
  return { code: st.code, message: st.message, infos };
}

function detailsBin(err) {
  return err.metadata.get(errmap.STATUS_DETAILS_KEY)[0];
}

async function refusedTarget() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return `127.0.0.1:${port}`;
}

describe('fallback mark', () => {
  it('is the same on the wire as returned', async () => {
    const client = new errmap.Client(await refusedTarget(), { timeout: TEST_TIMEOUT_MS, domain: 'orders.example.com' });
    const failServer = await startFailServer();
    try {
      const err = await client.gatewayToGrpc(429, { code: 'QUOTA_EXCEEDED' });
      const received = await failServer.call(err);
      const sent = detailsBin(err);
      assert.deepEqual(detailsBin(received), sent);
      for (const raw of [sent, detailsBin(received)]) {
        const { code, message, infos } = decodeMark(raw);
        assert.deepEqual([code, message], [grpc.status.RESOURCE_EXHAUSTED, 'HTTP status 429']);
        assert.equal(infos.length, 1);
        assert.equal(infos[0].url, ERROR_INFO_URL);
        assert.equal(infos[0].info.reason, '');
        assert.equal(infos[0].info.domain, 'orders.example.com');
        assert.deepEqual({ ...infos[0].info.metadata }, { errmapFallback: 'true', httpStatus: '429' });
      }
      assert.ok(errmap.isFallback(err) && errmap.isFallback(received));
      assert.equal(errmap.FALLBACK_METADATA_KEY, 'errmapFallback');
    } finally {
      failServer.close();
      client.close();
    }
  });

  it('must be whole for isFallback', () => {
    const withInfo = (info) => {
      const metadata = new grpc.Metadata();
      const value = ErrorInfo.encode(info).finish();
      metadata.set(errmap.STATUS_DETAILS_KEY, Buffer.from(Status.encode({ code: 13, message: 'x', details: [{ type_url: ERROR_INFO_URL, value }] }).finish()));
      return { code: 13, details: 'x', metadata };
    };
    const mark = { errmapFallback: 'true', httpStatus: '500' };
    assert.ok(errmap.isFallback(withInfo({ domain: 'd', metadata: mark })));
    // An empty reason alone, the key alone, or a key not "true" is no mark.
    assert.equal(errmap.isFallback(withInfo({ domain: 'd', metadata: { httpStatus: '500' } })), false);
    assert.equal(errmap.isFallback(withInfo({ reason: 'INTERNAL', domain: 'd', metadata: mark })), false);
    assert.equal(errmap.isFallback(withInfo({ domain: 'd', metadata: { errmapFallback: '1' } })), false);
  });

  describe("errmap's own answers", { skip: skipWithoutErrmap() }, () => {
    let server;
    let client;
    before(async () => {
      server = await sharedErrmap();
      client = new errmap.Client(server.addr, { timeout: TEST_TIMEOUT_MS });
    });
    after(async () => {
      client.close();
      await server.stop();
    });

    it('never carry it', async () => {
      for (const [httpStatus, code] of [[500, 'INTERNAL'], [418, undefined], [403, 'APIGW_NONCE_CONFLICT']]) {
        const err = await client.gatewayToGrpc(httpStatus, { code });
        const { infos } = decodeMark(detailsBin(err));
        assert.ok(infos.every(({ info }) => info.metadata.errmapFallback === undefined), String(httpStatus));
        assert.equal(errmap.isFallback(err), false);
      }
      assert.equal(client.fallbacks, 0);
    });
  });
});

describe('fallback body', () => {
  it('escapes as errmap and the other three clients do', () => {
    // The same input and expected text are in each client's tests.
    const got = errmap.gatewayBody('r-1', 500, 'INTERNAL', 'a"b\\c\b\f\n\r\t\u0001\u001f\u2028中');
    const want = '{"requestId":"r-1","error":{"code":500,"status":"INTERNAL","message":"a\\"b\\\\c\\b\\f\\n\\r\\t\\u0001\\u001f\u2028中"}}';
    assert.equal(got, want);
  });
});
