/**
 * How waiting looks: a spinner on a terminal (ora, loaded only then), plain lines
 * and a heartbeat every 30 s in a pipe or a CI log, nothing under --json or --quiet.
 */
import { clock } from './format.js';
import { cleanText, type Output } from './output.js';

export interface ProgressEvent {
  type: 'update' | 'heartbeat' | 'retry';
  status?: string;
  progress?: number | undefined;
  elapsedMs: number;
  delayMs?: number;
  error?: { message: string };
}

export interface Progress {
  event(e: ProgressEvent): void;
  stop(): void;
}

const NO_PROGRESS: Progress = { event() {}, stop() {} };

function describe(e: ProgressEvent): string {
  const pct = e.progress === undefined || e.progress === null ? '' : ` ${e.progress}%`;
  return `${e.status ?? 'waiting'}${pct}`;
}

export async function createProgress(out: Output, label: string): Promise<Progress> {
  if (out.mode.json || out.mode.quiet) return NO_PROGRESS;
  // A spinner redraws by counting the terminal's columns: with a width of 0 (many agent
  // runners and `docker run -t`) ora's line count never ends and the event loop stalls.
  // Such terminals, and TERM=dumb, get the plain lines a pipe gets.
  const spinnerFits = out.io.stderrIsTTY && (out.io.stderrColumns ?? 0) > 0 && out.io.env.TERM !== 'dumb';
  if (!spinnerFits) {
    out.info(`${label}…`);
    return {
      event(e) {
        const at = `[${clock(e.elapsedMs)}]`;
        if (e.type === 'update') out.info(`${at} ${describe(e)}`);
        else if (e.type === 'heartbeat') out.info(`${at} still waiting: ${describe(e)}`);
        else
          out.info(
            `${at} ${e.error?.message ?? 'request failed'}; trying again in ${Math.ceil((e.delayMs ?? 0) / 1000)} s`,
          );
      },
      stop() {},
    };
  }
  const { default: ora } = await import('ora');
  const spinner = ora({
    text: label,
    stream: out.io.stderr as NodeJS.WritableStream,
    discardStdin: false,
    isEnabled: true,
  }).start();
  let last = '';
  return {
    event(e) {
      if (e.type === 'retry') {
        spinner.text = cleanText(
          `${label}: ${last || 'waiting'} (${clock(e.elapsedMs)}) — ${e.error?.message ?? 'retrying'}, retrying`,
        );
        return;
      }
      last = describe(e);
      spinner.text = cleanText(`${label}: ${last} (${clock(e.elapsedMs)})`);
    },
    stop() {
      spinner.stop();
    },
  };
}
