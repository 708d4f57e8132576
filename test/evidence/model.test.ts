import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { buildEvidence, missingDrills, type EvidenceReport } from '../../lib/evidence/model.ts';
import { signReport } from '../../lib/evidence/signing.ts';
import { history } from './history.ts';

const DAY = 86_400_000;
const at = (iso: string) => Date.parse(iso);
const period = (since: string, until: string) => ({ sinceMs: at(since), untilMs: at(until) });

describe('missing drills', () => {
  test('a daily schedule with a two-day hole and jitter: two missing, spread over the hole', () => {
    const starts = [at('2026-11-01T03:00:00Z'), at('2026-11-02T03:04:00Z'), at('2026-11-05T02:58:00Z'), at('2026-11-06T03:01:00Z')];

    const missing = missingDrills(starts, DAY, period('2026-11-01T00:00:00Z', '2026-11-06T12:00:00Z'), false);

    expect(missing.map((date) => date.toISOString().slice(0, 10))).toEqual(['2026-11-03', '2026-11-04']);
  });

  test('after the newest drill, one is missing once it is half a period overdue, not before', () => {
    const starts = [at('2026-11-01T03:00:00Z'), at('2026-11-02T03:00:00Z')];

    expect(missingDrills(starts, DAY, period('2026-11-01T00:00:00Z', '2026-11-03T14:00:00Z'), false)).toEqual([]);
    expect(missingDrills(starts, DAY, period('2026-11-01T00:00:00Z', '2026-11-03T16:00:00Z'), false).map((date) => date.toISOString())).toEqual(['2026-11-03T03:00:00.000Z']);
  });

  test('a stated schedule counts the start of the period; a derived one knows nothing before the first drill', () => {
    const starts = [at('2026-11-04T03:00:00Z'), at('2026-11-05T03:00:00Z')];
    const window = period('2026-11-01T00:00:00Z', '2026-11-05T12:00:00Z');

    expect(missingDrills(starts, DAY, window, true).map((date) => date.toISOString().slice(0, 10))).toEqual(['2026-11-01', '2026-11-02', '2026-11-03']);
    expect(missingDrills(starts, DAY, window, false)).toEqual([]);
    expect(missingDrills([], DAY, period('2026-11-01T00:00:00Z', '2026-11-04T00:00:00Z'), true)).toHaveLength(3);
  });
});

