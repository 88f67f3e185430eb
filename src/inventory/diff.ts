/**
 * What changed in the inventory between two scan runs, as ExposureEvents (src/core/events.ts):
 * `medsurface diff` prints them, the monitor hands them to the alert sinks. Computed from the
 * stored history only (scan_runs, observations, service_events, finding_events), with the same
 * queries on SQLite and PostgreSQL. Nothing here reads or returns observed data or evidence:
 * an event carries identity fields, the finding id, severity and title, never a patient value.
 *
 * A is the older run (null: a baseline, everything in B is new), B the newer one. "The range" is
 * the runs started after A, up to and including B, in (started_at, id) order; with `--since W`
 * it is the runs started at or after W, and A is the latest completed run started before W.
 *
 * - service-new: observed (open) in B and not in A, unless A could not have seen it (A did not
 *   complete or did not cover the address and port) and it was known before: then its state at
 *   A is unknown, not "absent". With --since: observed in B, never observed before W.
 * - service-gone: observed in A, not answering in B, B completed and covered it: the address is
 *   in B's literal targets (CIDRs, ranges, addresses, host names) and the port in B's ports,
 *   or B reached the host (another service answered, or the host was found unreachable) when B's
 *   targets came from a file or stdin. An interrupted, failed or running B makes nothing gone.
 * - service-changed: protocol, product, vendor, version or device type differ between A's and
 *   B's observations (an observation without any identity says nothing about identity), or the
 *   TLS summary changed (service_events of the range); `changes` is field → [old, new].
 * - finding-*: from finding_events. For each finding with an event in the range (run-less
 *   events, i.e. rescores, count when their time lies between A's end and B's end), its state
 *   before the range and after it are folded from its history (opened/reopened/seen → open,
 *   resolved, unverified); absent → open is opened, resolved → open (or any reopen in the range)
 *   is reopened, open → resolved is resolved, open → unverified is unverified, a 'changed' event
 *   on a finding still open is changed (`changes` {severity: [old, new]}, or {title: [null, new]}
 *   when only the title changed: its old text is not kept). A finding whose last event is 'seen'
 *   on a finding already open says nothing. Baseline: every finding open in B is opened.
 *   Severities are the findings' current ones.
 * - Assets flagged as honeypots are left out unless asked (counted in the summary), and so are
 *   findings the user marked false-positive.
 *
 * Keys (the alert de-duplication relies on them): `kind|ip|port|<what>|<episode>`, where the
 * episode is the run that started the current state (a run id, or `at:<time>` for a rescore):
 *   service-new|ip|port|RUN            RUN: first run of the present stretch of observations
 *   service-gone|ip|port|RUN           RUN: first covering run of the present stretch of absence
 *   service-changed|ip|port|FIELDS|RUN FIELDS: changed field names, sorted; RUN: since when B's identity holds
 *   finding-<k>|ip|port|CHECK|SEVERITY|RUN  RUN: the event that put the finding in its state
 * So the same exposure in the same state gives the same key whatever A is (a diff recomputed,
 * or over a longer range), and a service that goes and comes back, or a finding resolved and
 * reopened twice, is a new state with a new key.
 */
import type { Kysely, Selectable } from 'kysely';
import { UsageError } from '../core/errors.js';
import { EVENT_KINDS, type EventKind, type ExposureEvent } from '../core/events.js';
import { isOpen, type Status } from '../core/status.js';
import { SEVERITIES, type Severity } from '../core/types.js';
import { type IpSet, parseToken, SpanCollector, splitTokens } from '../scope/ipset.js';
import { ipKey } from './ip-key.js';
import type { InventoryDatabase, ScanRunsTable } from './tables.js';

type Db = Kysely<InventoryDatabase>;

/** Ids per IN (...) list: well under SQLite's and pg's parameter limits. */
const CHUNK = 500;
/** Runs listed in the error for an unknown run id. */
const RECENT_RUNS = 10;
/** Longest user-given run id echoed back in an error. */
const ECHO_CHARS = 80;
/** Upper bound of a window whose B has not finished. */
const END_OF_TIME = '9999-12-31T23:59:59.999Z';
/**
 * Longest strings an event carries (the bounds the alert outbox validates, src/alerts/event-schema.ts):
 * identity strings can come from banners, and one over-long value must not make an alert undeliverable.
 */
const MAX = { text: 1024, version: 256, short: 64, tag: 128, tags: 100 } as const;

function cap(s: string | null, max: number): string | null {
  return s === null || s.length <= max ? s : `${s.slice(0, max - 3)}...`;
}

export interface DiffRun {
  id: string;
  state: string;
  profile: string;
  startedAt: string;
  finishedAt: string | null;
}

export interface DiffSummary {
  /** Events per kind (every kind present, zero when none). */
  counts: Record<EventKind, number>;
  total: number;
  /** Events left out: assets flagged as honeypots (0 with includeHoneypots), findings marked false-positive. */
  excluded: { honeypot: number; falsePositive: number };
  /** B completed: only then can a service be gone (and a finding resolved). */
  complete: boolean;
}

export interface DiffResult {
  from: DiffRun | null;
  /** `--since`: the start of the window (ISO-8601 UTC); null for a diff between two runs. */
  since: string | null;
  to: DiffRun;
  summary: DiffSummary;
  events: ExposureEvent[];
}

