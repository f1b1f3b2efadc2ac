#!/usr/bin/env node
// Start-up, memory and connection budgets of the built CLI, measured against a local
// sandbox. Every figure is taken from whole spawned processes, as an agent runs them.
//
//   node scripts/bench.mjs [--runs N] [--mem-runs N] [--rss-method auto|time|exit-hook] [--env E] [--startup-only] [--json]
//
// The node that runs the bench runs every measured process, so another Node version is
// measured with that node: /path/to/node22 scripts/bench.mjs.
//
// Timing: each round runs `node -e 0` (the baseline) and every case once, in an order
// that rotates from round to round, so machine noise lands on all of them alike. The
// figure is the wall time from spawn() to 'close', stdout and stderr going through pipes
// the bench reads and drops (as an agent or a CI job holds them).
// Within a table all processes get the same environment, and each budget is set per
// environment. Two are measured (--env picks one): "clean", only PATH, HOME and XDG_*
// as most users have it, where `node -e 0` is fast and so the ratios strict; and
// "machine", this machine's own less NODE_OPTIONS and ANYGEN_* (where NODE_EXTRA_CA_CERTS
// makes every node process load a CA bundle, `node -e 0` included). The CLI's code cache
// lives in a folder of the bench's own, filled by the checks before the timing. Cases
// with no budget show what a start-up technique buys: the CLI with it turned off.
//
// Memory: peak RSS as the kernel accounts it (getrusage ru_maxrss of the CLI process),
// read by GNU time (`/usr/bin/time -f %M`) when it is installed. Without it, a module
// preloaded into the CLI process with --import writes process.resourceUsage().maxRSS
// (the same ru_maxrss, RUSAGE_SELF) when the process exits: Node cannot read another
// process's rusage (no RUSAGE_CHILDREN, no wait4), and sampling /proc/<pid>/status
// VmHWM races the exit. Either way the CLI is started by a small process that forks
// it (GNU time, or `sh -c '"$@"; exit $?'`), never spawned straight from this one: on
// Linux a child's ru_maxrss starts at the high-water RSS of the memory image it was
// forked from, and this process holds the sandbox, which buffers every 50 MiB upload.
// (Measured: `node -e 0` spawned directly from a 240 MiB parent reports 204 MiB.)
//
// Exit code: 0 when every budget holds, 1 when one is missed, 2 when the bench itself
// cannot run (no dist/, bad arguments, a command that fails).
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import http from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin', 'anygen-image.js');
const DIST_INDEX = join(ROOT, 'dist', 'index.js');
const DIST_BIN = join(ROOT, 'dist', 'bin.cjs');
const GNU_TIME = '/usr/bin/time';
const SH = '/bin/sh';
const MiB = 1024 * 1024;
const UPLOAD_BYTES = 50 * MiB;
const BENCH_KEY = 'sk-bench-5e1f0c7a9b3d2e4f6a8c';
const POLL_READS = 10;
const CHILD_TIMEOUT_MS = 120_000;

class BenchError extends Error {}

// ---------------------------------------------------------------- arguments

function positiveInt(name, text, fallback) {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new BenchError(`${name} must be a whole number ≥ 1, not ${text}`);
  return Number(text);
}

function parseOptions() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        runs: { type: 'string' },
        'mem-runs': { type: 'string' },
        'rss-method': { type: 'string' },
        env: { type: 'string' },
        'startup-only': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    throw new BenchError(err.message);
  }
  const method = values['rss-method'] ?? 'auto';
  if (!['auto', 'time', 'exit-hook'].includes(method)) {
    throw new BenchError(`--rss-method must be auto, time or exit-hook, not ${method}`);
  }
  const envMode = values.env ?? 'both';
  if (!['machine', 'clean', 'both'].includes(envMode)) {
    throw new BenchError(`--env must be clean, machine or both, not ${envMode}`);
  }
  return {
    help: values.help,
    json: values.json,
    envModes: envMode === 'both' ? ['clean', 'machine'] : [envMode],
    runs: positiveInt('--runs', values.runs, 21),
    memRuns: positiveInt('--mem-runs', values['mem-runs'], 5),
    rssMethod: method,
    startupOnly: values['startup-only'],
  };
}

const USAGE = `usage: node scripts/bench.mjs [--runs N] [--mem-runs N] [--rss-method auto|time|exit-hook] [--env clean|machine|both] [--startup-only] [--json]

  --runs N         timed rounds (default 21); each round runs the baseline and every case once
  --mem-runs N     runs per peak-RSS figure (default 5); the median is reported
  --rss-method M   auto (GNU time if installed, else exit-hook), time, or exit-hook
  --env E          both (default); clean: only PATH, HOME and XDG_CONFIG_HOME/XDG_CACHE_HOME;
                   machine: this machine's environment less NODE_OPTIONS and ANYGEN_*
  --startup-only   only the start-up tables (no memory, connections, batch or MCP)
  --json           print the figures as one JSON document instead of the table

The node running this script runs every measured process: run it with another node
binary to measure that version.
`;

