/**
 * The inventory over Kysely: one set of queries for SQLite (better-sqlite3) and PostgreSQL (pg).
 * Only the dialect setup (db.ts) and the surrogate-key type in the migration know which one runs.
 *
 * Finding states follow DESIGN.md ("A finding is `resolved` only when a later complete scan of
 * that service ran the check that raised it ... and the check did not fire. A host that does not
 * answer makes its findings `unverified`, never resolved; an interrupted run resolves nothing.")
 * The user's triage (`user_state`) sits beside the observed state; a finding that fires again
 * after `fixed` reopens.
 */
import { randomBytes } from 'node:crypto';
import { type Insertable, type Kysely, Migrator, type Selectable, type Transaction } from 'kysely';
import { UsageError } from '../core/errors.js';
import { isOpen } from '../core/status.js';
import { type Profile, type RecordAttribution, type RunState, SEVERITIES, type ServiceRecord, type Severity } from '../core/types.js';
import { CompiledInserts } from './compiled-insert.js';
import { ipKey, ipKeyRange } from './ip-key.js';
import { type ColumnIndex, ColumnIndexCache, type ColumnIndexCacheOptions } from './search/column-index.js';
import { type FacetOptions, type FacetResult, runFacet, runSearch, type SearchOptions, type SearchResult } from './search/index.js';
import { severityRankSql } from './search/to-kysely.js';
import { type DialectKind, MIGRATION_LOCK_TABLE, MIGRATION_TABLE, migrationProvider } from './migrations/index.js';
import {
  type AssetFilter,
  type AssetRow,
  type FindingRow,
  type FindingState,
  type Inventory,
  type InventorySummary,
  type RescoreSummary,
  type RescoredService,
  type RunRecord,
  type ServiceRow,
  type StoredObservation,
  USER_STATES,
  type UserState,
} from './store.js';
import type {
  AssetsTable,
  FindingEventsTable,
  FindingsTable,
  InventoryDatabase,
  ObservationsTable,
  ScanRunsTable,
  ServiceEventsTable,
  ServicesTable,
} from './tables.js';

/** A store-level failure (migration, missing run): not a network status, not the user's input. */
export class InventoryError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InventoryError';
  }
}

/** Rows per IN (...) list and per multi-row insert: well under SQLite's and pg's parameter limits. */
const CHUNK = 500;
/** Longest note kept with a user-state change. */
const NOTE_MAX_CHARS = 2000;
/** Stand-in for "no limit" when only an offset is given (SQLite needs LIMIT before OFFSET). */
const NO_LIMIT = 2_147_483_647;

type Db = Kysely<InventoryDatabase>;

/** The unlisted-device check on one record (see UNLISTED_FINDING): run always, fired when the asset is not listed. */
function withListCheck(rec: ServiceRecord, asset: Selectable<AssetsTable> | undefined): ServiceRecord {
  const checksRun = [...(rec.checksRun ?? []), UNLISTED_FINDING.id];
  const listed = asset !== undefined && Number(asset.listed) === 1;
  return {
    ...rec,
    checksRun,
    findings: listed ? rec.findings : [...rec.findings, { ...UNLISTED_FINDING, evidence: { ...UNLISTED_FINDING.evidence } }],
  };
}

/** Columns a freshly inserted asset row has beyond the ones writeRecord sets (the migrations' defaults). */
const NEW_ASSET_DEFAULTS = {
  country: null,
  asn: null,
  as_org: null,
  org: null,
  org_source: null,
  attributed_at: null,
  owner: null,
  criticality: null,
  notes: null,
  listed: 0,
  honeypot: 0,
  honeypot_evidence: null,
  risk: 0,
} satisfies Partial<Selectable<AssetsTable>>;
const NEW_SERVICE_DEFAULTS = { risk: 0, active_severity: 0 } satisfies Partial<Selectable<ServicesTable>>;

/**
 * What of a service's TLS is history: the protocol version and the certificate's identity
 * (its SHA-256 fingerprint), not the whole handshake record.
 */
function tlsSummary(json: string | null): string | null {
  if (json === null) return null;
  const t = parseJson<{ version?: unknown; certificate?: { sha256?: unknown } | null }>(json, {});
  const id = t.certificate ? `cert-sha256:${String(t.certificate.sha256 ?? 'unknown')}` : 'no-certificate';
  return `${String(t.version ?? 'unknown')} ${id}`;
}

/** Service fields whose changes between runs are history (service_events, `medsurface diff`). */
const TRACKED_SERVICE_FIELDS = ['protocol', 'product', 'vendor', 'version', 'device_type', 'tls'] as const;

interface ServiceEventInput {
  /** `ip|port` of the service: its id is known only once the batch's services are written. */
  serviceKey: string;
  run_id: string | null;
  at: string;
  field: string;
  old_value: string | null;
  new_value: string | null;
}

/** Id of a row the batch will insert (never a real id: those start at 1). */
const UNSAVED = -1;

/** Current rows of the hosts in one recordServices batch, keyed by ip, `ip|port`, `ip|port|checkId`. */
interface BatchCache {
  assets: Map<string, Selectable<AssetsTable>>;
  services: Map<string, Selectable<ServicesTable>>;
  findings: Map<string, Selectable<FindingsTable>>;
}

type FindingValues = Omit<Selectable<FindingsTable>, 'id' | 'service_id'>;

/** What one recordServices batch writes: each row's final state, keyed like BatchCache. */
interface BatchPlan {
  assets: Map<string, Omit<Insertable<AssetsTable>, 'id'> & { ip: string }>;
  services: Map<string, Omit<Insertable<ServicesTable>, 'id' | 'asset_id'> & { ip: string; port: number }>;
  observations: Map<string, Omit<Insertable<ObservationsTable>, 'id' | 'run_id' | 'service_id'>>;
  /** id null: a finding the batch inserts; otherwise the stored finding it updates. */
  findings: Map<string, { serviceKey: string; id: number | null; row: FindingValues }>;
  events: (Omit<EventInput, 'findingId'> & { finding: string })[];
  serviceEvents: ServiceEventInput[];
}

/** Columns an upsert replaces with the new row's values (user-owned ones are never among them). */
const ASSET_UPSERT_COLUMNS = [
  'ip_key', 'hostname', 'first_seen', 'last_seen', 'vendor', 'product', 'device_type', 'evidence', 'last_run_id',
  'risk', 'honeypot', 'honeypot_evidence', 'country', 'asn', 'as_org', 'org', 'org_source', 'attributed_at',
] as const;
const SERVICE_UPSERT_COLUMNS = [
  'asset_id', 'ip_key', 'transport', 'protocol', 'status', 'product', 'vendor', 'version', 'cpe', 'device_type', 'tls',
  'first_seen', 'last_seen', 'last_run_id', 'risk', 'active_severity',
] as const;
const OBSERVATION_UPSERT_COLUMNS = ['observed_at', 'status', 'protocol', 'data', 'checks_run', 'identity'] as const;
const FINDING_UPSERT_COLUMNS = [
  'severity', 'title', 'confidence', 'evidence', 'state', 'user_state', 'last_seen', 'resolved_at', 'last_run_id',
] as const;
/** The columns recordServices' multi-row statements write, in the order they bind them (compiled-insert.ts). */
const ASSET_INSERT_COLUMNS = ['ip', ...ASSET_UPSERT_COLUMNS] as const;
const SERVICE_INSERT_COLUMNS = ['ip', 'port', ...SERVICE_UPSERT_COLUMNS] as const;
const OBSERVATION_INSERT_COLUMNS = ['run_id', 'service_id', ...OBSERVATION_UPSERT_COLUMNS] as const;
const FINDING_INSERT_COLUMNS = ['service_id', 'check_id', 'first_seen', ...FINDING_UPSERT_COLUMNS] as const;
const FINDING_EVENT_COLUMNS = ['finding_id', 'run_id', 'at', 'event', 'detail'] as const;
const SERVICE_EVENT_COLUMNS = ['service_id', 'run_id', 'at', 'field', 'old_value', 'new_value'] as const;
/** Answers kept by KyselyInventory.memo. */
const MEMO_MAX = 64;
/** Rows per multi-row statement: columns x rows stays far below SQLite's 32,766 and pg's 65,535 parameters. */
const ASSET_CHUNK = 400;
const SERVICE_CHUNK = 400;
const FINDING_CHUNK = 600;

