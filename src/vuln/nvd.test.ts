import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { makeCpe } from './cpe.js';
import { type Configuration, type NvdCve, bestCvss, englishDescription, makeTitle, matchConfigurations, matchCve, parseNvdCve, productRef, readNvdFeed, severityFromCvss } from './nvd.js';

const here = path.dirname(new URL(import.meta.url).pathname);
const feeds = ['nvdcve-2.0-sample-orthanc.json', 'nvdcve-2.0-sample-dcmtk.json', 'nvdcve-2.0-sample-other.json'].map((f) => path.join(here, 'fixtures', 'nvd', f));

const records = new Map<string, NvdCve>();

before(async () => {
  for (const f of feeds) {
    for await (const item of readNvdFeed(f)) {
      assert.ok(item.cve, item.error);
      records.set(item.cve.id, item.cve);
    }
  }
});

function cve(id: string): NvdCve {
  const c = records.get(id);
  assert.ok(c, `${id} missing from the fixtures`);
  return c;
}

const orthanc = (version: string) => ({ cpe: 'cpe:2.3:a:orthanc-server:orthanc:*:*:*:*:*:*:*:*', version });
const dcmtk = (version: string) => ({ cpe: `cpe:2.3:a:offis:dcmtk:${version}:*:*:*:*:*:*:*` });

