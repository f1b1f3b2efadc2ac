/**
 * The HTTP layer: Node's own http/https with one keep-alive agent per process and
 * protocol, so a poll loop reuses its connection.
 *
 * Why not undici: its HTTP/1 parser is WebAssembly, and on Node 20 compiling and
 * tiering it up costs 150–350 ms in every process that makes a request (measured:
 * `create` took 4.4× `node -e 0` with undici, 1.5× with this). Agents call the CLI
 * once per step, so that cost would be paid on every step. See README, Performance.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { LookupFunction } from 'node:net';

export interface HttpRequest {
  url: URL;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  /**
   * A string or Buffer is sent as is. An iterable is written one chunk at a time, each
   * only after the previous one left for the socket, so its producer may reuse one
   * buffer (uploads); it must come with content-length set.
   */
  body?: string | Buffer | AsyncIterable<Uint8Array>;
  signal?: AbortSignal;
  /** A DNS lookup that may refuse addresses (downloads from untrusted hosts). */
  lookup?: LookupFunction;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
}

const agents = new Map<string, http.Agent>();

type Lib = typeof http | typeof import('node:https');

/** https (and with it TLS) is loaded only when a URL needs it: the sandbox is plain http. */
async function libFor(protocol: string): Promise<Lib> {
  return protocol === 'https:' ? await import('node:https') : http;
}

function agentFor(lib: Lib, protocol: string, lookup: LookupFunction | undefined): http.Agent {
  // A filtering lookup gets its own pool, so its sockets are never shared with the API's.
  const key = `${protocol}${lookup ? ':checked' : ''}`;
  let agent = agents.get(key);
  if (!agent) {
    agent = new lib.Agent({ keepAlive: true, maxSockets: 8, ...(lookup ? { lookup } : {}) });
    agents.set(key, agent);
  }
  return agent;
}

/** Drop pooled connections (the CLI exits right after; library users may call it). */
export function closeAgents(): void {
  for (const agent of agents.values()) agent.destroy();
  agents.clear();
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

export async function send(req: HttpRequest): Promise<HttpResponse> {
  const lib = await libFor(req.url.protocol);
  return new Promise((resolve, reject) => {
    const { url } = req;
    let connected = false;
    const outgoing = lib.request(
      {
        protocol: url.protocol,
        hostname: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port || undefined,
        path: url.pathname + url.search,
        method: req.method,
        headers: req.headers,
        agent: agentFor(lib, url.protocol, req.lookup),
        ...(req.signal ? { signal: req.signal } : {}),
      },
      (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res }),
    );
    outgoing.on('socket', (socket) => {
      // A reused socket is already connected; a new one says so when it is.
      if (!socket.connecting) connected = true;
      else socket.once('connect', () => (connected = true));
    });
    outgoing.on('error', (err: NodeJS.ErrnoException) => {
      reject(new HttpTransportError(err.message, err.code, !connected));
    });
    const body = req.body;
    if (body === undefined) outgoing.end();
    else if (typeof body === 'string' || Buffer.isBuffer(body)) outgoing.end(body);
    else {
      pump(body, outgoing).catch((err: Error) => {
        // The body's own failure (the file changed or vanished) is the error to report,
        // not the broken connection that destroying the request causes.
        reject(err);
        outgoing.destroy();
      });
    }
  });
}

async function pump(body: AsyncIterable<Uint8Array>, outgoing: http.ClientRequest): Promise<void> {
  for await (const chunk of body) {
    if (outgoing.destroyed) return;
    await new Promise<void>((resolve, reject) => {
      outgoing.write(chunk, (err) => (err ? reject(err) : resolve()));
    });
  }
  outgoing.end();
}
