/**
 * A local AnyGen: a real HTTP server that speaks the whole wire contract
 * (shared/anygen-api.md), keeps state, serves real PNGs, checks what the service
 * checks, and misbehaves on request. Tests start it in-process on port 0; people
 * start it with `anygen-image sandbox`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { OPERATIONS as CONTRACT_OPERATIONS } from '../contract.js';
import { type Fault, parseFaults } from './faults.js';
import { renderPng } from './png.js';

export const SANDBOX_KEY = 'sk-sandbox-0123456789';
const MB = 1024 * 1024;

export interface SandboxOptions {
  port?: number;
  host?: string;
  /** The key it accepts (header or auth_token). */
  apiKey?: string;
  /** Reads of a task before it completes; 0 completes on the first read. */
  readsToComplete?: number;
  /** Reads of a task's messages before an assistant reply completes; 0 on the first. */
  replyReads?: number;
  /** User turns of the prepare dialogue before it is ready. */
  prepareTurns?: number;
  /** Faults for the next API requests, in order (see faults.ts). */
  faults?: string;
  maxUploadBytes?: number;
  /** Where to say what happens (one line per request); silent when absent. */
  log?: (line: string) => void;
}

export interface UploadRecord {
  token: string;
  name: string;
  size: number;
  sha256: string;
}

interface Directives {
  fail?: string;
  cancelled?: boolean;
  reads?: number;
  faults: Fault[];
  fileName?: string;
  fileUrl?: string;
  fileFaults: Fault[];
  legacy: boolean;
  /** Hostile answers, for tests of what the client trusts. */
  echoKey?: boolean;
  taskUrl?: string;
  thumbnailUrl?: string;
  progress?: unknown;
  numericId?: boolean;
}

export interface TaskRecord {
  id: string;
  operation: string;
  prompt: string;
  language?: string;
  fileTokens: string[];
  reads: number;
  version: number;
  directives: Directives;
  body: Record<string, unknown>;
}

interface MessageRecord {
  id: number;
  role: 'user' | 'assistant';
  content: string;
  status: 'running' | 'completed' | 'failed';
  readsLeft: number;
  fail?: string;
  echoKey?: boolean;
}

interface PrepareSession {
  id: string;
  turns: number;
}

export interface SandboxStats {
  connections: number;
  requests: number;
  /** Requests to file URLs that carried an Authorization header: must stay 0. */
  fileRequestsWithAuth: number;
  byRoute: Record<string, number>;
}

export interface Sandbox {
  url: string;
  apiKey: string;
  server: Server;
  uploads: Map<string, UploadRecord>;
  tasks: Map<string, TaskRecord>;
  /** Bodies of every prepare, create and send-message, for tests of what the client sends. */
  received: { route: string; headers: IncomingMessage['headers']; body: unknown }[];
  stats: SandboxStats;
  addFaults(spec: string): void;
  close(): Promise<void>;
}

/** `[word]` or `[word value]` in a prompt or a message turns on behaviour for that task. */
export function parseDirectives(text: string): Directives {
  const d: Directives = { faults: [], fileFaults: [], legacy: false };
  for (const m of text.matchAll(
    /\[(fail|cancelled|reads|faults|file-name|file-url|file-faults|legacy|echo-key|task-url|thumbnail-url|progress|numeric-id)(?:\s+([^\]]*))?\]/g,
  )) {
    const value = (m[2] ?? '').trim();
    switch (m[1]) {
      case 'fail':
        d.fail = value || 'The sandbox was asked to fail this task';
        break;
      case 'cancelled':
        d.cancelled = true;
        break;
      case 'reads':
        d.reads = Number(value);
        break;
      case 'faults':
        d.faults = parseFaults(value);
        break;
      case 'file-name':
        // A JSON string allows what a directive cannot hold plainly: trailing spaces, \u escapes.
        d.fileName = value.startsWith('"') ? (JSON.parse(value) as string) : value;
        break;
      case 'file-url':
        d.fileUrl = value;
        break;
      case 'file-faults':
        d.fileFaults = parseFaults(value);
        break;
      case 'legacy':
        d.legacy = true;
        break;
      case 'echo-key':
        d.echoKey = true;
        break;
      case 'task-url':
        d.taskUrl = value;
        break;
      case 'thumbnail-url':
        d.thumbnailUrl = value;
        break;
      case 'progress':
        // A number when it reads as one (-5, 150), else the text itself ("x").
        d.progress = value !== '' && Number.isFinite(Number(value)) ? Number(value) : value;
        break;
      case 'numeric-id':
        d.numericId = true;
        break;
    }
  }
  return d;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const OPERATIONS = new Set<string>(CONTRACT_OPERATIONS);

