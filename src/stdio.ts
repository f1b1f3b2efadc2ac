/**
 * Standard output and error as src/bin.ts hands them to commands. Agents and CI read
 * them through pipes and files, and most commands write a few lines: building Node's
 * stream for one (the tty, net and stream modules behind process.stdout) costs 3–5 ms
 * of every start, more than the writing. So a pipe, a file or a socket is written with
 * write(2), and Node's stream is built only when one is needed: for a terminal (the
 * spinner draws on it) or anything else that is not a plain file, once a write would
 * block, and wherever a write(2) could wait on a reader. A pipe handed over by a shell
 * or by Node is blocking, and a process blocked in write(2) runs no signal handler or
 * timer: Ctrl-C, --timeout and polling would wait for the reader. So only the first
 * DIRECT_LIMIT bytes go direct (less than a pipe or socket buffer normally holds), and the
 * commands that run for a while (waits, batches, the MCP server) switch to the stream
 * when they start (`stream()`).
 */
import { fstatSync, writeSync } from 'node:fs';
import type { Sink } from './io.js';

/** Bytes written with write(2) at most: a pipe holds 16 KiB on macOS, 64 KiB on Linux. */
export const DIRECT_LIMIT = 8 * 1024;

export interface FdSinkOptions {
  /** Node's stream for the descriptor, built on first call. */
  open: () => NodeJS.WriteStream;
  /** The reader went away (EPIPE): stdout exits, stderr goes quiet. */
  onBrokenPipe: () => void;
  /** Tests give their own; the default is fs.writeSync. */
  write?: (fd: number, bytes: Buffer, offset: number) => number;
  /** Write directly? By default: when the descriptor is a pipe, a file or a socket. */
  direct?: boolean;
}

export class FdSink implements Sink {
  private readonly fd: number;
  private readonly opts: FdSinkOptions;
  private writing: boolean;
  private broken = false;
  private written = 0;
  private real: NodeJS.WriteStream | undefined;

  constructor(fd: number, opts: FdSinkOptions) {
    this.fd = fd;
    this.opts = opts;
    this.writing = opts.direct ?? isPlainFile(fd);
  }

  /** True while writes go straight to the descriptor (no stream built). */
  get direct(): boolean {
    return this.writing;
  }

  write(text: string | Uint8Array): boolean {
    if (this.broken) return true;
    if (!this.writing) return this.stream().write(text);
    const bytes = typeof text === 'string' ? Buffer.from(text) : Buffer.from(text.buffer, text.byteOffset, text.length);
    this.written += bytes.length;
    if (this.written > DIRECT_LIMIT) return this.stream().write(bytes);
    const write = this.opts.write ?? writeSync;
    let at = 0;
    try {
      while (at < bytes.length) at += write(this.fd, bytes, at);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        // A non-blocking pipe is full: the stream queues the rest, after what was written.
        return this.stream().write(bytes.subarray(at));
      }
      if (code === 'EPIPE') {
        this.broken = true;
        this.opts.onBrokenPipe();
        return true;
      }
      throw err;
    }
  }

  /** Node's stream; every later write goes through it (also: the command runs for a while). */
  stream(): NodeJS.WriteStream {
    this.writing = false;
    this.real ??= this.opts.open();
    return this.real;
  }

  /** Calls back once everything written has been handed to the OS. */
  flush(done: () => void): void {
    if (this.real) this.real.write('', done);
    else done();
  }
}

function isPlainFile(fd: number): boolean {
  try {
    const s = fstatSync(fd);
    return s.isFIFO() || s.isFile() || s.isSocket();
  } catch {
    return false;
  }
}
