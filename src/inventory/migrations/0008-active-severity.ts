/**
 * `services.active_severity`: the rank of the service's highest active finding (open and not
 * triaged by a user), 0 none, 1 info ... 5 critical (SEVERITIES' order plus one, the ranks of
 * to-kysely.ts severityRankSql). The search language defines a service's severity so
 * (`severity>=high`, `-finding:*`, the severity facet and sort); stored beside the service it
 * is a comparison on one indexed column, where it took a subquery over every active finding
 * (measured at 1.2 M services on SQLite: the severity facet 2.1 s, `protocol:dicom -finding:*`
 * 1.6 s). The store keeps it current wherever findings change (kysely-store.ts); this
 * migration computes it for the findings already there.
 */
import { type Kysely, type Migration, sql } from 'kysely';

export function activeSeverity(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .alterTable('services')
        .addColumn('active_severity', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await sql`
        UPDATE services SET active_severity = COALESCE((
          SELECT MAX(CASE f.severity WHEN 'info' THEN 1 WHEN 'low' THEN 2 WHEN 'medium' THEN 3 WHEN 'high' THEN 4 WHEN 'critical' THEN 5 ELSE 0 END)
          FROM findings f WHERE f.service_id = services.id AND f.state = 'open' AND f.user_state IS NULL), 0)
        WHERE id IN (SELECT service_id FROM findings WHERE state = 'open' AND user_state IS NULL)`.execute(db);
      await db.schema.createIndex('services_active_severity_idx').on('services').column('active_severity').execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropIndex('services_active_severity_idx').ifExists().execute();
      await db.schema.alterTable('services').dropColumn('active_severity').execute();
    },
  };
}
