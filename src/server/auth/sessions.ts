/**
 * Browser sessions, stored in the inventory database so that several `serve` instances share
 * them. The cookie holds 32 random bytes (base64url); the table holds their SHA-256, so a copy
 * of the database (or a backup) opens no session. Each session has its own CSRF token, which
 * the client echoes in `X-CSRF-Token` on writes (OWASP "synchronizer token" pattern).
 *
 * A session ends at its absolute lifetime or after an idle period; login always creates a new
 * one and deletes the one the request came with (no session fixation).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { InventoryDatabase } from '../../inventory/tables.js';
import type { UserRow } from './users.js';

type Db = Kysely<InventoryDatabase>;

export const SESSION_COOKIE = 'ms_session';
export const SESSION_TTL_MS = 12 * 3600_000;
export const SESSION_IDLE_MS = 2 * 3600_000;
/** last_seen_at is written at most this often per session (one write a minute, not one a request). */
const TOUCH_EVERY_MS = 60_000;
/** The cookie's shape: 32 bytes in base64url. Anything else is not looked up. */
const SECRET_RE = /^[A-Za-z0-9_-]{43}$/;

export const sha256Hex = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

export interface NewSession {
  /** The cookie value (returned once, never stored). */
  secret: string;
  idHash: string;
  csrfToken: string;
  expiresAt: Date;
}

export async function createSession(db: Db, userId: number, now: Date, ttlMs = SESSION_TTL_MS): Promise<NewSession> {
  const secret = randomBytes(32).toString('base64url');
  const csrfToken = randomBytes(32).toString('base64url');
  const idHash = sha256Hex(secret);
  const expiresAt = new Date(now.getTime() + ttlMs);
  await db
    .insertInto('sessions')
    .values({ id_hash: idHash, user_id: userId, csrf_token: csrfToken, created_at: now.toISOString(), last_seen_at: now.toISOString(), expires_at: expiresAt.toISOString() })
    .execute();
  return { secret, idHash, csrfToken, expiresAt };
}

export interface FoundSession {
  idHash: string;
  csrfToken: string;
  user: UserRow;
}

/** The live session of a cookie value with its (enabled) user, or null. Expired sessions are deleted. */
export async function findSession(db: Db, secret: string, now: Date, idleMs = SESSION_IDLE_MS): Promise<FoundSession | null> {
  if (!SECRET_RE.test(secret)) return null;
  const idHash = sha256Hex(secret);
  const s = await db.selectFrom('sessions').selectAll().where('id_hash', '=', idHash).executeTakeFirst();
  if (s === undefined) return null;
  const nowIso = now.toISOString();
  const idleLimit = new Date(now.getTime() - idleMs).toISOString();
  if (s.expires_at <= nowIso || s.last_seen_at < idleLimit) {
    await deleteSession(db, idHash);
    return null;
  }
  const user = await db.selectFrom('users').selectAll().where('id', '=', s.user_id).executeTakeFirst();
  if (user === undefined || Number(user.disabled) === 1) return null;
  if (Date.parse(s.last_seen_at) + TOUCH_EVERY_MS <= now.getTime()) {
    await db.updateTable('sessions').set({ last_seen_at: nowIso }).where('id_hash', '=', idHash).execute();
  }
  return { idHash, csrfToken: s.csrf_token, user };
}

/** Deletes the session of a cookie value, if any (login of someone else, logout). */
export async function deleteSessionBySecret(db: Db, secret: string): Promise<void> {
  if (SECRET_RE.test(secret)) await deleteSession(db, sha256Hex(secret));
}

export async function deleteSession(db: Db, idHash: string): Promise<void> {
  await db.deleteFrom('sessions').where('id_hash', '=', idHash).execute();
}

export async function deleteUserSessions(db: Db, userId: number): Promise<void> {
  await db.deleteFrom('sessions').where('user_id', '=', userId).execute();
}

/** Removes sessions past their lifetime (called now and then; lookups ignore them anyway). */
export async function purgeExpiredSessions(db: Db, now: Date): Promise<void> {
  await db.deleteFrom('sessions').where('expires_at', '<=', now.toISOString()).execute();
}
