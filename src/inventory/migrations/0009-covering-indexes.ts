/**
 * Indexes replaced by wider ones that answer more from the index alone, and one partial index
 * (measured at 1.2 M services on SQLite):
 * - (asset_id) becomes (asset_id, device_type, product, vendor): the host half of the
 *   device type, product and vendor facets (facets.ts ownAndHostGroups) compares each service's
 *   own value with its host's without reading the service rows (691 -> 298 ms for device types).
 * - (risk) becomes (risk DESC, ip_key, port, ip), the order of "riskiest first" with its ties
 *   (run-search.ts): the first page is read off the index instead of sorting every service
 *   (322 ms -> under 5 ms); `risk>=70` still uses its leading column. Likewise assets' (risk)
 *   becomes (risk DESC, ip_key, ip), which the hosts page walks (run-search.ts walkedHosts).
 * - findings (state, severity) becomes (state, user_state, severity): the active findings per
 *   severity (the overview's counts) from the index alone.
 * - lower(product) and lower(vendor), on services and on assets, become (lower(x), x): a facet
 *   groups by the folded value and shows a stored spelling without reading rows (the product
 *   facet of the whole inventory 1.5 s -> 0.4 s). `product:x` still uses the leading expression.
 * - observations (service_id, id), partial, over the observations that hold a record count
 *   (`"matches"` or `"patientCount"` in their data; few in any inventory): the records reachable
 *   (src/report/gather-assets.ts recordCounts) no longer read every service's latest
 *   observation (0.8 s -> under 5 ms). The query repeats the condition with literal patterns,
 *   which both engines need to match it to the index.
 */
import { type Kysely, type Migration, sql } from 'kysely';

/** The WHERE of observations_counts_idx; recordCounts must state the same literal patterns. */
export const COUNT_PATTERNS = ['%"matches"%', '%"patientCount"%'] as const;

const FOLDED: [name: string, table: string, column: string][] = [
  ['services_product_idx', 'services', 'product'],
  ['services_vendor_idx', 'services', 'vendor'],
  ['assets_product_idx', 'assets', 'product'],
  ['assets_vendor_idx', 'assets', 'vendor'],
];

export function coveringIndexes(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropIndex('services_asset_idx').ifExists().execute();
      await db.schema
        .createIndex('services_asset_identity_idx')
        .on('services')
        .columns(['asset_id', 'device_type', 'product', 'vendor'])
        .execute();
      await db.schema.dropIndex('services_risk_idx').ifExists().execute();
      await db.schema
        .createIndex('services_risk_order_idx')
        .on('services')
        .columns(['risk desc', 'ip_key', 'port', 'ip'])
        .execute();
      await db.schema.dropIndex('assets_risk_idx').ifExists().execute();
      await db.schema.createIndex('assets_risk_order_idx').on('assets').columns(['risk desc', 'ip_key', 'ip']).execute();
      await db.schema.dropIndex('findings_state_idx').ifExists().execute();
      await db.schema.createIndex('findings_state_idx').on('findings').columns(['state', 'user_state', 'severity']).execute();
      for (const [name, table, column] of FOLDED) {
        await db.schema.dropIndex(name).ifExists().execute();
        await db.schema.createIndex(name).on(table).expression(sql`lower(${sql.ref(column)}), ${sql.ref(column)}`).execute();
      }
      await db.schema
        .createIndex('observations_counts_idx')
        .on('observations')
        .columns(['service_id', 'id'])
        .where(sql<boolean>`${sql.ref('data')} like ${sql.lit(COUNT_PATTERNS[0])} or ${sql.ref('data')} like ${sql.lit(COUNT_PATTERNS[1])}`)
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropIndex('services_asset_identity_idx').ifExists().execute();
      await db.schema.createIndex('services_asset_idx').on('services').column('asset_id').execute();
      await db.schema.dropIndex('services_risk_order_idx').ifExists().execute();
      await db.schema.createIndex('services_risk_idx').on('services').column('risk').execute();
      await db.schema.dropIndex('assets_risk_order_idx').ifExists().execute();
      await db.schema.createIndex('assets_risk_idx').on('assets').column('risk').execute();
      await db.schema.dropIndex('findings_state_idx').ifExists().execute();
      await db.schema.createIndex('findings_state_idx').on('findings').columns(['state', 'severity']).execute();
      for (const [name, table, column] of FOLDED) {
        await db.schema.dropIndex(name).ifExists().execute();
        await db.schema.createIndex(name).on(table).expression(sql`lower(${sql.ref(column)})`).execute();
      }
      await db.schema.dropIndex('observations_counts_idx').ifExists().execute();
    },
  };
}
