/**
 * The asset metadata the user owns (issue "Asset inventory with history"): tags, owner,
 * criticality, notes and `listed` (the asset is on the user's known-asset list). Scans never
 * write these columns (kysely-store.ts upserts leave them alone), so what the user says about a
 * device survives every rescan.
 *
 * Also the reads `medsurface inventory show` and `list --unlisted` add: an asset's metadata, its
 * history (service_events and finding_events, newest first) and the exposed devices nobody
 * listed, which is itself a finding for a hospital team ("what answers on our ranges that we
 * did not know about?").
 *
 * Every function takes the Kysely instance (`KyselyInventory.db`) and runs the same queries on
 * SQLite and PostgreSQL; writes happen in one transaction each.
 */
import type { Kysely, Transaction } from 'kysely';
import { UsageError } from '../core/errors.js';
import { ipKeyRange } from './ip-key.js';
import type { InventoryDatabase } from './tables.js';

export type InventoryDb = Kysely<InventoryDatabase>;

/** Rows per IN (...) list and per multi-row insert: well under SQLite's and pg's parameter limits. */
export const METADATA_CHUNK = 500;
/** A tag: lower case, starts with a letter or digit, then letters, digits, `.`, `_`, `-`; 64 characters at most. */
export const TAG_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** Tags one command or one imported row may name. */
export const MAX_TAGS = 64;
export const OWNER_MAX_CHARS = 200;
export const NOTES_MAX_CHARS = 2000;
export const HOSTNAME_MAX_CHARS = 253;
/** History entries `inventory show` prints by default. */
export const HISTORY_LIMIT = 50;

export const CRITICALITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Criticality = (typeof CRITICALITIES)[number];

/** A value the user gave for a metadata field is malformed. */
export class MetadataError extends UsageError {
  constructor(message: string) {
    super(message);
    this.name = 'MetadataError';
  }
}

/** TARGET (an address or a CIDR) selects no asset, or `--org` names none. */
export class NoMatchingAssetError extends UsageError {
  constructor(what: string) {
    super(`no asset in the inventory matches ${what}`);
    this.name = 'NoMatchingAssetError';
  }
}

