/**
 * Writes the README's `--json` result shapes from the schemas in src/render/results.ts, so
 * the documented fields are the printed ones. `npm run docs` rewrites the section;
 * a unit test fails when the README is out of date.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as z from 'zod/mini';
import { RESULT_COMMANDS, RESULT_SCHEMAS, type ResultKind } from '../src/render/results.js';

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  anyOf?: JsonSchema[];
};

function typeOf(s: JsonSchema): string {
  if (s.anyOf) return s.anyOf.map(typeOf).join(' | ');
  const types = Array.isArray(s.type) ? s.type : s.type ? [s.type] : ['any'];
  return types
    .map((t) => {
      if (t === 'object' && s.properties) {
        const req = new Set(s.required ?? []);
        const fields = Object.entries(s.properties).map(([k, v]) => `${k}${req.has(k) ? '' : '?'}: ${typeOf(v)}`);
        return `{ ${fields.join(', ')} }`;
      }
      if (t === 'object') return 'object';
      if (t === 'array') return `${typeOf(s.items ?? {})}[]`;
      return t;
    })
    .join(' | ');
}

export const START = '<!-- json-shapes:start (npm run docs) -->';
export const END = '<!-- json-shapes:end -->';

export function renderJsonShapes(): string {
  const rows = Object.entries(RESULT_SCHEMAS).map(([kind, schema]) => {
    const command = RESULT_COMMANDS[kind as ResultKind];
    const js = z.toJSONSchema(schema as z.ZodMiniType, { io: 'output', unrepresentable: 'any' }) as JsonSchema;
    const req = new Set(js.required ?? []);
    const fields = Object.entries(js.properties ?? {})
      .map(([k, v]) => `\`${k}${req.has(k) ? '' : '?'}\`: ${typeOf(v).replace(/\|/g, '\\|')}`)
      .join('<br>');
    return `| ${command} | ${fields} |`;
  });
  return [START, '| command | fields after `"success": true` |', '| --- | --- |', ...rows, END].join('\n');
}

export function updateReadme(text: string): string {
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a === -1 || b === -1) throw new Error('README has no json-shapes markers');
  return text.slice(0, a) + renderJsonShapes() + text.slice(b + END.length);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const path = new URL('../README.md', import.meta.url);
  writeFileSync(path, updateReadme(readFileSync(path, 'utf8')));
  console.log('README.md: JSON shapes updated');
}
