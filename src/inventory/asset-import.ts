/**
 * `medsurface inventory import assets.csv`: merges the user's known-asset list with what the
 * scans found. A listed address that a scan already knows gets the list's metadata and
 * `listed = 1`; one no scan has seen yet is added as an asset without services (first and last
 * seen = the import time), so a later scan attaches its services to it. What stays `listed = 0`
 * with services is an exposed device nobody listed (metadata.ts `unlistedExposedAssets`).
 *
 * The file: CSV (RFC 4180, csv.ts) with a header; columns ip (required), hostname, owner,
 * criticality, tags (separated by ';' or '|'), notes, in any order, names case-insensitive.
 * A blank cell leaves the stored value as it is; tags are added, never removed.
 * The whole import is one transaction: a bad row aborts it with nothing changed, unless the
 * caller asks to skip bad rows (then they are reported with their line numbers).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { messageOf, UsageError } from '../core/errors.js';
import { formatAddress, parseAddress } from '../scope/ip.js';
import { parseCsv } from './csv.js';
import { ipKey } from './ip-key.js';
import {
  type Criticality,
  checkHostname,
  checkText,
  type InventoryDb,
  inTransaction,
  METADATA_CHUNK,
  MetadataError,
  NOTES_MAX_CHARS,
  normalizeTags,
  OWNER_MAX_CHARS,
  parseCriticality,
} from './metadata.js';

/** Largest known-asset file read (a /16 listed host by host is about 5 MB). */
export const IMPORT_MAX_BYTES = 32 * 1024 * 1024;
/** Rows one import may hold. */
export const IMPORT_MAX_ROWS = 1_000_000;

export const IMPORT_COLUMNS = ['ip', 'hostname', 'owner', 'criticality', 'tags', 'notes'] as const;
type Column = (typeof IMPORT_COLUMNS)[number];

/** The file as a whole cannot be imported (too large, not UTF-8, bad header). */
export class AssetListError extends UsageError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AssetListError';
  }
}

/** One bad row; `line` is where it starts in the file. */
export class AssetRowError extends UsageError {
  readonly line: number;
  readonly reason: string;
  constructor(line: number, reason: string) {
    super(`line ${line}: ${reason}`);
    this.name = 'AssetRowError';
    this.line = line;
    this.reason = reason;
  }
}

/** One row of the list, validated. Undefined fields were absent or blank: left as stored. */
export interface KnownAsset {
  line: number;
  /** Canonical text (RFC 5952 for IPv6), as the scanner stores addresses. */
  ip: string;
  ipKey: string;
  hostname?: string;
  owner?: string;
  criticality?: Criticality;
  tags: string[];
  notes?: string;
}

export interface AssetList {
  rows: KnownAsset[];
  /** Bad rows (only when skipBadRows; otherwise the first one throws). */
  rejected: AssetRowError[];
}

/** Reads the file, refusing more than IMPORT_MAX_BYTES and anything that is not UTF-8. */
export function readAssetListFile(path: string, maxBytes = IMPORT_MAX_BYTES): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new AssetListError(`cannot read ${path}: ${messageOf(err)}`, { cause: err });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new AssetListError(`${path} is not a regular file`);
    if (st.size > maxBytes) throw new AssetListError(`${path} is larger than ${maxBytes} bytes (${st.size}); split it`);
    // Read at most maxBytes + 1, whatever the size said: the file may grow while we read.
    const buf = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
    let got = 0;
    for (;;) {
      const r = readSync(fd, buf, got, buf.length - got, null);
      if (r === 0) break;
      got += r;
      if (got === buf.length) break;
    }
    if (got > maxBytes) throw new AssetListError(`${path} is larger than ${maxBytes} bytes; split it`);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, got));
    } catch (err) {
      throw new AssetListError(`${path} is not UTF-8 text (save the list as CSV UTF-8)`, { cause: err });
    }
  } finally {
    closeSync(fd);
  }
}

