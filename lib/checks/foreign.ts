import type pg from 'pg';
import { closeSession, openSession, quoteIdent, safeError, type SafeError } from './sql.ts';
import type { CheckContext, CheckResult } from './types.ts';

/**
 * Where a disabled server points: a Unix socket folder that does not exist. libpq fails on it at
 * once ("No such file or directory") without a single packet on the network, where an unroutable
 * address would wait for a timeout.
 */
export const DISABLED_HOST = '/restore-drill/foreign-server-disabled';

/** The wrappers whose servers take libpq's connection options (host, hostaddr, service). */
const LIBPQ_WRAPPERS = new Set(['postgres_fdw', 'dblink_fdw']);
/** Options that would send libpq elsewhere than `host`: hostaddr wins over host, a service file names its own host. */
const DROPPED_OPTIONS = ['hostaddr', 'service'];
/** dblink's C entry points that open a connection from a connection string or a server name. */
const DBLINK_CONNECTING = new Set(['dblink_connect', 'dblink_record', 'dblink_exec']);
const DBLINK_DISABLED_MARK = 'restore-drill: dblink is disabled in this copy';

export interface ForeignServerState {
  name: string;
  wrapper: string;
  /** The server can no longer reach anything: its host points nowhere, or its wrapper has no handler. */
  disabled: boolean;
  action: string;
  /** The statement that gives a kept copy its server back (server options never hold a password). */
  undo?: string;
  error?: SafeError;
}

export interface EventTriggerState {
  name: string;
  /** ddl_command_start, ddl_command_end, sql_drop, table_rewrite, login. */
  event: string;
  disabled: boolean;
  /** The statement that enables it again as it was (ENABLE, ENABLE REPLICA, ENABLE ALWAYS); none if it was disabled already. */
  undo?: string;
  error?: SafeError;
}

export interface IsolationDetails {
  /**
   * Every event trigger of the checks' database, disabled before any other change: isolation's own DDL
   * (ALTER SERVER, CREATE OR REPLACE FUNCTION) would fire them, and one may call dblink or a foreign table.
   */
  eventTriggers: EventTriggerState[];
  servers: ForeignServerState[];
  /** Every foreign table of the checks' database: checks skip them, their rows live elsewhere. */
  foreignTables: { table: string; server: string; oid: string }[];
  /** Wrappers other than postgres_fdw and dblink_fdw, disabled as a whole (NO HANDLER). */
  wrappers: { name: string; disabled: boolean; action: string; undo?: string; error?: SafeError }[];
  /**
   * dblink's connecting functions, replaced by ones that refuse (`undo` gives them back); where the checks'
   * user may not replace them but owns the extension, the extension is dropped (`dropped`: what went with it).
   */
  dblink: {
    installed: boolean;
    disabled: boolean;
    functions: string[];
    undo?: string;
    dropped?: string[];
    /** Why the functions could not be replaced, when the extension was dropped instead. */
    droppedBecause?: SafeError;
    error?: SafeError;
  };
  /**
   * Logical replication subscriptions of the checks' database, disabled (their workers would connect to
   * the publisher, production, and take its slot). A local copy starts none (max_logical_replication_workers
   * = 0); a cloud copy may have started them at boot, before any check.
   */
  subscriptions: { name: string; disabled: boolean; wasEnabled: boolean; undo?: string; error?: SafeError }[];
}

/**
 * A copy holds its source's foreign servers and dblink: a query through them would read production
 * (or write to it) and a drill would pass on production's numbers. Before any other check, in the
 * checks' database: every postgres_fdw and dblink_fdw server gets a host that leads nowhere (and loses
 * hostaddr and service), other wrappers lose their handler, and dblink's functions that connect are
 * replaced by ones that refuse. The copy is ours and thrown away; a kept copy's report holds each undo.
 */
