/**
 * Where a create's prompt comes from (issue 11): --from a saved conversation,
 * --prompt-file, --stdin; what prepare says to run next. Every bad input is exit 2
 * with one clear line, before anything is created.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Sandbox } from '../../src/sandbox/server.js';
import { envFor, json, runBin, sandbox, tempDir } from '../helpers/harness.js';
import { assertCleanError } from '../reliability/helpers.js';

/** A prompt a shell would mangle: quotes, `$`, an apostrophe, a backtick, two lines. */
const AWKWARD = `The "Blue Note" night — it's $5 at the door, \`live\`\nsecond line: 100% jazz`;

async function upload(env: Record<string, string | undefined>, home: string, name: string) {
  const file = join(home, name);
  writeFileSync(file, `bytes of ${name}`);
  const r = await runBin(['--json', 'upload', '--file', file], { env });
  assert.equal(r.code, 0, r.stderr);
  return json(r).file_token as string;
}

/** A conversation that prepare answered ready, saved by prepare itself. */
async function readyConversation(env: Record<string, string | undefined>, home: string, token: string) {
  const conv = join(home, 'conversation.json');
  const turns = [
    ['--message', 'A jazz poster', '--file-token', token],
    ['--input', conv, '--message', 'A2 portrait, dark blue'],
  ];
  for (const turn of turns) {
    const r = await runBin(['prepare', ...turn, '--save', conv], { env });
    assert.equal(r.code, 0, r.stderr);
  }
  return conv;
}

function creates(s: Sandbox): number {
  return s.stats.byRoute.create ?? 0;
}

describe('create --from', () => {
  test('takes the prompt and file tokens of a ready conversation; run --from too', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const env = envFor(s, home);
    const token = await upload(env, home, 'logo.png');
    const conv = await readyConversation(env, home, token);
    const r = await runBin(['--json', 'create', '--from', conv], { env });
    assert.equal(r.code, 0, r.stderr);
    const task = s.tasks.get(json(r).task_id as string);
    assert.equal(task?.prompt, 'A jazz poster. A2 portrait, dark blue');
    assert.deepEqual(task?.fileTokens, [token]);

    const run = await runBin(['--json', 'run', '--from', conv, '--output', join(home, 'out')], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(s.tasks.get(json(run).task_id as string)?.prompt, 'A jazz poster. A2 portrait, dark blue');
    assert.equal((json(run).downloads as unknown[]).length, 1);
  });

  test('flags given explicitly win: -p over the prompt, --file-token over the tokens', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const env = envFor(s, home);
    const token = await upload(env, home, 'logo.png');
    const other = await upload(env, home, 'photo.png');
    const conv = await readyConversation(env, home, token);

    const p = await runBin(['--json', 'create', '--from', conv, '-p', 'Only this prompt'], { env });
    assert.equal(p.code, 0, p.stderr);
    const byPrompt = s.tasks.get(json(p).task_id as string);
    assert.equal(byPrompt?.prompt, 'Only this prompt');
    assert.deepEqual(byPrompt?.fileTokens, [token]);

    const f = await runBin(['--json', 'create', '--from', conv, '--file-token', other], { env });
    assert.equal(f.code, 0, f.stderr);
    const byToken = s.tasks.get(json(f).task_id as string);
    assert.equal(byToken?.prompt, 'A jazz poster. A2 portrait, dark blue');
    assert.deepEqual(byToken?.fileTokens, [other]);
  });

  const bad: Array<[string, string | undefined, RegExp]> = [
    ['a missing file', undefined, /conversation\.json/],
    ['a file that is not JSON', '{"messages": [', /is not valid JSON/],
    ['JSON that is not a conversation', '{"messages": "hello"}', /is not a conversation/],
  ];
  for (const [what, text, message] of bad) {
    test(`${what} is exit 2, nothing created`, async (t) => {
      const s = await sandbox(t);
      const home = tempDir(t);
      const conv = join(home, 'conversation.json');
      if (text !== undefined) writeFileSync(conv, text);
      const line = assertCleanError(await runBin(['create', '--from', conv], { env: envFor(s, home) }), 2);
      assert.match(line, message);
      assert.ok(line.includes(conv), line);
      assert.equal(creates(s), 0);
    });
  }

  test('a conversation not ready yet is exit 2 with the prepare command that continues it', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const env = envFor(s, home);
    const conv = join(home, 'conversation.json');
    const first = await runBin(['prepare', '--message', 'A poster', '--save', conv], { env });
    assert.equal(first.code, 0, first.stderr);
    for (const command of ['create', 'run']) {
      const r = await runBin([command, '--from', conv], { env });
      const line = assertCleanError(r, 2);
      assert.match(line, /is not ready yet \(status: collecting\)/);
      assert.ok(
        r.stderr.includes(`anygen-image prepare --input ${conv} --message '…' --save ${conv}`),
        `no prepare hint:\n${r.stderr}`,
      );
    }
    assert.equal(creates(s), 0);
  });
});