// ---------------------------------------------------------------- statistics

function quantile(sorted, q) {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function summary(samples) {
  const s = [...samples].sort((a, b) => a - b);
  return {
    median: quantile(s, 0.5),
    p10: quantile(s, 0.1),
    p90: quantile(s, 0.9),
    min: s[0],
    max: s[s.length - 1],
  };
}

const round1 = (n) => Math.round(n * 10) / 10;
const round2 = (n) => Math.round(n * 100) / 100;
const mib = (kb) => kb / 1024;

// ---------------------------------------------------------------- processes

const live = new Set();

/** Runs a command to its end with stdout and stderr discarded; resolves with wall ms and exit status. */
function timedRun(cmd, args, env) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    // Output through pipes, read and dropped, as an agent or a CI job holds it.
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.resume();
    child.stderr.resume();
    live.add(child);
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.once('error', (err) => {
      clearTimeout(timer);
      live.delete(child);
      reject(err);
    });
    child.once('close', (code, signal) => {
      const end = process.hrtime.bigint();
      clearTimeout(timer);
      live.delete(child);
      resolve({ ms: Number(end - start) / 1e6, code, signal });
    });
  });
}

/** Runs a command with its output captured (checks, not timing). */
function capturedRun(cmd, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d) => {
      stderr += d;
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      live.delete(child);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function describe(args) {
  return ['anygen-image', ...args.map((a) => (/^[\w./:=<>-]+$/.test(a) ? a : JSON.stringify(a)))].join(' ');
}

/** Fails the bench (exit 2) when a command does not succeed: a broken run measures nothing. */
async function mustSucceed(label, args, env) {
  const r = await capturedRun(process.execPath, [BIN, ...args], env);
  if (r.code !== 0) {
    throw new BenchError(
      `${label} failed (exit ${r.code ?? r.signal}):\n${(r.stderr || r.stdout).trim().split('\n').slice(0, 10).join('\n')}`,
    );
  }
  return r;
}

// ---------------------------------------------------------------- peak RSS

function probeGnuTime(dir) {
  if (!existsSync(GNU_TIME)) return `${GNU_TIME} is not installed`;
  const out = join(dir, 'probe.rss');
  const r = spawnSync(GNU_TIME, ['-f', '%M', '-o', out, process.execPath, '-e', '0'], { stdio: 'ignore' });
  if (r.status !== 0) return `${GNU_TIME} -f %M -o FILE does not work here (exit ${r.status})`;
  const kb = lastNumber(existsSync(out) ? readFileSync(out, 'utf8') : '');
  if (kb === undefined) return `${GNU_TIME} -f %M printed no number (not GNU time?)`;
  return undefined;
}

function lastNumber(text) {
  const lines = text.trim().split('\n');
  const last = lines[lines.length - 1]?.trim() ?? '';
  return /^\d+$/.test(last) ? Number(last) : undefined;
}

/** A measurer: (label, command args, env) → peak RSS of that one process in KiB. */
function rssMeasurer(method, dir) {
  let n = 0;
  if (method === 'time') {
    return {
      name: `GNU time: ${GNU_TIME} -f %M (ru_maxrss of the CLI process)`,
      async measure(label, argv, env) {
        const out = join(dir, `rss-${++n}.txt`);
        const r = await timedRun(GNU_TIME, ['-f', '%M', '-o', out, ...argv], env);
        if (r.code !== 0) await failedAgain(label, argv, env, r);
        const kb = lastNumber(readFileSync(out, 'utf8'));
        if (kb === undefined) throw new BenchError(`${GNU_TIME} gave no peak RSS for ${label}`);
        return kb;
      },
    };
  }
  const hook = join(dir, 'rss-hook.mjs');
  writeFileSync(
    hook,
    "import { writeFileSync } from 'node:fs';\n" +
      'const out = process.env.ANYGEN_BENCH_RSS_FILE;\n' +
      "process.on('exit', () => writeFileSync(out, String(process.resourceUsage().maxRSS)));\n",
  );
  return {
    name: 'exit hook: process.resourceUsage().maxRSS from a module preloaded with --import, CLI forked by sh',
    async measure(label, argv, env) {
      const out = join(dir, `rss-${++n}.txt`);
      const [node, ...rest] = argv;
      // sh forks (the command is not its last), so the CLI's ru_maxrss starts from sh's, not ours.
      const hooked = ['-c', '"$@"; exit $?', 'sh', node, '--import', pathToFileURL(hook).href, ...rest];
      const r = await timedRun(SH, hooked, { ...env, ANYGEN_BENCH_RSS_FILE: out });
      if (r.code !== 0) await failedAgain(label, argv, env, r);
      const kb = existsSync(out) ? lastNumber(readFileSync(out, 'utf8')) : undefined;
      if (kb === undefined) throw new BenchError(`the exit hook gave no peak RSS for ${label}`);
      return kb;
    },
  };
}

async function failedAgain(label, argv, env, r) {
  const again = await capturedRun(argv[0], argv.slice(1), env);
  throw new BenchError(
    `${label} failed under the RSS measurement (exit ${r.code ?? r.signal}):\n${again.stderr.trim().slice(0, 2000)}`,
  );
}

// ---------------------------------------------------------------- sandbox helpers

/** Creates a task with one plain request (its own connection, closed after). */
function createTaskRaw(sandbox) {
  const body = JSON.stringify({ operation: 'ai_designer', prompt: 'bench poll' });
  const url = new URL('/v1/openapi/tasks', sandbox.url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent: false,
        headers: {
          authorization: `Bearer ${sandbox.apiKey}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          connection: 'close',
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => {
          try {
            const answer = JSON.parse(text);
            if (!answer.success || typeof answer.task_id !== 'string') throw new Error(text);
            resolve(answer.task_id);
          } catch (err) {
            reject(new BenchError(`the sandbox did not create a task: ${err.message}`));
          }
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Waits until the sandbox holds no open sockets, so earlier clients cannot blur a count. */
async function quiesce(sandbox) {
  const deadline = Date.now() + 2_000;
  for (;;) {
    const open = await new Promise((resolve) => sandbox.server.getConnections((_e, n) => resolve(n ?? 0)));
    if (open === 0 || Date.now() > deadline) return open;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A file of exactly `bytes` random bytes; returns its SHA-256. */
function writeRandomFile(path, bytes) {
  const hash = createHash('sha256');
  const fd = openSync(path, 'w');
  try {
    for (let left = bytes; left > 0; ) {
      const chunk = randomBytes(Math.min(MiB, left));
      writeSync(fd, chunk);
      hash.update(chunk);
      left -= chunk.length;
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

// ---------------------------------------------------------------- the bench

// Budgets: ratios to `node -e 0`, per environment (issue 10).
const TIMING_CASES = [
  { id: 'help', args: ['--help'], budget: { clean: 1.3, machine: 1.15 } },
  { id: 'config-get', args: ['config', 'get'], budget: { clean: 1.4, machine: 1.25 } },
  { id: 'create', args: ['create', '-p', 'bench'], budget: { clean: 2.3, machine: 1.6 } },
  // What each start-up technique buys (bin/anygen-image.js): the same create without it.
  { id: 'create-no-cache', args: ['create', '-p', 'bench'], env: { ANYGEN_NO_CODE_CACHE: '1' }, note: 'no code cache' },
  {
    id: 'create-no-liftoff',
    args: ['create', '-p', 'bench'],
    env: { ANYGEN_NO_LIFTOFF: '1' },
    note: 'no Liftoff-only',
  },
  // The same request made by undici alone (scripts/bench-floor.cjs): the floor under create.
  { id: 'floor', floor: true, label: 'one undici POST alone (the floor under create)' },
];

/**
 * Bundles scripts/bench-floor.cjs as the build bundles the CLI (same plugins, undici's
 * parser in its own file beside it) into `dir`; returns the script's path.
 */
async function buildFloor(dir) {
  const [{ build }, plugins] = await Promise.all([import('esbuild'), import('./build-plugins.mjs')]);
  mkdirSync(dir, { recursive: true });
  const outfile = join(dir, 'floor.cjs');
  await build({
    entryPoints: [join(ROOT, 'scripts', 'bench-floor.cjs')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20.18',
    format: 'cjs',
    minify: true,
    logLevel: 'warning',
    plugins: [...plugins.stubs, plugins.lazyBuiltins, ...plugins.wasmFiles],
  });
  await plugins.writeWasmFiles(dir);
  return outfile;
}

/** Checks each command once (which also fills the code cache), then times the cases in interleaved rounds. */
async function timeCases(opts, sandbox, baseEnv, mode, log, floor) {
  const env = { ...baseEnv, ANYGEN_BASE_URL: sandbox.url };
  const floorEnv = { ...baseEnv, ANYGEN_BASE_URL: sandbox.url, ANYGEN_BENCH_KEY: BENCH_KEY };
  log(`${mode} environment: checking the commands…`);
  const help = await mustSucceed('anygen-image --help', ['--help'], env);
  if (!/Usage: anygen-image/.test(help.stdout)) throw new BenchError('--help printed no usage');
  const cfg = await mustSucceed('anygen-image config get', ['config', 'get'], env);
  if (!cfg.stdout.includes(BENCH_KEY.slice(0, 10))) {
    throw new BenchError(`config get did not show the api_key from the config file:\n${cfg.stdout}`);
  }
  const createsBefore = sandbox.stats.byRoute.create ?? 0;
  await mustSucceed('anygen-image create -p bench', ['create', '-p', 'bench'], env);
  if ((sandbox.stats.byRoute.create ?? 0) !== createsBefore + 1) throw new BenchError('create reached no sandbox');
  const bare = await timedRun(process.execPath, [floor], floorEnv);
  if (bare.code !== 0 || (sandbox.stats.byRoute.create ?? 0) !== createsBefore + 2) {
    throw new BenchError('the floor script (scripts/bench-floor.cjs) created no task');
  }
  const base = await timedRun(process.execPath, ['-e', '0'], baseEnv);
  if (base.code !== 0) throw new BenchError('node -e 0 failed');

  log(`${mode} environment: ${opts.runs} rounds of node -e 0 + ${TIMING_CASES.length} cases…`);
  const runners = [
    { id: 'baseline', run: () => timedRun(process.execPath, ['-e', '0'], baseEnv) },
    ...TIMING_CASES.map((c) => ({
      id: c.id,
      run: () =>
        c.floor
          ? timedRun(process.execPath, [floor], floorEnv)
          : timedRun(process.execPath, [BIN, ...c.args], { ...env, ...c.env }),
    })),
  ];
  const samples = Object.fromEntries(runners.map((r) => [r.id, []]));
  const createCases = TIMING_CASES.filter((c) => c.floor || c.args[0] === 'create').length;
  const createsAtStart = sandbox.stats.byRoute.create ?? 0;
  for (let round = 0; round < opts.runs; round++) {
    for (let i = 0; i < runners.length; i++) {
      const runner = runners[(round + i) % runners.length];
      const r = await runner.run();
      if (r.code !== 0) throw new BenchError(`${runner.id} exited ${r.code ?? r.signal} in round ${round + 1}`);
      samples[runner.id].push(r.ms);
    }
  }
  const creates = (sandbox.stats.byRoute.create ?? 0) - createsAtStart;
  if (creates !== opts.runs * createCases) {
    throw new BenchError(`expected ${opts.runs * createCases} creates at the sandbox, saw ${creates}`);
  }

  const baseline = summary(samples.baseline);
  const cases = TIMING_CASES.map((c) => {
    const s = summary(samples[c.id]);
    const ratio = s.median / baseline.median;
    const budget = c.budget?.[mode];
    return {
      id: c.id,
      command: c.label ?? `${describe(c.args)}${c.note ? ` (${c.note})` : ''}`,
      ...s,
      baselineMedian: baseline.median,
      ratio,
      budget,
      pass: budget === undefined || ratio <= budget,
    };
  });
  return {
    extraCaCerts: mode === 'machine' && Boolean(process.env.NODE_EXTRA_CA_CERTS),
    baseline,
    cases,
    pass: cases.every((c) => c.pass),
  };
}

function header(opts) {
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: cpus().length,
    runs: opts.runs,
  };
}

async function bench(opts, dir, log) {
  const { startSandbox } = await import(pathToFileURL(DIST_INDEX).href);
  const sandboxes = [];
  try {
    // A private config folder holding an api_key: `config get` shows it, the network commands use it.
    const xdg = join(dir, 'xdg');
    mkdirSync(join(xdg, 'anygen'), { recursive: true, mode: 0o700 });
    writeFileSync(join(xdg, 'anygen', 'config.json'), `${JSON.stringify({ api_key: BENCH_KEY }, null, 2)}\n`, {
      mode: 0o600,
    });

    const sandbox = await startSandbox({ host: '127.0.0.1', port: 0, readsToComplete: 0, apiKey: BENCH_KEY });
    sandboxes.push(sandbox);
    // The same environment for the baseline and the CLI (see the top of this file).
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && !k.startsWith('ANYGEN_')),
    );
    const xdgCache = join(dir, 'cache');
    const envFor = (mode) =>
      mode === 'clean'
        ? { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, XDG_CONFIG_HOME: xdg, XDG_CACHE_HOME: xdgCache }
        : { ...inherited, HOME: dir, XDG_CONFIG_HOME: xdg, XDG_CACHE_HOME: xdgCache };

    const floor = await buildFloor(join(dir, 'floor'));
    const timings = [];
    for (const mode of opts.envModes) {
      timings.push({ envMode: mode, ...(await timeCases(opts, sandbox, envFor(mode), mode, log, floor)) });
    }
    if (opts.startupOnly) return { ...header(opts), timings, pass: timings.every((t) => t.pass) };
    // Memory and connections do not depend on the environment: measured once, in the first.
    const baseEnv = envFor(opts.envModes[0]);
    const env = { ...baseEnv, ANYGEN_BASE_URL: sandbox.url };

    // ---- memory.
    let method = opts.rssMethod;
    if (method !== 'exit-hook') {
      const problem = probeGnuTime(dir);
      if (problem && method === 'time') throw new BenchError(problem);
      if (problem) log(`${problem}; using the exit hook for peak RSS`);
      method = problem ? 'exit-hook' : 'time';
    }
    const rss = rssMeasurer(method, dir);
    const uploadFile = join(dir, 'bench-50MiB.bin');
    log(`writing ${UPLOAD_BYTES} random bytes to ${uploadFile}…`);
    const sha256 = writeRandomFile(uploadFile, UPLOAD_BYTES);

    log(`peak RSS (${method}): ${opts.memRuns} runs each of node -e 0, create and a 50 MiB upload…`);
    const rssSamples = { baseline: [], create: [], upload: [] };
    const uploadArgs = ['upload', '--file', uploadFile];
    for (let i = 0; i < opts.memRuns; i++) {
      rssSamples.baseline.push(await rss.measure('node -e 0', [process.execPath, '-e', '0'], baseEnv));
      rssSamples.create.push(
        await rss.measure('anygen-image create -p bench', [process.execPath, BIN, 'create', '-p', 'bench'], env),
      );
      const tokensBefore = new Set(sandbox.uploads.keys());
      rssSamples.upload.push(await rss.measure('anygen-image upload', [process.execPath, BIN, ...uploadArgs], env));
      const added = [...sandbox.uploads.values()].filter((u) => !tokensBefore.has(u.token));
      if (added.length !== 1 || added[0].size !== UPLOAD_BYTES || added[0].sha256 !== sha256) {
        throw new BenchError(`the sandbox did not receive the 50 MiB file intact: ${JSON.stringify(added)}`);
      }
    }
    const memBaseline = summary(rssSamples.baseline);
    const memCreate = summary(rssSamples.create);
    const memUpload = summary(rssSamples.upload);
    const memBudgetKb = memCreate.median + 16 * 1024;
    const memory = {
      method: rss.name,
      runs: opts.memRuns,
      uploadBytes: UPLOAD_BYTES,
      baselineKb: memBaseline,
      createKb: memCreate,
      uploadKb: memUpload,
      budgetKb: memBudgetKb,
      pass: memUpload.median <= memBudgetKb,
      samplesKb: rssSamples,
    };

    // ---- connections: one poll of a task that needs POLL_READS reads.
    const pollBox = await startSandbox({
      host: '127.0.0.1',
      port: 0,
      readsToComplete: POLL_READS - 1,
      apiKey: BENCH_KEY,
    });
    sandboxes.push(pollBox);
    const taskId = await createTaskRaw(pollBox);
    await quiesce(pollBox);
    const pollArgs = ['poll', '--task-id', taskId, '--interval', '1'];
    log(`connections: ${describe(pollArgs)} (${POLL_READS} reads, about ${POLL_READS - 1} s)…`);
    const connBefore = pollBox.stats.connections;
    const readsBefore = pollBox.stats.byRoute.task ?? 0;
    const poll = await timedRun(process.execPath, [BIN, ...pollArgs], { ...baseEnv, ANYGEN_BASE_URL: pollBox.url });
    const connections = pollBox.stats.connections - connBefore;
    const reads = (pollBox.stats.byRoute.task ?? 0) - readsBefore;
    const conn = {
      command: describe(pollArgs.map((a) => (a === taskId ? '<id>' : a))),
      exitCode: poll.code,
      wallMs: poll.ms,
      connections,
      reads,
      expectedReads: POLL_READS,
      budget: 1,
      pass: poll.code === 0 && reads === POLL_READS && connections <= 1,
    };

    const batch = await benchBatch(startSandbox, baseEnv, dir, rss, log);

    return {
      ...header(opts),
      timings,
      memory,
      connections: conn,
      batch,
      pass: timings.every((t) => t.pass) && memory.pass && conn.pass && batch.pass,
    };
  } finally {
    for (const s of sandboxes) await s.close();
  }
}

// ---------------------------------------------------------------- batch

const BATCH_ITEMS = 200;
const BATCH_CONCURRENCY = 16;
const BATCH_RSS_BUDGET_MIB = 100;

/**
 * `batch` of BATCH_ITEMS prompts at BATCH_CONCURRENCY against its own sandbox: the wall
 * time, the TCP connections it opened (one pool for every worker: at most concurrency
 * + 1) and its peak RSS, measured on a second run into a fresh folder.
 */
async function benchBatch(startSandbox, baseEnv, dir, rss, log) {
  const box = await startSandbox({ host: '127.0.0.1', port: 0, readsToComplete: 0, apiKey: BENCH_KEY });
  try {
    const input = join(dir, 'batch.jsonl');
    writeFileSync(
      input,
      Array.from({ length: BATCH_ITEMS }, (_, i) =>
        JSON.stringify({ id: `item-${i}`, prompt: `Bench poster ${i}` }),
      ).join('\n'),
    );
    const args = (out) => [
      'batch',
      input,
      '--output',
      out,
      '--concurrency',
      String(BATCH_CONCURRENCY),
      '--interval',
      '1',
      '-q',
    ];
    const env = { ...baseEnv, ANYGEN_BASE_URL: box.url };
    log(`batch: ${BATCH_ITEMS} items at concurrency ${BATCH_CONCURRENCY}…`);
    await quiesce(box);
    const connBefore = box.stats.connections;
    const createsBefore = box.stats.byRoute.create ?? 0;
    const out = join(dir, 'batch-out');
    const run = await timedRun(process.execPath, [BIN, ...args(out)], env);
    const connections = box.stats.connections - connBefore;
    const creates = (box.stats.byRoute.create ?? 0) - createsBefore;
    const files = readdirSync(out).filter((f) => f.endsWith('.png')).length;
    if (run.code !== 0 || creates !== BATCH_ITEMS || files !== BATCH_ITEMS) {
      throw new BenchError(`batch failed: exit ${run.code ?? run.signal}, ${creates} creates, ${files} files`);
    }
    const rssKb = await rss.measure(
      'anygen-image batch',
      [process.execPath, BIN, ...args(join(dir, 'batch-out-2'))],
      env,
    );
    const budgetKb = BATCH_RSS_BUDGET_MIB * 1024;
    return {
      command: describe(args('<dir>').map((a) => (a === input ? '<200 items>' : a))),
      items: BATCH_ITEMS,
      concurrency: BATCH_CONCURRENCY,
      wallMs: run.ms,
      connections,
      connectionBudget: BATCH_CONCURRENCY + 1,
      rssKb,
      rssBudgetKb: budgetKb,
      pass: connections <= BATCH_CONCURRENCY + 1 && rssKb <= budgetKb,
    };
  } finally {
    await box.close();
  }
}

function renderBatch(b) {
  return [
    '',
    `Batch (${b.items} items at concurrency ${b.concurrency}; peak RSS from a second run)`,
    table([
      ['case', 'wall s', 'connections', 'peak RSS MiB', 'budget', 'result'],
      [
        b.command,
        (b.wallMs / 1000).toFixed(1),
        `${b.connections} (≤ ${b.connectionBudget})`,
        mb(b.rssKb),
        `≤ ${mb(b.rssBudgetKb)}`,
        verdict(b.pass),
      ],
    ]),
  ];
}

// ---------------------------------------------------------------- report

function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  const line = (r) =>
    r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

const ms = (n) => n.toFixed(1);
const mb = (kb) => mib(kb).toFixed(1);
const verdict = (ok) => (ok ? 'PASS' : 'FAIL');

function render(r) {
  const out = [];
  out.push(`anygen-image bench — node ${r.node}, ${r.platform}, ${r.cpus} CPUs, ${r.runs} interleaved rounds`);
  for (const t of r.timings) {
    const b = t.baseline;
    out.push('');
    out.push(
      t.envMode === 'clean'
        ? 'Start-up, clean environment (PATH, HOME, XDG_CONFIG_HOME, XDG_CACHE_HOME, + ANYGEN_BASE_URL for the CLI); wall ms'
        : `Start-up, this machine's environment, less NODE_OPTIONS and ANYGEN_*${t.extraCaCerts ? ' (NODE_EXTRA_CA_CERTS is set: every node process loads it)' : ''}; wall ms`,
    );
    out.push(
      table([
        ['case', 'median', 'p10–p90', 'min–max', 'baseline', 'ratio', 'budget', 'result'],
        [
          'node -e 0 (baseline)',
          ms(b.median),
          `${ms(b.p10)}–${ms(b.p90)}`,
          `${ms(b.min)}–${ms(b.max)}`,
          '',
          '',
          '',
          '',
        ],
        ...t.cases.map((c) => [
          c.command,
          ms(c.median),
          `${ms(c.p10)}–${ms(c.p90)}`,
          `${ms(c.min)}–${ms(c.max)}`,
          ms(c.baselineMedian),
          `${c.ratio.toFixed(2)}×`,
          c.budget === undefined ? '' : `≤ ${c.budget.toFixed(2)}×`,
          c.budget === undefined ? '' : verdict(c.pass),
        ]),
      ]),
    );
  }
  out.push(...(r.memory ? renderRest(r) : []));
  out.push('');
  out.push(r.pass ? 'All budgets met.' : 'Budget missed: see FAIL above.');
  return out.join('\n');
}

function renderRest(r) {
  const out = [];
  const m = r.memory;
  out.push('');
  out.push(`Peak RSS (MiB, median of ${m.runs} runs; ${m.method})`);
  out.push(
    table([
      ['case', 'median', 'min–max', 'budget', 'result'],
      ['node -e 0 (baseline)', mb(m.baselineKb.median), `${mb(m.baselineKb.min)}–${mb(m.baselineKb.max)}`, '', ''],
      ['anygen-image create -p bench', mb(m.createKb.median), `${mb(m.createKb.min)}–${mb(m.createKb.max)}`, '', ''],
      [
        `anygen-image upload --file <${m.uploadBytes / MiB} MiB>`,
        mb(m.uploadKb.median),
        `${mb(m.uploadKb.min)}–${mb(m.uploadKb.max)}`,
        `≤ ${mb(m.budgetKb)} (create + 16)`,
        verdict(m.pass),
      ],
    ]),
  );
  const c = r.connections;
  out.push('');
  out.push('Connections (TCP connections the sandbox accepted during the command)');
  out.push(
    table([
      ['case', 'connections', 'task reads', 'exit', 'wall s', 'budget', 'result'],
      [
        c.command,
        String(c.connections),
        `${c.reads} (want ${c.expectedReads})`,
        String(c.exitCode),
        (c.wallMs / 1000).toFixed(1),
        `≤ ${c.budget}`,
        verdict(c.pass),
      ],
    ]),
  );
  if (r.mcp) out.push('', renderMcp(r.mcp));
  out.push(...renderBatch(r.batch));
  return out;
}

function jsonReport(r) {
  const t = (s) => ({
    median_ms: round1(s.median),
    p10_ms: round1(s.p10),
    p90_ms: round1(s.p90),
    min_ms: round1(s.min),
    max_ms: round1(s.max),
  });
  return {
    node: r.node,
    platform: r.platform,
    cpus: r.cpus,
    runs: r.runs,
    timing: r.timings.map((tm) => ({
      env: tm.envMode,
      baseline: { command: 'node -e 0', ...t(tm.baseline) },
      cases: tm.cases.map((c) => ({
        id: c.id,
        command: c.command,
        ...t(c),
        baseline_median_ms: round1(c.baselineMedian),
        ratio: round2(c.ratio),
        budget_ratio: c.budget ?? null,
        pass: c.pass,
      })),
    })),
    ...(r.memory ? jsonRest(r) : {}),
    pass: r.pass,
  };
}

function jsonRest(r) {
  const k = (s) => ({ median_kb: s.median, min_kb: s.min, max_kb: s.max, median_mib: round1(mib(s.median)) });
  return {
    memory: {
      method: r.memory.method,
      runs: r.memory.runs,
      baseline: k(r.memory.baselineKb),
      create: k(r.memory.createKb),
      upload: { bytes: r.memory.uploadBytes, ...k(r.memory.uploadKb) },
      budget_kb: r.memory.budgetKb,
      pass: r.memory.pass,
      samples_kb: r.memory.samplesKb,
    },
    connections: {
      command: r.connections.command,
      connections: r.connections.connections,
      task_reads: r.connections.reads,
      expected_reads: r.connections.expectedReads,
      exit_code: r.connections.exitCode,
      wall_ms: round1(r.connections.wallMs),
      budget: r.connections.budget,
      pass: r.connections.pass,
    },
    ...(r.mcp ? { mcp: jsonMcp(r.mcp) } : {}),
    batch: {
      command: r.batch.command,
      items: r.batch.items,
      concurrency: r.batch.concurrency,
      wall_ms: round1(r.batch.wallMs),
      connections: r.batch.connections,
      connection_budget: r.batch.connectionBudget,
      peak_rss_kb: r.batch.rssKb,
      rss_budget_kb: r.batch.rssBudgetKb,
      pass: r.batch.pass,
    },
  };
}

// ---------------------------------------------------------------- MCP: a tool call vs a process
//
// An agent on MCP pays one request per step to a server that is already running; an
// agent that shells out pays a whole process. Measured: one `get_task` tool call (the
// SDK's own client over stdio to `anygen-image mcp`) against `anygen-image poll` of the
// same completed task, which makes the same single read and exits, interleaved round
// by round. Budget: the call costs at most a tenth of the process, and the server
// makes all its reads over at most one connection (its keep-alive client).

const MCP_CALL_SHARE = 0.1;

async function benchMcp(opts, dir, log) {
  const { startSandbox } = await import(pathToFileURL(DIST_INDEX).href);
  const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
  const { StdioClientTransport } = await import('@modelcontextprotocol/sdk/client/stdio.js');
  const xdg = join(dir, 'mcp-xdg');
  mkdirSync(join(xdg, 'anygen'), { recursive: true, mode: 0o700 });
  writeFileSync(join(xdg, 'anygen', 'config.json'), `${JSON.stringify({ api_key: BENCH_KEY })}\n`, { mode: 0o600 });
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && !k.startsWith('ANYGEN_')),
  );
  const box = await startSandbox({ host: '127.0.0.1', port: 0, readsToComplete: 0, apiKey: BENCH_KEY });
  const env = {
    ...(opts.envMode === 'clean' ? { PATH: process.env.PATH ?? '/usr/bin:/bin' } : inherited),
    HOME: dir,
    XDG_CONFIG_HOME: xdg,
    ANYGEN_BASE_URL: box.url,
  };
  const transport = new StdioClientTransport({ command: process.execPath, args: [BIN, 'mcp'], env, stderr: 'ignore' });
  const client = new Client({ name: 'anygen-image-bench', version: '0.0.0' });
  try {
    const taskId = await createTaskRaw(box);
    const args = { name: 'get_task', arguments: { task_id: taskId } };
    const cliArgs = ['poll', '--task-id', taskId, '--json'];
    log(`mcp: starting anygen-image mcp; ${opts.runs} rounds of one get_task call and one ${describe(cliArgs)}…`);
    const started = process.hrtime.bigint();
    await client.connect(transport);
    const startMs = Number(process.hrtime.bigint() - started) / 1e6;
    // Checks and warm-up: the call reads the task, the command succeeds.
    const first = await client.callTool(args);
    if (first.isError || first.structuredContent?.status !== 'completed') {
      throw new BenchError(`get_task over MCP failed: ${JSON.stringify(first.content)}`);
    }
    await mustSucceed(describe(cliArgs), cliArgs, env);

    const samples = { call: [], cli: [] };
    const readsBefore = box.stats.byRoute.task ?? 0;
    const connectionsBefore = box.stats.connections;
    const timedCall = async () => {
      const t0 = process.hrtime.bigint();
      const r = await client.callTool(args);
      const elapsed = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.isError) throw new BenchError(`get_task over MCP failed: ${JSON.stringify(r.content)}`);
      samples.call.push(elapsed);
    };
    const timedCli = async () => {
      const r = await timedRun(process.execPath, [BIN, ...cliArgs], env);
      if (r.code !== 0) throw new BenchError(`${describe(cliArgs)} exited ${r.code ?? r.signal}`);
      samples.cli.push(r.ms);
    };
    for (let round = 0; round < opts.runs; round++) {
      if (round % 2 === 0) {
        await timedCall();
        await timedCli();
      } else {
        await timedCli();
        await timedCall();
      }
    }
    const reads = (box.stats.byRoute.task ?? 0) - readsBefore;
    if (reads !== 2 * opts.runs) throw new BenchError(`expected ${2 * opts.runs} task reads, saw ${reads}`);
    // Each CLI process opens its own connection; what is left is the server's.
    const serverConnections = box.stats.connections - connectionsBefore - opts.runs;
    const call = summary(samples.call);
    const cli = summary(samples.cli);
    return {
      startMs,
      call,
      cli,
      command: describe(cliArgs.map((a) => (a === taskId ? '<id>' : a))),
      share: call.median / cli.median,
      serverConnections,
      pass: call.median <= cli.median * MCP_CALL_SHARE && serverConnections <= 1,
    };
  } finally {
    await client.close();
    await box.close();
  }
}

