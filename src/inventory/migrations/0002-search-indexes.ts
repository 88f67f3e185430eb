/**
 * Indexes for the search language (src/inventory/search/). Text terms compare
 * `lower(column)` (case-insensitive on both engines), so product and vendor, the text most
 * searched, get expression indexes on `lower(...)`, which SQLite and PostgreSQL both support
 * and both use for `lower(col) = lower(?)` (version, cpe and host names are searched mostly
 * with wildcards, which no index serves, and every index slows ingestion). Times get plain
 * indexes for `lastseen>7d`, `firstseen>7d` (new exposures) and sorting by time.
 * Two covering indexes on findings: (check_id, state, user_state, service_id) answers
 * `finding:ID` (open, untriaged findings) from the index alone, half the time of a lookup per
 * finding at 1.3 million findings; (service_id, state, user_state, severity) answers the
 * per-service questions (highest open severity for sorting, a page's severities, finishRun's
 * candidates) from the index. It leads with service_id on purpose: SQLite without statistics
 * (the store gathers none) prefers the index matching the most equality terms, and an index
 * leading with (state, user_state) won those per-service lookups and scanned every open
 * finding for each service (seen: a severity sort of 11,000 services running for minutes).
 *
 * observations (run_id, id) serves finishRun, which pages through one run's observations in
 * id order: with only the (run_id, service_id) index, every page re-sorted the whole run
 * (quadratic: at 1.2 million services finishing a completed run had not ended after 10 minutes).
 */
import { type Kysely, type Migration, sql } from 'kysely';

const EXPRESSIONS: [name: string, table: string, column: string][] = [
  ['services_product_idx', 'services', 'product'],
  ['services_vendor_idx', 'services', 'vendor'],
  ['assets_product_idx', 'assets', 'product'],
  ['assets_vendor_idx', 'assets', 'vendor'],
];

export function searchIndexes(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      for (const [name, table, column] of EXPRESSIONS) {
        await db.schema.createIndex(name).on(table).expression(sql`lower(${sql.ref(column)})`).execute();
      }
      await db.schema.createIndex('services_last_seen_idx').on('services').column('last_seen').execute();
      await db.schema.createIndex('services_first_seen_idx').on('services').column('first_seen').execute();
      await db.schema
        .createIndex('findings_check_state_idx')
        .on('findings')
        .columns(['check_id', 'state', 'user_state', 'service_id'])
        .execute();
      await db.schema
        .createIndex('findings_service_state_idx')
        .on('findings')
        .columns(['service_id', 'state', 'user_state', 'severity'])
        .execute();
      await db.schema.createIndex('observations_run_idx').on('observations').columns(['run_id', 'id']).execute();
    },

    async down(db: Kysely<unknown>): Promise<void> {
      for (const name of [
        ...EXPRESSIONS.map(([n]) => n),
        'services_last_seen_idx',
        'services_first_seen_idx',
        'findings_check_state_idx',
        'findings_service_state_idx',
        'observations_run_idx',
      ]) {
        await db.schema.dropIndex(name).ifExists().execute();
      }
    },
  };
}
