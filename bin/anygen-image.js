#!/usr/bin/env node
// Starts the built CLI (dist/, made by the build and shipped in the package). CommonJS on
// purpose: see scripts/build.mjs. Agents start one process per step, so two start-up
// techniques live here, before any of the CLI loads, on the Node versions CI tests:
//
// - On Node 20, V8 compiles undici's WebAssembly HTTP parser with its baseline compiler
//   only. By default it also optimises it on background threads, and the exit waits for
//   them: ~65 ms of CPU and ~35 MiB in every command that makes a request. Node 22 and 24
//   do not wait (create took the same wall and CPU time and peak RSS with and without the
//   flag), so there it is not set. Set first, before any compile: V8's code cache
//   carries a hash of the flags, and a flag set later makes every cache written at exit
//   mismatch the next compile; runs without it keep cache files of their own. Off with
//   ANYGEN_NO_LIFTOFF=1.
// - A code cache of the bundles under $XDG_CACHE_HOME/anygen (~/.cache/anygen): V8
//   cached data through vm.Script, written at exit so that it holds every function the
//   run compiled. (Node's own compile cache, on Node >= 22.1, writes its entries right
//   after compiling, before the bundle runs: it holds the top level only, and create
//   took 149 ms with it against 139 ms with this, on Node 22.) A cache that cannot be
//   read or written is skipped without a word; a corrupt or foreign one is rejected by
//   its checksum and rewritten. Off with ANYGEN_NO_CODE_CACHE=1.
'use strict';

const { join } = require('node:path');

const dist = join(__dirname, '..', 'dist');
const env = process.env;
const tested = /^v(20|22|24)\./.test(process.version);

const liftoff = /^v20\./.test(process.version) && !env.ANYGEN_NO_LIFTOFF;
if (liftoff) require('node:v8').setFlagsFromString('--liftoff-only');

const cacheDir = tested && !env.ANYGEN_NO_CODE_CACHE ? makeCacheDir() : undefined;
if (cacheDir) loadWithCache(join(dist, 'bin.cjs'), cacheDir);
else require(join(dist, 'bin.cjs'));

/** The cache folder, made 0700 if missing; undefined when it cannot be made. */
function makeCacheDir() {
  const base = env.XDG_CACHE_HOME?.startsWith('/')
    ? env.XDG_CACHE_HOME
    : env.HOME?.startsWith('/')
      ? join(env.HOME, '.cache')
      : undefined;
  if (!base) return undefined;
  const dir = join(base, 'anygen');
  try {
    require('node:fs').mkdirSync(dir, { recursive: true, mode: 0o700 });
    return dir;
  } catch {
    return undefined;
  }
}

/**
 * Runs a bundle as Node would (same wrapper, same require), compiled with the
 * V8 cached data stored beside it, and stores fresh data at exit when there was none or
 * V8 rejected it. The data then also holds the functions this run compiled.
 */
function loadWithCache(file, dir) {
  const fs = require('node:fs');
  const vm = require('node:vm');
  const Module = require('node:module');
  // Without this V8 trusts the data's payload (it checks only the header) and a damaged
  // file crashes the process instead of being rejected.
  require('node:v8').setFlagsFromString('--verify-snapshot-checksum');
  const loaded = new Map();
  const pending = [];
  process.once('exit', () => {
    for (const write of pending) write();
  });

  const load = (path) => {
    let mod = loaded.get(path);
    if (mod) return mod.exports;
    const source = fs.readFileSync(path, 'utf8');
    const { size, mtimeMs } = fs.statSync(path);
    // The name says which file, flags and Node it belongs to, then which build; V8 checks
    // the rest. Data made without Liftoff-only is rejected with it (and the reverse), as
    // is another Node's: each keeps its own file, so that ANYGEN_NO_LIFTOFF=1 runs, or
    // Node 20 and 22 taking turns, do not rewrite each other's cache. Older builds' files
    // for the same name are dropped when a new one is stored.
    const name = `${path.slice(dist.length + 1).replace(/\W/g, '_')}${liftoff ? '_liftoff' : ''}-${process.version}-${process.arch}`;
    const cacheFile = join(dir, `${name}-${size}-${Math.trunc(mtimeMs)}.v8`);
    let cachedData;
    try {
      cachedData = fs.readFileSync(cacheFile);
    } catch {
      // None yet, or unreadable: compile from source.
    }
    const script = new vm.Script(Module.wrap(source), { filename: path, ...(cachedData ? { cachedData } : {}) });
    if (!cachedData || script.cachedDataRejected) pending.push(() => store(fs, dir, name, cacheFile, script));
    mod = { exports: {} };
    loaded.set(path, mod);
    const plain = Module.createRequire(path);
    const req = (id) => (id.startsWith('./') && id.endsWith('.cjs') ? load(join(dist, id)) : plain(id));
    req.resolve = plain.resolve;
    req.cache = plain.cache;
    script.runInThisContext()(mod.exports, req, mod, path, dist);
    return mod.exports;
  };
  load(file);
}

/** Writes the data under a temporary name and renames it, and drops older files for the same bundle. */
function store(fs, dir, name, cacheFile, script) {
  const temp = `${cacheFile}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(temp, script.createCachedData(), { mode: 0o600 });
    fs.renameSync(temp, cacheFile);
    for (const f of fs.readdirSync(dir)) {
      if (f.startsWith(`${name}-`) && join(dir, f) !== cacheFile && !f.endsWith('.tmp')) fs.rmSync(join(dir, f));
    }
  } catch {
    try {
      fs.rmSync(temp, { force: true });
    } catch {
      // Nothing more to do: the next run compiles from source.
    }
  }
}
