/**
 * The start-up techniques of bin/anygen-image.js: the code cache lives in
 * $XDG_CACHE_HOME/anygen (0700), survives damage by rewriting it, writes nothing where
 * it cannot, prints no warning, and turns off with its environment variables.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { builtinsProbe, envFor, runBin, sandbox, tempDir } from '../helpers/harness.js';

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

test('a command fills the cache folder (0700), and later runs use it quietly', async (t) => {
  const s = await sandbox(t);
  const home = tempDir(t);
  const env = envFor(s, home, { XDG_CACHE_HOME: join(home, 'cache') });
  const first = await runBin(['create', '-p', 'cached'], { env });
  assert.equal(first.code, 0, first.stderr);
  const dir = join(home, 'cache', 'anygen');
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  assert.ok(filesUnder(dir).length >= 1, 'no cache files written');
  const again = await runBin(['create', '-p', 'cached'], { env });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /^Task ID: /m);
  assert.doesNotMatch(again.stderr, /warning/i);
});

test('without XDG_CACHE_HOME the cache goes to ~/.cache/anygen', async (t) => {
  const home = tempDir(t);
  const r = await runBin(['--version'], { env: envFor(undefined, home, { XDG_CACHE_HOME: undefined }) });
  assert.equal(r.code, 0);
  assert.equal(statSync(join(home, '.cache', 'anygen')).mode & 0o777, 0o700);
});

test('a damaged cache is ignored and rewritten', async (t) => {
  const s = await sandbox(t);
  const home = tempDir(t);
  const env = envFor(s, home, { XDG_CACHE_HOME: join(home, 'cache') });
  assert.equal((await runBin(['create', '-p', 'one'], { env })).code, 0);
  const files = filesUnder(join(home, 'cache', 'anygen'));
  assert.ok(files.length >= 1);
  const damaged = new Map<string, Buffer>();
  for (const f of files) {
    // Same length, different bytes: the header V8 and Node check first still fits.
    const data = readFileSync(f);
    for (let i = 64; i < data.length; i += 97) data[i] = (data[i] ?? 0) ^ 0x5a;
    writeFileSync(f, data);
    damaged.set(f, data);
  }
  const r = await runBin(['create', '-p', 'two'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Task ID: /m);
  assert.equal(r.stderr.includes('Error') || /warning/i.test(r.stderr), false, r.stderr);
  for (const [f, data] of damaged) {
    const now = filesUnder(join(home, 'cache', 'anygen')).includes(f) ? readFileSync(f) : undefined;
    assert.ok(now === undefined || !now.equals(data), `${f} was left damaged`);
  }
  const third = await runBin(['create', '-p', 'three'], { env });
  assert.equal(third.code, 0, third.stderr);
});

test('a cache that cannot be written is skipped: nothing written, nothing printed', async (t) => {
  const home = tempDir(t);
  // A file where the folder would be: mkdir fails even for root.
  writeFileSync(join(home, 'not-a-folder'), 'x');
  const r = await runBin(['--version'], {
    env: envFor(undefined, home, { XDG_CACHE_HOME: join(home, 'not-a-folder') }),
  });
  assert.equal(r.code, 0);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
  assert.equal(readFileSync(join(home, 'not-a-folder'), 'utf8'), 'x');
});

test('ANYGEN_NO_CODE_CACHE and ANYGEN_NO_LIFTOFF turn the techniques off', async (t) => {
  const s = await sandbox(t);
  const home = tempDir(t);
  mkdirSync(join(home, 'cache'));
  const env = envFor(s, home, {
    XDG_CACHE_HOME: join(home, 'cache'),
    ANYGEN_NO_CODE_CACHE: '1',
    ANYGEN_NO_LIFTOFF: '1',
  });
  const r = await runBin(['create', '-p', 'plain'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(join(home, 'cache')), []);
});

test('create loads only what one request needs: no node:http, dns or fs/promises, and the HTTP parser from its own file', async (t) => {
  const s = await sandbox(t);
  const home = tempDir(t);
  const probe = builtinsProbe(home);
  const r = await runBin(['create', '-p', 'modules'], { env: envFor(s, home, { NODE_OPTIONS: probe.nodeOptions }) });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Task ID: task_/m);
  const loaded = probe.loaded();
  assert.ok(loaded.has('net'), 'the list does not show the request was made');
  for (const name of ['http', 'http2', 'dns', 'fs/promises', 'timers/promises', 'child_process']) {
    assert.equal(loaded.has(name), false, `create loaded node:${name}`);
  }
  // undici's WebAssembly parser is a file of its own, not base64 inside the bundle.
  const dist = fileURLToPath(new URL('../../dist/', import.meta.url));
  assert.equal(readFileSync(join(dist, 'app-net.cjs'), 'utf8').includes('AGFzbQ'), false);
  for (const f of ['llhttp_simd.wasm', 'llhttp.wasm']) {
    assert.equal(readFileSync(join(dist, f)).subarray(0, 4).toString('hex'), '0061736d', `${f} is not WebAssembly`);
  }
});

test('a run with ANYGEN_NO_LIFTOFF=1 keeps its own cache: the usual runs still find theirs untouched', async (t) => {
  const s = await sandbox(t);
  const home = tempDir(t);
  const env = envFor(s, home, { XDG_CACHE_HOME: join(home, 'cache') });
  assert.equal((await runBin(['create', '-p', 'one'], { env })).code, 0);
  const dir = join(home, 'cache', 'anygen');
  const before = new Map(filesUnder(dir).map((f) => [f, readFileSync(f)]));
  assert.ok(before.size >= 1);
  // On Node 20 this run compiles without the flag, so V8 rejects the data made with it.
  const plain = await runBin(['create', '-p', 'two'], { env: { ...env, ANYGEN_NO_LIFTOFF: '1' } });
  assert.equal(plain.code, 0, plain.stderr);
  for (const [f, data] of before) assert.ok(readFileSync(f).equals(data), `${f} was rewritten`);
});
