/**
 * The reads of the API that are not a plain search or facet: the overview's counts, the trend
 * of open findings, the riskiest hosts, the findings list and the asset page. Each runs over
 * the services a user may see: the user's query with the organisation restriction (scope.ts),
 * compiled by the search language (src/inventory/search), honeypots left out as in a search.
 */
import { type Kysely, sql } from 'kysely';
import { type CheckDef, loadChecks } from '../checks/engine.js';
import { SEVERITIES, type Severity } from '../core/types.js';
import { ipKey } from '../inventory/ip-key.js';
import type { KyselyInventory } from '../inventory/kysely-store.js';
import { assetHistory, assetMetadata } from '../inventory/metadata.js';
import { compileQuery, type ServicePredicate, searchTree } from '../inventory/search/index.js';
import { severityRankSql } from '../inventory/search/to-kysely.js';
import type { FindingRow } from '../inventory/store.js';
import type { InventoryDatabase } from '../inventory/tables.js';
import { recordCounts } from '../report/gather-assets.js';
import type { ReportScope } from '../report/scope.js';
import { orgVisible, scopedQuery } from './scope.js';
import type { Principal } from './types.js';

type Db = Kysely<InventoryDatabase>;

export interface Scope {
  /** The query text as it runs (the user's, with the organisation restriction). */
  query: string;
  predicate: ServicePredicate | null;
  honeypotsExcluded: boolean;
}

/** The services `p` may see among those `query` selects. Throws SearchQueryError for a bad query. */
export async function scopeOf(inv: KyselyInventory, p: Principal | null, query: string, now: number): Promise<Scope> {
  const q = scopedQuery(p, query);
  const tree = await searchTree(inv, q, false);
  return { query: q, predicate: compileQuery(tree.ast, { now, dialect: inv.kind }), honeypotsExcluded: tree.excluded };
}

function services(db: Db, s: Scope) {
  const q = db.selectFrom('services');
  return s.predicate === null ? q : q.where(s.predicate);
}

function serviceIds(db: Db, s: Scope) {
  return services(db, s).select('services.id');
}

export interface SummaryCounts {
  assets: number;
  services: number;
  openFindings: number;
  bySeverity: Record<Severity, number>;
  recordsReachable: number;
  servicesWithRecords: number;
  honeypots: number;
}

export async function summaryCounts(inv: KyselyInventory, p: Principal | null, now: number): Promise<SummaryCounts> {
  const db = inv.db;
  const s = await scopeOf(inv, p, '', now);
  const totals = await services(db, s)
    .select((eb) => [eb.fn.countAll<number | string>().as('services'), eb.fn.count<number | string>('services.asset_id').distinct().as('assets')])
    .executeTakeFirstOrThrow();
  let sevQ = db
    .selectFrom('findings')
    .select(['findings.severity', (eb) => eb.fn.countAll<number | string>().as('n')])
    .where('findings.state', '=', 'open')
    .where('findings.user_state', 'is', null)
    .groupBy('findings.severity');
  if (s.predicate !== null) sevQ = sevQ.where('findings.service_id', 'in', serviceIds(db, s));
  const bySeverity = Object.fromEntries(SEVERITIES.map((x) => [x, 0])) as Record<Severity, number>;
  let openFindings = 0;
  for (const r of await sevQ.execute()) {
    if ((SEVERITIES as readonly string[]).includes(r.severity)) bySeverity[r.severity as Severity] += Number(r.n);
    openFindings += Number(r.n);
  }
  const reportScope: ReportScope = { query: s.query, org: null, predicate: s.predicate, honeypotsExcluded: s.honeypotsExcluded, withHoneypots: s.predicate };
  const records = await recordCounts(db, reportScope);
  // Honeypot hosts in the user's organisations (they are left out of the counts above).
  const withHp = await searchTree(inv, scopedQuery(p, 'honeypot:true'), false);
  const hpPred = compileQuery(withHp.ast, { now, dialect: inv.kind });
  let hpQ = db.selectFrom('services').select((eb) => eb.fn.count<number | string>('services.asset_id').distinct().as('n'));
  if (hpPred !== null) hpQ = hpQ.where(hpPred);
  const honeypots = Number((await hpQ.executeTakeFirstOrThrow()).n);
  return {
    assets: Number(totals.assets),
    services: Number(totals.services),
    openFindings,
    bySeverity,
    recordsReachable: records.stats.total,
    servicesWithRecords: records.stats.services,
    honeypots,
  };
}

const DAY_MS = 86_400_000;

/**
 * Open findings per UTC day over the last `days` days (today included): findings first seen on
 * or before the day and not resolved by its end, among those not triaged by a user now.
 */
