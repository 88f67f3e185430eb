import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ProtocolError } from '../../core/errors.js';
import {
  FHIR_CAPS,
  authRealmOf,
  authSchemeOf,
  bundleSummary,
  fhirReleaseOf,
  parseSmartConfiguration,
  reduceCapabilityStatement,
  softwareToken,
} from './parse.js';

const FIXTURES = new URL('./fixtures/', import.meta.url);
const fixture = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));
const json = (v: unknown) => Buffer.from(JSON.stringify(v));

function onlyProtocolError(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw new Error(`threw ${(err as Error)?.name}: ${(err as Error)?.message}`);
  }
}

describe('reduceCapabilityStatement on the product fixtures', () => {
  test('HAPI FHIR 6.4.0 (R4): software, version, formats, all 145 resource types, no security element', () => {
    const r = reduceCapabilityStatement(fixture('hapi-fhir-6.4.0-r4.json'));
    assert.equal(r.resourceType, 'CapabilityStatement');
    assert.equal(r.softwareName, 'HAPI FHIR Server');
    assert.equal(r.softwareVersion, '6.4.0');
    assert.equal(r.software, 'HAPI FHIR Server/6.4.0');
    assert.equal(r.fhirVersion, '4.0.1');
    assert.equal(r.fhirRelease, 'R4');
    assert.equal(r.implementationDescription, 'HAPI FHIR R4 Server');
    assert.equal(r.kind, 'instance');
    assert.deepEqual(r.formats, ['application/fhir+xml', 'xml', 'application/fhir+json', 'json']);
    assert.equal(r.resourceTypeCount, 145);
    assert.equal(r.resourceTypes.length, 145);
    assert.ok(r.resourceTypes.includes('Patient') && r.resourceTypes.includes('ImagingStudy'));
    assert.equal(r.patientSearch, true);
    assert.equal(r.security.declared, false);
    assert.equal(r.security.smart, false);
    assert.equal(r.truncated, false);
  });

  test('HAPI FHIR 1.6 (DSTU2): a Conformance resource', () => {
    const r = reduceCapabilityStatement(fixture('hapi-fhir-1.6-dstu2-conformance.json'));
    assert.equal(r.resourceType, 'Conformance');
    assert.equal(r.fhirVersion, '1.0.2');
    assert.equal(r.fhirRelease, 'DSTU2');
    assert.equal(r.software, 'HAPI FHIR Server/1.6');
    assert.deepEqual(r.formats, ['application/xml+fhir', 'application/json+fhir']);
  });

  test('Microsoft FHIR Server with SMART: service coding and oauth-uris', () => {
    const r = reduceCapabilityStatement(fixture('microsoft-fhir-server-r4-smart.json'));
    assert.equal(r.softwareName, 'Microsoft FHIR Server');
    assert.equal(r.softwareVersion, '3.5.0.0');
    assert.equal(r.publisher, 'Microsoft Corporation');
    assert.equal(r.security.declared, true);
    assert.deepEqual(r.security.services, ['SMART-on-FHIR']);
    assert.equal(r.security.smart, true);
    assert.equal(r.security.oauth, true);
    assert.equal(r.security.oauthUris?.authorize, 'https://login.example.invalid/tenant/oauth2/authorize');
    assert.equal(r.security.oauthUris?.token, 'https://login.example.invalid/tenant/oauth2/token');
  });

  test('Medplum: lower-case software name, three services, CORS', () => {
    const r = reduceCapabilityStatement(fixture('medplum-3.2.0-r4.json'));
    assert.equal(r.software, 'medplum/3.2.0');
    assert.deepEqual(r.security.services, ['Basic', 'OAuth', 'SMART-on-FHIR']);
    assert.equal(r.security.cors, true);
    assert.deepEqual(r.formats, ['json']);
  });

  test('IBM FHIR Server and Smile CDR', () => {
    const ibm = reduceCapabilityStatement(fixture('ibm-fhir-server-4.11.1-r4.json'));
    assert.equal(ibm.software, 'IBM FHIR Server/4.11.1');
    assert.equal(ibm.security.declared, true);
    assert.equal(ibm.security.smart, false);
    const smile = reduceCapabilityStatement(fixture('smile-cdr-2023.05.R02-r4-smart.json'));
    assert.equal(smile.software, 'Smile CDR/2023.05.R02');
    assert.equal(smile.implementationDescription, 'FHIR Endpoint powered by Smile CDR');
    assert.equal(smile.security.smart, true);
  });

  test('a statement cut at the byte cap still identifies the server', () => {
    const full = fixture('hapi-fhir-6.4.0-r4.json');
    const cut = full.subarray(0, 4000);
    const r = reduceCapabilityStatement(cut, { partial: true });
    assert.equal(r.truncated, true);
    assert.equal(r.software, 'HAPI FHIR Server/6.4.0');
    assert.ok(r.resourceTypeCount < 145);
    assert.throws(() => reduceCapabilityStatement(cut, { partial: false }), ProtocolError);
  });
});

