/**
 * Server-Sent Events: heartbeats, service changes as they are written (filtered by the user's
 * organisations), run progress, the bound on clients, and a clean end when the server closes.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { addUser, type Client, login, ORG_A, SEED, seedInventory, type TestServer, testServer } from './test-support.js';

interface Stream {
  res: http.IncomingMessage;
  text: () => string;
  ended: Promise<void>;
}

function open(port: number, c: Client): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/api/v1/events', headers: { cookie: `ms_session=${c.cookie}` } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        text += d;
      });
      const ended = new Promise<void>((r) => res.on('end', () => r()));
      resolve({ res, text: () => text, ended });
    });
    req.on('error', reject);
  });
}

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('live events', () => {
  let t: TestServer;
  let port = 0;
  let admin: Client;
  let alpha: Client;
  before(async () => {
    t = await testServer({ ssePollMs: 100, sseHeartbeatMs: 300, sseMaxClients: 3, loginRateMax: 1000 });
    await seedInventory(t.inv);
    await addUser(t, 'admin', 'admin');
    await addUser(t, 'alpha', 'viewer', { orgs: [ORG_A] });
    admin = await login(t, 'admin');
    alpha = await login(t, 'alpha');
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    port = (t.app.server.address() as AddressInfo).port;
  });
  after(async () => {
    await t?.close();
  });

  test('anonymous callers get 401, not a stream', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/events' });
    assert.equal(res.statusCode, 401);
  });

  test('heartbeats, service events filtered by organisation, run progress', async () => {
    const a = await open(port, admin);
    const s = await open(port, alpha);
    try {
    assert.equal(a.res.statusCode, 200);
    assert.equal(a.res.headers['cache-control'], 'no-store');
    await until('a heartbeat', () => a.text().includes(': ping'));
    // Let the poller take its starting position, then change both organisations' services.
    await new Promise((r) => setTimeout(r, 300));
    const at = new Date().toISOString();
    await t.inv.createRun({ id: 'r-live', profile: 'safe', targets: ['127.217.200.0/24'], options: {}, totalTargets: 2 });
    await until('scan progress', () => a.text().includes('"id":"r-live","state":"running"'));
    await t.inv.saveCheckpoint('r-live', null, 1, {});
    await until('progress', () => a.text().includes('"id":"r-live","state":"running","total":2,"done":1}'));
    await t.inv.recordServices('r-live', [
      { ip: SEED.a, port: 104, protocol: 'dicom', status: 'success', timestamp: at, product: 'Orthanc', version: '1.12.1', vendor: 'Orthanc', deviceType: 'pacs', findings: [], data: {} },
      { ip: SEED.b, port: 11112, protocol: 'dicom', status: 'success', timestamp: at, product: 'DCMTK', version: '3.6.7', vendor: 'OFFIS', deviceType: 'pacs', findings: [], data: {} },
    ]);
    await t.inv.saveCheckpoint('r-live', null, 2, {});
    await t.inv.finishRun('r-live', 'completed', { stats: {} });
    await until('both service events', () => a.text().includes(`"ip":"${SEED.b}"`) && a.text().includes(`"ip":"${SEED.a}"`));
    await until('the run to finish', () => a.text().includes('event: scan-finished\ndata: {"id":"r-live","state":"completed"}'));
    await until('the scoped client\'s event', () => s.text().includes(`"ip":"${SEED.a}"`));
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!s.text().includes(SEED.b), 'an organisation-scoped user never hears of another organisation');
    assert.ok(!s.text().includes('event: scan-'), 'nor of runs it did not launch');
    const ev = a.text().split('\n\n').find((e) => e.startsWith('event: service-event') && e.includes(SEED.a))!;
    const data = JSON.parse(ev.split('\ndata: ')[1]!) as { field: string; newValue: string; port: number };
    assert.equal(data.port, 104);
    assert.equal(data.field, 'version');
    assert.equal(data.newValue, '1.12.1');
    } finally {
      a.res.destroy();
      s.res.destroy();
    }
  });

  test('a run that starts and ends between two polls is still reported, once', async () => {
    const a = await open(port, admin);
    try {
      await until('a heartbeat', () => a.text().includes(': ping'));
      await new Promise((r) => setTimeout(r, 300));
      // Both writes land well within one poll interval (100 ms): the poller never sees it running.
      await t.inv.createRun({ id: 'r-quick', profile: 'safe', targets: ['127.217.201.0/24'], options: {}, totalTargets: 1 });
      await t.inv.finishRun('r-quick', 'completed', { stats: {} });
      await until('the quick run to be reported', () => a.text().includes('event: scan-finished\ndata: {"id":"r-quick","state":"completed"}'));
      // The look-back window sees it for several more polls: it is not reported again.
      await new Promise((r) => setTimeout(r, 600));
      assert.equal(a.text().split('event: scan-finished\ndata: {"id":"r-quick"').length - 1, 1);
      assert.equal(a.text().split('"id":"r-quick","state":"completed","total":1').length - 1, 1);
    } finally {
      a.res.destroy();
    }
  });

  test('at most maxClients streams; server close ends the others', async () => {
    // The streams of the previous test are gone once the server saw their sockets close.
    const openWhenFree = async (): Promise<Stream> => {
      for (let i = 0; i < 100; i++) {
        const st = await open(port, admin);
        if (st.res.statusCode === 200) return st;
        st.res.resume();
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error('no free stream');
    };
    const streams = [await openWhenFree(), await openWhenFree(), await openWhenFree()];
    const fourth = await t.app.inject({ method: 'GET', url: '/api/v1/events', headers: { cookie: `ms_session=${admin.cookie}` } });
    assert.equal(fourth.statusCode, 503);
    assert.equal(fourth.json().error, 'too-many-clients');
    const started = Date.now();
    await t.app.close();
    await Promise.all(streams.map((st) => st.ended));
    assert.ok(Date.now() - started < 5000, 'closing does not wait on the streams');
  });
});
