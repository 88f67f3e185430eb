/**
 * The worker's safety and lifecycle, in-process, on the machine's shared Redis (a prefix of
 * this file's own, deleted afterwards) and a test database: bad settings are refused before
 * anything connects, a job whose options differ from the run's stored options (someone with
 * write access to Redis) is refused without scanning, a worker whose lists differ from the
 * coordinator's refuses the shard, and a stopped worker checkpoints its shard and gives it
 * back to the queue without spending an attempt.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { KyselyInventory } from '../../src/inventory/index.js';
import { createTestDatabase } from '../../src/inventory/test-pg.js';
import { openPgInventory } from '../../src/distributed/pg.js';
import { DEFAULT_NET_PREFIXES } from '../../src/distributed/net-lock.js';
import { QUEUE_NAME, shardJobId } from '../../src/distributed/redis.js';
import { optionsHash, prepareScan } from '../../src/distributed/scan-setup.js';
import { ensureShardTable, getShard, initShards, shardDb } from '../../src/distributed/shard-store.js';
import { deleteKeys } from '../../src/distributed/test-support.js';
import { type ShardJob, type StoredScanOptions, StoredScanOptionsSchema } from '../../src/distributed/types.js';
import { startWorker } from '../../src/distributed/worker.js';

const REDIS = 'redis://127.0.0.1:6379';
const PREFIX = `medsurface-test-worker-${process.pid}`;
const tmp = mkdtempSync(path.join(tmpdir(), 'medsurface-worker-'));
let dbUrl: string;
let drop: () => Promise<void>;
let inv: KyselyInventory;
let redis: Redis;
let queue: Queue;

/** 16 closed loopback addresses; at 4 connections per second the shard takes about 4 s. */
const stored: StoredScanOptions = StoredScanOptionsSchema.parse({
  targets: ['127.216.243.0/28'],
  ports: [7],
  probes: ['dicom'],
  profile: 'safe',
  exclude: [],
  excludeFile: [],
  scope: '127.216.243.0/24',
  dicomTls: false,
  seed: '777',
  concurrency: 4,
  rate: 4,
  hostConcurrency: 1,
  hostDelay: 0,
  timeouts: { connectMs: 1000, readMs: 1000, sessionMs: 3000 },
  retries: 0,
});

before(async () => {
  const t = await createTestDatabase('medsurface_dist_worker');
  dbUrl = t.url;
  drop = t.drop;
  inv = await openPgInventory(dbUrl);
  await ensureShardTable(shardDb(inv.db));
  redis = new Redis(REDIS, { maxRetriesPerRequest: null });
  queue = new Queue(QUEUE_NAME, { connection: redis, prefix: PREFIX });
});

after(async () => {
  await queue?.close();
  redis?.disconnect();
  await deleteKeys(REDIS, PREFIX);
  await inv?.close();
  await drop?.();
  rmSync(tmp, { recursive: true, force: true });
});

/** A run with one shard, as the coordinator would create it, and its job. */
async function newRun(options: StoredScanOptions = stored): Promise<ShardJob> {
  const prep = await prepareScan(options);
  const run = await inv.createRun({
    profile: options.profile,
    targets: options.targets,
    options: { ...options, distributed: { shards: 1, netPrefix: DEFAULT_NET_PREFIXES, queuePrefix: PREFIX } },
    totalTargets: prep.targets.size,
  });
  await initShards(shardDb(inv.db), run.id, 1, prep.targets.size);
  return { runId: run.id, shard: 0, count: 1, seed: options.seed, optionsHash: optionsHash(options), fingerprints: prep.fingerprints, netPrefix: DEFAULT_NET_PREFIXES };
}

