/**
 * Which services a report covers: those matching the search-language query (src/inventory/
 * search, the same language as `medsurface search`), on hosts of the organisation when one is
 * given, without hosts judged honeypots unless they are included (or the query names
 * `honeypot:`). Every count of the report is taken over this one set, as a subquery, so a
 * country-scale inventory is never loaded into memory to be filtered.
 */
import type { Kysely } from 'kysely';
import type { DialectKind } from '../inventory/migrations/index.js';
import { compileQuery, parseQuery, type ServicePredicate, withHoneypotDefault } from '../inventory/search/index.js';
import type { InventoryDatabase } from '../inventory/tables.js';

type Db = Kysely<InventoryDatabase>;

export interface ReportScope {
  query: string;
  org: string | null;
  /** The compiled query (with the honeypot exclusion when it applies); null selects every service. */
  predicate: ServicePredicate | null;
  /** The honeypot exclusion was added (the query has no `honeypot:` term and honeypots are not included). */
  honeypotsExcluded: boolean;
  /** The same query with honeypots kept, to count the honeypots it leaves out. */
  withHoneypots: ServicePredicate | null;
}

/** Parses and compiles the query; a malformed one throws SearchQueryError (a UsageError pointing at the token). */
export function makeScope(query: string, org: string | null, includeHoneypots: boolean, dialect: DialectKind, now: number): ReportScope {
  const parsed = parseQuery(query);
  const ast = withHoneypotDefault(parsed, includeHoneypots);
  return {
    query,
    org,
    predicate: compileQuery(ast, { now, dialect }),
    honeypotsExcluded: ast !== parsed,
    withHoneypots: compileQuery(parsed, { now, dialect }),
  };
}

/** `selectFrom('services')` restricted to the scope (`withHoneypots`: the honeypot exclusion lifted). */
export function scopedServices(db: Db, scope: ReportScope, withHoneypots = false) {
  const pred = withHoneypots ? scope.withHoneypots : scope.predicate;
  let q = db.selectFrom('services');
  if (pred !== null) q = q.where(pred);
  if (scope.org !== null) {
    const org = scope.org.toLowerCase();
    q = q.where('services.asset_id', 'in', db.selectFrom('assets').select('assets.id').where((eb) => eb(eb.fn('lower', ['assets.org']), '=', org)));
  }
  return q;
}

/** The ids of the services in scope, as a subquery. */
export function scopedServiceIds(db: Db, scope: ReportScope) {
  return scopedServices(db, scope).select('services.id');
}

/** The ids of the hosts with a service in scope, as a subquery. */
export function scopedAssetIds(db: Db, scope: ReportScope) {
  return scopedServices(db, scope).select('services.asset_id');
}