/** `SET col = excluded.col` for each column: the conflicting row takes the values of the row we tried to insert. */
function excludedSet<C extends string>(columns: readonly C[]) {
  // biome-ignore lint/suspicious/noExplicitAny: the column names are checked by the callers' readonly lists
  return (eb: any) => Object.fromEntries(columns.map((c) => [c, eb.ref(`excluded.${c}`)]));
}

/** A finding's severity as the rank of services.active_severity (migrations/0008): 1 info ... 5 critical, 0 unknown. */
function severityRank(severity: string): number {
  return SEVERITIES.indexOf(severity as Severity) + 1;
}

/**
 * services.active_severity of each service of a planned batch (keyed `ip|port`), from the
 * batch cache, which holds every finding of those services (prefetch reads them all, the plan
 * adds and updates them).
 */
function activeRanks(findings: BatchCache['findings']): Map<string, number> {
  const out = new Map<string, number>();
  for (const [fkey, f] of findings) {
    if (f.state !== 'open' || f.user_state !== null) continue;
    // `ip|port|check`: the service key ends at the second '|' (a check id may hold any character).
    const skey = fkey.slice(0, fkey.indexOf('|', fkey.indexOf('|') + 1));
    const r = severityRank(f.severity);
    if (r > (out.get(skey) ?? 0)) out.set(skey, r);
  }
  return out;
}

function mustGet<K, V>(map: Map<K, V>, key: K, what: string): V {
  const v = map.get(key);
  if (v === undefined) throw new InventoryError(`internal: no ${what} id for ${String(key)} after the batch write`);
  return v;
}

interface EventInput {
  findingId: number;
  runId: string | null;
  at: string;
  event: 'opened' | 'seen' | 'resolved' | 'unverified' | 'reopened' | 'user-state' | 'changed';
  detail: unknown;
}
type Tx = Transaction<InventoryDatabase> | Db;

export interface KyselyInventoryOptions {
  /** Clock for run, resolution and user-state times (tests pin it). Record times come from the records. */
  now?: () => string;
  /** How long the answer to "was a known-asset list imported?" is reused, ms (default 30 s; tests 0). */
  listedTtlMs?: number;
  /**
   * Keep a column index (search/column-index.ts) for search totals and facet counts: long-lived
   * readers of a large SQLite inventory (`medsurface serve`, the benches) set it. SQLite files
   * only; ignored for PostgreSQL and `:memory:`.
   */
  columnIndex?: boolean | ColumnIndexCacheOptions;
}

/**
 * Once a known-asset list was imported (`medsurface inventory import`), an exposed device nobody
 * listed is itself a finding: the inventory adds it to each service of an unlisted asset, and
 * counts the check as run on listed ones, so it resolves when the device is added to the list.
 */
export const UNLISTED_FINDING = {
  id: 'asset-unlisted',
  severity: 'medium',
  title: 'Exposed device missing from the known-asset list',
  confidence: 'confirmed',
  evidence: { reason: 'the address is not in the imported asset inventory' },
} as const;

