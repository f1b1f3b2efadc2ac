/**
 * Rendering: human lines or exactly one JSON document on stdout, everything else
 * on stderr, and the exit code for every outcome. Server text is cleaned here, at
 * the one place it reaches a terminal.
 */
import type { AnyGenError, ErrorKind } from './client/errors.js';
import type { ResultKind, ResultOf } from './results.js';

export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  auth: 3,
  network: 4,
  waitTimeout: 5,
  interrupted: 130,
} as const;

const EXIT_BY_KIND: Record<ErrorKind, number> = {
  usage: EXIT.usage,
  auth: EXIT.auth,
  validation: EXIT.failed,
  not_found: EXIT.failed,
  rate_limit: EXIT.failed,
  permission: EXIT.failed,
  api_error: EXIT.failed,
  task_failed: EXIT.failed,
  server_error: EXIT.network,
  network: EXIT.network,
  protocol: EXIT.network,
  timeout: EXIT.network,
  wait_timeout: EXIT.waitTimeout,
  interrupted: EXIT.interrupted,
};

export interface Sink {
  write(text: string): unknown;
}

export interface IO {
  stdout: Sink;
  stderr: Sink;
  /** Is stderr a terminal (spinner) or a pipe/file (plain lines and heartbeats)? */
  stderrIsTTY: boolean;
  /** stderr's width in columns; 0 when unknown (a pseudo-terminal that reports none). */
  stderrColumns?: number;
  stdin?: NodeJS.ReadableStream;
  env: Record<string, string | undefined>;
  now: () => number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Fires on Ctrl-C or SIGTERM. */
  signal: AbortSignal;
}

export interface OutputMode {
  json: boolean;
  quiet: boolean;
  verbose: boolean;
}

// CSI/OSC escape sequences and C0/C1 controls, except tab and newline.
const ESCAPES =
  /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-_]|[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** Text from the network, made safe to print: no escape sequences, no control characters. */
export function cleanText(text: string): string {
  return text.replace(ESCAPES, '');
}

/** A line of the human rendering of a result: a label and its value, or free text. */
export type HumanLine = string | [label: string, value: string | number | boolean | null | undefined];

export class Output {
  readonly io: IO;
  readonly mode: OutputMode;

  constructor(io: IO, mode: OutputMode) {
    this.io = io;
    this.mode = mode;
  }

  /** Side information for people: stderr, silent under --json and --quiet. */
  info(text: string): void {
    if (this.mode.json || this.mode.quiet) return;
    this.io.stderr.write(`${cleanText(text)}\n`);
  }

  /** Request lines under --verbose (stderr, even with --json: it was asked for). */
  debug(text: string): void {
    if (!this.mode.verbose) return;
    this.io.stderr.write(`${cleanText(text)}\n`);
  }

  /** The result: one JSON document shaped by its schema, or labelled lines. */
  async result<K extends ResultKind>(kind: K, data: ResultOf<K>, human: HumanLine[]): Promise<void> {
    if (this.mode.json) {
      const { RESULT_SCHEMAS } = await import('./results.js');
      const checked = RESULT_SCHEMAS[kind].parse(data) as Record<string, unknown>;
      this.io.stdout.write(`${JSON.stringify({ success: true, ...checked }, null, 2)}\n`);
      return;
    }
    for (const line of human) {
      if (typeof line === 'string') {
        this.io.stdout.write(`${cleanText(line)}\n`);
      } else if (line[1] !== undefined && line[1] !== null && line[1] !== '') {
        this.io.stdout.write(`${line[0]}: ${cleanText(String(line[1]))}\n`);
      }
    }
  }

  error(e: AnyGenError): number {
    const code = EXIT_BY_KIND[e.kind];
    if (this.mode.json) {
      this.io.stdout.write(`${JSON.stringify({ success: false, error: e.toJSON() }, null, 2)}\n`);
    }
    // Errors always reach stderr, one line (and a hint), never a stack trace.
    this.io.stderr.write(`Error: ${cleanText(e.message)}\n`);
    if (e.hint && !this.mode.json) this.io.stderr.write(`${cleanText(e.hint)}\n`);
    return code;
  }
}

export interface ProgressEvent {
  type: 'update' | 'heartbeat' | 'retry';
  status?: string;
  progress?: number | undefined;
  elapsedMs: number;
  delayMs?: number;
  error?: { message: string };
}

export interface Progress {
  event(e: ProgressEvent): void;
  stop(): void;
}

const NO_PROGRESS: Progress = { event() {}, stop() {} };

function clock(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

function describe(e: ProgressEvent): string {
  const pct = e.progress === undefined || e.progress === null ? '' : ` ${e.progress}%`;
  return `${e.status ?? 'waiting'}${pct}`;
}

/**
 * How waiting looks: a spinner on a terminal (ora, loaded only then), plain lines
 * and a heartbeat every 30 s in a pipe or a CI log, nothing under --json or --quiet.
 */
export async function createProgress(out: Output, label: string): Promise<Progress> {
  if (out.mode.json || out.mode.quiet) return NO_PROGRESS;
  // A spinner redraws by counting the terminal's columns: with a width of 0 (many agent
  // runners and `docker run -t`) ora's line count never ends and the event loop stalls.
  // Such terminals, and TERM=dumb, get the plain lines a pipe gets.
  const spinnerFits = out.io.stderrIsTTY && (out.io.stderrColumns ?? 0) > 0 && out.io.env.TERM !== 'dumb';
  if (!spinnerFits) {
    out.info(`${label}…`);
    return {
      event(e) {
        const at = `[${clock(e.elapsedMs)}]`;
        if (e.type === 'update') out.info(`${at} ${describe(e)}`);
        else if (e.type === 'heartbeat') out.info(`${at} still waiting: ${describe(e)}`);
        else
          out.info(
            `${at} ${e.error?.message ?? 'request failed'}; trying again in ${Math.ceil((e.delayMs ?? 0) / 1000)} s`,
          );
      },
      stop() {},
    };
  }
  const { default: ora } = await import('ora');
  const spinner = ora({
    text: label,
    stream: out.io.stderr as NodeJS.WritableStream,
    discardStdin: false,
    isEnabled: true,
  }).start();
  let last = '';
  return {
    event(e) {
      if (e.type === 'retry') {
        spinner.text = cleanText(
          `${label}: ${last || 'waiting'} (${clock(e.elapsedMs)}) — ${e.error?.message ?? 'retrying'}, retrying`,
        );
        return;
      }
      last = describe(e);
      spinner.text = cleanText(`${label}: ${last} (${clock(e.elapsedMs)})`);
    },
    stop() {
      spinner.stop();
    },
  };
}
