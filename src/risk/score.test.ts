import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { assetRisk, exposureWeight, findingScore, reachableRecords, serviceRisk } from './score.js';

test('no findings, no risk', () => {
  assert.equal(serviceRisk({ ip: '9.9.9.5', deviceType: 'mri', findings: [] }), 0);
  assert.equal(serviceRisk({ ip: '9.9.9.5', deviceType: 'mri', findings: [{ severity: 'info', confidence: 'confirmed' }] }), 0);
});

test('documented examples (docs/risk.md) compute by hand', () => {
  // Open PACS on a public address (a string only: pure computation, no traffic), any-AE (critical) + no TLS (medium), 120 studies countable.
  const pacs = serviceRisk({
    ip: '9.9.9.7',
    deviceType: 'pacs',
    findings: [
      { severity: 'critical', confidence: 'confirmed' },
      { severity: 'medium', confidence: 'confirmed' },
    ],
    data: { dicom: { find: { kind: 'count', matches: 120 } } },
  });
  assert.equal(pacs, 100); // min(10, 9.5 + 0 + 1) x 1 x 1
  // The same on a private address.
  assert.equal(
    serviceRisk({ ip: '10.1.2.3', deviceType: 'pacs', findings: [{ severity: 'critical', confidence: 'confirmed' }, { severity: 'medium', confidence: 'confirmed' }], data: { dicom: { find: { kind: 'count', matches: 120 } } } }),
    70,
  );
  // A KEV CVE matched from a version string on an interface engine: (max(9.8,9)+1 capped 10) x 0.9 = 9 -> 90.
  assert.equal(
    serviceRisk({ ip: '9.9.9.8', deviceType: 'interface-engine', findings: [{ severity: 'critical', confidence: 'version', evidence: { cvss: 9.8, kev: true } }] }),
    90,
  );
  // A brochure web site without TLS: 5.5 x 0.6 -> 33.
  assert.equal(serviceRisk({ ip: '9.9.9.9', deviceType: 'web-server', findings: [{ severity: 'medium', confidence: 'confirmed' }] }), 33);
});

test('the safe random-UID query proves no records', () => {
  assert.equal(reachableRecords({ dicom: { find: { kind: 'random-uid', matches: 0 } } }), 0);
  assert.equal(reachableRecords({ dicom: { find: { kind: 'count', matches: 3 }, patientFind: { matches: 7 } } }), 7);
  assert.equal(reachableRecords({ fhir: { patientCount: 12 }, dicomweb: { count: { matches: 4 } } }), 12);
  assert.equal(reachableRecords({ fhir: { patientCount: null } }), 0);
});

test('exposure weight tells public from internal addresses', () => {
  assert.equal(exposureWeight('8.8.8.8'), 1);
  assert.equal(exposureWeight('2001:4860::1'), 1);
  for (const ip of ['127.77.0.10', '10.0.0.1', '192.168.1.1', '172.16.0.1', '169.254.1.1', 'fd00::1', '::1', '::ffff:10.0.0.1', 'bogus']) {
    assert.equal(exposureWeight(ip), 0.7, ip);
  }
});

test('asset risk: highest service plus breadth, capped', () => {
  assert.equal(assetRisk([]), 0);
  assert.equal(assetRisk([30, 10]), 30);
  assert.equal(assetRisk([60, 45, 41, 40, 90]), 100);
  assert.equal(assetRisk([50, 45]), 55);
});

test('scores stay within 0..100 and grow with severity', () => {
  const sev = fc.constantFrom('info', 'low', 'medium', 'high', 'critical' as const);
  const finding = fc.record({
    severity: sev,
    confidence: fc.constantFrom('confirmed', 'version', 'inferred'),
    evidence: fc.option(fc.record({ cvss: fc.option(fc.double({ min: -5, max: 20, noNaN: true })), kev: fc.boolean() }), { nil: undefined }),
  });
  fc.assert(
    fc.property(fc.array(finding, { maxLength: 8 }), fc.constantFrom('mri', 'pacs', 'viewer', null, 'web-server'), fc.constantFrom('127.0.0.1', '203.0.113.1'), (fs, dt, ip) => {
      const r = serviceRisk({ ip, deviceType: dt, findings: fs as never });
      assert.ok(Number.isInteger(r) && r >= 0 && r <= 100);
      for (const f of fs) assert.ok(findingScore(f as never) <= 10);
    }),
  );
  const base = { ip: '203.0.113.1', deviceType: 'pacs' };
  assert.ok(
    serviceRisk({ ...base, findings: [{ severity: 'high', confidence: 'confirmed' }] }) <
      serviceRisk({ ...base, findings: [{ severity: 'critical', confidence: 'confirmed' }] }),
  );
});
