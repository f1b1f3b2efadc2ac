/**
 * Issue 8, requirement 5 (the parts outside the HTTP transport): a wait that finds
 * nobody at the base URL on its first read stops at once with exit 4 and names the URL;
 * once a read has succeeded, the same failure is waited out until --timeout; and a
 * --since-id that no reply can ever exceed is refused at once.
 *
 * "Nobody there" is a loopback port that was listened on and closed. The unknown-host
 * variant is not run here: this machine's resolver is a network server, so even a
 * `.invalid` name would send a DNS query. src/wait.test.ts covers ENOTFOUND.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, test } from 'node:test';
import { envFor, json, runBin, runCli, sandbox, TEST_KEY, tempDir } from '../helpers/harness.js';
import { assertCleanError, makeTask } from './helpers.js';

/** A loopback URL where nothing listens: a port the kernel just handed out and took back. */
async function closedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

describe('a wait whose first read cannot connect', () => {
  test('poll and get-messages --wait stop at once with exit 4, naming the base URL', async (t) => {
    const home = tempDir(t);
    const url = await closedPort();
    const env = envFor(undefined, home, { ANYGEN_BASE_URL: url, ANYGEN_API_KEY: TEST_KEY });
    for (const argv of [
      ['poll', '--task-id', 'task_1'],
      ['get-messages', '--task-id', 'task_1', '--wait'],
    ]) {
      const r = await runCli(argv, { env });
      const line = assertCleanError(r, 4);
      assert.equal(line, `Error: Cannot reach AnyGen at ${url}: connection refused (ECONNREFUSED); stopped waiting`);
      assert.match(
        r.stderr,
        /Check ANYGEN_BASE_URL and your network\.\n(Task URL: .*\n)?Resume with: anygen-image /,
        argv[0],
      );
      assert.deepEqual(r.sleeps, [], `${argv[0]} did not wait before giving up`);
    }
    // From the binary, with the real clock: well inside one 3-second interval.
    const started = Date.now();
    const bin = await runBin(['poll', '--task-id', 'task_1', '--json'], { env });
    assert.equal(bin.code, 4, bin.stderr);
    assert.equal((json(bin).error as { type: string }).type, 'network');
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
  });

  test('run and create --wait: after the create, the error keeps the task and how to resume it', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const s2 = await sandbox(t);
    for (const [server, argv] of [
      [s, ['run', '-p', 'a poster']],
      [s2, ['create', '-p', 'a poster', '--wait']],
    ] as const) {
      // The sandbox takes the create, then goes away before the first status read.
      const r = await runCli([...argv], {
        env: envFor(server, home),
        onStderr: (text) => {
          if (text.startsWith('Task ID:')) void server.close();
        },
        virtualTime: false,
      });
      const line = assertCleanError(r, 4);
      assert.match(line, /Cannot reach AnyGen at http:\/\/127\.0\.0\.1:\d+: connection refused/, argv[0]);
      assert.match(r.stderr, /Resume with: anygen-image poll --task-id task_\w+/, argv[0]);
    }
  });

  test('once a read has succeeded, refused connections are retried until --timeout (exit 5)', async (t) => {
    const s = await sandbox(t, { readsToComplete: 50 });
    const home = tempDir(t);
    const id = await makeTask(s, 'goes away');
    let closed = false;
    const r = await runCli(['poll', '--task-id', id, '--timeout', '60'], {
      env: envFor(s, home),
      onStderr: (text) => {
        if (!closed && /pending|processing/.test(text)) {
          closed = true;
          void s.close();
        }
      },
    });
    const line = assertCleanError(r, 5);
    assert.match(line, /Gave up waiting after 1m00s/);
    assert.ok(r.sleeps.length > 3, `retried: ${r.sleeps.join(', ')}`);
  });
});

describe('get-messages --wait --since-id', () => {
  test('an id above every message of the task is an error at once (exit 2), before any wait', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const env = envFor(s, home);
    const id = await makeTask(s, 'talk');
    const sent = json(await runCli(['--json', 'send-message', '--task-id', id, '-m', 'darker'], { env }));
    const messageId = Number(sent.message_id);

    const r = await runCli(['get-messages', '--task-id', id, '--wait', '--since-id', String(messageId + 1000)], {
      env,
    });
    const line = assertCleanError(r, 2);
    assert.equal(
      line,
      `Error: --since-id ${messageId + 1000} is above every message id of task ${id} (the newest is ${messageId + 1})`,
    );
    assert.match(r.stderr, /leave --since-id out/);
    assert.deepEqual(r.sleeps, []);

    // The id send-message printed is still waited on and answered.
    const ok = await runCli(['get-messages', '--task-id', id, '--wait', '--since-id', String(messageId)], { env });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^Reply: Done/m);

    const none = await makeTask(s, 'silent');
    const empty = await runCli(['get-messages', '--task-id', none, '--wait', '--since-id', '5'], { env });
    assert.match(assertCleanError(empty, 2), /\(it has no messages\)$/);
  });
});