async function worker(name: string) {
  const lines: string[] = [];
  const w = await startWorker({ queueUrl: REDIS, dbUrl, prefix: PREFIX, name, lockMs: 3000, stopDir: null, sendLogDir: tmp, log: (l) => lines.push(l) });
  return { w, lines };
}

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('worker', () => {
  test('bad settings are refused with a clear message', async () => {
    await assert.rejects(startWorker({ queueUrl: 'http://127.0.0.1:6379', dbUrl, stopDir: null }), /only redis:\/\/ and rediss:\/\//);
    await assert.rejects(startWorker({ queueUrl: 'not a url', dbUrl, stopDir: null }), /is not a URL/);
    await assert.rejects(startWorker({ queueUrl: REDIS, dbUrl: path.join(tmp, 'x.sqlite'), stopDir: null }), /must be a postgres:\/\/ URL/);
    await assert.rejects(startWorker({ queueUrl: REDIS, dbUrl, prefix: 'bad prefix!', stopDir: null }), /--queue-prefix/);
    await assert.rejects(startWorker({ queueUrl: REDIS, dbUrl, lockMs: 10, stopDir: null }), /--lock-duration/);
  });

  test('a job whose options differ from the stored run is refused, nothing scanned', async () => {
    const job = await newRun();
    // A forged job: same run, but it claims other options (say, a wider scope).
    const forged = { ...job, optionsHash: optionsHash({ ...stored, scope: '0.0.0.0/0' }) };
    // Nor may a job switch the politeness lock off behind the coordinator's back.
    const noLock = { ...job, netPrefix: { v4: 0, v6: 0 } };
    await queue.add('shard', noLock, { jobId: `${shardJobId(job.runId, 0)}-nolock`, attempts: 1 });
    const { w } = await worker('forged');
    try {
      await queue.add('shard', forged, { jobId: shardJobId(job.runId, 0), attempts: 3 });
      await until('the job to fail', async () => (await queue.getJobState(shardJobId(job.runId, 0))) === 'failed');
      const failed = await queue.getJob(shardJobId(job.runId, 0));
      assert.match(failed!.failedReason, /differ from the run's stored options: refused/);
      assert.equal(failed!.attemptsMade, 1, 'not retried: unrecoverable');
      await until('the second job to fail', async () => (await queue.getJobState(`${shardJobId(job.runId, 0)}-nolock`)) === 'failed');
      assert.match((await queue.getJob(`${shardJobId(job.runId, 0)}-nolock`))!.failedReason, /refused/);
      const row = await getShard(shardDb(inv.db), job.runId, 0);
      assert.equal(row?.state, 'pending');
      assert.equal(row?.attempts, 0, 'the shard was never claimed');
      assert.equal(w.stats.probes, 0);
    } finally {
      await w.stop();
    }
  });

  test('a worker that builds a different target set refuses the shard', async () => {
    const job = await newRun();
    const other = { ...job, fingerprints: { ...job.fingerprints, targetCount: job.fingerprints.targetCount + 1 } };
    const { w } = await worker('mismatch');
    try {
      await queue.add('shard', other, { jobId: shardJobId(job.runId, 0), attempts: 3 });
      await until('the job to fail', async () => (await queue.getJobState(shardJobId(job.runId, 0))) === 'failed');
      const row = await getShard(shardDb(inv.db), job.runId, 0);
      assert.equal(row?.state, 'failed');
      assert.match(row?.error ?? '', /different the target set/);
      assert.equal(w.stats.probes, 0);
    } finally {
      await w.stop();
    }
  });

  test('a stopped worker checkpoints its shard and gives it back without spending an attempt', async () => {
    const job = await newRun();
    const { w, lines } = await worker('stopping');
    const id = shardJobId(job.runId, 0);
    await queue.add('shard', job, { jobId: id, attempts: 3 });
    await until('some progress', async () => {
      const row = await getShard(shardDb(inv.db), job.runId, 0);
      return row !== null && row.state === 'running' && row.doneTargets > 0;
    });
    await w.stop();
    const row = await getShard(shardDb(inv.db), job.runId, 0);
    assert.equal(row?.state, 'pending', lines.join('\n'));
    assert.equal(row?.worker, null);
    assert.ok((row?.doneTargets ?? 0) > 0 && (row?.doneTargets ?? 0) < 16, `checkpoint kept: ${row?.doneTargets}/16`);
    assert.equal(await queue.getJobState(id), 'delayed');
    assert.equal((await queue.getJob(id))?.attemptsMade, 0);

    // Another worker finishes it from the checkpoint.
    const next = await worker('next');
    try {
      await until('the shard to finish', async () => (await getShard(shardDb(inv.db), job.runId, 0))?.state === 'done');
      const done = await getShard(shardDb(inv.db), job.runId, 0);
      assert.equal(done?.attempts, 2);
      assert.ok(next.w.stats.probes < 16, `the second worker scanned only what was left (${next.w.stats.probes} hosts)`);
    } finally {
      await next.w.stop();
    }
  });
});
