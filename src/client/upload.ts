/**
 * A file to upload, checked before any byte is sent, and streamed as multipart
 * from disk so that a 50 MB reference never sits in memory.
 */
import { randomBytes } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { type AnyGenError, usageError } from '../errors.js';

export const MAX_UPLOAD_BYTES = 50 * 1024 * 1024;

export interface UploadSource {
  path: string;
  name: string;
  size: number;
}

/** Fails with a usage error (nothing sent) for anything that is not a readable, non-empty file ≤ 50 MB. */
export async function checkUploadFile(path: string, maxBytes = MAX_UPLOAD_BYTES): Promise<UploadSource> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch (err) {
    throw fileProblem(path, err);
  }
  if (info.isDirectory()) throw usageError(`${path} is a directory, not a file`);
  if (!info.isFile()) throw usageError(`${path} is not a regular file`);
  if (info.size === 0) throw usageError(`${path} is empty`);
  if (info.size > maxBytes) {
    throw usageError(
      `${path} is ${(info.size / 1024 / 1024).toFixed(1)} MB; files over ${maxBytes / 1024 / 1024} MB are refused`,
      'Reduce the file size and upload again.',
    );
  }
  try {
    // Opening proves we can read it, so a permission problem is reported now, not mid-upload.
    const handle = await open(path, 'r');
    await handle.close();
  } catch (err) {
    throw fileProblem(path, err);
  }
  return { path, name: basename(path), size: info.size };
}

function fileProblem(path: string, err: unknown): AnyGenError {
  const code = (err as { code?: string }).code;
  if (code === 'ENOENT') return usageError(`File not found: ${path}`);
  if (code === 'EACCES' || code === 'EPERM') return usageError(`Cannot read ${path}: permission denied`);
  if (code === 'EISDIR') return usageError(`${path} is a directory, not a file`);
  return usageError(`Cannot read ${path}: ${(err as Error).message}`);
}

/** Quote a value for a Content-Disposition parameter the way browsers do. */
function dispositionValue(value: string): string {
  return value.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** The upload body: the `filename` text part, then the `file` part streamed from disk. */
export function multipartBody(source: UploadSource): {
  stream: AsyncIterable<Uint8Array>;
  length: number;
  contentType: string;
} {
  const boundary = `----anygen-image-${randomBytes(12).toString('hex')}`;
  const name = dispositionValue(source.name);
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="filename"\r\n\r\n${source.name}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n',
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  async function* stream(): AsyncGenerator<Uint8Array> {
    yield head;
    // One buffer, refilled only after the transport has written the previous fill:
    // the file's bytes never pile up in memory waiting for garbage collection.
    const buffer = Buffer.allocUnsafe(64 * 1024);
    const file = await open(source.path, 'r');
    try {
      let sent = 0;
      while (sent < source.size) {
        const { bytesRead } = await file.read(buffer, 0, Math.min(buffer.length, source.size - sent), sent);
        // A file that shrank since it was checked would make the length lie: stop loudly.
        if (bytesRead === 0) throw usageError(`${source.path} changed while it was being uploaded`);
        sent += bytesRead;
        yield buffer.subarray(0, bytesRead);
      }
    } finally {
      await file.close();
    }
    yield tail;
  }
  return {
    stream: stream(),
    length: head.length + source.size + tail.length,
    contentType: `multipart/form-data; boundary=${boundary}`,
  };
}
