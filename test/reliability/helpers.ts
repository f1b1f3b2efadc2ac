/**
 * Helpers for the reliability and security suite: error-shape checks, disk
 * snapshots, tasks made straight on the sandbox, and small loopback servers
 * (a trap that counts connections, a front that redirects and proxies).
 * Everything listens on loopback only.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { AnyGenClient } from '../../src/client/client.js';
import type { Sandbox } from '../../src/sandbox/server.js';
import { assertNoKey, BIN, type RunResult, TEST_KEY } from '../helpers/harness.js';

type After = { after(fn: () => unknown): void };

export function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '');
}

/**
 * The run failed with `code` and one `Error: …` line (a hint may follow it), no
 * stack frame, and nothing on stdout unless asked. With `first`, the error is the
 * very first line on stderr (nothing was attempted before it). Returns that line.
 */
export function assertCleanError(
  r: RunResult,
  code: number,
  opts: { stdoutMayHaveJson?: boolean; first?: boolean } = {},
): string {
  const all = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.code, code, `exit code ${r.code}, expected ${code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  assert.ok(!/^\s+at /m.test(all), `a stack trace was printed:\n${all}`);
  const errors = lines(r.stderr).filter((l) => l.startsWith('Error'));
  assert.equal(errors.length, 1, `expected exactly one error line:\n${r.stderr}`);
  const line = errors[0] as string;
  assert.ok(line.startsWith('Error: '), line);
  if (opts.first) assert.equal(lines(r.stderr)[0], line, `stderr does not start with the error:\n${r.stderr}`);
  if (!opts.stdoutMayHaveJson) assert.equal(r.stdout, '', 'nothing on stdout');
  return line;
}

/** Every entry under `root` with its type, mode, size and content hash (or link target). */
export function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const info = lstatSync(path);
      const key = relative(root, path);
      const mode = (info.mode & 0o7777).toString(8);
      if (info.isSymbolicLink()) out[key] = `link ${readlinkSync(path)}`;
      else if (info.isDirectory()) {
        out[key] = `dir ${mode}`;
        walk(path);
      } else {
        let hash = 'unreadable';
        try {
          hash =
            info.size > 1024 * 1024 ? `${info.mtimeMs}` : createHash('sha256').update(readFileSync(path)).digest('hex');
        } catch {
          // Kept as unreadable: the mode says why.
        }
        out[key] = `file ${mode} ${info.size} ${hash} ${info.ino}`;
      }
    }
  };
  walk(root);
  return out;
}

/** Every regular file under `root`, as paths relative to it. */
export function filesUnder(root: string): string[] {
  return Object.entries(snapshot(root))
    .filter(([, v]) => v.startsWith('file '))
    .map(([k]) => k)
    .sort();
}

export function client(s: Sandbox | string, extra: Partial<ConstructorParameters<typeof AnyGenClient>[0]> = {}) {
  return new AnyGenClient({ baseUrl: typeof s === 'string' ? s : s.url, apiKey: TEST_KEY, ...extra });
}

/** A task made straight on the sandbox (so the run under test only reads it). */
export async function makeTask(s: Sandbox, prompt: string): Promise<string> {
  const { data } = await client(s, { retry: { retries: 0 } }).createTask({ operation: 'ai_designer', prompt });
  return data.task_id;
}

export async function listen(t: After, server: Server, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return (server.address() as AddressInfo).port;
}

/** A server that must never be reached: it counts connections and answers nothing useful. */
export async function trap(
  t: After,
  host: string,
): Promise<{ port: number; url: (scheme: string) => string; connections: () => number }> {
  let connections = 0;
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'image/png' });
    res.end('not an image');
  });
  server.on('connection', () => connections++);
  const port = await listen(t, server, host);
  const h = host.includes(':') ? `[${host}]` : host;
  return { port, url: (scheme) => `${scheme}://${h}:${port}`, connections: () => connections };
}

