/**
 * The built binary, spawned as agents and CI scripts run it, against the sandbox:
 * every subcommand in human and --json mode, stdout, stderr and exit codes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { AnyGenClient } from '../../src/client/client.js';
import { pngSize } from '../../src/sandbox/png.js';
import { BIN, envFor, json, runBin, sandbox, TEST_KEY, tempDir } from '../helpers/harness.js';

const FIXTURES = new URL('../fixtures/', import.meta.url);

function lines(text: string): string[] {
  return text.split('\n').filter(Boolean);
}

function label(stdout: string, name: string): string {
  const line = lines(stdout).find((l) => l.startsWith(`${name}: `));
  assert.ok(line, `no "${name}:" line in:\n${stdout}`);
  return line.slice(name.length + 2);
}

describe('config', () => {
  test('set, get (masked), delete and path, in human and --json mode', async (t) => {
    const home = tempDir(t);
    const env = envFor(undefined, home);
    const set = await runBin(['config', 'set', 'api_key', TEST_KEY], { env });
    assert.equal(set.code, 0);
    assert.equal(set.stdout, 'Set api_key = sk-test-7f...\n');

    const path = await runBin(['config', 'path'], { env });
    const file = join(home, 'xdg', 'anygen', 'config.json');
    assert.equal(path.stdout, `Config file: ${file}\n`);
    assert.equal(JSON.parse(readFileSync(file, 'utf8')).api_key, TEST_KEY);

    await runBin(['config', 'set', 'default_language', 'zh-CN'], { env });
    const all = await runBin(['config', 'get'], { env });
    assert.equal(all.stdout, 'api_key = sk-test-7f...\ndefault_language = zh-CN\n');
    const one = await runBin(['--json', 'config', 'get', 'api_key'], { env });
    assert.deepEqual(json(one), { success: true, path: file, values: { api_key: 'sk-test-7f...' } });

    const del = await runBin(['config', 'delete', 'default_language'], { env });
    assert.equal(del.stdout, 'Deleted default_language\n');
    const again = await runBin(['--json', 'config', 'delete', 'default_language'], { env });
    assert.equal(json(again).deleted, false);
    const unset = await runBin(['config', 'get', 'default_language'], { env });
    assert.equal(unset.stdout, 'default_language is not set\n');
  });
});

describe('upload', () => {
  test('prints File Token, Filename and Size; --json has the same', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const file = join(home, 'reference.png');
    writeFileSync(file, 'png-ish bytes');
    const human = await runBin(['upload', '--file', file], { env: envFor(s, home) });
    assert.equal(human.code, 0, human.stderr);
    assert.match(label(human.stdout, 'File Token'), /^tk_[0-9a-f]+$/);
    assert.equal(label(human.stdout, 'Filename'), 'reference.png');
    assert.equal(label(human.stdout, 'Size'), '13 bytes');
    assert.match(human.stderr, /Uploading reference\.png/);

    const machine = await runBin(['upload', '--file', file, '--json'], { env: envFor(s, home) });
    const doc = json(machine);
    assert.equal(doc.success, true);
    assert.match(String(doc.file_token), /^tk_/);
    assert.equal(doc.file_size, 13);
    assert.equal(machine.stderr, '', '--json keeps stderr quiet on success');
  });
});

describe('prepare', () => {
  test('a multi-turn dialogue saved to a file and continued from it, ending ready', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const env = envFor(s, home);
    const ref = join(home, 'ref.png');
    writeFileSync(ref, 'x');
    const token = label((await runBin(['upload', '--file', ref], { env })).stdout, 'File Token');
    const conv = join(home, 'conversation.json');

    const first = await runBin(
      ['prepare', '--message', 'I need a poster design for a music festival', '--file-token', token, '--save', conv],
      { env },
    );
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^AnyGen: What size should it be/);
    assert.equal(label(first.stdout, 'Status'), 'collecting');
    assert.match(first.stderr, /Conversation saved to/);
    const saved = JSON.parse(readFileSync(conv, 'utf8'));
    assert.deepEqual(Object.keys(saved).sort(), [
      'file_tokens',
      'messages',
      'prepare_session_id',
      'status',
      'suggested_task_params',
    ]);
    assert.deepEqual(saved.file_tokens, [token]);
    assert.deepEqual(saved.messages[0].content[1], { type: 'file', file_token: token });

    const second = await runBin(
      ['prepare', '--input', conv, '-m', 'Vibrant colors, modern style', '--file-token', token, '--save', conv],
      { env },
    );
    assert.equal(second.code, 0, second.stderr);
    assert.equal(label(second.stdout, 'Status'), 'ready');
    assert.equal(
      label(second.stdout, 'Prompt'),
      'I need a poster design for a music festival. Vibrant colors, modern style',
    );
    assert.equal(label(second.stdout, 'File Tokens'), token);
    const body = s.received.filter((r) => r.route === 'prepare')[1]?.body as Record<string, unknown>;
    assert.equal(body.prepare_session_id, saved.prepare_session_id, 'the session id travels back');
    const lastTurn = (body.messages as { content: unknown[] }[]).at(-1);
    assert.equal(lastTurn?.content.length, 1, 'a token already in the conversation is not repeated in the new turn');
    assert.equal(JSON.parse(readFileSync(conv, 'utf8')).status, 'ready');
  });

  test('--input equal to --save that does not exist starts a new conversation; --stdin reads the message', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const conv = join(home, 'new.json');
    const r = await runBin(['prepare', '--stdin', '--input', conv, '--save', conv, '--json'], {
      env: envFor(s, home),
      input: 'A banner for a bakery\n',
    });
    assert.equal(r.code, 0, r.stderr);
    const doc = json(r);
    assert.equal(doc.status, 'collecting');
    assert.equal(doc.ready, false);
    assert.equal(doc.saved_to, conv);
    assert.equal(doc.message_count, 2);
    const sent = s.received[0]?.body as { messages: { content: { text?: string }[] }[] };
    assert.equal(sent.messages[0]?.content[0]?.text, 'A banner for a bakery');
  });

  test('continues a conversation file written by the Python script, keeping its format', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const conv = join(home, 'conversation.json');
    copyFileSync(new URL('python-conversation.json', FIXTURES), conv);
    const r = await runBin(['prepare', '--input', conv, '--message', '海报尺寸A3,色彩鲜艳', '--save', conv], {
      env: envFor(s, home),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(label(r.stdout, 'Status'), 'ready');
    const body = s.received[0]?.body as Record<string, unknown>;
    assert.equal((body.messages as unknown[]).length, 3, 'history plus the new turn');
    assert.equal(body.prepare_session_id, 'ps_from_python');
    const text = readFileSync(conv, 'utf8');
    assert.match(text, /音乐节/, 'characters are written as they are, like the Python script');
    const saved = JSON.parse(text);
    assert.equal(saved.status, 'ready');
    assert.equal(saved.messages.length, 4);
    assert.match(saved.suggested_task_params.prompt, /海报尺寸A3/);
  });
});

describe('create', () => {
  test('prints Task ID and Task URL; ai-designer is sent as ai_designer with language, tokens and format', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const env = envFor(s, home);
    const ref = join(home, 'r.png');
    writeFileSync(ref, 'r');
    const token = label((await runBin(['upload', '--file', ref], { env })).stdout, 'File Token');
    const r = await runBin(
      [
        'create',
        '--operation',
        'ai-designer',
        '--prompt',
        'A poster',
        '--file-token',
        token,
        '-l',
        'en-US',
        '-f',
        'png',
      ],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    const id = label(r.stdout, 'Task ID');
    assert.equal(label(r.stdout, 'Task URL'), `${s.url}/task/${id}`);
    const body = s.tasks.get(id)?.body;
    assert.equal(body?.operation, 'ai_designer');
    assert.equal(body?.language, 'en-US');
    assert.equal(body?.export_format, 'png');
    assert.deepEqual(body?.file_tokens, [token]);
  });

  test('the language defaults to default_language from the config; -o defaults to ai_designer', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const env = envFor(s, home);
    await runBin(['config', 'set', 'default_language', 'zh-CN'], { env });
    const r = await runBin(['--json', 'create', '-p', 'Spring festival poster'], { env });
    const doc = json(r);
    assert.equal(r.code, 0);
    assert.deepEqual(Object.keys(doc).sort(), ['request_id', 'success', 'task_id', 'task_url']);
    const body = s.tasks.get(String(doc.task_id))?.body;
    assert.equal(body?.language, 'zh-CN');
    assert.equal(body?.operation, 'ai_designer');
  });

  test('--wait --output waits, downloads a real PNG and prints Local file', async (t) => {
    const s = await sandbox(t, { readsToComplete: 2 });
    const home = tempDir(t);
    const out = join(home, 'out');
    const r = await runBin(['create', '-p', 'Jazz night poster', '--wait', '--output', out, '--interval', '1'], {
      env: envFor(s, home),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(label(r.stdout, 'Status'), 'completed');
    const local = label(r.stdout, 'Local file');
    assert.equal(local, join(out, 'jazz-night-poster.png'));
    assert.deepEqual(pngSize(readFileSync(local)), { width: 453, height: 640 }, 'a poster is drawn A-series portrait');
    assert.match(label(r.stdout, 'Thumbnail URL'), /thumbnail\.png$/);
    assert.match(r.stderr, /processing/);
  });

  test('a service refusal is exit 1 with the reason', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const r = await runBin(['create', '-p', 'x [no-credits]'], { env: envFor(s, home) });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: create task .*not enough credits.*code 100006029/m);
  });
});

describe('poll, download, thumbnail, run', () => {
  async function created(s: Awaited<ReturnType<typeof sandbox>>, home: string, prompt: string): Promise<string> {
    const r = await runBin(['create', '-p', prompt], { env: envFor(s, home) });
    return label(r.stdout, 'Task ID');
  }

  test('poll --output downloads every file of output.files; --json reports them', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const id = await created(s, home, 'Summer sale banner');
    const out = join(home, 'o');
    const r = await runBin(['--json', 'poll', '--task-id', id, '--output', out], { env: envFor(s, home) });
    assert.equal(r.code, 0, r.stderr);
    const doc = json(r) as { status: string; downloads: { path: string; bytes: number }[]; files: unknown[] };
    assert.equal(doc.status, 'completed');
    assert.equal(doc.files.length, 1);
    assert.equal(doc.downloads[0]?.path, join(out, 'summer-sale-banner.png'));
    assert.equal(readFileSync(join(out, 'summer-sale-banner.png')).length, doc.downloads[0]?.bytes);
    assert.equal(r.stderr, '');
  });

  test('poll falls back to file_url and file_name when an answer has no files list', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const id = await created(s, home, 'Old style [legacy]');
    const out = join(home, 'o');
    const r = await runBin(['poll', '--task-id', id, '--output', out], { env: envFor(s, home) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(label(r.stdout, 'Local file'), join(out, 'old-style.png'));
  });

  test('a failed task is exit 1 with its error, in human and --json mode', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const id = await created(s, home, 'Broken [fail the renderer crashed]');
    const human = await runBin(['poll', '--task-id', id], { env: envFor(s, home) });
    assert.equal(human.code, 1);
    assert.match(human.stderr, new RegExp(`Error: Task ${id} failed: the renderer crashed`));
    const machine = await runBin(['poll', '--task-id', id, '--json'], { env: envFor(s, home) });
    assert.equal(machine.code, 1);
    assert.deepEqual(json(machine).error, {
      type: 'task_failed',
      message: `Task ${id} failed: the renderer crashed`,
      hint: `Details: ${s.url}/task/${id}`,
      // The task a failure leaves behind, for scripts that should not parse the hint.
      task_id: id,
    });
  });

  test('a cancelled task ends the wait with exit 1 instead of waiting out the cap', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const id = await created(s, home, 'Stopped [cancelled]');
    const r = await runBin(['poll', '--task-id', id], { env: envFor(s, home) });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`Error: Task ${id} failed: it was cancelled`));
  });

  test('download of a cancelled task is exit 1 (task_failed), not a hint to wait', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const id = await created(s, home, 'Stopped [cancelled]');
    const r = await runBin(['download', '--task-id', id, '--output', join(home, 'x'), '--json'], {
      env: envFor(s, home),
    });
    assert.equal(r.code, 1);
    assert.deepEqual(json(r).error, {
      type: 'task_failed',
      message: `Task ${id} was cancelled: there is nothing to download`,
    });
  });

  test('the wait cap ends with exit 5, the task URL and the command that resumes', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const id = await created(s, home, 'Slow one [reads 1000]');
    const r = await runBin(['poll', '--task-id', id, '--timeout', '1', '--interval', '1'], { env: envFor(s, home) });
    assert.equal(r.code, 5);
    assert.match(r.stderr, /Gave up waiting after 1s; last status: (pending|processing).*it may still finish/);
    assert.ok(r.stderr.includes(`Task URL: ${s.url}/task/${id}`));
    assert.ok(r.stderr.includes(`Resume with: anygen-image poll --task-id ${id}`));
  });

  test("download and thumbnail fetch a finished task's files", async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const id = await created(s, home, 'Cat illustration');
    await runBin(['poll', '--task-id', id], { env: envFor(s, home) });
    const out = join(home, 'files');
    const d = await runBin(['download', '--task-id', id, '--output', out], { env: envFor(s, home) });
    assert.equal(d.code, 0, d.stderr);
    assert.equal(label(d.stdout, 'Local file'), join(out, 'cat-illustration.png'));
    const th = await runBin(['thumbnail', '--task-id', id, '--output', out, '--json'], { env: envFor(s, home) });
    assert.equal(th.code, 0, th.stderr);
    const thumb = join(out, `thumbnail_${id}.png`);
    assert.equal((json(th).downloads as { path: string }[])[0]?.path, thumb);
    assert.deepEqual(pngSize(readFileSync(thumb)), { width: 80, height: 80 });
  });

  test('download of a task that is not finished is exit 1 and says how to wait', async (t) => {
    const s = await sandbox(t, { readsToComplete: 5 });
    const home = tempDir(t);
    const id = await created(s, home, 'Not yet');
    const r = await runBin(['download', '--task-id', id, '--output', join(home, 'x')], { env: envFor(s, home) });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is not completed \(status: pending\)/);
    assert.match(r.stderr, /poll --task-id/);
    assert.equal(existsSync(join(home, 'x')), false);
  });

  test('run creates, waits and downloads in one', async (t) => {
    const s = await sandbox(t, { readsToComplete: 1 });
    const home = tempDir(t);
    const out = join(home, 'run');
    const r = await runBin(['run', '-o', 'ai_designer', '-p', 'Tea shop logo', '--output', out, '--interval', '1'], {
      env: envFor(s, home),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(label(r.stdout, 'Status'), 'completed');
    assert.deepEqual(readdirSync(out), ['tea-shop-logo.png']);
    assert.match(r.stderr, /Task ID: task_/, 'the task id is on stderr before the wait');
  });
});

describe('send-message and get-messages', () => {
  test('send-message uploads --file, attaches --file-token, prints Message ID and Status', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const env = envFor(s, home);
    const id = label((await runBin(['create', '-p', 'Poster'], { env })).stdout, 'Task ID');
    const logo = join(home, 'logo.png');
    writeFileSync(logo, 'logo');
    const token = label((await runBin(['upload', '--file', logo], { env })).stdout, 'File Token');
    const r = await runBin(
      ['send-message', '--task-id', id, '--message', 'Add a logo', '--file', logo, '--file-token', token],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(label(r.stdout, 'Message ID'), /^\d+$/);
    assert.equal(label(r.stdout, 'Status'), 'processing');
    const body = s.received.find((x) => x.route === 'send-message')?.body as { files: { file_token: string }[] };
    assert.equal(body.files.length, 2);
    assert.equal(body.files[0]?.file_token, token);
  });

  test('get-messages lists, limits and pages; --wait --since-id prints the reply', async (t) => {
    const s = await sandbox(t, { replyReads: 1 });
    const home = tempDir(t);
    const env = envFor(s, home);
    const id = label((await runBin(['create', '-p', 'Poster'], { env })).stdout, 'Task ID');
    const first = await runBin(['send-message', '--task-id', id, '-m', 'Darker background', '--json'], { env });
    const messageId = Number(json(first).message_id);

    const waited = await runBin(
      ['get-messages', '--task-id', id, '--wait', '--since-id', String(messageId), '--interval', '1'],
      { env },
    );
    assert.equal(waited.code, 0, waited.stderr);
    assert.equal(label(waited.stdout, 'Status'), 'completed');
    assert.equal(Number(label(waited.stdout, 'Message ID')), messageId + 1);
    assert.match(label(waited.stdout, 'Reply'), /changed the image/);

    await runBin(['send-message', '--task-id', id, '-m', 'Bold title'], { env });
    const list = await runBin(['get-messages', '--task-id', id, '--limit', '3'], { env });
    assert.equal(list.code, 0);
    assert.match(list.stdout, /^Messages \(3\):/);
    assert.match(list.stdout, /More messages: --cursor 1/);
    const page = await runBin(['get-messages', '--task-id', id, '--limit', '3', '--cursor', '1', '--json'], { env });
    const doc = json(page) as { messages: { id: number }[]; has_more: boolean };
    assert.deepEqual(
      doc.messages.map((m) => m.id),
      [messageId],
    );
    assert.equal(doc.has_more, false);
  });

  test('--wait without --since-id waits for the reply to the latest message, not an older one', async (t) => {
    const s = await sandbox(t, { replyReads: 0 });
    const home = tempDir(t);
    const env = envFor(s, home);
    const id = label((await runBin(['create', '-p', 'Poster'], { env })).stdout, 'Task ID');
    await runBin(['send-message', '--task-id', id, '-m', 'First change'], { env });
    await runBin(['get-messages', '--task-id', id], { env });
    const second = json(
      await runBin(['send-message', '--task-id', id, '-m', 'Second change [reads 2]', '--json'], { env }),
    );
    const r = await runBin(['get-messages', '--task-id', id, '--wait', '--interval', '1', '--json'], { env });
    assert.equal(r.code, 0, r.stderr);
    const reply = (json(r) as { reply: { id: number; content: string } }).reply;
    assert.equal(reply.id, Number(second.message_id) + 1, 'the reply to the second message');
    assert.match(reply.content, /version 2/);
  });

  test('a reply that fails ends the wait with exit 1', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const env = envFor(s, home);
    const id = label((await runBin(['create', '-p', 'Poster'], { env })).stdout, 'Task ID');
    const sent = json(
      await runBin(['send-message', '--task-id', id, '-m', 'Impossible [fail cannot do that]', '--json'], { env }),
    );
    const r = await runBin(
      ['get-messages', '--task-id', id, '--wait', '--since-id', String(sent.message_id), '--json'],
      { env },
    );
    assert.equal(r.code, 1);
    assert.deepEqual(json(r).error, { type: 'task_failed', message: 'The reply failed: cannot do that' });
  });
});

describe('the key', () => {
  test('comes from --api-key, ANYGEN_API_KEY or the config file; none of them is exit 3 naming all three', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const noKey = envFor(s, home, { ANYGEN_API_KEY: undefined });
    const none = await runBin(['create', '-p', 'x'], { env: noKey });
    assert.equal(none.code, 3);
    assert.match(none.stderr, /^Error: No API key found\n/);
    assert.match(none.stderr, /--api-key sk-xxx/);
    assert.match(none.stderr, /export ANYGEN_API_KEY=sk-xxx/);
    assert.match(none.stderr, /config set api_key sk-xxx/);
    assert.equal(s.stats.requests, 0);

    const flag = await runBin(['create', '-p', 'x', '--api-key', TEST_KEY], { env: noKey });
    assert.equal(flag.code, 0, flag.stderr);
    const env = await runBin(['create', '-p', 'x'], { env: envFor(s, home) });
    assert.equal(env.code, 0, env.stderr);
    await runBin(['config', 'set', 'api_key', TEST_KEY], { env: noKey });
    const file = await runBin(['create', '-p', 'x'], { env: noKey });
    assert.equal(file.code, 0, file.stderr);

    const wrong = await runBin(['create', '-p', 'x', '-k', 'sk-wrong'], { env: noKey });
    assert.equal(wrong.code, 3);
    assert.match(wrong.stderr, /invalid API key/);
  });
});

describe('global flags', () => {
  test('--version, --help, no arguments, an unknown command, --quiet and --verbose', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const env = envFor(s, home);
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    assert.equal((await runBin(['--version'], { env })).stdout.trim(), pkg.version);
    const help = await runBin(['--help'], { env });
    assert.equal(help.code, 0);
    for (const cmd of [
      'verify',
      'config',
      'upload',
      'prepare',
      'create',
      'poll',
      'download',
      'thumbnail',
      'send-message',
      'get-messages',
      'run',
      'sandbox',
    ]) {
      assert.match(help.stdout, new RegExp(`\\n  ${cmd}\\b`));
    }
    assert.equal((await runBin([], { env })).code, 2);
    const unknown = await runBin(['paint'], { env });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^Error: unknown command 'paint'/);
    const unknownJson = await runBin(['paint', '--json'], { env });
    assert.equal(json(unknownJson).success, false);

    const quiet = await runBin(['--quiet', 'create', '-p', 'x', '--wait', '--interval', '1'], { env });
    assert.equal(quiet.code, 0);
    assert.equal(quiet.stderr, '');
    const verbose = await runBin(['--verbose', 'create', '-p', 'x'], { env });
    assert.match(verbose.stderr, /^API key sk-test-7f\.\.\. from ANYGEN_API_KEY$/m);
    assert.match(
      verbose.stderr,
      /POST http:\/\/127\.0\.0\.1:\d+\/v1\/openapi\/tasks {2}→ 200 {2}\d+ ms {2}x-request-id: req_sbx_/,
    );
  });
});

describe('verify', () => {
  test('says whether the key is accepted, the credits left and where the key came from', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const r = await runBin(['verify'], { env: envFor(s, home) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Verified: yes\nCredits: 1200\nKey: sk-test-7f... (from ANYGEN_API_KEY)\n');
    const doc = json(
      await runBin(['verify', '--json', '-k', TEST_KEY], { env: envFor(s, home, { ANYGEN_API_KEY: undefined }) }),
    );
    assert.deepEqual(
      { ...doc, request_id: null },
      {
        success: true,
        verified: true,
        credits: '1200',
        key: 'sk-test-7f...',
        key_source: 'flag',
        request_id: null,
      },
    );
    const wrong = await runBin(['verify', '-k', 'sk-not-this-one'], { env: envFor(s, home) });
    assert.equal(wrong.code, 3);
    const bearer = await runBin(['verify'], { env: envFor(s, home, { ANYGEN_API_KEY: `Bearer ${TEST_KEY}` }) });
    assert.equal(bearer.code, 0, `a key given as "Bearer sk-…" is sent as it is: ${bearer.stderr}`);
  });
});

describe('sandbox command', () => {
  test('prints its URL and key, serves the CLI, and stops cleanly on Ctrl-C', async (t) => {
    const home = tempDir(t);
    let url = '';
    let client: Promise<{ code: number; stdout: string; stderr: string }> | undefined;
    const r = await runBin(['sandbox', '--port', '0', '--key', 'sk-sandbox-e2e-0001', '--reads', '0'], {
      env: envFor(undefined, home),
      onStdout: (text, child) => {
        url ||= /listening on (http:\/\/\S+)/.exec(text)?.[1] ?? '';
        if (url && !client) {
          client = runBin(['create', '-p', 'from the sandbox command', '--wait', '-k', 'sk-sandbox-e2e-0001'], {
            env: envFor(undefined, home, { ANYGEN_BASE_URL: url }),
          }).finally(() => child.kill('SIGINT'));
        }
      },
    });
    const c = await client;
    assert.equal(c?.code, 0, c?.stderr);
    assert.match(c?.stdout ?? '', /^Status: completed$/m);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^API key: sk-sandbox-e2e-0001$/m);
    assert.match(r.stdout, /export ANYGEN_BASE_URL=http:\/\/127\.0\.0\.1:\d+ ANYGEN_API_KEY=sk-sandbox-e2e-0001/);
    assert.match(r.stderr, /POST \/v1\/openapi\/tasks req_sbx_/, 'it logs each request');
    assert.match(r.stderr, /Sandbox stopped\.$/m);
  });
});

describe('-H', () => {
  test('extra headers reach every API request of a command', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const r = await runBin(['create', '-p', 'x', '-H', 'X-Trace: run-42', '--header', 'X-Team:design'], {
      env: envFor(s, home),
    });
    assert.equal(r.code, 0, r.stderr);
    const got = s.received.find((x) => x.route === 'create')?.headers;
    assert.equal(got?.['x-trace'], 'run-42');
    assert.equal(got?.['x-team'], 'design');
  });
});

describe('large output', () => {
  test('a --json document larger than a pipe buffer reaches a slow reader whole', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const client = new AnyGenClient({ baseUrl: s.url, apiKey: TEST_KEY });
    const { data } = await client.createTask({ operation: 'ai_designer', prompt: 'x' });
    for (let i = 0; i < 40; i++) await client.sendMessage(data.task_id, { content: 'y'.repeat(3000) });
    // A real pipe (pipe(2), as a shell makes) to a reader that starts late: the CLI must
    // not exit with the rest of its output still queued.
    const child = spawn(
      '/bin/sh',
      [
        '-c',
        `"${process.execPath}" "${BIN}" --json get-messages --task-id ${data.task_id} --limit 100 | (sleep 0.3; cat)`,
      ],
      { env: envFor(s, home) as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    const code = await new Promise((resolve) => child.on('close', resolve));
    assert.equal(code, 0);
    assert.ok(out.length > 120_000, `only ${out.length} bytes`);
    assert.equal((JSON.parse(out) as { messages: unknown[] }).messages.length, 80);
  });
});