export async function isolateCopy(context: CheckContext): Promise<CheckResult> {
  const client = await openSession(context.copy, { statementTimeoutMs: context.statementTimeoutMs });
  try {
    const details: IsolationDetails = {
      eventTriggers: await disableEventTriggers(client),
      servers: [],
      foreignTables: await foreignTables(client),
      wrappers: [],
      dblink: { installed: false, disabled: false, functions: [] },
      subscriptions: [],
    };
    // An event trigger left enabled would run (and could connect out) on each statement below.
    if (details.eventTriggers.some((trigger) => !trigger.disabled)) return verdict(details);
    const { rows: servers } = await client.query<{ name: string; wrapper: string; options: string[] | null; handler: string | null }>(
      `select s.srvname as name, w.fdwname as wrapper, s.srvoptions as options, nullif(w.fdwhandler, 0)::regproc::text as handler
         from pg_foreign_server s join pg_foreign_data_wrapper w on w.oid = s.srvfdw
        order by s.srvname`,
    );
    for (const server of servers.filter((s) => LIBPQ_WRAPPERS.has(s.wrapper))) details.servers.push(await pointNowhere(client, server));
    for (const wrapper of [...new Set(servers.filter((s) => !LIBPQ_WRAPPERS.has(s.wrapper)).map((s) => s.wrapper))]) {
      const handler = servers.find((s) => s.wrapper === wrapper)!.handler;
      const state = await withoutHandler(client, wrapper, handler);
      details.wrappers.push(state);
      for (const server of servers.filter((s) => s.wrapper === wrapper)) {
        details.servers.push({ name: server.name, wrapper, disabled: state.disabled, action: state.action, ...(state.error ? { error: state.error } : {}) });
      }
    }
    details.dblink = await disableDblink(client);
    details.subscriptions = await disableSubscriptions(client);
    return verdict(details);
  } finally {
    await closeSession(client);
  }
}

async function disableEventTriggers(client: pg.Client): Promise<EventTriggerState[]> {
  const { rows } = await client.query<{ name: string; event: string; enabled: string }>(
    `select evtname as name, evtevent as event, evtenabled as enabled from pg_event_trigger order by evtname`,
  );
  const enableAgain: Record<string, string> = { O: 'ENABLE', R: 'ENABLE REPLICA', A: 'ENABLE ALWAYS' };
  const states: EventTriggerState[] = [];
  for (const { name, event, enabled } of rows) {
    if (enabled === 'D') {
      states.push({ name, event, disabled: true });
      continue;
    }
    try {
      await client.query(`ALTER EVENT TRIGGER ${bareIdent(name)} DISABLE`);
      states.push({ name, event, disabled: true, undo: `ALTER EVENT TRIGGER ${bareIdent(name)} ${enableAgain[enabled] ?? 'ENABLE'}` });
    } catch (error) {
      states.push({ name, event, disabled: false, error: safeError(error) });
    }
  }
  return states;
}

async function foreignTables(client: pg.Client): Promise<IsolationDetails['foreignTables']> {
  const { rows } = await client.query<{ table: string; server: string; oid: string }>(
    `select format('%I.%I', n.nspname, c.relname) as table, s.srvname as server, c.oid::int8::text as oid
       from pg_foreign_table f join pg_class c on c.oid = f.ftrelid join pg_namespace n on n.oid = c.relnamespace
       join pg_foreign_server s on s.oid = f.ftserver
      order by 1`,
  );
  return rows;
}

function optionsOf(options: string[] | null): Map<string, string> {
  const map = new Map<string, string>();
  for (const option of options ?? []) {
    const at = option.indexOf('=');
    map.set(option.slice(0, at), option.slice(at + 1));
  }
  return map;
}

function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** A name as SQL writes it: bare where Postgres would print it bare. */
function bareIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : quoteIdent(name);
}

async function pointNowhere(client: pg.Client, server: { name: string; wrapper: string; options: string[] | null }): Promise<ForeignServerState> {
  const options = optionsOf(server.options);
  const base = { name: server.name, wrapper: server.wrapper };
  if (options.get('host') === DISABLED_HOST && !DROPPED_OPTIONS.some((name) => options.has(name))) {
    return { ...base, disabled: true, action: `already disabled: host ${DISABLED_HOST}` };
  }
  const changes: string[] = [options.has('host') ? `SET host ${literal(DISABLED_HOST)}` : `ADD host ${literal(DISABLED_HOST)}`];
  const undo: string[] = [options.has('host') ? `SET host ${literal(options.get('host')!)}` : 'DROP host'];
  for (const name of DROPPED_OPTIONS.filter((option) => options.has(option))) {
    changes.push(`DROP ${name}`);
    undo.push(`ADD ${name} ${literal(options.get(name)!)}`);
  }
  const name = bareIdent(server.name);
  try {
    await client.query(`ALTER SERVER ${name} OPTIONS (${changes.join(', ')})`);
  } catch (error) {
    return { ...base, disabled: false, action: 'could not be disabled', error: safeError(error) };
  }
  const dropped = DROPPED_OPTIONS.filter((option) => options.has(option));
  return {
    ...base,
    disabled: true,
    action: `host set to ${DISABLED_HOST} (a socket folder that does not exist)${dropped.length ? `, ${dropped.join(' and ')} dropped` : ''}`,
    undo: `ALTER SERVER ${name} OPTIONS (${undo.join(', ')})`,
  };
}

