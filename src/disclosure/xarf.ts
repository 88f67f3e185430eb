/**
 * XARF v4 reports (eXtended Abuse Reporting Format, https://xarf.org; schemas in
 * github.com/xarf/xarf-spec schemas/v4): the machine-readable half of a CERT batch, one report
 * per finding ("one incident = one report"), written as JSON lines. Each report is category
 * `vulnerability`: type `cve` (with `cve_id`, `service_port`) for a CVE finding, else
 * `misconfiguration` (with `service`); `evidence_source` is `vulnerability_scan`. XARF allows
 * extra properties: `tlp` carries the marking (also as the tag `tlp:<level>`), `x_medsurface`
 * the case number and the responsible party, so a CERT can route each report to its owner.
 * No evidence payload is attached: medsurface keeps no raw responses (DESIGN.md).
 */
import { randomUUID } from 'node:crypto';
import type { AffectedFinding, AffectedService } from './affected.js';
import { type Tlp, tlpLabel } from './tlp.js';

export const XARF_VERSION = '4.0.0';

export interface XarfReporter {
  org: string;
  /** E-mail address; its domain becomes `domain`. */
  contact: string;
}

const CONFIDENCE: Record<string, number> = { confirmed: 1, version: 0.6 };

function tag(namespace: string, value: string): string | null {
  const v = value.toLowerCase().replace(/[^a-z0-9_+.-]+/g, '-').replace(/^[^a-z0-9]+/, '');
  return v === '' ? null : `${namespace}:${v.slice(0, 60)}`;
}

export function xarfReport(
  reporter: XarfReporter,
  tlp: Tlp,
  owner: { caseId: number; party: string; country: string | null },
  s: AffectedService,
  f: AffectedFinding,
): Record<string, unknown> {
  const contact = { org: reporter.org.slice(0, 200), contact: reporter.contact, domain: reporter.contact.split('@')[1] ?? '' };
  const isCve = /^CVE-\d{4}-\d+$/.test(f.id);
  const service = [s.product, s.version].filter((x) => x !== null).join(' ') || s.protocol || 'unknown';
  const tags = [tag('tlp', tlp), tag('check', f.id), tag('severity', f.severity), s.deviceType ? tag('device', s.deviceType) : null].filter((t): t is string => t !== null);
  return {
    xarf_version: XARF_VERSION,
    report_id: randomUUID(),
    timestamp: f.lastSeen,
    reporter: contact,
    sender: contact,
    source_identifier: s.ip,
    source_port: s.port,
    category: 'vulnerability',
    type: isCve ? 'cve' : 'misconfiguration',
    evidence_source: 'vulnerability_scan',
    service: service.slice(0, 200),
    ...(s.version ? { service_version: s.version.slice(0, 100) } : {}),
    service_port: s.port,
    ...(isCve ? { cve_id: f.id } : { port: s.port }),
    severity: f.severity === 'info' ? 'informational' : f.severity,
    confidence: CONFIDENCE[f.confidence] ?? 0.5,
    description: `${f.id}: ${f.title}`.slice(0, 1000),
    remediation: f.remediation,
    first_seen: f.firstSeen,
    last_seen: f.lastSeen,
    tags,
    tlp: tlpLabel(tlp),
    x_medsurface: { case: owner.caseId, party: owner.party, country: owner.country, finding: f.id },
  };
}
