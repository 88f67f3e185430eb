/**
 * Scan runs: the list, one run with its progress (and, for distributed runs, its shards),
 * launching and cancelling scans (scans.ts runs them in child processes), the emergency stop
 * of every scan on the host (the file protocol of `medsurface stop --all`, src/monitor/stop.ts),
 * and the Server-Sent Events stream (sse.ts).
 */
import { z } from 'zod';
import { PROFILES } from '../../core/types.js';
import { listShards, shardDb } from '../../distributed/shard-store.js';
import type { RunRecord } from '../../inventory/store.js';
import { requestStopAll } from '../../monitor/stop.js';
import { auditRequest } from '../audit.js';
import type { ServerContext, ZApp } from '../context.js';
import { ApiError, conflict, notFound } from '../errors.js';
import { MAX_TARGET_ENTRIES } from '../scans.js';
import { NoBody } from './auth.js';
import type { Principal } from '../types.js';

/** The run-id format `medsurface scan --run-id` accepts (src/monitor/stop.ts RUN_ID). */
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const RunIdParam = z.strictObject({ id: z.string().regex(RUN_ID, 'a run id like r-0m3k2x1ab-1a2b3c4d') });

export interface RunView {
  id: string;
  startedAt: string;
  finishedAt: string | null;
  state: string;
  profile: string;
  targets: string[];
  totalTargets: number;
  doneTargets: number;
  stats: Record<string, unknown>;
  launchedBy: string | null;
  distributed: boolean;
}

function runView(r: RunRecord, launchedBy: string | null): RunView {
  const { sendLog: _s, ...stats } = r.stats as Record<string, unknown> & { sendLog?: unknown };
  return {
    id: r.id,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    state: r.state,
    profile: r.profile,
    targets: r.targets,
    totalTargets: r.totalTargets,
    doneTargets: r.doneTargets,
    stats,
    launchedBy,
    distributed: Boolean((r.options as { distributed?: unknown }).distributed),
  };
}

interface ApiScanRow {
  run_id: string;
  user_id: number | null;
  username: string | null;
  profile: string;
  targets: string;
  state: string;
  created_at: string;
  finished_at: string | null;
  error: string | null;
}

function launchView(a: ApiScanRow): RunView {
  let targets: string[] = [];
  try {
    targets = JSON.parse(a.targets) as string[];
  } catch {
    // Left empty.
  }
  return {
    id: a.run_id,
    startedAt: a.created_at,
    finishedAt: a.finished_at,
    state: a.state === 'running' ? 'starting' : a.state,
    profile: a.profile,
    targets,
    totalTargets: 0,
    doneTargets: 0,
    stats: {},
    launchedBy: a.username,
    distributed: false,
  };
}

/** Organisation-scoped users see only the runs they launched (a run's targets name other organisations' ranges). */
function mayReadRun(p: Principal, launch: ApiScanRow | undefined): boolean {
  return p.orgs === null || (launch !== undefined && launch.user_id !== null && Number(launch.user_id) === p.userId);
}

