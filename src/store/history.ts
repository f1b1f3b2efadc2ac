/**
 * The task history: every task this CLI created or waited on, so a task id lost with
 * a conversation or a terminal can be found again (`anygen-image tasks`), and so a
 * detached watcher's outcome can be read without parsing its log (`status`).
 *
 * One JSON file under $XDG_STATE_HOME/anygen/ (default ~/.local/state/anygen/), 0600
 * in a 0700 folder, changed only under its lock and rewritten atomically, so several
 * processes (a batch, a watcher, the agent's own calls) can record at once.
 */

import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { AnyGenError, usageError } from '../errors.js';
import { makeFolders, writeFileAtomic } from './atomic.js';
import { withLock } from './lock.js';

export const ENV_NO_HISTORY = 'ANYGEN_NO_HISTORY';
/** Older entries beyond this are dropped, oldest first. */
export const HISTORY_LIMIT = 1000;
const PROMPT_CHARS = 200;

export interface HistoryFile {
  path: string;
  url: string;
  bytes: number;
  /** The task's content version the file shows (0: the original). */
  version: number;
}

export interface HistoryEntry {
  task_id: string;
  task_url: string | null;
  operation: string | null;
  /** The prompt's first 200 characters. */
  prompt: string | null;
  created_at: string;
  updated_at: string;
  status: string | null;
  /** The newest content version seen (a change request makes a new one). */
  content_version: number;
  /** Change requests sent through this CLI. */
  messages_sent: number;
  files: HistoryFile[];
  /** A detached wait on this task, while one may be running. */
  watcher: { pid: number; log: string; started_at: string } | null;
  /** How the last wait ended, when it did not complete (`wait_timeout: …`, `task_failed: …`). */
  last_error: string | null;
}

/** What a command knows and records of a task; missing fields keep what the history had. */
export type HistoryUpdate = Partial<Omit<HistoryEntry, 'task_id' | 'created_at' | 'updated_at' | 'files'>> & {
  task_id: string;
  /** Files to add (a file already recorded at the same path is replaced). */
  files?: HistoryFile[];
};

type Env = Record<string, string | undefined>;

export function stateDir(env: Env): string {
  const xdg = env.XDG_STATE_HOME;
  const root = xdg?.startsWith('/') ? xdg : join(env.HOME || homedir(), '.local', 'state');
  return join(root, 'anygen');
}

export function historyPath(env: Env): string {
  return join(stateDir(env), 'history.json');
}

export function historyEnabled(env: Env): boolean {
  const off = env[ENV_NO_HISTORY]?.trim().toLowerCase();
  return !off || off === '0' || off === 'false' || off === 'no';
}

function corrupt(path: string, why: string): AnyGenError {
  return usageError(
    `Task history ${path} is not readable (${why}); it was left as it is`,
    `Move it away to start a new one: mv ${path} ${path}.broken`,
  );
}

/** All entries, oldest first; a missing file is an empty history, a broken one an error. */
export function readHistory(path: string): HistoryEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return [];
    throw corrupt(path, (err as Error).message);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw corrupt(path, `not valid JSON: ${(err as Error).message}`);
  }
  const tasks = (parsed as { tasks?: unknown } | null)?.tasks;
  if (!Array.isArray(tasks) || tasks.some((t) => typeof (t as HistoryEntry)?.task_id !== 'string')) {
    throw corrupt(path, 'it is not a task history');
  }
  return tasks as HistoryEntry[];
}

function blank(taskId: string, now: string): HistoryEntry {
  return {
    task_id: taskId,
    task_url: null,
    operation: null,
    prompt: null,
    created_at: now,
    updated_at: now,
    status: null,
    content_version: 0,
    messages_sent: 0,
    files: [],
    watcher: null,
    last_error: null,
  };
}

