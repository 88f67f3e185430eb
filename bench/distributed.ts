/**
 * bench/distributed: distributed-mode throughput on this machine, by hand (not a test).
 *
 *   (a) a large simulated target set on loopback: a /16 of this bench's own block
 *       (127.217.0.0/16 by default, 65,536 addresses), few live: one permissive DICOM endpoint
 *       in every /24 (the bench lab's profile, src/lab/bench-profile.ts), the rest closed.
 *       Scanned on port 104 by the coordinator and 1, 2 and 4 worker processes (shared Redis on
 *       127.0.0.1:6379 under a prefix of the bench's own, a fresh PostgreSQL database each).
 *   (b) the per-shard overhead of the queue: the same 1,024 closed addresses as 1 shard and as
 *       1,024 shards (enqueue, claim, lease, checkpoint, finish in PostgreSQL and Redis).
 *
 * Then a paper extrapolation to the IPv4 space. Loopback answers a closed port with a reset at
 * once; on the internet most addresses are silent and cost a connect timeout, so the figures
 * here are an upper bound per worker, and the extrapolation says what it assumes.
 *
 * Usage: node --import tsx bench/distributed.ts [--workers 1,2,4] [--block 127.217.0.0/16]
 *          [--shards 32] [--concurrency 256] [--overhead-shards 1024] [--queue redis://127.0.0.1:6379]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runCoordinator } from '../src/distributed/coordinator.js';
import { deleteKeys, spawnWorker, stopWorker, type WorkerProcess } from '../src/distributed/test-support.js';
import { type StoredScanOptions, StoredScanOptionsSchema } from '../src/distributed/types.js';
import { createTestDatabase } from '../src/inventory/test-pg.js';
import { DicomScpNode } from '../src/lab/index.js';
import { benchProfile } from '../src/lab/bench-profile.js';

const { values: args } = parseArgs({
  options: {
    workers: { type: 'string', default: '1,2,4' },
    block: { type: 'string', default: '127.217.0.0/16' },
    shards: { type: 'string', default: '32' },
    concurrency: { type: 'string', default: '256' },
    'overhead-shards': { type: 'string', default: '1024' },
    queue: { type: 'string', default: 'redis://127.0.0.1:6379' },
  },
});

const block = args.block!;
const m = /^127\.(\d{1,3})\.0\.0\/16$/.exec(block);
if (!m) throw new Error(`--block must be a loopback /16 like 127.217.0.0/16 (got ${block})`);
const second = Number(m[1]);
const queueUrl = args.queue!;
const queueHost = new URL(queueUrl).hostname;
if (!queueHost.startsWith('127.') && queueHost !== 'localhost') throw new Error('the bench only talks to a Redis on loopback');
const workerCounts = args.workers!.split(',').map(Number);
const shards = Number(args.shards);
const concurrency = Number(args.concurrency);
const overheadShards = Number(args['overhead-shards']);
const tmp = mkdtempSync(path.join(tmpdir(), 'medsurface-bench-dist-'));
const env = { XDG_DATA_HOME: path.join(tmp, 'data'), XDG_STATE_HOME: path.join(tmp, 'state'), MEDSURFACE_STOP_DIR: path.join(tmp, 'stop') };
Object.assign(process.env, env);

function options(targets: string[], over: Partial<StoredScanOptions> = {}): StoredScanOptions {
  return StoredScanOptionsSchema.parse({
    targets,
    ports: [104],
    probes: ['dicom'],
    profile: 'safe',
    exclude: [],
    excludeFile: [],
    scope: block,
    dicomTls: false,
    seed: '20261128',
    concurrency,
    rate: 0,
    hostConcurrency: 1,
    hostDelay: 0,
    timeouts: { connectMs: 2000, readMs: 5000, sessionMs: 15000 },
    retries: 0,
    ...over,
  });
}

async function waitReady(workers: WorkerProcess[]): Promise<void> {
  const t0 = Date.now();
  while (!workers.every((w) => w.log().includes('waiting for shard jobs'))) {
    if (Date.now() - t0 > 120_000) throw new Error('workers did not start within 120 s');
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Measure {
  workers: number;
  shards: number;
  addresses: number;
  seconds: number;
  open: number;
  probes: number;
}

async function measure(label: string, stored: StoredScanOptions, workerCount: number, shardCount: number, politeness = true): Promise<Measure> {
  const db = await createTestDatabase('medsurface_bench_dist');
  const prefix = `medsurface-bench-${process.pid}-${label}`;
  const workers = Array.from({ length: workerCount }, (_, i) =>
    spawnWorker(['--queue', queueUrl, '--db', db.url, '--queue-prefix', prefix, '--send-log-dir', path.join(tmp, 'sendlogs')], { name: `bench${i + 1}`, env }),
  );
  try {
    await waitReady(workers);
    const t0 = performance.now();
    const r = await runCoordinator({
      options: stored,
      queueUrl,
      dbUrl: db.url,
      prefix,
      shards: shardCount,
      pollMs: 100,
      quiet: true,
      ...(politeness ? {} : { netPrefix: { v4: 0, v6: 0 } }),
    });
    const seconds = (performance.now() - t0) / 1000;
    if (r.state !== 'completed') throw new Error(`${label}: run ${r.state}`);
    return { workers: workerCount, shards: shardCount, addresses: r.stats.targets, seconds, open: r.stats.open, probes: r.stats.probes };
  } finally {
    await Promise.all(workers.map((w) => stopWorker(w)));
    await deleteKeys(queueUrl, prefix);
    await db.drop();
  }
}

const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

// One live DICOM endpoint per /24 of the block (host .7), the other 255 addresses closed.
const live: DicomScpNode[] = [];
const profile = benchProfile();
for (let third = 0; third < 256; third++) {
  const ip = `127.${second}.${third}.7`;
  const node = new DicomScpNode({ name: `bench-${ip}`, ip, port: 104, profile });
  await node.start(1024);
  live.push(node);
}

try {
  process.stdout.write(`(a) ${block} x port 104: 65,536 addresses, ${live.length} live DICOM endpoints (one per /24); ${shards} shards; ${concurrency} hosts in parallel per worker\n`);
  const rows: Measure[] = [];
  for (const politeness of [true, false]) {
    process.stdout.write(politeness ? '    per-/24 politeness lock on (the default):\n' : '    politeness lock off (--net-prefix 0; 256 /24s are too few for it, see docs/distributed.md):\n');
    for (const w of workerCounts) {
      const r = await measure(`a${w}${politeness ? 'p' : 'n'}`, options([block]), w, shards, politeness);
      if (politeness) rows.push(r);
      process.stdout.write(
        `      ${w} worker(s): ${fmt(r.seconds, 1)} s, ${fmt(r.addresses / r.seconds)} addresses/s (${fmt(r.addresses / r.seconds / w)} per worker), ${r.open} open services\n`,
      );
    }
  }

  process.stdout.write(`(b) queue overhead: 1,024 closed addresses as 1 shard and as ${fmt(overheadShards)} shards, 1 worker\n`);
  const small = options([`127.${second}.200.0/22`], { concurrency: 64 });
  const one = await measure('b1', small, 1, 1);
  const many = await measure('bn', small, 1, overheadShards);
  const perShardMs = ((many.seconds - one.seconds) * 1000) / (overheadShards - 1);
  process.stdout.write(`    1 shard: ${fmt(one.seconds, 2)} s; ${fmt(overheadShards)} shards: ${fmt(many.seconds, 2)} s; overhead ${fmt(perShardMs, 1)} ms per shard\n`);

  process.stdout.write(`(c) application layer: the ${live.length} live endpoints only (full DICOM verdicts), 1 worker\n`);
  const verdicts = await measure('c1', options(live.map((n) => n.ip)), 1, 4);
  const servicesPerSecond = verdicts.open / verdicts.seconds;
  process.stdout.write(`    ${verdicts.open} services in ${fmt(verdicts.seconds, 1)} s: ${fmt(servicesPerSecond, 1)} services/s per worker\n`);

  // Paper extrapolation. Public IPv4: 2^32 minus the IANA special-purpose and reserved blocks
  // (0/8, 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12, 192.168/16, 224/4, 240/4, ...): about 3.7e9.
  const ipv4 = 3.7e9;
  const dicomPorts = 4; // 104, 2762, 4242, 11112
  const day = 86_400;
  const best = rows[0]!;
  const perWorker = best.addresses / best.seconds; // probes per second per worker (1 port)
  const probes = ipv4 * dicomPorts;
  process.stdout.write('paper extrapolation (IPv4, DICOM ports 104, 2762, 4242, 11112):\n');
  process.stdout.write(`    ${fmt(probes / 1e9, 1)}e9 probes; measured on loopback ${fmt(perWorker)} probes/s per worker (closed ports answer at once)\n`);
  process.stdout.write(`    at that rate: ${fmt(Math.ceil(probes / (perWorker * day)))} workers for a 24-hour sweep\n`);
  const timeoutS = 2;
  const silent = concurrency / timeoutS;
  process.stdout.write(
    `    internet reality: most addresses are silent and cost the ${timeoutS} s connect timeout, so a worker of ${concurrency} parallel hosts does about ${fmt(silent)} probes/s: ${fmt(Math.ceil(probes / (silent * day)))} workers, or ${fmt(Math.ceil(probes / ((4096 / timeoutS) * day)))} at 4,096 hosts in parallel\n`,
  );
  const openShare = 1e-4;
  process.stdout.write(
    `    with ZMap/masscan doing the stateless L4 sweep first (assume 1e-4 of probes open), the application-layer work is ${fmt(probes * openShare)} services: at the measured ${fmt(servicesPerSecond, 1)} services/s, ${fmt(Math.ceil((probes * openShare) / (servicesPerSecond * day)))} worker(s) for a day\n`,
  );
  process.stdout.write(
    `    queue overhead at the default 16,384 shards for the IPv4 space (${fmt(Math.ceil(ipv4 / 16_384))} addresses each): ${fmt((16_384 * perShardMs) / 1000, 0)} s of worker time in all\n`,
  );
} finally {
  await Promise.all(live.map((n) => n.stop()));
  rmSync(tmp, { recursive: true, force: true });
}
