/**
 * Downloads from the file host. URLs and names come from the network, so they are
 * untrusted: https only (or the API's own origin, which is how the sandbox serves
 * files), no private, loopback or link-local address, every redirect re-checked,
 * a safe base name, no key ever sent, and a file that appears under its final name
 * only when complete and never over an existing one.
 */

import { randomBytes } from 'node:crypto';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { createWriteStream, constants as fsConstants } from 'node:fs';
import { copyFile, link, stat, unlink } from 'node:fs/promises';
import { isIP, type LookupFunction } from 'node:net';
import { basename, extname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AnyGenError, usageError } from '../errors.js';
import { BIDI_CONTROLS } from '../render/output.js';
import { makeFolders } from '../store/atomic.js';
import { trackTemp, untrackTemp } from '../store/cleanup.js';
import { type AddressGuard, deadline, send } from './http.js';

const MAX_REDIRECTS = 5;
const MAX_NAME_BYTES = 200;
/** Larger than any image; a host streaming more is not sending one. */
const MAX_DOWNLOAD_BYTES = 1024 * 1024 * 1024;

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
    // IPv4 inside IPv6 in any spelling: URLs print ::ffff:127.0.0.1 as ::ffff:7f00:1.
    const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = ipv6Groups(address);
    const v4 = (hi: number, lo: number) => [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
    // ::ffff:0:0/96 (mapped) and ::/96 (compatible, also :: and ::1).
    if (g0 + g1 + g2 + g3 + g4 === 0 && (g5 === 0xffff || g5 === 0)) return isPrivateAddress(v4(g6, g7));
    // 64:ff9b::/96 (NAT64) carries an IPv4 address; the rest of 64:ff9b::/32 is local use.
    if (g0 === 0x64 && g1 === 0xff9b) return g2 + g3 + g4 + g5 === 0 ? isPrivateAddress(v4(g6, g7)) : true;
    // 2002::/16 (6to4) carries one in its second and third groups.
    if (g0 === 0x2002) return isPrivateAddress(v4(g1, g2));
    const first = g0;
    return (
      (first & 0xfe00) === 0xfc00 || // unique local fc00::/7
      (first & 0xffc0) === 0xfe80 || // link-local fe80::/10
      (first & 0xffc0) === 0xfec0 || // site-local fec0::/10
      (first & 0xff00) === 0xff00 // multicast
    );
  }
  return true;
}

/** The eight 16-bit groups of a valid IPv6 address (a trailing dotted IPv4 and a zone allowed). */
function ipv6Groups(address: string): number[] {
  let text = address.toLowerCase().replace(/%.*$/, '');
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((x) => Number.parseInt(x, 16));
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
    if (bad) return callback(privateAddress(hostname, bad.address), []);
    if (options.all) return callback(null, addresses);
    const first = addresses[0];
    if (!first) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), []);
    return callback(null, first.address, first.family);
  });
}

function privateAddress(hostname: string, address: string): NodeJS.ErrnoException {
  const e = new Error(
    `${hostname} resolves to ${address}, a private, loopback or link-local address`,
  ) as NodeJS.ErrnoException;
  e.code = 'EPRIVATEADDR';
  return e;
}

/**
 * Connections to hosts other than the API's: refused before connecting when DNS gives a
 * private address, and after connecting when the socket reached one anyway (a proxy
 * or resolver doing something else): no rebinding past the URL check.
 */
const UNTRUSTED_HOST: AddressGuard = {
  lookup: safeLookup as LookupFunction,
  check: (address, hostname) => (isPrivateAddress(address) ? privateAddress(hostname, address) : undefined),
};

const UNSAFE_NAME = /[\u0000-\u001f\u007f-\u009f/\\:*?"<>|]/g;
/** Names Windows opens as devices, whatever the case and whatever extension follows. */
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[1-9\u00b9\u00b2\u00b3]|lpt[1-9\u00b9\u00b2\u00b3])\s*(\.|$)/i;

