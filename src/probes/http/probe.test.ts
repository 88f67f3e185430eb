/**
 * The http probe end to end (scanService: probe, fingerprints, checks) against the lab's web nodes
 * (src/lab/nodes/web.ts), started here on their own block 127.224.0.0/16 at the lab offsets.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ScopeError } from '../../core/errors.js';
import type { ServiceRecord } from '../../core/types.js';
import { type ScanConfig, newHostState, scanService } from '../../engine/scan-service.js';
import { compareWithTruth } from '../../lab/ground-truth.js';
import { NODES, WEB_LAB_CANARIES } from '../../lab/nodes/web.js';
import { httpProbe } from './probe.js';
import type { HttpObservation } from './schema.js';

const BLOCK = '127.224';
const running: { stop(): Promise<void> }[] = [];
const ipOf = (name: string) => {
  const n = NODES.find((x) => x.name === name);
  assert.ok(n, name);
  return { ip: `${BLOCK}.${n.hostOffset[0]}.${n.hostOffset[1]}`, port: n.port, node: n };
};

before(async () => {
  for (const n of NODES) running.push(await n.service!(`${BLOCK}.${n.hostOffset[0]}.${n.hostOffset[1]}`, n.port));
});
after(async () => {
  await Promise.all(running.map((r) => r.stop()));
});

interface Sent {
  ip: string;
  port: number;
  what: string;
}

function config(over: Partial<ScanConfig> = {}, sent: Sent[] = []): ScanConfig {
  return {
    probes: [httpProbe],
    ports: [],
    profile: 'safe',
    timeouts: { connectMs: 1000, readMs: 1000, sessionMs: 3000 },
    retries: 0,
    guard: () => {},
    rate: null,
    hostConcurrency: 1,
    hostDelayMs: 0,
    dicomTls: false,
    probeOptions: {},
    sendLog: (e) => sent.push(e),
    signal: new AbortController().signal,
    ...over,
  };
}

async function scan(name: string, over: Partial<ScanConfig> = {}, sent: Sent[] = []): Promise<{ rec: ServiceRecord; http: HttpObservation; ms: number }> {
  const { ip, port } = ipOf(name);
  const t0 = Date.now();
  const { record } = await scanService({ ip }, port, config(over, sent), newHostState());
  const http = record.data.http as HttpObservation;
  if (http) assert.ok(httpProbe.resultSchema.safeParse(http).success, 'observation matches the schema');
  return { rec: record, http, ms: Date.now() - t0 };
}

describe('http probe on the lab web nodes', () => {
  test('web-orthanc: explorer redirect, title, favicon, /system read without credentials -> Orthanc 1.10.1 (pacs)', async () => {
    const sent: Sent[] = [];
    const { rec, http } = await scan('web-orthanc', {}, sent);
    assert.equal(rec.status, 'success');
    assert.equal(rec.protocol, 'http');
    assert.equal(http.location, 'app/explorer.html');
    assert.deepEqual(http.redirects, [{ status: 301, location: 'app/explorer.html' }]);
    assert.equal(http.finalPath, '/app/explorer.html');
    assert.equal(http.title, 'Orthanc Explorer');
    assert.equal(http.favicon?.mmh3, '-478834633');
    assert.equal(http.favicon?.md5, '6e028d7cc65a1430c68a581f8064e8e2');
    assert.deepEqual(http.orthanc, { authRequired: false, status: 200, version: '1.10.1', apiVersion: 16, name: 'lab-orthanc' });
    assert.equal(rec.vendor, 'Orthanc');
    assert.equal(rec.product, 'Orthanc');
    assert.equal(rec.version, '1.10.1');
    assert.equal(rec.cpe, 'cpe:2.3:a:orthanc-server:orthanc:1.10.1:*:*:*:*:*:*:*');
    assert.equal(rec.deviceType, 'pacs');
    assert.deepEqual(
      sent.map((s) => s.what),
      ['HTTP GET /', 'HTTP GET /app/explorer.html', 'HTTP GET /favicon.ico', 'HTTP GET /app/images/favicon.ico', 'HTTP GET /system'],
    );
  });

  test('web-orthanc-secure: realm and a protected /system -> Orthanc without version, auth required', async () => {
    const { rec, http } = await scan('web-orthanc-secure');
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

  test('web-openemr: login form, title, server, cookie names -> OpenEMR (ehr)', async () => {
    const { rec, http } = await scan('web-openemr');
    assert.equal(http.location, 'interface/login/login.php');
    assert.equal(http.loginForm, true);
    assert.equal(http.title, 'OpenEMR Login');
    assert.equal(http.server, 'Apache/2.4.62 (Debian)');
    assert.deepEqual(http.cookieNames, ['OpenEMR']);
    assert.match(http.marks, /input:authuser .*input:clearpass/);
    assert.equal(rec.vendor, 'OpenEMR');
    assert.equal(rec.deviceType, 'ehr');
  });

  test('web-mirth: HTTPS on 8443 with a self-signed certificate, ALPN h2 -> Mirth Connect (interface-engine)', async () => {
    const { rec, http } = await scan('web-mirth');
    assert.equal(http.scheme, 'https');
    assert.equal(http.schemeFallback, false);
    assert.equal(http.title, 'Mirth Connect Administrator');
    assert.equal(http.http2, true);
    assert.equal(http.alpn, 'h2');
    assert.ok(rec.tls?.certificate);
    assert.equal(rec.tls.certificate.selfSigned, true);
    assert.match(rec.tls.certificate.subject, /web-tls\.lab\.medsurface\.test/);
    assert.equal(rec.vendor, 'NextGen Healthcare');
    assert.equal(rec.product, 'Mirth Connect');
    assert.equal(rec.deviceType, 'interface-engine');
  });

  test('web-openmrs: plain HTTP on 8443 is found by falling back from TLS', async () => {
    const { rec, http } = await scan('web-openmrs');
    assert.equal(http.scheme, 'http');
    assert.equal(http.schemeFallback, true);
    assert.equal(http.title, 'OpenMRS');
    assert.equal(rec.vendor, 'OpenMRS');
    assert.equal(rec.tls, undefined);
  });

  test('web-dcm4chee-tls: HTTPS on 9090 is found by falling back from plain HTTP (TLS alert)', async () => {
    const { rec, http } = await scan('web-dcm4chee-tls');
    assert.equal(http.scheme, 'https');
    assert.equal(http.schemeFallback, true);
    assert.equal(http.title, 'Dcm4cheeArcUi2');
    assert.equal(rec.product, 'dcm4chee-arc');
    assert.ok(rec.tls);
  });

  test('every lab web node meets its ground truth (lab/ground-truth compareWithTruth)', async () => {
    const records: ServiceRecord[] = [];
    const infos = NODES.map((n) => {
      const { ip, port } = ipOf(n.name);
      return { name: n.name, ip, port, kind: n.kind, role: n.role, description: n.description, tls: Boolean(n.serviceTls), expected: { ...n.expected } };
    });
    for (const n of NODES) records.push((await scan(n.name)).rec);
    const { checked, differences } = compareWithTruth(infos, records);
    assert.deepEqual(differences, []);
    assert.ok(checked >= NODES.length * 2, `checked ${checked}`);
  });

  test('web-viewer-leaky: the title of a data view is withheld, and no canary reaches the record or the send log', async () => {
    const sent: Sent[] = [];
    const { rec, http } = await scan('web-viewer-leaky', {}, sent);
    assert.equal(rec.status, 'success');
    assert.equal(http.title, null);
    assert.equal(http.titleWithheld, true);
    assert.equal(http.location, '/viewer/study');
    const text = `${JSON.stringify(rec)}\n${JSON.stringify(sent)}`.toLowerCase();
    for (const v of Object.values(WEB_LAB_CANARIES)) {
      for (const form of [v, v.replace('^', ' '), Buffer.from(v).toString('hex'), Buffer.from(v).toString('base64')]) {
        assert.ok(!text.includes(form.toLowerCase()), `canary ${v} leaked as ${form}`);
      }
      for (const part of v.split(/[\^, ]+/).filter((p) => p.length > 4)) assert.ok(!text.includes(part.toLowerCase()), `canary part ${part} leaked`);
    }
  });

  test('a fragile host gets the page request only (no favicon, no /system, no ALPN handshake)', async () => {
    const { ip, port } = ipOf('web-orthanc');
    const sent: Sent[] = [];
    const host = newHostState();
    host.fragile = true;
    const { record } = await scanService({ ip }, port, config({}, sent), host);
    assert.equal(record.status, 'success');
    assert.deepEqual(
      sent.map((s) => s.what),
      ['HTTP GET /', 'HTTP GET /app/explorer.html'],
    );
  });

  test('a target outside the scope is refused before any connection', async () => {
    const { ip, port } = ipOf('web-orthanc');
    const sent: Sent[] = [];
    await assert.rejects(
      scanService({ ip }, port, config({ guard: () => { throw new ScopeError('outside'); } }, sent), newHostState()),
      ScopeError,
    );
  });
});

describe('http probe on hostile web peers: bounded time and memory, recorded as errors', () => {
  let heap0 = 0;
  before(() => {
    globalThis.gc?.();
    heap0 = process.memoryUsage().heapUsed;
  });

  test('endless body: 64 KiB kept, the connection dropped, success with a truncated body', async () => {
    const { rec, http, ms } = await scan('web-endless-body');
    assert.equal(rec.status, 'success');
    assert.equal(http.body.truncated, true);
    assert.ok(http.body.bytes >= 64 * 1024 && http.body.bytes < 1024 * 1024, `read ${http.body.bytes}`);
    assert.ok(ms < 3000, `${ms} ms`);
  });

  test('1 MB header: protocol-error, no observation', async () => {
    const { rec, ms } = await scan('web-huge-header');
    assert.equal(rec.status, 'protocol-error');
    assert.match(rec.error ?? '', /header/i);
    assert.ok(ms < 3000, `${ms} ms`);
  });

  test('redirect loop: application-error (as zgrab2), the observation kept with the loop recorded', async () => {
    const { rec, http, ms } = await scan('web-redirect-loop');
    assert.equal(rec.status, 'application-error');
    assert.equal(http.redirectStop, 'loop');
    assert.equal(http.status, 302);
    assert.match(rec.error ?? '', /redirect loop/);
    assert.ok(ms < 3000, `${ms} ms`);
  });

  test('slow drip: io-timeout within the read timeout', async () => {
    const { rec, ms } = await scan('web-slow-drip');
    assert.equal(rec.status, 'io-timeout');
    assert.ok(ms < 2500, `${ms} ms`);
  });

  test('TLS garbage: tls-error (and the plain fallback does not hide it)', async () => {
    const { rec, ms } = await scan('web-tls-garbage');
    assert.equal(rec.status, 'tls-error');
    assert.ok(ms < 3000, `${ms} ms`);
  });

  test('memory stays bounded across the hostile peers', () => {
    globalThis.gc?.();
    const growth = process.memoryUsage().heapUsed - heap0;
    assert.ok(growth < 64 * 1024 * 1024, `heap grew by ${growth} bytes`);
  });
});
