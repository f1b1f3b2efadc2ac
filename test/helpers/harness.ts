/**
 * Shared by every suite: a sandbox on a loopback port, the CLI run in-process with
 * captured IO and a virtual clock, the built binary spawned for real, temp folders.
 * Every run is checked for the test key: no output of the suite may ever carry it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli.js';
import { AnyGenError } from '../../src/errors.js';
import type { IO } from '../../src/io.js';
import { type Sandbox, type SandboxOptions, startSandbox } from '../../src/sandbox/server.js';

/** The key the sandbox accepts in tests; it must never appear in any output. */
export const TEST_KEY = 'sk-test-7f3c9a1e5b2d4c6f8a0e';
export const BIN = fileURLToPath(new URL('../../bin/anygen-image.js', import.meta.url));

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function assertNoKey(r: RunResult, key = TEST_KEY): void {
  assert.ok(!r.stdout.includes(key), `stdout carries the key:\n${r.stdout}`);
  assert.ok(!r.stderr.includes(key), `stderr carries the key:\n${r.stderr}`);
}

export function tempDir(t?: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'anygen-test-'));
  t?.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function sandbox(t: { after(fn: () => unknown): void }, opts: SandboxOptions = {}): Promise<Sandbox> {
  const s = await startSandbox({ apiKey: TEST_KEY, readsToComplete: 0, replyReads: 0, ...opts });
  t.after(() => s.close());
  return s;
}

const shared = new Map<string, string>();
/**
 * One temp folder per kind for the whole test process, removed at exit: the binary's
 * code cache, and the task history and watcher logs of every run that does not ask for
 * its own (XDG_STATE_HOME in `extra`). Both are kept out of the home folders that many
 * tests compare before and after a command.
 */
function sharedDir(kind: 'cache' | 'state'): string {
  let dir = shared.get(kind);
  if (!dir) {
    const made = mkdtempSync(join(tmpdir(), `anygen-test-${kind}-`));
    process.once('exit', () => rmSync(made, { recursive: true, force: true }));
    shared.set(kind, made);
    dir = made;
  }
  return dir;
}

/** Environment for a run: the sandbox's URL, a private config folder, and the key unless told otherwise. */
export function envFor(s: Sandbox | undefined, configHome: string, extra: Record<string, string | undefined> = {}) {
  return {
    PATH: process.env.PATH,
    HOME: configHome,
    XDG_CONFIG_HOME: join(configHome, 'xdg'),
    XDG_CACHE_HOME: sharedDir('cache'),
    XDG_STATE_HOME: sharedDir('state'),
    ...(s ? { ANYGEN_BASE_URL: s.url, ANYGEN_API_KEY: TEST_KEY } : {}),
    ...extra,
  } as Record<string, string | undefined>;
}

export interface InProcessOptions {
  env: Record<string, string | undefined>;
  stdin?: string;
  signal?: AbortSignal;
  stderrIsTTY?: boolean;
  /** Virtual clock: sleeps advance it at once, and are recorded. */
  virtualTime?: boolean;
  /** Called with the written text as it arrives (to react to progress). */
  onStderr?: (text: string) => void;
  onStdout?: (text: string) => void;
}

export interface InProcessResult extends RunResult {
  sleeps: number[];
}

