/**
 * API users in the `users` table (migrations/0006-server.ts): creation with an argon2id hash,
 * the lockout counters, and the checks on names, roles and organisations. Used by the API
 * (routes/users.ts, routes/auth.ts) and by `medsurface users`.
 */
import type { Kysely, Selectable, Updateable } from 'kysely';
import type { InventoryDatabase, UsersTable } from '../../inventory/tables.js';
import { badRequest, conflict, notFound } from '../errors.js';
import { ROLES, type Role } from '../types.js';
import { checkNewPassword, hashPassword } from './passwords.js';

type Db = Kysely<InventoryDatabase>;

/** User names: lower case letters, digits, `.`, `_`, `-`, `@`; 1 to 64 characters. */
export const USERNAME_RE = /^[a-z0-9][a-z0-9._@-]{0,63}$/;
/** Organisations one user may be limited to, and the length of one name. */
export const MAX_USER_ORGS = 32;
export const ORG_MAX_CHARS = 200;
/** Failures in a row that lock an account, and for how long. */
export const LOCKOUT_FAILURES = 5;
export const LOCKOUT_MS = 15 * 60_000;

export interface UserView {
  id: number;
  username: string;
  role: Role;
  canIntrusive: boolean;
  orgs: string[] | null;
  disabled: boolean;
  createdAt: string;
  lastLoginAt: string | null;
}

export type UserRow = Selectable<UsersTable>;

