/**
 * Internet mode's inventory changes (issue 8):
 * - opt_outs: the ranges whose owners asked not to be scanned (src/inventory/opt-out.ts,
 *   `medsurface optout`). Every scan leaves them out, and every distributed worker reloads the
 *   list while it scans, so an opt-out recorded mid-run stops traffic within a minute. `cidr` is
 *   the canonical CIDR text (host bits cleared), so one range is one row.
 * - scan_runs.total_targets and done_targets become 64-bit on PostgreSQL: an IPv4-wide run holds
 *   2^32 targets, past PostgreSQL's 32-bit `integer`. SQLite integers are 64-bit already (a
 *   no-op there). node-postgres returns `bigint` as a string: readers convert with Number(),
 *   exact up to 2^53.
 */
import type { Kysely, Migration } from 'kysely';
import type { DialectKind } from './0001-initial.js';

const RUN_COUNTERS = ['total_targets', 'done_targets'] as const;

export function optOuts(kind: DialectKind): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('opt_outs')
        .addColumn('cidr', 'text', (c) => c.primaryKey())
        .addColumn('reason', 'text')
        .addColumn('contact', 'text')
        .addColumn('added_at', 'text', (c) => c.notNull())
        .addColumn('added_by', 'text', (c) => c.notNull())
        .execute();
      if (kind === 'postgres') {
        for (const col of RUN_COUNTERS) {
          await db.schema.alterTable('scan_runs').alterColumn(col, (c) => c.setDataType('bigint')).execute();
        }
      }
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('opt_outs').ifExists().execute();
      if (kind === 'postgres') {
        for (const col of RUN_COUNTERS) {
          await db.schema.alterTable('scan_runs').alterColumn(col, (c) => c.setDataType('integer')).execute();
        }
      }
    },
  };
}
