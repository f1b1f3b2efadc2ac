/**
 * The sandbox's route table, built once: what a method and path reach, and under
 * which name the request is counted in `stats.byRoute`. Routing only; the
 * handlers are in handlers.ts.
 */
import * as h from './handlers.js';

export interface Route {
  method: string;
  /** Matched against the raw (still percent-encoded) path; captures become the handler's params. */
  pattern: RegExp;
  /** Counted in stats.byRoute under this name; admin routes and pages are not counted. */
  name?: string;
  handler: h.Handler;
}

/** Paths of the contract's API: only these can be hit by queued faults. */
export const API_PREFIX = '/v1/openapi/';

// Tried in order; the first whose method and pattern match wins.
export const ROUTES: readonly Route[] = [
  // Admin routes: not part of the contract, for tests and the benchmark.
  { method: 'GET', pattern: /^\/__sandbox\/state$/, handler: h.adminState },
  { method: 'POST', pattern: /^\/__sandbox\/faults$/, handler: h.adminFaults },
  // What the service's answers point at: file downloads and the task's web page.
  { method: 'GET', pattern: /^\/files\/([^/]+)\/([^/]+)$/, name: 'file', handler: h.file },
  { method: 'GET', pattern: /^\/task\//, handler: h.taskPage },
  // The API (shared/anygen-api.md).
  { method: 'POST', pattern: /^\/v1\/openapi\/files\/upload$/, name: 'upload', handler: h.upload },
  { method: 'POST', pattern: /^\/v1\/openapi\/tasks\/prepare$/, name: 'prepare', handler: h.prepare },
  { method: 'POST', pattern: /^\/v1\/openapi\/tasks$/, name: 'create', handler: h.create },
  { method: 'GET', pattern: /^\/v1\/openapi\/key\/verify$/, name: 'verify', handler: h.verify },
  { method: 'GET', pattern: /^\/v1\/openapi\/tasks\/([^/]+)$/, name: 'task', handler: h.task },
  {
    method: 'POST',
    pattern: /^\/v1\/openapi\/tasks\/([^/]+)\/messages$/,
    name: 'send-message',
    handler: h.sendMessage,
  },
  { method: 'GET', pattern: /^\/v1\/openapi\/tasks\/([^/]+)\/messages$/, name: 'messages', handler: h.messages },
];

export interface RouteMatch {
  route: Route;
  /** The pattern's captures, still percent-encoded. */
  params: string[];
}

/** The route for this method and path, if any. */
export function findRoute(method: string, path: string, table: readonly Route[] = ROUTES): RouteMatch | undefined {
  for (const route of table) {
    if (route.method !== method) continue;
    const m = route.pattern.exec(path);
    if (m) return { route, params: m.slice(1).map((p) => p ?? '') };
  }
  return undefined;
}
