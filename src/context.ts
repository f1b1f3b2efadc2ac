/**
 * What every command receives: its IO, the output renderer, the config path and
 * a way to build an authenticated client. Commands never touch process.* directly,
 * so tests run them in-process with fake streams and a fake clock.
 */
import type { AnyGenClient } from './client/client.js';
import { AnyGenError, usageError } from './client/errors.js';
import {
  configPath,
  DEFAULT_BASE_URL,
  ENV_API_KEY,
  ENV_BASE_URL,
  type KeySource,
  maskKey,
  type ResolvedKey,
  readConfig,
  resolveApiKey,
} from './config.js';
import type { IO, Output } from './output.js';
import type { WaitEvent } from './wait.js';

export interface NetworkOptions {
  apiKey?: string;
  header?: string[];
}

export interface CommandContext {
  io: IO;
  out: Output;
  configPath: string;
  /** The key for these options, checked; fails with exit 3 when there is none or it cannot be sent. */
  key(net: NetworkOptions): ResolvedKey;
  /**
   * Builds the client; fails with exit 3 when no key can be found. Async because the
   * HTTP stack is loaded only by commands that talk to the service.
   */
  client(net: NetworkOptions): Promise<AnyGenClient>;
  /** Reads the config file (only commands that need it pay for it). */
  config(): Record<string, unknown>;
  /** Told of every event of a wait, besides the progress display (the MCP server relays them). */
  onWaitEvent?: (event: WaitEvent) => void;
}

export function baseUrlFrom(env: Record<string, string | undefined>): string {
  const raw = env[ENV_BASE_URL]?.trim() || DEFAULT_BASE_URL;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usageError(`${ENV_BASE_URL} is not a URL: ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw usageError(`${ENV_BASE_URL} must be an http(s) URL, not ${url.protocol}`);
  }
  return raw.replace(/\/+$/, '');
}

// RFC 9110 token characters for header names.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// What an HTTP/1.1 header value may hold (Latin-1 without controls other than tab).
const HEADER_VALUE = /^[\t\u0020-\u007e\u0080-\u00ff]*$/;

/** Headers that the transport owns: a -H that changed them would change what the key or body mean. */
const RESERVED_HEADERS = new Set([
  'authorization',
  'host',
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
]);

/** `-H 'Key: Value'` strings to a header object; malformed or reserved ones are refused. */
export function parseHeaders(list: string[] | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const raw of list ?? []) {
    const colon = raw.indexOf(':');
    if (colon <= 0) throw usageError(`Malformed header ${JSON.stringify(raw)}: expected 'Name: value'`);
    const name = raw.slice(0, colon).trim();
    const value = raw.slice(colon + 1).trim();
    if (!HEADER_NAME.test(name)) throw usageError(`Malformed header name ${JSON.stringify(name)}`);
    if (!HEADER_VALUE.test(value)) {
      throw usageError(`Header ${name} carries control characters or characters that HTTP headers cannot carry`);
    }
    if (RESERVED_HEADERS.has(name.toLowerCase())) {
      throw usageError(
        `-H ${name} is not allowed: anygen-image sets it itself`,
        name.toLowerCase() === 'authorization'
          ? 'Give the key with --api-key, ANYGEN_API_KEY or the config file.'
          : undefined,
      );
    }
    headers[name.toLowerCase()] = value;
  }
  return headers;
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

export function createContext(io: IO, out: Output): CommandContext {
  let cached: Record<string, unknown> | undefined;
  const path = configPath(io.env);
  const key = (net: NetworkOptions): ResolvedKey => {
    const resolved = resolveApiKey(net.apiKey, io.env, path);
    if (!resolved) throw missingKeyError();
    // The key travels in a header: one that cannot (a stray character from a copy and
    // paste) would fail on every request. Say so now, without printing it.
    const bare = resolved.key.replace(/^Bearer /, '');
    if (!HEADER_VALUE.test(bare) || /\s/.test(bare)) {
      throw new AnyGenError({
        kind: 'auth',
        message: `The API key from ${describeKeySource(resolved.source, path)} contains spaces or characters a key cannot have`,
        hint: 'Copy the key again (it looks like sk-…) and set it once more.',
        sent: false,
      });
    }
    return resolved;
  };
  return {
    io,
    out,
    configPath: path,
    config() {
      cached ??= readConfig(path);
      return cached;
    },
    key,
    async client(net: NetworkOptions) {
      const headers = parseHeaders(net.header);
      const baseUrl = baseUrlFrom(io.env);
      const resolved = key(net);
      out.debug(`API key ${maskKey(resolved.key)} from ${describeKeySource(resolved.source, path)}`);
      const base = new URL(baseUrl);
      if (base.protocol === 'http:' && !/^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/.test(base.hostname)) {
        out.info(`Warning: ${ENV_BASE_URL} is plain http to ${base.host}: the API key travels unencrypted.`);
      }
      const { AnyGenClient } = await import('./client/client.js');
      return new AnyGenClient({
        baseUrl,
        apiKey: resolved.key,
        headers,
        onRequest: (log) => {
          const parts = [`${log.method} ${log.url}`];
          parts.push(log.status !== undefined ? `→ ${log.status}` : `→ ${log.error ?? 'failed'}`);
          parts.push(`${log.ms} ms`);
          if (log.requestId) parts.push(`x-request-id: ${log.requestId}`);
          if (log.attempt > 1) parts.push(`try ${log.attempt}`);
          out.debug(parts.join('  '));
        },
      });
    },
  };
}
