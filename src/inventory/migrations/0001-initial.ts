/**
 * The first inventory schema. Column types are chosen to mean the same on SQLite and
 * PostgreSQL: `text` (times as ISO-8601 UTC strings, which sort chronologically; JSON as
 * text) and `integer`. The only dialect difference is how a surrogate key is generated,
 * passed in as `idType` by the migration list (migrations/index.ts).
 */
import type { ColumnDefinitionBuilder, CreateTableBuilder, Kysely, Migration } from 'kysely';

export type DialectKind = 'sqlite' | 'postgres';

/** Adds the integer surrogate key: `integer primary key autoincrement` on SQLite, `serial` on PostgreSQL. */
function withId<T extends string>(table: CreateTableBuilder<T, never>, kind: DialectKind): CreateTableBuilder<T, 'id'> {
  return kind === 'postgres'
    ? table.addColumn('id', 'serial', (c) => c.primaryKey())
    : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
}

const notNull = (c: ColumnDefinitionBuilder) => c.notNull();

export function initial(kind: DialectKind): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('scan_runs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('started_at', 'text', notNull)
        .addColumn('finished_at', 'text')
        .addColumn('state', 'text', notNull)
        .addColumn('profile', 'text', notNull)
        .addColumn('targets_spec', 'text', notNull)
        .addColumn('options', 'text', notNull)
        .addColumn('checkpoint', 'text')
        .addColumn('stats', 'text', notNull)
        .addColumn('total_targets', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('done_targets', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.createIndex('scan_runs_started_idx').on('scan_runs').column('started_at').execute();

      await withId(db.schema.createTable('assets'), kind)
        .addColumn('ip', 'text', (c) => c.notNull().unique())
        .addColumn('ip_key', 'text', notNull)
        .addColumn('hostname', 'text')
        .addColumn('first_seen', 'text', notNull)
        .addColumn('last_seen', 'text', notNull)
        .addColumn('vendor', 'text')
        .addColumn('product', 'text')
        .addColumn('device_type', 'text')
        .addColumn('evidence', 'text', notNull)
        .addColumn('last_run_id', 'text')
        .execute();
      await db.schema.createIndex('assets_ip_key_idx').on('assets').column('ip_key').execute();
      await db.schema.createIndex('assets_device_type_idx').on('assets').column('device_type').execute();

      await withId(db.schema.createTable('services'), kind)
        .addColumn('asset_id', 'integer', (c) => c.notNull().references('assets.id').onDelete('cascade'))
        .addColumn('ip', 'text', notNull)
        .addColumn('ip_key', 'text', notNull)
        .addColumn('port', 'integer', notNull)
        .addColumn('transport', 'text', (c) => c.notNull().defaultTo('tcp'))
        .addColumn('protocol', 'text')
        .addColumn('status', 'text', notNull)
        .addColumn('product', 'text')
        .addColumn('vendor', 'text')
        .addColumn('version', 'text')
        .addColumn('cpe', 'text')
        .addColumn('device_type', 'text')
        .addColumn('tls', 'text')
        .addColumn('first_seen', 'text', notNull)
        .addColumn('last_seen', 'text', notNull)
        .addColumn('last_run_id', 'text')
        .addUniqueConstraint('services_ip_port_uq', ['ip', 'port'])
        .execute();
      await db.schema.createIndex('services_asset_idx').on('services').column('asset_id').execute();
      await db.schema.createIndex('services_ip_key_port_idx').on('services').columns(['ip_key', 'port']).execute();
      await db.schema.createIndex('services_port_idx').on('services').column('port').execute();
      await db.schema.createIndex('services_protocol_idx').on('services').column('protocol').execute();
      await db.schema.createIndex('services_device_type_idx').on('services').column('device_type').execute();

      await withId(db.schema.createTable('observations'), kind)
        .addColumn('run_id', 'text', (c) => c.notNull().references('scan_runs.id').onDelete('cascade'))
        .addColumn('service_id', 'integer', (c) => c.notNull().references('services.id').onDelete('cascade'))
        .addColumn('observed_at', 'text', notNull)
        .addColumn('status', 'text', notNull)
        .addColumn('protocol', 'text')
        .addColumn('data', 'text', notNull)
        .addColumn('checks_run', 'text', notNull)
        .addColumn('identity', 'text', notNull)
        .addUniqueConstraint('observations_run_service_uq', ['run_id', 'service_id'])
        .execute();
      await db.schema.createIndex('observations_service_idx').on('observations').column('service_id').execute();

      await withId(db.schema.createTable('findings'), kind)
        .addColumn('service_id', 'integer', (c) => c.notNull().references('services.id').onDelete('cascade'))
        .addColumn('check_id', 'text', notNull)
        .addColumn('severity', 'text', notNull)
        .addColumn('title', 'text', notNull)
        .addColumn('confidence', 'text', notNull)
        .addColumn('evidence', 'text')
        .addColumn('state', 'text', notNull)
        .addColumn('user_state', 'text')
        .addColumn('first_seen', 'text', notNull)
        .addColumn('last_seen', 'text', notNull)
        .addColumn('resolved_at', 'text')
        .addColumn('last_run_id', 'text')
        .addUniqueConstraint('findings_service_check_uq', ['service_id', 'check_id'])
        .execute();
      await db.schema.createIndex('findings_state_idx').on('findings').columns(['state', 'severity']).execute();
      await db.schema.createIndex('findings_check_idx').on('findings').column('check_id').execute();

      await withId(db.schema.createTable('finding_events'), kind)
        .addColumn('finding_id', 'integer', (c) => c.notNull().references('findings.id').onDelete('cascade'))
        .addColumn('run_id', 'text', (c) => c.references('scan_runs.id').onDelete('set null'))
        .addColumn('at', 'text', notNull)
        .addColumn('event', 'text', notNull)
        .addColumn('detail', 'text')
        .execute();
      await db.schema.createIndex('finding_events_finding_idx').on('finding_events').column('finding_id').execute();
      await db.schema.createIndex('finding_events_run_idx').on('finding_events').column('run_id').execute();
    },

    async down(db: Kysely<unknown>): Promise<void> {
      for (const t of ['finding_events', 'findings', 'observations', 'services', 'assets', 'scan_runs']) {
        await db.schema.dropTable(t).ifExists().execute();
      }
    },
  };
}
