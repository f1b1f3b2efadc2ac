import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AnyGenError } from '../errors.js';
import { inShard, parseShard, shardOf } from './shard.js';

test('parseShard accepts I/N with 1 ≤ I ≤ N', () => {
  assert.deepEqual(parseShard('1/2'), { index: 1, count: 2 });
  assert.deepEqual(parseShard(' 4 / 4 '), { index: 4, count: 4 });
  assert.equal(parseShard(undefined), undefined);
});

for (const bad of ['0/2', '3/2', 'a/b', '1', '1/0', '-1/2', '1/2/3', '']) {
  test(`parseShard refuses ${JSON.stringify(bad)} as a usage error`, () => {
    assert.throws(
      () => parseShard(bad),
      (e: unknown) => e instanceof AnyGenError && e.kind === 'usage' && e.message.includes('--shard'),
    );
  });
}

test('shards are disjoint, together the whole, and the same on every call', () => {
  const ids = Array.from({ length: 300 }, (_, i) => `item-${i}`);
  const parts = [1, 2, 3].map((index) => ids.filter((id) => inShard(id, { index, count: 3 })));
  assert.equal(parts.flat().length, ids.length);
  assert.deepEqual(new Set(parts.flat()), new Set(ids));
  // Each shard gets a fair part (a hash that ignored the id would put everything in one).
  for (const part of parts) assert.ok(part.length > 60, `shard of ${part.length}`);
  for (const id of ids) assert.equal(shardOf(id, 3), shardOf(id, 3));
  assert.ok(ids.every((id) => inShard(id, undefined)));
});
