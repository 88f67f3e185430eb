/**
 * The affected services and findings of a case, as the packages carry them (affected.csv,
 * affected.json, the message body, the CERT batch): address, port, protocol, product, vendor,
 * version, device type, and per finding its id, severity, title, confidence, first and last
 * seen, remediation and references. Nothing else leaves the inventory: no evidence, no
 * observation data, no titles or bodies of pages, so no patient value can ride along. Every text
 * that came from the network (product, version) is reduced to printable characters and bounded;
 * the CSV files are written with the export's cell rules (src/export/csv.ts: RFC 4180 quoting, a
 * `'` before a cell a spreadsheet would run as a formula, the TLP label as the first column).
 */
import { type CheckDef, loadChecks } from '../checks/engine.js';
import { type Severity, severityRank } from '../core/types.js';
import type { CaseFindingRow } from './cases.js';
import { cleanText } from './cases.js';
import { csvLine } from '../export/csv.js';
import { type Tlp, tlpLabel } from './tlp.js';

export interface AffectedFinding {
  id: string;
  severity: Severity;
  title: string;
  confidence: string;
  firstSeen: string;
  lastSeen: string;
  remediation: string;
  references: string[];
}

export interface AffectedService {
  ip: string;
  port: number;
  protocol: string | null;
  product: string | null;
  vendor: string | null;
  version: string | null;
  deviceType: string | null;
  findings: AffectedFinding[];
}

/** Remediation and references of a finding id: the check's own, or a generic text for a CVE. */
export type RemediationLookup = (checkId: string, product: string | null) => { remediation: string; references: string[] };

export function remediationLookup(checks: readonly CheckDef[] = loadChecks()): RemediationLookup {
  const byId = new Map(checks.map((c) => [c.id, c]));
  return (checkId, product) => {
    const c = byId.get(checkId);
    if (c) return { remediation: cleanText(c.info.remediation, 4000), references: c.info.references.slice(0, 10) };
    if (/^CVE-\d{4}-\d{4,}$/.test(checkId)) {
      return {
        remediation: `Update ${product ?? 'the product'} to a release its vendor lists as fixing ${checkId}, or apply the vendor's mitigation; until then, do not expose the service to the internet.`,
        references: [`https://nvd.nist.gov/vuln/detail/${checkId}`],
      };
    }
    return { remediation: 'Remove the service from the internet or put it behind a VPN or an allow-list, and review its configuration.', references: [] };
  };
}

const opt = (s: string | null, max: number): string | null => (s === null ? null : cleanText(s, max) || null);

/** Case findings → services with their findings, most severe first within a service. */
export function affectedServices(rows: readonly CaseFindingRow[], remediation: RemediationLookup): AffectedService[] {
  const byService = new Map<string, AffectedService>();
  for (const r of rows) {
    const key = `${r.ip}|${r.port}`;
    let s = byService.get(key);
    if (!s) {
      s = {
        ip: r.ip,
        port: r.port,
        protocol: opt(r.protocol, 40),
        product: opt(r.product, 120),
        vendor: opt(r.vendor, 120),
        version: opt(r.version, 60),
        deviceType: opt(r.deviceType, 40),
        findings: [],
      };
      byService.set(key, s);
    }
    const rem = remediation(r.checkId, s.product);
    s.findings.push({
      id: cleanText(r.checkId, 80),
      severity: r.severity,
      title: cleanText(r.title, 300),
      confidence: cleanText(r.confidence, 20),
      firstSeen: r.firstSeen,
      lastSeen: r.lastSeen,
      remediation: rem.remediation,
      references: rem.references,
    });
  }
  const out = [...byService.values()];
  for (const s of out) s.findings.sort((a, b) => severityRank(b.severity) - severityRank(a.severity) || a.id.localeCompare(b.id));
  return out;
}

export const AFFECTED_CSV_COLUMNS = [
  'tlp', 'ip', 'port', 'protocol', 'product', 'vendor', 'version', 'device_type',
  'finding_id', 'severity', 'title', 'confidence', 'first_seen', 'last_seen', 'remediation',
] as const;

/** Cells of one finding row, in AFFECTED_CSV_COLUMNS order. */
export function affectedCells(tlp: Tlp, s: AffectedService, f: AffectedFinding): (string | number | null)[] {
  return [tlpLabel(tlp), s.ip, s.port, s.protocol, s.product, s.vendor, s.version, s.deviceType, f.id, f.severity, f.title, f.confidence, f.firstSeen, f.lastSeen, f.remediation];
}

/** affected.csv: a header line, then one line per finding; every line carries the TLP marking. */
export function affectedCsv(tlp: Tlp, services: readonly AffectedService[]): string {
  let out = csvLine(AFFECTED_CSV_COLUMNS);
  for (const s of services) for (const f of s.findings) out += csvLine(affectedCells(tlp, s, f));
  return out;
}

/** Counts for summaries: services, hosts, findings, findings per severity (most severe first, only those present). */
export function summarize(services: readonly AffectedService[]): { services: number; hosts: number; findings: number; bySeverity: { severity: Severity; count: number }[] } {
  const per = new Map<Severity, number>();
  let findings = 0;
  for (const s of services) {
    for (const f of s.findings) {
      findings++;
      per.set(f.severity, (per.get(f.severity) ?? 0) + 1);
    }
  }
  const bySeverity = [...per.entries()].sort((a, b) => severityRank(b[0]) - severityRank(a[0])).map(([severity, count]) => ({ severity, count }));
  return { services: services.length, hosts: new Set(services.map((s) => s.ip)).size, findings, bySeverity };
}
