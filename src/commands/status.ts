/**
 * `status --task-id ID`: one read of a task, never a wait, printed as poll prints it,
 * with the files this machine saved of it (from the task history). Exit 0 whenever
 * the read worked, whatever the task's status: it answers "where is it?", not "is it done?".
 */
import { type AnyGenClient, checkTaskId } from '../client/client.js';
import type { TaskMessage } from '../client/schemas.js';
import { AnyGenError } from '../errors.js';
import type { CommandContext, NetworkOptions } from '../factory.js';
import { requireText } from '../flags.js';
import { cliCommand } from '../render/format.js';
import type { StatusResult } from '../render/results.js';
import { humanTask } from '../render/task.js';
import type { HistoryEntry } from '../store/history.js';
import { ENDED_BADLY, failure, taskResult, taskUrl, versionOf } from './task.js';

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
  const result: StatusResult = taskResult(client, task, files, (text) => ctx.out.info(text));
  if (ENDED_BADLY.has(task.status)) result.error = failure(client, task).message;
  // The task stays `completed` while a change is made: say how the newest change stands.
  if (entry?.messages_sent) result.change = await changeState(ctx, client, taskId);
  const lines = humanTask(result);
  if (result.error) lines.splice(1, 0, ['Reason', result.error]);
  if (result.change) {
    const c = result.change;
    lines.splice(1, 0, ['Change', `${c.status}${c.content_version !== null ? ` (version ${c.content_version})` : ''}`]);
  }
  await ctx.out.result('status', result, lines);
}

/**
 * The newest change request's state, from one read of the messages: `waiting` until a
 * reply exists, then the reply's status (`running`, `completed`, `failed`).
 */
async function changeState(ctx: CommandContext, client: AnyGenClient, taskId: string) {
  const { data } = await client.getMessages(taskId, { limit: 10 }, { signal: ctx.io.signal });
  const newest = (role: string) =>
    data.messages
      .filter((m) => m.role === role)
      .reduce<TaskMessage | undefined>((a, m) => (!a || m.id > a.id ? m : a), undefined);
  const asked = newest('user');
  const reply = newest('assistant');
  const answered = reply && (!asked || reply.id > asked.id);
  return {
    status: answered ? (reply.status ?? 'completed') : 'waiting',
    message_id: asked?.id ?? null,
    content_version: versionOf(data.task_snapshot?.content_version) ?? null,
  };
}

/** What the history knows that the service does not: a detached wait and how the last wait ended. */
function aboutTheWatcher(ctx: CommandContext, entry: HistoryEntry | undefined) {
  if (!entry) return;
  if (entry.watcher) ctx.out.info(`Watcher: pid ${entry.watcher.pid}, log ${entry.watcher.log}`);
  if (entry.last_error) ctx.out.info(`Last wait: ${entry.last_error}`);
}
