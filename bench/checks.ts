/**
 * Row counts over 1,000 tables holding 10 M rows: our rowCounts check against the same count(*)
 * queries sent one per table through plain `pg`, at the same concurrency, in one run, alternating.
 * Then the integrity check (amcheck) on the same database against pg_amcheck run by hand, alternating.
 * Writes the `## Row counts` and `## Integrity` sections of bench/RESULTS.md. Run with `npm run bench:checks`.
 */
import { availableParallelism, cpus } from 'node:os';
import pg from 'pg';
import { checkIntegrity, type IntegrityDetails } from '../lib/checks/integrity.ts';
import { checkRowCounts, type RowCountsDetails } from '../lib/checks/rowCounts.ts';
import { findPgBinaries, tool, type PgBinaries } from '../lib/providers/local/binaries.ts';
import { execFile } from '../lib/util/exec.ts';
import { SourceCluster } from '../lib/providers/local/sourceCluster.ts';
import { writeResultsSection } from './results.ts';
import { newClient } from '../lib/util/pgClient.ts';

const TABLES = 1000;
const CONCURRENCY = 4;
const ROUNDS = 7;

/** A skewed spread, as in real schemas: 10 tables of 500,000 rows, 90 of 40,000, 900 sharing 1.4 M. */
function rowsOf(index: number): number {
  if (index < 10) return 500_000;
  if (index < 100) return 40_000;
  return Math.floor(1_400_000 / 900) + (index - 100 < 1_400_000 % 900 ? 1 : 0);
}

const tableName = (index: number) => `t_${String(index).padStart(4, '0')}`;

