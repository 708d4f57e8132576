import { createHash } from 'node:crypto';
import { copyFate, formatSeconds } from '../report/format.ts';
import type { DrillReport, DrillStatus } from '../report/types.ts';
import { toolVersion } from '../version.ts';
import { renderChartSvg } from './charts.ts';
import { escapeHtml as attr, text } from './escape.ts';
import { buildEvidence, utcDay, type CalendarDay, type DatabaseEvidence, type DrillEntry, type Evidence, type EvidenceInput, type TargetRecord } from './model.ts';
import type { SignatureState } from './signing.ts';

const STATUS_WORD: Record<DrillStatus, string> = { passed: 'passed', failed: 'failed', error: 'error' };
const SIGNATURE_WORD: Record<SignatureState, string> = {
  intact: 'signature intact',
  altered: 'ALTERED since it was signed',
  'other-key': 'signed by another key: not verified',
  unsigned: 'unsigned',
  unchecked: 'signed, not checked (no public key given)',
};
/** A passed day has no class: it is most days, and a year of 50 databases is 18,250 cells. */
const DAY_CLASS: Record<CalendarDay['status'], string> = { passed: '', failed: 'd-f', error: 'd-e', missing: 'd-m', none: 'd-n' };
const SIGNATURE_CLASS: Partial<Record<SignatureState, string>> = { altered: 's-a', 'other-key': 's-o', unsigned: 's-u' };
const MAX_LINKED_DATES = 12;

/** Date and time in UTC, to the minute: what a person reads. */
function when(iso: string | Date | null | undefined): string {
  if (!iso) return 'n/a';
  const time = typeof iso === 'string' ? Date.parse(iso) : iso.getTime();
  return Number.isFinite(time) ? `${new Date(time).toISOString().slice(0, 16).replace('T', ' ')} UTC` : text(iso);
}

function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

function seconds(value: unknown): string {
  return typeof value === 'number' && Number.isFinite(value) ? formatSeconds(value) : 'n/a';
}

function every(secondsValue: number): string {
  if (secondsValue % 86_400 === 0) return `${secondsValue / 86_400}d`;
  if (secondsValue % 3600 === 0) return `${secondsValue / 3600}h`;
  return formatSeconds(secondsValue);
}

function dateLinks(drills: readonly DrillEntry[]): string {
  const shown = drills.slice(0, MAX_LINKED_DATES).map((drill) => `<a href="#${drill.id}">${utcDay(drill.startedMs)}</a>`);
  if (drills.length > MAX_LINKED_DATES) shown.push(`and ${drills.length - MAX_LINKED_DATES} more below`);
  return shown.join(', ');
}

function expectationText(database: DatabaseEvidence): string {
  const expectation = database.expectation;
  if (expectation.source === 'option') return `a drill expected every ${every(expectation.everySeconds)} (from --expect-every)`;
  if (expectation.source === 'derived') return `a drill expected every ${every(expectation.everySeconds)} (derived from the reports' spacing: the median of ${plural(expectation.gaps, 'interval')})`;
  return `no schedule to expect drills from: ${text(expectation.reason)}`;
}

/** Not counted above: a report that does not verify is no evidence, and the sentence says so. */
function untrusted(database: DatabaseEvidence): string {
  const bad = database.drills.filter((drill) => drill.signature === 'altered' || drill.signature === 'other-key');
  if (!bad.length) return '';
  return ` <span class="missed">${plural(bad.length, 'report does', 'reports do')} not verify (altered since signing, or signed by another key): ${dateLinks(bad.map((drill) => ({ ...drill, id: `sig-${drill.id}` })))}; what ${bad.length === 1 ? 'it says' : 'they say'} cannot be trusted, and is not counted.</span>`;
}

/** With a key, unsigned reports are shown but not counted: anyone who can write to the store can write one. */
function unsignedNotCounted(database: DatabaseEvidence): string {
  const unsigned = database.notCounted.filter((drill) => drill.signature === 'unsigned');
  if (!unsigned.length) return '';
  const suspect = database.unsignedAfterSigning.length;
  const after = suspect
    ? `; ${suspect} of them ${suspect === 1 ? 'was' : 'were'} written after signing was on and ${suspect === 1 ? 'does' : 'do'} not say ${suspect === 1 ? 'its' : 'their'} signing failed`
    : '';
  return ` <span class="missed">${plural(unsigned.length, 'unsigned report', 'unsigned reports')} not counted (${dateLinks(unsigned.map((drill) => ({ ...drill, id: `sig-${drill.id}` })))})${after}.</span>`;
}

