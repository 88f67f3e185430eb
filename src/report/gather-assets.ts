/**
 * The per-asset part of a report: hosts in scope, riskiest first, each with its services in
 * scope (identity, TLS, risk, reachable record count) and their findings in every state, with
 * the evidence the checks copied and the remediation of the check. Also the record counts of
 * the services: read from each service's latest observation, reduced to numbers at once
 * (src/risk/score.ts reachableRecords); the observation itself is never kept.
 */
import { type Kysely, sql } from 'kysely';
import type { CheckDef } from '../checks/engine.js';
import { SEVERITIES, type Severity } from '../core/types.js';
import { COUNT_PATTERNS } from '../inventory/migrations/0009-covering-indexes.js';
import type { InventoryDatabase } from '../inventory/tables.js';
import { reachableRecords } from '../risk/score.js';
import { remediationFor } from './methodology.js';
import { type ReportScope, scopedAssetIds, scopedServices } from './scope.js';
import { clean } from './text.js';
import type { AssetDetail, EvidenceItem, FindingDetail, RecordStats, ServiceDetail } from './types.js';

type Db = Kysely<InventoryDatabase>;

/** Ids per IN (...) list. */
const CHUNK = 500;
/** Evidence entries shown per finding. */
const EVIDENCE_ITEMS = 24;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

