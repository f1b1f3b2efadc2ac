/** Where a create's prompt and file tokens come from: fromConversation and promptPlan. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { AnyGenError } from '../errors.js';
import type { CommandContext } from '../factory.js';
import { fromConversation, type PromptOptions, promptPlan } from './prompt.js';

function dir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'anygen-prompt-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function conversation(d: string, body: Record<string, unknown>): string {
  const path = join(d, 'conv.json');
  writeFileSync(path, JSON.stringify({ messages: [{ role: 'user', content: 'x' }], ...body }));
  return path;
}

const READY = {
  status: 'ready',
  file_tokens: ['tk_conv'],
  suggested_task_params: { prompt: '  A poster, "jazz" & $5  ', file_tokens: ['tk_a', 'tk_b'] },
};

function ctx(stdin = ''): CommandContext {
  return { io: { stdin: Readable.from([stdin]) } } as unknown as CommandContext;
}

async function usage(p: Promise<unknown>, message: RegExp) {
  await assert.rejects(
    p,
    (err: unknown) => err instanceof AnyGenError && err.kind === 'usage' && message.test(err.message),
  );
}

describe('fromConversation', () => {
  it('a ready conversation: its suggested prompt (trimmed) and tokens', (t) => {
    const path = conversation(dir(t), READY);
    assert.deepEqual(fromConversation(path), { prompt: 'A poster, "jazz" & $5', fileTokens: ['tk_a', 'tk_b'] });
  });

  it("without suggested tokens, the conversation's own", (t) => {
    const path = conversation(dir(t), { ...READY, suggested_task_params: { prompt: 'P' } });
    assert.deepEqual(fromConversation(path), { prompt: 'P', fileTokens: ['tk_conv'] });
  });

  for (const [what, body] of [
    ['collecting', { status: 'collecting', suggested_task_params: null }],
    ['no status', {}],
    ['ready with an empty prompt', { status: 'ready', suggested_task_params: { prompt: '  ' } }],
    ['ready with no suggestion', { status: 'ready' }],
  ] as const) {
    it(`${what}: not ready, with the prepare command that continues it`, (t) => {
      const path = conversation(dir(t), body);
      assert.throws(
        () => fromConversation(path),
        (err: unknown) =>
          err instanceof AnyGenError &&
          err.kind === 'usage' &&
          /is not ready yet/.test(err.message) &&
          (err.hint ?? '').includes(`prepare --input ${path} --message`),
      );
    });
  }
});

describe('promptPlan', () => {
  const plan = (opts: PromptOptions, stdin?: string) => promptPlan(ctx(stdin), opts);

  it('--prompt, --prompt-file and --stdin each give the prompt, trimmed', async (t) => {
    const file = join(dir(t), 'p.txt');
    writeFileSync(file, '\nIt\'s "quoted" $HOME\n');
    assert.deepEqual(await plan({ prompt: ' A ' }), { prompt: 'A', fileTokens: [] });
    assert.equal((await plan({ promptFile: file })).prompt, 'It\'s "quoted" $HOME');
    assert.equal((await plan({ stdin: true }, 'from stdin\n')).prompt, 'from stdin');
  });

  it('--from gives both; explicit flags win, each on its own', async (t) => {
    const from = conversation(dir(t), READY);
    assert.deepEqual(await plan({ from }), { prompt: 'A poster, "jazz" & $5', fileTokens: ['tk_a', 'tk_b'] });
    assert.deepEqual(await plan({ from, prompt: 'Mine' }), { prompt: 'Mine', fileTokens: ['tk_a', 'tk_b'] });
    assert.deepEqual(await plan({ from, fileToken: [' tk_x '] }), {
      prompt: 'A poster, "jazz" & $5',
      fileTokens: ['tk_x'],
    });
    assert.deepEqual(await plan({ from, stdin: true }, 'Piped'), { prompt: 'Piped', fileTokens: ['tk_a', 'tk_b'] });
  });

  it('a conversation not ready fails even when -p is given (it was named, so it is wanted)', async (t) => {
    const from = conversation(dir(t), { status: 'collecting' });
    await usage(plan({ from, prompt: 'Mine' }), /is not ready yet/);
  });

  it('bad input is a usage error', async (t) => {
    const d = dir(t);
    const blank = join(d, 'blank.txt');
    writeFileSync(blank, ' \n ');
    await usage(plan({}), /--prompt is required/);
    await usage(plan({ prompt: '  ' }), /--prompt is required and may not be empty/);
    await usage(plan({ promptFile: blank }), /The prompt from --prompt-file is empty/);
    await usage(plan({ promptFile: join(d, 'none.txt') }), /no such file/);
    await usage(plan({ promptFile: d }), /is a folder, not a file/);
    await usage(plan({ stdin: true }, ''), /The prompt from --stdin is empty/);
    await usage(plan({ prompt: 'a', promptFile: blank }), /not with --prompt and --prompt-file/);
    await usage(plan({ prompt: 'a', fileToken: [' '] }), /--file-token is required/);
  });
});
