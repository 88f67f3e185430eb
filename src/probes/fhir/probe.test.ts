/**
 * The FHIR probe end to end (scanService: probe, fingerprints, checks) against the lab's FHIR
 * nodes (src/lab/nodes/clinical.ts), started here on a test block of their own (127.215.5.x).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Profile, ServiceRecord } from '../../core/types.js';
import { type ScanConfig, newHostState, scanService } from '../../engine/scan-service.js';
import { CLINICAL_LAB_CANARIES, NODES } from '../../lab/nodes/clinical.js';
import { blockScanConfig } from '../lab-harness.js';
import { FHIR_BASES, fhirProbe } from './probe.js';
import type { FhirObservation } from './schema.js';

const PREFIX = '127.215';
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
  return blockScanConfig(PREFIX, [fhirProbe], { profile, sendLog: (e) => sent.push(e.what) });
}

async function scan(name: string, profile: Profile = 'safe', sent: string[] = []): Promise<ServiceRecord> {
  const at = nodes.get(name);
  assert.ok(at, `${name} not started`);
  return (await scanService({ ip: at.ip }, at.port, config(profile, sent), newHostState())).record;
}

const fhirOf = (r: ServiceRecord): FhirObservation => {
  const f = r.data.fhir as FhirObservation | undefined;
  assert.ok(f, `no data.fhir in ${JSON.stringify(r).slice(0, 500)}`);
  return fhirProbe.resultSchema.parse(f);
};

before(async () => {
  for (const name of [
    'fhir-hapi-open',
    'fhir-hapi-dstu2',
    'fhir-microsoft-smart',
    'fhir-medplum',
    'fhir-ibm-basic',
    'fhir-smile-smart',
    'fhir-locked',
    'fhir-leaky',
    'fhir-hostile-endless',
    'fhir-hostile-huge',
    'fhir-hostile-deep',
  ]) {
    await start(name);
  }
});

after(async () => {
  await Promise.all(running.map((r) => r.stop()));
});

describe('fhir probe: open servers', () => {
  test('HAPI FHIR at /fhir: found on the second base, identified, the random-id search proves it open', async () => {
    const sent: string[] = [];
    const r = await scan('fhir-hapi-open', 'safe', sent);
    assert.equal(r.status, 'success');
    assert.equal(r.protocol, 'fhir');
    const f = fhirOf(r);
    assert.equal(f.base, '/fhir');
    assert.deepEqual(f.basesTried, ['/', '/fhir']);
    assert.equal(f.software, 'HAPI FHIR Server/6.4.0');
    assert.equal(f.fhirRelease, 'R4');
    assert.equal(f.resourceTypeCount, 145);
    assert.equal(f.search?.kind, 'random-id');
    assert.equal(f.search?.outcome, 'open');
    assert.equal(f.search?.total, 0);
    assert.equal(f.search?.entries, 0);
    assert.equal(f.access, 'open');
    assert.equal(f.patientCount, null);
    assert.equal(f.smartConfiguration?.present, false);
    assert.equal(r.vendor, 'HAPI FHIR');
    assert.equal(r.product, 'HAPI FHIR');
    assert.equal(r.version, '6.4.0');
    assert.equal(r.deviceType, 'fhir-server');
    // metadata at / and /fhir, smart-configuration, one search: four requests, each its own connection.
    assert.equal(sent.filter((w) => w.startsWith('HTTP GET')).length, 4, sent.join('\n'));
    assert.ok(sent.some((w) => w.startsWith('HTTP GET /fhir/Patient?')), sent.join('\n'));
  });

  test('intrusive: Patient?_summary=count keeps only the total', async () => {
    const sent: string[] = [];
    const f = fhirOf(await scan('fhir-hapi-open', 'intrusive', sent));
    assert.equal(f.search?.kind, 'count');
    assert.equal(f.search?.outcome, 'open');
    assert.equal(f.patientCount, 26);
    assert.ok(sent.some((w) => w.startsWith('HTTP GET /fhir/Patient?')), sent.join('\n'));
  });

  test('DSTU2: a Conformance at the root', async () => {
    const r = await scan('fhir-hapi-dstu2');
    const f = fhirOf(r);
    assert.equal(f.base, '/');
    assert.equal(f.resourceType, 'Conformance');
    assert.equal(f.fhirRelease, 'DSTU2');
    assert.equal(f.access, 'open');
    assert.equal(r.version, '1.6');
  });

  test('a careless server returns records for a random id: they are counted, never kept', async () => {
    for (const profile of ['safe', 'intrusive'] as const) {
      const r = await scan('fhir-leaky', profile);
      const f = fhirOf(r);
      assert.equal(f.base, '/baseR4');
      assert.equal(f.access, 'open');
      if (profile === 'safe') {
        assert.equal(f.search?.entries, 2);
        assert.equal(f.search?.total, 2);
      }
      const text = JSON.stringify(r);
      for (const v of Object.values(CLINICAL_LAB_CANARIES.fhir)) assert.ok(!text.includes(v), `canary ${v} in the record`);
    }
  });
});

describe('fhir probe: protected servers', () => {
  test('Microsoft FHIR Server over TLS with SMART: metadata open, search refused with a Bearer challenge', async () => {
    const r = await scan('fhir-microsoft-smart');
    assert.equal(r.status, 'success');
    assert.ok(r.tls, 'TLS details on the record');
    const f = fhirOf(r);
    assert.equal(f.tls, true);
    assert.equal(f.softwareName, 'Microsoft FHIR Server');
    assert.equal(f.security?.smart, true);
    assert.equal(f.smartConfiguration?.present, true);
    assert.ok(f.smartConfiguration?.capabilities.includes('launch-ehr'));
    assert.equal(f.smart, true);
    assert.equal(f.search?.outcome, 'protected');
    assert.equal(f.search?.authScheme, 'Bearer');
    assert.equal(f.access, 'protected');
    assert.equal(r.vendor, 'Microsoft');
    assert.equal(r.version, '3.5.0.0');
  });

  test('Medplum at /fhir/R4, IBM over TLS on 9443 with Basic, Smile CDR over TLS', async () => {
    const medplum = fhirOf(await scan('fhir-medplum'));
    assert.equal(medplum.base, '/fhir/R4');
    assert.equal(medplum.basesTried.length, FHIR_BASES.indexOf('/fhir/R4') + 1);
    assert.equal(medplum.access, 'protected');
    assert.deepEqual(medplum.security?.services, ['Basic', 'OAuth', 'SMART-on-FHIR']);
    const ibmRecord = await scan('fhir-ibm-basic');
    const ibm = fhirOf(ibmRecord);
    assert.equal(ibm.base, '/fhir-server/api/v4');
    assert.equal(ibm.search?.authScheme, 'Basic');
    assert.equal(ibmRecord.product, 'IBM FHIR Server');
    const smileRecord = await scan('fhir-smile-smart', 'intrusive');
    const smile = fhirOf(smileRecord);
    assert.equal(smile.access, 'protected');
    assert.equal(smile.patientCount, null);
    assert.equal(smileRecord.vendor, 'Smile Digital Health');
  });

  test('a server that hides its CapabilityStatement is still seen as FHIR (401 with fhir+json) and protected', async () => {
    const r = await scan('fhir-locked');
    assert.equal(r.status, 'success');
    const f = fhirOf(r);
    assert.equal(f.base, '/');
    assert.equal(f.access, 'protected');
    assert.equal(f.softwareName, null);
    assert.equal(f.search, null);
  });
});

describe('fhir probe: hostile and foreign services', () => {
  test('an endless resource list: read to the cap, kept as a truncated statement, in bounded time', async () => {
    const t0 = Date.now();
    const r = await scan('fhir-hostile-endless');
    assert.ok(Date.now() - t0 < 8000, `${Date.now() - t0} ms`);
    assert.equal(r.status, 'success');
    const f = fhirOf(r);
    assert.equal(f.truncated, true);
    assert.equal(f.softwareName, 'Endless Lab FHIR');
    assert.deepEqual(f.resourceTypes, ['Observation']);
    assert.ok(f.resourceTypeCount > 1000);
  });

  test('a 50 MB body and a 100,000-deep document end in protocol-error, bounded in time and memory', async () => {
    for (const name of ['fhir-hostile-huge', 'fhir-hostile-deep']) {
      // The lab node streams from this same process: the bound is loose, but 10 unbounded 50 MB bodies would be 500 MB.
      const rss0 = process.memoryUsage().rss;
      const t0 = Date.now();
      const r = await scan(name);
      assert.ok(Date.now() - t0 < 15_000, `${name}: ${Date.now() - t0} ms`);
      assert.equal(r.status, 'protocol-error', name);
      const f = fhirOf(r);
      assert.equal(f.base, null);
      assert.equal(f.basesTried.length, FHIR_BASES.length);
      assert.ok(process.memoryUsage().rss - rss0 < 128 * 1024 * 1024, `${name}: RSS grew by ${process.memoryUsage().rss - rss0}`);
    }
  });

  test('a port that does not speak HTTP costs one connection', async () => {
    const ip = `${PREFIX}.5.200`;
    let connections = 0;
    const srv = net.createServer((s) => {
      connections++;
      s.on('error', () => {});
      s.end(Buffer.from([0x02, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]));
    });
    // A port the probe claims (a port no probe claims would only get the identification chain).
    const port = 3000;
    await new Promise<void>((res) => srv.listen(port, ip, res));
    try {
      const sent: string[] = [];
      const out = await scanService({ ip }, port, config('safe', sent), newHostState());
      assert.notEqual(out.record.status, 'success');
      assert.equal(connections, 1);
      assert.equal(sent.filter((w) => w.startsWith('HTTP')).length, 1);
    } finally {
      srv.close();
    }
  });

  test('an HTTP server that is not FHIR: every base once, no search, protocol-error', async () => {
    const ip = `${PREFIX}.5.201`;
    const paths: string[] = [];
    const srv = net.createServer((s) => {
      s.on('error', () => {});
      s.once('data', (d: Buffer) => {
        paths.push(d.toString('latin1').split(' ')[1] ?? '');
        s.end('HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found');
      });
    });
    // A port the probe claims (a port no probe claims would only get the identification chain).
    const port = 3000;
    await new Promise<void>((res) => srv.listen(port, ip, res));
    try {
      const out = await scanService({ ip }, port, config('safe'), newHostState());
      assert.equal(out.record.status, 'protocol-error');
      assert.deepEqual(paths, FHIR_BASES.map((b) => (b === '/' ? '/metadata' : `${b}/metadata`)));
    } finally {
      srv.close();
    }
  });

  test('a closed port is connection-refused', async () => {
    const out = await scanService({ ip: `${PREFIX}.5.202` }, 8080, config('safe'), newHostState());
    assert.equal(out.record.status, 'connection-refused');
  });

  test('a fragile host gets no search', async () => {
    const at = nodes.get('fhir-hapi-open')!;
    const host = newHostState();
    host.fragile = true;
    const f = fhirOf((await scanService({ ip: at.ip }, at.port, config('intrusive'), host)).record);
    assert.equal(f.search, null);
    assert.equal(f.access, 'unknown');
  });
});
