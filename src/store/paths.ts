/**
 * Checks of where results will be written, made before anything is sent: a task
 * should not be created (and paid for) only to find its folder cannot exist.
 */
import { accessSync, closeSync, constants, lstatSync, openSync, statSync, unlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { usageError } from '../errors.js';

function kindOf(path: string): 'dir' | 'file' | 'missing' {
  try {
    return statSync(path).isDirectory() ? 'dir' : 'file';
  } catch (err) {
    // A link to nothing: mkdir and writes through it fail, so it is not free to use.
    if (lstatExists(path)) throw usageError(`Cannot use ${path}: it is a link to something that does not exist`);
    // ENOTDIR: something above it is a file; checkAncestors names which.
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'missing';
    throw usageError(`Cannot use ${path}: ${(err as Error).message}`);
  }
}

function lstatExists(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Creating a file is the only test that holds for root, read-only mounts and /proc alike. */
function probeWritable(flag: string, path: string, dir: string): void {
  const probe = join(dir, `.anygen-image-probe-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`);
  try {
    closeSync(openSync(probe, 'wx', 0o600));
    unlinkSync(probe);
  } catch (err) {
    throw usageError(
      `${flag} ${path}: cannot write in ${dir} (${(err as { code?: string }).code ?? (err as Error).message})`,
    );
  }
}

/**
 * The closest existing folder above `path` must be a folder we may create things in,
 * or `mkdir -p` and the write would fail after the request was sent.
 */
function checkAncestors(flag: string, path: string): void {
  for (let dir = dirname(resolve(path)); ; dir = dirname(dir)) {
    const kind = kindOf(dir);
    if (kind === 'file') throw usageError(`${flag} ${path}: ${dir} is a file, not a folder`);
    if (kind === 'dir') {
      if (dir === dirname(resolve(path))) probeWritable(flag, path, dir);
      else {
        try {
          accessSync(dir, constants.W_OK);
        } catch {
          throw usageError(`${flag} ${path}: cannot create folders in ${dir}`);
        }
      }
      return;
    }
    if (dirname(dir) === dir) return;
  }
}

/** A folder to download into: existing and writable, or creatable. */
export function checkFolderTarget(flag: string, path: string): void {
  const kind = kindOf(path);
  if (kind === 'file') throw usageError(`${flag} ${path} is a file, not a folder`);
  if (kind === 'dir') probeWritable(flag, path, resolve(path));
  else checkAncestors(flag, path);
}

/** A file to write: not a folder, and its folder writable or creatable. */
export function checkFileTarget(flag: string, path: string): void {
  if (/[/\\]$/.test(path) || kindOf(path) === 'dir') throw usageError(`${flag} ${path} is a folder, not a file`);
  checkAncestors(flag, path);
}
