import { usageError } from './errors.js';

/**
 * What a command may know of the process it runs in. Only src/bin.ts builds the real
 * one; tests build theirs, with captured streams and a virtual clock.
 */
export interface Sink {
  write(text: string): unknown;
}

export interface IO {
  stdout: Sink;
  stderr: Sink;
  /** Is stderr a terminal (spinner) or a pipe/file (plain lines and heartbeats)? */
  stderrIsTTY: boolean;
  /** stdout's width in columns when it is a terminal (help is wrapped to it). */
  stdoutColumns?: number | undefined;
  /** stderr's width in columns; 0 when unknown (a pseudo-terminal that reports none). */
  stderrColumns?: number;
  stdin?: NodeJS.ReadableStream;
  /**
   * The command will run for a while (a wait, a batch, a server): from here on stdout
   * and stderr go through Node's streams, so that a reader that stops reading never
   * holds off signals and timers (src/stdio.ts).
   */
  runningLong?: () => void;
  env: Record<string, string | undefined>;
  now: () => number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Fires on Ctrl-C or SIGTERM. */
  signal: AbortSignal;
  /** The running Node.js version, for the User-Agent. */
  nodeVersion?: string;
  /**
   * Starts this CLI again with `args` as a detached background process (its own session,
   * so a terminal's hang-up does not reach it), output appended to `log`; returns its PID.
   */
  spawnSelf?: (args: string[], env: Record<string, string | undefined>, log: string) => Promise<number>;
  /** Is a process with this PID still running? */
  isAlive?: (pid: number) => boolean;
}

/** All of standard input as text ('' when there is none). */
export async function readStdin(stream: NodeJS.ReadableStream | undefined): Promise<string> {
  if (!stream) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A message given with --message, or on standard input with --stdin (never both):
 * undefined when neither was given. Standard input spares the shell's quoting.
 */
export async function messageOption(
  opts: { message?: string | undefined; stdin?: boolean | undefined },
  stdin: NodeJS.ReadableStream | undefined,
): Promise<string | undefined> {
  if (!opts.stdin) return opts.message;
  if (opts.message !== undefined) throw usageError('Give the message with --message or --stdin, not both');
  return (await readStdin(stdin)).trim();
}
