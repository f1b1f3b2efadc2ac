/**
 * `anygen-image mcp`, driven as an agent host drives it: the SDK's own client spawns
 * the built binary and speaks MCP over its stdin and stdout, against the sandbox.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult, Progress } from '@modelcontextprotocol/sdk/types.js';
import { pngSize } from '../../src/sandbox/png.js';
import type { Sandbox } from '../../src/sandbox/server.js';
import { BIN, envFor, runBin, sandbox, TEST_KEY, tempDir } from '../helpers/harness.js';
import { makeTask } from '../reliability/helpers.js';

type After = { after(fn: () => unknown): void };

const TOOL_NAMES = [
  'upload_file',
  'prepare',
  'create_task',
  'get_task',
  'wait_for_task',
  'download_files',
  'send_message',
  'get_messages',
  'wait_for_reply',
];

interface Session {
  client: Client;
  /** Everything the server wrote on stderr so far. */
  stderr(): string;
  /** Resolves once stderr matches. */
  stderrMatches(re: RegExp): Promise<void>;
  /** Every result of every call, to check none carries the key. */
  results: CallToolResult[];
  call(
    name: string,
    args: Record<string, unknown>,
    options?: Parameters<Client['callTool']>[2],
  ): Promise<CallToolResult>;
}

async function connect(
  t: After,
  s: Sandbox | undefined,
  home: string,
  opts: { env?: Record<string, string | undefined>; args?: string[] } = {},
): Promise<Session> {
  const env = Object.fromEntries(
    Object.entries(envFor(s, home, opts.env)).filter((e): e is [string, string] => e[1] !== undefined),
  );
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, 'mcp', '--interval', '1', ...(opts.args ?? [])],
    env,
    stderr: 'pipe',
  });
  let stderr = '';
  const watchers: { re: RegExp; resolve: () => void }[] = [];
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
    for (const w of watchers.splice(0)) {
      if (w.re.test(stderr)) w.resolve();
      else watchers.push(w);
    }
  });
  // Anything on stdout that is not a protocol message is reported here by the transport.
  const transportErrors: Error[] = [];
  const client = new Client({ name: 'anygen-image-test', version: '0.0.0' });
  client.onerror = (err) => transportErrors.push(err);
  await client.connect(transport);
  const results: CallToolResult[] = [];
  t.after(async () => {
    await client.close();
    assert.deepEqual(transportErrors, [], 'stdout carried something other than protocol messages');
    assert.ok(!stderr.includes(TEST_KEY), `stderr carries the key:\n${stderr}`);
    for (const r of results)
      assert.ok(!JSON.stringify(r).includes(TEST_KEY), `a result carries the key: ${JSON.stringify(r)}`);
  });
  return {
    client,
    stderr: () => stderr,
    stderrMatches: (re) =>
      re.test(stderr) ? Promise.resolve() : new Promise<void>((resolve) => watchers.push({ re, resolve })),
    results,
    async call(name, args, options) {
      const r = (await client.callTool({ name, arguments: args }, undefined, options)) as CallToolResult;
      results.push(r);
      return r;
    },
  };
}

/** A successful call's structured result (and its text twin says the same). */
function ok(r: CallToolResult): Record<string, unknown> {
  assert.notEqual(r.isError, true, `the call failed: ${JSON.stringify(r.content)}`);
  assert.ok(r.structuredContent, 'no structured content');
  const first = r.content[0];
  assert.equal(first?.type, 'text');
  assert.deepEqual(JSON.parse((first as { text: string }).text), r.structuredContent);
  return r.structuredContent as Record<string, unknown>;
}

/** A failed call's error, as the CLI's --json prints it. */
function failed(r: CallToolResult): { type: string; message: string; hint?: string } {
  assert.equal(r.isError, true, `the call succeeded: ${JSON.stringify(r.structuredContent)}`);
  const first = r.content[0] as { type: string; text: string };
  assert.equal(first.type, 'text');
  const doc = JSON.parse(first.text) as { success: boolean; error: { type: string; message: string; hint?: string } };
  assert.equal(doc.success, false);
  assert.equal(typeof doc.error.message, 'string');
  return doc.error;
}

