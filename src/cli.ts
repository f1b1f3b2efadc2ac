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

/**
 * `[flags, description]`, `[flags, description, default]`, or repeatable with `'repeat'`.
 * Defaults are written one way everywhere, `(default: 1200)`: a default given here is
 * shown so by commander; one a command applies itself is written so in its description.
 * A flag the command cannot run without says `(required)`.
 */
type OptionSpec = readonly [flags: string, description: string, extra?: string | 'repeat'];

/** What a command's module exports: one function taking the context and the options. */
/** A number it returns is the exit code, for outcomes that are not all-or-nothing (batch). */
type RunFn = (ctx: CommandContext, opts: Record<string, unknown>) => Promise<unknown>;

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
  /** One or two command lines shown under `Examples:` in its --help. */
  examples?: readonly string[];
  /** The flag a stray word most likely meant: `run "A cat"` → `--prompt "A cat"`. */
  textFlag?: string;
}

const REPEAT = 'repeat';

/** Commands that only group others (`config set`, `config get`, …). */
const GROUPS: Record<string, string> = { config: 'show or change the config file: set, get, delete, path' };

const NETWORK: readonly OptionSpec[] = [
  ['-k, --api-key <key>', 'AnyGen API key (sk-…); also ANYGEN_API_KEY or the config file'],
  ['-H, --header <header>', "extra HTTP header 'Name: value' for API requests", REPEAT],
];
const WAITING: readonly OptionSpec[] = [
  ['--timeout <seconds>', 'give up waiting after this long (default: 1200)'],
  ['--interval <seconds>', 'seconds between status checks, at least 1 (default: 3)'],
  ['--detach', 'wait in a background process instead: return at once with its PID and log'],
];
const TASK_ID: OptionSpec = ['--task-id <id>', 'the task id from create (required)'];
const FILE_TOKENS: OptionSpec = ['--file-token <token>', 'a file token from upload', REPEAT];
const CREATING: readonly OptionSpec[] = [
  ...NETWORK,
  ...WAITING,
  ['-o, --operation <operation>', 'the kind of task; ai_designer (or ai-designer) for images', 'ai_designer'],
  [
    '-p, --prompt <text>',
    'what to generate; a prompt file, standard input or a ready conversation may give it instead (required)',
  ],
  ['--prompt-file <file>', 'read the prompt from this file (no shell quoting)'],
  ['--stdin', 'read the prompt from standard input'],
  ['--from <file>', 'take the prompt and file tokens from a conversation prepare answered ready (flags given win)'],
  FILE_TOKENS,
  ['-l, --language <language>', 'zh-CN or en-US (default: default_language from the config)'],
  ['-f, --export-format <format>', 'export format, for operations that have one'],
];

