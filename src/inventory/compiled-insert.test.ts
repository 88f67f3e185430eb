/**
 * CompiledInserts: the statement text is compiled once per shape and reused with new values,
 * a missing column is NULL, and a statement whose clauses carry parameters of their own is
 * refused before anything is sent.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { CompiledInserts } from './compiled-insert.js';

interface Db {
  t: { id: number; name: string; n: number | null; note: string | null };
}

function open(): Kysely<Db> {
  const sqlite = new Database(':memory:');
  sqlite.exec('create table t (id integer primary key, name text not null unique, n integer, note text)');
  return new Kysely<Db>({ dialect: new SqliteDialect({ database: sqlite }) });
}

const COLUMNS = ['name', 'n', 'note'] as const;

test('one compile per shape; later calls bind their own values; a missing column is NULL', async () => {
  const db = open();
  const inserts = new CompiledInserts();
  let builds = 0;
  const build = (values: Record<string, unknown>[]) => {
    builds++;
    return db
      .insertInto('t')
      .values(values as Db['t'][])
      .onConflict((oc) => oc.column('name').doUpdateSet((eb) => ({ n: eb.ref('excluded.n') })))
      .returning(['id', 'name']);
  };
  const a = await inserts.execute<{ id: number; name: string }>(db, 't', COLUMNS, [{ name: 'TEST^ALPHA', n: 1, note: 'x' }, { name: 'b', n: 2 }], build);
  const b = await inserts.execute<{ id: number; name: string }>(db, 't', COLUMNS, [{ note: 'y', n: 3, name: 'c' }, { name: 'TEST^ALPHA', n: 4, note: null }], build);
  const c = await inserts.execute(db, 't', COLUMNS, [{ name: 'd', n: 5, note: null }], build);
  assert.equal(builds, 2, 'two rows compiled once, one row once');
  assert.deepEqual(a.map((r) => r.name), ['TEST^ALPHA', 'b']);
  assert.deepEqual(b.map((r) => r.name), ['c', 'TEST^ALPHA']);
  assert.equal(c.length, 1);
  assert.deepEqual(await db.selectFrom('t').select(['name', 'n', 'note']).orderBy('name').execute(), [
    { name: 'TEST^ALPHA', n: 4, note: 'x' },
    { name: 'b', n: 2, note: null },
    { name: 'c', n: 3, note: 'y' },
    { name: 'd', n: 5, note: null },
  ]);
  assert.deepEqual(await inserts.execute(db, 't', COLUMNS, [], build), []);
  await db.destroy();
});

test('a statement with parameters of its own is refused, nothing written', async () => {
  const db = open();
  const inserts = new CompiledInserts();
  await assert.rejects(
    inserts.execute(db, 'bad', COLUMNS, [{ name: 'a', n: 1, note: null }], (values) =>
      db
        .insertInto('t')
        .values(values as Db['t'][])
        .onConflict((oc) => oc.column('name').doUpdateSet({ note: 'fixed' })),
    ),
    /parameters are not its rows' values in column order/,
  );
  // The builder's column order differs from the bound order: refused too.
  await assert.rejects(
    inserts.execute(db, 'order', COLUMNS, [{ name: 'a', n: 1, note: null }], (values) =>
      db.insertInto('t').values(values.map((v) => ({ note: v.note, n: v.n, name: v.name })) as Db['t'][]),
    ),
    /column order/,
  );
  assert.equal((await db.selectFrom('t').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n, 0);
  await db.destroy();
});
