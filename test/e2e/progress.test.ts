/**
 * `--progress` in a pipe, as CI and agents run it: `--json --progress json` keeps
 * stdout to one document and makes stderr a stream of JSON events, one per line.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ANY_ESCAPE, envFor, json, runBin, sandbox, tempDir } from '../helpers/harness.js';
import { lines, makeTask } from '../reliability/helpers.js';

/** The fields of each event, as the README documents them. */
const COMMON = ['event', 'task_id', 'status', 'progress', 'elapsed_s'];
const FIELDS: Record<string, string[]> = {
  status: COMMON,
  heartbeat: COMMON,
  retry: [...COMMON, 'reason', 'message', 'delay_s'],
  download: [...COMMON, 'path', 'bytes'],
};

/** Every stderr line parsed; each must be a JSON object. */
function events(stderr: string): Record<string, unknown>[] {
  return lines(stderr).map((l) => {
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      throw new Error(`a stderr line that is not JSON: ${l}\n${stderr}`);
    }
  });
}

function assertWaitEvent(e: Record<string, unknown>, taskId: string) {
  const fields = FIELDS[e.event as string];
  assert.ok(fields, `unknown event ${JSON.stringify(e)}`);
  assert.deepEqual(Object.keys(e), fields);
  assert.equal(e.task_id, taskId);
  assert.ok(e.status === null || typeof e.status === 'string', JSON.stringify(e));
  assert.ok(e.progress === null || (typeof e.progress === 'number' && e.progress >= 0 && e.progress <= 100));
  assert.ok(Number.isInteger(e.elapsed_s) && (e.elapsed_s as number) >= 0, JSON.stringify(e));
}

describe('--progress in a pipe', () => {
  it('--json --progress json: one document on stdout; status, retry and download events on stderr', {
    timeout: 30_000,
  }, async (t) => {
    const s = await sandbox(t, { readsToComplete: 2 });
    const id = await makeTask(s, 'a cat [faults 503]');
    const out = join(tempDir(t), 'images');
    const r = await runBin(
      ['--json', '--progress', 'json', 'poll', '--task-id', id, '--interval', '1', '--output', out],
      {
        env: envFor(s, tempDir(t)),
      },
    );
    assert.equal(r.code, 0, r.stderr);
    const doc = json(r);
    assert.equal(doc.success, true);
    assert.equal(doc.status, 'completed');
    const all = events(r.stderr);
    for (const e of all) assertWaitEvent(e, id);
    const [first] = all;
    assert.equal(first?.event, 'retry');
    assert.equal(first?.reason, 'HTTP 503');
    assert.equal(first?.delay_s, 1);
    assert.match(String(first?.message), /503/);
    const statuses = all.filter((e) => e.event === 'status').map((e) => e.status);
    assert.equal(statuses.at(-1), 'completed');
    const downloads = all.filter((e) => e.event === 'download');
    const saved = doc.downloads as { path: string; bytes: number }[];
    assert.equal(downloads.length, saved.length);
    assert.ok(downloads.length > 0);
    for (const [i, d] of downloads.entries()) {
      assert.equal(d.status, 'completed');
      assert.equal(d.path, saved[i]?.path);
      assert.equal(d.bytes, statSync(d.path as string).size);
    }
  });

  it('--json --progress json that gives up: the error is one more JSON line, stdout still one document', {
    timeout: 30_000,
  }, async (t) => {
    const s = await sandbox(t, { readsToComplete: 1_000 });
    const id = await makeTask(s, 'a cat');
    const r = await runBin(
      ['--json', '--progress', 'json', 'poll', '--task-id', id, '--interval', '1', '--timeout', '2'],
      {
        env: envFor(s, tempDir(t)),
      },
    );
    assert.equal(r.code, 5, r.stderr);
    assert.equal((json(r).error as { type: string }).type, 'wait_timeout');
    const all = events(r.stderr);
    const last = all.pop();
    assert.deepEqual(Object.keys(last ?? {}), ['event', 'type', 'message', 'hint', 'task_id']);
    assert.equal(last?.event, 'error');
    assert.equal(last?.type, 'wait_timeout');
    assert.ok(all.length > 0);
    for (const e of all) assertWaitEvent(e, id);
  });

  it('--json --progress plain: one document on stdout, progress lines on stderr', { timeout: 30_000 }, async (t) => {
    const s = await sandbox(t, { readsToComplete: 1 });
    const id = await makeTask(s, 'a cat');
    const r = await runBin(['--json', '--progress', 'plain', 'poll', '--task-id', id, '--interval', '1'], {
      env: envFor(s, tempDir(t)),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(json(r).status, 'completed');
    assert.match(r.stderr, new RegExp(`^Waiting for task ${id}…$`, 'm'));
    assert.match(r.stderr, /^\[0m0\ds\] completed 100%$/m);
  });

  it('--progress spinner where no terminal is: plain lines, no escape sequence, no error', {
    timeout: 30_000,
  }, async (t) => {
    const s = await sandbox(t, { readsToComplete: 1 });
    const id = await makeTask(s, 'a cat');
    const r = await runBin(['--progress', 'spinner', 'poll', '--task-id', id, '--interval', '1'], {
      env: envFor(s, tempDir(t), { TERM: 'xterm-256color' }),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^\[0m0\ds\] completed 100%$/m);
    assert.equal(r.stderr.match(ANY_ESCAPE), null);
  });

  it('--progress none: nothing on stderr; --progress loud: exit 2 naming the choices', async (t) => {
    const s = await sandbox(t, { readsToComplete: 1 });
    const id = await makeTask(s, 'a cat');
    const env = envFor(s, tempDir(t));
    const quiet = await runBin(['--progress', 'none', 'poll', '--task-id', id, '--interval', '1'], { env });
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(quiet.stderr, '');
    assert.match(quiet.stdout, /Status: completed/);
    const bad = await runBin(['--progress', 'loud', 'poll', '--task-id', id], { env });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^Error: .*'loud' is invalid.*auto, spinner, plain, json, none/m);
  });
});

describe('--progress json and errors', () => {
  it('a usage error under --progress json is one JSON line on stderr, exit 2', async (t) => {
    const r = await runBin(['--progress', 'json', 'poll', '--bogus'], { env: envFor(undefined, tempDir(t)) });
    assert.equal(r.code, 2);
    assert.deepEqual(events(r.stderr), [
      {
        event: 'error',
        type: 'usage',
        message: "unknown option '--bogus'",
        hint: 'Run anygen-image poll --help for usage.',
      },
    ]);
  });
});
