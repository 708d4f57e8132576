/**
 * Row counts on two data sets: 1,000 tables holding 10 M rows, and a skewed one (a few tables of
 * millions of rows with primary keys beside 3,000 small ones). Our rowCounts check against the same
 * count(*) queries sent one per table, in the config's (alphabetical) order, through plain `pg`, at the
 * same concurrency, in one run, alternating who goes first. Then the integrity check (amcheck) on the
 * first database against pg_amcheck run by hand, alternating.
 * Writes the `## Row counts` and `## Integrity` sections of bench/RESULTS.md. Run with `npm run bench:checks`
 * (BENCH_SKEW_ROWS, default 10000000: rows of the largest skewed table; BENCH_SKIP_INTEGRITY=1 leaves Integrity alone).
 */
import { availableParallelism, cpus } from 'node:os';
import pg from 'pg';
import { checkIntegrity, type IntegrityDetails } from '../lib/checks/integrity.ts';
import { checkRowCounts, countSessions, type RowCountsDetails } from '../lib/checks/rowCounts.ts';
import { findPgBinaries, tool, type PgBinaries } from '../lib/providers/local/binaries.ts';
import { execFile } from '../lib/util/exec.ts';
import { SourceCluster } from '../lib/providers/local/sourceCluster.ts';
import { writeResultsSection } from './results.ts';
import { newClient, withClient } from '../lib/util/pgClient.ts';

const TABLES = 1000;
const CONCURRENCY = 4;
const ROUNDS = 7;
const SKEW_ROWS = Number(process.env.BENCH_SKEW_ROWS ?? 10_000_000);
const SKEW_SMALL_TABLES = 3000;
const TARGET = 0.8;

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

async function ourCounts(config: pg.ClientConfig, tables: string[]): Promise<{ counts: Map<string, number>; queries: number; strategies: Map<string, number> }> {
  const result = await checkRowCounts(
    { copy: config, target: new Date(), rpoTargetSeconds: 300, statementTimeoutMs: 600_000, concurrency: CONCURRENCY, copyCpus: availableParallelism() },
    tables.map((table) => ({ table })),
  );
  if (result.status !== 'pass') throw new Error(`rowCounts did not pass: ${result.summary}`);
  const details = result.details as RowCountsDetails;
  // Tables per strategy, by its first words: "batched", "seq scan", "parallel seq scan", "index-only scan".
  const strategies = new Map<string, number>();
  for (const rule of details.rules) {
    const kind = (rule.strategy ?? 'none').replace(/ \(.*$/, '').replace(/ on .*$/, '');
    strategies.set(kind, (strategies.get(kind) ?? 0) + 1);
  }
  return { counts: new Map(Object.entries(details.counts)), queries: details.countQueries, strategies };
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


/** One data set's tables and how they were made, in a database of its own. */
interface DataSet {
  key: string;
  description: string;
  config: pg.ClientConfig;
  /** As a config lists them: alphabetical. */
  tables: string[];
  totalRows: number;
  setupSeconds: number;
}

/** Loads one statement per table over two connections: one would take minutes on a small machine. */
async function load(config: pg.ClientConfig, statements: string[]): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 2 }, async () => {
      const loader = newClient(config);
      await loader.connect();
      try {
        while (next < statements.length) await loader.query(statements[next++]!);
      } finally {
        await loader.end();
      }
    }),
  );
}

async function uniformSet(source: SourceCluster): Promise<DataSet> {
  const started = performance.now();
  const config = source.clientConfig('postgres');
  const tables = Array.from({ length: TABLES }, (_, i) => tableName(i));
  await withClient(config, async (setup) => {
    for (let i = 0; i < TABLES; i += 100) {
      await setup.query(tables.slice(i, i + 100).map((t) => `create table "${t}" (id int8, amount int4, at timestamptz);`).join('\n'));
    }
  });
  await load(config, tables.map((t, i) => `insert into "${t}" select g, g % 1000, timestamptz '2026-01-01' + g * interval '1 second' from generate_series(1, ${rowsOf(i)}) g`));
  // As in production, where autovacuum has visited the tables; both sides profit the same.
  await withClient(config, (setup) => setup.query('vacuum analyze'));
  return {
    key: 'uniform',
    description: `${TABLES} tables, ${sum(tables.map((_, i) => rowsOf(i))).toLocaleString('en-US')} rows in total (10 of 500,000, 90 of 40,000, 900 of about 1,556; no indexes)`,
    config,
    tables,
    totalRows: sum(tables.map((_, i) => rowsOf(i))),
    setupSeconds: (performance.now() - started) / 1000,
  };
}

