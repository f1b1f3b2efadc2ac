/**
 * Issue 4, cases 1–3: faults while polling, what is (and is not) repeated, and
 * answers that are not the contract. All against the sandbox over loopback.
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { waitForTask } from '../../src/commands/task.js';
import type { CommandContext } from '../../src/factory.js';
import type { IO } from '../../src/io.js';
import { Output } from '../../src/render/output.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/server.js';
import { TaskHistory } from '../../src/store/history.js';
import { envFor, json, runBin, runCli, sandbox, TEST_KEY, tempDir } from '../helpers/harness.js';
import { assertCleanError, client, lines, listen, makeTask } from './helpers.js';

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe('faults while polling', () => {
  test('poll survives 5×503, a 429 with Retry-After: 2 and a dropped connection: waits grow, cap at 30 s, honour Retry-After, exit 0', async (t) => {
    const s = await sandbox(t);
    const id = await makeTask(s, 'poster [faults 503*5,429:2,drop]');
    const before = s.stats.requests;
    const r = await runCli(['poll', '--task-id', id], { env: envFor(s, tempDir(t)) });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Status: completed/);
    assert.equal(s.stats.requests - before, 8, '7 failed reads and the one that answered');
    // One wait per failure, none more.
    assert.equal(r.sleeps.length, 7, `sleeps: ${r.sleeps}`);
    const backoff = r.sleeps.slice(0, 5);
    for (let i = 1; i < backoff.length; i++) {
      assert.ok((backoff[i] as number) >= (backoff[i - 1] as number), `waits grow: ${r.sleeps}`);
    }
    assert.ok((backoff[3] as number) > (backoff[0] as number), `waits grow: ${r.sleeps}`);
    assert.ok(
      r.sleeps.every((ms) => ms <= 30_000),
      `no wait over 30 s: ${r.sleeps}`,
    );
    assert.equal(backoff[4], 30_000, 'the fifth wait (3 s × 2⁴ = 48 s uncapped) is capped at 30 s');
    assert.ok((r.sleeps[5] as number) >= 2_000, `Retry-After: 2 → a wait of at least 2000 ms: ${r.sleeps}`);
    assert.equal(r.sleeps[6], 30_000, 'after the drop the back-off resumes, still capped');
    // Each retry is said on stderr, with the reason.
    assert.match(r.stderr, /HTTP 503 .*trying again in 3 s/);
    assert.match(r.stderr, /HTTP 429 .*trying again in 3 s/);
  });

  test('a Retry-After longer than the back-off cap is honoured (45 s → 45000 ms)', async (t) => {
    const s = await sandbox(t);
    const id = await makeTask(s, 'poster [faults 429:45]');
    const r = await runCli(['poll', '--task-id', id], { env: envFor(s, tempDir(t)) });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.sleeps, [45_000]);
  });

  test('an answer slower than the read timeout is given up on and retried; the wait still completes', async (t) => {
    const s = await sandbox(t);
    const id = await makeTask(s, 'poster [faults 503*5,429:2,drop,delay:1500]');
    // The CLI's own wait (waitForTask), with a client whose read timeout is 200 ms instead of 30 s.
    const c = client(s, { timeouts: { read: 200 } });
    let clock = 0;
    const sleeps: number[] = [];
    let stderr = '';
    const io: IO = {
      stdout: { write: () => true },
      stderr: {
        write: (text: string) => {
          stderr += text;
          return true;
        },
      },
      stderrIsTTY: false,
      env: {},
      now: () => clock,
      sleep: async (ms) => {
        sleeps.push(ms);
        clock += ms;
      },
      signal: new AbortController().signal,
    };
    const out = new Output(io, { json: false, quiet: false, verbose: false });
    const ctx = {
      io,
      out,
      history: new TaskHistory({ ANYGEN_NO_HISTORY: '1' }, io.now, () => {}),
    } as unknown as CommandContext;
    const started = performance.now();
    const task = await waitForTask(ctx, c, id, { intervalMs: 3_000, timeoutMs: 20 * 60_000 });
    const realMs = performance.now() - started;
    assert.equal(task.status, 'completed');
    assert.match(stderr, /get task got no complete answer within 0\.2 s; trying again/);
    assert.equal(sleeps.length, 8, `one wait per failure: ${sleeps}`);
    assert.ok(
      sleeps.every((ms) => ms <= 30_000),
      `${sleeps}`,
    );
    assert.ok((sleeps[5] as number) >= 2_000, `${sleeps}`);
    assert.ok(realMs < 1500, `the slow answer was not waited for (${Math.round(realMs)} ms)`);
  });

  test('--timeout 5 ends a poll of a task that never finishes with exit 5, no later than 5 s', async (t) => {
    const s = await sandbox(t);
    const id = await makeTask(s, 'poster [reads 1000000]');
    const r = await runCli(['poll', '--task-id', id, '--timeout', '5'], { env: envFor(s, tempDir(t)) });
    assert.equal(r.code, 5, r.stderr);
    assert.ok(sum(r.sleeps) <= 5_000, `waited ${sum(r.sleeps)} ms`);
    assert.match(r.stderr, /Error: Gave up waiting after 5s; last status: processing; it may still finish/);
    assert.match(r.stderr, new RegExp(`Resume with: anygen-image poll --task-id ${id}`));
  });

  test('--timeout 5 holds while every read fails with 503: exit 5, not the 503, and no later than 5 s', async (t) => {
    const s = await sandbox(t, { faults: '503*100' });
    const r = await runCli(['poll', '--task-id', 'task_any', '--timeout', '5'], { env: envFor(s, tempDir(t)) });
    assert.equal(r.code, 5, r.stderr);
    assert.ok(sum(r.sleeps) <= 5_000, `waited ${sum(r.sleeps)} ms`);
    assert.match(r.stderr, /Gave up waiting after 5s; no answer yet/);
  });

  test('a Retry-After of an hour does not extend --timeout 5', async (t) => {
    const s = await sandbox(t, { faults: '429:3600*3' });
    const r = await runCli(['poll', '--task-id', 'task_any', '--timeout', '5'], { env: envFor(s, tempDir(t)) });
    assert.equal(r.code, 5, r.stderr);
    assert.ok(sum(r.sleeps) <= 5_000, `waited ${r.sleeps}`);
  });

  test('without --timeout the wait ends at 20 minutes even under Retry-After: 600, each wait at most 5 minutes', async (t) => {
    const s = await sandbox(t, { faults: '429:600*20' });
    const before = s.stats.requests;
    const r = await runCli(['poll', '--task-id', 'task_any'], { env: envFor(s, tempDir(t)) });
    assert.equal(r.code, 5, r.stderr);
    assert.ok(sum(r.sleeps) <= 20 * 60_000, `waited ${sum(r.sleeps)} ms`);
    assert.ok(
      r.sleeps.every((ms) => ms <= 5 * 60_000),
      `${r.sleeps}`,
    );
    assert.ok(sum(r.sleeps) >= 20 * 60_000 - 5 * 60_000, 'it did wait, up to the cap');
    assert.equal(s.stats.requests - before, r.sleeps.length);
    assert.match(r.stderr, /Gave up waiting after 20m00s/);
  });

  test('without --timeout a task that never finishes ends at 20 minutes with exit 5', async (t) => {
    const s = await sandbox(t);
    const id = await makeTask(s, 'poster [reads 1000000]');
    const r = await runCli(['poll', '--task-id', id, '--interval', '10'], { env: envFor(s, tempDir(t)) });
    assert.equal(r.code, 5, r.stderr);
    assert.equal(sum(r.sleeps), 20 * 60_000);
  });
});

describe('what is repeated automatically', () => {
  const dropped = (s: Sandbox) => ({ requests: s.stats.requests, tasks: s.tasks.size, received: s.received.length });

  test('create is sent once when the connection drops after it may have reached the server: no second task', async (t) => {
    const s = await sandbox(t, { faults: 'drop' });
    const r = await runCli(['create', '--prompt', 'a poster'], { env: envFor(s, tempDir(t)) });
    assertCleanError(r, 4);
    assert.deepEqual(dropped(s), { requests: 1, tasks: 0, received: 0 });
    assert.equal(s.stats.byRoute.create, undefined);
  });

  test('create answered with 503 is not repeated', async (t) => {
    const s = await sandbox(t, { faults: '503' });
    const r = await runCli(['create', '--prompt', 'a poster'], { env: envFor(s, tempDir(t)) });
    // A server error is exit 4 (the service is failing, try later), not 1 (it refused).
    assertCleanError(r, 4);
    assert.deepEqual(dropped(s), { requests: 1, tasks: 0, received: 0 });
  });

  test('send-message is sent once when the connection drops', async (t) => {
    const s = await sandbox(t);
    const id = await makeTask(s, 'a poster');
    s.addFaults('drop');
    const before = s.stats.requests;
    const r = await runCli(['send-message', '--task-id', id, '--message', 'darker'], { env: envFor(s, tempDir(t)) });
    assertCleanError(r, 4);
    assert.equal(s.stats.requests - before, 1);
    assert.equal(s.received.filter((x) => x.route === 'send-message').length, 0);
  });

  test('prepare is sent once when the connection drops, and --save is not written', async (t) => {
    const s = await sandbox(t, { faults: 'drop' });
    const dir = tempDir(t);
    const conv = join(dir, 'conv.json');
    const r = await runCli(['prepare', '--message', 'a poster', '--save', conv], { env: envFor(s, dir) });
    assertCleanError(r, 4);
    assert.equal(s.stats.requests, 1);
    assert.equal(existsSync(conv), false);
  });

  test('create refused before anything was sent (connection refused) is retried and makes exactly one task', async (t) => {
    // A port nobody listens on yet; the sandbox starts there once the first try was refused.
    const probe = createServer();
    const port = await listen(t, probe);
    await new Promise<void>((r) => probe.close(() => r()));
    const dir = tempDir(t);
    let late: Promise<Sandbox> | undefined;
    t.after(async () => (await late)?.close());
    const r = await runCli(['create', '--prompt', 'a poster', '--verbose'], {
      env: envFor(undefined, dir, { ANYGEN_BASE_URL: `http://127.0.0.1:${port}`, ANYGEN_API_KEY: TEST_KEY }),
      onStderr: (text) => {
        if (!late && /ECONNREFUSED/.test(text)) {
          late = startSandbox({ apiKey: TEST_KEY, port, readsToComplete: 0 });
        }
      },
    });
    assert.equal(r.code, 0, r.stderr);
    const s = await (late as Promise<Sandbox>);
    assert.equal(s.tasks.size, 1);
    assert.equal(s.stats.requests, 1, 'sent once, never repeated');
    assert.match(r.stderr, /→ 200 .*try 2/);
  });

  test('upload is retried after a 503 and a dropped connection, and the file arrives once', async (t) => {
    const s = await sandbox(t, { faults: '503,drop' });
    const file = join(tempDir(t), 'ref.png');
    writeFileSync(file, 'reference bytes');
    const sleeps: number[] = [];
    const c = client(s, { sleep: async (ms) => void sleeps.push(ms) });
    const { data } = await c.upload(file);
    assert.match(data.file_token, /^tk_/);
    assert.equal(s.stats.requests, 3);
    assert.equal(s.uploads.size, 1);
    assert.equal(sleeps.length, 2);
  });

  test('task and message reads are retried after a dropped connection and a 503', async (t) => {
    const s = await sandbox(t);
    const id = await makeTask(s, 'a poster');
    const sleeps: number[] = [];
    const c = client(s, { sleep: async (ms) => void sleeps.push(ms) });
    s.addFaults('drop,503');
    assert.equal((await c.getTask(id)).data.status, 'completed');
    s.addFaults('503,drop');
    assert.ok(Array.isArray((await c.getMessages(id)).data.messages));
    assert.equal(sleeps.length, 4);
  });
});

describe('answers that are not the contract', () => {
  const faults = ['nonjson', 'badshape', 'empty', '302'] as const;
  // A wait tries past two garbled answers in a row (a proxy's error page) and gives up on
  // the third; create never repeats.
  const commands: Record<string, { argv: string[]; times: number; retries: number }> = {
    create: { argv: ['create', '--prompt', 'a poster'], times: 1, retries: 0 },
    poll: { argv: ['poll', '--task-id', 'task_any'], times: 3, retries: 2 },
  };

  test('a non-JSON answer, a wrong shape, an empty body and a 3xx each end in one error line naming the request id, exit 4', async (t) => {
    const s = await sandbox(t);
    const dir = tempDir(t);
    for (const fault of faults) {
      for (const [name, { argv, times, retries }] of Object.entries(commands)) {
        s.addFaults(`${fault}*${times}`);
        const r = await runCli(argv, { env: envFor(s, dir) });
        const first = assertCleanError(r, 4);
        assert.match(first, /\(HTTP \d{3}, request id req_sbx_[0-9a-f]{6}\)/, `${fault} / ${name}: ${first}`);
        const what = { nonjson: /not JSON/, badshape: /unexpected shape/, empty: /empty body/, '302': /redirect/ }[
          fault
        ];
        assert.match(first, what, `${fault} / ${name}`);
        assert.equal(r.sleeps.length, retries, `${fault} / ${name}: tries`);
      }
    }
  });

  test('a wait that meets one garbled answer tries again and completes', async (t) => {
    const s = await sandbox(t);
    const id = await makeTask(s, 'a poster');
    for (const fault of faults) {
      s.addFaults(fault);
      const r = await runCli(['poll', '--task-id', id], { env: envFor(s, tempDir(t)) });
      assert.equal(r.code, 0, `${fault}: ${r.stderr}`);
      assert.equal(r.sleeps.length, 1, fault);
    }
  });

  test('under --json the same failure is one JSON document with type protocol and the request id', async (t) => {
    const s = await sandbox(t, { faults: 'badshape' });
    const r = await runCli(['create', '--prompt', 'a poster', '--json'], { env: envFor(s, tempDir(t)) });
    assertCleanError(r, 4, { stdoutMayHaveJson: true });
    const doc = json(r) as { success: boolean; error: { type: string; request_id: string } };
    assert.equal(doc.success, false);
    assert.equal(doc.error.type, 'protocol');
    assert.match(doc.error.request_id, /^req_sbx_/);
  });

  test('the built binary prints a non-JSON answer as one error line, no stack trace', async (t) => {
    const s = await sandbox(t, { faults: 'nonjson' });
    const r = await runBin(['create', '--prompt', 'a poster'], { env: envFor(s, tempDir(t)) });
    const first = assertCleanError(r, 4);
    assert.match(first, /request id req_sbx_/);
    // The one error line, then the warning that the task may exist: never run create twice blindly.
    assert.deepEqual(lines(r.stderr), [
      'Creating task…',
      first,
      'Check your tasks on AnyGen before creating it again: running create again may spend credits twice.',
    ]);
  });
});

describe('answers cut off mid-way', () => {
  test('a create whose answer is cut off is a network error (exit 4) that warns the task may exist, and is not repeated', async (t) => {
    const s = await sandbox(t, { faults: 'short' });
    const r = await runCli(['create', '--prompt', 'a poster', '--json'], { env: envFor(s, tempDir(t)) });
    assert.equal(r.code, 4);
    const doc = json(r) as { error: { type: string; message: string; hint: string } };
    assert.equal(doc.error.type, 'network');
    assert.match(doc.error.message, /the task may have been created/);
    assert.match(doc.error.hint, /may spend credits twice/);
    assert.equal(s.stats.requests, 1, 'sent once, never repeated');
  });

  test('a wait whose answer is cut off tries again and completes', async (t) => {
    const s = await sandbox(t);
    const id = await makeTask(s, 'a poster');
    s.addFaults('short');
    const r = await runCli(['poll', '--task-id', id], { env: envFor(s, tempDir(t)) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.sleeps.length, 1);
  });

  test('garbled answers between server errors still count: the third since the last good answer ends the wait', async (t) => {
    const s = await sandbox(t);
    const id = await makeTask(s, 'a poster');
    s.addFaults('nonjson,503,badshape,503,empty');
    const r = await runCli(['poll', '--task-id', id], { env: envFor(s, tempDir(t)) });
    assert.equal(r.code, 4);
    assert.match(r.stderr, /empty body/);
    assert.equal(r.sleeps.length, 4);
  });

  test('a reply wait that never got an answer resumes without a --since-id of 0', async (t) => {
    const s = await sandbox(t);
    const id = await makeTask(s, 'a poster');
    s.addFaults('503*50');
    const r = await runCli(['get-messages', '--task-id', id, '--wait', '--timeout', '10'], {
      env: envFor(s, tempDir(t)),
    });
    assert.equal(r.code, 5);
    assert.ok(r.stderr.includes(`Resume with: anygen-image get-messages --task-id ${id} --wait\n`), r.stderr);
  });
});
