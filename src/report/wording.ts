/**
 * The report's wording, shared by the HTML and the Markdown renderers: labels, the sentences
 * of the summary and the methodology, and the small formatters of identities, TLS, states and
 * evidence. Every string from the inventory passes through `clean` here (control characters
 * out, length bounded); escaping is the renderer's (Eta for HTML, `md` for Markdown).
 */
import type { EventKind } from '../core/events.js';
import { CVE_EVIDENCE_SHOWN_ELSEWHERE, isCveId } from './methodology.js';
import { clean, int, pct, when } from './text.js';
import type { AssetDetail, FindingDetail, ReportData, ServiceDetail } from './types.js';

export const TREND_LABELS: Record<EventKind, string> = {
  'service-new': 'new services',
  'service-gone': 'services gone',
  'service-changed': 'services changed (product, version, TLS)',
  'finding-opened': 'findings opened',
  'finding-reopened': 'findings reopened',
  'finding-changed': 'findings changed (severity)',
  'finding-resolved': 'findings resolved',
  'finding-unverified': 'findings unverified (host did not answer)',
};

export const SOURCE_TEXT = {
  dicom: 'DICOM C-FIND (study and patient level)',
  dicomweb: 'DICOMweb QIDO-RS study search',
  fhir: 'FHIR Patient search (_summary=count)',
} as const;

/** "Vendor Product", the product alone when it starts with the vendor, 'unidentified' without either. */
export function identity(vendor: string | null, product: string | null): string {
  const v = clean(vendor, 60);
  const p = clean(product, 80);
  if (p === '') return v === '' ? 'unidentified' : v;
  return v === '' || p.toLowerCase().startsWith(v.toLowerCase()) ? p : `${v} ${p}`;
}

export function tlsText(t: ServiceDetail['tls']): string {
  if (t === null) return 'no';
  const parts = [t.version ?? 'yes'];
  if (t.cipher) parts.push(t.cipher);
  if (t.selfSigned === true) parts.push('self-signed');
  return parts.join(', ');
}

export function findingState(f: Pick<FindingDetail, 'state' | 'userState' | 'firstSeen' | 'resolvedAt'>): string {
  const parts = [f.state];
  if (f.userState) parts.push(`marked ${f.userState}`);
  parts.push(`since ${when(f.firstSeen)}`);
  if (f.state === 'resolved' && f.resolvedAt) parts.push(`resolved ${when(f.resolvedAt)}`);
  return parts.join(', ');
}

/** `open`, `resolved 2026-03-09`, `open, accepted-risk`: a finding's state in a table cell. */
export function shortState(f: Pick<FindingDetail, 'state' | 'userState' | 'resolvedAt'>): string {
  const s = f.state === 'resolved' && f.resolvedAt ? `resolved ${when(f.resolvedAt).slice(0, 10)}` : f.state;
  return f.userState ? `${s}, ${f.userState}` : s;
}

export interface FirstFinding {
  id: number;
  checkId: string;
  ip: string;
}

/**
 * The first finding of each check in the order the detail lists them: its remediation is printed
 * in full there, later findings of the same check point back to it (a report of a hundred PACS
 * would otherwise repeat one paragraph a hundred times).
 */
export function firstFindings(data: ReportData): Map<string, FirstFinding> {
  const first = new Map<string, FirstFinding>();
  for (const a of data.assets) {
    for (const s of a.serviceDetails) {
      for (const f of s.findings) if (!isCveId(f.checkId) && !first.has(f.checkId)) first.set(f.checkId, { id: f.id, checkId: f.checkId, ip: a.ip });
    }
  }
  return first;
}

/** One evidence value of a finding ('' when absent). */
export function evidenceValue(f: Pick<FindingDetail, 'evidence'>, key: string): string {
  return f.evidence.find((e) => e.key === key)?.value ?? '';
}

