/**
 * The MCP server behind `anygen-image mcp`: the tool table of tools.ts served over
 * stdio with the official SDK. Each call runs the CLI's own command code with a
 * context of its own: its IO carries the call's abort signal, its output captures the
 * result instead of printing it, and its waits report to the caller's progress token.
 * stdout is the protocol's alone; everything else goes to stderr.
 */
import type { Readable, Writable } from 'node:stream';
import type * as zt from 'zod/mini';
import { baseUrlFrom } from '../client/base-url.js';
import type { AnyGenClient } from '../client/client.js';
import { interrupted, unexpectedError, usageError } from '../errors.js';
import { type CommandContext, createContext, type NetworkOptions } from '../factory.js';
import { parseHeaders, waitTimes } from '../flags.js';
import type { IO } from '../io.js';
import { type HumanLine, Output } from '../render/output.js';
import { RESULT_SCHEMAS, type ResultKind, type ResultOf } from '../render/results.js';
import { VERSION } from '../version.js';
import type { WaitEvent } from '../wait.js';
import {
  CallToolRequestSchema,
  type CallToolResult,
  ListToolsRequestSchema,
  type Tool as McpTool,
  Server,
  type ServerNotification,
  StdioServerTransport,
  z,
} from './sdk.js';
import { TOOLS, type Tool, type ToolCall } from './tools.js';

export interface McpOptions extends NetworkOptions {
  /** Seconds between status reads in every wait (the CLI's --interval). */
  interval?: string;
}

const INSTRUCTIONS = [
  'AnyGen makes posters, banners and illustrations server-side.',
  'A job: upload_file for reference files (optional); prepare, turn by turn with a conversation_file, until ready;',
  'create_task (spends credits: once per image asked for); wait_for_task with output_dir; for changes,',
  'send_message then wait_for_reply with since_id and output_dir.',
  'Errors are results with isError and a JSON body {"success": false, "error": {"type", "message", "hint"}}: follow the hint.',
].join(' ');

/** Output that keeps a command's result (checked by its --json schema) instead of printing it. */
class CapturedOutput extends Output {
  private readonly results = new Map<ResultKind, unknown>();

  override async result<K extends ResultKind>(kind: K, data: ResultOf<K>, _human: HumanLine[]): Promise<void> {
    this.results.set(kind, RESULT_SCHEMAS[kind].parse(data));
  }

  take<K extends ResultKind>(kind: K): ResultOf<K> {
    if (!this.results.has(kind)) throw new Error(`the command gave no ${kind} result`);
    return this.results.get(kind) as ResultOf<K>;
  }
}

