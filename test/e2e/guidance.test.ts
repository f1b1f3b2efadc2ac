/**
 * Issue 8, requirements 6–8: errors that say what to do next, help that answers, the
 * key from standard input, and `--json` with no command. In-process where the text is
 * the point, the built binary where the process is (stdin, ports, exit codes).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { EXIT } from '../../src/errors.js';
import { envFor, json, runBin, runCli, sandbox, TEST_KEY, tempDir } from '../helpers/harness.js';
import { assertCleanError } from '../reliability/helpers.js';

const SUBCOMMANDS = [
  'config set',
  'config get',
  'config delete',
  'config path',
  'upload',
  'prepare',
  'create',
  'run',
  'poll',
  'download',
  'thumbnail',
  'send-message',
  'get-messages',
  'verify',
  'sandbox',
];

/** Help text with commander's line wrapping undone, so a description reads as one line. */
const flat = (text: string) => text.replace(/\s+/g, ' ');

describe('help', () => {
  test("each subcommand's --help has examples, the global flags, and defaults written one way", async (t) => {
    const env = envFor(undefined, tempDir(t));
    for (const name of SUBCOMMANDS) {
      const r = await runCli([...name.split(' '), '--help'], { env });
      assert.equal(r.code, 0, name);
      assert.match(r.stdout, new RegExp(`\\nExamples:\\n {2}\\$ anygen-image ${name}\\b`), name);
      const globals = r.stdout.slice(r.stdout.indexOf('Global Options:'));
      assert.ok(r.stdout.includes('Global Options:'), name);
      for (const flag of ['--json', '--quiet', '--verbose']) assert.ok(globals.includes(flag), `${name}: ${flag}`);
      for (const d of flat(r.stdout).match(/\(default[^)]*\)/g) ?? []) {
        assert.match(d, /^\(default: [^"'\s]/, `${name}: ${d}`);
      }
    }
    const run = flat((await runCli(['run', '--help'], { env })).stdout);
    assert.ok(run.includes('(default: ai_designer)'), 'commander-given defaults are written the same way');
    assert.ok(run.includes('(default: 1200)'));
  });

  test('required flags are marked', async (t) => {
    const env = envFor(undefined, tempDir(t));
    const required: [string, string][] = [
      ['run', '-p, --prompt <text>'],
      ['create', '-p, --prompt <text>'],
      ['upload', '--file <path>'],
      ['poll', '--task-id <id>'],
      ['download', '--task-id <id>'],
      ['download', '--output <dir>'],
      ['thumbnail', '--output <dir>'],
      ['send-message', '-m, --message <text>'],
      ['get-messages', '--task-id <id>'],
    ];
    for (const [name, flag] of required) {
      const help = flat((await runCli([name, '--help'], { env })).stdout);
      const start = help.indexOf(` ${flag} `);
      assert.ok(start >= 0, `${name} ${flag}`);
      const description = help.slice(start + flag.length + 2).split(/ -{1,2}[a-z]/)[0] ?? '';
      assert.match(description, /\(required\)$/, `${name} ${flag}: ${description}`);
    }
    // A command that checks a flag itself keeps its own message and exit code.
    const missing = await runCli(['poll'], { env: envFor(undefined, tempDir(t), { ANYGEN_API_KEY: TEST_KEY }) });
    assert.equal(assertCleanError(missing, 2), 'Error: --task-id is required and may not be empty');
  });

  test('the top-level help ends with the environment variables and the exit codes', async (t) => {
    const r = await runBin(['--help'], { env: envFor(undefined, tempDir(t)) });
    assert.equal(r.code, 0);
    const env = r.stdout.slice(r.stdout.indexOf('\nEnvironment:\n'));
    for (const name of ['ANYGEN_API_KEY', 'ANYGEN_BASE_URL', 'XDG_CONFIG_HOME', 'NO_COLOR']) {
      assert.match(env, new RegExp(`\\n {2}${name} `), name);
    }
    const codes = r.stdout.slice(r.stdout.indexOf('\nExit codes:\n'));
    assert.ok(r.stdout.indexOf('\nExit codes:\n') > r.stdout.indexOf('\nEnvironment:\n'));
    const listed = [...codes.matchAll(/\n {2}(\d+) /g)].map((m) => Number(m[1]));
    assert.deepEqual(
      listed,
      [...new Set(Object.values(EXIT))].sort((a, b) => a - b),
    );
    assert.ok(r.stdout.trimEnd().endsWith('interrupted (Ctrl-C or SIGTERM)'));
  });

  test('`version`, -v and -V print the version', async (t) => {
    const env = envFor(undefined, tempDir(t));
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    for (const argv of [['version'], ['-v'], ['-V']]) {
      const r = await runBin(argv, { env });
      assert.deepEqual(
        { code: r.code, stdout: r.stdout, stderr: r.stderr },
        { code: 0, stdout: `${pkg.version}\n`, stderr: '' },
        argv[0],
      );
    }
  });
});

describe('usage errors say what to do next', () => {
  test('--json with no command prints one usage-error document (exit 2)', async (t) => {
    const env = envFor(undefined, tempDir(t));
    for (const [argv, message, hint] of [
      [['--json'], 'No command given', 'Run anygen-image --help for usage.'],
      [
        ['config', '--json'],
        'config needs a subcommand: set, get, delete, path',
        'Run anygen-image config --help for usage.',
      ],
    ] as const) {
      const r = await runBin([...argv], { env });
      assert.equal(r.code, 2);
      assert.deepEqual(json(r), { success: false, error: { type: 'usage', message, hint } });
    }
  });

  test("they point to the subcommand's own help", async (t) => {
    const env = envFor(undefined, tempDir(t), { ANYGEN_API_KEY: TEST_KEY });
    for (const [argv, help] of [
      [['run', '--nope'], 'run'],
      [['run', '--prompt'], 'run'],
      [['config', 'set', 'api_key'], 'config set'],
      [['poll'], 'poll'],
      [['get-messages', '--task-id', 't', '--limit', 'abc'], 'get-messages'],
      [['paint'], ''],
    ] as const) {
      const r = await runCli([...argv], { env });
      assertCleanError(r, 2);
      assert.ok(
        r.stderr.endsWith(`Run anygen-image ${help ? `${help} ` : ''}--help for usage.\n`),
        `${argv.join(' ')}:\n${r.stderr}`,
      );
    }
  });

  test('a word where a flag was expected suggests the flag, quoted for the shell', async (t) => {
    const env = envFor(undefined, tempDir(t), { ANYGEN_API_KEY: TEST_KEY });
    const r = await runCli(['run', 'A cat'], { env });
    assert.equal(assertCleanError(r, 2), "Error: too many arguments for 'run'. Expected 0 arguments but got 1.");
    assert.match(r.stderr, /did you mean --prompt 'A cat'\?\nRun anygen-image run --help for usage\.\n$/);
    const unquoted = await runCli(['create', 'A', "cat's", 'hat'], { env });
    assert.match(unquoted.stderr, /did you mean --prompt 'A cat'\\''s hat'\?/);
    const msg = await runCli(['send-message', '--task-id', 't', 'darker'], { env });
    assert.match(msg.stderr, /did you mean --message darker\?/);
    const poll = await runCli(['poll', 'task_1'], { env });
    assert.match(poll.stderr, /did you mean --task-id task_1\?/);
    // A key typed as a word is not echoed (runCli fails on any output carrying it).
    const key = await runCli(['run', TEST_KEY], { env });
    assert.match(key.stderr, /did you mean --prompt …\?/);
  });

  test('a path given to -o says -o is --operation and suggests --output', async (t) => {
    const env = envFor(undefined, tempDir(t), { ANYGEN_API_KEY: TEST_KEY });
    const r = await runCli(['run', '-p', 'x', '-o', './my out'], { env });
    assert.equal(
      assertCleanError(r, 2),
      'Error: Unknown operation "./my out": -o is --operation, not the output folder',
    );
    assert.match(r.stderr, /use --output: --output '\.\/my out'\n/);
  });

  test('ANYGEN_BASE_URL without a scheme suggests one and masks credentials; …/v1/openapi works', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const bare = await runBin(['verify'], { env: envFor(s, home, { ANYGEN_BASE_URL: 'me:s3cret@localhost:8787' }) });
    assert.equal(assertCleanError(bare, 2), 'Error: ANYGEN_BASE_URL has no scheme: "***@localhost:8787"');
    assert.match(bare.stderr, /Add one: ANYGEN_BASE_URL=http:\/\/\*\*\*@localhost:8787\n/);
    assert.ok(!bare.stderr.includes('s3cret'));
    for (const suffix of ['/v1', '/v1/openapi/']) {
      const r = await runBin(['verify'], { env: envFor(s, home, { ANYGEN_BASE_URL: `${s.url}${suffix}` }) });
      assert.equal(r.code, 0, `${suffix}: ${r.stderr}`);
    }
  });

  test('sandbox --port on a busy port suggests --port 0', async (t) => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => busy.close(() => resolve())));
    const port = (busy.address() as { port: number }).port;
    const r = await runBin(['sandbox', '--port', String(port)], { env: envFor(undefined, tempDir(t)) });
    assert.equal(assertCleanError(r, 2), `Error: Cannot start the sandbox: port ${port} is already in use`);
    assert.match(r.stderr, /Use --port 0 /);
  });
});

