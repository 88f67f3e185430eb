/**
 * Shard state in PostgreSQL (table `dist_shards`), the part of a distributed run that must
 * outlive Redis: one row per (run, shard) with its state, attempts, progress, checkpoint and
 * the lease of the worker on it.
 *
 * The table is created by this module (CREATE TABLE IF NOT EXISTS, under an advisory lock so
 * that workers starting together do not race), not by an inventory migration: it exists only
 * where distributed mode runs, which is always PostgreSQL. Rows go with their run (foreign key,
 * ON DELETE CASCADE).
 *
 * The lease makes "one worker per shard at a time" hold without Redis: a worker claims a shard
 * with one conditional UPDATE (free, or its lease expired), renews it with each heartbeat and
 * checkpoint, and every write is conditional on its claim token. A worker that lost its lease
 * (it stalled, another took over) finds out at its next heartbeat and stops. Lease times use
 * the database's clock, so the workers' clocks do not matter.
 */
import { type Kysely, sql } from 'kysely';
import type { InventoryDatabase } from '../inventory/tables.js';
import { EMPTY_SHARD_STATS, type ShardCheckpoint, ShardCheckpointSchema, type ShardRow, type ShardState, type ShardStats } from './types.js';

export const SHARD_TABLE = 'dist_shards';

export interface DistShardsTable {
  run_id: string;
  shard: number;
  shard_count: number;
  state: string;
  attempts: number;
  /** bigint: a shard of a full IPv4 sweep may exceed 2^31 positions; pg returns it as text. */
  total_targets: string | number;
  done_targets: string | number;
  checkpoint: string | null;
  stats: string;
  /** Claim token of the worker on the shard (`<worker id>#<nonce>`). */
  worker: string | null;
  lease_until: Date | null;
  heartbeat_at: Date | null;
  started_at: Date | null;
  finished_at: Date | null;
  error: string | null;
}

type Db = Kysely<InventoryDatabase & { dist_shards: DistShardsTable }>;

/** Longest error message kept per shard. */
const ERROR_MAX_CHARS = 2000;
/** Rows per multi-row insert. */
const CHUNK = 500;

export function shardDb(db: Kysely<InventoryDatabase>): Db {
  return db.withTables<{ dist_shards: DistShardsTable }>();
}

