import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { parse as parseYaml } from 'yaml';
import { Finding, PROBE_IDS, ServiceRecord, SEVERITIES } from '../core/types.js';
import { packageRoot } from '../fingerprints/package-root.js';
import { OutputRecord } from '../output/schema.js';
import {
  CHECKS_DB_VERSION,
  type CheckDef,
  CheckDbError,
  type CheckRecord,
  checkRecordOf,
  defaultDefsDir,
  evaluate,
  getPath,
  loadChecks,
  runChecks,
} from './engine.js';

const checks = loadChecks();
const checksDir = path.join(packageRoot(), 'src', 'checks');

/**
 * A fixture as the checks see it: a stored service record turned into a check record the way a
 * rescore does (checkRecordOf). Every observation must have its probe's exact shape (no field
 * missing, none unknown), or the check would test a record no probe produces.
 */
function fixture(rel: string): CheckRecord {
  const raw = JSON.parse(readFileSync(path.join(checksDir, rel), 'utf8')) as { data: Record<string, unknown> };
  const rec = ServiceRecord.parse(raw);
  const typed = OutputRecord.parse(raw);
  for (const key of Object.keys(raw.data)) {
    // Probe observations, and the intrusive credential attempts (src/credentials/), which have their own schema.
    assert.ok((PROBE_IDS as readonly string[]).includes(key) || key === 'credentials', `${rel}: data.${key} is not a probe id`);
    assert.deepEqual(typed.data[key], raw.data[key], `${rel}: data.${key} does not have the probe's exact shape`);
  }
  return checkRecordOf(rec);
}

/** The severities a finding of `c` may carry: its own and its escalations. */
const severitiesOf = (c: CheckDef) => [c.info.severity, ...(c.escalate ?? []).map((e) => e.severity)];

