/** `run`: the Python script's one-step job: create, wait, and download when --output is given. */
import type { CommandContext } from '../factory.js';
import { waitTimes } from '../flags.js';
import { humanTask } from '../render/task.js';
import { type CreateOptions, createDetached, createTask, finish, plan } from './create.js';

export async function run(ctx: CommandContext, opts: CreateOptions) {
  const p = await plan(ctx, opts);
  if (opts.detach) return createDetached(ctx, opts, p);
  const times = waitTimes(opts);
  const created = await createTask(ctx, opts, p);
  const result = await finish(ctx, created, times, opts.output);
  await ctx.out.result('task', result, humanTask(result));
}
