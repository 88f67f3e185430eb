/**
 * The API over a really scanned lab (block 127.217.0.0/16):
 * - the whole lab is scanned with the intrusive profile (record counts cross the wire, the
 *   synthetic patient names and ids among them), then every read route is called and no
 *   patient identifier of the lab's fixtures appears in any answer, in any encoding;
 * - a scan launched through the API (a child process running the real CLI) finishes, is
 *   followed over Server-Sent Events, and shows completed;
 * - cancelling a scan stuck on a tarpit ends it interrupted.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { packageRoot } from '../core/paths.js';
import { FACET_FIELDS } from '../inventory/search/index.js';
import { type RunningLab, startLab } from '../lab/index.js';
import { labPatientCanaries } from '../lab/canaries.js';
import { addUser, as, type Client, login, type TestServer, testServer } from './test-support.js';

const BLOCK = '127.217.0.0/16';
const ENTRY = path.join(packageRoot(), 'src/server/scan-entry.ts');
const SCAN_COMMAND = [process.execPath, '--import', 'tsx', ENTRY];
/** Timeouts of the lab scans: short connects, reads long enough for a tarpit to hold a scan. */
const FAST = ['--connect-timeout', '1000', '--read-timeout', '2000', '--session-timeout', '8000', '--host-delay', '0', '--retries', '0'];

let lab: RunningLab;
let t: TestServer;
let admin: Client;
let analyst: Client;

/** Every synthetic patient value the lab can leak, from both record sets. */
const canaries = (): string[] => labPatientCanaries(['standard', 'large']);

function encodings(v: string): string[] {
  const raw = Buffer.from(v, 'utf8');
  return [v, raw.toString('hex'), raw.toString('hex').toUpperCase(), raw.toString('base64').replace(/=+$/, ''), JSON.stringify(v).slice(1, -1)];
}

function cliScan(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', ENTRY, 'scan', ...args], { env: { ...process.env, MEDSURFACE_STOP_DIR: path.join(t.dir, 'stop') }, timeout: 240_000, maxBuffer: 64 << 20 }, (err, _out, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
    );
  });
}

async function waitFor<T>(what: string, fn: () => Promise<T | null>, ms = 120_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== null) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function runState(id: string): Promise<string> {
  const res = await t.app.inject({ method: 'GET', url: `/api/v1/scans/${id}`, headers: as(admin) });
  assert.equal(res.statusCode, 200, res.body);
  return (res.json() as { run: { state: string } }).run.state;
}

