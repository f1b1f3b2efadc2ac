/**
 * AnyGenClient: one method per endpoint of the wire contract (shared/anygen-api.md).
 * Usable from code as well as from the CLI; it prints nothing.
 */

import { AnyGenError, usageError } from '../errors.js';
import { cleanText } from '../render/output.js';
import { VERSION } from '../version.js';
import { allowApiConnections } from './http.js';
import {
  CreateAnswer,
  MessagesPage,
  PrepareAnswer,
  type PrepareMessage,
  SendMessageAnswer,
  Task,
  UploadAnswer,
  VerifyAnswer,
} from './schemas.js';
import { type CallResult, type CallSpec, type RequestLog, Transport, type TransportOptions } from './transport.js';

export { DEFAULT_BASE_URL, OPERATIONS, type Operation, TRACKING_EXTRA } from '../contract.js';

import { DEFAULT_BASE_URL, TRACKING_EXTRA } from '../contract.js';
import type { Downloaded } from './download.js';

export interface ClientOptions extends Omit<TransportOptions, 'baseUrl' | 'userAgent'> {
  baseUrl?: string;
  userAgent?: string;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** Tries after the first for calls that are safe to repeat. */
  retries?: number;
  timeoutCapMs?: number;
}

export interface PrepareRequest {
  messages: PrepareMessage[];
  fileTokens?: string[];
  prepareSessionId?: string | null;
  baseSuggestedTaskParams?: Record<string, unknown> | null;
}

export interface CreateTaskRequest {
  operation: string;
  prompt: string;
  language?: string;
  exportFormat?: string;
  fileTokens?: string[];
}

export interface SendMessageRequest {
  content: string;
  fileTokens?: string[];
}

export interface GetMessagesRequest {
  limit?: number;
  cursor?: string;
}

/** Task ids go into URL paths: anything that could change the path is refused locally. */
export function checkTaskId(id: string): string {
  if (id.length === 0) throw usageError('--task-id is empty');
  if (id.length > 128) throw usageError(`--task-id is ${id.length} characters long; at most 128 are accepted`);
  if (!/^[A-Za-z0-9_.:-]+$/.test(id) || id.includes('..') || id === '.') {
    throw usageError(
      `--task-id ${JSON.stringify(id)} is not a task id`,
      'Task ids hold only letters, digits, "-", "_", "." and ":", as printed by create.',
    );
  }
  return id;
}

/** `anygen-image/0.1.0 node/20.18.1`; the Node version comes from the caller (the process edge). */
export function userAgent(nodeVersion?: string): string {
  return `anygen-image/${VERSION}${nodeVersion ? ` node/${nodeVersion}` : ''}`;
}

/** A file a task offers, as the service named it. */
export interface FileToFetch {
  url: string;
  name: string | null;
}

export class AnyGenClient {
  readonly transport: Transport;

  constructor(options: ClientOptions) {
    const onRequest = options.onRequest;
    this.transport = new Transport({
      ...options,
      baseUrl: options.baseUrl ?? DEFAULT_BASE_URL,
      // The CLI passes its User-Agent in from the process edge; used as a library, the
      // client names the Node version itself.
      userAgent: options.userAgent ?? userAgent(process.versions.node),
      // The request id is a header the server chose: it may carry the key too.
      ...(onRequest ? { onRequest: (log: RequestLog) => onRequest(this.redactLog(log)) } : {}),
    });
  }

  get baseUrl(): URL {
    return this.transport.baseUrl;
  }

  /**
   * Lets this many requests to the API run at once, each on its own connection (one by
   * default). For callers that work in parallel, before their first request.
   */
  allowConnections(n: number): void {
    allowApiConnections(n);
  }

