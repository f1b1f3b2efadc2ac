/** `get-messages`: a task's messages, or a wait for the reply to the latest change request. */
import { type AnyGenClient, checkTaskId } from '../client/client.js';
import type { MessagesPage, TaskMessage } from '../client/schemas.js';
import { detach, logFolder, watchFlags } from '../detach.js';
import { AnyGenError, usageError } from '../errors.js';
import type { CommandContext, NetworkOptions } from '../factory.js';
import { intOption, requireText, type WaitFlags, waitTimes } from '../flags.js';
import { cliCommand } from '../render/format.js';
import type { HumanLine } from '../render/output.js';
import type { MessagesResult, ReplyResult } from '../render/results.js';
import { checkFolderTarget } from '../store/paths.js';
import { downloadAll, taskFiles, versionOf, waitWithProgress } from './task.js';

export interface GetMessagesOptions extends NetworkOptions, WaitFlags {
  taskId?: string;
  limit?: string;
  cursor?: string;
  wait?: boolean;
  sinceId?: string;
  /** With --wait: download the revised files here. */
  output?: string;
  detach?: boolean;
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (content === undefined || content === null) return '';
  return JSON.stringify(content);
}

function messageView(m: TaskMessage) {
  return { id: m.id, role: m.role, status: m.status ?? null, content: m.content ?? null };
}

function snapshotView(page: MessagesPage) {
  const s = page.task_snapshot;
  return s
    ? { status: s.status ?? null, content_version: s.content_version ?? null, can_export: s.can_export ?? null }
    : null;
}

export async function run(ctx: CommandContext, opts: GetMessagesOptions) {
  const taskId = checkTaskId(requireText('--task-id', opts.taskId));
  const limit = intOption('--limit', opts.limit, 1, 100, 10);
  if (opts.wait) return waitForReply(ctx, opts, taskId, limit);
  if (opts.sinceId !== undefined) throw usageError('--since-id goes with --wait');
  if (opts.output !== undefined || opts.detach) {
    throw usageError(`${opts.detach ? '--detach' : '--output'} goes with --wait`);
  }
  const client = await ctx.client(opts);
  const { data } = await client.getMessages(
    taskId,
    { limit, ...(opts.cursor ? { cursor: opts.cursor } : {}) },
    { signal: ctx.io.signal },
  );
  const result: MessagesResult = {
    task_id: taskId,
    messages: data.messages.map(messageView),
    task_snapshot: snapshotView(data),
    has_more: data.has_more ?? false,
    cursor: data.cursor ?? null,
  };
  const lines: HumanLine[] = [`Messages (${result.messages.length}):`];
  for (const m of data.messages) {
    lines.push(`  [${m.role}] (id=${m.id}, status=${m.status ?? '?'}): ${contentText(m.content)}`);
  }
  if (result.task_snapshot) {
    lines.push(
      `Task snapshot: status=${result.task_snapshot.status}, content_version=${String(result.task_snapshot.content_version)}, can_export=${result.task_snapshot.can_export}`,
    );
  }
  if (result.has_more && result.cursor) lines.push(`More messages: --cursor ${result.cursor}`);
  await ctx.out.result('messages', result, lines);
}

/** Without --since-id, the reply wanted is the one to the latest message sent. */
function latestUserMessage(page: MessagesPage): number {
  return page.messages.filter((m) => m.role === 'user').reduce((max, m) => Math.max(max, m.id), 0);
}

/**
 * A reply always has a higher id than the message it answers, so an id above every
 * message of the task can never be answered: say so at once, not after 20 minutes.
 */
function checkSinceId(given: number, page: MessagesPage, taskId: string): void {
  const newest = page.messages.reduce((max, m) => Math.max(max, m.id), 0);
  if (given <= newest) return;
  throw usageError(
    `--since-id ${given} is above every message id of task ${taskId} (${newest ? `the newest is ${newest}` : 'it has no messages'})`,
    `Give the Message ID that send-message printed, or leave --since-id out to wait for the reply to your latest message: ${cliCommand('get-messages', '--task-id', taskId, '--wait')}`,
  );
}

