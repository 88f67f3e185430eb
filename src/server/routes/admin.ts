/**
 * The remaining routes: health, monitor jobs, export, users, API tokens and the audit log.
 */
import { PassThrough } from 'node:stream';
import { Cron } from 'croner';
import { z } from 'zod';
import { VERSION } from '../../core/version.js';
import { runExport, streamSink } from '../../export/index.js';
import type { MonitorConfig } from '../../monitor/types.js';
import { loadMonitorConfig } from '../../monitor/config.js';
import { AUDIT_ACTIONS, auditRequest, listAudit } from '../audit.js';
import { PASSWORD_MAX_CHARS } from '../auth/passwords.js';
import { deleteUserSessions } from '../auth/sessions.js';
import { createToken, deleteToken, getToken, listTokens, TOKEN_MAX_DAYS, TOKEN_NAME_MAX_CHARS } from '../auth/tokens.js';
import { createUser, deleteUser, getUser, listUsers, MAX_USER_ORGS, ORG_MAX_CHARS, updateUser, userView } from '../auth/users.js';
import type { ServerContext, ZApp } from '../context.js';
import { forbidden, notFound } from '../errors.js';
import { scopedQuery } from '../scope.js';
import { ROLES } from '../types.js';

const IdParam = z.strictObject({ id: z.coerce.number().int().positive().max(2_147_483_647) });
const Orgs = z.array(z.string().min(1).max(ORG_MAX_CHARS)).min(1).max(MAX_USER_ORGS).nullable();
const Password = z.string().min(1).max(PASSWORD_MAX_CHARS);
/** Longest export through the API (services or findings rows); the CLI has no cap. */
export const EXPORT_MAX_CHARS_QUERY = 4096;

