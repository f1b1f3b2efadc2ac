/**
 * Issue 4, case 5: bad input is refused before anything is sent or written —
 * exit 2, one `Error:` line first on stderr, the sandbox never reached, the disk
 * unchanged.
 *
 * The unreadable-file row: the suite runs as root, and root reads a 0-mode file
 * anyway, so that row spawns the built binary as `nobody` (uid/gid 65534) against
 * a root-owned 0000 file in a 0755 folder. It is the one row run as a process.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { envFor, type RunResult, runBin, runCli, sandbox, tempDir } from '../helpers/harness.js';
import { assertCleanError, snapshot } from './helpers.js';

interface Row {
  name: string;
  argv: (dir: string) => string[];
  error: RegExp;
  /** Spawn the binary as nobody instead of running in-process. */
  asNobody?: boolean;
  /** A config file to run with (in its own folder, outside the snapshot). */
  config?: Record<string, unknown>;
  /** The exit code, when it is not 2 (a key problem is 3). */
  exit?: number;
}

const NOBODY = 65534;
const badIds: [string, string][] = [
  ['a slash', 'task_a/b'],
  ['"..', '..'],
  ['a path climbing up', '../tasks'],
  ['".." inside', 'task..x'],
  ['a "?"', 'task_a?x=1'],
  ['a "#"', 'task_a#frag'],
  ['a space', 'task a'],
  ['a tab', 'task\ta'],
  ['a newline', 'task\na'],
  ['a control character', 'task\u0001a'],
  ['an escape sequence', 'task\u001b[2Ja'],
];

