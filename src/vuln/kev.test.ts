import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { VulnDb, importVulnFile } from './db.js';
import { VulnDataError } from './errors.js';
import { kevFromJson, kevToJson, parseKevCatalog, readKevFile } from './kev.js';

const here = path.dirname(new URL(import.meta.url).pathname);
const kevFile = path.join(here, 'fixtures', 'kev', 'known_exploited_vulnerabilities-excerpt-2025.02.25.json');
const dir = mkdtempSync(path.join(tmpdir(), 'medsurface-kev-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('CISA KEV catalogue (real excerpt, catalogVersion 2025.02.25)', () => {
  test('parses the entries we need', async () => {
    const cat = await readKevFile(kevFile);
    assert.equal(cat.catalogVersion, '2025.02.25');
    assert.equal(cat.entries.size, 3);
    assert.deepEqual(cat.entries.get('CVE-2023-43208'), {
      dateAdded: '2024-05-20',
      dueDate: '2024-06-10',
      knownRansomwareCampaignUse: 'Unknown',
      vulnerabilityName: 'NextGen Healthcare Mirth Connect Deserialization of Untrusted Data Vulnerability',
      vendorProject: 'NextGen Healthcare',
      product: 'Mirth Connect',
    });
    assert.deepEqual(kevFromJson(JSON.parse(JSON.stringify(kevToJson(cat)))).entries, cat.entries);
  });

  test('bad entries are skipped and counted; a file that is not a catalogue is refused', () => {
    const cat = parseKevCatalog({ catalogVersion: 'x', vulnerabilities: [{ cveID: 'nope', dateAdded: '2024-01-01' }, { cveID: 'CVE-2024-0001', dateAdded: '2024-01-01' }] });
    assert.equal(cat.entries.size, 1);
    assert.equal(cat.rejected, 1);
    assert.throws(() => parseKevCatalog({ vulnerabilities: [] }), VulnDataError);
  });
});

describe('KEV join', () => {
  test('the curated set flags CVE-2023-43208 (Mirth Connect < 4.4.1) as known exploited', () => {
    const db = new VulnDb();
    const m = db.findVulnerabilities({ vendor: 'NextGen Healthcare', product: 'Mirth Connect', version: '4.4.0' });
    const hit = m.find((x) => x.id === 'CVE-2023-43208');
    assert.ok(hit);
    assert.equal(hit.kev, true);
    assert.equal(hit.kevDateAdded, '2024-05-20');
    assert.equal(hit.kevDueDate, '2024-06-10');
    assert.equal(hit.severity, 'critical');
    const other = m.find((x) => x.id === 'CVE-2023-37679');
    assert.equal(other, undefined, '4.4.0 is not 4.3.0');
    const at430 = db.findVulnerabilities({ vendor: 'NextGen Healthcare', product: 'Mirth Connect', version: '4.3.0' });
    assert.equal(at430.find((x) => x.id === 'CVE-2023-37679')?.kev, false);
  });

  test('an imported catalogue takes precedence and adds flags to imported CVEs', async () => {
    const dataDir = path.join(dir, 'data');
    const s = await importVulnFile(kevFile, dataDir);
    assert.equal(s.kind, 'kev');
    assert.equal(s.records, 3);
    // A later catalogue says the ransomware use is known: the stored one is replaced.
    const later = path.join(dir, 'kev-later.json');
    writeFileSync(
      later,
      JSON.stringify({
        catalogVersion: '2099.01.01',
        vulnerabilities: [{ cveID: 'CVE-2023-43208', dateAdded: '2024-05-20', dueDate: '2024-06-10', knownRansomwareCampaignUse: 'Known' }],
      }),
    );
    await importVulnFile(later, dataDir);
    const db = new VulnDb({ dataDir });
    const hit = db.findVulnerabilities({ vendor: 'NextGen Healthcare', product: 'Mirth Connect', version: '4.0.0' }).find((x) => x.id === 'CVE-2023-43208');
    assert.equal(hit?.kevRansomware, 'Known');
  });
});
