import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { backportNote, compareVersions, inBounds, parseVersRange, parseVersion, versRangeContains } from './version.js';

const sign = (n: number) => (n < 0 ? -1 : n > 0 ? 1 : 0);

describe('vendor version order: real-world table', () => {
  // [a, b, expected sign of compare(a, b)]
  const table: Array<[string, string, -1 | 0 | 1]> = [
    ['3.6.7', '3.6.8', -1], // DCMTK releases
    ['3.6.7', '3.6.7', 0],
    ['3.6.10', '3.6.9', 1], // numbers, not strings
    ['1.10.1', '1.12.0', -1], // Orthanc (CVE-2023-33466: before 1.12.0)
    ['1.12', '1.12.0', 0], // trailing zeros do not count
    ['1.12.10', '1.12.11', -1], // Orthanc CVE-2026-5437..5445: < 1.12.11
    ['1.5.7', '1.5.8', -1], // ICSMA-25-037-02
    ['4.2.0.1234', '4.2.0.999', 1], // four-part build numbers
    ['4.2.0.1234', '4.2.1', -1],
    ['V3.0.0.1 SP2', 'V3.0.0.1 SP10', -1], // service packs
    ['V3.0.0.1 SP2', '3.0.0.1', 1], // a service pack is after the release
    ['V3.0.0.1 SP2', '3.0.0.2', -1], // and before the next build
    ['3.0 SP1', '3.0.0 SP1', 0],
    ['5.31.0', '5.31.1', -1], // dcm4chee-arc-light style
    ['2023.1', '2024.1', -1], // calendar versions
    ['2023.3 (Build 9342)', '2024.1', -1], // MicroDicom, CVE-2024-22100 style
    ['v7.0.1-rc2', '7.0.1', -1], // release candidates come first
    ['v7.0.1-rc2', 'v7.0.1-rc10', -1],
    ['7.0.1-beta', '7.0.1-rc1', -1],
    ['7.0.1-alpha', '7.0.1-beta', -1],
    ['7.0.1-dev', '7.0.1-alpha', -1],
    ['7.0.0', '7.0.1-rc2', -1],
    ['7.0-rc1', '7.0.0-rc1', 0],
    ['1.0a1', '1.0', -1], // a1 = alpha 1
    ['3.6.7a', '3.6.7', 1], // letter suffix = later patch (OpenSSL style)
    ['3.6.7a', '3.6.7b', -1],
    ['3.6.7a', '3.6.8', -1],
    ['3.6.7a', '3.6.7.1', -1],
    ['22.003.20282', '22.003.20281', 1], // Adobe Reader (CVE-2023-21608)
    ['15.008.20082', '22.003.20282', -1],
    ['4.4.0', '4.4.1', -1], // Mirth Connect (CVE-2023-43208)
    ['4.3.0', '4.3', 0],
    ['1.10.1+dfsg-2+deb12u1', '1.10.1', 0], // Debian: upstream compared
    ['1.10.1+dfsg-2+deb12u1', '1.12.0', -1],
    ['3.6.7-9~deb12u4', '3.6.7', 0],
    ['1:2.4.1-1ubuntu1', '2.4.1', 0], // epoch ignored
    ['1.0.0+20130313144700', '1.0.0', 0], // SemVer build metadata
    ['2.0 final', '2.0', 0],
    ['007.1', '7.1', 0], // leading zeros
    ['99999999999999999999.1', '99999999999999999998.9', 1], // no overflow
  ];
  for (const [a, b, want] of table) {
    test(`${a} ${want < 0 ? '<' : want > 0 ? '>' : '='} ${b}`, () => {
      assert.equal(sign(compareVersions(a, b)), want);
      assert.equal(sign(compareVersions(b, a)), want === 0 ? 0 : -want);
    });
  }
});

