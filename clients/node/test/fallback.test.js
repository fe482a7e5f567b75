'use strict';
// errmap down, slow or confused: both integration points answer from the
// built-in tables, marked as fallbacks, without hanging or rejecting.

const assert = require('node:assert/strict');
const net = require('node:net');
const { describe, it } = require('node:test');
const grpc = require('@grpc/grpc-js');
const errmap = require('..');
const { TEST_TIMEOUT_MS, errmapBinary, skipWithoutBinary, startErrmap, startFailServer } = require('./helpers');

// Far more than the default deadline, far less than "hangs": a call that
// returns within it did not wait for errmap.
const NO_HANG_MS = 2000;

async function timed(promise) {
  const start = performance.now();
  const value = await promise;
  return [value, performance.now() - start];
}

async function bindServer(server) {
  return new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
  );
}

describe('fallback', () => {
  it('answers when errmap is stopped mid-run', { skip: skipWithoutBinary() }, async () => {
    const own = await startErrmap(errmapBinary());
    const client = new errmap.Client(own.addr, { timeout: TEST_TIMEOUT_MS });
    const failServer = await startFailServer();
    try {
      let err = await client.gatewayToGrpc(403, { code: 'APIGW_NONCE_CONFLICT' });
      assert.equal(errmap.isFallback(err), false);
      assert.equal((await client.grpcToGateway(err)).code, 'APIGW_NONCE_CONFLICT');
      assert.equal(client.fallbacks, 0);

      assert.equal(await own.stop(), 0);

      let elapsed;
      [err, elapsed] = await timed(client.gatewayToGrpc(403, { code: 'APIGW_NONCE_CONFLICT' }));
      assert.ok(elapsed < NO_HANG_MS, `${elapsed} ms`);
      assert.equal(err.code, grpc.status.PERMISSION_DENIED);
      assert.equal(err.details, 'HTTP status 403');
      assert.ok(errmap.isFallback(err));
      const info = errmap.decodeStatus(err).details.find((d) => d.type === 'google.rpc.ErrorInfo').value;
      assert.deepEqual([info.reason, info.domain, info.metadata], ['', errmap.DEFAULT_DOMAIN, { errmapFallback: 'true', httpStatus: '403' }]);
      assert.equal(client.fallbacks, 1);

      // The mark travels: the caller of a service that raised it sees it.
      const received = await failServer.call(err);
      assert.equal(received.code, grpc.status.PERMISSION_DENIED);
      assert.ok(errmap.isFallback(received));

      let gw;
      [gw, elapsed] = await timed(client.grpcToGateway(received, { requestId: 'req-9' }));
      assert.ok(elapsed < NO_HANG_MS, `${elapsed} ms`);
      assert.deepEqual([gw.httpStatus, gw.code, gw.fallback, gw.message], [403, '', true, 'HTTP status 403']);
      assert.ok(errmap.isFallback(gw));
      assert.deepEqual(JSON.parse(gw.body), { requestId: 'req-9', error: { code: 403, status: 'PERMISSION_DENIED', message: 'HTTP status 403' } });
      assert.equal(client.fallbacks, 2);

      // Success stays "no error"; every status and code has an answer.
      assert.equal(await client.gatewayToGrpc(200), null);
      assert.equal((await client.gatewayToGrpc(502, { body: '{"error": {}}' })).code, grpc.status.UNAVAILABLE);
      assert.equal((await client.grpcToGateway(grpc.status.DEADLINE_EXCEEDED)).httpStatus, 504);
      assert.equal((await client.grpcToGateway(null)).httpStatus, 200);
      assert.equal(client.fallbacks, 6);
    } finally {
      client.close();
      failServer.close();
      await own.stop();
    }
  });

  it('answers calls in flight while errmap stops', { skip: skipWithoutBinary() }, async () => {
    // Four loops call without pause while errmap is stopped: every call
    // resolves with the right code, none rejects or hangs, the ones that
    // start after errmap exited are fallbacks, and the counter counts every
    // fallback.
    const own = await startErrmap(errmapBinary());
    const client = new errmap.Client(own.addr, { timeout: 1000 });
    const results = []; // [ms, error, started after errmap exited]
    let exited = false;
    let done = false;
    const loop = async () => {
      while (!done) {
        const afterExit = exited;
        const [err, ms] = await timed(client.gatewayToGrpc(403, { code: 'APIGW_NONCE_CONFLICT' }));
        results.push([ms, err, afterExit]);
      }
    };
    const until = async (n) => {
      while (results.length < n) await new Promise((resolve) => setTimeout(resolve, 10));
    };
    try {
      await client.ready;
      const loops = [loop(), loop(), loop(), loop()];
      await until(100);
      assert.equal(await own.stop(), 0);
      exited = true;
      await until(results.length + 100);
      done = true;
      await Promise.all(loops);
      assert.ok(results.every(([, err]) => err.code === grpc.status.PERMISSION_DENIED));
      assert.ok(results.filter(([, , afterExit]) => afterExit).every(([, err]) => errmap.isFallback(err)));
      assert.ok(results.some(([, err]) => !errmap.isFallback(err)));
      assert.equal(results.filter(([, err]) => errmap.isFallback(err)).length, client.fallbacks);
      assert.ok(Math.max(...results.map(([ms]) => ms)) < NO_HANG_MS);
    } finally {
      done = true;
      client.close();
      await own.stop();
    }
  });

  it('answers within the default deadline when errmap is slow', async () => {
    // An errmap that answers after 5 s: calls with the default 50 ms
    // deadline return the fallback long before that.
    const timers = new Set();
    const slow = (call, callback) => {
      const timer = setTimeout(() => callback({ code: grpc.status.INTERNAL, details: 'too late' }), 5000);
      timers.add(timer);
    };
    const { ErrorMapService } = grpc.loadPackageDefinition(errmap.packageDefinition).errmap.v1;
    const server = new grpc.Server();
    server.addService(ErrorMapService.service, { ResolveGatewayError: slow, ResolveGrpcStatus: slow });
    const port = await bindServer(server);
    const seen = [];
    const client = new errmap.Client(`127.0.0.1:${port}`, { onFallback: (method, err) => seen.push([method, err.code]) });
    try {
      assert.equal(client.timeout, errmap.DEFAULT_TIMEOUT_MS);
      assert.equal(errmap.DEFAULT_TIMEOUT_MS, 50);
      const [[err, gw], elapsed] = await timed(
        Promise.all([client.gatewayToGrpc(503, { code: 'UNAVAILABLE' }), client.grpcToGateway(grpc.status.RESOURCE_EXHAUSTED)]),
      );
      assert.ok(elapsed < NO_HANG_MS, `${elapsed} ms`);
      assert.equal(err.code, grpc.status.UNAVAILABLE);
      assert.ok(errmap.isFallback(err));
      assert.deepEqual([gw.httpStatus, gw.code, gw.fallback], [429, '', true]);
      assert.equal(client.fallbacks, 2);
      assert.deepEqual(seen.sort(), [
        ['ResolveGatewayError', grpc.status.DEADLINE_EXCEEDED],
        ['ResolveGrpcStatus', grpc.status.DEADLINE_EXCEEDED],
      ]);
    } finally {
      client.close();
      for (const timer of timers) clearTimeout(timer);
      server.forceShutdown();
    }
  });

  it('answers when errmap answers with an error or nothing listens', async () => {
    // A server without errmap's service (UNIMPLEMENTED), and a port nothing
    // listens on (UNAVAILABLE).
    const server = new grpc.Server();
    const port = await bindServer(server);
    const closed = await new Promise((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = probe.address();
        probe.close(() => resolve(p));
      });
    });
    try {
      for (const target of [`127.0.0.1:${port}`, `127.0.0.1:${closed}`]) {
        const client = new errmap.Client(target, { timeout: TEST_TIMEOUT_MS });
        try {
          assert.equal(await client.ready, false, target);
          const err = await client.gatewayToGrpc(401, { code: 'APIGW_KEY_DISABLED' });
          assert.equal(err.code, grpc.status.UNAUTHENTICATED, target);
          assert.ok(errmap.isFallback(err), target);
          const gw = await client.grpcToGateway(err);
          assert.deepEqual([gw.httpStatus, gw.fallback], [401, true], target);
          assert.equal(client.fallbacks, 2);
        } finally {
          client.close();
        }
      }
    } finally {
      server.forceShutdown();
    }
  });

  it('falls back on a gateway body errmap refuses (over 64 KiB)', { skip: skipWithoutBinary() }, async () => {
    const own = await startErrmap(errmapBinary());
    const client = new errmap.Client(own.addr, { timeout: TEST_TIMEOUT_MS });
    try {
      const err = await client.gatewayToGrpc(403, { body: Buffer.alloc(65 * 1024, 'x') });
      assert.equal(err.code, grpc.status.PERMISSION_DENIED);
      assert.ok(errmap.isFallback(err));
      assert.equal(client.fallbacks, 1);
    } finally {
      client.close();
      assert.equal(await own.stop(), 0);
    }
  });

  it('answers after close()', { skip: skipWithoutBinary() }, async () => {
    const own = await startErrmap(errmapBinary());
    const client = new errmap.Client(own.addr, { timeout: TEST_TIMEOUT_MS });
    try {
      assert.equal(await client.ready, true);
      client.close();
      const err = await client.gatewayToGrpc(404, { code: 'NOT_FOUND' });
      assert.equal(err.code, grpc.status.NOT_FOUND);
      assert.ok(errmap.isFallback(err));
      const gw = await client.grpcToGateway(err);
      assert.deepEqual([gw.httpStatus, gw.fallback], [404, true]);
      assert.equal(client.fallbacks, 2);
    } finally {
      assert.equal(await own.stop(), 0);
    }
  });

  it('takes an existing channel and checks its options', async () => {
    assert.throws(() => new errmap.Client('127.0.0.1:1', { timeout: 0 }), RangeError);
    const channel = new grpc.Channel('127.0.0.1:1', grpc.credentials.createInsecure(), {});
    const client = new errmap.Client('127.0.0.1:1', { channel });
    try {
      assert.ok(errmap.isFallback(await client.gatewayToGrpc(500)));
      assert.equal(client.stub.getChannel(), channel);
    } finally {
      client.close();
      channel.close();
    }
  });
});
