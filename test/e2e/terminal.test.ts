/**
 * The built CLI on real pseudo-terminals: the widths and settings agents' runners,
 * containers and people's terminals actually have.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ANY_ESCAPE, COLOUR, envFor, ptyProcess, runInPty, sandbox, tempDir } from '../helpers/harness.js';
import { makeTask } from '../reliability/helpers.js';

// Cursor movement and line clearing: what a spinner redraws with.
const CURSOR_CONTROL = /\u001b\[\d*[GKAJ]/;

describe('waiting on a pseudo-terminal', () => {
  it('with 0 columns, finishes within its timeout and writes plain lines, no spinner', {
    timeout: 30_000,
  }, async (t) => {
    const s = await sandbox(t, { readsToComplete: 1_000 });
    const r = await runInPty(['run', '-p', 'a cat', '--timeout', '2', '--interval', '1'], {
      env: envFor(s, tempDir(t)),
      columns: 0,
    });
    assert.equal(r.code, 5, r.output);
    assert.match(r.output, /Gave up waiting after 2s/);
    assert.ok(!CURSOR_CONTROL.test(r.output), `cursor controls on a 0-column terminal:\n${JSON.stringify(r.output)}`);
    // The spinner loop wrote megabytes; plain lines are a few hundred bytes.
    assert.ok(r.output.length < 4_000, `wrote ${r.output.length} bytes`);
  });

  it('with 80 columns, shows the spinner', async (t) => {
    const s = await sandbox(t, { readsToComplete: 1 });
    const r = await runInPty(['poll', '--task-id', await makeTask(s, 'a cat'), '--interval', '1'], {
      env: envFor(s, tempDir(t)),
      columns: 80,
    });
    assert.equal(r.code, 0, r.output);
    assert.ok(CURSOR_CONTROL.test(r.output), 'no spinner redraws on an 80-column terminal');
  });

  it('with 80 columns, the elapsed clock ticks every second while the status stands still, in colour', {
    timeout: 30_000,
  }, async (t) => {
    const s = await sandbox(t, { readsToComplete: 1_000 });
    // One read, then 10 s until the next: only the clock can move the line.
    const r = await runInPty(['poll', '--task-id', await makeTask(s, 'a cat'), '--interval', '10', '--timeout', '4'], {
      env: envFor(s, tempDir(t), { TERM: 'xterm-256color' }),
      columns: 80,
    });
    assert.equal(r.code, 5, r.output);
    assert.match(r.output, /Gave up waiting after 4s/);
    assert.equal(s.stats.byRoute.task, 1, 'the task was read once');
    for (const second of ['0m01s', '0m02s', '0m03s']) {
      assert.match(
        r.output,
        new RegExp(`${second} Waiting for task task_\\w+: pending`),
        `no ${second} on the spinner`,
      );
    }
    assert.ok(CURSOR_CONTROL.test(r.output), 'no spinner redraws');
    // What the NO_COLOR case below turns off.
    assert.ok(COLOUR.test(r.output), 'the spinner is coloured on a colour terminal');
  });

  it('with NO_COLOR=1, the spinner runs without a single colour code and finishes within its timeout', {
    timeout: 30_000,
  }, async (t) => {
    const s = await sandbox(t, { readsToComplete: 1_000 });
    const r = await runInPty(['poll', '--task-id', await makeTask(s, 'a cat'), '--interval', '1', '--timeout', '2'], {
      env: envFor(s, tempDir(t), { TERM: 'xterm-256color', NO_COLOR: '1' }),
      columns: 80,
    });
    assert.equal(r.code, 5, r.output);
    assert.match(r.output, /Gave up waiting after 2s/);
    assert.ok(CURSOR_CONTROL.test(r.output), 'no spinner redraws');
    assert.ok(!COLOUR.test(r.output), `colour under NO_COLOR:\n${JSON.stringify(r.output.match(COLOUR))}`);
  });

  it('with TERM=dumb, writes plain lines without cursor controls and finishes within its timeout', {
    timeout: 30_000,
  }, async (t) => {
    const s = await sandbox(t, { readsToComplete: 1_000 });
    const r = await runInPty(['poll', '--task-id', await makeTask(s, 'a cat'), '--interval', '1', '--timeout', '2'], {
      env: envFor(s, tempDir(t), { TERM: 'dumb' }),
      columns: 80,
    });
    assert.equal(r.code, 5, r.output);
    assert.match(r.output, /\[0m00s\] pending/);
    assert.ok(!CURSOR_CONTROL.test(r.output), `cursor controls under TERM=dumb:\n${JSON.stringify(r.output)}`);
    assert.deepEqual(r.output.match(ANY_ESCAPE), null, 'no escape sequence at all');
  });

  it('a retry says why and when the next try is, on one line within a narrow terminal', {
    timeout: 30_000,
  }, async (t) => {
    const s = await sandbox(t, { readsToComplete: 1_000 });
    const id = await makeTask(s, 'a cat [faults 503*100]');
    const r = await runInPty(['poll', '--task-id', id, '--interval', '3', '--timeout', '3'], {
      env: envFor(s, tempDir(t)),
      columns: 40,
    });
    assert.equal(r.code, 5, r.output);
    // The countdown moves with the clock.
    assert.match(r.output, /HTTP 503, trying again in 3 s/);
    assert.match(r.output, /HTTP 503, trying again in [12] s/);
    // Each redraw starts at column 1; what it writes fits in 39 columns, so it never wraps.
    const end = r.output.indexOf('Error:');
    const frames = r.output
      .slice(0, end)
      .split('\u001b[1G')
      .map((f) => f.replace(ANY_ESCAPE, ''))
      .filter((f) => f !== '');
    assert.ok(frames.length > 3, JSON.stringify(r.output));
    for (const f of frames) assert.ok([...f].length <= 39, `a line wider than 39 columns: ${JSON.stringify(f)}`);
  });
});

/** Terminals as they come: what each one is given. */
const TERMINALS = [
  { name: '0 columns', columns: 0, env: {} },
  { name: '80 columns', columns: 80, env: { TERM: 'xterm-256color' } },
  { name: '80 columns, NO_COLOR=1', columns: 80, env: { TERM: 'xterm-256color', NO_COLOR: '1' } },
  { name: 'TERM=dumb', columns: 80, env: { TERM: 'dumb' } },
];