function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function parseJson<T>(text: string | null | undefined, fallback: T): T {
  if (text === null || text === undefined) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

function toIso(text: string | undefined, fallback: () => string): string {
  if (text === undefined) return fallback();
  const t = Date.parse(text);
  return Number.isNaN(t) ? fallback() : new Date(t).toISOString();
}

const minIso = (a: string | undefined, b: string): string => (a !== undefined && a < b ? a : b);
const maxIso = (a: string | undefined, b: string): string => (a !== undefined && a > b ? a : b);

/** Severities at or above `min`, for `severity IN (...)` filters. */
function severitiesFrom(min: Severity): Severity[] {
  return SEVERITIES.slice(SEVERITIES.indexOf(min));
}

function maxSeverity(list: Iterable<string>): Severity | null {
  let best = -1;
  for (const s of list) best = Math.max(best, SEVERITIES.indexOf(s as Severity));
  return best < 0 ? null : (SEVERITIES[best] ?? null);
}

/** 'r-' + milliseconds in base 36 (fixed width, so ids sort by creation time) + random suffix. */
export function newRunId(): string {
  return `r-${Date.now().toString(36).padStart(9, '0')}-${randomBytes(4).toString('hex')}`;
}

function runFromRow(r: Selectable<ScanRunsTable>): RunRecord {
  return {
    id: r.id,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    state: r.state as RunState,
    profile: r.profile as Profile,
    targets: parseJson<string[]>(r.targets_spec, []),
    options: parseJson<Record<string, unknown>>(r.options, {}),
    checkpoint: parseJson<unknown>(r.checkpoint, null),
    stats: parseJson<Record<string, unknown>>(r.stats, {}),
    totalTargets: Number(r.total_targets),
    doneTargets: Number(r.done_targets),
  };
}

function serviceFromRow(r: Selectable<ServicesTable>): ServiceRow {
  return {
    id: Number(r.id),
    ip: r.ip,
    port: Number(r.port),
    protocol: r.protocol,
    status: r.status,
    product: r.product,
    vendor: r.vendor,
    version: r.version,
    cpe: r.cpe,
    deviceType: r.device_type,
    tls: parseJson<unknown>(r.tls, null),
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
  };
}

function findingFromRow(r: Selectable<FindingsTable> & { ip: string; port: number }): FindingRow {
  return {
    id: Number(r.id),
    ip: r.ip,
    port: Number(r.port),
    checkId: r.check_id,
    severity: r.severity as Severity,
    title: r.title,
    confidence: r.confidence,
    evidence: parseJson<Record<string, unknown> | null>(r.evidence, null),
    state: r.state as FindingState,
    userState: r.user_state,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    resolvedAt: r.resolved_at,
  };
}

export class KyselyInventory implements Inventory {
  readonly kind: DialectKind;
  readonly location: string;
  /** The Kysely instance, for tests and for read-only tooling inside this folder. */
  readonly db: Db;
  private readonly now: () => string;
  private closed = false;

  constructor(db: Db, kind: DialectKind, location: string, opts: KyselyInventoryOptions = {}) {
    this.db = db;
    this.kind = kind;
    this.location = location;
    this.now = opts.now ?? (() => new Date().toISOString());
    this.listedTtlMs = opts.listedTtlMs ?? 30_000;
    this.columnOptions = opts.columnIndex === undefined || opts.columnIndex === false ? null : opts.columnIndex === true ? {} : opts.columnIndex;
  }

  private columnOptions: ColumnIndexCacheOptions | null;
  /** recordServices' multi-row statements, compiled once per shape. */
  private readonly inserts = new CompiledInserts();
  private columnCache: ColumnIndexCache | null = null;

  /** The column index cache, opened on first use (after migrations: it reads the tables); null when not kept. */
  private columnIndexCache(): ColumnIndexCache | null {
    if (this.columnOptions === null || this.kind !== 'sqlite' || this.location === ':memory:' || this.closed) return null;
    if (this.columnCache === null) {
      try {
        this.columnCache = new ColumnIndexCache(this.location, this.columnOptions);
      } catch {
        // The file cannot be opened a second time (read-only): SQL answers everything, as without the option.
        this.columnOptions = null;
        return null;
      }
    }
    return this.columnCache;
  }

  /** The current column index, or null (see SearchTarget.columns). */
  columns(): ColumnIndex | null {
    return this.columnIndexCache()?.current() ?? null;
  }

  /**
   * The searched rows' change counter (search_version, migrations/0010): it changes with every
   * change to services, assets, findings or tags. Null on PostgreSQL, which keeps none.
   */
  async searchVersion(): Promise<number | null> {
    if (this.kind !== 'sqlite') return null;
    const r = await this.db.selectFrom('search_version').select('version').where('id', '=', 1).executeTakeFirst();
    return r === undefined ? null : Number(r.version);
  }

  private readonly memos = new Map<string, unknown>();

  /**
   * `compute()`'s answer, reused while searchVersion() is unchanged: for answers that read only
   * services, assets, findings and tags (the dashboard's trend, a findings page), under a `key`
   * that names everything else they depend on. On PostgreSQL it always computes. Answers are
   * shared: callers must not modify them.
   */
  async memo<T>(key: string, compute: () => Promise<T>): Promise<T> {
    const version = await this.searchVersion();
    if (version === null) return compute();
    const k = `${version}\u0000${key}`;
    if (this.memos.has(k)) return this.memos.get(k) as T;
    const value = await compute();
    // Answers of older versions can never be asked for again.
    for (const old of this.memos.keys()) if (!old.startsWith(`${version}\u0000`) || this.memos.size >= MEMO_MAX) this.memos.delete(old);
    this.memos.set(k, value);
    return value;
  }

  /** Builds the column index now (when kept and the inventory is large enough) and returns it. */
  async refreshColumns(): Promise<ColumnIndex | null> {
    return (await this.columnIndexCache()?.refresh()) ?? null;
  }

  private readonly listedTtlMs: number;
  private listed: { at: number; active: boolean } | null = null;

  /** Whether any asset came from an imported known-asset list (cached for listedTtlMs). */
  private async assetListActive(trx: Tx): Promise<boolean> {
    const now = Date.now();
    if (this.listed && now - this.listed.at < this.listedTtlMs) return this.listed.active;
    const row = await trx.selectFrom('assets').select('id').where('listed', '=', 1).limit(1).executeTakeFirst();
    this.listed = { at: now, active: row !== undefined };
    return this.listed.active;
  }

  async migrate(): Promise<void> {
    const migrator = new Migrator({
      db: this.db,
      provider: migrationProvider(this.kind),
      migrationTableName: MIGRATION_TABLE,
      migrationLockTableName: MIGRATION_LOCK_TABLE,
    });
    const { error, results } = await migrator.migrateToLatest();
    if (error !== undefined) {
      const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
      throw new InventoryError(`inventory migration ${failed} failed (${this.kind} at ${this.location})`, {
        cause: error,
      });
    }
  }

  // ---------------------------------------------------------------- runs

  async createRun(run: {
    id?: string;
    profile: Profile;
    targets: string[];
    options: Record<string, unknown>;
    totalTargets: number;
  }): Promise<RunRecord> {
    const row: Selectable<ScanRunsTable> = {
      id: run.id ?? newRunId(),
      started_at: this.now(),
      finished_at: null,
      state: 'running',
      profile: run.profile,
      targets_spec: JSON.stringify(run.targets),
      options: JSON.stringify(run.options),
      checkpoint: null,
      stats: '{}',
      total_targets: run.totalTargets,
      done_targets: 0,
    };
    await this.db.insertInto('scan_runs').values(row).execute();
    return runFromRow(row);
  }

  async getRun(id: string): Promise<RunRecord | null> {
    const r = await this.db.selectFrom('scan_runs').selectAll().where('id', '=', id).executeTakeFirst();
    return r === undefined ? null : runFromRow(r);
  }

  async listRuns(limit = 20): Promise<RunRecord[]> {
    const rows = await this.db
      .selectFrom('scan_runs')
      .selectAll()
      .orderBy('started_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.map(runFromRow);
  }

  async saveCheckpoint(
    runId: string,
    checkpoint: unknown,
    doneTargets: number,
    stats: Record<string, unknown>,
  ): Promise<void> {
    const res = await this.db
      .updateTable('scan_runs')
      .set({
        checkpoint: checkpoint === null || checkpoint === undefined ? null : JSON.stringify(checkpoint),
        done_targets: doneTargets,
        stats: JSON.stringify(stats),
      })
      .where('id', '=', runId)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) throw new InventoryError(`no scan run ${runId}`);
  }

  // ---------------------------------------------------------------- writes

  async recordService(runId: string, rec: ServiceRecord): Promise<void> {
    await this.recordServices(runId, [rec]);
  }

  async recordServices(runId: string, recs: ServiceRecord[]): Promise<void> {
    const open = recs.filter((r) => isOpen(r.status));
    if (open.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      const cache = await this.prefetch(trx, open);
      const listActive = await this.assetListActive(trx);
      const plan: BatchPlan = { assets: new Map(), services: new Map(), observations: new Map(), findings: new Map(), events: [], serviceEvents: [] };
      for (const rec of open) this.planRecord(runId, listActive ? withListCheck(rec, cache.assets.get(rec.ip)) : rec, cache, plan);
      const ranks = activeRanks(cache.findings);
      for (const [skey, svc] of plan.services) svc.active_severity = ranks.get(skey) ?? 0;
      await this.flushPlan(trx, plan);
    });
  }

  /** Records each tracked field that changed since the service's previous run (history, `medsurface diff`). */
  private serviceChanges(
    plan: BatchPlan,
    serviceKey: string,
    runId: string,
    at: string,
    prev: Selectable<ServicesTable>,
    next: Pick<Selectable<ServicesTable>, (typeof TRACKED_SERVICE_FIELDS)[number]>,
  ): void {
    for (const field of TRACKED_SERVICE_FIELDS) {
      const before = field === 'tls' ? tlsSummary(prev.tls) : prev[field];
      const after = field === 'tls' ? tlsSummary(next.tls) : next[field];
      if ((before ?? null) === (after ?? null)) continue;
      plan.serviceEvents.push({ serviceKey, run_id: runId, at, field, old_value: before ?? null, new_value: after ?? null });
    }
  }

  /**
   * Reads the current asset, service and finding rows of a batch's hosts in three queries,
   * instead of three per record; planRecord keeps the cache current as it plans.
   */
  private async prefetch(trx: Tx, recs: ServiceRecord[]): Promise<BatchCache> {
    const cache: BatchCache = { assets: new Map(), services: new Map(), findings: new Map() };
    const ips = [...new Set(recs.map((r) => r.ip))];
    for (const part of chunks(ips)) {
      for (const a of await trx.selectFrom('assets').selectAll().where('ip', 'in', part).execute()) {
        cache.assets.set(a.ip, a);
      }
      for (const sv of await trx.selectFrom('services').selectAll().where('ip', 'in', part).execute()) {
        cache.services.set(`${sv.ip}|${sv.port}`, sv);
      }
    }
    const wanted = new Set(recs.map((r) => `${r.ip}|${r.port}`));
    const keyOf = new Map<number, string>();
    for (const [k, sv] of cache.services) if (wanted.has(k)) keyOf.set(Number(sv.id), k);
    for (const part of chunks([...keyOf.keys()])) {
      for (const f of await trx.selectFrom('findings').selectAll().where('service_id', 'in', part).execute()) {
        cache.findings.set(`${keyOf.get(Number(f.service_id))}|${f.check_id}`, f);
      }
    }
    return cache;
  }

  /**
   * Works out what one record changes, in memory: the final rows of the batch's assets,
   * services, observations and findings (keyed by address, `ip|port`, `ip|port|check`) and the
   * events, so flushPlan writes them with a few multi-row statements instead of several per record.
   */
  private planRecord(runId: string, rec: ServiceRecord, cache: BatchCache, plan: BatchPlan): void {
    const ts = toIso(rec.timestamp, this.now);
    const key = ipKey(rec.ip);

    // Asset. Identity learned in earlier runs stays until contradicted (a record without an
    // asset identity, or with device type 'unknown', does not erase it); evidence accumulates
    // within a run and is replaced by the next run's. Columns a record does not speak about
    // (risk, honeypot verdict, attribution) keep their stored values.
    const prevAsset = cache.assets.get(rec.ip);
    const base = prevAsset ?? { ...NEW_ASSET_DEFAULTS, id: UNSAVED };
    const a = rec.asset;
    const prevEvidence = parseJson<string[]>(prevAsset?.evidence, []);
    const evidence =
      a === undefined
        ? prevEvidence
        : prevAsset?.last_run_id === runId
          ? [...new Set([...prevEvidence, ...a.evidence])]
          : [...new Set(a.evidence)];
    const knownType = a?.deviceType !== undefined && a.deviceType !== 'unknown' ? a.deviceType : undefined;
    const at = rec.attribution;
    const assetValues = {
      ip_key: key,
      hostname: rec.hostname ?? prevAsset?.hostname ?? null,
      first_seen: minIso(prevAsset?.first_seen, ts),
      last_seen: maxIso(prevAsset?.last_seen, ts),
      vendor: a?.vendor ?? prevAsset?.vendor ?? null,
      product: a?.product ?? prevAsset?.product ?? null,
      device_type: knownType ?? prevAsset?.device_type ?? a?.deviceType ?? null,
      evidence: JSON.stringify(evidence),
      last_run_id: runId,
      // Risk and honeypot verdict are the host's of this run (scanHost fuses them over all its services).
      risk: a?.risk ?? Number(base.risk),
      honeypot: a !== undefined ? (a.honeypot ? 1 : 0) : Number(base.honeypot),
      honeypot_evidence: a !== undefined ? (a.honeypot ? JSON.stringify(a.honeypot.signals) : null) : base.honeypot_evidence,
      country: at ? at.country : base.country,
      asn: at ? at.asn : base.asn,
      as_org: at ? at.asOrg : base.as_org,
      org: at ? at.org : base.org,
      org_source: at ? at.orgSource : base.org_source,
      attributed_at: at ? ts : base.attributed_at,
    } satisfies Partial<Selectable<AssetsTable>>;
    plan.assets.set(rec.ip, { ip: rec.ip, ...assetValues });
    cache.assets.set(rec.ip, { ...base, ip: rec.ip, ...assetValues });

    // Service. Identification is replaced as a whole when the record carries one, so a
    // version never outlives the product it belonged to; a record without one keeps the old.
    const skey = `${rec.ip}|${rec.port}`;
    const prevSvc = cache.services.get(skey);
    const identified =
      rec.product !== undefined ||
      rec.vendor !== undefined ||
      rec.version !== undefined ||
      rec.cpe !== undefined ||
      rec.deviceType !== undefined;
    const tls =
      rec.tls !== undefined ? JSON.stringify(rec.tls) : rec.status === 'success' ? null : (prevSvc?.tls ?? null);
    const svcValues = {
      ip_key: key,
      transport: 'tcp',
      protocol: rec.protocol ?? prevSvc?.protocol ?? null,
      status: rec.status,
      product: identified ? (rec.product ?? null) : (prevSvc?.product ?? null),
      vendor: identified ? (rec.vendor ?? null) : (prevSvc?.vendor ?? null),
      version: identified ? (rec.version ?? null) : (prevSvc?.version ?? null),
      cpe: identified ? (rec.cpe ?? null) : (prevSvc?.cpe ?? null),
      device_type: identified ? (rec.deviceType ?? null) : (prevSvc?.device_type ?? null),
      tls,
      first_seen: minIso(prevSvc?.first_seen, ts),
      last_seen: maxIso(prevSvc?.last_seen, ts),
      last_run_id: runId,
      risk: rec.risk ?? 0,
    } satisfies Partial<Selectable<ServicesTable>>;
    plan.services.set(skey, { ip: rec.ip, port: rec.port, ...svcValues });
    cache.services.set(skey, {
      ...(prevSvc ?? { ...NEW_SERVICE_DEFAULTS, id: UNSAVED, asset_id: UNSAVED }),
      ip: rec.ip,
      port: rec.port,
      ...svcValues,
    });
    if (prevSvc && prevSvc.last_run_id !== runId) this.serviceChanges(plan, skey, runId, ts, prevSvc, svcValues);

    // Observation: one per (run, service); a later record of the batch or a retried write replaces it.
    plan.observations.set(skey, {
      observed_at: ts,
      status: rec.status,
      protocol: rec.protocol ?? null,
      data: JSON.stringify(rec.data),
      checks_run: JSON.stringify(rec.checksRun ?? []),
      identity: JSON.stringify({
        product: rec.product ?? null,
        vendor: rec.vendor ?? null,
        version: rec.version ?? null,
        cpe: rec.cpe ?? null,
        deviceType: rec.deviceType ?? null,
      }),
    });

    // Findings: one row per (service, check id); the first occurrence in a record wins.
    const seen = new Set<string>();
    for (const f of rec.findings) {
      if (seen.has(f.id)) continue;
      seen.add(f.id);
      const values = {
        severity: f.severity,
        title: f.title,
        confidence: f.confidence,
        evidence: f.evidence === undefined ? null : JSON.stringify(f.evidence),
      };
      const fkey = `${skey}|${f.id}`;
      const prev = cache.findings.get(fkey);
      const planned = plan.findings.get(fkey);
      if (prev === undefined) {
        const row = {
          check_id: f.id,
          ...values,
          state: 'open',
          user_state: null,
          first_seen: ts,
          last_seen: ts,
          resolved_at: null,
          last_run_id: runId,
        };
        plan.findings.set(fkey, { serviceKey: skey, id: null, row });
        cache.findings.set(fkey, { id: UNSAVED, service_id: UNSAVED, ...row });
        plan.events.push({ finding: fkey, runId, at: ts, event: 'opened', detail: { severity: f.severity } });
        continue;
      }
      const reopen = prev.state === 'resolved' || prev.user_state === 'fixed';
      const retry = prev.last_run_id === runId && prev.state === 'open' && !reopen;
      const update = {
        ...values,
        state: 'open',
        user_state: prev.user_state === 'fixed' ? null : prev.user_state,
        resolved_at: null,
        last_seen: maxIso(prev.last_seen, ts),
        last_run_id: runId,
      };
      const next = { ...prev, ...update };
      cache.findings.set(fkey, next);
      plan.findings.set(fkey, {
        serviceKey: skey,
        id: planned ? planned.id : Number(prev.id),
        row: {
          check_id: next.check_id,
          severity: next.severity,
          title: next.title,
          confidence: next.confidence,
          evidence: next.evidence,
          state: next.state,
          user_state: next.user_state,
          first_seen: next.first_seen,
          last_seen: next.last_seen,
          resolved_at: next.resolved_at,
          last_run_id: next.last_run_id,
        },
      });
      if (retry) continue;
      plan.events.push(
        reopen
          ? {
              finding: fkey,
              runId,
              at: ts,
              event: 'reopened',
              detail: { from: prev.state === 'resolved' ? 'resolved' : 'fixed', userState: prev.user_state },
            }
          : { finding: fkey, runId, at: ts, event: 'seen', detail: prev.state === 'open' ? null : { from: prev.state } },
      );
    }
  }

  /** Writes a planned batch: assets, services, observations and findings each with multi-row upserts. */
  private async flushPlan(trx: Tx, plan: BatchPlan): Promise<void> {
    const assetIds = new Map<string, number>();
    for (const part of chunks([...plan.assets.values()], ASSET_CHUNK)) {
      const rows = await this.inserts.execute<{ id: number; ip: string }>(trx, 'assets', ASSET_INSERT_COLUMNS, part, (values) =>
        trx
          .insertInto('assets')
          .values(values as Insertable<AssetsTable>[])
          .onConflict((oc) => oc.column('ip').doUpdateSet(excludedSet(ASSET_UPSERT_COLUMNS)))
          .returning(['id', 'ip']),
      );
      for (const r of rows) assetIds.set(r.ip, Number(r.id));
    }
    const serviceIds = new Map<string, number>();
    for (const part of chunks([...plan.services.values()], SERVICE_CHUNK)) {
      const withAssets = part.map((s) => ({ ...s, asset_id: mustGet(assetIds, s.ip, 'asset') }));
      const rows = await this.inserts.execute<{ id: number; ip: string; port: number }>(trx, 'services', SERVICE_INSERT_COLUMNS, withAssets, (values) =>
        trx
          .insertInto('services')
          .values(values as Insertable<ServicesTable>[])
          .onConflict((oc) => oc.columns(['ip', 'port']).doUpdateSet(excludedSet(SERVICE_UPSERT_COLUMNS)))
          .returning(['id', 'ip', 'port']),
      );
      for (const r of rows) serviceIds.set(`${r.ip}|${r.port}`, Number(r.id));
    }
    const runId = [...plan.services.values()][0]?.last_run_id ?? null;
    if (runId === null) return;
    for (const part of chunks([...plan.observations.entries()], SERVICE_CHUNK)) {
      const rows = part.map(([k, o]) => ({ run_id: runId, service_id: mustGet(serviceIds, k, 'service'), ...o }));
      await this.inserts.execute(trx, 'observations', OBSERVATION_INSERT_COLUMNS, rows, (values) =>
        trx
          .insertInto('observations')
          .values(values as Insertable<ObservationsTable>[])
          .onConflict((oc) => oc.columns(['run_id', 'service_id']).doUpdateSet(excludedSet(OBSERVATION_UPSERT_COLUMNS))),
      );
    }

    // Findings: new ones are inserted (one that another writer inserted meanwhile is then
    // updated as an existing one, and its 'opened' event becomes 'seen'); known ones upserted.
    const findingIds = new Map<string, number>();
    const fresh = [...plan.findings.entries()].filter(([, p]) => p.id === null);
    const known = [...plan.findings.entries()].filter(([, p]) => p.id !== null);
    const raced = new Set<string>();
    for (const part of chunks(fresh, FINDING_CHUNK)) {
      const withIds = part.map(([k, p]) => [k, { service_id: mustGet(serviceIds, p.serviceKey, 'service'), ...p.row }] as const);
      const rows = await this.inserts.execute<{ id: number; service_id: number; check_id: string }>(
        trx,
        'findings-new',
        FINDING_INSERT_COLUMNS,
        withIds.map(([, r]) => r),
        (values) =>
          trx
            .insertInto('findings')
            .values(values as Insertable<FindingsTable>[])
            .onConflict((oc) => oc.columns(['service_id', 'check_id']).doNothing())
            .returning(['id', 'service_id', 'check_id']),
      );
      const got = new Map(rows.map((r) => [`${r.service_id}|${r.check_id}`, Number(r.id)]));
      for (const [k, r] of withIds) {
        const id = got.get(`${r.service_id}|${r.check_id}`);
        if (id !== undefined) findingIds.set(k, id);
        else raced.add(k);
      }
    }
    for (const k of raced) {
      const p = plan.findings.get(k)!;
      const existing = await trx
        .selectFrom('findings')
        .selectAll()
        .where('service_id', '=', mustGet(serviceIds, p.serviceKey, 'service'))
        .where('check_id', '=', p.row.check_id)
        .executeTakeFirstOrThrow();
      findingIds.set(k, Number(existing.id));
      known.push([k, { ...p, id: Number(existing.id), row: { ...p.row, first_seen: minIso(existing.first_seen, p.row.first_seen), user_state: existing.user_state === 'fixed' ? null : existing.user_state } }]);
    }
    for (const part of chunks(known, FINDING_CHUNK)) {
      const rows = part.map(([, p]) => ({ service_id: mustGet(serviceIds, p.serviceKey, 'service'), ...p.row }));
      await this.inserts.execute(trx, 'findings-known', FINDING_INSERT_COLUMNS, rows, (values) =>
        trx
          .insertInto('findings')
          .values(values as Insertable<FindingsTable>[])
          .onConflict((oc) => oc.columns(['service_id', 'check_id']).doUpdateSet(excludedSet(FINDING_UPSERT_COLUMNS))),
      );
      for (const [k, p] of part) findingIds.set(k, p.id!);
    }
    if (raced.size > 0) {
      // Another writer's findings of these services are not among the plan's ranks: recount from the table.
      await this.refreshActiveSeverity(trx, [...raced].map((k) => mustGet(serviceIds, plan.findings.get(k)!.serviceKey, 'service')));
    }

    await this.addEvents(
      trx,
      plan.events.map((e) => ({
        findingId: mustGet(findingIds, e.finding, 'finding'),
        runId: e.runId,
        at: e.at,
        event: e.event === 'opened' && raced.has(e.finding) ? 'seen' : e.event,
        detail: e.event === 'opened' && raced.has(e.finding) ? null : e.detail,
      })),
    );
    const serviceEvents = plan.serviceEvents.map(({ serviceKey, ...e }) => ({ service_id: mustGet(serviceIds, serviceKey, 'service'), ...e }));
    for (const part of chunks(serviceEvents)) {
      await this.inserts.execute(trx, 'service_events', SERVICE_EVENT_COLUMNS, part, (values) =>
        trx.insertInto('service_events').values(values as Insertable<ServiceEventsTable>[]),
      );
    }
  }

  /**
   * Recomputes services.active_severity (migrations/0008) of some services from their findings:
   * every change of a finding's state, user state or severity outside recordServices' plan
   * ends with this for the services it touched.
   */
  private async refreshActiveSeverity(trx: Tx, serviceIds: Iterable<number>): Promise<void> {
    for (const part of chunks([...new Set(serviceIds)])) {
      await trx
        .updateTable('services')
        .set((eb) => ({
          active_severity: eb.fn.coalesce(
            eb
              .selectFrom('findings')
              .select((f) => f.fn.max(severityRankSql(f.ref('findings.severity'))).as('r'))
              .whereRef('findings.service_id', '=', 'services.id')
              .where('findings.state', '=', 'open')
              .where('findings.user_state', 'is', null),
            eb.lit(0),
          ),
        }))
        .where('services.id', 'in', part)
        .execute();
    }
  }

  private async addEvents(trx: Tx, events: EventInput[]): Promise<void> {
    for (const part of chunks(events)) {
      const rows = part.map((e) => ({
        finding_id: e.findingId,
        run_id: e.runId,
        at: e.at,
        event: e.event,
        detail: e.detail === null || e.detail === undefined ? null : JSON.stringify(e.detail),
      }));
      await this.inserts.execute(trx, 'finding_events', FINDING_EVENT_COLUMNS, rows, (values) =>
        trx.insertInto('finding_events').values(values as Insertable<FindingEventsTable>[]),
      );
    }
  }

  async attributeAssets(attribute: (ip: string) => RecordAttribution): Promise<{ assets: number; changed: number }> {
    let after = 0;
    let assets = 0;
    let changed = 0;
    const at = this.now();
    for (;;) {
      const rows = await this.db
        .selectFrom('assets')
        .select(['id', 'ip', 'country', 'asn', 'as_org', 'org', 'org_source'])
        .where('id', '>', after)
        .orderBy('id')
        .limit(CHUNK)
        .execute();
      if (rows.length === 0) return { assets, changed };
      after = Number(rows[rows.length - 1]!.id);
      await this.db.transaction().execute(async (trx) => {
        for (const r of rows) {
          assets++;
          const a = attribute(r.ip);
          const next = { country: a.country, asn: a.asn, as_org: a.asOrg, org: a.org, org_source: a.orgSource };
          const same =
            next.country === r.country && next.asn === (r.asn === null ? null : Number(r.asn)) && next.as_org === r.as_org && next.org === r.org && next.org_source === r.org_source;
          await trx.updateTable('assets').set({ ...next, attributed_at: at }).where('id', '=', r.id).execute();
          if (!same) changed++;
        }
      });
    }
  }

  async latestObservations(afterServiceId: number, limit: number): Promise<StoredObservation[]> {
    const services = await this.db
      .selectFrom('services')
      .select(['id', 'asset_id', 'ip', 'port', 'tls'])
      .where('id', '>', afterServiceId)
      .orderBy('id')
      .limit(Math.max(1, Math.min(limit, CHUNK)))
      .execute();
    if (services.length === 0) return [];
    const obs = await this.db
      .selectFrom('observations')
      .innerJoin('scan_runs', 'scan_runs.id', 'observations.run_id')
      .select([
        'observations.service_id',
        'observations.observed_at',
        'observations.status',
        'observations.protocol',
        'observations.data',
        'observations.identity',
        'scan_runs.profile',
      ])
      .where(
        'observations.service_id',
        'in',
        services.map((sv) => sv.id),
      )
      .execute();
    const latest = new Map<number, (typeof obs)[number]>();
    for (const o of obs) {
      const k = Number(o.service_id);
      const cur = latest.get(k);
      if (!cur || o.observed_at > cur.observed_at) latest.set(k, o);
    }
    const out: StoredObservation[] = [];
    for (const sv of services) {
      const o = latest.get(Number(sv.id));
      if (!o) continue;
      out.push({
        serviceId: Number(sv.id),
        assetId: Number(sv.asset_id),
        ip: sv.ip,
        port: Number(sv.port),
        protocol: o.protocol,
        status: o.status,
        observedAt: o.observed_at,
        profile: o.profile === 'intrusive' ? 'intrusive' : 'safe',
        data: parseJson<Record<string, unknown>>(o.data, {}),
        tls: sv.tls === null ? null : parseJson<unknown>(sv.tls, null),
        identity: parseJson(o.identity, { product: null, vendor: null, version: null, cpe: null, deviceType: null }),
      });
    }
    return out;
  }

  async applyRescore(
    services: RescoredService[],
    assets: { assetId: number; risk: number; honeypotSignals: string[] }[],
  ): Promise<Omit<RescoreSummary, 'services'>> {
    const at = this.now();
    const summary = { opened: 0, reopened: 0, changed: 0, noLongerFiring: 0 };
    await this.db.transaction().execute(async (trx) => {
      const events: EventInput[] = [];
      for (const part of chunks(services)) {
        const existing = await trx
          .selectFrom('findings')
          .selectAll()
          .where(
            'service_id',
            'in',
            part.map((p) => p.serviceId),
          )
          .execute();
        const byKey = new Map(existing.map((f) => [`${f.service_id}|${f.check_id}`, f]));
        for (const sv of part) {
          await trx.updateTable('services').set({ risk: sv.risk }).where('id', '=', sv.serviceId).execute();
          const firing = new Set<string>();
          for (const f of sv.findings) {
            if (firing.has(f.id)) continue;
            firing.add(f.id);
            const values = { severity: f.severity, title: f.title, confidence: f.confidence, evidence: f.evidence === undefined ? null : JSON.stringify(f.evidence) };
            const prev = byKey.get(`${sv.serviceId}|${f.id}`);
            if (!prev) {
              const row = await trx
                .insertInto('findings')
                .values({ service_id: sv.serviceId, check_id: f.id, ...values, state: 'open', user_state: null, first_seen: at, last_seen: at, resolved_at: null, last_run_id: null })
                .returning('id')
                .executeTakeFirstOrThrow();
              events.push({ findingId: Number(row.id), runId: null, at, event: 'opened', detail: { source: 'rescore', severity: f.severity } });
              summary.opened++;
              continue;
            }
            if (prev.state === 'resolved') {
              await trx.updateTable('findings').set({ ...values, state: 'open', resolved_at: null }).where('id', '=', prev.id).execute();
              events.push({ findingId: Number(prev.id), runId: null, at, event: 'reopened', detail: { source: 'rescore', from: 'resolved' } });
              summary.reopened++;
            } else if (prev.severity !== f.severity || prev.title !== f.title || prev.evidence !== values.evidence) {
              await trx.updateTable('findings').set(values).where('id', '=', prev.id).execute();
              if (prev.severity !== f.severity || prev.title !== f.title) {
                events.push({ findingId: Number(prev.id), runId: null, at, event: 'changed', detail: { source: 'rescore', from: prev.severity, to: f.severity } });
                summary.changed++;
              }
            }
          }
          for (const f of existing) {
            if (Number(f.service_id) === sv.serviceId && f.state === 'open' && !firing.has(f.check_id)) summary.noLongerFiring++;
          }
        }
        await this.refreshActiveSeverity(trx, part.map((p) => p.serviceId));
      }
      for (const a of assets) {
        await trx
          .updateTable('assets')
          .set({
            risk: a.risk,
            honeypot: a.honeypotSignals.length > 0 ? 1 : 0,
            honeypot_evidence: a.honeypotSignals.length > 0 ? JSON.stringify(a.honeypotSignals) : null,
          })
          .where('id', '=', a.assetId)
          .execute();
      }
      await this.addEvents(trx, events);
    });
    return summary;
  }

  async finishRun(
    runId: string,
    state: RunState,
    opts: { stats: Record<string, unknown>; unreachableHosts?: string[] },
  ): Promise<void> {
    const at = this.now();
    await this.db.transaction().execute(async (trx) => {
      const res = await trx
        .updateTable('scan_runs')
        .set({ state, finished_at: at, stats: JSON.stringify(opts.stats) })
        .where('id', '=', runId)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) throw new InventoryError(`no scan run ${runId}`);

      if (state === 'completed') await this.resolveRun(trx, runId, at);

      // A host that answered nothing proves nothing either way: its open findings become
      // 'unverified', whatever the run's end state (the engine lists only hosts it finished).
      const hosts = [...new Set(opts.unreachableHosts ?? [])];
      for (const part of chunks(hosts)) {
        const rows = await trx
          .selectFrom('findings')
          .innerJoin('services', 'services.id', 'findings.service_id')
          .select(['findings.id', 'findings.service_id'])
          .where('services.ip', 'in', part)
          .where('findings.state', '=', 'open')
          .where((eb) => eb.or([eb('findings.last_run_id', 'is', null), eb('findings.last_run_id', '!=', runId)]))
          .execute();
        const ids = rows.map((r) => Number(r.id));
        for (const idPart of chunks(ids)) {
          await trx.updateTable('findings').set({ state: 'unverified' }).where('id', 'in', idPart).execute();
        }
        await this.refreshActiveSeverity(trx, rows.map((r) => Number(r.service_id)));
        await this.addEvents(
          trx,
          ids.map((id) => ({ findingId: id, runId, at, event: 'unverified', detail: { reason: 'host-unreachable' } })),
        );
      }
    });
  }

  /**
   * Resolution after a completed run: a finding is resolved only on a service this run
   * observed, when the observation's checks_run lists the finding's check and this run did
   * not raise it (last_run_id differs). A finding last seen after this run's observation (an
   * overlapping, newer run saw it fire) is left alone.
   */
  private async resolveRun(trx: Tx, runId: string, at: string): Promise<void> {
    let after = 0;
    for (;;) {
      const obs = await trx
        .selectFrom('observations')
        .select(['id', 'service_id', 'checks_run', 'observed_at'])
        .where('run_id', '=', runId)
        .where('id', '>', after)
        .orderBy('id')
        .limit(CHUNK)
        .execute();
      if (obs.length === 0) return;
      after = Number(obs[obs.length - 1]?.id);
      const ran = new Map<number, { checks: Set<string>; at: string }>();
      for (const o of obs) {
        ran.set(Number(o.service_id), { checks: new Set(parseJson<string[]>(o.checks_run, [])), at: o.observed_at });
      }
      const candidates = await trx
        .selectFrom('findings')
        .select(['id', 'service_id', 'check_id', 'last_seen'])
        .where('service_id', 'in', [...ran.keys()])
        .where('state', 'in', ['open', 'unverified'])
        .where((eb) => eb.or([eb('last_run_id', 'is', null), eb('last_run_id', '!=', runId)]))
        .execute();
      const resolved = candidates.filter((f) => {
        const o = ran.get(Number(f.service_id));
        return o?.checks.has(f.check_id) === true && f.last_seen <= o.at;
      });
      const ids = resolved.map((f) => Number(f.id));
      for (const idPart of chunks(ids)) {
        await trx
          .updateTable('findings')
          .set({ state: 'resolved', resolved_at: at })
          .where('id', 'in', idPart)
          .execute();
      }
      await this.refreshActiveSeverity(trx, resolved.map((f) => Number(f.service_id)));
      await this.addEvents(
        trx,
        ids.map((id) => ({ findingId: id, runId, at, event: 'resolved', detail: null })),
      );
    }
  }

  async knownHosts(ips: string[]): Promise<string[]> {
    const out: string[] = [];
    for (const part of chunks([...new Set(ips)])) {
      const rows = await this.db.selectFrom('services').select('ip').distinct().where('ip', 'in', part).execute();
      for (const r of rows) out.push(r.ip);
    }
    return out.sort();
  }

  async setUserState(findingId: number, userState: UserState | null, note?: string): Promise<void> {
    if (userState !== null && !USER_STATES.includes(userState)) {
      throw new UsageError(`user state must be one of ${USER_STATES.join(', ')} or none, not ${String(userState)}`);
    }
    const at = this.now();
    await this.db.transaction().execute(async (trx) => {
      const prev = await trx
        .selectFrom('findings')
        .select(['id', 'user_state', 'service_id'])
        .where('id', '=', findingId)
        .executeTakeFirst();
      if (prev === undefined) throw new UsageError(`no finding with id ${findingId}`);
      await trx.updateTable('findings').set({ user_state: userState }).where('id', '=', findingId).execute();
      await this.refreshActiveSeverity(trx, [Number(prev.service_id)]);
      await this.addEvents(trx, [
        {
          findingId,
          runId: null,
          at,
          event: 'user-state',
          detail: {
            from: prev.user_state,
            to: userState,
            ...(note === undefined ? {} : { note: note.slice(0, NOTE_MAX_CHARS) }),
          },
        },
      ]);
    });
  }

  // ---------------------------------------------------------------- reads

  async listAssets(filter: AssetFilter = {}): Promise<AssetRow[]> {
    let q = this.db.selectFrom('assets').selectAll('assets');
    if (filter.ip !== undefined) {
      const { lo, hi } = ipKeyRange(filter.ip);
      q = q.where('assets.ip_key', '>=', lo).where('assets.ip_key', '<=', hi);
    }
    if (filter.deviceType !== undefined) q = q.where('assets.device_type', '=', filter.deviceType);
    if (filter.vendor !== undefined) q = q.where((eb) => eb(eb.fn('lower', ['assets.vendor']), '=', filter.vendor!.toLowerCase()));
    if (filter.product !== undefined) {
      q = q.where((eb) => eb(eb.fn('lower', ['assets.product']), '=', filter.product!.toLowerCase()));
    }
    if (filter.port !== undefined || filter.protocol !== undefined) {
      q = q.where((eb) => {
        let s = eb.selectFrom('services').select('services.id').whereRef('services.asset_id', '=', 'assets.id');
        if (filter.port !== undefined) s = s.where('services.port', '=', filter.port);
        if (filter.protocol !== undefined) s = s.where('services.protocol', '=', filter.protocol);
        return eb.exists(s);
      });
    }
    if (filter.minSeverity !== undefined || filter.hasFindings !== undefined) {
      const sevs = filter.minSeverity === undefined ? null : severitiesFrom(filter.minSeverity);
      q = q.where((eb) => {
        let s = eb
          .selectFrom('findings')
          .innerJoin('services', 'services.id', 'findings.service_id')
          .select('findings.id')
          .whereRef('services.asset_id', '=', 'assets.id')
          .where('findings.state', '=', 'open')
          .where('findings.user_state', 'is', null);
        if (sevs !== null) s = s.where('findings.severity', 'in', sevs);
        return filter.hasFindings === false && sevs === null ? eb.not(eb.exists(s)) : eb.exists(s);
      });
    }
    q = q.orderBy('assets.ip_key').orderBy('assets.ip');
    if (filter.limit !== undefined || filter.offset !== undefined) q = q.limit(filter.limit ?? NO_LIMIT);
    if (filter.offset !== undefined) q = q.offset(filter.offset);
    const rows = await q.execute();
    return this.assetRows(rows);
  }

  /** Adds the per-asset counts (services, open untriaged findings, highest severity). */
  private async assetRows(rows: Selectable<AssetsTable>[]): Promise<AssetRow[]> {
    const svcCount = new Map<number, number>();
    const sevCount = new Map<number, Map<string, number>>();
    for (const part of chunks(rows.map((r) => Number(r.id)))) {
      const sc = await this.db
        .selectFrom('services')
        .select(['asset_id', (eb) => eb.fn.countAll<number | string>().as('n')])
        .where('asset_id', 'in', part)
        .groupBy('asset_id')
        .execute();
      for (const r of sc) svcCount.set(Number(r.asset_id), Number(r.n));
      const fc = await this.db
        .selectFrom('findings')
        .innerJoin('services', 'services.id', 'findings.service_id')
        .select(['services.asset_id', 'findings.severity', (eb) => eb.fn.countAll<number | string>().as('n')])
        .where('services.asset_id', 'in', part)
        .where('findings.state', '=', 'open')
        .where('findings.user_state', 'is', null)
        .groupBy(['services.asset_id', 'findings.severity'])
        .execute();
      for (const r of fc) {
        const m = sevCount.get(Number(r.asset_id)) ?? new Map<string, number>();
        m.set(r.severity, Number(r.n));
        sevCount.set(Number(r.asset_id), m);
      }
    }
    return rows.map((r) => {
      const sev = sevCount.get(Number(r.id)) ?? new Map<string, number>();
      let open = 0;
      for (const n of sev.values()) open += n;
      return {
        id: Number(r.id),
        ip: r.ip,
        hostname: r.hostname,
        firstSeen: r.first_seen,
        lastSeen: r.last_seen,
        vendor: r.vendor,
        product: r.product,
        deviceType: r.device_type,
        evidence: parseJson<string[]>(r.evidence, []),
        services: svcCount.get(Number(r.id)) ?? 0,
        openFindings: open,
        maxSeverity: maxSeverity(sev.keys()),
      };
    });
  }

  async getAsset(ip: string): Promise<{ asset: AssetRow; services: ServiceRow[]; findings: FindingRow[] } | null> {
    const row = await this.db.selectFrom('assets').selectAll().where('ip_key', '=', ipKey(ip)).executeTakeFirst();
    if (row === undefined) return null;
    const [asset] = await this.assetRows([row]);
    const services = await this.db
      .selectFrom('services')
      .selectAll()
      .where('asset_id', '=', row.id)
      .orderBy('port')
      .execute();
    const findings = await this.db
      .selectFrom('findings')
      .innerJoin('services', 'services.id', 'findings.service_id')
      .selectAll('findings')
      .select(['services.ip', 'services.port'])
      .where('services.asset_id', '=', row.id)
      .orderBy('services.port')
      .orderBy('findings.check_id')
      .execute();
    return { asset: asset!, services: services.map(serviceFromRow), findings: sortFindings(findings.map(findingFromRow)) };
  }

  async listServices(filter: AssetFilter = {}): Promise<ServiceRow[]> {
    let q = this.db
      .selectFrom('services')
      .innerJoin('assets', 'assets.id', 'services.asset_id')
      .selectAll('services');
    if (filter.ip !== undefined) {
      const { lo, hi } = ipKeyRange(filter.ip);
      q = q.where('services.ip_key', '>=', lo).where('services.ip_key', '<=', hi);
    }
    if (filter.deviceType !== undefined) q = q.where('assets.device_type', '=', filter.deviceType);
    if (filter.vendor !== undefined) q = q.where((eb) => eb(eb.fn('lower', ['assets.vendor']), '=', filter.vendor!.toLowerCase()));
    if (filter.product !== undefined) {
      q = q.where((eb) => eb(eb.fn('lower', ['assets.product']), '=', filter.product!.toLowerCase()));
    }
    if (filter.port !== undefined) q = q.where('services.port', '=', filter.port);
    if (filter.protocol !== undefined) q = q.where('services.protocol', '=', filter.protocol);
    if (filter.minSeverity !== undefined || filter.hasFindings !== undefined) {
      const sevs = filter.minSeverity === undefined ? null : severitiesFrom(filter.minSeverity);
      q = q.where((eb) => {
        let s = eb
          .selectFrom('findings')
          .select('findings.id')
          .whereRef('findings.service_id', '=', 'services.id')
          .where('findings.state', '=', 'open')
          .where('findings.user_state', 'is', null);
        if (sevs !== null) s = s.where('findings.severity', 'in', sevs);
        return filter.hasFindings === false && sevs === null ? eb.not(eb.exists(s)) : eb.exists(s);
      });
    }
    q = q.orderBy('services.ip_key').orderBy('services.ip').orderBy('services.port');
    if (filter.limit !== undefined || filter.offset !== undefined) q = q.limit(filter.limit ?? NO_LIMIT);
    if (filter.offset !== undefined) q = q.offset(filter.offset);
    return (await q.execute()).map(serviceFromRow);
  }

  async listFindings(filter: AssetFilter & { state?: string; checkId?: string } = {}): Promise<FindingRow[]> {
    let q = this.db
      .selectFrom('findings')
      .innerJoin('services', 'services.id', 'findings.service_id')
      .innerJoin('assets', 'assets.id', 'services.asset_id')
      .selectAll('findings')
      .select(['services.ip', 'services.port']);
    if (filter.ip !== undefined) {
      const { lo, hi } = ipKeyRange(filter.ip);
      q = q.where('services.ip_key', '>=', lo).where('services.ip_key', '<=', hi);
    }
    if (filter.deviceType !== undefined) q = q.where('assets.device_type', '=', filter.deviceType);
    if (filter.vendor !== undefined) q = q.where((eb) => eb(eb.fn('lower', ['assets.vendor']), '=', filter.vendor!.toLowerCase()));
    if (filter.product !== undefined) {
      q = q.where((eb) => eb(eb.fn('lower', ['assets.product']), '=', filter.product!.toLowerCase()));
    }
    if (filter.port !== undefined) q = q.where('services.port', '=', filter.port);
    if (filter.protocol !== undefined) q = q.where('services.protocol', '=', filter.protocol);
    if (filter.minSeverity !== undefined) q = q.where('findings.severity', 'in', severitiesFrom(filter.minSeverity));
    if (filter.state !== undefined) q = q.where('findings.state', '=', filter.state);
    if (filter.checkId !== undefined) q = q.where('findings.check_id', '=', filter.checkId);
    // Most severe first; within a severity, by address, port and check.
    q = q
      .orderBy((eb) => {
        let c = eb.case().when('findings.severity', '=', 'critical').then(eb.lit(0 as number));
        for (const [i, s] of ['high', 'medium', 'low', 'info'].entries()) {
          c = c.when('findings.severity', '=', s).then(eb.lit(i + 1));
        }
        return c.else(eb.lit(9)).end();
      })
      .orderBy('services.ip_key')
      .orderBy('services.port')
      .orderBy('findings.check_id');
    if (filter.limit !== undefined || filter.offset !== undefined) q = q.limit(filter.limit ?? NO_LIMIT);
    if (filter.offset !== undefined) q = q.offset(filter.offset);
    return (await q.execute()).map(findingFromRow);
  }

  async summary(opts: { includeHoneypots?: boolean } = {}): Promise<InventorySummary> {
    const count = async (p: Promise<{ n: number | string | bigint } | undefined>): Promise<number> =>
      Number((await p)?.n ?? 0);
    // Hosts judged honeypots or decoys are left out of headline counts unless asked for.
    const keep = !opts.includeHoneypots;
    const honeypots = await count(
      this.db.selectFrom('assets').select((eb) => eb.fn.countAll<number>().as('n')).where('honeypot', '=', 1).executeTakeFirst(),
    );
    const exclude = keep && honeypots > 0;
    let assetQ = this.db.selectFrom('assets').select((eb) => eb.fn.countAll<number>().as('n'));
    if (exclude) assetQ = assetQ.where('honeypot', '=', 0);
    const assets = await count(assetQ.executeTakeFirst());
    let svcQ = this.db.selectFrom('services').innerJoin('assets', 'assets.id', 'services.asset_id').select((eb) => eb.fn.countAll<number>().as('n'));
    if (exclude) svcQ = svcQ.where('assets.honeypot', '=', 0);
    const services = await count(svcQ.executeTakeFirst());
    const runs = await count(
      this.db.selectFrom('scan_runs').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst(),
    );
    let sevQ = this.db
      .selectFrom('findings')
      .innerJoin('services', 'services.id', 'findings.service_id')
      .innerJoin('assets', 'assets.id', 'services.asset_id')
      .select(['findings.severity as severity', (eb) => eb.fn.countAll<number | string>().as('n')])
      .where('findings.state', '=', 'open')
      .where('findings.user_state', 'is', null)
      .groupBy('findings.severity');
    if (exclude) sevQ = sevQ.where('assets.honeypot', '=', 0);
    const sev = await sevQ.execute();
    const bySeverity: Record<string, number> = {};
    for (const s of SEVERITIES) bySeverity[s] = 0;
    let openFindings = 0;
    for (const r of sev) {
      bySeverity[r.severity] = Number(r.n);
      openFindings += Number(r.n);
    }
    let devQ = this.db.selectFrom('assets').select(['device_type', (eb) => eb.fn.countAll<number | string>().as('n')]).groupBy('device_type');
    if (exclude) devQ = devQ.where('honeypot', '=', 0);
    const dev = await devQ.execute();
    const byDeviceType: Record<string, number> = {};
    for (const r of dev) {
      const k = r.device_type ?? 'unknown';
      byDeviceType[k] = (byDeviceType[k] ?? 0) + Number(r.n);
    }
    return { assets, services, openFindings, bySeverity, byDeviceType, runs, honeypots, honeypotsIncluded: !keep };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.columnCache?.close();
    await this.db.destroy();
  }

  // ---------------------------------------------------------------- search (search/)

  async search(query: string, opts: SearchOptions = {}): Promise<SearchResult> {
    return runSearch(this, query, { ...opts, now: opts.now ?? Date.parse(this.now()) });
  }

  async facets(query: string, field: string, opts: FacetOptions = {}): Promise<FacetResult> {
    return runFacet(this, query, field, { ...opts, now: opts.now ?? Date.parse(this.now()) });
  }
}

function sortFindings(rows: FindingRow[]): FindingRow[] {
  return rows
    .map((r, i) => ({ r, i }))
    .sort((x, y) => SEVERITIES.indexOf(y.r.severity) - SEVERITIES.indexOf(x.r.severity) || x.i - y.i)
    .map((x) => x.r);
}