function get(o: unknown, ...keys: string[]): unknown {
  let cur = o;
  for (const k of keys) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

function count(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0;
}

export interface RecordCounts {
  /** Per service id, its reachable record count (only services above zero). */
  byService: Map<number, number>;
  stats: RecordStats;
}

/**
 * Record counts of the services in scope, from their latest observations. Only observations that
 * can hold a count are read: the LIKE on the stored JSON, with the literal patterns of the
 * partial index observations_counts_idx (migrations/0009), selects them from that index, and
 * each is kept when it is its service's latest and in scope.
 */
export async function recordCounts(db: Db, scope: ReportScope): Promise<RecordCounts> {
  const rows = await db
    .selectFrom('observations as o')
    .select(['o.service_id', 'o.data'])
    .where((eb) => eb.or(COUNT_PATTERNS.map((p) => eb('o.data', 'like', sql.lit(p)))))
    .where((eb) =>
      eb(
        'o.id',
        '=',
        eb.selectFrom('observations as latest').select((l) => l.fn.max('latest.id').as('id')).whereRef('latest.service_id', '=', 'o.service_id'),
      ),
    )
    // EXISTS, not IN: the few candidate observations drive the plan, each checked against the scope.
    .where((eb) => eb.exists(scopedServices(db, scope).select(sql.lit(1).as('one')).where(sql<boolean>`${sql.ref('services.id')} = ${sql.ref('o.service_id')}`)))
    .execute();
  const byService = new Map<number, number>();
  const sources = {
    dicom: { services: 0, records: 0 },
    dicomweb: { services: 0, records: 0 },
    fhir: { services: 0, records: 0 },
  };
  for (const r of rows) {
    const data = parseJson(r.data);
    if (data === null || typeof data !== 'object' || Array.isArray(data)) continue;
    const total = reachableRecords(data as Record<string, unknown>);
    const dicom = Math.max(get(data, 'dicom', 'find', 'kind') === 'count' ? count(get(data, 'dicom', 'find', 'matches')) : 0, count(get(data, 'dicom', 'patientFind', 'matches')));
    const per = { dicom, dicomweb: count(get(data, 'dicomweb', 'count', 'matches')), fhir: count(get(data, 'fhir', 'patientCount')) };
    for (const k of ['dicom', 'dicomweb', 'fhir'] as const) {
      if (per[k] > 0) {
        sources[k].services++;
        sources[k].records += per[k];
      }
    }
    if (total > 0) byService.set(Number(r.service_id), total);
  }
  let total = 0;
  for (const n of byService.values()) total += n;
  return {
    byService,
    stats: {
      total,
      services: byService.size,
      bySource: (['dicom', 'dicomweb', 'fhir'] as const).map((source) => ({ source, ...sources[source] })),
    },
  };
}

function severityOf(s: string): Severity {
  return (SEVERITIES as readonly string[]).includes(s) ? (s as Severity) : 'info';
}

function highest(list: Iterable<Severity>): Severity | null {
  let best = -1;
  for (const s of list) best = Math.max(best, SEVERITIES.indexOf(s));
  return best < 0 ? null : (SEVERITIES[best] ?? null);
}

function evidenceOf(text: string | null): EvidenceItem[] {
  const v = parseJson(text);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return [];
  return Object.entries(v as Record<string, unknown>)
    .slice(0, EVIDENCE_ITEMS)
    .map(([key, value]) => ({
      key: clean(key, 80),
      // Evidence holds scalars (checks/engine.ts evidenceValue); anything else is not shown.
      value: value === null ? 'null' : typeof value === 'object' ? '(not shown)' : clean(value),
    }));
}

function tlsOf(text: string | null): ServiceDetail['tls'] {
  const v = parseJson(text);
  if (v === null || typeof v !== 'object') return null;
  const str = (x: unknown): string | null => (typeof x === 'string' && x !== '' ? clean(x, 80) : null);
  const selfSigned = get(v, 'certificate', 'selfSigned');
  return {
    version: str(get(v, 'version')),
    cipher: str(get(v, 'cipher')),
    selfSigned: typeof selfSigned === 'boolean' ? selfSigned : null,
    validTo: str(get(v, 'certificate', 'validTo')),
  };
}

const STATE_ORDER: Record<string, number> = { open: 0, unverified: 1, resolved: 2 };

/** Open findings first, then by severity (highest first), then by check id. */
function findingOrder(a: FindingDetail, b: FindingDetail): number {
  return (
    (STATE_ORDER[a.state] ?? 3) - (STATE_ORDER[b.state] ?? 3) ||
    SEVERITIES.indexOf(b.severity) - SEVERITIES.indexOf(a.severity) ||
    a.checkId.localeCompare(b.checkId)
  );
}

/** A finding counts in the headline numbers when observed open and not triaged. */
export function isActive(f: Pick<FindingDetail, 'state' | 'userState'>): boolean {
  return f.state === 'open' && f.userState === null;
}

/** The hosts in scope, riskiest first, the first `limit` with their detail; and how many there are. */
export async function assetDetails(
  db: Db,
  scope: ReportScope,
  limit: number,
  checks: ReadonlyMap<string, CheckDef>,
  records: ReadonlyMap<number, number>,
): Promise<{ assets: AssetDetail[]; total: number }> {
  const totalRow = await db
    .selectFrom('assets')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('assets.id', 'in', scopedAssetIds(db, scope))
    .executeTakeFirstOrThrow();
  const rows = await db
    .selectFrom('assets')
    .selectAll()
    .where('assets.id', 'in', scopedAssetIds(db, scope))
    .orderBy('assets.risk', 'desc')
    .orderBy('assets.ip_key', 'asc')
    .orderBy('assets.ip', 'asc')
    .limit(limit)
    .execute();
  const ids = rows.map((r) => Number(r.id));
  const services = new Map<number, ServiceDetail[]>();
  const serviceAsset = new Map<number, ServiceDetail>();
  const tags = new Map<number, string[]>();
  for (const part of chunks(ids)) {
    const svcRows = await scopedServices(db, scope)
      .selectAll('services')
      .where('services.asset_id', 'in', part)
      .orderBy('services.port', 'asc')
      .execute();
    for (const s of svcRows) {
      const detail: ServiceDetail = {
        port: Number(s.port),
        protocol: s.protocol,
        status: s.status,
        product: s.product,
        vendor: s.vendor,
        version: s.version,
        cpe: s.cpe,
        deviceType: s.device_type,
        tls: tlsOf(s.tls),
        risk: Number(s.risk),
        records: records.get(Number(s.id)) ?? 0,
        firstSeen: s.first_seen,
        lastSeen: s.last_seen,
        findings: [],
      };
      const list = services.get(Number(s.asset_id)) ?? [];
      list.push(detail);
      services.set(Number(s.asset_id), list);
      serviceAsset.set(Number(s.id), detail);
    }
    for (const t of await db.selectFrom('asset_tags').select(['asset_id', 'tag']).where('asset_id', 'in', part).orderBy('tag').execute()) {
      const list = tags.get(Number(t.asset_id)) ?? [];
      list.push(t.tag);
      tags.set(Number(t.asset_id), list);
    }
  }
  for (const part of chunks([...serviceAsset.keys()])) {
    for (const f of await db.selectFrom('findings').selectAll().where('service_id', 'in', part).orderBy('id').execute()) {
      const svc = serviceAsset.get(Number(f.service_id));
      if (!svc) continue;
      svc.findings.push({
        id: Number(f.id),
        checkId: f.check_id,
        severity: severityOf(f.severity),
        title: f.title,
        confidence: f.confidence,
        state: f.state,
        userState: f.user_state,
        evidence: evidenceOf(f.evidence),
        remediation: remediationFor(f.check_id, checks),
        firstSeen: f.first_seen,
        lastSeen: f.last_seen,
        resolvedAt: f.resolved_at,
      });
    }
  }
  const assets = rows.map((r): AssetDetail => {
    const svcs = services.get(Number(r.id)) ?? [];
    for (const s of svcs) s.findings.sort(findingOrder);
    const active = svcs.flatMap((s) => s.findings.filter(isActive));
    return {
      ip: r.ip,
      hostname: r.hostname,
      vendor: r.vendor,
      product: r.product,
      deviceType: r.device_type,
      country: r.country,
      org: r.org,
      asn: r.asn === null ? null : Number(r.asn),
      owner: r.owner,
      criticality: r.criticality,
      risk: Number(r.risk),
      honeypot: Number(r.honeypot) === 1,
      tags: tags.get(Number(r.id)) ?? [],
      firstSeen: r.first_seen,
      lastSeen: r.last_seen,
      services: svcs.length,
      openFindings: active.length,
      maxSeverity: highest(active.map((f) => f.severity)),
      serviceDetails: svcs,
    };
  });
  return { assets, total: Number(totalRow.n) };
}
