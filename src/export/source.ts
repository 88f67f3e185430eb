/**
 * Reads what an export contains from the inventory, a page at a time: the services that match a
 * search-language query (src/inventory/search/, the same language and honeypot default as
 * `medsurface search`), in address order, each with its host's attribution and tags and its
 * findings whose observed state is `open` (triaged ones too: their user state is exported).
 *
 * Paging is by key, not by offset: each page starts after the last (ip_key, port, id) of the one
 * before, the order of the services_ip_key_port_idx index, so every page costs the same however
 * deep into a million-service inventory it is, and memory holds one page. Read-only: nothing is
 * written to the inventory. Findings are read by service id alone and filtered here, as
 * run-search.ts does (a state condition in SQL tempts the planner into the state index).
 */
import type { Kysely } from 'kysely';
import { SEVERITIES, type Severity, severityRank } from '../core/types.js';
import { compileQuery, type SearchTarget, type ServicePredicate, searchTree } from '../inventory/search/index.js';
import type { InventoryDatabase } from '../inventory/tables.js';
import { compareText } from './rows.js';
import type { EvidenceValue, ExportFinding, ExportItem } from './types.js';

type Db = Kysely<InventoryDatabase>;

/** Services per page (also the length of the IN lists that fetch their rows). */
export const EXPORT_PAGE_SIZE = 500;

export interface ExportSelection {
  /** The compiled query, null for every service. */
  predicate: ServicePredicate | null;
  /** Honeypot hosts are left out (no `honeypot:` term in the query and not included). */
  honeypotsExcluded: boolean;
}

/**
 * Parses and compiles `query` (throws SearchQueryError, a UsageError, for a bad one) before
 * anything is written; searchTree reads only whether the inventory has any honeypot host.
 */
export async function selectServices(target: SearchTarget, query: string, includeHoneypots: boolean, now: number): Promise<ExportSelection> {
  const tree = await searchTree(target, query, includeHoneypots);
  return { predicate: compileQuery(tree.ast, { now, dialect: target.kind }), honeypotsExcluded: tree.excluded };
}

interface Cursor {
  ipKey: string;
  port: number;
  id: number;
}

async function pageIds(db: Db, sel: ExportSelection, after: Cursor | null, size: number): Promise<Cursor[]> {
  let q = db.selectFrom('services').select(['services.id', 'services.ip_key', 'services.port']);
  if (sel.predicate !== null) q = q.where(sel.predicate);
  if (after !== null) {
    const { ipKey, port, id } = after;
    q = q.where((eb) => eb(eb.refTuple('services.ip_key', 'services.port', 'services.id'), '>', eb.tuple(ipKey, port, id)));
  }
  const rows = await q.orderBy('services.ip_key').orderBy('services.port').orderBy('services.id').limit(size).execute();
  return rows.map((r) => ({ ipKey: r.ip_key, port: Number(r.port), id: Number(r.id) }));
}

function serviceRows(db: Db, ids: number[]) {
  return db
    .selectFrom('services')
    .innerJoin('assets', 'assets.id', 'services.asset_id')
    .select([
      'services.id',
      'services.asset_id',
      'services.ip',
      'services.port',
      'services.protocol',
      'services.status',
      'services.product',
      'services.vendor',
      'services.version',
      'services.cpe',
      'services.device_type',
      'services.tls',
      'services.risk',
      'services.first_seen',
      'services.last_seen',
      'assets.hostname',
      'assets.vendor as asset_vendor',
      'assets.product as asset_product',
      'assets.device_type as asset_device_type',
      'assets.country',
      'assets.asn',
      'assets.org',
    ])
    .where('services.id', 'in', ids)
    .execute();
}

/** Stored evidence (JSON text) as an object of scalars; anything else is dropped, never passed on raw. */
export function parseEvidence(text: string | null): Record<string, EvidenceValue> | null {
  if (text === null) return null;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
  const out: Record<string, EvidenceValue> = {};
  for (const [k, x] of Object.entries(v)) {
    if (x === null || typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean') out[k] = x;
  }
  return out;
}

function asSeverity(s: string): Severity {
  return (SEVERITIES as readonly string[]).includes(s) ? (s as Severity) : 'info';
}

/** Most severe first, then by id: the order findings of one service are exported in. */
export function compareFindings(a: ExportFinding, b: ExportFinding): number {
  return severityRank(b.severity) - severityRank(a.severity) || compareText(a.findingId, b.findingId);
}

async function fillPage(db: Db, ids: number[]): Promise<ExportItem[]> {
  const rows = await serviceRows(db, ids);
  const byId = new Map(rows.map((r) => [Number(r.id), r]));
  const assetIds = [...new Set(rows.map((r) => Number(r.asset_id)))];

  const tags = new Map<number, string[]>();
  if (assetIds.length > 0) {
    const tagRows = await db.selectFrom('asset_tags').select(['asset_id', 'tag']).where('asset_id', 'in', assetIds).execute();
    for (const t of tagRows) {
      const list = tags.get(Number(t.asset_id)) ?? [];
      list.push(t.tag);
      tags.set(Number(t.asset_id), list);
    }
    // Sorted here, by code unit: PostgreSQL's ORDER BY follows the database's collation.
    for (const list of tags.values()) list.sort(compareText);
  }

  const findings = new Map<number, ExportFinding[]>();
  const findingRows = await db
    .selectFrom('findings')
    .select([
      'service_id',
      'check_id',
      'severity',
      'title',
      'confidence',
      'evidence',
      'state',
      'user_state',
      'first_seen',
      'last_seen',
    ])
    .where('service_id', 'in', ids)
    .execute();
  for (const f of findingRows) {
    if (f.state !== 'open') continue;
    const list = findings.get(Number(f.service_id)) ?? [];
    list.push({
      findingId: f.check_id,
      severity: asSeverity(f.severity),
      title: f.title,
      confidence: f.confidence,
      state: f.state,
      userState: f.user_state,
      firstSeen: f.first_seen,
      lastSeen: f.last_seen,
      evidence: parseEvidence(f.evidence),
    });
    findings.set(Number(f.service_id), list);
  }

  const out: ExportItem[] = [];
  for (const id of ids) {
    const r = byId.get(id);
    // Deleted between the two reads (a concurrent prune): nothing to export.
    if (r === undefined) continue;
    out.push({
      service: {
        ip: r.ip,
        port: Number(r.port),
        protocol: r.protocol,
        hostname: r.hostname,
        status: r.status,
        product: r.product ?? r.asset_product,
        vendor: r.vendor ?? r.asset_vendor,
        version: r.version,
        cpe: r.cpe,
        deviceType: r.asset_device_type ?? r.device_type,
        tls: r.tls !== null,
        country: r.country,
        asn: r.asn === null ? null : Number(r.asn),
        org: r.org,
        tags: tags.get(Number(r.asset_id)) ?? [],
        risk: Number(r.risk),
        firstSeen: r.first_seen,
        lastSeen: r.last_seen,
      },
      findings: (findings.get(id) ?? []).sort(compareFindings),
    });
  }
  return out;
}

/** The selected services with their open findings, one page at a time, in (address, port) order. */
export async function* readExportItems(target: SearchTarget, sel: ExportSelection, pageSize = EXPORT_PAGE_SIZE): AsyncGenerator<ExportItem[]> {
  let after: Cursor | null = null;
  for (;;) {
    const page = await pageIds(target.db, sel, after, pageSize);
    if (page.length === 0) return;
    after = page[page.length - 1]!;
    yield await fillPage(
      target.db,
      page.map((c) => c.id),
    );
    if (page.length < pageSize) return;
  }
}
