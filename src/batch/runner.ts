/**
 * The batch scheduler: a fixed number of workers take items in turn, each creating
 * (once), waiting and downloading one item at a time, all through the process's one
 * connection pool. The rules that spend or save credits live here:
 *
 * - an item is recorded `creating` before its create is sent, and `created` with its
 *   task id when the answer arrives; a create that may have reached the service and
 *   got no answer becomes `unknown`, never repeated by itself;
 * - creates get no abort signal: on Ctrl-C the ones in flight finish (within their
 *   own timeout) and are recorded, no new one starts, waits stop at once;
 * - a 429 (on a create or a read) slows every worker until its Retry-After has passed;
 *   a create answered 429 was refused, so it is sent again after the pause;
 * - "not enough credits" or a refused key stops new creates (waits go on: those tasks
 *   are paid for); `--fail-fast` stops everything at the first failed item.
 */
import { resolve } from 'node:path';
import type { AnyGenClient } from '../client/client.js';
import type { Downloaded } from '../client/download.js';
import type { Task } from '../client/schemas.js';
import { ENDED_BADLY, type FileToFetch, taskFiles, taskWaitState } from '../commands/task.js';
import { AnyGenError, unexpectedError } from '../errors.js';
import type { WaitTimes } from '../flags.js';
import { formatDuration } from '../render/format.js';
import type { HistoryUpdate } from '../store/history.js';
import { backoffDelay, waitUntil } from '../wait.js';
import type { BatchItem } from './input.js';
import type { Action, BatchState, ItemState } from './state.js';

/** Consecutive 429 answers to one item's create before that item is given up (as not created). */
const MAX_CREATE_429 = 8;
const NO_CREDITS = 100006029;

export type StopReason = 'credits' | 'auth' | 'fail-fast' | 'interrupted';

export interface BatchEvent {
  type: 'item' | 'slow-down';
  item?: ItemState;
  delayMs?: number;
}

export interface RunnerOptions {
  client: AnyGenClient;
  state: BatchState;
  items: BatchItem[];
  actions: Map<string, Action>;
  concurrency: number;
  times: WaitTimes;
  failFast: boolean;
  now: () => number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Ctrl-C or SIGTERM. */
  signal: AbortSignal;
  /** Fetches a completed task's files under the names given (see commands/task.ts downloadAll). */
  download: (files: FileToFetch[], signal: AbortSignal) => Promise<Downloaded[]>;
  onEvent?: (event: BatchEvent) => void;
  /** Kept up to date with the number of items being worked on (for the progress display). */
  live?: { running: number };
  /** Tells the task history (store/history.ts) of each task created and how it ended; never throws. */
  record?: (update: HistoryUpdate) => Promise<unknown>;
}

export interface Counts {
  total: number;
  completed: number;
  failed: number;
  unknown: number;
  /** Created and not finished (waiting, or given up waiting on). */
  created: number;
  /** Not created yet (or left `creating` by a run that died). */
  pending: number;
}

export interface BatchOutcome {
  items: ItemState[];
  counts: Counts;
  /** Items whose wait gave up (`--timeout`); they may still finish. */
  timedOut: string[];
  /** Why new creates stopped before the end, if they did. */
  stopped: StopReason | undefined;
  stopMessage: string | undefined;
}

/** Shared back-off: every worker passes through it before a request. */
export class SlowDown {
  private until = 0;
  constructor(
    private readonly now: () => number,
    private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>,
  ) {}

  /** The service said 429: nobody sends anything for `ms`. */
  hit(ms: number): void {
    this.until = Math.max(this.until, this.now() + ms);
  }

  async pass(signal?: AbortSignal): Promise<void> {
    for (let left = this.until - this.now(); left > 0 && !signal?.aborted; left = this.until - this.now()) {
      await this.sleep(left, signal);
    }
  }

  get pausedMs(): number {
    return Math.max(0, this.until - this.now());
  }
}

function isRateLimited(e: AnyGenError): boolean {
  return e.kind === 'rate_limit' || e.status === 429;
}

/** A create that failed in a way that may have reached the service, with no answer saying what it did. */
function mayHaveCreated(e: AnyGenError): boolean {
  return e.sent && (e.kind === 'network' || e.kind === 'timeout' || e.kind === 'protocol' || e.kind === 'interrupted');
}

function fileNames(id: string, files: FileToFetch[]): FileToFetch[] {
  return files.map((f, i) => {
    const source = f.name ?? urlBase(f.url);
    const ext = /\.[A-Za-z0-9]{1,8}$/.exec(source)?.[0]?.toLowerCase() ?? '';
    return { url: f.url, name: `${id}${i === 0 ? '' : `_${i + 1}`}${ext}` };
  });
}

function urlBase(url: string): string {
  try {
    return new URL(url).pathname.split('/').pop() ?? '';
  } catch {
    return '';
  }
}

export function countStates(items: ItemState[]): Counts {
  const counts: Counts = { total: items.length, completed: 0, failed: 0, unknown: 0, created: 0, pending: 0 };
  for (const item of items) {
    if (item.status === 'completed') counts.completed++;
    else if (item.status === 'failed') counts.failed++;
    else if (item.status === 'unknown') counts.unknown++;
    else if (item.status === 'created') counts.created++;
    else counts.pending++;
  }
  return counts;
}

