/** `poll`: wait for a task to finish (up to 20 minutes by default), optionally downloading its files. */
import { checkTaskId } from '../client/client.js';
import type { CommandContext, NetworkOptions } from '../factory.js';
import { requireText, type WaitFlags, waitTimes } from '../flags.js';
import { checkFolderTarget } from '../store/paths.js';
import { downloadAll, printTask, taskFiles, waitForTask } from './task.js';

export interface PollOptions extends NetworkOptions, WaitFlags {
  taskId?: string;
  output?: string;
}

export async function run(ctx: CommandContext, opts: PollOptions) {
  const taskId = checkTaskId(requireText('--task-id', opts.taskId));
  if (opts.output !== undefined) checkFolderTarget('--output', requireText('--output', opts.output));
  const times = waitTimes(opts);
  const client = await ctx.client(opts);
  const task = await waitForTask(ctx, client, taskId, times, opts.output);
  await printTask(ctx, client, task, opts.output ? await downloadAll(ctx, client, taskFiles(task), opts.output) : []);
}
