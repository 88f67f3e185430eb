/**
 * Internet mode and the opt-out list enforced by the worker itself, on the machine's shared Redis
 * (a prefix of this file's own, deleted afterwards) and a test database, against web servers of
 * this file's own on 127.219.0.0/16 that count the connections they accept:
 * - internet mode is rebuilt from the run's stored options in the worker: without
 *   --allow-special the loopback lab is left out, with it every request carries the contact,
 *   and a run stored without a contact is refused;
 * - an opt-out recorded in the inventory before the run is honoured from the first host;
 * - one recorded while the shard runs stops the connections to its range once the worker has
 *   reloaded the list (the reload interval is shortened for the test: 60 s in production).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PassThrough } from 'node:stream';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { runCoordinator } from '../../src/distributed/coordinator.js';
import { DEFAULT_NET_PREFIXES } from '../../src/distributed/net-lock.js';
import { openPgInventory } from '../../src/distributed/pg.js';
import { QUEUE_NAME, shardJobId } from '../../src/distributed/redis.js';
import { optionsHash, prepareScan } from '../../src/distributed/scan-setup.js';
import { ensureShardTable, getShard, initShards, shardDb } from '../../src/distributed/shard-store.js';
import { deleteKeys } from '../../src/distributed/test-support.js';
import { type ShardJob, type StoredScanOptions, StoredScanOptionsSchema } from '../../src/distributed/types.js';
import { startWorker } from '../../src/distributed/worker.js';
import type { KyselyInventory } from '../../src/inventory/index.js';
import { addOptOut, removeOptOut } from '../../src/inventory/opt-out.js';
import { createTestDatabase } from '../../src/inventory/test-pg.js';

const BLOCK = '127.219.0.0/16';
const REDIS = 'redis://127.0.0.1:6379';
const PREFIX = `medsurface-test-optout-${process.pid}`;
const CONTACT = 'https://example.org/medsurface-worker-test';
/** The worker reloads the opt-out list this often (production: 60 s). */
const RELOAD_MS = 400;
/** Range scanned throughout, and the range opted out (before the run, or during it). */
const KEEP = Array.from({ length: 12 }, (_, i) => `127.219.40.${i + 1}`);
const OPT = Array.from({ length: 24 }, (_, i) => `127.219.41.${i + 1}`);
const OPT_CIDR = '127.219.41.0/24';

const tmp = mkdtempSync(path.join(tmpdir(), 'medsurface-dist-optout-'));
let dbUrl: string;
let drop: () => Promise<void>;
let inv: KyselyInventory;
let redis: Redis;
let queue: Queue;
let port = 0;

interface Node {
  server: http.Server;
  /** Times at which connections were accepted. */
  accepted: number[];
  agents: string[];
}
const nodes = new Map<string, Node>();

async function listen(ip: string, p: number): Promise<Node> {
  const node: Node = {
    server: http.createServer((req, res) => {
      node.agents.push(String(req.headers['user-agent'] ?? ''));
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><head><title>lab</title></head></html>');
    }),
    accepted: [],
    agents: [],
  };
  node.server.on('connection', () => node.accepted.push(Date.now()));
  await new Promise<void>((resolve, reject) => {
    node.server.once('error', reject);
    node.server.listen(p, ip, () => resolve());
  });
  return node;
}

const count = (ips: string[], since = 0) => ips.reduce((n, ip) => n + nodes.get(ip)!.accepted.filter((t) => t >= since).length, 0);
const reset = () => {
  for (const n of nodes.values()) {
    n.accepted = [];
    n.agents = [];
  }
};

before(async () => {
  const first = await listen(KEEP[0]!, 0);
  port = (first.server.address() as AddressInfo).port;
  nodes.set(KEEP[0]!, first);
  for (const ip of [...KEEP.slice(1), ...OPT]) nodes.set(ip, await listen(ip, port));
  const t = await createTestDatabase('medsurface_dist_optout');
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
  for (const n of nodes.values()) {
    n.server.closeAllConnections();
    await new Promise((r) => n.server.close(r));
  }
  rmSync(tmp, { recursive: true, force: true });
});

