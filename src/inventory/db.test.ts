/**
 * Inventory location (DESIGN.md "Inventory location") and the SQLite file's protection:
 * directory 0700, database, -wal and -shm files 0600; WAL mode, busy timeout, foreign keys.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, beforeEach, describe, test } from 'node:test';
import { sql } from 'kysely';
import { inventoryMigrations } from './migrations/index.js';
import { UsageError } from '../core/errors.js';
import {
  defaultInventoryPath,
  isPostgresUrl,
  maskUrl,
  openInventory,
  openKyselyInventory,
  resolveInventoryLocation,
} from './db.js';

const mode = (p: string) => statSync(p).mode & 0o777;

describe('inventory location', () => {
  const root = mkdtempSync(join(tmpdir(), 'medsurface-db-'));
  const saved = { xdg: process.env.XDG_DATA_HOME, db: process.env.MEDSURFACE_DB };
  const restore = () => {
    for (const [k, v] of [
      ['XDG_DATA_HOME', saved.xdg],
      ['MEDSURFACE_DB', saved.db],
    ] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  beforeEach(() => {
    delete process.env.XDG_DATA_HOME;
    delete process.env.MEDSURFACE_DB;
  });
  afterEach(restore);
  after(() => rmSync(root, { recursive: true, force: true }));

  test('default path follows XDG_DATA_HOME, else ~/.local/share', () => {
    assert.equal(defaultInventoryPath(), join(homedir(), '.local', 'share', 'medsurface', 'inventory.sqlite'));
    process.env.XDG_DATA_HOME = '/srv/data';
    assert.equal(defaultInventoryPath(), '/srv/data/medsurface/inventory.sqlite');
    // The XDG spec ignores relative values.
    process.env.XDG_DATA_HOME = 'relative/dir';
    assert.equal(defaultInventoryPath(), join(homedir(), '.local', 'share', 'medsurface', 'inventory.sqlite'));
  });

  test('--db beats MEDSURFACE_DB, which beats the default', () => {
    process.env.XDG_DATA_HOME = '/srv/data';
    assert.equal(resolveInventoryLocation(), '/srv/data/medsurface/inventory.sqlite');
    process.env.MEDSURFACE_DB = '/var/lib/ms.sqlite';
    assert.equal(resolveInventoryLocation(), '/var/lib/ms.sqlite');
    assert.equal(resolveInventoryLocation('postgres://u@127.0.0.1/x'), 'postgres://u@127.0.0.1/x');
    assert.equal(resolveInventoryLocation(''), '/var/lib/ms.sqlite', 'an empty --db value means unset');
  });

  test('PostgreSQL URLs are recognised and their passwords masked', () => {
    assert.ok(isPostgresUrl('postgres://127.0.0.1/db'));
    assert.ok(isPostgresUrl('postgresql://u:p@127.0.0.1:5432/db'));
    assert.ok(isPostgresUrl('POSTGRES://127.0.0.1/db'));
    assert.ok(!isPostgresUrl('/tmp/postgres.sqlite'));
    assert.ok(!isPostgresUrl('mysql://127.0.0.1/db'));
    assert.equal(maskUrl('postgresql://u:sekret@127.0.0.1:5432/db'), 'postgresql://u:***@127.0.0.1:5432/db');
    assert.equal(maskUrl('postgres://u@127.0.0.1/db'), 'postgres://u@127.0.0.1/db');
  });

  test('the default location is created 0700 with a 0600 file (and -wal/-shm)', async () => {
    process.env.XDG_DATA_HOME = join(root, 'xdg');
    const inv = await openKyselyInventory();
    try {
      const file = join(root, 'xdg', 'medsurface', 'inventory.sqlite');
      assert.equal(inv.kind, 'sqlite');
      assert.equal(inv.location, file);
      assert.equal(mode(join(root, 'xdg', 'medsurface')), 0o700);
      await inv.createRun({ profile: 'safe', targets: ['127.77.0.1'], options: {}, totalTargets: 1 });
      assert.equal(mode(file), 0o600);
      assert.ok(existsSync(`${file}-wal`), 'WAL file exists while open');
      assert.ok(existsSync(`${file}-shm`), 'shared-memory file exists while open');
      assert.equal(mode(`${file}-wal`), 0o600);
      assert.equal(mode(`${file}-shm`), 0o600);
    } finally {
      await inv.close();
    }
  });

  test('MEDSURFACE_DB is used; new parent directories are 0700; a loose file is tightened', async () => {
    const file = join(root, 'env', 'a', 'b', 'inv.sqlite');
    process.env.MEDSURFACE_DB = file;
    const inv = await openInventory();
    assert.equal(inv.location, file);
    await inv.close();
    assert.equal(mode(join(root, 'env', 'a', 'b')), 0o700);
    assert.equal(mode(join(root, 'env', 'a')), 0o700);
    assert.equal(mode(file), 0o600);

    chmodSync(file, 0o644);
    const again = await openInventory(file);
    await again.close();
    assert.equal(mode(file), 0o600, 'an existing file with a looser mode is tightened');
  });

  test('an existing directory the user chose keeps its mode', async () => {
    const dir = join(root, 'shared');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const inv = await openInventory(join(dir, 'inv.sqlite'));
    await inv.close();
    assert.equal(mode(dir), 0o755);
    assert.equal(mode(join(dir, 'inv.sqlite')), 0o600);
  });

  test('WAL mode, busy timeout and foreign keys are on', async () => {
    const inv = await openKyselyInventory(join(root, 'pragma.sqlite'));
    try {
      const one = async (q: string) => {
        const r = await sql.raw(q).execute(inv.db);
        return Object.values(r.rows[0] as Record<string, unknown>)[0];
      };
      assert.equal(await one('pragma journal_mode'), 'wal');
      assert.equal(await one('pragma foreign_keys'), 1);
      assert.equal(await one('pragma busy_timeout'), 5000);
      // Foreign keys are enforced: an observation of an unknown run is refused.
      await assert.rejects(
        inv.recordService('r-missing', {
          ip: '127.77.0.1',
          port: 104,
          protocol: 'dicom',
          status: 'success',
          timestamp: '2024-01-01T00:00:00.000Z',
          findings: [],
          data: {},
        }),
        /FOREIGN KEY/,
      );
    } finally {
      await inv.close();
    }
  });

  test('reopening keeps the data and runs no migration twice', async () => {
    const file = join(root, 'reopen.sqlite');
    const a = await openInventory(file);
    const run = await a.createRun({ id: 'r-keep', profile: 'safe', targets: ['127.77.0.0/30'], options: {}, totalTargets: 4 });
    await a.close();
    await a.close(); // closing twice is harmless
    const b = await openKyselyInventory(file);
    try {
      assert.deepEqual(await b.getRun('r-keep'), run);
      const m = await sql<{ name: string }>`select name from medsurface_migration order by name`.execute(b.db);
      assert.deepEqual(
        m.rows.map((r) => r.name),
        Object.keys(inventoryMigrations('sqlite')),
      );
    } finally {
      await b.close();
    }
  });

  test('generated run ids sort by creation time', async () => {
    const inv = await openInventory(':memory:');
    try {
      const a = await inv.createRun({ profile: 'safe', targets: [], options: {}, totalTargets: 0 });
      await new Promise((r) => setTimeout(r, 5));
      const b = await inv.createRun({ profile: 'safe', targets: [], options: {}, totalTargets: 0 });
      assert.match(a.id, /^r-[0-9a-z]{9}-[0-9a-f]{8}$/);
      assert.ok(a.id < b.id);
      assert.deepEqual(
        (await inv.listRuns()).map((r) => r.id),
        [b.id, a.id],
      );
    } finally {
      await inv.close();
    }
  });

  test('a path that cannot hold a database is a UsageError', async () => {
    const file = join(root, 'not-a-dir');
    writeFileSync(file, 'x');
    await assert.rejects(openInventory(join(file, 'inv.sqlite')), (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /cannot open the inventory/);
      return true;
    });
  });
});
