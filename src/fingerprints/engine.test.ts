import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { AssetIdentity, Identification } from '../core/types.js';
import {
  FingerprintDbError,
  deviceTypeRank,
  fieldsOf,
  fuseAsset,
  identify,
  loadFingerprintDb,
  truncateBytes,
} from './engine.js';

const db = loadFingerprintDb();

describe('loadFingerprintDb', () => {
  test('is cached per folder', () => {
    assert.equal(loadFingerprintDb(), db);
  });

  const tmp = mkdtempSync(path.join(tmpdir(), 'medsurface-fp-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  function dbDir(name: string, files: Record<string, string>): string {
    const dir = path.join(tmp, name);
    mkdirSync(dir, { recursive: true });
    for (const [f, text] of Object.entries(files)) writeFileSync(path.join(dir, f), text);
    return dir;
  }

  const rule = () => `
matches: dicom.implementationClassUid
description: a test db file
rules:
  - id: test-rule
    pattern: '^1\\.2\\.3\\.(\\d)$'
    description: a test rule here
    outputs: { vendor: OFFIS, product: DCMTK, version: '{v}' }
    params: [{ pos: 1, name: v }]
    examples:
      - value: '1.2.3.4'
        expect: { vendor: OFFIS, product: DCMTK, version: '4' }
        source: { url: 'https://example.org/x', section: s }
`;

  test('rejects a db without index.yaml, with malformed YAML, or with a bad rule', () => {
    const noIndex = dbDir('no-index', { 'a.yaml': rule() });
    assert.throws(() => loadFingerprintDb(noIndex));
    const badYaml = dbDir('bad-yaml', { 'index.yaml': 'version: "2025.01.01"\n', 'a.yaml': 'rules: [\n' });
    assert.throws(() => loadFingerprintDb(badYaml), FingerprintDbError);
    const unanchored = dbDir('unanchored', {
      'index.yaml': 'version: "2025.01.01"\n',
      'a.yaml': rule().replace("'^1\\.2\\.3\\.(\\d)$'", "'1\\.2\\.3\\.(\\d)'"),
    });
    assert.throws(() => loadFingerprintDb(unanchored), /anchored/);
    const badPlaceholder = dbDir('bad-placeholder', {
      'index.yaml': 'version: "2025.01.01"\n',
      'a.yaml': rule().replace("version: '{v}'", "version: '{w}'"),
    });
    assert.throws(() => loadFingerprintDb(badPlaceholder), /unknown placeholder/);
    const noSource = dbDir('no-source', {
      'index.yaml': 'version: "2025.01.01"\n',
      'a.yaml': rule().replace("        source: { url: 'https://example.org/x', section: s }\n", ''),
    });
    assert.throws(() => loadFingerprintDb(noSource), FingerprintDbError);
    const ok = dbDir('ok', { 'index.yaml': 'version: "2025.01.01"\n', 'a.yaml': rule() });
    const small = loadFingerprintDb(ok);
    assert.equal(small.version, '2025.01.01');
    assert.deepEqual(identify({ 'dicom.implementationClassUid': '1.2.3.9' }, small), {
      vendor: 'OFFIS',
      product: 'DCMTK',
      version: '9',
      rules: ['test-rule'],
    });
  });
});

describe('fieldsOf', () => {
  test('flattens the DICOM association and strips UI/SH padding', () => {
    const f = fieldsOf({
      protocol: 'dicom',
      data: {
        dicom: {
          association: { implementationClassUid: '1.2.40.0.13.1.3\0', implementationVersionName: ' dcm4che-5.31.0 ' },
        },
      },
    });
    assert.deepEqual(f, {
      'dicom.implementationClassUid': '1.2.40.0.13.1.3',
      'dicom.implementationVersionName': 'dcm4che-5.31.0',
    });
  });

  test('ignores missing, null, non-string and inherited values', () => {
    assert.deepEqual(fieldsOf({ protocol: 'dicom', data: {} }), {});
    assert.deepEqual(fieldsOf({ protocol: 'dicom', data: { dicom: { association: null } } }), {});
    assert.deepEqual(
      fieldsOf({ protocol: 'dicom', data: { dicom: { association: { implementationClassUid: 42 } } } }),
      {},
    );
    const proto = { implementationClassUid: '1.2.40.0.13.1.3' };
    const association = Object.create(proto);
    assert.deepEqual(fieldsOf({ protocol: 'dicom', data: { dicom: { association } } }), {});
  });
});

describe('identify', () => {
  test('merges the class UID and the version name of the same toolkit', () => {
    const id = identify(
      { 'dicom.implementationClassUid': '1.2.40.0.13.1.3', 'dicom.implementationVersionName': 'dcm4che-5.31.0' },
      db,
    );
    assert.deepEqual(id, {
      vendor: 'dcm4che',
      product: 'dcm4che',
      deviceType: 'dicom-toolkit',
      version: '5.31.0',
      rules: ['dcm4che3-uid', 'dcm4che-version-name'],
    });
    assert.ok(Identification.safeParse(id).success);
  });

  test('a product-level match wins over a toolkit-level one, and a conflicting match fills nothing', () => {
    const id = identify(
      { 'dicom.implementationClassUid': '1.2.276.0.7230010.3.0.3.6.7', 'dicom.implementationVersionName': '1.4.19/OTHER' },
      db,
    );
    assert.equal(id.product, 'Conquest DICOM Server');
    assert.equal(id.deviceType, 'pacs');
    assert.equal(id.version, '1.4.19');
    assert.equal(id.cpe, undefined);
    assert.deepEqual(new Set(id.rules), new Set(['dcmtk-uid', 'conquest-version-name']));
  });

  test('no CPE without a version (a * version would match every CVE)', () => {
    const id = identify({ 'dicom.implementationClassUid': '1.3.6.1.4.1.30071.8' }, db);
    assert.equal(id.cpe, undefined);
    assert.equal(id.version, undefined);
  });

  test('unknown values identify nothing', () => {
    assert.deepEqual(identify({ 'dicom.implementationClassUid': '1.2.3.4.5' }, db), { rules: [] });
    assert.deepEqual(identify({}, db), { rules: [] });
    assert.deepEqual(identify({ 'dicom.implementationClassUid': null }, db), { rules: [] });
  });

  test('one digit per version component: an ambiguous four-digit name is left alone', () => {
    assert.deepEqual(identify({ 'dicom.implementationVersionName': 'OFFIS_DCMTK_3610' }, db), { rules: [] });
  });
});

describe('truncateBytes', () => {
  test('bounds UTF-8 bytes, not characters', () => {
    assert.equal(truncateBytes('abc', 2), 'ab');
    assert.ok(Buffer.byteLength(truncateBytes('é'.repeat(2000), 1024)) <= 1024 + 3);
    assert.equal(truncateBytes('short'), 'short');
  });
});

describe('fuseAsset', () => {
  const dcmtk = identify(
    { 'dicom.implementationClassUid': '1.2.276.0.7230010.3.0.3.6.7', 'dicom.implementationVersionName': 'OFFIS_DCMTK_367' },
    db,
  );

  test('a single DICOM service: the toolkit, with evidence naming port, field, value and rule', () => {
    const asset = fuseAsset(
      [
        {
          protocol: 'dicom',
          port: 4242,
          identification: dcmtk,
          fields: {
            'dicom.implementationClassUid': '1.2.276.0.7230010.3.0.3.6.7',
            'dicom.implementationVersionName': 'OFFIS_DCMTK_367',
          },
        },
      ],
      db,
    );
    assert.ok(AssetIdentity.safeParse(asset).success);
    assert.equal(asset.product, 'DCMTK');
    assert.equal(asset.deviceType, 'dicom-toolkit');
    assert.deepEqual(asset.evidence, [
      'dicom:4242 implementationClassUid=1.2.276.0.7230010.3.0.3.6.7 → DCMTK 3.6.7 (rule dcmtk-uid)',
      'dicom:4242 implementationVersionName=OFFIS_DCMTK_367 → DCMTK 3.6.7 (rule dcmtk-version-name)',
    ]);
  });

  test('a product identity from another service (Orthanc over HTTP) beats the DCMTK toolkit', () => {
    const orthanc: Identification = {
      vendor: 'Orthanc',
      product: 'Orthanc',
      version: '1.10.1',
      deviceType: 'pacs',
      rules: ['orthanc-http-system'],
    };
    const asset = fuseAsset(
      [
        { protocol: 'dicom', port: 4242, identification: dcmtk },
        { protocol: 'http', port: 8042, identification: orthanc },
      ],
      db,
    );
    assert.equal(asset.vendor, 'Orthanc');
    assert.equal(asset.product, 'Orthanc');
    assert.equal(asset.deviceType, 'pacs');
    assert.equal(asset.evidence.length, 3);
    assert.ok(asset.evidence.includes('http:8042 → Orthanc 1.10.1 (rule orthanc-http-system)'));
  });

  test('the most specific device type wins even when it comes from a less specific identity', () => {
    assert.ok(deviceTypeRank('modality') > deviceTypeRank('pacs'));
    assert.ok(deviceTypeRank('pacs') > deviceTypeRank('workstation'));
    assert.ok(deviceTypeRank('viewer') > deviceTypeRank('dicom-toolkit'));
    assert.ok(deviceTypeRank('dicom-toolkit') > deviceTypeRank('unknown'));
    const modalityOnly: Identification = { deviceType: 'modality', rules: ['x'] };
    const asset = fuseAsset([{ protocol: 'dicom', identification: dcmtk }, { protocol: 'http', identification: modalityOnly }], db);
    assert.equal(asset.deviceType, 'modality');
    assert.equal(asset.product, 'DCMTK');
  });

  test('nothing identified: empty evidence, no identity', () => {
    assert.deepEqual(fuseAsset([{ protocol: 'dicom', identification: { rules: [] } }], db), { evidence: [] });
    assert.deepEqual(fuseAsset([], db), { evidence: [] });
  });

  test('evidence is printable and bounded even when a field value is hostile', () => {
    const fields = { 'dicom.implementationVersionName': 'OFFIS_DCMTK_367' };
    const id = identify(fields, db);
    const asset = fuseAsset([{ protocol: 'dicom\n\u0000', port: 1, identification: id, fields }], db);
    for (const e of asset.evidence) assert.match(e, /^[\x20-\x7e→]+$/u);
  });
});
