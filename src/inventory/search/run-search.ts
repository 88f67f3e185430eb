/**
 * Runs a search: parse, compile, then one page of services (or of hosts with `assets`), sorted,
 * with the total. Sorting always ends on (ip_key, port, ip), a total order, so pages are stable
 * and both engines return the same rows in the same order. Honeypot hosts are left out unless
 * the query has a `honeypot:` term or `includeHoneypots` is set (ast.ts withHoneypotDefault).
 */
import { type Kysely, sql } from 'kysely';
import { UsageError } from '../../core/errors.js';
import { SEVERITIES, type Severity } from '../../core/types.js';
import type { DialectKind } from '../migrations/index.js';
import type { InventoryDatabase } from '../tables.js';
import { type QueryNode, SEARCH_LIMITS, withHoneypotDefault } from './ast.js';
import { parseQuery } from './parser.js';
import type { ColumnIndex } from './column-index.js';
import { compileQuery, type ServicePredicate } from './to-kysely.js';

type Db = Kysely<InventoryDatabase>;

/** Where a search runs: the Kysely instance and its engine (KyselyInventory is one). */
export interface SearchTarget {
  readonly db: Db;
  readonly kind: DialectKind;
  /**
   * The inventory's column index when one is built and current (column-index.ts): it gives
   * totals and facet counts; null (or absent) means SQL counts them.
   */
  columns?(): ColumnIndex | null;
}