const quote = (s: string): string => JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}...` : s);

/** Lower-cases and validates one tag. */
export function normalizeTag(raw: string): string {
  const t = raw.trim().toLowerCase();
  if (!TAG_RE.test(t)) {
    throw new MetadataError(
      `not a valid tag: ${quote(raw)} (letters, digits, '.', '_', '-'; starting with a letter or digit; at most 64 characters)`,
    );
  }
  return t;
}

/** Normalised, de-duplicated, sorted tags; at most MAX_TAGS. */
export function normalizeTags(raw: readonly string[]): string[] {
  const out = [...new Set(raw.map(normalizeTag))].sort();
  if (out.length > MAX_TAGS) throw new MetadataError(`too many tags (${out.length}; at most ${MAX_TAGS})`);
  return out;
}

export function parseCriticality(raw: string): Criticality {
  const c = raw.trim().toLowerCase();
  if (!(CRITICALITIES as readonly string[]).includes(c)) {
    throw new MetadataError(`criticality must be one of ${CRITICALITIES.join(', ')} (got ${quote(raw)})`);
  }
  return c as Criticality;
}

/** Free text (owner, notes): trimmed, CRLF folded to LF, bounded, no control characters but tab and LF. */
export function checkText(field: string, raw: string, max: number, multiline: boolean): string {
  const t = raw.replace(/\r\n?/g, '\n').trim();
  if (t.length > max) throw new MetadataError(`${field} is longer than ${max} characters`);
  const bad = multiline ? /[\u0000-\u0008\u000b-\u001f\u007f]/ : /[\u0000-\u001f\u007f]/;
  if (bad.test(t)) throw new MetadataError(`${field} contains control characters`);
  return t;
}

/** A host name as a known-asset list gives it: letters, digits, '-', '_', '.', at most 253 characters. */
export function checkHostname(raw: string): string {
  const h = raw.trim();
  if (h.length > HOSTNAME_MAX_CHARS || !/^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?$/.test(h) || h.includes('..')) {
    throw new MetadataError(`not a host name: ${quote(raw)}`);
  }
  return h;
}

class DryRunRollback extends Error {}

/**
 * Runs `fn` in one transaction; with `dryRun` the transaction is rolled back after `fn`, so a
 * dry run reports exactly what the real run would do and changes nothing.
 */
export async function inTransaction<T>(
  db: InventoryDb,
  dryRun: boolean,
  fn: (trx: Transaction<InventoryDatabase>) => Promise<T>,
): Promise<T> {
  let result: { value: T } | null = null;
  try {
    await db.transaction().execute(async (trx) => {
      result = { value: await fn(trx) };
      if (dryRun) throw new DryRunRollback('dry run');
    });
  } catch (err) {
    if (!(err instanceof DryRunRollback)) throw err;
  }
  if (result === null) throw new Error('transaction ended without a result');
  return (result as { value: T }).value;
}

/** ip_key range of an address or CIDR TARGET (UsageError when it is neither). */
export function targetRange(target: string): { lo: string; hi: string } {
  return ipKeyRange(target.trim());
}

// ---------------------------------------------------------------- tag

export interface TagChange {
  /** Tags to add (mutually exclusive with `remove` in the CLI, both allowed here). */
  add?: readonly string[];
  remove?: readonly string[];
  /** A string sets the field; null clears it; undefined leaves it as it is. */
  owner?: string | null;
  criticality?: Criticality | null;
  notes?: string | null;
}

export interface TagResult {
  /** Assets TARGET selected. */
  matched: number;
  /** Of those, the ones whose tags or metadata actually changed. */
  changed: number;
}

/**
 * Adds/removes tags and sets owner, criticality and notes on every existing asset whose address
 * is TARGET (an address or a CIDR). Throws NoMatchingAssetError when TARGET selects no asset.
 */
export async function tagAssets(db: InventoryDb, target: string, change: TagChange): Promise<TagResult> {
  const { lo, hi } = targetRange(target);
  const add = normalizeTags(change.add ?? []);
  const remove = normalizeTags(change.remove ?? []);
  const owner = change.owner === undefined || change.owner === null ? change.owner : checkText('owner', change.owner, OWNER_MAX_CHARS, false) || null;
  const notes = change.notes === undefined || change.notes === null ? change.notes : checkText('notes', change.notes, NOTES_MAX_CHARS, true) || null;
  const criticality = change.criticality === undefined || change.criticality === null ? change.criticality : parseCriticality(change.criticality);
  const set = {
    ...(owner !== undefined ? { owner } : {}),
    ...(notes !== undefined ? { notes } : {}),
    ...(criticality !== undefined ? { criticality } : {}),
  };
  if (add.length === 0 && remove.length === 0 && Object.keys(set).length === 0) {
    throw new MetadataError('nothing to change: give tags, or --owner, --criticality or --notes');
  }

  return inTransaction(db, false, async (trx) => {
    let matched = 0;
    let changed = 0;
    let after = 0;
    for (;;) {
      const assets = await trx
        .selectFrom('assets')
        .select(['id', 'owner', 'criticality', 'notes'])
        .where('ip_key', '>=', lo)
        .where('ip_key', '<=', hi)
        .where('id', '>', after)
        .orderBy('id')
        .limit(METADATA_CHUNK)
        .execute();
      if (assets.length === 0) break;
      after = Number(assets[assets.length - 1]!.id);
      matched += assets.length;
      const ids = assets.map((a) => Number(a.id));
      const touched = new Set<number>();

      const named = [...add, ...remove];
      const have = new Set<string>();
      if (named.length > 0) {
        const rows = await trx.selectFrom('asset_tags').select(['asset_id', 'tag']).where('asset_id', 'in', ids).where('tag', 'in', named).execute();
        for (const r of rows) have.add(`${Number(r.asset_id)}|${r.tag}`);
      }
      const inserts: { asset_id: number; tag: string }[] = [];
      for (const id of ids) {
        for (const tag of add) {
          if (!have.has(`${id}|${tag}`)) {
            inserts.push({ asset_id: id, tag });
            touched.add(id);
          }
        }
        for (const tag of remove) if (have.has(`${id}|${tag}`)) touched.add(id);
      }
      for (let i = 0; i < inserts.length; i += METADATA_CHUNK) {
        await trx
          .insertInto('asset_tags')
          .values(inserts.slice(i, i + METADATA_CHUNK))
          .onConflict((oc) => oc.columns(['asset_id', 'tag']).doNothing())
          .execute();
      }
      if (remove.length > 0) await trx.deleteFrom('asset_tags').where('asset_id', 'in', ids).where('tag', 'in', remove).execute();

      if (Object.keys(set).length > 0) {
        const differ = assets
          .filter(
            (a) =>
              (owner !== undefined && a.owner !== owner) ||
              (notes !== undefined && a.notes !== notes) ||
              (criticality !== undefined && a.criticality !== criticality),
          )
          .map((a) => Number(a.id));
        if (differ.length > 0) await trx.updateTable('assets').set(set).where('id', 'in', differ).execute();
        for (const id of differ) touched.add(id);
      }
      changed += touched.size;
    }
    if (matched === 0) throw new NoMatchingAssetError(target);
    return { matched, changed };
  });
}

// ---------------------------------------------------------------- reads

export interface AssetMetadata {
  tags: string[];
  owner: string | null;
  criticality: string | null;
  notes: string | null;
  /** The asset is on the user's known-asset list (`inventory import`). */
  listed: boolean;
}

/** The user-owned metadata of one asset, null when there is no such asset. */
export async function assetMetadata(db: InventoryDb, assetId: number): Promise<AssetMetadata | null> {
  const a = await db.selectFrom('assets').select(['owner', 'criticality', 'notes', 'listed']).where('id', '=', assetId).executeTakeFirst();
  if (a === undefined) return null;
  const tags = await db.selectFrom('asset_tags').select('tag').where('asset_id', '=', assetId).orderBy('tag').execute();
  return { tags: tags.map((t) => t.tag), owner: a.owner, criticality: a.criticality, notes: a.notes, listed: Number(a.listed) === 1 };
}

export type HistoryEntry =
  | { kind: 'service'; at: string; port: number; runId: string | null; field: string; oldValue: string | null; newValue: string | null }
  | { kind: 'finding'; at: string; port: number; runId: string | null; event: string; checkId: string; detail: unknown };

function parseDetail(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * The asset's history, newest first, at most `limit` entries: changes of its services
 * (service_events: field, old and new value) and of its findings (finding_events).
 */
export async function assetHistory(db: InventoryDb, assetId: number, limit = HISTORY_LIMIT): Promise<HistoryEntry[]> {
  const n = Math.max(1, Math.min(Math.trunc(limit), 1000));
  const svc = await db
    .selectFrom('service_events')
    .innerJoin('services', 'services.id', 'service_events.service_id')
    .select(['service_events.id', 'service_events.at', 'service_events.run_id', 'service_events.field', 'service_events.old_value', 'service_events.new_value', 'services.port'])
    .where('services.asset_id', '=', assetId)
    .orderBy('service_events.at', 'desc')
    .orderBy('service_events.id', 'desc')
    .limit(n)
    .execute();
  const fnd = await db
    .selectFrom('finding_events')
    .innerJoin('findings', 'findings.id', 'finding_events.finding_id')
    .innerJoin('services', 'services.id', 'findings.service_id')
    .select(['finding_events.id', 'finding_events.at', 'finding_events.run_id', 'finding_events.event', 'finding_events.detail', 'findings.check_id', 'services.port'])
    .where('services.asset_id', '=', assetId)
    .orderBy('finding_events.at', 'desc')
    .orderBy('finding_events.id', 'desc')
    .limit(n)
    .execute();
  const merged: (HistoryEntry & { seq: number })[] = [
    ...svc.map((r) => ({
      kind: 'service' as const,
      at: r.at,
      port: Number(r.port),
      runId: r.run_id,
      field: r.field,
      oldValue: r.old_value,
      newValue: r.new_value,
      seq: Number(r.id),
    })),
    ...fnd.map((r) => ({
      kind: 'finding' as const,
      at: r.at,
      port: Number(r.port),
      runId: r.run_id,
      event: r.event,
      checkId: r.check_id,
      detail: parseDetail(r.detail),
      seq: Number(r.id),
    })),
  ];
  // Newest first; at the same instant, findings after service changes and later rows first.
  merged.sort((a, b) => (a.at !== b.at ? (a.at < b.at ? 1 : -1) : a.kind !== b.kind ? (a.kind === 'service' ? -1 : 1) : b.seq - a.seq));
  return merged.slice(0, n).map(({ seq: _seq, ...e }) => e);
}

export interface UnlistedAsset {
  id: number;
  ip: string;
  hostname: string | null;
  vendor: string | null;
  product: string | null;
  deviceType: string | null;
  org: string | null;
  /** Services (open ports) known on the asset: at least one. */
  services: number;
  firstSeen: string;
  lastSeen: string;
}

/**
 * Exposed devices nobody listed: assets with at least one service that are not on the
 * known-asset list (listed = 0), in address order. `ip` (address or CIDR) narrows the range.
 */
export async function unlistedExposedAssets(
  db: InventoryDb,
  opts: { ip?: string; limit?: number; offset?: number } = {},
): Promise<UnlistedAsset[]> {
  let q = db
    .selectFrom('assets')
    .select((eb) => [
      'assets.id',
      'assets.ip',
      'assets.hostname',
      'assets.vendor',
      'assets.product',
      'assets.device_type',
      'assets.org',
      'assets.first_seen',
      'assets.last_seen',
      eb
        .selectFrom('services')
        .select((e) => e.fn.countAll<number | string>().as('n'))
        .whereRef('services.asset_id', '=', 'assets.id')
        .as('services'),
    ])
    .where('assets.listed', '=', 0)
    .where((eb) => eb.exists(eb.selectFrom('services').select('services.id').whereRef('services.asset_id', '=', 'assets.id')));
  if (opts.ip !== undefined) {
    const { lo, hi } = targetRange(opts.ip);
    q = q.where('assets.ip_key', '>=', lo).where('assets.ip_key', '<=', hi);
  }
  q = q.orderBy('assets.ip_key').orderBy('assets.ip');
  if (opts.limit !== undefined || opts.offset !== undefined) q = q.limit(opts.limit ?? 2_147_483_647);
  if (opts.offset !== undefined) q = q.offset(opts.offset);
  const rows = await q.execute();
  return rows.map((r) => ({
    id: Number(r.id),
    ip: r.ip,
    hostname: r.hostname,
    vendor: r.vendor,
    product: r.product,
    deviceType: r.device_type,
    org: r.org,
    services: Number(r.services ?? 0),
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
  }));
}

/** Assets on the known-asset list (0 means no list was imported yet). */
export async function listedAssetCount(db: InventoryDb): Promise<number> {
  const r = await db
    .selectFrom('assets')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('listed', '=', 1)
    .executeTakeFirst();
  return Number(r?.n ?? 0);
}
