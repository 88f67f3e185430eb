import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ProtocolError } from '../../core/errors.js';
import type { HttpResponse } from '../../core/http-client.js';
import { DICOMWEB_CAPS, dicomJsonSummary, isJsonContentType } from './parse.js';
import { qidoOutcome } from './probe.js';

const FIXTURES = new URL('./fixtures/', import.meta.url);

/** A captured reply split into what core/http-client returns (status, lower-case headers, body). */
function httpFixture(name: string): HttpResponse {
  const raw = readFileSync(new URL(name, FIXTURES));
  const sep = raw.indexOf('\r\n\r\n');
  assert.ok(sep > 0, `${name} has no header block`);
  const lines = raw.subarray(0, sep).toString('latin1').split('\r\n');
  const m = /^(HTTP\/\d\.\d) (\d{3}) ?(.*)$/.exec(lines[0]!);
  assert.ok(m, `${name}: bad status line`);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const body = raw.subarray(sep + 4);
  return {
    status: Number(m[2]),
    statusText: m[3] ?? '',
    httpVersion: m[1]!,
    headers,
    body,
    bodyTruncated: false,
    bodyBytes: body.length,
    redirects: [],
    url: '/',
    tls: null,
  };
}

const SYNTHETIC_VALUES = ['TEST^ALPHA', 'TEST^BRAVO', 'TEST^CHARLIE', 'MS-TEST-0001', '19700101', '2.25.31415926535', 'MSACC0001'];

function onlyProtocolError(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw new Error(`threw ${(err as Error)?.name}: ${(err as Error)?.message}`);
  }
}

describe('dicomJsonSummary on Orthanc 1.10.1 replies', () => {
  test('the count reply: 4 studies, attribute keywords only, no value anywhere in the summary', () => {
    const s = dicomJsonSummary(httpFixture('orthanc-qido-count.http').body);
    assert.equal(s.objects, 4);
    assert.equal(s.nonObjects, 0);
    assert.equal(s.badKeys, 0);
    assert.equal(s.capped, false);
    for (const k of ['PatientName', 'PatientID', 'PatientBirthDate', 'StudyInstanceUID', 'AccessionNumber', 'ModalitiesInStudy']) {
      assert.ok(s.attributes.includes(k), `${k} in ${s.attributes.join(',')}`);
    }
    // RetrieveURL (0008,1190) is not in our small dictionary: kept as its tag.
    assert.ok(s.attributes.includes('(0008,1190)'));
    const text = JSON.stringify(s);
    for (const v of SYNTHETIC_VALUES) assert.ok(!text.includes(v), `${v} leaked into the summary`);
  });

  test('the cap stops counting', () => {
    const s = dicomJsonSummary(httpFixture('orthanc-qido-count.http').body, { cap: 2 });
    assert.equal(s.objects, 2);
    assert.equal(s.capped, true);
  });

  test('the random-UID reply is an empty array; an empty body is one too', () => {
    assert.deepEqual(dicomJsonSummary(httpFixture('orthanc-qido-random-uid.http').body), {
      objects: 0,
      nonObjects: 0,
      attributes: [],
      badKeys: 0,
      capped: false,
      truncated: false,
    });
    assert.equal(dicomJsonSummary(Buffer.alloc(0)).objects, 0);
    assert.equal(dicomJsonSummary(Buffer.from(' \r\n')).objects, 0);
  });

  test("Orthanc's REST /studies (an array of strings) is not DICOM JSON", () => {
    const s = dicomJsonSummary(httpFixture('orthanc-rest-studies.http').body);
    assert.equal(s.objects, 0);
    assert.equal(s.nonObjects, 4);
  });

  test('the 404 error document is not an array', () => {
    assert.throws(() => dicomJsonSummary(httpFixture('orthanc-unknown-root.http').body), ProtocolError);
  });

  test('a cut body counts the complete objects', () => {
    const body = httpFixture('orthanc-qido-count.http').body;
    const s = dicomJsonSummary(body.subarray(0, Math.floor(body.length * 0.6)), { limits: { partial: true } });
    assert.equal(s.truncated, true);
    assert.ok(s.objects >= 2 && s.objects <= 3, String(s.objects));
  });
});

