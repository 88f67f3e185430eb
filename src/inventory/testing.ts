/**
 * Test support for the inventory (not used by the product): engine-neutral dumps and row counts,
 * to compare what SQLite and PostgreSQL hold after the same writes. (A fresh PostgreSQL database
 * per test file comes from test-pg.ts.)
 */
import Database from 'better-sqlite3';
import { type CompiledQuery, Kysely, SqliteDialect } from 'kysely';
import type { ServiceRecord } from '../core/types.js';
import { KyselyInventory } from './kysely-store.js';
import type { InventoryDatabase } from './tables.js';

/** The inventory tables a dump and a row count cover. */
export const INVENTORY_TABLES = [
  'scan_runs',
  'assets',
  'asset_tags',
  'services',
  'observations',
  'findings',
  'finding_events',
  'service_events',
  'monitor_jobs',
] as const;
export type InventoryTable = (typeof INVENTORY_TABLES)[number];

/** Rows per table. */
export async function tableCounts(db: Kysely<InventoryDatabase>): Promise<Record<InventoryTable, number>> {
  const out = {} as Record<InventoryTable, number>;
  for (const t of INVENTORY_TABLES) {
    const r = await db
      .selectFrom(t)
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .executeTakeFirstOrThrow();
    out[t] = Number(r.n);
  }
  return out;
}

/**
 * Every table as sorted JSON lines, surrogate ids replaced by natural keys (ip, port, check
 * id): two engines that received the same writes give equal dumps (PostgreSQL sequences skip
 * values on upserts where SQLite's rowids do not, so the ids themselves may differ).
 */
export async function dumpInventory(db: Kysely<InventoryDatabase>): Promise<string[]> {
  const lines: string[] = [];
  const push = (kind: string, row: Record<string, unknown>): void => {
    const norm: Record<string, unknown> = {};
    for (const k of Object.keys(row).sort()) {
      const v = row[k];
      norm[k] = typeof v === 'bigint' ? Number(v) : v;
    }
    lines.push(`${kind} ${JSON.stringify(norm)}`);
  };
  for (const r of await db.selectFrom('scan_runs').selectAll().execute()) push('run', r);
  for (const { id: _id, ...r } of await db.selectFrom('assets').selectAll().execute()) push('asset', r);
  for (const r of await db
    .selectFrom('asset_tags')
    .innerJoin('assets', 'assets.id', 'asset_tags.asset_id')
    .select(['assets.ip', 'asset_tags.tag'])
    .execute()) {
    push('tag', r);
  }
  for (const { id: _id, asset_id: _a, ...r } of await db.selectFrom('services').selectAll().execute()) push('service', r);
  for (const { id: _id, service_id: _s, ...r } of await db
    .selectFrom('observations')
    .innerJoin('services', 'services.id', 'observations.service_id')
    .selectAll('observations')
    .select(['services.ip', 'services.port'])
    .execute()) {
    push('observation', r);
  }
  for (const { id: _id, service_id: _s, ...r } of await db
    .selectFrom('findings')
    .innerJoin('services', 'services.id', 'findings.service_id')
    .selectAll('findings')
    .select(['services.ip', 'services.port'])
    .execute()) {
    push('finding', r);
  }
  for (const { id: _id, finding_id: _f, ...r } of await db
    .selectFrom('finding_events')
    .innerJoin('findings', 'findings.id', 'finding_events.finding_id')
    .innerJoin('services', 'services.id', 'findings.service_id')
    .selectAll('finding_events')
    .select(['services.ip', 'services.port', 'findings.check_id'])
    .execute()) {
    push('finding_event', r);
  }
  for (const { id: _id, service_id: _s, ...r } of await db
    .selectFrom('service_events')
    .innerJoin('services', 'services.id', 'service_events.service_id')
    .selectAll('service_events')
    .select(['services.ip', 'services.port'])
    .execute()) {
    push('service_event', r);
  }
  for (const r of await db.selectFrom('monitor_jobs').selectAll().execute()) push('monitor_job', r);
  return lines.sort();
}

/**
 * An in-memory SQLite inventory that records the statements it sends, with run `r-1` and one
 * service (127.77.0.10:104; `rec` overrides fields): for tests of the query plans of the SQL
 * the store really sends. `plans(call)` gives SQLite's EXPLAIN QUERY PLAN of each statement
 * that `call` sent, one text per statement.
 */
export async function planningInventory(rec: Partial<ServiceRecord> = {}) {
  const sqlite = new Database(':memory:');
  const sent: CompiledQuery[] = [];
  const db = new Kysely<InventoryDatabase>({
    dialect: new SqliteDialect({ database: sqlite }),
    log: (e) => {
      if (e.level === 'query') sent.push(e.query);
    },
  });
  const inv = new KyselyInventory(db, 'sqlite', ':memory:');
  await inv.migrate();
  await inv.createRun({ id: 'r-1', profile: 'safe', targets: [], options: {}, totalTargets: 0 });
  await inv.recordService('r-1', {
    ip: '127.77.0.10',
    port: 104,
    protocol: 'dicom',
    status: 'success',
    timestamp: '2026-11-01T00:00:00.000Z',
    findings: [],
    data: {},
    ...rec,
  });
  const plans = async (call: () => Promise<unknown>): Promise<{ sql: string; plan: string }[]> => {
    sent.length = 0;
    await call();
    return sent.map((q) => ({
      sql: q.sql,
      plan: (sqlite.prepare(`EXPLAIN QUERY PLAN ${q.sql}`).all(...(q.parameters as unknown[])) as { detail: string }[])
        .map((r) => r.detail)
        .join('\n'),
    }));
  };
  return { sqlite, db, inv, plans };
}
