/** `batch FILE --output DIR`: many prompts, each created exactly once, resumable and shardable. */

import { type BatchItem, readBatchInput } from '../batch/input.js';
import { createBatchProgress } from '../batch/progress.js';
import { type BatchOutcome, countStates, runBatch } from '../batch/runner.js';
import { inShard, parseShard } from '../batch/shard.js';
import { type Action, BatchState, type ItemState } from '../batch/state.js';
import { EXIT, usageError } from '../errors.js';
import type { CommandContext, NetworkOptions } from '../factory.js';
import { intOption, requireText, type WaitFlags, type WaitTimes, waitTimes } from '../flags.js';
import type { BatchResult } from '../render/results.js';
import { makeFolders } from '../store/atomic.js';
import type { HistoryUpdate } from '../store/history.js';
import { checkFolderTarget } from '../store/paths.js';

export interface BatchOptions extends NetworkOptions, WaitFlags {
  output?: string;
  concurrency?: string;
  shard?: string;
  dryRun?: boolean;
  failFast?: boolean;
  retryUnknown?: boolean;
  /** The input: a JSON Lines or .txt file, or - for standard input. */
  file?: string;
}

/** Everything a batch run needs, read and checked before anything is sent. */
interface BatchPlan {
  output: string;
  concurrency: number;
  times: WaitTimes;
  items: BatchItem[];
  state: BatchState;
  actions: Map<string, Action>;
}

export async function run(ctx: CommandContext, opts: BatchOptions): Promise<number> {
  const plan = await readPlan(ctx, opts);
  if (opts.dryRun) return dryRun(ctx, plan);
  const outcome = await runItems(ctx, opts, plan);
  await printOutcome(ctx, plan.state, outcome);
  return nextSteps(ctx, plan.state, outcome);
}

/** Every flag and the whole input are checked, and the state file read, before anything is sent. */
async function readPlan(ctx: CommandContext, opts: BatchOptions): Promise<BatchPlan> {
  const input = requireText('FILE', opts.file);
  const output = requireText('--output', opts.output);
  checkFolderTarget('--output', output);
  const concurrency = intOption('--concurrency', opts.concurrency, 1, 32, 4);
  const shard = parseShard(opts.shard);
  const times = waitTimes(opts);
  const language = ctx.config().default_language;
  const batch = await readBatchInput({
    file: input,
    stdin: input === '-' ? ctx.io.stdin : undefined,
    defaultLanguage: typeof language === 'string' ? language : undefined,
  });
  const items = batch.items.filter((i) => inShard(i.id, shard));
  const state = BatchState.open(output, batch.name, shard, ctx.io.now);
  const actions = state.plan(items, Boolean(opts.retryUnknown));
  return { output, concurrency, times, items, state, actions };
}

/** `--dry-run`: what each item would do and which files would be uploaded; nothing is sent. */
async function dryRun(ctx: CommandContext, { items, state, actions }: BatchPlan): Promise<number> {
  const uploads = new Set<string>();
  for (const item of items) {
    if (actions.get(item.id) !== 'create') continue;
    for (const path of item.files) if (!state.upload(path)) uploads.add(path);
  }
  const states = state.statesOf(items);
  const result: BatchResult = {
    success: true,
    dry_run: true,
    state_file: state.path,
    items: states.map((s) => ({ ...itemResult(s), action: actions.get(s.id) ?? 'skip' })),
    uploads: [...uploads],
    counts: countStates(states),
    stopped: null,
  };
  await ctx.out.result('batch', result, [
    ...result.items.map((i) => `${i.action}\t${i.id}\t${i.status}${i.task_id ? `\t${i.task_id}` : ''}`),
    ...result.uploads!.map((p) => `upload\t${p}`),
  ]);
  const creates = result.items.filter((i) => i.action === 'create').length;
  ctx.out.info(
    `Dry run: ${creates} to create, ${result.items.filter((i) => i.action === 'wait').length} to wait for, ` +
      `${uploads.size} file${uploads.size === 1 ? '' : 's'} to upload; nothing was sent`,
  );
  return EXIT.ok;
}

