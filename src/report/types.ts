/**
 * The report's shapes: what gather.ts reads from the inventory, once, and what the HTML,
 * Markdown and PDF renderers print. Nothing here can hold an observed value beyond what the
 * inventory shows a user anyway (identities, finding evidence as the checks copied it, counts):
 * observation `data` is read for record counts only and never carried.
 */
import type { EventKind } from '../core/events.js';
import type { Profile, Severity } from '../core/types.js';
import type { Tlp } from './tlp.js';

export const REPORT_FORMATS = ['html', 'pdf', 'md'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** Caps that keep a report of a country-scale inventory readable and its memory bounded. */
export const REPORT_LIMITS = {
  /** Assets with a detail entry by default (riskiest first); `maxAssets` changes it. */
  detailAssets: 500,
  /** Upper bound of `maxAssets`. */
  detailAssetsMax: 20_000,
  /** Rows of the "top risky assets" table. */
  topAssets: 10,
  /** Buckets of a statistics table (the rest is summed as "other"). */
  buckets: 25,
  /** Bars of a chart (the rest is summed as "other"). */
  chartBars: 12,
  /** Runs in the methodology list and in the remediation chart (the latest ones). */
  runs: 40,
  /** Target specifications printed per run. */
  targetsPerRun: 12,
} as const;

export interface ReportOptions {
  /** Search-language query (src/inventory/search) selecting the services reported on; '' = all. */
  query?: string;
  /** Only hosts attributed to this organisation (case-insensitive exact match on the asset's organisation). */
  org?: string;
  tlp?: Tlp;
  title?: string;
  /** Keep hosts judged honeypots in every count (default: left out, and the methodology says so). */
  includeHoneypots?: boolean;
  /** Trend window start (ISO-8601); default: the previous completed run. */
  since?: string;
  /** Assets with a detail entry (riskiest first). */
  maxAssets?: number;
  /** The report's time (tests pin it); default now. */
  now?: string;
}

export interface Bucket {
  key: string;
  count: number;
}

export interface ReportMeta {
  title: string;
  tlp: Tlp;
  generatedAt: string;
  toolVersion: string;
  checksDbVersion: string;
  inventoryKind: 'sqlite' | 'postgres';
  query: string | null;
  org: string | null;
  includeHoneypots: boolean;
}

export interface ReportSummary {
  /** Hosts with at least one service in scope. */
  assets: number;
  services: number;
  /** Findings observed open and not triaged by a user (the inventory summary's definition). */
  openFindings: number;
  bySeverity: Record<Severity, number>;
  /** Per service the largest record count a credential-less query returned, summed (src/risk/score.ts reachableRecords). */
  recordsReachable: number;
  servicesWithRecords: number;
  /** Hosts judged honeypots that the query and organisation select but the counts leave out (0 when included). */
  honeypotAssetsExcluded: number;
}

export interface TrendRun {
  id: string;
  state: string;
  profile: string;
  startedAt: string;
  finishedAt: string | null;
}

export interface ReportTrend {
  /** `since`: a window given by the user; `previous-run`: the two latest completed runs. */
  basis: 'since' | 'previous-run';
  since: string | null;
  from: TrendRun | null;
  to: TrendRun;
  /** Events per kind, only those of services in scope. */
  counts: Record<EventKind, number>;
  /** The newer run completed (only then can services be gone and findings resolved). */
  complete: boolean;
}

export interface AssetBrief {
  ip: string;
  hostname: string | null;
  vendor: string | null;
  product: string | null;
  deviceType: string | null;
  country: string | null;
  org: string | null;
  risk: number;
  honeypot: boolean;
  /** Services in scope. */
  services: number;
  openFindings: number;
  maxSeverity: Severity | null;
}

export interface EvidenceItem {
  key: string;
  value: string;
}

export interface FindingDetail {
  /** Row id in the inventory (the HTML anchors it as `finding-<id>`). */
  id: number;
  checkId: string;
  severity: Severity;
  title: string;
  confidence: string;
  state: string;
  userState: string | null;
  evidence: EvidenceItem[];
  remediation: string;
  firstSeen: string;
  lastSeen: string;
  resolvedAt: string | null;
}

export interface ServiceDetail {
  port: number;
  protocol: string | null;
  status: string;
  product: string | null;
  vendor: string | null;
  version: string | null;
  cpe: string | null;
  deviceType: string | null;
  /** TLS version and cipher as the handshake reported them; null without TLS. */
  tls: { version: string | null; cipher: string | null; selfSigned: boolean | null; validTo: string | null } | null;
  risk: number;
  records: number;
  firstSeen: string;
  lastSeen: string;
  findings: FindingDetail[];
}

export interface AssetDetail extends AssetBrief {
  asn: number | null;
  owner: string | null;
  criticality: string | null;
  tags: string[];
  firstSeen: string;
  lastSeen: string;
  serviceDetails: ServiceDetail[];
}

export interface TlsStats {
  services: number;
  withTls: number;
  byProtocol: { protocol: string; services: number; withTls: number }[];
}

export interface RecordStats {
  total: number;
  services: number;
  /** Per source: services with a count above zero and the sum of their largest counts. */
  bySource: { source: 'dicom' | 'dicomweb' | 'fhir'; services: number; records: number }[];
}

export interface ReportStats {
  byCountry: Bucket[];
  byDeviceType: Bucket[];
  byProduct: Bucket[];
  tls: TlsStats;
  dicomAnyAe: { dicomServices: number; anyAe: number };
  records: RecordStats;
}

export interface RemediationPoint {
  runId: string;
  startedAt: string;
  finishedAt: string;
  state: string;
  open: number;
  resolved: number;
  unverified: number;
}

export interface RunSummary {
  id: string;
  startedAt: string;
  finishedAt: string | null;
  state: string;
  profile: string;
  targets: string[];
  targetsOmitted: number;
  totalTargets: number;
}

export interface ProbeAction {
  name: string;
  profile: Profile;
  description: string;
}

export interface ProbeSummary {
  id: string;
  title: string;
  defaultPorts: number[];
  actions: ProbeAction[];
}

export interface Methodology {
  runs: RunSummary[];
  /** Runs that observed services in scope but were left out of the list (older ones). */
  runsOmitted: number;
  profiles: string[];
  probes: ProbeSummary[];
}

export interface CheckEntry {
  id: string;
  severity: Severity;
  title: string;
  description: string;
  /** Open, untriaged findings of this check in scope. */
  open: number;
  /** `check`: a definition of the check database; `cve`: a known vulnerability matched by version; `inventory`: raised by the inventory. */
  kind: 'check' | 'cve' | 'inventory';
}

export interface ReportData {
  meta: ReportMeta;
  summary: ReportSummary;
  trend: ReportTrend | null;
  /** Why there is no trend (first report, no completed run). */
  trendNote: string | null;
  topAssets: AssetBrief[];
  stats: ReportStats;
  remediation: RemediationPoint[];
  assets: AssetDetail[];
  /** Assets in scope without a detail entry (beyond maxAssets). */
  assetsOmitted: number;
  methodology: Methodology;
  checks: CheckEntry[];
}
