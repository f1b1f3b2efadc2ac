/** How a task reads as it goes, straight from the state (the routes test drives the same over HTTP). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseDirectives } from './directives.js';
import { pictureFromPrompt } from './picture.js';
import { SANDBOX_KEY, SandboxState, slug, type TaskRecord } from './state.js';

function task(prompt: string): TaskRecord {
  return {
    id: 'task_1',
    operation: 'ai_designer',
    prompt,
    fileTokens: [],
    reads: 0,
    version: 0,
    picture: pictureFromPrompt(prompt),
    directives: parseDirectives(prompt),
    body: {},
  };
}

describe('SandboxState', () => {
  test('defaults: the sandbox key, 3 reads to complete, 1 reply read, 2 prepare turns, 50 MB', () => {
    const s = new SandboxState({});
    assert.deepEqual(
      [s.apiKey, s.readsToComplete, s.replyReads, s.prepareTurns, s.maxUpload],
      [SANDBOX_KEY, 3, 1, 2, 50 * 1024 * 1024],
    );
  });

  test('a task is pending, then processing with progress, then completed with its files', () => {
    const s = new SandboxState({ readsToComplete: 2 });
    s.base = 'http://127.0.0.1:1';
    const t = task('A red fox, in snow [reads 2]');
    assert.deepEqual(s.taskView(t), { success: true, task_id: 'task_1', status: 'pending', progress: 0 });
    t.reads = 1;
    assert.equal(s.taskView(t).status, 'processing');
    assert.equal(s.taskView(t).progress, 50);
    t.reads = 2;
    const done = s.taskView(t);
    assert.equal(done.status, 'completed');
    const output = done.output as Record<string, unknown>;
    assert.equal(output.file_name, 'a-red-fox-in.png');
    assert.equal(output.file_url, 'http://127.0.0.1:1/files/task_1/image.png');
    assert.equal((output.files as unknown[]).length, 1);
  });

  test('[legacy] leaves out output.files; [cancelled] and [fail] end the task so', () => {
    const s = new SandboxState({ readsToComplete: 0 });
    assert.equal((s.taskView(task('x [legacy]')).output as Record<string, unknown>).files, undefined);
    assert.equal(s.taskView(task('x [cancelled]')).status, 'cancelled');
    assert.deepEqual(
      [s.taskView(task('x [fail nope]')).status, s.taskView(task('x [fail nope]')).error],
      ['failed', 'nope'],
    );
  });

  test('queued faults come first; a task read then takes the task own faults, other methods do not', () => {
    const s = new SandboxState({ faults: '503' });
    const t = task('x [faults drop]');
    s.tasks.set(t.id, t);
    assert.deepEqual(s.nextFault('GET', '/v1/openapi/tasks/task_1'), { type: 'status', status: 503 });
    assert.equal(s.nextFault('POST', '/v1/openapi/tasks/task_1/messages'), undefined);
    assert.deepEqual(s.nextFault('GET', '/v1/openapi/tasks/task_1/messages'), { type: 'drop' });
    assert.equal(s.nextFault('GET', '/v1/openapi/tasks/task_1'), undefined);
  });

  test('a reply completes after its reads and bumps the task version; a [fail] reply fails', () => {
    const s = new SandboxState({});
    const t = task('x');
    s.messages.set(t.id, [
      { id: 1, role: 'assistant', content: '', status: 'running', readsLeft: 1 },
      { id: 2, role: 'assistant', content: '', status: 'running', readsLeft: 0, fail: 'no' },
    ]);
    const first = s.advanceReplies(t);
    assert.deepEqual(
      first.map((m) => m.status),
      ['running', 'failed'],
    );
    const second = s.advanceReplies(t);
    assert.equal(second[0]?.status, 'completed');
    assert.equal(t.version, 1);
  });

  test('slug takes the first four words without directives, else "image"', () => {
    assert.equal(slug('[reads 2] Poster: Café at NIGHT, rainy'), 'poster-caf-at-night');
    assert.equal(slug('[fail] ???'), 'image');
  });
});
