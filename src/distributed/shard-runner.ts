/**
 * Scans one shard: the positions i of the run's permutation with i % count === shard (as
 * ZMap's --shards), through a bounded pool of host scans that call the engine's scanHost (the
 * one scan function the CLI uses), one writer for the records, and checkpoints of the same
 * shape as the engine's (run-scan.ts) over global positions.
 *
 * It is runScan's loop with what a shard needs and a single machine does not: the shard's
 * positions, a wrapper around each host scan (the per-network lock), checkpoints kept in
 * dist_shards instead of the run row, and the invariant that makes retries safe: a checkpoint
 * is saved only after every record of the hosts it covers is written, so a shard retried from
 * its checkpoint rescans at most the hosts after it, and the inventory's upserts (one
 * observation per run and service, one finding per service and check) absorb the rewrite.
 */
import { ScopeError } from '../core/errors.js';
import { isOpen } from '../core/status.js';
import type { ServiceRecord } from '../core/types.js';
import { type ScanConfig, scanHost } from '../engine/scan-service.js';
import type { IpSet, TargetSet } from '../scope/index.js';
import { doneFromCheckpoint } from './shard-store.js';
import type { ShardCheckpoint, ShardStats } from './types.js';

/** Open records buffered before a write (the engine's batch size). */
const WRITE_BATCH = 250;

export interface ShardProgress {
  checkpoint: ShardCheckpoint;
  doneTargets: number;
  stats: ShardStats;
}

export interface ShardRunOptions {
  targets: TargetSet;
  exclude: IpSet;
  seed: bigint;
  shard: { index: number; count: number };
  config: ScanConfig;
  /** Hosts scanned in parallel. */
  concurrency: number;
  resume: ShardCheckpoint | null;
  /** Counters saved with the checkpoint resumed from. */
  stats: ShardStats;
  /** Writes one batch of open records (retrying through short database outages). */
  write: (recs: ServiceRecord[]) => Promise<void>;
  /** Persists progress; called with nothing in flight that it claims done. */
  saveProgress: (p: ShardProgress) => Promise<void>;
  checkpointEveryMs: number;
  /** Wraps each host scan (the per-network lock); null means the host was not scanned (aborted while waiting). */
  aroundHost?: (ip: string, scan: () => Promise<ServiceRecord[]>) => Promise<ServiceRecord[] | null>;
  /** Every record, open or not, as it completes. */
  onRecord?: (rec: ServiceRecord) => void;
  /**
   * Addresses that joined the exclusions after the shard started (the reloaded opt-out list):
   * skipped when the shard reaches them, and a host in flight whose connection the scope guard
   * refuses for that reason ends without records. Both count in `stats.optedOut`.
   */
  skip?: (ip: string) => boolean;
}

export interface ShardRunResult {
  state: 'completed' | 'interrupted';
  progress: ShardProgress;
}

export async function runShard(opts: ShardRunOptions): Promise<ShardRunResult> {
  const { targets, config, shard } = opts;
  const stats: ShardStats = { ...opts.stats };
  const seed = opts.seed.toString();
  const skip = new Set(opts.resume?.done ?? []);
  const start = opts.resume?.resumeFrom ?? 0;
  const iter = targets.iterate({ seed: opts.seed, start, shard, exclude: opts.exclude });
  const inflight = new Set<number>();
  const done = new Set<number>(skip);
  let nextPosition = start;
  let exhausted = false;
  let failure: unknown = null;

  let pending: ServiceRecord[] = [];
  let writeChain: Promise<void> = Promise.resolve();
  const flush = (): Promise<void> => {
    if (pending.length === 0) return writeChain;
    const batch = pending;
    pending = [];
    writeChain = writeChain.then(() =>
      opts.write(batch).catch((err) => {
        failure ??= err;
      }),
    );
    return writeChain;
  };

  const snapshot = (): ShardProgress => {
    const low = inflight.size ? Math.min(...inflight) : nextPosition;
    for (const p of done) if (p < low) done.delete(p);
    const checkpoint = { seed, resumeFrom: Math.min(low, targets.size), done: [...done].sort((a, b) => a - b) };
    return { checkpoint, doneTargets: doneFromCheckpoint(checkpoint, shard.index, shard.count, targets.size), stats: { ...stats } };
  };

  let lastCheckpoint = Date.now();
  let saving: Promise<void> | null = null;
  const save = async (): Promise<void> => {
    // The snapshot covers only hosts whose records are in `pending` now: write those, then save it.
    const p = snapshot();
    await flush();
    if (failure) return;
    try {
      await opts.saveProgress(p);
    } catch (err) {
      failure ??= err;
    }
  };

  const take = (): { position: number; target: { ip: string; hostname?: string } } | null => {
    if (exhausted || config.signal.aborted || failure) return null;
    for (;;) {
      const n = iter.next();
      if (n.done) {
        exhausted = true;
        nextPosition = targets.size;
        return null;
      }
      nextPosition = n.value.position + 1;
      if (skip.has(n.value.position)) continue;
      if (opts.skip?.(n.value.target.ip)) {
        stats.optedOut = (stats.optedOut ?? 0) + 1;
        continue;
      }
      return n.value;
    }
  };

  /** A host scan that the live exclusion stopped midway gives no records (nothing more is sent to it). */
  const scanOrSkip = async (target: { ip: string; hostname?: string }): Promise<ServiceRecord[] | 'skipped'> => {
    try {
      return await scanHost(target, config);
    } catch (err) {
      if (err instanceof ScopeError && opts.skip?.(target.ip)) return 'skipped';
      throw err;
    }
  };

  const worker = async () => {
    for (;;) {
      const item = take();
      if (!item) return;
      inflight.add(item.position);
      let optedOut = false;
      const scan = async () => {
        const r = await scanOrSkip(item.target);
        if (r !== 'skipped') return r;
        optedOut = true;
        return [];
      };
      const records = opts.aroundHost ? await opts.aroundHost(item.target.ip, scan) : await scan();
      // Abandoned in flight: it stays in `inflight`, so the checkpoint resumes at or before it.
      if (records === null || config.signal.aborted) return;
      if (optedOut) {
        stats.optedOut = (stats.optedOut ?? 0) + 1;
        inflight.delete(item.position);
        done.add(item.position);
        continue;
      }
      for (const rec of records) {
        stats.probes++;
        if (isOpen(rec.status)) {
          stats.open++;
          stats.findings += rec.findings.length;
          pending.push(rec);
        }
        opts.onRecord?.(rec);
      }
      inflight.delete(item.position);
      done.add(item.position);
      stats.hostsDone++;
      if (pending.length >= WRITE_BATCH) void flush();
      if (!saving && Date.now() - lastCheckpoint > opts.checkpointEveryMs) {
        lastCheckpoint = Date.now();
        saving = save().finally(() => {
          saving = null;
        });
      }
    }
  };

  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency) }, worker));
  await saving;
  await flush();
  if (failure) throw failure;
  const state = config.signal.aborted ? 'interrupted' : 'completed';
  if (state === 'completed') {
    const checkpoint = { seed, resumeFrom: targets.size, done: [] };
    return { state, progress: { checkpoint, doneTargets: doneFromCheckpoint(checkpoint, shard.index, shard.count, targets.size), stats } };
  }
  // Interrupted: everything finished is written; the last progress covers it.
  const progress = snapshot();
  await opts.saveProgress(progress);
  return { state, progress };
}
