/** The scheduler against the real sandbox over loopback, on a virtual clock. */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { sandbox, TEST_KEY, tempDir } from '../../test/helpers/harness.js';
import { AnyGenClient } from '../client/client.js';
import type { Sandbox } from '../sandbox/server.js';
import { readBatchInput } from './input.js';
import { runBatch } from './runner.js';
import { BatchState } from './state.js';

interface Setup {
  s: Sandbox;
  dir: string;
  clock: { now: number };
  /** Virtual time at which each API request reached the sandbox. */
  arrivals: { at: number; line: string }[];
  /** Called with each API request line as it arrives. */
  onArrival?: (line: string) => void;
}

async function setup(t: Parameters<typeof sandbox>[0] & { after(fn: () => void): void }): Promise<Setup> {
  const clock = { now: 1_000_000 };
  const arrivals: Setup['arrivals'] = [];
  const setup: Partial<Setup> = {};
  const s = await sandbox(t, {
    log: (line) => {
      if (!line.startsWith('GET /v1') && !line.startsWith('POST /v1')) return;
      arrivals.push({ at: clock.now, line });
      setup.onArrival?.(line);
    },
  });
  return Object.assign(setup, { s, dir: tempDir(t), clock, arrivals });
}

async function runOnce(
  { s, dir, clock }: Setup,
  lines: string[],
  opts: { concurrency?: number; failFast?: boolean; retryUnknown?: boolean; signal?: AbortSignal } = {},
) {
  const file = join(dir, 'in.jsonl');
  writeFileSync(file, `${lines.join('\n')}\n`);
  const input = await readBatchInput({ file });
  const out = join(dir, 'out');
  const state = BatchState.open(out, input.name, undefined, () => clock.now);
  const actions = state.plan(input.items, Boolean(opts.retryUnknown));
  const { mkdirSync } = await import('node:fs');
  mkdirSync(out, { recursive: true });
  const client = new AnyGenClient({ baseUrl: s.url, apiKey: TEST_KEY, retry: { retries: 0 } });
  const sleeps: number[] = [];
  const outcome = await runBatch({
    client,
    state,
    items: input.items,
    actions,
    concurrency: opts.concurrency ?? 3,
    times: { intervalMs: 1000, timeoutMs: 60_000 },
    failFast: Boolean(opts.failFast),
    now: () => clock.now,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock.now += ms;
      await new Promise((r) => setImmediate(r));
    },
    signal: opts.signal ?? new AbortController().signal,
    download: async (files, signal) => {
      const saved = [];
      for (const f of files) saved.push(await client.download(f, out, { signal }));
      return saved;
    },
  });
  return { outcome, out, sleeps };
}

const creates = (s: Sandbox) => s.stats.byRoute.create ?? 0;

test('each item is created once, saved as <id>.png; a rerun creates nothing', async (t) => {
  const st = await setup(t);
  const lines = ['a', 'b', 'c', 'd', 'e'].map((id) => JSON.stringify({ id, prompt: `A ${id}` }));
  const first = await runOnce(st, lines);
  assert.equal(creates(st.s), 5);
  assert.deepEqual(first.outcome.counts, { total: 5, completed: 5, failed: 0, unknown: 0, created: 0, pending: 0 });
  for (const id of ['a', 'b', 'c', 'd', 'e']) assert.ok(existsSync(join(first.out, `${id}.png`)), id);
  const second = await runOnce(st, lines);
  assert.equal(creates(st.s), 5, 'no create on the rerun');
  assert.equal(second.outcome.counts.completed, 5);
});

test('a 429 holds every worker until its Retry-After has passed, and the refused create is sent again', async (t) => {
  const st = await setup(t);
  st.s.addFaults('429:7');
  const lines = ['a', 'b', 'c', 'd'].map((id) => JSON.stringify({ id, prompt: `A ${id}` }));
  const { outcome } = await runOnce(st, lines, { concurrency: 3 });
  assert.equal(outcome.counts.completed, 4);
  assert.equal(creates(st.s), 4, 'four tasks: the 429 made none');
  // The first request got the 429; the others already in flight are answered, and
  // nothing new reaches the service for the next 7 s.
  const [first, ...rest] = st.arrivals;
  assert.ok(first);
  const inFlight = rest.filter((a) => a.at === first.at).length;
  assert.ok(inFlight <= 2, `at most the other workers' requests were in flight: ${inFlight}`);
  const later = rest.filter((a) => a.at > first.at);
  assert.ok(later.length > 0);
  for (const a of later) assert.ok(a.at >= first.at + 7000, `${a.line} at +${a.at - first.at} ms`);
});

