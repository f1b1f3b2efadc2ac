/**
 * Temporary files in flight (downloads, conversation saves). A second Ctrl-C exits at
 * once, without unwinding; this list lets that exit remove them, so no half-written
 * file is ever left behind.
 */
import { unlinkSync } from 'node:fs';

const pending = new Set<string>();

export function trackTemp(path: string): void {
  pending.add(path);
}

export function untrackTemp(path: string): void {
  pending.delete(path);
}

export function removeTemps(): void {
  for (const path of pending) {
    try {
      unlinkSync(path);
    } catch {
      // Already renamed or removed.
    }
  }
  pending.clear();
}
