/**
 * Shard state in PostgreSQL (dist_shards) on a test database of its own: the table is created
 * safely by several processes at once, shards partition the positions, and the lease gives a
 * shard to one worker at a time (taken over only once it expires, every write conditional on
 * the claim).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type KyselyInventory, openKyselyInventory } from '../../src/inventory/index.js';
import { createTestDatabase } from '../../src/inventory/test-pg.js';
import {
  cancelShards,
  claimShard,
  doneFromCheckpoint,
  ensureShardTable,
  finishShard,
  getShard,
  initShards,
  listShards,
  markShardFailed,
  positionsBelow,
  releaseShard,
  renewLease,
  reopenShards,
  saveShardCheckpoint,
  shardDb,
} from '../../src/distributed/shard-store.js';
import { EMPTY_SHARD_STATS } from '../../src/distributed/types.js';

let drop: () => Promise<void>;
let inv: KyselyInventory;
let url: string;

before(async () => {
  const t = await createTestDatabase('medsurface_dist_store');
  drop = t.drop;
  url = t.url;
  inv = await openKyselyInventory(url);
});

after(async () => {
  await inv?.close();
  await drop?.();
});

async function newRun(): Promise<string> {
  const run = await inv.createRun({ profile: 'safe', targets: ['127.216.0.0/24'], options: {}, totalTargets: 10 });
  return run.id;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('positions', () => {
  test('the shards of a permutation partition its positions', () => {
    for (const size of [1, 2, 7, 10, 1000, 4097]) {
      for (const count of [1, 2, 3, 16]) {
        let sum = 0;
        for (let k = 0; k < count; k++) sum += positionsBelow(size, k, count);
        assert.equal(sum, size, `size ${size}, ${count} shards`);
      }
    }
    assert.equal(positionsBelow(10, 1, 3), 3); // 1, 4, 7
    assert.equal(positionsBelow(0, 0, 3), 0);
    assert.equal(positionsBelow(2 ** 32, 5, 7), Math.ceil((2 ** 32 - 5) / 7));
  });

  test('a checkpoint counts the positions below it and the ones it lists', () => {
    // Shard 1 of 3 over 10 positions: 1, 4, 7. Resume at 5 with 7 done: all three.
    assert.equal(doneFromCheckpoint({ seed: '1', resumeFrom: 5, done: [7] }, 1, 3, 10), 3);
    assert.equal(doneFromCheckpoint({ seed: '1', resumeFrom: 0, done: [] }, 1, 3, 10), 0);
    assert.equal(doneFromCheckpoint({ seed: '1', resumeFrom: 10, done: [] }, 1, 3, 10), 3);
  });
});

describe('dist_shards', () => {
  test('is created once even when several processes start together', async () => {
    const others = await Promise.all([1, 2, 3].map(() => openKyselyInventory(url)));
    try {
      await Promise.all(others.map((o) => ensureShardTable(shardDb(o.db))));
      await ensureShardTable(shardDb(inv.db));
    } finally {
      await Promise.all(others.map((o) => o.close()));
    }
  });

  test('one worker per shard: claim, busy, lease expiry, take-over, conditional writes', async () => {
    const db = shardDb(inv.db);
    const runId = await newRun();
    await initShards(db, runId, 3, 10);
    await initShards(db, runId, 3, 10); // idempotent
    const rows = await listShards(db, runId);
    assert.deepEqual(
      rows.map((r) => [r.shard, r.totalTargets, r.state]),
      [
        [0, 4, 'pending'],
        [1, 3, 'pending'],
        [2, 3, 'pending'],
      ],
    );

    const a = await claimShard(db, runId, 1, 'A#1', 400);
    assert.equal(a.outcome, 'claimed');
    assert.equal((await claimShard(db, runId, 1, 'B#1', 400)).outcome, 'busy');
    assert.equal(await renewLease(db, runId, 1, 'B#1', 400), 'lost');
    const progress = { checkpoint: { seed: '9', resumeFrom: 5, done: [] }, doneTargets: 2, stats: { ...EMPTY_SHARD_STATS, hostsDone: 2 } };
    assert.equal(await saveShardCheckpoint(db, runId, 1, 'A#1', 400, progress), 'ok');

    // A stops renewing (it died): once the lease has expired, B takes over from A's checkpoint.
    await sleep(700);
    const b = await claimShard(db, runId, 1, 'B#1', 5000);
    assert.equal(b.outcome, 'claimed');
    assert.ok(b.outcome === 'claimed' && b.row.attempts === 2 && b.row.checkpoint?.resumeFrom === 5 && b.row.doneTargets === 2);
    // A, come back to life, can no longer write its progress or finish the shard.
    assert.equal(await renewLease(db, runId, 1, 'A#1', 400), 'lost');
    assert.equal(await saveShardCheckpoint(db, runId, 1, 'A#1', 400, progress), 'lost');
    assert.equal(await finishShard(db, runId, 1, 'A#1', EMPTY_SHARD_STATS), false);
    assert.equal(await finishShard(db, runId, 1, 'B#1', { ...EMPTY_SHARD_STATS, hostsDone: 3 }), true);
    const done = await getShard(db, runId, 1);
    assert.equal(done?.state, 'done');
    assert.equal(done?.doneTargets, 3);
    assert.equal(done?.checkpoint, null);
    assert.equal((await claimShard(db, runId, 1, 'C#1', 400)).outcome, 'done');
  });

  test('cancel, fail, give back and reopen', async () => {
    const db = shardDb(inv.db);
    const runId = await newRun();
    await initShards(db, runId, 3, 10);
    assert.equal((await claimShard(db, runId, 0, 'A#1', 10_000)).outcome, 'claimed');
    assert.equal((await claimShard(db, runId, 2, 'A#2', 10_000)).outcome, 'claimed');
    // Graceful stop: shard 2 goes back to pending, any worker may take it.
    await releaseShard(db, runId, 2, 'A#2', 'pending');
    assert.equal((await getShard(db, runId, 2))?.state, 'pending');
    await markShardFailed(db, runId, 1, 'job stalled more than allowable limit');
    assert.equal((await getShard(db, runId, 1))?.error, 'job stalled more than allowable limit');

    await cancelShards(db, runId);
    const states = (await listShards(db, runId)).map((r) => r.state);
    assert.deepEqual(states, ['cancelled', 'failed', 'cancelled']);
    // The worker on shard 0 learns it at its next heartbeat, and may still save where it stopped.
    assert.equal(await renewLease(db, runId, 0, 'A#1', 10_000), 'cancelled');
    const progress = { checkpoint: { seed: '9', resumeFrom: 3, done: [] }, doneTargets: 1, stats: EMPTY_SHARD_STATS };
    assert.equal(await saveShardCheckpoint(db, runId, 0, 'A#1', 10_000, progress), 'cancelled');
    assert.equal((await claimShard(db, runId, 0, 'B#1', 10_000)).outcome, 'cancelled');

    assert.equal(await reopenShards(db, runId), 3);
    const reopened = await listShards(db, runId);
    assert.deepEqual(
      reopened.map((r) => [r.state, r.worker]),
      [
        ['pending', null],
        ['pending', null],
        ['pending', null],
      ],
    );
    assert.equal(reopened[0]?.checkpoint?.resumeFrom, 3, 'a reopened shard keeps its checkpoint');
  });

  test('shards go with their run', async () => {
    const db = shardDb(inv.db);
    const runId = await newRun();
    await initShards(db, runId, 2, 10);
    await inv.db.deleteFrom('scan_runs').where('id', '=', runId).execute();
    assert.deepEqual(await listShards(db, runId), []);
  });
});
