/** AnyGenClient against the sandbox over loopback HTTP: every endpoint, every error kind. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createWriteStream, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { rejection, sandbox, TEST_KEY, tempDir } from '../../test/helpers/harness.js';
import { AnyGenClient, TRACKING_EXTRA } from './client.js';

function client(url: string, extra: Partial<ConstructorParameters<typeof AnyGenClient>[0]> = {}) {
  return new AnyGenClient({ baseUrl: url, apiKey: TEST_KEY, retry: { retries: 0 }, ...extra });
}

describe('AnyGenClient endpoints', () => {
  test('upload, prepare, create, get task, send and read messages, verify', async (t) => {
    const s = await sandbox(t, { prepareTurns: 2 });
    const dir = tempDir(t);
    const file = join(dir, 'ref.png');
    writeFileSync(file, 'reference bytes');
    const c = client(s.url);

    const up = await c.upload(file);
    assert.match(up.data.file_token, /^tk_/);
    assert.equal(up.data.file_size, 15);
    assert.match(up.requestId ?? '', /^req_sbx_/);

    const first = await c.prepare({
      messages: [{ role: 'user', content: [{ type: 'text', text: 'A poster' }] }],
      fileTokens: [up.data.file_token],
    });
    assert.equal(first.data.status, 'collecting');
    assert.ok(first.data.prepare_session_id);
    const second = await c.prepare({
      messages: [...(first.data.messages ?? []), { role: 'user', content: 'Blue, A3' }],
      fileTokens: [up.data.file_token],
      prepareSessionId: first.data.prepare_session_id ?? null,
    });
    assert.equal(second.data.status, 'ready');
    assert.deepEqual(second.data.suggested_task_params?.file_tokens, [up.data.file_token]);

    const created = await c.createTask({
      operation: 'ai_designer',
      prompt: 'A blue poster',
      language: 'en-US',
      fileTokens: [up.data.file_token],
    });
    assert.match(created.data.task_id, /^task_/);
    const task = await c.getTask(created.data.task_id);
    assert.equal(task.data.status, 'completed');
    assert.match(task.data.output?.files?.[0]?.url ?? '', /\/files\//);

    const sent = await c.sendMessage(created.data.task_id, { content: 'Darker', fileTokens: [up.data.file_token] });
    assert.equal(typeof sent.data.message.id, 'number');
    const page = await c.getMessages(created.data.task_id, { limit: 5 });
    const reply = page.data.messages.find((m) => m.role === 'assistant');
    assert.equal(reply?.status, 'completed');
    assert.ok((reply?.id ?? 0) > sent.data.message.id);

    const verified = await c.verifyKey();
    assert.equal(verified.data.verified, true);
    assert.equal(verified.data.credits, '1200');
  });

  test('sends the key as a header and as auth_token, with the tracking extra, in the three bodies', async (t) => {
    const s = await sandbox(t);
    const c = client(s.url, { headers: { 'x-trace': 'abc' } });
    await c.prepare({ messages: [{ role: 'user', content: 'hi' }] });
    const { data } = await c.createTask({ operation: 'ai_designer', prompt: 'p' });
    await c.sendMessage(data.task_id, { content: 'more' });
    assert.equal(s.received.length, 3);
    for (const r of s.received) {
      const body = r.body as Record<string, unknown>;
      assert.equal(r.headers.authorization, `Bearer ${TEST_KEY}`, r.route);
      assert.equal(body.auth_token, `Bearer ${TEST_KEY}`, r.route);
      assert.deepEqual(body.extra, TRACKING_EXTRA, r.route);
      assert.equal(r.headers['x-trace'], 'abc', r.route);
      assert.match(String(r.headers['user-agent']), /^anygen-image\/\d+\.\d+\.\d+ node\/\d+/);
    }
  });

  test('a key that already starts with "Bearer " is sent as it is', async (t) => {
    const s = await sandbox(t);
    const c = new AnyGenClient({ baseUrl: s.url, apiKey: `Bearer ${TEST_KEY}` });
    await c.createTask({ operation: 'ai_designer', prompt: 'p' });
    assert.equal(s.received[0]?.headers.authorization, `Bearer ${TEST_KEY}`);
  });

  test('unknown answer fields are kept', async (t) => {
    const s = await sandbox(t);
    const { data } = await client(s.url).verifyKey();
    assert.equal((data as Record<string, unknown>).key_name, 'sandbox');
  });

  test('a 40 MB file is streamed and arrives with the same size and bytes', async (t) => {
    const s = await sandbox(t);
    const file = join(tempDir(t), 'big.bin');
    const hash = createHash('sha256');
    const out = createWriteStream(file);
    for (let i = 0; i < 40; i++) {
      const chunk = Buffer.alloc(1024 * 1024, i);
      chunk.write(`block ${i}`);
      hash.update(chunk);
      out.write(chunk);
    }
    await new Promise((r) => out.end(r));
    const { data } = await client(s.url).upload(file);
    const record = s.uploads.get(data.file_token);
    assert.equal(record?.size, 40 * 1024 * 1024);
    assert.equal(record?.sha256, hash.digest('hex'));
    assert.equal(record?.name, 'big.bin');
  });
});

describe('AnyGenClient errors', () => {
  test('a wrong key is kind auth with the server code and request id', async (t) => {
    const s = await sandbox(t);
    const err = await rejection(new AnyGenClient({ baseUrl: s.url, apiKey: 'sk-wrong-key-000' }).verifyKey());
    assert.equal(err.kind, 'auth');
    assert.equal(err.status, 401);
    assert.equal(err.code, 100004003);
    assert.match(err.requestId ?? '', /^req_sbx_/);
    assert.match(err.message, /verify key/);
  });

  test('an unknown task is kind not_found (404, 100004002)', async (t) => {
    const s = await sandbox(t);
    const err = await rejection(client(s.url).getTask('task_nope'));
    assert.equal(err.kind, 'not_found');
    assert.equal(err.code, 100004002);
    assert.equal(err.retryable, false);
  });

  test('a wrong parameter is kind validation', async (t) => {
    const s = await sandbox(t);
    const err = await rejection(client(s.url).createTask({ operation: 'ai_designer', prompt: '   ' }));
    assert.equal(err.kind, 'validation');
    assert.match(err.message, /prompt is required/);
  });

  test('not enough credits (200 with success:false) is kind permission', async (t) => {
    const s = await sandbox(t);
    const err = await rejection(client(s.url).createTask({ operation: 'ai_designer', prompt: 'x [no-credits]' }));
    assert.equal(err.kind, 'permission');
    assert.equal(err.code, 100006029);
    assert.equal(err.status, 200);
  });

  test('429 is kind rate_limit and carries Retry-After', async (t) => {
    const s = await sandbox(t, { faults: '429:7' });
    const err = await rejection(client(s.url).verifyKey());
    assert.equal(err.kind, 'rate_limit');
    assert.equal(err.retryAfter, 7);
    assert.equal(err.retryable, true);
  });

  test('503 is kind server_error and retryable', async (t) => {
    const s = await sandbox(t, { faults: '503' });
    const err = await rejection(client(s.url).verifyKey());
    assert.equal(err.kind, 'server_error');
    assert.equal(err.status, 503);
    assert.equal(err.retryable, true);
  });

  test('non-JSON, empty, wrong-shape and redirect answers are kind protocol naming endpoint, status and request id', async (t) => {
    const s = await sandbox(t, { faults: 'nonjson,empty,badshape,302' });
    const c = client(s.url);
    for (const what of [/not JSON/, /empty body/, /unexpected shape: task_id/, /redirect/]) {
      const err = await rejection(c.getTask('task_any'));
      assert.equal(err.kind, 'protocol');
      assert.match(err.message, what);
      assert.match(err.message, /get task/);
      assert.match(err.message, /HTTP \d{3}/);
      assert.match(err.message, /request id req_sbx_/);
    }
  });

  test('a dropped connection is kind network', async (t) => {
    const s = await sandbox(t, { faults: 'drop' });
    const err = await rejection(client(s.url).verifyKey());
    assert.equal(err.kind, 'network');
    assert.equal(err.retryable, true);
  });

  test('nobody listening is kind network and known not to have been sent', async (t) => {
    const s = await sandbox(t);
    const url = s.url;
    await s.close();
    const err = await rejection(client(url).createTask({ operation: 'ai_designer', prompt: 'p' }));
    assert.equal(err.kind, 'network');
    assert.equal(err.sent, false);
  });

  test('an answer slower than the timeout is kind timeout', async (t) => {
    const s = await sandbox(t, { faults: 'delay:400' });
    const err = await rejection(client(s.url, { timeouts: { read: 100 } }).verifyKey());
    assert.equal(err.kind, 'timeout');
  });

  test('the key never shows in an error, its JSON or its stack, even when the server echoes it', async (t) => {
    const server = createServer((req, res) => {
      res.writeHead(400, { 'content-type': 'application/json', 'x-request-id': 'req_echo' });
      res.end(JSON.stringify({ success: false, error: `bad key ${req.headers.authorization}`, code: 100004001 }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(() => server.close());
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const err = await rejection(client(url).verifyKey());
    for (const text of [err.message, JSON.stringify(err), String(err.stack), String(err)]) {
      assert.ok(!text.includes(TEST_KEY), text);
    }
    assert.match(err.message, /sk-\*\*\*/);
  });

  test('reads are retried on transient failures; create is not once it may have been sent', async (t) => {
    const s = await sandbox(t, { faults: '503,503' });
    const sleeps: number[] = [];
    const c = new AnyGenClient({
      baseUrl: s.url,
      apiKey: TEST_KEY,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });
    const ok = await c.verifyKey();
    assert.equal(ok.data.verified, true);
    assert.deepEqual(sleeps, [500, 1000]);

    s.addFaults('drop');
    const before = s.stats.byRoute.create ?? 0;
    const err = await rejection(c.createTask({ operation: 'ai_designer', prompt: 'once' }));
    assert.equal(err.kind, 'network');
    assert.equal(s.tasks.size, 0);
    assert.equal((s.stats.byRoute.create ?? 0) - before, 0, 'the dropped create was not repeated');
    assert.equal(sleeps.length, 2, 'no retry was slept for');
  });
});
