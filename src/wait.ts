/**
 * The polling loop behind `poll`, `create --wait`, `run` and `get-messages --wait`:
 * a fixed interval while answers come, growing back-off (or the server's
 * Retry-After) while they do not, and one absolute deadline that nothing extends.
 */
import { AnyGenError, interrupted, isTransient } from './errors.js';
import { formatDuration } from './render/format.js';

export interface WaitState {
  status: string;
  progress?: number | undefined;
  done: boolean;
}

export type WaitEvent =
  | { type: 'update'; status: string; progress?: number | undefined; elapsedMs: number }
  | { type: 'heartbeat'; status: string; progress?: number | undefined; elapsedMs: number }
  | { type: 'retry'; error: AnyGenError; delayMs: number; failures: number; elapsedMs: number };

export interface WaitOptions {
  intervalMs: number;
  timeoutMs: number;
  /** Longest wait between tries after failures. */
  maxBackoffMs?: number;
  /** Longest Retry-After honoured (still never past the deadline). */
  maxRetryAfterMs?: number;
  heartbeatMs?: number;
  now: () => number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  signal?: AbortSignal;
  onEvent?: (event: WaitEvent) => void;
  /**
   * Asked about each failure until a read has succeeded: an error returned ends the wait
   * at once. A service that was never reached is a setting to fix, not a blip to wait out.
   */
  beforeFirstAnswer?: (err: AnyGenError) => AnyGenError | undefined;
}

export interface ReadOptions {
  signal?: AbortSignal;
  /** What is left before the deadline; a read must not outlast it. */
  timeoutCapMs: number;
}

export const DEFAULT_INTERVAL_MS = 3_000;
/** Answers outside the contract in a row that a wait tries past before giving up. */
export const MAX_GARBLED = 2;
export const DEFAULT_TIMEOUT_MS = 20 * 60_000;

/** The wait before the next try after `failures` failures in a row. */
export function backoffDelay(failures: number, intervalMs: number, maxMs: number): number {
  return Math.min(maxMs, intervalMs * 2 ** Math.max(0, failures - 1));
}

/** Node's words for "nobody is there": the port is closed, or the name does not resolve. */
const NOBODY_THERE: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'unknown host',
  EAI_NONAME: 'unknown host',
  EAI_FAIL: 'unknown host',
};

/**
 * Why a network error means the service cannot be reached at all (`connection refused`,
 * `unknown host`), from the errno code in its text or its cause; undefined for anything
 * else (a reset, a timeout, a 5xx), which may pass.
 */
export function cannotConnect(err: AnyGenError): { code: string; reason: string } | undefined {
  if (err.kind !== 'network') return undefined;
  const causeCode = (err.cause as { code?: unknown } | undefined)?.code;
  const codes = [...(typeof causeCode === 'string' ? [causeCode] : []), ...(err.message.match(/\bE[A-Z_]+\b/g) ?? [])];
  const code = codes.find((c) => c in NOBODY_THERE);
  return code ? { code, reason: NOBODY_THERE[code] as string } : undefined;
}

export async function waitUntil<T>(
  read: (opts: ReadOptions) => Promise<T>,
  judge: (value: T) => WaitState,
  opts: WaitOptions,
): Promise<T> {
  const start = opts.now();
  const deadline = start + opts.timeoutMs;
  const maxBackoff = opts.maxBackoffMs ?? 30_000;
  const maxRetryAfter = opts.maxRetryAfterMs ?? 5 * 60_000;
  const heartbeatMs = opts.heartbeatMs ?? 30_000;
  let lastBeat = start;
  let failures = 0;
  let garbled = 0;
  let answered = false;
  let last: { status: string; progress?: number | undefined } | undefined;

  const pause = async (ms: number) => {
    const wait = Math.min(ms, deadline - opts.now());
    if (wait > 0) await opts.sleep(wait, opts.signal);
  };

  for (;;) {
    if (opts.signal?.aborted) throw interrupted();
    const remaining = deadline - opts.now();
    if (remaining <= 0) {
      throw new AnyGenError({
        kind: 'wait_timeout',
        message: `Gave up waiting after ${formatDuration(opts.timeoutMs)}; ${last ? `last status: ${last.status}` : 'no answer yet'}`,
      });
    }

    let value: T;
    try {
      value = await read({ ...(opts.signal ? { signal: opts.signal } : {}), timeoutCapMs: remaining });
    } catch (err) {
      if (opts.signal?.aborted) throw interrupted();
      if (!(err instanceof AnyGenError)) throw err;
      const stop = answered ? undefined : opts.beforeFirstAnswer?.(err);
      if (stop) throw stop;
      // One garbled answer (a proxy's error page) should not end a 20-minute wait;
      // a service that keeps answering outside the contract should.
      if (err.kind === 'protocol') garbled++;
      const retry = isTransient(err.kind, err.status) || (err.kind === 'protocol' && garbled <= MAX_GARBLED);
      if (!retry) throw err;
      failures++;
      const delayMs =
        err.retryAfter !== undefined
          ? Math.min(Math.max(err.retryAfter * 1000, opts.intervalMs), maxRetryAfter)
          : backoffDelay(failures, opts.intervalMs, maxBackoff);
      opts.onEvent?.({ type: 'retry', error: err, delayMs, failures, elapsedMs: opts.now() - start });
      await pause(delayMs);
      continue;
    }
    failures = 0;
    garbled = 0;
    answered = true;

    const state = judge(value);
    const elapsedMs = opts.now() - start;
    if (!last || last.status !== state.status || last.progress !== state.progress) {
      last = { status: state.status, progress: state.progress };
      opts.onEvent?.({ type: 'update', status: state.status, progress: state.progress, elapsedMs });
    }
    if (state.done) return value;
    if (opts.now() - lastBeat >= heartbeatMs) {
      lastBeat = opts.now();
      opts.onEvent?.({ type: 'heartbeat', status: state.status, progress: state.progress, elapsedMs });
    }
    await pause(opts.intervalMs);
  }
}
