/**
 * SARIF 2.1.0 export (OASIS Static Analysis Results Interchange Format, valid against the
 * official schema: src/export/fixtures/sarif-schema-2.1.0.json, checked in sarif.test.ts).
 * One run; `tool.driver` is medsurface with a rule per check definition (src/checks/defs) plus
 * one per CVE and per other finding id that occurs; one result per open finding.
 *
 * Choices, and why:
 * - Level: critical and high → `error`, medium → `warning`, low and info → `note`. Each rule
 *   carries `properties.security-severity`, a CVSS-like score as a string, which GitHub code
 *   scanning and DefectDojo's SARIF parser turn into their severities (≥9 critical, 7-8.9 high,
 *   4-6.9 medium, >0 low): the risk model's score of the check's severity (critical 9.5, high
 *   8.0, medium 5.5, low 3.0, info 0.0); a CVE rule uses the CVE's CVSS base score from the
 *   finding's evidence when there is one.
 * - Location: a network service is not a file, but both consumers want a file-like location.
 *   DefectDojo's SARIF parser reads `locations[0].physicalLocation.artifactLocation.uri` (into
 *   the finding's file path) and fails without it; GitHub code scanning requires a non-empty
 *   `artifactLocation.uri` and refuses an upload whose URI has a scheme other than `file`
 *   ("unrecognized SARIF location URI scheme"), so `tcp://127.77.1.10:104` is out. Each result
 *   therefore has one location whose URI is a relative reference naming the service,
 *   `network/127.77.1.10/tcp/104` (the first segment keeps an IPv6 address's colons out of
 *   the position where a reader would take them for a scheme), and a `logicalLocations` entry
 *   whose `fullyQualifiedName` is `ip:port/protocol` (kind `resource`), the name a reader
 *   recognises. GitHub shows such results without a source line (there is none).
 * - Stable identity: `partialFingerprints["medsurface/v1"]` is `ip|port|finding id`, so a
 *   consumer matches a result across exports.
 * - Triage: a finding the user marked accepted-risk, false-positive or fixed carries an
 *   `external` suppression with status `accepted` (GitHub shows it as dismissed).
 * - TLP: `runs[0].properties.tlp` (the label) and `tlpDescription`, and
 *   `runs[0].automationDetails` (its description begins with the label, its properties repeat it).
 *
 * Streaming: results are written as they come; the rules, `tool` and `invocations` follow the
 * results (JSON member order carries no meaning), so only the rules (a few per CVE seen) are
 * held in memory.
 */
import type { Invocation, Log, ReportingDescriptor, Result, Run, Tool } from 'sarif';
import { type CheckDef, loadChecks } from '../checks/index.js';
import type { Severity } from '../core/types.js';
import { identityText } from '../output/writer.js';
import { findingScore } from '../risk/score.js';
import { compareText, hostPort, isCveId, selectionText } from './rows.js';
import type { ExportSink } from './sink.js';
import type { ExportFinding, ExportItem, ExportMeta, ExportService, FormatWriter } from './types.js';

/** The `$schema` a SARIF 2.1.0 file names: the OASIS standard with its approved errata 01. */
export const SARIF_SCHEMA_URI = 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json';

export const SARIF_FINGERPRINT_KEY = 'medsurface/v1';

/**
 * The CVSS-like score of a severity, as `security-severity` wants it: the risk model's own
 * (src/risk/score.ts, a confirmed finding without CVSS): info 0, low 3, medium 5.5, high 8,
 * critical 9.5.
 */
export function securitySeverity(s: Severity): number {
  return findingScore({ severity: s, confidence: 'confirmed' });
}

export type SarifLevel = 'error' | 'warning' | 'note';

export function sarifLevel(s: Severity): SarifLevel {
  return s === 'critical' || s === 'high' ? 'error' : s === 'medium' ? 'warning' : 'note';
}

