/**
 * Commander wiring only: flags become a command's options. Each command's module
 * is imported when it runs, so `--help` loads commander and nothing else, and
 * `config get` never loads the HTTP stack.
 */
import { Command, CommanderError } from 'commander';
import type { CommandContext } from './context.js';
import type { IO, OutputMode } from './output.js';

declare const __ANYGEN_VERSION__: string | undefined;

// Exit codes this file returns itself (the rest come from output.ts, loaded lazily).
const OK = 0;
const USAGE = 2;

const collect = (value: string, previous: string[] = []) => [...previous, value];

function network(cmd: Command): Command {
  return cmd
    .option('-k, --api-key <key>', 'AnyGen API key (sk-…); also ANYGEN_API_KEY or the config file')
    .option('-H, --header <header>', "extra HTTP header 'Name: value' for API requests (repeatable)", collect);
}

function waiting(cmd: Command): Command {
  return cmd
    .option('--timeout <seconds>', 'give up waiting after this long (default 1200)')
    .option('--interval <seconds>', 'seconds between status checks, at least 1 (default 3)');
}

type Runner = (ctx: CommandContext) => Promise<unknown>;

export async function main(argv: string[], io: IO): Promise<number> {
  // The build stamps the version in; from source (tests) it is read from package.json.
  const version = typeof __ANYGEN_VERSION__ === 'string' ? __ANYGEN_VERSION__ : (await import('./version.js')).VERSION;
  let mode: OutputMode = {
    json: argv.includes('--json'),
    quiet: argv.includes('--quiet') || argv.includes('-q'),
    verbose: argv.includes('--verbose'),
  };
  let exitCode = OK;
  let usageMessage: string | undefined;

  const program = new Command()
    .name('anygen-image')
    .description('Generate posters, banners and illustrations with AnyGen from the command line.')
    .version(version, '-V, --version', 'print the version')
    .option('--json', 'print exactly one JSON document on stdout')
    .option('-q, --quiet', 'print results only: no progress or information on stderr')
    .option('--verbose', 'print each API request with its x-request-id on stderr (key redacted)')
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

  const act =
    (load: (cmd: Command) => Runner) =>
    async (...args: unknown[]) => {
      const cmd = args[args.length - 1] as Command;
      const globals = cmd.optsWithGlobals() as { json?: boolean; quiet?: boolean; verbose?: boolean };
      mode = { json: Boolean(globals.json), quiet: Boolean(globals.quiet), verbose: Boolean(globals.verbose) };
      const { runCommand } = await import('./run.js');
      exitCode = await runCommand(io, mode, load(cmd));
    };

  const configCmd = program.command('config').description('manage the config file (~/.config/anygen/config.json)');
  configCmd
    .command('set <key> <value>')
    .description('set api_key, default_language or suite_recommended')
    .action(
      act(
        (cmd) => async (ctx) =>
          (await import('./commands/config.js')).set(ctx, cmd.args[0] as string, cmd.args[1] as string),
      ),
    );
  configCmd
    .command('get [key]')
    .description('show one value or all (the key is masked)')
    .action(act((cmd) => async (ctx) => (await import('./commands/config.js')).get(ctx, cmd.args[0])));
  configCmd
    .command('delete <key>')
    .description('remove a value')
    .action(act((cmd) => async (ctx) => (await import('./commands/config.js')).remove(ctx, cmd.args[0] as string)));
  configCmd
    .command('path')
    .description('print where the config file is')
    .action(act(() => async (ctx) => (await import('./commands/config.js')).path(ctx)));

  network(program.command('upload').description('upload a reference file and print its file token'))
    .option('--file <path>', 'the file to upload (at most 50 MB)')
    .action(act((cmd) => async (ctx) => (await import('./commands/upload.js')).run(ctx, cmd.opts())));

  network(program.command('prepare').description('one turn of the requirement dialogue before creating a task'))
    .option('-m, --message <text>', 'your message')
    .option('--file-token <token>', 'a file token from upload (repeatable)', collect)
    .option('--input <file>', 'continue the conversation saved in this file')
    .option('--save <file>', 'save the conversation to this file (written atomically)')
    .option('--stdin', 'read the message from standard input')
    .action(act((cmd) => async (ctx) => (await import('./commands/prepare.js')).run(ctx, cmd.opts())));

  const createOptions = (cmd: Command) =>
    waiting(network(cmd))
      .option('-o, --operation <operation>', 'operation; ai_designer (or ai-designer) for images', 'ai_designer')
      .option('-p, --prompt <text>', 'what to generate')
      .option('--file-token <token>', 'a file token from upload (repeatable)', collect)
      .option('-l, --language <language>', 'zh-CN or en-US (default: default_language from the config)')
      .option('-f, --export-format <format>', 'export format, for operations that have one');

  createOptions(program.command('create').description('create a generation task'))
    .option('--wait', 'wait for the task to finish')
    .option('--output <dir>', 'with --wait: download the results into this folder')
    .action(act((cmd) => async (ctx) => (await import('./commands/create.js')).run(ctx, cmd.opts())));

  createOptions(program.command('run').description('create a task, wait for it and download the results'))
    .option('--output <dir>', 'download the results into this folder')
    .action(act((cmd) => async (ctx) => (await import('./commands/create.js')).runAll(ctx, cmd.opts())));

  waiting(network(program.command('poll').description('wait for a task to finish (blocks up to 20 minutes)')))
    .option('--task-id <id>', 'the task id from create')
    .option('--output <dir>', 'download the results into this folder')
    .action(act((cmd) => async (ctx) => (await import('./commands/poll.js')).poll(ctx, cmd.opts())));

  network(program.command('download').description("download a finished task's files"))
    .option('--task-id <id>', 'the task id from create')
    .option('--output <dir>', 'the folder to download into')
    .action(act((cmd) => async (ctx) => (await import('./commands/poll.js')).download(ctx, cmd.opts())));

  network(program.command('thumbnail').description("download a finished task's thumbnail"))
    .option('--task-id <id>', 'the task id from create')
    .option('--output <dir>', 'the folder to download into')
    .action(act((cmd) => async (ctx) => (await import('./commands/poll.js')).thumbnail(ctx, cmd.opts())));

  network(program.command('send-message').description('ask a finished task for changes (returns at once)'))
    .option('--task-id <id>', 'the task id from create')
    .option('-m, --message <text>', 'the change you want')
    .option('--file <path>', 'a file to upload and attach (repeatable)', collect)
    .option('--file-token <token>', 'a file token from upload (repeatable)', collect)
    .action(act((cmd) => async (ctx) => (await import('./commands/messages.js')).send(ctx, cmd.opts())));

  waiting(network(program.command('get-messages').description("read a task's messages, or wait for a reply")))
    .option('--task-id <id>', 'the task id from create')
    .option('--limit <n>', 'how many messages, 1–100 (default 10)')
    .option('--cursor <cursor>', 'page to older messages')
    .option('--wait', 'wait until an assistant reply newer than --since-id is completed')
    .option('--since-id <id>', 'with --wait: the message id from send-message')
    .action(act((cmd) => async (ctx) => (await import('./commands/messages.js')).get(ctx, cmd.opts())));

  waiting(
    network(
      program
        .command('batch <file>')
        .description(
          'create, wait for and download many items (JSON Lines or .txt, - for stdin), each created once; rerun to resume',
        ),
    ),
  )
    .option('--output <dir>', 'the folder for the files and the state file')
    .option('--concurrency <n>', 'items worked on at once, 1–32 (default 4)')
    .option('--shard <i/n>', 'only the items of shard I of N (a CI matrix job each)')
    .option('--dry-run', 'list what would be created and uploaded; send nothing')
    .option('--fail-fast', 'stop at the first failed item')
    .option('--retry-unknown', 'create again the items whose earlier create got no answer (may spend credits twice)')
    .option('--progress <mode>', 'auto, spinner, plain, json or none (default auto)')
    .action(act((cmd) => async (ctx) => (await import('./commands/batch.js')).run(ctx, cmd.args[0], cmd.opts())));

  network(program.command('verify').description('check the API key with AnyGen and show the credits left')).action(
    act((cmd) => async (ctx) => (await import('./commands/verify.js')).run(ctx, cmd.opts())),
  );

  program
    .command('sandbox')
    .description('run a local AnyGen server for trying the CLI and for tests (no key or credits needed)')
    .option('--port <port>', 'port to listen on (default: any free port)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--key <key>', 'the API key it accepts')
    .option('--reads <n>', 'status reads before a task completes (default 3)')
    .option('--reply-reads <n>', 'message reads before a reply completes (default 1)')
    .option('--faults <spec>', 'faults for the next API requests, e.g. 503*2,429:1,drop (see README)')
    .action(act((cmd) => async (ctx) => (await import('./commands/sandbox.js')).run(ctx, cmd.opts())));

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
    const { usageFailure } = await import('./run.js');
    return usageFailure(io, mode, usageMessage ?? err.message);
  }
  return exitCode;
}
