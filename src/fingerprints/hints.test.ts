/**
 * Hint rules (db files with `precedence: hint`) and the derived fields they and imported packs
 * match on: a device type from DICOM evidence (an AE title that answered, a single-modality
 * vendor's UID root) only when no product rule gave one, with the evidence kept.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fieldsOf, fuseAsset, identify, loadFingerprintDb } from './engine.js';
import { defaultDbDir } from './package-root.js';

const db = loadFingerprintDb(defaultDbDir());
const DCMTK_UID = '1.2.276.0.7230010.3.0.3.6.7';

/** A DICOM observation after the safe profile's AE policy: random title rejected, `accepted` answered. */
function dicomData(accepted: string | null, association: Record<string, unknown> = {}): Record<string, unknown> {
  const attempts: Record<string, unknown>[] = [{ calledAe: 'RND8H2KQ', kind: 'random', outcome: 'rejected' }];
  if (accepted) attempts.push({ calledAe: accepted, kind: 'default', outcome: 'accepted' });
  return {
    dicom: {
      anyAeAccepted: false,
      acceptedCalledAe: accepted,
      attempts,
      association: accepted ? { implementationClassUid: DCMTK_UID, implementationVersionName: 'OFFIS_DCMTK_367', ...association } : null,
    },
  };
}

describe('derived fields', () => {
  test('dicom.answeredAeTitle: only a non-random title that was accepted', () => {
    assert.equal(fieldsOf({ protocol: 'dicom', data: dicomData('ORTHANC') })['dicom.answeredAeTitle'], 'ORTHANC');
    assert.equal(fieldsOf({ protocol: 'dicom', data: dicomData(null) })['dicom.answeredAeTitle'], undefined);
    const anyAe = { dicom: { anyAeAccepted: true, acceptedCalledAe: 'RND8H2KQ', attempts: [{ calledAe: 'RND8H2KQ', kind: 'random', outcome: 'accepted' }] } };
    assert.equal(fieldsOf({ protocol: 'dicom', data: anyAe })['dicom.answeredAeTitle'], undefined, 'any title accepted: the title says nothing');
    const hostile = { dicom: { attempts: [null, 7, { kind: 'default', outcome: 'accepted', calledAe: 42 }] } };
    assert.equal(fieldsOf({ protocol: 'dicom', data: hostile })['dicom.answeredAeTitle'], undefined);
  });

  test('ftp.greeting and http.wwwAuthenticate', () => {
    const f = fieldsOf({ protocol: 'ftp', data: { ftp: { banner: '220-(vsFTPd 3.0.3)\r\n220 second line' } } });
    assert.equal(f['ftp.greeting'], '(vsFTPd 3.0.3)');
    assert.equal(f['ftp.banner'], '220-(vsFTPd 3.0.3)\r\n220 second line');
    const h = fieldsOf({ protocol: 'http', data: { http: { authScheme: 'Basic', realm: 'Orthanc Secure Area' } } });
    assert.equal(h['http.wwwAuthenticate'], 'Basic realm="Orthanc Secure Area"');
    assert.equal(fieldsOf({ protocol: 'http', data: { http: { authScheme: null, realm: null } } })['http.wwwAuthenticate'], undefined);
  });
});

describe('hint rules', () => {
  test('an answered AE title types an otherwise unknown node, and the rule is kept as evidence', () => {
    const id = identify({ 'dicom.answeredAeTitle': 'CONQUESTSRV1' }, db);
    assert.deepEqual(id, { deviceType: 'pacs', rules: ['ae-conquest-default'] });
  });

  test('a toolkit claim is not committal: the hint refines the device type, the toolkit keeps vendor and product', () => {
    const id = identify(fieldsOf({ protocol: 'dicom', data: dicomData('ORTHANC') }), db);
    assert.equal(id.product, 'DCMTK');
    assert.equal(id.deviceType, 'pacs');
    assert.deepEqual(id.rules.at(-1), 'ae-orthanc-default');
  });

  test('a product rule with a committal device type wins: the hint is not applied', () => {
    const id = identify(fieldsOf({ protocol: 'dicom', data: dicomData('ORTHANC', { implementationClassUid: '1.2.840.113619.6.323', implementationVersionName: 'LOGIQE10_1' }) }), db);
    assert.equal(id.deviceType, 'ultrasound');
    assert.ok(!id.rules.includes('ae-orthanc-default'), id.rules.join(','));
  });

  test('a hint never lowers a device type: STORESCP (toolkit) after a PACS claim changes nothing', () => {
    const id = identify({ 'dicom.answeredAeTitle': 'STORESCP', 'dicom.implementationClassUid': DCMTK_UID }, db);
    assert.equal(id.deviceType, 'dicom-toolkit');
    assert.ok(!id.rules.includes('ae-dcmtk-storescp-default'), 'equal rank: not applied');
  });

  test("a single-modality vendor's UID root: ultrasound", () => {
    assert.deepEqual(identify({ 'dicom.implementationClassUid': '1.2.410.200001.101.11.801' }, db), { deviceType: 'ultrasound', rules: ['samsung-medison-uid-root-hint'] });
  });

  test("fused asset: a hint types the asset but does not make the toolkit's name outrank the product seen over HTTP", () => {
    const dicomFields = fieldsOf({ protocol: 'dicom', data: dicomData('ORTHANC') });
    const httpFields = { 'http.title': 'Orthanc Explorer' };
    const asset = fuseAsset(
      [
        { protocol: 'dicom', port: 4242, identification: identify(dicomFields, db), fields: dicomFields },
        { protocol: 'http', port: 8042, identification: identify(httpFields, db), fields: httpFields },
      ],
      db,
    );
    assert.equal(asset.product, 'Orthanc');
    assert.equal(asset.deviceType, 'pacs');
    assert.ok(asset.evidence.includes('dicom:4242 answeredAeTitle=ORTHANC → device type pacs (rule ae-orthanc-default)'), asset.evidence.join('\n'));
  });
});