function renderMcp(m) {
  return [
    'MCP (one get_task tool call on a running server vs a process doing the same read, ms)',
    table([
      ['case', 'median', 'p10–p90', 'min–max', 'share', 'budget', 'result'],
      [
        'anygen-image mcp: get_task tool call',
        ms(m.call.median),
        `${ms(m.call.p10)}–${ms(m.call.p90)}`,
        `${ms(m.call.min)}–${ms(m.call.max)}`,
        `${(m.share * 100).toFixed(1)}%`,
        `≤ ${MCP_CALL_SHARE * 100}%`,
        verdict(m.share <= MCP_CALL_SHARE),
      ],
      [
        m.command,
        ms(m.cli.median),
        `${ms(m.cli.p10)}–${ms(m.cli.p90)}`,
        `${ms(m.cli.min)}–${ms(m.cli.max)}`,
        '',
        '',
        '',
      ],
    ]),
    `server start (spawn to initialized): ${ms(m.startMs)} ms; new connections the server opened during the timed calls: ${m.serverConnections} (budget ≤ 1, ${verdict(m.serverConnections <= 1)}; the warm-up call's keep-alive connection serves them)`,
  ].join('\n');
}

function jsonMcp(m) {
  const t = (s) => ({ median_ms: round1(s.median), p10_ms: round1(s.p10), p90_ms: round1(s.p90) });
  return {
    tool_call: { tool: 'get_task', ...t(m.call) },
    process: { command: m.command, ...t(m.cli) },
    share: round2(m.share),
    budget_share: MCP_CALL_SHARE,
    server_start_ms: round1(m.startMs),
    server_connections: m.serverConnections,
    pass: m.pass,
  };
}

