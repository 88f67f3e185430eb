/**
 * Shapes of distributed mode, in one place: the stored scan options as a run records them
 * (scan.ts builds them; a worker reads them back from PostgreSQL and checks them with this
 * schema before it scans anything), the shard job carried by BullMQ, the per-shard state kept
 * in PostgreSQL (dist_shards) and the error classes.
 *
 * Everything a worker takes from Redis is parsed here: Redis is shared infrastructure, and a
 * malformed or forged job must fail with a clear message, never reach a connect.
 */
import { z } from 'zod';
import { UsageError } from '../core/errors.js';
import { PROFILES } from '../core/types.js';

/** Longest list of target specs, exclusions or probes a stored run may carry (user input, bounded). */
const MAX_SPECS = 100_000;
const text = (max = 4096) => z.string().max(max);

/**
 * What a run stores so that it can be rebuilt exactly (scan.ts `StoredScanOptions`): the same
 * object drives the single-machine engine and every worker.
 */
export const StoredScanOptionsSchema = z.object({
  targets: z.array(text()).max(MAX_SPECS),
  ports: z.array(z.number().int().min(1).max(65535)).min(1).max(65535),
  probes: z.array(text(64)).max(64),
  profile: z.enum(PROFILES),
  exclude: z.array(text()).max(MAX_SPECS),
  excludeFile: z.array(text()).max(1000),
  scope: text().optional(),
  resolver: text(300).optional(),
  callingAe: text(16).optional(),
  dicomTls: z.boolean(),
  contact: text(300).optional(),
  seed: z.string().regex(/^\d{1,40}$/),
  concurrency: z.number().int().min(1).max(1_000_000),
  rate: z.number().min(0).max(100_000_000),
  hostConcurrency: z.number().int().min(1).max(65535),
  hostDelay: z.number().int().min(0).max(3_600_000),
  timeouts: z.object({
    connectMs: z.number().int().min(1).max(3_600_000),
    readMs: z.number().int().min(1).max(3_600_000),
    sessionMs: z.number().int().min(1).max(3_600_000),
  }),
  retries: z.number().int().min(0).max(100),
  credentials: z
    .object({ enabled: z.boolean(), budget: z.number().int().min(0).max(100), delayMs: z.number().int().min(0), weak: z.boolean() })
    .optional(),
  attribution: z.object({ geoip: z.array(text()).max(100), asn: z.array(text()).max(100), orgs: text().optional() }).optional(),
  /** Internet mode (`--internet`): special-purpose blocks excluded, but for `--allow-special` ranges; needs `contact`. */
  internet: z.object({ allowSpecial: z.array(text(64)).max(1000) }).optional(),
  /** Ranges of the coordinator's `--opt-out-file`, read when the run was created (workers add the inventory's list). */
  optOut: z.array(text(100)).max(MAX_SPECS).optional(),
});
export type StoredScanOptions = z.infer<typeof StoredScanOptionsSchema>;

/** Hashes of the sets the coordinator built, so a worker that rebuilds different ones refuses to scan. */
export const SetFingerprintsSchema = z.object({
  /** Addresses in the target set: positions must mean the same address everywhere. */
  targetCount: z.number().int().min(0),
  targets: z.string().regex(/^[0-9a-f]{64}$/),
  exclude: z.string().regex(/^[0-9a-f]{64}$/),
  scope: z.string().regex(/^[0-9a-f]{64}$/).nullable(),
});
export type SetFingerprints = z.infer<typeof SetFingerprintsSchema>;

/** One BullMQ job: shard `shard` of `count` of a run (positions i with i % count === shard). */
export const ShardJobSchema = z.object({
  runId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/),
  shard: z.number().int().min(0),
  count: z.number().int().min(1).max(1_000_000),
  seed: z.string().regex(/^\d{1,40}$/),
  /**
   * SHA-256 of the run's stored options (canonical JSON). The worker scans with the options
   * stored in PostgreSQL and refuses a job whose hash differs; the options themselves stay out
   * of Redis (a port list can be 64 Ki numbers, times thousands of shards).
   */
  optionsHash: z.string().regex(/^[0-9a-f]{64}$/),
  fingerprints: SetFingerprintsSchema,
  /** Politeness: prefix length of the destination networks no two workers share (0: off). */
  netPrefix: z.object({ v4: z.number().int().min(0).max(32), v6: z.number().int().min(0).max(128) }),
});
export type ShardJob = z.infer<typeof ShardJobSchema>;

export const SHARD_STATES = ['pending', 'running', 'done', 'failed', 'cancelled'] as const;
export type ShardState = (typeof SHARD_STATES)[number];

/** Counters a shard keeps (summed by the coordinator into the run's stats). */
export interface ShardStats {
  /** Hosts scanned (excluded addresses are skipped, not scanned). */
  hostsDone: number;
  probes: number;
  open: number;
  findings: number;
  /** Positions skipped because their address was on the opt-out list when the shard reached them. */
  optedOut?: number;
}

export const EMPTY_SHARD_STATS: ShardStats = { hostsDone: 0, probes: 0, open: 0, findings: 0 };

/** Where a shard stands (one dist_shards row). */
export interface ShardRow {
  runId: string;
  shard: number;
  count: number;
  state: ShardState;
  attempts: number;
  /** Positions of the permutation that belong to this shard. */
  totalTargets: number;
  /** Positions finished (scanned, or skipped as excluded). */
  doneTargets: number;
  checkpoint: ShardCheckpoint | null;
  stats: ShardStats;
  worker: string | null;
  /** Milliseconds since the worker's last heartbeat (database clock), null when none. */
  heartbeatAgeMs: number | null;
  /** True when the worker's lease has expired (database clock). */
  leaseExpired: boolean;
  error: string | null;
}

/** The engine's checkpoint shape (run-scan.ts Checkpoint), over global permutation positions. */
export const ShardCheckpointSchema = z.object({
  seed: z.string(),
  resumeFrom: z.number().int().min(0),
  done: z.array(z.number().int().min(0)).max(1_000_000),
});
export type ShardCheckpoint = z.infer<typeof ShardCheckpointSchema>;

/** Distributed mode was set up wrongly (bad URL, no PostgreSQL, a worker whose lists differ): the user's to fix. */
export class DistributedError extends UsageError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DistributedError';
  }
}