describe('reduceCapabilityStatement: bounds and refusals', () => {
  test('other resources and non-objects are refused, without echoing what the server sent', () => {
    for (const v of [{ resourceType: 'Patient', name: [{ family: 'SECRET' }] }, [], 'x', 1, null, { resourceType: 7 }]) {
      assert.throws(() => reduceCapabilityStatement(json(v)), (e: unknown) => e instanceof ProtocolError && !/SECRET/.test(e.message));
    }
  });

  test('wrong types are ignored, lists and strings bounded', () => {
    const r = reduceCapabilityStatement(
      json({
        resourceType: 'CapabilityStatement',
        software: { name: 'x'.repeat(5000), version: 12 },
        fhirVersion: ['4.0.1'],
        format: Array.from({ length: 100 }, (_, i) => `f${i}`),
        implementation: { description: `${'d'.repeat(300)}\u0000` },
        rest: [
          { mode: 'server', resource: [...Array.from({ length: 400 }, (_, i) => ({ type: `Type${i}` })), { type: 'not a type' }, { type: 5 }, 'x'], security: 'yes' },
          'not an object',
        ],
      }),
    );
    assert.equal(r.softwareName?.length, FHIR_CAPS.shortText);
    assert.equal(r.softwareVersion, null);
    assert.equal(r.fhirVersion, null);
    assert.equal(r.formats.length, FHIR_CAPS.formats);
    assert.equal(r.implementationDescription?.length, FHIR_CAPS.description);
    assert.equal(r.resourceTypes.length, FHIR_CAPS.resourceTypes);
    assert.equal(r.resourceTypeCount, 400);
    assert.equal(r.security.declared, false);
  });

  test('property: arbitrary JSON values never throw anything but ProtocolError', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
        onlyProtocolError(() => reduceCapabilityStatement(json(v)));
        onlyProtocolError(() => reduceCapabilityStatement(json({ resourceType: 'CapabilityStatement', software: v, rest: [v, { security: v, resource: v }] })));
      }),
      { numRuns: 400 },
    );
  });

  test('property: arbitrary bytes and every prefix of a fixture', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => onlyProtocolError(() => reduceCapabilityStatement(Buffer.from(bytes)))),
      { numRuns: 500 },
    );
    const ms = fixture('microsoft-fhir-server-r4-smart.json').subarray(0, 3000);
    for (let i = 0; i <= ms.length; i += 7) onlyProtocolError(() => reduceCapabilityStatement(ms.subarray(0, i)));
  });

  test('deep nesting and huge bodies end in ProtocolError', () => {
    assert.throws(() => reduceCapabilityStatement(Buffer.from(`{"resourceType":"CapabilityStatement","x":${'['.repeat(100_000)}`)), /nested deeper/);
    assert.throws(() => reduceCapabilityStatement(Buffer.alloc(2 * 1024 * 1024, 0x20)), /exceeds the cap/);
  });
});

