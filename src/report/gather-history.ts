/**
 * The report's view of time: the scan runs that observed the services in scope (methodology),
 * the open/resolved/unverified findings at the end of each run (remediation over time), and the
 * trend since the previous report (src/inventory/diff.ts, restricted to the scope).
 *
 * A finding's state at a run's end is the state its latest state-changing event (opened,
 * reopened, seen, resolved, unverified) up to that time put it in; the same folding as the diff.
 */
import type { Kysely } from 'kysely';
import { EVENT_KINDS, type EventKind } from '../core/events.js';
import { type DiffResult, diffRuns, diffSince, lastTwoCompletedRuns } from '../inventory/diff.js';
import type { InventoryDatabase } from '../inventory/tables.js';
import { type ReportScope, scopedServiceIds } from './scope.js';
import { REPORT_LIMITS, type RemediationPoint, type ReportTrend, type RunSummary } from './types.js';

type Db = Kysely<InventoryDatabase>;

const STATE_EVENTS = ['opened', 'reopened', 'seen', 'resolved', 'unverified'] as const;
const STATE_OF: Record<string, 'open' | 'resolved' | 'unverified'> = {
  opened: 'open',
  reopened: 'open',
  seen: 'open',
  resolved: 'resolved',
  unverified: 'unverified',
};
/** Ids per IN (...) list. */
const CHUNK = 500;

function parseTargets(text: string): string[] {
  try {
    const v = JSON.parse(text) as unknown;
    return Array.isArray(v) ? v.map((t) => String(t)) : [];
  } catch {
    return [];
  }
}

/** The runs that observed a service in scope, oldest first; only the latest REPORT_LIMITS.runs are listed. */
export async function coveredRuns(db: Db, scope: ReportScope): Promise<{ runs: RunSummary[]; omitted: number }> {
  const rows = await db
    .selectFrom('scan_runs')
    .selectAll()
    .where('scan_runs.id', 'in', db.selectFrom('observations').select('observations.run_id').where('observations.service_id', 'in', scopedServiceIds(db, scope)))
    .orderBy('started_at', 'asc')
    .orderBy('id', 'asc')
    .execute();
  const kept = rows.slice(-REPORT_LIMITS.runs);
  return {
    omitted: rows.length - kept.length,
    runs: kept.map((r) => {
      const targets = parseTargets(r.targets_spec);
      return {
        id: r.id,
        startedAt: r.started_at,
        finishedAt: r.finished_at,
        state: r.state,
        profile: r.profile,
        targets: targets.slice(0, REPORT_LIMITS.targetsPerRun),
        targetsOmitted: Math.max(0, targets.length - REPORT_LIMITS.targetsPerRun),
        totalTargets: Number(r.total_targets),
      };
    }),
  };
}

/**
 * Findings of the scope (not marked false-positive) by state at the end of each finished run:
 * the remediation curve. Runs still going have no end and are left out.
 */
export async function remediationOverTime(db: Db, scope: ReportScope, runs: RunSummary[]): Promise<RemediationPoint[]> {
  const findingIds = db
    .selectFrom('findings')
    .select('findings.id')
    .where('findings.service_id', 'in', scopedServiceIds(db, scope))
    .where((eb) => eb.or([eb('findings.user_state', 'is', null), eb('findings.user_state', '!=', 'false-positive')]));
  const out: RemediationPoint[] = [];
  for (const run of runs) {
    if (run.finishedAt === null) continue;
    const latest = db
      .selectFrom('finding_events')
      .select((eb) => eb.fn.max('finding_events.id').as('id'))
      .where('finding_events.at', '<=', run.finishedAt)
      .where('finding_events.event', 'in', [...STATE_EVENTS])
      .where('finding_events.finding_id', 'in', findingIds)
      .groupBy('finding_events.finding_id');
    const rows = await db
      .selectFrom('finding_events')
      .select(['finding_events.event', (eb) => eb.fn.countAll<number | string>().as('n')])
      .where('finding_events.id', 'in', latest)
      .groupBy('finding_events.event')
      .execute();
    const point: RemediationPoint = {
      runId: run.id,
      startedAt: run.startedAt,
      finishedAt: run.finishedAt,
      state: run.state,
      open: 0,
      resolved: 0,
      unverified: 0,
    };
    for (const r of rows) {
      const state = STATE_OF[r.event];
      if (state !== undefined) point[state] += Number(r.n);
    }
    out.push(point);
  }
  return out;
}

/** Which (ip, port) of `keys` are services in scope. */
async function inScope(db: Db, scope: ReportScope, keys: { ip: string; port: number }[]): Promise<Set<string>> {
  const found = new Set<string>();
  const ips = [...new Set(keys.map((k) => k.ip))];
  for (let i = 0; i < ips.length; i += CHUNK) {
    const rows = await db
      .selectFrom('services')
      .select(['services.ip', 'services.port'])
      .where('services.ip', 'in', ips.slice(i, i + CHUNK))
      .where('services.id', 'in', scopedServiceIds(db, scope))
      .execute();
    for (const r of rows) found.add(`${r.ip}|${Number(r.port)}`);
  }
  return found;
}

function trendRun(r: DiffResult['to']): ReportTrend['to'] {
  return { id: r.id, state: r.state, profile: r.profile, startedAt: r.startedAt, finishedAt: r.finishedAt };
}

/**
 * What changed since the previous report: the window from `since`, else the two latest completed
 * runs. Events of services outside the scope are dropped (a host-level event, without a port,
 * counts when any service of its host is in scope). No trend (with the reason) when the inventory
 * has fewer runs than that needs.
 */
export async function trendOf(
  db: Db,
  scope: ReportScope,
  opts: { since?: string; includeHoneypots: boolean },
): Promise<{ trend: ReportTrend | null; note: string | null }> {
  const completed = await db
    .selectFrom('scan_runs')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('state', '=', 'completed')
    .executeTakeFirstOrThrow();
  const n = Number(completed.n);
  const diffOpts = { includeHoneypots: opts.includeHoneypots };
  let result: DiffResult;
  let basis: ReportTrend['basis'];
  if (opts.since !== undefined) {
    if (n === 0) return { trend: null, note: 'No completed scan run: there is nothing to compare.' };
    result = await diffSince(db, opts.since, diffOpts);
    basis = 'since';
  } else {
    if (n < 2) {
      return {
        trend: null,
        note: n === 0 ? 'No completed scan run: there is nothing to compare.' : 'One completed scan run: this is the baseline, there is no earlier run to compare with.',
      };
    }
    const [a, b] = await lastTwoCompletedRuns(db);
    result = await diffRuns(db, a, b, diffOpts);
    basis = 'previous-run';
  }
  const scoped = await inScope(db, scope, result.events.map((e) => ({ ip: e.ip, port: e.port ?? -1 })));
  const hosts = new Set([...scoped].map((k) => k.slice(0, k.lastIndexOf('|'))));
  const counts = Object.fromEntries(EVENT_KINDS.map((k) => [k, 0])) as Record<EventKind, number>;
  for (const e of result.events) {
    const keep = e.port === null ? hosts.has(e.ip) : scoped.has(`${e.ip}|${e.port}`);
    if (keep) counts[e.kind]++;
  }
  return {
    trend: {
      basis,
      since: result.since,
      from: result.from === null ? null : trendRun(result.from),
      to: trendRun(result.to),
      counts,
      complete: result.summary.complete,
    },
    note: null,
  };
}
