/**
 * The coordinator of a distributed run (`medsurface scan ... --queue redis://... --db
 * postgres://...`): creates the run in the PostgreSQL inventory, cuts the scope into shards by
 * position in the run's permutation (shard i of n takes positions i, i+n, i+2n, ..., as ZMap's
 * --shards, so every shard spreads over every network), keeps their state in dist_shards,
 * enqueues one BullMQ job per shard (job id per run and shard: enqueueing twice adds nothing),
 * follows progress with an aggregate progress bar (targets across shards, shards by state,
 * progress.ts), and finishes the run when every shard is done. Internet mode's exclusions and
 * the opt-out list are reported before the first shard is enqueued; the workers enforce both.
 *
 * PostgreSQL is the truth, Redis only carries work in flight. A sentinel key per run tells the
 * coordinator when Redis lost its data (restarted empty): it re-enqueues every unfinished
 * shard from dist_shards, and workers resume them from their checkpoints. A reconciliation
 * pass also re-adds any single job that went missing and records jobs BullMQ gave up on
 * (attempts or stalls exhausted) as failed shards. Shards whose worker stopped sending
 * heartbeats are reported as stalled; BullMQ hands them to another worker once their lock
 * expires. Ctrl-C cancels the unfinished shards and records the run as interrupted; `--resume`
 * with the same --queue picks it up again.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { UsageError, messageOf } from '../core/errors.js';
import type { RunState } from '../core/types.js';
import { sleep } from '../engine/rate-limiter.js';
import type { RunStats } from '../engine/run-scan.js';
import { type Inventory, type KyselyInventory, isPostgresUrl } from '../inventory/index.js';
import { loadOptOutSet } from '../inventory/opt-out.js';
import { type IpSet, type TargetSet, combineExclusions, describeExclusions, exclusionCounts } from '../scope/index.js';
import { DEFAULT_NET_PREFIXES, type NetPrefixes } from './net-lock.js';
import { DEFAULT_PREFIX, QUEUE_NAME, checkPrefix, keys, parseQueueUrl, redisClient, shardJobId } from './redis.js';
import { openPgInventory } from './pg.js';
import { withRetry } from './retry.js';
import { makeDistributedProgress, shardCounts } from './progress.js';
import { optionsHash, prepareScan } from './scan-setup.js';
import { cancelShards, ensureShardTable, initShards, listShards, markShardFailed, reopenShards, shardDb } from './shard-store.js';
import { DistributedError, type ShardJob, type ShardRow, type StoredScanOptions, StoredScanOptionsSchema } from './types.js';

/** Most shards in one run (each is a job and a row; more buys nothing but overhead). */
export const MAX_SHARDS = 65_536;
/** Positions per shard the default aims at: a /14 of IPv4. */
const DEFAULT_SHARD_POSITIONS = 262_144;
/** Shards enqueued per BullMQ addBulk call. */
const ENQUEUE_CHUNK = 500;
/** Jobs whose state is checked per reconciliation pass. */
const RECONCILE_BATCH = 1000;

/** `--shards` default: at least 16 (spread over the workers), about one per /14 at scale, never more than the targets. */
export function defaultShardCount(targets: number): number {
  return Math.max(1, Math.min(targets, Math.max(16, Math.min(MAX_SHARDS, Math.ceil(targets / DEFAULT_SHARD_POSITIONS)))));
}

export interface CoordinatorOptions {
  /** The run's stored options (scan.ts buildStored) for a new run. */
  options?: StoredScanOptions;
  /** Re-attach to an unfinished distributed run (`scan --resume ID --queue ...`); the run keeps its options and shards. */
  resume?: string;
  queueUrl: string;
  dbUrl: string;
  /** Number of shards (default: defaultShardCount). */
  shards?: number;
  /** Key prefix in Redis (`--queue-prefix`), shared with the workers. */
  prefix?: string;
  /** Politeness networks (default /24 and /64; 0 turns the lock off for a family). */
  netPrefix?: NetPrefixes;
  /** Job attempts before BullMQ gives a shard up (each failure, not each stall). */
  attempts?: number;
  stderr?: NodeJS.WriteStream;
  quiet?: boolean;
  signal?: AbortSignal;
  onRunCreated?: (runId: string) => void | Promise<void>;
  /** Progress poll (ms). */
  pollMs?: number;
  /** Job reconciliation interval (ms). */
  reconcileMs?: number;
  /** A running shard without heartbeat for this long is reported as stalled (ms). */
  stallMs?: number;
  /** How long database reads are retried through an outage (ms). */
  dbRetryMs?: number;
}

