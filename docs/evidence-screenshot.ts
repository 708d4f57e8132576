/**
 * Regenerates docs/evidence.png and docs/evidence-example.html: the evidence page of a 3-database,
 * 60-day history (signed reports, one altered after signing), opened in headless Chromium with the
 * network off. Run: node docs/evidence-screenshot.ts [--top PX --height PX --out FILE]
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { renderEvidencePage } from '../lib/evidence/page.ts';
import { Chromium } from '../test/evidence/chromium.ts';
import { history } from '../test/evidence/history.ts';

const { values } = parseArgs({ options: { top: { type: 'string' }, height: { type: 'string' }, out: { type: 'string' } } });
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const reports = history({ databases: ['app', 'billing', 'analytics'], days: 60, lastDay: '2026-11-30', signWith: privateKey, seed: 5 });
// One report edited after it was signed, as someone rewriting history would: the page must show it.
const edited = reports.find((entry) => entry.report.database === 'billing' && entry.report.status === 'failed')!;
edited.report = { ...edited.report, status: 'passed' };
const now = new Date('2026-11-30T12:00:00Z');
const html = await renderEvidencePage({
  reports,
  period: { since: new Date(now.getTime() - 60 * 86_400_000), until: now },
  now,
  expectEverySeconds: 86_400,
  publicKey,
  source: 'the folder ./drill-reports',
});
const page = join(import.meta.dirname, 'evidence-example.html');
await writeFile(page, html);
const browser = await Chromium.launch({ width: 1100 });
try {
  await browser.open(`file://${page}`);
  const png = await browser.screenshot(1100, { top: values.top ? Number(values.top) : 0, height: values.height ? Number(values.height) : undefined });
  await writeFile(values.out ?? join(import.meta.dirname, 'evidence.png'), png);
  if (browser.problems.length) throw new Error(`the page logged errors: ${JSON.stringify(browser.problems)}`);
} finally {
  await browser.close();
}
