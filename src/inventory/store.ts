/**
 * The inventory's contract: what the engine writes and what the CLI, reports and API read.
 * One implementation (kysely-store.ts) serves both SQLite and PostgreSQL with the same queries.
 *
 * Patient values are never stored here: the records handed to `recordService` are already
 * reduced by the probes (DESIGN.md "Patient data is never kept"), and this layer adds no field
 * that could hold one; `data` is stored exactly as given.
 */
import type { Profile, RecordAttribution, RunState, ServiceRecord, Severity } from '../core/types.js';
import type { FacetOptions, FacetResult, SearchOptions, SearchResult } from './search/index.js';

export interface RunRecord {
  id: string;
  startedAt: string;
  finishedAt: string | null;
  state: RunState;
  profile: Profile;
  targets: string[];
  options: Record<string, unknown>;
  /** Opaque to the inventory: the engine's resume point ({seed, doneBelow, doneAbove}). */
  checkpoint: unknown | null;
  stats: Record<string, unknown>;
  totalTargets: number;
  doneTargets: number;
}

export interface AssetRow {
  id: number;
  ip: string;
  hostname: string | null;
  firstSeen: string;
  lastSeen: string;
  vendor: string | null;
  product: string | null;
  deviceType: string | null;
  evidence: string[];
  /** Number of services (ip, port) known on this asset. */
  services: number;
  /** Findings observed open that the user has not triaged (user_state null). */
  openFindings: number;
  /** Highest severity among those open findings, null when there are none. */
  maxSeverity: Severity | null;
}

export interface ServiceRow {
  id: number;
  ip: string;
  port: number;
  protocol: string | null;
  status: string;
  product: string | null;
  vendor: string | null;
  version: string | null;
  cpe: string | null;
  deviceType: string | null;
  tls: unknown | null;
  firstSeen: string;
  lastSeen: string;
}

export type FindingState = 'open' | 'resolved' | 'unverified';
export type UserState = 'accepted-risk' | 'false-positive' | 'fixed';
export const USER_STATES: readonly UserState[] = ['accepted-risk', 'false-positive', 'fixed'];
export const FINDING_STATES: readonly FindingState[] = ['open', 'resolved', 'unverified'];

export interface FindingRow {
  id: number;
  ip: string;
  port: number;
  checkId: string;
  severity: Severity;
  title: string;
  confidence: string;
  evidence: Record<string, unknown> | null;
  state: FindingState;
  userState: string | null;
  firstSeen: string;
  lastSeen: string;
  resolvedAt: string | null;
}

/**
 * Filters shared by the list queries. Asset-level criteria (ip, deviceType, vendor, product)
 * select assets; service-level criteria (protocol, port) select services (listAssets keeps
 * the assets that have such a service); minSeverity/hasFindings look at open, untriaged findings
 * (listFindings: minSeverity filters the findings themselves, hasFindings is ignored).
 */
export interface AssetFilter {
  /** Exact address or CIDR prefix like 127.77.0.0/16 (IPv4 or IPv6). */
  ip?: string;
  deviceType?: string;
  /** Case-insensitive exact match. */
  vendor?: string;
  /** Case-insensitive exact match. */
  product?: string;
  protocol?: string;
  port?: number;
  minSeverity?: Severity;
  hasFindings?: boolean;
  limit?: number;
  offset?: number;
}

export interface InventorySummary {
  assets: number;
  services: number;
  openFindings: number;
  /** Open, untriaged findings per severity (every severity present, zero when none). */
  bySeverity: Record<string, number>;
  /** Assets per device type ('unknown' for assets without one). */
  byDeviceType: Record<string, number>;
  runs: number;
  /** Hosts flagged as likely honeypots or decoys. */
  honeypots: number;
  /** False when the counts above leave those hosts out (the default). */
  honeypotsIncluded: boolean;
}

/** A service's latest stored observation, as `medsurface rescore` re-judges it. */
export interface StoredObservation {
  serviceId: number;
  assetId: number;
  ip: string;
  port: number;
  protocol: string | null;
  status: string;
  observedAt: string;
  /** Profile of the run that made the observation (intrusive checks need intrusive data). */
  profile: Profile;
  data: Record<string, unknown>;
  tls: unknown | null;
  identity: { product: string | null; vendor: string | null; version: string | null; cpe: string | null; deviceType: string | null };
}