const ISSUE_4_CHECKS: Record<string, { severity: string; profile: 'safe' | 'intrusive'; protocol: string; escalate?: string[] }> = {
  'dicomweb-open': { severity: 'high', profile: 'safe', protocol: '*' },
  'fhir-open': { severity: 'high', profile: 'safe', protocol: '*' },
  'fhir-no-smart': { severity: 'medium', profile: 'safe', protocol: '*' },
  'hl7-unauthenticated': { severity: 'high', profile: 'safe', protocol: 'hl7' },
  'hl7-no-tls': { severity: 'medium', profile: 'safe', protocol: 'hl7' },
  'vnc-no-auth': { severity: 'critical', profile: 'safe', protocol: 'vnc' },
  'ftp-anonymous': { severity: 'medium', profile: 'intrusive', protocol: 'ftp' },
  'ftp-cleartext': { severity: 'medium', profile: 'safe', protocol: 'ftp' },
  'telnet-exposed': { severity: 'high', profile: 'safe', protocol: 'telnet', escalate: ['critical'] },
  'rdp-no-nla': { severity: 'medium', profile: 'safe', protocol: 'rdp', escalate: ['high'] },
  'http-admin-no-login': { severity: 'high', profile: 'safe', protocol: '*' },
  'http-no-tls': { severity: 'medium', profile: 'safe', protocol: '*', escalate: ['high'] },
  'orthanc-rest-open': { severity: 'critical', profile: 'safe', protocol: '*' },
  'tls-legacy-version': { severity: 'medium', profile: 'safe', protocol: '*' },
  'tls-expired-cert': { severity: 'medium', profile: 'safe', protocol: '*' },
  'tls-self-signed': { severity: 'low', profile: 'safe', protocol: '*' },
  'tls-weak-key': { severity: 'medium', profile: 'safe', protocol: '*' },
  'tls-sha1-signature': { severity: 'medium', profile: 'safe', protocol: '*' },
};

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

  test("issue 4's missing-authentication and insecure-transport checks are all there, as specified", () => {
    const by = new Map(checks.map((c) => [c.id, c]));
    for (const [id, want] of Object.entries(ISSUE_4_CHECKS)) {
      const c = by.get(id);
      assert.ok(c, id);
      assert.equal(c.info.severity, want.severity, id);
      assert.equal(c.profile, want.profile, id);
      assert.equal(c.protocol, want.protocol, id);
      assert.equal(c.confidence, 'confirmed', id);
      assert.deepEqual((c.escalate ?? []).map((e) => e.severity), want.escalate ?? [], id);
      // Checks of one protocol live in defs/<protocol>/; TLS-level ones in defs/tls/.
      assert.equal(c.file?.split('/')[0], id.startsWith('orthanc-') ? 'http' : id.split('-')[0], id);
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
    // Only checks that judge intrusive-only data need the intrusive profile.
    const intrusive = checks.filter((c) => c.profile === 'intrusive').map((c) => c.id).sort();
    assert.deepEqual(intrusive, ['dicom-records-reachable', 'ftp-anonymous', 'http-default-credentials']);
  });

  test('escalations only raise the severity', () => {
    for (const c of checks) {
      for (const e of c.escalate ?? []) assert.ok(SEVERITIES.indexOf(e.severity) > SEVERITIES.indexOf(c.info.severity), c.id);
    }
  });

  test('evidence never copies a path that can carry patient or free text values', () => {
    // Certificate subjects (DESIGN.md lists them among the channels that can leak), banners and
    // refusal texts are never evidence. Attribute keywords and titles (the http probe keeps only
    // those that pass isSafeTitle) may be.
    const forbidden = [/^tls\.certificate\.(subject|issuer|subjectAltNames)$/, /\.banner$/, /\.syst$/, /\.failureReason$/, /^data\.hl7\.(errors|controlId)/];
    for (const c of checks) for (const p of c.evidence) for (const f of forbidden) assert.doesNotMatch(p, f, `${c.id}: ${p}`);
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
          assert.ok(severitiesOf(c).includes(f.severity), `${f.severity} is not a severity of ${c.id}`);
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

  test('no check throws on arbitrary observations of any probe, TLS info or identification', () => {
    fc.assert(
      fc.property(fc.constantFrom(...PROBE_IDS), fc.jsonValue(), fc.jsonValue(), fc.jsonValue(), (probe, data, tls, identification) => {
        const rec = { protocol: probe, data: { [probe]: data }, tls, identification } as CheckRecord;
        const { findings } = runChecks(rec, 'intrusive');
        for (const f of findings) assert.ok(Finding.safeParse(f).success);
      }),
      { numRuns: 500 },
    );
  });
});

describe('date operators (before / after)', () => {
  const rec = { data: { past: '2015-01-01T00:00:00.000Z', future: '2036-11-25T18:49:52.000Z', day: '2020-06-01', junk: 'Jan 1 2015', n: 1 } };
  const now = Date.parse('2027-06-01T12:00:00Z');

  test('compare an ISO 8601 value with now', () => {
    assert.ok(evaluate({ path: 'data.past', before: 'now' }, rec, now));
    assert.ok(!evaluate({ path: 'data.past', after: 'now' }, rec, now));
    assert.ok(evaluate({ path: 'data.future', after: 'now' }, rec, now));
    assert.ok(!evaluate({ path: 'data.future', before: 'now' }, rec, now));
  });

  test('now is the evaluation time (an option of runChecks), so a stored record ages', () => {
    const expired = checks.find((c) => c.id === 'tls-expired-cert')!;
    const good = fixture('fixtures/tls/pacs-tls.json');
    assert.equal(runChecks(good, 'safe', [expired], { now }).findings.length, 0);
    // The same certificate judged after its notAfter, and before its notBefore.
    assert.equal(runChecks(good, 'safe', [expired], { now: Date.parse('2037-01-01T00:00:00Z') }).findings.length, 1);
    assert.equal(runChecks(good, 'safe', [expired], { now: Date.parse('2020-01-01T00:00:00Z') }).findings.length, 1);
  });

  test('compare with a fixed date', () => {
    assert.ok(evaluate({ path: 'data.day', before: '2021-01-01' }, rec, now));
    assert.ok(evaluate({ path: 'data.day', after: '2020-05-31T23:59:59Z' }, rec, now));
    assert.ok(!evaluate({ path: 'data.day', after: '2020-06-01' }, rec, now));
  });

  test('a value that is not an ISO 8601 date matches neither way', () => {
    for (const p of ['data.junk', 'data.n', 'data.missing']) {
      assert.ok(!evaluate({ path: p, before: 'now' }, rec, now), p);
      assert.ok(!evaluate({ path: p, after: 'now' }, rec, now), p);
    }
    assert.ok(!evaluate({ path: 'data.s', before: 'now' }, { data: { s: `2015-01-01${'0'.repeat(100)}` } }, now));
  });
});

describe('severity escalation', () => {
  test('telnet-exposed is critical for a shell without login, high for a login prompt', () => {
    const sev = (rel: string) => runChecks(fixture(rel), 'safe').findings.find((f) => f.id === 'telnet-exposed')?.severity;
    assert.equal(sev('fixtures/telnet/busybox-shell.json'), 'critical');
    assert.equal(sev('fixtures/telnet/login.json'), 'high');
    assert.equal(sev('fixtures/telnet/cisco.json'), 'high');
  });

  test('rdp-no-nla is high when standard RDP security is accepted, medium when only NLA is optional', () => {
    const sev = (rel: string) => runChecks(fixture(rel), 'safe').findings.find((f) => f.id === 'rdp-no-nla')?.severity;
    assert.equal(sev('fixtures/rdp/legacy.json'), 'high');
    assert.equal(sev('fixtures/rdp/tls.json'), 'medium');
  });

  test('http-no-tls is high when credentials would cross in clear text', () => {
    const sev = (rel: string) => runChecks(fixture(rel), 'safe').findings.find((f) => f.id === 'http-no-tls')?.severity;
    assert.equal(sev('fixtures/http/openemr.json'), 'high'); // password form
    assert.equal(sev('fixtures/http/orthanc-secure.json'), 'high'); // Basic challenge
    assert.equal(sev('fixtures/fhir/locked.json'), 'high'); // Bearer challenge
    assert.equal(sev('fixtures/http/orthanc-open.json'), 'medium');
    assert.equal(sev('fixtures/fhir/hapi-open.json'), 'medium');
  });
});

describe('issue 4 checks on their fixtures', () => {
  const mine = new Set(Object.keys(ISSUE_4_CHECKS));
  const fired = (rel: string, profile: 'safe' | 'intrusive' = 'safe') =>
    runChecks(fixture(rel), profile)
      .findings.map((f) => f.id)
      .filter((id) => mine.has(id))
      .sort();

  test('each fixture raises exactly the findings its service deserves', () => {
    const want: Record<string, string[]> = {
      'fixtures/http/orthanc-open.json': ['http-admin-no-login', 'http-no-tls', 'orthanc-rest-open'],
      'fixtures/http/orthanc-secure.json': ['http-no-tls'],
      'fixtures/http/openemr.json': ['http-no-tls'],
      'fixtures/http/mirth-https.json': ['tls-self-signed'],
      'fixtures/http/dicoogle.json': ['http-no-tls'],
      'fixtures/http/hapi-fhir-ui.json': ['http-admin-no-login', 'http-no-tls'],
      'fixtures/fhir/hapi-open.json': ['fhir-no-smart', 'fhir-open', 'http-no-tls'],
      'fixtures/fhir/microsoft-smart.json': ['tls-self-signed'],
      'fixtures/fhir/medplum.json': ['http-no-tls'],
      'fixtures/fhir/ibm-basic.json': ['fhir-no-smart', 'tls-self-signed'],
      'fixtures/fhir/locked.json': ['http-no-tls'],
      'fixtures/fhir/truncated.json': ['http-no-tls'],
      'fixtures/dicomweb/open-safe.json': ['dicomweb-open', 'http-no-tls'],
      'fixtures/dicomweb/token.json': ['http-no-tls'],
      'fixtures/hl7/mirth.json': ['hl7-no-tls', 'hl7-unauthenticated'],
      'fixtures/hl7/reject.json': ['hl7-no-tls'],
      'fixtures/hl7/tls.json': ['hl7-unauthenticated', 'tls-self-signed'],
      'fixtures/vnc/open.json': ['vnc-no-auth'],
      'fixtures/vnc/password.json': [],
      'fixtures/vnc/refused.json': [],
      'fixtures/telnet/endless.json': [],
      'fixtures/rdp/nla.json': [],
      'fixtures/ftp/iis-anon-intrusive.json': [],
      'fixtures/tls/pacs-weak-tls.json': ['tls-expired-cert', 'tls-self-signed', 'tls-sha1-signature', 'tls-weak-key'],
      'fixtures/tls/pacs-tls.json': ['tls-self-signed'],
      'fixtures/tls/ca-signed-ec.json': [],
      'fixtures/tls/tls10-only.json': ['tls-expired-cert', 'tls-legacy-version', 'tls-self-signed', 'tls-sha1-signature', 'tls-weak-key'],
    };
    for (const [rel, ids] of Object.entries(want)) assert.deepEqual(fired(rel), ids, rel);
    assert.deepEqual(fired('fixtures/ftp/iis-anon-intrusive.json', 'intrusive'), ['ftp-anonymous']);
  });

  test('checks that could not conclude do not run (so they can neither fire nor resolve)', () => {
    const ran = (rel: string) => runChecks(fixture(rel), 'intrusive').checksRun;
    // Metadata behind a login: nothing is known about what the server declares.
    assert.ok(!ran('fixtures/fhir/locked.json').includes('fhir-no-smart'));
    assert.ok(ran('fixtures/fhir/locked.json').includes('fhir-open'));
    // A capability statement cut at the byte cap, a search that answered no Bundle.
    assert.ok(!ran('fixtures/fhir/truncated.json').includes('fhir-no-smart'));
    assert.ok(!ran('fixtures/fhir/truncated.json').includes('fhir-open'));
    // A VNC server that refused before listing its security types.
    assert.ok(!ran('fixtures/vnc/refused.json').includes('vnc-no-auth'));
    // The anonymous FTP login is tried in the intrusive profile only.
    assert.ok(!ran('fixtures/ftp/proftpd-safe.json').includes('ftp-anonymous'));
    assert.ok(!runChecks(fixture('fixtures/ftp/iis-anon-intrusive.json'), 'safe').checksRun.includes('ftp-anonymous'));
    // No TLS, no TLS checks; no Orthanc, no Orthanc check.
    assert.ok(!ran('fixtures/http/openemr.json').some((id) => id.startsWith('tls-')));
    assert.ok(!ran('fixtures/http/openemr.json').includes('orthanc-rest-open'));
  });

  test("checks on HTTP-layer observations run whichever probe named the record", () => {
    // Orthanc with authentication: named `http` (the DICOMweb refusal is server-wide), yet the
    // DICOMweb observation is judged.
    const rec = fixture('fixtures/http/orthanc-secure.json');
    assert.equal(rec.protocol, 'http');
    assert.ok(runChecks(rec, 'safe').checksRun.includes('dicomweb-open'));
    // An open Orthanc whose DICOMweb plugin named the record still gets its REST check.
    const open = fixture('fixtures/http/orthanc-open.json');
    const asDicomweb = { ...open, protocol: 'dicomweb' };
    assert.ok(runChecks(asDicomweb, 'safe').findings.some((f) => f.id === 'orthanc-rest-open'));
  });

  test('a plain HTTP port that only redirects to HTTPS is not reported', () => {
    const rec = fixture('fixtures/http/orthanc-open.json');
    const http = { ...(rec.data.http as Record<string, unknown>), location: 'https://pacs.example.test/app/explorer.html' };
    const { findings, checksRun } = runChecks({ ...rec, data: { http } }, 'safe');
    assert.ok(checksRun.includes('http-no-tls'));
    assert.ok(!findings.some((f) => f.id === 'http-no-tls'));
  });

  test('evidence of the new checks holds facts, never a record value', () => {
    const text = JSON.stringify(
      ['fixtures/fhir/hapi-open-intrusive.json', 'fixtures/dicomweb/open-intrusive.json', 'fixtures/hl7/reject.json'].map(
        (rel) => runChecks(fixture(rel), 'intrusive').findings,
      ),
    );
    assert.doesNotMatch(text, /PatientName|PatientID|\^/);
    const dw = runChecks(fixture('fixtures/dicomweb/open-intrusive.json'), 'intrusive').findings.find((f) => f.id === 'dicomweb-open');
    assert.equal(dw?.evidence?.['data.dicomweb.studyCount'], 52);
  });
});

describe('checkRecordOf', () => {
  test("a stored record's own identification becomes the check record's identification", () => {
    const raw = JSON.parse(readFileSync(path.join(checksDir, 'fixtures/http/orthanc-open.json'), 'utf8'));
    const rec = ServiceRecord.parse({ ...raw, asset: { product: 'Something else', deviceType: 'ehr', evidence: [] } });
    const c = checkRecordOf(rec);
    assert.deepEqual(c.identification, {
      rules: [],
      vendor: 'Orthanc',
      product: 'Orthanc',
      version: '1.10.1',
      cpe: 'cpe:2.3:a:orthanc-server:orthanc:1.10.1:*:*:*:*:*:*:*',
      deviceType: 'pacs',
    });
    assert.equal(c.protocol, 'http');
    assert.equal(c.tls, undefined);
    assert.ok(checkRecordOf(ServiceRecord.parse(JSON.parse(readFileSync(path.join(checksDir, 'fixtures/tls/pacs-tls.json'), 'utf8')))).tls);
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

  test('rejects an escalation that does not raise the severity, and bad dates', () => {
    const down = original.replace('evidence:', 'escalate:\n  - severity: medium\n    when:\n      path: data.dicom.anyAeAccepted\n      equals: true\nevidence:');
    assert.notEqual(down, original);
    assert.throws(() => loadChecks(defs('escalate-down', { 'dicom/dicom-any-ae.yaml': down })), /not above/);
    const up = down.replace('severity: medium\n    when', 'severity: critical\n    when');
    assert.equal(loadChecks(defs('escalate-up', { 'dicom/dicom-any-ae.yaml': up }))[0]?.escalate?.[0]?.severity, 'critical');
    for (const [name, date] of [['bad-date', '2015-13-45'], ['local-time', '2015-01-01T00:00'], ['words', 'yesterday']] as const) {
      const text = original.replace('match:\n  path: data.dicom.anyAeAccepted\n  equals: true', `match:\n  path: data.dicom.anyAeAccepted\n  before: '${date}'`);
      assert.notEqual(text, original);
      assert.throws(() => loadChecks(defs(name, { 'dicom/dicom-any-ae.yaml': text })), CheckDbError, name);
    }
  });
});