export interface DiffOptions {
  includeHoneypots?: boolean;
}

/** A run id that does not exist, runs in the wrong order, too few runs: the user's input. */
export class DiffError extends UsageError {
  constructor(message: string) {
    super(message);
    this.name = 'DiffError';
  }
}

// ---------------------------------------------------------------- runs and the window

interface RunInfo extends DiffRun {
  targets: string[];
  options: Record<string, unknown>;
}

interface RunPos {
  id: string;
  startedAt: string;
}

function parseJson<T>(text: string | null | undefined, fallback: T): T {
  if (text === null || text === undefined) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

function runInfo(r: Selectable<ScanRunsTable>): RunInfo {
  const targets = parseJson<unknown>(r.targets_spec, []);
  const options = parseJson<unknown>(r.options, {});
  return {
    id: r.id,
    state: r.state,
    profile: r.profile,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    targets: Array.isArray(targets) ? targets.filter((t): t is string => typeof t === 'string') : [],
    options: options !== null && typeof options === 'object' && !Array.isArray(options) ? (options as Record<string, unknown>) : {},
  };
}

const publicRun = (r: RunInfo): DiffRun => ({
  id: r.id,
  state: r.state,
  profile: r.profile,
  startedAt: r.startedAt,
  finishedAt: r.finishedAt,
});

/** Run order: started_at, then id (ids of one millisecond sort by creation, see newRunId). */
function runOrder(a: RunPos, b: RunPos): number {
  if (a.startedAt !== b.startedAt) return a.startedAt < b.startedAt ? -1 : 1;
  return a.id === b.id ? 0 : a.id < b.id ? -1 : 1;
}

async function loadRun(db: Db, id: string): Promise<RunInfo | null> {
  const r = await db.selectFrom('scan_runs').selectAll().where('id', '=', id).executeTakeFirst();
  return r === undefined ? null : runInfo(r);
}

/** "recent runs: r-... (completed, 2026-...), ..." for error messages. */
async function recentRunsText(db: Db): Promise<string> {
  const rows = await db
    .selectFrom('scan_runs')
    .select(['id', 'state', 'started_at'])
    .orderBy('started_at', 'desc')
    .orderBy('id', 'desc')
    .limit(RECENT_RUNS)
    .execute();
  if (rows.length === 0) return 'the inventory has no scan runs';
  return `recent runs (newest first): ${rows.map((r) => `${r.id} (${r.state}, started ${r.started_at})`).join(', ')}`;
}

function quoteId(id: string): string {
  return JSON.stringify(id.length > ECHO_CHARS ? `${id.slice(0, ECHO_CHARS)}...` : id);
}

async function requireRun(db: Db, id: string): Promise<RunInfo> {
  const run = await loadRun(db, id);
  if (run === null) throw new DiffError(`no scan run ${quoteId(id)}; ${await recentRunsText(db)}`);
  return run;
}

/** Completed runs, newest first. */
async function latestCompleted(db: Db, limit: number, startedBefore?: string): Promise<RunInfo[]> {
  let q = db.selectFrom('scan_runs').selectAll().where('state', '=', 'completed');
  if (startedBefore !== undefined) q = q.where('started_at', '<', startedBefore);
  const rows = await q.orderBy('started_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
  return rows.map(runInfo);
}

/** The ids of the two latest completed runs, older first (`medsurface diff --last`). */
export async function lastTwoCompletedRuns(db: Db): Promise<[string, string]> {
  const runs = await latestCompleted(db, 2);
  if (runs.length < 2) {
    throw new DiffError(`--last needs two completed scan runs; the inventory has ${runs.length}. ${await recentRunsText(db)}`);
  }
  return [runs[1]!.id, runs[0]!.id];
}

interface Window {
  a: RunInfo | null;
  b: RunInfo;
  since: string | null;
  /** Runs after the lower bound up to B inclusive, in run order (B last); for a baseline, every run up to B. */
  runs: RunInfo[];
  /** Run-less events (rescores) in (lo, hi] belong to the range. */
  lo: string | null;
  hi: string;
}

function inRange(w: Pick<Window, 'a' | 'b' | 'since'>, run: RunPos): boolean {
  if (runOrder(run, w.b) > 0) return false;
  if (w.since !== null) return run.startedAt >= w.since;
  return w.a === null || runOrder(run, w.a) > 0;
}

async function makeWindow(db: Db, a: RunInfo | null, b: RunInfo, since: string | null): Promise<Window> {
  let q = db.selectFrom('scan_runs').selectAll().where('started_at', '<=', b.startedAt);
  const lower = since ?? a?.startedAt;
  if (lower !== undefined) q = q.where('started_at', '>=', lower);
  const base = { a, b, since };
  const runs = (await q.execute())
    .map(runInfo)
    .filter((r) => inRange(base, r))
    .sort(runOrder);
  return { ...base, runs, lo: since ?? (a === null ? null : (a.finishedAt ?? a.startedAt)), hi: b.finishedAt ?? END_OF_TIME };
}

// ---------------------------------------------------------------- what a run covered

/**
 * Which (address, port) a run was asked to scan, from its stored targets and options
 * (`ports`, `exclude` as `medsurface scan` stores them). Targets read from a file (`@list`) or
 * stdin are not stored literally: for those, reaching the host is the evidence.
 */
class RunScope {
  private readonly addresses: IpSet;
  private readonly names = new Set<string>();
  private readonly ports: Set<number> | null;
  private readonly exclude: IpSet;

  constructor(run: RunInfo) {
    this.addresses = RunScope.addressSet(run.targets, this.names);
    const ports = run.options.ports;
    this.ports = Array.isArray(ports) && ports.length > 0 ? new Set(ports.filter((p): p is number => typeof p === 'number')) : null;
    const exclude = run.options.exclude;
    this.exclude = RunScope.addressSet(Array.isArray(exclude) ? exclude.filter((e): e is string => typeof e === 'string') : [], null);
  }

  /** Addresses, CIDRs and ranges of the specs; host names go to `names`; files, stdin and bad tokens are skipped. */
  private static addressSet(specs: string[], names: Set<string> | null): IpSet {
    const c = new SpanCollector();
    for (const spec of specs) {
      if (spec.trim().startsWith('@')) continue;
      for (const token of splitTokens(spec)) {
        if (token === '-' || token.startsWith('@')) continue;
        const p = parseToken(token);
        if (p.kind === 'range') c.add(p.family, p.start, p.end);
        else if (p.kind === 'name') names?.add(p.name.toLowerCase().replace(/\.$/, ''));
      }
    }
    return c.toIpSet();
  }

  includes(ip: string, hostname: string | null, port: number, reached: boolean): boolean {
    if (this.ports !== null && !this.ports.has(port)) return false;
    if (this.exclude.has(ip)) return false;
    if (this.addresses.has(ip)) return true;
    if (hostname !== null && this.names.has(hostname.toLowerCase().replace(/\.$/, ''))) return true;
    return reached;
  }
}

// ---------------------------------------------------------------- services

const IDENTITY_FIELDS = ['product', 'vendor', 'version', 'deviceType'] as const;

interface Identity {
  protocol: string | null;
  /** False when the observation carried no identification at all (its identity fields say nothing). */
  known: boolean;
  product: string | null;
  vendor: string | null;
  version: string | null;
  deviceType: string | null;
}

interface ObsRow {
  serviceId: number;
  runId: string;
  observedAt: string;
  open: boolean;
  identity: Identity;
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function identityOf(protocol: string | null, json: string): Identity {
  const raw = parseJson<Record<string, unknown>>(json, {});
  const id = {
    product: str(raw.product),
    vendor: str(raw.vendor),
    version: str(raw.version),
    deviceType: str(raw.deviceType),
  };
  const known = Object.values(id).some((v) => v !== null) || str(raw.cpe) !== null;
  return { protocol, known, ...id };
}

type Changes = Record<string, [string | null, string | null]>;

/** Fields that differ between two observations, comparing only what both say. */
function identityChanges(a: Identity, b: Identity): Changes {
  const out: Changes = {};
  if (a.protocol !== null && b.protocol !== null && a.protocol !== b.protocol) out.protocol = [a.protocol, b.protocol];
  if (a.known && b.known) {
    for (const f of IDENTITY_FIELDS) if (a[f] !== b[f]) out[f] = [a[f], b[f]];
  }
  return out;
}

/** Whether `o` shows B's identity: true, false, or null when nothing can be compared. */
function sameIdentity(o: Identity, b: Identity): boolean | null {
  const comparable = (o.protocol !== null && b.protocol !== null) || (o.known && b.known);
  if (!comparable) return null;
  return Object.keys(identityChanges(o, b)).length === 0;
}

const OBS_COLUMNS = ['o.service_id', 'o.run_id', 'o.observed_at', 'o.status', 'o.protocol', 'o.identity'] as const;

function obsRow(r: { service_id: number; run_id: string; observed_at: string; status: string; protocol: string | null; identity: string }): ObsRow {
  return {
    serviceId: Number(r.service_id),
    runId: r.run_id,
    observedAt: r.observed_at,
    open: isOpen(r.status as Status),
    identity: identityOf(r.protocol, r.identity),
  };
}

function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Observations of one run for the given services, by service id. */
async function observationsOf(db: Db, runId: string, serviceIds: number[]): Promise<Map<number, ObsRow>> {
  const out = new Map<number, ObsRow>();
  for (const part of chunks([...new Set(serviceIds)])) {
    const rows = await db
      .selectFrom('observations as o')
      .select(OBS_COLUMNS)
      .where('o.run_id', '=', runId)
      .where('o.service_id', 'in', part)
      .execute();
    for (const r of rows) out.set(Number(r.service_id), obsRow(r));
  }
  return out;
}

/** What an event says about a service: its row, its asset's attribution, tags and honeypot verdict. */
interface ServiceInfo {
  id: number;
  ip: string;
  port: number;
  hostname: string | null;
  protocol: string | null;
  product: string | null;
  vendor: string | null;
  version: string | null;
  deviceType: string | null;
  assetDeviceType: string | null;
  honeypot: boolean;
  country: string | null;
  org: string | null;
  tags: string[];
  /** Highest severity of its open, untriaged findings now. */
  maxSeverity: Severity | null;
}

async function serviceInfos(db: Db, ids: Iterable<number>): Promise<Map<number, ServiceInfo>> {
  const out = new Map<number, ServiceInfo>();
  const assetOf = new Map<number, number>();
  for (const part of chunks([...new Set(ids)])) {
    const rows = await db
      .selectFrom('services as s')
      .innerJoin('assets as a', 'a.id', 's.asset_id')
      .select([
        's.id',
        's.asset_id',
        's.ip',
        's.port',
        's.protocol',
        's.product',
        's.vendor',
        's.version',
        's.device_type',
        'a.hostname',
        'a.device_type as asset_device_type',
        'a.honeypot',
        'a.country',
        'a.org',
        'a.as_org',
      ])
      .where('s.id', 'in', part)
      .execute();
    for (const r of rows) {
      assetOf.set(Number(r.id), Number(r.asset_id));
      out.set(Number(r.id), {
        id: Number(r.id),
        ip: r.ip,
        port: Number(r.port),
        hostname: r.hostname,
        protocol: r.protocol,
        product: r.product,
        vendor: r.vendor,
        version: r.version,
        deviceType: r.device_type,
        assetDeviceType: r.asset_device_type,
        honeypot: Number(r.honeypot) !== 0,
        country: r.country,
        org: r.org ?? r.as_org,
        tags: [],
        maxSeverity: null,
      });
    }
    const sev = await db
      .selectFrom('findings')
      .select(['service_id', 'severity'])
      .where('service_id', 'in', part)
      .where('state', '=', 'open')
      .where('user_state', 'is', null)
      .execute();
    for (const f of sev) {
      const info = out.get(Number(f.service_id));
      if (info && SEVERITIES.indexOf(f.severity as Severity) > (info.maxSeverity === null ? -1 : SEVERITIES.indexOf(info.maxSeverity))) {
        info.maxSeverity = f.severity as Severity;
      }
    }
  }
  const tags = new Map<number, string[]>();
  for (const part of chunks([...new Set(assetOf.values())])) {
    const rows = await db.selectFrom('asset_tags').select(['asset_id', 'tag']).where('asset_id', 'in', part).execute();
    for (const r of rows) tags.set(Number(r.asset_id), [...(tags.get(Number(r.asset_id)) ?? []), r.tag]);
  }
  for (const [sid, aid] of assetOf) out.get(sid)!.tags = (tags.get(aid) ?? []).sort();
  return out;
}

/**
 * The history of the hosts of some services over the window's runs: every observation of
 * every service on those addresses, and the hosts each run found unreachable (its
 * 'unverified' finding events). Used for coverage by evidence and for episode starts.
 */
interface HostHistory {
  /** serviceId → runId → observation */
  obs: Map<number, Map<string, ObsRow>>;
  /** runId → addresses that answered on some port */
  reached: Map<string, Set<string>>;
  /** runId → addresses found unreachable */
  unreachable: Map<string, Set<string>>;
}

async function hostHistory(db: Db, w: Window, ips: string[]): Promise<HostHistory> {
  const h: HostHistory = { obs: new Map(), reached: new Map(), unreachable: new Map() };
  const runIds = new Set(w.runs.map((r) => r.id));
  if (w.a !== null) runIds.add(w.a.id);
  const lower = w.since ?? w.a?.startedAt;
  const add = (m: Map<string, Set<string>>, run: string, ip: string) => {
    const s = m.get(run) ?? new Set<string>();
    s.add(ip);
    m.set(run, s);
  };
  for (const part of chunks([...new Set(ips)])) {
    let q = db
      .selectFrom('observations as o')
      .innerJoin('services as s', 's.id', 'o.service_id')
      .innerJoin('scan_runs as r', 'r.id', 'o.run_id')
      .select([...OBS_COLUMNS, 's.ip'])
      .where('s.ip', 'in', part)
      .where('r.started_at', '<=', w.b.startedAt);
    if (lower !== undefined) q = q.where('r.started_at', '>=', lower);
    for (const r of await q.execute()) {
      if (!runIds.has(r.run_id)) continue;
      const o = obsRow(r);
      const per = h.obs.get(o.serviceId) ?? new Map<string, ObsRow>();
      per.set(o.runId, o);
      h.obs.set(o.serviceId, per);
      if (o.open) add(h.reached, o.runId, r.ip);
    }
    const un = await db
      .selectFrom('finding_events as e')
      .innerJoin('findings as f', 'f.id', 'e.finding_id')
      .innerJoin('services as s', 's.id', 'f.service_id')
      .select(['e.run_id', 's.ip'])
      .where('e.event', '=', 'unverified')
      .where('s.ip', 'in', part)
      .where('e.run_id', 'is not', null)
      .execute();
    for (const r of un) if (r.run_id !== null && runIds.has(r.run_id)) add(h.unreachable, r.run_id, r.ip);
  }
  return h;
}

/** The first run of the last unbroken stretch where `holds` is true (null: the run says nothing either way). */
function stretchStart(runs: RunInfo[], holds: (run: RunInfo) => boolean | null): RunInfo | null {
  let start: RunInfo | null = null;
  for (const r of runs) {
    const h = holds(r);
    if (h === true) start ??= r;
    else if (h === false) start = null;
  }
  return start;
}

class Coverage {
  private readonly scopes = new Map<string, RunScope>();
  constructor(private readonly history: HostHistory) {}

  /** The run completed and was asked to scan this service (or reached its host). */
  covers(run: RunInfo, svc: ServiceInfo): boolean {
    if (run.state !== 'completed') return false;
    let scope = this.scopes.get(run.id);
    if (scope === undefined) {
      scope = new RunScope(run);
      this.scopes.set(run.id, scope);
    }
    const reached = this.history.reached.get(run.id)?.has(svc.ip) === true || this.history.unreachable.get(run.id)?.has(svc.ip) === true;
    return scope.includes(svc.ip, svc.hostname, svc.port, reached);
  }

  observed(run: RunInfo, serviceId: number): ObsRow | null {
    const o = this.history.obs.get(serviceId)?.get(run.id);
    return o?.open ? o : null;
  }
}

interface Marker {
  runId: string | null;
  at: string;
}

const markerText = (m: Marker): string => m.runId ?? `at:${m.at}`;

function serviceEvent(
  kind: EventKind,
  svc: ServiceInfo,
  ident: Identity | null,
  marker: Marker,
  keyParts: string[],
  changes: Changes | null,
): ExposureEvent {
  const own = ident?.known === true ? ident : null;
  const capped: Changes | null = changes === null ? null : {};
  if (changes !== null && capped !== null) {
    for (const [f, [from, to]] of Object.entries(changes)) capped[f] = [cap(from, MAX.text), cap(to, MAX.text)];
  }
  return {
    kind,
    key: [kind, svc.ip, String(svc.port), ...keyParts, markerText(marker)].join('|'),
    at: marker.at,
    runId: marker.runId,
    ip: svc.ip,
    port: svc.port,
    protocol: cap(ident?.protocol ?? svc.protocol, MAX.short),
    product: cap(own ? own.product : svc.product, MAX.text),
    version: cap(own ? own.version : svc.version, MAX.version),
    deviceType: cap((own ? own.deviceType : svc.deviceType) ?? svc.assetDeviceType, MAX.short),
    tags: svc.tags.slice(0, MAX.tags).map((t) => cap(t, MAX.tag)!),
    country: cap(svc.country, MAX.short),
    org: cap(svc.org, MAX.text),
    checkId: null,
    severity: svc.maxSeverity,
    title: null,
    changes: capped,
  };
}

interface Collected {
  events: ExposureEvent[];
  honeypot: number;
  falsePositive: number;
}

/** service-new, service-gone, service-changed. */
async function serviceEvents(db: Db, w: Window, out: Collected, includeHoneypots: boolean): Promise<void> {
  const { a, b } = w;
  // Candidates, found in SQL so that only differences cross the wire.
  let newQ = db.selectFrom('observations as o').select(OBS_COLUMNS).where('o.run_id', '=', b.id);
  if (w.since !== null) {
    const since = w.since;
    newQ = newQ.where((eb) =>
      eb.not(
        eb.exists(
          eb
            .selectFrom('observations as p')
            .innerJoin('scan_runs as r', 'r.id', 'p.run_id')
            .select('p.id')
            .whereRef('p.service_id', '=', 'o.service_id')
            .where('r.started_at', '<', since),
        ),
      ),
    );
  } else if (a !== null) {
    newQ = newQ.where((eb) =>
      eb.not(eb.exists(eb.selectFrom('observations as p').select('p.id').whereRef('p.service_id', '=', 'o.service_id').where('p.run_id', '=', a.id))),
    );
  }
  const fresh = (await newQ.execute()).map(obsRow).filter((o) => o.open);

  let gone: ObsRow[] = [];
  let changed: { a: ObsRow; b: ObsRow }[] = [];
  const tls = new Map<number, { old: string | null; new: string | null; marker: Marker; order: number }>();
  if (a !== null) {
    if (b.state === 'completed') {
      gone = (
        await db
          .selectFrom('observations as o')
          .select(OBS_COLUMNS)
          .where('o.run_id', '=', a.id)
          .where((eb) =>
            eb.not(eb.exists(eb.selectFrom('observations as p').select('p.id').whereRef('p.service_id', '=', 'o.service_id').where('p.run_id', '=', b.id))),
          )
          .execute()
      )
        .map(obsRow)
        .filter((o) => o.open);
    }
    const pairs = await db
      .selectFrom('observations as o')
      .innerJoin('observations as n', 'n.service_id', 'o.service_id')
      .select(OBS_COLUMNS)
      .select(['n.observed_at as n_observed_at', 'n.status as n_status', 'n.protocol as n_protocol', 'n.identity as n_identity'])
      .where('o.run_id', '=', a.id)
      .where('n.run_id', '=', b.id)
      .where((eb) => eb.or([eb('o.identity', '!=', eb.ref('n.identity')), eb('o.protocol', 'is distinct from', eb.ref('n.protocol'))]))
      .execute();
    changed = pairs.map((r) => ({
      a: obsRow(r),
      b: obsRow({ service_id: r.service_id, run_id: b.id, observed_at: r.n_observed_at, status: r.n_status, protocol: r.n_protocol, identity: r.n_identity }),
    }));

    // TLS: the store keeps one summary per service, with each change in service_events.
    const runIndex = new Map(w.runs.map((r, i) => [r.id, i]));
    const tlsRows = await db
      .selectFrom('service_events as e')
      .innerJoin('scan_runs as r', 'r.id', 'e.run_id')
      .select(['e.id', 'e.service_id', 'e.run_id', 'e.at', 'e.old_value', 'e.new_value'])
      .where('e.field', '=', 'tls')
      .where('r.started_at', '<=', b.startedAt)
      .where('r.started_at', '>=', w.since ?? a.startedAt)
      .orderBy('e.id')
      .execute();
    for (const e of tlsRows) {
      const order = e.run_id === null ? undefined : runIndex.get(e.run_id);
      if (order === undefined) continue;
      const sid = Number(e.service_id);
      const prev = tls.get(sid);
      tls.set(sid, { old: prev ? prev.old : e.old_value, new: e.new_value, marker: { runId: e.run_id, at: e.at }, order });
    }
    if (tls.size > 0) {
      const inA = await observationsOf(db, a.id, [...tls.keys()]);
      const inB = await observationsOf(db, b.id, [...tls.keys()]);
      for (const [sid, t] of tls) {
        if (t.old === t.new || !inA.get(sid)?.open || !inB.get(sid)?.open) tls.delete(sid);
      }
    }
  }

  const ids = new Set<number>([...fresh, ...gone].map((o) => o.serviceId));
  for (const c of changed) ids.add(c.a.serviceId);
  for (const sid of tls.keys()) ids.add(sid);
  if (ids.size === 0) return;
  const infos = await serviceInfos(db, ids);
  const history = await hostHistory(db, w, [...infos.values()].map((s) => s.ip));
  const cov = new Coverage(history);
  const push = (svc: ServiceInfo, ev: ExposureEvent) => {
    if (svc.honeypot && !includeHoneypots) out.honeypot++;
    else out.events.push(ev);
  };

  // A service in B that A did not show is new, unless A could not have seen it and it was known before.
  let unseenByA = fresh;
  if (a !== null && w.since === null) {
    const blind = fresh.filter((o) => !cov.covers(a, infos.get(o.serviceId)!));
    const known = await observedUpTo(db, a, blind.map((o) => o.serviceId));
    unseenByA = fresh.filter((o) => !known.has(o.serviceId) || cov.covers(a, infos.get(o.serviceId)!));
  }
  for (const o of unseenByA) {
    const svc = infos.get(o.serviceId)!;
    const start = stretchStart(w.runs, (r) => (cov.observed(r, svc.id) ? true : cov.covers(r, svc) ? false : null)) ?? b;
    const at = cov.observed(start, svc.id)?.observedAt ?? o.observedAt;
    push(svc, serviceEvent('service-new', svc, o.identity, { runId: start.id, at }, [], null));
  }

  for (const o of gone) {
    const svc = infos.get(o.serviceId)!;
    if (!cov.covers(b, svc)) continue;
    const start = stretchStart(w.runs, (r) => (cov.observed(r, svc.id) ? false : cov.covers(r, svc) ? true : null)) ?? b;
    push(svc, serviceEvent('service-gone', svc, o.identity, { runId: start.id, at: start.finishedAt ?? start.startedAt }, [], null));
  }

  const changedBy = new Map(changed.map((c) => [c.a.serviceId, c]));
  for (const sid of new Set([...changedBy.keys(), ...tls.keys()])) {
    const svc = infos.get(sid)!;
    const c = changedBy.get(sid);
    const t = tls.get(sid);
    const changes: Changes = c ? identityChanges(c.a.identity, c.b.identity) : {};
    let marker: Marker | null = null;
    let order = -1;
    if (c && Object.keys(changes).length > 0) {
      const start = stretchStart(w.runs, (r) => {
        const seen = cov.observed(r, sid);
        return seen ? sameIdentity(seen.identity, c.b.identity) : null;
      }) ?? b;
      marker = { runId: start.id, at: cov.observed(start, sid)?.observedAt ?? c.b.observedAt };
      order = w.runs.indexOf(start);
    }
    if (t) {
      changes.tls = [t.old, t.new];
      if (t.order > order) marker = t.marker;
    }
    if (marker === null) continue;
    const ident = c?.b.identity ?? (await observationsOf(db, b.id, [sid])).get(sid)?.identity ?? null;
    const fields = Object.keys(changes).sort();
    push(svc, serviceEvent('service-changed', svc, ident, marker, [fields.join(',')], changes));
  }
}

/** Services among `ids` with an observation in a run at or before `run`. */
async function observedUpTo(db: Db, run: RunInfo, ids: number[]): Promise<Set<number>> {
  const out = new Set<number>();
  for (const part of chunks(ids)) {
    const rows = await db
      .selectFrom('observations as o')
      .innerJoin('scan_runs as r', 'r.id', 'o.run_id')
      .select(['o.service_id', 'r.id', 'r.started_at'])
      .where('o.service_id', 'in', part)
      .where('r.started_at', '<=', run.startedAt)
      .execute();
    for (const r of rows) if (runOrder({ id: r.id, startedAt: r.started_at }, run) <= 0) out.add(Number(r.service_id));
  }
  return out;
}

// ---------------------------------------------------------------- findings

type FindingState = 'absent' | 'open' | 'resolved' | 'unverified';

const STATE_AFTER: Record<string, FindingState> = {
  opened: 'open',
  reopened: 'open',
  seen: 'open',
  resolved: 'resolved',
  unverified: 'unverified',
};

interface HistoryEvent {
  id: number;
  findingId: number;
  runId: string | null;
  startedAt: string | null;
  at: string;
  event: string;
  detail: string | null;
}

type Place = 'before' | 'range' | 'after';

function placeOf(w: Window, e: HistoryEvent, baseline: boolean): Place {
  if (e.runId !== null && e.startedAt !== null) {
    const run = { id: e.runId, startedAt: e.startedAt };
    if (runOrder(run, w.b) > 0) return 'after';
    if (baseline) return e.runId === w.b.id ? 'range' : 'before';
    return inRange(w, run) ? 'range' : 'before';
  }
  if (e.at > w.hi) return 'after';
  if (baseline || w.lo === null) return 'before';
  return e.at > w.lo ? 'range' : 'before';
}

/** Finding ids with an event in the window (for a baseline: an event of run B). */
async function findingsWithEvents(db: Db, w: Window, baseline: boolean): Promise<number[]> {
  const ids = new Set<number>();
  if (baseline) {
    const rows = await db
      .selectFrom('finding_events')
      .select('finding_id')
      .distinct()
      .where('run_id', '=', w.b.id)
      .where('event', '!=', 'user-state')
      .execute();
    for (const r of rows) ids.add(Number(r.finding_id));
    return [...ids];
  }
  const lower = w.since ?? w.a!.startedAt;
  const byRun = await db
    .selectFrom('finding_events as e')
    .innerJoin('scan_runs as r', 'r.id', 'e.run_id')
    .select(['e.finding_id', 'r.id', 'r.started_at'])
    .where('e.event', '!=', 'user-state')
    .where('r.started_at', '<=', w.b.startedAt)
    .where('r.started_at', '>=', lower)
    .execute();
  for (const r of byRun) if (inRange(w, { id: r.id, startedAt: r.started_at })) ids.add(Number(r.finding_id));
  const runless = await db
    .selectFrom('finding_events')
    .select('finding_id')
    .where('run_id', 'is', null)
    .where('event', '!=', 'user-state')
    .where('at', '>', w.lo ?? '')
    .where('at', '<=', w.hi)
    .execute();
  for (const r of runless) ids.add(Number(r.finding_id));
  return [...ids];
}

interface Decision {
  kind: EventKind;
  marker: HistoryEvent;
  changes: Changes | null;
}

function lastOf(events: HistoryEvent[], kinds: string[]): HistoryEvent | undefined {
  for (let i = events.length - 1; i >= 0; i--) if (kinds.includes(events[i]!.event)) return events[i];
  return undefined;
}

/** What a finding's history says happened in the window, if anything. */
function decide(history: HistoryEvent[], w: Window, baseline: boolean): Decision | null {
  let before: FindingState = 'absent';
  let after: FindingState = 'absent';
  const known: HistoryEvent[] = [];
  const range: HistoryEvent[] = [];
  for (const e of history) {
    const place = placeOf(w, e, baseline);
    if (place === 'after') continue;
    known.push(e);
    if (place === 'range') range.push(e);
    const s = STATE_AFTER[e.event];
    if (s === undefined) continue;
    after = s;
    if (place === 'before' && !baseline) before = s;
  }
  if (range.length === 0) return null;
  const opening = () => lastOf(known, ['opened', 'reopened']) ?? known[known.length - 1]!;
  if (baseline) return after === 'open' ? { kind: 'finding-opened', marker: opening(), changes: null } : null;
  if (after === 'open') {
    if (before === 'absent') return { kind: 'finding-opened', marker: opening(), changes: null };
    const reopened = lastOf(range, ['reopened']);
    if (before === 'resolved' || reopened) return { kind: 'finding-reopened', marker: reopened ?? opening(), changes: null };
    const changes = range.filter((e) => e.event === 'changed');
    if (changes.length === 0) return null;
    const first = parseJson<{ from?: unknown }>(changes[0]!.detail, {});
    const last = parseJson<{ to?: unknown }>(changes[changes.length - 1]!.detail, {});
    return { kind: 'finding-changed', marker: changes[changes.length - 1]!, changes: { severity: [str(first.from), str(last.to)] } };
  }
  if (after === 'resolved') {
    return before === 'open' || before === 'unverified' ? { kind: 'finding-resolved', marker: lastOf(known, ['resolved'])!, changes: null } : null;
  }
  if (after === 'unverified') {
    if (before === 'open') return { kind: 'finding-unverified', marker: lastOf(known, ['unverified'])!, changes: null };
    if (before === 'absent') return { kind: 'finding-opened', marker: opening(), changes: null };
    if (before === 'resolved') return { kind: 'finding-reopened', marker: opening(), changes: null };
  }
  return null;
}

async function findingEvents(db: Db, w: Window, baseline: boolean, out: Collected, includeHoneypots: boolean): Promise<void> {
  const ids = await findingsWithEvents(db, w, baseline);
  for (const part of chunks(ids)) {
    const rows = await db
      .selectFrom('finding_events as e')
      .leftJoin('scan_runs as r', 'r.id', 'e.run_id')
      .select(['e.id', 'e.finding_id', 'e.run_id', 'e.at', 'e.event', 'e.detail', 'r.started_at'])
      .where('e.finding_id', 'in', part)
      .where('e.event', '!=', 'user-state')
      .orderBy('e.id')
      .execute();
    const byFinding = new Map<number, HistoryEvent[]>();
    for (const r of rows) {
      const e: HistoryEvent = {
        id: Number(r.id),
        findingId: Number(r.finding_id),
        runId: r.run_id,
        startedAt: r.started_at,
        at: r.at,
        event: r.event,
        detail: r.detail,
      };
      byFinding.set(e.findingId, [...(byFinding.get(e.findingId) ?? []), e]);
    }
    const decisions = new Map<number, Decision>();
    for (const [fid, history] of byFinding) {
      const d = decide(history, w, baseline);
      if (d !== null) decisions.set(fid, d);
    }
    if (decisions.size === 0) continue;
    const findings = await db
      .selectFrom('findings')
      .select(['id', 'service_id', 'check_id', 'severity', 'title', 'user_state'])
      .where('id', 'in', [...decisions.keys()])
      .execute();
    const infos = await serviceInfos(db, findings.map((f) => Number(f.service_id)));
    const inB = await observationsOf(db, w.b.id, findings.map((f) => Number(f.service_id)));
    for (const f of findings) {
      const d = decisions.get(Number(f.id))!;
      const svc = infos.get(Number(f.service_id))!;
      if (f.user_state === 'false-positive') {
        out.falsePositive++;
        continue;
      }
      if (svc.honeypot && !includeHoneypots) {
        out.honeypot++;
        continue;
      }
      const marker = { runId: d.marker.runId, at: d.marker.at };
      const severity = f.severity as Severity;
      // A rescore's 'changed' records severities only: equal ones mean the title changed (its old text is not kept).
      const sev = d.changes?.severity;
      const changes = sev !== undefined && sev[0] === sev[1] ? { title: [null, f.title] as [null, string] } : d.changes;
      const ev = serviceEvent(d.kind, svc, inB.get(svc.id)?.identity ?? null, marker, [f.check_id, severity], changes);
      out.events.push({ ...ev, checkId: f.check_id, severity, title: cap(f.title, MAX.text) });
    }
  }
}

// ---------------------------------------------------------------- entry points

function sortEvents(events: ExposureEvent[]): ExposureEvent[] {
  const rank = (k: EventKind) => EVENT_KINDS.indexOf(k);
  const keyed = events.map((e) => ({ e, ip: ipKey(e.ip) }));
  keyed.sort(
    (x, y) =>
      rank(x.e.kind) - rank(y.e.kind) ||
      (x.ip < y.ip ? -1 : x.ip > y.ip ? 1 : 0) ||
      (x.e.port ?? 0) - (y.e.port ?? 0) ||
      (x.e.checkId ?? '').localeCompare(y.e.checkId ?? '') ||
      (x.e.key < y.e.key ? -1 : x.e.key > y.e.key ? 1 : 0),
  );
  return keyed.map((k) => k.e);
}

async function compute(db: Db, a: RunInfo | null, b: RunInfo, since: string | null, opts: DiffOptions): Promise<DiffResult> {
  const w = await makeWindow(db, a, b, since);
  const out: Collected = { events: [], honeypot: 0, falsePositive: 0 };
  const include = opts.includeHoneypots === true;
  await serviceEvents(db, w, out, include);
  await findingEvents(db, w, a === null && since === null, out, include);
  const events = sortEvents(out.events);
  return { from: a === null ? null : publicRun(a), since, to: publicRun(b), summary: summarize(events, out, b), events };
}

function summarize(events: ExposureEvent[], out: Collected, b: RunInfo): DiffSummary {
  const counts = Object.fromEntries(EVENT_KINDS.map((k) => [k, 0])) as Record<EventKind, number>;
  for (const e of events) counts[e.kind]++;
  return { counts, total: events.length, excluded: { honeypot: out.honeypot, falsePositive: out.falsePositive }, complete: b.state === 'completed' };
}

/**
 * The events between run A and run B (A older; null = baseline: everything in B is new).
 * Unknown ids, A = B and A newer than B are DiffErrors naming the recent runs.
 */
export async function diffRuns(db: Db, runA: string | null, runB: string, opts: DiffOptions = {}): Promise<DiffResult> {
  const b = await requireRun(db, runB);
  const a = runA === null ? null : await requireRun(db, runA);
  if (a !== null) {
    if (a.id === b.id) throw new DiffError(`both runs are ${quoteId(a.id)}: give two different runs`);
    if (runOrder(a, b) > 0) {
      throw new DiffError(`run ${a.id} (started ${a.startedAt}) is newer than ${b.id} (started ${b.startedAt}): give the older run first`);
    }
  }
  return compute(db, a, b, null, opts);
}

/**
 * The events of the window starting at `since` (ISO-8601): B is the latest completed run,
 * A the latest completed run started before `since` (none: every service of B not seen before
 * `since` is new). When no completed run started in the window, nothing changed.
 */
export async function diffSince(db: Db, since: string, opts: DiffOptions = {}): Promise<DiffResult> {
  const t = Date.parse(since);
  if (Number.isNaN(t)) throw new DiffError(`--since: ${quoteId(since)} is not a time`);
  const iso = new Date(t).toISOString();
  const [b] = await latestCompleted(db, 1);
  if (b === undefined) throw new DiffError(`no completed scan run to compare; ${await recentRunsText(db)}`);
  if (b.startedAt < iso) {
    const empty: Collected = { events: [], honeypot: 0, falsePositive: 0 };
    return { from: publicRun(b), since: iso, to: publicRun(b), summary: summarize([], empty, b), events: [] };
  }
  const [a] = await latestCompleted(db, 1, iso);
  return compute(db, a ?? null, b, iso, opts);
}
