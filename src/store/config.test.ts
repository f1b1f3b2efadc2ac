/** The config store: the Python script's file, kept intact, private, and never silently replaced. */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { tempDir } from '../../test/helpers/harness.js';
import { AnyGenError } from '../errors.js';
import { configPath, maskKey, readConfig, resolveApiKey, updateConfig } from './config.js';

describe('config store', () => {
  test('lives in $XDG_CONFIG_HOME/anygen, else ~/.config/anygen', () => {
    assert.equal(configPath({ XDG_CONFIG_HOME: '/x/cfg', HOME: '/home/u' }), '/x/cfg/anygen/config.json');
    assert.equal(configPath({ HOME: '/home/u' }), '/home/u/.config/anygen/config.json');
  });

  test('a new file is 0600 in a 0700 folder', async (t) => {
    const path = join(tempDir(t), 'cfg', 'anygen', 'config.json');
    await updateConfig(path, (d) => {
      d.api_key = 'sk-abc';
    });
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(path, '..')).mode & 0o777, 0o700);
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { api_key: 'sk-abc' });
  });

  test('a file the Python script wrote is read as is; unknown keys are kept and nothing is added', async (t) => {
    const dir = join(tempDir(t), 'anygen');
    mkdirSync(dir);
    const path = join(dir, 'config.json');
    const python = { api_key: 'sk-from-python-123456', suite_recommended: 'true', theme: { dark: true } };
    writeFileSync(path, JSON.stringify(python, null, 2));
    assert.deepEqual(readConfig(path), python);
    await updateConfig(path, (d) => {
      d.default_language = 'zh-CN';
    });
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { ...python, default_language: 'zh-CN' });
    assert.match(readFileSync(path, 'utf8'), /^\{\n {2}"api_key"/, 'two-space JSON like the Python script');
  });

  test('a file that is not valid JSON is refused, named, and left untouched', async (t) => {
    const dir = join(tempDir(t), 'anygen');
    mkdirSync(dir);
    const path = join(dir, 'config.json');
    const broken = '{"api_key": "sk-keep-me", "default_language": ';
    writeFileSync(path, broken);
    assert.throws(
      () => readConfig(path),
      (err: unknown) => {
        assert.ok(err instanceof AnyGenError);
        assert.equal(err.kind, 'usage');
        assert.ok(err.message.includes(path));
        assert.match(err.message, /not valid JSON/);
        assert.match(err.hint ?? '', /Fix it/);
        return true;
      },
    );
    await assert.rejects(
      updateConfig(path, (d) => {
        d.api_key = 'sk-new';
      }),
      /not valid JSON/,
    );
    assert.equal(readFileSync(path, 'utf8'), broken);
  });

  test('JSON that is not an object is refused too', (t) => {
    const path = join(tempDir(t), 'config.json');
    writeFileSync(path, '[1,2]');
    assert.throws(() => readConfig(path), /not a JSON object/);
  });

  test('the key comes from the flag, then ANYGEN_API_KEY, then the file', (t) => {
    const path = join(tempDir(t), 'config.json');
    writeFileSync(path, JSON.stringify({ api_key: 'sk-file' }));
    assert.deepEqual(resolveApiKey('sk-flag', { ANYGEN_API_KEY: 'sk-env' }, path), { key: 'sk-flag', source: 'flag' });
    assert.deepEqual(resolveApiKey(undefined, { ANYGEN_API_KEY: 'sk-env' }, path), { key: 'sk-env', source: 'env' });
    assert.deepEqual(resolveApiKey(undefined, {}, path), { key: 'sk-file', source: 'config' });
    assert.equal(resolveApiKey(undefined, {}, join(path, '..', 'missing.json')), undefined);
  });

  test('writers in the same moment do not lose each other', async (t) => {
    const path = join(tempDir(t), 'anygen', 'config.json');
    await Promise.all(
      ['api_key', 'default_language', 'suite_recommended'].map((k) =>
        updateConfig(path, (d) => {
          d[k] = `v-${k}`;
        }),
      ),
    );
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), {
      api_key: 'v-api_key',
      default_language: 'v-default_language',
      suite_recommended: 'v-suite_recommended',
    });
  });

  test('a lock left by a crashed process is taken over, and nothing is left beside the file', async (t) => {
    const dir = join(tempDir(t), 'anygen');
    mkdirSync(dir);
    const path = join(dir, 'config.json');
    writeFileSync(`${path}.lock`, '99999');
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${path}.lock`, old, old);
    await updateConfig(path, (d) => {
      d.api_key = 'sk-after-crash';
    });
    assert.equal(JSON.parse(readFileSync(path, 'utf8')).api_key, 'sk-after-crash');
    assert.deepEqual(readdirSync(dir), ['config.json']);
  });

  test('keys are masked to their first ten characters, short ones to less', () => {
    assert.equal(maskKey('sk-1234567890abcdef'), 'sk-1234567...');
    assert.equal(maskKey('sk-short'), 'sk-...');
  });
});
