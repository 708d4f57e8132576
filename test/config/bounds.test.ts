import { describe, expect, test } from 'vitest';
import { validateConfig } from '../../lib/config/load.ts';
import { localProvider, useConfigFolder } from '../support/configFolder.ts';

// Issue 14, item 11: huge durations passed the schema, then failed after a folder was made
// ("Invalid time value", timers overflowing to 1 ms). Every duration is bounded at config time.
const folder = useConfigFolder('bounds');
const local = localProvider;
const problemsOf = folder.problemsOf;

describe('durations in the config', () => {
  test('each out-of-range duration is refused, every one at once, naming the field and the range', async () => {
    const problems = await problemsOf({
      restoreTimeoutSeconds: 1e15,
      rtoTargetSeconds: 1e12,
      rpoTargetSeconds: 0,
      databases: [
        {
          name: 'app',
          provider: local,
          restoreTimeoutSeconds: 1e15,
          pollIntervalSeconds: 1e6,
          source: { host: 'db', database: 'app', user: 'ro' },
          checks: {
            statementTimeoutMs: 2 ** 31,
            rowCounts: [{ table: 'users', asOf: { column: 'created_at', marginSeconds: 1e15 } }],
            freshness: { table: 'users', column: 'created_at', maxLagSeconds: 1e15 },
            integrity: { budgetSeconds: 1e12 },
          },
        },
      ],
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        'restoreTimeoutSeconds: must be a whole number of seconds from 1 to 604800 (7 days); got 1000000000000000',
        'rtoTargetSeconds: must be a whole number of seconds from 1 to 2592000 (30 days); got 1000000000000',
        'rpoTargetSeconds: must be a whole number of seconds from 1 to 2592000 (30 days); got 0',
        'databases[0].restoreTimeoutSeconds: must be a whole number of seconds from 1 to 604800 (7 days); got 1000000000000000',
        'databases[0].pollIntervalSeconds: must be a number of seconds from 0.01 to 300; got 1000000',
        'databases[0].checks.statementTimeoutMs: must be a whole number of milliseconds from 1 to 2147483647 (2^31 - 1, about 24.8 days: Postgres and Node timers hold no more); got 2147483648',
        'databases[0].checks.rowCounts[0].asOf.marginSeconds: must be a number of seconds from 0 to 31536000 (365 days); got 1000000000000000',
        'databases[0].checks.freshness.maxLagSeconds: must be a number of seconds from 0 to 31536000 (365 days); got 1000000000000000',
        'databases[0].checks.integrity.budgetSeconds: must be a number of seconds from 0 to 2147483 (about 24.8 days: Node timers hold no more); got 1000000000000',
      ]),
    );
  });

  test('the largest accepted values are accepted', async () => {
    const config = await validateConfig(
      {
        restoreTimeoutSeconds: 604_800,
        rtoTargetSeconds: 2_592_000,
        databases: [{ name: 'app', provider: local, pollIntervalSeconds: 300, checks: { statementTimeoutMs: 2 ** 31 - 1 } }],
      },
      folder.dir(),
    );
    expect(config.restoreTimeoutSeconds).toBe(604_800);
    expect(config.databases[0]!.checks.statementTimeoutMs).toBe(2 ** 31 - 1);
  });
});
