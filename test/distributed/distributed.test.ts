/**
 * Issue 8's proof for distributed mode, on this machine's real Redis and PostgreSQL: a
 * coordinator and three worker processes scan the lab hospital (its own loopback block) and
 * the inventory equals the single-machine scan of the same lab, record for record (assets,
 * services with their identity, findings with id, severity and state, observations); the same
 * holds when one worker is SIGKILLed mid-shard (its shard is retried elsewhere after the lock
 * expires, nothing lost, nothing doubled) and when the test's own Redis is killed and restarted
 * empty mid-run (the coordinator re-enqueues the unfinished shards from PostgreSQL).
 *
 * Services missing (Redis, PostgreSQL, redis-server) make these tests fail, never skip.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { executeScan, scanOptions } from '../../src/cli/commands/scan.js';
import { createTestDatabase } from '../../src/inventory/test-pg.js';
import { openKyselyInventory } from '../../src/inventory/index.js';
import { type RunningLab, startLab } from '../../src/lab/index.js';
import { type CoordinatorResult, runCoordinator } from '../../src/distributed/coordinator.js';
import { listShards, shardDb } from '../../src/distributed/shard-store.js';
import {
  type OwnRedis,
  type WorkerProcess,
  deleteKeys,
  inventorySnapshot,
  snapshotDiff,
  spawnWorker,
  startOwnRedis,
  stopWorker,
} from '../../src/distributed/test-support.js';
import { StoredScanOptionsSchema, type ShardRow, type StoredScanOptions } from '../../src/distributed/types.js';

const BLOCK = '127.216.0.0/16';
const SHARED_REDIS = 'redis://127.0.0.1:6379';
/** The test's own Redis (killed and restarted): an address of its own, never 127.0.0.1's shared one. */
const OWN_REDIS_HOST = '127.0.0.216';
const WORKERS = 3;
const SHARDS = 6;
/** Short BullMQ lock / PostgreSQL lease, so a killed worker's shard moves on within seconds. */
const LOCK_MS = 4000;
/** Hosts in parallel per worker; the single-machine run uses the workers' total. */
const WORKER_CONCURRENCY = 8;

const tmp = mkdtempSync(path.join(tmpdir(), 'medsurface-dist-'));
const env = {
  XDG_DATA_HOME: path.join(tmp, 'data'),
  XDG_STATE_HOME: path.join(tmp, 'state'),
  MEDSURFACE_STOP_DIR: path.join(tmp, 'stop'),
};
Object.assign(process.env, env);

let lab: RunningLab;
let stored: StoredScanOptions;
let baseline: Awaited<ReturnType<typeof inventorySnapshot>>;
const drops: (() => Promise<void>)[] = [];
const prefixes: { url: string; prefix: string }[] = [];
let ownRedis: OwnRedis | null = null;

before(async () => {
  lab = await startLab({ block: BLOCK, quiet: true });
  const hosts = [...new Set(lab.nodes.map((n) => n.ip))];
  const ports = [...new Set(lab.nodes.map((n) => n.port))].join(',');
  const db = await createTestDatabase('medsurface_dist_single');
  drops.push(db.drop);
  // Generous timeouts: lab, scanner and workers share two cores, and a late answer must not
  // change a verdict (the hostile split-writer node needs seconds under load).
  const o = scanOptions({
    ports,
    concurrency: WORKERS * WORKER_CONCURRENCY,
    hostDelay: 0,
    connectTimeout: 2000,
    readTimeout: 10000,
    sessionTimeout: 30000,
    retries: 0,
    scope: BLOCK,
    quiet: true,
    json: true,
    db: db.url,
    sendLog: path.join(tmp, 'single.sendlog.jsonl'),
  });
  const s = await executeScan(hosts, o, {
    stdout: process.stdout,
    stderr: process.stderr,
    stopDir: null,
    writer: { count: 0, write() {}, close: async () => {} },
  });
  assert.equal(s.state, 'completed');
  // The distributed runs use the very options the single-machine run stored (buildStored's output).
  const inv = await openKyselyInventory(db.url);
  try {
    const run = await inv.getRun(s.runId!);
    stored = StoredScanOptionsSchema.parse(run!.options);
  } finally {
    await inv.close();
  }
  baseline = await inventorySnapshot(db.url);
  assert.ok((baseline.counts.services ?? 0) > 50, `the lab scan found ${baseline.counts.services} services`);
});