export interface CoordinatorResult {
  runId: string;
  state: RunState;
  stats: RunStats;
  shards: ShardRow[];
  /** Shards put back into the queue because Redis had lost them. */
  reEnqueued: number;
  /** Stalled-shard reports printed. */
  stalled: number;
  /** Target addresses left out by internet mode and skipped for opt-out. */
  excluded: ExcludedStats;
  inventory: string;
}

/** Addresses each exclusion took out of the run: counted once at the start, plus what workers skipped as the opt-out list grew. */
export interface ExcludedStats {
  specialPurpose: number;
  optOut: number;
}

function aggregate(rows: ShardRow[], targets: number, startedAt: number): RunStats {
  const s: RunStats = { targets, hostsDone: 0, probes: 0, open: 0, findings: 0, startedAt, elapsedMs: Date.now() - startedAt };
  for (const r of rows) {
    // Progress counts positions (excluded addresses included), so the bar reaches its end.
    s.hostsDone += r.doneTargets;
    s.probes += r.stats.probes;
    s.open += r.stats.open;
    s.findings += r.stats.findings;
  }
  return s;
}

/** Hosts of the run's targets that had services before and answered nothing in this run (scan.ts's rule). */
async function unreachableHosts(inv: Inventory, runId: string, targets: TargetSet, exclude: IpSet): Promise<string[]> {
  const run = await inv.getRun(runId);
  if (!run) return [];
  const addresses = targets.addresses();
  return (await inv.listAssets({})).filter((a) => addresses.has(a.ip) && !exclude.has(a.ip) && a.lastSeen < run.startedAt).map((a) => a.ip);
}