test('"not enough credits" stops new creates; the tasks already made are finished', async (t) => {
  const st = await setup(t);
  const lines = [
    { id: 'a', prompt: 'A a' },
    { id: 'b', prompt: 'A b [no-credits]' },
    { id: 'c', prompt: 'A c' },
    { id: 'd', prompt: 'A d' },
  ].map((l) => JSON.stringify(l));
  const { outcome } = await runOnce(st, lines, { concurrency: 1 });
  assert.equal(outcome.stopped, 'credits');
  assert.match(outcome.stopMessage ?? '', /Not enough credits/);
  assert.deepEqual(
    outcome.items.map((i) => i.status),
    ['completed', 'failed', 'pending', 'pending'],
  );
  assert.equal(creates(st.s), 2);
});

test('--fail-fast stops at the first failed item; without it the others finish', async (t) => {
  const lines = [
    { id: 'a', prompt: 'A a [fail broken]' },
    { id: 'b', prompt: 'A b' },
    { id: 'c', prompt: 'A c' },
  ].map((l) => JSON.stringify(l));
  const fast = await setup(t);
  const stopped = await runOnce(fast, lines, { concurrency: 1, failFast: true });
  assert.equal(stopped.outcome.stopped, 'fail-fast');
  assert.deepEqual(
    stopped.outcome.items.map((i) => i.status),
    ['failed', 'pending', 'pending'],
  );
  assert.equal(creates(fast.s), 1);
  const slow = await setup(t);
  const all = await runOnce(slow, lines, { concurrency: 1 });
  assert.deepEqual(
    all.outcome.items.map((i) => [i.status, i.error]),
    [
      ['failed', 'task failed: broken'],
      ['completed', null],
      ['completed', null],
    ],
  );
});

test('a create cut off after it was sent is unknown, and created again only with retryUnknown', async (t) => {
  const st = await setup(t);
  st.s.addFaults('drop');
  const lines = [JSON.stringify({ id: 'a', prompt: 'A a' })];
  const first = await runOnce(st, lines, { concurrency: 1 });
  assert.equal(first.outcome.items[0]?.status, 'unknown');
  assert.match(first.outcome.items[0]?.error ?? '', /may have been created/);
  const again = await runOnce(st, lines, { concurrency: 1 });
  assert.equal(again.outcome.items[0]?.status, 'unknown');
  assert.equal(creates(st.s), 0, 'the dropped request never reached the create handler, and no retry was sent');
  const retried = await runOnce(st, lines, { concurrency: 1, retryUnknown: true });
  assert.equal(retried.outcome.items[0]?.status, 'completed');
  assert.equal(creates(st.s), 1);
});

test('Ctrl-C: no create starts after it, waits stop, the item stays created and a rerun only waits', async (t) => {
  const st = await setup(t);
  const controller = new AbortController();
  // Tasks need reads to complete, so the first run is still waiting when interrupted.
  const lines = ['a', 'b', 'c'].map((id) => JSON.stringify({ id, prompt: `A ${id} [reads 3]` }));
  // The signal comes while the first create is at the service.
  st.onArrival = (line) => {
    if (line.startsWith('POST /v1/openapi/tasks ')) controller.abort();
  };
  const first = await runOnce(st, lines, { concurrency: 1, signal: controller.signal });
  assert.equal(first.outcome.stopped, 'interrupted');
  assert.deepEqual(
    first.outcome.items.map((i) => i.status),
    ['created', 'pending', 'pending'],
  );
  st.onArrival = undefined;
  const second = await runOnce(st, lines, { concurrency: 2 });
  assert.equal(second.outcome.counts.completed, 3);
  assert.equal(creates(st.s), 3);
});
