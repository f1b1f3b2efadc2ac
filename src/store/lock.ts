/** A lock file beside a file that several anygen-image processes may change at once. */
import { closeSync, linkSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { type AnyGenError, usageError } from '../errors.js';
import { shellQuote } from '../render/format.js';

export interface LockOptions {
  /** How long to wait for another process's lock. */
  waitMs?: number;
  /** A lock older than this was left by a crashed process. */
  staleMs?: number;
}

/**
 * Runs `fn` holding `<file>.lock`, created exclusively, so that processes changing
 * the same file take turns; fails loudly if it cannot be had. `what` names the file
 * in errors ("Config file").
 */
export async function withLock<T>(
  file: string,
  what: string,
  fn: () => Promise<T>,
  opts: LockOptions = {},
): Promise<T> {
  const lock = `${file}.lock`;
  // Names this holder inside the lock and in a stale lock's aside-name.
  const token = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  const deadline = Date.now() + (opts.waitMs ?? 5_000);
  const staleMs = opts.staleMs ?? 30_000;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx', 0o600);
      writeSync(fd, token);
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') throw cannotLock(file, what, err);
      try {
        const seen = statSync(lock);
        if (Date.now() - seen.mtimeMs > staleMs) {
          // Move it aside, then make sure what moved is the stale lock that was judged: in
          // between, another process may have removed it and taken a fresh one, which
          // goes back (link fails if yet another lock is there: then that one stands).
          const moved = `${lock}.stale-${token}`;
          renameSync(lock, moved);
          if (statSync(moved).ino !== seen.ino) {
            try {
              linkSync(moved, lock);
            } catch {
              // A newer lock holds the name.
            }
          }
          unlinkSync(moved);
        }
      } catch {
        // Gone already, or another process moved it: try again.
      }
      if (Date.now() > deadline) {
        throw usageError(
          `${what} ${file} is locked by another anygen-image process`,
          `If no other process is running, remove the lock: rm ${shellQuote(lock)}`,
        );
      }
      await delay(15 + Math.random() * 20);
    }
  }
  try {
    return await fn();
  } finally {
    try {
      unlinkSync(lock);
    } catch {
      // Someone judged it stale; nothing to release.
    }
  }
}

function cannotLock(path: string, what: string, err: unknown): AnyGenError {
  const code = (err as { code?: string }).code;
  if (code === 'EACCES' || code === 'EPERM')
    return usageError(`Cannot write ${what.toLowerCase()} ${path}: permission denied`);
  return usageError(`Cannot write ${what.toLowerCase()} ${path}: ${(err as Error).message}`);
}
