/**
 * Reads everything a report shows from the inventory, once, into a ReportData: read-only
 * queries on the inventory's Kysely instance (the same on SQLite and PostgreSQL), every count
 * taken over the scope's subquery (scope.ts). The renderers (html.ts, markdown.ts, pdf.ts) only
 * format what this returns.
 *
 * Counting rules, said once here and in the methodology section:
 * - an exposed system is a host with at least one service in scope; honeypot hosts are left out
 *   unless included;
 * - a finding counts when observed open and not triaged by a user (the inventory summary's
 *   definition); the per-asset detail lists the others too, with their state;
 * - records reachable: per service, the largest record count its latest observation holds
 *   (count-only queries of the intrusive profile), summed over the services.
 */
import type { Kysely } from 'kysely';
import { CHECKS_DB_VERSION, type CheckDef, loadChecks } from '../checks/engine.js';
import { SEVERITIES, type Severity } from '../core/types.js';
import { VERSION } from '../core/version.js';
import type { KyselyInventory } from '../inventory/kysely-store.js';
import { UNLISTED_FINDING } from '../inventory/kysely-store.js';
import type { InventoryDatabase } from '../inventory/tables.js';
import { ReportOptionError } from './errors.js';
import { assetDetails, recordCounts } from './gather-assets.js';
import { coveredRuns, remediationOverTime, trendOf } from './gather-history.js';
import { isCveId, probeSummaries } from './methodology.js';
import { makeScope, type ReportScope, scopedAssetIds, scopedServiceIds, scopedServices } from './scope.js';
import { clean } from './text.js';
import { identity } from './wording.js';
import { DEFAULT_TLP, tlpMarking } from './tlp.js';
import { type Bucket, type CheckEntry, REPORT_LIMITS, type ReportData, type ReportOptions, type ReportStats, type ReportSummary, type TlsStats } from './types.js';

type Db = Kysely<InventoryDatabase>;

export const DEFAULT_TITLE = 'Exposure assessment of healthcare systems';

/** Counts sorted (largest first, then by key), the tail beyond `max` summed as "other". */
export function topBuckets(rows: Bucket[], max: number = REPORT_LIMITS.buckets): Bucket[] {
  const merged = new Map<string, number>();
  for (const r of rows) merged.set(r.key, (merged.get(r.key) ?? 0) + r.count);
  const sorted = [...merged].map(([key, count]) => ({ key, count })).sort((a, b) => b.count - a.count || a.key.localeCompare(b.key));
  if (sorted.length <= max) return sorted;
  const head = sorted.slice(0, max - 1);
  const rest = sorted.slice(max - 1).reduce((n, b) => n + b.count, 0);
  return [...head, { key: 'other', count: rest }];
}

async function summaryOf(db: Db, scope: ReportScope): Promise<Omit<ReportSummary, 'recordsReachable' | 'servicesWithRecords'>> {
  const totals = await scopedServices(db, scope)
    .select((eb) => [eb.fn.countAll<number | string>().as('services'), eb.fn.count<number | string>('services.asset_id').distinct().as('assets')])
    .executeTakeFirstOrThrow();
  const sev = await db
    .selectFrom('findings')
    .select(['findings.severity', (eb) => eb.fn.countAll<number | string>().as('n')])
    .where('findings.service_id', 'in', scopedServiceIds(db, scope))
    .where('findings.state', '=', 'open')
    .where('findings.user_state', 'is', null)
    .groupBy('findings.severity')
    .execute();
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  let openFindings = 0;
  for (const r of sev) {
    if ((SEVERITIES as readonly string[]).includes(r.severity)) bySeverity[r.severity as Severity] += Number(r.n);
    openFindings += Number(r.n);
  }
  let honeypotAssetsExcluded = 0;
  if (scope.honeypotsExcluded) {
    const hp = await db
      .selectFrom('assets')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('assets.honeypot', '=', 1)
      .where('assets.id', 'in', scopedServices(db, scope, true).select('services.asset_id'))
      .executeTakeFirstOrThrow();
    honeypotAssetsExcluded = Number(hp.n);
  }
  return { assets: Number(totals.assets), services: Number(totals.services), openFindings, bySeverity, honeypotAssetsExcluded };
}

