/**
 * A local AnyGen: a real HTTP server that speaks the whole wire contract
 * (shared/anygen-api.md), keeps state, serves real PNGs, checks what the service
 * checks, and misbehaves on request. Tests start it in-process on port 0; people
 * start it with `anygen-image sandbox`.
 *
 * This file is the server itself: connections, one dispatch through the route
 * table (routes.ts), API faults (faults.ts) and errors turned into answers.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { applyFault } from './faults.js';
import { HttpError, notFound, sendJson } from './http.js';
import { API_PREFIX, findRoute } from './routes.js';
import {
  type Received,
  type SandboxOptions,
  SandboxState,
  type SandboxStats,
  type TaskRecord,
  type UploadRecord,
} from './state.js';

export { parseDirectives } from './directives.js';
export { SANDBOX_KEY, type SandboxOptions, type SandboxStats, type TaskRecord, type UploadRecord } from './state.js';

export interface Sandbox {
  url: string;
  apiKey: string;
  server: Server;
  uploads: Map<string, UploadRecord>;
  tasks: Map<string, TaskRecord>;
  /** Bodies of every prepare, create and send-message, for tests of what the client sends. */
  received: Received[];
  stats: SandboxStats;
  addFaults(spec: string): void;
  close(): Promise<void>;
}

/** What a `badshape` fault answers on the API: JSON, but none of the fields in their types. */
const BAD_SHAPE = { success: true, status: 7, task: null, messages: 'none' };

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const state = new SandboxState(options);
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    dispatch(state, req, res).catch((err: unknown) => answerError(res, err));
  });
  server.on('connection', (socket) => {
    state.stats.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  state.base = `http://${host}:${address.port}`;

  return {
    url: state.base,
    apiKey: state.apiKey,
    server,
    uploads: state.uploads,
    tasks: state.tasks,
    received: state.received,
    stats: state.stats,
    addFaults: (spec) => state.addFaults(spec),
    close() {
      return new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      });
    },
  };
}

async function dispatch(state: SandboxState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  state.stats.requests++;
  const requestId = state.nextRequestId();
  res.setHeader('x-request-id', requestId);
  const url = new URL(req.url ?? '/', 'http://sandbox');
  const path = url.pathname;
  const method = req.method ?? 'GET';
  state.log?.(`${method} ${path} ${requestId}`);
  // A fault is taken for every API request, known endpoint or not, and before it is counted.
  if (path.startsWith(API_PREFIX) && (await applyFault(state.nextFault(method, path), res, BAD_SHAPE, state))) return;
  const found = findRoute(method, path);
  if (!found) throw notFound(`no such endpoint: ${method} ${path}`);
  if (found.route.name) state.countRoute(found.route.name);
  const params = found.params;
  await found.route.handler({ req, res, url, state, param: (i) => decodeURIComponent(params[i] ?? '') });
}

function answerError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const e = err instanceof HttpError ? err : new HttpError(500, 100005000, 'internal sandbox error');
  sendJson(res, e.status, { success: false, error: e.message, code: e.code });
}