async function naiveCounts(config: pg.ClientConfig, tables: string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let next = 0;
  const worker = async () => {
    const client = newClient(config);
    await client.connect();
    try {
      while (next < tables.length) {
        const table = tables[next++]!;
        const { rows } = await client.query<{ count: string }>(`select count(*) from "${table}"`);
        counts.set(table, Number(rows[0]!.count));
      }
    } finally {
      await client.end();
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return counts;
}

async function ourCounts(config: pg.ClientConfig, tables: string[]): Promise<{ counts: Map<string, number>; queries: number }> {
  const result = await checkRowCounts(
    { copy: config, target: new Date(), rpoTargetSeconds: 300, statementTimeoutMs: 600_000, concurrency: CONCURRENCY },
    tables.map((table) => ({ table })),
  );
  if (result.status !== 'pass') throw new Error(`rowCounts did not pass: ${result.summary}`);
  const details = result.details as RowCountsDetails;
  return { counts: new Map(Object.entries(details.counts)), queries: details.countQueries };
}

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await work();
  return { ms: performance.now() - start, value };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const INTEGRITY_ROUNDS = 7;

async function ourIntegrity(config: pg.ClientConfig): Promise<IntegrityDetails> {
  const result = await checkIntegrity({ copy: config, target: new Date(), rpoTargetSeconds: 300, statementTimeoutMs: 600_000, concurrency: CONCURRENCY }, { heapallindexed: false });
  if (result.status !== 'pass') throw new Error(`integrity did not pass: ${result.summary}`);
  return result.details as IntegrityDetails;
}

/** pg_amcheck as a person would run it on the copy: every table and B-tree index, TOAST pointers followed, the same jobs. */
async function pgAmcheck(source: SourceCluster, binaries: PgBinaries): Promise<void> {
  const result = await execFile(tool(binaries, 'pg_amcheck'), ['-h', source.server.socketDir, '-p', String(source.server.port), '-U', 'postgres', '-d', 'postgres', '-j', String(CONCURRENCY), '--install-missing']);
  if (result.code !== 0) throw new Error(`pg_amcheck exited with ${result.code}: ${result.stderr || result.stdout}`);
}


const binaries = await findPgBinaries({ major: 15 });
const source = await SourceCluster.create({ binaries, walSegmentSizeMb: 16 });
try {
  const setupStart = performance.now();
  const config = source.clientConfig('postgres');
  const tables = Array.from({ length: TABLES }, (_, i) => tableName(i));
  const setup = newClient(config);
  await setup.connect();
  try {
    for (let i = 0; i < TABLES; i += 100) {
      await setup.query(tables.slice(i, i + 100).map((t) => `create table "${t}" (id int8, amount int4, at timestamptz);`).join('\n'));
    }
    // Loaded over a few connections: one would take minutes on a small machine.
    let next = 0;
    await Promise.all(
      Array.from({ length: 2 }, async () => {
        const loader = newClient(config);
        await loader.connect();
        try {
          while (next < TABLES) {
            const i = next++;
            await loader.query(
              `insert into "${tables[i]}" select g, g % 1000, timestamptz '2026-01-01' + g * interval '1 second' from generate_series(1, ${rowsOf(i)}) g`,
            );
          }
        } finally {
          await loader.end();
        }
      }),
    );
    // As in production, where autovacuum has visited the tables; both sides profit the same.
    await setup.query('vacuum analyze');
  } finally {
    await setup.end();
  }
  const totalRows = Array.from({ length: TABLES }, (_, i) => rowsOf(i)).reduce((a, b) => a + b, 0);
  const setupSeconds = (performance.now() - setupStart) / 1000;

  // Warm the cache once for both, and check that both count the same.
  const expected = await naiveCounts(config, tables);
  const warm = await ourCounts(config, tables);
  for (const table of tables) {
    if (warm.counts.get(table) !== expected.get(table)) throw new Error(`${table}: ours ${warm.counts.get(table)}, plain pg ${expected.get(table)}`);
  }

  const naiveMs: number[] = [];
  const oursMs: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate who goes first, so that neither always finds the other's leftovers.
    const order = round % 2 === 0 ? ['naive', 'ours'] : ['ours', 'naive'];
    for (const who of order) {
      if (who === 'naive') naiveMs.push((await timed(() => naiveCounts(config, tables))).ms);
      else oursMs.push((await timed(() => ourCounts(config, tables))).ms);
    }
  }
  const naive = median(naiveMs);
  const ours = median(oursMs);
  const ratio = ours / naive;
  const machine = `${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? 'unknown cpu'}), PostgreSQL ${binaries.version}`;
  const section = [
    '## Row counts',
    '',
    `${TABLES} tables, ${totalRows.toLocaleString('en-US')} rows in total (10 of 500,000, 90 of 40,000, 900 of about 1,556), exact count(*),`,
    `concurrency ${CONCURRENCY}, median of ${ROUNDS} alternating rounds after one warm-up, on ${machine}; ${new Date().toISOString().slice(0, 10)}.`,
    '',
    '| variant | median | rounds (ms) | queries |',
    '| --- | --- | --- | --- |',
    `| plain pg, one count(*) per table | ${naive.toFixed(0)} ms | ${naiveMs.map((ms) => ms.toFixed(0)).join(', ')} | ${TABLES} |`,
    `| restore-drill rowCounts (small tables batched) | ${ours.toFixed(0)} ms | ${oursMs.map((ms) => ms.toFixed(0)).join(', ')} | ${warm.queries} + 1 lookup |`,
    '',
    `row counts ratio: ${ratio.toFixed(2)}x (ours / plain pg; target within 1.10x)`,
    '',
    `Setup (create and load, vacuum analyze): ${setupSeconds.toFixed(1)} s. Run with \`npm run bench:checks\`.`,
    '',
  ].join('\n');
  await writeResultsSection('## Row counts', section);
  console.log(section);

  // Integrity: our check and pg_amcheck, each reading every page of the same database, alternating.
  await pgAmcheck(source, binaries);
  const warmIntegrity = await ourIntegrity(config);
  const amcheckMs: number[] = [];
  const integrityMs: number[] = [];
  for (let round = 0; round < INTEGRITY_ROUNDS; round++) {
    const order = round % 2 === 0 ? ['pg_amcheck', 'ours'] : ['ours', 'pg_amcheck'];
    for (const who of order) {
      if (who === 'pg_amcheck') amcheckMs.push((await timed(() => pgAmcheck(source, binaries))).ms);
      else integrityMs.push((await timed(() => ourIntegrity(config))).ms);
    }
  }
  const byHand = median(amcheckMs);
  const integrity = median(integrityMs);
  const { tables: checkedTables, indexes: checkedIndexes, pages } = warmIntegrity.checked;
  const integritySection = [
    '## Integrity',
    '',
    `The same database (${totalRows.toLocaleString('en-US')} rows in ${TABLES} tables, plus the catalogs): the integrity check (verify_heapam per table with TOAST,`,
    `bt_index_check per B-tree index, ${checkedTables} tables and ${checkedIndexes} indexes, ${pages.toLocaleString('en-US')} pages) against \`pg_amcheck -j ${CONCURRENCY}\` run by hand,`,
    `concurrency ${CONCURRENCY}, median of ${INTEGRITY_ROUNDS} alternating rounds after one warm-up each, on ${machine}; ${new Date().toISOString().slice(0, 10)}.`,
    '',
    '| variant | median | rounds (ms) | rows per second |',
    '| --- | --- | --- | --- |',
    `| pg_amcheck by hand | ${byHand.toFixed(0)} ms | ${amcheckMs.map((ms) => ms.toFixed(0)).join(', ')} | ${Math.round(totalRows / (byHand / 1000)).toLocaleString('en-US')} |`,
    `| restore-drill integrity | ${integrity.toFixed(0)} ms | ${integrityMs.map((ms) => ms.toFixed(0)).join(', ')} | ${Math.round(totalRows / (integrity / 1000)).toLocaleString('en-US')} |`,
    '',
    `integrity ratio: ${(integrity / byHand).toFixed(2)}x (ours / pg_amcheck)`,
    '',
  ].join('\n');
  await writeResultsSection('## Integrity', integritySection);
  console.log(integritySection);
} finally {
  await source.remove();
}
