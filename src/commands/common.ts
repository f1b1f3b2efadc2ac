/**
 * Pieces several commands share: option checks, waiting for a task, and turning a
 * finished task into downloads and a result.
 */
import { type AnyGenClient, userAgent } from '../client/client.js';
import type { Downloaded } from '../client/download.js';
import { AnyGenError, usageError } from '../client/errors.js';
import type { OutputFile, Task } from '../client/schemas.js';
import type { CommandContext } from '../context.js';
import { createProgress, type HumanLine } from '../output.js';
import type { TaskResult } from '../results.js';
import { DEFAULT_INTERVAL_MS, DEFAULT_TIMEOUT_MS, waitUntil } from '../wait.js';

export function intOption(name: string, value: string | undefined, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  const text = String(value).trim();
  if (!/^-?\d+$/.test(text)) throw usageError(`${name} must be a whole number, not ${JSON.stringify(value)}`);
  const n = Number(text);
  if (n < min || n > max) throw usageError(`${name} must be between ${min} and ${max}, not ${n}`);
  return n;
}

/** Seconds, possibly fractional, for --timeout and --interval. */
export function secondsOption(
  name: string,
  value: string | undefined,
  min: number,
  max: number,
  fallbackMs: number,
): number {
  if (value === undefined) return fallbackMs;
  const text = String(value).trim();
  if (!/^\d+(\.\d+)?$/.test(text))
    throw usageError(`${name} must be a number of seconds, not ${JSON.stringify(value)}`);
  const n = Number(text);
  if (n < min) throw usageError(`${name} must be at least ${min} second${min === 1 ? '' : 's'}, not ${n}`);
  if (n > max) throw usageError(`${name} must be at most ${max} seconds, not ${n}`);
  return Math.round(n * 1000);
}

export interface WaitFlags {
  timeout?: string;
  interval?: string;
}

export interface WaitTimes {
  intervalMs: number;
  timeoutMs: number;
}

export function waitTimes(flags: WaitFlags): WaitTimes {
  return {
    // Caps keep every wait within what a timer can hold (about 24 days).
    intervalMs: secondsOption('--interval', flags.interval, 1, 3600, DEFAULT_INTERVAL_MS),
    timeoutMs: secondsOption('--timeout', flags.timeout, 1, 7 * 86_400, DEFAULT_TIMEOUT_MS),
  };
}

export function resumeCommand(taskId: string, outputDir?: string): string {
  return `anygen-image poll --task-id ${taskId}${outputDir ? ` --output ${shellQuote(outputDir)}` : ''}`;
}

