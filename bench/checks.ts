/**
 * Row counts over 1,000 tables holding 10 M rows: our rowCounts check against the same count(*)
 * queries sent one per table through plain `pg`, at the same concurrency, in one run, alternating.
 * Writes the `## Row counts` section of bench/RESULTS.md. Run with `npm run bench:checks`.
 */
import { availableParallelism, cpus } from 'node:os';
import pg from 'pg';
import { checkRowCounts, type RowCountsDetails } from '../lib/checks/rowCounts.ts';
import { findPgBinaries } from '../lib/providers/local/binaries.ts';
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
} finally {
  await source.remove();
}
