/**
 * The shapes of the service's answers, checked before any caller sees them.
 * `zod/mini` rather than classic zod: it costs a few milliseconds to load instead
 * of ~50, and every agent step pays start-up again.
 * Objects are loose: fields we do not know are kept, so a newer service answer
 * passes through `--json` untouched. Each schema is built on first use: a command
 * needs one or two of them, and building all costs several milliseconds of start-up.
 */
import * as z from 'zod/mini';

function memo<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => {
    value ??= make();
    return value;
  };
}

/**
 * An id the contract gives as a string: a number is taken as its text (JSON services
 * drift between the two), so the id of a paid-for task is never rejected over its type.
 */
const id = (minLength = 1) =>
  z.pipe(
    z.union([z.string().check(z.minLength(minLength)), z.number()]),
    z.transform((v) => String(v)),
  );

/**
 * Progress in percent: anything that is not a number from 0 to 100 (a string, -5, 150)
 * is no progress at all, rather than a percentage nobody can believe.
 */
const percent = () =>
  z.pipe(
    z.optional(z.unknown()),
    z.transform((v) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 100 ? v : null)),
  );

/**
 * Text that only decorates an answer (a page or thumbnail URL, a file name): anything
 * that is not a string is taken as absent, so that it never costs the task id with it.
 */
const decoration = () =>
  z.pipe(
    z.optional(z.unknown()),
    z.transform((v) => (typeof v === 'string' ? v : null)),
  );

const failure = () => ({
  success: z.optional(z.boolean()),
  error: z.optional(z.unknown()),
  code: z.optional(z.unknown()),
});

export const UploadAnswer = memo(() =>
  z.looseObject({
    ...failure(),
    file_token: id(),
    filename: z.optional(z.string()),
    file_size: z.optional(z.number()),
  }),
);
export type UploadAnswer = z.infer<ReturnType<typeof UploadAnswer>>;

/** A message in the prepare dialogue; content is a string or a list of parts. */
export const PrepareMessage = memo(() =>
  z.looseObject({
    role: z.string(),
    content: z.unknown(),
  }),
);
export type PrepareMessage = z.infer<ReturnType<typeof PrepareMessage>>;

export const SuggestedTaskParams = memo(() =>
  z.looseObject({
    prompt: z.optional(z.string()),
    file_tokens: z.optional(z.array(id())),
  }),
);
export type SuggestedTaskParams = z.infer<ReturnType<typeof SuggestedTaskParams>>;

export const PrepareAnswer = memo(() =>
  z.looseObject({
    ...failure(),
    reply: z.optional(z.nullable(z.string())),
    status: z.string(),
    messages: z.optional(z.array(PrepareMessage())),
    prepare_session_id: z.optional(z.nullable(id())),
    suggested_task_params: z.optional(z.nullable(SuggestedTaskParams())),
  }),
);
export type PrepareAnswer = z.infer<ReturnType<typeof PrepareAnswer>>;

export const CreateAnswer = memo(() =>
  z.looseObject({
    ...failure(),
    task_id: id(),
    task_url: decoration(),
  }),
);
export type CreateAnswer = z.infer<ReturnType<typeof CreateAnswer>>;

export const OutputFile = memo(() =>
  z.looseObject({
    url: z.string(),
    name: decoration(),
    expires_at: z.optional(z.unknown()),
  }),
);
export type OutputFile = z.infer<ReturnType<typeof OutputFile>>;

export const TaskOutput = memo(() =>
  z.looseObject({
    task_url: decoration(),
    file_url: decoration(),
    file_name: decoration(),
    thumbnail_url: decoration(),
    files: z.optional(z.nullable(z.array(OutputFile()))),
  }),
);
export type TaskOutput = z.infer<ReturnType<typeof TaskOutput>>;

export const Task = memo(() =>
  z.looseObject({
    ...failure(),
    task_id: id(0),
    status: z.string(),
    progress: percent(),
    output: z.optional(z.nullable(TaskOutput())),
  }),
);
export type Task = z.infer<ReturnType<typeof Task>>;

export const SendMessageAnswer = memo(() =>
  z.looseObject({
    ...failure(),
    message: z.looseObject({ id: z.number() }),
    status: z.optional(z.string()),
  }),
);
export type SendMessageAnswer = z.infer<ReturnType<typeof SendMessageAnswer>>;

export const TaskMessage = memo(() =>
  z.looseObject({
    id: z.number(),
    role: z.string(),
    content: z.optional(z.nullable(z.unknown())),
    status: z.optional(z.string()),
  }),
);
export type TaskMessage = z.infer<ReturnType<typeof TaskMessage>>;

export const TaskSnapshot = memo(() =>
  z.looseObject({
    status: z.optional(z.string()),
    content_version: z.optional(z.unknown()),
    can_export: z.optional(z.boolean()),
  }),
);

export const MessagesPage = memo(() =>
  z.looseObject({
    ...failure(),
    messages: z.array(TaskMessage()),
    task_snapshot: z.optional(z.nullable(TaskSnapshot())),
    has_more: z.optional(z.boolean()),
    // A number would do as well as a string; it is sent back as text either way.
    cursor: z.optional(
      z.nullable(
        z.pipe(
          z.union([z.string(), z.number()]),
          z.transform((v) => String(v)),
        ),
      ),
    ),
  }),
);
export type MessagesPage = z.infer<ReturnType<typeof MessagesPage>>;

export const VerifyAnswer = memo(() =>
  z.looseObject({
    ...failure(),
    verified: z.boolean(),
    credits: z.optional(z.unknown()),
  }),
);
export type VerifyAnswer = z.infer<ReturnType<typeof VerifyAnswer>>;

/** The conversation file of `prepare --save/--input`, shared with the Python script. */
export const ConversationFile = memo(() =>
  z.looseObject({
    messages: z.array(PrepareMessage()),
    file_tokens: z.optional(z.nullable(z.array(z.string()))),
    prepare_session_id: z.optional(z.nullable(z.string())),
    status: z.optional(z.nullable(z.string())),
    suggested_task_params: z.optional(z.nullable(SuggestedTaskParams())),
  }),
);
export type ConversationFile = z.infer<ReturnType<typeof ConversationFile>>;

/** First problem of a failed parse, as a short phrase (`task_id: expected string`). */
export function describeIssue(error: z.core.$ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'unexpected shape';
  const where = issue.path.length > 0 ? issue.path.join('.') : 'answer';
  return `${where}: ${issue.message}`;
}