export async function runBatch(opts: RunnerOptions): Promise<BatchOutcome> {
  return new BatchRun(opts).run();
}

type Patch = Parameters<BatchState['update']>[1];

/** One run of the scheduler: the queue, the shared back-off and why creates stopped, if they did. */
class BatchRun {
  private readonly client: AnyGenClient;
  private readonly state: BatchState;
  private readonly gate: SlowDown;
  private readonly halt = new AbortController();
  /** Waits and downloads stop on Ctrl-C or fail-fast; creates do not (see above). */
  private readonly waitSignal: AbortSignal;
  private readonly live: { running: number };
  private readonly timedOut: string[] = [];
  /** One upload per file for the whole run, however many items name it. */
  private readonly uploads = new Map<string, Promise<string>>();
  private queue: BatchItem[] = [];
  private next = 0;
  private stopped: StopReason | undefined;
  private stopMessage: string | undefined;

  constructor(private readonly opts: RunnerOptions) {
    this.client = opts.client;
    this.state = opts.state;
    this.gate = new SlowDown(opts.now, opts.sleep);
    this.waitSignal = AbortSignal.any([opts.signal, this.halt.signal]);
    this.live = opts.live ?? { running: 0 };
  }

  async run(): Promise<BatchOutcome> {
    const { opts } = this;
    // Tasks already paid for come first: waiting on them costs nothing.
    this.queue = [
      ...opts.items.filter((i) => opts.actions.get(i.id) === 'wait'),
      ...opts.items.filter((i) => opts.actions.get(i.id) === 'create'),
    ];
    // Recorded before any request: a `creating` left by a run that died is now `unknown`.
    this.state.save();
    const workers = Math.min(opts.concurrency, Math.max(1, this.queue.length));
    await Promise.all(Array.from({ length: workers }, () => this.worker()));
    if (opts.signal.aborted) {
      this.stopped = 'interrupted';
      this.stopMessage = 'Interrupted';
    }
    const items = this.state.statesOf(opts.items);
    return {
      items,
      counts: countStates(items),
      timedOut: this.timedOut,
      stopped: this.stopped,
      stopMessage: this.stopMessage,
    };
  }

  /** Takes items off the shared queue one at a time until it is empty or the run is stopped. */
  private async worker(): Promise<void> {
    for (;;) {
      if (this.waitSignal.aborted) return;
      const item = this.queue[this.next];
      if (!item) return;
      this.next++;
      const action = this.opts.actions.get(item.id);
      if (action === 'create' && this.stopped) continue;
      this.live.running++;
      try {
        if (action === 'wait') {
          // A failed download is fetched again from the same task: it is `created` once more.
          if (this.state.get(item.id)?.status !== 'created') this.update(item.id, { status: 'created', error: null });
          await this.finish(item);
        } else if (await this.create(item)) {
          if (!this.opts.signal.aborted) await this.finish(item);
        }
      } finally {
        this.live.running--;
      }
    }
  }

  /** True when the item now has a task to wait for. */
  private async create(item: BatchItem): Promise<boolean> {
    const fileTokens = await this.fileTokens(item);
    if (!fileTokens) return false;
    for (let attempt = 1; ; attempt++) {
      await this.gate.pass(this.waitSignal);
      if (this.waitSignal.aborted || this.stopped) return false;
      this.update(item.id, { status: 'creating', task_id: null, files: [], error: null });
      try {
        const { data } = await this.client.createTask({
          operation: item.operation,
          prompt: item.prompt,
          ...(item.language ? { language: item.language } : {}),
          ...(item.exportFormat ? { exportFormat: item.exportFormat } : {}),
          fileTokens,
        });
        this.update(item.id, { status: 'created', task_id: data.task_id, error: null });
        // Not awaited: the batch's own state file is the record that matters here; the command flushes the history at the end.
        void this.opts.record?.({
          task_id: data.task_id,
          ...(data.task_url ? { task_url: data.task_url } : {}),
          operation: item.operation,
          prompt: item.prompt,
          status: 'created',
        });
        return true;
      } catch (err) {
        if (!this.createRefused(item, unexpectedError(err), attempt)) return false;
      }
    }
  }

  /** The item's file tokens, its files uploaded; undefined when an upload failed (the item has failed). */
  private async fileTokens(item: BatchItem): Promise<string[] | undefined> {
    if (item.files.length === 0) return item.fileTokens;
    try {
      return [...item.fileTokens, ...(await Promise.all(item.files.map((path) => this.tokenFor(path))))];
    } catch (err) {
      if (!this.waitSignal.aborted) {
        this.fail(item.id, { task_id: null, files: [], error: `upload: ${unexpectedError(err).message}` });
      }
      return undefined;
    }
  }

  private tokenFor(path: string): Promise<string> {
    let token = this.uploads.get(path);
    if (!token) {
      token = this.upload(path);
      this.uploads.set(path, token);
    }
    return token;
  }

