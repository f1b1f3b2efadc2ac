/**
 * What every command gets: its IO, the output renderer, the config, a checked key
 * and an authenticated client, all built from the IO value alone. Commands never
 * touch process.*, so tests run them in-process with fake streams and a fake clock.
 */
import type { AnyGenClient } from './client/client.js';
import { ENV_BASE_URL } from './contract.js';
import { AnyGenError, EXIT, unexpectedError, usageError } from './errors.js';
import { canTravelInHeader, parseHeaders } from './flags.js';
import type { IO } from './io.js';
import { Output, type OutputMode, requestLine } from './render/output.js';
import {
  configPath,
  describeKeySource,
  maskKey,
  missingKeyError,
  type ResolvedKey,
  readConfig,
  resolveApiKey,
} from './store/config.js';
import { TaskHistory } from './store/history.js';
import type { WaitEvent } from './wait.js';

/** The flags every command that talks to the service takes. */
export interface NetworkOptions {
  apiKey?: string;
  header?: string[];
}

export interface CommandContext {
  io: IO;
  out: Output;
  configPath: string;
  /** The key for these options, checked; fails with exit 3 when there is none or it cannot be sent. */
  key(net: NetworkOptions): ResolvedKey;
  /**
   * Builds the client; fails with exit 3 when no key can be found. Async because the
   * HTTP stack is loaded only by commands that talk to the service.
   */
  client(net: NetworkOptions): Promise<AnyGenClient>;
  /** Reads the config file (only commands that need it pay for it). */
  config(): Record<string, unknown>;
  /** The task history (off with ANYGEN_NO_HISTORY=1); recording never fails a command. */
  readonly history: TaskHistory;
  /** Told of every event of a wait, besides the progress display (the MCP server relays them). */
  onWaitEvent?: (event: WaitEvent) => void;
}

export function createContext(io: IO, out: Output): CommandContext {
  let cached: Record<string, unknown> | undefined;
  let history: TaskHistory | undefined;
  const path = configPath(io.env);
  const key = (net: NetworkOptions): ResolvedKey => {
    const resolved = resolveApiKey(net.apiKey, io.env, path);
    if (!resolved) throw missingKeyError();
    out.hide(resolved.key);
    // The key travels in a header: one that cannot (a stray character from a copy and
    // paste) would fail on every request. Say so now, without printing it.
    if (!canTravelInHeader(resolved.key.replace(/^Bearer /, ''))) {
      throw new AnyGenError({
        kind: 'auth',
        message: `The API key from ${describeKeySource(resolved.source, path)} contains spaces or characters a key cannot have`,
        hint: 'Copy the key again (it looks like sk-…) and set it once more.',
        sent: false,
      });
    }
    return resolved;
  };
  return {
    io,
    out,
    configPath: path,
    config() {
      cached ??= readConfig(path);
      return cached;
    },
    key,
    get history() {
      history ??= new TaskHistory(io.env, io.now, (text) => out.warn(text));
      return history;
    },
    async client(net: NetworkOptions) {
      const headers = parseHeaders(net.header);
      const [{ baseUrlFrom, isPlainHttpRemote }, { AnyGenClient, userAgent }] = await Promise.all([
        import('./client/base-url.js'),
        import('./client/client.js'),
      ]);
      const baseUrl = baseUrlFrom(io.env);
      const resolved = key(net);
      out.debug(`API key ${maskKey(resolved.key)} from ${describeKeySource(resolved.source, path)}`);
      if (isPlainHttpRemote(baseUrl)) {
        out.info(
          `Warning: ${ENV_BASE_URL} is plain http to ${new URL(baseUrl).host}: the API key travels unencrypted.`,
        );
      }
      return new AnyGenClient({
        baseUrl,
        apiKey: resolved.key,
        headers,
        userAgent: userAgent(io.nodeVersion),
        sleep: io.sleep,
        onRequest: (log) => out.debug(requestLine(log)),
      });
    },
  };
}

/**
 * Runs one command with its context and turns any failure into output and an exit
 * code. Loaded when a command runs, so `--help` and `--version` never pay for it.
 */
export async function runCommand(
  io: IO,
  mode: OutputMode,
  runner: (ctx: CommandContext) => Promise<void>,
): Promise<number> {
  const out = new Output(io, mode);
  try {
    await runner(createContext(io, out));
    return EXIT.ok;
  } catch (err) {
    return out.error(unexpectedError(err));
  }
}

/** A command line commander could not parse: exit 2, as one line (or one JSON document). */
export function usageFailure(io: IO, mode: OutputMode, message: string, hint: string): number {
  return new Output(io, mode).error(usageError(message, hint));
}