describe('bundleSummary: counts entries, never decodes them', () => {
  test('an empty searchset', () => {
    assert.deepEqual(bundleSummary(json({ resourceType: 'Bundle', id: 'x', meta: { lastUpdated: 'now' }, type: 'searchset', total: 0, link: [{ relation: 'self', url: 'u' }] })), {
      resourceType: 'Bundle',
      type: 'searchset',
      total: 0,
      entries: 0,
      truncated: false,
    });
  });

  test('entries are counted; a patient value in them is never decoded (a malformed escape inside an entry is not even looked at)', () => {
    const body = Buffer.from(
      '{"resourceType":"Bundle","type":"searchset","total":3,"entry":[' +
        '{"resource":{"resourceType":"Patient","name":[{"family":"CANARY\\u0041"}]}},' +
        '{"resource":{"resourceType":"Patient","birthDate":"1901-02-03"}},' +
        '{"fullUrl":"x","resource":{"resourceType":"Patient","id":"p3"}}]}',
    );
    const s = bundleSummary(body);
    assert.deepEqual(s, { resourceType: 'Bundle', type: 'searchset', total: 3, entries: 3, truncated: false });
    assert.ok(!JSON.stringify(s).includes('CANARY'));
  });

  test('nested keys named like top-level ones do not count', () => {
    const s = bundleSummary(json({ resourceType: 'Bundle', type: 'searchset', entry: [{ resource: { resourceType: 'Patient', type: 'x', total: 99, entry: [1, 2, 3] } }], total: 1 }));
    assert.equal(s.total, 1);
    assert.equal(s.type, 'searchset');
    assert.equal(s.entries, 1);
  });

  test('an OperationOutcome, a cut body, scalar entries', () => {
    assert.equal(bundleSummary(json({ resourceType: 'OperationOutcome', issue: [{ severity: 'error' }] })).resourceType, 'OperationOutcome');
    const cut = bundleSummary(Buffer.from('{"resourceType":"Bundle","type":"searchset","total":12,"entry":[{"a":1},{"b":'), { partial: true });
    assert.equal(cut.truncated, true);
    assert.equal(cut.total, 12);
    assert.equal(cut.entries, 2);
    assert.equal(bundleSummary(json({ resourceType: 'Bundle', entry: [1, 'x', null, [], {}] })).entries, 5);
    assert.equal(bundleSummary(json({ resourceType: 'Bundle', total: -1 })).total, null);
    assert.equal(bundleSummary(json({ resourceType: 'Bundle', total: 1.5 })).total, null);
  });

  test('a million-entry bundle cut at 1 MiB is counted in bounded time', () => {
    const head = '{"resourceType":"Bundle","type":"searchset","total":1000000,"entry":[';
    const one = '{"resource":{"resourceType":"Patient","id":"x"}},';
    const body = Buffer.from(head + one.repeat(Math.floor((1024 * 1024 - head.length) / one.length)));
    const t0 = Date.now();
    const s = bundleSummary(body, { partial: true });
    assert.ok(Date.now() - t0 < 2000);
    assert.equal(s.truncated, true);
    assert.ok(s.entries > 20_000);
  });

  test('property: arbitrary bytes and JSON values never throw anything but ProtocolError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => onlyProtocolError(() => bundleSummary(Buffer.from(bytes)))),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
        onlyProtocolError(() => bundleSummary(json(v)));
        const s = bundleSummary(json({ resourceType: 'Bundle', entry: [v, v] }));
        assert.equal(s.entries, 2);
      }),
      { numRuns: 400 },
    );
  });
});

describe('smart-configuration, versions, challenges', () => {
  test('parseSmartConfiguration keeps endpoints and capabilities, bounded', () => {
    const s = parseSmartConfiguration(
      json({
        authorization_endpoint: 'https://a.invalid/authorize',
        token_endpoint: 'https://a.invalid/token',
        capabilities: ['launch-ehr', 'client-public', 'launch-ehr', 7, ...Array.from({ length: 100 }, (_, i) => `c${i}`)],
      }),
      200,
    );
    assert.equal(s.present, true);
    assert.equal(s.authorizationEndpoint, 'https://a.invalid/authorize');
    assert.equal(s.capabilities.length, FHIR_CAPS.smartCapabilities);
    assert.equal(parseSmartConfiguration(json({}), 200).present, false);
    assert.throws(() => parseSmartConfiguration(json([]), 200), ProtocolError);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => onlyProtocolError(() => parseSmartConfiguration(Buffer.from(b), 200))),
      { numRuns: 300 },
    );
  });

  test('fhirReleaseOf', () => {
    assert.equal(fhirReleaseOf('1.0.2'), 'DSTU2');
    assert.equal(fhirReleaseOf('3.0.1'), 'STU3');
    assert.equal(fhirReleaseOf('4.0.1'), 'R4');
    assert.equal(fhirReleaseOf('4.3.0'), 'R4B');
    assert.equal(fhirReleaseOf('5.0.0'), 'R5');
    assert.equal(fhirReleaseOf('banana'), 'unknown');
    assert.equal(fhirReleaseOf(null), null);
  });

  test('softwareToken, authSchemeOf, authRealmOf', () => {
    assert.equal(softwareToken('HAPI FHIR Server', '6.4.0'), 'HAPI FHIR Server/6.4.0');
    assert.equal(softwareToken('medplum', null), 'medplum');
    assert.equal(softwareToken(null, '1'), null);
    assert.equal(authSchemeOf('Bearer realm="fhir", error="invalid_token"'), 'Bearer');
    assert.equal(authSchemeOf('Basic realm="Orthanc Secure Area"'), 'Basic');
    assert.equal(authSchemeOf(''), null);
    assert.equal(authSchemeOf(undefined), null);
    assert.equal(authRealmOf('Basic realm="Orthanc Secure Area"'), 'Orthanc Secure Area');
    assert.equal(authRealmOf('Bearer realm=fhir, scope="x"'), 'fhir');
    assert.equal(authRealmOf(`Basic realm="${'r'.repeat(300)}"`)?.length ?? 0, 0);
    fc.assert(
      fc.property(fc.string({ maxLength: 600 }), (h) => {
        const s = authSchemeOf(h);
        const r = authRealmOf(h);
        assert.ok(s === null || s.length <= 32);
        assert.ok(r === null || r.length <= 64);
      }),
      { numRuns: 300 },
    );
  });
});