describe('qidoOutcome on Orthanc 1.10.1 replies', () => {
  test('open, protected, not DICOMweb', () => {
    const open = qidoOutcome('random-uid', httpFixture('orthanc-qido-random-uid.http'));
    assert.equal(open.outcome, 'open');
    assert.equal(open.matches, 0);
    assert.equal(open.contentType, 'application/dicom+json');
    assert.equal(qidoOutcome('random-uid', httpFixture('orthanc-qido-unauthorized.http')).outcome, 'protected');
    assert.equal(qidoOutcome('random-uid', httpFixture('orthanc-unknown-root.http')).outcome, 'not-dicomweb');
    const rest = qidoOutcome('random-uid', httpFixture('orthanc-rest-studies.http'));
    assert.equal(rest.outcome, 'not-dicomweb');
    assert.equal(rest.matches, 0);
    const count = qidoOutcome('count', httpFixture('orthanc-qido-count.http'));
    assert.equal(count.outcome, 'open');
    assert.equal(count.matches, 4);
    const text = JSON.stringify(count);
    for (const v of SYNTHETIC_VALUES) assert.ok(!text.includes(v), `${v} leaked into the outcome`);
  });

  test('204 No Content is an open, empty answer; HTML is not DICOMweb', () => {
    const base = httpFixture('orthanc-qido-random-uid.http');
    assert.equal(qidoOutcome('random-uid', { ...base, status: 204, body: Buffer.alloc(0) }).outcome, 'open');
    assert.equal(qidoOutcome('random-uid', { ...base, headers: { 'content-type': 'text/html' }, body: Buffer.from('[]') }).outcome, 'not-dicomweb');
    assert.equal(qidoOutcome('random-uid', { ...base, body: Buffer.from('[{}]') }).outcome, 'not-dicomweb');
    assert.equal(qidoOutcome('random-uid', { ...base, body: Buffer.from('[{"name":"x"}]') }).outcome, 'not-dicomweb');
    assert.equal(qidoOutcome('random-uid', { ...base, body: Buffer.from('[{"0020000D":{"vr":"UI"}}]') }).outcome, 'open');
    assert.equal(qidoOutcome('random-uid', { ...base, body: Buffer.from('[{"0020000D":') }).outcome, 'not-dicomweb');
  });
});

describe('dicomJsonSummary: hostile input', () => {
  test('property: arbitrary bytes never throw anything but ProtocolError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (b) => {
        onlyProtocolError(() => dicomJsonSummary(Buffer.from(b)));
        onlyProtocolError(() => dicomJsonSummary(Buffer.from(b), { limits: { partial: false } }));
      }),
      { numRuns: 800 },
    );
  });

  test('property: arbitrary JSON values, and DICOM-shaped arrays of them, never throw anything but ProtocolError', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
        onlyProtocolError(() => dicomJsonSummary(Buffer.from(JSON.stringify(v))));
        const s = dicomJsonSummary(Buffer.from(JSON.stringify([{ '0020000D': v }, { '00100010': { vr: 'PN', Value: [v] } }])));
        assert.equal(s.objects, 2);
        assert.deepEqual(s.attributes, ['PatientName', 'StudyInstanceUID']);
      }),
      { numRuns: 400 },
    );
  });

  test('an endless array cut at 1 MiB: counted up to the cap, in bounded time', () => {
    const one = '{"0020000D":{"vr":"UI","Value":["2.25.1"]}},';
    const body = Buffer.from(`[${one.repeat(Math.floor((1024 * 1024 - 1) / one.length))}`);
    const t0 = Date.now();
    const s = dicomJsonSummary(body, { limits: { partial: true } });
    assert.ok(Date.now() - t0 < 2000);
    assert.equal(s.objects, DICOMWEB_CAPS.countCap);
    assert.equal(s.capped, true);
  });

  test('deep nesting and oversized bodies are refused', () => {
    assert.throws(() => dicomJsonSummary(Buffer.from(`[{"00100010":${'['.repeat(10_000)}`)), /nested deeper/);
    assert.throws(() => dicomJsonSummary(Buffer.alloc(2 * 1024 * 1024, 0x5b)), /exceeds the cap/);
  });

  test('isJsonContentType', () => {
    assert.equal(isJsonContentType('application/dicom+json'), true);
    assert.equal(isJsonContentType('application/json; charset=utf-8'), true);
    assert.equal(isJsonContentType('text/html'), false);
    assert.equal(isJsonContentType(undefined), false);
  });
});
