import { describe, expect, test } from 'vitest';
import { progressPrinter } from '../../lib/cli/progress.ts';

describe('progress, written to a log (not a terminal)', () => {
  test('two drills polling side by side: a line when a database\'s step changes, not per poll', () => {
    const lines: string[] = [];
    const stream = { isTTY: false, write: (text: string) => lines.push(text) > 0 } as unknown as NodeJS.WriteStream;
    const print = progressPrinter(stream);

    for (let poll = 0; poll < 50; poll++) {
      print({ database: 'app', step: 'wait', detail: 'starting' });
      print({ database: 'billing', step: 'wait', detail: 'starting' });
    }
    print({ database: 'app', step: 'verify' });
    print({ database: 'billing', step: 'wait', detail: 'in recovery' });

    expect(lines.map((line) => line.replace(/^\[[^\]]*\] /, '').trim())).toEqual([
      'app: wait (starting)',
      'billing: wait (starting)',
      'app: verify',
      'billing: wait (in recovery)',
    ]);
  });
});
