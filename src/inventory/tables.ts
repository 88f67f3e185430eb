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
}
