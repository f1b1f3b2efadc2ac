/** The README's --json table is generated from the result schemas and must match them. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { updateReadme } from '../../scripts/docs.js';

test('the README documents exactly the fields each command prints under --json', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  assert.equal(readme, updateReadme(readme), 'README is out of date: run npm run docs');
});
