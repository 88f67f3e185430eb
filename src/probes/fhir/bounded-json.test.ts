import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ProtocolError } from '../../core/errors.js';
import { JSON_LIMITS, JsonScanner, type JsonToken, boundedText, parseJson } from './bounded-json.js';

const L = { maxBytes: JSON_LIMITS.maxBytes, maxDepth: JSON_LIMITS.maxDepth };
const parse = (s: string | Buffer, extra: Partial<typeof L & { partial: boolean; maxNodes: number }> = {}) =>
  parseJson(Buffer.isBuffer(s) ? s : Buffer.from(s, 'utf8'), { ...L, ...extra });

/** Runs fn and asserts that it either returns or throws a ProtocolError, nothing else. */
function onlyProtocolError(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw new Error(`threw ${(err as Error)?.name}: ${(err as Error)?.message}`);
  }
}

describe('parseJson: agrees with JSON.parse on valid input', () => {
  test('scalars, nesting, escapes, unicode, a BOM', () => {
    for (const s of [
      '0',
      '-0.5e+3',
      '"a\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00"',
      'true',
      'null',
      '[]',
      '{}',
      '[1,[2,[3,{"a":[{}]}]]]',
      ' { "k" : [ 1 , 2 ] , "é" : "ü" } ',
    ]) {
      assert.deepEqual(JSON.parse(JSON.stringify(parse(s).value)), JSON.parse(s), s);
    }
    assert.deepEqual(parse(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}')])).value, Object.assign(Object.create(null), { a: 1 }));
  });

  test('property: any JSON value round-trips', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), (v) => {
        const text = JSON.stringify(v);
        assert.deepEqual(JSON.parse(JSON.stringify(parse(text).value)), JSON.parse(text));
      }),
      { numRuns: 300 },
    );
  });

  test('a key named __proto__ is just a key (no prototype pollution)', () => {
    const v = parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}').value as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(v), null);
    assert.deepEqual(JSON.parse(JSON.stringify(Object.getOwnPropertyDescriptor(v, '__proto__')?.value)), { polluted: true });
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe('parseJson: hostile input ends in a ProtocolError, nothing else', () => {
  test('malformed input', () => {
    for (const s of ['', ' ', '{', '[1,]', '{"a"}', '{"a":}', '{a:1}', '01', '1.', '-', '.5', '"\\x"', '"\u0001"', 'tru', 'nul', '[1] 2', '{"a":1,}', '"\\u12G4"', '[1 2]', ']', '}']) {
      assert.throws(() => parse(s), ProtocolError, JSON.stringify(s));
    }
  });

  test('nesting deeper than the cap is refused before anything is built', () => {
    const deep = '['.repeat(JSON_LIMITS.maxDepth + 1) + ']'.repeat(JSON_LIMITS.maxDepth + 1);
    assert.throws(() => parse(deep), /nested deeper/);
    const ok = '['.repeat(JSON_LIMITS.maxDepth) + ']'.repeat(JSON_LIMITS.maxDepth);
    assert.ok(Array.isArray(parse(ok).value));
    // A megabyte of '[': refused at depth 65, in well under a second, with no recursion.
    const t0 = Date.now();
    assert.throws(() => parse('['.repeat(1024 * 1024)), /nested deeper/);
    assert.ok(Date.now() - t0 < 1000);
  });

  test('bodies over the byte cap are refused before scanning', () => {
    const big = Buffer.alloc(JSON_LIMITS.maxBytes + 1, 0x20);
    assert.throws(() => parse(big), /exceeds the cap/);
  });

  test('more values than maxNodes are refused', () => {
    assert.throws(() => parse(`[${'0,'.repeat(100)}0]`, { maxNodes: 50 }), /more than 50 values/);
  });

  test('property: arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        onlyProtocolError(() => parse(Buffer.from(bytes)));
        onlyProtocolError(() => parse(Buffer.from(bytes), { partial: true }));
      }),
      { numRuns: 1000 },
    );
  });

  test('property: JSON-ish strings (brackets, quotes, escapes, digits) never throw anything but ProtocolError', () => {
    const alphabet = fc.constantFrom(...'{}[]",:\\-+.eE0123456789 truefalsnu\u0000\u00e9'.split(''));
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 200 }), (chars) => {
        const s = chars.join('');
        onlyProtocolError(() => parse(s));
        onlyProtocolError(() => parse(s, { partial: true }));
      }),
      { numRuns: 1500 },
    );
  });
});

describe('partial bodies (cut at a byte cap)', () => {
  test('every prefix of a valid document either parses (truncated) or is refused with a ProtocolError', () => {
    const doc = JSON.stringify({ resourceType: 'CapabilityStatement', software: { name: 'X', version: '1.2' }, rest: [{ resource: [{ type: 'Patient' }, { type: 'Observation' }] }], n: -12.5e3, ok: true });
    for (let i = 1; i < doc.length; i++) {
      onlyProtocolError(() => {
        const r = parse(doc.slice(0, i), { partial: true });
        assert.equal(r.truncated, true, `prefix ${i}`);
        assert.equal(typeof r.value, 'object');
      });
    }
    const full = parse(doc, { partial: true });
    assert.equal(full.truncated, false);
  });

  test('what was complete before the cut is kept, the cut value is dropped', () => {
    const r = parse('{"resourceType":"CapabilityStatement","software":{"name":"HAPI FHIR Server","vers', { partial: true });
    assert.equal(r.truncated, true);
    const v = r.value as { resourceType: string; software: { name: string; vers?: unknown } };
    assert.equal(v.resourceType, 'CapabilityStatement');
    assert.equal(v.software.name, 'HAPI FHIR Server');
    assert.equal(Object.keys(v.software).length, 1);
    // A number at the cut may itself be cut: dropped.
    const n = parse('{"total":12', { partial: true }).value as Record<string, unknown>;
    assert.equal(n.total, undefined);
  });

  test('without `partial`, a cut body is an error', () => {
    assert.throws(() => parse('{"a":[1,2'), /truncated/);
  });
});

describe('JsonScanner', () => {
  test('tokens carry spans and depths; strings are decoded only on request', () => {
    const buf = Buffer.from('{"a":[1,"x",{"b":null}]}');
    const sc = new JsonScanner(buf, L);
    const seen: Array<[string, number]> = [];
    let t: JsonToken | null;
    while ((t = sc.next()) !== null) seen.push([t.type, t.depth]);
    assert.deepEqual(seen, [
      ['begin-object', 1],
      ['key', 1],
      ['begin-array', 2],
      ['number', 2],
      ['string', 2],
      ['begin-object', 3],
      ['key', 3],
      ['null', 3],
      ['end-object', 2],
      ['end-array', 1],
      ['end-object', 0],
    ]);
  });
});

describe('boundedText', () => {
  test('keeps printable text, collapses whitespace, bounds length, refuses non-strings', () => {
    assert.equal(boundedText('  HAPI\u0000 FHIR\n\tServer\u202e ', 64), 'HAPI FHIR Server');
    assert.equal(boundedText('x'.repeat(500), 10), 'x'.repeat(10));
    assert.equal(boundedText(42, 10), null);
    assert.equal(boundedText('   ', 10), null);
  });
});
