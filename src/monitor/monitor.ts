/**
 * The scheduler of `medsurface monitor`. Each job fires on its cron expression (croner, in the
 * job's zone); a fire starts a run only when every rule agrees, and every decision is logged:
 *
 *   fire ─> already settled? ─> not-due           (another process ran it, or --once ran twice)
 *        ─> running here or lease held elsewhere ─> skipped: overlap
 *        ─> emergency hold, authorisation, blackout, window ─> skipped: <reason>, recorded
 *        ─> run: lease renewed while it runs; aborted when a window closes, a blackout or the
 *           authorisation's end arrives, `stop --all` is requested, the lease is lost or the
 *           monitor stops; recorded with its state; onRunFinished (diff, alerts).
 *
 * A fire outside the rules is skipped and recorded, not deferred: the cron expression says when
 * to scan, the windows say when scanning is acceptable, and a run never starts at a time nobody
 * wrote down. A skipped fire is settled (it will not be caught up); the next fire is the next chance.
 *
 * "Due" (catch-up after a restart, and --once): the job's latest fire at or before now has not
 * been settled (lastFinishedAt is older, or the job never ran). However many fires were
 * missed, that is one run. A run whose process died (running_run_id set, lease expired) did
 * not settle its fire, so it is due again once the lease has run out.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Cron } from 'croner';
import { messageOf } from '../core/errors.js';
import { systemClock } from './clock.js';
import { isAllowed } from './rules.js';
import { readStopRequest, registerRun, watchStop } from './stop.js';
import type {
  Clock,
  InterruptReason,
  JobConfig,
  JobOutcome,
  JobState,
  JobStateStore,
  MonitorLogEntry,
  MonitorLogger,
  OnRunFinished,
  RunJob,
  RunState,
  SkipReason,
} from './types.js';

export interface MonitorOptions {
  jobs: JobConfig[];
  store: JobStateStore;
  runJob: RunJob;
  onRunFinished?: OnRunFinished;
  logger?: MonitorLogger;
  clock?: Clock;
  /** [0, 1); the jitter draw. */
  random?: () => number;
  /** This process's lease owner id (default host/pid/random). */
  owner?: string;
  /** How long a lease lasts without renewal (default 2 min): a crashed process blocks its jobs this long. */
  leaseMs?: number;
  /** Renewal period while a run lasts (default leaseMs / 3). */
  renewEveryMs?: number;
  /** How often a running job's rules are re-checked (default 15 s). */
  guardEveryMs?: number;
  /** The emergency-stop directory (stop.ts); without it the monitor does not watch for `stop --all`. */
  stopDir?: string;
  stopPollMs?: number;
}

/** The reason given to AbortController.abort(), so the engine can tell why it was stopped. */
export class RunAbortedError extends Error {
  readonly reason: InterruptReason;
  constructor(job: string, reason: InterruptReason, detail: string) {
    super(`monitor job "${job}" stopped: ${detail}`);
    this.name = 'RunAbortedError';
    this.reason = reason;
  }
}

const DEFAULT_LEASE_MS = 120_000;
const DEFAULT_GUARD_MS = 15_000;
/** Longest error text copied into a log record. */
const MAX_LOG_DETAIL = 300;

export class Monitor {
  readonly owner: string;
  private readonly jobs: Map<string, JobConfig>;
  private readonly patterns = new Map<string, Cron>();
  private readonly crons: Cron[] = [];
  private readonly inflight = new Map<string, Promise<JobOutcome>>();
  private readonly life = new AbortController();
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly leaseMs: number;
  private readonly renewEveryMs: number;
  private readonly guardEveryMs: number;
  private readonly log: MonitorLogger;
  private started = false;

