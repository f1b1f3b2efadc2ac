/**
 * The whole flow of issue 11 as an agent runs it, with nothing copied by hand: upload
 * a reference, two prepare turns kept in a file, create --from that file, a detached
 * wait, status until done, tasks, a change request, and the revision downloaded
 * beside the original, as another file, visibly darker.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { decodePng, encodePng, meanColour } from '../../src/sandbox/png.js';
import { envFor, json, runBin, sandbox, tempDir } from '../helpers/harness.js';
import { entryAt, exited, reap, statusUntil } from '../helpers/watchers.js';

const READS = 3;

function luminance(path: string): number {
  return meanColour(decodePng(readFileSync(path))).luminance;
}

test('upload, prepare twice, create --from, poll --detach, status, tasks, send-message, get-messages --wait --output', async (t) => {
  const s = await sandbox(t, { readsToComplete: READS, prepareTurns: 2 });
  const home = tempDir(t);
  const state = join(home, 'state');
  const out = join(home, 'images');
  const env = envFor(s, home, { XDG_STATE_HOME: state });
  const logo = join(home, 'logo.png');
  writeFileSync(logo, encodePng(2, 2, new Uint8Array(12).fill(200)));

  const upload = await runBin(['--json', 'upload', '--file', logo], { env });
  assert.equal(upload.code, 0, upload.stderr);
  const token = json(upload).file_token as string;

  const conv = join(home, 'conversation.json');
  const first = await runBin(
    [
      'prepare',
      '--message',
      'A jazz night poster, A2 portrait, dark blue and gold',
      '--file-token',
      token,
      '--save',
      conv,
    ],
    { env },
  );
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /Status: collecting/);
  assert.doesNotMatch(first.stderr, /Next:/);
  const second = await runBin(
    ['prepare', '--input', conv, '--message', "Put my logo at the top; it's for Friday's show", '--save', conv],
    { env },
  );
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /Status: ready/);
  assert.ok(second.stderr.includes(`Next: anygen-image create --from ${conv}`), second.stderr);

  const create = await runBin(['--json', 'create', '--from', conv], { env });
  assert.equal(create.code, 0, create.stderr);
  const taskId = json(create).task_id as string;
  const sent = s.tasks.get(taskId);
  assert.ok(sent);
  assert.equal(
    sent.prompt,
    "A jazz night poster, A2 portrait, dark blue and gold. Put my logo at the top; it's for Friday's show",
  );
  assert.deepEqual(sent.fileTokens, [token]);

  const detached = await runBin(
    ['--json', 'poll', '--task-id', taskId, '--detach', '--interval', '1', '--output', out],
    { env },
  );
  assert.equal(detached.code, 0, detached.stderr);
  const d = json(detached);
  const pid = d.pid as number;
  reap(t, pid);
  assert.equal(d.task_id, taskId);
  assert.equal(d.started, true);
  assert.ok(Number.isInteger(pid) && pid > 0);
  // Returned while the task was still being made: it completes on read READS + 1.
  assert.ok((s.tasks.get(taskId)?.reads ?? 0) <= READS, 'poll --detach waited for the task');
  assert.equal(entryAt(state, taskId).watcher?.pid, pid);

  const done = await statusUntil(taskId, env, 'completed');
  assert.equal(done.task_id, taskId);
  await exited(pid);
  const entry = entryAt(state, taskId);
  assert.equal(entry.status, 'completed');
  assert.equal(entry.watcher, null);
  assert.equal(entry.last_error, null);
  const originals = readdirSync(out);
  assert.equal(originals.length, 1, `${originals}`);
  const original = join(out, originals[0] as string);
  assert.deepEqual(
    entry.files.map((f) => [f.path, f.version]),
    [[original, 0]],
  );
  const originalBytes = readFileSync(original);

  const tasks = await runBin(['--json', 'tasks'], { env });
  assert.equal(tasks.code, 0, tasks.stderr);
  const listed = (json(tasks).tasks as Array<Record<string, unknown>>)[0];
  assert.equal(listed?.task_id, taskId);
  assert.equal(listed?.status, 'completed');

  const message = await runBin(
    ['--json', 'send-message', '--task-id', taskId, '--message', 'make the background darker'],
    { env },
  );
  assert.equal(message.code, 0, message.stderr);

  const reply = await runBin(['--json', 'get-messages', '--task-id', taskId, '--wait', '--output', out], { env });
  assert.equal(reply.code, 0, reply.stderr);
  const downloads = json(reply).downloads as Array<{ path: string }>;
  assert.equal(downloads.length, 1);
  const revision = downloads[0]?.path as string;
  assert.equal(basename(revision), basename(original).replace(/\.png$/, '_v1.png'));
  assert.deepEqual(readdirSync(out).sort(), [basename(original), basename(revision)].sort());
  assert.deepEqual(readFileSync(original), originalBytes, 'the original was overwritten');
  assert.ok(
    luminance(revision) < luminance(original) - 5,
    `not darker: ${luminance(revision)} vs ${luminance(original)}`,
  );
  const versions = entryAt(state, taskId).files.map((f) => [basename(f.path), f.version]);
  assert.deepEqual(versions, [
    [basename(original), 0],
    [basename(revision), 1],
  ]);
});
