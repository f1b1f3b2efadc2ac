/** `sandbox`: run the local AnyGen until Ctrl-C. */
import { usageError } from '../errors.js';
import type { CommandContext } from '../factory.js';
import { intOption } from '../flags.js';
import { parseFaults } from '../sandbox/faults.js';
import { startSandbox } from '../sandbox/server.js';

export interface SandboxCommandOptions {
  port?: string;
  host?: string;
  key?: string;
  reads?: string;
  replyReads?: string;
  faults?: string;
}

export async function run(ctx: CommandContext, opts: SandboxCommandOptions) {
  const port = intOption('--port', opts.port, 0, 65_535, 0);
  const readsToComplete = intOption('--reads', opts.reads, 0, 10_000, 3);
  const replyReads = intOption('--reply-reads', opts.replyReads, 0, 10_000, 1);
  if (opts.faults) {
    try {
      parseFaults(opts.faults);
    } catch (err) {
      throw usageError(`--faults: ${(err as Error).message}`);
    }
  }
  let sandbox: Awaited<ReturnType<typeof startSandbox>>;
  try {
    sandbox = await startSandbox({
      port,
      host: opts.host ?? '127.0.0.1',
      ...(opts.key ? { apiKey: opts.key } : {}),
      readsToComplete,
      replyReads,
      ...(opts.faults ? { faults: opts.faults } : {}),
      log: (line) => ctx.out.info(line),
    });
  } catch (err) {
    if ((err as { code?: string }).code === 'EADDRINUSE') {
      throw usageError(
        `Cannot start the sandbox: port ${port} is already in use`,
        'Use --port 0 to take any free port (the sandbox prints its URL).',
      );
    }
    throw usageError(`Cannot start the sandbox: ${(err as Error).message}`);
  }
  await ctx.out.result('sandbox', { url: sandbox.url, api_key: sandbox.apiKey }, [
    `AnyGen sandbox listening on ${sandbox.url}`,
    ['API key', sandbox.apiKey],
    'Use it from another shell:',
    `  export ANYGEN_BASE_URL=${sandbox.url} ANYGEN_API_KEY=${sandbox.apiKey}`,
    'Press Ctrl-C to stop.',
  ]);
  await new Promise<void>((resolve) => {
    if (ctx.io.signal.aborted) resolve();
    ctx.io.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await sandbox.close();
  ctx.out.info('Sandbox stopped.');
}
