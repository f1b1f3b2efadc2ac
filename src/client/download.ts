/**
 * Downloads from the file host. URLs and names come from the network, so they are
 * untrusted: https only (or the API's own origin, which is how the sandbox serves
 * files), no private, loopback or link-local address, every redirect re-checked,
 * a safe base name, no key ever sent, and a file that appears under its final name
 * only when complete and never over an existing one.
 */
import { randomBytes } from 'node:crypto';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { createWriteStream } from 'node:fs';
import { link, mkdir, stat, unlink } from 'node:fs/promises';
import { isIP } from 'node:net';
import { basename, extname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { trackTemp, untrackTemp } from '../cleanup.js';
import { AnyGenError, usageError } from './errors.js';
import { send } from './http.js';

const MAX_REDIRECTS = 5;

/** Is this IP address one that a file from the internet has no business coming from? */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) {
    const [a = 0, b = 0] = address.split('.').map(Number);
    return (
      a === 0 ||
      a === 10 ||
      a === 127 ||
      (a === 100 && b >= 64 && b <= 127) ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 192 && b === 0) ||
      (a === 198 && (b === 18 || b === 19)) ||
      a >= 224
    );
  }
  if (family === 6) {
    const lower = address.toLowerCase();
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
    if (mapped) return isPrivateAddress(mapped[1] as string);
    if (lower === '::' || lower === '::1') return true;
    const first = Number.parseInt(lower.split(':')[0] || '0', 16);
    return (
      (first & 0xfe00) === 0xfc00 || // unique local fc00::/7
      (first & 0xffc0) === 0xfe80 || // link-local fe80::/10
      (first & 0xff00) === 0xff00 // multicast
    );
  }
  return true;
}

export interface UrlPolicy {
  /** The API origin: files served from it (the sandbox) are trusted like the API. */
  trustedOrigin: string;
}

/** Throws unless the URL may be fetched. DNS names are checked again at connect time. */
export function checkDownloadUrl(raw: string, policy: UrlPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refused(`not a valid URL: ${JSON.stringify(raw.slice(0, 200))}`);
  }
  if (url.origin === policy.trustedOrigin) return url;
  if (url.protocol !== 'https:')
    throw refused(`only https downloads are allowed, not ${url.protocol.replace(':', '')} (${url.origin})`);
  if (url.username || url.password) throw refused('a download URL may not carry credentials');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) && isPrivateAddress(host)) throw refused(`${host} is a private, loopback or link-local address`);
  if (host === 'localhost' || host.endsWith('.localhost')) throw refused(`${host} is a loopback name`);
  return url;
}

function refused(why: string): AnyGenError {
  return new AnyGenError({ kind: 'protocol', message: `Download refused: ${why}`, retryable: false, sent: false });
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A DNS lookup that refuses names resolving to private addresses (no rebinding past the check). */
function safeLookup(hostname: string, options: { all?: boolean; family?: number }, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, []);
    const bad = addresses.find((a) => isPrivateAddress(a.address));
    if (bad) {
      const e = new Error(
        `${hostname} resolves to ${bad.address}, a private, loopback or link-local address`,
      ) as NodeJS.ErrnoException;
      e.code = 'EPRIVATEADDR';
      return callback(e, []);
    }
    if (options.all) return callback(null, addresses);
    const first = addresses[0];
    if (!first) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), []);
    return callback(null, first.address, first.family);
  });
}

