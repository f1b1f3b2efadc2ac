/** Where the API is: ANYGEN_BASE_URL, or AnyGen's own address. */
import { DEFAULT_BASE_URL, ENV_BASE_URL } from '../contract.js';
import { usageError } from '../errors.js';

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

/** Plain http anywhere but this machine sends the key in the clear. */
export function isPlainHttpRemote(baseUrl: string): boolean {
  const base = new URL(baseUrl);
  return base.protocol === 'http:' && !/^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/.test(base.hostname);
}
