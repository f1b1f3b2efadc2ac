/**
 * Issue 4, cases 4 and 6: files on disk. The config file is written atomically and
 * privately and never silently replaced; a conversation file survives a failed
 * turn; a download appears under its final name only when complete, never over an
 * existing file, and Ctrl-C/SIGTERM leaves nothing half-written behind.
 */
import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Sandbox } from '../../src/sandbox/server.js';
import { envFor, type RunResult, runBin, runCli, sandbox, TEST_KEY, tempDir } from '../helpers/harness.js';
import { assertCleanError, filesUnder, makeTask, snapshot, startBin, when } from './helpers.js';

const NOBODY = 65534;

function configFile(home: string): string {
  return join(home, 'xdg', 'anygen', 'config.json');
}

describe('the config file', () => {
  test('config set writes a new file 0600 in a 0700 folder and leaves no temp or lock file', async (t) => {
    const home = tempDir(t);
    const r = await runCli(['config', 'set', 'default_language', 'en-US'], { env: envFor(undefined, home) });
    assert.equal(r.code, 0, r.stderr);
    const path = configFile(home);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(path, '..')).mode & 0o777, 0o700);
    assert.deepEqual(readdirSync(join(path, '..')), ['config.json']);
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { default_language: 'en-US' });
  });

  test('config set replaces an existing 0644 file by rename (a new inode), and the new one is 0600', async (t) => {
    const home = tempDir(t);
    const path = configFile(home);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, JSON.stringify({ suite_recommended: 'true' }, null, 2), { mode: 0o644 });
    chmodSync(path, 0o644);
    const inode = statSync(path).ino;
    const r = await runCli(['config', 'set', 'api_key', TEST_KEY], { env: envFor(undefined, home) });
    assert.equal(r.code, 0, r.stderr);
    assert.notEqual(statSync(path).ino, inode, 'written to a temp file and renamed over, not rewritten in place');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(join(path, '..')), ['config.json']);
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { suite_recommended: 'true', api_key: TEST_KEY });
  });

  test('an invalid config is reported naming the file, exit 2, and kept byte for byte by set, get, delete and create', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const path = configFile(home);
    mkdirSync(join(path, '..'), { recursive: true });
    const broken = '{"api_key": "sk-keep-me-please", "default_language": \n';
    writeFileSync(path, broken, { mode: 0o600 });
    const before = snapshot(home);
    for (const argv of [
      ['config', 'set', 'default_language', 'zh-CN'],
      ['config', 'get'],
      ['config', 'delete', 'api_key'],
      ['create', '--prompt', 'a poster'],
    ]) {
      const r = await runCli(argv, { env: envFor(s, home) });
      const line = assertCleanError(r, 2, { first: true });
      assert.ok(line.includes(path), `${argv.join(' ')}: ${line}`);
      assert.match(line, /is not valid JSON.*left untouched/);
      assert.equal(readFileSync(path, 'utf8'), broken);
      assert.deepEqual(snapshot(home), before, argv.join(' '));
    }
    assert.equal(s.stats.requests, 0);
  });

  test('processes setting different keys at the same moment all land, and a reader never sees a partial file', async (t) => {
    const home = tempDir(t);
    const path = configFile(home);
    const env = envFor(undefined, home);
    // A big key this tool does not know (kept on every write) widens each read-change-write,
    // so writers that did not wait for each other would lose updates.
    const notes = 'x'.repeat(1024 * 1024);
    mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
    writeFileSync(path, JSON.stringify({ notes }), { mode: 0o600 });
    let reads = 0;
    let running = true;
    const partial: string[] = [];
    const reader = (async () => {
      while (running) {
        try {
          const text = readFileSync(path, 'utf8');
          reads++;
          JSON.parse(text);
        } catch (err) {
          const code = (err as { code?: string }).code;
          if (code !== 'ENOENT') partial.push(String(err));
        }
        await new Promise((r) => setImmediate(r));
      }
    })();
    try {
      for (const round of [1, 2]) {
        const values = {
          api_key: `sk-round-${round}-abcdefghijkl`,
          default_language: round === 1 ? 'en-US' : 'zh-CN',
          suite_recommended: `round-${round}`,
        };
        const results = await Promise.all(
          Object.entries(values).map(([k, v]) => runBin(['config', 'set', k, v], { env })),
        );
        for (const r of results) assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { notes, ...values }, `round ${round}`);
        assert.deepEqual(readdirSync(join(path, '..')), ['config.json'], 'no lock or temp file left');
      }
    } finally {
      running = false;
      await reader;
    }
    assert.deepEqual(partial, [], 'every read of the file parsed');
    assert.ok(reads > 0);
  });

  test('a config only root can read gives another user exit 2 with one line naming the file', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    chmodSync(home, 0o755);
    const path = configFile(home);
    mkdirSync(join(path, '..'), { recursive: true });
    chmodSync(join(home, 'xdg'), 0o755);
    chmodSync(join(path, '..'), 0o755);
    writeFileSync(path, JSON.stringify({ api_key: TEST_KEY }), { mode: 0o600 });
    const before = snapshot(home);
    // The key comes from the file here, so create must read it.
    const env = envFor(s, home, { ANYGEN_API_KEY: undefined });
    for (const argv of [
      ['config', 'get'],
      ['create', '--prompt', 'a poster', '--language', 'en-US'],
    ]) {
      const r = await runBin(argv, { env, uid: NOBODY, gid: NOBODY });
      const line = assertCleanError(r, 2, { first: true });
      assert.equal(line, `Error: Cannot read config file ${path}: permission denied`);
    }
    assert.deepEqual(snapshot(home), before);
    assert.equal(s.stats.requests, 0);
  });
});

