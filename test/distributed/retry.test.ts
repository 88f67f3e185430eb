/**
 * PostgreSQL briefly unavailable: results are retried, not dropped. The test database is
 * reached through a TCP relay on loopback that the test cuts (every connection reset, new ones
 * refused) and restores, the way a database restart looks from a worker. A connection reset
 * under a running query must fail that query, not the process (pg.ts).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { ServiceRecord } from '../../src/core/types.js';
import type { KyselyInventory } from '../../src/inventory/index.js';
import { TEST_PG_ADMIN_URL, createTestDatabase } from '../../src/inventory/test-pg.js';
import { openPgInventory } from '../../src/distributed/pg.js';
import { isTransient, withRetry } from '../../src/distributed/retry.js';
import { freePort } from '../../src/distributed/test-support.js';

const RELAY_HOST = '127.0.0.217';

/** A relay from RELAY_HOST:port to the PostgreSQL server that can be cut and restored. */
async function startRelay(to: { host: string; port: number }) {
  const port = await freePort(RELAY_HOST);
  const sockets = new Set<net.Socket>();
  let server: net.Server | null = null;
  const up = () =>
    new Promise<void>((resolve, reject) => {
      const s = net.createServer((client) => {
        const upstream = net.connect(to.port, to.host);
        for (const x of [client, upstream]) {
          sockets.add(x);
          x.on('close', () => sockets.delete(x));
          x.on('error', () => {});
        }
        client.pipe(upstream).pipe(client);
      });
      s.once('error', reject);
      s.listen(port, RELAY_HOST, () => resolve());
      server = s;
    });
  const down = async () => {
    const s = server;
    server = null;
    for (const x of sockets) x.resetAndDestroy();
    if (s) await new Promise((r) => s.close(r));
  };
  await up();
  return { port, up, down };
}

let drop: () => Promise<void>;
let inv: KyselyInventory;
let relay: Awaited<ReturnType<typeof startRelay>>;

before(async () => {
  const t = await createTestDatabase('medsurface_dist_retry');
  drop = t.drop;
  const admin = new URL(TEST_PG_ADMIN_URL);
  relay = await startRelay({ host: admin.hostname, port: Number(admin.port || 5432) });
  const viaRelay = new URL(t.url);
  viaRelay.hostname = RELAY_HOST;
  viaRelay.port = String(relay.port);
  // The opener the coordinator and the workers use.
  inv = await openPgInventory(viaRelay.toString());
});

after(async () => {
  await inv?.close();
  await relay?.down();
  await drop?.();
});

const record = (ip: string, port: number): ServiceRecord => ({
  ip,
  port,
  protocol: 'http',
  status: 'success',
  timestamp: new Date().toISOString(),
  findings: [{ id: 'http-no-tls', severity: 'high', title: 'Medical web application or API over plain HTTP', confidence: 'confirmed' }],
  data: {},
});

describe('database outages', () => {
  test('connection failures are transient, other errors are not', () => {
    assert.equal(isTransient(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })), true);
    assert.equal(isTransient(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })), true);
    assert.equal(isTransient(Object.assign(new Error('x'), { code: '08006' })), true);
    assert.equal(isTransient(new Error('Connection terminated unexpectedly')), true);
    assert.equal(isTransient(new Error('wrapped', { cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }) })), true);
    assert.equal(isTransient(Object.assign(new Error('duplicate key value'), { code: '23505' })), false);
    assert.equal(isTransient(new Error('a bug')), false);
  });

  test('a non-transient error is not retried', async () => {
    let calls = 0;
    await assert.rejects(
      withRetry(
        async () => {
          calls++;
          throw Object.assign(new Error('duplicate key value'), { code: '23505' });
        },
        { deadlineMs: 10_000 },
      ),
      /duplicate key/,
    );
    assert.equal(calls, 1);
  });

  test('records written while PostgreSQL is away are retried and land once it is back', async () => {
    const run = await inv.createRun({ profile: 'safe', targets: ['127.216.241.0/24'], options: {}, totalTargets: 256 });
    await inv.recordServices(run.id, [record('127.216.241.1', 80)]);
    await relay.down();
    const retries: string[] = [];
    const writing = withRetry(() => inv.recordServices(run.id, [record('127.216.241.2', 80), record('127.216.241.3', 8080)]), {
      deadlineMs: 60_000,
      onRetry: (err) => retries.push(String((err as Error).message)),
    });
    await new Promise((r) => setTimeout(r, 1500));
    await relay.up();
    await writing;
    assert.ok(retries.length >= 1, 'the write failed while the database was away and was retried');
    const services = await inv.listServices({});
    assert.deepEqual(services.map((s) => `${s.ip}:${s.port}`).sort(), ['127.216.241.1:80', '127.216.241.2:80', '127.216.241.3:8080']);
    assert.equal((await inv.listFindings({})).length, 3);
  });

  test('an outage longer than the deadline fails the write (the shard is retried later from its checkpoint)', async () => {
    const run = await inv.createRun({ profile: 'safe', targets: ['127.216.241.0/24'], options: {}, totalTargets: 256 });
    await relay.down();
    try {
      await assert.rejects(withRetry(() => inv.recordServices(run.id, [record('127.216.241.9', 80)]), { deadlineMs: 1500 }), (err) => isTransient(err));
    } finally {
      await relay.up();
    }
  });
});
