/**
 * Standard output and error as agents and CI hold them: a pipe or a file is written
 * straight to the descriptor (src/stdio.ts), without Node's stream and the modules
 * behind it; a reader that is gone is not an error.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { builtinsProbe, envFor, runBin, sandbox, tempDir } from '../helpers/harness.js';
import { makeTask } from '../reliability/helpers.js';

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

/**
 * A pipe that is already full and that nobody reads, like a pager the user stopped
 * scrolling or a host that reads stderr late: `fd` is a blocking descriptor for the
 * CLI, as shells hand them out; `drain()` starts reading and resolves with all that
 * came once every writer has closed it.
 */
function fullPipe(dir: string): { fd: number; filled: number; drain: () => Promise<string> } {
  const fifo = join(dir, 'fifo');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  const r = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const filler = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
  const block = Buffer.alloc(4096, 'x');
  let filled = 0;
  for (;;) {
    try {
      filled += writeSync(filler, block);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
      throw err;
    }
  }
  closeSync(filler);
  const fd = openSync(fifo, 'w');
  const drain = () => {
    const reader = new Socket({ fd: r, readable: true, writable: false });
    let text = '';
    const ended = new Promise<string>((resolve) =>
      reader.once('end', () => {
        reader.destroy();
        resolve(text.slice(filled));
      }),
    );
    reader.setEncoding('utf8').on('data', (d: string) => {
      text += d;
    });
    return ended;
  };
  return { fd, filled, drain };
}

test('a reader that has stopped reading does not hold off SIGTERM during a wait', { timeout: 30_000 }, async (t) => {
  const s = await sandbox(t, { readsToComplete: 1_000 });
  const id = await makeTask(s, 'a slow cat');
  const pipe = fullPipe(tempDir(t));
  const child = spawn(process.execPath, [BIN, 'poll', '--task-id', id, '--interval', '1', '--progress', 'plain'], {
    env: envFor(s, tempDir(t)) as NodeJS.ProcessEnv,
    stdio: ['ignore', pipe.fd, pipe.fd],
  });
  closeSync(pipe.fd);
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  // Its first status read: the wait is running (a CLI stuck writing to the pipe never gets here).
  await new Promise((resolve) => s.server.once('request', resolve));
  child.kill('SIGTERM');
  // Only now is the pipe read, so the CLI can flush what it said and exit.
  const said = pipe.drain();
  assert.equal(await exited, 130);
  assert.match(await said, new RegExp(`Stopped waiting for task ${id}`));
});

test('the MCP server answers while its host leaves stderr unread', { timeout: 30_000 }, async (t) => {
  const s = await sandbox(t);
  const pipe = fullPipe(tempDir(t));
  const child = spawn(process.execPath, [BIN, 'mcp'], {
    env: envFor(s, tempDir(t)) as NodeJS.ProcessEnv,
    stdio: ['pipe', 'pipe', pipe.fd],
  });
  closeSync(pipe.fd);
  let out = '';
  const answered = new Promise<void>((resolve) =>
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('"id":1')) resolve();
    }),
  );
  const initialize = {
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'test', version: '1' } },
  };
  child.stdin?.write(`${JSON.stringify(initialize)}\n`);
  await answered;
  assert.match(out, /"serverInfo"/);
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  const said = pipe.drain();
  child.stdin?.end();
  assert.equal(await exited, 0);
  assert.match(await said, /MCP server on stdio/);
});
