/**
 * Time bounds and encodings of API answers, against real loopback servers: a one-shot read
 * gives up within its deadline (retries included) however the server stalls, and says how
 * long it really took and how many tries it made; gzip and deflate answers are decoded,
 * within the size limit, and a corrupt one is a clear protocol error.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { type AnyGenError, exitCodeFor } from '../../src/errors.js';
import { BIN, envFor, rejection, sandbox, TEST_KEY, tempDir } from '../helpers/harness.js';
import { client, encodedAnswer, stalling, stub, trickling } from './helpers.js';

/** Runs `fn`, returning its error and the real time it took. */
async function timed(fn: () => Promise<unknown>): Promise<{ err: AnyGenError; ms: number }> {
  const started = performance.now();
  const err = await rejection(fn());
  return { err, ms: performance.now() - started };
}

/** The seconds and tries an out-of-time message states. */
function stated(err: AnyGenError, endpoint: string): { seconds: number; tries: number } {
  const m = err.message.match(/^(.+): no answer from AnyGen within (\d+(?:\.\d)?) s \((\d+) tr(?:y|ies)\)$/);
  assert.ok(m, `not an out-of-time message: ${err.message}`);
  assert.equal(m[1], endpoint);
  return { seconds: Number(m[2]), tries: Number(m[3]) };
}

/** A bound small enough for a test: 1.2 s in all, 500 ms a try, short back-off. */
const SMALL = { readDeadlineMs: 1_200, timeouts: { read: 500 }, retry: { baseDelayMs: 50 } };

describe('one-shot reads give up within their deadline, retries included', () => {
  test('headers then silence: timeout (exit 4) within the deadline, stating the real time and the tries', async (t) => {
    const server = await stalling(t);
    const { err, ms } = await timed(() => client(server.url, SMALL).verifyKey());
    assert.equal(err.kind, 'timeout');
    assert.equal(exitCodeFor(err.kind), 4);
    const { seconds, tries } = stated(err, 'verify key');
    assert.ok(ms <= 1_200 + 300, `took ${Math.round(ms)} ms`);
    assert.ok(tries >= 2, 'it was retried');
    assert.equal(tries, server.requests(), 'the tries stated are the tries made');
    assert.ok(Math.abs(seconds * 1000 - ms) <= 150, `states ${seconds} s, took ${Math.round(ms)} ms`);
  });

  test('a body that starts then stalls is a timeout too', async (t) => {
    const server = await stalling(t, { firstByte: true });
    const { err, ms } = await timed(() => client(server.url, SMALL).getMessages('task_1'));
    assert.equal(err.kind, 'timeout');
    assert.ok(server.bytesSent() > 0, 'the body had begun');
    assert.equal(stated(err, 'get messages').tries, server.requests());
    assert.ok(ms <= 1_500, `took ${Math.round(ms)} ms`);
  });

  test('a body that trickles a byte every 20 ms is cut off at the deadline', async (t) => {
    const server = await trickling(t, 20);
    const { err, ms } = await timed(() => client(server.url, SMALL).getTask('task_1'));
    assert.equal(err.kind, 'timeout');
    assert.ok(server.bytesSent() > 10, `the body kept coming (${server.bytesSent()} bytes)`);
    assert.equal(stated(err, 'get task').tries, server.requests());
    assert.ok(ms <= 1_500, `took ${Math.round(ms)} ms`);
  });

  test('the contract per-try timeout (30 s) is capped by what is left of the deadline', async (t) => {
    const server = await stalling(t);
    const { err, ms } = await timed(() => client(server.url, { readDeadlineMs: 700 }).verifyKey());
    assert.equal(err.kind, 'timeout');
    assert.deepEqual(stated(err, 'verify key'), { seconds: 0.7, tries: 1 });
    assert.ok(ms <= 1_000, `took ${Math.round(ms)} ms`);
  });

  test('a Retry-After longer than what is left ends the read at once with the refusal', async (t) => {
    const server = await stub(t, (res) => {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '5' });
      res.end('{"success":false,"error":"busy"}');
    });
    const { err, ms } = await timed(() => client(server.url, SMALL).verifyKey());
    assert.equal(err.kind, 'server_error');
    assert.match(err.message, /busy/);
    assert.equal(server.requests(), 1, 'no retry that would outlast the deadline');
    assert.ok(ms < 1_000, `took ${Math.round(ms)} ms`);
  });

  test('a read inside a wait keeps the cap the wait passes, not the one-shot deadline', async (t) => {
    const server = await stub(t, (res) => {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"verified":true}');
      }, 400);
    });
    const c = client(server.url, { readDeadlineMs: 150, retry: { retries: 0 } });
    const { err } = await timed(() => c.verifyKey());
    assert.equal(stated(err, 'verify key').tries, 1);
    const waited = await c.verifyKey({ timeoutCapMs: 5_000, retries: 0 });
    assert.equal(waited.data.verified, true);
    const capped = await rejection(c.getTask('task_1', { timeoutCapMs: 300, retries: 0 }));
    assert.equal(capped.kind, 'timeout');
    assert.match(capped.message, /^get task got no complete answer within 0\.3 s$/);
  });

  test('an answer within the deadline is returned as before', async (t) => {
    const s = await sandbox(t);
    const { data } = await client(s, SMALL).verifyKey();
    assert.equal(data.verified, true);
  });
});