function duplicatesNotCounted(database: DatabaseEvidence): string {
  const count = database.duplicates.length;
  return count ? ` <span class="missed">${plural(count, 'duplicate report', 'duplicate reports')} not counted (the same drill under another name).</span>` : '';
}

/** "restored and verified N times between A and B; last on C; N passed, M failed (dates linked)". */
function auditorSentence(database: DatabaseEvidence, evidence: Evidence): string {
  const name = `<strong>${text(database.name)}</strong>`;
  const missing = database.missing.length ? ` <span class="missing-count">${plural(database.missing.length, 'expected drill')} missing</span> (${expectationText(database)}).` : '';
  const notes = `${unsignedNotCounted(database)}${duplicatesNotCounted(database)}${untrusted(database)}`;
  const drillWord = evidence.keyId ? 'verified drill' : 'drill';
  if (!database.latest) return `${name}: no ${drillWord} between ${utcDay(evidence.period.since.getTime())} and ${utcDay(evidence.period.until.getTime())}.${missing}${notes}`;
  // The drills' own first and last days: the period's start would read as history the drills do not have.
  const between = `between ${utcDay(database.counted[0]!.startedMs)} and ${utcDay(database.latest.startedMs)}`;
  const failed = database.counted.filter((drill) => drill.report.status === 'failed');
  const errors = database.counted.filter((drill) => drill.report.status === 'error');
  const latest = database.latest;
  return (
    `${name}: restored and verified ${plural(database.counts.restoredAndVerified, 'time')} ${between} (${plural(database.counted.length, drillWord)}); ` +
    `last on <a href="#latest-${database.anchor}">${when(latest.report.startedAt)}</a> (${STATUS_WORD[latest.report.status]}); ` +
    `${database.counts.passed} passed, ${failed.length} failed${failed.length ? ` (${dateLinks(failed)})` : ''}` +
    `${errors.length ? `, ${plural(errors.length, 'error')} (${dateLinks(errors)})` : ''}.${missing}${notes}`
  );
}

function targetText(label: string, record: TargetRecord, what: string): string {
  if (record.targetSeconds === null) return `${label}: no target recorded.`;
  const changed = record.targetsSeen.length ? ` (the target changed in the period: ${record.targetsSeen.map(seconds).join(', ')})` : '';
  if (record.judged === 0) return `${label} target ${seconds(record.targetSeconds)}: no drill got far enough to measure it${changed}.`;
  if (record.held === record.judged) return `${label} target ${seconds(record.targetSeconds)}${changed}: <span class="held">held</span> in all ${plural(record.judged, `drill${what}`, `drills${what}`)}.`;
  return `${label} target ${seconds(record.targetSeconds)}${changed}: <span class="missed">missed in ${record.judged - record.held}</span>, held in ${record.held} of ${plural(record.judged, `drill${what}`, `drills${what}`)}.`;
}

function targetsSentence(database: DatabaseEvidence): string {
  return `${targetText('RPO', database.rpo, ' that measured it')} ${targetText('RTO', database.rto, ' that measured it')}`;
}

function signatureSentence(database: DatabaseEvidence): string {
  const parts = (Object.entries(database.signatures) as [SignatureState, number][]).filter(([, count]) => count > 0).map(([state, count]) => `${count} ${SIGNATURE_WORD[state]}`);
  return parts.length ? `Reports: ${parts.join(', ')}.` : 'Reports: none.';
}

