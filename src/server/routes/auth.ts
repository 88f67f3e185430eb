/**
 * Logging in and out, the current user, and the one-time setup of the first admin.
 *
 * Login answers the same 401 for an unknown user, a wrong password, a locked or a disabled
 * account, after the same argon2 work (no enumeration of names by answer or by time). Each
 * success creates a new session and deletes the one the request carried (no fixation).
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { auditRequest } from '../audit.js';
import { ApiError, conflict, forbidden } from '../errors.js';
import { burnVerification, PASSWORD_MAX_CHARS, verifyPassword } from '../auth/passwords.js';
import { createSession, deleteSession, deleteSessionBySecret, SESSION_COOKIE } from '../auth/sessions.js';
import { createUser, findUserByName, isLocked, recordFailure, recordSuccess, type UserRow, userCount, userView } from '../auth/users.js';
import type { ServerContext, ZApp } from '../context.js';
import type { Principal } from '../types.js';

const Credentials = z.strictObject({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(PASSWORD_MAX_CHARS),
});
/** Routes without parameters accept no body or an empty object (`{}`), nothing else. */
export const NoBody = z.strictObject({}).nullish();
const Setup = z.strictObject({
  token: z.string().min(1).max(200),
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(PASSWORD_MAX_CHARS),
});

export function meOf(p: Pick<Principal, 'userId' | 'username' | 'role' | 'canIntrusive' | 'orgs'>) {
  return { id: p.userId, username: p.username, role: p.role, canIntrusive: p.canIntrusive, orgs: p.orgs };
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function authRoutes(app: ZApp, ctx: ServerContext): void {
  const { db } = ctx;
  const rateLimit = { max: ctx.opts.loginRateMax, timeWindow: 60_000 };

  /** A new session for `user`, replacing the request's own; sets the cookie. */
  const startSession = async (req: FastifyRequest, reply: FastifyReply, user: UserRow) => {
    const old = req.cookies[SESSION_COOKIE];
    if (old !== undefined) await deleteSessionBySecret(db, old);
    const s = await createSession(db, Number(user.id), ctx.now(), ctx.opts.sessionTtlMs);
    reply.setCookie(SESSION_COOKIE, s.secret, {
      httpOnly: true,
      sameSite: 'strict',
      secure: ctx.opts.tls,
      path: '/',
      expires: s.expiresAt,
    });
    const v = userView(user);
    return { user: { id: v.id, username: v.username, role: v.role, canIntrusive: v.canIntrusive, orgs: v.orgs }, csrfToken: s.csrfToken };
  };

  app.post(
    '/api/v1/auth/login',
    { schema: { body: Credentials, tags: ['auth'] }, config: { access: 'public', rateLimit } },
    async (req, reply) => {
      const now = ctx.now();
      const { username, password } = req.body;
      const user = await findUserByName(db, username);
      const fail = async (reason: string) => {
        await auditRequest(db, req, now, { action: 'login', actor: user ? { userId: Number(user.id), username: user.username } : null, target: username.slice(0, 64), ok: false, detail: { reason } });
        throw new ApiError(401, 'invalid-credentials', `wrong user name or password (an account is locked for 15 minutes after 5 failures in a row)`);
      };
      if (user === undefined) {
        await burnVerification(password, ctx.opts.argon2MemoryKiB);
        return fail('unknown-user');
      }
      if (isLocked(user, now)) {
        await burnVerification(password, ctx.opts.argon2MemoryKiB);
        return fail('locked');
      }
      const ok = await verifyPassword(user.password_hash, password);
      if (!ok) {
        await recordFailure(db, user, now);
        return fail('wrong-password');
      }
      if (Number(user.disabled) === 1) return fail('disabled');
      await recordSuccess(db, user, now);
      const body = await startSession(req, reply, user);
      await auditRequest(db, req, now, { action: 'login', actor: { userId: Number(user.id), username: user.username }, target: user.username });
      return body;
    },
  );

  app.post('/api/v1/auth/logout', { schema: { body: NoBody, tags: ['auth'] }, config: { access: 'user' } }, async (req, reply) => {
    const p = req.principal!;
    if (p.via === 'session') await deleteSession(db, p.credentialId);
    reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'strict', secure: ctx.opts.tls });
    await auditRequest(db, req, ctx.now(), { action: 'logout', target: p.username });
    return reply.code(204).send();
  });

  app.get('/api/v1/auth/me', { schema: { tags: ['auth'] }, config: { access: 'user' } }, async (req) => {
    const p = req.principal!;
    return { user: meOf(p), csrfToken: p.csrfToken };
  });

  app.post(
    '/api/v1/auth/setup',
    { schema: { body: Setup, tags: ['auth'] }, config: { access: 'public', rateLimit } },
    async (req, reply) => {
      const now = ctx.now();
      if ((await userCount(db)) > 0) throw conflict('setup is done: users exist (log in, or use medsurface users add)', 'setup-done');
      const token = ctx.setup.token;
      if (token === null || !sameSecret(req.body.token, token)) {
        await auditRequest(db, req, now, { action: 'setup', actor: null, ok: false, detail: { reason: 'bad-token' } });
        throw forbidden('wrong or expired setup token (serve prints it at start when no user exists)');
      }
      // One use: taken before the slow hash, so two requests cannot both pass.
      ctx.setup.token = null;
      let created: Awaited<ReturnType<typeof createUser>>;
      try {
        created = await createUser(db, { username: req.body.username, password: req.body.password, role: 'admin', canIntrusive: true, orgs: null }, now, ctx.opts.argon2MemoryKiB);
      } catch (err) {
        // A bad name or password: the token stays usable for a corrected request.
        if (err instanceof ApiError && err.statusCode === 400) ctx.setup.token = token;
        throw err;
      }
      const first = await db.selectFrom('users').select((eb) => eb.fn.min('id').as('id')).executeTakeFirstOrThrow();
      if (Number(first.id) !== created.id) {
        // Another instance's setup (or `users add`) won the race: keep the first user only.
        await db.deleteFrom('users').where('id', '=', created.id).execute();
        throw conflict('setup is done: users exist', 'setup-done');
      }
      const row = (await findUserByName(db, created.username))!;
      const body = await startSession(req, reply, row);
      await auditRequest(db, req, now, { action: 'setup', actor: { userId: created.id, username: created.username }, target: created.username });
      return reply.code(201).send(body);
    },
  );
}
