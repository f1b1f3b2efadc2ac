/**
 * AnyGenClient: one method per endpoint of the wire contract (shared/anygen-api.md).
 * Usable from code as well as from the CLI; it prints nothing.
 */

import { VERSION } from '../version.js';
import { usageError } from './errors.js';
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
import { type CallResult, Transport, type TransportOptions } from './transport.js';

export { DEFAULT_BASE_URL } from '../config.js';

import { DEFAULT_BASE_URL } from '../config.js';

export { OPERATIONS, type Operation, TRACKING_EXTRA } from '../contract.js';

import { TRACKING_EXTRA } from '../contract.js';

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

export function userAgent(): string {
  return `anygen-image/${VERSION} node/${process.versions.node}`;
}

export class AnyGenClient {
  readonly transport: Transport;

  constructor(options: ClientOptions) {
    this.transport = new Transport({
      ...options,
      baseUrl: options.baseUrl ?? DEFAULT_BASE_URL,
      userAgent: options.userAgent ?? userAgent(),
    });
  }

  get baseUrl(): URL {
    return this.transport.baseUrl;
  }

  /** Upload a file; it is checked first (exists, readable, not empty, ≤ 50 MB) and streamed. */
  async upload(path: string, opts: CallOptions = {}): Promise<CallResult<UploadAnswer>> {
    // Loaded here: the multipart code (and node:crypto) is for uploads only.
    const { checkUploadFile, multipartBody } = await import('./upload.js');
    const source = await checkUploadFile(path);
    return this.transport.call({
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
    return this.transport.call({
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
    return this.transport.call({
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
    return this.transport.call({
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
    return this.transport.call({
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
    return this.transport.call({
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
    return this.transport.call({
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
