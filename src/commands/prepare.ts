/** `prepare`: the requirement dialogue, one turn per call, kept in a conversation file. */
import { existsSync, statSync } from 'node:fs';
import type { PrepareMessage } from '../client/schemas.js';
import { AnyGenError, usageError } from '../errors.js';
import type { CommandContext, NetworkOptions } from '../factory.js';
import { messageOption } from '../io.js';
import { cliCommand, shellQuote } from '../render/format.js';
import type { HumanLine } from '../render/output.js';
import type { PrepareResult } from '../render/results.js';
import { type Conversation, loadConversation, samePath, saveConversation } from '../store/conversation.js';
import { checkFileTarget } from '../store/paths.js';

export interface PrepareOptions extends NetworkOptions {
  message?: string;
  fileToken?: string[];
  input?: string;
  save?: string;
  stdin?: boolean;
}

/** The message of this turn: --message, or standard input with --stdin. */
async function turnMessage(ctx: CommandContext, opts: PrepareOptions): Promise<string | undefined> {
  const message = await messageOption(opts, ctx.io.stdin);
  if (message !== undefined && message.trim() === '') throw usageError('The message is empty');
  return message;
}

/** The conversation so far: the --input file, or a new one (also when --input names the --save file that is not there yet). */
function previousConversation(ctx: CommandContext, opts: PrepareOptions): Conversation {
  if (opts.input === undefined) {
    // A new conversation saved over an existing file would lose what was in it.
    if (opts.save !== undefined && isFile(opts.save)) {
      throw usageError(
        `--save ${opts.save} already exists; a new conversation would replace it`,
        `Continue it: ${cliCommand('prepare', '--input', opts.save, '--message', '…', '--save', opts.save)}\nOr save the new one elsewhere, or move the old file away first.`,
      );
    }
    return { messages: [] };
  }
  const startsNew = opts.save !== undefined && samePath(opts.input, opts.save) && !existsSync(opts.input);
  if (!startsNew) return loadConversation(opts.input);
  ctx.out.info(`Starting a new conversation in ${opts.input}`);
  return { messages: [] };
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The messages to send: the conversation's, plus this turn's with any new file tokens. */
function nextTurn(previous: Conversation, message: string | undefined, given: string[]) {
  const known = previous.file_tokens ?? [];
  const tokens = given.map((t) => t.trim()).filter(Boolean);
  const fresh = tokens.filter((t, i) => !known.includes(t) && tokens.indexOf(t) === i);
  const messages: PrepareMessage[] = [...previous.messages];
  if (message !== undefined) {
    messages.push({
      role: 'user',
      content: [{ type: 'text', text: message }, ...fresh.map((file_token) => ({ type: 'file', file_token }))],
    });
  }
  if (messages.length === 0)
    throw usageError('No message: give --message (or --stdin), or --input with a conversation');
  return { messages, fileTokens: [...known, ...fresh] };
}

/** Saves the turn; if that fails, the error still carries what the service answered. */
async function saveTurn(ctx: CommandContext, path: string, conversation: Conversation, reply?: string | null) {
  try {
    await saveConversation(path, conversation);
  } catch (err) {
    // The turn was sent and answered: keep what it said, or the dialogue is lost.
    if (!(err instanceof AnyGenError)) throw err;
    throw err.withHint(
      `The turn was sent. AnyGen answered: ${reply ?? ''}\nStatus: ${conversation.status}; prepare_session_id: ${conversation.prepare_session_id ?? ''}`,
    );
  }
  ctx.out.info(`Conversation saved to ${path}`);
}

export async function run(ctx: CommandContext, opts: PrepareOptions) {
  const message = await turnMessage(ctx, opts);
  const previous = previousConversation(ctx, opts);
  if (opts.save !== undefined) checkFileTarget('--save', opts.save);
  const { messages, fileTokens } = nextTurn(previous, message, opts.fileToken ?? []);

  const client = await ctx.client(opts);
  const { data, requestId } = await client.prepare(
    {
      messages,
      fileTokens,
      prepareSessionId: previous.prepare_session_id ?? null,
      baseSuggestedTaskParams: previous.suggested_task_params ?? null,
    },
    { signal: ctx.io.signal },
  );

  const suggested = data.suggested_task_params ?? previous.suggested_task_params ?? null;
  const conversation: Conversation = {
    ...previous,
    messages: data.messages ?? messages,
    file_tokens: fileTokens,
    prepare_session_id: data.prepare_session_id ?? previous.prepare_session_id ?? null,
    status: data.status,
    suggested_task_params: suggested,
  };
  if (opts.save !== undefined) await saveTurn(ctx, opts.save, conversation, data.reply);

  const ready = data.status === 'ready';
  const result: PrepareResult = {
    status: data.status,
    ready,
    reply: data.reply ?? '',
    prepare_session_id: conversation.prepare_session_id ?? null,
    suggested_task_params: ready ? (suggested as Record<string, unknown> | null) : null,
    file_tokens: fileTokens,
    message_count: conversation.messages.length,
    saved_to: opts.save ?? null,
    request_id: requestId ?? null,
  };
  const lines: HumanLine[] = [`AnyGen: ${result.reply}`, ['Status', result.status]];
  if (ready && suggested) {
    lines.push(['Prompt', suggested.prompt ?? '']);
    if (suggested.file_tokens?.length) lines.push(['File Tokens', suggested.file_tokens.join(', ')]);
  }
  sayWhatNext(ctx, opts, ready ? suggested : null);
  await ctx.out.result('prepare', result, lines);
}

/**
 * The command to run next (stderr, human mode): create from the saved conversation
 * once it is ready, else the next turn. A turn read from --input and not saved is lost
 * to the next one, so that is said too.
 */
function sayWhatNext(ctx: CommandContext, opts: PrepareOptions, ready: Conversation['suggested_task_params']) {
  if (opts.input !== undefined && opts.save === undefined) {
    ctx.out.warn(
      `Warning: this turn was not saved to ${opts.input}; add --save ${shellQuote(opts.input)} to keep the conversation going`,
    );
  }
  if (ready) {
    const next = opts.save
      ? cliCommand('create', '--from', opts.save)
      : cliCommand(
          'create',
          '--prompt',
          ready.prompt ?? '',
          ...(ready.file_tokens ?? []).flatMap((t) => ['--file-token', t]),
        );
    ctx.out.info(`Next: ${next}`);
  } else if (opts.save !== undefined) {
    ctx.out.info(
      `Continue with: ${cliCommand('prepare', '--input', opts.save, '--message', '…', '--save', opts.save)}`,
    );
  }
}
