/**
 * Row types of the inventory tables, as Kysely sees them. Column types are the ones that
 * behave the same on SQLite and PostgreSQL: text (times as ISO-8601 UTC strings, JSON as
 * text) and integer. The schema itself is created by migrations/0001-initial.ts.
 */
import type { Generated } from 'kysely';

export interface ScanRunsTable {
  id: string;
  started_at: string;
  finished_at: string | null;
  state: string;
  profile: string;
  targets_spec: string;
  options: string;
  checkpoint: string | null;
  stats: string;
  total_targets: number;
  done_targets: number;
}

export interface AssetsTable {
  id: Generated<number>;
  ip: string;
  /** Sortable form of `ip` (see ip-key.ts) so CIDR filters are index range scans. */
  ip_key: string;
  hostname: string | null;
  first_seen: string;
  last_seen: string;
  vendor: string | null;
  product: string | null;
  device_type: string | null;
  evidence: string;
  last_run_id: string | null;
  country: string | null;
  asn: number | null;
  as_org: string | null;
  org: string | null;
  org_source: string | null;
  attributed_at: string | null;
  owner: string | null;
  criticality: string | null;
  notes: string | null;
  listed: Generated<number>;
  honeypot: Generated<number>;
  honeypot_evidence: string | null;
  risk: Generated<number>;
}

export interface AssetTagsTable {
  asset_id: number;
  tag: string;
}

export interface ServiceEventsTable {
  id: Generated<number>;
  service_id: number;
  run_id: string | null;
  at: string;
  /** product, vendor, version, device_type, protocol, tls */
  field: string;
  old_value: string | null;
  new_value: string | null;
}

export interface MonitorJobsTable {
  name: string;
  last_started_at: string | null;
  last_finished_at: string | null;
  last_run_id: string | null;
  running_run_id: string | null;
  lock_owner: string | null;
  lock_until: string | null;
  state: string | null;
}

export interface ServicesTable {
  id: Generated<number>;
  asset_id: number;
  ip: string;
  ip_key: string;
  port: number;
  transport: string;
  protocol: string | null;
  status: string;
  product: string | null;
  vendor: string | null;
  version: string | null;
  cpe: string | null;
  device_type: string | null;
  tls: string | null;
  first_seen: string;
  last_seen: string;
  last_run_id: string | null;
  risk: Generated<number>;
  /** Rank of the highest active (open, untriaged) finding: 0 none, 1 info ... 5 critical (migrations/0008). */
  active_severity: Generated<number>;
}

export interface ObservationsTable {
  id: Generated<number>;
  run_id: string;
  service_id: number;
  observed_at: string;
  status: string;
  protocol: string | null;
  data: string;
  checks_run: string;
  identity: string;
}

export interface FindingsTable {
  id: Generated<number>;
  service_id: number;
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
  last_run_id: string | null;
}

export interface FindingEventsTable {
  id: Generated<number>;
  finding_id: number;
  run_id: string | null;
  at: string;
  event: string;
  detail: string | null;
}

/** Ranges whose owners asked not to be scanned (migrations/0007-opt-outs.ts, src/inventory/opt-out.ts). */
export interface OptOutsTable {
  /** Canonical CIDR text, host bits cleared (`192.0.2.0/24`, `2001:db8::/48`). */
  cidr: string;
  reason: string | null;
  contact: string | null;
  added_at: string;
  added_by: string;
}

/** API users (migrations/0006-server.ts, src/server/auth/). */
export interface UsersTable {
  id: Generated<number>;
  /** Lower case, unique. */
  username: string;
  /** argon2id PHC string. */
  password_hash: string;
  /** admin, analyst or viewer. */
  role: string;
  can_intrusive: number;
  /** JSON array of attribution organisations the user is limited to; null = all. */
  orgs: string | null;
  disabled: number;
  /** Failed logins in a row; reset by a successful one. */
  failed_logins: number;
  locked_until: string | null;
  created_at: string;
  updated_at: string;
  last_login_at: string | null;
}

/** Browser sessions; the id is stored as the SHA-256 hex of the cookie value. */
export interface SessionsTable {
  id_hash: string;
  user_id: number;
  csrf_token: string;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
}

/** API tokens (`mst_...`), stored as the SHA-256 hex of the token. */
export interface ApiTokensTable {
  id: Generated<number>;
  user_id: number;
  name: string;
  token_hash: string;
  /** The first characters of the token, to recognise it in lists. */
  prefix: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
}

/** The API's audit log (never passwords or token secrets). */
export interface AuditLogTable {
  id: Generated<number>;
  at: string;
  user_id: number | null;
  username: string | null;
  action: string;
  target: string | null;
  ok: number;
  ip: string | null;
  /** JSON. */
  detail: string | null;
}

/** Scans launched through the API (src/server/scans.ts); the run itself is in scan_runs. */
export interface ApiScansTable {
  run_id: string;
  user_id: number | null;
  username: string | null;
  profile: string;
  /** JSON array. */
  targets: string;
  ports: string | null;
  /** starting, running, completed, interrupted, failed. */
  state: string;
  /** The server instance whose child process runs it. */
  instance: string;
  pid: number | null;
  cancel_requested: number;
  created_at: string;
  finished_at: string | null;
  exit_code: number | null;
  error: string | null;
}

/** One row (id 1): a counter of changes to the searched tables, kept by SQLite triggers (migrations/0010). */
export interface SearchVersionTable {
  id: number;
  version: number;
}

export interface InventoryDatabase {
  scan_runs: ScanRunsTable;
  assets: AssetsTable;
  services: ServicesTable;
  observations: ObservationsTable;
  findings: FindingsTable;
  finding_events: FindingEventsTable;
  asset_tags: AssetTagsTable;
  service_events: ServiceEventsTable;
  monitor_jobs: MonitorJobsTable;
  opt_outs: OptOutsTable;
  users: UsersTable;
  sessions: SessionsTable;
  api_tokens: ApiTokensTable;
  audit_log: AuditLogTable;
  api_scans: ApiScansTable;
  search_version: SearchVersionTable;
}