export function scanRoutes(app: ZApp, ctx: ServerContext): void {
  const { inv, db, launcher, hub } = ctx;

  app.get(
    '/api/v1/scans',
    { schema: { querystring: z.strictObject({ limit: z.coerce.number().int().min(1).max(200).default(50) }), tags: ['scans'] }, config: { access: 'user' } },
    async (req) => {
      const p = req.principal!;
      const { limit } = req.query;
      let launches = db.selectFrom('api_scans').selectAll().orderBy('created_at', 'desc').limit(limit);
      if (p.orgs !== null) launches = launches.where('user_id', '=', p.userId);
      const launched = new Map<string, ApiScanRow>();
      for (const a of await launches.execute()) launched.set(a.run_id, a);
      const out = new Map<string, RunView>();
      if (p.orgs === null) {
        for (const r of await inv.listRuns(limit)) out.set(r.id, runView(r, launched.get(r.id)?.username ?? null));
      }
      for (const [id, a] of launched) {
        if (out.has(id)) continue;
        const r = await inv.getRun(id);
        out.set(id, r === null ? launchView(a) : runView(r, a.username));
      }
      const rows = [...out.values()].sort((x, y) => (x.startedAt < y.startedAt ? 1 : x.startedAt > y.startedAt ? -1 : x.id < y.id ? 1 : -1)).slice(0, limit);
      return { rows };
    },
  );

  app.get('/api/v1/scans/:id', { schema: { params: RunIdParam, tags: ['scans'] }, config: { access: 'user' } }, async (req) => {
    const p = req.principal!;
    const { id } = req.params;
    const launch = await db.selectFrom('api_scans').selectAll().where('run_id', '=', id).executeTakeFirst();
    const run = await inv.getRun(id);
    if ((run === null && launch === undefined) || !mayReadRun(p, launch)) throw notFound(`no scan run ${id}`);
    const view = run === null ? launchView(launch!) : runView(run, launch?.username ?? null);
    const progress: { total: number; done: number; state: string; shards?: Record<string, number> } = {
      total: view.totalTargets,
      done: view.doneTargets,
      state: view.state,
    };
    if (run !== null && view.distributed && inv.kind === 'postgres') {
      try {
        const shards = await listShards(shardDb(db), id);
        progress.shards = {
          total: shards.length,
          done: shards.filter((s) => s.state === 'done').length,
          running: shards.filter((s) => s.state === 'running').length,
          failed: shards.filter((s) => s.state === 'failed').length,
          stalled: shards.filter((s) => s.state === 'running' && s.leaseExpired).length,
        };
      } catch {
        // No dist_shards table (never ran distributed here): no shard figures.
      }
    }
    return { run: view, progress, launchedBy: view.launchedBy, error: launch?.error ?? null };
  });

  app.post(
    '/api/v1/scans',
    {
      schema: {
        body: z.strictObject({
          targets: z.array(z.string().min(1).max(100)).min(1).max(MAX_TARGET_ENTRIES),
          profile: z.enum(PROFILES).default('safe'),
          ports: z
            .string()
            .max(1000)
            .regex(/^[0-9,\s-]+$/, 'ports like 104,4242,11112 or 1-1024')
            .optional(),
        }),
        tags: ['scans'],
      },
      config: { access: 'analyst' },
    },
    async (req, reply) => {
      const p = req.principal!;
      const { targets, profile, ports } = req.body;
      let id: string;
      try {
        id = await launcher.launch(p, { targets, profile, ...(ports !== undefined ? { ports } : {}) });
      } catch (err) {
        if (err instanceof ApiError && err.statusCode === 403) {
          await auditRequest(db, req, ctx.now(), { action: 'scan-launch', ok: false, target: targets.join(' ').slice(0, 300), detail: { profile, reason: err.code } });
        }
        throw err;
      }
      await auditRequest(db, req, ctx.now(), { action: 'scan-launch', target: id, detail: { targets, profile, ...(ports !== undefined ? { ports } : {}) } });
      return reply.code(202).send({ id });
    },
  );

  app.post('/api/v1/scans/:id/cancel', { schema: { params: RunIdParam, body: NoBody, tags: ['scans'] }, config: { access: 'analyst' } }, async (req, reply) => {
    const p = req.principal!;
    const { id } = req.params;
    const launch = await db.selectFrom('api_scans').selectAll().where('run_id', '=', id).executeTakeFirst();
    if (launch === undefined || !mayReadRun(p, launch)) throw notFound(`no scan ${id} launched through the API (stop others with the emergency stop)`);
    const r = await launcher.cancel(id);
    if (r === 'finished') throw conflict(`scan ${id} has already ended`);
    if (r === 'unknown') throw notFound(`no scan ${id} launched through the API`);
    await auditRequest(db, req, ctx.now(), { action: 'scan-cancel', target: id });
    return reply.code(202).send({ id, state: 'cancelling' });
  });

  app.post(
    '/api/v1/scans/stop-all',
    { schema: { body: z.strictObject({ hold: z.boolean().default(false) }).nullish(), tags: ['scans'] }, config: { access: 'admin' } },
    async (req) => {
      const hold = req.body?.hold ?? false;
      const { request, runs } = requestStopAll(ctx.opts.stateDir, { hold, now: ctx.now() });
      // Our own children watch the same directory; interrupting them directly is faster than their poll.
      for (const r of runs) launcher.cancelLocal(r.runId);
      await auditRequest(db, req, ctx.now(), { action: 'stop-all', detail: { hold, runs: runs.map((r) => r.runId) } });
      return { at: request.at.toISOString(), hold, runs: runs.map((r) => ({ runId: r.runId, pid: r.pid, host: r.host, startedAt: r.startedAt, label: r.label })) };
    },
  );

  app.get('/api/v1/events', { schema: { tags: ['scans'] }, config: { access: 'user' } }, async (req, reply) => {
    if (hub.full) throw new ApiError(503, 'too-many-clients', 'too many live-event clients on this server: try again later');
    // HEAD learns that the stream is there, without opening one.
    if (req.method === 'HEAD') return reply.type('text/event-stream; charset=utf-8').send();
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
    });
    hub.add(reply.raw, req.principal!);
    hub.start();
  });
}
