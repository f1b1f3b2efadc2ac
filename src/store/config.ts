/**
 * The config file shared with the Python script (~/.config/anygen/config.json).
 *
 * Reads are a plain JSON read: `config get` and every network command need the file
 * but not `conf`, whose validator stack costs ~60 ms of start-up. Writes go through
 * `conf` (atomic write, file mode), under a lock file so that two processes setting
 * different keys at the same moment both land.
 */

import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { ENV_API_KEY } from '../contract.js';
import { AnyGenError, usageError } from '../errors.js';
import { shellQuote } from '../render/format.js';
import { makeFolders } from './atomic.js';
import { type LockOptions, withLock } from './lock.js';

export const CONFIG_KEYS = ['api_key', 'default_language', 'suite_recommended'] as const;
export type ConfigKey = (typeof CONFIG_KEYS)[number];
export type ConfigData = Record<string, unknown>;

type Env = Record<string, string | undefined>;

export function configDir(env: Env): string {
  const xdg = env.XDG_CONFIG_HOME;
  const root = xdg?.startsWith('/') ? xdg : join(env.HOME || homedir(), '.config');
  return join(root, 'anygen');
}

export function configPath(env: Env): string {
  return join(configDir(env), 'config.json');
}

export function checkConfigKey(key: string): ConfigKey {
  if (!(CONFIG_KEYS as readonly string[]).includes(key)) {
    throw usageError(`Unknown config key "${key}"`, `Known keys: ${CONFIG_KEYS.join(', ')}`);
  }
  return key as ConfigKey;
}

/** The whole file, or {} when there is none. An unreadable or broken file is an error, never ignored. */
export function readConfig(path: string): ConfigData {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT') return {};
    if (code === 'EACCES' || code === 'EPERM') {
      throw usageError(
        `Cannot read config file ${path}: permission denied`,
        `Run as its owner, or fix its permissions: chmod 600 ${shellQuote(path)}`,
      );
    }
    if (code === 'ENOTDIR' || code === 'EISDIR') throw usageError(`Config path ${path} is not a file`);
    throw usageError(`Cannot read config file ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw invalidConfig(path, (err as Error).message);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalidConfig(path, 'it is not a JSON object');
  }
  return parsed as ConfigData;
}

function invalidConfig(path: string, why: string): AnyGenError {
  return usageError(
    `Config file ${path} is not valid JSON (${why}); it was left untouched`,
    `Fix it by hand, or move it away and set your key again: mv ${shellQuote(path)} ${shellQuote(`${path}.broken`)}`,
  );
}

function writeProblem(path: string, err: unknown): AnyGenError {
  const code = (err as { code?: string }).code;
  if (code === 'EACCES' || code === 'EPERM') return usageError(`Cannot write config file ${path}: permission denied`);
  return usageError(`Cannot write config file ${path}: ${(err as Error).message}`);
}

/**
 * Read, change and write the file under the lock. Keys this tool does not know are
 * kept; nothing else is added. The folder is made 0700 and the file written 0600.
 */
export type { LockOptions };

export async function updateConfig(
  path: string,
  change: (data: ConfigData) => void,
  lock?: LockOptions,
): Promise<ConfigData> {
  const dir = dirname(path);
  try {
    makeFolders(dir, 0o700);
  } catch (err) {
    throw writeProblem(path, err);
  }
  const { default: Conf } = await import('conf');
  return withLock(
    path,
    'Config file',
    async () => {
      const data = readConfig(path);
      change(data);
      const store = new Conf<ConfigData>({
        cwd: dir,
        configName: 'config',
        fileExtension: 'json',
        configFileMode: 0o600,
        accessPropertiesByDotNotation: false,
        clearInvalidConfig: false,
        // Two-space JSON, as the Python script writes it.
        serialize: (value) => `${JSON.stringify(value, null, 2)}\n`,
      });
      try {
        store.store = data;
      } catch (err) {
        throw writeProblem(path, err);
      }
      return data;
    },
    lock,
  );
}

export type KeySource = 'flag' | 'env' | 'config';

export interface ResolvedKey {
  key: string;
  source: KeySource;
}

/** Flag, then ANYGEN_API_KEY, then the config file, as the contract says. */
export function resolveApiKey(flag: string | undefined, env: Env, path: string): ResolvedKey | undefined {
  if (flag?.trim()) return { key: flag.trim(), source: 'flag' };
  const fromEnv = env[ENV_API_KEY]?.trim();
  if (fromEnv) return { key: fromEnv, source: 'env' };
  const value = readConfig(path).api_key;
  if (typeof value === 'string' && value.trim()) return { key: value.trim(), source: 'config' };
  return undefined;
}

/** How `config get` shows the key: the first 10 characters, as the Python script does. */
export function maskKey(value: string): string {
  // A key of ten characters or fewer would be shown whole; show less of it instead.
  return value.length > 10
    ? `${value.slice(0, 10)}...`
    : `${value.slice(0, Math.min(3, Math.floor(value.length / 2)))}...`;
}

/** Where a key came from, in words a user recognises. */
export function describeKeySource(source: KeySource, configFile: string): string {
  return { flag: '--api-key', env: ENV_API_KEY, config: configFile }[source];
}

export function missingKeyError(): AnyGenError {
  return new AnyGenError({
    kind: 'auth',
    message: 'No API key found',
    hint: [
      'Give one in any of these ways:',
      '  1. on the command line: --api-key sk-xxx',
      `  2. in the environment: export ${ENV_API_KEY}=sk-xxx`,
      '  3. in the config file: anygen-image config set api_key sk-xxx',
    ].join('\n'),
    sent: false,
  });
}
