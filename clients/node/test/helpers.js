'use strict';
// Test helpers: a real errmap, and a tiny grpc-js server.
//
// errmap is the one named by ERRMAP_ADDR (HOST:PORT, with its health service
// at ERRMAP_HEALTH_ADDR, else at the same address), or else started here
// from ERRMAP_BINARY (default: target/release/errmap, then errmap on PATH)
// on free loopback ports. The fallback tests always start their own, to stop
// it mid-run. Without a binary the tests skip, except under CI=true, where
// they fail.

const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const grpc = require('@grpc/grpc-js');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const IN_CI = process.env.CI === 'true';
const START_TIMEOUT_MS = 30000;
const STOP_TIMEOUT_MS = 15000;
// Deadline of the tests' own client: generous, since these tests check
// answers, not speed, on a machine that may be busy.
const TEST_TIMEOUT_MS = 10000;

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The errmap binary to start, or null. */
function errmapBinary() {
  const onPath = (process.env.PATH || '').split(path.delimiter).map((dir) => path.join(dir, 'errmap'));
  return [process.env.ERRMAP_BINARY, path.join(ROOT, 'target', 'release', 'errmap'), ...onPath].find((f) => f && isExecutable(f)) || null;
}

/** Why tests that start errmap skip (false: they run). Under CI=true a
 * missing binary throws instead: the suite fails, never skips. */
function skipWithoutBinary() {
  if (errmapBinary()) return false;
  if (IN_CI) throw new Error('no errmap binary: set ERRMAP_BINARY');
  return 'no errmap binary: set ERRMAP_BINARY';
}

/** Why tests that use the shared errmap skip (false: they run). */
function skipWithoutErrmap() {
  return process.env.ERRMAP_ADDR ? false : skipWithoutBinary();
}

/** An errmap process on free loopback ports: {addr, healthAddr, stop()}. */
async function startErrmap(binary) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ERRMAP_')));
  const args = ['--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--http-listen', 'off', '--shutdown-grace', '1s'];
  const child = spawn(binary, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`errmap did not start:\n${log}`)), START_TIMEOUT_MS);
    const onData = (chunk) => {
      log += chunk;
      const addr = /errmap listening on (\S+)/.exec(log);
      const admin = /admin listening on (\S+)/.exec(log);
      if (addr && admin) {
        clearTimeout(timer);
        resolve({ addr: addr[1], healthAddr: admin[1] });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`errmap exited (${code}) during start-up:\n${log}`));
    });
  });
  const { addr, healthAddr } = await ready;
  let stopped = null;
  // SIGTERM, and the exit code (it must be 0).
  const stop = () => {
    if (!stopped) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      stopped = exited.finally(() => clearTimeout(timer));
    }
    return stopped;
  };
  return { addr, healthAddr, stop };
}

/** The errmap the tests use: {addr, healthAddr, stop()} (stop does nothing for ERRMAP_ADDR's). */
async function sharedErrmap() {
  if (process.env.ERRMAP_ADDR) {
    const addr = process.env.ERRMAP_ADDR;
    return { addr, healthAddr: process.env.ERRMAP_HEALTH_ADDR || addr, stop: async () => 0 };
  }
  return startErrmap(errmapBinary());
}

const bytes = (b) => b;
const PLACE = {
  path: '/demo.Orders/Place',
  requestStream: false,
  responseStream: false,
  requestSerialize: bytes,
  requestDeserialize: bytes,
  responseSerialize: bytes,
  responseDeserialize: bytes,
};

/** A tiny grpc-js server whose one method fails with the error it is told
 * to: call(err) registers it, calls demo.Orders/Place over a real socket and
 * returns the error the caller receives (null if the call succeeded). */
async function startFailServer() {
  const errors = new Map();
  const server = new grpc.Server();
  server.addService({ Place: PLACE }, { Place: (call, callback) => callback(errors.get(call.request.toString()) || null, Buffer.from('placed')) });
  const port = await new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return {
    call(err) {
      const key = String(errors.size);
      errors.set(key, err);
      return new Promise((resolve) =>
        client.makeUnaryRequest(PLACE.path, bytes, bytes, Buffer.from(key), { deadline: Date.now() + TEST_TIMEOUT_MS }, (callErr) => resolve(callErr || null)),
      );
    },
    close() {
      client.close();
      server.forceShutdown();
    },
  };
}

module.exports = { IN_CI, ROOT, TEST_TIMEOUT_MS, errmapBinary, sharedErrmap, skipWithoutBinary, skipWithoutErrmap, startErrmap, startFailServer };
