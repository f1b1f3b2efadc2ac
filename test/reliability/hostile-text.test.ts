/**
 * Issue 8, requirements 2-4: server text is untrusted wherever it is shown or saved.
 * The sandbox is told (by directives in the prompt or message) to answer with
 * bidirectional controls, device names, links that are not http(s), impossible
 * progress, numeric ids, and the caller's own key. The harness checks every run's
 * stdout and stderr for the key; these tests add the files written and what must be
 * shown instead.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { cleanText } from '../../src/render/output.js';
import { envFor, json, runBin, runCli, sandbox, TEST_KEY, tempDir } from '../helpers/harness.js';
import { assertCleanError, filesUnder, listen, makeTask } from './helpers.js';

const BIDI = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/;
const ESC_OR_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/** Every file under `root`, read whole: none may hold the key. */
function assertNoKeyInFiles(root: string): void {
  for (const path of filesUnder(root)) {
    assert.ok(!path.includes(TEST_KEY), `a file is named with the key: ${path}`);
    const text = readFileSync(join(root, path), 'latin1');
    assert.ok(!text.includes(TEST_KEY), `${path} holds the key`);
    assert.ok(!cleanText(text).includes(TEST_KEY), `${path} holds the key, broken up by invisible characters`);
  }
}

describe('bidirectional controls', () => {
  test('a file served as invoice\\u202Egnp.exe is saved and shown without the control; a reason and a status lose theirs', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const out = join(home, 'out');
    const id = await makeTask(s, 'a poster [file-name invoice\u202Egnp.exe]');
    const r = await runCli(['poll', '--task-id', id, '--output', out], { env: envFor(s, home) });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readdirSync(out), ['invoicegnp.exe']);
    assert.match(r.stdout, /Local file: .*\/invoicegnp\.exe\n/);
    assert.ok(!BIDI.test(r.stdout + r.stderr), JSON.stringify(r));

    const failed = await makeTask(s, 'a poster [fail the file \u2066evil\u2069\u202e.exe was \u200frefused\u061c]');
    const f = await runCli(['poll', '--task-id', failed], { env: envFor(s, home) });
    const line = assertCleanError(f, 1);
    assert.match(line, /failed: the file evil\.exe was refused/);
    assert.ok(!BIDI.test(f.stderr), JSON.stringify(f.stderr));

    // --json keeps the data as sent (JSON is read by programs, not shown); the disk never does.
    const asJson = await runCli(['poll', '--task-id', id, '--json'], { env: envFor(s, home) });
    assert.equal((json(asJson) as { files: { name: string }[] }).files[0]?.name, 'invoice\u202Egnp.exe');
  });
});

describe('saved file names', () => {
  test('device names, trailing dots and spaces and a 300-byte name are renamed; a numeric id makes a plain thumbnail name', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const long = `${'图'.repeat(98)}.png`;
    assert.ok(Buffer.byteLength(long) >= 298, 'about 300 bytes');
    const cases: [string, (name: string) => boolean][] = [
      ['CON.png', (n) => n === '_CON.png'],
      ['nul.txt', (n) => n === '_nul.txt'],
      ['Lpt1', (n) => n === '_Lpt1'],
      ['com3.tar.gz', (n) => n === '_com3.tar.gz'],
      ['"name. "', (n) => n === 'name'],
      ['"poster.png . "', (n) => n === 'poster.png'],
      [long, (n) => Buffer.byteLength(n) <= 255 && n.endsWith('.png') && n.startsWith('图图图')],
      [`${'n'.repeat(296)}.png`, (n) => Buffer.byteLength(n) <= 255 && /^n+\.png$/.test(n)],
    ];
    for (const [directive, ok] of cases) {
      const out = join(home, `out${cases.findIndex((c) => c[0] === directive)}`);
      const id = await makeTask(s, `a poster [file-name ${directive}]`);
      const r = await runCli(['download', '--task-id', id, '--output', out], { env: envFor(s, home) });
      assert.equal(r.code, 0, `${directive}: ${r.stderr}`);
      const saved = readdirSync(out);
      assert.equal(saved.length, 1, directive);
      assert.ok(ok(saved[0] as string), `${directive} was saved as ${JSON.stringify(saved[0])}`);
      assert.ok(r.stdout.includes(`Local file: ${join(out, saved[0] as string)}\n`), r.stdout);
    }

    const numeric = await runCli(['create', '--prompt', 'a poster [numeric-id]', '--json'], { env: envFor(s, home) });
    const taskId = (json(numeric) as { task_id: string }).task_id;
    const thumb = await runCli(['thumbnail', '--task-id', taskId, '--output', join(home, 'thumb')], {
      env: envFor(s, home),
    });
    assert.equal(thumb.code, 0, thumb.stderr);
    assert.deepEqual(readdirSync(join(home, 'thumb')), [`thumbnail_${taskId}.png`]);
  });
});