describe('evidence per database', () => {
  const now = new Date('2026-11-30T12:00:00Z');
  const since = new Date(now.getTime() - 30 * DAY);
  const reports = history({ databases: ['app', 'billing'], days: 40, lastDay: '2026-11-30', seed: 3 });

  test('counts, the calendar and the latest drill, for the period alone', () => {
    const evidence = buildEvidence({ reports, period: { since, until: now }, now, source: 'test' });
    const app = evidence.databases.find((database) => database.name === 'app')!;
    const inPeriod = reports.filter((entry) => entry.report.database === 'app' && Date.parse(entry.report.startedAt) >= since.getTime());

    expect(evidence.databases.map((database) => database.name)).toEqual(['app', 'billing']);
    expect(app.drills).toHaveLength(inPeriod.length);
    expect(app.counts.passed + app.counts.failed + app.counts.error).toBe(inPeriod.length);
    expect(app.counts.failed).toBe(inPeriod.filter((entry) => entry.report.status === 'failed').length);
    expect(evidence.leftOut).toBe(reports.length - evidence.databases.reduce((sum, database) => sum + database.drills.length, 0));
    expect(app.calendar[0]!.day).toBe('2026-10-31');
    expect(app.calendar.at(-1)!.day).toBe('2026-11-30');
    expect(app.latest!.report.startedAt).toBe(inPeriod.map((entry) => entry.report.startedAt).sort().at(-1));
    for (const day of app.calendar.filter((cell) => cell.status === 'failed')) {
      expect(app.drills.find((drill) => drill.id === day.drillId)!.report.status).toBe('failed');
    }
  });

  test('the schedule: derived from the spacing (the median), or as stated; missing days in the calendar', () => {
    const gappy: EvidenceReport[] = reports.filter((entry) => !(entry.report.database === 'app' && entry.report.startedAt.startsWith('2026-11-1')));
    const derived = buildEvidence({ reports: gappy, period: { since, until: now }, now, source: 'test', databases: ['app'] }).databases[0]!;
    const stated = buildEvidence({ reports: gappy, period: { since, until: now }, now, source: 'test', databases: ['app'], expectEverySeconds: 43_200 }).databases[0]!;

    expect(derived.expectation).toMatchObject({ source: 'derived' });
    expect(Math.abs((derived.expectation as { everySeconds: number }).everySeconds - 86_400)).toBeLessThan(300);
    expect(derived.calendar.filter((day) => day.day.startsWith('2026-11-1')).map((day) => day.status)).toEqual(Array(10).fill('missing'));
    expect(stated.expectation).toEqual({ source: 'option', everySeconds: 43_200 });
    expect(stated.missing.length).toBeGreaterThan(derived.missing.length);
  });

  test('a database named but without reports is shown as such; too few drills derive no schedule', () => {
    const evidence = buildEvidence({ reports: reports.slice(0, 2), period: { since: new Date(0), until: now }, now, source: 'test', databases: ['app', 'ghost'] });

    expect(evidence.databases.map((database) => [database.name, database.drills.length, database.expectation.source])).toEqual([
      ['app', 2, 'none'],
      ['ghost', 0, 'none'],
    ]);
  });

  test('a database whose drills stopped before the period stays on the page, with no drill and, on a schedule, every day missing', () => {
    const stopped = history({ databases: ['legacy'], days: 10, lastDay: '2026-10-15' });

    const evidence = buildEvidence({ reports: [...reports, ...stopped], period: { since, until: now }, now, source: 'test', expectEverySeconds: 86_400 });
    const listed = buildEvidence({ reports, period: { since, until: now }, now, source: 'test', knownDatabases: ['legacy'] });
    const legacy = evidence.databases.find((database) => database.name === 'legacy')!;

    expect(evidence.databases.map((database) => database.name)).toEqual(['app', 'billing', 'legacy']);
    expect(legacy.drills).toEqual([]);
    expect(legacy.missing).toHaveLength(30);
    expect(legacy.calendar.filter((day) => day.status === 'missing')).toHaveLength(30);
    expect(listed.databases.map((database) => [database.name, database.drills.length])).toEqual([
      ['app', expect.any(Number)],
      ['billing', expect.any(Number)],
      ['legacy', 0],
    ]);
  });

  test('a document that is not a report is named as unreadable, not counted', () => {
    const evidence = buildEvidence({ reports: [...reports, { report: { hello: 'world' } as never, origin: 'x.json' }], period: { since, until: now }, now, source: 'test' });

    expect(evidence.unreadable).toEqual([{ origin: 'x.json', reason: expect.stringContaining('not a drill report') }]);
  });
});

