/**
 * Steps several commands share: waiting for a task or a reply with progress, the
 * files a finished task offers, downloading them, and the task as a result.
 */
import { baseUrlFrom, maskCredentials } from '../client/base-url.js';
import type { AnyGenClient, FileToFetch } from '../client/client.js';
import { checkTaskId } from '../client/client.js';
import type { Downloaded } from '../client/download.js';
import type { OutputFile, Task } from '../client/schemas.js';
import { ENV_BASE_URL } from '../contract.js';
import { AnyGenError } from '../errors.js';
import type { CommandContext, NetworkOptions } from '../factory.js';
import { requireText, type WaitTimes } from '../flags.js';
import { cliCommand } from '../render/format.js';
import { createProgress } from '../render/progress.js';
import type { TaskResult } from '../render/results.js';
import { humanTask } from '../render/task.js';
import { checkFolderTarget } from '../store/paths.js';
import { cannotConnect, waitUntil } from '../wait.js';

export type { FileToFetch };

/** The task's page: the URL the service gave, else the one every task has under the base URL. */
export function taskUrl(client: AnyGenClient, taskId: string, reported?: string | null): string {
  return reported || `${client.baseUrl.origin}/task/${taskId}`;
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
      hint: taskHint(client, taskId, outputDir),
    }),
  );
  if (ENDED_BADLY.has(task.status)) {
    const reason =
      typeof task.error === 'string' && task.error
        ? client.redact(task.error)
        : task.status === 'failed'
          ? 'no reason given'
          : `it was ${task.status}`;
    throw new AnyGenError({
      kind: 'task_failed',
      message: `Task ${taskId} failed: ${reason}`,
      hint: `Details: ${taskUrl(client, taskId, task.output?.task_url)}`,
    });
  }
  return task;
}

/** The files a completed task offers: `output.files`, else `file_url`/`file_name`. */
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
  const done: Downloaded[] = [];
  for (const item of items) {
    ctx.out.info(`Downloading ${item.name ?? item.url}…`);
    done.push(await client.download(item, outputDir, { signal: ctx.io.signal }));
  }
  return done;
}

/** Render a task (and what was downloaded of it): the result of poll, download, thumbnail and run. */
export async function printTask(ctx: CommandContext, client: AnyGenClient, task: Task, downloads: Downloaded[]) {
  const result = taskResult(client, task, downloads);
  await ctx.out.result('task', result, humanTask(result));
}

export function taskResult(client: AnyGenClient, task: Task, downloads: Downloaded[]): TaskResult {
  return {
    task_id: task.task_id,
    status: task.status,
    progress: task.progress ?? null,
    task_url: taskUrl(client, task.task_id, task.output?.task_url),
    thumbnail_url: task.output?.thumbnail_url ?? null,
    files: taskFiles(task),
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
