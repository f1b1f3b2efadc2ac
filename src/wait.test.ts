/**
 * Waiting, in-process with a virtual clock (real HTTP to the sandbox): the 3-second
 * cadence, heartbeats off a terminal, the spinner on one, and Ctrl-C.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { envFor, runCli, sandbox, tempDir } from '../test/helpers/harness.js';
import { AnyGenError } from './errors.js';
import { backoffDelay, cannotConnect, waitUntil } from './wait.js';

async function createTask(s: Awaited<ReturnType<typeof sandbox>>, home: string, prompt: string): Promise<string> {
  const r = await runCli(['--json', 'create', '-p', prompt], { env: envFor(s, home) });
  return String(JSON.parse(r.stdout).task_id);
}

describe('poll cadence', () => {
  test('asks every 3 seconds by default and prints a line when status or progress changes', async (t) => {
    const s = await sandbox(t, { readsToComplete: 4 });
    const home = tempDir(t);
    const id = await createTask(s, home, 'cadence');
    const r = await runCli(['poll', '--task-id', id], { env: envFor(s, home) });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.sleeps, [3000, 3000, 3000, 3000]);
    assert.equal(s.stats.byRoute.task, 5);
    const updates = r.stderr.split('\n').filter((l) => /^\[\dm\d\ds\]/.test(l));
    assert.deepEqual(
      updates.map((l) => l.replace(/^\[[^\]]+\] /, '')),
      ['pending 0%', 'processing 25%', 'processing 50%', 'processing 75%', 'completed 100%'],
    );
  });

  test('--interval sets the cadence; a heartbeat comes every 30 s when stderr is not a terminal', async (t) => {
    const s = await sandbox(t, { readsToComplete: 40 });
    const home = tempDir(t);
    const id = await createTask(s, home, 'slow');
    const r = await runCli(['poll', '--task-id', id, '--interval', '5'], { env: envFor(s, home) });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.sleeps.every((ms) => ms === 5000));
    const beats = r.stderr.split('\n').filter((l) => l.includes('still waiting'));
    // 40 reads 5 s apart: 195 s of waiting, a heartbeat each 30 s.
    assert.equal(beats.length, 6);
    assert.match(beats[0] ?? '', /^\[0m30s\] still waiting: processing \d+%$/);
  });

  test('--json and --quiet keep stderr to errors only while waiting', async (t) => {
    const s = await sandbox(t, { readsToComplete: 3 });
    const home = tempDir(t);
    for (const flag of ['--json', '--quiet']) {
      const id = await createTask(s, home, 'quiet');
      const r = await runCli([flag, 'poll', '--task-id', id], { env: envFor(s, home) });
      assert.equal(r.code, 0);
      assert.equal(r.stderr, '', flag);
    }
  });

  test('on a terminal a spinner shows status, progress and elapsed time instead of lines', async (t) => {
    const s = await sandbox(t, { readsToComplete: 2 });
    const home = tempDir(t);
    const id = await createTask(s, home, 'spin');
    const r = await runCli(['poll', '--task-id', id], { env: envFor(s, home), stderrIsTTY: true });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`Waiting for task ${id}`));
    assert.ok(!/^\[\dm\d\ds\]/m.test(r.stderr), 'no plain progress lines on a terminal');
  });
});

describe('interruption', () => {
  test('Ctrl-C while waiting stops, prints the task URL and how to resume, exit 130', async (t) => {
    const s = await sandbox(t, { readsToComplete: 1000 });
    const home = tempDir(t);
    const id = await createTask(s, home, 'forever');
    const ctrlC = new AbortController();
    const r = await runCli(['poll', '--task-id', id, '--output', join(home, 'out')], {
      env: envFor(s, home),
      signal: ctrlC.signal,
      onStderr: (text) => {
        if (text.includes('processing')) ctrlC.abort();
      },
    });
    assert.equal(r.code, 130);
    assert.match(r.stderr, new RegExp(`Stopped waiting for task ${id}; it may still finish`));
    assert.ok(r.stderr.includes(`Task URL: ${s.url}/task/${id}`));
    assert.ok(r.stderr.includes(`Resume with: anygen-image poll --task-id ${id} --output ${join(home, 'out')}`));
  });
});

describe('interrupting create', () => {
  test('Ctrl-C while create is in flight says the task may exist and not to create it again', async (t) => {
    const s = await sandbox(t, { faults: 'delay:5000' });
    const home = tempDir(t);
    const ctrlC = new AbortController();
    const r = await runCli(['create', '-p', 'a poster'], {
      env: envFor(s, home),
      signal: ctrlC.signal,
      virtualTime: false,
      onStderr: (text) => {
        if (text.includes('Creating task')) setImmediate(() => ctrlC.abort());
      },
    });
    assert.equal(r.code, 130);
    assert.match(r.stderr, /^Error: Interrupted while creating the task; the task may have been created$/m);
    assert.match(r.stderr, /running create again may spend credits twice/);
  });
});

describe('waitUntil', () => {
  test('back-off doubles from the interval and is capped', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, 3000, 30_000)),
      [3000, 6000, 12_000, 24_000, 30_000, 30_000],
    );
  });

  test('a non-transient error ends the wait at once', async () => {
    let reads = 0;
    await assert.rejects(
      waitUntil(
        async () => {
          reads++;
          throw new AnyGenError({ kind: 'not_found', message: 'gone', status: 404 });
        },
        () => ({ status: 'x', done: false }),
        { intervalMs: 1000, timeoutMs: 60_000, now: () => 0, sleep: async () => {} },
      ),
      /gone/,
    );
    assert.equal(reads, 1);
  });

  test('beforeFirstAnswer may end the wait on a failure before any read succeeded, never after', async () => {
    const refused = new AnyGenError({ kind: 'network', message: 'get task: connect ECONNREFUSED 127.0.0.1:9' });
    const stop = (err: AnyGenError) =>
      cannotConnect(err) ? new AnyGenError({ kind: 'network', message: 'stop' }) : undefined;
    let clock = 0;
    const times = {
      intervalMs: 1000,
      timeoutMs: 10_000,
      now: () => clock,
      sleep: async (ms: number) => {
        clock += ms;
      },
    };

    let reads = 0;
    await assert.rejects(
      waitUntil(
        async () => {
          reads++;
          throw refused;
        },
        () => ({ status: 'x', done: false }),
        { ...times, beforeFirstAnswer: stop },
      ),
      /^AnyGenError: stop$/,
    );
    assert.equal(reads, 1, 'stopped at the first read');

    // One answer, then the same failure: retried until the read succeeds again.
    reads = 0;
    clock = 0;
    const value = await waitUntil(
      async () => {
        reads++;
        if (reads === 2 || reads === 3) throw refused;
        return reads;
      },
      (n) => ({ status: 'x', done: n === 4 }),
      { ...times, beforeFirstAnswer: stop },
    );
    assert.equal(value, 4);
  });

  test('cannotConnect: refused and unknown hosts, from the message or the cause; nothing else', () => {
    const net = (message: string, cause?: unknown) => new AnyGenError({ kind: 'network', message, cause });
    assert.deepEqual(cannotConnect(net('connect ECONNREFUSED 127.0.0.1:9')), {
      code: 'ECONNREFUSED',
      reason: 'connection refused',
    });
    assert.equal(cannotConnect(net('getaddrinfo ENOTFOUND nowhere.invalid'))?.reason, 'unknown host');
    assert.equal(cannotConnect(net('fetch failed', { code: 'ECONNREFUSED' }))?.code, 'ECONNREFUSED');
    assert.equal(cannotConnect(net('read ECONNRESET')), undefined);
    assert.equal(cannotConnect(net('connect ETIMEDOUT 10.0.0.1:443')), undefined);
    assert.equal(
      cannotConnect(new AnyGenError({ kind: 'server_error', message: 'ECONNREFUSED upstream', status: 502 })),
      undefined,
    );
  });
});
