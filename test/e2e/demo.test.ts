/** `npm run demo`: the newcomer's first command works offline and leaves a real PNG. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pngSize } from '../../src/sandbox/png.js';
import { tempDir } from '../helpers/harness.js';

test('the demo runs the whole job against the sandbox and prints where the image is', async (t) => {
  const cwd = tempDir(t);
  const script = fileURLToPath(new URL('../../scripts/demo.mjs', import.meta.url));
  const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    const child = spawn(process.execPath, [script], {
      cwd,
      env: { PATH: process.env.PATH, HOME: cwd },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
    });
    child.on('close', (c) => resolve({ code: c, stdout: out }));
  });
  assert.equal(code, 0, stdout);
  for (const step of ['upload', 'prepare', 'create', 'poll'])
    assert.match(stdout, new RegExp(`\\$ anygen-image ${step} `));
  const where = /Your image is at (.+)$/m.exec(stdout)?.[1];
  assert.ok(where, stdout);
  assert.deepEqual(
    pngSize(readFileSync(join(cwd, where))),
    { width: 453, height: 640 },
    'the demo asks for A2 portrait',
  );
});