const rows: Row[] = [
  { name: 'upload of a missing file', argv: (d) => ['upload', '--file', join(d, 'missing.png')], error: /not found/ },
  { name: 'upload of a directory', argv: (d) => ['upload', '--file', join(d, 'folder')], error: /is a directory/ },
  {
    name: 'upload of an unreadable file (as nobody)',
    argv: (d) => ['upload', '--file', join(d, 'secret.png')],
    error: /Cannot read .*secret\.png: permission denied/,
    asNobody: true,
  },
  { name: 'upload of an empty file', argv: (d) => ['upload', '--file', join(d, 'empty.png')], error: /is empty/ },
  {
    name: 'upload of a file over 50 MB',
    argv: (d) => ['upload', '--file', join(d, 'huge.bin')],
    error: /files over 50 MB are refused/,
  },
  {
    name: 'send-message attaching a file over 50 MB',
    argv: (d) => ['send-message', '--task-id', 'task_ok', '--message', 'hi', '--file', join(d, 'huge.bin')],
    error: /files over 50 MB/,
  },
  {
    name: 'send-message attaching a missing file after a good one',
    argv: (d) => [
      'send-message',
      '--task-id',
      'task_ok',
      '-m',
      'hi',
      '--file',
      join(d, 'ok.png'),
      '--file',
      join(d, 'missing.png'),
    ],
    error: /not found/,
  },
  ...badIds.map(
    ([what, id]): Row => ({
      name: `--task-id with ${what}`,
      argv: () => ['poll', '--task-id', id],
      error: /is not a task id/,
    }),
  ),
  { name: '--task-id empty', argv: () => ['poll', '--task-id', ''], error: /--task-id is required/ },
  {
    name: '--task-id of 129 characters',
    argv: () => ['poll', '--task-id', `t${'a'.repeat(128)}`],
    error: /129 characters long/,
  },
  {
    name: 'download with a bad --task-id',
    argv: (d) => ['download', '--task-id', 'a/../b', '--output', d],
    error: /not a task id/,
  },
  {
    name: 'send-message with a bad --task-id',
    argv: () => ['send-message', '--task-id', 'a?b', '-m', 'x'],
    error: /not a task id/,
  },
  {
    name: 'get-messages with a bad --task-id',
    argv: () => ['get-messages', '--task-id', 'a#b'],
    error: /not a task id/,
  },
  {
    name: '--limit 0',
    argv: () => ['get-messages', '--task-id', 'task_ok', '--limit', '0'],
    error: /between 1 and 100/,
  },
  {
    name: '--limit 101',
    argv: () => ['get-messages', '--task-id', 'task_ok', '--limit', '101'],
    error: /between 1 and 100/,
  },
  {
    name: '--limit abc',
    argv: () => ['get-messages', '--task-id', 'task_ok', '--limit', 'abc'],
    error: /whole number/,
  },
  { name: '--interval 0', argv: () => ['poll', '--task-id', 'task_ok', '--interval', '0'], error: /at least 1 second/ },
  {
    name: '--interval over an hour',
    argv: () => ['poll', '--task-id', 'task_ok', '--interval', '3601'],
    error: /--interval must be at most 3600 seconds/,
  },
  {
    name: 'a negative --timeout',
    argv: () => ['poll', '--task-id', 'task_ok', '--timeout', '-5'],
    error: /--timeout must be a number of seconds/,
  },
  {
    name: 'a negative --timeout=',
    argv: () => ['create', '--wait', '--prompt', 'p', '--timeout=-1'],
    error: /--timeout must be a number of seconds/,
  },
  {
    name: 'a conversation file that is not JSON',
    argv: (d) => ['prepare', '--input', join(d, 'broken.json'), '-m', 'hi'],
    error: /broken\.json is not valid JSON/,
  },
  {
    name: 'a conversation file of the wrong shape',
    argv: (d) => ['prepare', '--input', join(d, 'shape.json'), '-m', 'hi', '--save', join(d, 'shape.json')],
    error: /shape\.json is not a conversation: messages/,
  },
  {
    name: 'an --input that does not exist (and is not --save)',
    argv: (d) => ['prepare', '--input', join(d, 'nope.json'), '--save', join(d, 'new.json'), '-m', 'hi'],
    error: /Conversation file not found: .*nope\.json/,
  },
  {
    name: 'a --save that is a directory',
    argv: (d) => ['prepare', '-m', 'hi', '--save', join(d, 'folder')],
    error: /is a folder, not a file/,
  },
  {
    name: 'an unknown operation',
    argv: () => ['create', '--operation', 'video', '--prompt', 'p'],
    error: /Unknown operation "video"/,
  },
  { name: 'an empty prompt', argv: () => ['create', '--prompt', ''], error: /--prompt is required/ },
  { name: 'a blank prompt', argv: () => ['run', '--prompt', '   '], error: /--prompt is required/ },
  { name: 'an empty prepare message', argv: () => ['prepare', '--message', ' '], error: /message is empty/ },
  { name: 'a -H without a colon', argv: () => ['create', '-p', 'p', '-H', 'X-Trace'], error: /Malformed header/ },
  {
    name: 'a -H with a bad name',
    argv: () => ['create', '-p', 'p', '-H', 'X Trace: 1'],
    error: /Malformed header name/,
  },
  {
    name: 'a -H value with a line break',
    argv: () => ['create', '-p', 'p', '-H', 'X-Trace: a\r\nX-Evil: 1'],
    error: /control characters/,
  },
  {
    name: 'an unknown config key',
    argv: () => ['config', 'set', 'colour', 'blue'],
    error: /Unknown config key "colour"/,
  },
  { name: 'an unknown config key to get', argv: () => ['config', 'get', 'colour'], error: /Unknown config key/ },
  { name: 'an unknown language', argv: () => ['create', '-p', 'p', '-l', 'fr-FR'], error: /--language must be one of/ },
  ...['Host', 'Content-Length', 'Content-Type', 'Transfer-Encoding', 'Connection'].map(
    (name): Row => ({
      name: `a -H ${name}, which the client sets itself`,
      argv: () => ['create', '-p', 'p', '-H', `${name}: x`],
      error: /is not allowed: anygen-image sets it itself/,
    }),
  ),
  {
    name: '--output that is a file, before the task is created',
    argv: (d) => ['create', '-p', 'p', '--wait', '--output', join(d, 'ok.png')],
    error: /--output .*ok\.png is a file, not a folder/,
  },
  {
    name: '--output under a file',
    argv: (d) => ['run', '-p', 'p', '--output', join(d, 'ok.png', 'images')],
    error: /ok\.png is a file, not a folder/,
  },
  {
    name: 'a --save under a file',
    argv: (d) => ['prepare', '-m', 'hi', '--save', join(d, 'ok.png', 'conv.json')],
    error: /ok\.png is a file, not a folder/,
  },
  {
    name: 'a download --output that is a file',
    argv: (d) => ['download', '--task-id', 'task_ok', '--output', join(d, 'ok.png')],
    error: /is a file, not a folder/,
  },
  {
    name: 'a -H value with a character HTTP headers cannot carry',
    argv: () => ['create', '-p', 'p', '-H', 'X-Team: 设计'],
    error: /characters that HTTP headers cannot/,
  },
  {
    name: 'a --save in a folder that cannot be written',
    argv: () => ['prepare', '-m', 'hi', '--save', '/proc/conversation.json'],
    error: /cannot write in \/proc/,
  },
  {
    name: 'a key with a character that cannot travel in a header (exit 3, not printed)',
    argv: () => ['create', '-p', 'p', '--api-key', 'sk-test-\u20ac-copy-paste'],
    error: /The API key from --api-key contains spaces or characters a key cannot have/,
    exit: 3,
  },
  {
    name: '--output that is a link to nothing, before the task is created',
    argv: (d) => ['run', '-p', 'p', '--output', join(d, 'dangling')],
    error: /dangling: it is a link to something that does not exist/,
  },
  {
    name: 'a --save that names a folder by its trailing slash',
    argv: (d) => ['prepare', '-m', 'hi', '--save', `${join(d, 'new-folder')}/`],
    error: /is a folder, not a file/,
  },
  {
    name: 'a default_language in the config that is not a language',
    argv: () => ['create', '-p', 'p'],
    error: /default_language in .*config\.json must be one of zh-CN, en-US/,
    config: { default_language: 'klingon' },
  },
];

