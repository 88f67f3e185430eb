/**
 * A small inventory for the export tests, seeded from the check fixtures (src/checks/fixtures,
 * records the scanner wrote against the lab, synthetic only) with their addresses moved to
 * 127.77.61.0/24, judged by the real checks (runChecks) and the curated CVE set, as a scan
 * stores them. It adds what the fixtures lack: attribution, tags, a triaged finding, a honeypot
 * host, a service without findings, and a host whose banner fields are spreadsheet formulas,
 * quotes, commas and line breaks (hostile values an export must carry safely).
 *
 * The hl7/reject.json record is the lab node that echoes patient canaries (HL7_LAB_CANARIES) in
 * its reply, as reduced by the probe: the tests assert no canary reaches any export.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { checkRecordOf, loadChecks, runChecks } from '../checks/index.js';
import { packageRoot } from '../core/paths.js';
import type { AssetIdentity, Profile, RecordAttribution, ServiceRecord } from '../core/types.js';
import { type KyselyInventory, openKyselyInventory } from '../inventory/index.js';
import type { SearchTarget } from '../inventory/search/index.js';
import { tagAssets } from '../inventory/metadata.js';
import { CLINICAL_LAB_CANARIES } from '../lab/nodes/clinical.js';
import { HL7_LAB_CANARIES } from '../lab/nodes/hl7.js';
import { CERT_LAB_CANARIES, WEB_LAB_CANARIES } from '../lab/nodes/web.js';
import { findVulnerabilities, toFindings } from '../vuln/index.js';
import { type ExportOptions, type ExportSummary, runExport } from './index.js';
import type { ExportSink } from './sink.js';

/** The clock the export tests run with (after every fixture's timestamp). */
export const EXPORT_TEST_NOW = Date.parse('2026-11-02T12:00:00.000Z');

export const HOSTILE = {
  product: '=HYPERLINK("http://evil.example/?x","click")',
  vendor: '-2+3',
  version: '@SUM(1,2)',
  hostname: 'ris,"pacs"\nsecond line',
  tag: 'site-a',
} as const;

interface Seed {
  fixture: string;
  ip: string;
  profile?: Profile;
  more?: Partial<ServiceRecord>;
  cve?: { vendor?: string; product: string; version: string };
}

const NL: RecordAttribution = { country: 'NL', asn: 1103, asOrg: 'SURF B.V.', org: 'Example Hospital', orgSource: 'orgs' };
const DE: RecordAttribution = { country: 'DE', asn: 64500, asOrg: 'Example Carrier', org: 'Example Carrier', orgSource: 'asn' };

const pacs = (vendor: string, product: string): AssetIdentity => ({ vendor, product, deviceType: 'pacs', evidence: ['fixture'] });

export const SEEDS: readonly Seed[] = [
  {
    fixture: 'dicom/open-archive-safe.json',
    ip: '127.77.61.10',
    more: {
      vendor: 'OFFIS',
      product: 'DCMTK',
      version: '3.6.7',
      cpe: 'cpe:2.3:a:offis:dcmtk:3.6.7:*:*:*:*:*:*:*',
      deviceType: 'dicom-toolkit',
      asset: pacs('Orthanc', 'Orthanc'),
      attribution: NL,
    },
    cve: { vendor: 'offis', product: 'dcmtk', version: '3.6.7' },
  },
  {
    fixture: 'http/orthanc-open.json',
    ip: '127.77.61.10',
    more: {
      vendor: 'Orthanc',
      product: 'Orthanc',
      version: '1.10.1',
      cpe: 'cpe:2.3:a:orthanc-server:orthanc:1.10.1:*:*:*:*:*:*:*',
      deviceType: 'pacs',
      asset: pacs('Orthanc', 'Orthanc'),
      attribution: NL,
    },
    cve: { vendor: 'orthanc', product: 'orthanc', version: '1.10.1' },
  },
  { fixture: 'hl7/reject.json', ip: '127.77.61.11', more: { attribution: NL } },
  { fixture: 'fhir/hapi-open.json', ip: '127.77.61.12', more: { attribution: NL } },
  { fixture: 'tls/pacs-weak-tls.json', ip: '127.77.61.13', more: { attribution: DE } },
  { fixture: 'telnet/busybox-shell.json', ip: '127.77.61.14', more: { attribution: DE } },
  { fixture: 'vnc/open.json', ip: '127.77.61.15' },
  // A service no check fires on: in --services exports, absent from finding exports.
  { fixture: 'rdp/nla.json', ip: '127.77.61.16', more: { attribution: NL } },
  {
    fixture: 'dicom/storescp.json',
    ip: '127.77.61.20',
    more: { vendor: HOSTILE.vendor, product: HOSTILE.product, version: HOSTILE.version, hostname: HOSTILE.hostname, attribution: NL },
  },
  // A decoy: left out unless asked for.
  {
    fixture: 'dicom/open-archive-safe.json',
    ip: '127.77.61.30',
    more: { asset: { ...pacs('Orthanc', 'Orthanc'), honeypot: { signals: ['test-decoy'] } }, attribution: DE },
  },
];