/** Runs `main` in this process with captured streams. */
export async function runCli(argv: string[], opts: InProcessOptions): Promise<InProcessResult> {
  let stdout = '';
  let stderr = '';
  let clock = Date.now();
  const sleeps: number[] = [];
  const virtual = opts.virtualTime ?? true;
  const io: IO = {
    stdout: {
      write: (s: string) => {
        stdout += s;
        opts.onStdout?.(s);
        return true;
      },
    },
    stderr: {
      write: (s: string) => {
        stderr += s;
        opts.onStderr?.(s);
        return true;
      },
    },
    stderrIsTTY: opts.stderrIsTTY ?? false,
    stderrColumns: opts.stderrIsTTY ? 80 : 0,
    stdin: Readable.from([opts.stdin ?? '']),
    env: opts.env,
    now: () => (virtual ? clock : Date.now()),
    sleep: async (ms, signal) => {
      sleeps.push(ms);
      if (virtual) {
        clock += ms;
        await new Promise((r) => setImmediate(r));
        return;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        signal?.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
    signal: opts.signal ?? new AbortController().signal,
  };
  const code = await main(argv, io);
  const result = { code, stdout, stderr, sleeps };
  assertNoKey(result);
  return result;
}

export interface SpawnOptions {
  env: Record<string, string | undefined>;
  input?: string;
  /** Called with stderr text as it arrives. */
  onStderr?: (text: string, child: ReturnType<typeof spawn>) => void;
  onStdout?: (text: string, child: ReturnType<typeof spawn>) => void;
  uid?: number;
  gid?: number;
  cwd?: string;
}

/** Runs the built binary as a user would. */
export function runBin(argv: string[], opts: SpawnOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...argv], {
      env: opts.env as NodeJS.ProcessEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
      ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
      opts.onStdout?.(s, child);
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
      opts.onStderr?.(s, child);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const result = { code: code ?? (signal ? 128 : -1), stdout, stderr };
      try {
        assertNoKey(result);
      } catch (err) {
        reject(err);
        return;
      }
      resolve(result);
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** The single JSON document a --json run printed. */
export function json(r: RunResult): Record<string, unknown> {
  try {
    return JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    throw new Error(`stdout is not one JSON document:\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}

export interface PtyOptions {
  env: Record<string, string | undefined>;
  /** The width `stty` gives the pseudo-terminal; 0 is what many agent runners report. */
  columns: number;
  /** Called with the terminal's output as it arrives. */
  onOutput?: (text: string, child: ReturnType<typeof spawn>) => void;
}

/**
 * Runs the built binary on a real pseudo-terminal (util-linux `script`), as a person's
 * terminal, `docker run -t` or an agent runner would. stdout and stderr both reach
 * the terminal, so `output` holds both, with every escape sequence written.
 */
export function runInPty(argv: string[], opts: PtyOptions): Promise<{ code: number; output: string }> {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const line = `stty cols ${opts.columns} rows 24; exec ${[process.execPath, BIN, ...argv].map(quote).join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', line, '/dev/null'], {
      env: opts.env as NodeJS.ProcessEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      output += s;
      opts.onOutput?.(s, child);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : -1), output }));
  });
}

/**
 * The process running on a pseudo-terminal that `runInPty` started (`script` execs the
 * CLI in a shell of its own): the one a terminal's Ctrl-C reaches and a SIGTERM targets.
 */
export function ptyProcess(script: ReturnType<typeof spawn>): number {
  const children = readFileSync(`/proc/${script.pid}/task/${script.pid}/children`, 'utf8').trim().split(/\s+/);
  const pid = Number(children[0]);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no process under script (${script.pid})`);
  return pid;
}

// Escape sequences by what they do, for asserting what a display wrote.
/** Cursor movement and line clearing: what a spinner redraws with. */
export const CURSOR_CONTROL = /\u001b\[\d*[GKAJ]/;
/** Select Graphic Rendition with anything but a reset: colour, bold, underline. */
export const COLOUR = /\u001b\[(?!0?m)[\d;]*m/;
/** Every escape sequence (CSI, including private modes like `?25l`). */
export const ANY_ESCAPE = /\u001b\[[0-?]*[ -/]*[@-~]/g;

/**
 * Lists the built-in modules a spawned CLI loads: pass `nodeOptions` as its NODE_OPTIONS
 * (a preload that writes process.moduleLoadList at exit), then read `loaded()`.
 */
export function builtinsProbe(dir: string): { nodeOptions: string; loaded: () => Set<string> } {
  const list = join(dir, 'modules.txt');
  const preload = join(dir, 'list-modules.cjs');
  writeFileSync(
    preload,
    `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.join('\\n')));`,
  );
  return {
    nodeOptions: `--require ${preload}`,
    loaded: () =>
      new Set(
        readFileSync(list, 'utf8')
          .split('\n')
          .filter((l) => l.startsWith('NativeModule '))
          .map((l) => l.slice('NativeModule '.length)),
      ),
  };
}

/** The AnyGenError a call fails with; fails the test when it succeeds or throws anything else. */
export async function rejection(p: Promise<unknown>): Promise<AnyGenError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof AnyGenError, `expected AnyGenError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the call to fail');
}

/** A task made the way users make one (`create --json`, so the history records it); its id. */
export async function createWithCli(env: Record<string, string | undefined>, prompt: string): Promise<string> {
  const r = await runBin(['--json', 'create', '-p', prompt], { env });
  assert.equal(r.code, 0, r.stderr);
  return json(r).task_id as string;
}
