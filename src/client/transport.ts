/**
 * Calls to the AnyGen API: no redirects, per-call timeouts, retries only where safe,
 * answers checked against a schema, and every failure turned into an AnyGenError
 * that carries the request id and never the key.
 */
import type * as z from 'zod/mini';
import { AnyGenError, type ErrorKind, interrupted, isTransient, kindForServerCode } from '../errors.js';
import { abortableSleep } from '../sleep.js';
import { deadline, type HttpHeaders, HttpTransportError, send } from './http.js';
import { describeIssue } from './schemas.js';

export interface Timeouts {
  upload: number;
  prepare: number;
  create: number;
  read: number;
}

/** Milliseconds, as the reference client uses them. */
export const DEFAULT_TIMEOUTS: Timeouts = {
  upload: 60_000,
  prepare: 120_000,
  create: 30_000,
  read: 30_000,
};

/** One line per request for `--verbose`; carries no key and no body. */
export interface RequestLog {
  method: string;
  url: string;
  status?: number;
  requestId?: string;
  ms: number;
  error?: string;
  attempt: number;
}

export interface RetryPolicy {
  /** Further tries after the first. */
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 2, baseDelayMs: 500, maxDelayMs: 8_000 };

/** All the time a one-shot read may take, retries and the waits between them included. */
export const DEFAULT_READ_DEADLINE_MS = 60_000;

/** A retry is made only if at least this long (or the whole per-try timeout, if shorter) is left for it. */
const MIN_TRY_MS = 1_000;

/**
 * The time arithmetic of one call: each try gets its per-try timeout, capped by the
 * caller's cap (a wait's deadline) and by what is left of the call's own deadline, and
 * a retry is made only while it leaves time for a try worth making.
 */
export class CallBudget {
  private readonly started: number;
  private readonly perTryMs: number;
  private readonly capMs: number | undefined;
  private readonly deadlineMs: number | undefined;

  constructor(opts: { perTryMs: number; capMs?: number | undefined; deadlineMs?: number | undefined }, now: number) {
    this.started = now;
    this.perTryMs = opts.perTryMs;
    this.capMs = opts.capMs;
    this.deadlineMs = opts.deadlineMs;
  }

  get bounded(): boolean {
    return this.deadlineMs !== undefined;
  }

  elapsed(now: number): number {
    return now - this.started;
  }

  /** How long the next try may take. */
  tryMs(now: number): number {
    const left = this.deadlineMs === undefined ? Infinity : this.deadlineMs - this.elapsed(now);
    return Math.max(1, Math.min(this.perTryMs, this.capMs ?? Infinity, left));
  }

  /** Whether waiting `waitMs` still leaves time for another try before the deadline. */
  mayRetry(now: number, waitMs: number): boolean {
    if (this.deadlineMs === undefined) return true;
    const left = this.deadlineMs - this.elapsed(now) - waitMs;
    return left >= Math.min(MIN_TRY_MS, this.perTryMs);
  }
}

/** The wait before try `attempt + 1`: the server's Retry-After, or a doubling back-off. */
export function retryDelayMs(attempt: number, policy: RetryPolicy, retryAfterSeconds?: number): number {
  if (retryAfterSeconds !== undefined) return Math.min(retryAfterSeconds * 1000, 60_000);
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
}

export interface TransportOptions {
  baseUrl: string;
  apiKey: string;
  userAgent: string;
  headers?: Record<string, string>;
  timeouts?: Partial<Timeouts>;
  retry?: Partial<RetryPolicy>;
  /**
   * All the time a one-shot read (a `read` call that no wait caps: verify, get-messages,
   * the task read before a download) may take, retries included. Default 60 s.
   */
  readDeadlineMs?: number;
  onRequest?: (log: RequestLog) => void;
  /** For tests: how to wait between retries. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface CallSpec<T> {
  /** Names the call in errors: `create task`, `get task`, … */
  endpoint: string;
  method: 'GET' | 'POST';
  path: string;
  query?: Record<string, string | number | undefined>;
  json?: unknown;
  /** A body made fresh for each try (uploads stream from disk). */
  body?: () => { stream: AsyncIterable<Uint8Array>; length: number; contentType: string };
  /** Built on first use (see schemas.ts). */
  schema: () => z.ZodMiniType<T>;
  timeout: keyof Timeouts;
  /**
   * Safe to repeat once the request may have reached the server. Create, prepare and
   * send-message are not: a repeat could spend credits or post a message twice.
   */
  idempotent: boolean;
  signal?: AbortSignal;
  /** Overrides the policy's retry count for this call (the wait loop retries itself). */
  retries?: number;
  /** Caps this call's timeout, so that one read cannot outlast a wait's deadline. */
  timeoutCapMs?: number;
}

