/**
 * What every command gets: its IO, the output renderer, the config, a checked key
 * and an authenticated client, all built from the IO value alone. Commands never
 * touch process.*, so tests run them in-process with fake streams and a fake clock.
 */
import type { AnyGenClient } from './client/client.js';
import { ENV_BASE_URL, ENV_WATCHER } from './contract.js';
import { AnyGenError, EXIT, unexpectedError, usageError } from './errors.js';
import { canTravelInHeader, helpHint, parseHeaders, strayWordsHint } from './flags.js';
import type { IO } from './io.js';
import { shellQuote } from './render/format.js';
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

/** What a run learnt that its errors may need: where the key it used came from. */
export interface RunFacts {
  key?: ResolvedKey;
}

export function createContext(io: IO, out: Output, facts: RunFacts = {}): CommandContext {
  let cached: Record<string, unknown> | undefined;
  let history: TaskHistory | undefined;
  const path = configPath(io.env);
  const key = (net: NetworkOptions): ResolvedKey => {
    const resolved = resolveApiKey(net.apiKey, io.env, path);
    if (!resolved) throw missingKeyError();
    out.hide(resolved.key);
    facts.key = resolved;
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
  /** May return an exit code, when the outcome is not all-or-nothing (batch). */
  runner: (ctx: CommandContext) => Promise<unknown>,
  /** How the command was typed (`run`, `config set`), for hints. */
  command = '',
): Promise<number> {
  const out = new Output(io, mode);
  const facts: RunFacts = {};
  const ctx = createContext(io, out, facts);
  try {
    const code = await runner(ctx);
    return typeof code === 'number' ? code : EXIT.ok;
  } catch (err) {
    return out.error(explain(unexpectedError(err), command, facts, ctx.configPath));
  } finally {
    // A detached watcher (see detach.ts) is done, whatever the outcome: no longer watched.
    const watched = io.env[ENV_WATCHER];
    if (watched) await ctx.history.record({ task_id: watched, watcher: null });
  }
}

/** What to do next, for the errors whose own text cannot know it. */
function explain(err: AnyGenError, command: string, facts: RunFacts, path: string): AnyGenError {
  // A flag that is missing or wrong (its message starts with the flag's name).
  if (err.kind === 'usage' && !err.hint && /^-{1,2}\w/.test(err.message)) return err.withHint(helpHint(command));
  // The service refused the key: say which key that was. (No key, or one that cannot be
  // sent, was never sent, and says so itself.)
  if (err.kind === 'auth' && err.sent && facts.key)
    return err.with({ hint: refusedKeyHint(err.hint, facts.key, path, command) });
  return err;
}

/** The hint for a refused key: where it came from and how to test it, then whatever else the error had to say. */
export function refusedKeyHint(hint: string | undefined, key: ResolvedKey, path: string, command: string): string {
  const from = key.source === 'config' ? `the config file ${shellQuote(path)}` : describeKeySource(key.source, path);
  // The transport's generic line is replaced; a task's resume hint is kept.
  const rest = (hint ?? '').split('\n').filter((l) => l !== '' && !l.startsWith('Check your API key'));
  const test = command === 'verify' ? [] : ['Test it with: anygen-image verify'];
  return [`Check your API key (it looks like sk-…): this one came from ${from}.`, ...test, ...rest].join('\n');
}

/** A command line commander could not parse: exit 2, as one line (or one JSON document). */
export function usageFailure(
  io: IO,
  mode: OutputMode,
  failure: { message: string; command: string; textFlag?: string; strayWords?: readonly string[] },
): number {
  const hints = [helpHint(failure.command)];
  if (failure.textFlag && failure.strayWords?.length)
    hints.unshift(strayWordsHint(failure.textFlag, failure.strayWords));
  return new Output(io, mode).error(usageError(failure.message, hints.join('\n')));
}
