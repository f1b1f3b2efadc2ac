import { setTimeout as delay } from 'node:timers/promises';

/** Wait, or stop early when the signal fires (the caller decides what that means). */
export async function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) return;
  try {
    await delay(ms, undefined, signal ? { signal } : undefined);
  } catch {
    // Aborted: the caller checks its signal.
  }
}
