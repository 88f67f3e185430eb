/**
 * The shapes of `medsurface monitor`, in one place: a parsed job, its rules of engagement, the
 * state kept per job (in the inventory's monitor_jobs table), and the dependencies the Monitor
 * is given instead of importing them (the scan engine, the inventory, the alert sinks), so the
 * scheduler can be tested with a fake clock and in-memory state and wired later by the CLI.
 */
import type { Profile } from '../core/types.js';

/** A point in time written in the config: a wall-clock time in the job's zone, or an instant (it had `Z` or an offset). */
export type TimePoint = { kind: 'local'; wallMs: number } | { kind: 'instant'; ms: number };

/** `Mon-Fri 19:00-06:00`, `daily 07:30-08:30`: a weekly recurring interval of wall-clock time. */
export interface RecurringSpan {
  kind: 'recurring';
  source: string;
  /** Index 0 = Sunday. The day a span starts on (a span that crosses midnight ends the next day). */
  days: readonly boolean[];
  /** Minutes after local midnight, start inclusive, end exclusive; end may be 1440 (24:00). end < start crosses midnight. */
  startMin: number;
  endMin: number;
}

/** `2026-12-24 00:00/2026-12-27 00:00`: one interval, start inclusive, end exclusive. */
export interface AbsoluteSpan {
  kind: 'absolute';
  source: string;
  from: TimePoint;
  to: TimePoint;
}

export type Span = RecurringSpan | AbsoluteSpan;

/** Who approved scanning this job's scope, and until when (exclusive). */
export interface Authorisation {
  approvedBy: string;
  reference: string | null;
  /** The written value, for messages. */
  untilText: string;
  /** The first moment the authorisation no longer covers (a date alone covers that whole local day). */
  until: TimePoint;
}

/** One job of monitor.yaml, validated and compiled. This is what RunJob receives. */
export interface JobConfig {
  name: string;
  /** Target specs exactly as `medsurface scan` takes them. */
  targets: string[];
  exclude: string[];
  /** Absent: the probes' default ports. */
  ports: number[] | null;
  profile: Profile;
  schedule: string;
  /** IANA zone (canonical spelling) for the schedule, windows, blackouts and authorisation dates. */
  timezone: string;
  jitterMs: number;
  /** Empty: any time (blackouts and authorisation still apply). */
  windows: RecurringSpan[];
  blackouts: Span[];
  /** null: none recorded, so the job never runs. */
  authorisation: Authorisation | null;
  /** Names of alert sinks (resolved by the alerts module). */
  alerts: string[];
}

export interface MonitorConfig {
  /** The inventory location from the file; the CLI's --db wins. */
  inventory: string | null;
  timezone: string;
  jobs: JobConfig[];
  /** Passed through unparsed: the alerts module owns its shape. */
  sinks: unknown;
}

/** Why a job may not run now. */
export const BLOCK_REASONS = ['authorisation-missing', 'authorisation-expired', 'blackout', 'outside-window'] as const;
export type BlockReason = (typeof BLOCK_REASONS)[number];

export type Verdict = { allowed: true; reason: 'allowed'; detail: string } | { allowed: false; reason: BlockReason; detail: string };

/** Why a scheduled fire did not start a run. */
export type SkipReason = BlockReason | 'overlap' | 'emergency-hold' | 'stopping' | 'store-error';

/** Why the monitor asked a running scan to stop. */
export type InterruptReason = BlockReason | 'emergency-stop' | 'monitor-stopping' | 'lease-lost';

export type RunState = 'completed' | 'interrupted' | 'failed';

/**
 * What the inventory keeps per job. `lastFinishedAt` is the time the job's last fire was
 * settled: a run finished, or the fire was skipped by a rule (then `state` is `skipped-<reason>`
 * and `lastRunId` keeps the previous run). `runningRunId` is set by markStarted and cleared by
 * release: if it is set while nobody holds a live lease, the process running it died.
 */