function options(over: Partial<StoredScanOptions> = {}): StoredScanOptions {
  return StoredScanOptionsSchema.parse({
    targets: [...KEEP, ...OPT],
    ports: [port],
    probes: ['http'],
    profile: 'safe',
    exclude: [],
    excludeFile: [],
    scope: BLOCK,
    dicomTls: false,
    contact: CONTACT,
    internet: { allowSpecial: [BLOCK] },
    seed: '4242',
    concurrency: 2,
    rate: 0,
    hostConcurrency: 1,
    hostDelay: 0,
    timeouts: { connectMs: 2000, readMs: 4000, sessionMs: 10000 },
    retries: 0,
    ...over,
  });
}

/**
 * A one-shard run as the coordinator creates it, and its job. A run without a contact in internet
 * mode is one the coordinator refuses: its sets are built as if it had one (they do not depend on it).
 */
async function newRun(stored: StoredScanOptions): Promise<ShardJob> {
  const prep = await prepareScan(stored.internet && !stored.contact ? { ...stored, contact: CONTACT } : stored);
  const run = await inv.createRun({
    profile: stored.profile,
    targets: stored.targets,
    options: { ...stored, distributed: { shards: 1, netPrefix: DEFAULT_NET_PREFIXES, queuePrefix: PREFIX } },
    totalTargets: prep.targets.size,
  });
  await initShards(shardDb(inv.db), run.id, 1, prep.targets.size);
  return { runId: run.id, shard: 0, count: 1, seed: stored.seed, optionsHash: optionsHash(stored), fingerprints: prep.fingerprints, netPrefix: DEFAULT_NET_PREFIXES };
}

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 60_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function runShard(stored: StoredScanOptions, name: string, during?: ((lines: string[]) => Promise<void>) | { attempts: number }) {
  const lines: string[] = [];
  const w = await startWorker({
    queueUrl: REDIS,
    dbUrl,
    prefix: PREFIX,
    name,
    lockMs: 5000,
    stopDir: null,
    sendLogDir: tmp,
    optOutReloadMs: RELOAD_MS,
    log: (l) => lines.push(l),
  });
  try {
    const job = await newRun(stored);
    await queue.add('shard', job, { jobId: shardJobId(job.runId, 0), attempts: typeof during === 'object' ? during.attempts : 1 });
    if (typeof during === 'function') await during(lines);
    const row = await until('the shard to end', async () => {
      const r = await getShard(shardDb(inv.db), job.runId, 0);
      return r && (r.state === 'done' || r.state === 'failed') ? r : null;
    });
    return { row, lines, stats: w.stats };
  } finally {
    await w.stop();
  }
}

