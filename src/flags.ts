/**
 * Checks for what users type: numbers, seconds, required text, -H headers. Each
 * failure is a usage error (exit 2) that names the flag.
 */
import { usageError } from './errors.js';
import { shellQuote } from './render/format.js';
import { DEFAULT_INTERVAL_MS, DEFAULT_TIMEOUT_MS } from './wait.js';

export function intOption(name: string, value: string | undefined, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  const text = String(value).trim();
  if (!/^-?\d+$/.test(text)) throw usageError(`${name} must be a whole number, not ${JSON.stringify(value)}`);
  const n = Number(text);
  if (n < min || n > max) throw usageError(`${name} must be between ${min} and ${max}, not ${n}`);
  return n;
}

/** Seconds, possibly fractional, for --timeout and --interval. */
export function secondsOption(
  name: string,
  value: string | undefined,
  min: number,
  max: number,
  fallbackMs: number,
): number {
  if (value === undefined) return fallbackMs;
  const text = String(value).trim();
  if (!/^\d+(\.\d+)?$/.test(text))
    throw usageError(`${name} must be a number of seconds, not ${JSON.stringify(value)}`);
  const n = Number(text);
  if (n < min) throw usageError(`${name} must be at least ${min} second${min === 1 ? '' : 's'}, not ${n}`);
  if (n > max) throw usageError(`${name} must be at most ${max} seconds, not ${n}`);
  return Math.round(n * 1000);
}

export interface WaitFlags {
  timeout?: string;
  interval?: string;
}

export interface WaitTimes {
  intervalMs: number;
  timeoutMs: number;
}

export function waitTimes(flags: WaitFlags): WaitTimes {
  return {
    // Caps keep every wait within what a timer can hold (about 24 days).
    intervalMs: secondsOption('--interval', flags.interval, 1, 3600, DEFAULT_INTERVAL_MS),
    timeoutMs: secondsOption('--timeout', flags.timeout, 1, 7 * 86_400, DEFAULT_TIMEOUT_MS),
  };
}

/** A flag that must be given and not blank; the error names the flag. */
export function requireText(name: string, value: string | undefined): string {
  if (value === undefined || value.trim() === '') throw usageError(`${name} is required and may not be empty`);
  return value;
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

/** Can this travel as an HTTP header value (the key does), with no white space in it? */
export function canTravelInHeader(value: string): boolean {
  return HEADER_VALUE.test(value) && !/\s/.test(value);
}

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

/** Where a usage error sends the user: the help of the command they typed. */
export function helpHint(command: string): string {
  return `Run ${['anygen-image', command, '--help'].filter(Boolean).join(' ')} for usage.`;
}

/**
 * Words typed where a flag was expected (`run "A cat"`, or `run A cat` unquoted) shown
 * as that flag, quoted for the shell. A word that looks like a key is not echoed.
 */
export function strayWordsHint(flag: string, words: readonly string[]): string {
  const text = words.join(' ');
  const shown = /^(Bearer )?sk-/.test(text.trim()) ? '…' : shellQuote(text);
  return `Flags come before their values: did you mean ${flag} ${shown}?`;
}