async function withoutHandler(client: pg.Client, wrapper: string, handler: string | null): Promise<IsolationDetails['wrappers'][number]> {
  if (handler === null) {
    // Without a handler no foreign table can use it; only a module of its own (as dblink uses dblink_fdw) reads its servers.
    return { name: wrapper, disabled: true, action: 'has no handler: no foreign table can read through it' };
  }
  try {
    await client.query(`ALTER FOREIGN DATA WRAPPER ${quoteIdent(wrapper)} NO HANDLER`);
  } catch (error) {
    return { name: wrapper, disabled: false, action: 'could not be disabled (ALTER FOREIGN DATA WRAPPER needs a superuser)', error: safeError(error) };
  }
  return { name: wrapper, disabled: true, action: 'handler removed: its foreign tables cannot be read', undo: `ALTER FOREIGN DATA WRAPPER ${quoteIdent(wrapper)} HANDLER ${handler}` };
}

/**
 * dblink connects from a plain connection string (`dblink('host=prod ...', ...)`), which no server
 * option governs and a superuser's privileges ignore. Its connecting functions are replaced in place
 * (same name, arguments and result, so views that call them stay valid) by PL/pgSQL that refuses.
 * They are found by the library they are bound to, not by the extension: `CREATE FUNCTION x(text, text)
 * ... LANGUAGE c AS '$libdir/dblink', 'dblink_record'` in any schema, under any name, is dblink too.
 * (postgres_fdw's library connects only as a wrapper's handler, and every wrapper's servers or handler
 * are disabled above, whatever its handler function is called.)
 */
async function disableDblink(client: pg.Client): Promise<IsolationDetails['dblink']> {
  const { rows } = await client.query<{ signature: string; args: string; result: string; language: string; src: string; bin: string | null; strict: boolean; parallel: string }>(
    `select format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) as signature,
            pg_get_function_arguments(p.oid) as args, pg_get_function_result(p.oid) as result,
            l.lanname as language, p.prosrc as src, p.probin as bin, p.proisstrict as strict, p.proparallel as parallel
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace join pg_language l on l.oid = p.prolang
      where (l.lanname = 'c' and p.probin ~ '(^|/)dblink(\\.[a-z]+)?$')
         or p.prosrc like '%' || $1 || '%'
         or exists (select from pg_depend d join pg_extension e on e.oid = d.refobjid
                     where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.refclassid = 'pg_extension'::regclass
                       and d.deptype = 'e' and e.extname = 'dblink')
      order by 1`,
    [DBLINK_DISABLED_MARK],
  );
  const { rows: extension } = await client.query(`select from pg_extension where extname = 'dblink'`);
  const installed = extension.length > 0;
  if (rows.length === 0) return { installed, disabled: true, functions: [] };
  const connecting = rows.filter((row) => (row.language === 'c' && DBLINK_CONNECTING.has(row.src)) || row.src.includes(DBLINK_DISABLED_MARK));
  const undo: string[] = [];
  try {
    await client.query('begin');
    for (const fn of connecting.filter((row) => row.language === 'c')) {
      const [schemaAndName] = fn.signature.split('(');
      await client.query(
        `CREATE OR REPLACE FUNCTION ${schemaAndName}(${fn.args}) RETURNS ${fn.result} LANGUAGE plpgsql AS $restore_drill$
         BEGIN RAISE EXCEPTION '${DBLINK_DISABLED_MARK}: a copy must not connect to another server' USING ERRCODE = '0A000'; END $restore_drill$`,
      );
      const parallel = fn.parallel === 's' ? ' PARALLEL SAFE' : fn.parallel === 'r' ? ' PARALLEL RESTRICTED' : '';
      undo.push(`CREATE OR REPLACE FUNCTION ${schemaAndName}(${fn.args}) RETURNS ${fn.result} LANGUAGE c${fn.strict ? ' STRICT' : ''}${parallel} AS ${literal(fn.bin ?? '$libdir/dblink')}, ${literal(fn.src)};`);
    }
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    // Functions the checks' user does not own (a managed service's extension, made by its own superuser):
    // the extension's owner may still drop it, and with it every view built on dblink.
    const dropped = installed ? await dropDblink(client) : undefined;
    if (dropped) return { installed, disabled: true, functions: connecting.map((fn) => fn.signature), dropped, droppedBecause: safeError(error) };
    return { installed, disabled: false, functions: connecting.map((fn) => fn.signature), error: safeError(error) };
  }
  return { installed, disabled: true, functions: connecting.map((fn) => fn.signature), ...(undo.length ? { undo: undo.join('\n') } : {}) };
}

