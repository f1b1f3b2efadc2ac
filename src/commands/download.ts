/** `download`: save a finished task's files into a folder. */
import { AnyGenError } from '../errors.js';
import type { CommandContext } from '../factory.js';
import { completedTask, downloadAll, printTask, type TaskFilesOptions, taskFiles } from './task.js';

export async function run(ctx: CommandContext, opts: TaskFilesOptions) {
  const { client, task, output } = await completedTask(ctx, opts);
  const files = taskFiles(task);
  if (files.length === 0)
    throw new AnyGenError({ kind: 'api_error', message: `Task ${task.task_id} has no file to download` });
  await printTask(ctx, client, task, await downloadAll(ctx, client, task, files, output));
}
