/**
 * The HTTP layer: undici, one keep-alive Agent per process (one more for downloads from
 * untrusted hosts), so a poll loop reuses its connection and nothing follows redirects.
 *
 * Only the parts of undici this needs are loaded (see undici.ts): its index would bring
 * fetch, WebSocket, caches and mocks. undici parses HTTP/1 with a WebAssembly module;
 * in a short-lived process V8's optimising of that module on background threads used
 * to hold up the exit (~65 ms of CPU). The CLI entry asks V8 for baseline compilation
 * only before anything loads undici (bin/anygen-image.js); library users keep V8's
 * defaults.
 */
import type { LookupFunction, Socket } from 'node:net';
import { Agent, buildConnector, type Connector, type Dispatcher, request } from './undici.js';

export type HttpHeaders = Record<string, string | string[] | undefined>;

export interface HttpRequest {
  url: URL;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  /**
   * A string or Buffer is sent as is. An iterable is written one chunk at a time, and
   * the next chunk is asked for only once the previous one left for the socket, so its
   * producer may refill one buffer (uploads); it must come with content-length set.
   */
  body?: string | Buffer | AsyncIterable<Uint8Array>;
  signal?: AbortSignal;
  /**
   * Checks the addresses a connection may be made to, at connect time (downloads from
   * untrusted hosts). Requests with a guard get their own pool, so their sockets are
   * never shared with the API's.
   */
  guard?: AddressGuard;
}

export interface AddressGuard {
  /** A DNS lookup that fails for addresses that must not be reached. */
  lookup: LookupFunction;
  /** Checks the address the socket reached; returns an error to refuse it. */
  check: (address: string, hostname: string) => Error | undefined;
}

export interface HttpResponse {
  status: number;
  headers: HttpHeaders;
  /** Must be read to the end or resumed, or the connection cannot be reused. */
  body: NodeJS.ReadableStream & AsyncIterable<Buffer> & { resume(): unknown };
}

/** One request's time limit joined with the caller's signal (Ctrl-C); `clear()` when the request is over. */
export interface Deadline {
  signal: AbortSignal;
  /** The time ran out, as opposed to the caller's signal firing: the two are worded differently. */
  readonly expired: boolean;
  clear(): void;
}

export function deadline(ms: number, signal?: AbortSignal): Deadline {
  const timer = new AbortController();
  const timeout = setTimeout(() => timer.abort(), ms);
  return {
    signal: signal ? AbortSignal.any([signal, timer.signal]) : timer.signal,
    get expired() {
      return timer.signal.aborted;
    },
    clear: () => clearTimeout(timeout),
  };
}

export class HttpTransportError extends Error {
  readonly code: string | undefined;
  /** True when the failure happened before the request could have reached the server. */
  readonly beforeSend: boolean;
  constructor(message: string, code: string | undefined, beforeSend: boolean) {
    super(message);
    this.code = code;
    this.beforeSend = beforeSend;
  }
}

/** Set on errors raised while connecting: nothing of the request can have been sent. */
const CONNECT_FAILED = Symbol('connect failed');

const agents = new Map<AddressGuard | undefined, Dispatcher>();

/**
 * Connections to the API's origin at once. One by default: the CLI's requests follow
 * one another, and undici, asked again in the same tick as an answer was read, opens a
 * second socket rather than wait for the first to be free (measured: `run` opened 2,
 * a 200-item batch at concurrency 16 opened 31). A caller that works in parallel
 * (batch) raises it to its own concurrency.
 */
let apiConnections = 1;

export function allowApiConnections(n: number): void {
  if (n === apiConnections) return;
  apiConnections = n;
  const agent = agents.get(undefined);
  if (agent) {
    agents.delete(undefined);
    void agent.close().catch(() => {});
  }
}

/**
 * The connector every pool uses: undici's own (TLS loaded only for https), with
 * connection failures marked, and for checked pools a DNS lookup that refuses bad
 * addresses before connecting plus a check of the address actually reached.
 */
function connector(guard: AddressGuard | undefined): Connector {
  const base = buildConnector(guard ? { lookup: guard.lookup } : {});
  const check = guard?.check;
  return (opts, callback) => {
    base(opts, (err, socket) => {
      if (err) {
        (err as unknown as Record<symbol, boolean>)[CONNECT_FAILED] = true;
        callback(err, null);
        return;
      }
      const reached = (socket as Socket).remoteAddress;
      const refusal = check && reached !== undefined ? check(reached, opts.hostname) : undefined;
      if (refusal) {
        (socket as Socket).destroy();
        (refusal as unknown as Record<symbol, boolean>)[CONNECT_FAILED] = true;
        callback(refusal, null);
        return;
      }
      callback(null, socket as Socket);
    });
  };
}

function agentFor(guard: AddressGuard | undefined): Dispatcher {
  let agent = agents.get(guard);
  if (!agent) {
    agent = new Agent({
      connect: connector(guard),
      // File hosts are other origins, fetched one file at a time: no limit needed there.
      ...(guard ? {} : { connections: apiConnections }),
      keepAliveTimeout: 30_000,
      // The per-call deadlines are the caller's signal; these only back them up.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    agents.set(guard, agent);
  }
  return agent;
}

/** Drop pooled connections (the CLI exits right after; library users may call it). */
export function closeAgents(): void {
  for (const agent of agents.values()) void agent.destroy().catch(() => {});
  agents.clear();
}

/** Chunks this large always fill a socket's buffer, so undici waits for it to drain before asking for more. */
const REUSE_SAFE_CHUNK = 64 * 1024;

async function* handOver(body: AsyncIterable<Uint8Array>, failed: { error?: unknown }): AsyncGenerator<Uint8Array> {
  try {
    // A smaller chunk may still sit in the socket's buffer when the next is asked for:
    // copy it, so the producer can refill its buffer (only the head, tail and last piece).
    for await (const chunk of body) yield chunk.length >= REUSE_SAFE_CHUNK ? chunk : Buffer.from(chunk);
  } catch (err) {
    failed.error = err;
    throw err;
  }
}

export async function send(req: HttpRequest): Promise<HttpResponse> {
  const body = req.body;
  const failed: { error?: unknown } = {};
  try {
    const res = await request.call(agentFor(req.guard), {
      origin: req.url.origin,
      path: req.url.pathname + req.url.search,
      method: req.method,
      headers: req.headers,
      ...(body === undefined
        ? {}
        : { body: typeof body === 'string' || Buffer.isBuffer(body) ? body : handOver(body, failed) }),
      ...(req.signal ? { signal: req.signal } : {}),
    });
    return { status: res.statusCode, headers: res.headers, body: res.body as unknown as HttpResponse['body'] };
  } catch (err) {
    // The body's own failure (the file changed or vanished) is the error to report,
    // not the broken request it caused.
    if ('error' in failed) throw failed.error;
    if (req.signal?.aborted) throw err;
    const e = err as NodeJS.ErrnoException & Record<symbol, boolean>;
    throw new HttpTransportError(e?.message ?? String(err), e?.code, Boolean(e?.[CONNECT_FAILED]));
  }
}