export const SORT_KEYS = ['ip', 'port', 'lastseen', 'firstseen', 'severity', 'risk'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export interface SearchOptions {
  /** Rows per page (default 100, at most SEARCH_LIMITS.rows). */
  limit?: number;
  offset?: number;
  /**
   * `ip` (default), `port`, `lastseen`, `firstseen`, `severity`, `risk`; a leading `-` sorts
   * descending (`-risk`: riskiest first). Services sort by their own risk, hosts by the host's.
   */
  sort?: string;
  /** One row per host (asset) that has a matching service, instead of one per service. */
  assets?: boolean;
  /** Count all matches (default true); false skips that query and returns total null. */
  total?: boolean;
  /** Clock for relative times (`lastseen>7d`), milliseconds since the epoch (default now). */
  now?: number;
  /** Keep honeypot hosts in the results although the query has no `honeypot:` term. */
  includeHoneypots?: boolean;
}

/** Where the host of a row is and who owns it (src/attribution/), and whether it is a honeypot. */
export interface SearchHostAttribution {
  country: string | null;
  asn: number | null;
  org: string | null;
  honeypot: boolean;
}

export interface SearchServiceRow {
  ip: string;
  port: number;
  hostname: string | null;
  protocol: string | null;
  status: string;
  /** This service's own identification. */
  product: string | null;
  vendor: string | null;
  version: string | null;
  cpe: string | null;
  deviceType: string | null;
  /** The identity fused from all services of the host, and the host's attribution. */
  asset: { vendor: string | null; product: string | null; deviceType: string | null } & SearchHostAttribution;
  /** Highest open, untriaged finding; null without one. */
  maxSeverity: Severity | null;
  /** The service's risk score, 0-100. */
  risk: number;
  firstSeen: string;
  lastSeen: string;
}

export interface SearchAssetRow extends SearchHostAttribution {
  ip: string;
  hostname: string | null;
  vendor: string | null;
  product: string | null;
  deviceType: string | null;
  /** Services of this host that match the query, and their ports. */
  services: number;
  ports: number[];
  /** Highest open, untriaged finding among the matching services. */
  maxSeverity: Severity | null;
  /** The host's risk score, 0-100 (its highest service risk plus breadth, src/risk/score.ts). */
  risk: number;
  /** Earliest first-seen and latest last-seen among the matching services. */
  firstSeen: string;
  lastSeen: string;
}

interface ResultBase {
  query: string;
  sort: string;
  limit: number;
  offset: number;
  /** All matches (services, or hosts with `assets`), or null when not counted. */
  total: number | null;
  /** Honeypot hosts were left out (the query has no `honeypot:` term and includeHoneypots was not set). */
  honeypotsExcluded: boolean;
}
export type SearchResult =
  | (ResultBase & { kind: 'services'; rows: SearchServiceRow[] })
  | (ResultBase & { kind: 'assets'; rows: SearchAssetRow[] });

export const DEFAULT_SEARCH_LIMIT = 100;
/** Pages ending beyond this many rows are read from SQL, not walked in the column index. */
const COLUMN_PAGE_MAX = 20_000;
/** Ids per IN (...) list. */
const CHUNK = 500;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

export function parseSort(spec: string | undefined, assets: boolean): { key: SortKey; desc: boolean; text: string } {
  const text = spec === undefined || spec === '' ? 'ip' : spec.trim().toLowerCase();
  const desc = text.startsWith('-');
  const key = (desc ? text.slice(1) : text) as SortKey;
  if (!SORT_KEYS.includes(key)) {
    throw new UsageError(`sort must be one of ${SORT_KEYS.join(', ')} (a leading - sorts descending), not "${spec}"`);
  }
  if (assets && key === 'port') {
    throw new UsageError(`sorting hosts by port is not defined: sort by ${SORT_KEYS.filter((k) => k !== 'port').join(', ')}`);
  }
  return { key, desc, text };
}

function pageOf(opts: SearchOptions): { limit: number; offset: number } {
  const limit = opts.limit ?? DEFAULT_SEARCH_LIMIT;
  const offset = opts.offset ?? 0;
  if (!Number.isInteger(limit) || limit < 0 || limit > SEARCH_LIMITS.rows) {
    throw new UsageError(`limit must be an integer from 0 to ${SEARCH_LIMITS.rows}`);
  }
  if (!Number.isInteger(offset) || offset < 0) throw new UsageError('offset must be a non-negative integer');
  return { limit, offset };
}

/**
 * Parses `query` into the tree that runs: with the honeypot exclusion added unless the query
 * names `honeypot:` or `includeHoneypots` is set (`excluded` says whether it applies).
 *
 * When no host at all is flagged, the exclusion is dropped from the SQL (the answer is the
 * same): the condition needs each service's asset_id, which keeps index-only plans from
 * being used, and with no index on assets.honeypot each statement scans the assets for the
 * list of honeypots (measured at 1.2 million services on SQLite: +270 to +850 ms a search).
 * The one lookup here stops at the first honeypot it finds.
 */
export async function searchTree(target: SearchTarget, query: string, includeHoneypots: boolean | undefined): Promise<{ ast: QueryNode; excluded: boolean }> {
  const parsed = parseQuery(query);
  const ast = withHoneypotDefault(parsed, includeHoneypots === true);
  if (ast === parsed) return { ast, excluded: false };
  const flagged = await target.db.selectFrom('assets').select('assets.id').where('assets.honeypot', '=', 1).limit(1).executeTakeFirst();
  return { ast: flagged === undefined ? parsed : ast, excluded: true };
}

function highest(list: Iterable<string>): Severity | null {
  let best = -1;
  for (const s of list) best = Math.max(best, SEVERITIES.indexOf(s as Severity));
  return best < 0 ? null : (SEVERITIES[best] ?? null);
}

/** The severity of a services.active_severity rank (migrations/0008): null for 0, none. */
function severityOfRank(rank: number | string): Severity | null {
  return SEVERITIES[Number(rank) - 1] ?? null;
}

/** The attribution columns of a host as a row shows them (PostgreSQL may return integers as text). */
function attribution(r: { country: string | null; asn: number | string | null; org: string | null; honeypot: number | string }): SearchHostAttribution {
  return { country: r.country, asn: r.asn === null ? null : Number(r.asn), org: r.org, honeypot: Number(r.honeypot) === 1 };
}

/** Services (or hosts) matching `query`, one page, sorted. Throws SearchQueryError for a bad query. */
export async function runSearch(target: SearchTarget, query: string, opts: SearchOptions = {}): Promise<SearchResult> {
  const { db } = target;
  const assets = opts.assets === true;
  const sort = parseSort(opts.sort, assets);
  const { limit, offset } = pageOf(opts);
  const tree = await searchTree(target, query, opts.includeHoneypots);
  const now = opts.now ?? Date.now();
  const pred = compileQuery(tree.ast, { now, dialect: target.kind });
  const base = { query, sort: sort.text, limit, offset, honeypotsExcluded: tree.excluded };
  // With a current column index: the total from it, and the page's ids too unless the page lies
  // deep (past COLUMN_PAGE_MAX rows); the rows themselves from SQL.
  const columns = target.columns?.() ?? null;
  const hit = columns === null ? null : { columns, mask: columns.match(tree.ast, now) };
  const counted = hit === null || opts.total === false ? null : hit.columns.count(hit.mask, assets);
  const withTotal = opts.total !== false && counted === null;
  const ids =
    hit === null || offset + limit > COLUMN_PAGE_MAX ? undefined
    : assets ? hit.columns.hostPage(hit.mask, sort.key, sort.desc, offset, limit)
    : hit.columns.page(hit.mask, sort.key, sort.desc, offset, limit);
  const page = assets ? await assetPage(db, pred, sort, limit, offset, withTotal, ids) : await servicePage(db, pred, sort, limit, offset, withTotal, ids);
  const total = counted ?? page.total;
  return page.kind === 'assets'
    ? { kind: 'assets', ...base, total, rows: page.rows }
    : { kind: 'services', ...base, total, rows: page.rows };
}

/** `selectFrom('services')`, filtered by the query. */
export function matching(db: Db, pred: ServicePredicate | null) {
  const q = db.selectFrom('services');
  return pred === null ? q : q.where(pred);
}

/** The displayed columns of some services, with their hosts' identity. */
function pageRows(db: Db, ids: number[]) {
  return db
    .selectFrom('services')
    .innerJoin('assets', 'assets.id', 'services.asset_id')
    .select([
      'services.id',
      'services.ip',
      'services.port',
      'services.protocol',
      'services.status',
      'services.product',
      'services.vendor',
      'services.version',
      'services.cpe',
      'services.device_type',
      'services.first_seen',
      'services.last_seen',
      'services.risk',
      'services.active_severity',
      'assets.hostname',
      'assets.vendor as asset_vendor',
      'assets.product as asset_product',
      'assets.device_type as asset_device_type',
      'assets.country',
      'assets.asn',
      'assets.org',
      'assets.honeypot',
    ])
    .where('services.id', 'in', ids)
    .execute();
}

async function servicePage(
  db: Db,
  pred: ServicePredicate | null,
  sort: { key: SortKey; desc: boolean },
  limit: number,
  offset: number,
  withTotal: boolean,
  pageIds?: number[],
): Promise<{ kind: 'services'; total: number | null; rows: SearchServiceRow[] }> {
  const dir = sort.desc ? 'desc' : 'asc';
  // Two steps: the page's ids (sorting narrow rows), then those rows with their hosts.
  let q = matching(db, pred).select('services.id');
  switch (sort.key) {
    case 'lastseen':
      q = q.orderBy('services.last_seen', dir);
      break;
    case 'firstseen':
      q = q.orderBy('services.first_seen', dir);
      break;
    case 'port':
      q = q.orderBy('services.port', dir);
      break;
    case 'risk':
      q = q.orderBy('services.risk', dir);
      break;
    case 'severity':
      q = q.orderBy('services.active_severity', dir);
      break;
    case 'ip':
      break;
  }
  // (ip_key, port) is the order of the services_ip_key_port_idx index; ip breaks the rare tie
  // of two spellings of one address.
  const tie = sort.key === 'ip' ? dir : 'asc';
  q = q.orderBy('services.ip_key', tie).orderBy('services.port', tie).orderBy('services.ip', tie);
  const ids = pageIds ?? (limit === 0 ? [] : (await q.limit(limit).offset(offset).execute()).map((r) => Number(r.id)));
  const byId = new Map<number, Awaited<ReturnType<typeof pageRows>>[number]>();
  for (const part of chunks(ids)) for (const r of await pageRows(db, part)) byId.set(Number(r.id), r);
  const rows = ids.map((id) => byId.get(id)).filter((r) => r !== undefined);

  let total: number | null = null;
  if (withTotal) {
    const r = await matching(db, pred)
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .executeTakeFirstOrThrow();
    total = Number(r.n);
  }
  return {
    kind: 'services',
    total,
    rows: rows.map((r) => ({
      ip: r.ip,
      port: Number(r.port),
      hostname: r.hostname,
      protocol: r.protocol,
      status: r.status,
      product: r.product,
      vendor: r.vendor,
      version: r.version,
      cpe: r.cpe,
      deviceType: r.device_type,
      asset: {
        vendor: r.asset_vendor,
        product: r.asset_product,
        deviceType: r.asset_device_type,
        ...attribution(r),
      },
      maxSeverity: severityOfRank(r.active_severity),
      risk: Number(r.risk),
      firstSeen: r.first_seen,
      lastSeen: r.last_seen,
    })),
  };
}

async function assetPage(
  db: Db,
  pred: ServicePredicate | null,
  sort: { key: SortKey; desc: boolean },
  limit: number,
  offset: number,
  withTotal: boolean,
  pageIds?: number[],
): Promise<{ kind: 'assets'; total: number | null; rows: SearchAssetRow[] }> {
  const dir = sort.desc ? 'desc' : 'asc';
  const tie = sort.key === 'ip' ? dir : 'asc';
  let total: number | null = null;
  if (withTotal) {
    const r = await matching(db, pred)
      .select((eb) => eb.fn.count<number | string>('services.asset_id').distinct().as('n'))
      .executeTakeFirstOrThrow();
    total = Number(r.n);
  }
  if (pageIds !== undefined) {
    // The page chosen by the column index: its hosts' rows, in its order.
    const byId = new Map<number, HostRow>();
    for (const part of chunks(pageIds)) {
      for (const r of await db.selectFrom('assets').select(HOST_COLUMNS).where('assets.id', 'in', part).execute()) byId.set(Number(r.id), r);
    }
    return { kind: 'assets', total, rows: await pageRowsOf(db, pred, pageIds.map((id) => byId.get(id)).filter((r) => r !== undefined)) };
  }
  // The grouped page's aggregates order it; its rows' counts and times come from pageRowsOf.
  if (limit > 0 && (sort.key === 'ip' || (sort.key === 'risk' && sort.desc)) && pred === null) {
    return { kind: 'assets', total, rows: await pageRowsOf(db, pred, await walkedHosts(db, pred, sort.key, dir, tie, limit, offset)) };
  }
  const grouped = matching(db, pred)
    .select((eb) => [
      'services.asset_id',
      eb.fn.max('services.last_seen').as('last_seen'),
      eb.fn.min('services.first_seen').as('first_seen'),
    ])
    .$if(sort.key === 'severity', (qb) => qb.select((eb) => eb.fn.max('services.active_severity').as('sev')))
    .groupBy('services.asset_id');
  let q = db
    .selectFrom(grouped.as('g'))
    .innerJoin('assets', 'assets.id', 'g.asset_id')
    .select([
      'assets.id',
      'assets.ip',
      'assets.hostname',
      'assets.vendor',
      'assets.product',
      'assets.device_type',
      'assets.country',
      'assets.asn',
      'assets.org',
      'assets.honeypot',
      'assets.risk',
    ]);
  switch (sort.key) {
    case 'lastseen':
      q = q.orderBy('g.last_seen', dir);
      break;
    case 'firstseen':
      q = q.orderBy('g.first_seen', dir);
      break;
    case 'severity':
      q = q.orderBy('g.sev', dir);
      break;
    case 'risk':
      q = q.orderBy('assets.risk', dir);
      break;
    default:
      break;
  }
  q = q.orderBy('assets.ip_key', tie).orderBy('assets.ip', tie);
  const rows = limit === 0 ? [] : await q.limit(limit).offset(offset).execute();
  return { kind: 'assets', total, rows: await pageRowsOf(db, pred, rows) };
}

const HOST_COLUMNS = ['assets.id', 'assets.ip', 'assets.hostname', 'assets.vendor', 'assets.product', 'assets.device_type', 'assets.country', 'assets.asn', 'assets.org', 'assets.honeypot', 'assets.risk'] as const;

/** The columns of a host that a row of the hosts page shows. */
type HostRow = {
  id: number;
  ip: string;
  hostname: string | null;
  vendor: string | null;
  product: string | null;
  device_type: string | null;
  country: string | null;
  asn: number | string | null;
  org: string | null;
  honeypot: number | string;
  risk: number | string;
};

/**
 * Hosts of the empty query (every host with a service) are paged by walking the hosts in the
 * order of an index (address, or riskiest first) and keeping those with a service, instead of
 * grouping every service by host and sorting the groups: the walk stops after the page
 * (measured at 1.2 M services: the first page of every host 470 ms grouped, 38 ms walked).
 * Only the empty query: with a condition, SQLite (without statistics) may look each host's
 * services up through the condition's index instead of the host's, once per host walked
 * (seen: `protocol:hl7 firstseen<30d` by host, 82 s), so a query with conditions is grouped.
 * One page of hosts with a matching service, in index order (address, or riskiest first).
 */
function walkedHosts(db: Db, pred: ServicePredicate | null, key: SortKey, dir: 'asc' | 'desc', tie: 'asc' | 'desc', limit: number, offset: number) {
  let q = db
    .selectFrom('assets')
    .select(HOST_COLUMNS)
    .where((eb) => eb.exists(matching(db, pred).select(sql.lit(1).as('one')).where(sql<boolean>`${sql.ref('services.asset_id')} = ${sql.ref('assets.id')}`)));
  if (key === 'risk') q = q.orderBy('assets.risk', dir);
  return q.orderBy('assets.ip_key', tie).orderBy('assets.ip', tie).limit(limit).offset(offset).execute();
}

/** The rows of a hosts page: each host with its matching services' count, ports, highest severity and times. */
async function pageRowsOf(db: Db, pred: ServicePredicate | null, rows: HostRow[]): Promise<SearchAssetRow[]> {
  // The matching services of the page's hosts: their ports, and their severities.
  const ports = new Map<number, number[]>();
  const sev = new Map<number, string[]>();
  const times = new Map<number, { first: string; last: string }>();
  for (const part of chunks(rows.map((r) => Number(r.id)))) {
    const services = await matching(db, pred)
      .select(['services.id', 'services.asset_id', 'services.port', 'services.active_severity', 'services.first_seen', 'services.last_seen'])
      .where('services.asset_id', 'in', part)
      .execute();
    for (const s of services) {
      const list = ports.get(Number(s.asset_id)) ?? [];
      list.push(Number(s.port));
      ports.set(Number(s.asset_id), list);
      // ISO-8601 times of one width: text order is time order.
      const t = times.get(Number(s.asset_id)) ?? { first: s.first_seen, last: s.last_seen };
      if (s.first_seen < t.first) t.first = s.first_seen;
      if (s.last_seen > t.last) t.last = s.last_seen;
      times.set(Number(s.asset_id), t);
    }
    for (const s of services) {
      const v = severityOfRank(s.active_severity);
      if (v === null) continue;
      const list = sev.get(Number(s.asset_id)) ?? [];
      list.push(v);
      sev.set(Number(s.asset_id), list);
    }
  }
  return rows.map((r) => ({
    ip: r.ip,
    hostname: r.hostname,
    vendor: r.vendor,
    product: r.product,
    deviceType: r.device_type,
    ...attribution(r),
    risk: Number(r.risk),
    services: ports.get(Number(r.id))?.length ?? 0,
    ports: (ports.get(Number(r.id)) ?? []).sort((a, b) => a - b),
    maxSeverity: highest(sev.get(Number(r.id)) ?? []),
    firstSeen: times.get(Number(r.id))?.first ?? '',
    lastSeen: times.get(Number(r.id))?.last ?? '',
  }));
}
