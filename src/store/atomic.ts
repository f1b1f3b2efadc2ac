/**
 * The one way this CLI writes a file of its own (conversations, task history, batch
 * state): a temp file beside the target, flushed to disk, then renamed over it. A
 * crash, a signal or a full disk leaves either the old file or the new one, never
 * half of either. The config file is written by `conf`, which does the same.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { trackTemp, untrackTemp } from './cleanup.js';

export interface AtomicWriteOptions {
  /** File mode of the new file (default 0600: what we write may name tasks and prompts). */
  mode?: number;
  /** Mode of folders made on the way (default: the umask's). */
  dirMode?: number;
}

/**
 * `mkdir -p`, one folder at a time. Node's own `recursive` never returns where the
 * kernel answers ENOENT for a folder it cannot make (`/proc/x`: measured, Node 20 spins
 * at 100% CPU); made one by one, that is an error like any other.
 */
export function makeFolders(dir: string, mode?: number): void {
  const missing: string[] = [];
  for (let at = resolve(dir); ; ) {
    try {
      statSync(at);
      break;
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT') throw err;
    }
    missing.push(at);
    const up = dirname(at);
    if (up === at) break;
    at = up;
  }
  for (const folder of missing.reverse()) {
    try {
      mkdirSync(folder, mode === undefined ? undefined : { mode });
    } catch (err) {
      // Made meanwhile by another process: as good.
      if ((err as { code?: string }).code !== 'EEXIST') throw err;
    }
  }
}

/** Writes `text` to `path` atomically; throws the file system's error as it is. */
export function writeFileAtomic(path: string, text: string, opts: AtomicWriteOptions = {}): void {
  const dir = dirname(resolve(path));
  makeFolders(dir, opts.dirMode);
  // Unique enough with 'wx' below (it never opens an existing file); not node:crypto,
  // whose loading costs a create ~10 ms of start-up for a file name.
  const temp = join(dir, `.${basename(path)}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}.tmp`);
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
