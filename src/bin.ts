/**
 * The process edge: real streams, the real clock, signals. Everything below it
 * receives these as an IO value.
 */

import { main } from './cli.js';
import type { IO } from './io.js';
import { FdSink } from './stdio.js';

const controller = new AbortController();
let signals = 0;
const onSignal = (name: NodeJS.Signals) => {
  signals++;
  // The first signal lets the running command stop cleanly (spinner, temp files);
  // a second one means now.
  if (signals > 1) {
    // Loaded here, not at start: the same module instance the downloads registered with.
    void import('./store/cleanup.js').then(({ removeTemps }) => {
      removeTemps();
      process.exit(130);
    });
    return;
  }
  controller.abort(new Error(name));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
// A reader that goes away (`| head`) is not an error worth a stack trace.
const stdout = new FdSink(1, {
  open: () =>
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
    }),
  onBrokenPipe: () => process.exit(0),
});
const stderr = new FdSink(2, { open: () => process.stderr, onBrokenPipe: () => {} });

// Getters: Node builds each standard stream on first use (stdin alone costs ~5 ms), and
// a pipe or a file is written without one (src/stdio.ts). A terminal gets the stream
// itself: the spinner draws on it.
const io: IO = {
  get stdout() {
    return stdout.direct ? stdout : stdout.stream();
  },
  get stderr() {
    return stderr.direct ? stderr : stderr.stream();
  },
  get stdoutColumns() {
    return !stdout.direct && process.stdout.isTTY ? process.stdout.columns : undefined;
  },
  get stderrIsTTY() {
    return !stderr.direct && Boolean(process.stderr.isTTY);
  },
  get stderrColumns() {
    return stderr.direct ? 0 : (process.stderr.columns ?? 0);
  },
  runningLong() {
    stdout.stream();
    stderr.stream();
  },
  get stdin() {
    return process.stdin;
  },
  env: process.env,
  nodeVersion: process.versions.node,
  now: () => Date.now(),
  sleep: async (ms, signal) => (await import('./sleep.js')).abortableSleep(ms, signal),
  signal: controller.signal,
  async spawnSelf(args, env, log) {
    const [{ spawn }, { openSync, closeSync }] = await Promise.all([import('node:child_process'), import('node:fs')]);
    const fd = openSync(log, 'a', 0o600);
    try {
      const child = spawn(process.execPath, [...process.execArgv, process.argv[1] as string, ...args], {
        detached: true,
        stdio: ['ignore', fd, fd],
        env: env as NodeJS.ProcessEnv,
      });
      child.unref();
      return await new Promise<number>((resolve, reject) => {
        child.once('spawn', () => resolve(child.pid as number));
        child.once('error', reject);
      });
    } finally {
      closeSync(fd);
    }
  },
  isAlive(pid) {
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      // EPERM: it exists, under another user.
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  },
};
// A detached watcher lives in its own session; should a hang-up reach it anyway, it keeps waiting.
if (process.env.ANYGEN_WATCHER) process.on('SIGHUP', () => {});

/**
 * Exit once stdout and stderr have handed everything to the OS: on a pipe, writes
 * complete later, and exiting at once would cut off what the reader has not taken yet
 * (a large --json document). Exiting rather than waiting for the event loop to empty
 * also drops idle keep-alive sockets.
 */
function exitAfterFlush(code: number): void {
  stdout.flush(() => stderr.flush(() => process.exit(code)));
}

main(process.argv.slice(2), io).then(exitAfterFlush, (err: unknown) => {
  io.stderr.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
  exitAfterFlush(1);
});
