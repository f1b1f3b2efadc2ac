/**
 * Content-Encoding for API answers (undici's request does not decode). Loaded only when a
 * compressed answer arrives, so plain answers never load node:zlib.
 */
import { gunzip, inflate, inflateRaw, type ZlibOptions } from 'node:zlib';

type Inflate = (buf: Buffer, opts: ZlibOptions, cb: (err: Error | null, out: Buffer) => void) => void;

/**
 * `raw` with `encodings` (in the order the server applied them) undone. The decoded size
 * is held to `limit` while it is produced, so a small bomb cannot fill memory.
 */
export async function decode(raw: Buffer, encodings: string[], limit: number): Promise<Buffer> {
  let body = raw;
  for (const encoding of [...encodings].reverse()) {
    body = await undo(body, encoding, limit);
  }
  return body;
}

async function undo(body: Buffer, encoding: string, limit: number): Promise<Buffer> {
  let fn: Inflate;
  if (encoding === 'gzip' || encoding === 'x-gzip') fn = gunzip;
  // HTTP's deflate is zlib-wrapped, but some servers send raw deflate: the header tells them apart.
  else if (encoding === 'deflate') fn = hasZlibHeader(body) ? inflate : inflateRaw;
  else throw new Error(`Content-Encoding ${JSON.stringify(encoding.slice(0, 40))} is not supported`);
  try {
    return await new Promise<Buffer>((resolve, reject) =>
      fn(body, { maxOutputLength: limit }, (err, out) => (err ? reject(err) : resolve(out))),
    );
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new Error(`${encoding} answer larger than ${limit} bytes once decoded`);
    }
    throw new Error(`${encoding}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function hasZlibHeader(b: Buffer): boolean {
  if (b.length < 2) return false;
  const cmf = b[0] as number;
  const flg = b[1] as number;
  return (cmf & 0x0f) === 8 && ((cmf << 8) | flg) % 31 === 0;
}
