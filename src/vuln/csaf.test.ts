import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { type CsafAdvisory, matchCsaf, parseCsaf, readCsafFile } from './csaf.js';
import { VulnDataError } from './errors.js';
import { builtinProducts } from './products.js';
import { parseVersion } from './version.js';

const here = path.dirname(new URL(import.meta.url).pathname);
const fixture = (name: string) => path.join(here, 'fixtures', 'csaf', name);
const table = builtinProducts();
const ORTHANC = 'orthanc-server:orthanc';
const DCMTK = 'offis:dcmtk';

const cves = (adv: CsafAdvisory, key: string, version: string) => matchCsaf(adv, key, parseVersion(version), table).map((m) => m.cve);

describe('CSAF 2.0: CISA ICSMA-25-037-02 (Orthanc Server), real advisory', () => {
  test('product tree: vendor / product_name / product_version_range', async () => {
    const adv = await readCsafFile(fixture('icsma-25-037-02.json'));
    assert.equal(adv.id, 'ICSMA-25-037-02');
    assert.equal(adv.title, 'Orthanc Server');
    assert.equal(adv.publisher, 'CISA');
    assert.equal(adv.url, 'https://www.cisa.gov/news-events/ics-medical-advisories/icsma-25-037-02');
    assert.deepEqual(adv.products, [
      { productId: 'CSAFPID-0001', name: 'Orthanc Orthanc server: <1.5.8', vendor: 'Orthanc', product: 'Orthanc server', versionRange: '<1.5.8' },
    ]);
    assert.equal(adv.vulnerabilities.length, 1);
    const v = adv.vulnerabilities[0]!;
    assert.equal(v.cve, 'CVE-2025-0896');
    assert.equal(v.cwe, 'CWE-306');
    assert.deepEqual(v.affected, ['CSAFPID-0001']);
    assert.deepEqual(v.scores, [{ version: '3.1', score: 9.8, vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', products: ['CSAFPID-0001'] }]);
  });

  test('matches Orthanc by vendor/product name (alias "Orthanc server") and range <1.5.8', async () => {
    const adv = await readCsafFile(fixture('icsma-25-037-02.json'));
    assert.deepEqual(cves(adv, ORTHANC, '1.5.7'), ['CVE-2025-0896']);
    assert.deepEqual(cves(adv, ORTHANC, '1.0.0'), ['CVE-2025-0896']);
    assert.deepEqual(cves(adv, ORTHANC, '1.5.8'), []);
    assert.deepEqual(cves(adv, ORTHANC, '1.10.1'), []);
    assert.deepEqual(cves(adv, DCMTK, '1.5.7'), [], 'another product');
    assert.equal(matchCsaf(adv, ORTHANC, parseVersion('1.5.7'), table)[0]?.via, 'csaf-name');
  });

  test('product_identification_helper.cpe (2.3 and 2.2 URI) on a copy of the real advisory', () => {
    // The advisory itself names the product only; CSAF 2.0 §3.1.3.3.1 allows a CPE helper, which
    // vendor PSIRTs use. The copy below adds one to exercise that path.
    const doc = JSON.parse(readFileSync(fixture('icsma-25-037-02.json'), 'utf8'));
    const leaf = doc.product_tree.branches[0].branches[0].branches[0];
    leaf.product.product_identification_helper = { cpe: 'cpe:2.3:a:orthanc-server:orthanc:*:*:*:*:*:*:*:*' };
    leaf.name = 'vers:generic/<1.5.8';
    doc.product_tree.branches[0].name = 'Some Other Vendor Name';
    const adv = parseCsaf(doc);
    assert.equal(adv.products[0]!.cpe, 'cpe:2.3:a:orthanc-server:orthanc:*:*:*:*:*:*:*:*');
    assert.deepEqual(cves(adv, ORTHANC, '1.5.7'), ['CVE-2025-0896']);
    assert.equal(matchCsaf(adv, ORTHANC, parseVersion('1.5.7'), table)[0]?.via, 'csaf-cpe');
    assert.deepEqual(cves(adv, ORTHANC, '1.5.8'), []);

    leaf.product.product_identification_helper = { cpe: 'cpe:/a:orthanc-server:orthanc:1.5.6' };
    delete leaf.category;
    const exact = parseCsaf(doc);
    assert.deepEqual(cves(exact, ORTHANC, '1.5.6'), ['CVE-2025-0896'], 'the CPE carries the version');
    assert.deepEqual(cves(exact, ORTHANC, '1.5.7'), []);
  });

  test('a product without any version information matches nothing (a version finding needs one)', () => {
    const doc = JSON.parse(readFileSync(fixture('icsma-25-037-02.json'), 'utf8'));
    const leaf = doc.product_tree.branches[0].branches[0].branches[0];
    leaf.category = 'product_family';
    assert.deepEqual(cves(parseCsaf(doc), ORTHANC, '1.5.7'), []);
  });
});

describe('CSAF 2.0: CISA ICSMA-22-174-01 (OFFIS DCMTK), real advisory', () => {
  test('three CVEs for "DCMTK: All versions prior to 3.6.7" (range "< 3.6.7")', async () => {
    const adv = await readCsafFile(fixture('icsma-22-174-01.json'));
    assert.equal(adv.id, 'ICSMA-22-174-01');
    assert.deepEqual(cves(adv, DCMTK, '3.6.6'), ['CVE-2022-2119', 'CVE-2022-2120', 'CVE-2022-2121']);
    assert.deepEqual(cves(adv, DCMTK, '3.6.7'), []);
    assert.deepEqual(cves(adv, DCMTK, '3.6.7-9~deb12u4'), [], 'Debian 3.6.7 is 3.6.7 upstream');
    const v = adv.vulnerabilities.find((x) => x.cve === 'CVE-2022-2121');
    assert.deepEqual(v?.scores[0], { version: '3.0', score: 6.5, vector: 'CVSS:3.0/AV:A/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H', products: ['CSAFPID-0001'] });
  });
});

describe('refusals', () => {
  test('not CSAF 2.0, and trees nested too deep', () => {
    assert.throws(() => parseCsaf({ document: { csaf_version: '1.2' } }), VulnDataError);
    assert.throws(() => parseCsaf({}), VulnDataError);
    const doc = JSON.parse(readFileSync(fixture('icsma-25-037-02.json'), 'utf8'));
    let b: Record<string, unknown> = { category: 'vendor', name: 'x' };
    const top = b;
    for (let i = 0; i < 40; i++) {
      const next = { category: 'product_family', name: `f${i}` };
      b.branches = [next];
      b = next;
    }
    doc.product_tree = { branches: [top] };
    assert.throws(() => parseCsaf(doc), /nested deeper than 32/);
  });
});
