/**
 * The http probe against the HTTP side of real Orthanc peers (Debian's Orthanc, started by
 * peers.ts on 127.0.0.21 and 127.0.0.22, HTTP on port 8042), and the asset identity fused from both
 * of Orthanc's services: its DICOM side announces DCMTK (Debian's Orthanc links the system DCMTK),
 * only its HTTP side says Orthanc (PEERS.md).
 * Describe names start with the peer name: .ci/run counts tests per peer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_TIMEOUTS } from '../../src/core/limits.js';
import type { ServiceRecord } from '../../src/core/types.js';
import { type ScanConfig, newHostState, scanHost, scanService } from '../../src/engine/scan-service.js';
import { dicomProbe } from '../../src/probes/dicom/probe.js';
import { httpProbe } from '../../src/probes/http/probe.js';
import type { HttpObservation } from '../../src/probes/http/schema.js';
import { blockScanConfig } from '../../src/probes/lab-harness.js';
import { IpSet, makeScopeGuard } from '../../src/scope/index.js';
import { type Peer, startPeers, stopPeers } from './peers.js';

let peers: Peer[] = [];
const byName = (name: string) => {
  const p = peers.find((x) => x.name === name);
  assert.ok(p, `peer ${name} not started`);
  return p;
};

function config(probes: ScanConfig['probes'], ports: number[]): ScanConfig {
  return blockScanConfig('127.0.0', probes, { ports, timeouts: { ...DEFAULT_TIMEOUTS }, guard: makeScopeGuard({ scope: IpSet.parse(['127.0.0.0/24']) }) });
}

async function httpScan(p: Peer): Promise<{ rec: ServiceRecord; http: HttpObservation }> {
  assert.equal(p.httpPort, 8042);
  const { record } = await scanService({ ip: p.ip }, p.httpPort!, config([httpProbe], [p.httpPort!]), newHostState());
  const http = record.data.http as HttpObservation;
  assert.ok(http, `no data.http in ${JSON.stringify(record)}`);
  assert.ok(httpProbe.resultSchema.safeParse(http).success);
  return { rec: record, http };
}

before(async () => {
  peers = await startPeers(['orthanc-open', 'orthanc-aecheck']);
});
after(async () => {
  await stopPeers(peers);
});

describe('orthanc-open: http probe', () => {
  let rec: ServiceRecord;
  let http: HttpObservation;
  before(async () => {
    ({ rec, http } = await httpScan(byName('orthanc-open')));
  });

  test('follows / to the Orthanc Explorer and reads /system without credentials', () => {
    const p = byName('orthanc-open');
    assert.equal(rec.status, 'success');
    assert.equal(http.status, 200);
    assert.equal(http.location, 'app/explorer.html');
    assert.equal(http.finalPath, '/app/explorer.html');
    assert.equal(http.title, 'Orthanc Explorer');
    assert.equal(http.orthanc?.authRequired, false);
    assert.equal(http.orthanc?.status, 200);
    assert.equal(http.orthanc?.version, p.expected.http?.version);
    assert.equal(p.expected.http?.authRequired, false);
  });

  test('identifies Orthanc with its version, CPE and device type', () => {
    const p = byName('orthanc-open');
    assert.equal(rec.vendor, 'Orthanc');
    assert.equal(rec.product, 'Orthanc');
    assert.equal(rec.version, p.expected.http?.version);
    assert.equal(rec.version, '1.10.1');
    assert.equal(rec.cpe, `cpe:2.3:a:orthanc-server:orthanc:${p.expected.http?.version}:*:*:*:*:*:*:*`);
    assert.equal(rec.deviceType, 'pacs');
  });

  test("hashes Orthanc's favicon as the fingerprint db expects", () => {
    assert.equal(http.favicon?.status, 200);
    assert.equal(http.favicon?.mmh3, '-478834633');
  });
});

describe('orthanc-aecheck: http probe', () => {
  test('sees the realm and that the REST API requires credentials: Orthanc, version unknown without a login', async () => {
    const p = byName('orthanc-aecheck');
    const { rec, http } = await httpScan(p);
    assert.equal(p.expected.http?.authRequired, true);
    assert.equal(rec.status, 'success');
    assert.equal(http.status, 401);
    assert.equal(http.authScheme, 'Basic');
    assert.equal(http.realm, 'Orthanc Secure Area');
    assert.equal(http.orthanc?.authRequired, true);
    assert.equal(http.orthanc?.version, null);
    assert.equal(rec.product, 'Orthanc');
    assert.equal(rec.version, undefined);
    assert.equal(rec.deviceType, 'pacs');
  });
});

describe('orthanc-open: asset identity from DICOM and HTTP', () => {
  test('scanHost over 4242 (DICOM: DCMTK) and 8042 (HTTP: Orthanc) fuses the asset to Orthanc, a PACS', async () => {
    const p = byName('orthanc-open');
    const records = await scanHost({ ip: p.ip }, config([dicomProbe, httpProbe], [p.port, p.httpPort!]));
    const dicom = records.find((r) => r.port === p.port);
    const web = records.find((r) => r.port === p.httpPort);
    assert.ok(dicom && web);
    assert.equal(dicom.protocol, 'dicom');
    assert.equal(dicom.product, 'DCMTK');
    assert.equal(web.protocol, 'http');
    assert.equal(web.product, 'Orthanc');
    for (const r of [dicom, web]) {
      assert.equal(r.asset?.product, 'Orthanc', `asset of port ${r.port}: ${JSON.stringify(r.asset)}`);
      assert.equal(r.asset?.vendor, 'Orthanc');
      assert.equal(r.asset?.deviceType, 'pacs');
    }
    const evidence = web.asset?.evidence.join('\n') ?? '';
    assert.match(evidence, /^dicom:4242 implementationClassUid=.* → DCMTK/m);
    assert.match(evidence, /^http:8042 orthancVersion=1\.10\.1 → Orthanc 1\.10\.1 \(rule orthanc-system-version\)$/m);
  });
});
