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
 */
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
