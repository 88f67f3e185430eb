/**
 * DefectDojo "Generic Findings Import" JSON: `{"name", "version", "description", "findings": [...]}`
 * as DefectDojo's parser reads it (dojo/tools/generic/json_parser.py, GenericJSONParser: it
 * requires title, severity and description on each finding and refuses any key outside its
 * allowed list; `endpoints` items are objects passed to its Endpoint / LocationData.url, whose
 * common keys are host, port, protocol, path, query and fragment). The keys written here are
 * checked against that list in defectdojo.test.ts (fixtures/defectdojo-generic-parser.json).
 *
 * One finding per open finding of a selected service:
 * - severity: Critical, High, Medium, Low or Info (DefectDojo's SEVERITY_CHOICES);
 * - description (Markdown): the TLP marking first, then the service, its identification, the
 *   host's attribution, the evidence and the check's description;
 * - mitigation and references from the check definition (for a CVE: NVD and the vendor);
 * - `unique_id_from_tool` is `ip:port/finding id`, stable across exports, so a re-import
 *   updates findings instead of duplicating them; `vuln_id_from_tool` the finding id; `cve`
 *   for CVE findings, with the CVSS vector and score, and the CISA KEV facts when known;
 * - `endpoints`: `{host, port, protocol}`, the protocol a URL scheme (`dicom`, `hl7`,
 *   `https`...; `tcp` when unidentified);
 * - the user's triage maps onto DefectDojo's flags: false-positive → false_p, accepted-risk →
 *   risk_accepted, fixed → is_mitigated; only an untriaged finding is `active`;
 *   `verified` when the finding was confirmed by a response (not by a version string alone).
 * The TLP marking is the first line of the test's `description` and of every finding's.
 */
import { type CheckDef, loadChecks } from '../checks/index.js';
import type { Severity } from '../core/types.js';
import { identityText } from '../output/writer.js';
import { hostPort, isCveId, selectionText } from './rows.js';
import { nvdUrl } from './sarif.js';
import type { ExportSink } from './sink.js';
import type { ExportFinding, ExportItem, ExportMeta, ExportService, FormatWriter } from './types.js';

export const DEFECTDOJO_SEVERITY: Readonly<Record<Severity, string>> = {
  info: 'Info',
  low: 'Low',
  medium: 'Medium',
  high: 'High',
  critical: 'Critical',
};

export interface DefectDojoEndpoint {
  host: string;
  port: number;
  protocol: string;
}

/** One finding as the generic parser takes it (only keys of its allowed list). */
export interface DefectDojoFinding {
  title: string;
  severity: string;
  description: string;
  mitigation: string;
  references: string;
  date: string;
  unique_id_from_tool: string;
  vuln_id_from_tool: string;
  cve?: string;
  cvssv3?: string;
  cvssv3_score?: number;
  cvssv4?: string;
  cvssv4_score?: number;
  known_exploited?: boolean;
  kev_date?: string;
  ransomware_used?: boolean;
  component_name?: string;
  component_version?: string;
  active: boolean;
  verified: boolean;
  false_p: boolean;
  risk_accepted: boolean;
  is_mitigated: boolean;
  static_finding: boolean;
  dynamic_finding: boolean;
  endpoints: DefectDojoEndpoint[];
  tags: string[];
}

/** The URL scheme of a service: HTTP-family probes by their TLS, the others by probe id. */
export function endpointScheme(s: ExportService): string {
  if (s.protocol === null) return 'tcp';
  if (s.protocol === 'http' || s.protocol === 'fhir' || s.protocol === 'dicomweb') return s.tls ? 'https' : 'http';
  return s.protocol;
}

/** DefectDojo tags: no spaces or commas (inventory tags already are `[a-z0-9._:-]`). */
function tag(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9._:+-]+/g, '-');
}

function line(label: string, value: string | null | undefined): string[] {
  return value === null || value === undefined || value === '' ? [] : [`**${label}:** ${value}`];
}

