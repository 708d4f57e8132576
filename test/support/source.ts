import { findPgBinaries } from '../../lib/providers/local/binaries.ts';
import type { LocalSource } from '../../lib/providers/local/plan.ts';
import { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';

/** The machine's PostgreSQL 15 (the CI image installs it), as the binaries most tests use. */
export async function machineBinaries() {
  return findPgBinaries({ major: 15 });
}

export async function testSource(options: { embedded?: boolean } = {}): Promise<SourceCluster> {
  const binaries = options.embedded ? await findPgBinaries({ major: 17, embeddedOnly: true }) : await machineBinaries();
  return SourceCluster.create({ binaries, walSegmentSizeMb: 1 });
}

export function localSourceOf(source: SourceCluster): LocalSource {
  return { baseBackups: source.backupsDir, walArchive: source.archiveDir };
}

/** Inserts a row and returns its exact commit time in microseconds since the epoch. */
export async function insertRow(source: SourceCluster, table: string, id: number): Promise<bigint> {
  await source.query(`insert into ${table} (id) values ($1)`, [id]);
  const [commit] = await source.query<{ micros: string }>(
    `select (extract(epoch from pg_xact_commit_timestamp(xmin)) * 1000000)::bigint::text as micros from ${table} where id = $1`,
    [id],
  );
  return BigInt(commit!.micros);
}