/** Waits until an assistant reply newer than --since-id has finished; returns it and the page it came on. */
async function awaitReply(
  ctx: CommandContext,
  client: AnyGenClient,
  opts: GetMessagesOptions,
  taskId: string,
  limit: number,
) {
  const given =
    opts.sinceId === undefined ? undefined : intOption('--since-id', opts.sinceId, 0, Number.MAX_SAFE_INTEGER, 0);
  // Without --since-id, an older finished reply must not end the wait at once (the
  // Python script's default of 0 did): the first page tells which message is the latest.
  let sinceId = given ?? -1;
  let checked = false;
  const newer = (page: MessagesPage) =>
    page.messages.filter(
      (m) => m.role === 'assistant' && m.id > sinceId && (m.status === 'completed' || m.status === 'failed'),
    );
  const page = await waitWithProgress(
    ctx,
    {
      label:
        given === undefined
          ? 'Waiting for the reply to your latest message'
          : `Waiting for the reply to message ${given}`,
      taskId,
    },
    async (o) => (await client.getMessages(taskId, { limit }, { ...o, retries: 0 })).data,
    (p) => {
      if (sinceId < 0) sinceId = latestUserMessage(p);
      else if (given !== undefined && !checked) checkSinceId(given, p, taskId);
      checked = true;
      const done = newer(p).length > 0;
      const running = p.messages.find((m) => m.role === 'assistant' && m.id > sinceId);
      return { status: done ? 'completed' : (running?.status ?? 'waiting for reply'), done };
    },
    waitTimes(opts),
    () => ({
      stopped: 'Stopped waiting for the reply',
      still: 'it may still arrive',
      // Without a first answer there is no message id to give: leave it to the default.
      hint: `Resume with: ${cliCommand('get-messages', '--task-id', taskId, '--wait', ...(sinceId >= 0 ? ['--since-id', sinceId] : []), ...(opts.output ? ['--output', opts.output] : []))}`,
    }),
  );
  // The newest finished reply is the answer to the latest message.
  return { page, reply: newer(page).sort((a, b) => b.id - a.id)[0] as TaskMessage };
}

async function waitForReply(ctx: CommandContext, opts: GetMessagesOptions, taskId: string, limit: number) {
  if (opts.cursor !== undefined) throw usageError('--cursor cannot be used with --wait');
  if (opts.output !== undefined) checkFolderTarget('--output', requireText('--output', opts.output));
  waitTimes(opts);
  if (opts.detach) {
    const since =
      opts.sinceId !== undefined
        ? ['--since-id', String(intOption('--since-id', opts.sinceId, 0, Number.MAX_SAFE_INTEGER, 0))]
        : [];
    const args = ['get-messages', '--task-id', taskId, '--wait', ...since, ...watchFlags(opts)];
    await detach(ctx, { taskId, args, net: opts, logDir: logFolder(ctx) });
    return;
  }
  const client = await ctx.client(opts);
  const { page, reply } = await awaitReply(ctx, client, opts, taskId, limit);
  if (reply.status === 'failed') {
    throw new AnyGenError({
      kind: 'task_failed',
      message: `The reply failed: ${client.redact(contentText(reply.content)) || 'no reason given'}`,
    });
  }
  const version = versionOf(page.task_snapshot?.content_version);
  await ctx.history.record({ task_id: taskId, ...(version !== undefined ? { content_version: version } : {}) });
  const result: ReplyResult = { task_id: taskId, reply: messageView(reply), task_snapshot: snapshotView(page) };
  const lines: HumanLine[] = [
    ['Message ID', reply.id],
    ['Status', reply.status ?? 'completed'],
    ['Reply', contentText(reply.content)],
  ];
  if (opts.output !== undefined) {
    // The revised files, named with their version so they never pass for the original.
    const { data: task } = await client.getTask(taskId, { signal: ctx.io.signal });
    result.downloads = await downloadAll(ctx, client, task, taskFiles(task), opts.output, version ?? 0);
    lines.push(...result.downloads.map((d): HumanLine => ['Local file', d.path]));
  }
  await ctx.out.result('reply', result, lines);
}
