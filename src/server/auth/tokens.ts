/**
 * API tokens for scripts: `mst_` + 32 random bytes in base64url, sent as `Authorization: Bearer`.
 * Only the SHA-256 of a token is stored (a high-entropy secret needs no slow hash: there is
 * nothing to guess), with its first characters so a user can tell tokens apart. The secret is
 * shown once, in the answer that creates it.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { ApiTokensTable, InventoryDatabase } from '../../inventory/tables.js';
import { badRequest } from '../errors.js';
import { sha256Hex } from './sessions.js';
import type { UserRow } from './users.js';

type Db = Kysely<InventoryDatabase>;

export const TOKEN_PREFIX = 'mst_';
export const TOKEN_RE = /^mst_[A-Za-z0-9_-]{43}$/;
/** Characters of the token kept in clear to recognise it (`mst_` + 6). */
const SHOWN_CHARS = 10;
export const TOKEN_NAME_MAX_CHARS = 100;
export const MAX_TOKENS_PER_USER = 50;
export const TOKEN_MAX_DAYS = 3650;
const TOUCH_EVERY_MS = 60_000;

export interface TokenView {
  id: number;
  name: string;
  prefix: string;
  userId: number;
  username: string | null;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
}

function view(r: Selectable<ApiTokensTable>, username: string | null): TokenView {
  return {
    id: Number(r.id),
    name: r.name,
    prefix: r.prefix,
    userId: Number(r.user_id),
    username,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    lastUsedAt: r.last_used_at,
  };
}

export function checkTokenName(raw: string): string {
  const t = raw.trim();
  if (t === '' || t.length > TOKEN_NAME_MAX_CHARS || /[\u0000-\u001f\u007f]/.test(t)) {
    throw badRequest(`name: 1 to ${TOKEN_NAME_MAX_CHARS} characters without control characters`);
  }
  return t;
}

export async function createToken(
  db: Db,
  user: { id: number; username: string },
  name: string,
  now: Date,
  expiresInDays?: number,
): Promise<{ token: TokenView; secret: string }> {
  const n = await db.selectFrom('api_tokens').select((eb) => eb.fn.countAll<number | string>().as('n')).where('user_id', '=', user.id).executeTakeFirstOrThrow();
  if (Number(n.n) >= MAX_TOKENS_PER_USER) throw badRequest(`a user holds at most ${MAX_TOKENS_PER_USER} tokens: delete one first`);
  const secret = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
  const row = await db
    .insertInto('api_tokens')
    .values({
      user_id: user.id,
      name: checkTokenName(name),
      token_hash: sha256Hex(secret),
      prefix: secret.slice(0, SHOWN_CHARS),
      created_at: now.toISOString(),
      expires_at: expiresInDays === undefined ? null : new Date(now.getTime() + expiresInDays * 86_400_000).toISOString(),
      last_used_at: null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return { token: view(row, user.username), secret };
}

/** The token's id and its (enabled) user, or null for an unknown, expired or malformed token. */
export async function findToken(db: Db, secret: string, now: Date): Promise<{ id: number; user: UserRow } | null> {
  if (!TOKEN_RE.test(secret)) return null;
  const t = await db.selectFrom('api_tokens').selectAll().where('token_hash', '=', sha256Hex(secret)).executeTakeFirst();
  if (t === undefined) return null;
  if (t.expires_at !== null && t.expires_at <= now.toISOString()) return null;
  const user = await db.selectFrom('users').selectAll().where('id', '=', t.user_id).executeTakeFirst();
  if (user === undefined || Number(user.disabled) === 1) return null;
  if (t.last_used_at === null || Date.parse(t.last_used_at) + TOUCH_EVERY_MS <= now.getTime()) {
    await db.updateTable('api_tokens').set({ last_used_at: now.toISOString() }).where('id', '=', t.id).execute();
  }
  return { id: Number(t.id), user };
}

/** Tokens of one user, or of everyone (null). */
export async function listTokens(db: Db, userId: number | null): Promise<TokenView[]> {
  let q = db.selectFrom('api_tokens').leftJoin('users', 'users.id', 'api_tokens.user_id').selectAll('api_tokens').select('users.username');
  if (userId !== null) q = q.where('api_tokens.user_id', '=', userId);
  const rows = await q.orderBy('api_tokens.id').execute();
  return rows.map((r) => view(r, r.username ?? null));
}

export async function getToken(db: Db, id: number): Promise<Selectable<ApiTokensTable> | undefined> {
  return db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function deleteToken(db: Db, id: number): Promise<void> {
  await db.deleteFrom('api_tokens').where('id', '=', id).execute();
}