describe('a refused key', () => {
  test('says where the key came from and suggests verify', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const configHome = join(home, 'my config');
    const noKey = envFor(s, home, { ANYGEN_API_KEY: undefined, XDG_CONFIG_HOME: configHome });
    const wrong = 'sk-wrong-0000000000';

    const flag = await runCli(['create', '-p', 'x', '-k', wrong], { env: noKey });
    assertCleanError(flag, 3);
    assert.match(
      flag.stderr,
      /Check your API key \(it looks like sk-…\): this one came from --api-key\.\nTest it with: anygen-image verify\n$/,
    );

    const env = await runCli(['create', '-p', 'x'], { env: { ...noKey, ANYGEN_API_KEY: wrong } });
    assert.match(env.stderr, /this one came from ANYGEN_API_KEY\./);

    mkdirSync(join(configHome, 'anygen'), { recursive: true });
    writeFileSync(join(configHome, 'anygen', 'config.json'), JSON.stringify({ api_key: wrong }));
    const file = await runCli(['upload', '--file', referenceFile(home)], { env: noKey });
    assertCleanError(file, 3);
    assert.ok(
      file.stderr.includes(`this one came from the config file '${join(configHome, 'anygen', 'config.json')}'.`),
      file.stderr,
    );

    // verify itself does not suggest verify.
    const verify = await runCli(['verify'], { env: noKey });
    assertCleanError(verify, 3);
    assert.ok(!verify.stderr.includes('Test it with'), verify.stderr);
    assert.match(verify.stderr, /came from the config file/);
  });
});

