/** Small text formats shared by messages, hints and progress lines. */

/** A wait's length in words: `45s`, `20m00s`. */
export function formatDuration(ms: number): string {
  const total = Math.round(ms / 1000);
  const m = Math.floor(total / 60);
  const s = total % 60;
  return m > 0 ? `${m}m${String(s).padStart(2, '0')}s` : `${s}s`;
}

/** Elapsed time on a progress line, always with minutes so the column does not jump: `0m03s`. */
export function clock(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** A word as a POSIX shell reads it back unchanged: bare when safe, else single-quoted. */
export function shellQuote(s: string): string {
  return /^[\w./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A command line to paste, every argument quoted for the shell. */
export function cliCommand(...args: (string | number)[]): string {
  return ['anygen-image', ...args.map((a) => shellQuote(String(a)))].join(' ');
}