/** What a rescore concluded for one service. */
export interface RescoredService {
  serviceId: number;
  findings: ServiceRecord['findings'];
  risk: number;
}

export interface RescoreSummary {
  services: number;
  opened: number;
  reopened: number;
  changed: number;
  /** Open findings whose check ran on the stored observation and no longer fires: a rescan resolves them. */
  noLongerFiring: number;
}

export interface Inventory {
  readonly kind: 'sqlite' | 'postgres';
  /** File path or the PostgreSQL URL with any password masked. */
  readonly location: string;
  migrate(): Promise<void>;
  createRun(run: {
    id?: string;
    profile: Profile;
    targets: string[];
    options: Record<string, unknown>;
    totalTargets: number;
  }): Promise<RunRecord>;
  getRun(id: string): Promise<RunRecord | null>;
  listRuns(limit?: number): Promise<RunRecord[]>;
  saveCheckpoint(runId: string, checkpoint: unknown, doneTargets: number, stats: Record<string, unknown>): Promise<void>;
  /** Stores one output record (only records whose status says a service answered, plus hosts that did not answer
   *  are passed via finishRun's unreachable list). Upserts asset/service/observation/findings, updates last_seen,
   *  opens new findings (event 'opened'), reopens findings whose user_state was 'fixed' or whose state was 'resolved' (event 'reopened'). */
  recordService(runId: string, rec: ServiceRecord): Promise<void>;
  /** Batched variant used by the engine's single writer (one transaction). */
  recordServices(runId: string, recs: ServiceRecord[]): Promise<void>;
  /** Ends a run. For state 'completed': for every service observed in this run, each open/unverified finding whose
   *  check id is in that observation's checks_run and was NOT raised in this run becomes 'resolved' (event).
   *  Services of hosts listed in `unreachableHosts` (targets that had services before but answered nothing now)
   *  get their open findings marked 'unverified', never resolved. For 'interrupted'/'failed': resolves nothing. */
  finishRun(
    runId: string,
    state: RunState,
    opts: { stats: Record<string, unknown>; unreachableHosts?: string[] },
  ): Promise<void>;
  /** Addresses that had at least one service before; the engine asks this for the hosts of a finished run. */
  knownHosts(ips: string[]): Promise<string[]>;
  /** Latest observation of each service with id > afterServiceId, in service id order, at most `limit`. */
  latestObservations(afterServiceId: number, limit: number): Promise<StoredObservation[]>;
  /**
   * Applies a rescore: new findings open (event 'opened', detail source rescore), findings firing
   * again reopen, changed severities/titles are updated (event 'changed'); services and assets get
   * their new risk, assets their honeypot verdict. Resolves nothing (only a scan can), and leaves
   * first/last seen as they were: nothing was observed.
   */
  applyRescore(
    services: RescoredService[],
    assets: { assetId: number; risk: number; honeypotSignals: string[] }[],
  ): Promise<Omit<RescoreSummary, 'services'>>;
  /** Refreshes every asset's country/AS/organisation with `attribute` (`medsurface attribute`); returns how many changed. */
  attributeAssets(attribute: (ip: string) => RecordAttribution): Promise<{ assets: number; changed: number }>;
  listAssets(filter?: AssetFilter): Promise<AssetRow[]>;
  getAsset(ip: string): Promise<{ asset: AssetRow; services: ServiceRow[]; findings: FindingRow[] } | null>;
  listServices(filter?: AssetFilter): Promise<ServiceRow[]>;
  listFindings(filter?: AssetFilter & { state?: string; checkId?: string }): Promise<FindingRow[]>;
  setUserState(findingId: number, userState: UserState | null, note?: string): Promise<void>;
  /** Headline counts; hosts flagged as honeypots are left out unless `includeHoneypots`. */
  summary(opts?: { includeHoneypots?: boolean }): Promise<InventorySummary>;
  close(): Promise<void>;
  /** Services (or, with `assets`, hosts) matching a search-language query (search/), one sorted page.
   *  A malformed query throws SearchQueryError (a UsageError) pointing at the bad token. */
  search(query: string, opts?: SearchOptions): Promise<SearchResult>;
  /** Counts per value of `field` (`port`, `devicetype`, `finding`, ...; `port:20` for 20 buckets) among the matches. */
  facets(query: string, field: string, opts?: FacetOptions): Promise<FacetResult>;
}
