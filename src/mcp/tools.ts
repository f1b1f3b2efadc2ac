/**
 * The MCP tools: what an agent sees (names, descriptions, input schemas) and how each
 * call maps onto the command the CLI runs for the same job. Results come from the
 * commands themselves, through the schemas of their --json documents (src/render/results.ts),
 * so a tool and its command cannot drift apart.
 */

import type * as zt from 'zod/mini';
import { checkTaskId } from '../client/client.js';
import { downloadAll, taskFiles, taskResult, versionOf } from '../commands/task.js';
import { AnyGenError, usageError } from '../errors.js';
import type { CommandContext, NetworkOptions } from '../factory.js';
import {
  CreateResult,
  MessagesResult,
  PrepareResult,
  ReplyWithTaskResult,
  type ResultKind,
  type ResultOf,
  SendMessageResult,
  TaskResult,
  UploadResult,
} from '../render/results.js';
import { loadConversation } from '../store/conversation.js';
import { checkFolderTarget } from '../store/paths.js';
import { z } from './sdk.js';

/** What a tool gets for one call. */
export interface ToolCall {
  /** A command context whose IO carries this call's abort signal and whose output captures the result. */
  ctx: CommandContext;
  /** The server's own -k and -H: every call goes out with them. */
  net: NetworkOptions;
  /** The server's --interval, handed to every wait. */
  interval: string | undefined;
  /** The result the command handed to its output, checked by its --json schema. */
  result<K extends ResultKind>(kind: K): ResultOf<K>;
}