after(async () => {
  await ownRedis?.stop();
  for (const p of prefixes) await deleteKeys(p.url, p.prefix).catch(() => 0);
  for (const d of drops) await d().catch(() => {});
  await lab?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

interface RunContext {
  workers: WorkerProcess[];
  dbUrl: string;
  shards(): Promise<ShardRow[]>;
}

/** A writable that keeps what the coordinator prints (not a TTY: plain progress lines). */
function capture(): { stream: NodeJS.WriteStream; text: () => string } {
  const s = new PassThrough();
  let text = '';
  s.on('data', (c: Buffer) => {
    text += c.toString();
  });
  return { stream: s as unknown as NodeJS.WriteStream, text: () => text };
}

async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Coordinator in this process, WORKERS worker processes; `during` acts on the run while it goes. */
async function distributedRun(
  name: string,
  queueUrl: string,
  during?: (ctx: RunContext) => Promise<void>,
): Promise<{ result: CoordinatorResult; snapshot: Awaited<ReturnType<typeof inventorySnapshot>>; log: string; workers: WorkerProcess[]; rows: ShardRow[] }> {
  const db = await createTestDatabase(`medsurface_dist_${name.replace(/-/g, '_')}`);
  drops.push(db.drop);
  const prefix = `medsurface-test-${name}-${process.pid}`;
  prefixes.push({ url: queueUrl, prefix });
  const workers = Array.from({ length: WORKERS }, (_, i) =>
    spawnWorker(
      [
        '--queue',
        queueUrl,
        '--db',
        db.url,
        '--queue-prefix',
        prefix,
        '--lock-duration',
        String(LOCK_MS),
        '--concurrency',
        String(WORKER_CONCURRENCY),
        '--send-log-dir',
        path.join(tmp, 'sendlogs'),
      ],
      { name: `w${i + 1}`, env },
    ),
  );
  const out = capture();
  const shardRows = async () => {
    const inv = await openKyselyInventory(db.url);
    try {
      const runs = await inv.listRuns(1);
      return runs[0] ? await listShards(shardDb(inv.db), runs[0].id) : [];
    } finally {
      await inv.close();
    }
  };
  try {
    // Start scanning once every worker is up: three processes compiling their sources at once
    // would starve the lab and turn answers into timeouts.
    await waitFor('the workers to start', async () => workers.every((w) => w.log().includes('waiting for shard jobs')), 60_000);
    const coordinator = runCoordinator({
      options: stored,
      queueUrl,
      dbUrl: db.url,
      prefix,
      shards: SHARDS,
      stderr: out.stream,
      pollMs: 250,
      reconcileMs: 1000,
      stallMs: LOCK_MS - 1000,
    });
    const acting = during?.({ workers, dbUrl: db.url, shards: shardRows });
    const [result] = await Promise.all([coordinator, acting]);
    const rows = await shardRows();
    return { result, snapshot: await inventorySnapshot(db.url), log: out.text(), workers, rows };
  } catch (err) {
    for (const w of workers) process.stderr.write(`--- worker ${w.name} log ---\n${w.log().slice(-4000)}\n`);
    process.stderr.write(`--- coordinator log ---\n${out.text().slice(-4000)}\n`);
    throw err;
  } finally {
    await Promise.all(workers.map((w) => stopWorker(w)));
  }
}

/** The distributed inventory equals the single-machine one, with no duplicated service, observation or finding. */
function assertSameInventory(snapshot: Awaited<ReturnType<typeof inventorySnapshot>>, label: string): void {
  const diff = snapshotDiff(baseline.lines, snapshot.lines);
  assert.deepEqual(diff, [], `${label}: inventory differs from the single-machine scan (- single, + distributed):\n${diff.join('\n')}`);
  assert.deepEqual(snapshot.counts, baseline.counts, `${label}: row counts differ`);
  assert.equal(snapshot.counts.duplicateObservations, 0);
  // One 'opened' event per finding: a rewritten shard reopened nothing.
  assert.equal(snapshot.counts.openedEvents, snapshot.counts.findings);
}

describe('distributed mode on the lab hospital', () => {
  test('a coordinator and three workers give the single-machine inventory', async () => {
    const { result, snapshot, rows } = await distributedRun('plain', SHARED_REDIS);
    assert.equal(result.state, 'completed');
    assert.equal(rows.length, SHARDS);
    assert.ok(rows.every((r) => r.state === 'done' && r.doneTargets === r.totalTargets), JSON.stringify(rows));
    assert.equal(
      rows.reduce((n, r) => n + r.totalTargets, 0),
      lab.nodes.length > 0 ? new Set(lab.nodes.map((n) => n.ip)).size : 0,
    );
    const byWorker = new Set(rows.map((r) => r.worker?.split('#')[0]));
    assert.ok(byWorker.size >= 2, `shards were spread over the workers (${[...byWorker].join(', ')})`);
    assertSameInventory(snapshot, 'three workers');
  });

  test('a worker SIGKILLed mid-shard: its shard is retried elsewhere, same inventory, nothing doubled', async () => {
    let victim = '';
    let victimShard = -1;
    const { result, snapshot, rows, log } = await distributedRun('sigkill', SHARED_REDIS, async (ctx) => {
      // Kill a worker once it has checkpointed part of a shard (progress written, shard unfinished).
      const row = await waitFor('a shard in progress', async () =>
        (await ctx.shards()).find((r) => r.state === 'running' && r.doneTargets > 0 && r.doneTargets < r.totalTargets),
      );
      victim = row.worker!.split('#')[0]!;
      victimShard = row.shard;
      const w = ctx.workers.find((x) => x.name === victim)!;
      w.proc.kill('SIGKILL');
      assert.equal(await w.exited, 'SIGKILL');
    });
    assert.equal(result.state, 'completed');
    const shard = rows.find((r) => r.shard === victimShard)!;
    assert.equal(shard.state, 'done');
    assert.ok(shard.attempts >= 2, `shard ${victimShard} was claimed again after ${victim} died (attempts ${shard.attempts})`);
    assert.notEqual(shard.worker?.split('#')[0], victim, 'another worker finished it');
    assert.ok(result.stalled >= 1, `the coordinator reported the stalled shard:\n${log}`);
    assert.match(log, new RegExp(`shard ${victimShard} stalled`));
    assertSameInventory(snapshot, 'after SIGKILL');
  });

  test('Redis restarted empty mid-run: the coordinator re-enqueues from PostgreSQL, same inventory', async () => {
    ownRedis = await startOwnRedis(OWN_REDIS_HOST);
    const redis = ownRedis;
    const { result, snapshot, rows, log } = await distributedRun('redis-restart', redis.url, async (ctx) => {
      await waitFor('a finished shard and an unfinished one', async () => {
        const all = await ctx.shards();
        return all.some((r) => r.state === 'done') && all.some((r) => r.state !== 'done');
      });
      await redis.kill();
      await new Promise((r) => setTimeout(r, 1500));
      await redis.start();
    });
    assert.equal(result.state, 'completed');
    assert.ok(result.reEnqueued >= 1, `shards were re-enqueued:\n${log}`);
    assert.match(log, /the queue lost its jobs/);
    assert.ok(rows.every((r) => r.state === 'done'));
    assertSameInventory(snapshot, 'after a Redis restart');
  });
});