export interface CallResult<T> {
  data: T;
  requestId: string | undefined;
  status: number;
}

/** Largest API answer we read; anything bigger is not the contract. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

export function bearer(apiKey: string): string {
  return apiKey.startsWith('Bearer ') ? apiKey : `Bearer ${apiKey}`;
}

export class Transport {
  readonly baseUrl: URL;
  private readonly origin: string;
  private readonly prefix: string;
  private readonly apiKey: string;
  private readonly headers: Record<string, string>;
  private readonly timeouts: Timeouts;
  private readonly retry: RetryPolicy;
  private readonly readDeadlineMs: number;
  private readonly opts: TransportOptions;

  constructor(opts: TransportOptions) {
    this.opts = opts;
    this.baseUrl = new URL(opts.baseUrl);
    this.origin = this.baseUrl.origin;
    this.prefix = this.baseUrl.pathname.replace(/\/+$/, '');
    this.apiKey = opts.apiKey;
    this.headers = opts.headers ?? {};
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.readDeadlineMs = opts.readDeadlineMs ?? DEFAULT_READ_DEADLINE_MS;
  }

  get userAgent(): string {
    return this.opts.userAgent;
  }

  get authToken(): string {
    return bearer(this.apiKey);
  }

  /** Removes the key from text that came back from the server or from a library. */
  redact(text: string): string {
    const raw = this.apiKey.replace(/^Bearer /, '');
    if (raw.length < 4) return text;
    return text.split(raw).join('sk-***');
  }

  async call<T>(spec: CallSpec<T>): Promise<CallResult<T>> {
    const retries = spec.retries ?? this.retry.retries;
    const sleep = this.opts.sleep ?? abortableSleep;
    // A wait caps each read itself and retries on its own clock; a one-shot read has only this deadline.
    const oneShot = spec.timeout === 'read' && spec.timeoutCapMs === undefined;
    const budget = new CallBudget(
      {
        perTryMs: this.timeouts[spec.timeout],
        capMs: spec.timeoutCapMs,
        deadlineMs: oneShot ? this.readDeadlineMs : undefined,
      },
      Date.now(),
    );
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(spec, attempt, budget.tryMs(Date.now()));
      } catch (err) {
        if (!(err instanceof AnyGenError)) throw err;
        const mayRepeat = spec.idempotent ? err.retryable : err.retryable && !err.sent;
        const wait = retryDelayMs(attempt, this.retry, err.retryAfter);
        if (!mayRepeat || attempt > retries || spec.signal?.aborted || !budget.mayRetry(Date.now(), wait)) {
          throw giveUp(err, spec, budget, attempt);
        }
        await sleep(wait, spec.signal);
        if (spec.signal?.aborted) throw interrupted(spec.endpoint);
      }
    }
  }

  private async once<T>(spec: CallSpec<T>, attempt: number, timeoutMs: number): Promise<CallResult<T>> {
    const limit = deadline(timeoutMs, spec.signal);
    const path = this.prefix + spec.path + queryString(spec.query);
    // Date.now, not performance.now: the latter loads perf_hooks on first use.
    const started = Date.now();
    const log = (extra: Partial<RequestLog>) =>
      this.opts.onRequest?.({
        method: spec.method,
        url: this.origin + path,
        ms: Date.now() - started,
        attempt,
        ...extra,
      });

    let res: Awaited<ReturnType<typeof send>>;
    let raw: Buffer;
    try {
      res = await send({
        url: new URL(this.origin + path),
        method: spec.method,
        ...this.content(spec),
        signal: limit.signal,
      });
      // The timer runs until the last byte: a body that stalls or trickles is a timeout too.
      raw = await readBytes(res.body, MAX_ANSWER_BYTES);
    } catch (err) {
      const error = this.transportError(err, spec, timeoutMs, limit.expired);
      log({ error: error.message });
      throw error;
    } finally {
      limit.clear();
    }

    const requestId = headerValue(res.headers['x-request-id']);
    log({ status: res.status, ...(requestId ? { requestId } : {}) });
    const text = await this.decoded(spec, res.status, res.headers, raw, requestId);
    return this.interpret(spec, res.status, res.headers, text, requestId);
  }

  /** The request's headers and body. */
  private content(spec: CallSpec<unknown>): {
    headers: Record<string, string>;
    body?: string | AsyncIterable<Uint8Array>;
  } {
    const headers: Record<string, string> = {
      ...this.headers,
      'user-agent': this.opts.userAgent,
      accept: 'application/json',
      authorization: this.authToken,
    };
    if (spec.json !== undefined) {
      const body = JSON.stringify(spec.json);
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
      return { headers, body };
    }
    if (spec.body) {
      const made = spec.body();
      headers['content-type'] = made.contentType;
      headers['content-length'] = String(made.length);
      return { headers, body: made.stream };
    }
    return { headers };
  }

  /** The answer's text, with its Content-Encoding (gzip, deflate) undone. */
  private async decoded(
    spec: CallSpec<unknown>,
    status: number,
    headers: HttpHeaders,
    raw: Buffer,
    requestId: string | undefined,
  ): Promise<string> {
    const encodings = contentEncodings(headerValue(headers['content-encoding']));
    if (encodings.length === 0 || raw.length === 0) return raw.toString('utf8');
    try {
      // zlib is loaded only when a compressed answer arrives.
      const { decode } = await import('./decode.js');
      return (await decode(raw, encodings, MAX_ANSWER_BYTES)).toString('utf8');
    } catch (err) {
      const where = `${spec.endpoint} (${spec.method} ${spec.path.split('?')[0]})`;
      const detail = err instanceof Error ? this.redact(err.message) : String(err);
      throw new AnyGenError({
        status,
        endpoint: spec.endpoint,
        ...(requestId ? { requestId } : {}),
        kind: 'protocol',
        message: `${where} answered with a body that could not be decoded: ${detail} (HTTP ${status}${requestId ? `, request id ${requestId}` : ''})`,
        retryable: false,
      });
    }
  }

  private interpret<T>(
    spec: CallSpec<T>,
    status: number,
    headers: HttpHeaders,
    text: string,
    requestId: string | undefined,
  ): CallResult<T> {
    const where = `${spec.endpoint} (${spec.method} ${spec.path.split('?')[0]})`;
    const tail = (extra: string[] = []) => {
      const parts = [`HTTP ${status}`, ...extra];
      if (requestId) parts.push(`request id ${requestId}`);
      return ` (${parts.join(', ')})`;
    };
    const base = { status, endpoint: spec.endpoint, ...(requestId ? { requestId } : {}) };

    if (status >= 300 && status < 400) {
      throw new AnyGenError({
        ...base,
        kind: 'protocol',
        message: `${where} answered with a redirect, which is not followed for API calls${tail()}`,
        hint: 'Check ANYGEN_BASE_URL: it should be the API origin, such as https://www.anygen.io',
      });
    }

    let parsed: unknown;
    let isJson = false;
    if (text.trim() !== '') {
      try {
        parsed = JSON.parse(text);
        isJson = true;
      } catch {
        // Reported below with the status.
      }
    }

    const serverMessage = isJson ? errorText(parsed) : undefined;
    const serverCode = isJson ? errorCode(parsed) : undefined;
    // The service says no in two shapes: a status other than 200, or a 200 with success:false.
    const refusal = (verb: string, what: string): AnyGenError => {
      const kind: ErrorKind = kindForServerCode(serverCode, status);
      const retryAfter = parseRetryAfter(headerValue(headers['retry-after']));
      return new AnyGenError({
        ...base,
        kind,
        message: `${where} ${verb}: ${this.redact(what)}${tail(serverCode !== undefined ? [`code ${serverCode}`] : [])}`,
        ...(serverCode !== undefined ? { code: serverCode } : {}),
        ...hintFor(kind),
        retryable: isTransient(kind, status),
        ...(retryAfter !== undefined ? { retryAfter } : {}),
      });
    };

    if (status !== 200) throw refusal('failed', serverMessage ?? statusPhrase(status));

    if (!isJson) {
      const what = text.trim() === '' ? 'an empty body' : 'a body that is not JSON';
      throw new AnyGenError({
        ...base,
        kind: 'protocol',
        message: `${where} answered with ${what}${tail()}`,
        retryable: false,
      });
    }

    if (isRecord(parsed) && parsed.success === false) throw refusal('was refused', serverMessage ?? 'no reason given');

    const checked = spec.schema().safeParse(parsed);
    if (!checked.success) {
      throw new AnyGenError({
        ...base,
        kind: 'protocol',
        message: `${where} answered with an unexpected shape: ${describeIssue(checked.error)}${tail()}`,
        retryable: false,
      });
    }
    return { data: checked.data, requestId, status };
  }

  private transportError(err: unknown, spec: CallSpec<unknown>, timeoutMs: number, timedOut: boolean): AnyGenError {
    if (err instanceof AnyGenError) return err;
    const base = { endpoint: spec.endpoint };
    if (spec.signal?.aborted) return interrupted(spec.endpoint);
    if (timedOut) {
      return new AnyGenError({
        ...base,
        kind: 'timeout',
        message: `${spec.endpoint} got no complete answer within ${formatSeconds(timeoutMs)}`,
        retryable: true,
      });
    }
    const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : '';
    const detail = err instanceof Error ? this.redact(err.message) : String(err);
    if (REQUEST_BUILD_ERRORS.has(code)) {
      // Not the network: the request could not be built (a header it cannot send).
      return new AnyGenError({
        ...base,
        kind: 'usage',
        message: `${spec.endpoint}: ${detail}`,
        retryable: false,
        sent: false,
      });
    }
    // No connection was ever made: repeating cannot post or spend anything twice. Anything
    // else (a connection cut while the answer arrived) may have reached the server.
    const notSent = err instanceof HttpTransportError && err.beforeSend;
    return new AnyGenError({
      ...base,
      kind: 'network',
      message: `${spec.endpoint}: could not talk to ${this.origin}: ${detail}${code && !detail.includes(code) ? ` (${code})` : ''}`,
      hint: notSent ? 'Check your network connection and ANYGEN_BASE_URL.' : undefined,
      retryable: true,
      sent: !notSent,
    });
  }
}