describe('the conversation file', () => {
  test('a prepare that fails (503, [fail], dropped, wrong shape) leaves the conversation file exactly as it was', async (t) => {
    const s = await sandbox(t, { prepareTurns: 5 });
    const dir = tempDir(t);
    const conv = join(dir, 'conv.json');
    const env = envFor(s, dir);
    const first = await runCli(['prepare', '--message', 'a poster', '--save', conv], { env });
    assert.equal(first.code, 0, first.stderr);
    const before = snapshot(dir);
    const cases: [string, string, number][] = [
      ['503', 'blue please', 4],
      ['', 'blue [fail the model is busy]', 1],
      ['drop', 'blue please', 4],
      ['badshape', 'blue please', 4],
    ];
    for (const [fault, message, code] of cases) {
      if (fault) s.addFaults(fault);
      const r = await runCli(['prepare', '--input', conv, '--message', message, '--save', conv], { env });
      assertCleanError(r, code);
      assert.deepEqual(snapshot(dir), before, `${fault || message}: file unchanged, no temp file left`);
    }
    const next = await runCli(['prepare', '--input', conv, '--message', 'blue', '--save', conv], { env });
    assert.equal(next.code, 0, 'the saved conversation still continues');
  });

  test('--input equal to a --save that does not exist yet starts a new conversation, written 0600', async (t) => {
    const s = await sandbox(t);
    const dir = tempDir(t);
    const conv = join(dir, 'new.json');
    const r = await runCli(['prepare', '--input', conv, '--save', conv, '-m', 'a poster'], { env: envFor(s, dir) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(statSync(conv).mode & 0o777, 0o600);
    assert.equal((JSON.parse(readFileSync(conv, 'utf8')) as { messages: unknown[] }).messages.length, 2);
  });
});

/**
 * Spawns the binary and, once stderr says it is downloading and the temp file
 * exists in the output folder, sends it SIGTERM.
 */
async function terminateWhileDownloading(
  t: { after(fn: () => unknown): void },
  s: Sandbox,
  argv: string[],
  out: string,
  signals = 1,
): Promise<RunResult> {
  mkdirSync(out, { recursive: true });
  let downloading = false;
  let partFile = false;
  const ready = when(() => downloading && partFile);
  const watcher = watch(out, (_event, name) => {
    if (String(name).endsWith('.part')) {
      partFile = true;
      ready.poke();
    }
  });
  t.after(() => watcher.close());
  const { child, done } = startBin(argv, {
    env: envFor(s, out),
    onStderr: (text) => {
      if (/Downloading /.test(text)) downloading = true;
      ready.poke();
    },
  });
  const first = await Promise.race([ready.done.then(() => 'ready' as const), done.then(() => 'ended' as const)]);
  assert.equal(first, 'ready', 'the download was under way before the process ended');
  for (let i = 0; i < signals; i++) child.kill('SIGTERM');
  return done;
}

describe('downloads', () => {
  test('SIGTERM during a slow download in poll --output exits 130 and leaves neither the file nor a .part', async (t) => {
    const s = await sandbox(t);
    const id = await makeTask(s, 'a poster [file-faults slow:3000]');
    const out = join(tempDir(t), 'out');
    const r: RunResult = await terminateWhileDownloading(t, s, ['poll', '--task-id', id, '--output', out], out);
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /Error: Interrupted while downloading a-poster\.png/);
    assert.ok(!/^\s+at /m.test(r.stderr));
    assert.deepEqual(readdirSync(out), []);
  });

  test('SIGTERM during a slow download command exits 130 and leaves nothing in the folder', async (t) => {
    const s = await sandbox(t);
    const id = await makeTask(s, 'a poster [file-faults slow:3000]');
    const out = join(tempDir(t), 'out');
    const r = await terminateWhileDownloading(t, s, ['download', '--task-id', id, '--output', out], out);
    assert.equal(r.code, 130, r.stderr);
    assert.deepEqual(readdirSync(out), []);
  });

  test('a second SIGTERM right after the first exits at once with 130 and still leaves no .part', async (t) => {
    const s = await sandbox(t);
    const id = await makeTask(s, 'a poster [file-faults slow:3000]');
    const out = join(tempDir(t), 'out');
    const r = await terminateWhileDownloading(t, s, ['download', '--task-id', id, '--output', out], out, 2);
    assert.equal(r.code, 130, r.stderr);
    assert.deepEqual(readdirSync(out), []);
  });

  test('SIGTERM while prepare --save waits for its answer exits 130 and leaves the conversation file as it was', async (t) => {
    const s = await sandbox(t, { prepareTurns: 5 });
    const dir = tempDir(t);
    const conv = join(dir, 'conv.json');
    const first = await runCli(['prepare', '-m', 'a poster', '--save', conv], { env: envFor(s, dir) });
    assert.equal(first.code, 0, first.stderr);
    const before = snapshot(dir);
    s.addFaults('delay:1500');
    const { child, done } = startBin(['prepare', '--input', conv, '-m', 'blue', '--save', conv], {
      env: envFor(s, dir),
    });
    // Once the request has reached the server, the answer is 1.5 s away: stop it now.
    s.server.on('request', (req) => {
      if (req.url === '/v1/openapi/tasks/prepare') child.kill('SIGTERM');
    });
    const r = await done;
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /Error: Interrupted/);
    assert.deepEqual(snapshot(dir), before, 'the file and its folder are as they were');
  });

  test('a body shorter than its Content-Length is an error (exit 4) and leaves nothing', async (t) => {
    const s = await sandbox(t);
    const id = await makeTask(s, 'a poster [file-faults short]');
    const home = tempDir(t);
    const out = join(home, 'out');
    const r = await runCli(['download', '--task-id', id, '--output', out], { env: envFor(s, home) });
    const line = assertCleanError(r, 4, {});
    assert.match(line, /a-poster\.png/);
    assert.deepEqual(readdirSync(out), []);
  });

  test('an existing file is never overwritten: the second download is name_1.png and the first is unchanged', async (t) => {
    const s = await sandbox(t);
    const id = await makeTask(s, 'a poster');
    const home = tempDir(t);
    const out = join(home, 'out');
    const env = envFor(s, home);
    const one = await runCli(['download', '--task-id', id, '--output', out], { env });
    assert.equal(one.code, 0, one.stderr);
    const firstPath = join(out, 'a-poster.png');
    const first = snapshot(out);
    const two = await runCli(['download', '--task-id', id, '--output', out], { env });
    assert.equal(two.code, 0, two.stderr);
    assert.match(two.stdout, /Local file: .*a-poster_1\.png/);
    assert.deepEqual(readdirSync(out).sort(), ['a-poster.png', 'a-poster_1.png']);
    assert.equal(snapshot(out)['a-poster.png'], first['a-poster.png'], 'the first file is untouched');
    assert.ok(existsSync(firstPath));
  });

  test("a user's own file or a symlink under the final name is left alone; the download takes the next free name", async (t) => {
    const s = await sandbox(t);
    const id = await makeTask(s, 'a poster');
    const home = tempDir(t);
    const out = join(home, 'out');
    mkdirSync(out);
    const victim = join(home, 'victim.txt');
    writeFileSync(victim, 'precious');
    writeFileSync(join(out, 'a-poster.png'), 'my own drawing');
    symlinkSync(victim, join(out, 'a-poster_1.png'));
    const r = await runCli(['download', '--task-id', id, '--output', out], { env: envFor(s, home) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(out, 'a-poster.png'), 'utf8'), 'my own drawing');
    assert.ok(lstatSync(join(out, 'a-poster_1.png')).isSymbolicLink());
    assert.equal(readFileSync(victim, 'utf8'), 'precious');
    assert.match(readFileSync(join(out, 'a-poster_2.png')).subarray(1, 4).toString(), /PNG/);
    assert.deepEqual(filesUnder(home), ['out/a-poster.png', 'out/a-poster_2.png', 'victim.txt']);
  });
});

