'use strict';
// The Node.js examples of the READMEs run as printed.
//
// Every ```js block of clients/node/README.md, and of the "Node" part of
// README.md's "Client libraries", runs as an ES module against the errmap of
// these tests (its address in place of localhost:50051), with
// 'errmap-client' resolving to this package. Each console.log(...) line ends
// with a comment holding what it prints; the output must be those lines.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { describe, it, before, after } = require('node:test');
const { ROOT, sharedErrmap, skipWithoutErrmap } = require('./helpers');

const README_ADDR = 'localhost:50051';
const RUN_TIMEOUT_MS = 60000;
// [file, the "## " section and "### " subsection that hold the examples (null: the whole file)]
const SOURCES = [
  [path.join(ROOT, 'README.md'), 'Client libraries', 'Node'],
  [path.join(ROOT, 'clients', 'node', 'README.md'), null, null],
];
const LOG_LINE = /^\s*console\.log\(.*\);\s+\/\/ (.*)$/;

function jsBlocks(file, section, subsection) {
  const blocks = [];
  let current = null;
  let code = [];
  let h2 = null;
  let h3 = null;
  fs.readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, index) => {
      if (current !== null) {
        if (line.trim() === '```') {
          blocks.push([current, code.join('\n') + '\n']);
          current = null;
          code = [];
        } else {
          code.push(line);
        }
      } else if (line.startsWith('## ')) {
        h2 = line.slice(3).trim();
        h3 = null;
      } else if (line.startsWith('### ')) {
        h3 = line.slice(4).trim();
      } else if (line.trim() === '```js' && (section === null || (h2 === section && h3 === subsection))) {
        current = index + 1;
      }
    });
  return blocks;
}

describe('README examples', { skip: skipWithoutErrmap() }, () => {
  let server;
  let dir;
  before(async () => {
    server = await sharedErrmap();
    // A project whose node_modules/errmap-client is this package.
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'errmap-readme-'));
    fs.mkdirSync(path.join(dir, 'node_modules'));
    fs.symlinkSync(path.resolve(__dirname, '..'), path.join(dir, 'node_modules', 'errmap-client'), 'dir');
    for (const dep of ['@grpc']) fs.symlinkSync(path.resolve(__dirname, '..', 'node_modules', dep), path.join(dir, 'node_modules', dep), 'dir');
  });
  after(async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    assert.equal(await server.stop(), 0);
  });

  for (const [file, section, subsection] of SOURCES) {
    const where = path.relative(ROOT, file);
    it(`${where} has examples`, () => {
      assert.ok(jsBlocks(file, section, subsection).length > 0, `no js example in ${where} ${section || ''} ${subsection || ''}`);
    });
    for (const [line, code] of jsBlocks(file, section, subsection)) {
      it(`${where}:${line} runs as printed`, async () => {
        const expected = code.split('\n').map((l) => LOG_LINE.exec(l)).filter(Boolean).map((m) => m[1]);
        assert.ok(expected.length > 0, `${where}:${line}: no console.log(...); // output line to check`);
        assert.ok(code.includes(README_ADDR), `${where}:${line}: the example does not use ${README_ADDR}`);
        const script = path.join(dir, `example-${line}.mjs`);
        fs.writeFileSync(script, code.replaceAll(README_ADDR, server.addr));
        const { stdout, stderr, error } = await new Promise((resolve) =>
          execFile(process.execPath, [script], { cwd: dir, timeout: RUN_TIMEOUT_MS }, (err, out, errOut) => resolve({ stdout: out, stderr: errOut, error: err })),
        );
        assert.equal(error, null, `${where}:${line}: ${stderr}`);
        assert.deepEqual(stdout.split('\n').filter((l, i, all) => l !== '' || i < all.length - 1), expected, stderr);
      });
    }
  }
});