function referenceFile(dir: string): string {
  const path = join(dir, 'ref.png');
  writeFileSync(path, 'reference');
  return path;
}

describe('config set api_key -', () => {
  test('reads the key from standard input, one trailing newline dropped; empty is an error', async (t) => {
    const home = tempDir(t);
    const env = envFor(undefined, home);
    const file = join(home, 'xdg', 'anygen', 'config.json');
    const r = await runBin(['config', 'set', 'api_key', '-'], { env, input: `${TEST_KEY}\n` });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.equal(JSON.parse(readFileSync(file, 'utf8')).api_key, TEST_KEY);

    for (const input of ['', '\n']) {
      const empty = await runBin(['config', 'set', 'api_key', '-'], { env, input });
      assert.equal(assertCleanError(empty, 2), 'Error: No API key on standard input');
    }
    assert.equal(JSON.parse(readFileSync(file, 'utf8')).api_key, TEST_KEY, 'an empty key changed nothing');
  });

  test('a key that does not look like sk-… is stored with a warning on stderr', async (t) => {
    const home = tempDir(t);
    const env = envFor(undefined, home);
    const r = await runBin(['config', 'set', 'api_key', '-'], { env, input: 'not-a-key\n' });
    assert.equal(r.code, 0);
    assert.match(
      r.stderr,
      /^Warning: this does not look like an AnyGen API key \(they start with sk-\); stored anyway/,
    );
    assert.equal(JSON.parse(readFileSync(join(home, 'xdg', 'anygen', 'config.json'), 'utf8')).api_key, 'not-a-key');
  });
});

describe('hints with paths', () => {
  test('quote the path for the shell', async (t) => {
    const home = tempDir(t);
    const configHome = join(home, "it's here");
    mkdirSync(join(configHome, 'anygen'), { recursive: true });
    const path = join(configHome, 'anygen', 'config.json');
    writeFileSync(path, '{broken');
    const r = await runCli(['config', 'get'], { env: envFor(undefined, home, { XDG_CONFIG_HOME: configHome }) });
    assertCleanError(r, 2);
    const q = (p: string) => `'${p.replace(/'/g, `'\\''`)}'`;
    assert.ok(r.stderr.includes(`mv ${q(path)} ${q(`${path}.broken`)}\n`), r.stderr);
  });
});
