import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildEvidence, type EvidenceInput } from '../../lib/evidence/model.ts';
import { renderEvidencePage } from '../../lib/evidence/page.ts';
import { signReport } from '../../lib/evidence/signing.ts';
import { Chromium } from './chromium.ts';
import { history } from './history.ts';
import { plantedReports } from './planted.ts';

const now = new Date('2026-11-30T12:00:00Z');
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const reports = plantedReports(history({ databases: ['app', 'billing', 'analytics'], days: 60, lastDay: '2026-11-30' })).map((entry) => ({ ...entry, report: signReport(entry.report, privateKey) }));
// Edited after signing: the page must mark it.
reports[3]!.report = { ...reports[3]!.report, rpo: { ...reports[3]!.report.rpo, claimedSeconds: 1 } };
const input: EvidenceInput = { reports, period: { since: new Date(now.getTime() - 60 * 86_400_000), until: now }, now, expectEverySeconds: 86_400, publicKey, source: 'the folder ./drill-reports' };

let dir: string;
let browser: Chromium;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rd-evidence-'));
  await writeFile(join(dir, 'evidence.html'), await renderEvidencePage(input));
  await writeFile(join(dir, 'broken.html'), '<!doctype html><title>t</title><img src="https://example.com/pixel.png"><script>throw new Error("broken on purpose")</script>');
  browser = await Chromium.launch();
});

afterAll(async () => {
  await browser?.close();
  await rm(dir, { recursive: true, force: true });
});

interface PageDom {
  title: string;
  images: number;
  brokenLinks: string[];
  summaries: string[];
  sections: {
    name: string;
    sentence: string;
    charts: { measure: string; width: number; lines: number; longest: number }[];
    cells: number;
    titled: number;
    classes: Record<string, number>;
    links: { href: string; target: boolean }[];
    latest: string;
    signatures: string;
  }[];
}

const READ_DOM = `(() => ({
  title: document.title,
  images: document.querySelectorAll('img').length,
  brokenLinks: [...document.querySelectorAll('a[href]')].map((a) => a.getAttribute('href')).filter((href) => !href.startsWith('#') || !document.getElementById(href.slice(1))),
  summaries: [...document.querySelectorAll('.summary .auditor-sentence')].map((p) => p.textContent),
  sections: [...document.querySelectorAll('section.database')].map((section) => {
    const cells = [...section.querySelectorAll('.calendar .cells > *')];
    const classes = {};
    for (const cell of cells) classes[cell.classList[0]] = (classes[cell.classList[0]] ?? 0) + 1;
    return {
      name: section.dataset.database,
      sentence: section.querySelector('.auditor-sentence').textContent,
      charts: [...section.querySelectorAll('figure.chart')].map((figure) => {
        const paths = [...figure.querySelectorAll('svg .mark-line path')];
        return { measure: figure.dataset.measure, width: figure.querySelector('svg').getBoundingClientRect().width, lines: paths.length, longest: Math.max(0, ...paths.map((path) => path.getTotalLength())) };
      }),
      cells: cells.length,
      titled: cells.filter((cell) => /^\\d{4}-\\d{2}-\\d{2} (passed|failed|error|missing|no drill)/.test(cell.title)).length,
      classes,
      links: [...section.querySelectorAll('.calendar a')].map((a) => ({ href: a.getAttribute('href'), target: document.getElementById(a.getAttribute('href').slice(1)) !== null })),
      latest: section.querySelector('.latest-drill')?.textContent ?? '',
      signatures: section.querySelector('.signatures').textContent,
    };
  }),
}))()`;

describe('the evidence page in headless Chromium, network off', () => {
  test('summary sentences, one chart per database and measure, the calendar; no console error, nothing fetched, no planted markup ran', async () => {
    const evidence = buildEvidence(input);
    const url = `file://${join(dir, 'evidence.html')}`;

    await browser.open(url);
    const dom = await browser.evaluate<PageDom>(READ_DOM);

    expect(browser.problems).toEqual([]);
    expect(browser.requests).toEqual([url]);
    expect(dom.title).toMatch(/^Restore drill evidence/);
    expect(dom.images).toBe(0);
    expect(dom.brokenLinks).toEqual([]);
    expect(dom.summaries[1]).toMatch(/1 report does not verify \(altered since signing, or signed by another key\): \d{4}-\d\d-\d\d; what it says cannot be trusted, and is not counted\.$/);
    expect(dom.summaries).toHaveLength(3);
    for (const [index, database] of evidence.databases.entries()) {
      const section = dom.sections[index]!;
      expect(section.name).toBe(database.name);
      expect(dom.summaries[index]).toBe(section.sentence);
      // From the first verified drill's day, not the period's start; only verified drills are counted.
      const first = new Date(database.counted[0]!.startedMs).toISOString().slice(0, 10);
      expect(section.sentence).toMatch(new RegExp(`^${database.name}: restored and verified ${database.counts.restoredAndVerified} times between ${first} and 2026-11-30 \\(${database.counted.length} verified drills\\); last on 2026-11-30 03:\\d\\d UTC`));
      expect(section.sentence).toContain(`${database.counts.passed} passed, ${database.counts.failed} failed`);
      expect(section.charts.map((chart) => [chart.measure, chart.lines])).toEqual([
        ['rpo', 2],
        ['rto', 3],
      ]);
      for (const chart of section.charts) {
        expect(chart.width).toBeGreaterThan(500);
        expect(chart.longest).toBeGreaterThan(400);
      }
      expect(section.cells).toBe(61);
      expect(section.titled).toBe(61);
      expect(section.classes['d-f'] ?? 0).toBe(database.calendar.filter((day) => day.status === 'failed').length);
      expect(section.classes['d-m'] ?? 0).toBe(database.calendar.filter((day) => day.status === 'missing').length);
      expect(section.links.length).toBeGreaterThan(0);
      expect(section.links.every((link) => link.target)).toBe(true);
      expect(section.latest).toContain('RTO');
    }
    expect(dom.sections.map((section) => section.signatures)).toEqual([
      expect.stringMatching(/^Reports: \d+ signature intact\.$/),
      expect.stringMatching(/^Reports: \d+ signature intact, 1 ALTERED since it was signed\.$/),
      expect.stringMatching(/^Reports: \d+ signature intact\.$/),
    ]);
  });

  test('the same browser does see a page that throws and fetches (the checks above can fail)', async () => {
    // Both are reported before the load event: the script runs and the image is requested while the page parses.
    await browser.open(`file://${join(dir, 'broken.html')}`);

    expect(browser.problems.map((problem) => problem.text).join('\n')).toContain('broken on purpose');
    expect(browser.requests).toContain('https://example.com/pixel.png');
  });
});
