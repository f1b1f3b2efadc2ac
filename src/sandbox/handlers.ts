/**
 * One function per sandbox endpoint. Each gets the request, its route's captures
 * and the state; routing, request counting and API faults happened before (see
 * routes.ts and server.ts). A handler answers, or throws an HttpError that the
 * server turns into the service's error body.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { OPERATIONS as CONTRACT_OPERATIONS } from '../contract.js';
import { asksNoCredits, parseDirectives, saysReady } from './directives.js';
import { applyFileFault, parseFaults } from './faults.js';
import { badRequest, HttpError, parseMultipart, readBody, readJson, sendJson } from './http.js';
import { pictureFromPrompt } from './picture.js';
import { renderPicture } from './png.js';
import type { MessageRecord, SandboxState } from './state.js';

export interface Call {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  state: SandboxState;
  /** The route pattern's capture `index` (from 0), percent-decoded; a bad escape throws. */
  param(index: number): string;
}

export type Handler = (call: Call) => Promise<void> | void;

const OPERATIONS = new Set<string>(CONTRACT_OPERATIONS);

const QUESTIONS = [
  'What size should it be, and where will it be shown?',
  'Which colours and style do you have in mind?',
  'Any text that must appear on it?',
];

/** The key may come as a header or as `auth_token` in the body; either must match. */
function authorize({ req, state }: Call, body?: Record<string, unknown>): void {
  const header = req.headers.authorization;
  const token = typeof body?.auth_token === 'string' ? body.auth_token : undefined;
  const given = [header, token].filter((v): v is string => typeof v === 'string');
  if (given.length === 0) throw new HttpError(401, 100004004, 'login required: no API key given');
  const ok = given.some((v) => v === `Bearer ${state.apiKey}` || v === state.apiKey);
  if (!ok) throw new HttpError(401, 100004003, 'invalid API key');
}

/** Reads a JSON body and keeps it for tests of what the client sent, before any check can refuse it. */
async function receive(call: Call, route: string): Promise<Record<string, unknown>> {
  const body = await readJson(call.req, call.state.maxUpload);
  call.state.received.push({ route, headers: call.req.headers, body });
  return body;
}

/** The words of a message's content: a string, or the text parts of a list of parts. */
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

// ---------------------------------------------------------------- admin and pages (not in the contract)

export function adminState({ res, state }: Call): void {
  sendJson(res, 200, { stats: state.stats, uploads: [...state.uploads.values()], tasks: state.tasks.size });
}

export async function adminFaults({ req, res, state }: Call): Promise<void> {
  const spec = (await readBody(req, 64 * 1024, state.maxUpload)).toString('utf8');
  try {
    state.faults.push(...parseFaults(spec));
  } catch (err) {
    throw badRequest((err as Error).message);
  }
  sendJson(res, 200, { success: true, queued: state.faults.length });
}

export async function file({ req, res, state, param }: Call): Promise<void> {
  const taskId = param(0);
  const which = param(1);
  if (req.headers.authorization) state.stats.fileRequestsWithAuth++;
  const task = state.tasks.get(taskId);
  if (!task || (which !== 'image.png' && which !== 'thumbnail.png')) {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
    return;
  }
  const data = renderPicture(task.picture, which === 'image.png' ? undefined : 80);
  if (await applyFileFault(task.directives.fileFaults.shift(), res, data, state)) return;
  res.writeHead(200, { 'content-type': 'image/png', 'content-length': data.length });
  res.end(data);
}