function calendar(database: DatabaseEvidence): string {
  const days = database.calendar;
  if (!days.length) return '';
  const first = Date.parse(`${days[0]!.day}T00:00:00Z`);
  // Weeks run left to right, Monday on top.
  const weekday = (new Date(first).getUTCDay() + 6) % 7;
  const months: string[] = [];
  const someSigned = database.drills.length > database.signatures.unsigned || database.notCounted.length > 0;
  const cells = days.map((day, index) => {
    const date = new Date(first + index * 86_400_000);
    const column = Math.floor((index + weekday) / 7);
    // The first, partial month is named only when its next month's name leaves it room.
    if (date.getUTCDate() === 1 || (index === 0 && date.getUTCDate() < 25)) {
      months.push(`<span style="left:${column * 14}px">${date.toLocaleString('en', { month: 'short', timeZone: 'UTC' })}</span>`);
    }
    // Without any signed report, "unsigned" on every day says nothing the sentence above does not.
    const mark = day.signature && (day.signature !== 'unsigned' || someSigned) ? SIGNATURE_CLASS[day.signature] : undefined;
    const names = [DAY_CLASS[day.status], mark].filter(Boolean);
    const classes = names.length === 0 ? '' : names.length === 1 ? ` class=${names[0]}` : ` class="${names.join(' ')}"`;
    const start = index === 0 && weekday ? ` style="grid-row:${weekday + 1}"` : '';
    if (day.drillId && day.status !== 'passed') return `<a${classes}${start} href="#${day.drillId}"></a>`;
    if (day.status === 'missing') return `<i${classes}${start} title="${day.day} missing: ${plural(day.missing, 'expected drill')}"></i>`;
    return `<i${classes}${start}></i>`;
  });
  const counts = { passed: 0, failed: 0, error: 0, missing: 0, none: 0 };
  for (const day of days) counts[day.status]++;
  const label = `calendar of ${database.name}: ${counts.passed} days passed, ${counts.failed} failed, ${counts.error} error, ${counts.missing} missing, ${counts.none} without a drill`;
  return (
    `<div class="calendar" data-database="${attr(database.name)}" data-start="${days[0]!.day}" role="img" aria-label="${text(label)}">` +
    `<div class="months">${months.join('')}</div><div class="cells">${cells.join('')}</div></div>`
  );
}

function legend(): string {
  return (
    '<p class="legend"><i class="d-p"></i> passed <i class="d-f"></i> failed <i class="d-e"></i> error <i class="d-m"></i> missing (a schedule expected one) ' +
    '<i class="d-n"></i> no drill, none expected <i class="d-p s-a"></i> report altered or signed by another key <i class="d-p s-u"></i> report unsigned</p>'
  );
}

function row(label: string, value: string): string {
  return `<tr><th scope="row">${label}</th><td>${value}</td></tr>`;
}

function compliance(value: boolean | null | undefined): string {
  return value === true ? '<span class="held">held</span>' : value === false ? '<span class="missed">missed</span>' : 'not judged';
}

