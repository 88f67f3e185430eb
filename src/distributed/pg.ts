/**
 * Opens the PostgreSQL inventory for the coordinator and the workers: inventory/db.ts's
 * openPostgres plus one thing a long-running worker needs. node-postgres emits 'error' on a
 * client that is checked out of the pool when its socket dies (a database restart, a dropped
 * connection); the pool only listens on idle clients, so without a listener on every client that
 * event is uncaught and kills the process instead of failing the query (which the worker then
 * retries, retry.ts). The query itself still rejects with the error.
 *
 * Interim: once db.ts's openPostgres adds the same listener (`pool.on('connect', (c) =>
 * c.on('error', () => {}))`), this module can go and callers use openKyselyInventory.
 */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { messageOf, UsageError } from '../core/errors.js';
import { InventoryError, KyselyInventory, isPostgresUrl, maskUrl } from '../inventory/index.js';
import type { InventoryDatabase } from '../inventory/tables.js';
import { DistributedError } from './types.js';

/** Connections in one process's pool (as db.ts PG_POOL_MAX). */
const POOL_MAX = 10;

export async function openPgInventory(url: string): Promise<KyselyInventory> {
  if (!isPostgresUrl(url)) {
    throw new DistributedError('distributed mode needs the inventory in PostgreSQL: --db postgres://USER@HOST/DB, shared by the coordinator and every worker');
  }
  const pool = new pg.Pool({ connectionString: url, max: POOL_MAX, application_name: 'medsurface' });
  pool.on('error', () => {});
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  const inv = new KyselyInventory(new Kysely<InventoryDatabase>({ dialect: new PostgresDialect({ pool }) }), 'postgres', maskUrl(url));
  try {
    await inv.migrate();
  } catch (err) {
    await inv.close().catch(() => {});
    if (err instanceof InventoryError) throw err;
    throw new UsageError(`cannot open the inventory at ${inv.location}: ${messageOf(err)}`, { cause: err });
  }
  return inv;
}
