/**
 * Where the inventory lives and how it is opened (DESIGN.md "Inventory location"):
 * `--db PATH|postgres://...`, else `MEDSURFACE_DB`, else
 * `$XDG_DATA_HOME/medsurface/inventory.sqlite` (XDG Base Directory spec: `~/.local/share`
 * when XDG_DATA_HOME is unset or not absolute).
 *
 * The inventory says which hosts run which exposed medical systems and how to get in, so the
 * SQLite file (and its -wal/-shm companions) is 0600 and its default directory 0700.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, PostgresDialect, type SqliteDatabase, SqliteDialect } from 'kysely';
import pg from 'pg';
import { messageOf, UsageError } from '../core/errors.js';
import { InventoryError, KyselyInventory, type KyselyInventoryOptions } from './kysely-store.js';
import type { Inventory } from './store.js';
import type { InventoryDatabase } from './tables.js';

/** How long a SQLite writer waits for another connection's lock before SQLITE_BUSY. */
export const SQLITE_BUSY_TIMEOUT_MS = 5000;
/** Connections in the PostgreSQL pool of one process. */
export const PG_POOL_MAX = 10;

export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/** `$XDG_DATA_HOME/medsurface/inventory.sqlite`, with the XDG default `~/.local/share`. */
export function defaultInventoryPath(): string {
  const xdg = process.env.XDG_DATA_HOME;
  const base = xdg !== undefined && xdg !== '' && isAbsolute(xdg) ? xdg : join(homedir(), '.local', 'share');
  return join(base, 'medsurface', 'inventory.sqlite');
}

/** The location used when none is given: MEDSURFACE_DB, else the default path. */
export function resolveInventoryLocation(location?: string): string {
  if (location !== undefined && location !== '') return location;
  const env = process.env.MEDSURFACE_DB;
  if (env !== undefined && env !== '') return env;
  return defaultInventoryPath();
}

/** The URL without its password, for messages and `Inventory.location`. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
  }
}

/** Sets 0600 on the database file and on its -wal/-shm files when they exist. */
export function secureSqliteFiles(path: string): void {
  for (const f of [path, `${path}-wal`, `${path}-shm`]) {
    if (existsSync(f)) chmodSync(f, 0o600);
  }
}

function prepareSqlitePath(path: string): void {
  const dir = dirname(path);
  // Directories we create are 0700; an existing directory the user chose is left alone,
  // except our own default directory, which we always tighten.
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (resolve(path) === resolve(defaultInventoryPath())) chmodSync(dir, 0o700);
  // Create the file 0600 before SQLite opens it, so it is never readable by others, not even briefly.
  closeSync(openSync(path, 'a', 0o600));
  chmodSync(path, 0o600);
}

/**
 * Kysely's SQLite driver prepares every statement on every execution; a scan writes the same
 * few statements thousands of times. Prepared statements are reusable in better-sqlite3, so
 * keep the most recent ones by SQL text (bounded: IN lists of other lengths are other texts).
 */
function withStatementCache(sqlite: Database.Database, max = 512): SqliteDatabase {
  const cache = new Map<string, Database.Statement>();
  return {
    close: () => {
      cache.clear();
      sqlite.close();
    },
    prepare(sql: string) {
      let st = cache.get(sql);
      if (!st) {
        st = sqlite.prepare(sql);
        if (cache.size >= max) cache.delete(cache.keys().next().value as string);
        cache.set(sql, st);
      }
      return st;
    },
  };
}

function openSqlite(path: string, opts: KyselyInventoryOptions): KyselyInventory {
  const memory = path === ':memory:';
  const full = memory ? path : resolve(path);
  let sqlite: Database.Database;
  try {
    if (!memory) prepareSqlitePath(full);
    sqlite = new Database(full, { timeout: SQLITE_BUSY_TIMEOUT_MS });
    // WAL: readers (the CLI, a dashboard) do not block the scan's single writer.
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    sqlite.pragma('foreign_keys = ON');
    // In WAL mode NORMAL is durable against application crashes; only an OS crash can lose the last commits.
    sqlite.pragma('synchronous = NORMAL');
    // Page cache up to 256 MiB (default 2 MiB) and reads through mmap: an inventory of a million services
    // is a few hundred MB, and index maintenance and searches touch pages all over it.
    sqlite.pragma('cache_size = -262144');
    sqlite.pragma('mmap_size = 1073741824');
    sqlite.pragma('temp_store = MEMORY');
    // Checkpoint the WAL into the database every 64 MiB instead of every 4 MiB: a large batch
    // dirties pages of a dozen indexes, and a page written by several commits between two
    // checkpoints is copied back once (measured: -10% ingest time at 600,000 services).
    sqlite.pragma('wal_autocheckpoint = 16384');
  } catch (err) {
    throw new UsageError(`cannot open the inventory at ${full}: ${messageOf(err)}`, { cause: err });
  }
  const db = new Kysely<InventoryDatabase>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  return new KyselyInventory(db, 'sqlite', full, opts);
}

/**
 * bigint columns (run target counters, counts) come back as numbers, as SQLite's do, so both
 * engines give the same rows; a value beyond 2^53 (never reached: 2^32 addresses x 65,536 ports
 * is 2^48) stays a string rather than losing digits.
 */
const PG_TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 && format !== 'binary'
      ? (text: string) => {
          const n = Number(text);
          return Number.isSafeInteger(n) ? n : text;
        }
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

function openPostgres(url: string, opts: KyselyInventoryOptions): KyselyInventory {
  const pool = new pg.Pool({ connectionString: url, max: PG_POOL_MAX, application_name: 'medsurface', types: PG_TYPES });
  // An idle client losing its server must not crash the process: the next query reports the error.
  pool.on('error', () => {});
  // A connection reset in the middle of a query must fail that query, not kill the process
  // (node-postgres emits 'error' on the client too; without a listener it is uncaught).
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<InventoryDatabase>({ dialect: new PostgresDialect({ pool }) });
  return new KyselyInventory(db, 'postgres', maskUrl(url), opts);
}

/**
 * Opens the inventory at `location` (or MEDSURFACE_DB, or the default path), runs the
 * migrations and returns it. A `postgres://` or `postgresql://` URL selects PostgreSQL;
 * anything else is a SQLite file path (`:memory:` for a throwaway database).
 */
export async function openInventory(location?: string, opts: KyselyInventoryOptions = {}): Promise<Inventory> {
  return openKyselyInventory(location, opts);
}

/** openInventory, typed as the concrete store (its `db` is reachable for tests and tooling). */
export async function openKyselyInventory(
  location?: string,
  opts: KyselyInventoryOptions = {},
): Promise<KyselyInventory> {
  const where = resolveInventoryLocation(location);
  const inv = isPostgresUrl(where) ? openPostgres(where, opts) : openSqlite(where, opts);
  try {
    await inv.migrate();
  } catch (err) {
    await inv.close().catch(() => {});
    if (err instanceof InventoryError) throw err;
    throw new UsageError(`cannot open the inventory at ${inv.location}: ${messageOf(err)}`, { cause: err });
  }
  if (inv.kind === 'sqlite' && where !== ':memory:') secureSqliteFiles(inv.location);
  return inv;
}