const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'config set',
    args: '<key> <value>',
    description: 'set api_key (- reads it from standard input), default_language or suite_recommended',
    options: [],
    load: () => import('./commands/config.js'),
    fn: 'set',
    examples: [
      'anygen-image config set default_language en-US',
      'printf %s "$KEY" | anygen-image config set api_key -',
    ],
  },
  {
    name: 'config get',
    args: '[key]',
    description: 'show one value or all (the key is masked)',
    options: [],
    load: () => import('./commands/config.js'),
    fn: 'get',
    examples: ['anygen-image config get', 'anygen-image config get api_key'],
  },
  {
    name: 'config delete',
    args: '<key>',
    description: 'remove a value',
    options: [],
    load: () => import('./commands/config.js'),
    fn: 'remove',
    examples: ['anygen-image config delete default_language'],
  },
  {
    name: 'config path',
    description: 'print where the config file is',
    options: [],
    load: () => import('./commands/config.js'),
    fn: 'path',
    examples: ['anygen-image config path'],
  },
  {
    name: 'upload',
    description: 'upload a reference file and print its file token',
    options: [...NETWORK, ['--file <path>', 'the file to upload, at most 50 MB (required)']],
    load: () => import('./commands/upload.js'),
    examples: ['anygen-image upload --file ./reference.png'],
    textFlag: '--file',
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
    examples: [
      'anygen-image prepare -m "I need a poster for a jazz night" --save ./conversation.json',
      'anygen-image prepare --input ./conversation.json -m "A4, dark blue" --save ./conversation.json',
    ],
    textFlag: '--message',
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
    examples: [
      'anygen-image create -p "A blue poster"',
      'anygen-image create --from ./conversation.json --wait --output ./images',
    ],
    textFlag: '--prompt',
  },
  {
    name: 'run',
    description: 'create a task, wait for it and download the results',
    options: [...CREATING, ['--output <dir>', 'download the results into this folder']],
    load: () => import('./commands/run.js'),
    examples: ['anygen-image run -p "A cat illustration" --output ./images'],
    textFlag: '--prompt',
  },
  {
    name: 'poll',
    description: 'wait for a task to finish (blocks up to 20 minutes)',
    options: [...NETWORK, ...WAITING, TASK_ID, ['--output <dir>', 'download the results into this folder']],
    load: () => import('./commands/poll.js'),
    examples: ['anygen-image poll --task-id task_xxx --output ./images'],
    textFlag: '--task-id',
  },
  {
    name: 'status',
    description: 'read a task once, never waiting (exit 0 whatever its status), with the files saved of it here',
    options: [...NETWORK, TASK_ID],
    load: () => import('./commands/status.js'),
    examples: ['anygen-image status --task-id task_xxx', 'anygen-image status --task-id task_xxx --json'],
  },
  {
    name: 'tasks',
    description: 'the tasks created or waited on from this machine, newest first (from the task history)',
    options: [['--limit <n>', 'how many, 1–1000 (default: 20)']],
    load: () => import('./commands/tasks.js'),
    examples: ['anygen-image tasks', 'anygen-image tasks --limit 5 --json'],
  },
  {
    name: 'download',
    description: "download a finished task's files",
    options: [...NETWORK, TASK_ID, ['--output <dir>', 'the folder to download into (required)']],
    load: () => import('./commands/download.js'),
    examples: ['anygen-image download --task-id task_xxx --output ./images'],
    textFlag: '--task-id',
  },
  {
    name: 'thumbnail',
    description: "download a finished task's thumbnail",
    options: [...NETWORK, TASK_ID, ['--output <dir>', 'the folder to download into (required)']],
    load: () => import('./commands/thumbnail.js'),
    examples: ['anygen-image thumbnail --task-id task_xxx --output ./images'],
    textFlag: '--task-id',
  },
  {
    name: 'send-message',
    description: 'ask a finished task for changes (returns at once)',
    options: [
      ...NETWORK,
      TASK_ID,
      ['-m, --message <text>', 'the change you want; standard input may give it instead (required)'],
      ['--stdin', 'read the message from standard input'],
      ['--file <path>', 'a file to upload and attach', REPEAT],
      FILE_TOKENS,
    ],
    load: () => import('./commands/send-message.js'),
    examples: ['anygen-image send-message --task-id task_xxx -m "Darker background"'],
    textFlag: '--message',
  },
  {
    name: 'get-messages',
    description: "read a task's messages, or wait for a reply",
    options: [
      ...NETWORK,
      ...WAITING,
      TASK_ID,
      ['--limit <n>', 'how many messages, 1–100 (default: 10)'],
      ['--cursor <cursor>', 'page to older messages'],
      ['--wait', 'wait until an assistant reply newer than --since-id is completed'],
      ['--since-id <id>', 'with --wait: the message id from send-message'],
      ['--output <dir>', "with --wait: download the task's revised files here (named with their version)"],
    ],
    load: () => import('./commands/get-messages.js'),
    examples: [
      'anygen-image get-messages --task-id task_xxx',
      'anygen-image get-messages --task-id task_xxx --wait --since-id 123',
    ],
    textFlag: '--task-id',
  },
  {
    name: 'verify',
    description: 'check the API key with AnyGen and show the credits left',
    options: NETWORK,
    load: () => import('./commands/verify.js'),
    examples: ['anygen-image verify', 'anygen-image verify --json'],
  },
  {
    name: 'batch',
    args: '<file>',
    description:
      'create, wait for and download many items (JSON Lines or .txt, - for stdin), each created once; rerun to resume',
    options: [
      ...NETWORK,
      ['--timeout <seconds>', 'give up waiting for one item after this long (default: 1200)'],
      ['--interval <seconds>', 'seconds between status checks, at least 1 (default: 3)'],
      ['--output <dir>', 'the folder for the files and the state file (required)'],
      ['--concurrency <n>', 'items worked on at once, 1–32 (default: 4)'],
      ['--shard <i/n>', 'only the items of shard I of N (a CI matrix job each)'],
      ['--dry-run', 'list what would be created and uploaded; send nothing'],
      ['--fail-fast', 'stop at the first failed item'],
      ['--retry-unknown', 'create again the items whose earlier create got no answer (may spend credits twice)'],
    ],
    load: () => import('./commands/batch.js'),
    examples: [
      'anygen-image batch prompts.jsonl --output ./images',
      'anygen-image batch prompts.txt --output ./images --concurrency 8 --shard 1/4 --json',
    ],
  },
  {
    name: 'mcp',
    description: 'serve the tools over the Model Context Protocol on stdio, for agent hosts',
    options: [...NETWORK, ['--interval <seconds>', 'seconds between status checks in waits, at least 1 (default: 3)']],
    load: () => import('./commands/mcp.js'),
    examples: ['anygen-image mcp', 'ANYGEN_API_KEY=sk-xxx anygen-image mcp --verbose'],
  },
  {
    name: 'sandbox',
    description: 'run a local AnyGen server for trying the CLI and for tests (no key or credits needed)',
    options: [
      ['--port <port>', 'port to listen on (default: any free port)'],
      ['--host <host>', 'address to listen on', '127.0.0.1'],
      ['--key <key>', 'the API key it accepts'],
      ['--reads <n>', 'status reads before a task completes (default: 3)'],
      ['--reply-reads <n>', 'message reads before a reply completes (default: 1)'],
      ['--faults <spec>', 'faults for the next API requests, e.g. 503*2,429:1,drop (see README)'],
    ],
    load: () => import('./commands/sandbox.js'),
    examples: ['anygen-image sandbox --port 8787', 'anygen-image sandbox --port 0 --faults 503*2'],
  },
];

