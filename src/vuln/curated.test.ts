import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildCurated, loadCurated } from './curated.js';

const EXPECTED = [
  'CVE-2021-40352', // OpenEMR 6.0.0
  'CVE-2021-41689', // DCMTK <= 3.6.6
  'CVE-2022-2119', // DCMTK < 3.6.7
  'CVE-2022-2120',
  'CVE-2022-2121',
  'CVE-2022-23612', // OpenMRS
  'CVE-2022-43272', // DCMTK 3.6.7
  'CVE-2023-22974', // OpenEMR < 7.0.0
  'CVE-2023-33466', // Orthanc < 1.12.0
  'CVE-2023-37679', // Mirth Connect 4.3.0
  'CVE-2023-43208', // Mirth Connect < 4.4.1, KEV
  'CVE-2024-27628', // DCMTK 3.6.8 (CISA-ADP)
  'CVE-2024-28130', // DCMTK <= 3.6.8 (CISA-ADP)
  'CVE-2024-34508', // DCMTK < 3.6.9 (description)
  'CVE-2024-47796', // DCMTK 3.6.8
  'CVE-2024-52333', // DCMTK 3.6.8 (CNA)
  'CVE-2025-0896', // Orthanc < 1.5.8 (CSAF ICSMA-25-037-02)
  'CVE-2025-2263', // Sante PACS Server 4.1.0 (CNA)
  'CVE-2025-2264',
  'CVE-2026-5437', // Orthanc < 1.12.11 (up to 1.12.10)
  'CVE-2026-5438',
  'CVE-2026-5439',
  'CVE-2026-5440',
  'CVE-2026-5441',
  'CVE-2026-5442',
  'CVE-2026-5443',
  'CVE-2026-5444',
  'CVE-2026-5445',
];

describe('curated.json', () => {
  const shipped = loadCurated();

  test('is exactly what build-curated.ts makes from the fixtures (never edited by hand)', async () => {
    const built = await buildCurated();
    assert.deepEqual(JSON.parse(JSON.stringify(shipped)), JSON.parse(JSON.stringify(built)), 'run: node --import tsx src/vuln/build-curated.ts');
  });

  test('holds the expected real CVEs, each with where it was copied from', () => {
    assert.deepEqual(shipped.records.map((r) => r.cve.id), EXPECTED);
    for (const r of shipped.records) {
      assert.equal(r.source.nvdApi, `https://services.nvd.nist.gov/rest/json/cves/2.0?cveId=${r.cve.id}`);
      assert.match(r.source.copiedFrom, /^https:\/\/github\.com\/fkie-cad\/nvd-json-data-feeds\/blob\/[0-9a-f]{40}\/CVE-\d{4}\//);
      assert.ok(r.cve.configurations || r.applicability, `${r.cve.id} can match`);
      if (r.applicability) assert.match(r.applicability.source, /^https:\/\//);
    }
  });

  test('KEV flags come from the KEV catalogue and agree with NVD cisaExploitAdd', () => {
    const flagged = shipped.records.filter((r) => r.kev).map((r) => r.cve.id);
    assert.deepEqual(flagged, ['CVE-2023-43208']);
    for (const r of shipped.records) assert.equal(r.kev?.dateAdded, r.cve.cisaExploitAdd, r.cve.id);
    assert.match(shipped.records.find((r) => r.kev)!.kev!.source, /cisagov\/kev-data.*catalogVersion 2025\.02\.25/);
  });

  test('ships the two CISA ICSMA advisories', () => {
    assert.deepEqual(shipped.csaf.map((a) => a.id), ['ICSMA-22-174-01', 'ICSMA-25-037-02']);
    for (const a of shipped.csaf) assert.match(a.source, /^https:\/\/github\.com\/cisagov\/CSAF\/blob\/[0-9a-f]{40}\//);
  });
});
