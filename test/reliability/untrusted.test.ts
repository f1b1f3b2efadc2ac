/**
 * Issue 4, case 7: answers from the network are untrusted. File URLs must be https
 * or the API's own origin, never a private, loopback or link-local address, with
 * every redirect (at most 5) checked again; file names become a safe base name in
 * the output folder; no key goes to a file host; server text reaches the terminal
 * without escape sequences.
 *
 * Only loopback is ever connected to. Private and link-local addresses are tested
 * through the pure functions only (src/client/download.test.ts); the CLI runs point
 * at 127.0.0.2, localhost, [::1] and ::ffff:127.0.0.2, where a trap server counts
 * any connection.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { downloadFile } from '../../src/client/download.js';
import { envFor, json, runCli, sandbox, TEST_KEY, tempDir } from '../helpers/harness.js';
import { assertCleanError, client, filesUnder, front, listen, makeTask, trap } from './helpers.js';

describe('download URLs from answers', () => {
  test('a file URL off the API origin that is not https is refused without connecting (poll --output)', async (t) => {
    const s = await sandbox(t);
    const trapped = await trap(t, '127.0.0.2');
    const sameHost = await trap(t, '127.0.0.1');
    const home = tempDir(t);
    for (const url of [`${trapped.url('http')}/x.png`, `${sameHost.url('http')}/x.png`]) {
      const id = await makeTask(s, `a poster [file-url ${url}]`);
      const out = join(home, 'out');
      const r = await runCli(['poll', '--task-id', id, '--output', out], { env: envFor(s, home) });
      const line = assertCleanError(r, 4);
      assert.match(line, /Download refused: only https downloads are allowed, not http/, url);
      assert.deepEqual(filesUnder(home), [], url);
    }
    assert.equal(trapped.connections(), 0);
    assert.equal(sameHost.connections(), 0);
  });

  test('an https file URL to a loopback address or name is refused without connecting', async (t) => {
    const s = await sandbox(t);
    const trapped = await trap(t, '127.0.0.2');
    const local = await trap(t, '127.0.0.1');
    const home = tempDir(t);
    for (const url of [
      `${trapped.url('https')}/x.png`,
      `https://localhost:${local.port}/x.png`,
      `https://LOCALHOST:${local.port}/x.png`,
    ]) {
      const id = await makeTask(s, `a poster [file-url ${url}]`);
      const r = await runCli(['download', '--task-id', id, '--output', join(home, 'out')], { env: envFor(s, home) });
      const line = assertCleanError(r, 4);
      assert.match(line, /Download refused: .*(private, loopback|loopback name)/, url);
    }
    assert.equal(trapped.connections(), 0);
    assert.equal(local.connections(), 0);
    assert.deepEqual(filesUnder(home), []);
  });

  test('a redirect from the API origin to a loopback address elsewhere is refused without connecting', async (t) => {
    const s = await sandbox(t);
    const v4 = await trap(t, '127.0.0.2');
    // Where IPv6 is off there is no [::1] to listen on; the row then checks the refusal alone.
    const v6 = await trap(t, '::1').catch(() => undefined);
    const targets: [string, RegExp][] = [
      [`${v4.url('http')}/x.png`, /only https/],
      [`${v4.url('https')}/x.png`, /127\.0\.0\.2 is a private, loopback/],
      [`https://localhost:${v4.port}/x.png`, /loopback name/],
      [`https://[::1]:${v6?.port ?? v4.port}/x.png`, /::1 is a private, loopback/],
      [`https://[::ffff:127.0.0.2]:${v4.port}/x.png`, /is a private, loopback/],
    ];
    let target = '';
    const f = await front(t, s, (path) => (path === '/hop/0' ? target : undefined));
    const home = tempDir(t);
    for (const [url, why] of targets) {
      target = url;
      const id = await makeTask(s, `a poster [file-url ${f.url}/hop/0]`);
      const r = await runCli(['download', '--task-id', id, '--output', join(home, 'out')], {
        env: envFor(s, home, { ANYGEN_BASE_URL: f.url }),
      });
      const line = assertCleanError(r, 4);
      assert.match(line, /Download refused: /, url);
      assert.match(line, why, `${url}: ${line}`);
    }
    assert.equal(v4.connections(), 0, 'nothing reached 127.0.0.2');
    assert.equal(v6?.connections() ?? 0, 0, 'nothing reached [::1]');
    assert.deepEqual(filesUnder(home), []);
  });

  test('at most 5 redirects are followed, each one checked: 5 download, 6 are refused, a bad hop stops the chain', async (t) => {
    const s = await sandbox(t);
    const trapped = await trap(t, '127.0.0.2');
    let hops = 0;
    let badAt = -1;
    let fileOf = '';
    const f = await front(t, s, (path) => {
      const m = /^\/hop\/(\d+)$/.exec(path);
      if (!m) return undefined;
      const i = Number(m[1]);
      if (i === badAt) return `${trapped.url('http')}/x.png`;
      return i + 1 < hops ? `/hop/${i + 1}` : fileOf;
    });
    const home = tempDir(t);
    const env = envFor(s, home, { ANYGEN_BASE_URL: f.url });
    const run = async (n: number, bad = -1) => {
      hops = n;
      badAt = bad;
      const id = await makeTask(s, `a poster [file-url ${f.url}/hop/0]`);
      fileOf = `${f.url}/files/${id}/image.png`;
      f.hits.length = 0;
      const r = await runCli(['download', '--task-id', id, '--output', join(home, `out${n}`)], { env });
      return {
        r,
        hops: f.hits.filter((h) => h.startsWith('/hop/')),
        files: f.hits.filter((h) => h.startsWith('/files/')),
      };
    };

    const five = await run(5);
    assert.equal(five.r.code, 0, five.r.stderr);
    assert.equal(five.hops.length, 5);
    assert.equal(five.files.length, 1);
    assert.deepEqual(filesUnder(join(home, 'out5')), ['a-poster.png']);

    const six = await run(6);
    assert.match(assertCleanError(six.r, 4), /Download refused: more than 5 redirects/);
    assert.deepEqual(six.hops, ['/hop/0', '/hop/1', '/hop/2', '/hop/3', '/hop/4', '/hop/5']);
    assert.equal(six.files.length, 0);

    const bad = await run(5, 2);
    assert.match(assertCleanError(bad.r, 4), /Download refused: only https/);
    assert.deepEqual(bad.hops, ['/hop/0', '/hop/1', '/hop/2']);
    assert.equal(trapped.connections(), 0);
    assert.deepEqual(filesUnder(home), ['out5/a-poster.png']);
  });
});

describe('file names from answers', () => {
  test('hostile file names become a safe base name inside the output folder, and nothing lands anywhere else', async (t) => {
    const s = await sandbox(t);
    const root = tempDir(t);
    const out = join(root, 'a', 'b', 'out');
    const cases: [string, string][] = [
      ['../../.bashrc', 'bashrc'],
      [`${root}/a/escaped.png`, 'escaped.png'],
      ['..\\..\\win.png', 'win.png'],
      ['a\\b', 'b'],
      ['..', 'image.png'],
      ['', 'image.png'],
      ['ring\u0007\u001b[2Jbell.png', 'ring__[2Jbell.png'],
      ['.hidden.png', 'hidden.png'],
    ];
    const expected: string[] = [];
    for (const [name, safe] of cases) {
      const id = await makeTask(s, `a poster [file-name ${name}]`);
      const r = await runCli(['poll', '--task-id', id, '--output', out], { env: envFor(s, root) });
      assert.equal(r.code, 0, `${JSON.stringify(name)}: ${r.stderr}`);
      // A name met twice gets _1: still inside the folder.
      const landed = expected.includes(`a/b/out/${safe}`) ? safe.replace(/(\.png)?$/, '_1$1') : safe;
      expected.push(`a/b/out/${landed}`);
      assert.match(r.stdout, new RegExp(`Local file: ${out}/${landed.replace(/[[\]().]/g, '\\$&')}\\n`), name);
    }
    assert.deepEqual(filesUnder(root), expected.sort());
  });
});

describe('the file host never gets the key', () => {
  test('downloads carry no Authorization header, no key and no -H header, also across redirects', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const id = await makeTask(s, 'a poster');
    const r = await runCli(
      ['poll', '--task-id', id, '--output', join(home, 'out'), '-H', 'X-Trace: abc', '--api-key', TEST_KEY],
      { env: envFor(s, home, { ANYGEN_API_KEY: undefined }) },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.ok((s.stats.byRoute.file ?? 0) >= 1);
    assert.equal(s.stats.fileRequestsWithAuth, 0);

    let fileUrl = '';
    const f = await front(t, s, (path) => (path === '/hop/0' ? '/hop/1' : path === '/hop/1' ? fileUrl : undefined));
    const id2 = await makeTask(s, `a poster [file-url ${f.url}/hop/0]`);
    fileUrl = `/files/${id2}/image.png`;
    const viaFront = await runCli(
      ['download', '--task-id', id2, '--output', join(home, 'out2'), '-H', 'X-Trace: abc'],
      {
        env: envFor(s, home, { ANYGEN_BASE_URL: f.url }),
      },
    );
    assert.equal(viaFront.code, 0, viaFront.stderr);
    assert.equal(f.fileHeaders.length, 3, 'two redirects and the file');
    for (const h of f.fileHeaders) {
      assert.equal(h.authorization, undefined);
      assert.equal(h['x-trace'], undefined);
      assert.ok(!JSON.stringify(h).includes(TEST_KEY));
      assert.deepEqual(Object.keys(h).sort(), ['accept', 'connection', 'host', 'user-agent']);
    }
    assert.equal(s.stats.fileRequestsWithAuth, 0);
  });
});

describe('server text on the terminal', () => {
  const ESC_OR_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

  test('a failure reason full of escape sequences reaches stderr without them', async (t) => {
    const s = await sandbox(t);
    // A directive ends at "]", so the OSC here is the 8-bit one (\u009d); the 7-bit OSC is below.
    const id = await makeTask(
      s,
      'a poster [fail \u001b[2J\u009d0;pwned\u0007 boom \u001b[31mred\u001b[0m\r\u0008done]',
    );
    const r = await runCli(['poll', '--task-id', id], { env: envFor(s, tempDir(t)) });
    const line = assertCleanError(r, 1);
    assert.ok(!ESC_OR_CONTROL.test(r.stderr), JSON.stringify(r.stderr));
    assert.match(line, /failed: .*boom red.*done/);
  });

  test('escape sequences in a task answer, an error answer and a status are removed from every line; --json keeps them escaped', async (t) => {
    const nasty = '\u001b]0;pwned\u0007\u001b[2J\u001b[1;31m';
    let mode: 'failed' | 'completed' | 'refused' = 'failed';
    const server = createServer((req, res) => {
      res.setHeader('x-request-id', 'req_nasty_1');
      res.setHeader('content-type', 'application/json');
      if (mode === 'refused') {
        res.writeHead(400);
        res.end(JSON.stringify({ success: false, error: `bad ${nasty}request\u0007`, code: 100004001 }));
        return;
      }
      const id = (req.url ?? '').split('/').pop();
      res.writeHead(200);
      res.end(
        JSON.stringify(
          mode === 'failed'
            ? { success: true, task_id: id, status: 'failed', progress: 100, error: `${nasty}it broke\u001b[0m` }
            : {
                success: true,
                task_id: id,
                status: 'completed',
                progress: 100,
                output: {
                  task_url: `https://www.anygen.io/task/${nasty}x`,
                  thumbnail_url: `https://cdn.example.com/${nasty}t.png`,
                  files: [{ url: `https://cdn.example.com/${nasty}a.png`, name: `${nasty}a.png` }],
                },
              },
        ),
      );
    });
    const port = await listen(t, server);
    const env = envFor(undefined, tempDir(t), {
      ANYGEN_BASE_URL: `http://127.0.0.1:${port}`,
      ANYGEN_API_KEY: TEST_KEY,
    });

    mode = 'failed';
    const failed = await runCli(['poll', '--task-id', 'task_1', '--verbose'], { env });
    assertCleanError(failed, 1);
    assert.match(failed.stderr, /it broke/);
    assert.ok(!failed.stderr.includes('pwned'), 'the whole OSC title sequence is gone');

    mode = 'refused';
    const refused = await runCli(['poll', '--task-id', 'task_1'], { env });
    assert.match(assertCleanError(refused, 1), /bad request.*req_nasty_1/);

    mode = 'completed';
    const done = await runCli(['poll', '--task-id', 'task_1'], { env });
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /File URL: https:\/\/cdn\.example\.com\/a\.png/);

    for (const r of [failed, refused, done]) {
      assert.ok(!ESC_OR_CONTROL.test(r.stdout + r.stderr), JSON.stringify(r));
    }

    const asJson = await runCli(['poll', '--task-id', 'task_1', '--json'], { env });
    assert.equal(asJson.code, 0);
    assert.ok(!ESC_OR_CONTROL.test(asJson.stdout), 'JSON escapes control characters');
    const doc = json(asJson) as { files: { url: string }[] };
    assert.equal(doc.files[0]?.url, `https://cdn.example.com/${nasty}a.png`, 'the data itself is kept as sent');
  });
});

describe('download size', () => {
  test('a body larger than the limit is refused mid-stream and leaves nothing behind', async (t) => {
    const s = await sandbox(t);
    const id = await makeTask(s, 'a poster');
    const out = tempDir(t);
    const task = (await client(s).getTask(id)).data;
    await assert.rejects(
      downloadFile({
        url: task.output?.file_url ?? '',
        name: 'big.png',
        outputDir: out,
        policy: { trustedOrigin: new URL(s.url).origin },
        userAgent: 'test',
        maxBytes: 100,
      }),
      /Download refused: big\.png is larger than 100 bytes/,
    );
    assert.deepEqual(readdirSync(out), []);
  });
});
