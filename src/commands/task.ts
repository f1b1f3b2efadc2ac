/**
 * Steps several commands share: waiting for a task or a reply with progress, the
 * files a finished task offers, downloading them, and the task as a result.
 */

import { resolve } from 'node:path';
import { baseUrlFrom, maskCredentials } from '../client/base-url.js';
import type { AnyGenClient, FileToFetch } from '../client/client.js';
import { checkTaskId } from '../client/client.js';
import { type Downloaded, withSuffix } from '../client/download.js';
import type { OutputFile, Task } from '../client/schemas.js';
import { ENV_BASE_URL } from '../contract.js';
import { AnyGenError } from '../errors.js';
import type { CommandContext, NetworkOptions } from '../factory.js';
import { requireText, type WaitTimes } from '../flags.js';
import { cliCommand } from '../render/format.js';
import { createProgress, downloadProgress, type ProgressSubject } from '../render/progress.js';
import type { TaskResult } from '../render/results.js';
import { humanTask } from '../render/task.js';
import { checkFolderTarget } from '../store/paths.js';
import { cannotConnect, type WaitState, waitUntil } from '../wait.js';

export type { FileToFetch };

/** Says something the user should know (a replaced or hidden URL) on stderr, in human mode. */
export type Warn = (text: string) => void;

/**
 * A URL that may be handed to the user to open: http or https. Anything else the
 * service sends (`javascript:`, `file:`, `data:`, not a URL at all) is not a link.
 */
export function webUrl(raw: string | null | undefined): string | null {
  if (!raw) return null;
  try {
    const { protocol } = new URL(raw);
    return protocol === 'https:' || protocol === 'http:' ? raw : null;
  } catch {
    return null;
  }
}

/** `javascript`, or `not a URL`: what a refused URL was, without repeating it. */
function kindOf(raw: string): string {
  const scheme = /^\s*([a-z][a-z0-9+.-]*):/i.exec(raw)?.[1];
  return scheme ? `a ${scheme.toLowerCase()}: URL` : 'not a URL';
}

/**
 * The task's page: the URL the service gave if it is http(s), else the one every task
 * has under the base URL. The task id is kept either way: the task was paid for.
 */
export function taskUrl(client: AnyGenClient, taskId: string, reported?: string | null, warn?: Warn): string {
  const derived = `${client.baseUrl.origin}/task/${encodeURIComponent(taskId)}`;
  if (!reported) return derived;
  if (webUrl(reported)) return reported;
  warn?.(`Warning: the service gave task ${taskId} a page that is ${kindOf(reported)}; showing ${derived} instead`);
  return derived;
}

/** The command that picks a wait up again. */
export function resumeCommand(taskId: string, outputDir?: string): string {
  return cliCommand('poll', '--task-id', taskId, ...(outputDir ? ['--output', outputDir] : []));
}

/** What to tell someone holding a task that was paid for, whatever went wrong after. */
export function taskHint(client: AnyGenClient, taskId: string, outputDir?: string, reportedUrl?: string): string {
  return `Task URL: ${taskUrl(client, taskId, reportedUrl)}\nResume with: ${resumeCommand(taskId, outputDir)}`;
}

/** Final statuses other than completed: the contract names `failed`; a cancelled task ends too. */
export const ENDED_BADLY = new Set(['failed', 'cancelled', 'canceled']);

