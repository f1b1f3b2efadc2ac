import { readFileSync } from 'node:fs';

declare const __ANYGEN_VERSION__: string | undefined;

/** The build stamps the version in; running from source (tests) reads package.json. */
export const VERSION: string =
  typeof __ANYGEN_VERSION__ === 'string'
    ? __ANYGEN_VERSION__
    : (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