  /**
   * Server text with this client's key taken out, before it is shown or saved. A key
   * broken up by escape sequences or bidi controls (which a terminal does not show, so
   * it reads whole) is taken out too, with what broke it up.
   */
  redact(text: string): string {
    const redacted = this.transport.redact(text);
    const clean = cleanText(redacted);
    if (clean === redacted) return redacted;
    const cleanRedacted = this.transport.redact(clean);
    return cleanRedacted === clean ? redacted : cleanRedacted;
  }

  /**
   * Every string of an answer (keys included) with the key taken out: a service that
   * echoes the key (in a reply, a message, a file name, a URL) cannot get it printed
   * or saved, by any command, in any output mode.
   */
  redactAll<T>(value: T): T {
    return redactDeep(value, (text) => this.redact(text)) as T;
  }

  /**
   * Each call's answer and error, redacted once here rather than at each place that
   * shows or saves them.
   */
  private async call<T>(spec: CallSpec<T>): Promise<CallResult<T>> {
    let result: CallResult<T>;
    try {
      result = await this.transport.call(spec);
    } catch (err) {
      throw err instanceof AnyGenError ? this.redactError(err) : err;
    }
    return {
      ...result,
      data: this.redactAll(result.data),
      requestId: result.requestId === undefined ? undefined : this.redact(result.requestId),
    };
  }

  private redactError(err: AnyGenError): AnyGenError {
    const message = this.redact(err.message);
    const hint = err.hint === undefined ? undefined : this.redact(err.hint);
    const requestId = err.requestId === undefined ? undefined : this.redact(err.requestId);
    if (message === err.message && hint === err.hint && requestId === err.requestId) return err;
    return err.with({
      message,
      ...(hint !== undefined ? { hint } : {}),
      ...(requestId !== undefined ? { requestId } : {}),
    });
  }

  private redactLog(log: RequestLog): RequestLog {
    return {
      ...log,
      ...(log.requestId !== undefined ? { requestId: this.redact(log.requestId) } : {}),
      ...(log.error !== undefined ? { error: this.redact(log.error) } : {}),
    };
  }