/** The evidence of a CVE finding that its table does not show in a column, as `key value; ...`. */
export function otherEvidence(f: Pick<FindingDetail, 'evidence'>): string {
  return f.evidence
    .filter((e) => !CVE_EVIDENCE_SHOWN_ELSEWHERE.includes(e.key) && e.value !== 'null')
    .map((e) => `${e.key} ${e.value}`)
    .join('; ');
}

export function attributionText(a: Pick<AssetDetail, 'country' | 'org' | 'asn'>): string {
  const parts: string[] = [];
  if (a.org) parts.push(clean(a.org));
  if (a.asn !== null) parts.push(`AS${a.asn}`);
  if (a.country) parts.push(clean(a.country, 8));
  return parts.length === 0 ? 'unknown' : parts.join(', ');
}

export function scopeText(data: ReportData): string {
  const parts = [data.meta.query === null ? 'every service in the inventory' : `services matching the query "${clean(data.meta.query, 300)}"`];
  if (data.meta.org !== null) parts.push(`on hosts of the organisation "${clean(data.meta.org)}"`);
  return `${parts.join(' ')}: ${int(data.summary.services)} service(s) on ${int(data.summary.assets)} system(s).`;
}

export function honeypotText(data: ReportData): string {
  if (data.meta.includeHoneypots) return 'Hosts judged honeypots or decoys are included in every count (--include-honeypots).';
  const n = data.summary.honeypotAssetsExcluded;
  return (
    'Hosts judged honeypots or decoys (src/honeypot signatures) are left out of every count and list' +
    (n > 0 ? `: ${int(n)} such host(s) matched the scope and were left out.` : '; none matched the scope.')
  );
}

export const COUNTING_RULES: readonly string[] = [
  'An exposed system is a host with at least one service in scope; a service is an (address, port) that answered.',
  'A finding counts when it was observed open and no user triaged it (accepted risk, false positive, fixed); the detail lists the others with their state.',
  'A finding is resolved only when a later complete scan ran its check and the check did not fire; a host that stopped answering makes its findings unverified, not resolved.',
  'Records reachable: per service, the largest record count that its latest observation holds (count-only queries of the intrusive profile), summed over the services. No record was read and no patient value is stored or shown.',
  'Remediation over time: the findings of the scope at the end of each scan run, by state (false positives left out).',
  'Trend: the changes between the two latest completed runs (or since the date given), for the services in scope.',
];

/** The sentences of the executive summary. */
export function narrative(data: ReportData): string[] {
  const s = data.summary;
  const out = [
    `${int(s.assets)} exposed system(s) with ${int(s.services)} service(s) are in scope. ` +
      `${int(s.openFindings)} finding(s) are open, ${int(s.bySeverity.critical)} of them critical and ${int(s.bySeverity.high)} high.`,
  ];
  if (s.recordsReachable > 0) {
    out.push(
      `${int(s.servicesWithRecords)} service(s) let a caller without credentials count their records: ${int(s.recordsReachable)} record(s) in all are reachable.`,
    );
  }
  const st = data.stats;
  if (st.dicomAnyAe.dicomServices > 0) {
    out.push(
      `${pct(st.dicomAnyAe.anyAe, st.dicomAnyAe.dicomServices)} of the DICOM services accept any called AE title; ` +
        `${pct(st.tls.withTls, st.tls.services)} of all services use TLS.`,
    );
  }
  return out;
}

export function trendText(data: ReportData): string {
  const t = data.trend;
  if (t === null) return data.trendNote ?? '';
  const to = `run ${t.to.id} (${when(t.to.startedAt)})`;
  const head =
    t.basis === 'since'
      ? `Changes since ${when(t.since)}, up to ${to}`
      : t.from === null
        ? `Changes up to ${to}`
        : `Changes from run ${t.from.id} (${when(t.from.startedAt)}) to ${to}`;
  return `${head}${t.complete ? '' : `; ${t.to.id} did not complete, so nothing counts as gone or resolved`}.`;
}