describe('parsing', () => {
  test('Debian package version: upstream, revision, distribution flag', () => {
    const p = parseVersion('1.10.1+dfsg-2+deb12u1');
    assert.equal(p.upstream, '1.10.1');
    assert.equal(p.revision, '2+deb12u1');
    assert.equal(p.build, 'dfsg');
    assert.equal(p.distribution, true);
    assert.match(backportNote(p) ?? '', /backported fix/);
  });

  test('a pre-release is not a Debian revision', () => {
    const p = parseVersion('v7.0.1-rc2');
    assert.equal(p.distribution, false);
    assert.equal(p.revision, undefined);
    assert.equal(p.upstream, '7.0.1-rc2');
    assert.equal(backportNote(p), undefined);
  });

  test('inputs are capped', () => {
    const p = parseVersion(`1.${'2.'.repeat(10_000)}3`);
    assert.ok(p.raw.length <= 256);
    assert.ok(p.key.length <= 64);
  });
});

describe('order properties on random inputs (fast-check)', () => {
  const versionish = fc.string({ unit: fc.constantFrom(...'0123456789.-+~_ vVabrcspSPdfgeu:'.split('')), maxLength: 24 });
  const anyString = fc.oneof(versionish, fc.string({ maxLength: 24 }));

  test('reflexive and antisymmetric', () => {
    fc.assert(
      fc.property(anyString, anyString, (a, b) => {
        assert.equal(compareVersions(a, a), 0);
        assert.equal(sign(compareVersions(a, b)) + sign(compareVersions(b, a)), 0);
      }),
      { numRuns: 3000 },
    );
  });

  test('transitive', () => {
    fc.assert(
      fc.property(versionish, versionish, versionish, (a, b, c) => {
        const [x, y, z] = [a, b, c].sort(compareVersions) as [string, string, string];
        assert.ok(compareVersions(x, y) <= 0 && compareVersions(y, z) <= 0);
        assert.ok(compareVersions(x, z) <= 0, `${x} <= ${y} <= ${z} but not ${x} <= ${z}`);
      }),
      { numRuns: 3000 },
    );
  });

  test('equal keys are interchangeable (consistent equivalence)', () => {
    fc.assert(
      fc.property(versionish, versionish, versionish, (a, b, c) => {
        if (compareVersions(a, b) === 0) assert.equal(sign(compareVersions(a, c)), sign(compareVersions(b, c)));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('ranges', () => {
  test('NVD bounds', () => {
    assert.equal(inBounds('1.10.1', { versionEndExcluding: '1.12.0' }), true);
    assert.equal(inBounds('1.12.0', { versionEndExcluding: '1.12.0' }), false);
    assert.equal(inBounds('3.6.6', { versionEndIncluding: '3.6.6' }), true);
    assert.equal(inBounds('2.2.0', { versionStartIncluding: '2.2.0', versionEndExcluding: '2.2.1' }), true);
    assert.equal(inBounds('2.2.0', { versionStartExcluding: '2.2.0', versionEndExcluding: '2.2.1' }), false);
  });

  test('vers: syntax and CISA product_version_range forms', () => {
    const cases: Array<[string, string, boolean]> = [
      ['<1.5.8', '1.5.7', true],
      ['<1.5.8', '1.5.8', false],
      ['< 3.6.7', '3.6.6', true],
      ['< 3.6.7', '3.6.7', false],
      ['vers:generic/>=2.0.0|<2.5.3', '2.4.9', true],
      ['vers:generic/>=2.0.0|<2.5.3', '2.5.3', false],
      ['vers:generic/>=1.0|<2.0|>=3.0|<4.0', '3.5', true],
      ['vers:generic/>=1.0|<2.0|>=3.0|<4.0', '2.5', false],
      ['vers:generic/4.1.0', '4.1.0', true],
      ['vers:generic/4.1.0', '4.2.0', false],
      ['vers:generic/<=4.1.0|!=4.0.0', '4.0.0', false],
      ['vers:all/*', '9.9', true],
    ];
    for (const [range, v, want] of cases) {
      const r = parseVersRange(range);
      assert.ok(r !== null, range);
      assert.equal(versRangeContains(v, r), want, `${v} in ${range}`);
    }
    assert.equal(parseVersRange(''), null);
  });
});
