/**
 * The route table: which method and path reach which handler, first as data, then
 * over loopback against a started sandbox (each request counted under its route's
 * name, answered by that handler), and what an unknown endpoint gets.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sandbox, TEST_KEY } from '../../test/helpers/harness.js';
import * as h from './handlers.js';
import { findRoute, ROUTES } from './routes.js';
import type { Sandbox } from './server.js';

const AUTH = { authorization: `Bearer ${TEST_KEY}` };

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: () => Record<string, unknown>;
}

async function send(s: Sandbox, method: string, path: string, init: RequestInit = {}): Promise<Answer> {
  const r = await fetch(new URL(path, s.url), { method, ...init });
  const text = await r.text();
  return { status: r.status, headers: r.headers, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

function postJson(s: Sandbox, path: string, body: unknown): Promise<Answer> {
  return send(s, 'POST', path, {
    headers: { ...AUTH, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** Which byRoute counters moved during `fn`, and by how much. */
async function counted<T>(s: Sandbox, fn: () => Promise<T>): Promise<[T, Record<string, number>]> {
  const before = { ...s.stats.byRoute };
  const result = await fn();
  const moved: Record<string, number> = {};
  for (const [name, n] of Object.entries(s.stats.byRoute)) {
    if (n !== (before[name] ?? 0)) moved[name] = n - (before[name] ?? 0);
  }
  return [result, moved];
}

describe('findRoute', () => {
  const cases: [string, string, h.Handler | undefined][] = [
    ['GET', '/__sandbox/state', h.adminState],
    ['POST', '/__sandbox/faults', h.adminFaults],
    ['GET', '/files/task_1/image.png', h.file],
    ['GET', '/task/task_1', h.taskPage],
    ['POST', '/v1/openapi/files/upload', h.upload],
    ['POST', '/v1/openapi/tasks/prepare', h.prepare],
    ['POST', '/v1/openapi/tasks', h.create],
    ['GET', '/v1/openapi/key/verify', h.verify],
    ['GET', '/v1/openapi/tasks/task_1', h.task],
    ['POST', '/v1/openapi/tasks/task_1/messages', h.sendMessage],
    ['GET', '/v1/openapi/tasks/task_1/messages', h.messages],
    // "prepare" is a task id to a read, as on the service.
    ['GET', '/v1/openapi/tasks/prepare', h.task],
    ['GET', '/v1/openapi/tasks', undefined],
    ['DELETE', '/v1/openapi/tasks/task_1', undefined],
    ['POST', '/__sandbox/state', undefined],
    ['GET', '/files/task_1/a/image.png', undefined],
    ['GET', '/v1/openapi/tasks/task_1/messages/3', undefined],
    ['GET', '/nowhere', undefined],
  ];
  for (const [method, path, handler] of cases) {
    test(`${method} ${path} → ${handler?.name ?? 'no route'}`, () => {
      assert.equal(findRoute(method, path)?.route.handler, handler);
    });
  }

  test('captures are handed over still percent-encoded', () => {
    assert.deepEqual(findRoute('GET', '/files/task%201/image.png')?.params, ['task%201', 'image.png']);
  });

  test('every handler has exactly one entry, and counted names are unique', () => {
    const handlers = ROUTES.map((r) => r.handler);
    assert.equal(new Set(handlers).size, handlers.length);
    const names = ROUTES.flatMap((r) => (r.name ? [r.name] : []));
    assert.equal(new Set(names).size, names.length);
  });
});

