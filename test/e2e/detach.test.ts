/**
 * --detach (issue 11): the wait runs in a watcher that outlives the caller and its
 * terminal, keeps --timeout, downloads to --output and records the outcome in the
 * task history; one watcher per task; a log folder that cannot be written stops a
 * create before it is sent. Every watcher a test starts is waited for (or killed).
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import type { Sandbox } from '../../src/sandbox/server.js';
import {
  createWithCli,
  envFor,
  json,
  type RunResult,
  runBin,
  runInPty,
  sandbox,
  TEST_KEY,
  tempDir,
} from '../helpers/harness.js';
import { entryAt, exited, reap } from '../helpers/watchers.js';
import { assertCleanError } from '../reliability/helpers.js';

const NOBODY = 65534;

type After = { after(fn: () => unknown): void };

interface Detached {
  task_id: string;
  pid: number;
  log: string;
  started: boolean;
  task_url?: string;
}

function setup(t: After, s: Sandbox) {
  const home = tempDir(t);
  const state = join(home, 'state');
  return { home, state, env: envFor(s, home, { XDG_STATE_HOME: state }) };
}

/** A --json detach that worked; its watcher is reaped when the test ends. */
function detached(t: After, r: RunResult): Detached {
  assert.equal(r.code, 0, r.stderr);
  const d = json(r) as unknown as Detached;
  assert.ok(Number.isInteger(d.pid) && d.pid > 0, r.stdout);
  reap(t, d.pid);
  return d;
}

