/**
 * Rendering: human lines or exactly one JSON document on stdout, everything else
 * on stderr, and the exit code for every failure. Server text is cleaned here, at
 * the one place it reaches a terminal.
 */
import { type AnyGenError, exitCodeFor } from '../errors.js';
import type { IO } from '../io.js';
import type { ProgressMode } from './progress.js';
import type { ResultKind, ResultOf } from './results.js';

export interface OutputMode {
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  /** `--progress`; `auto` when not given. */
  progress?: ProgressMode;
}

// CSI/OSC escape sequences and C0/C1 controls, except tab and newline.
const ESCAPES =
  /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-_]|[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/**
 * Bidirectional embeddings, overrides, isolates and marks: invisible, they reorder what
 * follows (`invoice\u202Egnp.exe` reads as `invoiceexe.png`).
 */
export const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/g;

/** Text from the network, made safe to print: no escape sequences, control or bidirectional characters. */
export function cleanText(text: string): string {
  return text.replace(ESCAPES, '').replace(BIDI_CONTROLS, '');
}

/**
 * Text as one entry of the labelled output: cleaned, and every line after the first
 * indented, so that server text with line breaks (a reply, a prompt) can never start a
 * line of its own that a reader would take for a label (`Status: ready`).
 */
function oneEntry(text: string): string {
  return cleanText(text).replace(/\n/g, '\n  ');
}

/** A line of the human rendering of a result: a label and its value, or free text. */
export type HumanLine = string | [label: string, value: string | number | boolean | null | undefined];

export class Output {
  readonly io: IO;
  readonly mode: OutputMode;
  /** When the command started: what --progress json counts elapsed seconds from. */
  readonly startedAt: number;
  private readonly secrets: string[] = [];

  constructor(io: IO, mode: OutputMode) {
    this.io = io;
    this.mode = mode;
    this.startedAt = io.now();
  }

  /**
   * Never print this (the key). The client already takes it out of answers; this is
   * the last guard, and the one that sees text after cleanText, where a key split by
   * escape sequences or bidi controls has come together again.
   */
  hide(secret: string): void {
    const raw = secret.replace(/^Bearer /, '');
    if (raw.length >= 4 && !this.secrets.includes(raw)) this.secrets.push(raw);
  }

  private write(to: 'stdout' | 'stderr', text: string): void {
    let safe = text;
    for (const secret of this.secrets) safe = safe.split(secret).join('sk-***');
    this.io[to].write(safe);
  }

  /** Side information for people: stderr, silent under --json and --quiet. */
  info(text: string): void {
    if (this.mode.json || this.mode.quiet) return;
    this.write('stderr', `${cleanText(text)}\n`);
  }

  /**
   * Something the user should know that is not the result: a record not kept, a URL
   * replaced. stderr, even under --json (stdout stays one document); not under --quiet.
   */
  warn(text: string): void {
    if (this.mode.quiet) return;
    this.write('stderr', `${cleanText(text)}\n`);
  }

  /** Request lines under --verbose (stderr, even with --json: it was asked for). */
  debug(text: string): void {
    if (!this.mode.verbose) return;
    this.write('stderr', `${cleanText(text)}\n`);
  }

  /** The result: one JSON document shaped by its schema, or labelled lines. */
  async result<K extends ResultKind>(kind: K, data: ResultOf<K>, human: HumanLine[]): Promise<void> {
    if (this.mode.json) {
      const { RESULT_SCHEMAS } = await import('./results.js');
      const checked = RESULT_SCHEMAS[kind].parse(data) as Record<string, unknown>;
      this.write('stdout', `${JSON.stringify({ success: true, ...checked }, null, 2)}\n`);
      return;
    }
    for (const line of human) {
      if (typeof line === 'string') {
        this.write('stdout', `${oneEntry(line)}\n`);
      } else if (line[1] !== undefined && line[1] !== null && line[1] !== '') {
        this.write('stdout', `${line[0]}: ${oneEntry(String(line[1]))}\n`);
      }
    }
  }

  error(e: AnyGenError): number {
    const code = exitCodeFor(e.kind);
    if (this.mode.json) {
      this.write('stdout', `${JSON.stringify({ success: false, error: e.toJSON() }, null, 2)}\n`);
    }
    // Under --progress json stderr is a stream of JSON lines: the error is one more.
    if (this.mode.progress === 'json') {
      this.write('stderr', `${JSON.stringify({ event: 'error', ...e.toJSON() })}\n`);
      return code;
    }
    // Errors always reach stderr, one line (and a hint), never a stack trace.
    this.write('stderr', `Error: ${cleanText(e.message)}\n`);
    if (e.hint && !this.mode.json) this.write('stderr', `${cleanText(e.hint)}\n`);
    return code;
  }
}

/** One API request as `--verbose` shows it. */
export function requestLine(log: {
  method: string;
  url: string;
  status?: number | undefined;
  error?: string | undefined;
  ms: number;
  requestId?: string | undefined;
  attempt: number;
}): string {
  const parts = [`${log.method} ${log.url}`];
  parts.push(log.status !== undefined ? `→ ${log.status}` : `→ ${log.error ?? 'failed'}`);
  parts.push(`${log.ms} ms`);
  if (log.requestId) parts.push(`x-request-id: ${log.requestId}`);
  if (log.attempt > 1) parts.push(`try ${log.attempt}`);
  return parts.join('  ');
}
