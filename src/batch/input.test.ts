import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { AnyGenError } from '../errors.js';
import { readBatchInput } from './input.js';

function dir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'anygen-batch-input-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function usageErrorOf(p: Promise<unknown>): Promise<AnyGenError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof AnyGenError && err.kind === 'usage', String(err));
    return err;
  }
  assert.fail('expected a usage error');
}

test('JSON Lines: fields are read, operation and language normalised, files resolved next to the input', async (t) => {
  const d = dir(t);
  mkdirSync(join(d, 'refs'));
  writeFileSync(join(d, 'refs', 'a.png'), 'png');
  const file = join(d, 'in.jsonl');
  writeFileSync(
    file,
    [
      '{"id": "banner-en", "prompt": " A banner ", "operation": "ai-designer", "language": "en-us", "export_format": "png", "file_tokens": ["tk_1"], "files": ["refs/a.png"]}',
      '',
      '{"prompt": "A cat"}',
    ].join('\n'),
  );
  const input = await readBatchInput({ file });
  assert.equal(input.name, 'in.jsonl');
  assert.equal(input.items.length, 2);
  const [a, b] = input.items;
  assert.equal(a?.id, 'banner-en');
  assert.equal(a?.prompt, 'A banner');
  assert.equal(a?.operation, 'ai_designer');
  assert.equal(a?.language, 'en-US');
  assert.equal(a?.exportFormat, 'png');
  assert.deepEqual(a?.fileTokens, ['tk_1']);
  assert.deepEqual(a?.files, [join(d, 'refs', 'a.png')]);
  assert.equal(b?.line, 3);
  assert.match(b?.id ?? '', /^[0-9a-f]{12}$/);
});

test('a default id is a stable hash of the item: same item same id, another item another id', async (t) => {
  const d = dir(t);
  writeFileSync(join(d, 'one.jsonl'), '{"prompt": "A cat"}\n{"prompt": "A dog"}\n');
  writeFileSync(join(d, 'two.jsonl'), '\n\n{"prompt": "A dog"}\n{"prompt": "A cat", "language": "zh-CN"}\n');
  const one = await readBatchInput({ file: join(d, 'one.jsonl') });
  const two = await readBatchInput({ file: join(d, 'two.jsonl') });
  assert.equal(one.items[1]?.id, two.items[0]?.id, 'same item, same id, whatever its line');
  assert.notEqual(one.items[0]?.id, two.items[1]?.id, 'a different language is a different item');
  assert.notEqual(one.items[0]?.id, one.items[1]?.id);
});

test('a .txt file is one prompt per line; standard input may be either', async (t) => {
  const d = dir(t);
  writeFileSync(join(d, 'prompts.txt'), 'A cat\n\nA {curly} dog\n');
  const txt = await readBatchInput({ file: join(d, 'prompts.txt') });
  assert.deepEqual(
    txt.items.map((i) => [i.prompt, i.line]),
    [
      ['A cat', 1],
      ['A {curly} dog', 3],
    ],
  );
  const text = await readBatchInput({ file: '-', stdin: Readable.from(['A cat\nA dog\n']) });
  assert.equal(text.name, '-');
  assert.deepEqual(
    text.items.map((i) => i.prompt),
    ['A cat', 'A dog'],
  );
  const jsonl = await readBatchInput({ file: '-', stdin: Readable.from(['{"id": "x", "prompt": "A cat"}\n']) });
  assert.equal(jsonl.items[0]?.id, 'x');
});

test('every invalid line is reported with its number, in one error, before anything else', async (t) => {
  const d = dir(t);
  mkdirSync(join(d, 'folder'));
  const big = join(d, 'big.png');
  writeFileSync(big, '');
  truncateSync(big, 51 * 1024 * 1024);
  const file = join(d, 'bad.jsonl');
  writeFileSync(
    file,
    [
      '{"prompt": "fine"}',
      'not json',
      '{"id": "x"}',
      '{"prompt": "p", "operation": "paint"}',
      '{"prompt": "p", "language": "fr-FR"}',
      '{"prompt": "p", "files": ["missing.png"]}',
      '{"prompt": "p2", "files": ["folder"]}',
      '{"prompt": "p3", "files": ["big.png"]}',
      '{"prompt": "p", "promt": "typo"}',
      '{"id": "../up", "prompt": "p"}',
      '{"id": "dup", "prompt": "a"}',
      '{"id": "dup", "prompt": "b"}',
      '["an array"]',
    ].join('\n'),
  );
  const e = await usageErrorOf(readBatchInput({ file }));
  assert.match(e.message, /11 invalid lines; nothing was sent/);
  const hint = e.hint ?? '';
  for (const [line, what] of [
    [2, /not valid JSON/],
    [3, /"prompt" is missing/],
    [4, /Unknown operation/],
    [5, /"language" must be one of/],
    [6, /files: File not found/],
    [7, /files: .*is a directory/],
    [8, /files: .*files over 50 MB are refused/],
    [9, /unknown field "promt"/],
    [10, /"id" "..\/up" is not usable as a file name/],
    [12, /id "dup" is already used on line 11/],
    [13, /expected a JSON object/],
  ] as const) {
    assert.match(hint, new RegExp(`^line ${line}: ${what.source}`, 'm'), `line ${line} in:\n${hint}`);
  }
  assert.doesNotMatch(hint, /^line 1:/m);
});

test('a missing, empty or folder input is one clear usage error', async (t) => {
  const d = dir(t);
  writeFileSync(join(d, 'empty.jsonl'), '\n\n');
  assert.match((await usageErrorOf(readBatchInput({ file: join(d, 'nope.jsonl') }))).message, /not found/);
  assert.match((await usageErrorOf(readBatchInput({ file: join(d, 'empty.jsonl') }))).message, /holds no items/);
  assert.match((await usageErrorOf(readBatchInput({ file: d }))).message, /is a directory/);
});
