/** `create`: one generation task (it spends credits), optionally waited for and downloaded. */

import { OPERATIONS } from '../contract.js';
import { detach, logFolder, watchFlags } from '../detach.js';
import { AnyGenError, unexpectedError, usageError } from '../errors.js';
import type { CommandContext, NetworkOptions } from '../factory.js';
import { requireText, type WaitFlags, type WaitTimes, waitTimes } from '../flags.js';
import { shellQuote } from '../render/format.js';
import type { HumanLine } from '../render/output.js';
import type { CreateResult } from '../render/results.js';
import { humanTask } from '../render/task.js';
import { checkFolderTarget } from '../store/paths.js';
import { type PromptOptions, promptPlan } from './prompt.js';
import { downloadAll, taskFiles, taskHint, taskResult, taskUrl, waitForTask } from './task.js';

export interface CreateOptions extends NetworkOptions, WaitFlags, PromptOptions {
  operation?: string;
  language?: string;
  exportFormat?: string;
  wait?: boolean;
  output?: string;
  detach?: boolean;
}

const LANGUAGES = ['zh-CN', 'en-US'];

/** `./out`, `images/`, `~/x`, `C:\\out`: no operation name has these. */
function looksLikePath(value: string): boolean {
  return /[/\\]|^[.~]/.test(value.trim());
}

/** `ai-designer` is how the skill text writes it; the service's name has the underscore. */
export function normalizeOperation(value: string | undefined): string {
  const op = (value ?? 'ai_designer').trim().toLowerCase().replace(/-/g, '_');
  if (!(OPERATIONS as readonly string[]).includes(op)) {
    // `-o ./out` reads like "output" to many; here it is the operation.
    if (value !== undefined && looksLikePath(value)) {
      throw usageError(
        `Unknown operation ${JSON.stringify(value)}: -o is --operation, not the output folder`,
        `To download into that folder use --output: --output ${shellQuote(value)}`,
      );
    }
    throw usageError(
      `Unknown operation ${JSON.stringify(value)}`,
      `Use ai_designer for images (also accepted: ${OPERATIONS.slice(1).join(', ')}).`,
    );
  }
  return op;
}

export function normalizeLanguage(value: unknown, from: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const match = LANGUAGES.find((l) => l.toLowerCase() === String(value).trim().toLowerCase());
  if (!match) throw usageError(`${from} must be one of ${LANGUAGES.join(', ')}, not ${JSON.stringify(value)}`);
  return match;
}

/**
 * A create cut off after it was sent may still have made (and charged for) a task:
 * say so, so that nobody, agent or person, simply runs it again.
 */
function mayHaveCreated(err: unknown): unknown {
  if (!(err instanceof AnyGenError) || !err.sent) return err;
  if (err.kind !== 'interrupted' && err.kind !== 'network' && err.kind !== 'timeout' && err.kind !== 'protocol') {
    return err;
  }
  return new AnyGenError({
    kind: err.kind,
    message: `${err.kind === 'interrupted' ? 'Interrupted while creating the task' : err.message}; the task may have been created`,
    hint: 'Check your tasks on AnyGen before creating it again: running create again may spend credits twice.',
    ...(err.requestId ? { requestId: err.requestId } : {}),
    ...(err.status !== undefined ? { status: err.status } : {}),
    sent: true,
  });
}

interface Plan {
  operation: string;
  prompt: string;
  language: string | undefined;
  fileTokens: string[];
  exportFormat: string | undefined;
}

/** Everything a create needs, checked before anything is sent (a create spends credits). */
export async function plan(ctx: CommandContext, opts: CreateOptions): Promise<Plan> {
  const operation = normalizeOperation(opts.operation);
  const { prompt, fileTokens } = await promptPlan(ctx, opts);
  const language =
    opts.language !== undefined
      ? normalizeLanguage(opts.language, '--language')
      : normalizeLanguage(ctx.config().default_language, `default_language in ${ctx.configPath}`);
  if (opts.output !== undefined) checkFolderTarget('--output', requireText('--output', opts.output));
  return { operation, prompt, language, fileTokens, exportFormat: opts.exportFormat?.trim() || undefined };
}

