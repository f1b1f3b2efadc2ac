/**
 * Standard output and error as agents and CI hold them: a pipe or a file is written
 * straight to the descriptor (src/stdio.ts), without Node's stream and the modules
 * behind it; a reader that is gone is not an error.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { builtinsProbe, envFor, runBin, sandbox, tempDir } from '../helpers/harness.js';

const BIN = fileURLToPath(new URL('../../bin/anygen-image.js', import.meta.url));

test('--help into a pipe builds no stdout stream: neither node:net nor node:tty is loaded', async (t) => {
  const home = tempDir(t);
  const probe = builtinsProbe(home);
  const r = await runBin(['--help'], { env: envFor(undefined, home, { NODE_OPTIONS: probe.nodeOptions }) });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Usage: anygen-image /);
  assert.match(r.stdout, /Exit codes:/);
  const loaded = probe.loaded();
  assert.equal(loaded.has('tty'), false, 'node:tty was loaded');
  assert.equal(loaded.has('net'), false, 'node:net was loaded');
});

test('a command writing into a pipe whose reader is gone exits 0 without a word', async (t) => {
  const s = await sandbox(t);
  const home = tempDir(t);
  const fifo = join(home, 'fifo');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  // Open the reader (so opening the writer does not block), then close it: every
  // write into `w` now fails with EPIPE.
  const r = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const w = openSync(fifo, 'w');
  closeSync(r);
  const child = spawn(process.execPath, [BIN, 'create', '-p', 'nobody reads this'], {
    env: envFor(s, home) as NodeJS.ProcessEnv,
    stdio: ['ignore', w, 'pipe'],
  });
  closeSync(w);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  assert.equal(code, 0, stderr);
  assert.doesNotMatch(stderr, /Error|EPIPE|at /);
  // The task was created before the answer could not be shown: it is in the history.
  assert.equal(s.stats.byRoute.create, 1);
});
