/**
 * Commander wiring only, as a table: each command's name, flags and the module that
 * runs it. A command's module is imported when it runs, so `--help` loads commander
 * and nothing else, and `config get` never loads the HTTP stack.
 */
import { Command, CommanderError, Option } from 'commander';
import type { CommandContext } from './factory.js';
import type { IO } from './io.js';
import type { OutputMode } from './render/output.js';
import type { ProgressMode } from './render/progress.js';

declare const __ANYGEN_VERSION__: string | undefined;

// Exit codes this file returns itself (the rest come from errors.ts, loaded lazily).
const OK = 0;
const USAGE = 2;

/** `[flags, description]`, `[flags, description, default]`, or repeatable with `'repeat'`. */
type OptionSpec = readonly [flags: string, description: string, extra?: string | 'repeat'];

/** What a command's module exports: one function taking the context and the options. */
type RunFn = (ctx: CommandContext, opts: Record<string, unknown>) => Promise<void>;

interface CommandSpec {
  /** `poll`, or `config set` for a subcommand. */
  name: string;
  /** Positional arguments, e.g. `<key> <value>`; they join the options under their names. */
  args?: string;
  description: string;
  options: readonly OptionSpec[];
  load: () => Promise<Record<string, unknown>>;
  /** The module's function; `run` unless said. */
  fn?: string;
}

const REPEAT = 'repeat';

const NETWORK: readonly OptionSpec[] = [
  ['-k, --api-key <key>', 'AnyGen API key (sk-…); also ANYGEN_API_KEY or the config file'],
  ['-H, --header <header>', "extra HTTP header 'Name: value' for API requests", REPEAT],
];
const WAITING: readonly OptionSpec[] = [
  ['--timeout <seconds>', 'give up waiting after this long (default 1200)'],
  ['--interval <seconds>', 'seconds between status checks, at least 1 (default 3)'],
];
const TASK_ID: OptionSpec = ['--task-id <id>', 'the task id from create'];
const FILE_TOKENS: OptionSpec = ['--file-token <token>', 'a file token from upload', REPEAT];
const CREATING: readonly OptionSpec[] = [
  ...NETWORK,
  ...WAITING,
  ['-o, --operation <operation>', 'operation; ai_designer (or ai-designer) for images', 'ai_designer'],
  ['-p, --prompt <text>', 'what to generate'],
  FILE_TOKENS,
  ['-l, --language <language>', 'zh-CN or en-US (default: default_language from the config)'],
  ['-f, --export-format <format>', 'export format, for operations that have one'],
];

const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'config set',
    args: '<key> <value>',
    description: 'set api_key, default_language or suite_recommended',
    options: [],
    load: () => import('./commands/config.js'),
    fn: 'set',
  },
  {
    name: 'config get',
    args: '[key]',
    description: 'show one value or all (the key is masked)',
    options: [],
    load: () => import('./commands/config.js'),
    fn: 'get',
  },
  {
    name: 'config delete',
    args: '<key>',
    description: 'remove a value',
    options: [],
    load: () => import('./commands/config.js'),
    fn: 'remove',
  },
  {
    name: 'config path',
    description: 'print where the config file is',
    options: [],
    load: () => import('./commands/config.js'),
    fn: 'path',
  },
  {
    name: 'upload',
    description: 'upload a reference file and print its file token',
    options: [...NETWORK, ['--file <path>', 'the file to upload (at most 50 MB)']],
    load: () => import('./commands/upload.js'),
  },
  {
    name: 'prepare',
    description: 'one turn of the requirement dialogue before creating a task',
    options: [
      ...NETWORK,
      ['-m, --message <text>', 'your message'],
      FILE_TOKENS,
      ['--input <file>', 'continue the conversation saved in this file'],
      ['--save <file>', 'save the conversation to this file (written atomically)'],
      ['--stdin', 'read the message from standard input'],
    ],
    load: () => import('./commands/prepare.js'),
  },
  {
    name: 'create',
    description: 'create a generation task',
    options: [
      ...CREATING,
      ['--wait', 'wait for the task to finish'],
      ['--output <dir>', 'with --wait: download the results into this folder'],
    ],
    load: () => import('./commands/create.js'),
  },
  {
    name: 'run',
    description: 'create a task, wait for it and download the results',
    options: [...CREATING, ['--output <dir>', 'download the results into this folder']],
    load: () => import('./commands/run.js'),
  },
  {
    name: 'poll',
    description: 'wait for a task to finish (blocks up to 20 minutes)',
    options: [...NETWORK, ...WAITING, TASK_ID, ['--output <dir>', 'download the results into this folder']],
    load: () => import('./commands/poll.js'),
  },
  {
    name: 'download',
    description: "download a finished task's files",
    options: [...NETWORK, TASK_ID, ['--output <dir>', 'the folder to download into']],
    load: () => import('./commands/download.js'),
  },
  {
    name: 'thumbnail',
    description: "download a finished task's thumbnail",
    options: [...NETWORK, TASK_ID, ['--output <dir>', 'the folder to download into']],
    load: () => import('./commands/thumbnail.js'),
  },
  {
    name: 'send-message',
    description: 'ask a finished task for changes (returns at once)',
    options: [
      ...NETWORK,
      TASK_ID,
      ['-m, --message <text>', 'the change you want'],
      ['--file <path>', 'a file to upload and attach', REPEAT],
      FILE_TOKENS,
    ],
    load: () => import('./commands/send-message.js'),
  },
  {
    name: 'get-messages',
    description: "read a task's messages, or wait for a reply",
    options: [
      ...NETWORK,
      ...WAITING,
      TASK_ID,
      ['--limit <n>', 'how many messages, 1–100 (default 10)'],
      ['--cursor <cursor>', 'page to older messages'],
      ['--wait', 'wait until an assistant reply newer than --since-id is completed'],
      ['--since-id <id>', 'with --wait: the message id from send-message'],
    ],
    load: () => import('./commands/get-messages.js'),
  },
  {
    name: 'verify',
    description: 'check the API key with AnyGen and show the credits left',
    options: NETWORK,
    load: () => import('./commands/verify.js'),
  },
  {
    name: 'mcp',
    description: 'serve the tools over the Model Context Protocol on stdio, for agent hosts',
    options: [...NETWORK, ['--interval <seconds>', 'seconds between status checks in waits, at least 1 (default 3)']],
    load: () => import('./commands/mcp.js'),
  },
  {
    name: 'sandbox',
    description: 'run a local AnyGen server for trying the CLI and for tests (no key or credits needed)',
    options: [
      ['--port <port>', 'port to listen on (default: any free port)'],
      ['--host <host>', 'address to listen on', '127.0.0.1'],
      ['--key <key>', 'the API key it accepts'],
      ['--reads <n>', 'status reads before a task completes (default 3)'],
      ['--reply-reads <n>', 'message reads before a reply completes (default 1)'],
      ['--faults <spec>', 'faults for the next API requests, e.g. 503*2,429:1,drop (see README)'],
    ],
    load: () => import('./commands/sandbox.js'),
  },
];

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Adds one table row to the program: finds or makes its parent, then its flags. */
function declare(program: Command, spec: CommandSpec, action: (spec: CommandSpec, cmd: Command) => Promise<void>) {
  const words = spec.name.split(' ');
  let parent = program;
  for (const word of words.slice(0, -1)) {
    parent = parent.commands.find((c) => c.name() === word) ?? parent.command(word);
  }
  const cmd = parent.command(`${words.at(-1)}${spec.args ? ` ${spec.args}` : ''}`).description(spec.description);
  for (const [flags, description, extra] of spec.options) {
    if (extra === REPEAT) cmd.option(flags, `${description} (repeatable)`, collect);
    else if (extra !== undefined) cmd.option(flags, description, extra);
    else cmd.option(flags, description);
  }
  cmd.action((..._args: unknown[]) => action(spec, cmd));
}

