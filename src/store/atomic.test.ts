import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { makeFolders, writeFileAtomic } from './atomic.js';

function dir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'anygen-atomic-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

describe('writeFileAtomic', () => {
  it('replaces the file whole, 0600, and leaves no temp file', (t) => {
    const d = dir(t);
    const path = join(d, 'state.json');
    writeFileSync(path, 'old');
    writeFileAtomic(path, 'new');
    assert.equal(readFileSync(path, 'utf8'), 'new');
    assert.deepEqual(readdirSync(d), ['state.json']);
    writeFileAtomic(join(d, 'fresh.json'), '{}');
    assert.equal(statSync(join(d, 'fresh.json')).mode & 0o777, 0o600);
  });

  it('makes missing folders with the mode asked for', (t) => {
    const d = dir(t);
    const path = join(d, 'a', 'b', 'f.json');
    writeFileAtomic(path, 'x', { dirMode: 0o700 });
    assert.equal(statSync(join(d, 'a', 'b')).mode & 0o777, 0o700);
  });

  it('on failure leaves the old file as it was and no temp file', (t) => {
    const d = dir(t);
    const path = join(d, 'target');
    // A folder where the file should go: the rename fails.
    writeFileSync(join(d, 'keep'), 'kept');
    assert.throws(() => writeFileAtomic(d, 'x'));
    assert.deepEqual(readdirSync(d).sort(), ['keep']);
    assert.throws(() => writeFileAtomic(join(d, 'keep', 'under-a-file'), 'x'));
    assert.equal(readFileSync(join(d, 'keep'), 'utf8'), 'kept');
    assert.equal(readdirSync(d).includes('target'), false, path);
  });
});

describe('makeFolders', () => {
  it('makes every missing folder with the mode asked for, and accepts one that exists', (t) => {
    const d = dir(t);
    makeFolders(join(d, 'a', 'b', 'c'), 0o700);
    assert.equal(statSync(join(d, 'a', 'b', 'c')).mode & 0o777, 0o700);
    makeFolders(join(d, 'a', 'b', 'c'), 0o700);
  });

  it('fails, rather than spinning, where the kernel cannot make the folder (/proc)', { timeout: 5_000 }, () => {
    assert.throws(() => makeFolders('/proc/anygen-test/x'), { code: 'ENOENT' });
  });

  it('fails under a file', (t) => {
    const d = dir(t);
    writeFileSync(join(d, 'f'), '');
    assert.throws(() => makeFolders(join(d, 'f', 'x')), { code: 'ENOTDIR' });
  });
});