export function nvdUrl(cveId: string): string {
  return `https://nvd.nist.gov/vuln/detail/${cveId}`;
}

/** GitHub's `precision`: how far a result can be trusted, from how it was established. */
function precision(confidence: string): string {
  return confidence === 'confirmed' ? 'high' : confidence === 'version' ? 'medium' : 'low';
}

/** `dicom-any-ae` → `DicomAnyAe` (SARIF's `name` is an identifier a reader understands). */
function ruleName(id: string): string {
  return id
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');
}

function scoreText(n: number): string {
  return n.toFixed(1);
}

export function checkRule(c: CheckDef): ReportingDescriptor {
  const refs = c.info.references;
  return {
    id: c.id,
    name: ruleName(c.id),
    shortDescription: { text: c.info.name },
    fullDescription: { text: c.info.description },
    help: {
      text: `${c.info.remediation}\n\nReferences:\n${refs.map((r) => `- ${r}`).join('\n')}`,
      markdown: `**Remediation.** ${c.info.remediation}\n\n**References**\n\n${refs.map((r) => `- <${r}>`).join('\n')}`,
    },
    ...(refs[0] !== undefined ? { helpUri: refs[0] } : {}),
    defaultConfiguration: { level: sarifLevel(c.info.severity) },
    properties: {
      'security-severity': scoreText(securitySeverity(c.info.severity)),
      severity: c.info.severity,
      precision: precision(c.confidence),
      profile: c.profile,
      references: [...refs],
      tags: ['security', 'medsurface', ...(c.protocol !== '*' ? [c.protocol] : [])],
    },
  };
}

/** A rule for a CVE, from the first finding of it: its title, and its CVSS score when the evidence has one. */
export function cveRule(f: ExportFinding): ReportingDescriptor {
  const cvss = typeof f.evidence?.cvss === 'number' ? f.evidence.cvss : null;
  return {
    id: f.findingId,
    name: ruleName(f.findingId),
    shortDescription: { text: f.title },
    helpUri: nvdUrl(f.findingId),
    help: { text: `${f.findingId}: see ${nvdUrl(f.findingId)} and the vendor's advisory for fixed versions.` },
    defaultConfiguration: { level: sarifLevel(f.severity) },
    properties: {
      'security-severity': scoreText(cvss ?? securitySeverity(f.severity)),
      severity: f.severity,
      precision: precision(f.confidence),
      tags: ['security', 'medsurface', 'vulnerability', 'cve'],
    },
  };
}

/** A rule for a finding id that is neither a check definition nor a CVE (the inventory's own, such as asset-unlisted). */
function otherRule(f: ExportFinding): ReportingDescriptor {
  return {
    id: f.findingId,
    name: ruleName(f.findingId),
    shortDescription: { text: f.title },
    defaultConfiguration: { level: sarifLevel(f.severity) },
    properties: {
      'security-severity': scoreText(securitySeverity(f.severity)),
      severity: f.severity,
      precision: precision(f.confidence),
      tags: ['security', 'medsurface'],
    },
  };
}

/** The relative URI that stands for a service in `physicalLocation` (see the top of this file). */
export function serviceUri(s: ExportService): string {
  return `network/${s.ip}/tcp/${s.port}`;
}

