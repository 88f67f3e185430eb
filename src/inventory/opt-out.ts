/**
 * The opt-out list: ranges whose owners asked not to be scanned (`medsurface optout add|list|
 * remove`, table opt_outs of migrations/0007-opt-outs.ts). Every scan honours it: a
 * single-machine scan leaves the ranges out before its first packet, a distributed worker
 * reloads the list at every shard start and at least once a minute while it scans
 * (src/distributed/opt-out-watch.ts). As an address set it is the scope module's IpSet, the one
 * the exclusion list uses, so a list of thousands of ranges costs a binary search per address.
 */
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Kysely } from 'kysely';
import { UsageError, messageOf } from '../core/errors.js';
import { IpSet } from '../scope/index.js';
import { formatRange, parseToken, quoteToken } from '../scope/ipset.js';
import { isPostgresUrl, openKyselyInventory, resolveInventoryLocation } from './db.js';
import { InventoryError, KyselyInventory } from './kysely-store.js';
import type { Inventory } from './store.js';
import type { InventoryDatabase } from './tables.js';

/** Longest reason kept (user input, shown in lists and reports). */
export const MAX_REASON_CHARS = 1000;
/** Longest contact (an e-mail address or a URL, or a name and one of them). */
export const MAX_OPT_OUT_CONTACT_CHARS = 300;
/** Longest "added by" (user@host). */
export const MAX_ADDED_BY_CHARS = 200;

export interface OptOut {
  /** Canonical CIDR (host bits cleared). */
  cidr: string;
  reason: string | null;
  contact: string | null;
  /** ISO 8601 UTC. */
  addedAt: string;
  addedBy: string;
}

type Db = Kysely<InventoryDatabase>;
/** Where the list is read: an opened inventory (its Kysely database), or the database itself. */
export type OptOutSource = KyselyInventory | Inventory | Db;

function dbOf(src: OptOutSource): Db {
  if (src instanceof KyselyInventory) return src.db;
  if (typeof (src as Db).selectFrom === 'function') return src as Db;
  throw new InventoryError('the opt-out list needs an SQL inventory (SQLite or PostgreSQL)');
}

/**
 * The canonical CIDR text of an address or CIDR block (`192.0.2.7/24` is `192.0.2.0/24`, a
 * single address is a /32 or /128). A range that is not one CIDR block is refused: the list
 * holds blocks, one row each.
 */
export function canonicalCidr(text: string): string {
  const token = text.trim();
  const p = parseToken(token);
  if (p.kind === 'error') throw new UsageError(`opt-out: bad CIDR ${quoteToken(token)}: ${p.reason}`);
  if (p.kind === 'name') throw new UsageError(`opt-out: ${quoteToken(token)} is a host name; give an address or a CIDR block`);
  const block = formatRange(p.family, p);
  if (p.start === p.end) return `${block}/${p.family === 4 ? 32 : 128}`;
  if (!block.includes('/')) throw new UsageError(`opt-out: ${quoteToken(token)} is a range, not one CIDR block; add the blocks that cover it one by one`);
  return block;
}

function bounded(label: string, value: string | undefined, max: number): string | null {
  if (value === undefined) return null;
  const v = value.trim();
  if (v === '') return null;
  if (v.length > max) throw new UsageError(`opt-out: ${label} is ${v.length} characters, at most ${max}`);
  if (/[\x00-\x08\x0b-\x1f\x7f]/.test(v)) throw new UsageError(`opt-out: ${label} holds control characters`);
  return v;
}

function fromRow(r: InventoryDatabase['opt_outs']): OptOut {
  return { cidr: r.cidr, reason: r.reason, contact: r.contact, addedAt: r.added_at, addedBy: r.added_by };
}

/**
 * Records an opt-out. Adding a range already on the list keeps its date and author and updates
 * the reason and contact given (`created` false).
 */