const collect = (value: string, previous: string[] = []) => [...previous, value];

/**
 * The end of the top-level --help. The exit codes are errors.ts's EXIT, written out
 * here so that --help loads nothing but commander; a unit test keeps the two equal.
 */
export const ENVIRONMENT_AND_EXIT_CODES = `
Environment:
  ANYGEN_API_KEY    the API key, when --api-key is not given (else the config file)
  ANYGEN_BASE_URL   the API origin (default: https://www.anygen.io)
  XDG_CONFIG_HOME   the config file is $XDG_CONFIG_HOME/anygen/config.json
                    (default: ~/.config/anygen/config.json; see: anygen-image config path)
  XDG_STATE_HOME    the task history and watcher logs are in $XDG_STATE_HOME/anygen/
                    (default: ~/.local/state/anygen/)
  ANYGEN_NO_HISTORY 1: keep no task history
  XDG_CACHE_HOME    compiled code is cached in $XDG_CACHE_HOME/anygen/ (default: ~/.cache/anygen/)
  ANYGEN_NO_CODE_CACHE, ANYGEN_NO_LIFTOFF
                    1: no code cache; no baseline-only WebAssembly compile (both for start-up speed)
  NO_COLOR          any non-empty value: no colour
  TERM              dumb: no spinner, plain progress lines

Exit codes:
  0    done
  1    the service refused, or the task (or the reply) failed
  2    bad usage or bad input
  3    no API key, or the key was refused
  4    the service could not be reached, failed on its side, or answered
       outside the contract
  5    gave up waiting (--timeout); the task may still finish
  130  interrupted (Ctrl-C or SIGTERM)`;

/** `run`, or `config set`: how a command is typed. */
function commandPath(cmd: Command): string {
  const words: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) words.unshift(c.name());
  return words.join(' ');
}

/**
 * Adds one table row to the program: finds or makes its parent, then its flags. A row
 * none of whose words is on the command line cannot be parsed or have its own help
 * shown, so it gets only what a list of commands shows (`[options]` needs one flag):
 * ~150 options and their help text are not built on every start.
 */
