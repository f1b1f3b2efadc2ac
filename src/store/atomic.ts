/**
 * The one way this CLI writes a file of its own (conversations, task history, batch
 * state): a temp file beside the target, flushed to disk, then renamed over it. A
 * crash, a signal or a full disk leaves either the old file or the new one, never
 * half of either. The config file is written by `conf`, which does the same.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { trackTemp, untrackTemp } from './cleanup.js';

export interface AtomicWriteOptions {
  /** File mode of the new file (default 0600: what we write may name tasks and prompts). */
  mode?: number;
  /** Mode of folders made on the way (default: the umask's). */
  dirMode?: number;
}

/** Writes `text` to `path` atomically; throws the file system's error as it is. */
export function writeFileAtomic(path: string, text: string, opts: AtomicWriteOptions = {}): void {
  const dir = dirname(resolve(path));
  mkdirSync(dir, { recursive: true, ...(opts.dirMode !== undefined ? { mode: opts.dirMode } : {}) });
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  trackTemp(temp);
  try {
    const fd = openSync(temp, 'wx', opts.mode ?? 0o600);
    try {
      writeSync(fd, text);
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
    throw err;
  } finally {
    untrackTemp(temp);
  }
}
