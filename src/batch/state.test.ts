import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AnyGenError } from '../errors.js';
import type { BatchItem } from './input.js';
import { BatchState, stateFileName } from './state.js';

function dir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'anygen-batch-state-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const item = (id: string, hash = `h-${id}`): BatchItem => ({
  id,
  line: 1,
  prompt: id,
  operation: 'ai_designer',
  fileTokens: [],
  files: [],
  hash,
});
const now = () => Date.UTC(2025, 0, 1);

function usage(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof AnyGenError && e.kind === 'usage' && pattern.test(e.message));
}

test('each shard has its own state file name', () => {
  assert.equal(stateFileName(undefined), 'anygen-batch-state.json');
  assert.equal(stateFileName({ index: 2, count: 4 }), 'anygen-batch-state.shard-2-of-4.json');
});

test('every update is on disk when it returns, written whole, with no temporary file left', (t) => {
  const d = dir(t);
  const state = BatchState.open(d, 'in.jsonl', undefined, now);
  state.plan([item('a'), item('b')], false);
  state.update('a', { status: 'creating' });
  const onDisk = JSON.parse(readFileSync(state.path, 'utf8'));
  assert.equal(onDisk.items[0].status, 'creating');
  assert.equal(onDisk.items[1].status, 'pending');
  state.update('a', { status: 'created', task_id: 'task_1' });
  assert.deepEqual(readdirSync(d), ['anygen-batch-state.json']);
  const again = BatchState.open(d, 'in.jsonl', undefined, now);
  assert.equal(again.get('a')?.task_id, 'task_1');
});

test('resume rules: completed skipped, created waited on, creating becomes unknown, retried only when asked', (t) => {
  const d = dir(t);
  const state = BatchState.open(d, 'in.jsonl', undefined, now);
  state.plan(
    ['done', 'made', 'inflight', 'refused', 'taskfailed', 'dlfailed', 'new'].map((id) => item(id)),
    false,
  );
  state.update('done', { status: 'completed', task_id: 't1', files: ['done.png'] });
  state.update('made', { status: 'created', task_id: 't2' });
  state.update('inflight', { status: 'creating' });
  state.update('refused', { status: 'failed', error: 'no' });
  state.update('taskfailed', { status: 'failed', task_id: 't3', task_failed: true });
  state.update('dlfailed', { status: 'failed', task_id: 't4', error: 'download cut short' });
  const items = ['done', 'made', 'inflight', 'refused', 'taskfailed', 'dlfailed', 'new'].map((id) => item(id));

  const plan = BatchState.open(d, 'in.jsonl', undefined, now).plan(items, false);
  assert.deepEqual(Object.fromEntries(plan), {
    done: 'skip',
    made: 'wait',
    inflight: 'report',
    refused: 'create',
    taskfailed: 'create',
    dlfailed: 'wait',
    new: 'create',
  });
  const reopened = BatchState.open(d, 'in.jsonl', undefined, now);
  assert.equal(reopened.plan(items, true).get('inflight'), 'create');
  assert.equal(reopened.get('inflight')?.status, 'unknown');
});

test('a corrupt or foreign state file is a usage error naming it, and is kept byte for byte', (t) => {
  const d = dir(t);
  const path = join(d, 'anygen-batch-state.json');
  for (const content of ['{"items": [', '{"hello": "world"}', '[]']) {
    writeFileSync(path, content);
    usage(() => BatchState.open(d, 'in.jsonl', undefined, now), new RegExp(`State file ${path} cannot be used`));
    assert.equal(readFileSync(path, 'utf8'), content);
  }
  rmSync(path);
  const state = BatchState.open(d, 'campaign.jsonl', undefined, now);
  state.plan([item('a')], false);
  state.save();
  const before = readFileSync(path, 'utf8');
  usage(() => BatchState.open(d, 'catalogue.jsonl', undefined, now), /was written for the input "campaign.jsonl"/);
  assert.equal(readFileSync(path, 'utf8'), before);
});

test('an item whose id is recorded with other contents is refused unless nothing was made for it', (t) => {
  const d = dir(t);
  const state = BatchState.open(d, 'in.jsonl', undefined, now);
  state.plan([item('a', 'h1'), item('b', 'h1')], false);
  state.update('a', { status: 'created', task_id: 'task_a' });
  const reopened = BatchState.open(d, 'in.jsonl', undefined, now);
  usage(() => reopened.plan([item('a', 'h2')], false), /1 item changed since/);
  // Still pending: the new contents simply replace the old.
  assert.equal(
    BatchState.open(d, 'in.jsonl', undefined, now)
      .plan([item('b', 'h2')], false)
      .get('b'),
    'create',
  );
});
