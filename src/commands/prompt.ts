/**
 * Where a create's prompt comes from: --prompt, --prompt-file, --stdin, or a saved
 * conversation that prepare answered ready (--from). The last three spare agents and
 * people the shell quoting of a long prompt full of quotes, `$` and apostrophes.
 */
import { readFileSync } from 'node:fs';
import { usageError } from '../errors.js';
import type { CommandContext } from '../factory.js';
import { requireText } from '../flags.js';
import { readStdin } from '../io.js';
import { cliCommand } from '../render/format.js';
import { loadConversation } from '../store/conversation.js';

export interface PromptOptions {
  prompt?: string;
  promptFile?: string;
  stdin?: boolean;
  from?: string;
  fileToken?: string[];
}

export interface PromptPlan {
  prompt: string;
  /** Explicit --file-token flags, else the ones the conversation suggests. */
  fileTokens: string[];
}

function readPromptFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT') throw usageError(`--prompt-file ${path}: no such file`);
    if (code === 'EISDIR') throw usageError(`--prompt-file ${path} is a folder, not a file`);
    throw usageError(`--prompt-file ${path}: ${(err as Error).message}`);
  }
}

/** The prompt and file tokens a conversation file suggests; not ready is a usage error that says how to go on. */
export function fromConversation(path: string): { prompt: string; fileTokens: string[] } {
  const conversation = loadConversation(path);
  const suggested = conversation.suggested_task_params;
  const prompt = typeof suggested?.prompt === 'string' ? suggested.prompt.trim() : '';
  if (conversation.status !== 'ready' || !prompt) {
    throw usageError(
      `The conversation in ${path} is not ready yet (status: ${conversation.status ?? 'none'}): AnyGen has no prompt to create with`,
      `Answer its question and continue it: ${cliCommand('prepare', '--input', path, '--message', '…', '--save', path)}`,
    );
  }
  const tokens = Array.isArray(suggested?.file_tokens) ? suggested.file_tokens : (conversation.file_tokens ?? []);
  return { prompt, fileTokens: tokens.filter((t): t is string => typeof t === 'string' && t !== '') };
}

export async function promptPlan(ctx: CommandContext, opts: PromptOptions): Promise<PromptPlan> {
  const given = [
    opts.prompt !== undefined && '--prompt',
    opts.promptFile !== undefined && '--prompt-file',
    opts.stdin && '--stdin',
  ].filter(Boolean);
  if (given.length > 1) throw usageError(`Give the prompt one way, not with ${given.join(' and ')}`);
  const suggested = opts.from !== undefined ? fromConversation(opts.from) : undefined;
  let text: string | undefined = opts.prompt;
  if (opts.promptFile !== undefined) text = readPromptFile(opts.promptFile);
  if (opts.stdin) text = await readStdin(ctx.io.stdin);
  if (text !== undefined && text.trim() === '') {
    throw usageError(
      given[0] === '--prompt' ? '--prompt is required and may not be empty' : `The prompt from ${given[0]} is empty`,
    );
  }
  const prompt = text?.trim() ?? suggested?.prompt;
  if (!prompt) {
    throw usageError(
      '--prompt is required and may not be empty',
      'Give it with --prompt, --prompt-file FILE, --stdin, or --from a conversation that prepare answered ready.',
    );
  }
  const fileTokens =
    opts.fileToken !== undefined
      ? opts.fileToken.map((t) => requireText('--file-token', t).trim())
      : (suggested?.fileTokens ?? []);
  return { prompt, fileTokens };
}
