/**
 * The conversation file of `prepare --input/--save`, in the Python script's format,
 * so a dialogue can move between the two clients. Written atomically: a crash,
 * a signal or an error answer never leaves a half-written or emptied file.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ConversationFile, describeIssue } from '../client/schemas.js';
import { usageError } from '../errors.js';
import { trackTemp, untrackTemp } from './cleanup.js';

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
    await mkdir(dirname(resolve(path)), { recursive: true });
  } catch (err) {
    throw usageError(`Cannot save conversation to ${path}: ${(err as Error).message}`);
  }
  const temp = join(dirname(resolve(path)), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  trackTemp(temp);
  try {
    const fd = openSync(temp, 'wx', 0o600);
    try {
      // Two-space JSON with characters as they are, as the Python script writes it.
      writeSync(fd, `${JSON.stringify(data, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (err) {
    try {
      unlinkSync(temp);
    } catch {
      // Never created, or already renamed.
    }
    throw usageError(`Cannot save conversation to ${path}: ${(err as Error).message}`);
  } finally {
    untrackTemp(temp);
  }
}