/** Creates dist_shards if it does not exist. Safe to call from many processes at once. */
export async function ensureShardTable(db: Db): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext('medsurface.dist_shards'))`.execute(trx);
    await trx.schema
      .createTable(SHARD_TABLE)
      .ifNotExists()
      .addColumn('run_id', 'text', (c) => c.notNull().references('scan_runs.id').onDelete('cascade'))
      .addColumn('shard', 'integer', (c) => c.notNull())
      .addColumn('shard_count', 'integer', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull().defaultTo('pending'))
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('total_targets', 'bigint', (c) => c.notNull())
      .addColumn('done_targets', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('checkpoint', 'text')
      .addColumn('stats', 'text', (c) => c.notNull().defaultTo('{}'))
      .addColumn('worker', 'text')
      .addColumn('lease_until', 'timestamptz')
      .addColumn('heartbeat_at', 'timestamptz')
      .addColumn('started_at', 'timestamptz')
      .addColumn('finished_at', 'timestamptz')
      .addColumn('error', 'text')
      .addPrimaryKeyConstraint('dist_shards_pk', ['run_id', 'shard'])
      .execute();
  });
}

/** Positions p < limit of the permutation with p % count === shard. */
export function positionsBelow(limit: number, shard: number, count: number): number {
  return limit > shard ? Math.floor((limit - shard - 1) / count) + 1 : 0;
}

/** Positions of a shard that a checkpoint marks finished. */
export function doneFromCheckpoint(cp: ShardCheckpoint, shard: number, count: number, size: number): number {
  return positionsBelow(Math.min(cp.resumeFrom, size), shard, count) + cp.done.filter((p) => p < size && p % count === shard).length;
}

/** Inserts the shards of a run as pending; rows that exist are left as they are (a resumed run keeps its state). */
export async function initShards(db: Db, runId: string, count: number, size: number): Promise<void> {
  for (let from = 0; from < count; from += CHUNK) {
    const rows = [];
    for (let shard = from; shard < Math.min(count, from + CHUNK); shard++) {
      rows.push({ run_id: runId, shard, shard_count: count, state: 'pending', attempts: 0, total_targets: positionsBelow(size, shard, count), done_targets: 0, stats: '{}' });
    }
    await db.insertInto('dist_shards').values(rows).onConflict((oc) => oc.columns(['run_id', 'shard']).doNothing()).execute();
  }
}

function parseStats(text: string | null): ShardStats {
  try {
    const v = JSON.parse(text ?? '{}') as Partial<ShardStats>;
    return {
      hostsDone: Number(v.hostsDone ?? 0),
      probes: Number(v.probes ?? 0),
      open: Number(v.open ?? 0),
      findings: Number(v.findings ?? 0),
      ...(v.optedOut ? { optedOut: Number(v.optedOut) } : {}),
    };
  } catch {
    return { ...EMPTY_SHARD_STATS };
  }
}

function parseCheckpoint(text: string | null): ShardCheckpoint | null {
  if (text === null) return null;
  try {
    const r = ShardCheckpointSchema.safeParse(JSON.parse(text));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

type RowWithClock = DistShardsTable & { heartbeat_age_ms: string | number | null; lease_expired: boolean | null };

function toRow(r: RowWithClock): ShardRow {
  return {
    runId: r.run_id,
    shard: Number(r.shard),
    count: Number(r.shard_count),
    state: r.state as ShardState,
    attempts: Number(r.attempts),
    totalTargets: Number(r.total_targets),
    doneTargets: Number(r.done_targets),
    checkpoint: parseCheckpoint(r.checkpoint),
    stats: parseStats(r.stats),
    worker: r.worker,
    heartbeatAgeMs: r.heartbeat_age_ms === null ? null : Math.round(Number(r.heartbeat_age_ms)),
    leaseExpired: r.lease_expired === true,
    error: r.error,
  };
}

function selectRows(db: Db, runId: string) {
  return db
    .selectFrom('dist_shards')
    .selectAll()
    .select([
      sql<number | null>`extract(epoch from (now() - heartbeat_at)) * 1000`.as('heartbeat_age_ms'),
      sql<boolean | null>`lease_until < now()`.as('lease_expired'),
    ])
    .where('run_id', '=', runId);
}

export async function listShards(db: Db, runId: string): Promise<ShardRow[]> {
  const rows = await selectRows(db, runId).orderBy('shard').execute();
  return rows.map((r) => toRow(r as RowWithClock));
}

export async function getShard(db: Db, runId: string, shard: number): Promise<ShardRow | null> {
  const r = await selectRows(db, runId).where('shard', '=', shard).executeTakeFirst();
  return r === undefined ? null : toRow(r as RowWithClock);
}

const leaseUntil = (ms: number) => sql<Date>`now() + make_interval(secs => ${ms / 1000})`;

export type ClaimOutcome =
  | { outcome: 'claimed'; row: ShardRow }
  | { outcome: 'busy'; worker: string | null }
  | { outcome: 'done' | 'cancelled' | 'failed' | 'missing' };

/** Takes a shard for `token` if it is pending, or running under an expired lease (its worker died or stalled). */
export async function claimShard(db: Db, runId: string, shard: number, token: string, leaseMs: number): Promise<ClaimOutcome> {
  const claimed = await db
    .updateTable('dist_shards')
    .set((eb) => ({
      state: 'running',
      worker: token,
      lease_until: leaseUntil(leaseMs),
      heartbeat_at: sql<Date>`now()`,
      attempts: eb('attempts', '+', 1),
      started_at: sql<Date>`coalesce(started_at, now())`,
      error: null,
    }))
    .where('run_id', '=', runId)
    .where('shard', '=', shard)
    .where((eb) =>
      eb.or([
        eb('state', '=', 'pending'),
        eb.and([eb('state', '=', 'running'), eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', sql<Date>`now()`)])]),
      ]),
    )
    .returning('shard')
    .executeTakeFirst();
  const row = await getShard(db, runId, shard);
  if (row === null) return { outcome: 'missing' };
  if (claimed !== undefined && row.worker === token) return { outcome: 'claimed', row };
  if (row.state === 'running') return { outcome: 'busy', worker: row.worker };
  if (row.state === 'done' || row.state === 'cancelled' || row.state === 'failed') return { outcome: row.state };
  return { outcome: 'busy', worker: row.worker };
}

export type LeaseStatus = 'ok' | 'lost' | 'cancelled';

async function leaseStatus(db: Db, runId: string, shard: number, token: string): Promise<LeaseStatus> {
  const row = await getShard(db, runId, shard);
  if (row?.state === 'cancelled' && row.worker === token) return 'cancelled';
  return 'lost';
}

/** Heartbeat: extends the lease; says whether the shard is still ours and still wanted. */
export async function renewLease(db: Db, runId: string, shard: number, token: string, leaseMs: number): Promise<LeaseStatus> {
  const r = await db
    .updateTable('dist_shards')
    .set({ lease_until: leaseUntil(leaseMs), heartbeat_at: sql<Date>`now()` })
    .where('run_id', '=', runId)
    .where('shard', '=', shard)
    .where('worker', '=', token)
    .where('state', '=', 'running')
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1 ? 'ok' : leaseStatus(db, runId, shard, token);
}

/**
 * Saves progress (the checkpoint covers only hosts whose records are already written). Also
 * accepted on a shard cancelled under us, so a resumed run starts where this worker stopped.
 */
export async function saveShardCheckpoint(
  db: Db,
  runId: string,
  shard: number,
  token: string,
  leaseMs: number,
  progress: { checkpoint: ShardCheckpoint; doneTargets: number; stats: ShardStats },
): Promise<LeaseStatus> {
  const r = await db
    .updateTable('dist_shards')
    .set({
      checkpoint: JSON.stringify(progress.checkpoint),
      done_targets: progress.doneTargets,
      stats: JSON.stringify(progress.stats),
      lease_until: leaseUntil(leaseMs),
      heartbeat_at: sql<Date>`now()`,
    })
    .where('run_id', '=', runId)
    .where('shard', '=', shard)
    .where('worker', '=', token)
    .where('state', 'in', ['running', 'cancelled'])
    .returning('state')
    .executeTakeFirst();
  if (r === undefined) return 'lost';
  return r.state === 'cancelled' ? 'cancelled' : 'ok';
}

/** Marks the shard done (only by the claim that holds it). */
export async function finishShard(db: Db, runId: string, shard: number, token: string, stats: ShardStats): Promise<boolean> {
  const r = await db
    .updateTable('dist_shards')
    .set((eb) => ({
      state: 'done',
      done_targets: eb.ref('total_targets'),
      checkpoint: null,
      stats: JSON.stringify(stats),
      lease_until: null,
      finished_at: sql<Date>`now()`,
      error: null,
    }))
    .where('run_id', '=', runId)
    .where('shard', '=', shard)
    .where('worker', '=', token)
    .where('state', '=', 'running')
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Gives a shard back (graceful stop: pending for another worker; last failed attempt: failed, with the error). */
export async function releaseShard(db: Db, runId: string, shard: number, token: string, to: 'pending' | 'failed', error?: string): Promise<void> {
  await db
    .updateTable('dist_shards')
    .set({ state: to, worker: null, lease_until: null, error: error === undefined ? null : error.slice(0, ERROR_MAX_CHARS) })
    .where('run_id', '=', runId)
    .where('shard', '=', shard)
    .where('worker', '=', token)
    .where('state', '=', 'running')
    .execute();
}

/** Coordinator: a shard whose job failed in the queue (attempts or stalls exhausted) is failed unless it finished. */
export async function markShardFailed(db: Db, runId: string, shard: number, error: string): Promise<void> {
  await db
    .updateTable('dist_shards')
    .set({ state: 'failed', lease_until: null, error: error.slice(0, ERROR_MAX_CHARS) })
    .where('run_id', '=', runId)
    .where('shard', '=', shard)
    .where('state', 'in', ['pending', 'running'])
    .execute();
}

/** Coordinator interrupted: every unfinished shard is cancelled (workers on them stop at their next heartbeat). */
export async function cancelShards(db: Db, runId: string): Promise<void> {
  await db.updateTable('dist_shards').set({ state: 'cancelled' }).where('run_id', '=', runId).where('state', 'in', ['pending', 'running']).execute();
}

/** Resume: cancelled and failed shards become pending again (they keep their checkpoints). */
export async function reopenShards(db: Db, runId: string): Promise<number> {
  const r = await db
    .updateTable('dist_shards')
    .set({ state: 'pending', worker: null, lease_until: null, error: null })
    .where('run_id', '=', runId)
    .where('state', 'in', ['cancelled', 'failed'])
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}