export async function runCoordinator(opts: CoordinatorOptions): Promise<CoordinatorResult> {
  const target = parseQueueUrl(opts.queueUrl);
  const prefix = checkPrefix(opts.prefix ?? DEFAULT_PREFIX);
  if (!isPostgresUrl(opts.dbUrl)) {
    throw new DistributedError('distributed mode (--queue) needs the inventory in PostgreSQL: --db postgres://USER@HOST/DB, shared by the coordinator and every worker');
  }
  if ((opts.options === undefined) === (opts.resume === undefined)) throw new UsageError('runCoordinator: give either options (a new run) or resume (a run id)');
  if (opts.shards !== undefined && (!Number.isInteger(opts.shards) || opts.shards < 1 || opts.shards > MAX_SHARDS)) {
    throw new DistributedError(`--shards must be between 1 and ${MAX_SHARDS}`);
  }
  const stderr = opts.stderr ?? process.stderr;
  const say = (line: string) => {
    if (!opts.quiet) stderr.write(`medsurface: ${line}\n`);
  };
  const pollMs = opts.pollMs ?? 500;
  const reconcileMs = opts.reconcileMs ?? 5000;
  const stallMs = opts.stallMs ?? 60_000;
  const netPrefix = opts.netPrefix ?? DEFAULT_NET_PREFIXES;
  const attempts = opts.attempts ?? 8;
  const retry = <T>(fn: () => Promise<T>) =>
    withRetry(fn, { deadlineMs: opts.dbRetryMs ?? 120_000, onRetry: (err, n) => say(`database unavailable (${messageOf(err)}); retry ${n}`) });

  const inv: KyselyInventory = await openPgInventory(opts.dbUrl);
  let redis: Redis | null = null;
  let queue: Queue | null = null;
  try {
    const db = shardDb(inv.db);
    await ensureShardTable(db);

    // The run: new, or resumed with its own options and shards.
    let stored: StoredScanOptions;
    let runId: string;
    let shardCount: number;
    let resumed = false;
    if (opts.resume !== undefined) {
      const run = await inv.getRun(opts.resume);
      if (!run) throw new UsageError(`no scan run "${opts.resume}" in ${inv.location}`);
      if (run.state === 'completed') throw new UsageError(`run ${run.id} is already completed; nothing to resume`);
      const parsed = StoredScanOptionsSchema.safeParse(run.options);
      if (!parsed.success) throw new UsageError(`run ${run.id} has options this version cannot read`);
      stored = parsed.data;
      runId = run.id;
      resumed = true;
      const existing = await listShards(db, runId);
      shardCount = existing[0]?.count ?? opts.shards ?? 0;
    } else {
      stored = StoredScanOptionsSchema.parse(opts.options);
      runId = '';
      shardCount = opts.shards ?? 0;
    }
    // Redis first: a run is created only when its jobs can be enqueued.
    redis = redisClient(target, { blocking: false, name: 'medsurface-coordinator' });
    try {
      await redis.ping();
    } catch (err) {
      throw new DistributedError(`cannot reach Redis at ${target.display}: ${messageOf(err)}`, { cause: err });
    }
    const prep = await prepareScan(stored);
    const size = prep.targets.size;
    // What internet mode and the opt-outs leave out, said before the first shard is enqueued. The
    // workers enforce both themselves (they rebuild the exclusions and reload the opt-out list).
    const inventoryOptOuts = await retry(() => loadOptOutSet(inv));
    const startOptOuts = exclusionCounts(prep.targets.addresses(), combineExclusions(prep.exclusions.exclude, { internet: stored.internet, optOut: prep.exclusions.optOut.union(inventoryOptOuts) }));
    for (const line of describeExclusions(startOptOuts, { internet: stored.internet !== undefined, targets: size })) say(line);
    if (shardCount === 0) shardCount = defaultShardCount(size);
    shardCount = Math.max(1, Math.min(shardCount, Math.max(1, size)));

    if (!resumed) {
      const run = await inv.createRun({
        profile: stored.profile,
        targets: stored.targets,
        options: { ...stored, distributed: { shards: shardCount, netPrefix, queuePrefix: prefix } },
        totalTargets: size,
      });
      runId = run.id;
      await initShards(db, runId, shardCount, size);
    } else {
      await initShards(db, runId, shardCount, size);
      const reopened = await reopenShards(db, runId);
      if (reopened > 0) say(`run ${runId}: ${reopened} cancelled or failed shard(s) back in the queue`);
    }
    await opts.onRunCreated?.(runId);

    queue = new Queue(QUEUE_NAME, { connection: redis, prefix });
    const q = queue;
    const r = redis;
    const jobOf = (shard: number): ShardJob => ({
      runId,
      shard,
      count: shardCount,
      seed: stored.seed,
      optionsHash: optionsHash(stored),
      fingerprints: prep.fingerprints,
      netPrefix,
    });
    const jobOptions = (shard: number) => ({
      jobId: shardJobId(runId, shard),
      attempts,
      backoff: { type: 'exponential', delay: 2000 },
      removeOnComplete: true,
      removeOnFail: { age: 7 * 24 * 3600 },
    });
    const enqueue = async (shards: number[]): Promise<void> => {
      for (let i = 0; i < shards.length; i += ENQUEUE_CHUNK) {
        await q.addBulk(shards.slice(i, i + ENQUEUE_CHUNK).map((s) => ({ name: 'shard', data: jobOf(s), opts: jobOptions(s) })));
      }
      await r.set(keys.sentinel(prefix, runId), String(Date.now()));
    };

    const unfinished = (rows: ShardRow[]) => rows.filter((x) => x.state === 'pending' || x.state === 'running');
    let rows = await listShards(db, runId);
    if (resumed) {
      // Jobs of a previous attempt that ended (cancelled, failed) would block a re-add with the same id.
      for (const row of unfinished(rows)) {
        const state = await q.getJobState(shardJobId(runId, row.shard));
        if (state === 'failed' || state === 'completed') await q.remove(shardJobId(runId, row.shard));
      }
    }
    await enqueue(unfinished(rows).map((x) => x.shard));
    say(
      `run ${runId}: ${size} addresses in ${shardCount} shard(s) on ${target.display} (prefix ${prefix}); start workers with: medsurface worker --queue ${target.display} --db ${inv.location}${prefix === DEFAULT_PREFIX ? '' : ` --queue-prefix ${prefix}`}`,
    );

    const startedAt = Date.now();
    const progress = makeDistributedProgress(opts.quiet ? 'quiet' : 'auto', stderr);
    let reEnqueued = 0;
    const stalledSeen = new Set<string>();
    let lastReconcile = Date.now();
    let reconcileFrom = 0;
    let redisDownSince: number | null = null;
    let hinted = false;
    let aborted = false;
    const onAbort = () => {
      aborted = true;
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.signal?.aborted) aborted = true;

    try {
      for (;;) {
        rows = await retry(() => listShards(db, runId));
        progress.update(aggregate(rows, size, startedAt), shardCounts(rows, stallMs));
        const open = unfinished(rows);
        if (open.length === 0 || aborted) break;

        try {
          // Redis restarted empty (or the keys were deleted): PostgreSQL says what is left to do.
          if ((await r.exists(keys.sentinel(prefix, runId))) === 0) {
            say(`run ${runId}: the queue lost its jobs (Redis restarted empty?); re-enqueueing ${open.length} unfinished shard(s) from PostgreSQL`);
            await enqueue(open.map((x) => x.shard));
            reEnqueued += open.length;
          }
          if (redisDownSince !== null) say(`run ${runId}: Redis is reachable again`);
          redisDownSince = null;

          if (Date.now() - lastReconcile >= reconcileMs) {
            lastReconcile = Date.now();
            if (reconcileFrom >= open.length) reconcileFrom = 0;
            const batch = open.slice(reconcileFrom, reconcileFrom + RECONCILE_BATCH);
            reconcileFrom += RECONCILE_BATCH;
            const missing: number[] = [];
            for (const row of batch) {
              const id = shardJobId(runId, row.shard);
              const state = await q.getJobState(id);
              if (state === 'unknown') missing.push(row.shard);
              else if (state === 'failed') {
                const job = await q.getJob(id);
                const reason = job?.failedReason ?? 'failed in the queue';
                await retry(() => markShardFailed(db, runId, row.shard, reason));
                say(`run ${runId}: shard ${row.shard} failed: ${reason}`);
              } else if (state === 'completed') {
                // Completed without finishing (it was cancelled or lost under a worker): run it again.
                await q.remove(id);
                missing.push(row.shard);
              }
            }
            if (missing.length > 0) {
              say(`run ${runId}: ${missing.length} shard job(s) missing from the queue; re-enqueued`);
              await enqueue(missing);
              reEnqueued += missing.length;
            }
          }
        } catch (err) {
          redisDownSince ??= Date.now();
          if (Date.now() - redisDownSince >= 5000 && Date.now() - redisDownSince < 5000 + pollMs) {
            say(`run ${runId}: Redis at ${target.display} unreachable (${messageOf(err)}); workers keep their shards, waiting for it`);
          }
        }

        for (const row of open) {
          const key = `${row.shard}#${row.attempts}`;
          if (row.state === 'running' && row.heartbeatAgeMs !== null && row.heartbeatAgeMs > stallMs && !stalledSeen.has(key)) {
            stalledSeen.add(key);
            say(
              `run ${runId}: shard ${row.shard} stalled: no heartbeat from ${row.worker ?? 'its worker'} for ${Math.round(row.heartbeatAgeMs / 1000)} s; another worker takes it over once its lock expires`,
            );
          }
        }
        if (!hinted && Date.now() - startedAt > 30_000 && rows.every((x) => x.state === 'pending' && x.attempts === 0)) {
          hinted = true;
          say(`run ${runId}: no worker has taken a shard in 30 s; is a worker running with --queue ${target.display}${prefix === DEFAULT_PREFIX ? '' : ` --queue-prefix ${prefix}`}?`);
        }
        await sleep(pollMs);
      }
    } finally {
      progress.stop();
      opts.signal?.removeEventListener('abort', onAbort);
    }

    const failed = rows.filter((x) => x.state === 'failed');
    let state: RunState;
    let unreachable: string[] = [];
    if (aborted && unfinished(rows).length > 0) {
      state = 'interrupted';
      await retry(() => cancelShards(db, runId));
    } else if (failed.length > 0) {
      state = 'failed';
    } else {
      state = 'completed';
      unreachable = await retry(() => unreachableHosts(inv, runId, prep.targets, prep.exclude));
    }
    rows = await retry(() => listShards(db, runId));
    const stats = aggregate(rows, size, startedAt);
    stats.hostsDone = rows.reduce((n, x) => n + x.stats.hostsDone, 0);
    // The run's own opt-out ranges are left out when the sets are built; the inventory's list is skipped by the workers as they go.
    const excluded: ExcludedStats = {
      specialPurpose: prep.excluded.specialPurpose,
      optOut: prep.excluded.optOut + rows.reduce((n, x) => n + (x.stats.optedOut ?? 0), 0),
    };
    await retry(() =>
      inv.finishRun(runId, state, {
        stats: { ...stats, excluded, distributed: { shards: shardCount, reEnqueued, failedShards: failed.map((x) => ({ shard: x.shard, error: x.error })) } },
        unreachableHosts: unreachable,
      }),
    );
    // Jobs of this run left in the queue (cancelled ones waiting, failed ones kept by BullMQ) and its keys.
    await Promise.allSettled(rows.filter((x) => x.state !== 'done').map((x) => q.remove(shardJobId(runId, x.shard))));
    await r.del(keys.sentinel(prefix, runId), keys.rate(prefix, runId)).catch(() => 0);
    if (state === 'failed') {
      say(`run ${runId}: ${failed.length} shard(s) failed (${failed.slice(0, 3).map((x) => `shard ${x.shard}: ${x.error ?? 'unknown'}`).join('; ')}); resume with --resume ${runId} and the same --queue`);
    } else if (state === 'interrupted') {
      say(`run ${runId}: interrupted; resume with: medsurface scan --resume ${runId} --queue ${target.display} --db ${inv.location}`);
    }
    return { runId, state, stats, excluded, shards: rows, reEnqueued, stalled: stalledSeen.size, inventory: inv.location };
  } finally {
    await queue?.close().catch(() => {});
    redis?.disconnect();
    await inv.close();
  }
}