describe('--detach returns at once with the task, the watcher and its log', () => {
  test('poll --detach: the watcher waits, downloads to --output and records completed', async (t) => {
    const s = await sandbox(t, { readsToComplete: 2 });
    const { home, state, env } = setup(t, s);
    const taskId = await createWithCli(env, 'A detached poster');
    const out = join(home, 'out');
    const d = detached(
      t,
      await runBin(['--json', 'poll', '--task-id', taskId, '--detach', '--interval', '1', '--output', out], { env }),
    );
    assert.deepEqual(Object.keys(d).sort(), ['log', 'pid', 'started', 'success', 'task_id']);
    assert.equal(d.task_id, taskId);
    assert.equal(d.started, true);
    assert.ok((s.tasks.get(taskId)?.reads ?? 0) <= 2, 'poll --detach waited for the task');
    assert.equal(dirname(d.log), join(state, 'anygen', 'logs'));
    assert.equal(statSync(d.log).mode & 0o777, 0o600);

    await exited(d.pid);
    const entry = entryAt(state, taskId);
    assert.equal(entry.status, 'completed');
    assert.equal(entry.watcher, null);
    const files = readdirSync(out);
    assert.equal(files.length, 1);
    assert.deepEqual(
      entry.files.map((f) => f.path),
      [join(out, files[0] as string)],
    );
    assert.match(readFileSync(d.log, 'utf8'), /completed/);
  });

  test('human mode prints Task ID, Watcher PID and Log', async (t) => {
    const s = await sandbox(t);
    const { env } = setup(t, s);
    const taskId = await createWithCli(env, 'A poster');
    const r = await runBin(['poll', '--task-id', taskId, '--detach'], { env });
    assert.equal(r.code, 0, r.stderr);
    const pid = Number(/^Watcher PID: (\d+)$/m.exec(r.stdout)?.[1]);
    assert.ok(pid > 0, r.stdout);
    reap(t, pid);
    assert.match(r.stdout, new RegExp(`^Task ID: ${taskId}$`, 'm'));
    assert.match(r.stdout, /^Log: \/.+\.log$/m);
    await exited(pid);
  });

  for (const args of [
    ['create', '-p', 'A poster'],
    ['create', '--wait', '-p', 'A poster'],
    ['run', '-p', 'A poster'],
  ]) {
    test(`${args.slice(0, -2).join(' ')} --detach: creates once, the watcher completes it and downloads`, async (t) => {
      const s = await sandbox(t, { readsToComplete: 1 });
      const { home, state, env } = setup(t, s);
      const out = join(home, 'out');
      const d = detached(t, await runBin(['--json', ...args, '--detach', '--interval', '1', '--output', out], { env }));
      assert.deepEqual(Object.keys(d).sort(), ['log', 'pid', 'started', 'success', 'task_id', 'task_url']);
      assert.equal(s.stats.byRoute.create, 1);
      assert.ok(s.tasks.has(d.task_id));
      assert.equal(d.task_url, `${s.url}/task/${d.task_id}`);
      await exited(d.pid);
      assert.equal(s.stats.byRoute.create, 1, 'the watcher created again');
      const entry = entryAt(state, d.task_id);
      assert.equal(entry.status, 'completed');
      assert.equal(entry.prompt, 'A poster');
      assert.equal(readdirSync(out).length, 1);
    });
  }

  test('get-messages --wait --detach --output: the watcher saves the revision as _v1', async (t) => {
    const s = await sandbox(t, { replyReads: 2 });
    const { home, state, env } = setup(t, s);
    const taskId = await createWithCli(env, 'A bright poster');
    const out = join(home, 'out');
    assert.equal((await runBin(['poll', '--task-id', taskId, '--output', out], { env })).code, 0);
    const sent = await runBin(['send-message', '--task-id', taskId, '--message', 'make it darker'], { env });
    assert.equal(sent.code, 0, sent.stderr);
    const d = detached(
      t,
      await runBin(
        ['--json', 'get-messages', '--task-id', taskId, '--wait', '--detach', '--interval', '1', '--output', out],
        { env },
      ),
    );
    assert.equal(d.task_id, taskId);
    await exited(d.pid);
    const names = readdirSync(out).sort();
    assert.equal(names.length, 2, `${names}`);
    assert.ok(
      names.some((n) => n.endsWith('_v1.png')),
      `${names}`,
    );
    assert.deepEqual(
      entryAt(state, taskId)
        .files.map((f) => f.version)
        .sort(),
      [0, 1],
    );
  });

  test('a key given with --api-key reaches the watcher, never its command line', async (t) => {
    const s = await sandbox(t, { readsToComplete: 3 });
    const { state, env } = setup(t, s);
    const taskId = await createWithCli(env, 'A poster');
    const noKey = { ...env, ANYGEN_API_KEY: undefined };
    const d = detached(
      t,
      await runBin(['--json', 'poll', '--task-id', taskId, '--detach', '--interval', '1', '--api-key', TEST_KEY], {
        env: noKey,
      }),
    );
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${d.pid}/cmdline`, 'utf8');
    } catch {
      // Already finished: nothing to see, the outcome below still counts.
    }
    assert.ok(!cmdline.includes(TEST_KEY), 'the key is in the watcher argv');
    await exited(d.pid);
    assert.equal(entryAt(state, taskId).status, 'completed');
    assert.ok(!readFileSync(d.log, 'utf8').includes(TEST_KEY));
  });
});

describe('the watcher outlives its caller', () => {
  test('started from a terminal whose session ends (hang-up), it still finishes and records completed', async (t) => {
    const s = await sandbox(t, { readsToComplete: 3 });
    const { state, env } = setup(t, s);
    const taskId = await createWithCli(env, 'A poster');
    const r = await runInPty(['poll', '--task-id', taskId, '--detach', '--interval', '1'], { env, columns: 80 });
    assert.equal(r.code, 0, r.output);
    const pid = Number(/Watcher PID: (\d+)/.exec(r.output)?.[1]);
    assert.ok(pid > 0, r.output);
    reap(t, pid);
    // The terminal is gone; the task was not done yet when it went.
    assert.ok((s.tasks.get(taskId)?.reads ?? 0) <= 3);
    await exited(pid);
    const entry = entryAt(state, taskId);
    assert.equal(entry.status, 'completed');
    assert.equal(entry.last_error, null);
    assert.equal(entry.watcher, null);
  });

  test('keeps --timeout: a task that never completes ends in wait_timeout, which status shows', async (t) => {
    const s = await sandbox(t);
    const { state, env } = setup(t, s);
    const taskId = await createWithCli(env, 'A slow poster [reads 100000]');
    const d = detached(
      t,
      await runBin(['--json', 'poll', '--task-id', taskId, '--detach', '--timeout', '1', '--interval', '1'], { env }),
    );
    await exited(d.pid);
    const entry = entryAt(state, taskId);
    assert.match(entry.last_error ?? '', /^wait_timeout: /);
    assert.equal(entry.watcher, null);
    const status = await runBin(['status', '--task-id', taskId], { env });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stderr, /Last wait: wait_timeout: /);
  });

  test('a second detach for a task already watched starts no second watcher', async (t) => {
    const s = await sandbox(t);
    const { state, env } = setup(t, s);
    const taskId = await createWithCli(env, 'A slow poster [reads 100000]');
    const args = ['--json', 'poll', '--task-id', taskId, '--detach', '--timeout', '3', '--interval', '1'];
    const first = detached(t, await runBin(args, { env }));
    const second = detached(t, await runBin(args, { env }));
    assert.equal(first.started, true);
    assert.equal(second.started, false);
    assert.equal(second.pid, first.pid);
    assert.equal(second.log, first.log);
    const human = await runBin(args.slice(1), { env });
    assert.match(human.stderr, /already running \(pid \d+\): no second one started/);
    await exited(first.pid);
    assert.equal(readdirSync(join(state, 'anygen', 'logs')).length, 1);
    assert.equal(entryAt(state, taskId).watcher, null);
  });
});

describe('a log folder that cannot be written', () => {
  const places: Array<[string, (home: string) => string]> = [
    [
      'XDG_STATE_HOME is a file',
      (home) => {
        writeFileSync(join(home, 'state-file'), 'x');
        return join(home, 'state-file');
      },
    ],
    [
      'XDG_STATE_HOME is under a file',
      (home) => {
        writeFileSync(join(home, 'state-file'), 'x');
        return join(home, 'state-file', 'sub');
      },
    ],
    [
      'XDG_STATE_HOME is under a read-only folder',
      (home) => {
        mkdirSync(join(home, 'read-only'), { mode: 0o555 });
        chmodSync(join(home, 'read-only'), 0o555);
        return join(home, 'read-only', 'state');
      },
    ],
    // The kernel answers ENOENT to mkdir there, which made Node's recursive mkdir spin forever.
    ['XDG_STATE_HOME is under /proc', () => '/proc/anygen-test-state'],
  ];
  for (const [what, place] of places) {
    test(`${what}: --detach is exit 2 before anything is sent`, async (t) => {
      const s = await sandbox(t);
      const home = tempDir(t);
      // Run as another user: root may write in a read-only folder.
      chmodSync(home, 0o755);
      const env = envFor(s, home, { XDG_STATE_HOME: place(home) });
      for (const args of [
        ['create', '-p', 'A poster', '--detach'],
        ['run', '-p', 'A poster', '--detach'],
        ['poll', '--task-id', 'task_abc', '--detach'],
        ['get-messages', '--task-id', 'task_abc', '--wait', '--detach'],
      ]) {
        const line = assertCleanError(await runBin(args, { env, uid: NOBODY, gid: NOBODY }), 2, { first: true });
        assert.match(line, /--detach: cannot write the watcher's log/);
      }
      assert.equal(s.stats.requests, 0, 'something was sent');
      assert.equal(existsSync(join(home, 'read-only', 'state')), false);
    });
  }
});