/** A few big tables with primary keys (one of them wide) beside thousands of small ones. */
async function skewedSet(source: SourceCluster): Promise<DataSet> {
  const started = performance.now();
  await source.query('create database skewed');
  const config = source.clientConfig('skewed');
  const big = [
    { name: 'events', rows: Math.round(SKEW_ROWS / 2), ddl: 'id int8 primary key, kind int4 not null, at timestamptz not null, payload text not null', select: `g, g % 50, timestamptz '2026-01-01' + g * interval '1 second', repeat(md5(g::text), 5)` },
    { name: 'line_items', rows: SKEW_ROWS, ddl: 'order_id int8 not null, line int4 not null, amount int4 not null, primary key (order_id, line)', select: 'g / 4, g % 4, g % 1000' },
    { name: 'orders', rows: SKEW_ROWS, ddl: 'id int8 primary key, customer_id int4 not null, amount int4 not null, placed_at timestamptz not null', select: `g, g % 100000, g % 1000, timestamptz '2026-01-01' + g * interval '1 second'` },
  ];
  const small = Array.from({ length: SKEW_SMALL_TABLES }, (_, i) => `s_${String(i).padStart(4, '0')}`);
  await withClient(config, async (setup) => {
    for (const table of big) await setup.query(`create table ${table.name} (${table.ddl})`);
    for (let i = 0; i < small.length; i += 200) {
      await setup.query(small.slice(i, i + 200).map((t) => `create table ${t} (id int8 primary key, name text);`).join('\n'));
    }
  });
  log(`skewed: loading ${sum(big.map((t) => t.rows)).toLocaleString('en-US')} rows into ${big.length} tables and ${small.length} small tables`);
  // Big tables in slices, so that both loaders share them.
  const slices = big.flatMap((table) =>
    Array.from({ length: 10 }, (_, k) => {
      const from = Math.floor((table.rows * k) / 10) + 1;
      const to = Math.floor((table.rows * (k + 1)) / 10);
      return `insert into ${table.name} select ${table.select} from generate_series(${from}, ${to}) g`;
    }),
  );
  await load(config, [...slices, ...small.map((t, i) => `insert into ${t} select g, 'n' || g from generate_series(1, ${500 + (i % 1000)}) g`)]);
  await withClient(config, (setup) => setup.query('vacuum analyze'));
  const smallRows = sum(small.map((_, i) => 500 + (i % 1000)));
  const totalRows = sum(big.map((t) => t.rows)) + smallRows;
  const sizes = await withClient(config, async (c) =>
    (await c.query<{ name: string; heap: string; index: string }>(
      `select c.relname as name, pg_size_pretty(pg_relation_size(c.oid)) as heap, pg_size_pretty(pg_indexes_size(c.oid)) as index
         from pg_class c where c.relname = any($1) order by c.relname`,
      [big.map((t) => t.name)],
    )).rows,
  );
  return {
    key: 'skewed',
    description:
      `${big.length + small.length} tables, ${totalRows.toLocaleString('en-US')} rows in total: ` +
      `${big.map((t) => `${t.name} ${t.rows.toLocaleString('en-US')} rows (${sizes.find((z) => z.name === t.name)?.heap} heap, ${sizes.find((z) => z.name === t.name)?.index} primary key)`).join(', ')}, ` +
      `and ${small.length.toLocaleString('en-US')} tables of 500 to 1,499 rows with primary keys`,
    config,
    tables: [...big.map((t) => t.name), ...small].sort(),
    totalRows,
    setupSeconds: (performance.now() - started) / 1000,
  };
}

interface Measured {
  set: DataSet;
  naiveMs: number[];
  oursMs: number[];
  queries: number;
  strategies: Map<string, number>;
}

async function measure(set: DataSet): Promise<Measured> {
  // Warm the cache once for both, and check that both count the same.
  const expected = await naiveCounts(set.config, set.tables);
  const warm = await ourCounts(set.config, set.tables);
  for (const table of set.tables) {
    if (warm.counts.get(table) !== expected.get(table)) throw new Error(`${table}: ours ${warm.counts.get(table)}, plain pg ${expected.get(table)}`);
  }
  const naiveMs: number[] = [];
  const oursMs: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate who goes first, so that neither always finds the other's leftovers.
    const order = round % 2 === 0 ? ['naive', 'ours'] : ['ours', 'naive'];
    for (const who of order) {
      if (who === 'naive') naiveMs.push((await timed(() => naiveCounts(set.config, set.tables))).ms);
      else oursMs.push((await timed(() => ourCounts(set.config, set.tables))).ms);
    }
    log(`${set.key} round ${round + 1}: plain pg ${naiveMs.at(-1)!.toFixed(0)} ms, ours ${oursMs.at(-1)!.toFixed(0)} ms`);
  }
  return { set, naiveMs, oursMs, queries: warm.queries, strategies: warm.strategies };
}

