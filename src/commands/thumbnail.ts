/** `thumbnail`: save a finished task's thumbnail as thumbnail_<task id>.png. */
import { AnyGenError } from '../errors.js';
import type { CommandContext } from '../factory.js';
import { completedTask, downloadAll, printTask, type TaskFilesOptions } from './task.js';

export async function run(ctx: CommandContext, opts: TaskFilesOptions) {
  const { client, task, output } = await completedTask(ctx, opts);
  const url = task.output?.thumbnail_url;
  if (!url) throw new AnyGenError({ kind: 'api_error', message: `Task ${task.task_id} has no thumbnail` });
  await printTask(
    ctx,
    client,
    task,
    await downloadAll(ctx, client, task, [{ url, name: `thumbnail_${task.task_id}.png` }], output),
  );
}
