/**
 * One error type for everything that can go wrong, so that callers branch on
 * `kind` instead of on message text, and the exit codes, by kind, in one table.
 */
export type ErrorKind =
  /** Local input is wrong; nothing was sent. */
  | 'usage'
  /** No key, or the service refused the key. */
  | 'auth'
  /** The service says a parameter is wrong. */
  | 'validation'
  | 'not_found'
  | 'rate_limit'
  /** Not enough credits, or the operation is not allowed for this key. */
  | 'permission'
  /** Any other refusal by the service. */
  | 'api_error'
  /** The service failed on its side (5xx, or a 100005xxx code): worth trying again later. */
  | 'server_error'
  /** The task (or the reply to a message) finished as failed. */
  | 'task_failed'
  /** The service could not be reached, or the connection broke. */
  | 'network'
  /** The service answered with something that is not the contract. */
  | 'protocol'
  /** One request took longer than its timeout. */
  | 'timeout'
  /** We stopped waiting for a task or a reply; it may still finish. */
  | 'wait_timeout'
  /** The user pressed Ctrl-C or the process got SIGTERM. */
  | 'interrupted';

export interface AnyGenErrorInit {
  kind: ErrorKind;
  message: string;
  hint?: string;
  status?: number;
  code?: number;
  requestId?: string;
  /** The task this failure leaves behind (created, and paid for): so a script need not parse the hint. */
  taskId?: string;
  endpoint?: string;
  retryable?: boolean;
  /** Seconds the server asked us to wait (Retry-After). */
  retryAfter?: number;
  /** True when the request may have reached the server (matters for non-idempotent calls). */
  sent?: boolean;
  cause?: unknown;
}

export class AnyGenError extends Error {
  override readonly name = 'AnyGenError';
  readonly kind: ErrorKind;
  readonly hint: string | undefined;
  readonly status: number | undefined;
  readonly code: number | undefined;
  readonly requestId: string | undefined;
  readonly taskId: string | undefined;
  readonly endpoint: string | undefined;
  readonly retryable: boolean;
  readonly retryAfter: number | undefined;
  readonly sent: boolean;

  constructor(init: AnyGenErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.kind = init.kind;
    this.hint = init.hint;
    this.status = init.status;
    this.code = init.code;
    this.requestId = init.requestId;
    this.taskId = init.taskId;
    this.endpoint = init.endpoint;
    this.retryable = init.retryable ?? false;
    this.retryAfter = init.retryAfter;
    this.sent = init.sent ?? true;
  }

  /** The same error with some fields replaced (an error is never changed in place). */
  with(overrides: Partial<AnyGenErrorInit>): AnyGenError {
    return new AnyGenError({
      kind: this.kind,
      message: this.message,
      ...(this.hint !== undefined ? { hint: this.hint } : {}),
      ...(this.status !== undefined ? { status: this.status } : {}),
      ...(this.code !== undefined ? { code: this.code } : {}),
      ...(this.requestId !== undefined ? { requestId: this.requestId } : {}),
      ...(this.taskId !== undefined ? { taskId: this.taskId } : {}),
      ...(this.endpoint !== undefined ? { endpoint: this.endpoint } : {}),
      ...(this.retryAfter !== undefined ? { retryAfter: this.retryAfter } : {}),
      retryable: this.retryable,
      sent: this.sent,
      ...overrides,
    });
  }

  /** The same error with more to say after its hint (never changes the kind or the exit code). */
  withHint(more: string): AnyGenError {
    return this.with({ hint: this.hint ? `${this.hint}\n${more}` : more });
  }

  /** What `--json` prints under `error`, and what `JSON.stringify` shows. */
  toJSON(): { type: ErrorKind; message: string; hint?: string; code?: number; request_id?: string; task_id?: string } {
    return {
      type: this.kind,
      message: this.message,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
      ...(this.code === undefined ? {} : { code: this.code }),
      ...(this.requestId === undefined ? {} : { request_id: this.requestId }),
      ...(this.taskId === undefined ? {} : { task_id: this.taskId }),
    };
  }
}

/** Anything thrown that is not an AnyGenError (a bug of ours): one line and exit 1, never a stack. */
export function unexpectedError(err: unknown): AnyGenError {
  if (err instanceof AnyGenError) return err;
  return new AnyGenError({
    kind: 'api_error',
    message: `Unexpected error: ${err instanceof Error ? err.message : String(err)}`,
    hint: 'Run again with --verbose; if it persists, report it with the command you ran.',
  });
}

export function interrupted(endpoint?: string): AnyGenError {
  return new AnyGenError({ kind: 'interrupted', message: 'Interrupted', ...(endpoint ? { endpoint } : {}) });
}

export function usageError(message: string, hint?: string): AnyGenError {
  return new AnyGenError({ kind: 'usage', message, sent: false, ...(hint ? { hint } : {}) });
}

/** Server codes from the contract, mapped onto kinds. */
export function kindForServerCode(code: number | undefined, status: number): ErrorKind {
  if (code !== undefined) {
    if (code === 100004001) return 'validation';
    if (code === 100004002) return 'not_found';
    if (code === 100004003 || code === 100004004) return 'auth';
    if (code === 100004006 || code === 100004012) return 'rate_limit';
    if (code === 100006029) return 'permission';
    if (code >= 100004000 && code < 100005000) return 'api_error';
    if (code >= 100005000) return 'server_error';
  }
  // The contract's 100004003 (invalid key) arrives as 403, so a bare 403 is a key problem too.
  if (status === 401 || status === 403) return 'auth';
  if (status === 402) return 'permission';
  if (status === 404) return 'not_found';
  if (status === 429) return 'rate_limit';
  if (status === 400 || status === 422) return 'validation';
  if (status >= 500) return 'server_error';
  return 'api_error';
}

/** Is it worth asking again (for a request that is safe to repeat)? */
export function isTransient(kind: ErrorKind, status: number | undefined): boolean {
  if (kind === 'network' || kind === 'timeout' || kind === 'rate_limit' || kind === 'server_error') return true;
  return status !== undefined && status >= 500;
}

export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  auth: 3,
  network: 4,
  waitTimeout: 5,
  interrupted: 130,
} as const;

const EXIT_BY_KIND: Record<ErrorKind, number> = {
  usage: EXIT.usage,
  auth: EXIT.auth,
  validation: EXIT.failed,
  not_found: EXIT.failed,
  rate_limit: EXIT.failed,
  permission: EXIT.failed,
  api_error: EXIT.failed,
  task_failed: EXIT.failed,
  server_error: EXIT.network,
  network: EXIT.network,
  protocol: EXIT.network,
  timeout: EXIT.network,
  wait_timeout: EXIT.waitTimeout,
  interrupted: EXIT.interrupted,
};

export function exitCodeFor(kind: ErrorKind): number {
  return EXIT_BY_KIND[kind];
}
