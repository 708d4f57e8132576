import { RestoreDrillError } from '../../errors.ts';

/**
 * A base backup that cannot be used: no backup_label, or files that do not match its backup_manifest.
 * A broken backup is what a drill exists to find: the drill fails (kind `backup`, exit 1), naming it.
 */
export class BrokenBackupError extends RestoreDrillError {
  readonly backup: string;

  constructor(message: string, backup: string) {
    super('backup', message);
    this.name = 'BrokenBackupError';
    this.backup = backup;
  }
}
