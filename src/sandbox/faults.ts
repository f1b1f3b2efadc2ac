/**
 * Fault knobs for the sandbox: a small language, the same in `--faults`, in the
 * admin endpoint and in a prompt's `[faults …]`, so one spelling serves tests,
 * the benchmark and anyone trying the CLI by hand.
 *
 *   503        answer 503 (any status 300–599 works; 3xx carries a Location)
 *   503*5      the same five times
 *   429:2      answer 429 with Retry-After: 2
 *   drop       close the connection without an answer
 *   delay:1500 wait 1500 ms, then answer normally
 *   nonjson    answer 200 with an HTML page
 *   empty      answer 200 with an empty body
 *   badshape   answer 200 with JSON of the wrong shape
 *   short      promise more bytes than are sent, then close (API answers and file downloads)
 *   slow:ms    (file downloads) send the body in pieces over about that long
 *
 * The first half parses a spec; the second plays a fault on a response.
 */
import type { ServerResponse } from 'node:http';
import { sendJson } from './http.js';

export type Fault =
  | { type: 'status'; status: number; retryAfter?: number }
  | { type: 'drop' }
  | { type: 'delay'; ms: number }
  | { type: 'nonjson' }
  | { type: 'empty' }
  | { type: 'badshape' }
  | { type: 'short' }
  | { type: 'slow'; ms: number };

export function parseFaults(spec: string): Fault[] {
  const out: Fault[] = [];
  for (const raw of spec.split(/[,\s]+/)) {
    const item = raw.trim();
    if (!item) continue;
    const [body, timesText] = item.split('*') as [string, string | undefined];
    const times = timesText === undefined ? 1 : Number(timesText);
    if (!Number.isInteger(times) || times < 1 || times > 1000) throw new Error(`bad repeat count in fault "${item}"`);
    const fault = parseOne(body);
    for (let i = 0; i < times; i++) out.push(fault);
  }
  return out;
}

function parseOne(item: string): Fault {
  const [name, arg] = item.split(':') as [string, string | undefined];
  const num = arg === undefined ? undefined : Number(arg);
  if (/^\d{3}$/.test(name)) {
    const status = Number(name);
    if (status < 300 || status > 599) throw new Error(`fault status must be 300–599: "${item}"`);
    return num === undefined ? { type: 'status', status } : { type: 'status', status, retryAfter: num };
  }
  switch (name) {
    case 'drop':
    case 'nonjson':
    case 'empty':
    case 'badshape':
    case 'short':
      return { type: name };
    case 'delay':
    case 'slow':
      if (num === undefined || !Number.isFinite(num) || num < 0)
        throw new Error(`"${name}" needs milliseconds: ${name}:500`);
      return { type: name, ms: num };
    default:
      throw new Error(`unknown fault "${item}"`);
  }
}

/** Where a fault is played: `base` for a redirect's Location, `log` to say which fault fired. */
export interface FaultStage {
  base: string;
  log?: ((line: string) => void) | undefined;
}

/**
 * Plays a fault on an API answer; true when it answered (or dropped) instead of the
 * real handler. `shape` is the wrong-shaped JSON a `badshape` fault sends.
 */
export async function applyFault(
  fault: Fault | undefined,
  res: ServerResponse,
  shape: unknown,
  stage: FaultStage,
): Promise<boolean> {
  if (!fault) return false;
  stage.log?.(`  fault: ${JSON.stringify(fault)}`);
  switch (fault.type) {
    case 'status': {
      const headers: Record<string, string> = {};
      if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter);
      if (fault.status < 400) headers.location = `${stage.base}/elsewhere`;
      sendJson(
        res,
        fault.status,
        { success: false, error: `sandbox fault: HTTP ${fault.status}`, code: faultCode(fault.status) },
        headers,
      );
      return true;
    }
    case 'drop':
      res.socket?.destroy();
      return true;
    case 'delay':
      await new Promise((r) => setTimeout(r, fault.ms));
      return res.destroyed;
    case 'nonjson':
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><body>502 Bad Gateway</body></html>');
      return true;
    case 'empty':
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '0' });
      res.end();
      return true;
    case 'badshape':
      sendJson(res, 200, shape);
      return true;
    case 'short':
      // Headers and half an answer, then the connection goes: the request had arrived.
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"success": true, "ta', () => res.socket?.destroy());
      return true;
    default:
      return false;
  }
}

/** Plays a fault on a file download of `data`; true when it answered instead of the plain file. */
export async function applyFileFault(
  fault: Fault | undefined,
  res: ServerResponse,
  data: Buffer,
  stage: FaultStage,
): Promise<boolean> {
  if (fault?.type === 'short') {
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': data.length + 1000 });
    res.write(data.subarray(0, Math.floor(data.length / 2)), () => res.socket?.destroy());
    return true;
  }
  if (fault?.type === 'slow') {
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': data.length });
    const pieces = 20;
    const step = Math.ceil(data.length / pieces);
    for (let i = 0; i < pieces && !res.destroyed; i++) {
      res.write(data.subarray(i * step, (i + 1) * step));
      await new Promise((r) => setTimeout(r, fault.ms / pieces));
    }
    res.end();
    return true;
  }
  return applyFault(fault, res, {}, stage);
}

/** The server code a real answer with this status would carry. */
function faultCode(status: number): number | undefined {
  if (status === 429) return 100004006;
  return status >= 500 ? 100005001 : undefined;
}