export const HONEYPOT_IP = '127.77.61.30';
/** The service no check fires on. */
export const QUIET_SERVICE = { ip: '127.77.61.16', port: 3389 } as const;

function fixtureRecord(rel: string): ServiceRecord {
  const file = path.join(packageRoot(), 'src', 'checks', 'fixtures', rel);
  return JSON.parse(readFileSync(file, 'utf8')) as ServiceRecord;
}

/** The seed records as a scan would store them: checks run, CVEs matched, addresses moved. */
export function seedRecords(): ServiceRecord[] {
  const checks = loadChecks();
  return SEEDS.map((s) => {
    const base = fixtureRecord(s.fixture);
    const rec: ServiceRecord = { ...base, ...s.more, ip: s.ip };
    const profile = s.profile ?? (s.fixture.includes('intrusive') ? 'intrusive' : 'safe');
    const judged = runChecks(checkRecordOf(rec), profile, checks, { now: Date.parse(rec.timestamp) });
    const cves = s.cve ? toFindings(findVulnerabilities(s.cve)) : [];
    rec.findings = [...judged.findings, ...cves];
    rec.checksRun = judged.checksRun;
    rec.risk = Math.min(100, 10 * rec.findings.length);
    return rec;
  });
}

/**
 * Opens (creates) an inventory at `location` and stores the seed: one completed run, tags, and
 * one finding triaged false-positive (vnc-no-auth on 127.77.61.15).
 */
export async function seedExportInventory(location: string): Promise<KyselyInventory> {
  const inv = await openKyselyInventory(location);
  await inv.createRun({ id: 'export-r1', profile: 'safe', targets: ['127.77.61.0/24'], options: {}, totalTargets: 256 });
  await inv.recordServices('export-r1', seedRecords());
  await inv.finishRun('export-r1', 'completed', { stats: {} });
  await tagAssets(inv.db, '127.77.61.10', { add: ['radiology', 'site-a'] });
  await tagAssets(inv.db, '127.77.61.20', { add: [HOSTILE.tag] });
  const vnc = await inv.listFindings({ ip: '127.77.61.15' });
  const target = vnc.find((f) => f.checkId === 'vnc-no-auth');
  if (target === undefined) throw new Error('seed: vnc-no-auth did not fire on vnc/open.json');
  await inv.setUserState(target.id, 'false-positive', 'test triage');
  return inv;
}

/** A sink that keeps the export in memory (tests only: a real export streams). */
export function memorySink(): ExportSink & { text(): string; committed: boolean } {
  const parts: string[] = [];
  const sink = {
    where: 'memory',
    committed: false,
    write: async (t: string) => {
      parts.push(t);
    },
    commit: async () => {
      sink.committed = true;
    },
    abort: async () => {},
    text: () => parts.join(''),
  };
  return sink;
}

/** Runs one export into memory with the test clock; returns its text and summary. */
export async function exportText(target: SearchTarget, opts: ExportOptions): Promise<{ text: string; summary: ExportSummary }> {
  const sink = memorySink();
  const summary = await runExport(target, { now: EXPORT_TEST_NOW, ...opts }, async () => sink);
  if (!sink.committed) throw new Error('export did not commit');
  return { text: sink.text(), summary };
}

/** Patient-like canary values of the lab nodes (src/lab/nodes/*.ts): none may appear in an export. */
export function labCanaries(): string[] {
  return [
    ...Object.values(HL7_LAB_CANARIES),
    ...Object.values(WEB_LAB_CANARIES),
    ...Object.values(CERT_LAB_CANARIES),
    ...Object.values(CLINICAL_LAB_CANARIES.fhir),
    ...Object.values(CLINICAL_LAB_CANARIES.dicomweb),
  ].map(String);
}
