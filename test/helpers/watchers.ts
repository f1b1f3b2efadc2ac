/**
 * For suites that start detached watchers: every watcher a test starts is waited for
 * (or killed) before the test ends, so no process outlives the suite.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { HistoryEntry } from '../../src/store/history.js';
import { json, type RunResult, runBin } from './harness.js';

type After = { after(fn: () => unknown): void };

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Kills the watcher when the test ends, should it still be running (a failed assertion). */
export function reap(t: After, pid: number): void {
  t.after(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone: the usual case.
    }
  });
}

/**
 * Resolves once the process is gone. Node has no way to await a process it did not
 * start, so this looks every 50 ms, a bounded number of times.
 */
export async function exited(pid: number, tries = 400): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (!alive(pid)) return;
    await delay(50);
  }
  assert.fail(`watcher ${pid} still running after ${(tries * 50) / 1000} s`);
}

/** The history file under a state home, as the CLI wrote it. */
export function historyAt(stateHome: string): { version: number; tasks: HistoryEntry[] } {
  return JSON.parse(readFileSync(join(stateHome, 'anygen', 'history.json'), 'utf8'));
}

export function entryAt(stateHome: string, taskId: string): HistoryEntry {
  const entry = historyAt(stateHome).tasks.find((e) => e.task_id === taskId);
  assert.ok(entry, `no history entry for ${taskId}`);
  return entry;
}

/** `status --json` until the task's status is `want`, each run awaited, a bounded number of times. */
export async function statusUntil(
  taskId: string,
  env: Record<string, string | undefined>,
  want: string,
  tries = 60,
): Promise<Record<string, unknown>> {
  let last: RunResult | undefined;
  for (let i = 0; i < tries; i++) {
    last = await runBin(['--json', 'status', '--task-id', taskId], { env });
    assert.equal(last.code, 0, last.stderr);
    const doc = json(last);
    if (doc.status === want) return doc;
  }
  assert.fail(`task ${taskId} not ${want} after ${tries} status reads:\n${last?.stdout}`);
}