describe('NVD 2.0 feed reader on the real sample feeds', () => {
  test('reads every record, trimmed to the English description', () => {
    assert.equal(records.size, 29);
    const c = cve('CVE-2023-43208');
    assert.equal(c.descriptions.length, 1);
    assert.equal(c.descriptions[0]!.lang, 'en');
    assert.equal(c.cisaExploitAdd, '2024-05-20');
    assert.match(englishDescription(c), /^NextGen Healthcare Mirth Connect before version 4\.4\.1/);
  });

  test('reads a gzipped feed the same way, and skips a bad item without losing the rest', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'medsurface-nvd-'));
    try {
      const feed = JSON.parse(readFileSync(feeds[0]!, 'utf8')) as { vulnerabilities: Array<{ cve: Record<string, unknown> }> };
      feed.vulnerabilities[1]!.cve.id = 'not-a-cve-id'; // a damaged copy of a real record
      const gz = path.join(dir, 'nvdcve-2.0-damaged.json.gz');
      writeFileSync(gz, gzipSync(JSON.stringify(feed)));
      const ids: string[] = [];
      const errors: string[] = [];
      for await (const item of readNvdFeed(gz)) {
        if (item.cve) ids.push(item.cve.id);
        else errors.push(item.error ?? '');
      }
      assert.equal(ids.length, 10);
      assert.equal(errors.length, 1);
      assert.match(errors[0]!, /invalid NVD CVE record/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('matchCve on real records', () => {
  test('Orthanc 1.10.1 matches CVE-2023-33466 (versions before 1.12.0); 1.12.0 does not', () => {
    const m = matchCve(cve('CVE-2023-33466'), orthanc('1.10.1'));
    assert.ok(m);
    assert.deepEqual(m.criteria, ['cpe:2.3:a:orthanc-server:orthanc:*:*:*:*:*:*:*:*']);
    assert.deepEqual(m.platformAssumed, []);
    assert.equal(matchCve(cve('CVE-2023-33466'), orthanc('1.12.0')), null);
    assert.equal(matchCve(cve('CVE-2023-33466'), orthanc('1.12.1')), null);
  });

  test('Debian 1.10.1+dfsg-2+deb12u1 still matches on its upstream version', () => {
    assert.ok(matchCve(cve('CVE-2023-33466'), orthanc('1.10.1+dfsg-2+deb12u1')));
  });

  test('CVE-2026-5437..5445: Orthanc up to 1.12.10 (versionEndExcluding 1.12.11)', () => {
    for (let n = 5437; n <= 5445; n++) {
      const c = cve(`CVE-2026-${n}`);
      assert.ok(matchCve(c, orthanc('1.12.10')), `${c.id} 1.12.10`);
      assert.ok(matchCve(c, orthanc('1.10.1')), `${c.id} 1.10.1`);
      assert.equal(matchCve(c, orthanc('1.12.11')), null, `${c.id} 1.12.11`);
    }
  });

  test('DCMTK 3.6.7 against the DCMTK records: ranges and exact versions', () => {
    const want: Record<string, boolean> = {
      'CVE-2022-2119': false, // < 3.6.7
      'CVE-2022-2120': false,
      'CVE-2022-2121': false,
      'CVE-2021-41689': false, // <= 3.6.6
      'CVE-2022-43272': true, // = 3.6.7
      'CVE-2024-47796': false, // = 3.6.8
    };
    for (const [id, expected] of Object.entries(want)) assert.equal(matchCve(cve(id), dcmtk('3.6.7')) !== null, expected, id);
    assert.ok(matchCve(cve('CVE-2022-2119'), dcmtk('3.6.6')));
    assert.ok(matchCve(cve('CVE-2021-41689'), dcmtk('3.6.6')));
    assert.ok(matchCve(cve('CVE-2024-47796'), dcmtk('3.6.8')));
    assert.equal(matchCve(cve('CVE-2022-43272'), dcmtk('3.6.8')), null);
  });

  test('records without an NVD configuration (awaiting analysis) match nothing here', () => {
    for (const id of ['CVE-2024-28130', 'CVE-2024-27628', 'CVE-2024-52333', 'CVE-2024-34508', 'CVE-2025-0896', 'CVE-2025-2263']) {
      assert.equal(cve(id).configurations, undefined, id);
      assert.equal(matchCve(cve(id), dcmtk('3.6.8')), null, id);
    }
  });

  test('OpenMRS CVE-2022-23612: five OR-ed ranges with start and end bounds', () => {
    const c = cve('CVE-2022-23612');
    const openmrs = (v: string) => ({ cpe: 'cpe:2.3:a:openmrs:openmrs:*:*:*:*:*:*:*:*', version: v });
    for (const v of ['1.6', '2.1.4', '2.2.0', '2.3.4', '2.4.0', '2.5.2']) assert.ok(matchCve(c, openmrs(v)), v);
    for (const v of ['1.5.9', '2.1.5', '2.2.1', '2.3.5', '2.4.5', '2.5.3', '2.6.0']) assert.equal(matchCve(c, openmrs(v)), null, v);
    assert.equal(matchCve(c, orthanc('2.4.0')), null, 'another product');
  });

  test('Mirth Connect: exact version (CVE-2023-37679) and range (CVE-2023-43208)', () => {
    const mirth = (v: string) => ({ cpe: 'cpe:2.3:a:nextgen:mirth_connect:*:*:*:*:*:*:*:*', version: v });
    assert.ok(matchCve(cve('CVE-2023-37679'), mirth('4.3.0')));
    assert.ok(matchCve(cve('CVE-2023-37679'), mirth('4.3')));
    assert.equal(matchCve(cve('CVE-2023-37679'), mirth('4.4.0')), null);
    assert.ok(matchCve(cve('CVE-2023-43208'), mirth('4.4.0')));
    assert.equal(matchCve(cve('CVE-2023-43208'), mirth('4.4.1')), null);
  });

  test('no version, no match', () => {
    assert.equal(matchCve(cve('CVE-2023-33466'), { cpe: 'cpe:2.3:a:orthanc-server:orthanc:*:*:*:*:*:*:*:*' }), null);
  });
});

describe('AND configurations: an application running on a platform (CVE-2023-21608)', () => {
  // NVD: AND(OR(acrobat_dc, acrobat_reader_dc [15.008.20082, 22.003.20282]), OR(windows vulnerable:false)), and the
  // same for macOS up to 22.003.20281, and Acrobat/Reader 2020 classic on either platform.
  const reader = (v: string) => ({ cpe: 'cpe:2.3:a:adobe:acrobat_reader_dc:*:*:*:*:continuous:*:*:*', version: v });

  test('the application part matches; the platform we cannot observe is assumed and reported', () => {
    const m = matchCve(cve('CVE-2023-21608'), reader('22.003.20282'));
    assert.ok(m);
    assert.deepEqual(m.criteria, ['cpe:2.3:a:adobe:acrobat_reader_dc:*:*:*:*:continuous:*:*:*']);
    assert.deepEqual(m.platformAssumed, ['cpe:2.3:o:microsoft:windows:-:*:*:*:*:*:*:*']);
  });

  test('22.003.20281 is in both the Windows and the macOS configuration', () => {
    const m = matchCve(cve('CVE-2023-21608'), reader('22.003.20281'));
    assert.ok(m);
    assert.deepEqual(m.platformAssumed.sort(), ['cpe:2.3:o:apple:macos:-:*:*:*:*:*:*:*', 'cpe:2.3:o:microsoft:windows:-:*:*:*:*:*:*:*']);
  });

  test('outside the range, or the platform alone, does not match', () => {
    assert.equal(matchCve(cve('CVE-2023-21608'), reader('22.003.20283')), null);
    assert.equal(matchCve(cve('CVE-2023-21608'), reader('15.008.20081')), null);
    assert.equal(matchCve(cve('CVE-2023-21608'), { cpe: 'cpe:2.3:o:microsoft:windows:10:*:*:*:*:*:*:*' }), null);
  });

  test('a product whose edition differs from the criteria (classic vs continuous) does not match', () => {
    assert.equal(matchCve(cve('CVE-2023-21608'), { cpe: 'cpe:2.3:a:adobe:acrobat_reader_dc:*:*:*:*:classic:*:*:*', version: '22.003.20282' }), null);
    assert.ok(matchCve(cve('CVE-2023-21608'), { cpe: 'cpe:2.3:a:adobe:acrobat_reader:*:*:*:*:classic:*:*:*', version: '20.005.30418' }));
  });
});

describe('negate and unknown (constructed configurations: no real record in the fixtures negates)', () => {
  const app = 'cpe:2.3:a:orthanc-server:orthanc:*:*:*:*:*:*:*:*';
  const p = productRef(makeCpe({ vendor: 'orthanc-server', product: 'orthanc' }), '1.10.1');

  test('a negated node that matches the product excludes it', () => {
    const configs: Configuration[] = [
      {
        operator: 'AND',
        nodes: [
          { operator: 'OR', cpeMatch: [{ vulnerable: true, criteria: app, versionEndExcluding: '1.12.0' }] },
          { operator: 'OR', negate: true, cpeMatch: [{ vulnerable: false, criteria: app, versionStartIncluding: '1.10.0', versionEndExcluding: '1.11.0' }] },
        ],
      },
    ];
    assert.equal(matchConfigurations(configs, p), null);
    assert.ok(matchConfigurations(configs, productRef(makeCpe({ vendor: 'orthanc-server', product: 'orthanc' }), '1.9.0')));
  });

  test('a negated platform node stays unknown and is reported as assumed', () => {
    const configs: Configuration[] = [
      {
        operator: 'AND',
        nodes: [
          { operator: 'OR', cpeMatch: [{ vulnerable: true, criteria: app }] },
          { operator: 'OR', negate: true, cpeMatch: [{ vulnerable: false, criteria: 'cpe:2.3:o:microsoft:windows:-:*:*:*:*:*:*:*' }] },
        ],
      },
    ];
    assert.deepEqual(matchConfigurations(configs, p)?.platformAssumed, ['cpe:2.3:o:microsoft:windows:-:*:*:*:*:*:*:*']);
  });

  test('another vulnerable product in an AND is not assumed present', () => {
    const configs: Configuration[] = [
      {
        operator: 'AND',
        nodes: [
          { operator: 'OR', cpeMatch: [{ vulnerable: true, criteria: app }] },
          { operator: 'OR', cpeMatch: [{ vulnerable: true, criteria: 'cpe:2.3:a:offis:dcmtk:*:*:*:*:*:*:*:*' }] },
        ],
      },
    ];
    assert.equal(matchConfigurations(configs, p), null);
  });
});

describe('CVSS, severity, title', () => {
  test('v3.1 NVD Primary score is preferred; v4.0 only when no v3 exists', () => {
    assert.deepEqual(bestCvss(cve('CVE-2022-2119').metrics), {
      version: '3.1',
      score: 9.8,
      vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
      source: 'nvd@nist.gov',
    });
    assert.equal(bestCvss(cve('CVE-2025-0896').metrics)?.score, 9.8, 'v3.1 over v4.0');
    assert.equal(bestCvss(cve('CVE-2024-27628').metrics), null, 'NVD metrics {}');
  });

  test('severity bands of CVSS v3/v4 and NVD v2', () => {
    const s = (version: string, score: number) => severityFromCvss({ version, score, vector: '' });
    assert.equal(s('3.1', 9.8), 'critical');
    assert.equal(s('3.1', 9.0), 'critical');
    assert.equal(s('3.1', 8.9), 'high');
    assert.equal(s('3.1', 7.0), 'high');
    assert.equal(s('3.1', 6.9), 'medium');
    assert.equal(s('3.1', 4.0), 'medium');
    assert.equal(s('3.1', 3.9), 'low');
    assert.equal(s('3.1', 0), 'info');
    assert.equal(s('4.0', 9.2), 'critical');
    assert.equal(s('2.0', 10), 'high');
    assert.equal(s('2.0', 3.3), 'low');
    assert.equal(severityFromCvss(null), 'info');
  });

  test('titles are the first sentence, bounded', () => {
    assert.equal(makeTitle(englishDescription(cve('CVE-2023-43208'))), 'NextGen Healthcare Mirth Connect before version 4.4.1 is vulnerable to unauthenticated remote code execution.');
    const long = makeTitle(englishDescription(cve('CVE-2022-23612')));
    assert.ok(long.length <= 160, long);
    const t = makeTitle('x'.repeat(1000));
    assert.equal(t.length, 160);
    assert.ok(t.endsWith('…'));
  });

  test('parseNvdCve refuses records over the caps', () => {
    const c = structuredClone(cve('CVE-2023-33466')) as Record<string, unknown>;
    (c as { configurations: unknown }).configurations = [
      { nodes: [{ operator: 'OR', cpeMatch: [{ vulnerable: true, criteria: `cpe:2.3:a:${'x'.repeat(2000)}:y:*:*:*:*:*:*:*:*` }] }] },
    ];
    assert.throws(() => parseNvdCve(c), /invalid NVD CVE record CVE-2023-33466/);
  });
});

after(() => records.clear());
