/**
 * What the sandbox remembers: its settings, the records the API creates (uploads,
 * tasks, messages, prepare sessions), what it received, its counters and the
 * queued faults, and how a task looks when read. Handlers change it; nothing here
 * touches a socket.
 */
import type { IncomingMessage } from 'node:http';
import type { Directives } from './directives.js';
import { type Fault, parseFaults } from './faults.js';
import { badRequest, MB, notFound } from './http.js';
import { type PictureSpec, revisePicture } from './picture.js';

export const SANDBOX_KEY = 'sk-sandbox-0123456789';

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

export interface TaskRecord {
  id: string;
  operation: string;
  prompt: string;
  language?: string;
  fileTokens: string[];
  reads: number;
  version: number;
  /** What the task's files show now; each completed change request revises it. */
  picture: PictureSpec;
  directives: Directives;
  body: Record<string, unknown>;
}

export interface MessageRecord {
  id: number;
  role: 'user' | 'assistant';
  content: string;
  status: 'running' | 'completed' | 'failed';
  readsLeft: number;
  fail?: string;
  /** On an assistant reply: the user's request it answers, which shapes the next picture. */
  change?: string;
  echoKey?: boolean;
}

export interface PrepareSession {
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

export interface Received {
  route: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

/** A task's address for fault purposes: its own `[faults …]` apply to reads of it and of its messages. */
const TASK_PATH = /^\/v1\/openapi\/tasks\/([^/]+)(\/messages)?$/;

export class SandboxState {
  readonly apiKey: string;
  readonly readsToComplete: number;
  readonly replyReads: number;
  readonly prepareTurns: number;
  readonly maxUpload: number;
  readonly log: ((line: string) => void) | undefined;
  /** Faults for the next API requests, whatever they are, in order. */
  readonly faults: Fault[];
  readonly uploads = new Map<string, UploadRecord>();
  readonly tasks = new Map<string, TaskRecord>();
  readonly messages = new Map<string, MessageRecord[]>();
  readonly sessions = new Map<string, PrepareSession>();
  /** Bodies of every prepare, create and send-message, for tests of what the client sends. */
  readonly received: Received[] = [];
  readonly stats: SandboxStats = { connections: 0, requests: 0, fileRequestsWithAuth: 0, byRoute: {} };
  /** The origin it listens on, known once listening; addresses in answers start with it. */
  base = '';
  private requestCounter = 0;
  private messageCounter = 100;

  constructor(options: SandboxOptions) {
    this.apiKey = options.apiKey ?? SANDBOX_KEY;
    this.readsToComplete = options.readsToComplete ?? 3;
    this.replyReads = options.replyReads ?? 1;
    this.prepareTurns = options.prepareTurns ?? 2;
    this.maxUpload = options.maxUploadBytes ?? 50 * MB;
    this.log = options.log;
    this.faults = options.faults ? parseFaults(options.faults) : [];
  }

  addFaults(spec: string): void {
    this.faults.push(...parseFaults(spec));
  }

  nextRequestId(): string {
    return `req_sbx_${(++this.requestCounter).toString(16).padStart(6, '0')}`;
  }

  nextMessageId(): number {
    return ++this.messageCounter;
  }

  countRoute(name: string): void {
    this.stats.byRoute[name] = (this.stats.byRoute[name] ?? 0) + 1;
  }

  /** The fault for an API request: the next queued one, else for a read of a task, that task's own. */
  nextFault(method: string, path: string): Fault | undefined {
    const m = TASK_PATH.exec(path);
    const task = m && m[1] !== 'prepare' ? this.tasks.get(decodeURIComponent(m[1] as string)) : undefined;
    return this.faults.shift() ?? (method === 'GET' && task ? task.directives.faults.shift() : undefined);
  }

  taskOf(id: string): TaskRecord {
    const task = this.tasks.get(id);
    if (!task) throw notFound(`task not found: ${id}`);
    return task;
  }

  /** The tokens, when every one names an upload; absent means none. */
  checkTokens(tokens: unknown, field: string): string[] {
    if (tokens === undefined || tokens === null) return [];
    if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === 'string')) {
      throw badRequest(`${field} must be a list of file tokens`);
    }
    for (const t of tokens) if (!this.uploads.has(t)) throw badRequest(`unknown file token: ${t}`);
    return tokens;
  }

  /** The task as a read of it answers now (the read itself is counted by the caller). */
  /** What `[echo-key]` puts into an answer: the key bare and as the header carries it. */
  echoed(): string {
    return `key ${this.apiKey} (Bearer ${this.apiKey})`;
  }

  taskView(task: TaskRecord): Record<string, unknown> {
    const d = task.directives;
    const need = d.reads ?? this.readsToComplete;
    const view: Record<string, unknown> = { success: true, task_id: d.numericId ? Number(task.id) : task.id };
    if (task.reads < need) {
      view.status = `${task.reads === 0 ? 'pending' : 'processing'}${d.echoKey ? ` for ${this.echoed()}` : ''}`;
      view.progress = 'progress' in d ? d.progress : Math.min(95, Math.round((task.reads / need) * 100));
      return view;
    }
    if (d.cancelled) return { ...view, status: 'cancelled', progress: 0 };
    if (d.fail) {
      return { ...view, status: 'failed', progress: 100, error: `${d.fail}${d.echoKey ? ` ${this.echoed()}` : ''}` };
    }
    const name = d.fileName ?? (d.echoKey ? `${slug(task.prompt)}-${this.apiKey}.png` : `${slug(task.prompt)}.png`);
    const fileUrl = d.fileUrl ?? `${this.base}/files/${task.id}/image.png`;
    const output: Record<string, unknown> = {
      task_url: d.taskUrl ?? `${this.base}/task/${task.id}`,
      file_url: fileUrl,
      file_name: name,
      thumbnail_url: d.thumbnailUrl ?? `${this.base}/files/${task.id}/thumbnail.png`,
    };
    if (!d.legacy) {
      output.files = [{ url: fileUrl, name, expires_at: Math.floor(Date.now() / 1000) + 86_400 }];
    }
    return { ...view, status: 'completed', progress: 'progress' in d ? d.progress : 100, output };
  }

  /** A read of a task's messages moves each running reply on: one read closer, or finished. */
  advanceReplies(task: TaskRecord): MessageRecord[] {
    const list = this.messages.get(task.id) ?? [];
    for (const m of list) {
      if (m.role !== 'assistant' || m.status !== 'running') continue;
      if (m.readsLeft > 0) {
        m.readsLeft--;
        continue;
      }
      const echo = m.echoKey ? ` ${this.echoed()}` : '';
      if (m.fail) {
        m.status = 'failed';
        m.content = m.fail + echo;
      } else {
        m.status = 'completed';
        task.version++;
        task.picture = revisePicture(task.picture, m.change ?? '');
        m.content = `Done: I changed the image as you asked (version ${task.version}).${echo}`;
      }
    }
    return list;
  }
}

/** A file name from the prompt's first words, directives left out. */
export function slug(prompt: string): string {
  const words = prompt
    .replace(/\[[^\]]*\]/g, ' ')
    .toLowerCase()
    .match(/[a-z0-9]+/g);
  return (words ?? ['image']).slice(0, 4).join('-') || 'image';
}