/** DROP EXTENSION dblink CASCADE; what it took along (Postgres's notices name each object), or undefined when refused. */
async function dropDblink(client: pg.Client): Promise<string[] | undefined> {
  const notices: string[] = [];
  const listen = (notice: { message?: string; detail?: string }) => notices.push(...`${notice.message ?? ''}\n${notice.detail ?? ''}`.split('\n'));
  client.on('notice', listen);
  try {
    await client.query('DROP EXTENSION dblink CASCADE');
  } catch {
    return undefined;
  } finally {
    client.off('notice', listen);
  }
  return notices.flatMap((line) => /^drop cascades to (.+)$/.exec(line.trim())?.[1] ?? []);
}

async function disableSubscriptions(client: pg.Client): Promise<IsolationDetails['subscriptions']> {
  // Every column but subconninfo is readable by every role.
  const { rows } = await client.query<{ name: string; enabled: boolean }>(
    `select subname as name, subenabled as enabled from pg_subscription
      where subdbid = (select oid from pg_database where datname = current_database()) order by 1`,
  );
  const states: IsolationDetails['subscriptions'] = [];
  for (const { name, enabled } of rows) {
    if (enabled === false) {
      states.push({ name, disabled: true, wasEnabled: false });
      continue;
    }
    try {
      await client.query(`ALTER SUBSCRIPTION ${quoteIdent(name)} DISABLE`);
      states.push({ name, disabled: true, wasEnabled: true, undo: `ALTER SUBSCRIPTION ${quoteIdent(name)} ENABLE` });
    } catch (error) {
      states.push({ name, disabled: false, wasEnabled: true, error: safeError(error) });
    }
  }
  return states;
}

function verdict(details: IsolationDetails): CheckResult {
  const disabled = details.servers.filter((server) => server.disabled).map((server) => server.name);
  const stuck = [
    ...details.eventTriggers.filter((trigger) => !trigger.disabled).map((trigger) => `event trigger ${trigger.name} (${trigger.event}): ${trigger.error?.message ?? 'not disabled'}, so nothing else was changed`),
    ...details.servers.filter((server) => !server.disabled).map((server) => `server ${server.name} (${server.wrapper}): ${server.error?.message ?? server.action}`),
    ...((details.dblink.installed || details.dblink.functions.length > 0) && !details.dblink.disabled ? [`dblink: ${details.dblink.error?.message ?? 'not disabled'}`] : []),
    ...details.subscriptions.filter((sub) => !sub.disabled).map((sub) => `subscription ${sub.name}: ${sub.error?.message ?? 'not disabled'}`),
  ];
  const tables = details.foreignTables.map((table) => table.table);
  const triggers = details.eventTriggers.map((trigger) => trigger.name);
  const parts = [
    ...(triggers.length ? [`event triggers disabled: ${triggers.join(', ')}`] : []),
    disabled.length ? `${disabled.length} foreign server${disabled.length === 1 ? '' : 's'} disabled (${disabled.join(', ')})` : 'no foreign servers',
    !details.dblink.installed && details.dblink.functions.length === 0
      ? 'no dblink'
      : details.dblink.dropped
        ? `dblink dropped (its connecting functions could not be replaced: ${details.dblink.droppedBecause?.message ?? 'unknown error'})${details.dblink.dropped.length ? `, with ${details.dblink.dropped.join(', ')}` : ''}`
        : `dblink's connecting functions disabled (${details.dblink.functions.length}${details.dblink.installed ? '' : `, bound to its library outside the extension: ${details.dblink.functions.join(', ')}`})`,
    tables.length ? `foreign tables skipped by the checks: ${tables.join(', ')}` : 'no foreign tables',
    ...(details.subscriptions.length ? [`subscriptions disabled: ${details.subscriptions.map((sub) => sub.name).join(', ')}`] : []),
  ];
  if (stuck.length > 0) {
    return {
      check: 'isolation',
      status: 'error',
      summary: `the copy could still reach other servers, so no other check ran: ${stuck.join('; ')} (let the checks' user own these, or connect as a superuser)`,
      details,
    };
  }
  return { check: 'isolation', status: 'pass', summary: parts.join('; '), details };
}