export async function createTask(ctx: CommandContext, opts: CreateOptions, p: Plan) {
  const client = await ctx.client(opts);
  ctx.out.info('Creating task…');
  let answer: Awaited<ReturnType<typeof client.createTask>>;
  try {
    answer = await client.createTask(
      {
        operation: p.operation,
        prompt: p.prompt,
        ...(p.language ? { language: p.language } : {}),
        ...(p.exportFormat ? { exportFormat: p.exportFormat } : {}),
        fileTokens: p.fileTokens,
      },
      { signal: ctx.io.signal },
    );
  } catch (err) {
    throw mayHaveCreated(err);
  }
  const { data, requestId } = answer;
  const created = {
    client,
    taskId: data.task_id,
    taskUrl: taskUrl(client, data.task_id, data.task_url, (text) => ctx.out.info(text)),
    requestId: requestId ?? null,
  };
  // Credits were spent: from here on the task can be found again with `anygen-image tasks`.
  await ctx.history.record({
    task_id: created.taskId,
    task_url: created.taskUrl,
    operation: p.operation,
    prompt: p.prompt,
    status: 'created',
  });
  return created;
}

export type Created = Awaited<ReturnType<typeof createTask>>;

/**
 * Wait for a task just created, and download its files. Whatever fails from here on,
 * the task exists and was paid for: every error names it and says how to resume, even
 * under --json and --quiet, so nobody creates it again.
 */
export async function finish(ctx: CommandContext, created: Created, times: WaitTimes, output?: string) {
  // Say where the task is before the long wait, so an interrupted run still has it.
  ctx.out.info(`Task ID: ${created.taskId}\nTask URL: ${created.taskUrl}`);
  try {
    const task = await waitForTask(ctx, created.client, created.taskId, times, output);
    const downloads = output ? await downloadAll(ctx, created.client, task, taskFiles(task), output) : [];
    return taskResult(created.client, task, downloads, (text) => ctx.out.info(text));
  } catch (err) {
    const e = unexpectedError(err);
    // A wait that gave up already says how to resume; everything else learns it here.
    if (e.hint?.includes('Resume with:')) throw e.with({ taskId: created.taskId });
    throw e
      .with({ taskId: created.taskId })
      .withHint(`Task ID: ${created.taskId}\n${taskHint(created.client, created.taskId, output, created.taskUrl)}`);
  }
}

/**
 * `--detach`: the create happens here (it spends credits, and its answer must be seen),
 * the wait in a watcher. The log folder is checked before the create is sent.
 */
export async function createDetached(ctx: CommandContext, opts: CreateOptions, p: Plan) {
  waitTimes(opts);
  const logDir = logFolder(ctx);
  const created = await createTask(ctx, opts, p);
  const args = ['poll', '--task-id', created.taskId, ...watchFlags(opts)];
  await detach(ctx, { taskId: created.taskId, args, net: opts, logDir, taskUrl: created.taskUrl });
}

export async function run(ctx: CommandContext, opts: CreateOptions) {
  const p = await plan(ctx, opts);
  // --detach waits, in the background; it needs no --wait.
  if (opts.detach) return createDetached(ctx, opts, p);
  if (opts.output !== undefined && !opts.wait) {
    throw usageError('--output needs --wait (or use: anygen-image run … --output DIR)');
  }
  const times = waitTimes(opts);
  const created = await createTask(ctx, opts, p);
  const result: CreateResult = { task_id: created.taskId, task_url: created.taskUrl, request_id: created.requestId };
  if (opts.wait) result.task = await finish(ctx, created, times, opts.output);
  const lines: HumanLine[] = result.task
    ? humanTask(result.task)
    : [
        ['Task ID', created.taskId],
        ['Task URL', created.taskUrl],
      ];
  await ctx.out.result('create', result, lines);
}
