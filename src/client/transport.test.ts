/**
 * The time arithmetic of a call with the real defaults (a 60 s deadline, 30 s a try, two
 * retries), played on a clock rather than waited for: the loopback tests in
 * test/reliability/time-bounds.test.ts run the same code with a small deadline.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  CallBudget,
  DEFAULT_READ_DEADLINE_MS,
  DEFAULT_RETRY,
  DEFAULT_TIMEOUTS,
  formatElapsed,
  retryDelayMs,
} from './transport.js';

/**
 * What Transport.call does with its budget, each try lasting `tryLasts(allowedMs)`:
 * the number of tries and the time they took, waits between them included.
 */
function play(
  budget: CallBudget,
  tryLasts: (allowedMs: number) => number,
  retryAfterSeconds?: number,
): { tries: number; ms: number; allowed: number[] } {
  let now = 0;
  const allowed: number[] = [];
  for (let attempt = 1; ; attempt++) {
    const ms = budget.tryMs(now);
    allowed.push(ms);
    now += tryLasts(ms);
    const wait = retryDelayMs(attempt, DEFAULT_RETRY, retryAfterSeconds);
    if (attempt > DEFAULT_RETRY.retries || !budget.mayRetry(now, wait)) return { tries: attempt, ms: now, allowed };
    now += wait;
  }
}

const oneShot = () => new CallBudget({ perTryMs: DEFAULT_TIMEOUTS.read, deadlineMs: DEFAULT_READ_DEADLINE_MS }, 0);

describe('the one-shot read deadline, with the real defaults', () => {
  test('the defaults are the contract: 60 s in all, 30 s a try', () => {
    assert.equal(DEFAULT_READ_DEADLINE_MS, 60_000);
    assert.equal(DEFAULT_TIMEOUTS.read, 30_000);
  });

  test('a server that never answers: two tries, the second cut to what is left, 60 s in all', () => {
    const r = play(oneShot(), (allowed) => allowed);
    assert.deepEqual(r.allowed, [30_000, 29_500]);
    assert.equal(r.ms, 60_000);
    assert.equal(r.tries, 2);
  });

  test('failures that come at once get all three tries', () => {
    const r = play(oneShot(), () => 5);
    assert.equal(r.tries, 3);
    assert.ok(r.ms < 2_000);
  });

  test('a Retry-After longer than what is left is not waited for', () => {
    const r = play(oneShot(), () => 5, 120);
    assert.equal(r.tries, 1);
  });

  test('a retry is not made for a sliver of time: less than 1 s left ends the call', () => {
    const budget = oneShot();
    assert.equal(budget.mayRetry(58_000, 1_000), true);
    assert.equal(budget.mayRetry(58_500, 1_000), false);
  });

  test('without a deadline (create, prepare, a read a wait caps) each try keeps its own timeout', () => {
    const capped = new CallBudget({ perTryMs: 30_000, capMs: 12_000 }, 0);
    assert.equal(capped.bounded, false);
    assert.equal(capped.tryMs(500_000), 12_000);
    assert.equal(capped.mayRetry(500_000, 60_000), true);
  });

  test('the time is stated in tenths under 10 s and in whole seconds above', () => {
    assert.equal(formatElapsed(730), '0.7 s');
    assert.equal(formatElapsed(60_012), '60 s');
  });
});