describe('worker: internet mode and opt-outs', () => {
  test('internet mode is enforced by the worker from the stored options', async () => {
    reset();
    // No --allow-special: the worker itself leaves the loopback lab out.
    const closed = await runShard(options({ internet: { allowSpecial: [] }, targets: KEEP }), 'internet-closed');
    assert.equal(closed.row.state, 'done', closed.lines.join('\n'));
    assert.equal(closed.row.stats.hostsDone, 0);
    assert.equal(count(KEEP), 0, 'no connection reached the lab');
    assert.ok(closed.lines.some((l) => /internet mode: excluded 12 addresses: special-purpose/.test(l)), closed.lines.join('\n'));

    // With it, the lab is scanned and every request carries the contact.
    reset();
    const open = await runShard(options({ targets: KEEP }), 'internet-open');
    assert.equal(open.row.state, 'done', open.lines.join('\n'));
    assert.equal(open.row.stats.hostsDone, KEEP.length);
    const agents = KEEP.flatMap((ip) => nodes.get(ip)!.agents);
    assert.ok(agents.length >= KEEP.length);
    for (const ua of agents) assert.ok(ua.includes(CONTACT), ua);

    // A run stored without a contact (written around the coordinator): refused, nothing sent.
    reset();
    const noContact = await runShard(options({ targets: KEEP, contact: undefined }), 'internet-nocontact', { attempts: 3 });
    assert.equal(noContact.row.state, 'failed');
    assert.match(noContact.row.error ?? '', /the run's internet mode: --internet needs --contact/);
    assert.equal(noContact.row.attempts, 1, 'refused for good, not retried');
    assert.equal(count(KEEP), 0);
  });

  test('an opt-out recorded before the run: no connection reaches the range', async () => {
    reset();
    await addOptOut(inv, { cidr: OPT_CIDR, reason: 'test: asked before the run', addedBy: 'test' });
    try {
      const r = await runShard(options(), 'optout-before');
      assert.equal(r.row.state, 'done', r.lines.join('\n'));
      assert.equal(count(OPT), 0, 'the opted-out range saw no connection');
      assert.ok(KEEP.every((ip) => nodes.get(ip)!.accepted.length > 0), 'every other host was scanned');
      assert.equal(r.row.stats.optedOut, OPT.length);
      assert.equal(r.row.stats.hostsDone, KEEP.length);
      assert.equal(r.row.doneTargets, KEEP.length + OPT.length, 'skipped positions count as done');
      assert.equal(r.stats.optedOut, OPT.length);
    } finally {
      await removeOptOut(inv, OPT_CIDR);
    }
  });

  test('an opt-out recorded mid-run stops traffic to the range once the list is reloaded', async () => {
    reset();
    let reloadedAt = 0;
    let before = 0;
    const r = await runShard(options({ rate: 8 }), 'optout-during', async (lines) => {
      // The shard is under way and has reached the range...
      await until('a connection to the range', () => count(OPT) > 0);
      const seen = lines.length;
      await addOptOut(inv, { cidr: OPT_CIDR, reason: 'test: asked during the run', addedBy: 'test' });
      // ...then the worker's next reload picks the opt-out up (it logs the new list).
      await until('the reload', () => lines.slice(seen).some((l) => /opt-out list loaded: 1 range/.test(l)), 10 * RELOAD_MS + 5000);
      // A connection already being opened when the list changed may still land: allow it a moment.
      await new Promise((res) => setTimeout(res, 300));
      reloadedAt = Date.now();
      before = count(OPT);
    });
    try {
      assert.equal(r.row.state, 'done', r.lines.join('\n'));
      assert.equal(count(OPT, reloadedAt), 0, `no connection to the range after the reload (${before} before it)`);
      assert.ok(before > 0);
      assert.ok((r.row.stats.optedOut ?? 0) > 0, 'hosts of the range were skipped after the reload');
      assert.ok((r.row.stats.optedOut ?? 0) + r.row.stats.hostsDone === KEEP.length + OPT.length);
      assert.ok(KEEP.every((ip) => nodes.get(ip)!.accepted.length > 0), 'the other hosts were all scanned');
    } finally {
      await removeOptOut(inv, OPT_CIDR);
    }
  });

  test('the coordinator reports the exclusions, shows shard progress, and records what was left out', async () => {
    reset();
    await addOptOut(inv, { cidr: '127.219.41.0/28', reason: 'test: coordinator', addedBy: 'test' });
    const w = await startWorker({ queueUrl: REDIS, dbUrl, prefix: PREFIX, name: 'coord-worker', lockMs: 5000, stopDir: null, sendLogDir: tmp, optOutReloadMs: RELOAD_MS, log: () => {} });
    try {
      const err = new PassThrough();
      let text = '';
      err.on('data', (c: Buffer) => {
        text += c.toString();
      });
      // Two blocks outside the allowed lab block stay excluded: 127.219.41.0/28 opted out, 127.218.0.1 special-purpose.
      const stored = options({ targets: [...KEEP, ...OPT, '127.218.0.1'], scope: '127.218.0.0/15', concurrency: 4 });
      const r = await runCoordinator({ options: stored, queueUrl: REDIS, dbUrl, prefix: PREFIX, shards: 3, pollMs: 200, stderr: err as unknown as NodeJS.WriteStream });
      assert.equal(r.state, 'completed', text);
      assert.match(text, /medsurface: internet mode: excluded 1 addresses: special-purpose \(Loopback 127\.0\.0\.0\/8\)/);
      assert.match(text, /medsurface: excluded 15 addresses: opt-out/);
      assert.match(text, /progress: 37\/37 targets, shards 3\/3 done, 0 running/);
      assert.deepEqual(r.excluded, { specialPurpose: 1, optOut: 15 });
      const run = await inv.getRun(r.runId);
      assert.deepEqual((run?.stats as { excluded?: unknown } | undefined)?.excluded, { specialPurpose: 1, optOut: 15 });
      assert.equal(count(OPT.slice(0, 15)), 0);
      assert.ok(count(OPT.slice(15)) > 0);
    } finally {
      await w.stop();
      await removeOptOut(inv, '127.219.41.0/28');
    }
  });
});