async function statsOf(db: Db, scope: ReportScope, records: ReportStats['records']): Promise<ReportStats> {
  const assets = () =>
    db
      .selectFrom('assets')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('assets.id', 'in', scopedAssetIds(db, scope));
  const byCountry = (await assets().select('assets.country').groupBy('assets.country').execute()).map((r) => ({
    key: r.country === null ? 'unknown' : clean(r.country, 8).toUpperCase(),
    count: Number(r.n),
  }));
  const byDeviceType = (await assets().select('assets.device_type').groupBy('assets.device_type').execute()).map((r) => ({
    key: r.device_type ?? 'unknown',
    count: Number(r.n),
  }));
  const byProduct = (await assets().select(['assets.vendor', 'assets.product']).groupBy(['assets.vendor', 'assets.product']).execute()).map((r) => ({
    key: identity(r.vendor, r.product),
    count: Number(r.n),
  }));
  const protoRows = await scopedServices(db, scope)
    .select((eb) => ['services.protocol', eb.fn.countAll<number | string>().as('n'), eb.fn.count<number | string>('services.tls').as('tls')])
    .groupBy('services.protocol')
    .execute();
  const tls: TlsStats = {
    services: protoRows.reduce((s, r) => s + Number(r.n), 0),
    withTls: protoRows.reduce((s, r) => s + Number(r.tls), 0),
    byProtocol: protoRows
      .map((r) => ({ protocol: r.protocol ?? 'unidentified', services: Number(r.n), withTls: Number(r.tls) }))
      .sort((a, b) => b.services - a.services || a.protocol.localeCompare(b.protocol)),
  };
  const dicom = await scopedServices(db, scope)
    .select((eb) => [
      eb.fn.countAll<number | string>().as('n'),
      eb.fn
        .count<number | string>('services.id')
        .filterWhere(
          'services.id',
          'in',
          db
            .selectFrom('findings')
            .select('findings.service_id')
            .where('findings.check_id', '=', 'dicom-any-ae')
            .where('findings.state', '=', 'open')
            .where('findings.user_state', 'is', null),
        )
        .as('anyAe'),
    ])
    .where('services.protocol', '=', 'dicom')
    .executeTakeFirstOrThrow();
  return {
    byCountry: topBuckets(byCountry),
    byDeviceType: topBuckets(byDeviceType),
    byProduct: topBuckets(byProduct),
    tls,
    dicomAnyAe: { dicomServices: Number(dicom.n), anyAe: Number(dicom.anyAe) },
    records,
  };
}

async function checkEntries(db: Db, scope: ReportScope, checks: CheckDef[]): Promise<CheckEntry[]> {
  const rows = await db
    .selectFrom('findings')
    .select(['findings.check_id', 'findings.severity', (eb) => eb.fn.max('findings.title').as('title')])
    .select((eb) => eb.fn.countAll<number | string>().filterWhere('findings.state', '=', 'open').filterWhere('findings.user_state', 'is', null).as('open'))
    .where('findings.service_id', 'in', scopedServiceIds(db, scope))
    .groupBy(['findings.check_id', 'findings.severity'])
    .execute();
  // One entry per id: open counts summed over severities (a CVE re-scored, an escalated check), the highest severity kept.
  const seen = new Map<string, { severity: Severity; title: string; open: number }>();
  for (const r of rows) {
    const severity = (SEVERITIES as readonly string[]).includes(r.severity) ? (r.severity as Severity) : 'info';
    const prev = seen.get(r.check_id);
    const open = Number(r.open) + (prev?.open ?? 0);
    const higher = prev === undefined || SEVERITIES.indexOf(severity) > SEVERITIES.indexOf(prev.severity);
    seen.set(r.check_id, { severity: higher ? severity : prev.severity, title: higher ? String(r.title ?? '') : prev.title, open });
  }
  const entries: CheckEntry[] = checks.map((c) => ({
    id: c.id,
    severity: c.info.severity,
    title: c.info.name,
    description: c.info.description,
    open: seen.get(c.id)?.open ?? 0,
    kind: 'check',
  }));
  const known = new Set(checks.map((c) => c.id));
  const extra = [...seen].filter(([id]) => !known.has(id)).sort(([a], [b]) => a.localeCompare(b));
  for (const [id, r] of extra) {
    const cve = isCveId(id);
    const unlisted = id === UNLISTED_FINDING.id;
    entries.push({
      id,
      severity: r.severity,
      title: clean(r.title),
      description: cve
        ? 'A published vulnerability of the product version the service announced (offline vulnerability database: curated set, NVD, CISA KEV, CSAF).'
        : unlisted
          ? 'Raised by the inventory once a known-asset list was imported: an exposed device that nobody listed.'
          : 'A finding id that the check database of this report does not define (an older or a user check database).',
      open: r.open,
      kind: cve ? 'cve' : unlisted ? 'inventory' : 'check',
    });
  }
  return entries;
}