/** Runs the scheduler with a progress display, and says at once what Ctrl-C does. */
async function runItems(ctx: CommandContext, opts: BatchOptions, plan: BatchPlan): Promise<BatchOutcome> {
  const { output, state, items, actions, concurrency, times } = plan;
  const client = await ctx.client(opts);
  // One connection per worker: creates, waits and downloads share the pool.
  client.allowConnections(concurrency);
  try {
    makeFolders(output);
  } catch (err) {
    throw usageError(`Cannot create --output ${output}: ${(err as Error).message}`);
  }
  const live = { running: 0 };
  const slow = { pausedUntil: 0 };
  ctx.io.runningLong?.();
  const progress = await createBatchProgress(
    ctx.out,
    () => ({
      counts: countStates(state.statesOf(items)),
      running: live.running,
      pausedMs: Math.max(0, slow.pausedUntil - ctx.io.now()),
    }),
    ctx.io.now,
  );
  ctx.out.info(`State file: ${state.path}`);
  // Said at once: the creates in flight may take up to their timeout to finish.
  const onStop = () =>
    progress.note(
      `Stopping: no new creates; ${live.running} item${live.running === 1 ? '' : 's'} finishing what is in flight (Ctrl-C again to exit at once)`,
    );
  const recorded: HistoryUpdate[] = [];
  ctx.io.signal.addEventListener('abort', onStop, { once: true });
  try {
    return await runBatch({
      client,
      state,
      items,
      actions,
      concurrency,
      times,
      failFast: Boolean(opts.failFast),
      now: ctx.io.now,
      sleep: ctx.io.sleep,
      signal: ctx.io.signal,
      live,
      // Kept, and written to the task history in one go when the batch ends: the state
      // file is the batch's own record meanwhile, and a write per task cost 200 items
      // about 30 MiB of memory.
      record: async (update) => void recorded.push(update),
      // One line per item, not per file: the batch reports items.
      download: async (files, signal) => {
        const saved = [];
        for (const f of files) saved.push(await client.download(f, output, { signal }));
        return saved;
      },
      onEvent: (e) => {
        if (e.type === 'slow-down') slow.pausedUntil = Math.max(slow.pausedUntil, ctx.io.now() + (e.delayMs ?? 0));
        progress.event(e);
      },
    });
  } finally {
    ctx.io.signal.removeEventListener('abort', onStop);
    progress.stop();
    await ctx.history.recordAll(recorded);
  }
}

/** The result on stdout: a document under --json, else a tab-separated line per item. */
async function printOutcome(ctx: CommandContext, state: BatchState, outcome: BatchOutcome): Promise<void> {
  const { counts } = outcome;
  const result: BatchResult = {
    success: counts.completed === counts.total,
    dry_run: false,
    state_file: state.path,
    items: outcome.items.map(itemResult),
    counts,
    stopped: outcome.stopped ?? null,
  };
  await ctx.out.result(
    'batch',
    result,
    result.items.map(
      (i) =>
        `${i.id}\t${i.status}\t${i.task_id ?? '-'}\t${i.status === 'completed' ? i.files.join(' ') : (i.error ?? '')}`,
    ),
  );
}

/**
 * What to do next, on stderr even under --json: it is what keeps credits from being
 * spent twice. Returns the exit code, which says how far the batch got.
 */
function nextSteps(ctx: CommandContext, state: BatchState, outcome: BatchOutcome): number {
  const { counts } = outcome;
  const say = (text: string) => ctx.io.stderr.write(`${text}\n`);
  const parts = [`${counts.completed} completed`];
  if (counts.failed) parts.push(`${counts.failed} failed`);
  if (counts.unknown) parts.push(`${counts.unknown} unknown`);
  if (counts.created) parts.push(`${counts.created} created, not finished`);
  if (counts.pending) parts.push(`${counts.pending} not created`);
  if (!ctx.out.mode.quiet && !ctx.out.mode.json)
    say(`Batch: ${parts.join(', ')} of ${counts.total}; state in ${state.path}`);
  if (outcome.stopMessage && outcome.stopped !== 'interrupted') say(outcome.stopMessage);
  if (counts.unknown) {
    say(
      `${counts.unknown} item${counts.unknown === 1 ? '' : 's'} may have been created without an answer: check them on AnyGen; ` +
        'a rerun with --retry-unknown creates them again (and may spend credits twice)',
    );
  }
  if (outcome.stopped === 'interrupted') {
    say('Interrupted: creates in flight were recorded; run the same command again to resume');
    return EXIT.interrupted;
  }
  if (outcome.stopped === 'auth') return EXIT.auth;
  if (counts.failed || counts.unknown || counts.pending) return EXIT.failed;
  if (counts.created) {
    say('Some tasks did not finish within --timeout; run the same command again to keep waiting for them');
    return EXIT.waitTimeout;
  }
  return EXIT.ok;
}

function itemResult(s: ItemState): BatchResult['items'][number] {
  return { id: s.id, status: s.status, task_id: s.task_id, files: s.files, error: s.error };
}