describe('the table over loopback', () => {
  test('each API route is answered by its handler and counted under its name, once', async (t) => {
    const s = await sandbox(t, { prepareTurns: 1 });
    const form = new FormData();
    form.append('file', new Blob(['reference bytes']), 'ref.png');
    form.append('filename', 'ref.png');
    const [up, upMoved] = await counted(s, () =>
      send(s, 'POST', '/v1/openapi/files/upload', { headers: AUTH, body: form }),
    );
    assert.equal(up.json().file_size, 15);
    assert.deepEqual(upMoved, { upload: 1 });

    const [prep, prepMoved] = await counted(s, () =>
      postJson(s, '/v1/openapi/tasks/prepare', { messages: [{ role: 'user', content: 'a poster' }] }),
    );
    assert.equal(prep.json().status, 'ready');
    assert.deepEqual(prepMoved, { prepare: 1 });

    const [created, createMoved] = await counted(s, () =>
      postJson(s, '/v1/openapi/tasks', { operation: 'ai_designer', prompt: 'a fox' }),
    );
    const id = created.json().task_id as string;
    assert.match(id, /^task_/);
    assert.deepEqual(createMoved, { create: 1 });

    const [verified, verifyMoved] = await counted(s, () => send(s, 'GET', '/v1/openapi/key/verify', { headers: AUTH }));
    assert.equal(verified.json().verified, true);
    assert.deepEqual(verifyMoved, { verify: 1 });

    const [read, readMoved] = await counted(s, () => send(s, 'GET', `/v1/openapi/tasks/${id}`, { headers: AUTH }));
    assert.equal(read.json().status, 'completed');
    assert.deepEqual(readMoved, { task: 1 });

    const [sent, sentMoved] = await counted(s, () =>
      postJson(s, `/v1/openapi/tasks/${id}/messages`, { content: 'make it blue' }),
    );
    assert.equal(sent.json().status, 'processing');
    assert.deepEqual(sentMoved, { 'send-message': 1 });

    const [msgs, msgsMoved] = await counted(s, () =>
      send(s, 'GET', `/v1/openapi/tasks/${id}/messages`, { headers: AUTH }),
    );
    assert.deepEqual(
      (msgs.json().messages as { role: string }[]).map((m) => m.role),
      ['user', 'assistant'],
    );
    assert.deepEqual(msgsMoved, { messages: 1 });

    const [file, fileMoved] = await counted(s, () => send(s, 'GET', `/files/${id}/thumbnail.png`));
    assert.equal(file.headers.get('content-type'), 'image/png');
    assert.deepEqual(fileMoved, { file: 1 });
  });

  test('admin routes and the task page answer without being counted or taking a fault', async (t) => {
    const s = await sandbox(t);
    const [queued, moved] = await counted(s, async () => {
      const page = await send(s, 'GET', '/task/task_<b>1');
      assert.match(page.text, /AnyGen sandbox task task_%3Cb%3E1/);
      const state = await send(s, 'GET', '/__sandbox/state');
      assert.equal(state.json().tasks, 0);
      return send(s, 'POST', '/__sandbox/faults', { body: '503*2' });
    });
    assert.deepEqual(queued.json(), { success: true, queued: 2 });
    assert.deepEqual(moved, {});
    const again = await send(s, 'POST', '/__sandbox/faults', { body: '' });
    assert.equal(again.json().queued, 2, 'the page and the admin routes took none of the queued faults');
  });

  test('unknown endpoints: 404 with the contract error body and a request id', async (t) => {
    const s = await sandbox(t);
    for (const [method, path] of [
      ['GET', '/nowhere'],
      ['GET', '/v1/openapi/tasks'],
      ['DELETE', '/v1/openapi/tasks/task_1'],
      ['PUT', '/v1/openapi/files/upload'],
      ['POST', '/__sandbox/state'],
      ['GET', '/v1/openapi/tasks/task_1/messages/3'],
    ] as const) {
      const r = await send(s, method, path, { headers: AUTH });
      assert.equal(r.status, 404, `${method} ${path}`);
      assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
      assert.match(r.headers.get('x-request-id') ?? '', /^req_sbx_[0-9a-f]{6}$/);
      assert.deepEqual(r.json(), { success: false, error: `no such endpoint: ${method} ${path}`, code: 100004002 });
    }
    assert.deepEqual(s.stats.byRoute, {});
  });

  test('a queued fault is taken by any API path, known or not, and only there', async (t) => {
    const s = await sandbox(t, { faults: '503' });
    assert.equal((await send(s, 'GET', '/nowhere')).status, 404);
    const faulted = await send(s, 'GET', '/v1/openapi/nowhere');
    assert.equal(faulted.status, 503);
    assert.equal(faulted.json().code, 100005001);
    assert.equal((await send(s, 'GET', '/v1/openapi/nowhere')).status, 404);
  });

  test('a bad percent-escape in a task id is the internal error, not a crash', async (t) => {
    const s = await sandbox(t);
    const r = await send(s, 'GET', '/v1/openapi/tasks/%E0%A4%A', { headers: AUTH });
    assert.equal(r.status, 500);
    assert.deepEqual(r.json(), { success: false, error: 'internal sandbox error', code: 100005000 });
    assert.equal((await send(s, 'GET', '/v1/openapi/key/verify', { headers: AUTH })).status, 200);
  });
});