function shellQuote(s: string): string {
  return /^[\w./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export function taskUrlOf(task: Task, baseUrl: string): string {
  return task.output?.task_url || `${baseUrl}/task/${task.task_id}`;
}

/** Final statuses other than completed: the contract names `failed`; a cancelled task ends too. */
export const ENDED_BADLY = new Set(['failed', 'cancelled', 'canceled']);

export interface GiveUp {
  /** Says what was being waited for: `Stopped waiting for …`. */
  stopped: string;
  /** "it may still finish" / "it may still arrive". */
  still: string;
  hint: string;
}

/**
 * The wait loop with its progress display and the clock and signal from the IO. Giving
 * up (the cap, Ctrl-C) ends in an error that says the work may still finish and how to
 * resume.
 */
export async function waitWithProgress<T>(
  ctx: CommandContext,
  label: string,
  read: Parameters<typeof waitUntil<T>>[0],
  judge: Parameters<typeof waitUntil<T>>[1],
  times: WaitTimes,
  /** Asked only when giving up, so it can say what was learnt while waiting. */
  giveUp: () => GiveUp,
): Promise<T> {
  const progress = await createProgress(ctx.out, label);
  try {
    return await waitUntil(read, judge, {
      ...times,
      now: ctx.io.now,
      sleep: ctx.io.sleep,
      signal: ctx.io.signal,
      onEvent: progress.event,
    });
  } catch (err) {
    if (err instanceof AnyGenError && (err.kind === 'wait_timeout' || err.kind === 'interrupted')) {
      const { stopped, still, hint } = giveUp();
      throw new AnyGenError({
        kind: err.kind,
        message: `${err.kind === 'interrupted' ? stopped : err.message}; ${still}`,
        hint,
      });
    }
    throw err;
  } finally {
    progress.stop();
  }
}

/** Poll until the task completes; a failed task, the cap or Ctrl-C end it with the matching error. */
export async function waitForTask(
  ctx: CommandContext,
  client: AnyGenClient,
  taskId: string,
  times: WaitTimes,
  outputDir?: string,
): Promise<Task> {
  const task = await waitWithProgress(
    ctx,
    `Waiting for task ${taskId}`,
    async (o) => (await client.getTask(taskId, { ...o, retries: 0 })).data,
    (t) => ({
      status: t.status,
      progress: t.progress ?? undefined,
      done: t.status === 'completed' || ENDED_BADLY.has(t.status),
    }),
    times,
    () => ({
      stopped: `Stopped waiting for task ${taskId}`,
      still: 'it may still finish',
      hint: `Task URL: ${client.baseUrl.origin}/task/${taskId}\nResume with: ${resumeCommand(taskId, outputDir)}`,
    }),
  );
  if (ENDED_BADLY.has(task.status)) {
    const reason =
      typeof task.error === 'string' && task.error
        ? client.transport.redact(task.error)
        : task.status === 'failed'
          ? 'no reason given'
          : `it was ${task.status}`;
    throw new AnyGenError({
      kind: 'task_failed',
      message: `Task ${taskId} failed: ${reason}`,
      hint: `Details: ${taskUrlOf(task, client.baseUrl.origin)}`,
    });
  }
  return task;
}

/** The files a completed task offers: `output.files`, else `file_url`/`file_name`. */
export interface FileToFetch {
  url: string;
  name: string | null;
}

export function taskFiles(task: Task): FileToFetch[] {
  const files: OutputFile[] = task.output?.files ?? [];
  if (files.length > 0) return files.map((f) => ({ url: f.url, name: f.name ?? null }));
  const url = task.output?.file_url;
  return url ? [{ url, name: task.output?.file_name ?? null }] : [];
}

export async function downloadAll(
  ctx: CommandContext,
  client: AnyGenClient,
  items: FileToFetch[],
  outputDir: string,
): Promise<Downloaded[]> {
  // DNS, sockets and streams for untrusted hosts are loaded only when there is something to fetch.
  const { downloadFile } = await import('../client/download.js');
  const done: Downloaded[] = [];
  for (const item of items) {
    ctx.out.info(`Downloading ${item.name ?? item.url}…`);
    done.push(
      await downloadFile({
        url: item.url,
        name: item.name,
        outputDir,
        policy: { trustedOrigin: client.baseUrl.origin },
        userAgent: userAgent(),
        signal: ctx.io.signal,
      }),
    );
  }
  return done;
}

/** Render a task (and what was downloaded of it): the result of poll, download, thumbnail and run. */
export async function printTask(ctx: CommandContext, client: AnyGenClient, task: Task, downloads: Downloaded[]) {
  const result = taskResult(task, client.baseUrl.origin, downloads);
  await ctx.out.result('task', result, humanTask(result));
}

export function taskResult(task: Task, baseUrl: string, downloads: Downloaded[]): TaskResult {
  return {
    task_id: task.task_id,
    status: task.status,
    progress: task.progress ?? null,
    task_url: taskUrlOf(task, baseUrl),
    thumbnail_url: task.output?.thumbnail_url ?? null,
    files: taskFiles(task),
    downloads,
  };
}

export function humanTask(r: TaskResult): HumanLine[] {
  return [
    ['Status', r.status],
    ['Task ID', r.task_id],
    ['Task URL', r.task_url],
    ['Thumbnail URL', r.thumbnail_url],
    ...r.files.map((f): HumanLine => ['File URL', f.url]),
    ...r.downloads.map((d): HumanLine => ['Local file', d.path]),
  ];
}

/** A flag that must be given and not blank; the error names the flag. */
export function requireText(name: string, value: string | undefined): string {
  if (value === undefined || value.trim() === '') throw usageError(`${name} is required and may not be empty`);
  return value;
}
