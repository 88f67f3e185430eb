/**
 * The shapes the dashboard reads from the REST API (docs/api.md). The server builds them from
 * the inventory (src/inventory/store.ts, search/run-search.ts, metadata.ts); they are
 * repeated here because web/ is compiled on its own, for the browser. Fields the dashboard
 * does not rely on are optional: an older or newer server still renders.
 */

export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const ROLES = ['viewer', 'analyst', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export const PROFILES = ['safe', 'intrusive'] as const;
export type Profile = (typeof PROFILES)[number];

export const USER_STATES = ['accepted-risk', 'false-positive', 'fixed'] as const;
export type UserState = (typeof USER_STATES)[number];

export const CRITICALITIES = ['low', 'medium', 'high', 'critical'] as const;

export interface User {
  id: number | string;
  username: string;
  role: Role;
  canIntrusive: boolean;
  orgs: string[] | null;
}

export interface MeResponse {
  user: User;
  csrfToken: string;
}

/** A count per key; the server sends an object or a list of buckets (both are accepted). */
export type Counts = Record<string, number> | Array<{ value?: string | number | null; key?: string; name?: string; count: number }>;

export interface Summary {
  assets: number;
  services: number;
  openFindings: number;
  bySeverity: Counts;
  byDeviceType: Counts;
  byCountry: Counts;
  byProduct: Counts;
  /** Records counted (intrusive count-only queries) on services that answer without credentials. */
  recordsReachable: number;
  /** Services whose records are reachable without credentials. */
  servicesWithRecords?: number;
  honeypots: number;
  runs: number;
}

export interface TrendPoint {
  date: string;
  open: number;
}

export interface TopAsset {
  ip: string;
  risk: number;
  product: string | null;
  deviceType: string | null;
  openFindings: number;
  maxSeverity: Severity | null;
}

export interface HostAttribution {
  country: string | null;
  asn: number | null;
  org: string | null;
  honeypot: boolean;
}

export interface ServiceSearchRow {
  ip: string;
  port: number;
  hostname: string | null;
  protocol: string | null;
  status: string;
  product: string | null;
  vendor: string | null;
  version: string | null;
  cpe: string | null;
  deviceType: string | null;
  asset?: { vendor: string | null; product: string | null; deviceType: string | null } & Partial<HostAttribution>;
  maxSeverity: Severity | null;
  risk: number;
  firstSeen: string;
  lastSeen: string;
}

export interface AssetSearchRow extends Partial<HostAttribution> {
  ip: string;
  hostname: string | null;
  vendor: string | null;
  product: string | null;
  deviceType: string | null;
  services: number;
  ports: number[];
  maxSeverity: Severity | null;
  risk: number;
  firstSeen: string;
  lastSeen: string;
}

export interface Page<T> {
  total: number | null;
  rows: T[];
  query?: string;
}

export interface FacetBucket {
  value: string | number;
  count: number;
}

export interface FacetResponse {
  field: string;
  buckets: FacetBucket[];
  other?: number;
  missing?: number;
  total?: number;
}

export interface Finding {
  id: number;
  ip: string;
  port: number;
  checkId: string;
  severity: Severity;
  title: string;
  confidence: string;
  evidence: Record<string, unknown> | null;
  state: 'open' | 'resolved' | 'unverified';
  userState: UserState | null;
  userNote?: string | null;
  note?: string | null;
  firstSeen: string;
  lastSeen: string;
  resolvedAt?: string | null;
  description?: string;
  remediation?: string;
  references?: string[];
}

export interface AssetService {
  id?: number;
  ip?: string;
  port: number;
  protocol: string | null;
  status: string;
  product: string | null;
  vendor: string | null;
  version: string | null;
  cpe: string | null;
  deviceType: string | null;
  tls?: unknown;
  risk?: number;
  firstSeen: string;
  lastSeen: string;
  /** The latest observation(s) of the service, as the API gives them. */
  observation?: unknown;
  observations?: unknown;
  data?: unknown;
}

export type HistoryEntry =
  | { kind: 'service'; at: string; port: number; runId: string | null; field: string; oldValue: string | null; newValue: string | null }
  | { kind: 'finding'; at: string; port: number; runId: string | null; event: string; checkId: string; detail: unknown };

export interface AssetMetadata {
  tags: string[];
  owner: string | null;
  criticality: string | null;
  notes: string | null;
  listed?: boolean;
}

export interface AssetDetail {
  asset: {
    id?: number;
    ip: string;
    hostname: string | null;
    vendor: string | null;
    product: string | null;
    deviceType: string | null;
    evidence?: string[];
    firstSeen: string;
    lastSeen: string;
    risk?: number;
    maxSeverity?: Severity | null;
    openFindings?: number;
  } & Partial<HostAttribution>;
  services: AssetService[];
  findings: Finding[];
  history: HistoryEntry[];
  metadata: AssetMetadata | null;
}

export type RunState = string;

export interface ScanRun {
  id: string;
  startedAt: string;
  finishedAt: string | null;
  state: RunState;
  profile: Profile;
  targets: string[];
  totalTargets?: number;
  doneTargets?: number;
  stats?: Record<string, unknown>;
  launchedBy?: string | null;
  distributed?: boolean;
}

/** Shards of a distributed run (dist_shards), counted by state; `stalled` are running shards whose lease ran out. */
export interface ShardCounts {
  total: number;
  done: number;
  running: number;
  failed: number;
  stalled: number;
}

export interface ScanProgress {
  total: number;
  done: number;
  state: string;
  shards?: ShardCounts;
}

export interface ScanDetail {
  run: ScanRun;
  progress: ScanProgress;
  launchedBy?: string | null;
  /** Why a launched scan failed to start or ended in error. */
  error?: string | null;
}

/** An error answer of the API: `{error, message}`. */
export interface ApiErrorBody {
  error: string;
  message: string;
}
