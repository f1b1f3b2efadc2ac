/**
 * `--shard I/N`: a partition of a batch by item id, so that N jobs of a CI matrix,
 * each given the same input, make disjoint parts that together are the whole. It
 * depends on the id alone (not on line order), so adding a line to the input never
 * moves the other items to another shard.
 */
import { createHash } from 'node:crypto';
import { usageError } from '../errors.js';

export interface Shard {
  /** 1-based, as CI matrices count. */
  index: number;
  count: number;
}

/** Far more jobs than any CI matrix allows; beyond it a typo is more likely than intent. */
export const MAX_SHARDS = 1000;

export function parseShard(value: string | undefined): Shard | undefined {
  if (value === undefined) return undefined;
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(String(value));
  if (!m) throw usageError(`--shard must look like I/N (for example 1/4), not ${JSON.stringify(value)}`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || count > MAX_SHARDS) throw usageError(`--shard ${value}: N must be between 1 and ${MAX_SHARDS}`);
  if (index < 1 || index > count) {
    throw usageError(`--shard ${value}: I must be between 1 and ${count} (shards are numbered from 1)`);
  }
  return { index, count };
}

/** Which shard (1-based) an id belongs to among `count`. */
export function shardOf(id: string, count: number): number {
  const digest = createHash('sha256').update(id).digest();
  return (digest.readUInt32BE(0) % count) + 1;
}

export function inShard(id: string, shard: Shard | undefined): boolean {
  return shard === undefined || shardOf(id, shard.count) === shard.index;
}
