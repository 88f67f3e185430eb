/**
 * The API on PostgreSQL: the server's tables migrate, two server instances on one database share
 * sessions (a login on one works on the other, a logout on one ends it on both), organisation
 * scoping and triage work as on SQLite, and a distributed run's detail carries its shard figures
 * from dist_shards (issue 8: distributed progress in the API). Needs the local test server
 * (MEDSURFACE_TEST_PG): fails, never skips, without it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { ensureShardTable, initShards, shardDb } from '../distributed/shard-store.js';
import { openKyselyInventory } from '../inventory/db.js';
import type { KyselyInventory } from '../inventory/kysely-store.js';
import { createTestDatabase } from '../inventory/test-pg.js';
import { addUser, as, login, ORG_A, SEED, seedInventory, type TestServer, testServer } from './test-support.js';

describe('the API on PostgreSQL', () => {
  let drop: () => Promise<void>;
  let url: string;
  let inv1: KyselyInventory;
  let inv2: KyselyInventory;
  let a: TestServer;
  let b: TestServer;
  let findingA = 0;
  before(async () => {
    ({ url, drop } = await createTestDatabase('medsurface_api'));
    inv1 = await openKyselyInventory(url);
    inv2 = await openKyselyInventory(url);
    a = await testServer({ inventory: inv1, dbLocation: url, loginRateMax: 1000 });
    b = await testServer({ inventory: inv2, dbLocation: url, loginRateMax: 1000 });
    ({ findingA } = await seedInventory(inv1));
    await addUser(a, 'admin', 'admin');
    await addUser(a, 'alpha', 'analyst', { orgs: [ORG_A] });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await inv1?.close();
    await inv2?.close();
    await drop?.();
  });

  test('two instances share sessions, and a logout ends it on both', async () => {
    const c = await login(a, 'admin');
    const me = await b.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: as(c) });
    assert.equal(me.statusCode, 200, me.body);
    assert.equal(me.json().user.username, 'admin');
    const out = await b.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: as(c) });
    assert.equal(out.statusCode, 204);
    assert.equal((await a.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: as(c) })).statusCode, 401);
  });

  test('reads, scoping, triage and the audit log', async () => {
    const admin = as(await login(a, 'admin'));
    const alpha = as(await login(b, 'alpha'));
    const summary = (await a.app.inject({ method: 'GET', url: '/api/v1/summary', headers: admin })).json() as { assets: number; openFindings: number };
    assert.deepEqual([summary.assets, summary.openFindings], [3, 2]);
    const scoped = (await b.app.inject({ method: 'GET', url: '/api/v1/assets', headers: alpha })).json() as { rows: { ip: string }[] };
    assert.deepEqual(scoped.rows.map((r) => r.ip), [SEED.a]);
    assert.equal((await b.app.inject({ method: 'GET', url: `/api/v1/assets/${SEED.b}`, headers: alpha })).statusCode, 404);
    const trend = (await a.app.inject({ method: 'GET', url: '/api/v1/trend?days=2', headers: admin })).json() as { points: { open: number }[] };
    assert.equal(trend.points.at(-1)?.open, 2);
    const patch = await b.app.inject({ method: 'PATCH', url: `/api/v1/findings/${findingA}`, headers: alpha, payload: { userState: 'false-positive', note: 'lab device' } });
    assert.equal(patch.statusCode, 200, patch.body);
    const meta = await b.app.inject({ method: 'PATCH', url: `/api/v1/assets/${SEED.a}`, headers: alpha, payload: { tags: ['radiology', 'Site-1'], criticality: 'high' } });
    assert.equal(meta.statusCode, 200, meta.body);
    assert.deepEqual(meta.json().metadata.tags, ['radiology', 'site-1']);
    const audit = (await a.app.inject({ method: 'GET', url: '/api/v1/audit?action=finding-state', headers: admin })).json() as { rows: { username: string; detail: { from: unknown; to: unknown } }[] };
    assert.equal(audit.rows[0]?.username, 'alpha');
    assert.deepEqual(audit.rows[0]?.detail, { from: null, to: 'false-positive', note: 'lab device' });
    const exp = await a.app.inject({ method: 'GET', url: '/api/v1/export?format=csv', headers: admin });
    assert.equal(exp.statusCode, 200);
    assert.ok(exp.body.includes(SEED.b));
  });

  test('a distributed run shows its shards', async () => {
    await inv1.createRun({ id: 'r-dist', profile: 'safe', targets: ['127.217.202.0/24'], options: { distributed: { shards: 4 } }, totalTargets: 256 });
    const db = shardDb(inv1.db);
    await ensureShardTable(db);
    await initShards(db, 'r-dist', 4, 256);
    await db.updateTable('dist_shards').set({ state: 'done' }).where('run_id', '=', 'r-dist').where('shard', '=', 0).execute();
    await db.updateTable('dist_shards').set({ state: 'failed' }).where('run_id', '=', 'r-dist').where('shard', '=', 1).execute();
    await db.updateTable('dist_shards').set({ state: 'running', lease_until: sql<Date>`now() + interval '1 minute'` }).where('run_id', '=', 'r-dist').where('shard', '=', 2).execute();
    await db.updateTable('dist_shards').set({ state: 'running', lease_until: sql<Date>`now() - interval '1 minute'` }).where('run_id', '=', 'r-dist').where('shard', '=', 3).execute();
    const admin = as(await login(a, 'admin'));
    const res = await a.app.inject({ method: 'GET', url: '/api/v1/scans/r-dist', headers: admin });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as { run: { distributed: boolean }; progress: { shards: Record<string, number> } };
    assert.equal(body.run.distributed, true);
    assert.deepEqual(body.progress.shards, { total: 4, done: 1, running: 2, failed: 1, stalled: 1 });
  });
});
