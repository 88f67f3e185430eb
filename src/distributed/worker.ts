/**
 * A distributed-mode worker (`medsurface worker`): takes shard jobs from BullMQ, scans each
 * shard with the engine's scanHost through runShard, writes the records into the PostgreSQL
 * inventory with recordServices, and keeps the shard's state and checkpoint in dist_shards.
 *
 * Safety holds in every worker: the scan configuration, the exclusion list and the authorised
 * scope are rebuilt here from the run's options as stored in PostgreSQL (a job whose options
 * differ from the stored ones is refused, so whoever can write to Redis cannot widen a scan),
 * the sets are checked against the coordinator's fingerprints, the global rate limit and the
 * per-network politeness lock live in Redis, and `medsurface stop --all` reaches workers too.
 * Internet mode's special-purpose exclusion is rebuilt here from the stored options, and the
 * opt-out list (the inventory's, plus this machine's `--opt-out-file`) is reloaded at every
 * shard start and every minute while the worker runs (opt-out-watch.ts).
 *
 * Failure handling: BullMQ's lock on the job (lockDuration, renewed while the processor runs)
 * and the PostgreSQL lease on the shard (same duration, renewed by a heartbeat) both lapse when
 * a worker dies, so the job is handed to another worker, which resumes from the checkpoint.
 * Writes are retried through short PostgreSQL outages. On SIGTERM a worker stops its shards,
 * saves their checkpoints and gives them back to the queue without spending an attempt.
 */
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import path from 'node:path';
import { DelayedError, type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { messageOf } from '../core/errors.js';
import type { ServiceRecord } from '../core/types.js';
import { sleep } from '../engine/rate-limiter.js';
import { SendLogFile } from '../engine/send-log.js';
import { type KyselyInventory, isPostgresUrl } from '../inventory/index.js';
import { defaultStopDir, watchStop } from '../monitor/stop.js';
import type { IpSet } from '../scope/index.js';
import { NetLocks } from './net-lock.js';
import { OPT_OUT_RELOAD_MS, OptOutWatch } from './opt-out-watch.js';
import { openPgInventory } from './pg.js';
import { SharedRateLimiter } from './rate.js';
import { DEFAULT_PREFIX, QUEUE_NAME, checkPrefix, keys, parseQueueUrl, redisClient } from './redis.js';
import { withRetry } from './retry.js';
import { type PreparedScan, assertSameSets, dataDir, optionsHash, prepareScan, scanConfigOf } from './scan-setup.js';
import { runShard } from './shard-runner.js';
import {
  type ClaimOutcome,
  claimShard,
  ensureShardTable,
  finishShard,
  releaseShard,
  renewLease,
  saveShardCheckpoint,
  shardDb,
} from './shard-store.js';
import { DistributedError, type ShardJob, ShardJobSchema, type StoredScanOptions, StoredScanOptionsSchema } from './types.js';

/** Default BullMQ lock and PostgreSQL lease: a dead worker's shard moves on within about this long. */
export const DEFAULT_LOCK_MS = 30_000;
/** How long writes are retried through a database outage before the shard's attempt fails. */
export const DEFAULT_DB_RETRY_MS = 120_000;

export interface WorkerOptions {
  queueUrl: string;
  dbUrl: string;
  prefix?: string;
  /** Hosts scanned in parallel (default: the run's --concurrency). */
  concurrency?: number;
  /** Shards worked on at once (default 1). */
  jobs?: number;
  /** Worker id in logs, locks and dist_shards (default host-pid). */
  name?: string;
  lockMs?: number;
  checkpointEveryMs?: number;
  dbRetryMs?: number;
  /** Addresses this worker never scans, on top of the run's exclusion list. */
  extraExclude?: IpSet;
  /** Opt-out lists of this machine, re-read with the inventory's opt-out list. */
  optOutFiles?: string[];
  /** How often the opt-out list is reloaded while the worker runs (ms, at most 60,000; tests use less). */
  optOutReloadMs?: number;
  /** Folder of the send logs (default beside the inventory data, as scan.ts). */
  sendLogDir?: string;
  /** Emergency-stop folder (`medsurface stop --all`); null: not watched. */
  stopDir?: string | null;
  log?: (line: string) => void;
}

export interface WorkerStats {
  shardsDone: number;
  shardsStarted: number;
  hosts: number;
  probes: number;
  open: number;
  netWaits: number;
  netWaitedMs: number;
  rateCalls: number;
  /** Addresses skipped because they were on the opt-out list when reached (finished shards). */
  optedOut: number;
}

export interface RunningWorker {
  readonly id: string;
  readonly stats: WorkerStats;
  /** Resolves when the worker has stopped (stop(), a signal, or an emergency stop). */
  readonly closed: Promise<void>;
  /** Stops taking jobs, stops the shards in hand (checkpointed, given back) and closes. */
  stop(): Promise<void>;
}

function workerId(name?: string): string {
  const id = name ?? `${hostname()}-${process.pid}`;
  if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$/.test(id)) {
    throw new DistributedError(`--name must be 1-100 letters, digits, '.', '_', '@' or '-' (got ${JSON.stringify(id.slice(0, 120))})`);
  }
  return id;
}