/**
 * A name that can only ever be a plain file inside the output folder, on any system:
 * no path, no control or bidirectional characters (`invoice\u202Egnp.exe` would read as
 * `invoiceexe.png`), no device name, no trailing dot or space (Windows drops them),
 * and short enough for every file system.
 */
export function safeFileName(name: string | null | undefined, fallback: string): string {
  let base = (name ?? '').split(/[/\\]/).pop() ?? '';
  base = trimEnds(base.replace(BIDI_CONTROLS, '').replace(UNSAFE_NAME, '_'));
  // File systems limit names to 255 bytes, and the temporary name adds ~20: cut by bytes,
  // on a character boundary, keeping the extension.
  if (Buffer.byteLength(base) > MAX_NAME_BYTES) {
    const ext = Array.from(extname(base)).slice(0, 16).join('');
    let stem = Array.from(base.slice(0, base.length - ext.length))
      .slice(0, MAX_NAME_BYTES)
      .join('');
    while (Buffer.byteLength(stem + ext) > MAX_NAME_BYTES) stem = Array.from(stem).slice(0, -1).join('');
    base = trimEnds(stem) ? trimEnds(stem) + ext : '';
  }
  if (!base || /^\.+$/.test(base)) return fallback;
  if (WINDOWS_DEVICE.test(base)) return `_${base}`;
  return base;
}

/** No leading dots (hidden files) or spaces, no trailing dots or spaces. */
function trimEnds(name: string): string {
  return name.replace(/^[.\s]+/, '').replace(/[.\s]+$/, '');
}

/** `poster.png` + `_v2` → `poster_v2.png`; a name without an extension gets it at the end. */
export function withSuffix(name: string, suffix: string | undefined): string {
  if (!suffix) return name;
  const ext = extname(name);
  return ext && ext !== name ? `${name.slice(0, -ext.length)}${suffix}${ext}` : `${name}${suffix}`;
}

export interface DownloadOptions {
  url: string;
  name?: string | null | undefined;
  outputDir: string;
  policy: UrlPolicy;
  userAgent: string;
  timeoutMs?: number;
  /** Refuse a body larger than this (default 1 GiB). */
  maxBytes?: number;
  signal?: AbortSignal;
  /** Put before the extension (`_v2`: `poster_v2.png`), so a revision never passes for the original. */
  suffix?: string;
}

export interface Downloaded {
  path: string;
  url: string;
  bytes: number;
}

export async function downloadFile(opts: DownloadOptions): Promise<Downloaded> {
  await prepareDir(opts.outputDir);
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const maxBytes = opts.maxBytes ?? MAX_DOWNLOAD_BYTES;
  const limit = deadline(timeoutMs, opts.signal);
  const { signal } = limit;
  const fallbackName = safeFileName(basename(safeUrlPath(opts.url)), 'output');
  const name = withSuffix(safeFileName(opts.name, fallbackName), opts.suffix);
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
        ...(trusted ? {} : { guard: UNTRUSTED_HOST }),
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
          kind: res.status >= 500 ? 'server_error' : 'not_found',
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
          if (bytes > maxBytes) {
            done(refused(`${name} is larger than ${maxBytes} bytes`));
            return;
          }
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
    throw downloadError(err, name, opts.signal, limit.expired, timeoutMs);
  } finally {
    untrackTemp(temp);
    limit.clear();
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
  let isDir: boolean;
  try {
    makeFolders(dir);
    isDir = (await stat(dir)).isDirectory();
  } catch (err) {
    throw usageError(`Cannot use output folder ${dir}: ${(err as Error).message}`);
  }
  if (!isDir) throw usageError(`Output folder ${dir} is not a folder`);
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
      const code = (err as { code?: string }).code;
      if (code === 'EEXIST') continue;
      // File systems without hard links (FAT, some network mounts): an exclusive copy
      // gives the same promise, never replacing a file that is there.
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') throw err;
      try {
        await copyFile(temp, candidate, fsConstants.COPYFILE_EXCL);
        await unlink(temp);
        return candidate;
      } catch (copyErr) {
        if ((copyErr as { code?: string }).code !== 'EEXIST') throw copyErr;
      }
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
