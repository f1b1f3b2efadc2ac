/**
 * A batch's input: JSON Lines (one item per line), a `.txt` file (one prompt per
 * line) or standard input (`-`). Every line is checked before anything is sent, and
 * every problem is reported with its line number at once, so a 500-line file is not
 * fixed one error per run.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, resolve } from 'node:path';
import { checkUploadFile } from '../client/upload.js';
import { normalizeLanguage, normalizeOperation } from '../commands/create.js';
import { AnyGenError, usageError } from '../errors.js';

export interface BatchItem {
  id: string;
  /** 1-based line of the input it came from. */
  line: number;
  prompt: string;
  operation: string;
  language?: string;
  exportFormat?: string;
  fileTokens: string[];
  /** Absolute paths of local files to upload and attach. */
  files: string[];
  /** A digest of what the item asks for: a state entry for the same id must match it. */
  hash: string;
}

export interface BatchInput {
  /** What the state file records to tell inputs apart: the file's base name, or `-`. */
  name: string;
  /** The input as the user named it, for messages. */
  label: string;
  items: BatchItem[];
}

const FIELDS = new Set(['id', 'prompt', 'operation', 'language', 'export_format', 'file_tokens', 'files']);
/** Ids become file names (`<id>.png`): nothing that could leave the folder or hide a file. */
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
/** Most problems one error message lists; the count says how many more there are. */
const MAX_LISTED = 20;

export interface InputSource {
  /** A path, or `-` for standard input. */
  file: string;
  stdin?: NodeJS.ReadableStream | undefined;
  /** The config's default language, applied to items that name none. */
  defaultLanguage?: string | undefined;
}

export async function readBatchInput(src: InputSource): Promise<BatchInput> {
  const fromStdin = src.file === '-';
  const text = fromStdin ? await readStdin(src.stdin) : await readInputFile(src.file);
  const label = fromStdin ? 'standard input' : src.file;
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const firstLine = lines.find((l) => l.trim() !== '')?.trim();
  // A .txt file is prompts; standard input is JSON Lines when it looks like it.
  const asText = fromStdin ? firstLine !== undefined && !firstLine.startsWith('{') : extname(src.file) === '.txt';
  // `files` paths are relative to the input file, so the input can be run from anywhere.
  const base = fromStdin ? resolve() : dirname(resolve(src.file));

  const problems: string[] = [];
  const items: BatchItem[] = [];
  const seen = new Map<string, number>();
  for (const [i, raw] of lines.entries()) {
    const line = i + 1;
    if (raw.trim() === '') continue;
    try {
      const item = asText ? textItem(raw, line) : jsonItem(raw, line, base, src.defaultLanguage);
      const earlier = seen.get(item.id);
      if (earlier !== undefined) {
        throw usageError(
          `id ${JSON.stringify(item.id)} is already used on line ${earlier}` +
            (asText ? ' (the same prompt twice?)' : ' (give each item its own "id")'),
        );
      }
      seen.set(item.id, line);
      items.push(item);
    } catch (err) {
      problems.push(`line ${line}: ${err instanceof AnyGenError ? err.message : String(err)}`);
    }
  }

  // Each distinct file is checked once (exists, is a file, readable, ≤ 50 MB), and every
  // line naming a bad one is reported.
  const checked = new Map<string, string | undefined>();
  for (const item of items) {
    for (const path of item.files) {
      if (!checked.has(path)) {
        checked.set(
          path,
          await checkUploadFile(path).then(
            () => undefined,
            (err: unknown) => (err instanceof AnyGenError ? err.message : String(err)),
          ),
        );
      }
      const problem = checked.get(path);
      if (problem) problems.push(`line ${item.line}: files: ${problem}`);
    }
  }

  if (problems.length > 0) {
    problems.sort((a, b) => lineOf(a) - lineOf(b));
    const listed = problems.slice(0, MAX_LISTED);
    if (problems.length > MAX_LISTED) listed.push(`… and ${problems.length - MAX_LISTED} more`);
    throw usageError(
      `${label}: ${problems.length} invalid line${problems.length === 1 ? '' : 's'}; nothing was sent`,
      listed.join('\n'),
    );
  }
  if (items.length === 0) throw usageError(`${label} holds no items`);
  return { name: fromStdin ? '-' : basename(src.file), label, items };
}

