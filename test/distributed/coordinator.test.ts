/**
 * The coordinator's own rules, with an in-process worker, on the machine's shared Redis (a
 * prefix of this file's own, deleted afterwards) and a test database: wrong setups are refused
 * before a run exists, Ctrl-C cancels the unfinished shards and records the run as interrupted,
 * and `--resume` picks the run up again from the shards' checkpoints.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { KyselyInventory } from '../../src/inventory/index.js';
import { createTestDatabase } from '../../src/inventory/test-pg.js';
import { defaultShardCount, runCoordinator } from '../../src/distributed/coordinator.js';
import { openPgInventory } from '../../src/distributed/pg.js';
import { listShards, shardDb } from '../../src/distributed/shard-store.js';
import { deleteKeys, freePort } from '../../src/distributed/test-support.js';
import { type StoredScanOptions, StoredScanOptionsSchema } from '../../src/distributed/types.js';
import { startWorker } from '../../src/distributed/worker.js';

const REDIS = 'redis://127.0.0.1:6379';
const PREFIX = `medsurface-test-coord-${process.pid}`;
const tmp = mkdtempSync(path.join(tmpdir(), 'medsurface-coord-'));
let dbUrl: string;
let drop: () => Promise<void>;

/** 32 closed loopback addresses at 8 connections per second: about 4 s of work in 4 shards. */
const stored: StoredScanOptions = StoredScanOptionsSchema.parse({
  targets: ['127.216.244.0/27'],
  ports: [7],
  probes: ['dicom'],
  profile: 'safe',
  exclude: [],
  excludeFile: [],
  scope: '127.216.244.0/24',
  dicomTls: false,
  seed: '31337',
  concurrency: 4,
  rate: 8,
  hostConcurrency: 1,
  hostDelay: 0,
  timeouts: { connectMs: 1000, readMs: 1000, sessionMs: 3000 },
  retries: 0,
});

before(async () => {
  const t = await createTestDatabase('medsurface_dist_coord');
  dbUrl = t.url;
  drop = t.drop;
});

after(async () => {
  await deleteKeys(REDIS, PREFIX);
  await drop?.();
  rmSync(tmp, { recursive: true, force: true });
});

function capture(): { stream: NodeJS.WriteStream; text: () => string } {
  const s = new PassThrough();
  let text = '';
  s.on('data', (c: Buffer) => {
    text += c.toString();
  });
  return { stream: s as unknown as NodeJS.WriteStream, text: () => text };
}

describe('coordinator', () => {
  test('default shard count', () => {
    assert.equal(defaultShardCount(1), 1);
    assert.equal(defaultShardCount(75), 16);
    assert.equal(defaultShardCount(2 ** 24), 64);
    assert.equal(defaultShardCount(2 ** 32), 16_384);
  });

  test('refuses wrong setups before creating a run', async () => {
    const base = { queueUrl: REDIS, dbUrl, prefix: PREFIX, quiet: true };
    await assert.rejects(runCoordinator({ ...base, options: stored, dbUrl: path.join(tmp, 'inv.sqlite') }), /needs the inventory in PostgreSQL/);
    await assert.rejects(runCoordinator({ ...base, options: stored, queueUrl: 'postgres://127.0.0.1/x' }), /only redis:\/\/ and rediss:\/\//);
    await assert.rejects(runCoordinator({ ...base, options: { ...stored, targets: ['-'] } }), /stdin \(-\) cannot be shared with workers/);
    await assert.rejects(runCoordinator({ ...base, options: { ...stored, targets: ['127.216.245.0/24'] } }), /outside the authorised scope/);
    await assert.rejects(runCoordinator({ ...base, options: stored, shards: 0 }), /--shards must be between/);
    await assert.rejects(runCoordinator({ ...base, resume: 'r-no-such-run' }), /no scan run "r-no-such-run"/);
    const nobody = await freePort('127.0.0.218');
    await assert.rejects(runCoordinator({ ...base, options: stored, queueUrl: `redis://127.0.0.218:${nobody}` }), /cannot reach Redis at redis:\/\/127\.0\.0\.218/);
    const inv = await openPgInventory(dbUrl);
    try {
      assert.deepEqual(await inv.listRuns(), [], 'no run was created');
    } finally {
      await inv.close();
    }
  });

  test('Ctrl-C cancels the unfinished shards; --resume finishes the run from their checkpoints', async () => {
    const w = await startWorker({ queueUrl: REDIS, dbUrl, prefix: PREFIX, name: 'solo', lockMs: 3000, stopDir: null, sendLogDir: tmp, log: () => {} });
    let inv: KyselyInventory | null = null;
    try {
      const stop = new AbortController();
      let runId = '';
      const out = capture();
      const first = runCoordinator({
        options: stored,
        queueUrl: REDIS,
        dbUrl,
        prefix: PREFIX,
        shards: 4,
        pollMs: 200,
        stderr: out.stream,
        signal: stop.signal,
        onRunCreated: (id) => {
          runId = id;
        },
      });
      inv = await openPgInventory(dbUrl);
      const db = shardDb(inv.db);
      for (;;) {
        const rows = runId ? await listShards(db, runId) : [];
        if (rows.some((r) => r.doneTargets > 0)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      stop.abort();
      const r1 = await first;
      assert.equal(r1.state, 'interrupted');
      assert.match(out.text(), /interrupted; resume with: medsurface scan --resume/);
      assert.equal((await inv.getRun(runId))?.state, 'interrupted');
      const cancelled = (await listShards(db, runId)).filter((r) => r.state === 'cancelled');
      assert.ok(cancelled.length >= 1, 'unfinished shards are cancelled');

      const r2 = await runCoordinator({ resume: runId, queueUrl: REDIS, dbUrl, prefix: PREFIX, pollMs: 200, quiet: true });
      assert.equal(r2.state, 'completed');
      assert.equal(r2.runId, runId);
      const rows = await listShards(db, runId);
      assert.equal(rows.length, 4);
      assert.ok(rows.every((r) => r.state === 'done'));
      assert.equal(r2.stats.hostsDone, 32, 'every address scanned once the run is resumed');
      assert.equal((await inv.getRun(runId))?.state, 'completed');
      // A completed run cannot be resumed.
      await assert.rejects(runCoordinator({ resume: runId, queueUrl: REDIS, dbUrl, prefix: PREFIX, quiet: true }), /already completed/);
    } finally {
      await inv?.close();
      await w.stop();
    }
  });
});
