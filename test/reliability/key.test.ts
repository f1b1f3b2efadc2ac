/**
 * Issue 4, case 8: the API key is never printed whole — not by `config get`, not
 * under --verbose, not in an error, not in a --json document — and -H cannot
 * smuggle an Authorization header. (Every harness run also asserts that its
 * output lacks TEST_KEY; these tests add what must be shown instead.)
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { envFor, json, runBin, runCli, sandbox, TEST_KEY, tempDir } from '../helpers/harness.js';
import { assertCleanError, listen } from './helpers.js';

const MASKED = `${TEST_KEY.slice(0, 10)}...`;

describe('the key in output', () => {
  test('config set and config get show the key masked to its first 10 characters, as text and as --json', async (t) => {
    const home = tempDir(t);
    const env = envFor(undefined, home);
    const set = await runCli(['config', 'set', 'api_key', TEST_KEY], { env });
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stdout, `Set api_key = ${MASKED}\n`);
    const all = await runCli(['config', 'get'], { env });
    assert.equal(all.stdout, `api_key = ${MASKED}\n`);
    const one = await runCli(['config', 'get', 'api_key'], { env });
    assert.equal(one.stdout, `api_key = ${MASKED}\n`);
    const asJson = await runCli(['config', 'get', '--json'], { env });
    assert.deepEqual((json(asJson) as { values: unknown }).values, { api_key: MASKED });
    const setJson = await runCli(['config', 'set', 'api_key', TEST_KEY, '--json'], { env });
    assert.equal((json(setJson) as { value: string }).value, MASKED);
  });

  test('--verbose shows every request line with its x-request-id and the key only masked', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const created = await runCli(['create', '--prompt', 'a poster', '--wait', '--verbose'], { env: envFor(s, home) });
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stderr, new RegExp(`API key ${MASKED.replace(/\./g, '\\.')} from ANYGEN_API_KEY`));
    assert.match(
      created.stderr,
      /POST http:\/\/127\.0\.0\.1:\d+\/v1\/openapi\/tasks {2}→ 200 {2}\d+ ms {2}x-request-id: req_sbx_/,
    );
    assert.match(
      created.stderr,
      /GET http:\/\/127\.0\.0\.1:\d+\/v1\/openapi\/tasks\/task_\w+ {2}→ 200 .*x-request-id: req_sbx_/,
    );
    assert.ok(!/Bearer/i.test(created.stderr));

    // The same from the flag, with --json on stdout.
    const flagged = await runCli(['poll', '--task-id', 'task_nope', '--verbose', '--json', '-k', TEST_KEY], {
      env: envFor(s, home, { ANYGEN_API_KEY: undefined }),
    });
    assert.equal(flagged.code, 1);
    assert.match(flagged.stderr, /API key sk-test-7f\.\.\. from --api-key/);
    assert.match(flagged.stderr, /GET .* → 404 .*x-request-id: req_sbx_/);
  });

  test('an auth error (a key the service refuses) exits 3 with the request id, as text, --json and from the binary', async (t) => {
    const s = await sandbox(t, { apiKey: 'sk-someone-else-000000' });
    const home = tempDir(t);
    const env = envFor(s, home);
    const text = await runCli(['create', '--prompt', 'a poster', '--verbose'], { env });
    const line = assertCleanError(text, 3);
    assert.match(line, /invalid API key.*request id req_sbx_/);
    assert.match(text.stderr, /Check your API key/);
    const doc = await runCli(['create', '--prompt', 'a poster', '--json'], { env });
    assertCleanError(doc, 3, { stdoutMayHaveJson: true });
    const error = (json(doc) as { error: { type: string; request_id: string; message: string } }).error;
    assert.equal(error.type, 'auth');
    assert.match(error.request_id, /^req_sbx_/);
    writeFileSync(join(home, 'ref.png'), 'reference');
    const bin = await runBin(['upload', '--file', join(home, 'ref.png'), '--json'], { env });
    assert.equal(bin.code, 3, bin.stderr);
  });

  test('a server that echoes the key back has it masked in the error line, the --json document, a failed task and a failed reply', async (t) => {
    let mode: 'status' | 'refused' | 'task' | 'reply' = 'status';
    const server = createServer((req, res) => {
      const auth = String(req.headers.authorization);
      res.setHeader('x-request-id', 'req_echo_1');
      res.setHeader('content-type', 'application/json');
      const send = (status: number, body: unknown) => {
        res.writeHead(status);
        res.end(JSON.stringify(body));
      };
      if (mode === 'status') return send(400, { success: false, error: `bad key ${auth}`, code: 100004001 });
      if (mode === 'refused') return send(200, { success: false, error: `no credits for ${auth}`, code: 100006029 });
      if (mode === 'task') {
        return send(200, { success: true, task_id: 'task_1', status: 'failed', error: `rejected ${auth}` });
      }
      return send(200, {
        success: true,
        messages: [{ id: 9, role: 'assistant', status: 'failed', content: `could not use ${auth}` }],
      });
    });
    const port = await listen(t, server);
    const env = envFor(undefined, tempDir(t), {
      ANYGEN_BASE_URL: `http://127.0.0.1:${port}`,
      ANYGEN_API_KEY: TEST_KEY,
    });

    for (const [m, argv, code] of [
      ['status', ['poll', '--task-id', 'task_1'], 1],
      ['refused', ['create', '--prompt', 'p'], 1],
      ['task', ['poll', '--task-id', 'task_1'], 1],
      ['reply', ['get-messages', '--task-id', 'task_1', '--wait', '--since-id', '1'], 1],
    ] as const) {
      mode = m;
      for (const extra of [[], ['--json'], ['--verbose']]) {
        const r = await runCli([...argv, ...extra], { env });
        const line = assertCleanError(r, code, { stdoutMayHaveJson: extra[0] === '--json' });
        assert.match(line, /sk-\*\*\*/, `${m} ${extra}: ${line}`);
      }
    }
  });

  test('a key typed into an option the command does not take is not echoed back', async (t) => {
    const env = envFor(undefined, tempDir(t));
    for (const argv of [
      ['config', 'get', `--api-key=${TEST_KEY}`],
      ['create', `--api-kye=${TEST_KEY}`, '--prompt', 'p'],
      ['config', 'path', '--api-key', TEST_KEY],
    ]) {
      const r = await runCli(argv, { env });
      const line = assertCleanError(r, 2, { first: true });
      assert.match(line, /unknown option '--api-k/, line);
    }
  });
});

describe('-H and the Authorization header', () => {
  test('-H Authorization (in any case or spacing) is refused with exit 2 and nothing is sent', async (t) => {
    const s = await sandbox(t);
    const env = envFor(s, tempDir(t));
    for (const header of ['Authorization: Bearer sk-other', 'authorization:sk-other', 'AUTHORIZATION : Bearer x']) {
      const r = await runCli(['create', '--prompt', 'p', '-H', header], { env });
      const line = assertCleanError(r, 2, { first: true });
      assert.match(line, /-H Authorization is not allowed/i);
      assert.match(r.stderr, /--api-key, ANYGEN_API_KEY or the config file/);
    }
    assert.equal(s.stats.requests, 0);
  });
});
