/**
 * Risk score of a service and of an asset, 0-100: how urgently an assessor would act on it.
 * The formula is documented in docs/risk.md and kept deliberately plain, so a reader can
 * recompute a score by hand from the evidence the inventory shows:
 *
 *   finding score   s(f) = CVSS base score of a CVE finding when published, else by severity
 *                         (info 0, low 3, medium 5.5, high 8, critical 9.5);
 *                         a CVE in CISA's KEV catalogue: min(10, max(s, 9) + 1);
 *                         confidence `version` (a version string, fixes may be backported): x 0.9.
 *   vector          v    = max s(f) + 0.25 per further finding with s >= 7 (at most +1)
 *                         + 1 when records are reachable without credentials (a count > 0)
 *                         capped at 10.
 *   device weight   d    = 1.0 imaging modality, PACS, HIS/EHR, LIS, FHIR server, interface engine,
 *                         router, bedside gateways; 0.85 viewer / workstation; 0.8 unknown-medical or
 *                         DICOM toolkit; 0.6 anything else (a brochure site, an unidentified service).
 *   exposure        e    = 1.0 for a public (internet-routable) address; 0.7 for private,
 *                         loopback, link-local or unique-local addresses (reachable from inside only).
 *   service risk         = round(10 x v x d x e); 0 without findings.
 *   asset risk           = the highest service risk of the asset, + 5 per further service with
 *                         risk >= 40 (at most +15), capped at 100.
 *
 * The score is computed from what the checks raise, before triage (user states do not enter it).
 */
import ipaddr from 'ipaddr.js';
import { MODALITY_TYPES, type Severity } from '../core/types.js';

export interface RiskFinding {
  severity: Severity;
  confidence: string;
  evidence?: Record<string, unknown> | null | undefined;
}

export interface RiskInput {
  ip: string;
  deviceType?: string | null | undefined;
  findings: readonly RiskFinding[];
  /** The observation (`data` of a record): reachable record counts are read from it. */
  data?: Record<string, unknown> | null | undefined;
}

const SEVERITY_SCORE: Record<Severity, number> = { info: 0, low: 3, medium: 5.5, high: 8, critical: 9.5 };

const FULL_WEIGHT = new Set<string>([
  ...MODALITY_TYPES,
  'pacs',
  'his',
  'ehr',
  'lis',
  'lab-analyzer',
  'fhir-server',
  'interface-engine',
  'dicom-router',
  'patient-monitor-gateway',
  'infusion-gateway',
]);

export function deviceWeight(deviceType: string | null | undefined): number {
  if (!deviceType) return 0.6;
  if (FULL_WEIGHT.has(deviceType)) return 1;
  if (deviceType === 'viewer' || deviceType === 'workstation') return 0.85;
  if (deviceType === 'unknown-medical' || deviceType === 'dicom-toolkit') return 0.8;
  return 0.6;
}

/** 1.0 for an internet-routable unicast address, 0.7 otherwise (private, loopback, link-local, ULA, reserved). */
export function exposureWeight(ip: string): number {
  if (!ipaddr.isValid(ip)) return 0.7;
  let addr = ipaddr.parse(ip);
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) addr = (addr as ipaddr.IPv6).toIPv4Address();
  return addr.range() === 'unicast' ? 1 : 0.7;
}

export function findingScore(f: RiskFinding): number {
  const cvss = f.evidence?.cvss;
  let s = typeof cvss === 'number' && Number.isFinite(cvss) ? Math.min(10, Math.max(0, cvss)) : SEVERITY_SCORE[f.severity];
  if (f.evidence?.kev === true) s = Math.min(10, Math.max(s, 9) + 1);
  if (f.confidence === 'version') s *= 0.9;
  return Math.min(10, s);
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0;
}

function get(o: unknown, ...keys: string[]): unknown {
  let cur = o;
  for (const k of keys) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/**
 * Records a caller without credentials could reach, as the probes counted them (counts only,
 * intrusive profile): DICOM C-FIND, DICOMweb QIDO-RS, FHIR `_summary=count`. The largest count.
 */
export function reachableRecords(data: Record<string, unknown> | null | undefined): number {
  if (!data) return 0;
  const counts = [
    get(data, 'dicom', 'find', 'kind') === 'count' ? num(get(data, 'dicom', 'find', 'matches')) : 0,
    num(get(data, 'dicom', 'patientFind', 'matches')),
    num(get(data, 'dicomweb', 'count', 'matches')),
    num(get(data, 'fhir', 'patientCount')),
  ];
  return Math.max(...counts);
}

export function serviceRisk(input: RiskInput): number {
  const scores = input.findings.map(findingScore).sort((a, b) => b - a);
  if (scores.length === 0 || scores[0] === 0) return 0;
  const breadth = Math.min(1, 0.25 * scores.slice(1).filter((s) => s >= 7).length);
  const records = reachableRecords(input.data) > 0 ? 1 : 0;
  const vector = Math.min(10, scores[0]! + breadth + records);
  return Math.round(10 * vector * deviceWeight(input.deviceType) * exposureWeight(input.ip));
}

export function assetRisk(serviceRisks: readonly number[]): number {
  const sorted = [...serviceRisks].sort((a, b) => b - a);
  if (sorted.length === 0) return 0;
  const extra = Math.min(15, 5 * sorted.slice(1).filter((r) => r >= 40).length);
  return Math.min(100, sorted[0]! + extra);
}