function checksTable(report: DrillReport): string {
  const checks = Array.isArray(report.checks) ? report.checks : [];
  if (!checks.length) return '<p>No check ran.</p>';
  // A check's summary only: its details may hold counts per table and other data that is not the page's to show.
  const rows = checks.map((check) => `<tr class="check-${attr(String(check.status))}"><td>${text(check.status)}</td><td>${text(check.check)}</td><td>${text(check.summary)}</td></tr>`);
  return `<table class="checks"><thead><tr><th>status</th><th>check</th><th>summary</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function errorRow(report: DrillReport): string {
  const error = report.error;
  if (!error) return '';
  return row('Error', `in step <strong>${text(error.step)}</strong> (${text(error.kind)}${error.name ? `, ${text(error.name)}` : ''}): ${text(error.message)}`);
}

function latestDrill(database: DatabaseEvidence): string {
  const drill = database.latest;
  if (!drill) return '';
  const report = drill.report;
  const backup = report.backup
    ? `${text(report.backup.used)}; files: ${text(report.backup.files)} (verified by ${text(report.backup.filesVerifiedBy)})` +
      (Array.isArray(report.backup.skipped) && report.backup.skipped.length ? `; skipped: ${report.backup.skipped.map((skip) => `${text(skip.name)} (${text(skip.reason)})`).join(', ')}` : '')
    : 'no base backup of ours (the provider restores from its own)';
  const copy = report.copy
    ? `${text(report.copy.name ?? 'none made')}: ${text(copyFate(report.copy) || 'not removed')}${report.copy.removeError ? ` (${text(report.copy.removeError)})` : ''}`
    : 'n/a';
  return (
    `<div class="latest-drill" id="latest-${database.anchor}" data-status="${report.status}">` +
    `<table class="facts">` +
    row('Status', `<strong class="status-${report.status}">${STATUS_WORD[report.status]}</strong>`) +
    row('Ran', `${when(report.startedAt)} to ${when(report.finishedAt)} (${text(report.trigger)}, ${text(report.provider)}, restore-drill ${text(report.toolVersion)})`) +
    row('Target', `${text(report.target?.requested)} → ${when(report.target?.time)}`) +
    row('Window', report.window ? `${when(report.window.earliest)} to ${when(report.window.latest)}${report.window.note ? ` (${text(report.window.note)})` : ''}` : 'n/a') +
    row('Backup', backup) +
    row('RPO', `claimed ${seconds(report.rpo.claimedSeconds)}, measured ${seconds(report.rpo.measuredLagSeconds)}, target ${seconds(report.rpo.targetSeconds)}: ${compliance(report.rpo.compliant)}`) +
    row('RTO', `restore ${seconds(report.rto.restoreSeconds)}, verify ${seconds(report.rto.verifySeconds)}, RTO ${seconds(report.rto.totalSeconds)}, target ${seconds(report.rto.targetSeconds)}: ${compliance(report.rto.compliant)}`) +
    row('Copy', copy) +
    errorRow(report) +
    row('Report', `${text(drill.origin)}: <span class="signature signature-${drill.signature}">${SIGNATURE_WORD[drill.signature]}</span>`) +
    `</table>${checksTable(report)}</div>`
  );
}

function failedDrill(drill: DrillEntry): string {
  const report = drill.report;
  const failing = (Array.isArray(report.checks) ? report.checks : []).filter((check) => check.status !== 'pass');
  const missed = [report.rpo.compliant === false ? `RPO (claimed ${seconds(report.rpo.claimedSeconds)}, measured ${seconds(report.rpo.measuredLagSeconds)}, target ${seconds(report.rpo.targetSeconds)})` : '', report.rto.compliant === false ? `RTO (${seconds(report.rto.totalSeconds)}, target ${seconds(report.rto.targetSeconds)})` : ''].filter(Boolean);
  const lines = [
    report.error ? `<li>stopped in step <strong>${text(report.error.step)}</strong> (${text(report.error.kind)}${report.error.name ? `, ${text(report.error.name)}` : ''}): ${text(report.error.message)}</li>` : '',
    ...failing.map((check) => `<li>check <strong>${text(check.check)}</strong> ${text(check.status)}: ${text(check.summary)}</li>`),
    missed.length ? `<li>target missed: ${missed.join('; ')}</li>` : '',
  ].filter(Boolean);
  return (
    `<article class="failed-drill" id="${drill.id}" data-status="${report.status}"><h4>${when(report.startedAt)}: ${STATUS_WORD[report.status]}</h4>` +
    `<ul>${lines.join('') || '<li>no error recorded</li>'}</ul>${drill.signature === 'intact' ? '' : `<p class="origin">${text(drill.origin)}: <span class="signature signature-${drill.signature}">${SIGNATURE_WORD[drill.signature]}</span></p>`}</article>`
  );
}

const MAX_LISTED_REPORTS = 50;

function notIntact(database: DatabaseEvidence): string {
  // Unsigned reports are worth listing one by one only beside signed ones, or when a key left them uncounted:
  // a history kept without a key says so once.
  const someSigned = database.drills.length > database.signatures.unsigned || database.notCounted.length > 0;
  const bad = database.drills.filter((drill) => drill.signature === 'altered' || drill.signature === 'other-key' || (someSigned && drill.signature === 'unsigned'));
  if (!bad.length) return '';
  const items = bad.slice(0, MAX_LISTED_REPORTS).map((drill) => `<li class="signature-${drill.signature}" id="sig-${drill.id}">${when(drill.report.startedAt)}: ${SIGNATURE_WORD[drill.signature]} (${text(drill.origin)})</li>`);
  if (bad.length > MAX_LISTED_REPORTS) items.push(`<li>and ${bad.length - MAX_LISTED_REPORTS} more</li>`);
  return `<h3>Reports that are not intact (${bad.length})</h3><ul class="not-intact">${items.join('')}</ul>`;
}

function duplicateList(database: DatabaseEvidence): string {
  if (!database.duplicates.length) return '';
  const items = database.duplicates
    .slice(0, MAX_LISTED_REPORTS)
    .map((duplicate) => `<li class="signature-${duplicate.signature}">${text(duplicate.origin)}: the same drill as ${text(duplicate.of)} (${when(duplicate.report.startedAt)}; ${SIGNATURE_WORD[duplicate.signature]})</li>`);
  if (database.duplicates.length > MAX_LISTED_REPORTS) items.push(`<li>and ${database.duplicates.length - MAX_LISTED_REPORTS} more</li>`);
  return `<h3>Duplicate reports (${database.duplicates.length})</h3><p>Counted once: each is a drill already on this page, under another name.</p><ul class="duplicates">${items.join('')}</ul>`;
}

const RPO_SERIES = [
  { name: 'claimed', color: '#1f5fa8', value: (drill: DrillEntry) => drill.report.rpo.claimedSeconds },
  { name: 'measured', color: '#e08a00', value: (drill: DrillEntry) => drill.report.rpo.measuredLagSeconds },
];
const RTO_SERIES = [
  { name: 'restore', color: '#1f5fa8', value: (drill: DrillEntry) => drill.report.rto.restoreSeconds },
  { name: 'verify', color: '#2e9e5b', value: (drill: DrillEntry) => drill.report.rto.verifySeconds },
  { name: 'RTO', color: '#6a3d9a', value: (drill: DrillEntry) => drill.report.rto.totalSeconds },
];

async function databaseSection(database: DatabaseEvidence, evidence: Evidence): Promise<string> {
  const [rpo, rto] = await Promise.all([
    renderChartSvg({ title: `RPO of ${database.name}: claimed and measured, target dashed`, drills: database.counted, series: RPO_SERIES, target: (drill) => drill.report.rpo.targetSeconds, period: evidence.period }),
    renderChartSvg({ title: `Restore, verify and RTO of ${database.name}, target dashed`, drills: database.counted, series: RTO_SERIES, target: (drill) => drill.report.rto.targetSeconds, period: evidence.period }),
  ]);
  const failed = database.drills.filter((drill) => drill.report.status !== 'passed');
  return (
    `<section class="database" id="db-${database.anchor}" data-database="${attr(database.name)}">` +
    `<h2>${text(database.name)}</h2><p class="auditor-sentence">${auditorSentence(database, evidence)}</p>` +
    `<p class="targets">${targetsSentence(database)}</p><p class="signatures">${signatureSentence(database)}</p>` +
    `<h3>Drills by day</h3><p class="expectation">UTC days, weeks left to right, Monday on top; ${expectationText(database)}.</p>${calendar(database)}${legend()}` +
    `<figure class="chart" data-measure="rpo" data-database="${attr(database.name)}">${rpo}</figure>` +
    `<figure class="chart" data-measure="rto" data-database="${attr(database.name)}">${rto}</figure>` +
    (database.latest ? `<h3>Latest drill</h3>${latestDrill(database)}` : '') +
    (failed.length ? `<h3>Drills that did not pass (${failed.length})</h3>${failed.map(failedDrill).join('')}` : '') +
    notIntact(database) +
    duplicateList(database) +
    `</section>`
  );
}

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;color:#1b1b1b;margin:0 auto;max-width:980px;padding:16px 24px}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:2px;margin-top:32px}h3{font-size:15px;margin:18px 0 6px}h4{margin:8px 0 2px;font-size:14px}
.meta{color:#444}.summary li{margin:6px 0}.missed,.status-failed,.signature-altered,.signature-other-key{color:#b3261e;font-weight:600}.held,.status-passed{color:#1e7b34}.status-error{color:#a15c00}
.calendar{position:relative;overflow-x:auto;padding-top:14px}.months{position:absolute;top:0;left:0;font-size:10px;color:#555}.months span{position:absolute;white-space:nowrap}
.cells{display:grid;grid-template-rows:repeat(7,12px);grid-auto-flow:column;grid-auto-columns:12px;gap:2px}
.cells>*,.legend i{display:block;width:12px;height:12px;border-radius:2px;box-sizing:border-box}.legend i{display:inline-block;vertical-align:-2px}
.cells>*,.d-p{background:#2e9e5b}.d-f{background:#d32f2f}.d-e{background:#f0a202}.d-m{background:#fff;border:2px solid #d32f2f}.d-n{background:#eceff1}
.s-a,.s-o{outline:2px solid #000;outline-offset:-1px}.s-u{background-image:linear-gradient(135deg,#fff 0 35%,transparent 35%)}
.legend{font-size:12px;color:#444}figure.chart{margin:12px 0}figure.chart svg{max-width:100%;height:auto}
table{border-collapse:collapse;margin:6px 0}th,td{text-align:left;vertical-align:top;padding:2px 8px 2px 0}table.checks td,table.checks th{border-bottom:1px solid #eee}
.check-fail td:first-child{color:#b3261e;font-weight:600}.check-error td:first-child{color:#a15c00;font-weight:600}
.failed-drill{border-left:3px solid #d32f2f;padding:0 10px;margin:8px 0}.failed-drill[data-status=error]{border-color:#f0a202}.failed-drill ul{margin:2px 0;padding-left:18px}.origin{color:#555;font-size:12px;margin:2px 0}
`;

// Titles for every day of the calendars, from each cell's place: written here once rather than 365 times a database.
const SCRIPT = `(()=>{const w={"d-f":"failed","d-e":"error","d-m":"missing","d-n":"no drill"},s={"s-a":", report altered","s-o":", report signed by another key","s-u":", report unsigned"};for(const c of document.querySelectorAll(".calendar")){const t=Date.parse(c.dataset.start+"T00:00:00Z");c.querySelectorAll(".cells>*").forEach((e,i)=>{if(e.title)return;const n=[...e.classList];e.title=new Date(t+i*864e5).toISOString().slice(0,10)+" "+(n.map(x=>w[x]).find(Boolean)||"passed")+(n.map(x=>s[x]).find(Boolean)||"")})}})();`;

function pageHeader(evidence: Evidence): string {
  const since = when(evidence.period.since);
  const until = when(evidence.period.until);
  const key = evidence.keyId ? `Each report's signature was checked with the public key ${evidence.keyId} (Ed25519).` : 'Signatures were not checked: no public key was given (restore-drill evidence --public-key).';
  const unreadable = evidence.unreadable.length
    ? `<p class="unreadable missed">${plural(evidence.unreadable.length, 'file was', 'files were')} not a readable drill report and ${evidence.unreadable.length === 1 ? 'is' : 'are'} not counted: ${evidence.unreadable.map((file) => `${text(file.origin)} (${text(file.reason, 200)})`).join('; ')}</p>`
    : '';
  const summary = evidence.databases.map((database) => `<li class="db-summary" data-database="${attr(database.name)}"><p class="auditor-sentence">${auditorSentence(database, evidence)}</p><p class="targets">${targetsSentence(database)} ${signatureSentence(database)}</p></li>`);
  return (
    `<header><h1>Restore drill evidence</h1><p class="meta">Drills from ${since} to ${until}, read from ${text(evidence.source)}; ` +
    `page made ${when(evidence.now)} by restore-drill ${text(toolVersion)}. ${key}</p>` +
    `<p class="meta">Each drill restored a point-in-time copy of the database, waited until it accepted connections, ran the checks against the copy, and removed it. ` +
    `RPO claimed: the drill's start minus the latest restorable time; RPO measured: the target time minus the newest data found in the copy; RTO: restore plus verify.</p>${unreadable}</header>` +
    `<section class="summary"><h2>Summary</h2>${summary.length ? `<ul>${summary.join('')}</ul>` : '<p>No database has a drill report.</p>'}</section>`
  );
}

/**
 * The evidence page: one self-contained HTML document (styles, script, charts inline, nothing fetched)
 * made from the reports, a period and a clock alone.
 */
export async function renderEvidencePage(input: EvidenceInput): Promise<string> {
  return renderEvidence(buildEvidence(input));
}

/** The page of evidence already built (the CLI also reports on it). */
export async function renderEvidence(evidence: Evidence): Promise<string> {
  const sections: string[] = [];
  for (const database of evidence.databases) sections.push(await databaseSection(database, evidence));
  const scriptHash = createHash('sha256').update(SCRIPT).digest('base64');
  // Nothing may load from anywhere; only this page's own script runs.
  const policy = `default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-${scriptHash}'; base-uri 'none'; form-action 'none'`;
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${policy}">` +
    `<meta name="viewport" content="width=device-width,initial-scale=1"><title>Restore drill evidence, ${utcDay(evidence.period.since.getTime())} to ${utcDay(evidence.period.until.getTime())}</title>` +
    `<style>${STYLE}</style></head><body>${pageHeader(evidence)}${sections.join('\n')}<script>${SCRIPT}</script></body></html>\n`
  );
}
