/**
 * How a batch shows progress on stderr: one live line on a terminal (ora, loaded only
 * then), a plain line per change and a summary every 30 s in a CI log, JSON Lines with
 * `--progress json`, nothing under --json or --quiet unless --progress asks for it.
 */
import { formatDuration } from '../render/format.js';
import { cleanText, type Output } from '../render/output.js';
import { progressStyle } from '../render/progress.js';
import type { BatchEvent, Counts } from './runner.js';

export interface Snapshot {
  counts: Counts;
  running: number;
  /** How long every worker is held back by a 429, in ms (0 when not). */
  pausedMs: number;
}

export interface BatchProgress {
  event(e: BatchEvent): void;
  /** A line about the whole batch (stopping after Ctrl-C). */
  note(text: string): void;
  stop(): void;
}

const NONE: BatchProgress = { event() {}, note() {}, stop() {} };
const HEARTBEAT_MS = 30_000;

export function summaryLine(s: Snapshot, elapsedMs: number): string {
  const { counts, running } = s;
  const left = Math.max(0, counts.total - counts.completed - counts.failed - counts.unknown - running);
  const parts = [`${counts.completed}/${counts.total} done`, `${running} running`, `${counts.failed} failed`];
  if (counts.unknown > 0) parts.push(`${counts.unknown} unknown`);
  parts.push(`${left} left`, formatDuration(elapsedMs));
  if (s.pausedMs > 0) parts.push(`rate limited, waiting ${Math.ceil(s.pausedMs / 1000)} s`);
  return `Batch: ${parts.join(' · ')}`;
}

function itemLine(e: BatchEvent): string {
  const item = e.item;
  if (!item) return `rate limited: every worker waits ${Math.ceil((e.delayMs ?? 0) / 1000)} s`;
  let line = `${item.id}: ${item.status}`;
  if (item.task_id && (item.status === 'created' || item.status === 'failed')) line += ` (${item.task_id})`;
  if (item.status === 'completed' && item.files.length > 0) line += ` → ${item.files.join(', ')}`;
  if (item.error && item.status !== 'completed') line += ` — ${item.error}`;
  return line;
}

export async function createBatchProgress(
  out: Output,
  snapshot: () => Snapshot,
  now: () => number,
): Promise<BatchProgress> {
  const start = now();
  const elapsed = () => now() - start;
  // The same choice as every wait's: under --json or --quiet only an explicit --progress shows anything.
  switch (progressStyle(out)) {
    case 'none':
      return NONE;
    case 'json':
      return jsonProgress(out, snapshot, elapsed);
    case 'plain':
      return plainProgress(out, snapshot, elapsed);
    case 'spinner':
      return spinnerProgress(out, snapshot, elapsed);
  }
}

function writeLine(out: Output, line: string): void {
  out.io.stderr.write(`${cleanText(line)}\n`);
}

/** `--progress json`: one object per event, for programs; the item's own fields plus the totals. */
function jsonProgress(out: Output, snapshot: () => Snapshot, elapsed: () => number): BatchProgress {
  const writeJson = (value: object) => out.io.stderr.write(`${JSON.stringify(value)}\n`);
  return {
    event(e) {
      const { counts, running } = snapshot();
      writeJson({
        type: e.type,
        ...(e.item
          ? {
              id: e.item.id,
              status: e.item.status,
              task_id: e.item.task_id,
              files: e.item.files,
              error: e.item.error,
            }
          : {}),
        ...(e.delayMs !== undefined ? { delay_ms: e.delayMs } : {}),
        running,
        counts,
        elapsed_ms: elapsed(),
      });
    },
    note(text) {
      writeJson({ type: 'note', message: text, elapsed_ms: elapsed() });
    },
    stop() {},
  };
}

/** A CI log or a pipe: a timestamped line per outcome, and the totals now and then. */
function plainProgress(out: Output, snapshot: () => Snapshot, elapsed: () => number): BatchProgress {
  const write = (line: string) => writeLine(out, `[${formatDuration(elapsed())}] ${line}`);
  // A CI log that stays silent for minutes looks hung: say where the batch is now and then.
  const beat = setInterval(() => write(summaryLine(snapshot(), elapsed())), HEARTBEAT_MS);
  beat.unref();
  writeLine(out, summaryLine(snapshot(), 0));
  return {
    event(e) {
      // `creating` is a moment, not news: a CI log gets one line per outcome.
      if (e.item?.status === 'creating' || e.item?.status === 'pending') return;
      write(itemLine(e));
    },
    note(text) {
      write(text);
    },
    stop() {
      clearInterval(beat);
    },
  };
}

/** A terminal: the totals on one live line (ora, loaded only here), failures printed above it. */
async function spinnerProgress(out: Output, snapshot: () => Snapshot, elapsed: () => number): Promise<BatchProgress> {
  const { default: ora } = await import('ora');
  const columns = (out.io.stderr as { columns?: number }).columns ?? 80;
  const text = () => {
    const line = cleanText(summaryLine(snapshot(), elapsed()));
    // Kept within the width: a wrapped line cannot be redrawn in place.
    return line.length > columns - 3 ? `${line.slice(0, Math.max(1, columns - 4))}…` : line;
  };
  const spinner = ora({
    text: text(),
    stream: out.io.stderr as NodeJS.WritableStream,
    discardStdin: false,
    isEnabled: true,
  }).start();
  // The elapsed time moves even when no item does.
  const tick = setInterval(() => {
    spinner.text = text();
  }, 1000);
  tick.unref();
  return {
    event(e) {
      // Failures are kept above the live line, where they stay readable.
      if (e.item && (e.item.status === 'failed' || e.item.status === 'unknown')) {
        spinner.clear();
        writeLine(out, itemLine(e));
      }
      spinner.text = text();
    },
    note(line) {
      spinner.clear();
      writeLine(out, line);
      spinner.render();
    },
    stop() {
      clearInterval(tick);
      spinner.stop();
    },
  };
}
