/** The answer schemas: ids that arrive as numbers, progress that is not a percentage. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CreateAnswer, MessagesPage, PrepareAnswer, Task, UploadAnswer } from './schemas.js';

describe('ids that arrive as numbers', () => {
  test('task_id, file_token and prepare_session_id are taken as their text', () => {
    assert.equal(CreateAnswer().parse({ success: true, task_id: 12345 }).task_id, '12345');
    assert.equal(Task().parse({ task_id: 7, status: 'pending' }).task_id, '7');
    assert.equal(UploadAnswer().parse({ file_token: 991 }).file_token, '991');
    const prepared = PrepareAnswer().parse({
      status: 'ready',
      prepare_session_id: 42,
      suggested_task_params: { prompt: 'p', file_tokens: [1, 'tk_b'] },
    });
    assert.equal(prepared.prepare_session_id, '42');
    assert.deepEqual(prepared.suggested_task_params?.file_tokens, ['1', 'tk_b']);
  });

  test('message ids stay numbers, as the contract has them; an empty or missing task id from create is refused', () => {
    const page = MessagesPage().parse({ messages: [{ id: 124, role: 'assistant', content: 'x' }] });
    assert.equal(page.messages[0]?.id, 124);
    assert.equal(MessagesPage().safeParse({ messages: [{ id: '124', role: 'assistant' }] }).success, false);
    assert.equal(CreateAnswer().safeParse({ task_id: '' }).success, false);
    assert.equal(CreateAnswer().safeParse({ task_url: 'https://x' }).success, false);
    assert.equal(CreateAnswer().safeParse({ task_id: true }).success, false);
  });
});

describe('task progress', () => {
  test('a number from 0 to 100 is kept; anything else is no progress (null), and the task still parses', () => {
    const progressOf = (progress: unknown) => Task().parse({ task_id: 't', status: 'processing', progress }).progress;
    assert.equal(progressOf(0), 0);
    assert.equal(progressOf(42.5), 42.5);
    assert.equal(progressOf(100), 100);
    for (const bad of [-5, 150, 100.01, 'x', '50', null, undefined, Number.NaN, { v: 1 }, [50], true]) {
      assert.equal(progressOf(bad), null, JSON.stringify(bad) ?? String(bad));
    }
    assert.equal(Task().parse({ task_id: 't', status: 'pending' }).progress, null);
  });
});

describe('decorations of an answer', () => {
  test('a task URL, thumbnail URL or file name that is not a string is absent, and the task id is kept', () => {
    const created = CreateAnswer().parse({ task_id: 'task_1', task_url: { href: 'x' } });
    assert.deepEqual([created.task_id, created.task_url], ['task_1', null]);
    const task = Task().parse({
      task_id: 'task_1',
      status: 'completed',
      output: { task_url: 5, thumbnail_url: ['x'], file_name: 7, files: [{ url: 'https://a/b.png', name: false }] },
    });
    assert.equal(task.output?.task_url, null);
    assert.equal(task.output?.thumbnail_url, null);
    assert.equal(task.output?.file_name, null);
    assert.equal(task.output?.files?.[0]?.name, null);
    assert.equal(task.output?.files?.[0]?.url, 'https://a/b.png');
  });
});
