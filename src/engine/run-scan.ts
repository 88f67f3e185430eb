/**
 * A scan run: a bounded pool of host workers over the pseudo-random target stream
 * (zgrab2: a bounded pool over a bounded queue), one writer for the results, periodic
 * checkpoints so an interrupted run can be resumed without scanning a finished host twice.
 */
import { isOpen } from '../core/status.js';
import type { RunState, ServiceRecord } from '../core/types.js';
import type { Inventory } from '../inventory/index.js';
import type { IpSet, TargetSet } from '../scope/index.js';
import { type ScanConfig, scanHost } from './scan-service.js';

export interface Checkpoint {
  seed: string;
  /** Every position below this one is finished. */
  resumeFrom: number;
  /** Finished positions at or above resumeFrom. */
  done: number[];
}

export interface RunStats {
  targets: number;
  hostsDone: number;
  probes: number;
  open: number;
  findings: number;
  startedAt: number;
  elapsedMs: number;
}

export interface RunScanOptions {
  targets: TargetSet;
  exclude?: IpSet;
  seed: bigint;
  config: ScanConfig;
  /** Hosts scanned in parallel. */
  concurrency: number;
  inventory?: Inventory;
  /** Writes a batch of records (default: inventory.recordServices); the CLI passes a writer thread. */
  writeRecords?: (runId: string, recs: ServiceRecord[]) => Promise<void>;
  runId?: string;
  resume?: Checkpoint;
  /** Called once per service record, in completion order, by the single writer. */
  onRecord?: (rec: ServiceRecord) => void;
  onProgress?: (stats: RunStats) => void;
  emitClosed?: boolean;
  checkpointEveryMs?: number;
}

export interface RunResult {
  state: RunState;
  stats: RunStats;
  checkpoint: Checkpoint;
}

export async function runScan(opts: RunScanOptions): Promise<RunResult> {
  const { targets, config } = opts;
  const started = Date.now();
  const stats: RunStats = {
    targets: targets.size,
    hostsDone: 0,
    probes: 0,
    open: 0,
    findings: 0,
    startedAt: started,
    elapsedMs: 0,
  };
  const skip = new Set(opts.resume?.done ?? []);
  const start = opts.resume?.resumeFrom ?? 0;
  const iter = targets.iterate({ seed: opts.seed, start, ...(opts.exclude ? { exclude: opts.exclude } : {}) });
  const inflight = new Set<number>();
  const done = new Set<number>(skip);
  let nextPosition = start;
  let exhausted = false;
  stats.hostsDone = skip.size + Math.min(start, targets.size);

  // The single writer: records are written in batches to the inventory; the output callback is synchronous.
  let pending: ServiceRecord[] = [];
  let writeChain: Promise<void> = Promise.resolve();
  let writeError: unknown = null;
  const inv = opts.inventory;
  const write = opts.writeRecords ?? (inv ? (runId: string, recs: ServiceRecord[]) => inv.recordServices(runId, recs) : null);
  const flush = () => {
    if (!write || !opts.runId || pending.length === 0) return writeChain;
    const batch = pending;
    pending = [];
    // Started now (a writer thread works in parallel), awaited in order.
    const done = write(opts.runId, batch).catch((err) => {
      writeError ??= err;
    });
    writeChain = writeChain.then(() => done);
    return writeChain;
  };

  const checkpoint = (): Checkpoint => {
    const low = inflight.size ? Math.min(...inflight) : nextPosition;
    for (const p of done) if (p < low) done.delete(p);
    return { seed: opts.seed.toString(), resumeFrom: low, done: [...done].sort((a, b) => a - b) };
  };
  let lastCheckpoint = Date.now();
  const saveCheckpoint = async () => {
    if (!opts.inventory || !opts.runId) return;
    await flush();
    const cp = checkpoint();
    stats.elapsedMs = Date.now() - started;
    await opts.inventory.saveCheckpoint(opts.runId, cp, stats.hostsDone, { ...stats });
  };

  const take = (): { position: number; target: { ip: string; hostname?: string } } | null => {
    if (exhausted || config.signal.aborted) return null;
    for (;;) {
      const n = iter.next();
      if (n.done) {
        exhausted = true;
        nextPosition = Number.MAX_SAFE_INTEGER;
        return null;
      }
      nextPosition = n.value.position + 1;
      if (skip.has(n.value.position)) continue;
      return n.value;
    }
  };

  const worker = async () => {
    for (;;) {
      const item = take();
      if (!item) return;
      inflight.add(item.position);
      const records = await scanHost(item.target, config);
      if (config.signal.aborted) {
        // Abandoned in flight: it stays in `inflight`, so the checkpoint resumes at or before it.
        return;
      }
      for (const rec of records) {
        stats.probes++;
        if (isOpen(rec.status)) {
          stats.open++;
          stats.findings += rec.findings.length;
          pending.push(rec);
        }
        if (isOpen(rec.status) || opts.emitClosed) opts.onRecord?.(rec);
      }
      inflight.delete(item.position);
      done.add(item.position);
      stats.hostsDone++;
      if (pending.length >= 250) void flush();
      if (Date.now() - lastCheckpoint > (opts.checkpointEveryMs ?? 2000)) {
        lastCheckpoint = Date.now();
        await saveCheckpoint();
      }
    }
  };

  const ticker = opts.onProgress
    ? setInterval(() => {
        stats.elapsedMs = Date.now() - started;
        opts.onProgress?.(stats);
      }, 250)
    : null;
  try {
    await Promise.all(Array.from({ length: Math.max(1, opts.concurrency) }, worker));
  } finally {
    if (ticker) clearInterval(ticker);
  }
  await flush();
  if (writeError) throw writeError;
  stats.elapsedMs = Date.now() - started;
  opts.onProgress?.(stats);
  const state: RunState = config.signal.aborted ? 'interrupted' : 'completed';
  const cp = state === 'completed' ? { seed: opts.seed.toString(), resumeFrom: targets.size, done: [] } : checkpoint();
  if (opts.inventory && opts.runId) await opts.inventory.saveCheckpoint(opts.runId, cp, stats.hostsDone, { ...stats });
  return { state, stats, checkpoint: cp };
}