function declare(
  program: Command,
  spec: CommandSpec,
  action: (spec: CommandSpec, cmd: Command) => Promise<void>,
  made: (cmd: Command) => void,
  argv: readonly string[],
): Command {
  const words = spec.name.split(' ');
  let parent = program;
  for (const word of words.slice(0, -1)) {
    let found = parent.commands.find((c) => c.name() === word);
    if (!found) {
      found = parent.command(word).description(GROUPS[word] ?? '');
      made(found);
    }
    parent = found;
  }
  const cmd = parent.command(`${words.at(-1)}${spec.args ? ` ${spec.args}` : ''}`).description(spec.description);
  const named = words.some((w) => argv.includes(w));
  for (const [flags, description, extra] of named ? spec.options : spec.options.slice(0, 1)) {
    if (extra === REPEAT) cmd.option(flags, `${description} (repeatable)`, collect);
    // The default as written, `(default: ai_designer)`, not commander's JSON `"ai_designer"`.
    else if (extra !== undefined) cmd.addOption(new Option(flags, description).default(extra, extra));
    else cmd.option(flags, description);
  }
  if (named && spec.examples?.length) {
    cmd.addHelpText('after', `\nExamples:\n${spec.examples.map((e) => `  $ ${e}`).join('\n')}`);
  }
  cmd.action((..._args: unknown[]) => action(spec, cmd));
  made(cmd);
  return cmd;
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

/** What main learns while commander parses: set by commander's callbacks, read once it is done. */
interface ParseState {
  mode: OutputMode;
  exitCode: number;
  /** Commander's complaint about the command line, tidied for our one-line error. */
  usageMessage?: string;
  /** The command commander was parsing when it gave up: its own --help is the one to read. */
  failed?: Command;
  specs: Map<Command, CommandSpec>;
}

export async function main(argv: string[], io: IO): Promise<number> {
  const version = await cliVersion();
  const state: ParseState = { mode: modeBeforeParsing(argv), exitCode: OK, specs: new Map() };
  const program = createProgram(io, version, state);
  addCommands(program, io, version, state, argv);

  if (argv.length === 0) {
    program.outputHelp({ error: true });
    return USAGE;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    return commanderFailure(io, err, state);
  }
  return state.exitCode;
}

async function cliVersion(): Promise<string> {
  // The build stamps the version in; from source (tests) it is read from package.json.
  return typeof __ANYGEN_VERSION__ === 'string' ? __ANYGEN_VERSION__ : (await import('./version.js')).VERSION;
}

/** The output mode guessed from the words, for errors commander raises before any action runs. */
function modeBeforeParsing(argv: string[]): OutputMode {
  return globalMode({
    json: argv.includes('--json'),
    quiet: argv.includes('--quiet') || argv.includes('-q'),
    verbose: argv.includes('--verbose'),
    // So that a usage error under --progress json is a JSON line like every other.
    progress:
      argv.includes('--progress=json') || argv.some((a, i) => a === '--progress' && argv[i + 1] === 'json')
        ? 'json'
        : 'auto',
  });
}

/** The top-level program: global flags, help, and commander's output routed to our streams. */
function createProgram(io: IO, version: string, state: ParseState): Command {
  const program = new Command()
    .name('anygen-image')
    .description('Generate posters, banners and illustrations with AnyGen from the command line.')
    .version(version, '-V, --version', 'print the version (also -v, or: anygen-image version)')
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
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      // commander's defaults ask process.stdout and process.stderr, which builds them even
      // where the output goes to a pipe without them (src/stdio.ts). Help is plain text: no
      // colour to keep or strip.
      getOutHelpWidth: () => io.stdoutColumns ?? 80,
      getErrHelpWidth: () => (io.stderrIsTTY ? (io.stderrColumns ?? 80) : 80),
      getOutHasColors: () => false,
      getErrHasColors: () => false,
      outputError: (s) => {
        // `--unknown=value` is echoed by commander; the value may be a key, so it is left out.
        state.usageMessage = s
          .replace(/^error:\s*/i, '')
          .trim()
          .replace(/(unknown option '[^'=]*=)[^']*'/, "$1…'");
      },
    });
  // `-v` as well as `-V`: commander takes one short flag per option, so it is its own, unlisted.
  program.addOption(new Option('-v').hideHelp()).on('option:v', () => {
    io.stdout.write(`${version}\n`);
    throw new CommanderError(OK, 'commander.version', version);
  });
  program.addHelpText('after', ENVIRONMENT_AND_EXIT_CODES);
  return program;
}

/** Every row of COMMANDS, each running its module's function lazily, plus `version`. */
function addCommands(program: Command, io: IO, version: string, state: ParseState, argv: readonly string[]): void {
  const action = async (spec: CommandSpec, cmd: Command) => {
    state.mode = globalMode(cmd.optsWithGlobals());
    const opts = { ...cmd.opts(), ...positional(spec, cmd) };
    const { runCommand } = await import('./factory.js');
    state.exitCode = await runCommand(
      io,
      state.mode,
      async (ctx) => {
        const fn = (await spec.load())[spec.fn ?? 'run'] as RunFn;
        return fn(ctx, opts);
      },
      commandPath(cmd),
    );
  };
  const made = (cmd: Command) => {
    cmd.exitOverride((err) => {
      state.failed ??= cmd;
      throw err;
    });
  };
  for (const spec of COMMANDS) state.specs.set(declare(program, spec, action, made, argv), spec);
  program
    .command('version')
    .description('print the version')
    .action(() => {
      io.stdout.write(`${version}\n`);
    });
}

/** The exit code for commander giving up: help and version are fine, the rest a usage error. */
async function commanderFailure(io: IO, err: CommanderError, state: ParseState): Promise<number> {
  const { mode, failed } = state;
  if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return OK;
  const path = failed ? commandPath(failed) : '';
  // No command (`anygen-image --json`, `anygen-image config`): the help went to stderr;
  // under --json stdout still gets its one document.
  if (err.code === 'commander.help' && !mode.json) return USAGE;
  const spec = failed ? state.specs.get(failed) : undefined;
  const { usageFailure } = await import('./factory.js');
  return usageFailure(io, mode, {
    message:
      err.code === 'commander.help'
        ? path
          ? `${path} needs a subcommand: ${failed?.commands.map((c) => c.name()).join(', ')}`
          : 'No command given'
        : (state.usageMessage ?? err.message),
    command: path,
    ...(err.code === 'commander.excessArguments' && spec?.textFlag && failed
      ? { textFlag: spec.textFlag, strayWords: failed.args }
      : {}),
  });
}
