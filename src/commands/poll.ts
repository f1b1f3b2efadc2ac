/** `poll`: wait for a task to finish (up to 20 minutes by default), optionally downloading its files. */
import { checkTaskId } from '../client/client.js';
import { detach, logFolder, watchFlags } from '../detach.js';
import type { CommandContext, NetworkOptions } from '../factory.js';
import { requireText, type WaitFlags, waitTimes } from '../flags.js';
import { checkFolderTarget } from '../store/paths.js';
import { downloadAll, printTask, taskFiles, waitForTask } from './task.js';

export interface PollOptions extends NetworkOptions, WaitFlags {
  taskId?: string;
  output?: string;
  detach?: boolean;
}

export async function run(ctx: CommandContext, opts: PollOptions) {
  const taskId = checkTaskId(requireText('--task-id', opts.taskId));
  if (opts.output !== undefined) checkFolderTarget('--output', requireText('--output', opts.output));
  const times = waitTimes(opts);
  if (opts.detach) {
    const logDir = logFolder(ctx);
    await detach(ctx, { taskId, args: ['poll', '--task-id', taskId, ...watchFlags(opts)], net: opts, logDir });
    return;
  }
  const client = await ctx.client(opts);
  const task = await waitForTask(ctx, client, taskId, times, opts.output);
  await printTask(
    ctx,
    client,
    task,
    opts.output ? await downloadAll(ctx, client, task, taskFiles(task), opts.output) : [],
  );
}