export interface Front {
  url: string;
  /** Paths asked of the front, in order. */
  hits: string[];
  /** Headers of requests that were not API calls (file downloads and redirects). */
  fileHeaders: IncomingHttpHeaders[];
}

/**
 * A server on 127.0.0.1 that stands in as the API origin: `route(path)` may answer
 * with a redirect Location; everything else is passed through to the sandbox.
 */
export async function front(t: After, s: Sandbox, route: (path: string) => string | undefined): Promise<Front> {
  const target = new URL(s.url);
  const hits: string[] = [];
  const fileHeaders: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    hits.push(path);
    if (!path.startsWith('/v1/')) fileHeaders.push(req.headers);
    const location = route(path);
    if (location !== undefined) {
      res.writeHead(302, { location, 'content-length': '0' });
      res.end();
      return;
    }
    const upstream = request(
      { host: target.hostname, port: target.port, path, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  const port = await listen(t, server);
  return { url: `http://127.0.0.1:${port}`, hits, fileHeaders };
}

/** Resolves when `check()` holds, re-checking whenever `poke` is called. */
export function when(check: () => boolean): { poke: () => void; done: Promise<void> } {
  let resolve!: () => void;
  const done = new Promise<void>((r) => {
    resolve = r;
  });
  let fired = false;
  const poke = () => {
    if (!fired && check()) {
      fired = true;
      resolve();
    }
  };
  return { poke, done };
}

/**
 * The built binary, spawned, with its process at hand (to signal it) and its
 * output checked for the key like every harness run.
 */
export function startBin(
  argv: string[],
  opts: { env: Record<string, string | undefined>; onStderr?: (text: string) => void },
): { child: ChildProcess; done: Promise<RunResult> } {
  const child = spawn(process.execPath, [BIN, ...argv], {
    env: opts.env as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const done = new Promise<RunResult>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
    });
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      stderr += text;
      opts.onStderr?.(text);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const result = { code: code ?? (signal ? 128 : -1), stdout, stderr };
      try {
        assertNoKey(result);
        resolve(result);
      } catch (err) {
        reject(err);
      }
    });
  });
  return { child, done };
}

export interface Stub {
  url: string;
  /** Requests that reached the server. */
  requests: () => number;
  /** Body bytes written so far, across all answers. */
  bytesSent: () => number;
}

/** A loopback server whose every answer is written by `answer`; `write` counts the body bytes it sends. */
export async function stub(
  t: After,
  answer: (res: ServerResponse, write: (chunk: string | Buffer) => void) => void,
): Promise<Stub> {
  let requests = 0;
  let bytes = 0;
  const server = createServer((req, res) => {
    requests++;
    req.resume();
    answer(res, (chunk) => {
      bytes += Buffer.byteLength(chunk);
      res.write(chunk);
    });
  });
  const port = await listen(t, server);
  return { url: `http://127.0.0.1:${port}`, requests: () => requests, bytesSent: () => bytes };
}

/** Headers (and a first byte of the body, when `firstByte`), then silence: the rest never comes. */
export function stalling(t: After, opts: { firstByte?: boolean } = {}): Promise<Stub> {
  return stub(t, (res, write) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '4096' });
    res.flushHeaders();
    if (opts.firstByte) write('{');
  });
}

/** Headers, then the body one byte every `everyMs`, on and on (it never ends on its own). */
export function trickling(t: After, everyMs: number): Promise<Stub> {
  return stub(t, (res, write) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(1024 * 1024) });
    res.flushHeaders();
    write('{');
    const timer = setInterval(() => write(' '), everyMs);
    res.on('close', () => clearInterval(timer));
  });
}

/** Every answer is `body` (bytes as they go on the wire) with the given status and Content-Encoding. */
export function encodedAnswer(t: After, body: Buffer, encoding: string, status = 200): Promise<Stub> {
  return stub(t, (res) => {
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-encoding': encoding,
      'content-length': String(body.length),
      'x-request-id': 'req_encoded',
    });
    res.end(body);
  });
}