/** The positional arguments by their names in `args` (`<key> <value>` → {key, value}). */
function positional(spec: CommandSpec, cmd: Command): Record<string, unknown> {
  const names = (spec.args ?? '').match(/[\w-]+/g) ?? [];
  return Object.fromEntries(names.map((n, i) => [n, cmd.args[i]]));
}

// Spelled out here rather than imported: --help must not load the progress display.
const PROGRESS_CHOICES: readonly ProgressMode[] = ['auto', 'spinner', 'plain', 'json', 'none'];

function globalMode(flags: {
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  progress?: ProgressMode;
}): OutputMode {
  return {
    json: Boolean(flags.json),
    quiet: Boolean(flags.quiet),
    verbose: Boolean(flags.verbose),
    progress: flags.progress ?? 'auto',
  };
}

export async function main(argv: string[], io: IO): Promise<number> {
  // The build stamps the version in; from source (tests) it is read from package.json.
  const version = typeof __ANYGEN_VERSION__ === 'string' ? __ANYGEN_VERSION__ : (await import('./version.js')).VERSION;
  let mode = globalMode({
    json: argv.includes('--json'),
    quiet: argv.includes('--quiet') || argv.includes('-q'),
    verbose: argv.includes('--verbose'),
    // So that a usage error under --progress json is a JSON line like every other.
    progress:
      argv.includes('--progress=json') || argv.some((a, i) => a === '--progress' && argv[i + 1] === 'json')
        ? 'json'
        : 'auto',
  });
  let exitCode = OK;
  let usageMessage: string | undefined;

  const program = new Command()
    .name('anygen-image')
    .description('Generate posters, banners and illustrations with AnyGen from the command line.')
    .version(version, '-V, --version', 'print the version')
    .option('--json', 'print exactly one JSON document on stdout')
    .option('-q, --quiet', 'print results only: no progress or information on stderr')
    .option('--verbose', 'print each API request with its x-request-id on stderr (key redacted)')
    .addOption(
      new Option('--progress <mode>', 'how waiting is shown on stderr (json: one JSON event a line)')
        .choices(PROGRESS_CHOICES)
        .default('auto'),
    )
    .helpOption('-h, --help', 'show help')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s) => {
        // `--unknown=value` is echoed by commander; the value may be a key, so it is left out.
        usageMessage = s
          .replace(/^error:\s*/i, '')
          .trim()
          .replace(/(unknown option '[^'=]*=)[^']*'/, "$1…'");
      },
    });

  const action = async (spec: CommandSpec, cmd: Command) => {
    mode = globalMode(cmd.optsWithGlobals());
    const opts = { ...cmd.opts(), ...positional(spec, cmd) };
    const { runCommand } = await import('./factory.js');
    exitCode = await runCommand(io, mode, async (ctx) => {
      const fn = (await spec.load())[spec.fn ?? 'run'] as RunFn;
      await fn(ctx, opts);
    });
  };
  for (const spec of COMMANDS) declare(program, spec, action);

  if (argv.length === 0) {
    program.outputHelp({ error: true });
    return USAGE;
  }

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return OK;
    if (err.code === 'commander.help') return USAGE;
    const { usageFailure } = await import('./factory.js');
    return usageFailure(io, mode, usageMessage ?? err.message, 'Run anygen-image --help for usage.');
  }
  return exitCode;
}