/** Refusals to build a request (a header that cannot be sent), before anything is sent. */
const REQUEST_BUILD_ERRORS = new Set([
  'UND_ERR_INVALID_ARG',
  'ERR_INVALID_CHAR',
  'ERR_HTTP_INVALID_HEADER_VALUE',
  'ERR_INVALID_HTTP_TOKEN',
  'ERR_UNESCAPED_CHARACTERS',
]);

function hintFor(kind: ErrorKind): { hint?: string } {
  switch (kind) {
    case 'auth':
      return { hint: 'Check your API key (it looks like sk-…): anygen-image config get api_key' };
    case 'permission':
      return { hint: 'Your account may be out of credits or not allowed this operation.' };
    case 'rate_limit':
      return { hint: 'Too many requests: wait a moment and try again.' };
    default:
      return {};
  }
}

async function readBytes(body: AsyncIterable<Buffer>, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) {
      throw new AnyGenError({ kind: 'protocol', message: `answer larger than ${limit} bytes`, retryable: false });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The codings of a Content-Encoding header, in the order they were applied; `identity` dropped. */
function contentEncodings(value: string | undefined): string[] {
  if (!value) return [];
  return value
    .split(',')
    .map((e) => e.trim().toLowerCase())
    .filter((e) => e !== '' && e !== 'identity');
}

/**
 * The error that ends a call. A one-shot read that ran out of time says how long it
 * really took, all tries together, and how many tries it made.
 */
function giveUp(err: AnyGenError, spec: CallSpec<unknown>, budget: CallBudget, attempts: number): AnyGenError {
  if (err.kind !== 'timeout' || !budget.bounded) return err;
  const took = formatElapsed(budget.elapsed(Date.now()));
  const tries = attempts === 1 ? '1 try' : `${attempts} tries`;
  return err.with({ message: `${spec.endpoint}: no answer from AnyGen within ${took} (${tries})` });
}

/** Elapsed time as a person reads it: tenths under 10 s, whole seconds above. */
export function formatElapsed(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

function queryString(query: CallSpec<unknown>['query']): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const s = params.toString();
  return s ? `?${s}` : '';
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Retry-After in seconds, from either of its two forms. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function errorText(v: unknown): string | undefined {
  if (!isRecord(v)) return undefined;
  const e = v.error ?? v.message ?? v.msg;
  if (typeof e === 'string') return e;
  if (isRecord(e) && typeof e.message === 'string') return e.message;
  return undefined;
}

function errorCode(v: unknown): number | undefined {
  if (!isRecord(v)) return undefined;
  const c = v.code ?? (isRecord(v.error) ? v.error.code : undefined);
  if (typeof c === 'number' && Number.isFinite(c)) return c;
  if (typeof c === 'string' && /^\d+$/.test(c)) return Number(c);
  return undefined;
}

function statusPhrase(status: number): string {
  const phrases: Record<number, string> = {
    400: 'bad request',
    401: 'unauthorized',
    403: 'forbidden',
    404: 'not found',
    429: 'too many requests',
    500: 'internal server error',
    502: 'bad gateway',
    503: 'service unavailable',
    504: 'gateway timeout',
  };
  return phrases[status] ?? 'unexpected status';
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
