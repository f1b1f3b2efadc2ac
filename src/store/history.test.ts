/** The task history's pure parts and its file: updates, order, broken files, locking, trimming. */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AnyGenError } from '../errors.js';
import {
  applyUpdate,
  HISTORY_LIMIT,
  type HistoryEntry,
  historyEnabled,
  historyPath,
  readHistory,
  recentTasks,
  recordTask,
  stateDir,
  TaskHistory,
} from './history.js';

function dir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'anygen-history-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function entry(taskId: string, created: string, extra: Partial<HistoryEntry> = {}): HistoryEntry {
  return {
    task_id: taskId,
    task_url: null,
    operation: null,
    prompt: null,
    created_at: created,
    updated_at: created,
    status: null,
    content_version: 0,
    messages_sent: 0,
    files: [],
    watcher: null,
    last_error: null,
    ...extra,
  };
}

const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-02T00:00:00.000Z';

describe('applyUpdate', () => {
  it('replaces the fields given, keeps the rest, stamps updated_at and keeps created_at', () => {
    const before = entry('task_a', T0, { status: 'created', operation: 'ai_designer', task_url: 'https://x/task/a' });
    const after = applyUpdate(before, { task_id: 'task_a', status: 'completed', last_error: null }, T1);
    assert.equal(after.status, 'completed');
    assert.equal(after.operation, 'ai_designer');
    assert.equal(after.task_url, 'https://x/task/a');
    assert.equal(after.created_at, T0);
    assert.equal(after.updated_at, T1);
    assert.equal(before.status, 'created', 'the entry given was changed');
  });

  it('an undefined field keeps what was there; null clears it', () => {
    const before = entry('task_a', T0, { watcher: { pid: 7, log: '/l', started_at: T0 }, status: 'running' });
    assert.equal(applyUpdate(before, { task_id: 'task_a', status: undefined }, T1).status, 'running');
    assert.equal(applyUpdate(before, { task_id: 'task_a', watcher: null }, T1).watcher, null);
  });

  it('keeps the first 200 characters of a prompt', () => {
    const prompt = `${'a'.repeat(199)}bcdef`;
    assert.equal(applyUpdate(entry('t', T0), { task_id: 't', prompt }, T1).prompt, `${'a'.repeat(199)}b`);
    assert.equal(applyUpdate(entry('t', T0, { prompt: 'x' }), { task_id: 't', prompt: null }, T1).prompt, null);
  });

  it('adds files; one at a path already recorded replaces it; other versions stay', () => {
    const v0 = { path: '/o/p.png', url: 'https://f/p.png', bytes: 10, version: 0 };
    const v1 = { path: '/o/p_v1.png', url: 'https://f/p.png?v=1', bytes: 11, version: 1 };
    let e = applyUpdate(entry('t', T0), { task_id: 't', files: [v0] }, T1);
    e = applyUpdate(e, { task_id: 't', files: [v1] }, T1);
    assert.deepEqual(e.files, [v0, v1]);
    const again = { ...v0, bytes: 12 };
    e = applyUpdate(e, { task_id: 't', files: [again] }, T1);
    assert.deepEqual(e.files, [v1, again]);
    assert.deepEqual(applyUpdate(e, { task_id: 't', files: [] }, T1).files, [v1, again]);
  });
});

describe('recentTasks', () => {
  it('newest first by creation, whatever was touched last, and at most the limit', () => {
    const entries = [
      entry('b', '2026-01-02T00:00:00.000Z'),
      entry('c', '2026-01-03T00:00:00.000Z'),
      entry('a', '2026-01-01T00:00:00.000Z', { updated_at: '2026-02-01T00:00:00.000Z' }),
    ];
    assert.deepEqual(
      recentTasks(entries, 10).map((e) => e.task_id),
      ['c', 'b', 'a'],
    );
    assert.deepEqual(
      recentTasks(entries, 2).map((e) => e.task_id),
      ['c', 'b'],
    );
    assert.deepEqual(
      entries.map((e) => e.task_id),
      ['b', 'c', 'a'],
      'the list given was reordered',
    );
  });
});

describe('readHistory', () => {
  it('a missing file is an empty history', (t) => {
    assert.deepEqual(readHistory(join(dir(t), 'none.json')), []);
  });

  const broken: Array<[string, string]> = [
    ['not JSON', '{"tasks": ['],
    ['empty', ''],
    ['null', 'null'],
    ['no tasks', '{"version": 1}'],
    ['tasks not a list', '{"tasks": {}}'],
    ['an entry without a task id', '{"tasks": [{"task_id": "t"}, {"status": "completed"}]}'],
    ['an entry that is not an object', '{"tasks": [42]}'],
  ];
  for (const [what, text] of broken) {
    it(`${what}: a usage error naming the file and how to move it away; the file is untouched`, (t) => {
      const path = join(dir(t), 'history.json');
      writeFileSync(path, text);
      assert.throws(
        () => readHistory(path),
        (err: unknown) =>
          err instanceof AnyGenError &&
          err.kind === 'usage' &&
          err.message.includes(path) &&
          /left as it is/.test(err.message) &&
          (err.hint ?? '').includes(`mv ${path} ${path}.broken`),
      );
      assert.equal(readFileSync(path, 'utf8'), text);
    });
  }

  it('a folder where the file should be is an error too', (t) => {
    const d = dir(t);
    assert.throws(() => readHistory(d), /is not readable/);
  });
});

