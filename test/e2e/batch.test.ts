/**
 * `batch` as CI runs it: the built binary against the sandbox over loopback, with real
 * signals, real files and the sandbox's own count of creates.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Sandbox } from '../../src/sandbox/server.js';
import { BIN, envFor, json, runBin, sandbox, tempDir } from '../helpers/harness.js';
import { assertCleanError, startBin, when } from '../reliability/helpers.js';

const creates = (s: Sandbox) => s.stats.byRoute.create ?? 0;
const STATE = 'anygen-batch-state.json';

function jsonl(dir: string, items: Record<string, unknown>[], name = 'in.jsonl'): string {
  const file = join(dir, name);
  writeFileSync(file, `${items.map((i) => JSON.stringify(i)).join('\n')}\n`);
  return file;
}

function state(out: string, name = STATE): { items: { id: string; status: string; task_id: string | null }[] } {
  return JSON.parse(readFileSync(join(out, name), 'utf8'));
}

const items = (n: number, extra = '') =>
  Array.from({ length: n }, (_, i) => ({ id: `item-${i}`, prompt: `Poster ${i}${extra}` }));

describe('batch', () => {
  test('makes every item once as <id>.png, prints one --json summary, and a rerun creates nothing', async (t) => {
    const s = await sandbox(t);
    const dir = tempDir(t);
    const file = jsonl(dir, [...items(3), { prompt: 'A lighthouse' }]);
    const out = join(dir, 'out');
    const env = envFor(s, dir);
    const r = await runBin(['batch', file, '--output', out, '--interval', '1', '--json'], { env });
    assert.equal(r.code, 0, r.stderr);
    const doc = json(r) as {
      success: boolean;
      items: { id: string; status: string; files: string[] }[];
      counts: Record<string, number>;
    };
    assert.equal(doc.success, true);
    assert.deepEqual(doc.counts, { total: 4, completed: 4, failed: 0, unknown: 0, created: 0, pending: 0 });
    const hashId = doc.items[3]?.id ?? '';
    assert.match(hashId, /^[0-9a-f]{12}$/);
    assert.deepEqual(
      readdirSync(out).sort(),
      [`${hashId}.png`, STATE, 'item-0.png', 'item-1.png', 'item-2.png'].sort(),
    );
    assert.equal(r.stderr, '', 'nothing on stderr under --json');
    assert.equal(creates(s), 4);

    const again = await runBin(['batch', file, '--output', out, '--interval', '1'], { env });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(creates(s), 4, 'the rerun created nothing');
    assert.equal(readdirSync(out).length, 5, 'and downloaded nothing again');
    assert.match(again.stdout, /^item-0\tcompleted\ttask_\w+\t\S*item-0\.png$/m);
  });

  test('a failed item leaves the others finished and sets exit 1', async (t) => {
    const s = await sandbox(t);
    const dir = tempDir(t);
    const file = jsonl(dir, [
      { id: 'ok-1', prompt: 'Fine' },
      { id: 'bad', prompt: 'Broken [fail out of ink]' },
      { id: 'ok-2', prompt: 'Also fine' },
    ]);
    const out = join(dir, 'out');
    const r = await runBin(['batch', file, '--output', out, '--interval', '1', '--json'], { env: envFor(s, dir) });
    assert.equal(r.code, 1, r.stderr);
    const doc = json(r) as { success: boolean; items: { id: string; status: string; error: string | null }[] };
    assert.equal(doc.success, false);
    assert.deepEqual(
      doc.items.map((i) => [i.id, i.status]),
      [
        ['ok-1', 'completed'],
        ['bad', 'failed'],
        ['ok-2', 'completed'],
      ],
    );
    assert.match(doc.items[1]?.error ?? '', /out of ink/);
    assert.ok(existsSync(join(out, 'ok-1.png')) && existsSync(join(out, 'ok-2.png')));
  });

  test('runs through 429 answers with one create per item', async (t) => {
    const s = await sandbox(t, { faults: '429:1*4' });
    const dir = tempDir(t);
    const file = jsonl(dir, items(5));
    const r = await runBin(['batch', file, '--output', join(dir, 'out'), '--interval', '1', '--concurrency', '3'], {
      env: envFor(s, dir),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(creates(s), 5);
    assert.match(r.stderr, /rate limited: every worker waits 1 s/);
    assert.equal(state(join(dir, 'out')).items.filter((i) => i.status === 'completed').length, 5);
  });

  test('two shards are disjoint, each with its own state file, and together complete', async (t) => {
    const s = await sandbox(t);
    const dir = tempDir(t);
    const file = jsonl(dir, items(12));
    const out = join(dir, 'out');
    const env = envFor(s, dir);
    const ids: string[][] = [];
    for (const shard of ['1/2', '2/2']) {
      const r = await runBin(['batch', file, '--output', out, '--shard', shard, '--interval', '1', '--json'], { env });
      assert.equal(r.code, 0, r.stderr);
      ids.push((json(r).items as { id: string }[]).map((i) => i.id));
    }
    const [one = [], two = []] = ids;
    assert.ok(one.length > 0 && two.length > 0, `${one.length} + ${two.length}`);
    assert.deepEqual(
      one.filter((id) => two.includes(id)),
      [],
      'disjoint',
    );
    assert.deepEqual(
      [...one, ...two].sort(),
      items(12)
        .map((i) => i.id)
        .sort(),
      'together the whole',
    );
    assert.equal(creates(s), 12);
    assert.ok(existsSync(join(out, 'anygen-batch-state.shard-1-of-2.json')));
    assert.ok(existsSync(join(out, 'anygen-batch-state.shard-2-of-2.json')));
  });

  test('Ctrl-C while creates are in flight: they finish and are recorded, exit 130; a rerun creates each item exactly once', async (t) => {
    let createsArrived = 0;
    const arrived = when(() => createsArrived >= 3);
    const s = await sandbox(t, {
      // The first three requests are the three creates: slow, so the signal lands while they are at the service.
      faults: 'delay:1500*3',
      log: (line) => {
        if (line.startsWith('POST /v1/openapi/tasks ')) createsArrived++;
        arrived.poke();
      },
    });
    const dir = tempDir(t);
    const file = jsonl(dir, items(6));
    const out = join(dir, 'out');
    const env = envFor(s, dir);
    const run = startBin(['batch', file, '--output', out, '--concurrency', '3', '--interval', '1'], { env });
    await arrived.done;
    // The state file said `creating` before each create was sent.
    assert.deepEqual(
      state(out)
        .items.filter((i) => i.status === 'creating')
        .map((i) => i.id),
      ['item-0', 'item-1', 'item-2'],
    );
    run.child.kill('SIGINT');
    const r = await run.done;
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /Interrupted: creates in flight were recorded/);
    const after = state(out).items;
    assert.deepEqual(
      after.map((i) => i.status),
      ['created', 'created', 'created', 'pending', 'pending', 'pending'],
    );
    assert.ok(after.slice(0, 3).every((i) => i.task_id?.startsWith('task_')));
    assert.equal(creates(s), 3);

    const rerun = await runBin(['batch', file, '--output', out, '--interval', '1', '--json'], { env });
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.equal(creates(s), 6, 'six items, six creates');
    const prompts = s.received.filter((r) => r.route === 'create').map((r) => (r.body as { prompt: string }).prompt);
    assert.equal(new Set(prompts).size, 6, 'no item was created twice');
  });

  test('a second Ctrl-C exits at once; the creates it cut off are unknown and created again only with --retry-unknown', async (t) => {
    let createsArrived = 0;
    const arrived = when(() => createsArrived >= 2);
    const s = await sandbox(t, {
      faults: 'delay:5000*2',
      log: (line) => {
        if (line.startsWith('POST /v1/openapi/tasks ')) createsArrived++;
        arrived.poke();
      },
    });
    const dir = tempDir(t);
    const file = jsonl(dir, items(2));
    const out = join(dir, 'out');
    const env = envFor(s, dir);
    let stderr = '';
    const stopping = when(() => stderr.includes('Stopping: no new creates'));
    const run = startBin(['batch', file, '--output', out, '--concurrency', '2', '--interval', '1'], {
      env,
      onStderr: (text) => {
        stderr += text;
        stopping.poke();
      },
    });
    await arrived.done;
    run.child.kill('SIGINT');
    // Signals do not queue: the second is sent once the first was seen, or they would merge.
    await stopping.done;
    run.child.kill('SIGINT');
    const r = await run.done;
    assert.equal(r.code, 130);
    assert.deepEqual(
      state(out).items.map((i) => i.status),
      ['creating', 'creating'],
    );
    assert.deepEqual(readdirSync(out), [STATE], 'no temporary file left');

    const rerun = await runBin(['batch', file, '--output', out, '--interval', '1'], { env });
    assert.equal(rerun.code, 1, rerun.stderr);
    assert.match(rerun.stderr, /2 items may have been created without an answer/);
    assert.match(rerun.stdout, /^item-0\tunknown\t-\t.*--retry-unknown/m);
    // Counted as they arrive: the cut-off creates never got past the sandbox's delay.
    assert.equal(createsArrived, 2, 'the rerun sent no create');

    const retried = await runBin(['batch', file, '--output', out, '--interval', '1', '--retry-unknown'], { env });
    assert.equal(retried.code, 0, retried.stderr);
    assert.equal(createsArrived, 4);
    assert.equal(creates(s), 2);
  });

  test('"not enough credits" stops new creates, says so, and exits 1', async (t) => {
    const s = await sandbox(t);
    const dir = tempDir(t);
    const file = jsonl(dir, [
      { id: 'a', prompt: 'A' },
      { id: 'b', prompt: 'B [no-credits]' },
      { id: 'c', prompt: 'C' },
    ]);
    const r = await runBin(['batch', file, '--output', join(dir, 'out'), '--concurrency', '1', '--interval', '1'], {
      env: envFor(s, dir),
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Not enough credits: no new task was created after that/);
    assert.equal(creates(s), 2);
    assert.match(r.stdout, /^c\tpending\t-\t$/m);
  });

  test('--dry-run lists the items and uploads and sends nothing', async (t) => {
    const s = await sandbox(t);
    const dir = tempDir(t);
    writeFileSync(join(dir, 'ref.png'), 'reference');
    const file = jsonl(dir, [
      { id: 'a', prompt: 'A', files: ['ref.png'] },
      { id: 'b', prompt: 'B', files: ['ref.png'] },
    ]);
    const out = join(dir, 'out');
    const r = await runBin(['batch', file, '--output', out, '--dry-run', '--json'], { env: envFor(s, dir) });
    assert.equal(r.code, 0, r.stderr);
    const doc = json(r) as { dry_run: boolean; items: { id: string; action: string }[]; uploads: string[] };
    assert.equal(doc.dry_run, true);
    assert.deepEqual(
      doc.items.map((i) => [i.id, i.action]),
      [
        ['a', 'create'],
        ['b', 'create'],
      ],
    );
    assert.deepEqual(doc.uploads, [join(dir, 'ref.png')], 'one upload for the file both items name');
    assert.equal(s.stats.requests, 0);
    assert.equal(existsSync(out), false, 'nothing written');
  });

  test('a file named by several items is uploaded once and its token reused', async (t) => {
    const s = await sandbox(t);
    const dir = tempDir(t);
    writeFileSync(join(dir, 'ref.png'), 'reference');
    const file = jsonl(dir, [
      { id: 'a', prompt: 'A', files: ['ref.png'] },
      { id: 'b', prompt: 'B', files: ['ref.png'] },
      { id: 'c', prompt: 'C', files: ['ref.png'] },
    ]);
    const r = await runBin(['batch', file, '--output', join(dir, 'out'), '--interval', '1'], { env: envFor(s, dir) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(s.stats.byRoute.upload, 1);
    const tokens = s.received
      .filter((x) => x.route === 'create')
      .map((x) => (x.body as { file_tokens: string[] }).file_tokens);
    assert.equal(tokens.length, 3);
    assert.ok(tokens.every((tk) => tk.length === 1 && tk[0] === tokens[0]?.[0]));
  });

  describe('bad input: exit 2, one error, nothing sent, nothing changed', () => {
    test('invalid lines are all reported with their numbers', async (t) => {
      const s = await sandbox(t);
      const dir = tempDir(t);
      const file = join(dir, 'in.jsonl');
      writeFileSync(file, '{"prompt": "ok"}\nnot json\n{"id": "x"}\n{"prompt": "p", "operation": "paint"}\n');
      const r = await runBin(['batch', file, '--output', join(dir, 'out')], { env: envFor(s, dir) });
      assertCleanError(r, 2, { first: true });
      assert.match(r.stderr, /3 invalid lines; nothing was sent/);
      assert.match(r.stderr, /^line 2: not valid JSON$/m);
      assert.match(r.stderr, /^line 3: "prompt" is missing or empty$/m);
      assert.match(r.stderr, /^line 4: Unknown operation "paint"$/m);
      assert.equal(s.stats.requests, 0);
      assert.equal(existsSync(join(dir, 'out')), false);
    });

    for (const [args, pattern] of [
      [['--shard', '0/2'], /--shard 0\/2: I must be between 1 and 2/],
      [['--shard', '3/2'], /--shard 3\/2: I must be between 1 and 2/],
      [['--shard', 'a/b'], /--shard must look like I\/N/],
      [['--concurrency', '0'], /--concurrency must be between 1 and 32, not 0/],
      [['--concurrency', '33'], /--concurrency must be between 1 and 32, not 33/],
      [
        ['--progress', 'fancy'],
        /--progress <mode>' argument 'fancy' is invalid. Allowed choices are auto, spinner, plain, json, none/,
      ],
    ] as const) {
      test(`${args.join(' ')}`, async (t) => {
        const s = await sandbox(t);
        const dir = tempDir(t);
        const file = jsonl(dir, items(2));
        const r = await runBin(['batch', file, '--output', join(dir, 'out'), ...args], { env: envFor(s, dir) });
        assert.match(assertCleanError(r, 2, { first: true }), pattern);
        assert.equal(s.stats.requests, 0);
      });
    }

    test('an --output that is a file', async (t) => {
      const s = await sandbox(t);
      const dir = tempDir(t);
      const file = jsonl(dir, items(1));
      writeFileSync(join(dir, 'taken'), 'mine');
      const r = await runBin(['batch', file, '--output', join(dir, 'taken')], { env: envFor(s, dir) });
      assert.match(assertCleanError(r, 2, { first: true }), /is a file, not a folder/);
      assert.equal(readFileSync(join(dir, 'taken'), 'utf8'), 'mine');
      assert.equal(s.stats.requests, 0);
    });

    test('a corrupt state file is named and kept byte for byte', async (t) => {
      const s = await sandbox(t);
      const dir = tempDir(t);
      const file = jsonl(dir, items(2));
      const out = join(dir, 'out');
      mkdirSync(out);
      writeFileSync(join(out, STATE), '{"kind": "anygen-image batch state", "items": [{"id": tru');
      const r = await runBin(['batch', file, '--output', out], { env: envFor(s, dir) });
      const line = assertCleanError(r, 2, { first: true });
      assert.ok(line.includes(join(out, STATE)), line);
      assert.match(line, /not valid JSON; it was left as it is and nothing was sent/);
      assert.equal(readFileSync(join(out, STATE), 'utf8'), '{"kind": "anygen-image batch state", "items": [{"id": tru');
      assert.equal(s.stats.requests, 0);
    });

    test('a state file written for another input', async (t) => {
      const s = await sandbox(t);
      const dir = tempDir(t);
      const out = join(dir, 'out');
      const env = envFor(s, dir);
      const first = await runBin(
        ['batch', jsonl(dir, items(1), 'campaign.jsonl'), '--output', out, '--interval', '1'],
        { env },
      );
      assert.equal(first.code, 0, first.stderr);
      const before = readFileSync(join(out, STATE), 'utf8');
      const requests = s.stats.requests;
      const r = await runBin(['batch', jsonl(dir, items(2), 'catalogue.jsonl'), '--output', out], { env });
      assert.match(
        assertCleanError(r, 2, { first: true }),
        /was written for the input "campaign.jsonl", not "catalogue.jsonl"/,
      );
      assert.equal(readFileSync(join(out, STATE), 'utf8'), before);
      assert.equal(s.stats.requests, requests);
    });
  });

  describe('progress on stderr', () => {
    test('in a pipe: plain lines, one per outcome', async (t) => {
      const s = await sandbox(t);
      const dir = tempDir(t);
      const r = await runBin(['batch', jsonl(dir, items(2)), '--output', join(dir, 'out'), '--interval', '1'], {
        env: envFor(s, dir),
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /^\[0s\] item-0: completed → \S+item-0\.png$/m);
      assert.doesNotMatch(r.stderr, /\u001b|\r/, 'no escape sequences in a log');
    });

    // A pseudo-terminal (util-linux `script`): the live line needs a width and a TERM that is not dumb.
    const hasScript = spawnSync('script', ['--version']).status === 0;
    for (const [name, cols, term, live] of [
      ['a terminal: one live line', 80, 'xterm', true],
      ['a terminal with 0 columns: plain lines', 0, 'xterm', false],
      ['TERM=dumb: plain lines', 80, 'dumb', false],
    ] as const) {
      test(name, { skip: hasScript ? false : 'util-linux script is not installed' }, async (t) => {
        const s = await sandbox(t);
        const dir = tempDir(t);
        const file = jsonl(dir, items(3));
        const cmd = `stty cols ${cols} rows 24; exec '${process.execPath}' '${BIN}' batch '${file}' --output '${join(dir, 'out')}' --interval 1 >/dev/null`;
        // Spawned, not spawnSync: the sandbox answers from this process's event loop.
        const child = spawn('script', ['-qec', cmd, '/dev/null'], {
          env: { ...envFor(s, dir), TERM: term } as NodeJS.ProcessEnv,
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        let output = '';
        child.stdout.setEncoding('utf8').on('data', (text: string) => {
          output += text;
        });
        const [status] = (await once(child, 'close')) as [number];
        const r = { status, stdout: output };
        assert.equal(r.status, 0, r.stdout);
        if (live) {
          assert.match(r.stdout, /Batch: \d\/3 done/);
          assert.doesNotMatch(r.stdout, /^\[\d+s\] item-0: completed/m, 'no plain per-item lines');
        } else {
          assert.match(r.stdout, /\[\d+s\] item-0: completed/);
          assert.doesNotMatch(r.stdout, /\u001b\[\?25l/, 'no cursor control');
        }
      });
    }
  });
});
