/**
 * The progress displays in-process: which display each mode and stream get, the
 * spinner's one-second tick and retry countdown on a mocked timer, its width, and the
 * JSON events (heartbeats included, on the harness's virtual clock).
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { envFor, json, runCli, sandbox, tempDir } from '../../test/helpers/harness.js';
import { makeTask } from '../../test/reliability/helpers.js';
import type { IO } from '../io.js';
import { Output, type OutputMode } from './output.js';
import { createProgress, downloadProgress, fit, progressStyle, shortReason } from './progress.js';

interface Fake {
  io: IO;
  /** Everything written to stderr. */
  err: () => string;
  /** The fake clock and width, to move by hand. */
  at: { now: number; columns: number };
}

function fake(opts: { tty?: boolean; columns?: number; env?: Record<string, string> } = {}): Fake {
  let err = '';
  const at = { now: 1_000_000, columns: opts.columns ?? 80 };
  const io: IO = {
    stdout: { write: () => true },
    stderr: {
      write: (s: string) => {
        err += s;
        return true;
      },
    },
    stderrIsTTY: opts.tty ?? true,
    get stderrColumns() {
      return at.columns;
    },
    env: opts.env ?? {},
    now: () => at.now,
    sleep: async () => {},
    signal: new AbortController().signal,
  };
  return { io, err: () => err, at };
}

const MODE: OutputMode = { json: false, quiet: false, verbose: false };
const SUBJECT = { label: 'Waiting for task task_1', taskId: 'task_1' };

/** Mocked timers (ora's frames and the display's tick) and a clock that moves with them. */
function tick(t: TestContext, f: Fake) {
  t.mock.timers.enable({ apis: ['setInterval'] });
  return (ms: number) => {
    f.at.now += ms;
    t.mock.timers.tick(ms);
  };
}

