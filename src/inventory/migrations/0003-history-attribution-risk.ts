/**
 * Columns and tables for the inventory's second stage (issues "Exposure checks" and "Asset
 * inventory with history"):
 * - assets: attribution (country, asn, as_org from mmdb files; org, org_source from the user's
 *   orgs.yaml, which takes precedence), the metadata the user owns (owner, criticality, notes,
 *   listed = the asset came from an imported known-asset list), honeypot verdict with its
 *   evidence, and the risk score (0-100, see src/risk/score.ts).
 * - services: risk score (0-100).
 * - asset_tags: one row per (asset, tag) so `tag:radiology` is an index lookup.
 * - service_events: every change of product/version/device type/TLS/protocol seen between
 *   two observations of a service (the history `medsurface inventory show` and `diff` print).
 * - monitor_jobs: the scheduler's state per job, so a restarted monitor neither runs a job
 *   twice nor forgets one (src/monitor/).
 */
import type { Kysely, Migration } from 'kysely';
import type { DialectKind } from './0001-initial.js';

function withId(kind: DialectKind) {
  return kind === 'postgres' ? ('serial' as const) : ('integer' as const);
}

export function historyAttributionRisk(kind: DialectKind): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const assetCols: [string, 'text' | 'integer'][] = [
        ['country', 'text'],
        ['asn', 'integer'],
        ['as_org', 'text'],
        ['org', 'text'],
        ['org_source', 'text'],
        ['attributed_at', 'text'],
        ['owner', 'text'],
        ['criticality', 'text'],
        ['notes', 'text'],
        ['honeypot_evidence', 'text'],
      ];
      for (const [name, type] of assetCols) {
        await db.schema.alterTable('assets').addColumn(name, type).execute();
      }
      await db.schema
        .alterTable('assets')
        .addColumn('listed', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .alterTable('assets')
        .addColumn('honeypot', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .alterTable('assets')
        .addColumn('risk', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .alterTable('services')
        .addColumn('risk', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.createIndex('assets_country_idx').on('assets').column('country').execute();
      await db.schema.createIndex('assets_asn_idx').on('assets').column('asn').execute();
      await db.schema.createIndex('assets_org_idx').on('assets').column('org').execute();
      await db.schema.createIndex('assets_risk_idx').on('assets').column('risk').execute();
      await db.schema.createIndex('services_risk_idx').on('services').column('risk').execute();

      await db.schema
        .createTable('asset_tags')
        .addColumn('asset_id', 'integer', (c) => c.notNull().references('assets.id').onDelete('cascade'))
        .addColumn('tag', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('asset_tags_pk', ['asset_id', 'tag'])
        .execute();
      await db.schema.createIndex('asset_tags_tag_idx').on('asset_tags').columns(['tag', 'asset_id']).execute();

      const idType = withId(kind);
      await db.schema
        .createTable('service_events')
        .addColumn('id', idType, (c) => (kind === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('service_id', 'integer', (c) => c.notNull().references('services.id').onDelete('cascade'))
        .addColumn('run_id', 'text', (c) => c.references('scan_runs.id').onDelete('set null'))
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('field', 'text', (c) => c.notNull())
        .addColumn('old_value', 'text')
        .addColumn('new_value', 'text')
        .execute();
      await db.schema.createIndex('service_events_service_idx').on('service_events').column('service_id').execute();
      await db.schema.createIndex('service_events_run_idx').on('service_events').column('run_id').execute();

      await db.schema
        .createTable('monitor_jobs')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('last_started_at', 'text')
        .addColumn('last_finished_at', 'text')
        .addColumn('last_run_id', 'text')
        .addColumn('running_run_id', 'text')
        .addColumn('lock_owner', 'text')
        .addColumn('lock_until', 'text')
        .addColumn('state', 'text')
        .execute();
    },

    async down(db: Kysely<unknown>): Promise<void> {
      for (const t of ['monitor_jobs', 'service_events', 'asset_tags']) await db.schema.dropTable(t).ifExists().execute();
      for (const i of ['assets_country_idx', 'assets_asn_idx', 'assets_org_idx', 'assets_risk_idx', 'services_risk_idx']) {
        await db.schema.dropIndex(i).ifExists().execute();
      }
      await db.schema.alterTable('services').dropColumn('risk').execute();
      for (const c of [
        'country', 'asn', 'as_org', 'org', 'org_source', 'attributed_at', 'owner', 'criticality', 'notes',
        'honeypot_evidence', 'listed', 'honeypot', 'risk',
      ]) {
        await db.schema.alterTable('assets').dropColumn(c).execute();
      }
    },
  };
}