  constructor(private readonly options: MonitorOptions) {
    this.jobs = new Map(options.jobs.map((j) => [j.name, j]));
    if (this.jobs.size !== options.jobs.length) throw new Error('Monitor: job names must be unique');
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.owner = options.owner ?? `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.renewEveryMs = options.renewEveryMs ?? Math.max(1, Math.floor(this.leaseMs / 3));
    this.guardEveryMs = options.guardEveryMs ?? DEFAULT_GUARD_MS;
    this.log = options.logger ?? (() => {});
    for (const job of options.jobs) this.patterns.set(job.name, new Cron(job.schedule, { timezone: job.timezone, mode: '5-or-6-parts' }));
  }

  /**
   * Schedules every job on its cron expression, and catches up the one missed fire of each job
   * that is due (downtime, a restart). Returns at once; runs go on until stop().
   */
  start(): void {
    if (this.started) throw new Error('Monitor: already started');
    if (this.life.signal.aborted) throw new Error('Monitor: stopped, create a new one');
    this.started = true;
    for (const job of this.jobs.values()) {
      const cron = new Cron(job.schedule, { timezone: job.timezone, mode: '5-or-6-parts', catch: true }, () => {
        // croner calls back at (or just after) the fire time; name the fire, not the call.
        const at = cron.previousRuns(1, new Date(Date.now() + 1000))[0] ?? new Date();
        void this.fire(job.name, at);
      });
      this.crons.push(cron);
      const next = cron.nextRun();
      this.emit('info', 'scheduled', job.name, { ...(next ? { nextRun: next.toISOString() } : {}), detail: job.schedule });
      void this.consider(job, null);
    }
  }

  /**
   * For `--once` (cron, systemd timers): every job that is due runs (each under the same rules),
   * and the call returns when they are done. Called again at once, nothing runs.
   */
  async runOnce(): Promise<JobOutcome[]> {
    return Promise.all([...this.jobs.values()].map((job) => this.consider(job, null)));
  }

  /** What the cron callback calls: the fire of `jobName` scheduled at `scheduledAt`. */
  fire(jobName: string, scheduledAt: Date): Promise<JobOutcome> {
    const job = this.jobs.get(jobName);
    if (!job) throw new Error(`Monitor: no job "${jobName}"`);
    return this.consider(job, scheduledAt);
  }

  /** The latest fire of a job at or before `at`, in its zone (null if the expression has none). */
  latestFire(jobName: string, at: Date): Date | null {
    return this.patterns.get(jobName)?.previousRuns(1, new Date(at.getTime() + 1))[0] ?? null;
  }

  /** The next fire of each job after `at`. */
  nextRuns(at: Date = this.clock.now()): Map<string, Date | null> {
    return new Map([...this.patterns].map(([name, cron]) => [name, cron.nextRun(at)]));
  }

  /** Resolves when no fire is being handled (tests, and the CLI before exiting). */
  async idle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight.values()]);
  }

  /** Stops scheduling, asks every running scan to stop, and waits until they have. */
  async stop(): Promise<void> {
    for (const cron of this.crons) cron.stop();
    this.crons.length = 0;
    this.life.abort();
    await this.idle();
    this.emit('info', 'stopped', undefined, {});
  }

  /** One fire (scheduledAt) or one due-check (null) of one job, never two at once per job here. */
  private consider(job: JobConfig, scheduledAt: Date | null): Promise<JobOutcome> {
    if (this.life.signal.aborted) return Promise.resolve(this.skip(job, scheduledAt, 'stopping', 'the monitor is stopping'));
    if (this.inflight.has(job.name)) {
      return Promise.resolve(this.skip(job, scheduledAt, 'overlap', 'the previous fire of this job is still being handled by this monitor'));
    }
    const task = this.attempt(job, scheduledAt)
      .catch((err: unknown): JobOutcome => {
        this.emit('error', 'store-error', job.name, { detail: short(err) });
        return { job: job.name, decision: 'skipped', scheduledAt, reason: 'store-error' };
      })
      .finally(() => this.inflight.delete(job.name));
    this.inflight.set(job.name, task);
    return task;
  }

  private async attempt(job: JobConfig, fire: Date | null): Promise<JobOutcome> {
    const name = job.name;
    const scheduledAt = fire ?? this.latestFire(name, this.clock.now());
    if (!scheduledAt) return this.notDue(job, null, 'the schedule has no fire before now');
    if (settled(await this.options.store.get(name), scheduledAt)) return this.notDue(job, scheduledAt, 'this fire is already settled');

    const delay = job.jitterMs > 0 ? Math.floor(this.random() * job.jitterMs) : 0;
    if (delay > 0) {
      await this.clock.sleep(delay, this.life.signal);
      if (this.life.signal.aborted) return this.skip(job, scheduledAt, 'stopping', 'the monitor stopped during the jitter delay');
    }

    const now = this.clock.now();
    const before = await this.options.store.get(name);
    if (!(await this.options.store.acquire(name, this.owner, this.leaseMs, now))) {
      return this.skip(job, scheduledAt, 'overlap', 'another monitor holds this job (a run is in progress)', before?.runningRunId ?? undefined);
    }
    // Ours now; read again: another process may have settled this fire meanwhile.
    const state = await this.options.store.get(name);
    if (state?.runningRunId) {
      this.emit('warn', 'stale-lease', name, { runId: state.runningRunId, detail: 'a run of this job was left unfinished by a process that stopped renewing its lease' });
    }
    if (settled(state, scheduledAt) && state?.lastFinishedAt) {
      await this.options.store.release(name, this.owner, { runId: null, finishedAt: state.lastFinishedAt, state: state.state ?? 'completed' });
      return this.notDue(job, scheduledAt, 'this fire was settled by another monitor');
    }

    const stop = this.options.stopDir ? readStopRequest(this.options.stopDir) : null;
    const verdict = isAllowed(job, now);
    const block: { reason: SkipReason; detail: string } | null = stop?.hold
      ? { reason: 'emergency-hold', detail: `emergency stop with hold since ${stop.at.toISOString()}` }
      : verdict.allowed
        ? null
        : verdict;
    if (block) {
      await this.options.store.release(name, this.owner, { runId: null, finishedAt: now, state: `skipped-${block.reason}` });
      return this.skip(job, scheduledAt, block.reason, block.detail);
    }
    return this.execute(job, scheduledAt, now, state);
  }

  private async execute(job: JobConfig, scheduledAt: Date, startedAt: Date, previous: JobState | null): Promise<JobOutcome> {
    const name = job.name;
    const { store } = this.options;
    const controller = new AbortController();
    let interruptedBy: InterruptReason | null = null;
    const abort = (reason: InterruptReason, detail: string): void => {
      if (controller.signal.aborted) return;
      interruptedBy = reason;
      this.emit('warn', 'abort-requested', name, { reason, detail, ...(runId ? { runId } : {}) });
      controller.abort(new RunAbortedError(name, reason, detail));
    };
    let runId: string | null = null;
    let unregister: () => void = () => {};
    const onLifeEnd = (): void => abort('monitor-stopping', 'the monitor is stopping');
    this.life.signal.addEventListener('abort', onLifeEnd, { once: true });

    const renewTimer = setInterval(() => {
      store.renew(name, this.owner, this.leaseMs, this.clock.now()).catch((err: unknown) => {
        this.emit('error', 'lease-lost', name, { detail: short(err), ...(runId ? { runId } : {}) });
        abort('lease-lost', 'the lease on this job could not be renewed');
      });
    }, this.renewEveryMs);
    const guardTimer = setInterval(() => {
      const v = isAllowed(job, this.clock.now());
      if (!v.allowed) abort(v.reason, v.detail);
    }, this.guardEveryMs);
    const unwatch = this.options.stopDir
      ? watchStop(this.options.stopDir, (r) => abort('emergency-stop', `stop --all requested at ${r.at.toISOString()}`), {
          ...(this.options.stopPollMs ? { intervalMs: this.options.stopPollMs } : {}),
        })
      : () => {};

    this.emit('info', 'run-started', name, { scheduledAt: scheduledAt.toISOString() });
    let outcome: { runId: string | null; state: RunState };
    try {
      const result = await this.options.runJob(job, controller.signal, {
        scheduledAt,
        previous,
        onStarted: async (id: string) => {
          runId = id;
          this.emit('info', 'run-id', name, { runId: id });
          try {
            await store.markStarted(name, this.owner, id, this.clock.now());
          } catch (err) {
            this.emit('error', 'lease-lost', name, { runId: id, detail: short(err) });
            abort('lease-lost', 'the run could not be recorded under this monitor\'s lease');
          }
          if (this.options.stopDir) {
            try {
              unregister = registerRun(this.options.stopDir, id, { label: name });
            } catch (err) {
              this.emit('warn', 'store-error', name, { runId: id, detail: `not in the stop registry: ${short(err)}` });
            }
          }
        },
      });
      outcome = result;
    } catch (err) {
      this.emit('error', 'run-failed', name, { detail: short(err), ...(runId ? { runId } : {}) });
      outcome = { runId, state: 'failed' };
    } finally {
      clearInterval(renewTimer);
      clearInterval(guardTimer);
      unwatch();
      unregister();
      this.life.signal.removeEventListener('abort', onLifeEnd);
    }

    const finishedAt = this.clock.now();
    try {
      await store.release(name, this.owner, { runId: outcome.runId, finishedAt, state: outcome.state });
    } catch (err) {
      this.emit('error', 'store-error', name, { detail: `run not recorded as finished: ${short(err)}`, ...(outcome.runId ? { runId: outcome.runId } : {}) });
    }
    this.emit(outcome.state === 'completed' ? 'info' : 'warn', 'run-finished', name, {
      scheduledAt: scheduledAt.toISOString(),
      state: outcome.state,
      ...(outcome.runId ? { runId: outcome.runId } : {}),
      ...(interruptedBy ? { reason: interruptedBy } : {}),
    });
    if (this.options.onRunFinished) {
      try {
        await this.options.onRunFinished(job, { runId: outcome.runId, state: outcome.state, scheduledAt, startedAt, finishedAt, interruptedBy });
      } catch (err) {
        this.emit('error', 'hook-failed', name, { detail: short(err), ...(outcome.runId ? { runId: outcome.runId } : {}) });
      }
    }
    return { job: name, decision: 'ran', scheduledAt, runId: outcome.runId, state: outcome.state };
  }

  private skip(job: JobConfig, scheduledAt: Date | null, reason: SkipReason, detail: string, runId?: string): JobOutcome {
    this.emit(reason === 'stopping' ? 'info' : 'warn', 'skipped', job.name, {
      reason,
      detail,
      ...(scheduledAt ? { scheduledAt: scheduledAt.toISOString() } : {}),
      ...(runId ? { runId } : {}),
    });
    return { job: job.name, decision: 'skipped', scheduledAt, reason };
  }

  private notDue(job: JobConfig, scheduledAt: Date | null, detail: string): JobOutcome {
    this.emit('debug', 'not-due', job.name, { detail, ...(scheduledAt ? { scheduledAt: scheduledAt.toISOString() } : {}) });
    return { job: job.name, decision: 'not-due', scheduledAt };
  }

  private emit(level: MonitorLogEntry['level'], event: MonitorLogEntry['event'], job: string | undefined, fields: Partial<MonitorLogEntry>): void {
    try {
      this.log({ level, event, at: this.clock.now().toISOString(), ...(job ? { job } : {}), ...fields });
    } catch {
      // A failing logger must not stop the scheduler.
    }
  }
}

/** The fire at `scheduledAt` is settled when the job's last run or skip was recorded at or after it. */
function settled(state: JobState | null, scheduledAt: Date): boolean {
  return state?.lastFinishedAt != null && state.lastFinishedAt.getTime() >= scheduledAt.getTime();
}

function short(err: unknown): string {
  const m = messageOf(err);
  return m.length > MAX_LOG_DETAIL ? `${m.slice(0, MAX_LOG_DETAIL)}...` : m;
}