describe('recordTask', () => {
  it('creates the file 0600 in a 0700 folder, and moves the entry touched last to the end', async (t) => {
    const path = join(dir(t), 'state', 'anygen', 'history.json');
    await recordTask(path, { task_id: 'a', status: 'created' }, new Date(T0));
    await recordTask(path, { task_id: 'b', status: 'created' }, new Date(T1));
    const saved = await recordTask(path, { task_id: 'a', status: 'completed' }, new Date('2026-01-03T00:00:00Z'));
    assert.equal(saved.created_at, T0);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(path, '..')).mode & 0o777, 0o700);
    const file = JSON.parse(readFileSync(path, 'utf8'));
    assert.equal(file.version, 1);
    assert.deepEqual(
      file.tasks.map((e: HistoryEntry) => [e.task_id, e.status]),
      [
        ['b', 'created'],
        ['a', 'completed'],
      ],
    );
  });

  it('forty calls at once all land, and no lock or temp file is left', async (t) => {
    const d = dir(t);
    const path = join(d, 'history.json');
    const ids = Array.from({ length: 40 }, (_, i) => `task_${i}`);
    await Promise.all(ids.map((id) => recordTask(path, { task_id: id, status: 'created' }, new Date(T0))));
    await Promise.all(ids.map((id) => recordTask(path, { task_id: id, status: 'completed' }, new Date(T1))));
    const tasks = readHistory(path);
    assert.deepEqual(tasks.map((e) => e.task_id).sort(), [...ids].sort());
    for (const e of tasks) assert.equal(e.status, 'completed');
    assert.deepEqual(readdirSync(d), ['history.json']);
  });

  it(`keeps the newest ${HISTORY_LIMIT} entries, dropping the oldest`, async (t) => {
    const path = join(dir(t), 'history.json');
    const old = Array.from({ length: HISTORY_LIMIT }, (_, i) => entry(`task_${i}`, T0));
    writeFileSync(path, JSON.stringify({ version: 1, tasks: old }));
    await recordTask(path, { task_id: 'task_new' }, new Date(T1));
    let tasks = readHistory(path);
    assert.equal(tasks.length, HISTORY_LIMIT);
    assert.equal(tasks[0]?.task_id, 'task_1');
    assert.equal(tasks.at(-1)?.task_id, 'task_new');
    // Touching a kept entry drops nothing.
    await recordTask(path, { task_id: 'task_5', status: 'completed' }, new Date(T1));
    tasks = readHistory(path);
    assert.equal(tasks.length, HISTORY_LIMIT);
    assert.equal(tasks[0]?.task_id, 'task_1');
  });

  it('a broken file is not overwritten', async (t) => {
    const path = join(dir(t), 'history.json');
    writeFileSync(path, 'garbage');
    await assert.rejects(recordTask(path, { task_id: 'a' }, new Date(T0)), /not readable/);
    assert.equal(readFileSync(path, 'utf8'), 'garbage');
  });
});

describe('where and whether', () => {
  it('$XDG_STATE_HOME/anygen when absolute, else ~/.local/state/anygen', () => {
    assert.equal(historyPath({ XDG_STATE_HOME: '/s', HOME: '/h' }), '/s/anygen/history.json');
    assert.equal(stateDir({ XDG_STATE_HOME: 'relative', HOME: '/h' }), '/h/.local/state/anygen');
    assert.equal(stateDir({ HOME: '/h' }), '/h/.local/state/anygen');
  });

  it('ANYGEN_NO_HISTORY turns it off unless empty, 0, false or no', () => {
    for (const v of ['1', 'yes', 'true', ' 1 ']) assert.equal(historyEnabled({ ANYGEN_NO_HISTORY: v }), false, v);
    for (const v of [undefined, '', '0', 'false', 'NO']) assert.equal(historyEnabled({ ANYGEN_NO_HISTORY: v }), true);
  });
});

describe('TaskHistory', () => {
  it('recording into a broken file warns once and never throws; list throws', async (t) => {
    const d = dir(t);
    const path = join(d, 'anygen', 'history.json');
    await recordTask(path, { task_id: 'a' }, new Date(T0));
    writeFileSync(path, '{');
    const warnings: string[] = [];
    const h = new TaskHistory(
      { XDG_STATE_HOME: d },
      () => Date.parse(T1),
      (w) => warnings.push(w),
    );
    assert.equal(await h.record({ task_id: 'b' }), undefined);
    assert.equal(await h.record({ task_id: 'c' }), undefined);
    assert.equal(h.find('a'), undefined);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] as string, /^Warning: the task history was not updated: Task history .* is not readable/);
    assert.throws(() => h.list(), /is not readable/);
    assert.equal(readFileSync(path, 'utf8'), '{');
  });

  it('off: records nothing, finds nothing, lists nothing', async (t) => {
    const d = dir(t);
    const h = new TaskHistory({ XDG_STATE_HOME: d, ANYGEN_NO_HISTORY: '1' }, Date.now, () => assert.fail('warned'));
    assert.equal(h.enabled, false);
    assert.equal(await h.record({ task_id: 'a' }), undefined);
    assert.deepEqual(h.list(), []);
    assert.deepEqual(readdirSync(d), []);
  });
});
