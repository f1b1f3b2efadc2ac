/**
 * What each command prints under `--json`, besides `"success": true`. The renderer
 * parses every result through its schema, so the documented fields are exactly the
 * printed ones; `npm run docs` writes the README's table from these. Only --json
 * loads this module; commands import its types alone.
 */
import * as z from 'zod/mini';

const Download = z.object({
  path: z.string(),
  url: z.string(),
  bytes: z.number(),
});

const FileRef = z.object({ url: z.string(), name: z.nullable(z.string()) });

export const ConfigSetResult = z.object({ key: z.string(), value: z.string(), path: z.string() });
export const ConfigGetResult = z.object({
  path: z.string(),
  values: z.record(z.string(), z.unknown()),
});
export const ConfigDeleteResult = z.object({ key: z.string(), deleted: z.boolean(), path: z.string() });
export const ConfigPathResult = z.object({ path: z.string() });

export const UploadResult = z.object({
  file_token: z.string(),
  filename: z.nullable(z.string()),
  file_size: z.nullable(z.number()),
  request_id: z.nullable(z.string()),
});

export const PrepareResult = z.object({
  status: z.string(),
  ready: z.boolean(),
  reply: z.string(),
  prepare_session_id: z.nullable(z.string()),
  suggested_task_params: z.nullable(z.record(z.string(), z.unknown())),
  file_tokens: z.array(z.string()),
  message_count: z.number(),
  saved_to: z.nullable(z.string()),
  request_id: z.nullable(z.string()),
});

export const TaskResult = z.object({
  task_id: z.string(),
  status: z.string(),
  progress: z.nullable(z.number()),
  task_url: z.string(),
  thumbnail_url: z.nullable(z.string()),
  files: z.array(FileRef),
  downloads: z.array(Download),
});

/** `status`: the task as poll prints it, and what one read cannot tell from the task alone. */
export const StatusResult = z.object({
  ...TaskResult.shape,
  /** Why a failed task failed. */
  error: z.optional(z.string()),
  /** After a change request from here: how the newest change stands (the task stays `completed` meanwhile). */
  change: z.optional(
    z.object({
      status: z.string(),
      message_id: z.nullable(z.number()),
      content_version: z.nullable(z.number()),
    }),
  ),
});

const HistoryFileRef = z.object({ path: z.string(), url: z.string(), bytes: z.number(), version: z.number() });

/** One task of the history, as `tasks` lists it. */
const TaskEntry = z.object({
  task_id: z.string(),
  status: z.nullable(z.string()),
  task_url: z.nullable(z.string()),
  prompt: z.nullable(z.string()),
  created_at: z.string(),
  updated_at: z.string(),
  files: z.array(HistoryFileRef),
});

export const TasksResult = z.object({ tasks: z.array(TaskEntry) });

/** A wait handed to a background watcher (`--detach`). */
export const DetachedResult = z.object({
  task_id: z.string(),
  task_url: z.optional(z.string()),
  pid: z.number(),
  log: z.string(),
  /** False when a watcher for this task was already running: no second one was started. */
  started: z.boolean(),
});

export const CreateResult = z.object({
  task_id: z.string(),
  task_url: z.string(),
  request_id: z.nullable(z.string()),
  /** Present with --wait: the finished task. */
  task: z.optional(TaskResult),
});

export const SendMessageResult = z.object({
  task_id: z.string(),
  message_id: z.number(),
  status: z.string(),
  file_tokens: z.array(z.string()),
  request_id: z.nullable(z.string()),
});

const Message = z.object({
  id: z.number(),
  role: z.string(),
  status: z.nullable(z.string()),
  content: z.unknown(),
});

const Snapshot = z.nullable(
  z.object({
    status: z.nullable(z.string()),
    content_version: z.unknown(),
    can_export: z.nullable(z.boolean()),
  }),
);

export const MessagesResult = z.object({
  task_id: z.string(),
  messages: z.array(Message),
  task_snapshot: Snapshot,
  has_more: z.boolean(),
  cursor: z.nullable(z.string()),
});

export const ReplyResult = z.object({
  task_id: z.string(),
  reply: Message,
  task_snapshot: Snapshot,
  /** With --output: the revised files, named with their version. */
  downloads: z.optional(z.array(Download)),
});

