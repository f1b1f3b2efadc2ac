/** `tasks`: the tasks this machine created or waited on, newest first, from the task history. */
import type { CommandContext } from '../factory.js';
import { intOption } from '../flags.js';
import type { HumanLine } from '../render/output.js';
import type { TasksResult } from '../render/results.js';
import { recentTasks } from '../store/history.js';

export interface TasksOptions {
  limit?: string;
}

export async function run(ctx: CommandContext, opts: TasksOptions) {
  const limit = intOption('--limit', opts.limit, 1, 1000, 20);
  if (!ctx.history.enabled) ctx.out.warn('Warning: ANYGEN_NO_HISTORY is set: no task history is kept');
  const entries = recentTasks(ctx.history.list(), limit);
  const result: TasksResult = {
    tasks: entries.map((e) => ({
      task_id: e.task_id,
      status: e.status,
      task_url: e.task_url,
      prompt: e.prompt,
      created_at: e.created_at,
      updated_at: e.updated_at,
      files: e.files,
    })),
  };
  const lines: HumanLine[] = [];
  for (const t of result.tasks) {
    lines.push(`${t.created_at}  ${t.task_id}  ${t.status ?? '?'}  ${oneLine(t.prompt ?? '')}`);
    for (const f of t.files) lines.push(`    ${f.path}${f.version > 0 ? ` (version ${f.version})` : ''}`);
  }
  if (lines.length === 0) lines.push(`No tasks yet (history: ${ctx.history.path})`);
  await ctx.out.result('tasks', result, lines);
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 80 ? `${flat.slice(0, 79)}…` : flat;
}
