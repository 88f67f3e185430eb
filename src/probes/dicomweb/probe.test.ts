/**
 * The DICOMweb probe end to end (scanService) against the lab's DICOMweb nodes
 * (src/lab/nodes/clinical.ts), started here on a test block of their own (127.216.5.x).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Profile, ServiceRecord } from '../../core/types.js';
import { type ScanConfig, newHostState, scanService } from '../../engine/scan-service.js';
import { CLINICAL_LAB_CANARIES, NODES, dicomwebStudies } from '../../lab/nodes/clinical.js';
import { blockScanConfig } from '../lab-harness.js';
import { DICOMWEB_CAPS } from './parse.js';
import { DICOMWEB_ROOTS, dicomwebProbe } from './probe.js';
import type { DicomwebObservation } from './schema.js';

const PREFIX = '127.216';
const running: Array<{ stop(): Promise<void> }> = [];
const nodes = new Map<string, { ip: string; port: number }>();

async function start(name: string): Promise<void> {
  const n = NODES.find((x) => x.name === name);
  assert.ok(n?.service, `no lab node ${name}`);
  const ip = `${PREFIX}.${n.hostOffset[0]}.${n.hostOffset[1]}`;
  running.push(await n.service(ip, n.port));
  nodes.set(name, { ip, port: n.port });
}

function config(profile: Profile, sent: string[] = []): ScanConfig {
  return blockScanConfig(PREFIX, [dicomwebProbe], { profile, sendLog: (e) => sent.push(e.what) });
}

async function scan(name: string, profile: Profile = 'safe', sent: string[] = []): Promise<ServiceRecord> {
  const at = nodes.get(name);
  assert.ok(at, `${name} not started`);
  return (await scanService({ ip: at.ip }, at.port, config(profile, sent), newHostState())).record;
}

const dwOf = (r: ServiceRecord): DicomwebObservation => {
  const d = r.data.dicomweb as DicomwebObservation | undefined;
  assert.ok(d, `no data.dicomweb in ${JSON.stringify(r).slice(0, 500)}`);
  return dicomwebProbe.resultSchema.parse(d);
};

/** Every patient value the lab's DICOMweb nodes serve: none may reach a record. */
function patientValues(): string[] {
  const out = new Set<string>(Object.values(CLINICAL_LAB_CANARIES.dicomweb));
  for (const s of dicomwebStudies()) {
    out.add(s.patientName);
    out.add(s.patientId);
    out.add(s.accessionNumber);
    out.add(s.studyInstanceUid);
  }
  return [...out];
}

before(async () => {
  for (const name of ['dicomweb-open', 'dicomweb-token', 'dicomweb-hostile-endless']) await start(name);
});

after(async () => {
  await Promise.all(running.map((r) => r.stop()));
});

describe('dicomweb probe', () => {
  test('safe: the dcm4chee root is found after two 404 roots; 204 to a random UID proves it open', async () => {
    const sent: string[] = [];
    const r = await scan('dicomweb-open', 'safe', sent);
    assert.equal(r.status, 'success');
    assert.equal(r.protocol, 'dicomweb');
    const d = dwOf(r);
    assert.equal(d.root, '/dcm4chee-arc/aets/DCM4CHEE/rs');
    assert.deepEqual(d.rootsTried, DICOMWEB_ROOTS.slice(0, 3));
    assert.equal(d.access, 'open');
    assert.equal(d.search?.kind, 'random-uid');
    assert.equal(d.search?.status, 204);
    assert.equal(d.search?.matches, 0);
    assert.equal(d.count, null);
    assert.equal(d.studyCount, null);
    assert.equal(sent.filter((w) => w.startsWith('HTTP GET')).length, 3, sent.join('\n'));
  });

  test('intrusive: the studies are counted (52), attribute keywords kept, no patient value anywhere in the record', async () => {
    const r = await scan('dicomweb-open', 'intrusive');
    const d = dwOf(r);
    assert.equal(d.count?.outcome, 'open');
    assert.equal(d.studyCount, dicomwebStudies().length);
    assert.equal(d.studyCount, 52);
    assert.ok(d.count?.attributes.includes('PatientName'));
    assert.ok(d.count?.attributes.includes('StudyInstanceUID'));
    const text = JSON.stringify(r);
    for (const v of patientValues()) assert.ok(!text.includes(v), `patient value ${v} in the record`);
  });

  test('a token-protected root: protected, Bearer, and the rest of the server does not ask for credentials', async () => {
    for (const profile of ['safe', 'intrusive'] as const) {
      const d = dwOf(await scan('dicomweb-token', profile));
      assert.equal(d.root, '/dicom-web');
      assert.equal(d.access, 'protected');
      assert.equal(d.search?.status, 401);
      assert.equal(d.authScheme, 'Bearer');
      assert.equal(d.authRealm, 'dicomweb');
      assert.equal(d.authEverywhere, false);
      assert.equal(d.count, null);
    }
  });

  test('an endless reply: counted up to the cap, bounded in time, nothing kept', async () => {
    const t0 = Date.now();
    const safe = dwOf(await scan('dicomweb-hostile-endless'));
    assert.equal(safe.access, 'open');
    assert.ok((safe.search?.matches ?? 0) > 0, 'the random UID "matched": the server ignores the key');
    assert.equal(safe.search?.truncated || safe.search?.capped, true);
    const intrusive = dwOf(await scan('dicomweb-hostile-endless', 'intrusive'));
    assert.equal(intrusive.studyCount, DICOMWEB_CAPS.countCap);
    assert.equal(intrusive.count?.capped, true);
    assert.ok(Date.now() - t0 < 10_000, `${Date.now() - t0} ms`);
  });

  test('a port that does not speak HTTP costs one connection; an HTTP server without DICOMweb gets each root once', async () => {
    const ip = `${PREFIX}.5.200`;
    let connections = 0;
    const garbage = net.createServer((s) => {
      connections++;
      s.on('error', () => {});
      s.end(Buffer.from('\x15\x03\x01\x00\x02\x02\x28'));
    });
    await new Promise<void>((res) => garbage.listen(8042, ip, res));
    const paths: string[] = [];
    const ip2 = `${PREFIX}.5.201`;
    const plain = net.createServer((s) => {
      s.on('error', () => {});
      s.once('data', (d: Buffer) => {
        paths.push(d.toString('latin1').split(' ')[1] ?? '');
        s.end('HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 14\r\nConnection: close\r\n\r\n<html></html>\n');
      });
    });
    await new Promise<void>((res) => plain.listen(8042, ip2, res));
    try {
      const sent: string[] = [];
      const out = await scanService({ ip }, 8042, config('safe', sent), newHostState());
      assert.notEqual(out.record.status, 'success');
      assert.equal(connections, 1);
      const out2 = await scanService({ ip: ip2 }, 8042, config('safe'), newHostState());
      assert.equal(out2.record.status, 'protocol-error');
      assert.deepEqual(
        paths.map((p) => p.split('?')[0]),
        DICOMWEB_ROOTS.map((r) => `${r}/studies`),
      );
      assert.ok(paths.every((p) => /\?StudyInstanceUID=2\.25\.\d+$/.test(p)));
    } finally {
      garbage.close();
      plain.close();
    }
  });
});
