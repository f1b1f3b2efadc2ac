/**
 * The command lines agents are told to run: those of the Python skill (with
 * `npx anygen-image` for `python3 scripts/anygen.py`) and those of our SKILL.md,
 * run in order against the sandbox from a working folder, as an agent would.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { envFor, runBin, sandbox, TEST_KEY, tempDir } from '../helpers/harness.js';

function field(stdout: string, name: string): string {
  const value = new RegExp(`^${name}: (.+)$`, 'm').exec(stdout)?.[1];
  assert.ok(value, `no "${name}:" in\n${stdout}`);
  return value;
}

/** Splits a shell command line: double and single quotes, backslash-newline continuations. */
function words(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g)) out.push(m[1] ?? m[2] ?? m[3] ?? '');
  return out;
}

test('every command line of the Python skill works with anygen-image', async (t) => {
  const s = await sandbox(t, { replyReads: 1 });
  const cwd = tempDir(t);
  writeFileSync(join(cwd, 'reference.png'), 'reference');
  // No key in the environment: the skill stores it with `config set` first.
  const env = envFor(s, cwd, { ANYGEN_API_KEY: undefined });
  const run = async (line: string) => {
    const r = await runBin(words(line), { env, cwd });
    assert.equal(r.code, 0, `${line}\n${r.stderr}`);
    return r.stdout;
  };

  await run(`config set api_key "${TEST_KEY}"`);
  const token = field(await run('upload --file ./reference.png'), 'File Token');
  await run(
    `prepare --message "I need a poster design for a music festival. Style reference uploaded." --file-token ${token} --save ./conversation.json`,
  );
  const ready = await run(
    'prepare --input ./conversation.json --message "Vibrant colors, modern style, include artist names and venue info" --save ./conversation.json',
  );
  assert.equal(field(ready, 'Status'), 'ready');
  await run('prepare -m "我需要一张音乐节海报设计" --save ./conversation-zh.json');
  const created = await run(
    `create --operation ai-designer --prompt "${field(ready, 'Prompt')}" --file-token ${token}`,
  );
  const taskId = field(created, 'Task ID');
  assert.match(field(created, 'Task URL'), /^http/);
  await run(`create -o ai-designer -p "A banner" -l zh-CN`);
  assert.equal(field(await run(`poll --task-id ${taskId}`), 'Status'), 'completed');

  const sent = await run(
    `send-message --task-id ${taskId} --message "Make the background color darker and add more contrast"`,
  );
  const messageId = field(sent, 'Message ID');
  assert.equal(field(sent, 'Status'), 'processing');
  const reply = await run(`get-messages --task-id ${taskId} --wait --since-id ${messageId}`);
  assert.equal(field(reply, 'Status'), 'completed');
  await run(`send-message --task-id ${taskId} --message "Add a logo" --file-token ${token}`);
  await run(`send-message --task-id ${taskId} --message "把背景调暗"`);
  await run(`send-message --task-id ${taskId} --message "添加Logo" --file-token ${token}`);
  await run(`get-messages --task-id ${taskId}`);
  await run(`get-messages --task-id ${taskId} --limit 20`);
  const page = await run(`get-messages --task-id ${taskId} --limit 5`);
  const cursor = /--cursor (\S+)/.exec(page)?.[1];
  assert.ok(cursor, page);
  await run(`get-messages --task-id ${taskId} --cursor ${cursor}`);
});

/**
 * The command lines of SKILL.md's `sh` blocks, in order: continuation lines joined, and
 * a quoted here-document (`<<'EOF'` … `EOF`) given as standard input, as a shell would.
 */
function skillCommands(skill: string): { line: string; input?: string }[] {
  const out: { line: string; input?: string }[] = [];
  for (const block of skill.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const lines = (block[1] ?? '').replace(/\\\n\s*/g, ' ').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = (lines[i] ?? '').trim();
      if (!line.startsWith('anygen-image ') && !line.includes('| anygen-image ')) continue;
      const heredoc = /\s*<<'(\w+)'$/.exec(line);
      if (!heredoc) {
        out.push({ line });
        continue;
      }
      const end = lines.indexOf(heredoc[1] as string, i + 1);
      assert.ok(end > i, `unterminated here-document after: ${line}`);
      out.push({ line: line.slice(0, heredoc.index), input: `${lines.slice(i + 1, end).join('\n')}\n` });
      i = end;
    }
  }
  return out;
}

/** A detached watcher's PID, from its `Watcher PID:` line; waits until it has exited (bounded). */
async function watcherEnds(stdout: string): Promise<void> {
  const pid = Number(/^Watcher PID: (\d+)$/m.exec(stdout)?.[1]);
  if (!pid) return;
  for (let i = 0; i < 400; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`watcher ${pid} still running`);
}

test('every command line in SKILL.md works as written, with real ids in place of the examples', async (t) => {
  const s = await sandbox(t);
  const cwd = tempDir(t);
  writeFileSync(join(cwd, 'reference.png'), 'reference');
  writeFileSync(join(cwd, 'logo.png'), 'logo');
  const env = envFor(s, cwd, { ANYGEN_API_KEY: undefined, XDG_STATE_HOME: join(cwd, 'state') });
  const skill = readFileSync(new URL('../../SKILL.md', import.meta.url), 'utf8');
  const commands = skillCommands(skill);
  assert.ok(commands.length >= 8, `found only ${commands.length} command lines`);

  const ids: Record<string, string> = { '"sk-xxx"': TEST_KEY };
  for (const { line, input } of commands) {
    // `printf %s "KEY" | anygen-image …`: the key arrives on standard input.
    const piped = /^printf %s ("[^"]*") \| anygen-image (.*)$/.exec(line);
    let concrete = piped ? (piped[2] as string) : line.replace(/^anygen-image /, '');
    for (const [example, real] of Object.entries(ids)) concrete = concrete.split(example).join(real);
    const stdin = piped ? (ids[piped[1] as string] ?? '') : input;
    const r = await runBin(words(concrete), { env, cwd, ...(stdin !== undefined ? { input: stdin } : {}) });
    assert.equal(r.code, 0, `${line}\n${r.stderr}`);
    await watcherEnds(r.stdout);
    const token = /^File Token: (\S+)$/m.exec(r.stdout)?.[1];
    if (token) ids.tk_abc123 = token;
    const task = /^Task ID: (\S+)$/m.exec(r.stdout)?.[1];
    if (task) ids.task_xxx = task;
  }
  assert.ok(ids.task_xxx, 'the walk created a task');
  // The walk's own checks: the detached watcher saved the picture, and the change is another file.
  const saved = readFileSync(join(cwd, 'state', 'anygen', 'history.json'), 'utf8');
  assert.match(saved, /_v\d+\.png/, 'the changed picture was saved with its version');
});