/** Gathers the whole report. Bad options (a malformed query, maxAssets out of range) are UsageErrors. */
export async function gatherReport(inv: KyselyInventory, opts: ReportOptions = {}): Promise<ReportData> {
  const db = inv.db;
  const now = opts.now ?? new Date().toISOString();
  const maxAssets = opts.maxAssets ?? REPORT_LIMITS.detailAssets;
  if (!Number.isInteger(maxAssets) || maxAssets < 0 || maxAssets > REPORT_LIMITS.detailAssetsMax) {
    throw new ReportOptionError(`--max-assets must be an integer from 0 to ${REPORT_LIMITS.detailAssetsMax}`);
  }
  const includeHoneypots = opts.includeHoneypots === true;
  const org = opts.org !== undefined && opts.org.trim() !== '' ? opts.org.trim() : null;
  const query = (opts.query ?? '').trim();
  const scope = makeScope(query, org, includeHoneypots, inv.kind, Date.parse(now));
  const checks = loadChecks();
  const checksById = new Map(checks.map((c) => [c.id, c]));

  const summary = await summaryOf(db, scope);
  const records = await recordCounts(db, scope);
  const stats = await statsOf(db, scope, records.stats);
  // The top table needs the first few hosts even when the detail is cut shorter.
  const detail = await assetDetails(db, scope, Math.max(maxAssets, REPORT_LIMITS.topAssets), checksById, records.byService);
  const { runs, omitted } = await coveredRuns(db, scope);
  const remediation = await remediationOverTime(db, scope, runs);
  const trend = await trendOf(db, scope, { ...(opts.since !== undefined ? { since: opts.since } : {}), includeHoneypots });
  const tlp = opts.tlp ?? DEFAULT_TLP;
  const title = clean(opts.title ?? '', 200) || (org === null ? DEFAULT_TITLE : `${DEFAULT_TITLE}: ${clean(org, 120)}`);

  return {
    meta: {
      title,
      tlp,
      generatedAt: now,
      toolVersion: VERSION,
      checksDbVersion: CHECKS_DB_VERSION,
      inventoryKind: inv.kind,
      query: query === '' ? null : query,
      org,
      includeHoneypots,
    },
    summary: { ...summary, recordsReachable: records.stats.total, servicesWithRecords: records.stats.services },
    trend: trend.trend,
    trendNote: trend.note,
    topAssets: detail.assets.slice(0, REPORT_LIMITS.topAssets).map(({ serviceDetails: _s, tags: _t, asn: _a, owner: _o, criticality: _c, firstSeen: _f, lastSeen: _l, ...brief }) => brief),
    stats,
    remediation,
    assets: detail.assets.slice(0, maxAssets),
    assetsOmitted: Math.max(0, detail.total - maxAssets),
    methodology: {
      runs,
      runsOmitted: omitted,
      profiles: [...new Set(runs.map((r) => r.profile))].sort(),
      probes: probeSummaries(),
    },
    checks: await checkEntries(db, scope, checks),
  };
}

/** The TLP label of a report (`TLP:AMBER`). */
export function tlpLabel(data: ReportData): string {
  return tlpMarking(data.meta.tlp).label;
}