const UNSAFE_NAME = /[\u0000-\u001f\u007f-\u009f/\\:*?"<>|]/g;

/** A name that can only ever be a plain file inside the output folder. */
export function safeFileName(name: string | null | undefined, fallback: string): string {
  let base = (name ?? '').split(/[/\\]/).pop() ?? '';
  base = base
    .replace(UNSAFE_NAME, '_')
    .replace(/^[.\s]+/, '')
    .trim();
  if (base.length > 200) {
    const ext = extname(base).slice(0, 16);
    base = base.slice(0, 200 - ext.length) + ext;
  }
  if (!base || /^\.+$/.test(base)) return fallback;
  return base;
}

export interface DownloadOptions {
  url: string;
  name?: string | null | undefined;
  outputDir: string;
  policy: UrlPolicy;
  userAgent: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface Downloaded {
  path: string;
  url: string;
  bytes: number;
}

export async function downloadFile(opts: DownloadOptions): Promise<Downloaded> {
  await prepareDir(opts.outputDir);
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const timer = new AbortController();
  const timeout = setTimeout(() => timer.abort(), timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timer.signal]) : timer.signal;
  const fallbackName = safeFileName(basename(safeUrlPath(opts.url)), 'output');
  const name = safeFileName(opts.name, fallbackName);
  const temp = join(opts.outputDir, `.${name}.${randomBytes(6).toString('hex')}.part`);
  trackTemp(temp);
  try {
    let url = checkDownloadUrl(opts.url, opts.policy);
    for (let hop = 0; ; hop++) {
      const trusted = url.origin === opts.policy.trustedOrigin;
      const res = await send({
        url,
        method: 'GET',
        // Only these: never an Authorization header, never the key.
        headers: { 'user-agent': opts.userAgent, accept: '*/*' },
        signal,
        ...(trusted ? {} : { lookup: safeLookup as never }),
      });
      if (res.status >= 300 && res.status < 400 && res.headers.location) {
        res.body.resume();
        if (hop >= MAX_REDIRECTS) throw refused(`more than ${MAX_REDIRECTS} redirects`);
        const next = new URL(String(res.headers.location), url).toString();
        url = checkDownloadUrl(next, opts.policy);
        continue;
      }
      if (res.status !== 200) {
        res.body.resume();
        throw new AnyGenError({
          kind: res.status >= 500 ? 'api_error' : 'not_found',
          message: `Download of ${name} failed: HTTP ${res.status} from ${url.origin}`,
          status: res.status,
          retryable: res.status >= 500,
        });
      }
      const declared = res.headers['content-length'] === undefined ? undefined : Number(res.headers['content-length']);
      let bytes = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _enc, done) {
          bytes += chunk.length;
          done(null, chunk);
        },
      });
      await pipeline(res.body, counter, createWriteStream(temp, { flags: 'wx', mode: 0o644 }), { signal });
      if (declared !== undefined && bytes !== declared) {
        throw new AnyGenError({
          kind: 'network',
          message: `Download of ${name} was cut short: ${bytes} of ${declared} bytes arrived`,
          retryable: true,
        });
      }
      const path = await placeWithoutOverwrite(temp, opts.outputDir, name);
      return { path, url: url.toString(), bytes };
    }
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw downloadError(err, name, opts.signal, timer.signal.aborted, timeoutMs);
  } finally {
    untrackTemp(temp);
    clearTimeout(timeout);
  }
}

function safeUrlPath(raw: string): string {
  try {
    return decodeURIComponent(new URL(raw).pathname);
  } catch {
    return '';
  }
}

async function prepareDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw usageError(`Cannot use output folder ${dir}: ${(err as Error).message}`);
  }
  const info = await stat(dir);
  if (!info.isDirectory()) throw usageError(`Output folder ${dir} is not a folder`);
}

/** Link the finished temp file to `name`, `name_1`, …: link() fails rather than replace. */
async function placeWithoutOverwrite(temp: string, dir: string, name: string): Promise<string> {
  const ext = extname(name);
  const stem = name.slice(0, name.length - ext.length);
  for (let i = 0; i < 10_000; i++) {
    const candidate = join(dir, i === 0 ? name : `${stem}_${i}${ext}`);
    try {
      await link(temp, candidate);
      await unlink(temp);
      return candidate;
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') throw err;
    }
  }
  throw usageError(`Too many files named like ${name} in ${dir}`);
}

function downloadError(
  err: unknown,
  name: string,
  signal: AbortSignal | undefined,
  timedOut: boolean,
  timeoutMs: number,
): AnyGenError {
  if (err instanceof AnyGenError) return err;
  if (signal?.aborted)
    return new AnyGenError({ kind: 'interrupted', message: `Interrupted while downloading ${name}` });
  if (timedOut) {
    return new AnyGenError({
      kind: 'timeout',
      message: `Download of ${name} took longer than ${timeoutMs / 1000} s`,
      retryable: true,
    });
  }
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EPRIVATEADDR') return refused(e.message);
  if (e.code === 'EACCES' || e.code === 'EROFS' || e.code === 'ENOSPC') {
    return usageError(`Cannot write ${name}: ${e.message}`);
  }
  return new AnyGenError({ kind: 'network', message: `Download of ${name} failed: ${e.message}`, retryable: true });
}
