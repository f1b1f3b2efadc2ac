/**
 * Runs one command with its context and turns any failure into output and an exit
 * code. Loaded when a command runs, so `--help` and `--version` never pay for it.
 */
import { unexpectedError, usageError } from './client/errors.js';
import { type CommandContext, createContext } from './context.js';
import { EXIT, type IO, Output, type OutputMode } from './output.js';

export async function runCommand(
  io: IO,
  mode: OutputMode,
  /** Returns an exit code when the outcome is not all-or-nothing (batch). */
  runner: (ctx: CommandContext) => Promise<unknown>,
): Promise<number> {
  const out = new Output(io, mode);
  try {
    const code = await runner(createContext(io, out));
    return typeof code === 'number' ? code : EXIT.ok;
  } catch (err) {
    return out.error(unexpectedError(err));
  }
}

/** A command line commander could not parse: exit 2, as one line (or one JSON document). */
export function usageFailure(io: IO, mode: OutputMode, message: string): number {
  return new Output(io, mode).error(usageError(message, 'Run anygen-image --help for usage.'));
}
