/** cleanText: what server text may still carry once it reaches a terminal. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AnyGenError } from '../errors.js';
import type { IO } from '../io.js';
import { cleanText, Output } from './output.js';

describe('cleanText', () => {
  test('removes CSI and OSC sequences, 7-bit and 8-bit, and C0/C1 controls, keeping tab and newline', () => {
    assert.equal(cleanText('\u001b[2J\u001b[1;31mred\u001b[0m'), 'red');
    assert.equal(cleanText('\u001b]0;pwned\u0007title'), 'title');
    assert.equal(cleanText('\u001b]8;;https://evil.example\u001b\\link\u001b]8;;\u001b\\'), 'link');
    assert.equal(cleanText('a\u0007b\u0008c\rd\u007fe\u009bf\u009dg'), 'abcdefg');
    assert.equal(cleanText('tab\there\nnext line'), 'tab\there\nnext line');
  });

  test('removes every bidirectional control: embeddings, overrides, isolates and marks', () => {
    const bidi = [
      '\u202a',
      '\u202b',
      '\u202c',
      '\u202d',
      '\u202e',
      '\u2066',
      '\u2067',
      '\u2068',
      '\u2069',
      '\u200e',
      '\u200f',
      '\u061c',
    ];
    for (const c of bidi) assert.equal(cleanText(`invoice${c}gnp.exe`), 'invoicegnp.exe', JSON.stringify(c));
    assert.equal(cleanText(bidi.join('')), '');
  });

  test('keeps ordinary text in any script, emoji and the characters around the bidi range', () => {
    const plain = 'Poster 图像 🎨 — “quoted” مرحبا ‐ \u200d\u2028';
    assert.equal(cleanText(plain), plain);
    assert.equal(cleanText('\u2029\u202f\u2065\u206a'), '\u2029\u202f\u2065\u206a');
  });
});

describe('Output.hide', () => {
  const KEY = 'sk-unit-1234567890abcdef';
  const capture = () => {
    const seen = { stdout: '', stderr: '' };
    const io = {
      stdout: { write: (t: string) => (seen.stdout += t) },
      stderr: { write: (t: string) => (seen.stderr += t) },
      now: () => 0,
    } as unknown as IO;
    return { io, seen };
  };

  test('the hidden key is masked in info, debug, results and errors, also once cleanText has put a split key together', async () => {
    const split = `${KEY.slice(0, 8)}\u001b[0m\u202e${KEY.slice(8)}`;
    for (const json of [false, true]) {
      const { io, seen } = capture();
      const out = new Output(io, { json, quiet: false, verbose: true });
      out.hide(`Bearer ${KEY}`);
      out.info(`info ${split}`);
      out.debug(`debug Bearer ${KEY}`);
      await out.result('configPath', { path: `/tmp/${KEY}` }, [`plain ${split}`, ['Label', KEY]]);
      out.error(new AnyGenError({ kind: 'api_error', message: `bad ${split}`, hint: `hint ${KEY}` }));
      const all = seen.stdout + seen.stderr;
      assert.ok(!all.includes(KEY), all);
      assert.match(all, /sk-\*\*\*/);
      if (!json) assert.match(seen.stdout, /^plain sk-\*\*\*\nLabel: sk-\*\*\*\n$/);
    }
  });

  test('nothing is masked before a key is known, and a too-short secret is ignored', () => {
    const { io, seen } = capture();
    const out = new Output(io, { json: false, quiet: false, verbose: false });
    out.info(KEY);
    out.hide('abc');
    out.info('abc');
    assert.equal(seen.stderr, `${KEY}\nabc\n`);
  });
});
