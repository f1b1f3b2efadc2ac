/**
 * `status --task-id ID`: one read of a task, never a wait, printed as poll prints it,
 * with the files this machine saved of it (from the task history). Exit 0 whenever
 * the read worked, whatever the task's status: it answers "where is it?", not "is it done?".
 */
import { checkTaskId } from '../client/client.js';
import { AnyGenError } from '../errors.js';
import type { CommandContext, NetworkOptions } from '../factory.js';
import { requireText } from '../flags.js';
import { cliCommand } from '../render/format.js';
import type { HistoryEntry } from '../store/history.js';
import { printTask, taskUrl } from './task.js';

export interface StatusOptions extends NetworkOptions {
  taskId?: string;
}

export async function run(ctx: CommandContext, opts: StatusOptions) {
  const taskId = checkTaskId(requireText('--task-id', opts.taskId));
  const client = await ctx.client(opts);
  let task: Awaited<ReturnType<typeof client.getTask>>['data'];
  try {
    ({ data: task } = await client.getTask(taskId, { signal: ctx.io.signal }));
  } catch (err) {
    if (err instanceof AnyGenError && err.kind === 'not_found') {
      throw err.with({
        message: `AnyGen has no task ${taskId}`,
        hint: `Recent tasks made here: ${cliCommand('tasks')}`,
      });
    }
    throw err;
  }
  const entry = await ctx.history.record({
    task_id: taskId,
    status: task.status,
    task_url: taskUrl(client, taskId, task.output?.task_url),
  });
  aboutTheWatcher(ctx, entry);
  const files = (entry?.files ?? []).map(({ path, url, bytes }) => ({ path, url, bytes }));
  await printTask(ctx, client, task, files);
}

/** What the history knows that the service does not: a detached wait and how the last wait ended. */
function aboutTheWatcher(ctx: CommandContext, entry: HistoryEntry | undefined) {
  if (!entry) return;
  if (entry.watcher) ctx.out.info(`Watcher: pid ${entry.watcher.pid}, log ${entry.watcher.log}`);
  if (entry.last_error) ctx.out.info(`Last wait: ${entry.last_error}`);
}