/** The MCP tool wait_for_reply: the reply, and with output_dir the task it changed, as poll prints it. */
export const ReplyWithTaskResult = z.object({ ...ReplyResult.shape, task: z.optional(TaskResult) });

export const VerifyResult = z.object({
  verified: z.boolean(),
  credits: z.nullable(z.string()),
  key: z.string(),
  key_source: z.enum(['flag', 'env', 'config']),
  request_id: z.nullable(z.string()),
});

const BatchItemResult = z.object({
  id: z.string(),
  /** pending, creating, created, completed, failed or unknown (see README, Batches). */
  status: z.string(),
  task_id: z.nullable(z.string()),
  files: z.array(z.string()),
  error: z.nullable(z.string()),
  /** With --dry-run: create, wait, skip or report. */
  action: z.optional(z.string()),
});

/** `success` is false unless every item completed; the exit code says why. */
export const BatchResult = z.object({
  success: z.boolean(),
  dry_run: z.boolean(),
  state_file: z.string(),
  items: z.array(BatchItemResult),
  /** With --dry-run: the local files that would be uploaded. */
  uploads: z.optional(z.array(z.string())),
  counts: z.object({
    total: z.number(),
    completed: z.number(),
    failed: z.number(),
    unknown: z.number(),
    created: z.number(),
    pending: z.number(),
  }),
  /** Why it stopped before the end: credits, auth, fail-fast, interrupted; null when it did not. */
  stopped: z.nullable(z.string()),
});

/** Printed once the sandbox listens; it then runs until Ctrl-C. */
export const SandboxResult = z.object({ url: z.string(), api_key: z.string() });

export type VerifyResult = z.infer<typeof VerifyResult>;
export type ConfigSetResult = z.infer<typeof ConfigSetResult>;
export type ConfigGetResult = z.infer<typeof ConfigGetResult>;
export type ConfigDeleteResult = z.infer<typeof ConfigDeleteResult>;
export type ConfigPathResult = z.infer<typeof ConfigPathResult>;
export type UploadResult = z.infer<typeof UploadResult>;
export type PrepareResult = z.infer<typeof PrepareResult>;
export type TaskResult = z.infer<typeof TaskResult>;
export type CreateResult = z.infer<typeof CreateResult>;
export type SendMessageResult = z.infer<typeof SendMessageResult>;
export type MessagesResult = z.infer<typeof MessagesResult>;
export type ReplyResult = z.infer<typeof ReplyResult>;
export type BatchResult = z.infer<typeof BatchResult>;
export type TasksResult = z.infer<typeof TasksResult>;
export type StatusResult = z.infer<typeof StatusResult>;
export type DetachedResult = z.infer<typeof DetachedResult>;

/** Every result, by the name commands hand to the renderer. */
export const RESULT_SCHEMAS = {
  configSet: ConfigSetResult,
  configGet: ConfigGetResult,
  configDelete: ConfigDeleteResult,
  configPath: ConfigPathResult,
  upload: UploadResult,
  prepare: PrepareResult,
  create: CreateResult,
  task: TaskResult,
  sendMessage: SendMessageResult,
  messages: MessagesResult,
  reply: ReplyResult,
  verify: VerifyResult,
  batch: BatchResult,
  sandbox: SandboxResult,
  status: StatusResult,
  tasks: TasksResult,
  detached: DetachedResult,
} as const;

export type ResultKind = keyof typeof RESULT_SCHEMAS;
export type ResultOf<K extends ResultKind> = z.infer<(typeof RESULT_SCHEMAS)[K]>;

/** How the README names the commands behind each result. */
export const RESULT_COMMANDS: Record<ResultKind, string> = {
  configSet: 'config set',
  configGet: 'config get',
  configDelete: 'config delete',
  configPath: 'config path',
  upload: 'upload',
  prepare: 'prepare',
  create: 'create (add `task` with --wait)',
  task: 'poll, download, thumbnail, run',
  sendMessage: 'send-message',
  messages: 'get-messages',
  reply: 'get-messages --wait',
  verify: 'verify',
  batch: 'batch (`success` is false unless every item completed)',
  sandbox: 'sandbox (printed when it starts listening)',
  status: 'status',
  tasks: 'tasks',
  detached: 'poll, create, run, get-messages --wait with --detach',
};