/** The spinner's lines as a terminal would show them: each redraw, escape sequences removed. */
function frames(text: string): string[] {
  return text
    .split('\u001b[1G')
    .map((s) => s.replace(/\u001b\[[0-?]*[ -/]*[@-~]/g, ''))
    .filter((s) => s !== '');
}

describe('which display', () => {
  it('auto: a spinner only on a terminal with a width and TERM other than dumb; none under --json or --quiet', () => {
    const style = (mode: Partial<OutputMode>, f: Fake) => progressStyle(new Output(f.io, { ...MODE, ...mode }));
    assert.equal(style({}, fake()), 'spinner');
    assert.equal(style({}, fake({ columns: 0 })), 'plain');
    assert.equal(style({}, fake({ env: { TERM: 'dumb' } })), 'plain');
    assert.equal(style({}, fake({ tty: false })), 'plain');
    assert.equal(style({ json: true }, fake()), 'none');
    assert.equal(style({ quiet: true }, fake()), 'none');
    assert.equal(style({ progress: 'auto', json: true }, fake({ tty: false })), 'none');
  });

  it('a mode named is what is shown, even under --json or --quiet; spinner falls back to plain', () => {
    const style = (mode: Partial<OutputMode>, f: Fake) => progressStyle(new Output(f.io, { ...MODE, ...mode }));
    assert.equal(style({ progress: 'json', json: true }, fake()), 'json');
    assert.equal(style({ progress: 'plain', json: true }, fake()), 'plain');
    assert.equal(style({ progress: 'plain', quiet: true }, fake({ tty: false })), 'plain');
    assert.equal(style({ progress: 'none' }, fake()), 'none');
    assert.equal(style({ progress: 'spinner' }, fake({ tty: false })), 'plain');
    assert.equal(style({ progress: 'spinner' }, fake({ columns: 0 })), 'plain');
    assert.equal(style({ progress: 'spinner' }, fake({ env: { TERM: 'dumb' } })), 'plain');
  });
});

describe('text that fits', () => {
  it('fit cuts to the width with an ellipsis, counting wide characters as two', () => {
    assert.equal(fit('abcdef', 6), 'abcdef');
    assert.equal(fit('abcdef', 5), 'abcd…');
    assert.equal(fit('abcdef', 0), '');
    assert.equal(fit('任务处理中', 6), '任务…');
  });

  it('a retry is said in a few words', () => {
    assert.equal(shortReason({ message: 'long', status: 503, kind: 'server_error' }), 'HTTP 503');
    assert.equal(shortReason({ message: 'long', kind: 'timeout' }), 'no answer in time');
    assert.equal(shortReason({ message: 'long', kind: 'network' }), 'connection failed');
    assert.equal(shortReason(undefined), 'request failed');
  });
});

describe('the spinner', () => {
  it('ticks its elapsed time every second with no event, and counts a retry down', async (t) => {
    const f = fake();
    const advance = tick(t, f);
    const p = await createProgress(new Output(f.io, MODE), SUBJECT);
    p.event({ type: 'update', status: 'processing', progress: 40, elapsedMs: 0 });
    advance(1_000);
    advance(1_000);
    assert.ok(
      frames(f.err()).some((l) => l.endsWith('0m02s Waiting for task task_1: processing 40%')),
      f.err(),
    );
    p.event({ type: 'retry', elapsedMs: 2_000, delayMs: 12_000, error: { message: 'x', status: 503 } });
    advance(1_000);
    advance(1_000);
    p.stop();
    const shown = frames(f.err()).join('\n');
    assert.match(shown, /0m02s Waiting for task task_1: HTTP 503, trying again in 12 s/);
    assert.match(shown, /0m04s Waiting for task task_1: HTTP 503, trying again in 10 s/);
    // Stopped: the line is cleared and the cursor shown again.
    assert.ok(f.err().endsWith('\u001b[?25h'), JSON.stringify(f.err().slice(-40)));
  });

  it('keeps every line within columns - 1, reading the width live', async (t) => {
    const f = fake({ columns: 60 });
    const advance = tick(t, f);
    const p = await createProgress(new Output(f.io, MODE), SUBJECT);
    p.event({ type: 'retry', elapsedMs: 0, delayMs: 30_000, error: { message: 'x', status: 503 } });
    advance(1_000);
    const wide = f.err();
    f.at.columns = 24;
    // Within a second of a resize the next tick has fitted the line again.
    advance(1_000);
    const before = f.err().length;
    advance(1_000);
    p.stop();
    for (const line of frames(wide)) assert.ok([...line].length <= 59, line);
    const narrow = frames(f.err().slice(before));
    assert.ok(narrow.length > 0);
    for (const line of narrow) assert.ok([...line].length <= 23, line);
    // The label gives way first: the status and the countdown are the news.
    assert.ok(
      narrow.some((l) => /0m0\ds HTTP 503, tryi…/.test(l)),
      narrow.join('\n'),
    );
  });

  it('a terminal resized to 0 columns turns it into plain lines, with no cursor control after', async (t) => {
    const f = fake();
    const advance = tick(t, f);
    const p = await createProgress(new Output(f.io, MODE), SUBJECT);
    f.at.columns = 0;
    advance(1_000);
    const after = f.err().length;
    p.event({ type: 'update', status: 'processing', progress: 50, elapsedMs: 3_000 });
    advance(5_000);
    p.stop();
    assert.equal(f.err().slice(after), '[0m03s] processing 50%\n');
  });
});

describe('--progress json', () => {
  it('writes one event per line with the task, status, progress and elapsed seconds', async () => {
    const f = fake({ tty: false });
    const out = new Output(f.io, { ...MODE, json: true, progress: 'json' });
    const p = await createProgress(out, SUBJECT);
    f.at.now += 2_500;
    p.event({
      type: 'retry',
      elapsedMs: 2_500,
      delayMs: 12_000,
      error: { message: 'HTTP 503 \u001b[31mred', status: 503 },
    });
    p.event({ type: 'update', status: 'processing\u009b2J', progress: 150, elapsedMs: 2_500 });
    p.event({ type: 'heartbeat', status: 'processing', progress: 40, elapsedMs: 30_000 });
    downloadProgress(out, { task_id: 'task_1', status: 'completed', progress: 100 }).finished({
      path: '/tmp/out/a.png',
      bytes: 42,
    });
    p.stop();
    assert.deepEqual(
      f
        .err()
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l)),
      [
        {
          event: 'retry',
          task_id: 'task_1',
          status: null,
          progress: null,
          elapsed_s: 2,
          reason: 'HTTP 503',
          message: 'HTTP 503 red',
          delay_s: 12,
        },
        // Server text without control characters; a progress outside 0–100 is not one.
        { event: 'status', task_id: 'task_1', status: 'processing2J', progress: null, elapsed_s: 2 },
        { event: 'heartbeat', task_id: 'task_1', status: 'processing', progress: 40, elapsed_s: 2 },
        {
          event: 'download',
          task_id: 'task_1',
          status: 'completed',
          progress: 100,
          elapsed_s: 2,
          path: '/tmp/out/a.png',
          bytes: 42,
        },
      ],
    );
  });

  it('a 20-minute wait under --json --progress json gives a heartbeat every 30 s; stdout stays one document', async (t) => {
    const s = await sandbox(t, { readsToComplete: 40 });
    const id = await makeTask(s, 'slow');
    const r = await runCli(['--json', '--progress', 'json', 'poll', '--task-id', id, '--interval', '5'], {
      env: envFor(s, tempDir(t)),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(json(r).status, 'completed');
    const all = r.stderr
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; elapsed_s: number; task_id: string });
    const beats = all.filter((e) => e.event === 'heartbeat');
    // 40 reads 5 s apart: 195 s of waiting, a heartbeat each 30 s.
    assert.deepEqual(
      beats.map((e) => e.elapsed_s),
      [30, 60, 90, 120, 150, 180],
    );
    assert.ok(all.every((e) => e.task_id === id));
  });
});