describe('the API over a scanned lab', () => {
  before(async () => {
    lab = await startLab({ block: BLOCK, quiet: true });
    t = await testServer({ scanCommand: SCAN_COMMAND, scanScope: BLOCK, scanExtraArgs: FAST, ssePollMs: 200, loginRateMax: 1000, maxScans: 2 });
    await addUser(t, 'admin', 'admin', { canIntrusive: true });
    await addUser(t, 'analyst', 'analyst', { canIntrusive: true });
    admin = await login(t, 'admin');
    analyst = await login(t, 'analyst');
    const ports = [...new Set(lab.nodes.map((n) => n.port))].join(',');
    const hosts = [...new Set(lab.nodes.filter((n) => n.kind !== 'tarpit').map((n) => n.ip))];
    const r = await cliScan([...hosts, '--ports', ports, '--profile', 'intrusive', '--db', t.dbFile, '--scope', BLOCK, '--quiet', '--json', ...FAST]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await t?.close();
    await lab?.stop();
  });

  test('no patient identifier of the lab reaches any API answer', async () => {
    const bodies: Record<string, string> = {};
    const get = async (url: string, who: Client = admin) => {
      const res = await t.app.inject({ method: 'GET', url, headers: as(who) });
      assert.equal(res.statusCode, 200, `${url}: ${res.body.slice(0, 300)}`);
      bodies[url] = res.body;
      return res;
    };
    const summary = (await get('/api/v1/summary')).json() as { services: number; recordsReachable: number };
    assert.ok(summary.services > 40, `${summary.services} services in the inventory`);
    assert.ok(summary.recordsReachable > 0, 'record counts were taken (identifiers crossed the wire)');
    await get('/api/v1/trend?days=30');
    await get('/api/v1/assets/top?limit=100');
    await get('/api/v1/auth/me');
    const services = (await get('/api/v1/services?limit=1000&sort=risk&order=desc')).json() as { rows: unknown[] };
    assert.ok(services.rows.length > 40);
    await get('/api/v1/services?limit=1000&q=honeypot:*');
    const assets = (await get('/api/v1/assets?limit=1000&q=honeypot:*')).json() as { rows: { ip: string }[] };
    for (const f of FACET_FIELDS) await get(`/api/v1/facets?field=${f}&size=100&q=honeypot:*`);
    for (const a of assets.rows) await get(`/api/v1/assets/${a.ip}`);
    await get('/api/v1/findings?limit=1000');
    const scans = (await get('/api/v1/scans')).json() as { rows: { id: string }[] };
    for (const s of scans.rows) await get(`/api/v1/scans/${s.id}`);
    await get('/api/v1/monitor/jobs');
    for (const format of ['csv', 'jsonl', 'json']) {
      for (const rows of ['services', 'findings']) await get(`/api/v1/export?format=${format}&rows=${rows}&q=honeypot:*`, analyst);
    }
    await get('/api/v1/audit?limit=1000');
    await get('/api/v1/users');
    await get('/api/v1/tokens');
    const all = Object.entries(bodies);
    assert.ok(all.length > 60, `${all.length} answers read`);
    assert.ok(all.some(([, b]) => b.includes('dicom-records-reachable') || b.includes('fhir-open')), 'the answers do describe the exposure');
    const values = canaries();
    assert.ok(values.length > 300, `${values.length} canaries`);
    const leaks: string[] = [];
    for (const v of values) for (const needle of encodings(v)) for (const [url, body] of all) if (body.includes(needle)) leaks.push(`${v} (${needle}) in ${url}`);
    assert.deepEqual(leaks.slice(0, 20), []);
  });

  test('a scan launched through the API finishes, followed live over SSE', async () => {
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (t.app.server.address() as AddressInfo).port;
    let events = '';
    const stream = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/api/v1/events', headers: { cookie: `ms_session=${admin.cookie}` } }, resolve);
      req.on('error', reject);
    });
    assert.equal(stream.statusCode, 200);
    assert.match(String(stream.headers['content-type']), /text\/event-stream/);
    stream.setEncoding('utf8');
    stream.on('data', (c: string) => {
      events += c;
    });
    const pacs = lab.nodes.find((n) => n.name === 'pacs-open')!;
    const web = lab.nodes.find((n) => n.name === 'web-orthanc')!;
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/scans',
      headers: as(analyst),
      payload: { targets: [pacs.ip, web.ip], profile: 'safe', ports: `${pacs.port},${web.port}` },
    });
    assert.equal(res.statusCode, 202, res.body);
    const { id } = res.json() as { id: string };
    assert.match(id, /^r-/);
    await waitFor('the launched scan to complete', async () => ((await runState(id)) === 'completed' ? true : null));
    const detail = (await t.app.inject({ method: 'GET', url: `/api/v1/scans/${id}`, headers: as(admin) })).json() as {
      run: { targets: string[]; doneTargets: number; totalTargets: number; launchedBy: string };
      progress: { state: string; done: number; total: number };
      error: string | null;
    };
    assert.equal(detail.progress.state, 'completed');
    assert.equal(detail.progress.done, 2);
    assert.equal(detail.progress.total, 2);
    assert.equal(detail.run.launchedBy, 'analyst');
    assert.equal(detail.error, null);
    await waitFor('the scan-finished event', async () => (events.includes(`"id":"${id}","state":"completed"`) && events.includes('event: scan-finished') ? true : null), 10_000);
    assert.match(events, new RegExp(`event: scan-progress\\ndata: \\{"id":"${id}"`));
    const list = (await t.app.inject({ method: 'GET', url: '/api/v1/scans?limit=5', headers: as(admin) })).json() as { rows: { id: string }[] };
    assert.equal(list.rows[0]?.id, id, 'newest first');
    const audit = await t.inv.db.selectFrom('audit_log').selectAll().where('action', '=', 'scan-launch').execute();
    assert.equal(audit.length, 1);
    assert.equal(audit[0]!.username, 'analyst');
    // Server close ends the event stream.
    const ended = new Promise<void>((resolve) => stream.on('end', () => resolve()));
    await t.app.close();
    await ended;
    assert.ok(!events.includes('TEST^'), 'no patient value in the events');
  });

  test('cancelling a scan held by a tarpit ends it interrupted', async () => {
    // The previous test closed the listening server; the same inventory gets a fresh one.
    const tarpit = lab.nodes.find((n) => n.name === 'tarpit-104')!;
    const t2 = await testServer({
      inventory: t.inv,
      dbLocation: t.dbFile,
      scanCommand: SCAN_COMMAND,
      scanScope: BLOCK,
      scanExtraArgs: ['--connect-timeout', '60000', '--read-timeout', '60000', '--session-timeout', '120000', '--retries', '0'],
      loginRateMax: 1000,
    });
    try {
      const c = as(await login(t2, 'analyst'));
      const res = await t2.app.inject({ method: 'POST', url: '/api/v1/scans', headers: c, payload: { targets: [tarpit.ip], ports: String(tarpit.port) } });
      assert.equal(res.statusCode, 202, res.body);
      const { id } = res.json() as { id: string };
      const state = async () => ((await t2.app.inject({ method: 'GET', url: `/api/v1/scans/${id}`, headers: c })).json() as { run: { state: string } }).run.state;
      await waitFor('the tarpit scan to be running', async () => ((await state()) === 'running' ? true : null), 60_000);
      const cancel = await t2.app.inject({ method: 'POST', url: `/api/v1/scans/${id}/cancel`, headers: c });
      assert.equal(cancel.statusCode, 202, cancel.body);
      assert.equal(cancel.json().state, 'cancelling');
      const final = await waitFor('the cancelled scan to end', async () => {
        const s = await state();
        return s === 'running' || s === 'starting' ? null : s;
      }, 30_000);
      assert.equal(final, 'interrupted');
      const again = await t2.app.inject({ method: 'POST', url: `/api/v1/scans/${id}/cancel`, headers: c });
      assert.equal(again.statusCode, 409, 'an ended scan cannot be cancelled');
      const run = await t.inv.getRun(id);
      assert.equal(run?.state, 'interrupted', 'the scan itself recorded the interruption');
    } finally {
      await t2.close();
    }
  });
});