  private async upload(path: string): Promise<string> {
    const { stat } = await import('node:fs/promises');
    const info = await stat(path);
    const known = this.state.upload(path);
    // A token is durable: reuse the one a previous run got for this very file.
    if (known && known.size === info.size && known.mtime_ms === info.mtimeMs) return known.token;
    const { data } = await this.client.upload(path, { signal: this.waitSignal });
    this.state.recordUpload(path, { token: data.file_token, size: info.size, mtime_ms: info.mtimeMs });
    return data.file_token;
  }

  /**
   * Records why a create failed; true when it was refused for now (429) and may be sent
   * again after the pause, false when the item is settled (`unknown` or `failed`).
   */
  private createRefused(item: BatchItem, e: AnyGenError, attempt: number): boolean {
    const message = this.client.redact(e.message);
    if (mayHaveCreated(e)) {
      this.update(item.id, {
        status: 'unknown',
        error: `${message}; the task may have been created (run again with --retry-unknown to create it anyway)`,
      });
      return false;
    }
    // A 429 is a refusal: nothing was made, so the create may be sent again, after the pause.
    if (isRateLimited(e) && attempt < MAX_CREATE_429) {
      this.update(item.id, { status: 'pending', error: message });
      this.slowDown(e, attempt);
      return true;
    }
    this.fail(item.id, { task_id: null, error: message });
    if (e.code === NO_CREDITS || (e.kind === 'permission' && e.status === 402)) {
      this.stopCreates('credits', 'Not enough credits: no new task was created after that; add credits and run again');
    } else if (e.kind === 'auth') {
      this.stopCreates('auth', `The API key was refused: no new task was created after that (${message})`);
    }
    return false;
  }

  /** Waits for the item's task, then downloads its files under the item's id. */
  private async finish(item: BatchItem): Promise<void> {
    const taskId = this.state.get(item.id)?.task_id;
    if (!taskId) return;
    let task: Task;
    try {
      task = await this.waitFor(taskId);
    } catch (err) {
      this.waitFailed(item, unexpectedError(err));
      return;
    }
    if (ENDED_BADLY.has(task.status)) {
      const reason = typeof task.error === 'string' && task.error ? this.client.redact(task.error) : task.status;
      this.fail(item.id, { error: `task ${task.status}: ${reason}`, task_failed: true });
      return;
    }
    try {
      const files = await this.opts.download(fileNames(item.id, taskFiles(task)), this.waitSignal);
      this.update(item.id, { status: 'completed', files: files.map((f) => f.path), error: null });
      void this.opts.record?.({
        task_id: taskId,
        status: task.status,
        files: files.map((f) => ({ ...f, path: resolve(f.path), version: 0 })),
      });
    } catch (err) {
      const e = unexpectedError(err);
      if (e.kind === 'interrupted' || this.waitSignal.aborted) return;
      this.fail(item.id, { error: e.message });
    }
  }

  /** Polls through the shared gate, so that a 429 on any read slows every worker. */
  private waitFor(taskId: string): Promise<Task> {
    let failures = 0;
    return waitUntil(
      async (o) => {
        await this.gate.pass(o.signal);
        try {
          const { data } = await this.client.getTask(taskId, { ...o, retries: 0 });
          failures = 0;
          return data;
        } catch (err) {
          if (err instanceof AnyGenError && isRateLimited(err)) this.slowDown(err, ++failures);
          throw err;
        }
      },
      taskWaitState,
      { ...this.opts.times, now: this.opts.now, sleep: this.opts.sleep, signal: this.waitSignal },
    );
  }

  private waitFailed(item: BatchItem, e: AnyGenError): void {
    if (e.kind === 'interrupted') return;
    if (e.kind === 'wait_timeout') {
      this.timedOut.push(item.id);
      this.update(item.id, {
        error: `gave up waiting after ${formatDuration(this.opts.times.timeoutMs)}; it may still finish: run again to resume`,
      });
      return;
    }
    this.fail(item.id, { error: this.client.redact(e.message) });
  }

  private update(id: string, patch: Patch): void {
    const item = this.state.update(id, patch);
    this.opts.onEvent?.({ type: 'item', item });
  }

  private fail(id: string, patch: Patch): void {
    this.update(id, { ...patch, status: 'failed' });
    if (this.opts.failFast) this.stopCreates('fail-fast', `Stopped at the first failed item (${id}): --fail-fast`);
  }

  /** The first reason wins; only fail-fast also stops the waits. */
  private stopCreates(reason: StopReason, message: string): void {
    if (this.stopped) return;
    this.stopped = reason;
    this.stopMessage = message;
    if (reason === 'fail-fast') this.halt.abort();
  }

  private slowDown(e: AnyGenError, failures: number): void {
    const ms =
      e.retryAfter !== undefined
        ? Math.min(Math.max(e.retryAfter * 1000, 1000), 5 * 60_000)
        : backoffDelay(failures, this.opts.times.intervalMs, 30_000);
    this.gate.hit(ms);
    this.opts.onEvent?.({ type: 'slow-down', delayMs: ms });
  }
}
