/**
 * How waiting looks (`--progress`): a spinner on a terminal that can draw one (ora,
 * loaded only then), plain lines in a pipe, a CI log or a terminal that cannot, one
 * JSON object per line for programs, or nothing. Every display is driven by events
 * and a one-second timer; none of them ever holds the event loop, so --timeout,
 * Ctrl-C and SIGTERM are noticed whatever the terminal.
 */
import type { IO, Sink } from '../io.js';
import { clock } from './format.js';
import { cleanText, type Output } from './output.js';

export type ProgressMode = 'auto' | 'spinner' | 'plain' | 'json' | 'none';
/** What a mode comes to on this stream: `auto` and `spinner` are resolved. */
export type ProgressStyle = 'spinner' | 'plain' | 'json' | 'none';

export interface ProgressEvent {
  type: 'update' | 'heartbeat' | 'retry';
  status?: string;
  progress?: number | undefined;
  elapsedMs: number;
  delayMs?: number;
  error?: { message: string; status?: number | undefined; kind?: string };
}

export interface Progress {
  event(e: ProgressEvent): void;
  stop(): void;
}

/** What a display says the wait is about: its first line, and the task for --progress json. */
export interface ProgressSubject {
  label: string;
  taskId: string;
}

const NO_PROGRESS: Progress = { event() {}, stop() {} };
const TICK_MS = 1_000;

/**
 * A spinner redraws by counting the terminal's columns: with a width of 0 (many agent
 * runners and `docker run -t`) ora's count of lines to clear is infinite and the event
 * loop never comes back. Such terminals, and TERM=dumb (no cursor controls), get lines.
 */
export function spinnerFits(io: IO): boolean {
  return io.stderrIsTTY && (io.stderrColumns ?? 0) > 0 && io.env.TERM !== 'dumb';
}

/**
 * The display a mode comes to. Only `auto` looks at --json and --quiet (they mean "no
 * progress" unless progress is asked for by name); `spinner` where no spinner fits
 * falls back to plain lines rather than failing: it is a preference, not a contract.
 */
export function progressStyle(out: Output): ProgressStyle {
  const mode = out.mode.progress ?? 'auto';
  if (mode === 'none' || mode === 'plain' || mode === 'json') return mode;
  if (mode === 'auto' && (out.mode.json || out.mode.quiet)) return 'none';
  return spinnerFits(out.io) ? 'spinner' : 'plain';
}

/** A percentage worth showing: a number from 0 to 100, else none. */
function percent(progress: unknown): number | undefined {
  return typeof progress === 'number' && Number.isFinite(progress) && progress >= 0 && progress <= 100
    ? progress
    : undefined;
}

function describe(status: string | undefined, progress: unknown): string {
  const pct = percent(progress);
  return `${status ?? 'waiting'}${pct === undefined ? '' : ` ${pct}%`}`;
}

/** Why a read is being tried again, in a few words: `HTTP 503`, `no answer in time`. */
export function shortReason(error: ProgressEvent['error']): string {
  if (error?.status !== undefined) return `HTTP ${error.status}`;
  switch (error?.kind) {
    case 'timeout':
      return 'no answer in time';
    case 'network':
      return 'connection failed';
    case 'protocol':
      return 'unexpected answer';
    case 'rate_limit':
      return 'rate limited';
    case undefined:
      return 'request failed';
    default:
      return (error?.kind ?? '').replace(/_/g, ' ');
  }
}

/** Terminal cells a character takes: 2 for East Asian wide and emoji, else 1. */
function cells(ch: string): number {
  const c = ch.codePointAt(0) ?? 0;
  const wide =
    (c >= 0x1100 && c <= 0x115f) ||
    (c >= 0x2e80 && c <= 0xa4cf) ||
    (c >= 0xac00 && c <= 0xd7a3) ||
    (c >= 0xf900 && c <= 0xfaff) ||
    (c >= 0xfe30 && c <= 0xfe4f) ||
    (c >= 0xff00 && c <= 0xff60) ||
    (c >= 0xffe0 && c <= 0xffe6) ||
    (c >= 0x1f300 && c <= 0x1faff) ||
    (c >= 0x20000 && c <= 0x3fffd);
  return wide ? 2 : 1;
}

/** The text cut to `width` cells, with `…` where it was cut: a line that wraps cannot be redrawn in place. */
function widthOf(text: string): number {
  return [...text].reduce((n, c) => n + cells(c), 0);
}

export function fit(text: string, width: number): string {
  if (width <= 0) return '';
  if (widthOf(text) <= width) return text;
  let used = 0;
  let kept = '';
  for (const ch of text) {
    if (used + cells(ch) > width - 1) break;
    kept += ch;
    used += cells(ch);
  }
  return `${kept}…`;
}

function noColor(io: IO): boolean {
  return (io.env.NO_COLOR ?? '') !== '';
}

/** One line on stderr, even under --json or --quiet: the display was asked for. */
function writeLine(io: IO, text: string): void {
  io.stderr.write(`${cleanText(text)}\n`);
}

/** The fields every --progress json event carries, in a fixed order. */
function jsonEvent(
  out: Output,
  event: 'status' | 'retry' | 'heartbeat' | 'download',
  taskId: string | undefined,
  status: string | undefined,
  progress: unknown,
  extra: Record<string, unknown> = {},
): void {
  const line = {
    event,
    task_id: taskId ?? null,
    status: status === undefined ? null : cleanText(status),
    progress: percent(progress) ?? null,
    elapsed_s: Math.max(0, Math.floor((out.io.now() - out.startedAt) / 1000)),
    ...extra,
  };
  out.io.stderr.write(`${JSON.stringify(line)}\n`);
}

