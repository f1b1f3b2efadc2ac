/**
 * Checks of where results will be written, made before anything is sent: a task
 * should not be created (and paid for) only to find its folder cannot exist.
 */
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { usageError } from './client/errors.js';

function kindOf(path: string): 'dir' | 'file' | 'missing' {
  try {
    return statSync(path).isDirectory() ? 'dir' : 'file';
  } catch (err) {
    // ENOTDIR: something above it is a file; checkAncestors names which.
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'missing';
    throw usageError(`Cannot use ${path}: ${(err as Error).message}`);
  }
}

/** The closest existing folder above `path` must be a folder, or `mkdir -p` would fail. */
function checkAncestors(flag: string, path: string): void {
  for (let dir = dirname(resolve(path)); ; dir = dirname(dir)) {
    const kind = kindOf(dir);
    if (kind === 'dir') return;
    if (kind === 'file') throw usageError(`${flag} ${path}: ${dir} is a file, not a folder`);
    if (dirname(dir) === dir) return;
  }
}

/** A folder to download into: existing, or creatable. */
export function checkFolderTarget(flag: string, path: string): void {
  const kind = kindOf(path);
  if (kind === 'file') throw usageError(`${flag} ${path} is a file, not a folder`);
  if (kind === 'missing') checkAncestors(flag, path);
}

/** A file to write: not a folder, and its folder existing or creatable. */
export function checkFileTarget(flag: string, path: string): void {
  if (kindOf(path) === 'dir') throw usageError(`${flag} ${path} is a folder, not a file`);
  checkAncestors(flag, path);
}