export async function startWorker(opts: WorkerOptions): Promise<RunningWorker> {
  const target = parseQueueUrl(opts.queueUrl);
  const prefix = checkPrefix(opts.prefix ?? DEFAULT_PREFIX);
  if (!isPostgresUrl(opts.dbUrl)) throw new DistributedError('--db must be a postgres:// URL: workers on several machines share one PostgreSQL inventory');
  const id = workerId(opts.name);
  const lockMs = opts.lockMs ?? DEFAULT_LOCK_MS;
  if (!Number.isInteger(lockMs) || lockMs < 1000) throw new DistributedError('--lock-duration must be at least 1000 ms');
  const jobs = opts.jobs ?? 1;
  if (!Number.isInteger(jobs) || jobs < 1) throw new DistributedError('--jobs must be at least 1');
  if (opts.concurrency !== undefined && (!Number.isInteger(opts.concurrency) || opts.concurrency < 1)) {
    throw new DistributedError('--concurrency must be at least 1');
  }
  const optOutReloadMs = opts.optOutReloadMs ?? OPT_OUT_RELOAD_MS;
  if (!Number.isInteger(optOutReloadMs) || optOutReloadMs < 100 || optOutReloadMs > OPT_OUT_RELOAD_MS) {
    throw new DistributedError(`the opt-out reload interval must be between 100 and ${OPT_OUT_RELOAD_MS} ms`);
  }
  const log = opts.log ?? ((line: string) => process.stderr.write(`medsurface worker ${id}: ${line}\n`));
  const dbRetryMs = opts.dbRetryMs ?? DEFAULT_DB_RETRY_MS;
  const checkpointEveryMs = opts.checkpointEveryMs ?? 2000;

  const inv: KyselyInventory = await openPgInventory(opts.dbUrl);
  const db = shardDb(inv.db);
  // The opt-out list, honoured by every worker itself: read once now (a bad file is a start-up error), then reloaded.
  const optOuts = new OptOutWatch(inv, { files: opts.optOutFiles ?? [], everyMs: optOutReloadMs, log });
  try {
    await ensureShardTable(db);
    await optOuts.reload();
  } catch (err) {
    await inv.close();
    throw err;
  }
  optOuts.start();
  const client: Redis = redisClient(target, { blocking: true, name: `medsurface-worker-${id}` });
  /** Politeness locks, one set per prefix pair a run asks for (usually one). */
  const netLocks = new Map<string, NetLocks>();
  const stats: WorkerStats = { shardsDone: 0, shardsStarted: 0, hosts: 0, probes: 0, open: 0, netWaits: 0, netWaitedMs: 0, rateCalls: 0, optedOut: 0 };
  const stopping = new AbortController();
  setMaxListeners(0, stopping.signal);
  const lockFor = (j: ShardJob): NetLocks => {
    const key = `${j.netPrefix.v4}/${j.netPrefix.v6}`;
    let locks = netLocks.get(key);
    if (!locks) {
      locks = new NetLocks(client, { prefix, owner: id, prefixes: j.netPrefix, ttlMs: lockMs });
      netLocks.set(key, locks);
    }
    return locks;
  };

  // One run's prepared sets at a time (a worker usually serves one run; building a /8's set is cheap, a vuln DB less so).
  let prepared: { runId: string; key: string; value: Promise<PreparedScan> } | null = null;
  const prepare = (runId: string, stored: StoredScanOptions): Promise<PreparedScan> => {
    const key = optionsHash(stored);
    if (prepared?.runId !== runId || prepared.key !== key) {
      const value = prepareScan(stored, opts.extraExclude ? { extraExclude: opts.extraExclude } : {});
      prepared = { runId, key, value };
      value.then(
        (p) => {
          if (stored.internet) log(`run ${runId}: internet mode: excluded ${p.excluded.specialPurpose} addresses: special-purpose`);
          if (p.excluded.optOut > 0) log(`run ${runId}: excluded ${p.excluded.optOut} addresses: opt-out ranges of the run`);
        },
        () => {},
      );
      value.catch(() => {
        if (prepared?.value === value) prepared = null;
      });
    }
    return prepared.value;
  };

  const retry = <T>(fn: () => Promise<T>, what: string) =>
    withRetry(fn, { deadlineMs: dbRetryMs, onRetry: (err, n, wait) => log(`${what}: database unavailable (${messageOf(err)}); retry ${n} in ${wait} ms`) });

  /** The run's stored options, checked, and the job's claim to them. */
  const loadRun = async (j: ShardJob): Promise<StoredScanOptions> => {
    const run = await retry(() => inv.getRun(j.runId), 'reading the run');
    if (!run) throw new UnrecoverableError(`run ${j.runId} is not in the inventory at ${inv.location}: coordinator and workers must share one --db`);
    const parsed = StoredScanOptionsSchema.safeParse(run.options);
    if (!parsed.success) throw new UnrecoverableError(`run ${j.runId} has options this worker cannot read: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    // The politeness prefixes and the shard count are the coordinator's, recorded with the run.
    const dist = (run.options as { distributed?: { shards?: unknown; netPrefix?: { v4?: unknown; v6?: unknown } } }).distributed;
    const sameDist = dist !== undefined && dist.shards === j.count && dist.netPrefix?.v4 === j.netPrefix.v4 && dist.netPrefix?.v6 === j.netPrefix.v6;
    if (optionsHash(parsed.data) !== j.optionsHash || parsed.data.seed !== j.seed || !sameDist) {
      throw new UnrecoverableError(`shard job ${j.runId}/${j.shard} carries options that differ from the run's stored options: refused`);
    }
    return parsed.data;
  };

  const processJob = async (job: Job, token?: string): Promise<Record<string, unknown>> => {
    const parsed = ShardJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`malformed shard job ${job.id}: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`);
    const j = parsed.data;
    if (j.shard >= j.count) throw new UnrecoverableError(`malformed shard job ${job.id}: shard ${j.shard} of ${j.count}`);
    const label = `shard ${j.shard}/${j.count} of ${j.runId}`;
    const stored = await loadRun(j);
    const claimToken = `${id}#${randomBytes(4).toString('hex')}`;

    let claim: ClaimOutcome;
    for (;;) {
      claim = await retry(() => claimShard(db, j.runId, j.shard, claimToken, lockMs), 'claiming a shard');
      if (claim.outcome !== 'busy') break;
      // Another worker still holds the shard's lease (a job handed over before the lease lapsed): wait for it.
      if (stopping.signal.aborted) {
        await job.moveToDelayed(Date.now() + 1000, token);
        throw new DelayedError();
      }
      await sleep(Math.min(1000, lockMs / 4), stopping.signal);
    }
    if (claim.outcome !== 'claimed') return { shard: j.shard, skipped: claim.outcome };
    const row = claim.row;
    if (row.count !== j.count) {
      await retry(() => releaseShard(db, j.runId, j.shard, claimToken, 'pending'), 'giving a shard back');
      throw new UnrecoverableError(`shard job ${j.runId}/${j.shard} says ${j.count} shards, the run has ${row.count}: refused`);
    }
    stats.shardsStarted++;
    log(`${label}: claimed (attempt ${row.attempts}${row.checkpoint ? `, resuming at position ${row.checkpoint.resumeFrom}` : ''})`);

    const shardStop = new AbortController();
    // Every in-flight connection listens for the abort: thousands of listeners are expected (as scan.ts).
    setMaxListeners(0, shardStop.signal);
    let why: 'stopping' | 'lost' | 'cancelled' | null = null;
    const end = (reason: 'stopping' | 'lost' | 'cancelled') => {
      why ??= reason;
      shardStop.abort();
    };
    const onStopping = () => end('stopping');
    stopping.signal.addEventListener('abort', onStopping, { once: true });
    if (stopping.signal.aborted) end('stopping');
    const heartbeat = setInterval(() => {
      renewLease(db, j.runId, j.shard, claimToken, lockMs).then(
        (s) => {
          if (s !== 'ok') end(s);
        },
        () => {
          /* database unavailable: the lease may lapse; the checkpoint write will tell */
        },
      );
    }, Math.max(250, Math.floor(lockMs / 3)));
    heartbeat.unref();

    let sendLog: SendLogFile | null = null;
    try {
      const prep = await prepare(j.runId, stored);
      assertSameSets(j.fingerprints, prep.fingerprints, stored);
      // The opt-out list as it stands now; reloaded every optOutReloadMs while the shard runs.
      await retry(() => optOuts.reload(), 'loading the opt-out list');
      sendLog = new SendLogFile(path.join(opts.sendLogDir ?? dataDir(), 'runs', `${j.runId}.${id}.sendlog.jsonl`));
      const rate = stored.rate > 0 ? new SharedRateLimiter(client, keys.rate(prefix, j.runId), stored.rate) : null;
      const locks = lockFor(j);
      const result = await runShard({
        targets: prep.targets,
        exclude: prep.exclude,
        seed: BigInt(stored.seed),
        shard: { index: j.shard, count: j.count },
        config: scanConfigOf(prep, { signal: shardStop.signal, rate, sendLog: sendLog.log, optOut: optOuts }),
        concurrency: opts.concurrency ?? stored.concurrency,
        resume: row.checkpoint,
        stats: row.stats,
        write: (recs: ServiceRecord[]) => retry(() => inv.recordServices(j.runId, recs), 'writing results'),
        saveProgress: async (p) => {
          const s = await retry(() => saveShardCheckpoint(db, j.runId, j.shard, claimToken, lockMs, p), 'saving a checkpoint');
          if (s !== 'ok') end(s);
        },
        checkpointEveryMs,
        aroundHost: (ip, scan) => locks.hold(ip, shardStop.signal, scan),
        onRecord: () => {
          stats.probes++;
        },
        skip: (ip) => optOuts.has(ip),
      });
      if (rate) stats.rateCalls += rate.calls;
      stats.netWaits = locks.stats.waits;
      stats.netWaitedMs = locks.stats.waitedMs;
      if (result.state === 'completed') {
        const finished = await retry(() => finishShard(db, j.runId, j.shard, claimToken, result.progress.stats), 'finishing a shard');
        if (!finished) {
          log(`${label}: finished, but the shard was taken over or cancelled meanwhile; its results are written all the same`);
          return { shard: j.shard, skipped: 'lost' };
        }
        stats.shardsDone++;
        stats.hosts += result.progress.stats.hostsDone - row.stats.hostsDone;
        stats.open += result.progress.stats.open - row.stats.open;
        stats.optedOut += (result.progress.stats.optedOut ?? 0) - (row.stats.optedOut ?? 0);
        const skipped = result.progress.stats.optedOut ? `, ${result.progress.stats.optedOut} skipped: opt-out` : '';
        log(`${label}: done (${result.progress.stats.hostsDone} hosts, ${result.progress.stats.open} open services${skipped})`);
        return { shard: j.shard, ...result.progress.stats };
      }
      if (why === 'stopping') {
        await retry(() => releaseShard(db, j.runId, j.shard, claimToken, 'pending'), 'giving a shard back');
        log(`${label}: stopped at position ${result.progress.checkpoint.resumeFrom}; given back to the queue`);
        await job.moveToDelayed(Date.now() + 1000, token);
        throw new DelayedError();
      }
      log(`${label}: ${why === 'cancelled' ? 'cancelled by the coordinator' : 'lease lost (another worker has taken the shard over)'}`);
      return { shard: j.shard, skipped: why ?? 'interrupted' };
    } catch (err) {
      if (err instanceof DelayedError) throw err;
      const attempts = job.opts.attempts ?? 1;
      const last = err instanceof UnrecoverableError || err instanceof DistributedError || job.attemptsMade + 1 >= attempts;
      log(`${label}: failed (${messageOf(err)})${last ? '' : '; BullMQ will retry it'}`);
      await releaseShard(db, j.runId, j.shard, claimToken, last ? 'failed' : 'pending', messageOf(err)).catch(() => {});
      if (err instanceof DistributedError) throw new UnrecoverableError(err.message);
      throw err;
    } finally {
      clearInterval(heartbeat);
      stopping.signal.removeEventListener('abort', onStopping);
      await sendLog?.close();
    }
  };

  const bull = new Worker(QUEUE_NAME, processJob, {
    connection: client,
    prefix,
    concurrency: jobs,
    lockDuration: lockMs,
    stalledInterval: lockMs,
    maxStalledCount: 5,
    name: id,
    autorun: true,
  });
  // Redis going away, a lock renewal lost to a restart: reported, never fatal.
  bull.on('error', (err) => log(`queue: ${messageOf(err)}`));
  bull.on('stalled', (jobId) => log(`job ${jobId} stalled (its worker stopped renewing the lock); it goes back to the queue`));

  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => {
    resolveClosed = r;
  });
  let stopPromise: Promise<void> | null = null;
  const stopDir = opts.stopDir === undefined ? defaultStopDir() : opts.stopDir;
  const unwatch = stopDir
    ? watchStop(stopDir, () => {
        log('emergency stop requested (medsurface stop --all): stopping');
        void stop();
      })
    : null;
  const stop = (): Promise<void> => {
    stopPromise ??= (async () => {
      unwatch?.();
      optOuts.stop();
      stopping.abort();
      await bull.close().catch((err) => log(`closing the queue: ${messageOf(err)}`));
      for (const l of netLocks.values()) l.close();
      client.disconnect();
      await inv.close();
      resolveClosed();
    })();
    return stopPromise;
  };
  log(`waiting for shard jobs on ${target.display} (prefix ${prefix}, ${jobs} at a time, lock ${lockMs} ms)`);
  return { id, stats, closed, stop };
}