export async function trendPoints(inv: KyselyInventory, p: Principal | null, days: number, now: number): Promise<{ date: string; open: number }[]> {
  const db = inv.db;
  const s = await scopeOf(inv, p, '', now);
  const day = (col: 'findings.first_seen' | 'findings.resolved_at') => sql<string>`substr(${sql.ref(col)}, 1, 10)`;
  let opened = db
    .selectFrom('findings')
    .select([day('findings.first_seen').as('d'), (eb) => eb.fn.countAll<number | string>().as('n')])
    .where('findings.user_state', 'is', null)
    .where('findings.state', '!=', 'unverified')
    .groupBy('d');
  let resolved = db
    .selectFrom('findings')
    .select([day('findings.resolved_at').as('d'), (eb) => eb.fn.countAll<number | string>().as('n')])
    .where('findings.user_state', 'is', null)
    .where('findings.state', '=', 'resolved')
    .where('findings.resolved_at', 'is not', null)
    .groupBy('d');
  if (s.predicate !== null) {
    opened = opened.where('findings.service_id', 'in', serviceIds(db, s));
    resolved = resolved.where('findings.service_id', 'in', serviceIds(db, s));
  }
  const start = new Date(Math.floor(now / DAY_MS) * DAY_MS - (days - 1) * DAY_MS);
  const dates: string[] = [];
  for (let i = 0; i < days; i++) dates.push(new Date(start.getTime() + i * DAY_MS).toISOString().slice(0, 10));
  const cumulative = (rows: { d: string | null; n: number | string }[]) => {
    const sorted = rows.filter((r) => r.d !== null).sort((a, b) => (a.d! < b.d! ? -1 : 1));
    const out = new Map<string, number>();
    let i = 0;
    let sum = 0;
    for (const d of dates) {
      while (i < sorted.length && sorted[i]!.d! <= d) sum += Number(sorted[i++]!.n);
      out.set(d, sum);
    }
    return out;
  };
  const o = cumulative(await opened.execute());
  const r = cumulative(await resolved.execute());
  return dates.map((date) => ({ date, open: Math.max(0, (o.get(date) ?? 0) - (r.get(date) ?? 0)) }));
}

export interface TopAsset {
  ip: string;
  risk: number;
  product: string | null;
  vendor: string | null;
  deviceType: string | null;
  org: string | null;
  country: string | null;
  openFindings: number;
  maxSeverity: Severity | null;
}

export async function topAssets(inv: KyselyInventory, p: Principal | null, limit: number, now: number): Promise<TopAsset[]> {
  const res = await inv.search(scopedQuery(p, ''), { assets: true, sort: '-risk', limit, total: false, now });
  if (res.kind !== 'assets' || res.rows.length === 0) return [];
  // Two steps, each through its index: the hosts' services by address, then their open findings
  // by service. One join let SQLite (no statistics) read every open finding first (1.8 s at 1.2 M).
  const ipOf = new Map<number, string>();
  for (const sv of await inv.db.selectFrom('services').select(['services.id', 'services.ip']).where('services.ip', 'in', res.rows.map((r) => r.ip)).execute()) {
    ipOf.set(Number(sv.id), sv.ip);
  }
  const counts = new Map<string, number>();
  if (ipOf.size > 0) {
    const rows = await inv.db
      .selectFrom('findings')
      .select(['findings.service_id', (eb) => eb.fn.countAll<number | string>().as('n')])
      .where('findings.service_id', 'in', [...ipOf.keys()])
      .where('findings.state', '=', 'open')
      .where('findings.user_state', 'is', null)
      .groupBy('findings.service_id')
      .execute();
    for (const r of rows) {
      const ip = ipOf.get(Number(r.service_id))!;
      counts.set(ip, (counts.get(ip) ?? 0) + Number(r.n));
    }
  }
  return res.rows.map((r) => ({
    ip: r.ip,
    risk: r.risk,
    product: r.product,
    vendor: r.vendor,
    deviceType: r.deviceType,
    org: r.org,
    country: r.country,
    openFindings: counts.get(r.ip) ?? 0,
    maxSeverity: r.maxSeverity,
  }));
}

/** `state` of the findings list: the search language's finding states, or any. */
export const FINDING_FILTER_STATES = ['any', 'open', 'resolved', 'unverified', 'accepted-risk', 'false-positive', 'fixed'] as const;
export type FindingFilterState = (typeof FINDING_FILTER_STATES)[number];

export interface FindingFilter {
  state: FindingFilterState;
  severities: Severity[] | null;
  checkId: string | null;
  limit: number;
  offset: number;
}

type FindingSelect = {
  id: number;
  check_id: string;
  severity: string;
  title: string;
  confidence: string;
  evidence: string | null;
  state: string;
  user_state: string | null;
  first_seen: string;
  last_seen: string;
  resolved_at: string | null;
  ip: string;
  port: number;
};

