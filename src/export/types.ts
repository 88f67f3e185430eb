/**
 * The shapes an export is made of: what the inventory reader (source.ts) hands to the format
 * writers, the flat rows of the CSV/JSON/JSONL formats (one per open finding, or one per
 * service with `--services`), and the options of a run. Evidence is the finding's stored
 * evidence, already reduced by the probes and checks to non-identifying facts; an export never
 * reads a service's raw observation (`data`).
 */
import type { Severity } from '../core/types.js';
import type { TlpMarking } from './tlp.js';

export const EXPORT_FORMATS = ['csv', 'json', 'jsonl', 'sarif', 'defectdojo', 'nmap-xml'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Formats that can list services instead of findings (`--services`). */
export const SERVICE_ROW_FORMATS: readonly ExportFormat[] = ['csv', 'json', 'jsonl'];

export type EvidenceValue = string | number | boolean | null;

/** One service as exported, with its host's attribution and tags. */
export interface ExportService {
  ip: string;
  port: number;
  /** Probe id that identified the service (`dicom`, `http`, ...), null when none did. */
  protocol: string | null;
  hostname: string | null;
  status: string;
  /** The service's own identification, else (vendor, product) the host's fused one. */
  product: string | null;
  vendor: string | null;
  version: string | null;
  cpe: string | null;
  /** What the device is: the host's fused device type (all its services), else the service's own. */
  deviceType: string | null;
  /** A TLS handshake was observed on this service. */
  tls: boolean;
  country: string | null;
  asn: number | null;
  org: string | null;
  /** The host's tags, sorted. */
  tags: string[];
  /** The service's risk score, 0-100. */
  risk: number;
  firstSeen: string;
  lastSeen: string;
}

/** One finding of a service whose observed state is open. */
export interface ExportFinding {
  /** Check id (`dicom-any-ae`) or CVE id. */
  findingId: string;
  severity: Severity;
  title: string;
  confidence: string;
  state: string;
  /** The user's triage (`accepted-risk`, `false-positive`, `fixed`), null when untriaged. */
  userState: string | null;
  firstSeen: string;
  lastSeen: string;
  evidence: Record<string, EvidenceValue> | null;
}

/** A service with its open findings (most severe first), as the reader yields them. */
export interface ExportItem {
  service: ExportService;
  findings: ExportFinding[];
}

/** A flat row of the finding exports (CSV, JSON, JSONL); the column order is FINDING_COLUMNS. */
export interface FindingExportRow {
  ip: string;
  port: number;
  protocol: string | null;
  hostname: string | null;
  product: string | null;
  vendor: string | null;
  version: string | null;
  cpe: string | null;
  deviceType: string | null;
  country: string | null;
  asn: number | null;
  org: string | null;
  tags: string[];
  risk: number;
  findingId: string;
  severity: Severity;
  title: string;
  confidence: string;
  state: string;
  userState: string | null;
  firstSeen: string;
  lastSeen: string;
  evidence: Record<string, EvidenceValue> | null;
}

/** A flat row of the service exports (`--services`); the column order is SERVICE_COLUMNS. */
export interface ServiceExportRow {
  ip: string;
  port: number;
  protocol: string | null;
  hostname: string | null;
  status: string;
  product: string | null;
  vendor: string | null;
  version: string | null;
  cpe: string | null;
  deviceType: string | null;
  tls: boolean;
  country: string | null;
  asn: number | null;
  org: string | null;
  tags: string[];
  risk: number;
  /** Highest severity among the open findings, null without one. */
  maxSeverity: Severity | null;
  openFindings: number;
  findingIds: string[];
  firstSeen: string;
  lastSeen: string;
}

export const FINDING_COLUMNS = [
  'ip',
  'port',
  'protocol',
  'hostname',
  'product',
  'vendor',
  'version',
  'cpe',
  'deviceType',
  'country',
  'asn',
  'org',
  'tags',
  'risk',
  'findingId',
  'severity',
  'title',
  'confidence',
  'state',
  'userState',
  'firstSeen',
  'lastSeen',
  'evidence',
] as const satisfies readonly (keyof FindingExportRow)[];

export const SERVICE_COLUMNS = [
  'ip',
  'port',
  'protocol',
  'hostname',
  'status',
  'product',
  'vendor',
  'version',
  'cpe',
  'deviceType',
  'tls',
  'country',
  'asn',
  'org',
  'tags',
  'risk',
  'maxSeverity',
  'openFindings',
  'findingIds',
  'firstSeen',
  'lastSeen',
] as const satisfies readonly (keyof ServiceExportRow)[];

/** What every format writes into its header or metadata. */
export interface ExportMeta {
  tlp: TlpMarking;
  /** ISO 8601 UTC time the export was made. */
  generatedAt: string;
  /** The search-language query that selected the services ('' for all). */
  query: string;
  /** Honeypot hosts were left out (the default unless --include-honeypots or a `honeypot:` term). */
  honeypotsExcluded: boolean;
  /** medsurface's version. */
  toolVersion: string;
  /** `findings` (one row per open finding) or `services` (one row per service). */
  rows: 'findings' | 'services';
}

/** A format writer: gets the header once, then the services in order, then the end. */
export interface FormatWriter {
  begin(meta: ExportMeta): Promise<void>;
  item(item: ExportItem): Promise<void>;
  end(): Promise<void>;
  /** Rows (or results, or findings) written so far. */
  readonly count: number;
}
