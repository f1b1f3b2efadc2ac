/**
 * The conversation file of `prepare --input/--save`, in the Python script's format,
 * so a dialogue can move between the two clients. Written atomically: a crash,
 * a signal or an error answer never leaves a half-written or emptied file.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConversationFile, describeIssue } from '../client/schemas.js';
import { usageError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';

export type Conversation = ConversationFile;

export function samePath(a: string, b: string): boolean {
  return resolve(a) === resolve(b);
}

/** Loads a conversation; a missing file is an error unless the caller starts a new one. */
export function loadConversation(path: string): Conversation {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT')
      throw usageError(
        `Conversation file not found: ${path}`,
        'Start a new one with --save alone, or with --input equal to --save.',
      );
    if (code === 'EISDIR') throw usageError(`Conversation file ${path} is a directory`);
    throw usageError(`Cannot read conversation file ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw usageError(`Conversation file ${path} is not valid JSON (${(err as Error).message})`);
  }
  const checked = ConversationFile().safeParse(parsed);
  if (!checked.success) {
    throw usageError(`Conversation file ${path} is not a conversation: ${describeIssue(checked.error)}`);
  }
  return checked.data;
}

export async function saveConversation(path: string, data: Conversation): Promise<void> {
  try {
    // Two-space JSON with characters as they are, as the Python script writes it.
    writeFileAtomic(path, `${JSON.stringify(data, null, 2)}\n`);
  } catch (err) {
    throw usageError(`Cannot save conversation to ${path}: ${(err as Error).message}`);
  }
}