/** The first problem with a tool's arguments, naming the argument. */
function describeInput(error: zt.core.$ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'unexpected arguments';
  const where = issue.path.length > 0 ? issue.path.join('.') : 'arguments';
  if (issue.code === 'unrecognized_keys')
    return `unknown argument ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  if (issue.code === 'invalid_type') {
    return issue.input === undefined ? `${where} is required` : `${where} must be ${issue.expected}`;
  }
  if (issue.code === 'invalid_value') return `${where} must be one of ${issue.values.map(String).join(', ')}`;
  return `${where} ${issue.message}`;
}

type Extra = {
  signal: AbortSignal;
  _meta?: { progressToken?: string | number } & Record<string, unknown>;
  sendNotification: (notification: ServerNotification) => Promise<void>;
};

/**
 * Wait events as MCP progress notifications. The protocol wants the number to grow
 * with every notification, and hosts reset a call's timeout on each one, so a heartbeat
 * must be a notification too: it moves the number on by a hair (a task's percentage
 * stays readable as it is), and the message says what is going on.
 */
function progressRelay(extra: Extra, percent: boolean): ((event: WaitEvent) => void) | undefined {
  const token = extra._meta?.progressToken;
  if (token === undefined) return undefined;
  const step = percent ? 0.001 : 1;
  let last = 0;
  let sent = false;
  return (event) => {
    const reported = event.type === 'retry' ? undefined : event.progress;
    const next =
      percent && reported !== undefined && reported > last
        ? reported
        : sent
          ? Math.round((last + step) * 1000) / 1000
          : 0;
    last = next;
    sent = true;
    const message =
      event.type === 'retry'
        ? `${event.error.message}; trying again in ${Math.ceil(event.delayMs / 1000)} s`
        : `${event.type === 'heartbeat' ? 'still waiting: ' : ''}${event.status}${event.progress !== undefined ? ` ${event.progress}%` : ''}`;
    extra
      .sendNotification({
        method: 'notifications/progress',
        params: { progressToken: token, progress: next, ...(percent ? { total: 100 } : {}), message },
      })
      .catch(() => {
        // The caller went away; the wait itself ends with the call's signal.
      });
  };
}

function textResult(value: unknown, isError: boolean): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(value, null, 2) }], ...(isError ? { isError } : {}) };
}

/** The CLI's --json failure document, as an error result. */
function errorResult(err: unknown): CallToolResult {
  return textResult({ success: false, error: unexpectedError(err).toJSON() }, true);
}

function listing(tool: Tool): McpTool {
  return {
    name: tool.name,
    title: tool.title,
    description: tool.description,
    inputSchema: z.toJSONSchema(tool.input, { target: 'draft-7', io: 'input' }) as McpTool['inputSchema'],
    outputSchema: z.toJSONSchema(tool.output, { target: 'draft-7', io: 'output' }) as McpTool['outputSchema'],
    annotations: { title: tool.title, ...tool.annotations },
  };
}

/** One client for the life of the server (its keep-alive connection makes a call one round trip), rebuilt only when the key it would use changes (config set api_key). */
function sharedClient(ctx: CommandContext, net: NetworkOptions) {
  let shared: { key: string; client: AnyGenClient } | undefined;
  const client = async (): Promise<AnyGenClient> => {
    const { key } = ctx.key(net);
    if (shared?.key !== key) shared = { key, client: await ctx.client(net) };
    return shared.client;
  };
  const currentKey = (): string | undefined => {
    try {
      return ctx.key(net).key.replace(/^Bearer /, '');
    } catch {
      return undefined;
    }
  };
  return { client, currentKey };
}

/** A context per call: its own output (kept, not printed), cancelled by the request, the process or the server closing. */
function callContexts(ctx: CommandContext, client: () => Promise<AnyGenClient>, closing: AbortSignal) {
  const base = ctx.io;
  return (signal: AbortSignal, onWaitEvent: ((e: WaitEvent) => void) | undefined) => {
    const io: IO = {
      // A command never prints its result here, but if anything ever wrote to its stdout
      // it must not land in the protocol stream.
      stdout: { write: (s: string) => base.stderr.write(s) },
      get stderr() {
        return base.stderr;
      },
      stderrIsTTY: false,
      env: base.env,
      now: base.now,
      sleep: base.sleep,
      signal: AbortSignal.any([base.signal, closing, signal]),
    };
    const out = new CapturedOutput(io, { json: true, quiet: true, verbose: ctx.out.mode.verbose });
    const callCtx: CommandContext = { ...createContext(io, out), client, ...(onWaitEvent ? { onWaitEvent } : {}) };
    return { ctx: callCtx, out };
  };
}

type CallContexts = ReturnType<typeof callContexts>;

/** One tools/call: checked input, the tool run in its own context, the result or an error result. */
async function callTool(
  request: { params: { name: string; arguments?: Record<string, unknown> | undefined } },
  extra: Extra,
  env: { net: NetworkOptions; interval: string | undefined; contexts: CallContexts },
): Promise<CallToolResult> {
  const name = request.params.name;
  const tool = TOOLS.find((t) => t.name === name);
  try {
    if (!tool) {
      throw usageError(
        `There is no tool ${JSON.stringify(name)}`,
        `The tools are: ${TOOLS.map((t) => t.name).join(', ')}`,
      );
    }
    const parsed = tool.input.safeParse(request.params.arguments ?? {});
    if (!parsed.success) {
      throw usageError(`${name}: ${describeInput(parsed.error)}`, "See the tool's input schema.");
    }
    const relay = tool.waits ? progressRelay(extra, name === 'wait_for_task') : undefined;
    const { ctx: callCtx, out } = env.contexts(extra.signal, relay);
    const call: ToolCall = { ctx: callCtx, net: env.net, interval: env.interval, result: (kind) => out.take(kind) };
    const value = tool.output.parse(await tool.run(call, parsed.data)) as Record<string, unknown>;
    return { ...textResult(value, false), structuredContent: value };
  } catch (err) {
    return errorResult(err);
  }
}

export async function serve(ctx: CommandContext, opts: McpOptions): Promise<void> {
  // A server: its replies wait on 'drain', and a host that reads stderr late must not stop it.
  ctx.io.runningLong?.();
  // What the CLI refuses at start it refuses here at start too (exit 2), not on every call.
  const net: NetworkOptions = {
    ...(opts.apiKey ? { apiKey: opts.apiKey } : {}),
    ...(opts.header ? { header: opts.header } : {}),
  };
  parseHeaders(net.header);
  waitTimes({ interval: opts.interval });
  const baseUrl = baseUrlFrom(ctx.io.env);
  const stdin = ctx.io.stdin;
  if (!stdin) throw usageError('anygen-image mcp needs a standard input to read requests from');

  const { client, currentKey } = sharedClient(ctx, net);
  const closing = new AbortController();
  const contexts = callContexts(ctx, client, closing.signal);
  const server = new Server(
    { name: 'anygen-image', title: 'AnyGen image generation', version: VERSION },
    { capabilities: { tools: {} }, instructions: INSTRUCTIONS },
  );
  const tools = TOOLS.map(listing);
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools }));
  // Calls still running when the host closes stdin are answered before the server closes.
  const inflight = new Set<Promise<unknown>>();
  server.setRequestHandler(CallToolRequestSchema, (request, extra): Promise<CallToolResult> => {
    const handled = (async () => {
      const started = ctx.io.now();
      const result = await callTool(request, extra as Extra, { net, interval: opts.interval, contexts });
      ctx.out.debug(`mcp ${request.params.name} → ${result.isError ? 'error' : 'ok'}  ${ctx.io.now() - started} ms`);
      return scrub(result, currentKey());
    })();
    inflight.add(handled);
    void handled.finally(() => inflight.delete(handled));
    return handled;
  });

  const transport = new StdioServerTransport(stdin as Readable, ctx.io.stdout as unknown as Writable);
  const closed = new Promise<void>((resolve) => {
    server.onclose = resolve;
  });
  await server.connect(transport);
  ctx.out.info(`anygen-image ${VERSION}: MCP server on stdio, AnyGen at ${baseUrl}, ${tools.length} tools`);
  if (currentKey() === undefined) {
    ctx.out.info(
      'No API key found yet: calls will fail until ANYGEN_API_KEY is set or `anygen-image config set api_key` is run.',
    );
  }
  // The host ends the session by closing stdin; Ctrl-C and SIGTERM end it too.
  const stop = () => void server.close();
  // setImmediate: the SDK sends an answer a few microtasks after its handler returns.
  stdin.once('end', () => void Promise.allSettled([...inflight]).then(() => setImmediate(stop)));
  ctx.io.signal.addEventListener('abort', stop, { once: true });
  await closed;
  closing.abort();
  // Closing stdin is how a host ends a session (exit 0); a signal is an interruption, as for every command (130).
  if (ctx.io.signal.aborted) throw interrupted();
}

/**
 * Results carry no key by construction (commands redact server text); this is the
 * last line of defence for whatever a library might have put in an error message.
 */
function scrub(result: CallToolResult, key: string | undefined): CallToolResult {
  if (!key || key.length < 4) return result;
  const text = JSON.stringify(result);
  return text.includes(key) ? (JSON.parse(text.split(key).join('sk-***')) as CallToolResult) : result;
}
