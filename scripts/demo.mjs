// The whole job offline, as a newcomer's first command: start the local sandbox,
// upload a reference image, two prepare turns, create, poll, download. Each step is
// the real CLI, printed before it runs, so it can be copied against the real service.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
if (!existsSync(join(root, 'dist', 'index.js'))) {
  console.error('dist/ is missing: run npm run build first (npm install does it).');
  process.exit(2);
}
const { renderPng, startSandbox } = await import('../dist/index.js');
const bin = join(root, 'bin', 'anygen-image.js');
const work = mkdtempSync(join(tmpdir(), 'anygen-demo-'));
const outDir = resolve(process.argv[2] ?? 'anygen-demo-output');

// readsToComplete: a few status reads, so the wait shows progress; no key or credits needed.
const sandbox = await startSandbox({ readsToComplete: 3 });
const env = {
  ...process.env,
  ANYGEN_BASE_URL: sandbox.url,
  ANYGEN_API_KEY: sandbox.apiKey,
  // A private config folder: the demo never touches your own config.
  XDG_CONFIG_HOME: join(work, 'config'),
};

const field = (stdout, name) => stdout.match(new RegExp(`^${name}: (.+)$`, 'm'))?.[1];

try {
  console.log(`AnyGen sandbox on ${sandbox.url} (a local stand-in for www.anygen.io)`);
  const reference = join(work, 'reference.png');
  writeFileSync(reference, renderPng('a reference for the demo', 128));
  const token = field(await step('Upload a reference image', ['upload', '--file', reference]), 'File Token');
  const conversation = join(work, 'conversation.json');
  await step('Describe what you need', [
    'prepare',
    '--message',
    'I need a poster for a summer jazz night by the river',
    '--file-token',
    token,
    '--save',
    conversation,
  ]);
  const ready = await step('Answer the question', [
    'prepare',
    '--input',
    conversation,
    '--message',
    'A2 portrait, deep blue and gold, art deco lettering',
    '--save',
    conversation,
  ]);
  const prompt = field(ready, 'Prompt');
  const created = await step('Create the task', [
    'create',
    '--operation',
    'ai-designer',
    '--prompt',
    prompt,
    '--file-token',
    token,
  ]);
  const taskId = field(created, 'Task ID');
  const polled = await step('Wait for it and download', [
    'poll',
    '--task-id',
    taskId,
    '--output',
    outDir,
    '--interval',
    '1',
  ]);
  const file = field(polled, 'Local file');
  console.log(`\nDone. Your image is at ${relative(process.cwd(), file) || file}`);
} catch (err) {
  console.error(`\nDemo stopped: ${err.message}`);
  process.exitCode = 1;
} finally {
  await sandbox.close();
  rmSync(work, { recursive: true, force: true });
}

/** Runs one CLI step, showing it, and returns its stdout; the demo stops if it fails. */
function step(title, args) {
  console.log(`\n== ${title}\n$ anygen-image ${args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}`);
  // Asynchronous on purpose: the sandbox is served by this process's event loop.
  return new Promise((resolveStep, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s) => {
      out += s;
      process.stdout.write(s);
    });
    child.on('close', (code) => (code === 0 ? resolveStep(out) : reject(new Error(`step failed with exit ${code}`))));
  });
}
