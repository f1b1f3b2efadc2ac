/**
 * `--detach`: the same wait, in a background process that outlives the caller. For
 * agents whose host has no background worker: the command returns at once with the
 * watcher's PID and log, and the watcher records the outcome in the task history, so
 * `status` and `tasks` show it without anyone reading the log.
 */

import { closeSync, openSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ENV_WATCHER } from './contract.js';
import { usageError } from './errors.js';
import type { CommandContext, NetworkOptions } from './factory.js';
import type { WaitFlags } from './flags.js';
import type { DetachedResult } from './render/results.js';
import { makeFolders } from './store/atomic.js';
import { stateDir } from './store/history.js';

/**
 * Where the watcher's log goes, checked before anything is sent: a create must not be
 * paid for only to find that its watcher cannot write.
 */
export function logFolder(ctx: CommandContext): string {
  const dir = join(stateDir(ctx.io.env), 'logs');
  try {
    makeFolders(dir, 0o700);
    const probe = join(dir, `.probe-${ctx.io.now().toString(36)}-${Math.random().toString(36).slice(2)}`);
    closeSync(openSync(probe, 'wx', 0o600));
    unlinkSync(probe);
  } catch (err) {
    throw usageError(
      `--detach: cannot write the watcher's log in ${dir} (${(err as { code?: string }).code ?? (err as Error).message})`,
      'Set XDG_STATE_HOME to a folder you can write, or wait in the foreground (without --detach).',
    );
  }
  return dir;
}

/** The flags a watcher repeats: where to save, how long and how often; -H; never the key. */
export function watchFlags(opts: NetworkOptions & WaitFlags & { output?: string }): string[] {
  return [
    ...(opts.output !== undefined ? ['--output', resolve(opts.output)] : []),
    ...(opts.timeout !== undefined ? ['--timeout', opts.timeout] : []),
    ...(opts.interval !== undefined ? ['--interval', opts.interval] : []),
    ...(opts.header ?? []).flatMap((h) => ['-H', h]),
    '--progress',
    'plain',
  ];
}

export interface Watch {
  taskId: string;
  /** The command line the watcher runs, without `--detach`. */
  args: string[];
  net: NetworkOptions;
  /** From logFolder(), called before anything was sent. */
  logDir: string;
  taskUrl?: string;
}

/** Starts the watcher, unless one is already waiting for this task; prints and returns what it started. */
export async function detach(ctx: CommandContext, watch: Watch): Promise<DetachedResult> {
  const { io } = ctx;
  if (!io.spawnSelf) throw usageError('--detach is not available here');
  const running = ctx.history.find(watch.taskId)?.watcher;
  let result: DetachedResult;
  if (running && io.isAlive?.(running.pid)) {
    result = { task_id: watch.taskId, pid: running.pid, log: running.log, started: false };
    ctx.out.info(`A watcher for task ${watch.taskId} is already running (pid ${running.pid}): no second one started`);
  } else {
    const log = join(watch.logDir, `${watch.taskId}-${new Date(io.now()).toISOString().replace(/[:.]/g, '-')}.log`);
    // A key given with --api-key travels in the environment, never in the watcher's argv (ps shows argv).
    const key = ctx.key(watch.net);
    const env = {
      ...io.env,
      [ENV_WATCHER]: watch.taskId,
      ...(key.source === 'flag' ? { ANYGEN_API_KEY: key.key } : {}),
    };
    const pid = await io.spawnSelf(watch.args, env, log);
    await ctx.history.record({
      task_id: watch.taskId,
      watcher: { pid, log, started_at: new Date(io.now()).toISOString() },
    });
    if (!ctx.history.enabled)
      ctx.out.warn('Warning: ANYGEN_NO_HISTORY is set: status and tasks will not show how the wait ends; read the log');
    result = { task_id: watch.taskId, pid, log, started: true };
  }
  if (watch.taskUrl) result.task_url = watch.taskUrl;
  await ctx.out.result('detached', result, [
    ['Task ID', result.task_id],
    ['Task URL', result.task_url],
    ['Watcher PID', result.pid],
    ['Log', result.log],
  ]);
  return result;
}
