import assert from 'node:assert/strict';
import { test } from 'node:test';
import { helpHint, strayWordsHint } from './flags.js';

test('helpHint names the help of the command that was typed', () => {
  assert.equal(helpHint('run'), 'Run anygen-image run --help for usage.');
  assert.equal(helpHint('config set'), 'Run anygen-image config set --help for usage.');
  assert.equal(helpHint(''), 'Run anygen-image --help for usage.');
});

test('strayWordsHint shows the words as the flag, quoted for the shell, and never a key', () => {
  assert.equal(strayWordsHint('--prompt', ['A cat']), "Flags come before their values: did you mean --prompt 'A cat'?");
  assert.equal(
    strayWordsHint('--prompt', ['A', "cat's"]),
    "Flags come before their values: did you mean --prompt 'A cat'\\''s'?",
  );
  assert.equal(
    strayWordsHint('--task-id', ['task_1']),
    'Flags come before their values: did you mean --task-id task_1?',
  );
  assert.equal(
    strayWordsHint('--prompt', ['sk-abcdef123']),
    'Flags come before their values: did you mean --prompt …?',
  );
  assert.equal(
    strayWordsHint('--prompt', ['Bearer sk-abc']),
    'Flags come before their values: did you mean --prompt …?',
  );
});