function rowCountsSection(measured: Measured[], machine: string): string {
  const lines = [
    '## Row counts',
    '',
    `Written by \`npm run bench:checks\` (bench/checks.ts) on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${machine}.`,
    `Exact counts of every table, concurrency ${CONCURRENCY}, median of ${ROUNDS} rounds after one warm-up, alternating who goes first. Plain pg:`,
    'one `count(*)` per table, in the config\'s (alphabetical) order, the server\'s own planner settings. restore-drill: the rowCounts',
    'check as a drill runs it on a copy on this machine: one catalog pass while the other sessions open, at most one session per core',
    `(here ${countSessions(CONCURRENCY, availableParallelism())} of the ${CONCURRENCY} allowed, on ${availableParallelism()} cores), small tables batched, the biggest first, the others with parallel workers only where`,
    'cores are left over (the strategies below say what each table got), an index-only scan where the index is at most a quarter of the heap and',
    'its pages all-visible, JIT off. Target: ours at most 0.8x plain pg.',
    '',
  ];
  for (const m of measured) {
    const ratio = median(m.oursMs) / median(m.naiveMs);
    lines.push(`- ${m.set.key}: row counts ratio: ${ratio.toFixed(2)}x (ours / plain pg; target ${TARGET.toFixed(2)}x: ${ratio <= TARGET ? 'met' : 'NOT met'})`);
  }
  for (const m of measured) {
    lines.push(
      '',
      `**${m.set.key}**: ${m.set.description}. Set up (create, load, vacuum analyze) in ${m.set.setupSeconds.toFixed(0)} s.`,
      '',
      '| variant | median | rounds (ms) | queries | rows per second |',
      '| --- | --- | --- | --- | --- |',
      `| plain pg, one count(*) per table | ${median(m.naiveMs).toFixed(0)} ms | ${m.naiveMs.map((x) => x.toFixed(0)).join(', ')} | ${m.set.tables.length} | ${Math.round(m.set.totalRows / (median(m.naiveMs) / 1000)).toLocaleString('en-US')} |`,
      `| restore-drill rowCounts | ${median(m.oursMs).toFixed(0)} ms | ${m.oursMs.map((x) => x.toFixed(0)).join(', ')} | ${m.queries} + 1 catalog pass | ${Math.round(m.set.totalRows / (median(m.oursMs) / 1000)).toLocaleString('en-US')} |`,
      '',
      `Strategies (tables): ${[...m.strategies].map(([kind, n]) => `${kind} ${n}`).join(', ')}.`,
    );
  }
  lines.push('');
  return lines.join('\n');
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const log = (text: string) => process.stdout.write(`[${new Date().toISOString().slice(11, 23)}] ${text}\n`);

const binaries = await findPgBinaries({ major: 15 });
const source = await SourceCluster.create({ binaries, walSegmentSizeMb: 16 });
try {
  const machine = `${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? 'unknown cpu'}), PostgreSQL ${binaries.version}`;
  const uniform = await uniformSet(source);
  log(`uniform set up in ${uniform.setupSeconds.toFixed(0)} s`);
  const skewed = await skewedSet(source);
  log(`skewed set up in ${skewed.setupSeconds.toFixed(0)} s`);
  const measured = [await measure(uniform), await measure(skewed)];
  const section = rowCountsSection(measured, machine);
  if (process.env.BENCH_NO_WRITE !== '1') await writeResultsSection('## Row counts', section);
  console.log(section);
  if (process.env.BENCH_SKIP_INTEGRITY !== '1') await integrity(uniform, machine);
} finally {
  await source.remove();
}

/** Integrity: our check and pg_amcheck, each reading every page of the uniform database, alternating. */
async function integrity(set: DataSet, machine: string): Promise<void> {
  const config = set.config;
  const totalRows = set.totalRows;
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
  const ours = median(integrityMs);
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
    `| pg_amcheck by hand | ${byHand.toFixed(0)} ms | ${amcheckMs.map((x) => x.toFixed(0)).join(', ')} | ${Math.round(totalRows / (byHand / 1000)).toLocaleString('en-US')} |`,
    `| restore-drill integrity | ${ours.toFixed(0)} ms | ${integrityMs.map((x) => x.toFixed(0)).join(', ')} | ${Math.round(totalRows / (ours / 1000)).toLocaleString('en-US')} |`,
    '',
    `integrity ratio: ${(ours / byHand).toFixed(2)}x (ours / pg_amcheck)`,
    '',
  ].join('\n');
  if (process.env.BENCH_NO_WRITE !== '1') await writeResultsSection('## Integrity', integritySection);
  console.log(integritySection);
}
