/**
 * The package as users get it: `npm pack`, installed into an empty project with no
 * registry to reach, runs its bin. Packs the dist/ that `npm test` built (its pretest),
 * without the prepare script, so the other test files keep their dist/ untouched.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { envFor, sandbox, tempDir } from '../helpers/harness.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

test('the packed tarball installs offline into an empty project, alone, and its bin works', async (t) => {
  const work = tempDir(t);
  // No registry can be reached: everything the package needs must be inside it.
  const npmEnv = {
    ...process.env,
    npm_config_registry: 'http://127.0.0.1:9/',
    npm_config_cache: join(work, 'npm-cache'),
    npm_config_update_notifier: 'false',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
  };
  const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
    cwd: ROOT,
    env: npmEnv,
  });
  const [info] = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }];
  const files = info.files.map((f) => f.path);
  for (const f of ['LICENSE', 'dist/THIRD-PARTY-LICENSES.txt', 'bin/anygen-image.js', 'dist/bin.cjs', 'dist/app.cjs']) {
    assert.ok(files.includes(f), `${f} is not in the package: ${files.join(', ')}`);
  }
  assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('test/')), files.join(', '));
  const licences = readFileSync(join(ROOT, 'dist/THIRD-PARTY-LICENSES.txt'), 'utf8');
  for (const name of ['commander', 'undici', 'zod', 'conf', 'ora'])
    assert.match(licences, new RegExp(`^${name}@`, 'm'));

  const project = join(work, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), '{ "name": "empty-project", "version": "1.0.0", "private": true }\n');
  await run('npm', ['install', '--offline', '--foreground-scripts', join(work, info.filename)], {
    cwd: project,
    env: npmEnv,
  });
  const installed = readdirSync(join(project, 'node_modules')).filter((n) => !n.startsWith('.'));
  assert.ok(installed.length <= 3, `installed ${installed.join(', ')}`);
  const manifest = JSON.parse(readFileSync(join(project, 'node_modules/anygen-image/package.json'), 'utf8'));
  assert.equal(manifest.dependencies, undefined);
  for (const hook of ['preinstall', 'install', 'postinstall']) assert.equal(manifest.scripts?.[hook], undefined, hook);

  const bin = join(project, 'node_modules', '.bin', 'anygen-image');
  const home = tempDir(t);
  const version = await run(bin, ['--version'], { env: envFor(undefined, home) as NodeJS.ProcessEnv });
  assert.equal(version.stdout.trim(), pkg.version);

  const s = await sandbox(t);
  const created = await run(bin, ['create', '-p', 'from the tarball'], { env: envFor(s, home) as NodeJS.ProcessEnv });
  assert.match(created.stdout, /^Task ID: task_/m);
  assert.equal(s.stats.byRoute.create, 1);
});
