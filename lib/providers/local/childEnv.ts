import { redactSecrets } from '../../util/redact.ts';

/**
 * The whole environment of a program run as the server's OS user (postgres, its shells and tests of
 * access): nothing of ours. That user is another account: whatever it is handed, it can keep.
 */
export function serverUserEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', TZ: 'UTC' };
}

/** restore-drill's own secrets, by name: a restore command never needs them. */
const OWN_SECRETS = new Set(['SLACK_WEBHOOK_URL', 'RESTORE_DRILL_SIGNING_KEY', 'NEON_API_KEY', 'PGPASSWORD', 'PGPASSFILE']);

/** What archive tools read their credentials from (aws s3 cp, wal-g, pgbackrest, barman-cloud, gsutil, azcopy). */
const ARCHIVE_CREDENTIALS = /^(AWS_|AZURE_|AZCOPY_|GOOGLE_|GCS_|CLOUDSDK_|WALG_|WALE_|PGBACKREST_|BARMAN_|S3_|SWIFT_|OS_)/;

/**
 * The environment a source's restoreCommand runs with (as the user running restore-drill, who holds
 * the archive's credentials): ours minus restore-drill's own secrets, by name (the Slack webhook, the
 * signing key, Neon's key, libpq passwords) and by value (a source's passwordEnv, remembered by the
 * redactor); the archive tools' own credentials are kept, since the command exists to use them.
 */
export function restoreCommandEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const kept: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || OWN_SECRETS.has(name) || name.startsWith('RESTORE_DRILL_SIGNING')) continue;
    if (!ARCHIVE_CREDENTIALS.test(name) && redactSecrets(value) !== value) continue;
    kept[name] = value;
  }
  return kept;
}