export function adminRoutes(app: ZApp, ctx: ServerContext): void {
  const { inv, db } = ctx;

  app.get('/api/v1/health', { schema: { tags: ['meta'] }, config: { access: 'public' } }, async () => ({ ok: true, version: VERSION }));

  let monitor: { config: MonitorConfig | null; error: string | null } | null = null;
  const monitorConfig = () => {
    if (monitor === null) {
      try {
        monitor = { config: ctx.opts.monitorConfig ? loadMonitorConfig(ctx.opts.monitorConfig) : null, error: null };
      } catch (err) {
        monitor = { config: null, error: (err as Error).message.split('\n')[0] ?? 'unreadable' };
      }
    }
    return monitor;
  };

  app.get('/api/v1/monitor/jobs', { schema: { tags: ['monitor'] }, config: { access: 'user' } }, async () => {
    const rows = await db.selectFrom('monitor_jobs').selectAll().orderBy('name').execute();
    const { config } = monitorConfig();
    const now = ctx.now();
    const nextOf = (name: string): string | null => {
      const job = config?.jobs.find((j) => j.name === name);
      if (!job) return null;
      try {
        return new Cron(job.schedule, { timezone: job.timezone, mode: '5-or-6-parts' }).nextRun(now)?.toISOString() ?? null;
      } catch {
        return null;
      }
    };
    const names = new Set(rows.map((r) => r.name));
    const jobs = rows.map((r) => ({
      name: r.name,
      state: r.state,
      lastStartedAt: r.last_started_at,
      lastFinishedAt: r.last_finished_at,
      lastRunId: r.last_run_id,
      runningRunId: r.running_run_id,
      lockedBy: r.lock_until !== null && r.lock_until > now.toISOString() ? r.lock_owner : null,
      lockedUntil: r.lock_until !== null && r.lock_until > now.toISOString() ? r.lock_until : null,
      nextRun: nextOf(r.name),
    }));
    // Jobs of the configuration that never ran yet.
    for (const j of config?.jobs ?? []) {
      if (names.has(j.name)) continue;
      jobs.push({ name: j.name, state: null, lastStartedAt: null, lastFinishedAt: null, lastRunId: null, runningRunId: null, lockedBy: null, lockedUntil: null, nextRun: nextOf(j.name) });
    }
    return { jobs };
  });

  app.get(
    '/api/v1/export',
    {
      schema: {
        querystring: z.strictObject({
          q: z.string().max(EXPORT_MAX_CHARS_QUERY).default(''),
          format: z.enum(['csv', 'jsonl', 'json']).default('csv'),
          rows: z.enum(['services', 'findings']).default('services'),
        }),
        tags: ['inventory'],
      },
      config: { access: 'analyst' },
    },
    async (req, reply) => {
      const { q, format, rows } = req.query;
      const query = scopedQuery(req.principal, q);
      // HEAD says the export is there without running (nor auditing) it.
      if (req.method === 'HEAD') return reply.type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8').send();
      const stream = new PassThrough();
      let opened!: () => void;
      const sinkOpened = new Promise<void>((r) => (opened = r));
      const done = runExport(inv, { format, query, services: rows === 'services', now: ctx.now().getTime() }, async () => {
        opened();
        return streamSink(stream, 'response');
      });
      // A bad query fails before the sink opens: answer it as an error, not as a half file.
      await Promise.race([sinkOpened, done]);
      await auditRequest(db, req, ctx.now(), { action: 'export', target: q.slice(0, 300), detail: { format, rows } });
      done.then(
        () => stream.end(),
        (err) => {
          req.log.error({ err }, 'export failed midway');
          stream.destroy(err as Error);
        },
      );
      const stamp = ctx.now().toISOString().slice(0, 19).replace(/[:T]/g, '-');
      const ext = format === 'csv' ? 'csv' : format === 'json' ? 'json' : 'jsonl';
      const type = format === 'csv' ? 'text/csv; charset=utf-8' : format === 'json' ? 'application/json; charset=utf-8' : 'application/x-ndjson; charset=utf-8';
      return reply.type(type).header('content-disposition', `attachment; filename="medsurface-${rows}-${stamp}.${ext}"`).send(stream);
    },
  );

  // ---------------------------------------------------------------- users

  app.get('/api/v1/users', { schema: { tags: ['users'] }, config: { access: 'admin' } }, async () => ({ users: await listUsers(db) }));

  app.post(
    '/api/v1/users',
    {
      schema: {
        body: z.strictObject({
          username: z.string().min(1).max(64),
          password: Password,
          role: z.enum(ROLES),
          canIntrusive: z.boolean().default(false),
          orgs: Orgs.default(null),
        }),
        tags: ['users'],
      },
      config: { access: 'admin' },
    },
    async (req, reply) => {
      const user = await createUser(db, req.body, ctx.now(), ctx.opts.argon2MemoryKiB);
      await auditRequest(db, req, ctx.now(), { action: 'user-create', target: user.username, detail: { role: user.role, canIntrusive: user.canIntrusive, orgs: user.orgs } });
      return reply.code(201).send({ user });
    },
  );

  app.patch(
    '/api/v1/users/:id',
    {
      schema: {
        params: IdParam,
        body: z
          .strictObject({ role: z.enum(ROLES).optional(), canIntrusive: z.boolean().optional(), orgs: Orgs.optional(), disabled: z.boolean().optional(), password: Password.optional() })
          .refine((b) => Object.keys(b).length > 0, 'give at least one of role, canIntrusive, orgs, disabled, password'),
        tags: ['users'],
      },
      config: { access: 'admin' },
    },
    async (req) => {
      const { user, endSessions } = await updateUser(db, req.params.id, req.body, ctx.now(), ctx.opts.argon2MemoryKiB);
      if (endSessions) await deleteUserSessions(db, user.id);
      const { password, ...rest } = req.body;
      await auditRequest(db, req, ctx.now(), { action: 'user-update', target: user.username, detail: { ...rest, ...(password !== undefined ? { password: 'changed' } : {}) } });
      return { user };
    },
  );

  app.delete('/api/v1/users/:id', { schema: { params: IdParam, tags: ['users'] }, config: { access: 'admin' } }, async (req, reply) => {
    const user = await deleteUser(db, req.params.id);
    await auditRequest(db, req, ctx.now(), { action: 'user-delete', target: user.username });
    return reply.code(204).send();
  });

  // ---------------------------------------------------------------- tokens

  app.get('/api/v1/tokens', { schema: { tags: ['tokens'] }, config: { access: 'user' } }, async (req) => {
    const p = req.principal!;
    return { tokens: await listTokens(db, p.role === 'admin' ? null : p.userId) };
  });

  app.post(
    '/api/v1/tokens',
    {
      schema: {
        body: z.strictObject({
          name: z.string().min(1).max(TOKEN_NAME_MAX_CHARS),
          expiresInDays: z.number().int().min(1).max(TOKEN_MAX_DAYS).optional(),
          userId: z.number().int().positive().max(2_147_483_647).optional(),
        }),
        tags: ['tokens'],
      },
      config: { access: 'user' },
    },
    async (req, reply) => {
      const p = req.principal!;
      // A stolen token must not be able to mint tokens that outlive its own revocation.
      if (p.via !== 'session') throw forbidden('API tokens are created from a logged-in session, not with another token');
      const forId = req.body.userId ?? p.userId;
      if (forId !== p.userId && p.role !== 'admin') throw forbidden('only an admin creates tokens for other users');
      const owner = userView(await getUser(db, forId));
      const { token, secret } = await createToken(db, { id: owner.id, username: owner.username }, req.body.name, ctx.now(), req.body.expiresInDays);
      await auditRequest(db, req, ctx.now(), { action: 'token-create', target: `${token.id} ${owner.username}`, detail: { name: token.name, prefix: token.prefix, expiresAt: token.expiresAt } });
      return reply.code(201).send({ token, secret });
    },
  );

  app.delete('/api/v1/tokens/:id', { schema: { params: IdParam, tags: ['tokens'] }, config: { access: 'user' } }, async (req, reply) => {
    const p = req.principal!;
    const t = await getToken(db, req.params.id);
    if (t === undefined || (Number(t.user_id) !== p.userId && p.role !== 'admin')) throw notFound(`no token ${req.params.id}`);
    await deleteToken(db, req.params.id);
    await auditRequest(db, req, ctx.now(), { action: 'token-delete', target: `${t.id} user ${t.user_id}`, detail: { name: t.name, prefix: t.prefix } });
    return reply.code(204).send();
  });

  // ---------------------------------------------------------------- audit

  app.get(
    '/api/v1/audit',
    {
      schema: {
        querystring: z.strictObject({
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          offset: z.coerce.number().int().min(0).max(2_000_000_000).default(0),
          action: z.enum(AUDIT_ACTIONS).optional(),
        }),
        tags: ['audit'],
      },
      config: { access: 'admin' },
    },
    async (req) => listAudit(db, req.query),
  );
}
