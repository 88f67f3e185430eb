import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { parse as parseYaml } from 'yaml';
import { Finding, ServiceRecord } from '../core/types.js';
import { packageRoot } from '../fingerprints/package-root.js';
import { DicomObservation } from '../probes/dicom/schema.js';
import {
  CHECKS_DB_VERSION,
  type CheckDef,
  CheckDbError,
  type CheckRecord,
  defaultDefsDir,
  evaluate,
  getPath,
  loadChecks,
  runChecks,
} from './engine.js';

const checks = loadChecks();
const checksDir = path.join(packageRoot(), 'src', 'checks');

function fixture(rel: string): CheckRecord & ServiceRecord {
  const raw: unknown = JSON.parse(readFileSync(path.join(checksDir, rel), 'utf8'));
  const rec = ServiceRecord.parse(raw);
  // The fixture's observation must have the probe's real shape, or the check tests nothing.
  if (rec.protocol === 'dicom') DicomObservation.parse(rec.data.dicom);
  return rec;
}

describe('check definitions', () => {
  test('the db carries one version as a whole (defs/index.yaml)', () => {
    const index = parseYaml(readFileSync(path.join(defaultDefsDir(), 'index.yaml'), 'utf8')) as { version: string };
    assert.equal(CHECKS_DB_VERSION, index.version);
    assert.match(CHECKS_DB_VERSION, /^\d{4}\.\d{2}\.\d{2}/);
  });

  test('the first DICOM checks are all there', () => {
    const ids = checks.map((c) => c.id).sort();
    for (const id of [
      'dicom-any-ae',
      'dicom-calling-ae-unchecked',
      'dicom-no-tls',
      'dicom-query-open',
      'dicom-records-reachable',
      'dicom-retrieve-unknown-ae',
    ]) {
      assert.ok(ids.includes(id), id);
    }
  });

  test('ids are unique, well-formed, valid finding ids and prefixed by their protocol', () => {
    const ids = checks.map((c) => c.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const c of checks) {
      assert.match(c.id, /^([a-z0-9]+-)*[a-z0-9]+$/);
      assert.ok(Finding.shape.id.safeParse(c.id).success);
      if (c.protocol !== '*') assert.ok(c.id.startsWith(`${c.protocol}-`), c.id);
      assert.equal(path.basename(c.file ?? '', '.yaml'), c.id);
    }
  });

  test('every check has a description, remediation and https references', () => {
    for (const c of checks) {
      assert.ok(c.info.description.length >= 40, c.id);
      assert.ok(c.info.remediation.length >= 40, c.id);
      assert.ok(c.info.references.length >= 1, c.id);
      for (const r of c.info.references) assert.match(r, /^https:\/\//);
    }
  });

  test('severities and profiles are as specified', () => {
    const by = new Map(checks.map((c) => [c.id, c]));
    assert.equal(by.get('dicom-any-ae')?.info.severity, 'high');
    assert.equal(by.get('dicom-no-tls')?.info.severity, 'medium');
    assert.equal(by.get('dicom-retrieve-unknown-ae')?.info.severity, 'high');
    assert.equal(by.get('dicom-query-open')?.info.severity, 'high');
    assert.equal(by.get('dicom-records-reachable')?.info.severity, 'critical');
    assert.equal(by.get('dicom-records-reachable')?.profile, 'intrusive');
    assert.equal(by.get('dicom-calling-ae-unchecked')?.info.severity, 'medium');
    for (const c of checks) if (c.id !== 'dicom-records-reachable') assert.equal(c.profile, 'safe', c.id);
  });

  test('every path a check reads exists in the probe schema (checked on its fixtures)', () => {
    for (const c of checks) {
      const recs = [...(c.examples?.positive ?? []), ...(c.examples?.negative ?? [])].map(fixture);
      for (const p of [...c.requires, ...c.evidence]) {
        assert.ok(
          recs.some((r) => getPath(r, p) !== undefined),
          `${c.id}: path ${p} is undefined in every fixture (typo, or a field the probe does not produce)`,
        );
      }
    }
  });
});

describe('check examples', () => {
  for (const c of checks) {
    describe(c.id, () => {
      for (const rel of c.examples?.positive ?? []) {
        test(`fires on ${rel}`, () => {
          const rec = fixture(rel);
          const { findings, checksRun } = runChecks(rec, 'intrusive', [c]);
          assert.deepEqual(checksRun, [c.id]);
          assert.equal(findings.length, 1);
          const f = findings[0]!;
          assert.ok(Finding.safeParse(f).success);
          assert.equal(f.id, c.id);
          assert.equal(f.severity, c.info.severity);
          assert.equal(f.title, c.info.name);
          assert.equal(f.confidence, c.confidence);
          assert.deepEqual(Object.keys(f.evidence ?? {}), c.evidence);
          for (const v of Object.values(f.evidence ?? {})) {
            assert.ok(v === null || ['string', 'number', 'boolean'].includes(typeof v));
            if (typeof v === 'string') assert.ok(v.length <= 260);
          }
        });
      }
      for (const rel of c.examples?.negative ?? []) {
        test(`runs on ${rel} and does not fire`, () => {
          const rec = fixture(rel);
          const { findings, checksRun } = runChecks(rec, 'intrusive', [c]);
          assert.deepEqual(checksRun, [c.id], 'a negative example must run the check (otherwise it proves nothing)');
          assert.deepEqual(findings, []);
        });
      }
    });
  }
});

describe('runChecks', () => {
  const open = fixture('fixtures/dicom/open-archive-safe.json');
  const intrusive = fixture('fixtures/dicom/open-archive-intrusive.json');

  test('the open archive in the safe profile raises the five safe findings', () => {
    const { findings, checksRun } = runChecks(open, 'safe');
    assert.deepEqual(findings.map((f) => f.id).sort(), [
      'dicom-any-ae',
      'dicom-calling-ae-unchecked',
      'dicom-no-tls',
      'dicom-query-open',
      'dicom-retrieve-unknown-ae',
    ]);
    assert.ok(!checksRun.includes('dicom-records-reachable'));
  });

  test('profile safe does not run intrusive checks, even on intrusive data', () => {
    const safe = runChecks(intrusive, 'safe');
    assert.ok(!safe.checksRun.includes('dicom-records-reachable'));
    assert.ok(!safe.findings.some((f) => f.id === 'dicom-records-reachable'));
    const full = runChecks(intrusive, 'intrusive');
    assert.ok(full.checksRun.includes('dicom-records-reachable'));
    const f = full.findings.find((x) => x.id === 'dicom-records-reachable');
    assert.deepEqual(f?.evidence, {
      'data.dicom.find.level': 'STUDY',
      'data.dicom.find.matches': 12,
      'data.dicom.find.capped': false,
      'data.dicom.find.attributes': 'StudyInstanceUID,StudyDate,PatientName,PatientID,QueryRetrieveLevel',
      'data.dicom.patientFind.level': 'PATIENT',
      'data.dicom.patientFind.matches': 3,
      'data.dicom.patientFind.attributes': 'PatientName,PatientID,QueryRetrieveLevel',
    });
  });

  test('records-reachable does not run on a safe-profile random-UID query (its `when` fails)', () => {
    const { checksRun } = runChecks(open, 'intrusive');
    assert.ok(!checksRun.includes('dicom-records-reachable'));
  });

  test('requires missing: the check did not run (it can neither fire nor resolve)', () => {
    const rejected = fixture('fixtures/dicom/rejected.json');
    const { findings, checksRun } = runChecks(rejected, 'intrusive');
    assert.deepEqual(checksRun, ['dicom-any-ae']);
    assert.deepEqual(findings, []);
    const noData: CheckRecord = { protocol: 'dicom', data: {} };
    assert.deepEqual(runChecks(noData, 'intrusive'), { findings: [], checksRun: [] });
  });

  test('a check only runs on its own protocol', () => {
    const asHttp: CheckRecord = { ...open, protocol: 'http' };
    assert.deepEqual(runChecks(asHttp, 'intrusive').checksRun, []);
    const noProtocol: CheckRecord = { ...open, protocol: null };
    assert.deepEqual(runChecks(noProtocol, 'intrusive').checksRun, []);
  });

  test("protocol '*' checks run on any protocol (TLS-level checks)", () => {
    const tlsCheck: CheckDef = {
      id: 'tls-test-old-version',
      info: { name: 'test', severity: 'low', description: 'd', remediation: 'r', references: ['https://example.org'] },
      protocol: '*',
      profile: 'safe',
      confidence: 'confirmed',
      requires: ['tls.version'],
      match: { path: 'tls.version', in: ['TLSv1', 'TLSv1.1'] },
      evidence: ['tls.version'],
    };
    const rec: CheckRecord = { protocol: 'dicom', data: {}, tls: { version: 'TLSv1.1' } };
    assert.deepEqual(runChecks(rec, 'safe', [tlsCheck]).findings.map((f) => f.evidence), [{ 'tls.version': 'TLSv1.1' }]);
    assert.deepEqual(runChecks({ ...rec, tls: { version: 'TLSv1.3' } }, 'safe', [tlsCheck]), {
      findings: [],
      checksRun: ['tls-test-old-version'],
    });
    assert.deepEqual(runChecks({ protocol: 'http', data: {} }, 'safe', [tlsCheck]).checksRun, []);
  });
});

describe('matchers', () => {
  const rec = {
    protocol: 'dicom',
    data: { n: 5, s: 'OFFIS_DCMTK_367', b: false, z: null, list: ['a', 'b'], nested: [{ x: 1 }] },
    identification: { product: 'DCMTK', rules: [] },
  };

  test('leaf operators', () => {
    assert.ok(evaluate({ path: 'data.n', equals: 5 }, rec));
    assert.ok(!evaluate({ path: 'data.n', equals: '5' }, rec));
    assert.ok(evaluate({ path: 'data.z', equals: null }, rec));
    assert.ok(evaluate({ path: 'data.missing', equals: null }, rec));
    assert.ok(evaluate({ path: 'data.n', notEquals: 4 }, rec));
    assert.ok(!evaluate({ path: 'data.missing', notEquals: 4 }, rec));
    assert.ok(evaluate({ path: 'data.b', exists: true }, rec));
    assert.ok(evaluate({ path: 'data.z', exists: false }, rec));
    assert.ok(evaluate({ path: 'data.n', gt: 4 }, rec) && !evaluate({ path: 'data.n', gt: 5 }, rec));
    assert.ok(evaluate({ path: 'data.n', gte: 5 }, rec) && evaluate({ path: 'data.n', lt: 6 }, rec));
    assert.ok(evaluate({ path: 'data.n', lte: 5 }, rec) && !evaluate({ path: 'data.s', gt: 0 }, rec));
    assert.ok(evaluate({ path: 'data.s', in: ['x', 'OFFIS_DCMTK_367'] }, rec));
    assert.ok(evaluate({ path: 'data.s', contains: 'DCMTK' }, rec));
    assert.ok(evaluate({ path: 'data.list', contains: 'b' }, rec) && !evaluate({ path: 'data.list', contains: 'c' }, rec));
    assert.ok(evaluate({ path: 'data.s', regex: '^OFFIS_DCMTK_\\d{3}$' }, rec));
    assert.ok(!evaluate({ path: 'data.n', regex: '^5$' }, rec));
    assert.ok(evaluate({ path: 'data.nested.0.x', equals: 1 }, rec));
    assert.ok(evaluate({ path: 'identification.product', equals: 'DCMTK' }, rec));
  });

  test('combinators', () => {
    assert.ok(evaluate({ all: [{ path: 'data.n', equals: 5 }, { not: { path: 'data.b', equals: true } }] }, rec));
    assert.ok(evaluate({ any: [{ path: 'data.n', equals: 1 }, { path: 'data.s', exists: true }] }, rec));
    assert.ok(!evaluate({ any: [{ path: 'data.n', equals: 1 }, { path: 'data.missing', exists: true }] }, rec));
  });

  test('paths never reach inherited properties', () => {
    assert.equal(getPath(rec, 'data.s.length'), undefined);
    assert.equal(getPath({ data: {} }, 'data.toString'), undefined);
    assert.equal(getPath(rec, 'data.list.length'), undefined);
  });

  test('a regex runs on a value truncated to LIMITS.bannerBytes, in bounded time', () => {
    const huge = { data: { s: `${'a'.repeat(5_000_000)}!` } };
    const started = Date.now();
    assert.ok(!evaluate({ path: 'data.s', regex: '^a+!$' }, huge));
    assert.ok(evaluate({ path: 'data.s', regex: '^a+$' }, huge));
    assert.ok(Date.now() - started < 1000);
  });

  test('evaluate never throws on arbitrary records', () => {
    const m = checks.map((c) => c.match);
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(...m), (data, matcher) => {
        evaluate(matcher, { protocol: 'dicom', data: { dicom: data } });
        runChecks({ protocol: 'dicom', data: { dicom: data } }, 'intrusive');
      }),
      { numRuns: 300 },
    );
  });
});

