import { RestoreDrillError } from '../../errors.ts';
import { execFile } from '../../util/exec.ts';
import { programOf, runPgbackrest, saidBy, type PgbackrestSource } from './command.ts';

export interface RepoVerification {
  ok: boolean;
  /** One line for the report: what was checked and what was found. */
  summary: string;
  /** Damaged or missing files of the backups the restore needs, and of the archive, by name. */
  problems: string[];
  /** Other backups pgBackRest found invalid (not needed by this restore). */
  otherInvalid: string[];
}

interface BackupResult {
  status: string;
  checked: number;
  valid: number;
}

/**
 * `pgbackrest verify` (read-only: it checks every file of the repository against the checksums its
 * manifests and WAL names record), read from its text output. pgBackRest 2.45 exits 0 even when it
 * finds damage, so the verdict is read from `status:` and each backup's line; the damaged files are
 * named in its log lines. `needed` are the backup sets a restore reads (the set and those it references).
 */
export async function verifyRepository(source: PgbackrestSource, workDir: string, needed: readonly string[]): Promise<RepoVerification> {
  // Where pgBackRest has verify --set (after 2.45), only the set restored and its WAL are read; before, the whole repository.
  const set = needed[0] !== undefined && (await verifyTakesSet(source)) ? [`--set=${needed[0]}`] : [];
  const result = await runPgbackrest(source, 'verify', { workDir, options: ['--output=text', '--verbose', '--log-level-console=info', ...set] });
  // pgBackRest before 2.39 has no verify command: the copy's WAL is still checked record by record, by us.
  if (result.code !== 0 && /invalid command 'verify'|option 'output' not valid|option 'verbose' not valid/.test(`${result.stdout}${result.stderr}`)) {
    return { ok: true, summary: 'files not verified: this pgBackRest has no verify command (2.39 and later have it); the WAL was checked by restore-drill', problems: [], otherInvalid: [] };
  }
  if (result.code !== 0) throw new RestoreDrillError('backup', `pgbackrest verify for stanza ${source.stanza} (repo${source.repo}) failed: ${saidBy(result)}`);
  return readVerification(result.stdout, needed);
}

const takesSet = new Map<string, Promise<boolean>>();

function verifyTakesSet(source: PgbackrestSource): Promise<boolean> {
  const program = programOf(source);
  let known = takesSet.get(program);
  if (!known) {
    known = execFile(program, ['help', 'verify']).then((result) => /^\s*--set\b/m.test(result.stdout), () => false);
    takesSet.set(program, known);
  }
  return known;
}

export function readVerification(text: string, needed: readonly string[]): RepoVerification {
  const backups = new Map<string, BackupResult>();
  let walChecked = 0;
  let walValid = 0;
  const fileLines: string[] = [];
  for (const line of text.split('\n')) {
    const backup = /backup: (\S+), status: (\w+), total files checked: (\d+), total valid files: (\d+)/.exec(line);
    if (backup) backups.set(backup[1]!, { status: backup[2]!, checked: Number(backup[3]), valid: Number(backup[4]) });
    const archive = /archiveId: \S+, total WAL checked: (\d+), total valid WAL: (\d+)/.exec(line);
    if (archive) {
      walChecked = Math.max(walChecked, Number(archive[1]));
      walValid = Math.max(walValid, Number(archive[2]));
    }
    // Worker processes (P01, P02...) name each file they found wrong.
    const file = /^P0*[1-9]\d*\s+\w+:\s+(.*)$/.exec(line.trim());
    if (file && /invalid|missing|unable|error/i.test(file[1]!)) fileLines.push(file[1]!.trim());
  }
  const files = (label: string) => fileLines.filter((line) => line.includes(`${label}/`));
  const walFiles = fileLines.filter((line) => /\b[0-9A-F]{24}\b/.test(line) && ![...backups.keys()].some((label) => line.includes(`${label}/`)));
  const problems: string[] = [];
  for (const label of needed) {
    const found = backups.get(label);
    if (!found) continue;
    if (found.status !== 'valid') {
      const named = files(label).concat(needed.flatMap((other) => (other === label ? [] : files(other))));
      problems.push(`backup ${label}: ${found.checked - found.valid} of ${found.checked} files invalid${named.length ? ` (${[...new Set(named)].join('; ')})` : ''}`);
    }
  }
  if (walValid < walChecked) problems.push(`archive: ${walChecked - walValid} of ${walChecked} WAL files invalid${walFiles.length ? ` (${walFiles.join('; ')})` : ''}`);
  const otherInvalid = [...backups].filter(([label, found]) => !needed.includes(label) && found.status !== 'valid').map(([label]) => label);
  const checked = backups.get(needed[0] ?? '')?.checked ?? 0;
  const summary = problems.length
    ? `pgbackrest verify found damage: ${problems.join('; ')}`
    : `${checked} files of backup ${needed[0] ?? '?'}${needed.length > 1 ? ` (with the ${needed.length - 1} it references)` : ''} and ${walChecked} WAL files verified by pgbackrest verify (checksums)` +
      (otherInvalid.length ? `; other backups invalid: ${otherInvalid.join(', ')}` : '');
  return { ok: problems.length === 0, summary, problems, otherInvalid };
}
