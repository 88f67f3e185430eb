/**
 * The API's audit log (table audit_log): who did what, when, from where. Logins (successful
 * and failed), logouts, setup, scans launched and cancelled, the emergency stop, finding state
 * changes (old -> new), asset metadata edits, exports, user and token changes.
 *
 * Never a password or a token secret: callers pass only names, ids and states, and `detail`
 * is cut to a bounded size.
 */
import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { InventoryDatabase } from '../inventory/tables.js';
import type { Principal } from './types.js';

type Db = Kysely<InventoryDatabase>;

export const AUDIT_ACTIONS = [
  'login',
  'logout',
  'setup',
  'scan-launch',
  'scan-cancel',
  'stop-all',
  'finding-state',
  'asset-metadata',
  'export',
  'user-create',
  'user-update',
  'user-delete',
  'token-create',
  'token-delete',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** Longest `detail` JSON kept per entry. */
const DETAIL_MAX_CHARS = 4000;
const TARGET_MAX_CHARS = 300;

export interface AuditEntry {
  action: AuditAction;
  /** The acting user (null: anonymous, e.g. a failed login, or the CLI without one). */
  actor?: { userId: number | null; username: string | null } | Principal | null;
  target?: string | null;
  ok?: boolean;
  detail?: Record<string, unknown> | null;
  ip?: string | null;
}

export interface AuditRow {
  id: number;
  at: string;
  userId: number | null;
  username: string | null;
  action: string;
  target: string | null;
  ok: boolean;
  ip: string | null;
  detail: unknown;
}

export async function writeAudit(db: Db, e: AuditEntry, now: Date): Promise<void> {
  let detail = e.detail === undefined || e.detail === null ? null : JSON.stringify(e.detail);
  if (detail !== null && detail.length > DETAIL_MAX_CHARS) detail = JSON.stringify({ truncated: detail.slice(0, DETAIL_MAX_CHARS - 100) });
  await db
    .insertInto('audit_log')
    .values({
      at: now.toISOString(),
      user_id: e.actor?.userId ?? null,
      username: e.actor?.username ?? null,
      action: e.action,
      target: e.target === undefined || e.target === null ? null : e.target.slice(0, TARGET_MAX_CHARS),
      ok: e.ok === false ? 0 : 1,
      ip: e.ip ?? null,
      detail,
    })
    .execute();
}

/** writeAudit with the request's user and address. */
export function auditRequest(db: Db, req: FastifyRequest, now: Date, e: Omit<AuditEntry, 'ip' | 'actor'> & { actor?: AuditEntry['actor'] }): Promise<void> {
  return writeAudit(db, { ...e, actor: e.actor === undefined ? req.principal : e.actor, ip: req.ip }, now);
}

export async function listAudit(db: Db, opts: { limit: number; offset: number; action?: string }): Promise<{ total: number; rows: AuditRow[] }> {
  let base = db.selectFrom('audit_log');
  if (opts.action !== undefined) base = base.where('action', '=', opts.action);
  const total = Number((await base.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow()).n);
  const rows = await base.selectAll().orderBy('id', 'desc').limit(opts.limit).offset(opts.offset).execute();
  return {
    total,
    rows: rows.map((r) => ({
      id: Number(r.id),
      at: r.at,
      userId: r.user_id === null ? null : Number(r.user_id),
      username: r.username,
      action: r.action,
      target: r.target,
      ok: Number(r.ok) === 1,
      ip: r.ip,
      detail: r.detail === null ? null : safeParse(r.detail),
    })),
  };
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
