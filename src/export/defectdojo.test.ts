/**
 * DefectDojo export: every key written is one DefectDojo's Generic Findings Import JSON parser
 * reads (the lists transcribed from dojo/tools/generic/json_parser.py and dojo/tools/locations.py
 * into fixtures/defectdojo-generic-parser.json, with paths and commits in fixtures/README.md),
 * the list itself accepts the project's own sample (unittests/scans/generic/generic_report3.json),
 * and the content: severities, TLP, endpoints, CVE fields, triage flags, stable unique ids.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type { KyselyInventory } from '../inventory/index.js';
import { type DefectDojoFinding, endpointScheme } from './defectdojo.js';
import type { ExportService } from './types.js';
import { exportText, HONEYPOT_IP, seedExportInventory } from './test-inventory.js';

interface ParserSpec {
  testKeys: string[];
  requiredFindingKeys: string[];
  poppedFindingKeys: string[];
  allowedFindingKeys: string[];
  endpointKeys: string[];
  severities: string[];
}

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));
const spec = fixture('defectdojo-generic-parser.json') as ParserSpec;
const readable = new Set([...spec.requiredFindingKeys, ...spec.allowedFindingKeys, ...spec.poppedFindingKeys]);

/** The parser's checks on one finding: required keys present, nothing outside its lists, endpoints it can build. */
function parserProblems(item: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const k of spec.requiredFindingKeys) if (!(k in item)) problems.push(`missing ${k}`);
  for (const k of Object.keys(item)) if (!readable.has(k)) problems.push(`not allowed: ${k}`);
  for (const e of (item.endpoints as unknown[] | undefined) ?? []) {
    if (typeof e === 'string') continue;
    for (const k of Object.keys(e as object)) if (!spec.endpointKeys.includes(k)) problems.push(`endpoint key ${k}`);
  }
  return problems;
}

let inv: KyselyInventory;

before(async () => {
  inv = await seedExportInventory(':memory:');
});

after(async () => {
  await inv.close();
});

async function dojo(opts: { query?: string; tlp?: 'red'; includeHoneypots?: boolean } = {}) {
  return JSON.parse((await exportText(inv, { format: 'defectdojo', ...opts })).text) as {
    name: string;
    version: string;
    description: string;
    findings: (DefectDojoFinding & Record<string, unknown>)[];
  };
}

test("the parser's key list accepts DefectDojo's own sample (generic_report3.json)", () => {
  const sample = fixture('defectdojo-generic_report3.json') as { findings: Record<string, unknown>[] };
  assert.equal(sample.findings.length, 3);
  for (const f of sample.findings) assert.deepEqual(parserProblems(f), []);
  // And the check refuses what the parser refuses.
  assert.deepEqual(parserProblems({ title: 't', severity: 'Low', description: 'd', colour: 'red' }), ['not allowed: colour']);
  assert.deepEqual(parserProblems({ title: 't', severity: 'Low' }), ['missing description']);
  assert.deepEqual(parserProblems({ title: 't', severity: 'Low', description: 'd', endpoints: [{ hostname: 'x' }] }), ['endpoint key hostname']);
});

test('every key we write is one the parser reads; severities are its choices', async () => {
  const doc = await dojo({ includeHoneypots: true });
  for (const k of Object.keys(doc)) assert.ok(spec.testKeys.includes(k), `test-level key ${k}`);
  assert.ok(doc.findings.length > 20);
  for (const f of doc.findings) {
    assert.deepEqual(parserProblems(f), [], f.unique_id_from_tool);
    assert.ok(spec.severities.includes(f.severity), f.severity);
    assert.match(f.date, /^\d{4}-\d{2}-\d{2}$/);
  }
  const ids = doc.findings.map((f) => f.unique_id_from_tool);
  assert.equal(new Set(ids).size, ids.length, 'unique_id_from_tool is unique');
});

