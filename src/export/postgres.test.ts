/**
 * SQLite = PostgreSQL: the same seed stored in both engines gives byte-identical exports in
 * every format (the key paging, the row-value comparison, the query compiler and the sorting
 * behave the same). Needs the local PostgreSQL server (src/inventory/test-pg.ts); fails, never
 * skips, without it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { KyselyInventory } from '../inventory/index.js';
import { createTestDatabase } from '../inventory/test-pg.js';
import { EXPORT_FORMATS } from './index.js';
import { exportText, seedExportInventory } from './test-inventory.js';

let lite: KyselyInventory;
let pg: KyselyInventory;
let drop: () => Promise<void>;

before(async () => {
  const db = await createTestDatabase('medsurface_export');
  drop = db.drop;
  lite = await seedExportInventory(':memory:');
  pg = await seedExportInventory(db.url);
});

after(async () => {
  await lite?.close();
  await pg?.close();
  await drop?.();
});

test('every format, with and without a query, paged small and large: identical on both engines', async () => {
  assert.equal(pg.kind, 'postgres');
  for (const format of EXPORT_FORMATS) {
    for (const opts of [{}, { query: 'severity>=high country:NL' }, { includeHoneypots: true, pageSize: 2 }, { query: 'tag:site-* OR port:23' }]) {
      const a = await exportText(lite, { format, ...opts });
      const b = await exportText(pg, { format, ...opts });
      assert.equal(b.text, a.text, `${format} ${JSON.stringify(opts)}`);
      assert.ok(a.summary.services > 0, `${format} ${JSON.stringify(opts)} selected nothing`);
    }
  }
});