// ---------------------------------------------------------------- main

async function mainBench() {
  let opts;
  try {
    opts = parseOptions();
  } catch (err) {
    process.stderr.write(`bench: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!existsSync(DIST_INDEX) || !existsSync(DIST_BIN)) {
    process.stderr.write(`bench: ${join(ROOT, 'dist')} is missing or incomplete: run npm run build first\n`);
    return 2;
  }

  const dir = mkdtempSync(join(tmpdir(), 'anygen-bench-'));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  const onSignal = (signal) => {
    for (const child of live) child.kill('SIGKILL');
    cleanup();
    process.stderr.write(`bench: stopped by ${signal}\n`);
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const log = (line) => process.stderr.write(`bench: ${line}\n`);
  try {
    const result = await bench(opts, dir, log);
    if (!opts.startupOnly) {
      result.mcp = await benchMcp(opts, dir, log);
      result.pass &&= result.mcp.pass;
    }
    process.stdout.write(opts.json ? `${JSON.stringify(jsonReport(result), null, 2)}\n` : `\n${render(result)}\n`);
    return result.pass ? 0 : 1;
  } catch (err) {
    process.stderr.write(`bench: ${err instanceof BenchError ? err.message : (err?.stack ?? err)}\n`);
    return 2;
  } finally {
    cleanup();
  }
}

process.exitCode = await mainBench();
