/** `poll`, `download` and `thumbnail`: a task's outcome and its files. */
import { checkTaskId } from '../client/client.js';
import { AnyGenError } from '../client/errors.js';
import type { CommandContext, NetworkOptions } from '../context.js';
import { checkFolderTarget } from '../paths.js';
import {
  downloadAll,
  ENDED_BADLY,
  printTask,
  requireText,
  taskFiles,
  type WaitFlags,
  waitForTask,
  waitTimes,
} from './common.js';

export interface PollOptions extends NetworkOptions, WaitFlags {
  taskId?: string;
  output?: string;
}

export async function poll(ctx: CommandContext, opts: PollOptions) {
  const taskId = checkTaskId(requireText('--task-id', opts.taskId));
  if (opts.output !== undefined) checkFolderTarget('--output', requireText('--output', opts.output));
  const times = waitTimes(opts);
  const client = await ctx.client(opts);
  const task = await waitForTask(ctx, client, taskId, times, opts.output);
  await printTask(ctx, client, task, opts.output ? await downloadAll(ctx, client, taskFiles(task), opts.output) : []);
}

async function completedTask(ctx: CommandContext, opts: PollOptions) {
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
      hint: `Wait for it with: anygen-image poll --task-id ${taskId} --output ${output}`,
    });
  }
  return { client, task, output };
}

export async function download(ctx: CommandContext, opts: PollOptions) {
  const { client, task, output } = await completedTask(ctx, opts);
  const files = taskFiles(task);
  if (files.length === 0)
    throw new AnyGenError({ kind: 'api_error', message: `Task ${task.task_id} has no file to download` });
  await printTask(ctx, client, task, await downloadAll(ctx, client, files, output));
}

export async function thumbnail(ctx: CommandContext, opts: PollOptions) {
  const { client, task, output } = await completedTask(ctx, opts);
  const url = task.output?.thumbnail_url;
  if (!url) throw new AnyGenError({ kind: 'api_error', message: `Task ${task.task_id} has no thumbnail` });
  await printTask(
    ctx,
    client,
    task,
    await downloadAll(ctx, client, [{ url, name: `thumbnail_${task.task_id}.png` }], output),
  );
}
