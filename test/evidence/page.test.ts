import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { redactSecrets } from '../../lib/util/redact.ts';
import { renderEvidencePage } from '../../lib/evidence/page.ts';
import { signReport } from '../../lib/evidence/signing.ts';
import { history } from './history.ts';
import { plantedReports } from './planted.ts';

const now = new Date('2026-11-30T12:00:00Z');
const period = { since: new Date(now.getTime() - 30 * 86_400_000), until: now };

describe('the evidence page', () => {
  test('no planted password, key, token, webhook, secret name or row value reaches it, and no planted markup', async () => {
    const reports = plantedReports(history({ databases: ['app', 'billing'], days: 30, lastDay: '2026-11-30' }));

    const html = await renderEvidencePage({ reports, period, now, source: 'the folder ./drill-reports' });

    expect(html).not.toMatch(/planted/i);
    expect(html.match(/<script/g)).toHaveLength(1);
    expect(html).not.toContain('<img');
    expect(html).toContain('connect postgres://app:[redacted]@db.internal:5432/app refused &lt;script&gt;document.title=&quot;pwned&quot;&lt;/script&gt;');
    expect(html).toContain('password=[redacted] host=db user=app; key [redacted] rejected');
    expect(html).toContain('&lt;img src=x onerror=&quot;document.title=&#39;pwned&#39;&quot;&gt;');
  });

  test('self-contained: nothing to fetch, a policy that forbids fetching, the same page for the same input', async () => {
    const reports = history({ databases: ['app'], days: 30, lastDay: '2026-11-30' });
    const input = { reports, period, now, source: 'test', expectEverySeconds: 86_400 };

    const html = await renderEvidencePage(input);

    expect(html).not.toMatch(/\s(src|href)="(?!#)/);
    expect(html).not.toMatch(/url\(|@import/);
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none';`);
    expect(await renderEvidencePage(input)).toBe(html);
  });

  test('a database without a drill in the period says so, with its missing days and empty charts', async () => {
    const reports = history({ databases: ['legacy'], days: 5, lastDay: '2026-10-01' });

    const html = await renderEvidencePage({ reports, period, now, source: 'test', expectEverySeconds: 86_400 });

    expect(html).toContain('<p class="auditor-sentence"><strong>legacy</strong>: no drill between 2026-10-31 and 2026-11-30. <span class="missing-count">30 expected drills missing</span> (a drill expected every 1d (from --expect-every)).</p>');
    expect(html.match(/<figure class="chart"[^>]*><svg/g)).toHaveLength(2);
    expect(html).not.toContain('<h3>Latest drill</h3>');
  });

  test("the latest drill tells its copy's real fate: one removed by someone else is already gone, not 'not removed'", async () => {
    const reports = history({ databases: ['app'], days: 3, lastDay: '2026-11-30', skipRate: 0 });
    const last = reports.at(-1)!;
    last.report = { ...last.report, copy: { ...last.report.copy, name: 'rd-app-20261130030000-ab12', removed: false, fate: 'gone' } };

    const html = await renderEvidencePage({ reports, period, now, source: 'test' });

    expect(html).toContain('rd-app-20261130030000-ab12: already gone: removed by someone else before cleanup');
  });

  test('a database name is text, never markup or a broken anchor', async () => {
    const reports = history({ databases: ['a"b<i>'], days: 3, lastDay: '2026-11-30' });

    const html = await renderEvidencePage({ reports, period, now, source: 'test' });

    expect(html).not.toMatch(/b<i>|"b<i|="a"b/);
    expect(html).toContain('<h2>a&quot;b&lt;i&gt;</h2>');
    expect(html).toMatch(/id="db-a_22_b_3c_i_3e_"/);
  });

  test('each report\'s signature state is on the page: intact, altered, unsigned, or unchecked without a key', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const reports = history({ databases: ['app'], days: 5, lastDay: '2026-11-30', signWith: privateKey, skipRate: 0, failRate: 0, errorRate: 0 });
    reports[1]!.report = { ...reports[1]!.report, rto: { ...reports[1]!.report.rto, totalSeconds: 1 } };
    const { signature: _dropped, ...unsigned } = reports[2]!.report;
    reports[2]!.report = unsigned;

    const checked = await renderEvidencePage({ reports, period, now, source: 'test', publicKey });
    const unchecked = await renderEvidencePage({ reports, period, now, source: 'test' });

    expect(checked).toContain('Reports: 3 signature intact, 1 ALTERED since it was signed, 1 unsigned.');
    expect(checked).toContain('<h3>Reports that are not intact (2)</h3>');
    const days = /<div class="cells">(.*?)<\/div>/.exec(checked)![1]!;
    // Not counted, so the days are not coloured by what those reports claim: only their mark shows.
    expect(days.match(/<i class="d-[nm] s-a"/g)).toHaveLength(1);
    expect(days.match(/<i class="d-[nm] s-u"/g)).toHaveLength(1);
    expect(unchecked).toContain('Reports: 1 unsigned, 4 signed, not checked (no public key given).');
    expect(unchecked).toContain('Signatures were not checked: no public key was given');
  });
});

describe('the evidence page with a public key: forged and replayed reports', () => {
  const today = new Date('2026-12-01T12:00:00Z');
  const longAgo = { since: new Date(today.getTime() - 90 * 86_400_000), until: today };

  test('the headline counts only verified drills, names the unsigned and the duplicates, and runs from the first drill to the last', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const signed = history({ databases: ['app'], days: 3, lastDay: '2026-12-01', skipRate: 0, failRate: 0, errorRate: 0 }).map((entry, index) => ({
      ...entry,
      report: signReport({ ...entry.report, drillId: `dr${index}`, status: index === 0 ? ('passed' as const) : ('failed' as const) }, privateKey),
    }));
    const forged = signed.slice(1).map((entry) => {
      const { signature: _removed, ...content } = entry.report;
      return { ...entry, report: { ...content, status: 'passed' as const } };
    });
    const replays = [0, 1].map((n) => ({ ...signed[0]!, origin: `reports/app/replayed-${n}.json` }));

    const html = await renderEvidencePage({ reports: [signed[0]!, ...forged, ...replays], period: longAgo, now: today, source: 'test', publicKey });
    const sentence = /<p class="auditor-sentence">(.*?)<\/p>/.exec(html)![1]!.replace(/<[^>]+>/g, '');

    expect(sentence).toContain('app: restored and verified 1 time between 2026-11-29 and 2026-11-29 (1 verified drill)');
    expect(sentence).toContain('1 passed, 0 failed');
    expect(sentence).toContain('2 unsigned reports not counted');
    expect(sentence).toContain('2 duplicate reports not counted');
    expect(sentence).not.toContain('2026-09-02');
    expect(html).toContain('<h3>Duplicate reports (2)</h3>');
    expect(html).toContain(`reports/app/replayed-0.json: the same drill as ${signed[0]!.origin}`);
  });

  test('without a key, "between" is the first and the last drill too, not the period', async () => {
    const reports = history({ databases: ['app'], days: 3, lastDay: '2026-12-01', skipRate: 0 });

    const html = await renderEvidencePage({ reports, period: longAgo, now: today, source: 'test' });

    expect(html).toMatch(/restored and verified \d times? between 2026-11-29 and 2026-12-01 \(3 drills\)/);
  });
});

describe('redaction', () => {
  test.each([
    ['postgres://app:hunter2@db:5432/app', 'postgres://app:[redacted]@db:5432/app'],
    ['host=db password=hunter2 user=x', 'host=db password=[redacted] user=x'],
    ['{"password":"hunter2"}', '{"password":"[redacted]"}'],
    ['AKIAIOSFODNN7EXAMPLE used', '[redacted] used'],
    ['https://hooks.slack.com/services/T0/B0/x', 'https://hooks.slack.com/[redacted]'],
    ['xoxb-123-abc', '[redacted]'],
    ['1 hash mismatch: 0003_add_index (sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08)', '1 hash mismatch: 0003_add_index (sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08)'],
  ])('%s', (input, expected) => {
    expect(redactSecrets(input)).toBe(expected);
  });
});
