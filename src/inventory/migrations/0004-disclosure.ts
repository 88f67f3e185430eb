/**
 * Tables of the responsible-disclosure workflow (issue "Reports, exports and the
 * responsible-disclosure workflow", src/disclosure/; row types in src/disclosure/tables.ts):
 * - cases: one per responsible party and round of notification, with its state;
 * - case_events: each case's history (created, findings added, state changes, notes, packages
 *   prepared, messages sent, re-measurements);
 * - case_findings: which findings a case covers; deleted with the finding (inventory forget) or
 *   the case;
 * - rdap_networks: networks and their abuse contacts from imported RDAP JSON and RDAP lookups
 *   (the lookup cache), keyed by ip-key.ts ranges.
 */
import type { Kysely, Migration } from 'kysely';
import type { DialectKind } from './0001-initial.js';

export function disclosure(kind: DialectKind): Migration {
  const idType = kind === 'postgres' ? ('serial' as const) : ('integer' as const);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('cases')
        .addColumn('id', idType, (c) => (kind === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('party_key', 'text', (c) => c.notNull())
        .addColumn('party_kind', 'text', (c) => c.notNull())
        .addColumn('party_name', 'text', (c) => c.notNull())
        .addColumn('country', 'text')
        .addColumn('asn', 'integer')
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('notified_at', 'text')
        .addColumn('closed_at', 'text')
        .addColumn('recipient', 'text')
        .execute();
      await db.schema.createIndex('cases_party_idx').on('cases').columns(['party_key', 'state']).execute();
      await db.schema.createIndex('cases_state_idx').on('cases').column('state').execute();

      await db.schema
        .createTable('case_events')
        .addColumn('id', idType, (c) => (kind === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('case_id', 'integer', (c) => c.notNull().references('cases.id').onDelete('cascade'))
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('event', 'text', (c) => c.notNull())
        .addColumn('from_state', 'text')
        .addColumn('to_state', 'text')
        .addColumn('detail', 'text')
        .execute();
      await db.schema.createIndex('case_events_case_idx').on('case_events').columns(['case_id', 'id']).execute();

      await db.schema
        .createTable('case_findings')
        .addColumn('case_id', 'integer', (c) => c.notNull().references('cases.id').onDelete('cascade'))
        .addColumn('finding_id', 'integer', (c) => c.notNull().references('findings.id').onDelete('cascade'))
        .addColumn('added_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('case_findings_pk', ['case_id', 'finding_id'])
        .execute();
      await db.schema.createIndex('case_findings_finding_idx').on('case_findings').column('finding_id').execute();

      await db.schema
        .createTable('rdap_networks')
        .addColumn('id', idType, (c) => (kind === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('start_key', 'text', (c) => c.notNull())
        .addColumn('end_key', 'text', (c) => c.notNull())
        .addColumn('start_address', 'text', (c) => c.notNull())
        .addColumn('end_address', 'text', (c) => c.notNull())
        .addColumn('handle', 'text')
        .addColumn('name', 'text')
        .addColumn('country', 'text')
        .addColumn('abuse_emails', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('fetched_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('rdap_networks_range_uq', ['start_key', 'end_key'])
        .execute();
    },

    async down(db: Kysely<unknown>): Promise<void> {
      for (const t of ['rdap_networks', 'case_findings', 'case_events', 'cases']) await db.schema.dropTable(t).ifExists().execute();
    },
  };
}
