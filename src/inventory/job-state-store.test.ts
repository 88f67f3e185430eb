import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { LeaseLostError, MemoryJobStateStore } from '../monitor/state-store.js';
import type { JobStateStore } from '../monitor/types.js';
import { openKyselyInventory } from './db.js';
import { InventoryJobStateStore } from './job-state-store.js';
import type { KyselyInventory } from './kysely-store.js';
import { createTestDatabase } from './test-pg.js';

const T0 = new Date('2026-11-28T02:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

/** The same scenario on any store; returns what it observed, to compare stores record by record. */
async function scenario(store: JobStateStore): Promise<unknown[]> {
  const seen: unknown[] = [];
  seen.push(await store.get('nightly'));
  seen.push(await store.acquire('nightly', 'monitor-a', 60_000, T0));
  seen.push(await store.acquire('nightly', 'monitor-b', 60_000, at(1000)), 'no overlap across monitors');
  seen.push(await store.acquire('nightly', 'monitor-a', 60_000, at(1000)), 'a live lease is not taken again, even by its owner');
  await store.markStarted('nightly', 'monitor-a', 'run-1', at(2000));
  await store.renew('nightly', 'monitor-a', 60_000, at(30_000));
  seen.push(await store.get('nightly'));
  await assert.rejects(store.renew('nightly', 'monitor-b', 60_000, at(31_000)), LeaseLostError);
  // monitor-a crashes; its lease runs out; monitor-b takes over.
  seen.push(await store.acquire('nightly', 'monitor-b', 60_000, at(90_001)));
  await assert.rejects(store.release('nightly', 'monitor-a', { runId: 'run-1', finishedAt: at(95_000), state: 'completed' }), LeaseLostError);
  await store.release('nightly', 'monitor-b', { runId: null, finishedAt: at(96_000), state: 'skipped-window' });
  seen.push(await store.get('nightly'));
  seen.push(await store.acquire('nightly', 'monitor-b', 60_000, at(97_000)));
  await store.markStarted('nightly', 'monitor-b', 'run-2', at(97_500));
  await store.release('nightly', 'monitor-b', { runId: 'run-2', finishedAt: at(99_000), state: 'completed' });
  seen.push(await store.get('nightly'));
  return seen;
}

const invs: KyselyInventory[] = [];
let dropPg: (() => Promise<void>) | null = null;
after(async () => {
  for (const i of invs) await i.close();
  await dropPg?.();
});

describe('monitor job state in the inventory', () => {
  test('SQLite and PostgreSQL behave exactly as the reference (in-memory) store', async () => {
    const reference = await scenario(new MemoryJobStateStore());
    const sqlite = await openKyselyInventory(':memory:');
    invs.push(sqlite);
    const pgdb = await createTestDatabase('medsurface_jobs');
    dropPg = pgdb.drop;
    const postgres = await openKyselyInventory(pgdb.url);
    invs.push(postgres);
    const results = {
      sqlite: await scenario(new InventoryJobStateStore(sqlite.db)),
      postgres: await scenario(new InventoryJobStateStore(postgres.db)),
    };
    assert.deepEqual(results.sqlite, reference, 'SQLite differs from the reference');
    assert.deepEqual(results.postgres, reference, 'PostgreSQL differs from the reference');
  });
});
