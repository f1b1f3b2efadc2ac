/**
 * The task history (issue 11): what it records and how it keeps it (0600 in a 0700
 * folder, locked, atomic), `tasks` and `status` read from it, ANYGEN_NO_HISTORY, and
 * a broken history file kept as it is while creates go on.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createWithCli, envFor, json, runBin, sandbox, tempDir } from '../helpers/harness.js';
import { entryAt, historyAt } from '../helpers/watchers.js';
import { assertCleanError } from '../reliability/helpers.js';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function setup(home: string, s: Awaited<ReturnType<typeof sandbox>>, extra: Record<string, string> = {}) {
  const state = join(home, 'state');
  return { state, env: envFor(s, home, { XDG_STATE_HOME: state, ...extra }) };
}

describe('what the history records', () => {
  test('0600 in a 0700 folder, with id, URL, operation, 200 characters of prompt, times, status and versioned files', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const { state, env } = setup(home, s);
    const prompt = `A poster of a lighthouse ${'and the sea '.repeat(30)}`.trim();
    const taskId = await createWithCli(env, prompt);
    const folder = join(state, 'anygen');
    assert.equal(statSync(folder).mode & 0o777, 0o700);
    assert.equal(statSync(join(folder, 'history.json')).mode & 0o777, 0o600);

    let entry = entryAt(state, taskId);
    assert.equal(entry.task_url, `${s.url}/task/${taskId}`);
    assert.equal(entry.operation, 'ai_designer');
    assert.equal(entry.prompt, prompt.slice(0, 200));
    assert.equal(entry.status, 'created');
    assert.match(entry.created_at, ISO);
    assert.deepEqual(entry.files, []);

    const out = join(home, 'out');
    const poll = await runBin(['--json', 'poll', '--task-id', taskId, '--output', out], { env });
    assert.equal(poll.code, 0, poll.stderr);
    const saved = (json(poll).downloads as Array<{ path: string; url: string; bytes: number }>)[0];
    assert.ok(saved);
    entry = entryAt(state, taskId);
    assert.equal(entry.status, 'completed');
    assert.match(entry.updated_at, ISO);
    assert.ok(entry.updated_at > entry.created_at, `${entry.updated_at} after ${entry.created_at}`);
    assert.deepEqual(entry.files, [{ path: saved.path, url: saved.url, bytes: saved.bytes, version: 0 }]);
    assert.equal(statSync(join(folder, 'history.json')).mode & 0o777, 0o600, 'still 0600 after a rewrite');
  });

  test('ANYGEN_NO_HISTORY=1 writes nothing, and tasks says so', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const { state, env } = setup(home, s, { ANYGEN_NO_HISTORY: '1' });
    const taskId = await createWithCli(env, 'A quiet poster');
    const poll = await runBin(['poll', '--task-id', taskId, '--output', join(home, 'out')], { env });
    assert.equal(poll.code, 0, poll.stderr);
    assert.equal(existsSync(state), false, 'a state folder was made');
    const tasks = await runBin(['--json', 'tasks'], { env });
    assert.equal(tasks.code, 0, tasks.stderr);
    assert.deepEqual(json(tasks), { success: true, tasks: [] });
    const human = await runBin(['tasks'], { env });
    assert.match(human.stderr, /ANYGEN_NO_HISTORY is set/);
  });

  test('six creates at once are all recorded', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const { state, env } = setup(home, s);
    const ids = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => createWithCli(env, `Poster number ${n}`)));
    assert.equal(new Set(ids).size, 6);
    const recorded = historyAt(state).tasks;
    assert.deepEqual(recorded.map((e) => e.task_id).sort(), [...ids].sort());
    for (const e of recorded) assert.equal(e.status, 'created');
    assert.ok(!existsSync(join(state, 'anygen', 'history.json.lock')), 'a lock was left behind');
  });
});

describe('tasks', () => {
  test('--limit N gives the newest N first; --json has the documented shape', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const { env } = setup(home, s);
    const ids: string[] = [];
    for (const n of [1, 2, 3]) ids.push(await createWithCli(env, `Poster ${n}`));
    // Reading the oldest again must not move it up: newest first is by creation.
    assert.equal((await runBin(['poll', '--task-id', ids[0] as string], { env })).code, 0);

    const r = await runBin(['--json', 'tasks', '--limit', '2'], { env });
    assert.equal(r.code, 0, r.stderr);
    const doc = json(r);
    assert.deepEqual(Object.keys(doc).sort(), ['success', 'tasks']);
    assert.equal(doc.success, true);
    const tasks = doc.tasks as Array<Record<string, unknown>>;
    assert.deepEqual(
      tasks.map((x) => x.task_id),
      [ids[2], ids[1]],
    );
    for (const x of tasks) {
      assert.deepEqual(Object.keys(x).sort(), [
        'created_at',
        'files',
        'prompt',
        'status',
        'task_id',
        'task_url',
        'updated_at',
      ]);
    }
    assert.equal(tasks[0]?.prompt, 'Poster 3');

    const human = await runBin(['tasks', '--limit', '1'], { env });
    assert.equal(human.code, 0);
    assert.match(human.stdout, new RegExp(`${ids[2]}  created  Poster 3`));
    assert.doesNotMatch(human.stdout, new RegExp(ids[1] as string));

    assertCleanError(await runBin(['tasks', '--limit', '0'], { env }), 2);
  });
});

describe('status', () => {
  test('--json has the shape of poll --json, with the files saved here; exit 0 for a task still running', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const { state, env } = setup(home, s);
    const taskId = await createWithCli(env, 'A poster [reads 1000]');
    const pending = await runBin(['--json', 'status', '--task-id', taskId], { env });
    assert.equal(pending.code, 0, pending.stderr);
    assert.ok(['pending', 'processing'].includes(json(pending).status as string), pending.stdout);
    assert.equal(entryAt(state, taskId).status, json(pending).status);
    const human = await runBin(['status', '--task-id', taskId], { env });
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, new RegExp(taskId));

    const done = await createWithCli(env, 'A finished poster');
    const out = join(home, 'out');
    const poll = await runBin(['--json', 'poll', '--task-id', done, '--output', out], { env });
    assert.equal(poll.code, 0, poll.stderr);
    const status = await runBin(['--json', 'status', '--task-id', done], { env });
    assert.equal(status.code, 0, status.stderr);
    assert.deepEqual(json(status), json(poll));
  });

  test('an unknown task is exit 1 with a clear message', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const { env } = setup(home, s);
    const line = assertCleanError(await runBin(['status', '--task-id', 'task_nosuchthing'], { env }), 1);
    assert.match(line, /AnyGen has no task task_nosuchthing/);
  });
});

describe('a corrupt history file', () => {
  for (const [what, text] of [
    ['not JSON', '{"tasks": [ {"task_id": "task_a"'],
    ['not a history', '{"tasks": {"task_id": "task_a"}}\n'],
  ] as const) {
    test(`${what}: tasks is a clear error naming it, the file is kept byte for byte, create still works`, async (t) => {
      const s = await sandbox(t);
      const home = tempDir(t);
      const { state, env } = setup(home, s);
      const file = join(state, 'anygen', 'history.json');
      mkdirSync(join(state, 'anygen'), { recursive: true, mode: 0o700 });
      writeFileSync(file, text, { mode: 0o600 });

      const line = assertCleanError(await runBin(['tasks'], { env }), 2);
      assert.ok(line.includes(file), line);
      assert.equal(readFileSync(file, 'utf8'), text);

      const r = await runBin(['create', '-p', 'A poster despite it'], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Task ID: task_/);
      assert.match(r.stderr, /the task history was not updated/);
      assert.ok(r.stderr.includes(file), r.stderr);
      assert.equal(readFileSync(file, 'utf8'), text, 'the broken history was changed');
      assert.equal(s.stats.byRoute.create, 1);

      const status = await runBin(['status', '--task-id', /Task ID: (\S+)/.exec(r.stdout)?.[1] as string], { env });
      assert.equal(status.code, 0, status.stderr);
      assert.equal(readFileSync(file, 'utf8'), text);
    });
  }
});
