import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cliCommand, clock, formatDuration, shellQuote } from './format.js';

describe('formats', () => {
  it('durations and clocks', () => {
    assert.equal(formatDuration(45_000), '45s');
    assert.equal(formatDuration(20 * 60_000), '20m00s');
    assert.equal(clock(3_400), '0m03s');
    assert.equal(clock(61_000), '1m01s');
  });

  it('shell quoting reads back as the same word', () => {
    assert.equal(shellQuote('./out'), './out');
    assert.equal(shellQuote('my dir'), "'my dir'");
    assert.equal(shellQuote("it's"), `'it'\\''s'`);
    assert.equal(shellQuote('$(rm -rf ~)'), "'$(rm -rf ~)'");
  });

  it('a command line quotes every argument', () => {
    assert.match(
      cliCommand('poll', '--task-id', 't_1', '--output', 'a b'),
      /anygen-image poll --task-id t_1 --output 'a b'$/,
    );
  });
});
