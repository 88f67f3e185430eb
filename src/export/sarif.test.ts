/**
 * SARIF export: real exports of the seeded inventory validated with Ajv against the official
 * OASIS SARIF 2.1.0 schema (fixtures/sarif-schema-2.1.0.json, errata 01; origin in
 * fixtures/README.md), and the content a consumer relies on: rules from the check definitions
 * (levels, security-severity, help), CVE rules with their NVD address, locations, fingerprints,
 * suppressions for triaged findings, and the TLP marking.
 *
 * Formats: ajv-formats is not installed, so the three formats the schema uses are checked by
 * the functions below (RFC 3986 URI / URI reference by character set and percent-encoding, an
 * absolute URI needing a scheme; RFC 3339 date-time by pattern and calendar).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { Ajv, type ValidateFunction } from 'ajv';
import type { Log, ReportingDescriptor, Result } from 'sarif';
import { loadChecks } from '../checks/index.js';
import type { KyselyInventory } from '../inventory/index.js';
import { SARIF_SCHEMA_URI, securitySeverity } from './index.js';
import { EXPORT_TEST_NOW, exportText, seedExportInventory } from './test-inventory.js';

const URI_CHARS = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]*$/;
const BAD_PERCENT = /%(?![0-9A-Fa-f]{2})/;

function isUriReference(s: string): boolean {
  return URI_CHARS.test(s) && !BAD_PERCENT.test(s);
}

function isUri(s: string): boolean {
  return /^[A-Za-z][A-Za-z0-9+.-]*:/.test(s) && isUriReference(s);
}

function isDateTime(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) return false;
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const day = new Date(Date.UTC(y, mo - 1, d));
  return day.getUTCMonth() === mo - 1 && day.getUTCDate() === d && h < 24 && mi < 60 && se < 61;
}

const schema = JSON.parse(readFileSync(new URL('./fixtures/sarif-schema-2.1.0.json', import.meta.url), 'utf8')) as Record<string, unknown>;
let validate: ValidateFunction;
let inv: KyselyInventory;

before(async () => {
  // Draft-04 names a schema's id `id`; Ajv 8's core vocabulary refuses that keyword unless removed.
  const ajv = new Ajv({ strict: false, validateSchema: false, schemaId: 'id', allErrors: true });
  ajv.removeKeyword('id');
  ajv.addFormat('uri', isUri);
  ajv.addFormat('uri-reference', isUriReference);
  ajv.addFormat('date-time', isDateTime);
  validate = ajv.compile(schema);
  inv = await seedExportInventory(':memory:');
});

after(async () => {
  await inv.close();
});

function assertValid(doc: unknown): void {
  const ok = validate(doc);
  assert.ok(ok, JSON.stringify(validate.errors?.slice(0, 5), null, 2));
}

async function sarif(opts: { query?: string; tlp?: 'clear' | 'red'; includeHoneypots?: boolean } = {}): Promise<Log> {
  const { text } = await exportText(inv, { format: 'sarif', ...opts });
  return JSON.parse(text) as Log;
}

test('the copied schema is the OASIS SARIF 2.1.0 errata 01 schema, and the format checks have teeth', () => {
  assert.equal(schema.id, SARIF_SCHEMA_URI);
  assert.equal(schema.title, 'Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema');
  assert.ok(isUri('tcp://127.77.61.10:104') && isUri('https://nvd.nist.gov/vuln/detail/CVE-2024-28130'));
  assert.ok(isUriReference('network/2001:db8::1/tcp/104') && !isUri('network/127.77.61.10/tcp/104'));
  assert.ok(!isUri('127.77.61.10:104/dicom path') && !isUri('no-scheme/x') && !isUri('http://x/%zz'));
  assert.ok(isDateTime('2026-11-02T12:00:00.000Z') && !isDateTime('2026-02-30T00:00:00Z') && !isDateTime('2026-11-02 12:00'));
});

test('a full export validates against the official schema', async () => {
  const log = await sarif();
  assertValid(log);
  assert.equal(log.version, '2.1.0');
  assert.equal(log.$schema, SARIF_SCHEMA_URI);
  assert.equal(log.runs.length, 1);
  assert.ok((log.runs[0]!.results ?? []).length > 20);
});

test('filtered, empty, red and honeypot-including exports validate too', async () => {
  for (const opts of [{ query: 'severity>=high' }, { query: 'port:1' }, { tlp: 'red' as const }, { includeHoneypots: true }, { query: 'protocol:hl7' }]) {
    assertValid(await sarif(opts));
  }
});

test('the validator rejects what the schema forbids (so a pass means something)', async () => {
  const log = await sarif();
  const result = log.runs[0]!.results![0]!;
  const broken: unknown[] = [
    { ...log, version: '2.2.0' },
    { ...log, runs: [{ ...log.runs[0], results: [{ ...result, level: 'fatal' }] }] },
    { ...log, runs: [{ ...log.runs[0], results: [{ ...result, message: undefined }] }] },
    {
      ...log,
      runs: [{ ...log.runs[0], results: [{ ...result, locations: [{ physicalLocation: { artifactLocation: { uri: 'network/a b' } } }] }] }],
    },
    { ...log, runs: [{ ...log.runs[0], results: [{ ...result, provenance: { firstDetectionTimeUtc: 'yesterday' } }] }] },
  ];
  for (const doc of broken) assert.equal(validate(JSON.parse(JSON.stringify(doc))), false);
});

test('TLP marking in runs[0].properties and runs[0].automationDetails', async () => {
  for (const [tlp, label] of [
    [undefined, 'TLP:AMBER'],
    ['clear', 'TLP:CLEAR'],
    ['red', 'TLP:RED'],
  ] as const) {
    const run = (await sarif(tlp ? { tlp } : {})).runs[0]!;
    assert.equal(run.properties?.tlp, label);
    assert.match(String(run.properties?.tlpDescription), /disclosure/);
    assert.ok(run.automationDetails?.description?.text?.startsWith(`${label}: `), run.automationDetails?.description?.text);
    assert.equal(run.automationDetails?.properties?.tlp, label);
    assert.equal(run.automationDetails?.id, `medsurface/export/${new Date(EXPORT_TEST_NOW).toISOString()}`);
  }
});

test('rules: one per check definition, with levels, security-severity and help', async () => {
  const run = (await sarif()).runs[0]!;
  const rules = run.tool.driver.rules ?? [];
  const byId = new Map(rules.map((r) => [r.id, r]));
  for (const c of loadChecks()) {
    const r = byId.get(c.id);
    assert.ok(r, `rule for ${c.id}`);
    assert.equal(r.shortDescription?.text, c.info.name);
    assert.equal(r.fullDescription?.text, c.info.description);
    assert.ok(r.help?.text?.startsWith(c.info.remediation));
    assert.equal(r.helpUri, c.info.references[0]);
    assert.equal(r.properties?.['security-severity'], securitySeverity(c.info.severity).toFixed(1));
    const level = r.defaultConfiguration?.level;
    assert.equal(level, { critical: 'error', high: 'error', medium: 'warning', low: 'note', info: 'note' }[c.info.severity]);
  }
  assert.equal(run.tool.driver.name, 'medsurface');
  assert.equal(new Set(rules.map((r) => r.id)).size, rules.length, 'rule ids are unique');
  assert.equal(byId.get('dicom-any-ae')?.properties?.['security-severity'], '8.0');
  assert.equal(byId.get('orthanc-rest-open')?.properties?.['security-severity'], '9.5');
});

test('CVE findings are rules with the NVD address and their CVSS score; every result has a rule', async () => {
  const run = (await sarif()).runs[0]!;
  const rules = new Map((run.tool.driver.rules ?? []).map((r): [string, ReportingDescriptor] => [r.id, r]));
  const results = run.results ?? [];
  for (const r of results) assert.ok(rules.has(r.ruleId!), `no rule for ${r.ruleId}`);
  const cve = rules.get('CVE-2022-43272');
  assert.ok(cve);
  assert.equal(cve.helpUri, 'https://nvd.nist.gov/vuln/detail/CVE-2022-43272');
  assert.equal(cve.properties?.['security-severity'], '7.5');
  assert.ok(cve.properties?.tags?.includes('cve'));
  const cveResult = results.find((r) => r.ruleId === 'CVE-2022-43272');
  assert.equal(cveResult?.level, 'error');
  assert.equal(cveResult?.properties?.confidence, 'version');
});

test('results: relative location URI (no scheme, as GitHub requires) and logical location, message, fingerprint, provenance, properties', async () => {
  const results = (await sarif()).runs[0]!.results ?? [];
  const r = results.find((x) => x.ruleId === 'dicom-any-ae' && x.locations?.[0]?.physicalLocation?.artifactLocation?.uri === 'network/127.77.61.10/tcp/11112') as Result;
  assert.ok(r);
  for (const x of results) {
    const u = x.locations?.[0]?.physicalLocation?.artifactLocation?.uri ?? '';
    assert.match(u, /^network\/[0-9a-f.:]+\/tcp\/\d+$/, 'a relative URI: GitHub refuses schemes other than file');
  }
  assert.equal(r.kind, 'fail');
  assert.equal(r.level, 'error');
  assert.deepEqual(r.locations?.[0]?.logicalLocations, [{ name: '127.77.61.10:11112', fullyQualifiedName: '127.77.61.10:11112/dicom', kind: 'resource' }]);
  assert.equal(r.message.text, 'DICOM service accepts any called AE title on 127.77.61.10:11112/dicom (OFFIS DCMTK 3.6.7).');
  assert.equal(r.partialFingerprints?.['medsurface/v1'], '127.77.61.10|11112|dicom-any-ae');
  assert.ok(r.provenance?.firstDetectionTimeUtc && r.provenance.lastDetectionTimeUtc);
  assert.equal(r.properties?.severity, 'high');
  assert.deepEqual(r.properties?.evidence, { 'data.dicom.anyAeAccepted': true, 'data.dicom.acceptedCalledAe': 'MSX7Q2K9ZP4W1R8T' });
  assert.deepEqual(r.properties?.tags, ['radiology', 'site-a']);
  assert.equal((r.properties?.service as { country: string } | undefined)?.country, 'NL');
  assert.equal(r.suppressions, undefined);
});

test('a triaged finding carries an accepted external suppression', async () => {
  const results = (await sarif()).runs[0]!.results ?? [];
  const vnc = results.find((x) => x.ruleId === 'vnc-no-auth');
  assert.ok(vnc);
  assert.deepEqual(vnc.suppressions, [{ kind: 'external', status: 'accepted', justification: 'marked false-positive in the medsurface inventory' }]);
  assert.equal(vnc.properties?.userState, 'false-positive');
});

test('--query selects services: severity>=high keeps only services whose highest open finding is high or critical', async () => {
  const all = (await sarif()).runs[0]!.results ?? [];
  const high = (await sarif({ query: 'severity>=high' })).runs[0]!.results ?? [];
  const uri = (r: Result) => r.locations![0]!.physicalLocation!.artifactLocation!.uri!;
  const worst = new Map<string, number>();
  const rank = { error: 2, warning: 1, note: 0, none: 0 } as const;
  for (const r of all) worst.set(uri(r), Math.max(worst.get(uri(r)) ?? 0, rank[r.level ?? 'none']));
  const expected = all.filter((r) => worst.get(uri(r)) === 2 && r.properties?.userState === null);
  assert.ok(high.length > 0 && high.length < all.length);
  // Every service kept has an error-level (high/critical) result; services without one are gone.
  assert.deepEqual(new Set(high.map(uri)), new Set(expected.map(uri)));
  assert.ok(!high.some((r) => uri(r) === 'network/127.77.61.11/tcp/2575'), 'hl7 (medium only) is left out');
});
