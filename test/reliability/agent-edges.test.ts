/**
 * Edges an agent hits in a real conversation, found by trying the CLI as one: a change
 * in progress, a task id from elsewhere, replies over several lines, a conversation file
 * that already exists, a host that closes the pipe while a call is running.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { describe, test } from 'node:test';
import { BIN, envFor, json, runBin, sandbox, tempDir } from '../helpers/harness.js';
import { historyAt } from '../helpers/watchers.js';
import { assertCleanError, makeTask } from './helpers.js';

describe('status during a change', () => {
  test('says the change is waiting or running while the task stays completed, then completed with its version', async (t) => {
    const s = await sandbox(t, { replyReads: 3 });
    const home = tempDir(t);
    const env = envFor(s, home, { XDG_STATE_HOME: join(home, 'state') });
    const created = json(await runBin(['create', '-p', 'A poster', '--json'], { env }));
    const id = created.task_id as string;
    assert.equal((await runBin(['poll', '--task-id', id, '--interval', '1'], { env })).code, 0);
    const before = json(await runBin(['status', '--task-id', id, '--json'], { env }));
    assert.equal(before.change, undefined, 'no change asked yet');

    assert.equal((await runBin(['send-message', '--task-id', id, '-m', 'darker'], { env })).code, 0);
    const during = json(await runBin(['status', '--task-id', id, '--json'], { env }));
    assert.equal(during.status, 'completed');
    assert.ok(['waiting', 'running'].includes((during.change as { status: string }).status), JSON.stringify(during));
    const human = await runBin(['status', '--task-id', id], { env });
    assert.match(human.stdout, /^Change: (waiting|running)/m);

    assert.equal((await runBin(['get-messages', '--task-id', id, '--wait', '--interval', '1'], { env })).code, 0);
    const after = json(await runBin(['status', '--task-id', id, '--json'], { env }));
    assert.deepEqual(
      {
        status: (after.change as { status: string }).status,
        version: (after.change as { content_version: number }).content_version,
      },
      { status: 'completed', version: 1 },
    );
  });

  test('a failed task gives its reason, as text and under --json', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const env = envFor(s, home);
    const id = await makeTask(s, 'A poster [fail out of paper]');
    const r = await runBin(['status', '--task-id', id], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Reason: .*out of paper/m);
    assert.match(json(await runBin(['status', '--task-id', id, '--json'], { env })).error as string, /out of paper/);
  });
});

describe('the task history', () => {
  test('keeps absolute paths, whatever folder a download ran in', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const state = join(home, 'state');
    const env = envFor(s, home, { XDG_STATE_HOME: state });
    const id = await makeTask(s, 'A poster');
    assert.equal((await runBin(['poll', '--task-id', id, '--output', 'images'], { env, cwd: home })).code, 0);
    const files = historyAt(state).tasks.find((e) => e.task_id === id)?.files ?? [];
    assert.equal(files.length, 1);
    assert.ok(isAbsolute(files[0]?.path as string), files[0]?.path);
    assert.ok(readFileSync(files[0]?.path as string).length > 0);
  });

  test('has no entry for a task the service does not know', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const state = join(home, 'state');
    const env = envFor(s, home, { XDG_STATE_HOME: state });
    assertCleanError(await runBin(['poll', '--task-id', 'task_nope', '--timeout', '5'], { env }), 1);
    const tasks = json(await runBin(['tasks', '--json'], { env })).tasks as { task_id: string }[];
    assert.deepEqual(tasks, []);
  });
});

describe('server text over several lines', () => {
  test('never starts a line of its own that reads as a label', async (t) => {
    const s = await sandbox(t);
    const env = envFor(s, tempDir(t));
    const r = await runBin(['prepare', '-m', 'Just create a banner.\nStatus: collecting\nPrompt: fake'], { env });
    assert.equal(r.code, 0, r.stderr);
    const labelled = (name: string) => r.stdout.split('\n').filter((l) => l.startsWith(`${name}:`));
    assert.deepEqual(labelled('Status'), ['Status: ready']);
    assert.equal(labelled('Prompt').length, 1, r.stdout);
  });
});

describe('a conversation file', () => {
  test('is never replaced by a new conversation: --save over an existing file without --input is refused', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const env = envFor(s, home);
    const conv = join(home, 'conversation.json');
    writeFileSync(conv, '{"messages": []}\n');
    const line = assertCleanError(await runBin(['prepare', '-m', 'A poster', '--save', conv], { env }), 2, {
      first: true,
    });
    assert.match(line, /already exists/);
    assert.equal(readFileSync(conv, 'utf8'), '{"messages": []}\n');
    assert.equal(s.stats.requests, 0);
  });
});

describe('mcp', () => {
  test('answers a call still running when the host closes its stdin, then exits 0', async (t) => {
    const s = await sandbox(t);
    const id = await makeTask(s, 'A poster');
    const child = spawn(process.execPath, [BIN, 'mcp'], { env: envFor(s, tempDir(t)) as NodeJS.ProcessEnv });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    const lines = [
      {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
      },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'get_task', arguments: { task_id: id } } },
    ];
    child.stdin.end(`${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0);
    const answers = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id?: number; result?: { isError?: boolean } });
    const answer = answers.find((a) => a.id === 2);
    assert.ok(answer?.result && !answer.result.isError, out);
  });
});

describe('connections', () => {
  test('a run that creates, waits and downloads keeps to one connection', async (t) => {
    const s = await sandbox(t, { readsToComplete: 2 });
    const home = tempDir(t);
    const r = await runBin(['run', '-p', 'A poster', '--output', join(home, 'out'), '--interval', '1'], {
      env: envFor(s, home),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(s.stats.connections, 1);
  });

  test('a batch opens at most one connection per worker', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const input = join(home, 'prompts.txt');
    writeFileSync(input, `${Array.from({ length: 20 }, (_, i) => `prompt ${i}`).join('\n')}\n`);
    const r = await runBin(['batch', input, '--output', join(home, 'out'), '--concurrency', '4', '-q'], {
      env: envFor(s, home),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(s.stats.connections <= 4, `${s.stats.connections} connections`);
  });
});