/** The entry after an update: fields given replace, files are added. */
export function applyUpdate(entry: HistoryEntry, update: HistoryUpdate, now: string): HistoryEntry {
  const { files, prompt, ...fields } = update;
  const next: HistoryEntry = { ...entry, ...withoutUndefined(fields), updated_at: now };
  if (prompt !== undefined) next.prompt = prompt === null ? null : prompt.slice(0, PROMPT_CHARS);
  if (files?.length) {
    const paths = new Set(files.map((f) => f.path));
    next.files = [...entry.files.filter((f) => !paths.has(f.path)), ...files];
  }
  return next;
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Records what is known of a task, under the lock; returns the entry as saved. */
export async function recordTask(path: string, update: HistoryUpdate, now: Date): Promise<HistoryEntry> {
  return (await recordTasks(path, [update], now))[0] as HistoryEntry;
}

/** Several updates in one locked read and write, in order; returns each one's entry as saved. */
export async function recordTasks(path: string, updates: HistoryUpdate[], now: Date): Promise<HistoryEntry[]> {
  try {
    makeFolders(dirname(path), 0o700);
  } catch (err) {
    throw usageError(`Cannot write task history ${path}: ${(err as Error).message}`);
  }
  return withLock(path, 'Task history', async () => {
    const entries = readHistory(path);
    const stamp = now.toISOString();
    const saved = updates.map((update) => {
      const at = entries.findIndex((e) => e.task_id === update.task_id);
      const entry = applyUpdate(at >= 0 ? (entries[at] as HistoryEntry) : blank(update.task_id, stamp), update, stamp);
      if (at >= 0) entries.splice(at, 1);
      // The entry touched last goes last, so the file reads oldest to newest activity.
      entries.push(entry);
      return entry;
    });
    const kept = entries.slice(-HISTORY_LIMIT);
    writeFileAtomic(path, `${JSON.stringify({ version: 1, tasks: kept }, null, 2)}\n`, { dirMode: 0o700 });
    return saved;
  });
}

/** Newest first by creation. */
export function recentTasks(entries: HistoryEntry[], limit: number): HistoryEntry[] {
  return [...entries].sort((a, b) => b.created_at.localeCompare(a.created_at)).slice(0, limit);
}

/**
 * The history as a command uses it: recording never fails a command (a task that was
 * paid for matters more than its line in the history), it says once that it could not.
 */
export class TaskHistory {
  readonly path: string;
  readonly enabled: boolean;
  private readonly now: () => number;
  private readonly warn: (text: string) => void;
  private warned = false;
  /**
   * Records of this process queue up and are written together: no waiting on our own
   * lock, and a batch's many workers cost a few writes, not one each.
   */
  private pending: { update: HistoryUpdate; resolve: (entry: HistoryEntry | undefined) => void }[] = [];
  private draining: Promise<void> | undefined;

  constructor(env: Env, now: () => number, warn: (text: string) => void) {
    this.path = historyPath(env);
    this.enabled = historyEnabled(env);
    this.now = now;
    this.warn = warn;
  }

  record(update: HistoryUpdate): Promise<HistoryEntry | undefined> {
    if (!this.enabled) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.pending.push({ update, resolve });
      this.draining ??= this.drain();
    });
  }

  /** Many updates in one write (a batch's tasks, recorded once it ends). */
  async recordAll(updates: HistoryUpdate[]): Promise<void> {
    if (!this.enabled || updates.length === 0) return;
    await this.flush();
    try {
      await recordTasks(this.path, updates, new Date(this.now()));
    } catch (err) {
      this.problem(err);
    }
  }

  /** Resolves once every record asked for so far is written (or given up on). */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  /** Writes what has queued up, one read and write for all of it, until nothing is left. */
  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const round = this.pending.splice(0);
      try {
        const saved = await recordTasks(
          this.path,
          round.map((r) => r.update),
          new Date(this.now()),
        );
        for (const [i, r] of round.entries()) r.resolve(saved[i]);
      } catch (err) {
        this.problem(err);
        for (const r of round) r.resolve(undefined);
      }
    }
    this.draining = undefined;
  }

  /** The entry for a task, if the history has one (and can be read). */
  find(taskId: string): HistoryEntry | undefined {
    if (!this.enabled) return undefined;
    try {
      return readHistory(this.path).find((e) => e.task_id === taskId);
    } catch (err) {
      this.problem(err);
      return undefined;
    }
  }

  /** Every entry, oldest first; a broken file is an error here (the user asked for the list). */
  list(): HistoryEntry[] {
    return this.enabled ? readHistory(this.path) : [];
  }

  private problem(err: unknown): void {
    if (this.warned) return;
    this.warned = true;
    const e = err instanceof AnyGenError ? err : usageError((err as Error).message);
    this.warn(`Warning: the task history was not updated: ${e.message}${e.hint ? `\n${e.hint}` : ''}`);
  }
}