describe('links handed to the user', () => {
  test('a javascript: task URL is replaced by the derived one with a warning; the task id is kept (create, create --wait, poll, run)', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const env = envFor(s, home);
    const prompt = 'a poster [task-url javascript:alert(document.cookie)]';

    const created = await runCli(['create', '--prompt', prompt], { env });
    assert.equal(created.code, 0, created.stderr);
    const id = /Task ID: (task_\w+)\n/.exec(created.stdout)?.[1] ?? '';
    assert.ok(s.tasks.has(id), created.stdout);
    assert.ok(created.stdout.includes(`Task URL: ${s.url}/task/${id}\n`), created.stdout);
    assert.match(
      created.stderr,
      /Warning: the service gave task task_\w+ a page that is a javascript: URL; showing http:/,
    );
    assert.ok(!/javascript/i.test(created.stdout));

    const asJson = await runCli(['create', '--prompt', prompt, '--json'], { env });
    assert.equal(asJson.code, 0, asJson.stderr);
    const doc = json(asJson) as { task_id: string; task_url: string };
    assert.ok(s.tasks.has(doc.task_id));
    assert.equal(doc.task_url, `${s.url}/task/${doc.task_id}`);

    for (const argv of [
      ['create', '--prompt', prompt, '--wait'],
      ['run', '--prompt', prompt],
      ['poll', '--task-id', id],
    ]) {
      const r = await runCli(argv, { env });
      assert.equal(r.code, 0, `${argv[0]}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`Task URL: ${s.url.replace(/\./g, '\\.')}/task/task_\\w+\\n`), argv[0]);
      assert.match(r.stdout, /Task ID: task_\w+\n/, argv[0]);
      assert.match(r.stderr, /Warning: .*javascript: URL/, argv[0]);
      assert.ok(!/javascript/i.test(r.stdout), argv[0]);
    }
    const polled = await runCli(['poll', '--task-id', id, '--json'], { env });
    assert.equal((json(polled) as { task_url: string }).task_url, `${s.url}/task/${id}`);
  });

  test('a thumbnail or file URL that is not http(s) is not shown as a link (with a warning), and is not downloaded', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const env = envFor(s, home);
    const id = await makeTask(s, 'a poster [thumbnail-url javascript:alert(1)] [file-url data:text/html,<b>hi</b>]');
    const r = await runCli(['poll', '--task-id', id], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!/javascript|data:/i.test(r.stdout), r.stdout);
    assert.ok(!/^(File URL|Thumbnail URL):/m.test(r.stdout), r.stdout);
    assert.match(r.stderr, /Warning: the thumbnail of task task_\w+ is a javascript: URL; it is not shown/);
    assert.match(
      r.stderr,
      /Warning: file a-poster\.png of task task_\w+ is a data: URL; it is not shown and cannot be downloaded/,
    );

    const asJson = await runCli(['poll', '--task-id', id, '--json'], { env });
    const doc = json(asJson) as { thumbnail_url: unknown; files: unknown[]; task_id: string };
    assert.equal(doc.thumbnail_url, null);
    assert.deepEqual(doc.files, []);
    assert.equal(doc.task_id, id);

    for (const command of ['download', 'thumbnail']) {
      const d = await runCli([command, '--task-id', id, '--output', join(home, command)], { env });
      assert.match(assertCleanError(d, 4), /Download refused: only https downloads are allowed, not (data|javascript)/);
    }
    assert.deepEqual(filesUnder(home), []);
  });
});

describe('progress', () => {
  test('progress of -5, 150 or "x" is never shown as a percentage, and is null under --json', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const env = envFor(s, home);
    for (const value of ['-5', '150', 'x']) {
      const id = await makeTask(s, `a poster [reads 2] [progress ${value}]`);
      const r = await runCli(['poll', '--task-id', id, '--interval', '1'], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /pending\n/, 'the status is shown');
      assert.ok(!r.stderr.includes('%'), `${value}: ${r.stderr}`);
      assert.ok(!r.stderr.includes(value === 'x' ? ' x' : value), `${value}: ${r.stderr}`);

      const asJson = await runCli(['poll', '--task-id', id, '--json'], { env });
      assert.equal((json(asJson) as { progress: unknown }).progress, null, value);
    }
    // A believable progress is still shown.
    const fine = await makeTask(s, 'a poster [reads 2] [progress 40]');
    const r = await runCli(['poll', '--task-id', fine, '--interval', '1'], { env });
    assert.match(r.stderr, /pending 40%/);
  });
});

describe('ids that arrive as numbers', () => {
  test('a numeric task_id is accepted as text by create, create --wait, poll and download', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const env = envFor(s, home);
    const created = await runCli(['create', '--prompt', 'a poster [numeric-id]'], { env });
    assert.equal(created.code, 0, created.stderr);
    const id = /Task ID: (\d+)\n/.exec(created.stdout)?.[1] ?? '';
    assert.ok(s.tasks.has(id), created.stdout);

    const asJson = await runCli(['create', '--prompt', 'a poster [numeric-id]', '--wait', '--json'], { env });
    assert.equal(asJson.code, 0, asJson.stderr);
    const doc = json(asJson) as { task_id: unknown; task: { task_id: unknown } };
    assert.equal(typeof doc.task_id, 'string');
    assert.match(doc.task_id as string, /^\d+$/);
    assert.equal(doc.task.task_id, doc.task_id);

    const polled = await runCli(['poll', '--task-id', id, '--output', join(home, 'out')], { env });
    assert.equal(polled.code, 0, polled.stderr);
    assert.match(polled.stdout, new RegExp(`Task ID: ${id}\\n`));
    assert.deepEqual(filesUnder(join(home, 'out')), ['a-poster.png']);
  });
});

describe('the key echoed back by the service', () => {
  test('in a prepare reply and the messages it returns: not printed, not saved in the conversation file', async (t) => {
    const s = await sandbox(t, { prepareTurns: 2 });
    const home = tempDir(t);
    const env = envFor(s, home);
    const conv = join(home, 'conv.json');
    const first = await runCli(['prepare', '--message', 'A poster [echo-key]', '--save', conv], { env });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /AnyGen: .*key sk-\*\*\* \(Bearer sk-\*\*\*\)/);
    const saved = JSON.parse(readFileSync(conv, 'utf8')) as { messages: { role: string; content: unknown }[] };
    assert.match(JSON.stringify(saved.messages.at(-1)), /key sk-\*\*\* \(Bearer sk-\*\*\*\)/);

    const second = await runCli(
      ['prepare', '--input', conv, '--message', 'Blue, 1080p [echo-key]', '--save', conv, '--json'],
      { env },
    );
    assert.equal(second.code, 0, second.stderr);
    assert.match((json(second) as { reply: string }).reply, /Bearer sk-\*\*\*/);

    // The spawned binary, too.
    const bin = await runBin(['prepare', '--input', conv, '--message', 'more [echo-key]', '--save', conv], { env });
    assert.equal(bin.code, 0, bin.stderr);

    const refused = await runCli(['prepare', '--message', 'A poster [fail no] [echo-key]', '--save', `${conv}.new`], {
      env,
    });
    assert.match(assertCleanError(refused, 1), /no \(key sk-\*\*\* \(Bearer sk-\*\*\*\)\)/);
    assertNoKeyInFiles(home);
    assert.ok(readFileSync(conv, 'utf8').includes('sk-***'));
  });

  test("in a task's status, failure reason and file name: not printed (human, --json, --verbose), not on disk", async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const env = envFor(s, home);
    for (const extra of [[], ['--json'], ['--verbose']]) {
      const id = await makeTask(s, 'a poster [reads 2] [echo-key]');
      const r = await runCli(['poll', '--task-id', id, '--output', join(home, 'out'), ...extra], { env });
      assert.equal(r.code, 0, r.stderr);
      if (extra.length === 0) assert.match(r.stderr, /pending for key sk-\*\*\* \(Bearer sk-\*\*\*\)/);
      const failed = await makeTask(s, 'a poster [fail rejected] [echo-key]');
      const f = await runCli(['poll', '--task-id', failed, ...extra], { env });
      assert.match(assertCleanError(f, 1, { stdoutMayHaveJson: extra[0] === '--json' }), /rejected key sk-\*\*\*/);
    }
    const saved = filesUnder(join(home, 'out'));
    assert.equal(saved.length, 3);
    for (const name of saved) assert.match(name, /^a-poster-sk-___(_\d)?\.png$/);
    assertNoKeyInFiles(home);
  });

  test('in get-messages contents and a failed reply: not printed, as text or --json', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const env = envFor(s, home);
    const id = await makeTask(s, 'a poster');
    const sent = await runCli(['send-message', '--task-id', id, '--message', 'Make it blue [echo-key]'], { env });
    assert.equal(sent.code, 0, sent.stderr);
    const reply = await runCli(['get-messages', '--task-id', id, '--wait'], { env });
    assert.equal(reply.code, 0, reply.stderr);
    assert.match(reply.stdout, /Reply: Done: .*key sk-\*\*\* \(Bearer sk-\*\*\*\)/);
    const listed = await runCli(['get-messages', '--task-id', id], { env });
    assert.match(listed.stdout, /\[assistant\].*Bearer sk-\*\*\*/);
    const asJson = await runCli(['get-messages', '--task-id', id, '--json'], { env });
    assert.match(JSON.stringify(json(asJson)), /Bearer sk-\*\*\*/);

    await runCli(['send-message', '--task-id', id, '--message', 'Again [fail cannot] [echo-key]'], { env });
    const failed = await runCli(['get-messages', '--task-id', id, '--wait', '--json'], { env });
    assert.match(assertCleanError(failed, 1, { stdoutMayHaveJson: true }), /The reply failed: cannot key sk-\*\*\*/);
  });

  test('a key broken up by escape sequences or bidi controls is taken out too, on screen and in the conversation file', async (t) => {
    const half = TEST_KEY.length >> 1;
    const split = `${TEST_KEY.slice(0, half)}\u001b[0m\u202c${TEST_KEY.slice(half)}`;
    const server = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      const path = req.url ?? '';
      res.writeHead(200);
      if (path.includes('/prepare')) {
        const reply = `I will use ${split}`;
        res.end(
          JSON.stringify({
            success: true,
            reply,
            status: 'collecting',
            messages: [{ role: 'assistant', content: reply }],
            prepare_session_id: 'ps_1',
          }),
        );
        return;
      }
      res.end(JSON.stringify({ success: true, task_id: 'task_1', status: 'failed', error: `bad ${split}` }));
    });
    const port = await listen(t, server);
    const home = tempDir(t);
    const env = envFor(undefined, home, { ANYGEN_BASE_URL: `http://127.0.0.1:${port}`, ANYGEN_API_KEY: TEST_KEY });
    const conv = join(home, 'conv.json');
    const prepared = await runCli(['prepare', '--message', 'hi', '--save', conv], { env });
    assert.equal(prepared.code, 0, prepared.stderr);
    assert.match(prepared.stdout, /AnyGen: I will use sk-\*\*\*/);
    assert.ok(!ESC_OR_CONTROL.test(prepared.stdout) && !BIDI.test(prepared.stdout));
    const polled = await runCli(['poll', '--task-id', 'task_1'], { env });
    assert.match(assertCleanError(polled, 1), /bad sk-\*\*\*/);
    assertNoKeyInFiles(home);
  });
});
