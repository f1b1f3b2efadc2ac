/**
 * The built CLI on real pseudo-terminals: the widths and settings agents' runners,
 * containers and people's terminals actually have.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { envFor, runInPty, sandbox, tempDir } from '../helpers/harness.js';
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
});
