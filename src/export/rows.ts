/**
 * The flat rows of the CSV, JSON and JSONL exports: one per open finding (service fields
 * repeated on each), or with `--services` one per selected service (its open findings counted
 * and listed by id). Field names are camelCase like the scan output (DESIGN.md).
 */
import { severityRank } from '../core/types.js';
import type { ExportItem, ExportMeta, FindingExportRow, ServiceExportRow } from './types.js';

export function findingRows(item: ExportItem): FindingExportRow[] {
  const s = item.service;
  return item.findings.map((f) => ({
    ip: s.ip,
    port: s.port,
    protocol: s.protocol,
    hostname: s.hostname,
    product: s.product,
    vendor: s.vendor,
    version: s.version,
    cpe: s.cpe,
    deviceType: s.deviceType,
    country: s.country,
    asn: s.asn,
    org: s.org,
    tags: [...s.tags],
    risk: s.risk,
    findingId: f.findingId,
    severity: f.severity,
    title: f.title,
    confidence: f.confidence,
    state: f.state,
    userState: f.userState,
    firstSeen: f.firstSeen,
    lastSeen: f.lastSeen,
    evidence: f.evidence === null ? null : { ...f.evidence },
  }));
}

export function serviceRow(item: ExportItem): ServiceExportRow {
  const s = item.service;
  let max: ServiceExportRow['maxSeverity'] = null;
  for (const f of item.findings) if (max === null || severityRank(f.severity) > severityRank(max)) max = f.severity;
  return {
    ip: s.ip,
    port: s.port,
    protocol: s.protocol,
    hostname: s.hostname,
    status: s.status,
    product: s.product,
    vendor: s.vendor,
    version: s.version,
    cpe: s.cpe,
    deviceType: s.deviceType,
    tls: s.tls,
    country: s.country,
    asn: s.asn,
    org: s.org,
    tags: [...s.tags],
    risk: s.risk,
    maxSeverity: max,
    openFindings: item.findings.length,
    findingIds: item.findings.map((f) => f.findingId),
    firstSeen: s.firstSeen,
    lastSeen: s.lastSeen,
  };
}

/** `ip:port` with an IPv6 address in brackets (RFC 3986 authority form). */
export function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

const CVE_ID = /^CVE-\d{4}-\d{4,}$/;

/** A finding id that is a CVE id (one finding per CVE, DESIGN.md). */
export function isCveId(id: string): boolean {
  return CVE_ID.test(id);
}

/** What was selected, in words: `every service (honeypots left out)`, `the services matching "port:104"`. */
export function selectionText(meta: ExportMeta): string {
  const what = meta.query === '' ? 'every service' : `the services matching ${JSON.stringify(meta.query)}`;
  return `${what}${meta.honeypotsExcluded ? ' (honeypots left out)' : ''}`;
}

/** Code-unit order of two strings (the same on every engine and locale). */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
