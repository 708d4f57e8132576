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
  let last = '';
  if (!stream.isTTY) {
    return (event) => {
      const text = describe(event);
      if (text !== last) stream.write(`${stamp()} ${text}\n`);
      last = text;
    };
  }
  let ticker: NodeJS.Timeout | undefined;
  const redraw = () => stream.write(`\r\x1b[2K${stamp()} ${last}`);
  return (event) => {
    const text = describe(event);
    if (text === last) return;
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