function parseJson<T>(text: string | null, fallback: T): T {
  if (text === null) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

export function findingOut(r: FindingSelect): FindingRow {
  return {
    id: Number(r.id),
    ip: r.ip,
    port: Number(r.port),
    checkId: r.check_id,
    severity: r.severity as Severity,
    title: r.title,
    confidence: r.confidence,
    evidence: parseJson<Record<string, unknown> | null>(r.evidence, null),
    state: r.state as FindingRow['state'],
    userState: r.user_state,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    resolvedAt: r.resolved_at,
  };
}

export async function listFindings(inv: KyselyInventory, s: Scope, f: FindingFilter): Promise<{ total: number; rows: FindingRow[] }> {
  const db = inv.db;
  let q = db.selectFrom('findings').innerJoin('services', 'services.id', 'findings.service_id');
  if (s.predicate !== null) q = q.where('findings.service_id', 'in', serviceIds(db, s));
  switch (f.state) {
    case 'any':
      break;
    case 'open':
      q = q.where('findings.state', '=', 'open').where('findings.user_state', 'is', null);
      break;
    case 'resolved':
    case 'unverified':
      q = q.where('findings.state', '=', f.state);
      break;
    default:
      q = q.where('findings.user_state', '=', f.state);
  }
  if (f.severities !== null) q = q.where('findings.severity', 'in', f.severities);
  if (f.checkId !== null) q = q.where('findings.check_id', '=', f.checkId);
  const total = Number((await q.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow()).n);
  const rows = await q
    .select(FINDING_COLUMNS)
    .orderBy(severityRankSql(sql.ref('findings.severity')), 'desc')
    .orderBy('services.ip_key')
    .orderBy('services.port')
    .orderBy('findings.check_id')
    .orderBy('findings.id')
    .limit(f.limit)
    .offset(f.offset)
    .execute();
  return { total, rows: rows.map(findingOut) };
}

/** The columns a finding answer (findingOut) is made of. */
const FINDING_COLUMNS = [
      'findings.id',
      'findings.check_id',
      'findings.severity',
      'findings.title',
      'findings.confidence',
      'findings.evidence',
      'findings.state',
      'findings.user_state',
      'findings.first_seen',
      'findings.last_seen',
      'findings.resolved_at',
      'services.ip',
      'services.port',
] as const;

/** The finding with its host's organisation (for the scope check), or undefined. */
export async function findingWithOrg(db: Db, id: number): Promise<{ finding: FindingRow; org: string | null } | undefined> {
  const r = await db
    .selectFrom('findings')
    .innerJoin('services', 'services.id', 'findings.service_id')
    .innerJoin('assets', 'assets.id', 'services.asset_id')
    .select([...FINDING_COLUMNS, 'assets.org'])
    .where('findings.id', '=', id)
    .executeTakeFirst();
  return r === undefined ? undefined : { finding: findingOut(r), org: r.org };
}

let catalogue: Map<string, CheckDef> | null = null;

/** The shipped checks by id (description, remediation, references for the asset page). */
function checksById(): Map<string, CheckDef> {
  if (catalogue === null) {
    try {
      catalogue = new Map(loadChecks().map((c) => [c.id, c]));
    } catch {
      catalogue = new Map();
    }
  }
  return catalogue;
}

/** History entries on the asset page. */
export const ASSET_HISTORY_LIMIT = 100;

/** The asset page, or null when there is no such host or `p` may not see it. */
export async function assetPage(inv: KyselyInventory, p: Principal | null, ip: string) {
  const db = inv.db;
  const row = await db
    .selectFrom('assets')
    .select(['id', 'country', 'asn', 'as_org', 'org', 'honeypot', 'risk'])
    .where('ip_key', '=', ipKey(ip))
    .executeTakeFirst();
  if (row === undefined || !orgVisible(p, row.org)) return null;
  const base = await inv.getAsset(ip);
  if (base === null) return null;
  const ids = base.services.map((s) => s.id);
  const observations = new Map<number, { runId: string; observedAt: string; status: string; protocol: string | null; data: unknown }>();
  if (ids.length > 0) {
    const latest = db.selectFrom('observations').select((eb) => eb.fn.max('observations.id').as('id')).where('observations.service_id', 'in', ids).groupBy('observations.service_id');
    for (const o of await db.selectFrom('observations').selectAll().where('observations.id', 'in', latest).execute()) {
      observations.set(Number(o.service_id), { runId: o.run_id, observedAt: o.observed_at, status: o.status, protocol: o.protocol, data: parseJson<unknown>(o.data, null) });
    }
  }
  const risks = new Map<number, number>();
  if (ids.length > 0) for (const r of await db.selectFrom('services').select(['id', 'risk']).where('id', 'in', ids).execute()) risks.set(Number(r.id), Number(r.risk));
  const checks = checksById();
  return {
    asset: {
      ...base.asset,
      country: row.country,
      asn: row.asn === null ? null : Number(row.asn),
      asOrg: row.as_org,
      org: row.org,
      honeypot: Number(row.honeypot) === 1,
      risk: Number(row.risk),
    },
    services: base.services.map((s) => ({ ...s, risk: risks.get(s.id) ?? 0, observation: observations.get(s.id) ?? null })),
    findings: base.findings.map((f) => {
      const c = checks.get(f.checkId);
      return c === undefined ? f : { ...f, description: c.info.description, remediation: c.info.remediation, references: c.info.references };
    }),
    history: await assetHistory(db, Number(row.id), ASSET_HISTORY_LIMIT),
    metadata: await assetMetadata(db, Number(row.id)),
  };
}