function headerOf(fields: string[]): Map<Column, number> {
  const cols = new Map<Column, number>();
  fields.forEach((raw, i) => {
    const name = raw.trim().toLowerCase();
    if (!(IMPORT_COLUMNS as readonly string[]).includes(name)) {
      throw new AssetListError(`line 1: unknown column ${JSON.stringify(raw.slice(0, 40))}; valid columns: ${IMPORT_COLUMNS.join(', ')}`);
    }
    if (cols.has(name as Column)) throw new AssetListError(`line 1: column ${name} appears twice`);
    cols.set(name as Column, i);
  });
  if (!cols.has('ip')) throw new AssetListError(`line 1: the header has no ip column (columns: ${IMPORT_COLUMNS.join(', ')}; ip is required)`);
  return cols;
}

function rowOf(line: number, fields: string[], cols: Map<Column, number>): KnownAsset {
  if (fields.length !== cols.size) throw new AssetRowError(line, `${fields.length} field(s), the header has ${cols.size}`);
  const cell = (c: Column): string | undefined => {
    const i = cols.get(c);
    const v = i === undefined ? undefined : fields[i]?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  try {
    const ipText = cell('ip');
    if (ipText === undefined) throw new MetadataError('no address in the ip column');
    const addr = parseAddress(ipText);
    if (addr === null) throw new MetadataError(`not an IP address: ${JSON.stringify(ipText.slice(0, 64))}`);
    const ip = formatAddress(addr);
    const hostname = cell('hostname');
    const owner = cell('owner');
    const criticality = cell('criticality');
    const tags = cell('tags');
    const notes = cell('notes');
    return {
      line,
      ip,
      ipKey: ipKey(ip),
      ...(hostname !== undefined ? { hostname: checkHostname(hostname) } : {}),
      ...(owner !== undefined ? { owner: checkText('owner', owner, OWNER_MAX_CHARS, false) } : {}),
      ...(criticality !== undefined ? { criticality: parseCriticality(criticality) } : {}),
      tags: tags === undefined ? [] : normalizeTags(tags.split(/[;|]/).filter((t) => t.trim() !== '')),
      ...(notes !== undefined ? { notes: checkText('notes', notes, NOTES_MAX_CHARS, true) } : {}),
    };
  } catch (err) {
    if (err instanceof MetadataError) throw new AssetRowError(line, err.message);
    throw err;
  }
}

/**
 * Parses and validates a known-asset list. Structural errors (header, quoting, size) always
 * throw; a bad row throws AssetRowError unless `skipBadRows`, which collects it in `rejected`.
 * An address listed twice is a bad row (the second one).
 */
export function parseAssetList(text: string, opts: { skipBadRows?: boolean } = {}): AssetList {
  const rows: KnownAsset[] = [];
  const rejected: AssetRowError[] = [];
  const firstLine = new Map<string, number>();
  let cols: Map<Column, number> | null = null;
  let count = 0;
  for (const rec of parseCsv(text)) {
    if (cols === null) {
      if (rec.line !== 1) throw new AssetListError(`line ${rec.line}: the header must be on line 1`);
      cols = headerOf(rec.fields);
      continue;
    }
    if (++count > IMPORT_MAX_ROWS) throw new AssetListError(`more than ${IMPORT_MAX_ROWS} rows; split the list`);
    try {
      const row = rowOf(rec.line, rec.fields, cols);
      const seen = firstLine.get(row.ipKey);
      if (seen !== undefined) throw new AssetRowError(rec.line, `${row.ip} is already listed on line ${seen}`);
      firstLine.set(row.ipKey, rec.line);
      rows.push(row);
    } catch (err) {
      if (!(err instanceof AssetRowError) || !opts.skipBadRows) throw err;
      rejected.push(err);
    }
  }
  if (cols === null) throw new AssetListError('the file is empty (a header line is required: ip,hostname,owner,criticality,tags,notes)');
  return { rows, rejected };
}

export interface ImportResult {
  /** Assets already in the inventory whose metadata, tags or listed flag changed. */
  updated: number;
  /** Addresses not yet in the inventory, added as listed assets without services. */
  added: number;
  /** Listed assets whose stored metadata already said everything the row says. */
  unchanged: number;
}

/**
 * Applies validated rows in one transaction (rolled back when `dryRun`, which then reports
 * exactly what an import would do). `now` is the import time given to added assets.
 */
export async function importAssets(
  db: InventoryDb,
  rows: readonly KnownAsset[],
  opts: { now?: string; dryRun?: boolean } = {},
): Promise<ImportResult> {
  const now = opts.now ?? new Date().toISOString();
  return inTransaction(db, opts.dryRun === true, async (trx) => {
    const result: ImportResult = { updated: 0, added: 0, unchanged: 0 };
    for (let i = 0; i < rows.length; i += METADATA_CHUNK) {
      const part = rows.slice(i, i + METADATA_CHUNK);
      const existing = await trx
        .selectFrom('assets')
        .select(['id', 'ip_key', 'hostname', 'owner', 'criticality', 'notes', 'listed'])
        .where(
          'ip_key',
          'in',
          part.map((r) => r.ipKey),
        )
        .execute();
      const byKey = new Map(existing.map((a) => [a.ip_key, a]));
      const tagRows = existing.length === 0
        ? []
        : await trx
            .selectFrom('asset_tags')
            .select(['asset_id', 'tag'])
            .where(
              'asset_id',
              'in',
              existing.map((a) => a.id),
            )
            .execute();
      const haveTag = new Set(tagRows.map((t) => `${Number(t.asset_id)}|${t.tag}`));
      const newTags: { asset_id: number; tag: string }[] = [];
      const fresh: KnownAsset[] = [];

      for (const row of part) {
        const a = byKey.get(row.ipKey);
        if (a === undefined) {
          fresh.push(row);
          continue;
        }
        const id = Number(a.id);
        const set = {
          ...(Number(a.listed) !== 1 ? { listed: 1 } : {}),
          ...(row.hostname !== undefined && row.hostname !== a.hostname ? { hostname: row.hostname } : {}),
          ...(row.owner !== undefined && row.owner !== a.owner ? { owner: row.owner } : {}),
          ...(row.criticality !== undefined && row.criticality !== a.criticality ? { criticality: row.criticality } : {}),
          ...(row.notes !== undefined && row.notes !== a.notes ? { notes: row.notes } : {}),
        };
        const tags = row.tags.filter((t) => !haveTag.has(`${id}|${t}`));
        for (const tag of tags) newTags.push({ asset_id: id, tag });
        if (Object.keys(set).length > 0) await trx.updateTable('assets').set(set).where('id', '=', id).execute();
        if (Object.keys(set).length > 0 || tags.length > 0) result.updated++;
        else result.unchanged++;
      }

      if (fresh.length > 0) {
        const inserted = await trx
          .insertInto('assets')
          .values(
            fresh.map((r) => ({
              ip: r.ip,
              ip_key: r.ipKey,
              hostname: r.hostname ?? null,
              first_seen: now,
              last_seen: now,
              evidence: '[]',
              owner: r.owner ?? null,
              criticality: r.criticality ?? null,
              notes: r.notes ?? null,
              listed: 1,
            })),
          )
          .returning(['id', 'ip_key'])
          .execute();
        const idOf = new Map(inserted.map((r) => [r.ip_key, Number(r.id)]));
        for (const r of fresh) {
          const id = idOf.get(r.ipKey);
          if (id === undefined) throw new AssetListError(`line ${r.line}: ${r.ip} was not inserted`);
          for (const tag of r.tags) newTags.push({ asset_id: id, tag });
        }
        result.added += fresh.length;
      }
      for (let j = 0; j < newTags.length; j += METADATA_CHUNK) {
        await trx
          .insertInto('asset_tags')
          .values(newTags.slice(j, j + METADATA_CHUNK))
          .onConflict((oc) => oc.columns(['asset_id', 'tag']).doNothing())
          .execute();
      }
    }
    return result;
  });
}