export function sarifResult(s: ExportService, f: ExportFinding): Result {
  const hp = hostPort(s.ip, s.port);
  const proto = s.protocol ?? 'unknown';
  const identity = identityText(s.vendor, s.product, s.version);
  const result: Result = {
    ruleId: f.findingId,
    kind: 'fail',
    level: sarifLevel(f.severity),
    message: { text: `${f.title.replace(/[.\s]+$/, '')} on ${hp}/${proto}${identity ? ` (${identity})` : ''}.` },
    locations: [
      {
        physicalLocation: { artifactLocation: { uri: serviceUri(s) } },
        logicalLocations: [{ name: hp, fullyQualifiedName: `${hp}/${proto}`, kind: 'resource' }],
      },
    ],
    partialFingerprints: { [SARIF_FINGERPRINT_KEY]: `${s.ip}|${s.port}|${f.findingId}` },
    provenance: { firstDetectionTimeUtc: f.firstSeen, lastDetectionTimeUtc: f.lastSeen },
    properties: {
      severity: f.severity,
      confidence: f.confidence,
      state: f.state,
      userState: f.userState,
      evidence: f.evidence,
      service: {
        ip: s.ip,
        port: s.port,
        protocol: s.protocol,
        hostname: s.hostname,
        product: s.product,
        vendor: s.vendor,
        version: s.version,
        cpe: s.cpe,
        deviceType: s.deviceType,
        tls: s.tls,
        country: s.country,
        asn: s.asn,
        org: s.org,
        risk: s.risk,
      },
      tags: [...new Set(s.tags)],
    },
  };
  if (f.userState !== null) {
    result.suppressions = [{ kind: 'external', status: 'accepted', justification: `marked ${f.userState} in the medsurface inventory` }];
  }
  return result;
}

/** The run's opening members (everything before `results`). */
function runHead(meta: ExportMeta): Partial<Run> {
  return {
    properties: {
      tlp: meta.tlp.label,
      tlpDescription: meta.tlp.description,
      query: meta.query,
      honeypotsExcluded: meta.honeypotsExcluded,
      generatedAt: meta.generatedAt,
    },
    automationDetails: {
      id: `medsurface/export/${meta.generatedAt}`,
      description: {
        text: `${meta.tlp.label}: ${meta.tlp.description} medsurface export of the open findings of ${selectionText(meta)}.`,
      },
      properties: { tlp: meta.tlp.label },
    },
  };
}

export function sarifWriter(sink: ExportSink, checks: CheckDef[] = loadChecks()): FormatWriter {
  let meta: ExportMeta | null = null;
  const extraRules = new Map<string, ReportingDescriptor>();
  const checkIds = new Set(checks.map((c) => c.id));
  const w = {
    count: 0,
    async begin(m: ExportMeta) {
      meta = m;
      const head: Omit<Log, 'runs'> = { $schema: SARIF_SCHEMA_URI, version: '2.1.0' };
      const run = JSON.stringify(runHead(m), null, 2).replace(/\n/g, '\n    ');
      await sink.write(`${JSON.stringify(head, null, 2).slice(0, -2)},\n  "runs": [\n    ${run.slice(0, run.lastIndexOf('}')).trimEnd()},\n      "results": [`);
    },
    async item(item: ExportItem) {
      for (const f of item.findings) {
        if (!checkIds.has(f.findingId) && !extraRules.has(f.findingId)) {
          extraRules.set(f.findingId, isCveId(f.findingId) ? cveRule(f) : otherRule(f));
        }
        await sink.write(`${w.count === 0 ? '\n' : ',\n'}        ${JSON.stringify(sarifResult(item.service, f))}`);
        w.count++;
      }
    },
    async end() {
      if (meta === null) throw new Error('sarifWriter.end before begin');
      const extra = [...extraRules.values()].sort((a, b) => compareText(a.id, b.id));
      const tool: Tool = {
        driver: {
          name: 'medsurface',
          version: meta.toolVersion,
          semanticVersion: meta.toolVersion,
          rules: [...[...checks].sort((a, b) => compareText(a.id, b.id)).map(checkRule), ...extra],
        },
      };
      const invocations: Invocation[] = [{ executionSuccessful: true, endTimeUtc: meta.generatedAt }];
      const tail = JSON.stringify({ tool, invocations }, null, 2).replace(/\n/g, '\n    ');
      await sink.write(`${w.count === 0 ? '' : '\n      '}],\n    ${tail.slice(1).trimStart()}\n  ]\n}\n`);
    },
  };
  return w;
}