/**
 * What ora draws on: stderr, with the cursor controls written out here (so any sink
 * works) and a width that is read live and never 0 (ora divides by it).
 */
function spinnerStream(io: IO) {
  const real = () => io.stderr as Sink & Partial<NodeJS.WriteStream>;
  return {
    isTTY: true,
    get columns() {
      return Math.max(1, io.stderrColumns ?? 0);
    },
    get rows() {
      return real().rows ?? 24;
    },
    write: (text: string) => real().write(text),
    cursorTo: (x: number) => real().write(`\u001b[${x + 1}G`),
    moveCursor: (_dx: number, dy: number) => real().write(dy < 0 ? `\u001b[${-dy}A` : `\u001b[${dy}B`),
    clearLine: () => real().write('\u001b[0K'),
    once(event: string, fn: () => void) {
      const s = real();
      if (typeof s.once === 'function') s.once(event, fn);
      else fn();
    },
    removeListener(event: string, fn: () => void) {
      real().removeListener?.(event, fn);
    },
  };
}

function plainProgress(out: Output, subject: ProgressSubject): Progress {
  const io = out.io;
  writeLine(io, `${subject.label}…`);
  return {
    event(e) {
      const at = `[${clock(e.elapsedMs)}]`;
      if (e.type === 'update') writeLine(io, `${at} ${describe(e.status, e.progress)}`);
      else if (e.type === 'heartbeat') writeLine(io, `${at} still waiting: ${describe(e.status, e.progress)}`);
      // A log has room for the whole reason; a spinner line does not.
      else
        writeLine(
          io,
          `${at} ${e.error?.message ?? 'request failed'}; trying again in ${Math.ceil((e.delayMs ?? 0) / 1000)} s`,
        );
    },
    stop() {},
  };
}

function jsonProgress(out: Output, subject: ProgressSubject): Progress {
  let status: string | undefined;
  let progress: number | undefined;
  return {
    event(e) {
      if (e.type === 'retry') {
        jsonEvent(out, 'retry', subject.taskId, status, progress, {
          reason: shortReason(e.error),
          message: cleanText(e.error?.message ?? ''),
          delay_s: Math.ceil((e.delayMs ?? 0) / 1000),
        });
        return;
      }
      status = e.status;
      progress = e.progress;
      jsonEvent(out, e.type === 'update' ? 'status' : 'heartbeat', subject.taskId, status, progress);
    },
    stop() {},
  };
}

async function spinnerProgress(out: Output, subject: ProgressSubject): Promise<Progress> {
  const io = out.io;
  const { default: ora } = await import('ora');
  const started = io.now();
  let last: string | undefined;
  let retry: { reason: string; at: number } | undefined;
  let plain: Progress | undefined;

  const spinner = ora({
    stream: spinnerStream(io) as unknown as NodeJS.WritableStream,
    discardStdin: false,
    isEnabled: true,
    color: noColor(io) ? false : 'cyan',
  });
  const line = () => {
    const now = io.now();
    const what = retry
      ? `${retry.reason}, trying again in ${Math.max(0, Math.ceil((retry.at - now) / 1000))} s`
      : (last ?? 'waiting');
    // The frame and its space take 2 cells; the last column is left free so the line never wraps.
    const width = (io.stderrColumns ?? 0) - 3;
    const full = cleanText(`${clock(now - started)} ${subject.label}: ${what}`);
    // On a narrow terminal the label goes first: the status and the countdown are the news.
    return fit(widthOf(full) <= width ? full : cleanText(`${clock(now - started)} ${what}`), width);
  };
  const redraw = () => {
    if (plain) return;
    if ((io.stderrColumns ?? 0) <= 0) {
      // The terminal was resized to nothing: carry on in lines.
      stopSpinner();
      plain = plainProgress(out, subject);
      return;
    }
    spinner.text = line();
  };
  // The elapsed time and a retry's countdown move every second, not only when the status does.
  const timer = setInterval(redraw, TICK_MS);
  timer.unref();
  const stopSpinner = () => {
    clearInterval(timer);
    spinner.stop();
  };
  spinner.start(line());
  return {
    event(e) {
      if (plain) return plain.event(e);
      if (e.type === 'retry') retry = { reason: shortReason(e.error), at: io.now() + (e.delayMs ?? 0) };
      else {
        retry = undefined;
        last = describe(e.status, e.progress);
      }
      redraw();
    },
    stop() {
      if (!plain) stopSpinner();
    },
  };
}

export async function createProgress(out: Output, subject: ProgressSubject): Promise<Progress> {
  switch (progressStyle(out)) {
    case 'none':
      return NO_PROGRESS;
    case 'json':
      return jsonProgress(out, subject);
    case 'plain':
      return plainProgress(out, subject);
    case 'spinner':
      return spinnerProgress(out, subject);
  }
}

/** What a task's downloads say: a line before each in human displays, an event after each in JSON. */
export function downloadProgress(
  out: Output,
  task: { task_id: string; status: string; progress?: number | null | undefined } | undefined,
) {
  const style = progressStyle(out);
  return {
    starting(name: string) {
      if (style === 'plain' || style === 'spinner') writeLine(out.io, `Downloading ${name}…`);
    },
    finished(d: { path: string; bytes: number }) {
      if (style === 'json') {
        jsonEvent(out, 'download', task?.task_id, task?.status, task?.progress, { path: d.path, bytes: d.bytes });
      }
    },
  };
}
