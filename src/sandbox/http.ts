/**
 * The HTTP plumbing every sandbox handler shares: errors worded as the service
 * words them, JSON in and out, and the one multipart shape uploads use.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export const MB = 1024 * 1024;

/** A refusal as the service gives it: an HTTP status and a server code (`code`) in the JSON body. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export function badRequest(message: string): HttpError {
  return new HttpError(400, 100004001, message);
}

export function notFound(message: string): HttpError {
  return new HttpError(404, 100004002, message);
}

function tooLarge(maxUpload: number): HttpError {
  // The service names its upload limit whichever body was too large.
  return new HttpError(413, 100004001, `file size exceeds ${Math.round(maxUpload / MB)}MB`);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** The whole body, refused with 413 as soon as it is known to pass `limit` bytes. */
export async function readBody(req: IncomingMessage, limit: number, maxUpload: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) throw tooLarge(maxUpload);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw tooLarge(maxUpload);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export async function readJson(req: IncomingMessage, maxUpload: number): Promise<Record<string, unknown>> {
  const raw = await readBody(req, 4 * MB, maxUpload);
  try {
    const parsed = JSON.parse(raw.toString('utf8')) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as Record<string, unknown>;
  } catch {
    throw badRequest('body must be a JSON object');
  }
}

/** The `file` part (named by the `filename` field when one is sent) of a multipart/form-data body. */
export function parseMultipart(req: IncomingMessage, raw: Buffer, maxUpload: number): { name: string; data: Buffer } {
  const type = req.headers['content-type'] ?? '';
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(type);
  if (!type.startsWith('multipart/form-data') || !boundary) throw badRequest('expected multipart/form-data');
  const delim = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  let file: { name: string; data: Buffer } | undefined;
  let filenameField: string | undefined;
  let pos = raw.indexOf(delim);
  while (pos !== -1) {
    const start = pos + delim.length;
    if (raw.subarray(start, start + 2).toString() === '--') break;
    const headerEnd = raw.indexOf('\r\n\r\n', start);
    const next = raw.indexOf(delim, headerEnd);
    if (headerEnd === -1 || next === -1) break;
    const headers = raw.subarray(start + 2, headerEnd).toString('utf8');
    const data = raw.subarray(headerEnd + 4, next - 2);
    const field = /name="([^"]*)"/.exec(headers)?.[1];
    const filename = /filename="([^"]*)"/.exec(headers)?.[1];
    if (field === 'file') file = { name: filename ?? 'file', data };
    if (field === 'filename') filenameField = data.toString('utf8');
    pos = next;
  }
  if (!file) throw badRequest('the "file" part is required');
  if (file.data.length > maxUpload) throw tooLarge(maxUpload);
  return { name: filenameField ?? file.name, data: file.data };
}