export function taskPage({ res, url }: Call): void {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<html><body><h1>AnyGen sandbox task ${url.pathname.slice(6).replace(/[<>&"]/g, '')}</h1></body></html>`);
}

// ---------------------------------------------------------------- the API

export async function upload(call: Call): Promise<void> {
  const { req, res, state } = call;
  authorize(call);
  // Multipart overhead is small; anything well past the limit is refused before it is read.
  const raw = await readBody(req, state.maxUpload + 64 * 1024, state.maxUpload);
  const { name, data } = parseMultipart(req, raw, state.maxUpload);
  if (data.length === 0) throw badRequest('file is empty');
  const token = `tk_${randomBytes(8).toString('hex')}`;
  const record = { token, name, size: data.length, sha256: createHash('sha256').update(data).digest('hex') };
  state.uploads.set(token, record);
  sendJson(res, 200, { success: true, file_token: token, filename: name, file_size: data.length });
}

export async function prepare(call: Call): Promise<void> {
  const { res, state } = call;
  const body = await receive(call, 'prepare');
  authorize(call, body);
  const msgs = body.messages;
  if (!Array.isArray(msgs) || msgs.length === 0) throw badRequest('messages is required');
  for (const m of msgs) {
    if (!m || typeof m !== 'object' || typeof (m as { role?: unknown }).role !== 'string') {
      throw badRequest('each message needs a role and content');
    }
  }
  const tokens = state.checkTokens(body.file_tokens, 'file_tokens');
  let session = typeof body.prepare_session_id === 'string' ? state.sessions.get(body.prepare_session_id) : undefined;
  if (!session) {
    session = { id: `ps_${randomBytes(6).toString('hex')}`, turns: 0 };
    state.sessions.set(session.id, session);
  }
  session.turns++;
  const userTexts = msgs
    .filter((m) => (m as { role: string }).role === 'user')
    .map((m) => textOf((m as { content: unknown }).content));
  const last = userTexts[userTexts.length - 1] ?? '';
  const lastDirectives = parseDirectives(last);
  const echo = lastDirectives.echoKey ? ` (${state.echoed()})` : '';
  if (lastDirectives.fail) throw new HttpError(200, 100004005, `${lastDirectives.fail}${echo}`);
  const ready = userTexts.length >= state.prepareTurns || saysReady(last);
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
}

export async function create(call: Call): Promise<void> {
  const { res, state } = call;
  const body = await receive(call, 'create');
  authorize(call, body);
  if (typeof body.operation !== 'string' || !OPERATIONS.has(body.operation)) {
    throw badRequest('operation not allowed');
  }
  if (typeof body.prompt !== 'string' || body.prompt.trim() === '') throw badRequest('prompt is required');
  if (body.language !== undefined && body.language !== 'zh-CN' && body.language !== 'en-US') {
    throw badRequest('language must be zh-CN or en-US');
  }
  const fileTokens = state.checkTokens(body.file_tokens, 'file_tokens');
  if (asksNoCredits(body.prompt)) throw new HttpError(200, 100006029, 'not enough credits');
  const directives = parseDirectives(body.prompt);
  const id = directives.numericId ? String(randomBytes(6).readUIntBE(0, 6)) : `task_${randomBytes(8).toString('hex')}`;
  state.tasks.set(id, {
    id,
    operation: body.operation,
    prompt: body.prompt,
    ...(typeof body.language === 'string' ? { language: body.language } : {}),
    fileTokens,
    reads: 0,
    version: 0,
    picture: pictureFromPrompt(body.prompt),
    directives,
    body,
  });
  state.messages.set(id, []);
  sendJson(res, 200, {
    success: true,
    task_id: directives.numericId ? Number(id) : id,
    task_url: directives.taskUrl ?? `${state.base}/task/${id}`,
  });
}

export function verify(call: Call): void {
  authorize(call);
  sendJson(call.res, 200, { success: true, verified: true, credits: '1200', key_name: 'sandbox' });
}

export function task(call: Call): void {
  authorize(call);
  const record = call.state.taskOf(call.param(0));
  const view = call.state.taskView(record);
  record.reads++;
  sendJson(call.res, 200, view);
}

export async function sendMessage(call: Call): Promise<void> {
  const { res, state } = call;
  const body = await receive(call, 'send-message');
  authorize(call, body);
  const record = state.taskOf(call.param(0));
  if (typeof body.content !== 'string' || body.content.trim() === '') throw badRequest('content is required');
  if (body.files !== undefined) {
    if (!Array.isArray(body.files)) throw badRequest('files must be a list');
    state.checkTokens(
      body.files.map((f) => (f as { file_token?: unknown })?.file_token),
      'files',
    );
  }
  const list = state.messages.get(record.id) ?? [];
  const directives = parseDirectives(body.content);
  const user: MessageRecord = {
    id: state.nextMessageId(),
    role: 'user',
    content: body.content,
    status: 'completed',
    readsLeft: 0,
  };
  const assistant: MessageRecord = {
    id: state.nextMessageId(),
    role: 'assistant',
    content: '',
    status: 'running',
    readsLeft: directives.reads ?? state.replyReads,
    change: body.content,
    ...(directives.fail ? { fail: directives.fail } : {}),
    ...(directives.echoKey ? { echoKey: true } : {}),
  };
  list.push(user, assistant);
  state.messages.set(record.id, list);
  sendJson(res, 200, {
    success: true,
    message: { id: user.id, role: 'user', content: user.content },
    status: 'processing',
  });
}

export function messages(call: Call): void {
  const { url, state } = call;
  authorize(call);
  const record = state.taskOf(call.param(0));
  const limitText = url.searchParams.get('limit') ?? '10';
  const limit = Number(limitText);
  if (!/^\d+$/.test(limitText) || limit < 1 || limit > 100) throw badRequest('limit must be 1-100');
  const list = state.advanceReplies(record);
  const cursorText = url.searchParams.get('cursor');
  const end = cursorText === null ? list.length : Number(cursorText);
  if (!Number.isInteger(end) || end < 0 || end > list.length) throw badRequest('bad cursor');
  const start = Math.max(0, end - limit);
  const page = list.slice(start, end).map(({ id, role, content, status }) => ({ id, role, content, status }));
  sendJson(call.res, 200, {
    success: true,
    messages: page,
    task_snapshot: { status: 'completed', content_version: record.version, can_export: true },
    has_more: start > 0,
    cursor: start > 0 ? String(start) : null,
  });
}