export function parseOrgs(text: string | null): string[] | null {
  if (text === null) return null;
  try {
    const v = JSON.parse(text) as unknown;
    // A malformed list limits the user to nothing rather than to everything.
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

export function userView(r: UserRow): UserView {
  return {
    id: Number(r.id),
    username: r.username,
    role: r.role as Role,
    canIntrusive: Number(r.can_intrusive) === 1,
    orgs: parseOrgs(r.orgs),
    disabled: Number(r.disabled) === 1,
    createdAt: r.created_at,
    lastLoginAt: r.last_login_at,
  };
}

export function normalizeUsername(raw: string): string {
  const u = raw.trim().toLowerCase();
  if (!USERNAME_RE.test(u)) {
    throw badRequest('username: 1 to 64 characters, lower-case letters, digits, ".", "_", "-" or "@", starting with a letter or digit');
  }
  return u;
}

export function checkRole(raw: string): Role {
  if (!(ROLES as readonly string[]).includes(raw)) throw badRequest(`role: one of ${ROLES.join(', ')}`);
  return raw as Role;
}

/** Trimmed, de-duplicated organisation names; null (all) stays null. An empty list is refused: it would show nothing. */
export function normalizeOrgs(raw: readonly string[] | null | undefined): string[] | null {
  if (raw === null || raw === undefined) return null;
  const out: string[] = [];
  const seen = new Set<string>();
  for (const o of raw) {
    const t = o.trim();
    if (t === '' || t.length > ORG_MAX_CHARS || /[\u0000-\u001f\u007f]/.test(t)) {
      throw badRequest(`orgs: each organisation is 1 to ${ORG_MAX_CHARS} characters without control characters`);
    }
    if (seen.has(t.toLowerCase())) continue;
    seen.add(t.toLowerCase());
    out.push(t);
  }
  if (out.length === 0) throw badRequest('orgs: give at least one organisation, or null for all');
  if (out.length > MAX_USER_ORGS) throw badRequest(`orgs: at most ${MAX_USER_ORGS} organisations`);
  return out;
}

export interface NewUser {
  username: string;
  password: string;
  role: string;
  canIntrusive?: boolean;
  orgs?: readonly string[] | null;
}

export async function createUser(db: Db, u: NewUser, now: Date, memoryKiB?: number): Promise<UserView> {
  const username = normalizeUsername(u.username);
  const role = checkRole(u.role);
  const orgs = normalizeOrgs(u.orgs);
  checkNewPassword(u.password);
  if (await findUserByName(db, username)) throw conflict(`a user named ${username} exists`);
  const hash = await hashPassword(u.password, memoryKiB);
  const at = now.toISOString();
  const row = await db
    .insertInto('users')
    .values({
      username,
      password_hash: hash,
      role,
      can_intrusive: u.canIntrusive === true ? 1 : 0,
      orgs: orgs === null ? null : JSON.stringify(orgs),
      disabled: 0,
      failed_logins: 0,
      locked_until: null,
      created_at: at,
      updated_at: at,
      last_login_at: null,
    })
    .returningAll()
    .executeTakeFirstOrThrow()
    .catch(async (err: unknown) => {
      // Created meanwhile by another request or process: the unique index decided.
      if (await findUserByName(db, username)) throw conflict(`a user named ${username} exists`);
      throw err;
    });
  return userView(row);
}

export async function findUserByName(db: Db, username: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('username', '=', username.trim().toLowerCase()).executeTakeFirst();
}

export async function getUser(db: Db, id: number): Promise<UserRow> {
  const r = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  if (r === undefined) throw notFound(`no user with id ${id}`);
  return r;
}

export async function listUsers(db: Db): Promise<UserView[]> {
  return (await db.selectFrom('users').selectAll().orderBy('username').execute()).map(userView);
}

export async function userCount(db: Db): Promise<number> {
  const r = await db.selectFrom('users').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Admins that can log in, other than `exceptId`. */
export async function otherActiveAdmins(db: Db, exceptId: number): Promise<number> {
  const r = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('role', '=', 'admin')
    .where('disabled', '=', 0)
    .where('id', '!=', exceptId)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

export interface UserChange {
  role?: string;
  canIntrusive?: boolean;
  orgs?: readonly string[] | null;
  disabled?: boolean;
  password?: string;
}

/**
 * Applies a change; refuses one that would leave no active admin. Returns the new view and
 * whether the user's sessions must end (password changed, disabled, role or scope narrowed:
 * the principal is re-read on every request, so only a new password and disabling need it).
 */
export async function updateUser(db: Db, id: number, c: UserChange, now: Date, memoryKiB?: number): Promise<{ user: UserView; endSessions: boolean }> {
  const cur = await getUser(db, id);
  const set: Updateable<UsersTable> = {};
  if (c.role !== undefined) set.role = checkRole(c.role);
  if (c.canIntrusive !== undefined) set.can_intrusive = c.canIntrusive ? 1 : 0;
  if (c.orgs !== undefined) {
    const orgs = normalizeOrgs(c.orgs);
    set.orgs = orgs === null ? null : JSON.stringify(orgs);
  }
  if (c.disabled !== undefined) set.disabled = c.disabled ? 1 : 0;
  if (c.password !== undefined) {
    checkNewPassword(c.password);
    set.password_hash = await hashPassword(c.password, memoryKiB);
    set.failed_logins = 0;
    set.locked_until = null;
  }
  const losesAdmin = cur.role === 'admin' && Number(cur.disabled) === 0 && ((set.role !== undefined && set.role !== 'admin') || set.disabled === 1);
  if (losesAdmin && (await otherActiveAdmins(db, id)) === 0) throw conflict('this is the last active admin: make another admin first');
  if (Object.keys(set).length === 0) return { user: userView(cur), endSessions: false };
  const row = await db
    .updateTable('users')
    .set({ ...set, updated_at: now.toISOString() })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
  return { user: userView(row), endSessions: c.password !== undefined || set.disabled === 1 };
}

export async function deleteUser(db: Db, id: number): Promise<UserView> {
  const cur = await getUser(db, id);
  if (cur.role === 'admin' && Number(cur.disabled) === 0 && (await otherActiveAdmins(db, id)) === 0) {
    throw conflict('this is the last active admin: make another admin first');
  }
  await db.deleteFrom('sessions').where('user_id', '=', id).execute();
  await db.deleteFrom('api_tokens').where('user_id', '=', id).execute();
  await db.deleteFrom('users').where('id', '=', id).execute();
  return userView(cur);
}

export function isLocked(r: UserRow, now: Date): boolean {
  return r.locked_until !== null && r.locked_until > now.toISOString();
}

/** Counts a failed login; the LOCKOUT_FAILURES-th in a row locks the account for LOCKOUT_MS. */
export async function recordFailure(db: Db, r: UserRow, now: Date): Promise<void> {
  // A lock that ran out starts a fresh count.
  const expired = r.locked_until !== null && r.locked_until <= now.toISOString();
  const failures = (expired ? 0 : Number(r.failed_logins)) + 1;
  await db
    .updateTable('users')
    .set({
      failed_logins: failures >= LOCKOUT_FAILURES ? 0 : failures,
      locked_until: failures >= LOCKOUT_FAILURES ? new Date(now.getTime() + LOCKOUT_MS).toISOString() : expired ? null : r.locked_until,
    })
    .where('id', '=', r.id)
    .execute();
}

export async function recordSuccess(db: Db, r: UserRow, now: Date): Promise<void> {
  await db.updateTable('users').set({ failed_logins: 0, locked_until: null, last_login_at: now.toISOString() }).where('id', '=', r.id).execute();
}