  /**
   * Save one file a task offers into `outputDir`. Files may live on another host: the
   * key is never sent there, and private or loopback addresses are refused unless they
   * are the API's own origin.
   */
  async download(
    file: FileToFetch,
    outputDir: string,
    opts: { signal?: AbortSignal; suffix?: string } = {},
  ): Promise<Downloaded> {
    // DNS, sockets and streams for untrusted hosts are loaded only when there is something to fetch.
    const { downloadFile } = await import('./download.js');
    return downloadFile({
      url: file.url,
      name: file.name,
      outputDir,
      policy: { trustedOrigin: this.baseUrl.origin },
      userAgent: this.transport.userAgent,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.suffix ? { suffix: opts.suffix } : {}),
    });
  }

  /** Upload a file; it is checked first (exists, readable, not empty, ≤ 50 MB) and streamed. */
  async upload(path: string, opts: CallOptions = {}): Promise<CallResult<UploadAnswer>> {
    // Loaded here: the multipart code (and node:crypto) is for uploads only.
    const { checkUploadFile, multipartBody } = await import('./upload.js');
    const source = await checkUploadFile(path);
    return this.call({
      endpoint: 'upload',
      method: 'POST',
      path: '/v1/openapi/files/upload',
      body: () => multipartBody(source),
      schema: UploadAnswer,
      timeout: 'upload',
      idempotent: true,
      ...callOpts(opts),
    });
  }

  async prepare(req: PrepareRequest, opts: CallOptions = {}): Promise<CallResult<PrepareAnswer>> {
    const json: Record<string, unknown> = {
      auth_token: this.transport.authToken,
      messages: req.messages,
    };
    if (req.fileTokens && req.fileTokens.length > 0) json.file_tokens = req.fileTokens;
    if (req.prepareSessionId) json.prepare_session_id = req.prepareSessionId;
    if (req.baseSuggestedTaskParams) json.base_suggested_task_params = req.baseSuggestedTaskParams;
    json.extra = TRACKING_EXTRA;
    return this.call({
      endpoint: 'prepare',
      method: 'POST',
      path: '/v1/openapi/tasks/prepare',
      json,
      schema: PrepareAnswer,
      timeout: 'prepare',
      idempotent: false,
      ...callOpts(opts),
    });
  }

  async createTask(req: CreateTaskRequest, opts: CallOptions = {}): Promise<CallResult<CreateAnswer>> {
    const json: Record<string, unknown> = {
      auth_token: this.transport.authToken,
      operation: req.operation,
      prompt: req.prompt,
    };
    if (req.language) json.language = req.language;
    if (req.exportFormat) json.export_format = req.exportFormat;
    if (req.fileTokens && req.fileTokens.length > 0) json.file_tokens = req.fileTokens;
    json.extra = TRACKING_EXTRA;
    return this.call({
      endpoint: 'create task',
      method: 'POST',
      path: '/v1/openapi/tasks',
      json,
      schema: CreateAnswer,
      timeout: 'create',
      idempotent: false,
      ...callOpts(opts),
    });
  }

  async getTask(taskId: string, opts: CallOptions = {}): Promise<CallResult<Task>> {
    return this.call({
      endpoint: 'get task',
      method: 'GET',
      path: `/v1/openapi/tasks/${encodeURIComponent(checkTaskId(taskId))}`,
      schema: Task,
      timeout: 'read',
      idempotent: true,
      ...callOpts(opts),
    });
  }

  async sendMessage(
    taskId: string,
    req: SendMessageRequest,
    opts: CallOptions = {},
  ): Promise<CallResult<SendMessageAnswer>> {
    const json: Record<string, unknown> = { auth_token: this.transport.authToken, content: req.content };
    if (req.fileTokens && req.fileTokens.length > 0) {
      json.files = req.fileTokens.map((file_token) => ({ file_token }));
    }
    json.extra = TRACKING_EXTRA;
    return this.call({
      endpoint: 'send message',
      method: 'POST',
      path: `/v1/openapi/tasks/${encodeURIComponent(checkTaskId(taskId))}/messages`,
      json,
      schema: SendMessageAnswer,
      timeout: 'create',
      idempotent: false,
      ...callOpts(opts),
    });
  }

  async getMessages(
    taskId: string,
    req: GetMessagesRequest = {},
    opts: CallOptions = {},
  ): Promise<CallResult<MessagesPage>> {
    return this.call({
      endpoint: 'get messages',
      method: 'GET',
      path: `/v1/openapi/tasks/${encodeURIComponent(checkTaskId(taskId))}/messages`,
      query: { limit: req.limit ?? 10, cursor: req.cursor },
      schema: MessagesPage,
      timeout: 'read',
      idempotent: true,
      ...callOpts(opts),
    });
  }

  async verifyKey(opts: CallOptions = {}): Promise<CallResult<VerifyAnswer>> {
    return this.call({
      endpoint: 'verify key',
      method: 'GET',
      path: '/v1/openapi/key/verify',
      schema: VerifyAnswer,
      timeout: 'read',
      idempotent: true,
      ...callOpts(opts),
    });
  }
}

function callOpts(opts: CallOptions): Pick<CallOptions, 'signal' | 'retries' | 'timeoutCapMs'> {
  return {
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.retries !== undefined ? { retries: opts.retries } : {}),
    ...(opts.timeoutCapMs !== undefined ? { timeoutCapMs: opts.timeoutCapMs } : {}),
  };
}

/** A parsed JSON value with `redact` applied to every string and every key. */
function redactDeep(value: unknown, redact: (text: string) => string): unknown {
  if (typeof value === 'string') return redact(value);
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, redact));
  if (value !== null && typeof value === 'object') {
    // fromEntries defines own properties: a "__proto__" key stays a plain key.
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [redact(k), redactDeep(v, redact)]));
  }
  return value;
}
