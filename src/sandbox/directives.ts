/**
 * Prompt directives: `[word]` or `[word value]` in a prompt or a message turns on
 * sandbox behaviour for that task or reply, so a test (or a person at the
 * terminal) can ask for a failure without any other channel to the server.
 *
 *   [fail reason]        the task (or reply, or prepare turn) fails with that reason
 *   [cancelled]          the task ends cancelled
 *   [reads N]            the task (or reply) completes after N reads
 *   [faults SPEC]        faults (see faults.ts) for this task's reads
 *   [file-name NAME]     the finished file's name
 *   [file-url URL]       the finished file's address (to test what the client refuses)
 *   [file-faults SPEC]   faults for downloads of this task's files
 *   [legacy]             the task answers in the old shape, without `output.files`
 *   [no-credits]         the create is refused for want of credits
 *   [echo-key]           answers carry the key back (statuses, replies, errors, file names)
 *   [task-url URL]       the task's page address, as the service would report it
 *   [thumbnail-url URL]  the thumbnail's address
 *   [progress N]         the progress reported (a number, or any text)
 *   [numeric-id]         the task id arrives as a JSON number
 */
import { type Fault, parseFaults } from './faults.js';

export interface Directives {
  fail?: string;
  cancelled?: boolean;
  reads?: number;
  faults: Fault[];
  fileName?: string;
  fileUrl?: string;
  fileFaults: Fault[];
  legacy: boolean;
  /** Hostile answers, for tests of what the client trusts. */
  echoKey?: boolean;
  taskUrl?: string;
  thumbnailUrl?: string;
  progress?: unknown;
  numericId?: boolean;
}

const DIRECTIVE =
  /\[(fail|cancelled|reads|faults|file-name|file-url|file-faults|legacy|echo-key|task-url|thumbnail-url|progress|numeric-id)(?:\s+([^\]]*))?\]/g;

/** Throws when a `[faults …]` or `[file-faults …]` spec does not parse. */
export function parseDirectives(text: string): Directives {
  const d: Directives = { faults: [], fileFaults: [], legacy: false };
  for (const m of text.matchAll(DIRECTIVE)) {
    const value = (m[2] ?? '').trim();
    switch (m[1]) {
      case 'fail':
        d.fail = value || 'The sandbox was asked to fail this task';
        break;
      case 'cancelled':
        d.cancelled = true;
        break;
      case 'reads':
        d.reads = Number(value);
        break;
      case 'faults':
        d.faults = parseFaults(value);
        break;
      case 'file-name':
        // A JSON string allows what a directive cannot hold plainly: trailing spaces, \u escapes.
        d.fileName = value.startsWith('"') ? (JSON.parse(value) as string) : value;
        break;
      case 'file-url':
        d.fileUrl = value;
        break;
      case 'file-faults':
        d.fileFaults = parseFaults(value);
        break;
      case 'legacy':
        d.legacy = true;
        break;
      default:
        hostile(d, m[1] as string, value);
    }
  }
  return d;
}

function hostile(d: Directives, word: string, value: string): void {
  if (word === 'echo-key') d.echoKey = true;
  else if (word === 'task-url') d.taskUrl = value;
  else if (word === 'thumbnail-url') d.thumbnailUrl = value;
  // A number when it reads as one (-5, 150), else the text itself ("x").
  else if (word === 'progress') d.progress = value !== '' && Number.isFinite(Number(value)) ? Number(value) : value;
  else if (word === 'numeric-id') d.numericId = true;
}

/**
 * `[no-credits]`, exactly. Apart from parseDirectives because the create checks it
 * before the other directives are parsed (and before a bad `[faults …]` could fail).
 */
export function asksNoCredits(prompt: string): boolean {
  return /\[no-credits\]/.test(prompt);
}

/** A user's turn in the prepare dialogue that says "stop asking". */
export function saysReady(text: string): boolean {
  return /just create|ready/i.test(text);
}
