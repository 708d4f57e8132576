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

/**
 * A WAL record in the archive that fails its checks (length, CRC, link to the record before it):
 * recovery stops there and Postgres promotes whatever it replayed so far. The target lies beyond it,
 * so the drill fails (kind `backup`, exit 1), naming the segment and the offset.
 */
export class WalCorruptError extends RestoreDrillError {
  readonly segment: string;
  readonly offset: number;

  constructor(message: string, segment: string, offset: number) {
    super('backup', message);
    this.name = 'WalCorruptError';
    this.segment = segment;
    this.offset = offset;
  }
}