describe('bad input', () => {
  test('each bad input exits 2 (3 for a key) with one error line, sends nothing and changes nothing on disk', async (t) => {
    const s = await sandbox(t);
    const dir = tempDir(t);
    // The folder must be searchable by nobody for the unreadable-file row.
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, 'folder'));
    writeFileSync(join(dir, 'secret.png'), 'root only');
    chmodSync(join(dir, 'secret.png'), 0o000);
    writeFileSync(join(dir, 'empty.png'), '');
    writeFileSync(join(dir, 'ok.png'), 'fine');
    writeFileSync(join(dir, 'huge.bin'), '');
    truncateSync(join(dir, 'huge.bin'), 50 * 1024 * 1024 + 1);
    writeFileSync(join(dir, 'broken.json'), '{"messages": [');
    writeFileSync(join(dir, 'shape.json'), JSON.stringify({ messages: 'not a list' }));
    symlinkSync(join(dir, 'nowhere'), join(dir, 'dangling'));
    const before = snapshot(dir);

    for (const row of rows) {
      await t.test(row.name, async () => {
        const argv = row.argv(dir);
        let env = envFor(s, dir);
        if (row.config) {
          const home = tempDir(t);
          mkdirSync(join(home, 'xdg', 'anygen'), { recursive: true });
          writeFileSync(join(home, 'xdg', 'anygen', 'config.json'), JSON.stringify(row.config));
          env = envFor(s, home);
        }
        let r: RunResult;
        if (row.asNobody) {
          r = await runBin(argv, { env, uid: NOBODY, gid: NOBODY });
        } else {
          r = await runCli(argv, { env });
        }
        const line = assertCleanError(r, row.exit ?? 2, { first: true });
        assert.ok(!r.stderr.includes('\u20ac-copy-paste'), 'the key is not printed');
        assert.match(line, row.error);
        assert.equal(s.stats.connections, 0, 'nothing was sent');
        assert.equal(s.stats.requests, 0, 'nothing was sent');
        assert.deepEqual(snapshot(dir), before, 'nothing changed on disk');
      });
    }
  });
});