const QUESTIONS = [
  'What size should it be, and where will it be shown?',
  'Which colours and style do you have in mind?',
  'Any text that must appear on it?',
];

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const apiKey = options.apiKey ?? SANDBOX_KEY;
  const readsToComplete = options.readsToComplete ?? 3;
  const replyReads = options.replyReads ?? 1;
  const prepareTurns = options.prepareTurns ?? 2;
  const maxUpload = options.maxUploadBytes ?? 50 * MB;
  const log = options.log;
  const globalFaults: Fault[] = options.faults ? parseFaults(options.faults) : [];
  const uploads = new Map<string, UploadRecord>();
  const tasks = new Map<string, TaskRecord>();
  const messages = new Map<string, MessageRecord[]>();
  const sessions = new Map<string, PrepareSession>();
  const received: Sandbox['received'] = [];
  const stats: SandboxStats = { connections: 0, requests: 0, fileRequestsWithAuth: 0, byRoute: {} };
  const sockets = new Set<Socket>();
  let requestCounter = 0;
  let messageCounter = 100;
  let base = '';
  /** What `[echo-key]` puts into an answer: the key bare and as the header carries it. */
  const echoed = () => `key ${apiKey} (Bearer ${apiKey})`;

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        const e = err instanceof HttpError ? err : new HttpError(500, 100005000, 'internal sandbox error');
        sendJson(res, e.status, { success: false, error: e.message, code: e.code });
      } else {
        res.destroy();
      }
    });
  });
  server.on('connection', (socket) => {
    stats.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  }

  function authorized(req: IncomingMessage, body?: Record<string, unknown>): void {
    const header = req.headers.authorization;
    const token = typeof body?.auth_token === 'string' ? body.auth_token : undefined;
    const given = [header, token].filter((v): v is string => typeof v === 'string');
    if (given.length === 0) throw new HttpError(401, 100004004, 'login required: no API key given');
    const ok = given.some((v) => v === `Bearer ${apiKey}` || v === apiKey);
    if (!ok) throw new HttpError(401, 100004003, 'invalid API key');
  }

  async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > limit) throw new HttpError(413, 100004001, `file size exceeds ${Math.round(maxUpload / MB)}MB`);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > limit) throw new HttpError(413, 100004001, `file size exceeds ${Math.round(maxUpload / MB)}MB`);
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }

  async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
    const raw = await readBody(req, 4 * MB);
    try {
      const parsed = JSON.parse(raw.toString('utf8')) as unknown;
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      return parsed as Record<string, unknown>;
    } catch {
      throw new HttpError(400, 100004001, 'body must be a JSON object');
    }
  }

  /** Applies a fault; true when it answered (or dropped) instead of the real handler. */
  async function applyFault(fault: Fault | undefined, res: ServerResponse, shape: unknown): Promise<boolean> {
    if (!fault) return false;
    log?.(`  fault: ${JSON.stringify(fault)}`);
    switch (fault.type) {
      case 'status': {
        const headers: Record<string, string> = {};
        if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter);
        if (fault.status < 400) headers.location = `${base}/elsewhere`;
        sendJson(
          res,
          fault.status,
          { success: false, error: `sandbox fault: HTTP ${fault.status}`, code: faultCode(fault.status) },
          headers,
        );
        return true;
      }
      case 'drop':
        res.socket?.destroy();
        return true;
      case 'delay':
        await new Promise((r) => setTimeout(r, fault.ms));
        return res.destroyed;
      case 'nonjson':
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html><body>502 Bad Gateway</body></html>');
        return true;
      case 'empty':
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '0' });
        res.end();
        return true;
      case 'badshape':
        sendJson(res, 200, shape);
        return true;
      case 'short':
        // Headers and half an answer, then the connection goes: the request had arrived.
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
        res.write('{"success": true, "ta', () => res.socket?.destroy());
        return true;
      default:
        return false;
    }
  }

  function taskOf(id: string): TaskRecord {
    const task = tasks.get(id);
    if (!task) throw new HttpError(404, 100004002, `task not found: ${id}`);
    return task;
  }

  function checkTokens(tokens: unknown, field: string): string[] {
    if (tokens === undefined || tokens === null) return [];
    if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === 'string')) {
      throw new HttpError(400, 100004001, `${field} must be a list of file tokens`);
    }
    for (const t of tokens) if (!uploads.has(t)) throw new HttpError(400, 100004001, `unknown file token: ${t}`);
    return tokens;
  }

  function slug(prompt: string): string {
    const words = prompt
      .replace(/\[[^\]]*\]/g, ' ')
      .toLowerCase()
      .match(/[a-z0-9]+/g);
    return (words ?? ['image']).slice(0, 4).join('-') || 'image';
  }

  function taskView(task: TaskRecord): Record<string, unknown> {
    const need = task.directives.reads ?? readsToComplete;
    const d = task.directives;
    const view: Record<string, unknown> = { success: true, task_id: d.numericId ? Number(task.id) : task.id };
    if (task.reads < need) {
      view.status = `${task.reads === 0 ? 'pending' : 'processing'}${d.echoKey ? ` for ${echoed()}` : ''}`;
      view.progress = 'progress' in d ? d.progress : Math.min(95, Math.round((task.reads / need) * 100));
      return view;
    }
    if (task.directives.cancelled) return { ...view, status: 'cancelled', progress: 0 };
    if (task.directives.fail) {
      return { ...view, status: 'failed', progress: 100, error: `${d.fail}${d.echoKey ? ` ${echoed()}` : ''}` };
    }
    const name = d.fileName ?? (d.echoKey ? `${slug(task.prompt)}-${apiKey}.png` : `${slug(task.prompt)}.png`);
    const fileUrl = d.fileUrl ?? `${base}/files/${task.id}/image.png`;
    const thumb = d.thumbnailUrl ?? `${base}/files/${task.id}/thumbnail.png`;
    const output: Record<string, unknown> = {
      task_url: d.taskUrl ?? `${base}/task/${task.id}`,
      file_url: fileUrl,
      file_name: name,
      thumbnail_url: thumb,
    };
    if (!task.directives.legacy) {
      output.files = [{ url: fileUrl, name, expires_at: Math.floor(Date.now() / 1000) + 86_400 }];
    }
    return { ...view, status: 'completed', progress: 'progress' in d ? d.progress : 100, output };
  }

  async function serveFile(req: IncomingMessage, res: ServerResponse, taskId: string, which: string): Promise<void> {
    if (req.headers.authorization) stats.fileRequestsWithAuth++;
    const task = tasks.get(taskId);
    if (!task || (which !== 'image.png' && which !== 'thumbnail.png')) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    const data = renderPng(task.prompt, which === 'image.png' ? 320 : 80, task.version);
    const fault = task.directives.fileFaults.shift();
    if (fault?.type === 'short') {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': data.length + 1000 });
      res.write(data.subarray(0, Math.floor(data.length / 2)), () => res.socket?.destroy());
      return;
    }
    if (fault?.type === 'slow') {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': data.length });
      const pieces = 20;
      const step = Math.ceil(data.length / pieces);
      for (let i = 0; i < pieces && !res.destroyed; i++) {
        res.write(data.subarray(i * step, (i + 1) * step));
        await new Promise((r) => setTimeout(r, fault.ms / pieces));
      }
      res.end();
      return;
    }
    if (fault && (await applyFault(fault, res, {}))) return;
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': data.length });
    res.end(data);
  }

  function parseMultipart(req: IncomingMessage, raw: Buffer): { name: string; data: Buffer } {
    const type = req.headers['content-type'] ?? '';
    const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(type);
    if (!type.startsWith('multipart/form-data') || !boundary) {
      throw new HttpError(400, 100004001, 'expected multipart/form-data');
    }
    const delim = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
    let file: { name: string; data: Buffer } | undefined;
    let filenameField: string | undefined;
    let pos = raw.indexOf(delim);
    while (pos !== -1) {
      const start = pos + delim.length;
      if (raw.subarray(start, start + 2).toString() === '--') break;
      const headerEnd = raw.indexOf('\r\n\r\n', start);
      const next = raw.indexOf(delim, headerEnd);
      if (headerEnd === -1 || next === -1) break;
      const headers = raw.subarray(start + 2, headerEnd).toString('utf8');
      const data = raw.subarray(headerEnd + 4, next - 2);
      const field = /name="([^"]*)"/.exec(headers)?.[1];
      const filename = /filename="([^"]*)"/.exec(headers)?.[1];
      if (field === 'file') file = { name: filename ?? 'file', data };
      if (field === 'filename') filenameField = data.toString('utf8');
      pos = next;
    }
    if (!file) throw new HttpError(400, 100004001, 'the "file" part is required');
    if (file.data.length > maxUpload)
      throw new HttpError(413, 100004001, `file size exceeds ${Math.round(maxUpload / MB)}MB`);
    return { name: filenameField ?? file.name, data: file.data };
  }

  function textOf(content: unknown): string {
    if (typeof content === 'string') return content;
    if (Array.isArray(content)) {
      return content
        .map((p) =>
          p && typeof p === 'object' && (p as { type?: unknown }).type === 'text'
            ? String((p as { text?: unknown }).text ?? '')
            : '',
        )
        .join(' ');
    }
    return '';
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    stats.requests++;
    const requestId = `req_sbx_${(++requestCounter).toString(16).padStart(6, '0')}`;
    res.setHeader('x-request-id', requestId);
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    log?.(`${method} ${path} ${requestId}`);
    const route = (name: string) => {
      stats.byRoute[name] = (stats.byRoute[name] ?? 0) + 1;
    };

    // Admin routes: not part of the contract, for tests and the benchmark.
    if (path === '/__sandbox/state' && method === 'GET') {
      sendJson(res, 200, { stats, uploads: [...uploads.values()], tasks: tasks.size });
      return;
    }
    if (path === '/__sandbox/faults' && method === 'POST') {
      const spec = (await readBody(req, 64 * 1024)).toString('utf8');
      try {
        globalFaults.push(...parseFaults(spec));
      } catch (err) {
        throw new HttpError(400, 100004001, (err as Error).message);
      }
      sendJson(res, 200, { success: true, queued: globalFaults.length });
      return;
    }

    const file = /^\/files\/([^/]+)\/([^/]+)$/.exec(path);
    if (file && method === 'GET') {
      route('file');
      await serveFile(req, res, decodeURIComponent(file[1] as string), decodeURIComponent(file[2] as string));
      return;
    }
    if (path.startsWith('/task/') && method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<html><body><h1>AnyGen sandbox task ${path.slice(6).replace(/[<>&"]/g, '')}</h1></body></html>`);
      return;
    }
    if (!path.startsWith('/v1/openapi/')) {
      throw new HttpError(404, 100004002, `no such endpoint: ${method} ${path}`);
    }

    const taskMatch = /^\/v1\/openapi\/tasks\/([^/]+)(\/messages)?$/.exec(path);
    const taskForFaults =
      taskMatch && taskMatch[1] !== 'prepare' ? tasks.get(decodeURIComponent(taskMatch[1] as string)) : undefined;
    const isRead = method === 'GET';
    const fault =
      globalFaults.shift() ?? (isRead && taskForFaults ? taskForFaults.directives.faults.shift() : undefined);
    if (await applyFault(fault, res, { success: true, status: 7, task: null, messages: 'none' })) return;

    if (path === '/v1/openapi/files/upload' && method === 'POST') {
      route('upload');
      authorized(req);
      // Multipart overhead is small; anything well past the limit is refused before it is read.
      const raw = await readBody(req, maxUpload + 64 * 1024);
      const { name, data } = parseMultipart(req, raw);
      if (data.length === 0) throw new HttpError(400, 100004001, 'file is empty');
      const token = `tk_${randomBytes(8).toString('hex')}`;
      const record = { token, name, size: data.length, sha256: createHash('sha256').update(data).digest('hex') };
      uploads.set(token, record);
      sendJson(res, 200, { success: true, file_token: token, filename: name, file_size: data.length });
      return;
    }

    if (path === '/v1/openapi/tasks/prepare' && method === 'POST') {
      route('prepare');
      const body = await readJson(req);
      received.push({ route: 'prepare', headers: req.headers, body });
      authorized(req, body);
      const msgs = body.messages;
      if (!Array.isArray(msgs) || msgs.length === 0) throw new HttpError(400, 100004001, 'messages is required');
      for (const m of msgs) {
        if (!m || typeof m !== 'object' || typeof (m as { role?: unknown }).role !== 'string') {
          throw new HttpError(400, 100004001, 'each message needs a role and content');
        }
      }
      const tokens = checkTokens(body.file_tokens, 'file_tokens');
      let session = typeof body.prepare_session_id === 'string' ? sessions.get(body.prepare_session_id) : undefined;
      if (!session) {
        session = { id: `ps_${randomBytes(6).toString('hex')}`, turns: 0 };
        sessions.set(session.id, session);
      }
      session.turns++;
      const userTexts = msgs
        .filter((m) => (m as { role: string }).role === 'user')
        .map((m) => textOf((m as { content: unknown }).content));
      const last = userTexts[userTexts.length - 1] ?? '';
      const lastDirectives = parseDirectives(last);
      const echo = lastDirectives.echoKey ? ` (${echoed()})` : '';
      if (lastDirectives.fail) throw new HttpError(200, 100004005, `${lastDirectives.fail}${echo}`);
      const ready = userTexts.length >= prepareTurns || /just create|ready/i.test(last);
      const reply =
        (ready
          ? 'Thanks, I have what I need. Here is the plan for your image.'
          : (QUESTIONS[(userTexts.length - 1) % QUESTIONS.length] as string)) + echo;
      const suggested = {
        prompt: userTexts
          .map((t) => t.trim())
          .filter(Boolean)
          .join('. '),
        file_tokens: tokens,
      };
      sendJson(res, 200, {
        success: true,
        reply,
        status: ready ? 'ready' : 'collecting',
        messages: [...msgs, { role: 'assistant', content: reply }],
        prepare_session_id: session.id,
        suggested_task_params: ready ? suggested : null,
      });
      return;
    }

    if (path === '/v1/openapi/tasks' && method === 'POST') {
      route('create');
      const body = await readJson(req);
      received.push({ route: 'create', headers: req.headers, body });
      authorized(req, body);
      if (typeof body.operation !== 'string' || !OPERATIONS.has(body.operation)) {
        throw new HttpError(400, 100004001, 'operation not allowed');
      }
      if (typeof body.prompt !== 'string' || body.prompt.trim() === '')
        throw new HttpError(400, 100004001, 'prompt is required');
      if (body.language !== undefined && body.language !== 'zh-CN' && body.language !== 'en-US') {
        throw new HttpError(400, 100004001, 'language must be zh-CN or en-US');
      }
      const fileTokens = checkTokens(body.file_tokens, 'file_tokens');
      if (/\[no-credits\]/.test(body.prompt)) throw new HttpError(200, 100006029, 'not enough credits');
      const directives = parseDirectives(body.prompt);
      const id = directives.numericId
        ? String(randomBytes(6).readUIntBE(0, 6))
        : `task_${randomBytes(8).toString('hex')}`;
      tasks.set(id, {
        id,
        operation: body.operation,
        prompt: body.prompt,
        ...(typeof body.language === 'string' ? { language: body.language } : {}),
        fileTokens,
        reads: 0,
        version: 0,
        directives,
        body,
      });
      messages.set(id, []);
      sendJson(res, 200, {
        success: true,
        task_id: directives.numericId ? Number(id) : id,
        task_url: directives.taskUrl ?? `${base}/task/${id}`,
      });
      return;
    }

    if (path === '/v1/openapi/key/verify' && method === 'GET') {
      route('verify');
      authorized(req);
      sendJson(res, 200, { success: true, verified: true, credits: '1200', key_name: 'sandbox' });
      return;
    }

    if (taskMatch && !taskMatch[2] && method === 'GET') {
      route('task');
      authorized(req);
      const task = taskOf(decodeURIComponent(taskMatch[1] as string));
      const view = taskView(task);
      task.reads++;
      sendJson(res, 200, view);
      return;
    }

    if (taskMatch?.[2] && method === 'POST') {
      route('send-message');
      const body = await readJson(req);
      received.push({ route: 'send-message', headers: req.headers, body });
      authorized(req, body);
      const task = taskOf(decodeURIComponent(taskMatch[1] as string));
      if (typeof body.content !== 'string' || body.content.trim() === '')
        throw new HttpError(400, 100004001, 'content is required');
      if (body.files !== undefined) {
        if (!Array.isArray(body.files)) throw new HttpError(400, 100004001, 'files must be a list');
        checkTokens(
          body.files.map((f) => (f as { file_token?: unknown })?.file_token),
          'files',
        );
      }
      const list = messages.get(task.id) ?? [];
      const directives = parseDirectives(body.content);
      const user: MessageRecord = {
        id: ++messageCounter,
        role: 'user',
        content: body.content,
        status: 'completed',
        readsLeft: 0,
      };
      const assistant: MessageRecord = {
        id: ++messageCounter,
        role: 'assistant',
        content: '',
        status: 'running',
        readsLeft: directives.reads ?? replyReads,
        ...(directives.fail ? { fail: directives.fail } : {}),
        ...(directives.echoKey ? { echoKey: true } : {}),
      };
      list.push(user, assistant);
      messages.set(task.id, list);
      sendJson(res, 200, {
        success: true,
        message: { id: user.id, role: 'user', content: user.content },
        status: 'processing',
      });
      return;
    }

    if (taskMatch?.[2] && method === 'GET') {
      route('messages');
      authorized(req);
      const task = taskOf(decodeURIComponent(taskMatch[1] as string));
      const limitText = url.searchParams.get('limit') ?? '10';
      const limit = Number(limitText);
      if (!/^\d+$/.test(limitText) || limit < 1 || limit > 100)
        throw new HttpError(400, 100004001, 'limit must be 1-100');
      const list = messages.get(task.id) ?? [];
      for (const m of list) {
        if (m.role !== 'assistant' || m.status !== 'running') continue;
        if (m.readsLeft > 0) {
          m.readsLeft--;
          continue;
        }
        const echo = m.echoKey ? ` ${echoed()}` : '';
        if (m.fail) {
          m.status = 'failed';
          m.content = m.fail + echo;
        } else {
          m.status = 'completed';
          task.version++;
          m.content = `Done: I changed the image as you asked (version ${task.version}).${echo}`;
        }
      }
      const cursorText = url.searchParams.get('cursor');
      const end = cursorText === null ? list.length : Number(cursorText);
      if (!Number.isInteger(end) || end < 0 || end > list.length) throw new HttpError(400, 100004001, 'bad cursor');
      const start = Math.max(0, end - limit);
      const page = list.slice(start, end).map(({ id, role, content, status }) => ({ id, role, content, status }));
      sendJson(res, 200, {
        success: true,
        messages: page,
        task_snapshot: { status: 'completed', content_version: task.version, can_export: true },
        has_more: start > 0,
        cursor: start > 0 ? String(start) : null,
      });
      return;
    }

    throw new HttpError(404, 100004002, `no such endpoint: ${method} ${path}`);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  base = `http://${host}:${address.port}`;

  return {
    url: base,
    apiKey,
    server,
    uploads,
    tasks,
    received,
    stats,
    addFaults(spec: string) {
      globalFaults.push(...parseFaults(spec));
    },
    close() {
      return new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      });
    },
  };
}

/** The server code a real answer with this status would carry. */
function faultCode(status: number): number | undefined {
  if (status === 429) return 100004006;
  return status >= 500 ? 100005001 : undefined;
}