describe('Ctrl-C and SIGTERM end a wait at once on any terminal', () => {
  for (const term of TERMINALS) {
    for (const how of ['Ctrl-C', 'SIGTERM'] as const) {
      it(`${how} on ${term.name}: exit 130 within 2 s, with the way to resume`, { timeout: 30_000 }, async (t) => {
        const s = await sandbox(t, { readsToComplete: 1_000 });
        const id = await makeTask(s, 'a cat');
        let seen = '';
        let sentAt: number | undefined;
        const r = await runInPty(['poll', '--task-id', id, '--interval', '5'], {
          env: envFor(s, tempDir(t), term.env),
          columns: term.columns,
          onOutput: (text, child) => {
            seen += text;
            // The first progress output: the wait is running.
            if (sentAt !== undefined || !/pending/.test(seen)) return;
            sentAt = performance.now();
            // Ctrl-C as a terminal sends it: the byte, which the terminal turns into SIGINT.
            if (how === 'Ctrl-C') child.stdin?.write('\u0003');
            else process.kill(ptyProcess(child), 'SIGTERM');
          },
        });
        const stoppedMs = performance.now() - (sentAt ?? Number.NaN);
        assert.equal(r.code, 130, r.output);
        assert.ok(stoppedMs < 2_000, `took ${Math.round(stoppedMs)} ms to stop`);
        assert.match(r.output, new RegExp(`Stopped waiting for task ${id}`));
        assert.match(r.output, /Resume with: anygen-image poll --task-id/);
      });
    }
  }
});
