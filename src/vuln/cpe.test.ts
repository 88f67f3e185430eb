import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  ANY,
  CPE_ATTRIBUTES,
  type Cpe,
  type CpeValue,
  NA,
  attributeMatches,
  cpeMatches,
  formatCpe,
  logicalValue,
  makeCpe,
  parseCpe,
  parseCpeUri,
  quoteValue,
} from './cpe.js';
import { CpeError } from './errors.js';

const here = path.dirname(new URL(import.meta.url).pathname);

/** Every criteria string of the real NVD records under fixtures/nvd. */
function fixtureCriteria(): string[] {
  const dir = path.join(here, 'fixtures', 'nvd');
  const out = new Set<string>();
  for (const f of readdirSync(dir).filter((x) => x.startsWith('nvdcve-2.0-'))) {
    const feed = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as {
      vulnerabilities: Array<{ cve: { configurations?: Array<{ nodes: Array<{ cpeMatch: Array<{ criteria: string }> }> }> } }>;
    };
    for (const v of feed.vulnerabilities) for (const c of v.cve.configurations ?? []) for (const n of c.nodes) for (const m of n.cpeMatch) out.add(m.criteria);
  }
  return [...out];
}

describe('CPE 2.3 formatted string (NISTIR 7695 §6.2)', () => {
  test('parses the fingerprint CPE of DCMTK 3.6.7', () => {
    const c = parseCpe('cpe:2.3:a:offis:dcmtk:3.6.7:*:*:*:*:*:*:*');
    assert.equal(c.part, 'a');
    assert.equal(c.vendor, 'offis');
    assert.equal(c.product, 'dcmtk');
    assert.equal(c.version, '3\\.6\\.7', 'WFN quotes the dots');
    assert.equal(logicalValue(c.version), '3.6.7');
    assert.equal(c.update, ANY);
    assert.equal(c.other, ANY);
  });

  test('every criteria of the real NVD fixtures formats back to itself', () => {
    const all = fixtureCriteria();
    assert.ok(all.length >= 12, `expected the fixtures' criteria, got ${all.length}`);
    for (const s of all) assert.equal(formatCpe(parseCpe(s)), s);
  });

  test('ANY (*) and NA (-), and target_sw of a real criteria', () => {
    const c = parseCpe('cpe:2.3:o:microsoft:windows:-:*:*:*:*:*:*:*');
    assert.equal(c.version, NA);
    assert.equal(c.update, ANY);
    const z = parseCpe('cpe:2.3:a:adobe:acrobat_reader_dc:*:*:*:*:continuous:*:*:*');
    assert.equal(z.swEdition, 'continuous');
  });

  test('backslash escapes: a quoted colon stays inside the value', () => {
    const fs = 'cpe:2.3:a:foo\\:bar:baz\\!:1.0:*:*:*:*:*:*:*';
    const c = parseCpe(fs);
    assert.equal(logicalValue(c.vendor), 'foo:bar');
    assert.equal(logicalValue(c.product), 'baz!');
    assert.equal(formatCpe(c), fs);
  });

  test('an unneeded escape of . - _ is dropped when formatting (process_quoted_chars)', () => {
    assert.equal(formatCpe(parseCpe('cpe:2.3:a:v:p:1\\.0\\-rc\\_1:*:*:*:*:*:*:*')), 'cpe:2.3:a:v:p:1.0-rc_1:*:*:*:*:*:*:*');
  });

  test('a value that is a lone hyphen stays quoted, distinct from NA', () => {
    const c = makeCpe({ vendor: 'v', product: 'p', update: '-' });
    assert.equal(c.update, '\\-');
    const fs = formatCpe(c);
    assert.equal(fs, 'cpe:2.3:a:v:p:*:\\-:*:*:*:*:*:*');
    assert.deepEqual(parseCpe(fs), c);
    assert.equal(parseCpe('cpe:2.3:a:v:p:*:-:*:*:*:*:*:*').update, NA);
  });

  test('refuses what is not a well-formed formatted string', () => {
    const bad = [
      'cpe:/a:offis:dcmtk:3.6.7',
      'cpe:2.3:a:offis:dcmtk:3.6.7',
      'cpe:2.3:a:offis:dcmtk:3.6.7:*:*:*:*:*:*:*:*',
      'cpe:2.3:x:offis:dcmtk:3.6.7:*:*:*:*:*:*:*',
      'cpe:2.3:a:off*is:dcmtk:*:*:*:*:*:*:*:*',
      'cpe:2.3:a:of?fis:dcmtk:*:*:*:*:*:*:*:*',
      'cpe:2.3:a::dcmtk:*:*:*:*:*:*:*:*',
      'cpe:2.3:a:off is:dcmtk:*:*:*:*:*:*:*:*',
      'cpe:2.3:a:offis:dcmtk:*:*:*:*:*:*:*:\\',
      `cpe:2.3:a:${'x'.repeat(2000)}:p:*:*:*:*:*:*:*:*`,
    ];
    for (const s of bad) assert.throws(() => parseCpe(s), CpeError, s.slice(0, 60));
  });

  test('round trip: any WFN formats and parses back to itself (fast-check)', () => {
    const logical = fc.string({ unit: fc.constantFrom(...'abcXYZ019_.-:\\*?!~/@+%'.split('')), minLength: 1, maxLength: 12 });
    const value: fc.Arbitrary<CpeValue> = fc.oneof(fc.constant(ANY), fc.constant(NA), logical.map(quoteValue));
    const wfn = fc.record(Object.fromEntries(CPE_ATTRIBUTES.map((a) => [a, a === 'part' ? fc.constantFrom<CpeValue>('a', 'o', 'h', ANY, NA) : value])) as Record<
      keyof Cpe,
      fc.Arbitrary<CpeValue>
    >);
    fc.assert(
      fc.property(wfn, (rec) => {
        const w = { ...rec } as Cpe; // fast-check records have a null prototype
        const s = formatCpe(w);
        assert.deepEqual(parseCpe(s), w);
        assert.equal(formatCpe(parseCpe(s)), s);
      }),
      { numRuns: 500 },
    );
  });

  test('arbitrary input either parses or throws CpeError, never anything else (fast-check)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 120 }), (tail) => {
        try {
          parseCpe(`cpe:2.3:${tail}`);
        } catch (err) {
          assert.ok(err instanceof CpeError, String(err));
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('name matching', () => {
  test('ANY matches anything, NA only NA (or ANY), strings case-insensitively', () => {
    assert.equal(attributeMatches(ANY, 'x'), true);
    assert.equal(attributeMatches('x', ANY), true);
    assert.equal(attributeMatches(NA, NA), true);
    assert.equal(attributeMatches(NA, 'x'), false);
    assert.equal(attributeMatches('x', NA), false);
    assert.equal(attributeMatches('Orthanc', 'orthanc'), true);
    assert.equal(attributeMatches('orthanc', 'orthanc2'), false);
  });

  test('wildcards of the criteria: * any run, ? one character, quoted ones literal', () => {
    assert.equal(attributeMatches(quoteValue('3.6').concat('*'), quoteValue('3.6.7')), true);
    assert.equal(attributeMatches(`*${quoteValue('.7')}`, quoteValue('3.6.7')), true);
    assert.equal(attributeMatches(`${quoteValue('3.6.')}?`, quoteValue('3.6.7')), true);
    assert.equal(attributeMatches(`${quoteValue('3.6.')}?`, quoteValue('3.6.10')), false);
    assert.equal(attributeMatches(quoteValue('3.*'), quoteValue('3.6.7')), false, 'a quoted * is a literal star');
  });

  test('a fingerprint CPE matches an NVD criteria with ANY version', () => {
    const crit = parseCpe('cpe:2.3:a:offis:dcmtk:*:*:*:*:*:*:*:*');
    assert.equal(cpeMatches(crit, parseCpe('cpe:2.3:a:offis:dcmtk:3.6.7:*:*:*:*:*:*:*')), true);
    assert.equal(cpeMatches(crit, makeCpe({ vendor: 'orthanc-server', product: 'orthanc', version: '1.10.1' })), false);
    assert.equal(cpeMatches(parseCpe('cpe:2.3:a:offis:dcmtk:3.6.8:*:*:*:*:*:*:*'), parseCpe('cpe:2.3:a:offis:dcmtk:3.6.7:*:*:*:*:*:*:*')), false);
  });
});

describe('CPE 2.2 URI (NISTIR 7695 §6.1), read for CSAF product trees', () => {
  test('a Red Hat CSAF platform CPE', () => {
    const c = parseCpeUri('cpe:/o:redhat:enterprise_linux:9::baseos');
    assert.equal(c.part, 'o');
    assert.equal(c.vendor, 'redhat');
    assert.equal(logicalValue(c.version), '9');
    assert.equal(c.update, ANY);
    assert.equal(c.edition, 'baseos');
  });

  test('packed edition (NISTIR 7695 §6.1.3 example) and percent-encoding', () => {
    const c = parseCpeUri('cpe:/a:hp:insight_diagnostics:7.4.0.1570::~~online~win2003~x64~');
    assert.equal(c.edition, ANY);
    assert.equal(c.swEdition, 'online');
    assert.equal(c.targetSw, 'win2003');
    assert.equal(c.targetHw, 'x64');
    assert.equal(c.other, ANY);
    assert.equal(formatCpe(c), 'cpe:2.3:a:hp:insight_diagnostics:7.4.0.1570:*:*:*:online:win2003:x64:*');
    assert.equal(logicalValue(parseCpeUri('cpe:/a:foo%21bar:baz').vendor), 'foo!bar');
    assert.throws(() => parseCpeUri('cpe:/a:foo%zzbar'), CpeError);
  });
});
