/** `send-message`: ask a finished task for a change; returns at once with the message id. */
import { checkTaskId } from '../client/client.js';
import { usageError } from '../errors.js';
import type { CommandContext, NetworkOptions } from '../factory.js';
import { requireText } from '../flags.js';
import { messageOption } from '../io.js';
import type { SendMessageResult } from '../render/results.js';

export interface SendMessageOptions extends NetworkOptions {
  taskId?: string;
  message?: string;
  /** Read the message from standard input (no shell quoting). */
  stdin?: boolean;
  file?: string[];
  fileToken?: string[];
}

async function messageText(ctx: CommandContext, opts: SendMessageOptions): Promise<string> {
  const text = await messageOption(opts, ctx.io.stdin);
  if (opts.stdin && text === '') throw usageError('The message is empty');
  return requireText('--message', text);
}

export async function run(ctx: CommandContext, opts: SendMessageOptions) {
  const taskId = checkTaskId(requireText('--task-id', opts.taskId));
  const content = await messageText(ctx, opts);
  const tokens = (opts.fileToken ?? []).map((t) => requireText('--file-token', t).trim());
  // Every file is checked before the first byte is sent, so one bad path sends nothing.
  const files = [];
  if (opts.file?.length) {
    const { checkUploadFile } = await import('../client/upload.js');
    for (const path of opts.file) files.push(await checkUploadFile(path));
  }
  const client = await ctx.client(opts);
  for (const f of files) {
    ctx.out.info(`Uploading ${f.name} (${f.size} bytes)…`);
    const { data } = await client.upload(f.path, { signal: ctx.io.signal });
    ctx.out.info(`Uploaded ${f.name}`);
    tokens.push(data.file_token);
  }
  const { data, requestId } = await client.sendMessage(
    taskId,
    { content, fileTokens: tokens },
    { signal: ctx.io.signal },
  );
  // The next download of this task asks which version its files show (poster_v1.png).
  const seen = ctx.history.find(taskId);
  await ctx.history.record({ task_id: taskId, messages_sent: (seen?.messages_sent ?? 0) + 1 });
  const result: SendMessageResult = {
    task_id: taskId,
    message_id: data.message.id,
    status: data.status ?? 'processing',
    file_tokens: tokens,
    request_id: requestId ?? null,
  };
  await ctx.out.result('sendMessage', result, [
    ['Message ID', result.message_id],
    ['Status', result.status],
  ]);
}