describe('after a task was created', () => {
  test('a name of 300 CJK characters is cut to at most 200 bytes, keeping .png, and the download lands', async (t) => {
    const s = await sandbox(t);
    const name = `${'海报'.repeat(150)}.png`;
    const id = await makeTask(s, `poster [file-name ${name}]`);
    const out = join(tempDir(t), 'out');
    const r = await runCli(['--json', 'download', '--task-id', id, '--output', out], { env: envFor(s, tempDir(t)) });
    assert.equal(r.code, 0, r.stderr);
    const [saved] = filesUnder(out);
    assert.ok(saved?.endsWith('.png'), saved);
    assert.ok(Buffer.byteLength(saved ?? '') <= 200, `${Buffer.byteLength(saved ?? '')} bytes`);
    assert.ok(saved?.startsWith('海报海报'));
  });

  test('run --json whose download fails still names the task and how to resume, so nobody creates it again', async (t) => {
    const s = await sandbox(t);
    const out = join(tempDir(t), 'out');
    const r = await runCli(['--json', 'run', '-p', 'poster [file-faults 404]', '--output', out], {
      env: envFor(s, tempDir(t)),
    });
    assert.equal(r.code, 1);
    const doc = JSON.parse(r.stdout) as { error: { hint: string } };
    const id = [...s.tasks.keys()][0] ?? '';
    assert.ok(id, 'the task was created');
    assert.ok(doc.error.hint.includes(`Task ID: ${id}`), doc.error.hint);
    assert.ok(
      doc.error.hint.includes(`Resume with: anygen-image poll --task-id ${id} --output ${out}`),
      doc.error.hint,
    );
    assert.equal(s.tasks.size, 1);
  });
});
