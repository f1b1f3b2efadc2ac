/** `config set|get|delete|path`: the shared config file, no network. */

import { usageError } from '../errors.js';
import type { CommandContext } from '../factory.js';
import { readStdin } from '../io.js';
import type { HumanLine } from '../render/output.js';
import type { ConfigSetResult } from '../render/results.js';
import { checkConfigKey, maskKey, updateConfig } from '../store/config.js';

function shown(key: string, value: unknown): unknown {
  return key === 'api_key' && typeof value === 'string' ? maskKey(value) : value;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * `config set api_key -`: the key from standard input, so that it stays out of the
 * shell's history. One trailing newline (from `echo` or a file) is dropped.
 */
export function keyFromStdin(text: string): string {
  const key = text.replace(/\r?\n$/, '');
  if (key.trim() === '')
    throw usageError(
      'No API key on standard input',
      'Pipe it in: printf %s "$KEY" | anygen-image config set api_key -',
    );
  if (/[\r\n]/.test(key)) throw usageError('Standard input holds more than one line; the API key is one line');
  return key;
}

/** Keys look like `sk-…`; anything else is stored as asked, with a warning. */
export function keyWarning(key: string): string | undefined {
  if (/^(Bearer )?sk-/.test(key.trim())) return undefined;
  return 'Warning: this does not look like an AnyGen API key (they start with sk-); stored anyway. Check it with: anygen-image verify';
}

export async function set(ctx: CommandContext, { key, value: given }: { key: string; value: string }) {
  const k = checkConfigKey(key);
  const value = k === 'api_key' && given === '-' ? keyFromStdin(await readStdin(ctx.io.stdin)) : given;
  if (k === 'api_key') {
    const warning = keyWarning(value);
    if (warning) ctx.out.info(warning);
  }
  await updateConfig(ctx.configPath, (data) => {
    data[k] = value;
  });
  const result: ConfigSetResult = { key: k, value: text(shown(k, value)), path: ctx.configPath };
  await ctx.out.result('configSet', result, [`Set ${k} = ${result.value}`]);
}

export async function get(ctx: CommandContext, { key }: { key?: string }) {
  const data = ctx.config();
  const values: Record<string, unknown> = {};
  const lines: HumanLine[] = [];
  if (key !== undefined) {
    const k = checkConfigKey(key);
    const v = data[k];
    if (v !== undefined && v !== null && v !== '') values[k] = shown(k, v);
    lines.push(k in values ? `${k} = ${text(values[k])}` : `${k} is not set`);
  } else {
    for (const [k, v] of Object.entries(data)) values[k] = shown(k, v);
    for (const [k, v] of Object.entries(values)) lines.push(`${k} = ${text(v)}`);
    if (lines.length === 0) lines.push('No config set');
  }
  await ctx.out.result('configGet', { path: ctx.configPath, values }, lines);
}

export async function remove(ctx: CommandContext, { key }: { key: string }) {
  const k = checkConfigKey(key);
  let deleted = false;
  if (k in ctx.config()) {
    await updateConfig(ctx.configPath, (data) => {
      deleted = k in data;
      delete data[k];
    });
  }
  await ctx.out.result('configDelete', { key: k, deleted, path: ctx.configPath }, [
    deleted ? `Deleted ${k}` : `${k} was not set`,
  ]);
}

export async function path(ctx: CommandContext) {
  await ctx.out.result('configPath', { path: ctx.configPath }, [`Config file: ${ctx.configPath}`]);
}
