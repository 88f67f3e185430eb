import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Finding } from '../core/types.js';
import { VulnDb, detectKind, findVulnerabilities, importVulnFile, toFindings } from './db.js';
import { VulnDataError } from './errors.js';

const here = path.dirname(new URL(import.meta.url).pathname);
const fx = (...p: string[]) => path.join(here, 'fixtures', ...p);
const dir = mkdtempSync(path.join(tmpdir(), 'medsurface-vulndb-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ids = (q: Parameters<typeof findVulnerabilities>[0]) => findVulnerabilities(q).map((m) => m.id).sort();

const ORTHANC_2026 = ['CVE-2026-5437', 'CVE-2026-5438', 'CVE-2026-5439', 'CVE-2026-5440', 'CVE-2026-5441', 'CVE-2026-5442', 'CVE-2026-5443', 'CVE-2026-5444', 'CVE-2026-5445'];

describe('findVulnerabilities on the curated set', () => {
  test('Orthanc 1.10.1 (as the fingerprints name it): CVE-2023-33466 and CVE-2026-5437..5445', () => {
    assert.deepEqual(ids({ vendor: 'Orthanc', product: 'Orthanc', version: '1.10.1' }), ['CVE-2023-33466', ...ORTHANC_2026]);
  });

  test('Orthanc 1.12.0 no longer has CVE-2023-33466; 1.12.11 has none; 1.5.7 adds CVE-2025-0896 (CSAF)', () => {
    assert.deepEqual(ids({ vendor: 'Orthanc', product: 'Orthanc', version: '1.12.0' }), ORTHANC_2026);
    assert.deepEqual(ids({ vendor: 'Orthanc', product: 'Orthanc', version: '1.12.11' }), []);
    const m = findVulnerabilities({ vendor: 'Orthanc', product: 'Orthanc', version: '1.5.7' });
    const c = m.find((x) => x.id === 'CVE-2025-0896');
    assert.ok(c);
    assert.equal(c.basis, 'csaf');
    assert.deepEqual(c.sources, ['curated', 'csaf:ICSMA-25-037-02']);
    assert.equal(c.cvss?.score, 9.8);
    assert.equal(c.severity, 'critical');
    assert.ok(c.references.includes('https://www.cisa.gov/news-events/ics-medical-advisories/icsma-25-037-02'));
  });

  test('Debian Orthanc 1.10.1+dfsg-2+deb12u1 still matches, confidence version, with the backport note', () => {
    const m = findVulnerabilities({ vendor: 'Orthanc', product: 'Orthanc', version: '1.10.1+dfsg-2+deb12u1' });
    const c = m.find((x) => x.id === 'CVE-2023-33466');
    assert.ok(c);
    assert.equal(c.confidence, 'version');
    assert.match(c.backportNote ?? '', /distribution package may carry a backported fix/);
    assert.equal(c.product.cpe, 'cpe:2.3:a:orthanc-server:orthanc:1.10.1:*:*:*:*:*:*:*', 'the CPE holds the compared upstream version');
    const f = toFindings([c])[0]!;
    assert.equal(f.id, 'CVE-2023-33466');
    assert.equal(f.confidence, 'version');
    assert.equal(f.evidence?.version, '1.10.1+dfsg-2+deb12u1');
    assert.equal(f.evidence?.product, 'Orthanc');
    assert.equal(f.evidence?.source, 'curated');
    assert.match(String(f.evidence?.note), /backported fix/);
  });

  test('DCMTK 3.6.7 from its fingerprint CPE: version-exact, ADP and description-based applicability', () => {
    const m = findVulnerabilities({ cpe: 'cpe:2.3:a:offis:dcmtk:3.6.7:*:*:*:*:*:*:*' });
    assert.deepEqual(m.map((x) => `${x.id} ${x.basis}`).sort(), ['CVE-2022-43272 nvd-configuration', 'CVE-2024-28130 cve5-adp', 'CVE-2024-34508 description']);
    const unscored = m.find((x) => x.id === 'CVE-2024-34508')!;
    assert.equal(unscored.cvss, null);
    assert.equal(unscored.severity, 'info');
    assert.match(String(toFindings([unscored])[0]!.evidence?.note), /no CVSS/);
  });

  test('DCMTK 3.6.6 gets the ICSMA-22-174-01 CVEs once each, NVD and CSAF sources merged', () => {
    const m = findVulnerabilities({ vendor: 'OFFIS', product: 'DCMTK', version: '3.6.6' });
    const c = m.find((x) => x.id === 'CVE-2022-2119');
    assert.ok(c);
    assert.equal(m.filter((x) => x.id === 'CVE-2022-2119').length, 1);
    assert.equal(c.basis, 'nvd-configuration');
    assert.deepEqual(c.sources, ['curated', 'csaf:ICSMA-22-174-01']);
    assert.ok(m.some((x) => x.id === 'CVE-2021-41689'));
  });

  test('DCMTK 3.6.8: ADP CVSS used where NVD has none (CVE-2024-27628)', () => {
    const m = findVulnerabilities({ cpe: 'cpe:2.3:a:offis:dcmtk:3.6.8:*:*:*:*:*:*:*' });
    assert.deepEqual(m.map((x) => x.id).sort(), ['CVE-2024-27628', 'CVE-2024-28130', 'CVE-2024-34508', 'CVE-2024-47796', 'CVE-2024-52333']);
    const c = m.find((x) => x.id === 'CVE-2024-27628')!;
    assert.deepEqual(c.cvss, { version: '3.1', score: 8.1, vector: 'CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:N', source: 'CISA-ADP' });
    assert.deepEqual(ids({ cpe: 'cpe:2.3:a:offis:dcmtk:3.6.9:*:*:*:*:*:*:*' }), []);
  });

  test('Sante PACS Server 4.1.0 (CNA affected, 4.2.0 unaffected), OpenEMR, OpenMRS', () => {
    assert.deepEqual(ids({ vendor: 'Santesoft', product: 'Sante PACS Server', version: '4.1.0' }), ['CVE-2025-2263', 'CVE-2025-2264']);
    assert.deepEqual(ids({ vendor: 'Santesoft', product: 'Sante PACS Server', version: '4.2.0' }), []);
    assert.deepEqual(ids({ vendor: 'OpenEMR', product: 'OpenEMR', version: '6.0.0' }), ['CVE-2021-40352', 'CVE-2023-22974']);
    assert.deepEqual(ids({ vendor: 'OpenEMR', product: 'OpenEMR', version: '7.0.0' }), []);
    assert.deepEqual(ids({ vendor: 'OpenMRS', product: 'OpenMRS Core', version: '2.5.2' }), ['CVE-2022-23612']);
  });

  test('sorted by severity then score; no version or unknown product gives nothing', () => {
    const m = findVulnerabilities({ vendor: 'Orthanc', product: 'Orthanc', version: '1.10.1' });
    const scores = m.map((x) => x.cvss?.score ?? 0);
    assert.deepEqual(scores, [...scores].sort((a, b) => b - a));
    assert.deepEqual(ids({ vendor: 'Orthanc', product: 'Orthanc' }), []);
    assert.deepEqual(ids({ cpe: 'cpe:2.3:a:offis:dcmtk:*:*:*:*:*:*:*:*' }), []);
    assert.deepEqual(ids({ vendor: 'Nobody', product: 'Nothing', version: '1.0' }), []);
  });

  test('findings validate against the shared Finding schema', () => {
    const fs = toFindings(findVulnerabilities({ vendor: 'NextGen Healthcare', product: 'Mirth Connect', version: '4.3.0' }));
    assert.equal(fs.length, 2);
    for (const f of fs) {
      assert.ok(Finding.safeParse(f).success, JSON.stringify(f));
      assert.equal(f.confidence, 'version');
      assert.ok(f.title.length <= 160);
    }
    assert.equal(fs.find((f) => f.id === 'CVE-2023-43208')?.evidence?.kev, true);
  });
});

describe('import into a data dir', () => {
  test('NVD feeds (plain and gzipped) are sharded by vendor, then matched like the curated set', async () => {
    const dataDir = path.join(dir, 'nvd-only');
    const gz = path.join(dir, 'nvdcve-2.0-sample-dcmtk.json.gz');
    writeFileSync(gz, gzipSync(readFileSync(fx('nvd', 'nvdcve-2.0-sample-dcmtk.json'))));
    assert.equal(await detectKind(gz), 'nvd');
    const s1 = await importVulnFile(gz, dataDir);
    assert.equal(s1.kind, 'nvd');
    assert.equal(s1.records, 6, 'records with a vulnerable CPE');
    assert.equal(s1.unindexed, 4, 'records awaiting analysis have nothing to index by');
    assert.equal(s1.rejected, 0);
    const s2 = await importVulnFile(fx('nvd', 'nvdcve-2.0-sample-other.json'), dataDir);
    assert.equal(s2.records, 6);
    const shards = readdirSync(path.join(dataDir, 'vulndb', 'nvd')).sort();
    assert.deepEqual(shards, ['adobe.jsonl', 'nextgen.jsonl', 'offis.jsonl', 'open-emr.jsonl', 'openmrs.jsonl']);

    const db = new VulnDb({ dataDir, builtin: false });
    const m = db.findVulnerabilities({ cpe: 'cpe:2.3:a:offis:dcmtk:3.6.7:*:*:*:*:*:*:*' });
    assert.deepEqual(m.map((x) => x.id), ['CVE-2022-43272']);
    assert.deepEqual(m[0]!.sources, ['nvd-import']);
    // CVE-2023-21608 in the NVD record itself carries cisaExploitAdd: KEV without a catalogue.
    const reader = db.findVulnerabilities({ cpe: 'cpe:2.3:a:adobe:acrobat_reader_dc:22.003.20282:*:*:*:continuous:*:*:*' });
    assert.equal(reader[0]?.id, 'CVE-2023-21608');
    assert.equal(reader[0]?.kev, true);
    assert.deepEqual(reader[0]?.platformAssumed, ['cpe:2.3:o:microsoft:windows:-:*:*:*:*:*:*:*']);
    assert.match(String(toFindings(reader)[0]!.evidence?.platformAssumed), /microsoft:windows/);
  });

  test('re-importing keeps one record per CVE, the newest lastModified winning', async () => {
    const dataDir = path.join(dir, 'merge');
    const feed = JSON.parse(readFileSync(fx('nvd', 'nvdcve-2.0-sample-orthanc.json'), 'utf8'));
    const older = structuredClone(feed);
    const rec = older.vulnerabilities[0].cve; // CVE-2023-33466
    rec.lastModified = '2000-01-01T00:00:00.000';
    rec.configurations[0].nodes[0].cpeMatch[0].versionEndExcluding = '1.0.0';
    const olderFile = path.join(dir, 'nvdcve-2.0-older.json');
    writeFileSync(olderFile, JSON.stringify(older));
    await importVulnFile(fx('nvd', 'nvdcve-2.0-sample-orthanc.json'), dataDir);
    await importVulnFile(olderFile, dataDir);
    const lines = readFileSync(path.join(dataDir, 'vulndb', 'nvd', 'orthanc-server.jsonl'), 'utf8').trim().split('\n');
    assert.equal(lines.length, 10, 'CVE-2025-0896 has no configuration in the record');
    const db = new VulnDb({ dataDir, builtin: false });
    assert.ok(db.findVulnerabilities({ vendor: 'Orthanc', product: 'Orthanc', version: '1.10.1' }).some((x) => x.id === 'CVE-2023-33466'), 'the older, narrower record did not win');
  });

  test('imported records merge with the curated set without duplicates', async () => {
    const dataDir = path.join(dir, 'both');
    await importVulnFile(fx('nvd', 'nvdcve-2.0-sample-orthanc.json'), dataDir);
    await importVulnFile(fx('csaf', 'icsma-25-037-02.json'), dataDir);
    const db = new VulnDb({ dataDir });
    const m = db.findVulnerabilities({ vendor: 'Orthanc', product: 'Orthanc', version: '1.5.7' });
    assert.equal(m.length, new Set(m.map((x) => x.id)).size);
    assert.equal(m.length, 11);
    assert.ok(existsSync(path.join(dataDir, 'vulndb', 'csaf')));
  });

  test('a CSAF advisory imported alone matches by name and supplies its own score and summary', async () => {
    const dataDir = path.join(dir, 'csaf-only');
    const s = await importVulnFile(fx('csaf', 'icsma-22-174-01.json'), dataDir);
    assert.equal(s.kind, 'csaf');
    assert.equal(s.records, 3);
    const db = new VulnDb({ dataDir, builtin: false });
    const m = db.findVulnerabilities({ vendor: 'OFFIS', product: 'DCMTK', version: '3.6.6' });
    assert.deepEqual(m.map((x) => x.id).sort(), ['CVE-2022-2119', 'CVE-2022-2120', 'CVE-2022-2121']);
    const c = m.find((x) => x.id === 'CVE-2022-2121')!;
    assert.equal(c.cvss?.score, 6.5);
    assert.equal(c.severity, 'medium');
    assert.match(c.title, /NULL pointer dereference/);
  });

  test('unknown files are refused', async () => {
    const f = path.join(dir, 'other.json');
    writeFileSync(f, '{"hello":"world"}');
    await assert.rejects(importVulnFile(f, path.join(dir, 'x')), VulnDataError);
  });

  test('a damaged shard is refused when loaded, not silently used', async () => {
    const dataDir = path.join(dir, 'damaged');
    await importVulnFile(fx('nvd', 'nvdcve-2.0-sample-other.json'), dataDir);
    writeFileSync(path.join(dataDir, 'vulndb', 'nvd', 'openmrs.jsonl'), '{"id":"CVE-1"}\n');
    const db = new VulnDb({ dataDir, builtin: false });
    assert.throws(() => db.findVulnerabilities({ vendor: 'OpenMRS', product: 'OpenMRS', version: '2.4.0' }), VulnDataError);
  });
});
