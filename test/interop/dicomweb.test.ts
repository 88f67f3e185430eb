/**
 * The DICOMweb probe against a real DICOMweb server: Debian's Orthanc 1.10.1 with the
 * orthanc-dicomweb plugin (root /dicom-web/), started on loopback by peers.ts, with and without
 * HTTP authentication. Describe names start with the peer name (.ci/run counts tests per peer).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ScopeError } from '../../src/core/errors.js';
import type { Profile, ServiceRecord } from '../../src/core/types.js';
import { type ScanConfig, newHostState, scanService } from '../../src/engine/scan-service.js';
import { dicomwebProbe } from '../../src/probes/dicomweb/probe.js';
import type { DicomwebObservation } from '../../src/probes/dicomweb/schema.js';
import { blockScanConfig } from '../../src/probes/lab-harness.js';
import { type Peer, startPeers, stopPeers, syntheticDataset } from './peers.js';

let peers: Peer[] = [];
const data = syntheticDataset();

function peer(name: string): Peer {
  const p = peers.find((x) => x.name === name);
  assert.ok(p, `peer ${name} not started`);
  assert.ok(p.httpPort, `peer ${name} has no HTTP port`);
  return p;
}

function config(profile: Profile): ScanConfig {
  return blockScanConfig('127.0.0', [dicomwebProbe], {
    profile,
    timeouts: { connectMs: 2000, readMs: 5000, sessionMs: 15_000 },
    // The peers' block, without 127.0.0.1.
    guard: (ip) => {
      if (!/^127\.0\.0\.\d+$/.test(ip) || ip === '127.0.0.1') throw new ScopeError(`${ip} outside the interop scope`);
    },
  });
}

async function scan(name: string, profile: Profile): Promise<{ record: ServiceRecord; obs: DicomwebObservation }> {
  const p = peer(name);
  const { record } = await scanService({ ip: p.ip }, p.httpPort!, config(profile), newHostState());
  const raw = record.data.dicomweb;
  assert.ok(raw, `no data.dicomweb: ${JSON.stringify(record).slice(0, 800)}`);
  return { record, obs: dicomwebProbe.resultSchema.parse(raw) };
}

function assertNoPatientNames(record: ServiceRecord): void {
  const text = JSON.stringify(record);
  assert.ok(data.patientNames.length >= 3);
  for (const name of data.patientNames) {
    assert.ok(!text.includes(name), `synthetic patient name ${name} in the record`);
    for (const part of name.split('^')) assert.ok(part === 'TEST' || !text.includes(part), `name part ${part} in the record`);
  }
}

before(async () => {
  peers = await startPeers(['orthanc-open', 'orthanc-aecheck']);
});

after(async () => {
  await stopPeers(peers);
});

describe('orthanc-open: DICOMweb without authentication', () => {
  test('safe: the random-UID QIDO-RS search at /dicom-web answers [] to an unknown caller: open', async () => {
    const { record, obs } = await scan('orthanc-open', 'safe');
    assert.equal(record.status, 'success');
    assert.equal(record.protocol, 'dicomweb');
    assert.equal(obs.root, '/dicom-web');
    assert.deepEqual(obs.rootsTried, ['/dicom-web']);
    assert.equal(obs.access, 'open');
    assert.equal(obs.search?.status, 200);
    assert.equal(obs.search?.contentType, 'application/dicom+json');
    assert.equal(obs.search?.matches, 0);
    assert.equal(obs.count, null);
    assertNoPatientNames(record);
  });

  test('intrusive: the count equals the synthetic study count, attribute keywords only', async () => {
    const p = peer('orthanc-open');
    const { record, obs } = await scan('orthanc-open', 'intrusive');
    assert.equal(obs.access, 'open');
    assert.equal(obs.count?.outcome, 'open');
    assert.equal(obs.studyCount, p.studies);
    assert.equal(obs.studyCount, data.studies);
    assert.equal(obs.count?.capped, false);
    // Orthanc ignores includefield=none and sends patient fields: only their keywords may be kept.
    assert.ok(obs.count?.attributes.includes('PatientName'));
    assert.ok(obs.count?.attributes.includes('StudyInstanceUID'));
    assertNoPatientNames(record);
    assert.ok(!JSON.stringify(record).includes('2.25.31415926535'), 'a synthetic study UID in the record');
  });
});

describe('orthanc-aecheck: DICOMweb behind HTTP Basic authentication', () => {
  test('safe: 401 with the Orthanc realm: protected, the whole server asks for credentials, identified as Orthanc', async () => {
    const { record, obs } = await scan('orthanc-aecheck', 'safe');
    // Every path asks for credentials: the observation is kept, but DICOMweb is not proven.
    assert.equal(record.status, 'application-error');
    assert.equal(obs.root, '/dicom-web');
    assert.equal(obs.access, 'protected');
    assert.equal(obs.search?.status, 401);
    assert.equal(obs.authScheme, 'Basic');
    assert.equal(obs.authRealm, 'Orthanc Secure Area');
    assert.equal(obs.authEverywhere, true);
    assert.equal(record.vendor, 'Orthanc');
    assert.equal(record.product, 'Orthanc');
    assertNoPatientNames(record);
  });

  test('intrusive: still protected, nothing counted', async () => {
    const { record, obs } = await scan('orthanc-aecheck', 'intrusive');
    assert.equal(obs.access, 'protected');
    assert.equal(obs.count, null);
    assert.equal(obs.studyCount, null);
    assertNoPatientNames(record);
  });
});