export interface JobState {
  lastStartedAt: Date | null;
  lastFinishedAt: Date | null;
  lastRunId: string | null;
  runningRunId: string | null;
  lockOwner: string | null;
  lockUntil: Date | null;
  state: string | null;
}

/**
 * Per-job state and a lease, shared by every monitor process that uses the same inventory.
 * The lead implements it over monitor_jobs (see MemoryJobStateStore for the exact semantics,
 * each method documents the SQL it corresponds to).
 */
export interface JobStateStore {
  /** Takes the lease when nobody holds it or the holder's lease has run out (lockUntil < now); false otherwise. */
  acquire(job: string, owner: string, leaseMs: number, now: Date): Promise<boolean>;
  /** Extends our lease; throws LeaseLostError when another owner holds it. */
  renew(job: string, owner: string, leaseMs: number, now: Date): Promise<void>;
  /**
   * Records how the fire was settled and drops the lease. runId null = no run took place
   * (a skip): lastRunId is kept. Throws LeaseLostError when another owner holds the lease.
   */
  release(job: string, owner: string, result: { runId: string | null; finishedAt: Date; state: string }): Promise<void>;
  get(job: string): Promise<JobState | null>;
  /** The engine created its run: lastStartedAt and runningRunId. Throws LeaseLostError when we lost the lease. */
  markStarted(job: string, owner: string, runId: string, at: Date): Promise<void>;
}

/** Handed to RunJob beside the job and the abort signal. */
export interface RunContext {
  /** The cron fire this run settles. */
  scheduledAt: Date;
  /** The job's state before this run (e.g. `state: 'interrupted'` with lastRunId: the engine may resume it). */
  previous: JobState | null;
  /**
   * The engine calls this once it has created its run record, so the run id is in the job
   * state while it runs (crash recovery, `stop --all` listings). Never throws.
   */
  onStarted(runId: string): Promise<void>;
}

/**
 * Runs one scan of the job. Must stop promptly when `signal` aborts and then return
 * `interrupted` (an interrupted run resolves nothing and can be resumed). Throwing counts as `failed`.
 */
export type RunJob = (job: JobConfig, signal: AbortSignal, context: RunContext) => Promise<{ runId: string; state: RunState }>;

export interface RunResult {
  runId: string | null;
  state: RunState;
  scheduledAt: Date;
  startedAt: Date;
  finishedAt: Date;
  /** Set when the monitor asked the scan to stop. */
  interruptedBy: InterruptReason | null;
}

/** Called after each run (not after skips): the lead computes the diff and enqueues alerts here. */
export type OnRunFinished = (job: JobConfig, result: RunResult) => Promise<void>;

/** The time source: real for the CLI, manual in tests (src/monitor/clock.ts). */
export interface Clock {
  now(): Date;
  /** Resolves after ms, or early (without throwing) when signal aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * One structured log record. Only job names, times, run ids, reasons and rule texts:
 * no targets, no addresses, no observed values.
 */
export interface MonitorLogEntry {
  level: LogLevel;
  event:
    | 'scheduled'
    | 'not-due'
    | 'skipped'
    | 'stale-lease'
    | 'run-started'
    | 'run-id'
    | 'abort-requested'
    | 'run-finished'
    | 'run-failed'
    | 'lease-lost'
    | 'store-error'
    | 'hook-failed'
    | 'stopped';
  at: string;
  job?: string;
  scheduledAt?: string;
  nextRun?: string;
  runId?: string;
  state?: string;
  reason?: string;
  detail?: string;
}

export type MonitorLogger = (entry: MonitorLogEntry) => void;

/** What one fire, catch-up or `--once` evaluation of a job came to. */
export interface JobOutcome {
  job: string;
  decision: 'ran' | 'skipped' | 'not-due';
  scheduledAt: Date | null;
  reason?: SkipReason;
  runId?: string | null;
  state?: RunState;
}
