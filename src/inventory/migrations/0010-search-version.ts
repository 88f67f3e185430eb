/**
 * search_version: one counter that every change of the rows a search reads (services, assets,
 * findings, asset_tags) increments, in the same transaction, through SQLite triggers. The
 * column index (search/column-index.ts) compares it with the value it was built at: other
 * commits (sessions, the audit log, observations of a run, jobs) leave it current. Before this,
 * `PRAGMA data_version` alone retired the index at every commit, and the server commits on
 * every request (a session's last use).
 *
 * A trigger runs once per changed row: about 10% of ingest time (bench/inventory, 300,000
 * services through the writer thread: 58.1 and 68.7 s with the triggers, 57.4 and 53.1 s
 * without), the price of a freshness test that no write path can forget.
 * PostgreSQL has the table but no triggers: it keeps no column index.
 */
import { type Kysely, type Migration, sql } from 'kysely';
import type { DialectKind } from './0001-initial.js';

/** The tables whose rows the search language and its facets read. */
export const SEARCHED_TABLES = ['services', 'assets', 'findings', 'asset_tags'] as const;
const EVENTS = ['insert', 'update', 'delete'] as const;

export function searchVersion(kind: DialectKind): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('search_version')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('version', 'bigint', (c) => c.notNull())
        .execute();
      await sql`insert into search_version (id, version) values (1, 0)`.execute(db);
      if (kind !== 'sqlite') return;
      for (const table of SEARCHED_TABLES) {
        for (const event of EVENTS) {
          await sql`create trigger ${sql.id(`search_version_${table}_${event}`)} after ${sql.raw(event)} on ${sql.table(table)}
            begin update search_version set version = version + 1 where id = 1; end`.execute(db);
        }
      }
    },
    async down(db: Kysely<unknown>): Promise<void> {
      if (kind === 'sqlite') {
        for (const table of SEARCHED_TABLES) for (const event of EVENTS) await sql`drop trigger if exists ${sql.id(`search_version_${table}_${event}`)}`.execute(db);
      }
      await db.schema.dropTable('search_version').execute();
    },
  };
}
