import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as z from 'zod/mini';
import { AnyGenError, usageError } from '../errors.js';
import { writeFileAtomic } from '../store/atomic.js';
import type { BatchItem } from './input.js';
import type { Shard } from './shard.js';

export const STATE_KIND = 'anygen-image batch state';
export const STATE_VERSION = 1;

export type ItemStatus = 'pending' | 'creating' | 'created' | 'completed' | 'failed' | 'unknown';
const STATUSES = ['pending', 'creating', 'created', 'completed', 'failed', 'unknown'] as const;

export interface ItemState {
  id: string;
  status: ItemStatus;
  task_id: string | null;
  files: string[];
  error: string | null;
  /** What the item asked for when it was recorded (see input.ts). */
  hash: string;
  /** A failed item whose task itself failed (a rerun creates a new one). */
  task_failed?: boolean;
}

export interface UploadState {
  token: string;
  size: number;
  mtime_ms: number;
}

export interface StateDoc {
  kind: typeof STATE_KIND;
  version: number;
  input: string;
  shard: string | null;
  updated_at: string;
  uploads: Record<string, UploadState>;
  items: ItemState[];
}

const StateSchema = z.object({
  kind: z.literal(STATE_KIND),
  version: z.literal(STATE_VERSION),
  input: z.string(),
  shard: z.nullable(z.string()),
  updated_at: z.string(),
  uploads: z.record(z.string(), z.object({ token: z.string(), size: z.number(), mtime_ms: z.number() })),
  items: z.array(
    z.object({
      id: z.string(),
      status: z.enum(STATUSES),
      task_id: z.nullable(z.string()),
      files: z.array(z.string()),
      error: z.nullable(z.string()),
      hash: z.string(),
      task_failed: z.optional(z.boolean()),
    }),
  ),
});

/** `anygen-batch-state.json`, or `anygen-batch-state.shard-2-of-4.json` for `--shard 2/4`. */
export function stateFileName(shard: Shard | undefined): string {
  return shard ? `anygen-batch-state.shard-${shard.index}-of-${shard.count}.json` : 'anygen-batch-state.json';
}

function shardLabel(shard: Shard | undefined): string | null {
  return shard ? `${shard.index}/${shard.count}` : null;
}

/** What a run does with an item, decided from its recorded state. */
export type Action = 'create' | 'wait' | 'skip' | 'report';

export class BatchState {
  readonly path: string;
  private readonly doc: StateDoc;
  private readonly byId = new Map<string, ItemState>();
  private readonly now: () => number;

  private constructor(path: string, doc: StateDoc, now: () => number) {
    this.path = path;
    this.doc = doc;
    this.now = now;
    for (const item of doc.items) this.byId.set(item.id, item);
  }