describe('compressed answers', () => {
  const answer = Buffer.from(JSON.stringify({ success: true, verified: true, credits: 7 }));

  for (const [name, body, encoding] of [
    ['gzip', gzipSync(answer), 'gzip'],
    ['deflate (zlib)', deflateSync(answer), 'deflate'],
    ['deflate (raw, as some servers send it)', deflateRawSync(answer), 'deflate'],
    ['gzip named in capitals with identity', gzipSync(answer), 'identity, GZIP'],
  ] as const) {
    test(`a ${name} answer is decoded`, async (t) => {
      const server = await encodedAnswer(t, body, encoding);
      const { data } = await client(server.url).verifyKey();
      assert.equal(data.verified, true);
      assert.equal(data.credits, 7);
    });
  }

  test('a gzip error answer is decoded: the server message and kind come through', async (t) => {
    const refusal = JSON.stringify({ success: false, error: 'key not valid', code: 100004003 });
    const server = await encodedAnswer(t, gzipSync(refusal), 'gzip', 403);
    const err = await rejection(client(server.url).verifyKey());
    assert.equal(err.kind, 'auth');
    assert.match(err.message, /key not valid/);
  });

  test('a corrupt gzip body is a protocol error naming the call, status and request id, not retried', async (t) => {
    const corrupt = gzipSync(answer);
    corrupt.fill(0x55, 12, 20);
    const server = await encodedAnswer(t, corrupt, 'gzip');
    const err = await rejection(client(server.url).verifyKey());
    assert.equal(err.kind, 'protocol');
    assert.match(
      err.message,
      /^verify key \(GET \/v1\/openapi\/key\/verify\) answered with a body that could not be decoded: gzip: .+ \(HTTP 200, request id req_encoded\)$/,
    );
    assert.equal(server.requests(), 1);
  });

  test('a body that is not gzip at all, labelled gzip, is a protocol error', async (t) => {
    const server = await encodedAnswer(t, answer, 'gzip');
    const err = await rejection(client(server.url).verifyKey());
    assert.equal(err.kind, 'protocol');
    assert.match(err.message, /could not be decoded: gzip: incorrect header check/);
  });

  test('a gzip bomb (17 KB that inflates past 16 MB) is refused, not inflated into memory', async (t) => {
    const bomb = gzipSync(Buffer.alloc(17 * 1024 * 1024, 0x20));
    assert.ok(bomb.length < 64 * 1024);
    const server = await encodedAnswer(t, bomb, 'gzip');
    const err = await rejection(client(server.url).verifyKey());
    assert.equal(err.kind, 'protocol');
    assert.match(err.message, /gzip answer larger than 16777216 bytes once decoded/);
  });

  test('an encoding it cannot decode is named in a protocol error', async (t) => {
    const server = await encodedAnswer(t, answer, 'br');
    const err = await rejection(client(server.url).verifyKey());
    assert.equal(err.kind, 'protocol');
    assert.match(err.message, /Content-Encoding "br" is not supported/);
  });

  test('the CLI loads node:zlib only when a compressed answer arrives', async (t) => {
    const plain = await stub(t, (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(answer);
    });
    const gzipped = await encodedAnswer(t, gzipSync(answer), 'gzip');
    const dir = tempDir(t);
    // Reports, as the process exits, whether zlib was ever loaded.
    const probe = join(dir, 'probe.cjs');
    writeFileSync(
      probe,
      "process.on('exit', () => process.stderr.write('zlib:' + process.moduleLoadList.includes('NativeModule zlib') + '\\n'));",
    );
    const zlibLoaded = async (url: string) => {
      // Not spawnSync: the servers answering it live in this process.
      const stderr = await new Promise<string>((resolve, reject) =>
        execFile(
          process.execPath,
          ['--require', probe, BIN, 'verify'],
          { env: envFor(undefined, dir, { ANYGEN_API_KEY: TEST_KEY, ANYGEN_BASE_URL: url }) as NodeJS.ProcessEnv },
          (err, _stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stderr)),
        ),
      );
      const m = stderr.match(/zlib:(true|false)/);
      assert.ok(m, stderr);
      return m[1] === 'true';
    };
    assert.equal(await zlibLoaded(plain.url), false);
    assert.equal(await zlibLoaded(gzipped.url), true);
  });
});