export async function addOptOut(
  src: OptOutSource,
  entry: { cidr: string; reason?: string; contact?: string; addedBy: string },
  now: Date = new Date(),
): Promise<{ optOut: OptOut; created: boolean }> {
  const db = dbOf(src);
  const cidr = canonicalCidr(entry.cidr);
  const reason = bounded('--reason', entry.reason, MAX_REASON_CHARS);
  const contact = bounded('--contact', entry.contact, MAX_OPT_OUT_CONTACT_CHARS);
  const addedBy = bounded('added by', entry.addedBy, MAX_ADDED_BY_CHARS) ?? 'unknown';
  const existing = await db.selectFrom('opt_outs').selectAll().where('cidr', '=', cidr).executeTakeFirst();
  if (existing) {
    const set = { ...(reason !== null ? { reason } : {}), ...(contact !== null ? { contact } : {}) };
    if (Object.keys(set).length > 0) await db.updateTable('opt_outs').set(set).where('cidr', '=', cidr).execute();
    return { optOut: fromRow({ ...existing, ...set }), created: false };
  }
  const row = { cidr, reason, contact, added_at: now.toISOString(), added_by: addedBy };
  // A concurrent add of the same range: the first one wins, the second is an update of nothing.
  await db
    .insertInto('opt_outs')
    .values(row)
    .onConflict((oc) => oc.column('cidr').doNothing())
    .execute();
  return { optOut: fromRow(row), created: true };
}

/** The list, oldest first. */
export async function listOptOuts(src: OptOutSource): Promise<OptOut[]> {
  const rows = await dbOf(src).selectFrom('opt_outs').selectAll().orderBy('added_at').orderBy('cidr').execute();
  return rows.map(fromRow);
}

/** Removes one range (written as it was added, or any spelling of the same block); false when it was not on the list. */
export async function removeOptOut(src: OptOutSource, cidr: string): Promise<boolean> {
  const r = await dbOf(src).deleteFrom('opt_outs').where('cidr', '=', canonicalCidr(cidr)).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/**
 * The list as an address set. A row that does not parse (written by hand into the table) is an
 * error, not a skipped row: a scan must not go ahead with part of the list.
 */
export async function loadOptOutSet(src: OptOutSource): Promise<IpSet> {
  const rows = await dbOf(src).selectFrom('opt_outs').select('cidr').execute();
  if (rows.length === 0) return IpSet.empty();
  return IpSet.parse(
    rows.map((r) => r.cidr),
    'opt-out list (table opt_outs)',
  );
}

/**
 * The opt-out list of the inventory at `location` (as `--db` resolves it) for a scan that does
 * not record into it (`--no-inventory`). A SQLite inventory is only read (opened read-only, not
 * migrated: one without the table, or not there at all, has no opt-outs yet).
 */
export async function loadOptOutSetAt(location?: string): Promise<IpSet> {
  const where = resolveInventoryLocation(location);
  if (!isPostgresUrl(where)) {
    if (where === ':memory:' || !existsSync(where)) return IpSet.empty();
    let sqlite: Database.Database;
    try {
      sqlite = new Database(where, { readonly: true, fileMustExist: true });
    } catch (err) {
      throw new UsageError(`cannot read the opt-out list of the inventory at ${where}: ${messageOf(err)}`, { cause: err });
    }
    try {
      sqlite.pragma('busy_timeout = 5000');
      const table = sqlite.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'opt_outs'").get();
      if (table === undefined) return IpSet.empty();
      const rows = sqlite.prepare('SELECT cidr FROM opt_outs').all() as { cidr: string }[];
      return rows.length === 0 ? IpSet.empty() : IpSet.parse(rows.map((r) => r.cidr), 'opt-out list (table opt_outs)');
    } finally {
      sqlite.close();
    }
  }
  const inv = await openKyselyInventory(where);
  try {
    return await loadOptOutSet(inv);
  } finally {
    await inv.close();
  }
}
