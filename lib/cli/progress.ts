import { formatSeconds } from '../report/format.ts';

export interface ProgressLine {
  step: string;
  detail?: string;
  database?: string;
}

/**
 * Progress on stderr (stdout stays for results and JSON). On a terminal the current step's line is
 * redrawn with its elapsed time until the next step begins; elsewhere, one plain line per change.
 */
export function progressPrinter(stream: NodeJS.WriteStream = process.stderr): (event: ProgressLine) => void {
  const started = Date.now();
  const stamp = () => `[${formatSeconds((Date.now() - started) / 1000).padStart(6)}]`;
  const describe = (event: ProgressLine) => `${event.database ? `${event.database}: ` : ''}${event.step}${event.detail ? ` (${event.detail})` : ''}`;
  // A database's line repeats only when it changes: several drills at once interleave their polls.
  const lastOf = new Map<string, string>();
  const changed = (event: ProgressLine, text: string) => {
    const key = event.database ?? '';
    if (lastOf.get(key) === text) return false;
    lastOf.set(key, text);
    return true;
  };
  let last = '';
  if (!stream.isTTY) {
    return (event) => {
      const text = describe(event);
      if (changed(event, text)) stream.write(`${stamp()} ${text}\n`);
    };
  }
  let ticker: NodeJS.Timeout | undefined;
  const redraw = () => stream.write(`\r\x1b[2K${stamp()} ${last}`);
  return (event) => {
    const text = describe(event);
    if (!changed(event, text)) return;
    if (last) stream.write('\n');
    last = text;
    redraw();
    clearInterval(ticker);
    ticker = event.step === 'done' ? undefined : setInterval(redraw, 250).unref();
    if (event.step === 'done') {
      stream.write('\n');
      last = '';
    }
  };
}