function lineOf(problem: string): number {
  return Number(/^line (\d+)/.exec(problem)?.[1] ?? 0);
}

async function readInputFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT') throw usageError(`Batch file not found: ${file}`);
    if (code === 'EISDIR') throw usageError(`${file} is a directory, not a batch file`);
    if (code === 'EACCES' || code === 'EPERM') throw usageError(`Cannot read ${file}: permission denied`);
    throw usageError(`Cannot read ${file}: ${(err as Error).message}`);
  }
}

async function readStdin(stdin: NodeJS.ReadableStream | undefined): Promise<string> {
  if (!stdin) throw usageError('No standard input to read the batch from');
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

function digest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

function textItem(raw: string, line: number): BatchItem {
  const prompt = raw.trim();
  const what = { prompt, operation: 'ai_designer' };
  const hash = digest(what);
  return { id: hash.slice(0, 12), line, prompt, operation: 'ai_designer', fileTokens: [], files: [], hash };
}

function jsonItem(raw: string, line: number, base: string, defaultLanguage: string | undefined): BatchItem {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw usageError('not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw usageError('expected a JSON object such as {"prompt": "…"}');
  }
  const obj = value as Record<string, unknown>;
  const unknown = Object.keys(obj).filter((k) => !FIELDS.has(k));
  if (unknown.length > 0) {
    throw usageError(
      `unknown field${unknown.length === 1 ? '' : 's'} ${unknown.map((k) => JSON.stringify(k)).join(', ')}`,
    );
  }
  if (typeof obj.prompt !== 'string' || obj.prompt.trim() === '') throw usageError('"prompt" is missing or empty');
  const prompt = obj.prompt.trim();
  if (obj.operation !== undefined && typeof obj.operation !== 'string')
    throw usageError('"operation" must be a string');
  const operation = normalizeOperation(obj.operation as string | undefined);
  const language =
    obj.language !== undefined
      ? normalizeLanguage(obj.language, '"language"')
      : normalizeLanguage(defaultLanguage, 'default_language');
  if (obj.export_format !== undefined && (typeof obj.export_format !== 'string' || obj.export_format.trim() === '')) {
    throw usageError('"export_format" must be a non-empty string');
  }
  const exportFormat = (obj.export_format as string | undefined)?.trim();
  const fileTokens = stringList(obj.file_tokens, 'file_tokens');
  const files = stringList(obj.files, 'files').map((p) => resolve(base, p));
  // The hash covers what the item asks for as written (not the config's default), so an
  // id stays the same whoever runs it.
  const hash = digest({
    prompt,
    operation,
    language: obj.language ?? null,
    export_format: exportFormat ?? null,
    file_tokens: fileTokens,
    files: stringList(obj.files, 'files'),
  });
  let id = hash.slice(0, 12);
  if (obj.id !== undefined) {
    if (typeof obj.id !== 'string' || !ID.test(obj.id)) {
      throw usageError(
        `"id" ${JSON.stringify(obj.id)} is not usable as a file name: letters, digits, ".", "_" and "-", ` +
          'starting with a letter or digit, at most 100 characters',
      );
    }
    id = obj.id;
  }
  return {
    id,
    line,
    prompt,
    operation,
    ...(language ? { language } : {}),
    ...(exportFormat ? { exportFormat } : {}),
    fileTokens,
    files,
    hash,
  };
}

function stringList(value: unknown, field: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v.trim() !== '')) {
    throw usageError(`"${field}" must be a list of non-empty strings`);
  }
  return value.map((v: string) => v.trim());
}