/** How a wait judges a task read: every wait on a task (poll, run, batch) ends at the same statuses. */
export function taskWaitState(t: Task): WaitState {
  return {
    status: t.status,
    progress: t.progress ?? undefined,
    done: t.status === 'completed' || ENDED_BADLY.has(t.status),
  };
}

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
  subject: ProgressSubject,
  read: Parameters<typeof waitUntil<T>>[0],
  judge: Parameters<typeof waitUntil<T>>[1],
  times: WaitTimes,
  /** Asked only when giving up, so it can say what was learnt while waiting. */
  giveUp: () => GiveUp,
): Promise<T> {
  ctx.io.runningLong?.();
  const progress = await createProgress(ctx.out, subject);
  try {
    return await waitUntil(read, judge, {
      ...times,
      now: ctx.io.now,
      sleep: ctx.io.sleep,
      signal: ctx.io.signal,
      onEvent: (event) => {
        progress.event(event);
        ctx.onWaitEvent?.(event);
      },
      beforeFirstAnswer: (err) => unreachable(ctx, err, giveUp),
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

/**
 * A wait whose first read finds nobody at the base URL stops at once (exit 4) and says
 * where it looked: retrying a wrong ANYGEN_BASE_URL or a stopped server for 20 minutes
 * helps no one. Later failures are retried as usual.
 */
function unreachable(ctx: CommandContext, err: AnyGenError, giveUp: () => GiveUp): AnyGenError | undefined {
  const why = cannotConnect(err);
  if (!why) return undefined;
  return new AnyGenError({
    kind: 'network',
    message: `Cannot reach AnyGen at ${maskCredentials(baseUrlFrom(ctx.io.env))}: ${why.reason} (${why.code}); stopped waiting`,
    hint: `Check ${ENV_BASE_URL} and your network.\n${giveUp().hint}`,
    sent: false,
  });
}

const NOT_A_TASK = new Set(['not_found', 'auth', 'usage', 'validation']);

/**
 * Poll until the task completes; a failed task, the cap or Ctrl-C end it with the
 * matching error. The outcome goes into the task history either way, so `status` and
 * `tasks` know it without anyone reading a log.
 */
export async function waitForTask(
  ctx: CommandContext,
  client: AnyGenClient,
  taskId: string,
  times: WaitTimes,
  outputDir?: string,
): Promise<Task> {
  let task: Task;
  try {
    task = await waitWithProgress(
      ctx,
      { label: `Waiting for task ${taskId}`, taskId },
      async (o) => (await client.getTask(taskId, { ...o, retries: 0 })).data,
      taskWaitState,
      times,
      () => ({
        stopped: `Stopped waiting for task ${taskId}`,
        still: 'it may still finish',
        hint: taskHint(client, taskId, outputDir),
      }),
    );
  } catch (err) {
    // A wait that ended without an answer about the task is worth remembering; a task the
    // service does not know, or a key it refused, is not a task of ours.
    if (err instanceof AnyGenError && !NOT_A_TASK.has(err.kind)) {
      await ctx.history.record({ task_id: taskId, last_error: `${err.kind}: ${err.message}` });
      throw err.with({ taskId });
    }
    throw err;
  }
  const failed = ENDED_BADLY.has(task.status) ? failure(client, task) : undefined;
  await ctx.history.record({
    task_id: taskId,
    status: task.status,
    ...(task.output?.task_url ? { task_url: taskUrl(client, taskId, task.output.task_url) } : {}),
    last_error: failed ? `task_failed: ${failed.message}` : null,
  });
  if (failed) throw failed.with({ taskId });
  return task;
}

/** A failed (or cancelled) task as an error, its reason cleaned of the key. */
export function failure(client: AnyGenClient, task: Task): AnyGenError {
  const reason =
    typeof task.error === 'string' && task.error
      ? client.redact(task.error)
      : task.status === 'failed'
        ? 'no reason given'
        : `it was ${task.status}`;
  return new AnyGenError({
    kind: 'task_failed',
    message: `Task ${task.task_id} failed: ${reason}`,
    hint: `Details: ${taskUrl(client, task.task_id, task.output?.task_url)}`,
  });
}

/** The files a completed task offers: `output.files`, else `file_url`/`file_name`. */
export function taskFiles(task: Task): FileToFetch[] {
  const files: OutputFile[] = task.output?.files ?? [];
  if (files.length > 0) return files.map((f) => ({ url: f.url, name: f.name ?? null }));
  const url = task.output?.file_url;
  return url ? [{ url, name: task.output?.file_name ?? null }] : [];
}

/**
 * The content version a task's files show now: 0 for the original, 1, 2, … after each
 * change request. Read from the service only when this CLI sent the task a change
 * (the task history says so); otherwise what the history last saw.
 */
export async function contentVersion(ctx: CommandContext, client: AnyGenClient, taskId: string): Promise<number> {
  const entry = ctx.history.find(taskId);
  if (!entry?.messages_sent) return entry?.content_version ?? 0;
  const { data } = await client.getMessages(taskId, { limit: 1 }, { signal: ctx.io.signal });
  return versionOf(data.task_snapshot?.content_version) ?? entry.content_version;
}

/** A content version as the service reports it (a number or a numeric string), else undefined. */
export function versionOf(value: unknown): number | undefined {
  const v = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined;
}

/**
 * Save a task's files into `outputDir`, a revision's named with its version
 * (`poster_v2.png`) so that it never passes for the original, and keep them in the
 * task history.
 */
export async function downloadAll(
  ctx: CommandContext,
  client: AnyGenClient,
  task: Task,
  items: FileToFetch[],
  outputDir: string,
  version?: number,
): Promise<Downloaded[]> {
  const v = version ?? (await contentVersion(ctx, client, task.task_id));
  const progress = downloadProgress(ctx.out, task);
  const done: Downloaded[] = [];
  const suffix = v > 0 ? `_v${v}` : undefined;
  for (const item of items) {
    progress.starting(item.name ? withSuffix(item.name, suffix) : item.url);
    const saved = await client.download(item, outputDir, { signal: ctx.io.signal, ...(suffix ? { suffix } : {}) });
    progress.finished(saved);
    done.push(saved);
  }
  await ctx.history.record({
    task_id: task.task_id,
    status: task.status,
    content_version: v,
    // Absolute: `tasks` and `status` may be run from any folder.
    files: done.map((d) => ({ ...d, path: resolve(d.path), version: v })),
  });
  return done;
}

/** Render a task (and what was downloaded of it): the result of poll, download, thumbnail and run. */
export async function printTask(ctx: CommandContext, client: AnyGenClient, task: Task, downloads: Downloaded[]) {
  const result = taskResult(client, task, downloads, (text) => ctx.out.info(text));
  await ctx.out.result('task', result, humanTask(result));
}

/**
 * A task as the result documents it. Only http(s) links are handed on: a thumbnail or
 * file URL of another kind is left out, with a warning (the download refuses it too).
 */
export function taskResult(client: AnyGenClient, task: Task, downloads: Downloaded[], warn?: Warn): TaskResult {
  const thumbnail = task.output?.thumbnail_url;
  if (thumbnail && !webUrl(thumbnail)) {
    warn?.(`Warning: the thumbnail of task ${task.task_id} is ${kindOf(thumbnail)}; it is not shown`);
  }
  const files = taskFiles(task).filter((f) => {
    if (webUrl(f.url)) return true;
    warn?.(
      `Warning: file ${f.name ?? '(unnamed)'} of task ${task.task_id} is ${kindOf(f.url)}; it is not shown and cannot be downloaded`,
    );
    return false;
  });
  return {
    task_id: task.task_id,
    status: task.status,
    progress: task.progress ?? null,
    task_url: taskUrl(client, task.task_id, task.output?.task_url, warn),
    thumbnail_url: webUrl(thumbnail),
    files,
    downloads,
  };
}

/** The options of commands that act on a finished task's files. */
export interface TaskFilesOptions extends NetworkOptions {
  taskId?: string;
  output?: string;
}

/** A task read once, that must be completed: what download and thumbnail start from. */
export async function completedTask(ctx: CommandContext, opts: TaskFilesOptions) {
  const taskId = checkTaskId(requireText('--task-id', opts.taskId));
  const output = requireText('--output', opts.output);
  checkFolderTarget('--output', output);
  const client = await ctx.client(opts);
  const { data: task } = await client.getTask(taskId, { signal: ctx.io.signal });
  if (ENDED_BADLY.has(task.status)) {
    throw new AnyGenError({
      kind: 'task_failed',
      message: `Task ${taskId} ${task.status === 'failed' ? 'failed' : `was ${task.status}`}: there is nothing to download`,
    });
  }
  if (task.status !== 'completed') {
    throw new AnyGenError({
      kind: 'api_error',
      message: `Task ${taskId} is not completed (status: ${task.status})`,
      hint: `Wait for it with: ${resumeCommand(taskId, output)}`,
    });
  }
  return { client, task, output };
}