describe('anygen-image mcp', () => {
  test('lists the nine tools, each with a description, an input schema and an output schema', async (t) => {
    const s = await sandbox(t);
    const mcp = await connect(t, s, tempDir(t));
    const { tools } = await mcp.client.listTools();
    assert.deepEqual(
      tools.map((tool) => tool.name),
      TOOL_NAMES,
    );
    for (const tool of tools) {
      assert.ok((tool.description ?? '').length > 80, `${tool.name} has too short a description`);
      assert.equal(tool.inputSchema.type, 'object');
      assert.equal(tool.outputSchema?.type, 'object');
    }
    const create = tools.find((tool) => tool.name === 'create_task');
    assert.match(create?.description ?? '', /credits/i);
    // The CLI's --json shape for poll, from the same schema.
    const wait = tools.find((tool) => tool.name === 'wait_for_task');
    assert.deepEqual(Object.keys(wait?.outputSchema?.properties ?? {}), [
      'task_id',
      'status',
      'progress',
      'task_url',
      'thumbnail_url',
      'files',
      'downloads',
    ]);
  });

  test('the whole job: upload, prepare (continued by the CLI), create, wait with progress, download, change, reply', async (t) => {
    const s = await sandbox(t, { readsToComplete: 3, replyReads: 1 });
    const home = tempDir(t);
    const mcp = await connect(t, s, home);

    const reference = join(home, 'reference.png');
    writeFileSync(reference, 'reference bytes');
    const uploaded = ok(await mcp.call('upload_file', { path: reference }));
    const token = String(uploaded.file_token);
    assert.match(token, /^tk_/);
    assert.equal(uploaded.file_size, 15);

    const conversation = join(home, 'talk', 'conversation.json');
    const first = ok(
      await mcp.call('prepare', {
        message: 'A poster for a summer jazz night',
        file_tokens: [token],
        conversation_file: conversation,
      }),
    );
    assert.equal(first.status, 'collecting');
    assert.equal(first.ready, false);
    assert.equal(first.saved_to, conversation);
    assert.deepEqual(first.file_tokens, [token]);
    // The CLI continues the conversation the server started.
    const cli = await runBin(
      ['prepare', '--input', conversation, '--message', 'A2, deep blue and gold', '--save', conversation, '--json'],
      { env: envFor(s, home) },
    );
    assert.equal(cli.code, 0, cli.stderr);
    const saved = JSON.parse(readFileSync(conversation, 'utf8')) as { status: string; file_tokens: string[] };
    assert.equal(saved.status, 'ready');

    // ... and the server creates from the conversation the CLI finished.
    const created = ok(await mcp.call('create_task', { from_conversation: conversation }));
    const taskId = String(created.task_id);
    assert.match(taskId, /^task_/);
    const createBody = s.received.find((r) => r.route === 'create')?.body as { prompt: string; file_tokens: string[] };
    assert.ok(createBody.prompt.length > 0);
    assert.deepEqual(createBody.file_tokens, [token]);

    const images = join(home, 'images');
    const progress: Progress[] = [];
    const done = ok(
      await mcp.call(
        'wait_for_task',
        { task_id: taskId, output_dir: images },
        { onprogress: (p) => progress.push(p), resetTimeoutOnProgress: true },
      ),
    );
    assert.equal(done.status, 'completed');
    assert.ok(progress.length >= 2, `progress notifications: ${JSON.stringify(progress)}`);
    for (let i = 1; i < progress.length; i++) {
      assert.ok((progress[i] as Progress).progress > (progress[i - 1] as Progress).progress, 'progress must grow');
    }
    assert.ok(progress.every((p) => p.total === 100));
    assert.match(progress.map((p) => p.message).join('\n'), /processing \d+%/);
    assert.equal(progress.at(-1)?.progress, 100);
    const downloads = done.downloads as { path: string; bytes: number }[];
    assert.equal(downloads.length, 1);
    const picture = readFileSync((downloads[0] as { path: string }).path);
    assert.equal(picture.length, (downloads[0] as { bytes: number }).bytes);
    // A poster with no size named is drawn A-series portrait by the sandbox.
    assert.deepEqual(pngSize(picture), { width: 453, height: 640 });

    const sent = ok(await mcp.call('send_message', { task_id: taskId, message: 'Darker background' }));
    assert.equal(typeof sent.message_id, 'number');
    const messages = ok(await mcp.call('get_messages', { task_id: taskId, limit: 5 }));
    assert.ok((messages.messages as { id: number }[]).some((m) => m.id === sent.message_id));

    const replied = ok(
      await mcp.call('wait_for_reply', { task_id: taskId, since_id: sent.message_id, output_dir: images }),
    );
    const reply = replied.reply as { id: number; status: string; content: string };
    assert.ok(reply.id > Number(sent.message_id));
    assert.equal(reply.status, 'completed');
    const task = replied.task as { downloads: { path: string }[] };
    const changed = (task.downloads[0] as { path: string }).path;
    assert.equal(dirname(changed), images);
    assert.notDeepEqual(readFileSync(changed), picture, 'the changed picture is a new file, the first one kept');
    assert.equal(readdirSync(images).length, 2);

    const read = ok(await mcp.call('get_task', { task_id: taskId }));
    assert.equal(read.status, 'completed');
    // As the CLI's status: the files saved of the task here, from the task history.
    const local = (read.downloads as { path: string }[]).map((d) => d.path);
    assert.ok(local.includes(changed), `${local}`);
    assert.equal(local.length, 2, `${local}`);
  });

  test('a failure is an error result with type, message and hint, and the server keeps serving', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    // No key anywhere: every call fails the way the CLI does, with its hint.
    const keyless = await connect(t, s, home, { env: { ANYGEN_API_KEY: undefined } });
    const noKey = failed(await keyless.call('get_task', { task_id: 'task_1' }));
    assert.equal(noKey.type, 'auth');
    assert.equal(noKey.message, 'No API key found');
    assert.match(noKey.hint ?? '', /ANYGEN_API_KEY/);
    assert.match(keyless.stderr(), /No API key found yet/);

    const mcp = await connect(t, s, home);
    const missing = failed(await mcp.call('get_task', { task_id: 'task_doesnotexist' }));
    assert.equal(missing.type, 'not_found');
    const badArgs = failed(await mcp.call('wait_for_task', { task_id: 'task_1', timeout_seconds: 0 }));
    assert.equal(badArgs.type, 'usage');
    assert.match(badArgs.message, /timeout_seconds must be at least 1 second/);
    const typo = failed(await mcp.call('wait_for_task', { task_id: 'task_1', output: '/tmp' }));
    assert.match(typo.message, /unknown argument "output"/);
    const unknown = failed(await mcp.call('make_coffee', {}));
    assert.equal(unknown.type, 'usage');
    assert.match(unknown.hint ?? '', /wait_for_task/);
    const badId = failed(await mcp.call('download_files', { task_id: 'task_1/../x', output_dir: home }));
    assert.equal(badId.type, 'usage');

    // A task that fails, with the key in its reason (a service that echoes it back).
    const doomed = await makeTask(s, `a poster [fail rejected key ${TEST_KEY}]`);
    const failure = failed(await mcp.call('wait_for_task', { task_id: doomed }));
    assert.equal(failure.type, 'task_failed');
    assert.match(failure.message, /rejected key sk-\*\*\*/);

    // After all of that, the same server still does the job.
    const good = await makeTask(s, 'a poster');
    const done = ok(await mcp.call('wait_for_task', { task_id: good }));
    assert.equal(done.status, 'completed');
  });

  test('a cancelled wait stops polling, and the server keeps serving', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const mcp = await connect(t, s, home, { args: ['--verbose'] });
    const slow = await makeTask(s, 'a poster [reads 1000]');
    const controller = new AbortController();
    let progressSeen = 0;
    const waiting = mcp.call(
      'wait_for_task',
      { task_id: slow },
      {
        signal: controller.signal,
        onprogress: () => {
          // Cancel once the wait has read the task twice.
          if (++progressSeen === 2) controller.abort(new Error('the user changed their mind'));
        },
      },
    );
    await assert.rejects(waiting, /changed their mind/);
    // The server's handler ends (it logs each call's end under --verbose) ...
    await mcp.stderrMatches(/mcp wait_for_task → error/);
    const readsAfterCancel = s.stats.byRoute.task ?? 0;
    // ... and the server answers the next call, which is the only read since.
    const read = ok(await mcp.call('get_task', { task_id: slow }));
    assert.equal(read.status, 'processing');
    assert.equal(s.stats.byRoute.task, readsAfterCancel + 1);
    assert.equal((s.tasks.get(slow)?.reads ?? 0) >= 2, true);
  });

  test('other commands never load the MCP code', async (t) => {
    // The SDK is a file of its own in the build; a preloaded hook records every file the
    // process requires, for the commands people and agents run most.
    const dist = fileURLToPath(new URL('../../dist/', import.meta.url));
    assert.ok(readFileSync(join(dist, 'mcp-sdk.cjs'), 'utf8').includes('jsonrpc'), 'the SDK bundle holds the protocol');
    for (const f of ['bin.cjs', 'app.cjs']) {
      assert.ok(!readFileSync(join(dist, f), 'utf8').includes('jsonrpc'), `${f} holds MCP protocol code`);
    }
    const home = tempDir(t);
    const log = join(home, 'required.txt');
    const hook = join(home, 'hook.cjs');
    writeFileSync(
      hook,
      `const M = require('node:module'); const fs = require('node:fs'); const load = M._load;
       M._load = function (request, ...rest) { fs.appendFileSync(${JSON.stringify(log)}, request + '\\n'); return load.call(this, request, ...rest); };`,
    );
    const s = await sandbox(t);
    // Without the code cache every bundle is loaded by require(), which the hook sees.
    const env = { ...envFor(s, home), NODE_OPTIONS: `--require ${hook}`, ANYGEN_NO_CODE_CACHE: '1' };
    for (const argv of [
      ['--help'],
      ['config', 'get'],
      ['create', '-p', 'a cat'],
      ['poll', '--task-id', 'task_x', '--timeout', '1'],
    ]) {
      await runBin(argv, { env });
    }
    const required = readFileSync(log, 'utf8');
    assert.match(required, /app\.cjs/, 'the hook saw the commands load');
    assert.ok(!required.includes('mcp-sdk'), `a command other than mcp loaded the SDK:\n${required}`);
    const mcp = await runBin(['mcp'], { env });
    assert.equal(mcp.code, 0, mcp.stderr);
    assert.ok(readFileSync(log, 'utf8').includes('mcp-sdk.cjs'), 'the mcp command loads the SDK');
  });
});

describe('anygen-image mcp, as a process', () => {
  test('ends with exit 0 when the host closes stdin, and 130 on SIGTERM; stdout stays empty without requests', async (t) => {
    const s = await sandbox(t);
    const home = tempDir(t);
    const closed = await runBin(['mcp'], { env: envFor(s, home) });
    assert.equal(closed.code, 0, closed.stderr);
    assert.equal(closed.stdout, '');
    assert.match(closed.stderr, /MCP server on stdio/);

    // stdin held open, as a host holds it: only the signal can end the server.
    const child = spawn(process.execPath, [BIN, 'mcp'], { env: envFor(s, home) as NodeJS.ProcessEnv });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr += text;
      if (stderr.includes('MCP server on stdio')) child.kill('SIGTERM');
    });
    const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
      child.on('close', (code) => resolve({ code, stdout, stderr })),
    );
    const killed = await done;
    assert.equal(killed.code, 130, killed.stderr);
    assert.equal(killed.stdout, '');
  });
});