describe('evidence with a public key: only what verifies is counted', () => {
  const now = new Date('2026-12-01T12:00:00Z');
  const since = new Date(now.getTime() - 90 * DAY);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  /** Three signed drills on the period's last three days: passed, failed, failed. */
  function signed(): EvidenceReport[] {
    const reports = history({ databases: ['app'], days: 3, lastDay: '2026-12-01', skipRate: 0, failRate: 0, errorRate: 0 });
    return reports.map((entry, index) => {
      const report = { ...entry.report, drillId: `dr${index}`, status: index === 0 ? ('passed' as const) : ('failed' as const) };
      return { ...entry, origin: `drill-reports/app-${index}.json`, report: signReport(report, privateKey) };
    });
  }
  /** A failed report turned into a pass, its signature removed (finding 6). */
  function forged(entry: EvidenceReport): EvidenceReport {
    const { signature: _removed, error: _error, ...content } = entry.report;
    return { ...entry, report: { ...content, status: 'passed' } };
  }

  test('unsigned reports newer than a signed one of the database are not counted, and named as suspect', () => {
    const [passed, failed1, failed2] = signed();
    const reports = [passed!, forged(failed1!), forged(failed2!)];

    const app = buildEvidence({ reports, period: { since, until: now }, now, source: 'test', publicKey }).databases[0]!;

    expect(app.counts.passed).toBe(1);
    expect(app.counts.failed).toBe(0);
    expect(app.counted.map((drill) => drill.origin)).toEqual([passed!.origin]);
    expect(app.notCounted.map((drill) => drill.origin)).toEqual([failed1!.origin, failed2!.origin]);
    expect(app.unsignedAfterSigning.map((drill) => drill.origin)).toEqual([failed1!.origin, failed2!.origin]);
    expect(app.rpo.judged).toBe(1);
    // The forged days are not coloured as passed; their mark says why.
    expect(app.calendar.slice(-3).map((day) => [day.day, day.status, day.signature])).toEqual([
      ['2026-11-29', 'passed', 'intact'],
      ['2026-11-30', 'none', 'unsigned'],
      ['2026-12-01', 'none', 'unsigned'],
    ]);
  });

  test('an unsigned report older than the first signed one, or one that says its signing failed, is not suspect', () => {
    const [first, second, third] = signed();
    const { signature: _s, ...before } = first!.report;
    const { signature: _t, ...signingFailed } = third!.report;
    const reports = [
      { ...first!, report: before },
      second!,
      { ...third!, report: { ...signingFailed, status: 'error' as const, error: { step: 'report' as const, message: 'the report is stored unsigned: …', kind: 'tool' as const, name: 'ReportSigningError' } } },
    ];

    const app = buildEvidence({ reports, period: { since, until: now }, now, source: 'test', publicKey }).databases[0]!;

    expect(app.unsignedAfterSigning).toEqual([]);
    expect(app.notCounted).toHaveLength(2);
    expect(app.counted).toHaveLength(1);
  });

  test('the same report under several names counts once; the copies are named as duplicates (finding 7)', () => {
    const [passed, failed1, failed2] = signed();
    const replays = [0, 1, 2, 3].map((n) => ({ ...passed!, origin: `drill-reports/app-replayed-${n}.json` }));
    // The same drill id, the content changed and re-signed by nobody: still that drill, once.
    const sameId = { ...forged(failed1!), origin: 'drill-reports/app-same-id.json' };
    const reports = [passed!, failed1!, failed2!, ...replays, sameId];

    const evidence = buildEvidence({ reports, period: { since, until: now }, now, source: 'test', publicKey });
    const app = evidence.databases[0]!;

    expect(app.drills).toHaveLength(3);
    expect(app.counts).toMatchObject({ passed: 1, failed: 2 });
    expect(app.duplicates.map((duplicate) => [duplicate.origin, duplicate.of])).toEqual([
      ['drill-reports/app-replayed-0.json', passed!.origin],
      ['drill-reports/app-replayed-1.json', passed!.origin],
      ['drill-reports/app-replayed-2.json', passed!.origin],
      ['drill-reports/app-replayed-3.json', passed!.origin],
      ['drill-reports/app-same-id.json', failed1!.origin],
    ]);
    expect(app.duplicates.at(-1)!.signature).toBe('unsigned');
  });

  test('without a key nothing can be verified: every report counts, as before', () => {
    const [passed, failed1, failed2] = signed();

    const app = buildEvidence({ reports: [passed!, forged(failed1!), failed2!], period: { since, until: now }, now, source: 'test' }).databases[0]!;

    expect(app.counted).toHaveLength(3);
    expect(app.unsignedAfterSigning).toEqual([]);
  });
});
