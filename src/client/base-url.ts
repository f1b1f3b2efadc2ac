/** Where the API is: ANYGEN_BASE_URL, or AnyGen's own address. */
import { DEFAULT_BASE_URL, ENV_BASE_URL } from '../contract.js';
import { usageError } from '../errors.js';

/** A URL as it may be shown: `user:pass@` (or `token@`) becomes `***@`, the rest is kept. */
export function maskCredentials(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/?#\s]*@/i, '$1***@');
}

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d*)?$/i;

export function baseUrlFrom(env: Record<string, string | undefined>): string {
  const raw = env[ENV_BASE_URL]?.trim() || DEFAULT_BASE_URL;
  const shown = JSON.stringify(maskCredentials(raw));
  // `localhost:8787` parses as a URL whose scheme is `localhost:`; `www.anygen.io` does not
  // parse at all. Both lack `scheme://`, and the fix is to add it.
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
    const bare = maskCredentials(raw);
    const host = bare.replace(/^[^@/]*@/, '').split('/')[0] ?? '';
    throw usageError(
      `${ENV_BASE_URL} has no scheme: ${shown}`,
      LOOPBACK.test(host)
        ? `Add one: ${ENV_BASE_URL}=http://${bare}`
        : `Add one: ${ENV_BASE_URL}=https://${bare} (or http://${bare} for a server without TLS)`,
    );
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usageError(`${ENV_BASE_URL} is not a URL: ${shown}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw usageError(`${ENV_BASE_URL} must be an http(s) URL, not ${url.protocol} (${shown})`);
  }
  // The client adds /v1/openapi/… itself: a base copied from an endpoint's address
  // (`…/v1` or `…/v1/openapi`) means the same service, so it is taken as that.
  return raw.replace(/\/+$/, '').replace(/\/v1(\/openapi)?$/i, '');
}

/** Plain http anywhere but this machine sends the key in the clear. */
export function isPlainHttpRemote(baseUrl: string): boolean {
  const base = new URL(baseUrl);
  return base.protocol === 'http:' && !/^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/.test(base.hostname);
}
