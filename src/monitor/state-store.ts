/**
 * The in-memory JobStateStore: for tests, and the reference for the inventory implementation
 * over monitor_jobs. Each method says the SQL it stands for; what matters across processes is
 * that acquire is one conditional write, so two monitors can never both hold a job's lease.
 */
import type { JobState, JobStateStore } from './types.js';

/** Our lease on a job was taken over (it ran out while we were stalled): the run must stop. */
export class LeaseLostError extends Error {
  constructor(job: string, owner: string) {
    super(`monitor job "${job}": lease no longer held by ${owner}`);
    this.name = 'LeaseLostError';
  }
}

function empty(): JobState {
  return { lastStartedAt: null, lastFinishedAt: null, lastRunId: null, runningRunId: null, lockOwner: null, lockUntil: null, state: null };
}

export class MemoryJobStateStore implements JobStateStore {
  private readonly rows = new Map<string, JobState>();

  /**
   * INSERT ... ON CONFLICT (name) DO NOTHING; then
   * UPDATE monitor_jobs SET lock_owner = :owner, lock_until = :now + :lease
   *  WHERE name = :job AND (lock_owner IS NULL OR lock_until < :now)   -- one row changed = acquired
   * A live lease, even our own, is not taken again: overlapping runs are refused in-process too.
   */
  async acquire(job: string, owner: string, leaseMs: number, now: Date): Promise<boolean> {
    const row = this.rows.get(job) ?? empty();
    if (row.lockOwner !== null && row.lockUntil !== null && row.lockUntil.getTime() >= now.getTime()) return false;
    this.rows.set(job, { ...row, lockOwner: owner, lockUntil: new Date(now.getTime() + leaseMs) });
    return true;
  }

  /** UPDATE ... SET lock_until = :now + :lease WHERE name = :job AND lock_owner = :owner (0 rows → LeaseLostError). */
  async renew(job: string, owner: string, leaseMs: number, now: Date): Promise<void> {
    const row = this.held(job, owner);
    row.lockUntil = new Date(now.getTime() + leaseMs);
  }

  /**
   * UPDATE ... SET last_finished_at = :finishedAt, last_run_id = COALESCE(:runId, last_run_id),
   * state = :state, running_run_id = NULL, lock_owner = NULL, lock_until = NULL
   * WHERE name = :job AND lock_owner = :owner (0 rows → LeaseLostError).
   */
  async release(job: string, owner: string, result: { runId: string | null; finishedAt: Date; state: string }): Promise<void> {
    const row = this.held(job, owner);
    row.lastFinishedAt = result.finishedAt;
    if (result.runId !== null) row.lastRunId = result.runId;
    row.state = result.state;
    row.runningRunId = null;
    row.lockOwner = null;
    row.lockUntil = null;
  }

  async get(job: string): Promise<JobState | null> {
    const row = this.rows.get(job);
    return row ? { ...row } : null;
  }

  /** UPDATE ... SET last_started_at = :at, running_run_id = :runId, state = 'running' WHERE name = :job AND lock_owner = :owner. */
  async markStarted(job: string, owner: string, runId: string, at: Date): Promise<void> {
    const row = this.held(job, owner);
    row.lastStartedAt = at;
    row.runningRunId = runId;
    row.state = 'running';
  }

  private held(job: string, owner: string): JobState {
    const row = this.rows.get(job);
    if (!row || row.lockOwner !== owner) throw new LeaseLostError(job, owner);
    return row;
  }
}
