/**
 * The monitor's job state (src/monitor/ JobStateStore) in the inventory's monitor_jobs table, so
 * a restarted monitor knows what ran and two monitors on one inventory never run a job twice:
 * `acquire` is one conditional UPDATE (a lease: owner + expiry), on SQLite and PostgreSQL alike.
 * Times are ISO-8601 UTC text, which compares in time order.
 */
import type { Kysely } from 'kysely';
import { LeaseLostError } from '../monitor/state-store.js';
import type { JobState, JobStateStore } from '../monitor/types.js';
import type { InventoryDatabase } from './tables.js';

const date = (s: string | null): Date | null => (s === null ? null : new Date(s));

export class InventoryJobStateStore implements JobStateStore {
  constructor(private readonly db: Kysely<InventoryDatabase>) {}

  async acquire(job: string, owner: string, leaseMs: number, now: Date): Promise<boolean> {
    await this.db
      .insertInto('monitor_jobs')
      .values({ name: job, last_started_at: null, last_finished_at: null, last_run_id: null, running_run_id: null, lock_owner: null, lock_until: null, state: null })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    const res = await this.db
      .updateTable('monitor_jobs')
      .set({ lock_owner: owner, lock_until: new Date(now.getTime() + leaseMs).toISOString() })
      .where('name', '=', job)
      .where((eb) => eb.or([eb('lock_owner', 'is', null), eb('lock_until', 'is', null), eb('lock_until', '<', now.toISOString())]))
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  async renew(job: string, owner: string, leaseMs: number, now: Date): Promise<void> {
    await this.held(job, owner, { lock_until: new Date(now.getTime() + leaseMs).toISOString() });
  }

  async release(job: string, owner: string, result: { runId: string | null; finishedAt: Date; state: string }): Promise<void> {
    await this.held(job, owner, {
      last_finished_at: result.finishedAt.toISOString(),
      ...(result.runId !== null ? { last_run_id: result.runId } : {}),
      state: result.state,
      running_run_id: null,
      lock_owner: null,
      lock_until: null,
    });
  }

  async get(job: string): Promise<JobState | null> {
    const r = await this.db.selectFrom('monitor_jobs').selectAll().where('name', '=', job).executeTakeFirst();
    if (!r) return null;
    return {
      lastStartedAt: date(r.last_started_at),
      lastFinishedAt: date(r.last_finished_at),
      lastRunId: r.last_run_id,
      runningRunId: r.running_run_id,
      lockOwner: r.lock_owner,
      lockUntil: date(r.lock_until),
      state: r.state,
    };
  }

  async markStarted(job: string, owner: string, runId: string, at: Date): Promise<void> {
    await this.held(job, owner, { last_started_at: at.toISOString(), running_run_id: runId, state: 'running' });
  }

  private async held(job: string, owner: string, set: Partial<InventoryDatabase['monitor_jobs']>): Promise<void> {
    const res = await this.db.updateTable('monitor_jobs').set(set).where('name', '=', job).where('lock_owner', '=', owner).executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) throw new LeaseLostError(job, owner);
  }
}