export interface ToolAnnotations {
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

// biome-ignore lint/suspicious/noExplicitAny: the table holds tools of every input and output type.
type AnyObject = zt.ZodMiniObject<any, any>;

export interface Tool<I extends AnyObject = AnyObject, O extends AnyObject = AnyObject> {
  name: string;
  title: string;
  description: string;
  input: I;
  output: O;
  annotations: ToolAnnotations;
  /** Whether the call waits, and so reports progress when asked and stops when cancelled. */
  waits?: boolean;
  run(call: ToolCall, input: zt.infer<I>): Promise<zt.infer<O>>;
}

function tool<I extends AnyObject, O extends AnyObject>(t: Tool<I, O>): Tool {
  return t as unknown as Tool;
}

// ---------------------------------------------------------------- input pieces

const text = (description: string) => z.string().check(z.regex(/\S/, 'may not be empty'), z.describe(description));
const path = (description: string) =>
  text(
    `${description} Absolute paths are safest: a relative one is resolved against the folder the server was started in.`,
  );
const taskId = text('The task id that create_task returned (task_…).');
const tokens = (description: string) =>
  z.optional(z.array(text('A file token (tk_…).')).check(z.describe(description)));
const timeoutSeconds = z.optional(
  z
    .number()
    .check(
      z.minimum(1, 'must be at least 1 second'),
      z.maximum(7 * 86_400, 'must be at most a week'),
      z.describe(
        'Stop waiting after this many seconds (default 1200, 20 minutes). Stopping does not stop the work: call again to keep waiting.',
      ),
    ),
);

/** Seconds as the CLI's --timeout takes them (the command checks and converts them). */
const seconds = (n: number | undefined) => (n === undefined ? undefined : String(n));

/**
 * A wait ended without an answer: the CLI's hint names the command to resume with;
 * an agent on MCP resumes with the tool.
 */
function resumeWith(err: unknown, how: string): unknown {
  if (err instanceof AnyGenError && (err.kind === 'wait_timeout' || err.kind === 'interrupted')) {
    return err.withHint(`Over MCP: ${how}`);
  }
  return err;
}

// ---------------------------------------------------------------- the tools

const uploadFile = tool({
  name: 'upload_file',
  title: 'Upload a reference file',
  description:
    'Upload a local reference file (an image, a sketch, a document; at most 50 MB) to AnyGen and get a durable file_token. ' +
    'Free; takes a few seconds. Next: pass the token in file_tokens of prepare, create_task or send_message (a token can be reused).',
  input: z.strictObject({ path: path('The file to upload.') }),
  output: UploadResult,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  async run(call, input) {
    const { run } = await import('../commands/upload.js');
    await run(call.ctx, { ...call.net, file: input.path });
    return call.result('upload');
  },
});

const prepare = tool({
  name: 'prepare',
  title: 'Requirement dialogue (one turn)',
  description:
    'One turn of the requirement dialogue that turns a request into a good prompt before anything is generated. Free; may take up to two minutes. ' +
    'Keep the dialogue in a conversation file: pass conversation_file on every turn (it is created on the first one and updated after each), ' +
    'the same JSON file the CLI reads with `anygen-image prepare --input` and writes with `--save`. ' +
    'While status is "collecting", show the reply to the user and call prepare again with their answer. ' +
    'When ready is true, suggested_task_params.prompt is the prompt: call create_task with from_conversation set to the same file.',
  input: z.strictObject({
    message: text("The user's message for this turn."),
    file_tokens: tokens(
      'File tokens from upload_file to attach to this turn (tokens already in the conversation are not sent again).',
    ),
    conversation_file: z.optional(
      path(
        'The conversation to continue, as a JSON file; created if it does not exist yet. Without it the turn is not remembered.',
      ),
    ),
    save: z.optional(path('Where to write the updated conversation, when not back to conversation_file.')),
  }),
  output: PrepareResult,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  async run(call, input) {
    const { run } = await import('../commands/prepare.js');
    await run(call.ctx, {
      ...call.net,
      message: input.message,
      ...(input.file_tokens ? { fileToken: input.file_tokens } : {}),
      ...(input.conversation_file !== undefined ? { input: input.conversation_file } : {}),
      ...(input.save !== undefined || input.conversation_file !== undefined
        ? { save: input.save ?? input.conversation_file }
        : {}),
    });
    return call.result('prepare');
  },
});

const createTask = tool({
  name: 'create_task',
  title: 'Create a generation task (spends credits)',
  description:
    "Create an image generation task. This SPENDS THE USER'S CREDITS: call it once per image the user asked for, and never call it again " +
    'because a call failed or timed out without first checking (an error that says "the task may have been created" means it may exist). ' +
    'Returns at once with task_id. Give either prompt, or from_conversation (a conversation file prepare reported ready; its prompt and file tokens are used). ' +
    'Next: wait_for_task with the task_id (generation takes one to several minutes).',
  input: z.strictObject({
    prompt: z.optional(text('What to generate; the prompt prepare suggested, or your own.')),
    from_conversation: z.optional(
      path(
        'A conversation file from prepare whose status is ready: its suggested prompt and file tokens are used (prompt and file_tokens given here win).',
      ),
    ),
    operation: z.optional(text('The operation; ai_designer (the default) makes images.')),
    language: z.optional(
      z
        .enum(['zh-CN', 'en-US'])
        .check(z.describe("The task's language (default: default_language from the config file).")),
    ),
    file_tokens: tokens('File tokens from upload_file to use as references.'),
    export_format: z.optional(text('Export format, for operations that have one.')),
  }),
  output: CreateResult,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  async run(call, input) {
    let prompt = input.prompt;
    let fileTokens = input.file_tokens;
    if (input.from_conversation !== undefined) {
      const conversation = loadConversation(input.from_conversation);
      const suggested = conversation.suggested_task_params;
      if (conversation.status !== 'ready' || !suggested?.prompt?.trim()) {
        throw usageError(
          `Conversation ${input.from_conversation} is not ready (status: ${conversation.status ?? 'none'}): it has no prompt to create with`,
          'Continue it with prepare until ready is true, or give prompt.',
        );
      }
      prompt ??= suggested.prompt;
      fileTokens ??= suggested.file_tokens ?? conversation.file_tokens ?? undefined;
    }
    if (prompt === undefined) throw usageError('Give prompt or from_conversation');
    const { run } = await import('../commands/create.js');
    await run(call.ctx, {
      ...call.net,
      prompt,
      ...(input.operation !== undefined ? { operation: input.operation } : {}),
      ...(input.language !== undefined ? { language: input.language } : {}),
      ...(fileTokens?.length ? { fileToken: fileTokens } : {}),
      ...(input.export_format !== undefined ? { exportFormat: input.export_format } : {}),
    });
    return call.result('create');
  },
});

const getTask = tool({
  name: 'get_task',
  title: "Read a task's status",
  description:
    "Read a task's status and progress once (one request, no waiting); when completed, its file URLs, and the files already saved of it on this machine. Free. " +
    'To wait for it, use wait_for_task instead; for a failed task, wait_for_task returns the reason.',
  input: z.strictObject({ task_id: taskId }),
  output: TaskResult,
  annotations: { readOnlyHint: true, openWorldHint: true },
  async run(call, input) {
    // The CLI's `status`: one read, recorded in the task history, with the files saved here.
    const { run } = await import('../commands/status.js');
    await run(call.ctx, { ...call.net, taskId: input.task_id });
    return call.result('status');
  },
});

const waitForTask = tool({
  name: 'wait_for_task',
  title: 'Wait for a task to finish',
  description:
    'Wait until a task completes or fails, and with output_dir download its files there (an existing file is never overwritten). Free. ' +
    'Blocks: generation usually takes one to several minutes, at most timeout_seconds (default 1200). Sends progress notifications when given a progress token; cancelling the call stops only the wait. ' +
    'If it stops before the end, call it again with the same task_id: waiting again costs nothing, creating again costs credits. ' +
    'A failed task is an error result with the reason. Next: show the files; for changes, send_message.',
  input: z.strictObject({
    task_id: taskId,
    timeout_seconds: timeoutSeconds,
    output_dir: z.optional(path('Download the finished files into this folder (created if missing).')),
  }),
  output: TaskResult,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  waits: true,
  async run(call, input) {
    const { run: poll } = await import('../commands/poll.js');
    try {
      await poll(call.ctx, {
        ...call.net,
        taskId: input.task_id,
        timeout: seconds(input.timeout_seconds),
        interval: call.interval,
        ...(input.output_dir !== undefined ? { output: input.output_dir } : {}),
      });
    } catch (err) {
      throw resumeWith(err, `call wait_for_task with task_id ${input.task_id} again.`);
    }
    return call.result('task');
  },
});

const downloadFiles = tool({
  name: 'download_files',
  title: "Download a finished task's files",
  description:
    "Download a completed task's files (or, with thumbnail, its small preview) into output_dir. Free; seconds. " +
    'Names come from the service, reduced to safe file names; an existing file is never overwritten (poster.png, then poster_1.png). ' +
    'A task that is not completed yet is an error: use wait_for_task with output_dir instead.',
  input: z.strictObject({
    task_id: taskId,
    output_dir: path('The folder to download into (created if missing).'),
    thumbnail: z.optional(z.boolean().check(z.describe('Download only the thumbnail, as thumbnail_<task_id>.png.'))),
  }),
  output: TaskResult,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  async run(call, input) {
    const { run } = await (input.thumbnail ? import('../commands/thumbnail.js') : import('../commands/download.js'));
    await run(call.ctx, { ...call.net, taskId: input.task_id, output: input.output_dir });
    return call.result('task');
  },
});

const sendMessage = tool({
  name: 'send_message',
  title: 'Ask a finished task for changes',
  description:
    'Ask a completed task for a change ("darker background", "add the date"), optionally with reference files: file_tokens from upload_file, or files (local paths, uploaded first). ' +
    'May spend credits like a new generation. Returns at once with message_id; never call it twice for one change. ' +
    'Next: wait_for_reply with since_id set to message_id (and output_dir to download the changed image).',
  input: z.strictObject({
    task_id: taskId,
    message: text('The change you want.'),
    file_tokens: tokens('File tokens from upload_file to attach.'),
    files: z.optional(
      z
        .array(path('A file to upload and attach.'))
        .check(z.describe('Local files to upload and attach (each at most 50 MB).')),
    ),
  }),
  output: SendMessageResult,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  async run(call, input) {
    const { run: send } = await import('../commands/send-message.js');
    await send(call.ctx, {
      ...call.net,
      taskId: input.task_id,
      message: input.message,
      ...(input.file_tokens ? { fileToken: input.file_tokens } : {}),
      ...(input.files ? { file: input.files } : {}),
    });
    return call.result('sendMessage');
  },
});

const getMessages = tool({
  name: 'get_messages',
  title: "Read a task's messages",
  description:
    "Read a task's latest messages (yours and the assistant's, with their status) once, newest page first. Free. " +
    'has_more with cursor pages to older ones. To wait for a reply, use wait_for_reply.',
  input: z.strictObject({
    task_id: taskId,
    limit: z.optional(
      z
        .int()
        .check(
          z.minimum(1, 'must be at least 1'),
          z.maximum(100, 'must be at most 100'),
          z.describe('How many messages, 1 to 100 (default 10).'),
        ),
    ),
    cursor: z.optional(text('The cursor of a previous page, for older messages.')),
  }),
  output: MessagesResult,
  annotations: { readOnlyHint: true, openWorldHint: true },
  async run(call, input) {
    const { run: get } = await import('../commands/get-messages.js');
    await get(call.ctx, {
      ...call.net,
      taskId: input.task_id,
      ...(input.limit !== undefined ? { limit: String(input.limit) } : {}),
      ...(input.cursor !== undefined ? { cursor: input.cursor } : {}),
    });
    return call.result('messages');
  },
});

const waitForReply = tool({
  name: 'wait_for_reply',
  title: 'Wait for the reply to a message',
  description:
    "Wait until the assistant's reply to a message sent with send_message is complete, and with output_dir download the task's files as they are after the change. Free. " +
    'Blocks up to timeout_seconds (default 1200); sends progress notifications when given a progress token; cancelling the call stops only the wait. ' +
    'Give since_id (the message_id send_message returned); without it, the reply to the latest message is awaited. ' +
    'If it stops before the reply, call it again: waiting again costs nothing, sending again may cost credits. A failed reply is an error result.',
  input: z.strictObject({
    task_id: taskId,
    since_id: z.optional(
      z
        .int()
        .check(
          z.minimum(0, 'must be 0 or more'),
          z.describe('The message_id from send_message: the reply must be newer.'),
        ),
    ),
    timeout_seconds: timeoutSeconds,
    output_dir: z.optional(
      path("Once the reply is complete, download the task's files into this folder (created if missing)."),
    ),
  }),
  output: ReplyWithTaskResult,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  waits: true,
  async run(call, input) {
    const id = checkTaskId(input.task_id);
    // Checked before the wait, as the CLI checks --output before anything is sent.
    if (input.output_dir !== undefined) checkFolderTarget('output_dir', input.output_dir);
    const { run: get } = await import('../commands/get-messages.js');
    try {
      await get(call.ctx, {
        ...call.net,
        taskId: id,
        wait: true,
        ...(input.since_id !== undefined ? { sinceId: String(input.since_id) } : {}),
        timeout: seconds(input.timeout_seconds),
        interval: call.interval,
      });
    } catch (err) {
      throw resumeWith(
        err,
        `call wait_for_reply with task_id ${id}${input.since_id !== undefined ? ` and since_id ${input.since_id}` : ''} again.`,
      );
    }
    const reply = call.result('reply');
    if (input.output_dir === undefined) return reply;
    const client = await call.ctx.client(call.net);
    const { data: task } = await client.getTask(id, { signal: call.ctx.io.signal });
    const version = versionOf(reply.task_snapshot?.content_version);
    const downloads = await downloadAll(call.ctx, client, task, taskFiles(task), input.output_dir, version);
    return { ...reply, task: taskResult(client, task, downloads) };
  },
});

/** Every tool, in the order a job uses them. */
export const TOOLS: readonly Tool[] = [
  uploadFile,
  prepare,
  createTask,
  getTask,
  waitForTask,
  downloadFiles,
  sendMessage,
  getMessages,
  waitForReply,
];