describe('loadChecks', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'medsurface-checks-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));
  const original = readFileSync(path.join(defaultDefsDir(), 'dicom', 'dicom-any-ae.yaml'), 'utf8');

  function defs(name: string, files: Record<string, string>): string {
    const dir = path.join(tmp, name);
    mkdirSync(path.join(dir, 'dicom'), { recursive: true });
    writeFileSync(path.join(dir, 'index.yaml'), 'version: "2025.01.01"\n');
    for (const [f, text] of Object.entries(files)) writeFileSync(path.join(dir, f), text);
    return dir;
  }

  test('loads a valid folder and caches it', () => {
    const dir = defs('ok', { 'dicom/dicom-any-ae.yaml': original });
    const loaded = loadChecks(dir);
    assert.equal(loaded.length, 1);
    assert.equal(loadChecks(dir), loaded);
    assert.equal(loadChecks(), checks);
  });

  test('rejects bad definitions', () => {
    const cases: Record<string, string> = {
      'unanchored-regex': original.replace(
        'match:\n  path: data.dicom.anyAeAccepted\n  equals: true',
        "match:\n  path: data.dicom.acceptedCalledAe\n  regex: 'ANY'",
      ),
      'proto-path': original.replace('  - data.dicom.anyAeAccepted\nmatch', '  - data.__proto__.x\nmatch'),
      'bad-root': original.replace('  - data.dicom.anyAeAccepted\nmatch', '  - dicom.anyAeAccepted\nmatch'),
      'no-references': original.replace(/ {2}references:\n( {4}- .*\n)+/, '  references: []\n'),
      'no-negative': original.replace(/ {2}negative:\n( {4}- .*\n)+/, '  negative: []\n'),
      'bad-severity': original.replace('severity: high', 'severity: severe'),
      'bad-profile': original.replace('profile: safe', 'profile: aggressive'),
      'two-operators': original.replace('  equals: true', '  equals: true\n  exists: true'),
    };
    for (const [name, text] of Object.entries(cases)) {
      assert.notEqual(text, original, `${name}: the replacement did not apply`);
      const dir = defs(name, { 'dicom/dicom-any-ae.yaml': text });
      assert.throws(() => loadChecks(dir), CheckDbError, name);
    }
    const wrongName = defs('wrong-name', { 'dicom/any-ae.yaml': original });
    assert.throws(() => loadChecks(wrongName), /file name must be the check id/);
    const dup = defs('dup', { 'dicom/dicom-any-ae.yaml': original, 'dicom-any-ae.yaml': original });
    assert.throws(() => loadChecks(dup), /duplicate check id/);
    const wrongPrefix = defs('wrong-prefix', { 'dicom/dicom-any-ae.yaml': original.replace('protocol: dicom', 'protocol: hl7') });
    assert.throws(() => loadChecks(wrongPrefix), /prefixed by its protocol/);
    const noIndex = path.join(tmp, 'no-index');
    mkdirSync(noIndex);
    assert.throws(() => loadChecks(noIndex));
  });
});