describe('--prompt-file and --stdin', () => {
  test('give a prompt full of quotes and $ exactly as written, no shell quoting', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const env = envFor(s, home);
    const file = join(home, 'prompt.txt');
    writeFileSync(file, `${AWKWARD}\n`);
    const fromFile = await runBin(['--json', 'create', '--prompt-file', file], { env });
    assert.equal(fromFile.code, 0, fromFile.stderr);
    assert.equal(s.tasks.get(json(fromFile).task_id as string)?.prompt, AWKWARD);

    const fromStdin = await runBin(['--json', 'create', '--stdin'], { env, input: AWKWARD });
    assert.equal(fromStdin.code, 0, fromStdin.stderr);
    assert.equal(s.tasks.get(json(fromStdin).task_id as string)?.prompt, AWKWARD);
  });

  const bad: Array<[string, (home: string) => string[], string | undefined, RegExp]> = [
    ['--prompt-file naming no file', (h) => ['--prompt-file', join(h, 'nope.txt')], undefined, /no such file/],
    ['--prompt-file naming a folder', (h) => ['--prompt-file', h], undefined, /is a folder/],
    [
      '--prompt-file with only blanks',
      (h) => {
        writeFileSync(join(h, 'empty.txt'), ' \n\t\n');
        return ['--prompt-file', join(h, 'empty.txt')];
      },
      undefined,
      /The prompt from --prompt-file is empty/,
    ],
    ['--stdin with nothing on it', () => ['--stdin'], '', /The prompt from --stdin is empty/],
    ['-p and --stdin together', () => ['-p', 'x', '--stdin'], 'y', /one way, not with --prompt and --stdin/],
  ];
  for (const [what, args, input, message] of bad) {
    test(`${what} is exit 2, nothing created`, async (t) => {
      const s = await sandbox(t);
      const home = tempDir(t);
      const r = await runBin(['create', ...args(home)], { env: envFor(s, home), input: input ?? '' });
      assert.match(assertCleanError(r, 2), message);
      assert.equal(creates(s), 0);
    });
  }
});

describe('what prepare says next', () => {
  test('ready: the create --from command on stderr (human mode), nothing extra in --json', async (t) => {
    const s = await sandbox(t, { prepareTurns: 1 });
    const home = tempDir(t);
    const env = envFor(s, home);
    const conv = join(home, 'c.json');
    const human = await runBin(['prepare', '--message', 'A poster', '--save', conv], { env });
    assert.equal(human.code, 0, human.stderr);
    assert.ok(human.stderr.includes(`Next: anygen-image create --from ${conv}\n`), human.stderr);
    assert.doesNotMatch(human.stdout, /Next:/);

    const unsaved = await runBin(['prepare', '--message', "It's a poster"], { env });
    assert.match(unsaved.stderr, /Next: anygen-image create --prompt 'It'\\''s a poster'/);

    const quiet = await runBin(['--json', 'prepare', '--message', 'A poster', '--save', join(home, 'd.json')], {
      env,
    });
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(json(quiet).ready, true);
    assert.doesNotMatch(quiet.stderr, /Next:/);
  });

  test('--input without --save warns that the turn was not saved; with --save it does not', async (t) => {
    const s = await sandbox(t, { prepareTurns: 3 });
    const home = tempDir(t);
    const env = envFor(s, home);
    const conv = join(home, 'c.json');
    assert.equal((await runBin(['prepare', '--message', 'A poster', '--save', conv], { env })).code, 0);
    const unsaved = await runBin(['prepare', '--input', conv, '--message', 'Blue'], { env });
    assert.equal(unsaved.code, 0, unsaved.stderr);
    assert.match(unsaved.stderr, new RegExp(`Warning: this turn was not saved to ${conv}; add --save ${conv}`));
    const saved = await runBin(['prepare', '--input', conv, '--message', 'Blue', '--save', conv], { env });
    assert.equal(saved.code, 0, saved.stderr);
    assert.doesNotMatch(saved.stderr, /Warning/);
    assert.match(saved.stderr, /Continue with: anygen-image prepare --input/);
  });
});