  /**
   * Reads the state file in `dir` (a fresh state when there is none). A file that is not
   * a state file, or one written for another input or shard, is an error that names it
   * and leaves it as it is: overwriting it would forget tasks that were paid for.
   */
  static open(dir: string, inputName: string, shard: Shard | undefined, now: () => number): BatchState {
    const path = join(dir, stateFileName(shard));
    let text: string | undefined;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'EISDIR') throw usageError(`State file ${path} is a folder`);
      if (code !== 'ENOENT' && code !== 'ENOTDIR')
        throw usageError(`Cannot read state file ${path}: ${(err as Error).message}`);
    }
    if (text === undefined) {
      return new BatchState(
        path,
        {
          kind: STATE_KIND,
          version: STATE_VERSION,
          input: inputName,
          shard: shardLabel(shard),
          updated_at: new Date(now()).toISOString(),
          uploads: {},
          items: [],
        },
        now,
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw corrupt(path, 'it is not valid JSON');
    }
    const checked = StateSchema.safeParse(parsed);
    if (!checked.success) {
      const kind = (parsed as { kind?: unknown } | null)?.kind;
      throw corrupt(
        path,
        kind === STATE_KIND ? 'its contents are damaged' : 'it is not an anygen-image batch state file',
      );
    }
    const doc = checked.data as StateDoc;
    if (doc.input !== inputName) {
      throw usageError(
        `State file ${path} was written for the input ${JSON.stringify(doc.input)}, not ${JSON.stringify(inputName)}; nothing was sent`,
        'Use another --output folder for this input, or run the batch it belongs to.',
      );
    }
    if (doc.shard !== shardLabel(shard)) {
      throw usageError(`State file ${path} was written for shard ${doc.shard ?? 'none'}; nothing was sent`);
    }
    return new BatchState(path, doc, now);
  }

  get name(): string {
    return basename(this.path);
  }

  get(id: string): ItemState | undefined {
    return this.byId.get(id);
  }

  /** The states of these items, in their order; every one was planned, so every one has a state. */
  statesOf(items: readonly BatchItem[]): ItemState[] {
    return items.map((i) => this.byId.get(i.id) as ItemState);
  }

  /**
   * Brings the recorded items in line with this run's input and says what to do with
   * each. An item left `creating` (the process died while its create was in flight)
   * may exist: it becomes `unknown` and is created again only with `retryUnknown`.
   * Items of the state file that are no longer in the input are kept as they are.
   */
  plan(items: BatchItem[], retryUnknown: boolean): Map<string, Action> {
    const conflicts: string[] = [];
    const actions = new Map<string, Action>();
    for (const item of items) {
      let entry = this.byId.get(item.id);
      if (!entry) {
        entry = { id: item.id, status: 'pending', task_id: null, files: [], error: null, hash: item.hash };
        this.byId.set(item.id, entry);
        this.doc.items.push(entry);
      }
      if (entry.hash !== item.hash) {
        if (entry.status === 'pending' || (entry.status === 'failed' && !entry.task_id)) entry.hash = item.hash;
        else
          conflicts.push(
            `line ${item.line}: "${item.id}" (${entry.status}${entry.task_id ? `, ${entry.task_id}` : ''})`,
          );
      }
      if (entry.status === 'creating') {
        entry.status = 'unknown';
        entry.error =
          'the run stopped while its create was in flight: the task may exist (run again with --retry-unknown to create it anyway)';
      }
      actions.set(item.id, actionFor(entry, retryUnknown));
    }
    if (conflicts.length > 0) {
      throw usageError(
        `${conflicts.length} item${conflicts.length === 1 ? '' : 's'} changed since ${this.path} recorded ${conflicts.length === 1 ? 'it' : 'them'}; nothing was sent`,
        `${conflicts.slice(0, 20).join('\n')}\nGive a changed item a new "id" to create it again.`,
      );
    }
    return actions;
  }

  /** Changes one item and rewrites the file before returning. */
  update(id: string, patch: Partial<Omit<ItemState, 'id' | 'hash'>>): ItemState {
    const entry = this.byId.get(id);
    if (!entry) throw new Error(`no state for item ${id}`);
    Object.assign(entry, patch);
    if (patch.status !== undefined && patch.status !== 'failed') delete entry.task_failed;
    this.save();
    return entry;
  }

  upload(path: string): UploadState | undefined {
    return this.doc.uploads[path];
  }

  recordUpload(path: string, upload: UploadState): void {
    this.doc.uploads[path] = upload;
    this.save();
  }

  /**
   * Written atomically (store/atomic.ts): a reader, or a rerun after a crash, sees the old
   * document or the new one, never half of one. Synchronous and flushed, so that when
   * update() returns the record is on disk and the create it announces may be sent.
   */
  save(): void {
    this.doc.updated_at = new Date(this.now()).toISOString();
    try {
      writeFileAtomic(this.path, `${JSON.stringify(this.doc, null, 2)}\n`, { mode: 0o644 });
    } catch (err) {
      throw new AnyGenError({
        kind: 'usage',
        message: `Cannot write state file ${this.path}: ${(err as Error).message}`,
        sent: false,
      });
    }
  }
}

export function actionFor(entry: ItemState, retryUnknown: boolean): Action {
  switch (entry.status) {
    case 'completed':
      return 'skip';
    case 'created':
      return 'wait';
    case 'pending':
      return 'create';
    case 'unknown':
      return retryUnknown ? 'create' : 'report';
    case 'failed':
      // Refused at create (nothing was made) or the task itself failed: a rerun is the
      // user asking again. Failed later (a download): the task exists, fetch it again.
      return !entry.task_id || entry.task_failed ? 'create' : 'wait';
    default:
      return 'create';
  }
}

function corrupt(path: string, why: string): AnyGenError {
  return usageError(
    `State file ${path} cannot be used: ${why}; it was left as it is and nothing was sent`,
    'Move it away to start the batch afresh (tasks it recorded would then be created again), or restore it.',
  );
}