test('TLP marking in the description of the test and of every finding', async () => {
  const amber = await dojo();
  assert.ok(amber.description.startsWith('TLP:AMBER: '), amber.description);
  for (const f of amber.findings) assert.ok(f.description.startsWith('**TLP:AMBER** '), f.description.slice(0, 40));
  const red = await dojo({ tlp: 'red' });
  assert.ok(red.description.startsWith('TLP:RED: '));
  for (const f of red.findings) assert.ok(f.description.startsWith('**TLP:RED** '));
});

test('a check finding: severity, mitigation and references from the check, endpoint, flags', async () => {
  const doc = await dojo();
  const f = doc.findings.find((x) => x.unique_id_from_tool === '127.77.61.10:11112/dicom-any-ae');
  assert.ok(f);
  assert.equal(f.title, 'DICOM service accepts any called AE title');
  assert.equal(f.severity, 'High');
  assert.equal(f.vuln_id_from_tool, 'dicom-any-ae');
  assert.match(f.mitigation, /DicomCheckCalledAet/);
  assert.ok(f.references.split('\n').includes('https://nmap.org/nsedoc/scripts/dicom-ping.html'));
  assert.deepEqual(f.endpoints, [{ host: '127.77.61.10', port: 11112, protocol: 'dicom' }]);
  assert.equal(f.active, true);
  assert.equal(f.verified, true);
  assert.equal(f.false_p, false);
  assert.equal(f.dynamic_finding, true);
  assert.equal(f.component_name, 'DCMTK');
  assert.equal(f.component_version, '3.6.7');
  assert.deepEqual(f.tags, ['medsurface', 'dicom', 'radiology', 'site-a']);
  assert.match(f.description, /\*\*Service:\*\* 127\.77\.61\.10:11112\/dicom/);
  assert.match(f.description, /\*\*Location and owner:\*\* NL, AS1103, Example Hospital/);
  assert.match(f.description, /- data\.dicom\.anyAeAccepted: true/);
  assert.equal(f.cve, undefined);
});

test('a CVE finding: cve, CVSS v3 vector and score, NVD reference, not verified (version match)', async () => {
  const doc = await dojo();
  const f = doc.findings.find((x) => x.unique_id_from_tool === '127.77.61.10:11112/CVE-2022-43272');
  assert.ok(f);
  assert.equal(f.cve, 'CVE-2022-43272');
  assert.equal(f.cvssv3, 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H');
  assert.equal(f.cvssv3_score, 7.5);
  assert.equal(f.references, 'https://nvd.nist.gov/vuln/detail/CVE-2022-43272');
  assert.equal(f.verified, false);
  assert.match(f.mitigation, /CVE-2022-43272/);
});

test('triage: a false positive is exported flagged, not active', async () => {
  const f = (await dojo()).findings.find((x) => x.vuln_id_from_tool === 'vnc-no-auth');
  assert.ok(f);
  assert.equal(f.false_p, true);
  assert.equal(f.active, false);
  assert.equal(f.risk_accepted, false);
  assert.match(f.description, /\*\*Triage:\*\* false-positive/);
});

test('HTTPS-family endpoints use the https scheme when TLS was seen; honeypots only on request', async () => {
  const doc = await dojo();
  const http = doc.findings.find((x) => x.unique_id_from_tool === '127.77.61.10:8042/http-no-tls');
  assert.deepEqual(http?.endpoints, [{ host: '127.77.61.10', port: 8042, protocol: 'http' }]);
  assert.ok(!doc.findings.some((x) => x.endpoints[0]?.host === HONEYPOT_IP));
  const all = await dojo({ includeHoneypots: true });
  assert.ok(all.findings.some((x) => x.endpoints[0]?.host === HONEYPOT_IP));
  const svc = (protocol: string | null, tls: boolean) => ({ protocol, tls }) as ExportService;
  assert.equal(endpointScheme(svc('fhir', true)), 'https');
  assert.equal(endpointScheme(svc('dicomweb', false)), 'http');
  assert.equal(endpointScheme(svc('dicom', true)), 'dicom');
  assert.equal(endpointScheme(svc(null, false)), 'tcp');
});