function description(meta: ExportMeta, s: ExportService, f: ExportFinding, check: CheckDef | undefined): string {
  const identity = identityText(s.vendor, s.product, s.version);
  const where = [s.country, s.asn === null ? null : `AS${s.asn}`, s.org].filter((x) => x !== null && x !== '').join(', ');
  const parts = [
    `**${meta.tlp.label}** ${meta.tlp.description}`,
    '',
    `**Service:** ${hostPort(s.ip, s.port)}/${s.protocol ?? 'unknown'}${s.tls ? ' (TLS)' : ''}`,
    ...line('Host name', s.hostname),
    ...line('Identified as', identity),
    ...line('Device type', s.deviceType),
    ...line('CPE', s.cpe),
    ...line('Location and owner', where),
    ...line('Tags', s.tags.join(', ')),
    `**Risk score:** ${s.risk}/100`,
    `**Finding:** ${f.findingId} (${f.severity}, confidence ${f.confidence})`,
    `**First seen:** ${f.firstSeen}; **last seen:** ${f.lastSeen}`,
    ...line('Triage', f.userState),
  ];
  const ev = Object.entries(f.evidence ?? {});
  if (ev.length > 0) parts.push('', '**Evidence:**', ...ev.map(([k, v]) => `- ${k}: ${v === null ? 'null' : String(v)}`));
  if (check) parts.push('', check.info.description);
  return parts.join('\n');
}

export function defectDojoFinding(meta: ExportMeta, s: ExportService, f: ExportFinding, check: CheckDef | undefined): DefectDojoFinding {
  const isCve = isCveId(f.findingId);
  const ev = f.evidence ?? {};
  const out: DefectDojoFinding = {
    title: f.title,
    severity: DEFECTDOJO_SEVERITY[f.severity],
    description: description(meta, s, f, check),
    mitigation: check
      ? check.info.remediation
      : isCve
        ? `Update ${identityText(s.vendor, s.product) || 'the product'} to a version that fixes ${f.findingId} (see the vendor's advisory), or isolate the service from untrusted networks until it is updated.`
        : 'Review the finding; restrict the service to the networks that need it.',
    references: check ? check.info.references.join('\n') : isCve ? nvdUrl(f.findingId) : '',
    date: f.firstSeen.slice(0, 10),
    unique_id_from_tool: `${hostPort(s.ip, s.port)}/${f.findingId}`,
    vuln_id_from_tool: f.findingId,
    active: f.userState === null,
    verified: f.confidence === 'confirmed',
    false_p: f.userState === 'false-positive',
    risk_accepted: f.userState === 'accepted-risk',
    is_mitigated: f.userState === 'fixed',
    static_finding: false,
    dynamic_finding: true,
    endpoints: [{ host: s.ip, port: s.port, protocol: endpointScheme(s) }],
    tags: [...new Set(['medsurface', ...(s.protocol ? [s.protocol] : []), ...s.tags].map(tag))],
  };
  if (isCve) {
    out.cve = f.findingId;
    const vector = typeof ev.cvssVector === 'string' ? ev.cvssVector : null;
    const score = typeof ev.cvss === 'number' ? ev.cvss : null;
    if (vector?.startsWith('CVSS:3.')) {
      out.cvssv3 = vector;
      if (score !== null) out.cvssv3_score = score;
    } else if (vector?.startsWith('CVSS:4.')) {
      out.cvssv4 = vector;
      if (score !== null) out.cvssv4_score = score;
    }
    if (ev.kev === true) out.known_exploited = true;
    if (typeof ev.kevDateAdded === 'string') out.kev_date = ev.kevDateAdded;
    if (ev.kevRansomware === 'Known') out.ransomware_used = true;
  }
  if (s.product !== null && s.product !== '') out.component_name = s.product;
  if (s.version !== null && s.version !== '') out.component_version = s.version;
  return out;
}

export function defectDojoWriter(sink: ExportSink, checks: CheckDef[] = loadChecks()): FormatWriter {
  const byId = new Map(checks.map((c) => [c.id, c]));
  let meta: ExportMeta | null = null;
  const w = {
    count: 0,
    async begin(m: ExportMeta) {
      meta = m;
      const head = {
        name: 'medsurface',
        version: m.toolVersion,
        description: `${m.tlp.label}: ${m.tlp.description}\n\nmedsurface export of ${m.generatedAt}: the open findings of ${selectionText(m)}.`,
      };
      const text = JSON.stringify(head, null, 2);
      await sink.write(`${text.slice(0, text.lastIndexOf('}')).trimEnd()},\n  "findings": [`);
    },
    async item(item: ExportItem) {
      if (meta === null) throw new Error('defectDojoWriter.item before begin');
      for (const f of item.findings) {
        const dd = defectDojoFinding(meta, item.service, f, byId.get(f.findingId));
        await sink.write(`${w.count === 0 ? '\n' : ',\n'}    ${JSON.stringify(dd)}`);
        w.count++;
      }
    },
    async end() {
      await sink.write(`${w.count === 0 ? '' : '\n  '}]\n}\n`);
    },
  };
  return w;
}
