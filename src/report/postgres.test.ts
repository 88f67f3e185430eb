/**
 * The report's queries on PostgreSQL: the same lab-like inventory written into SQLite and into
 * a fresh PostgreSQL database (the local server, src/inventory/test-pg.ts) gives the same
 * report, for the whole inventory, a query, an organisation and with honeypots included.
 * Row ids are the only difference allowed (PostgreSQL sequences skip values on upserts).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { openKyselyInventory } from '../inventory/db.js';
import type { KyselyInventory } from '../inventory/kysely-store.js';
import { createTestDatabase } from '../inventory/test-pg.js';
import { gatherReport } from './gather.js';
import { renderMarkdown } from './markdown.js';
import { Clock, seedReportLab } from './test-fixture.js';
import type { ReportData, ReportOptions } from './types.js';

const NOW = '2026-03-10T12:00:00.000Z';
let dir: string;
let sqlite: KyselyInventory;
let postgres: KyselyInventory;
let drop: () => Promise<void>;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'medsurface-report-pg-'));
  const pg = await createTestDatabase('medsurface_report');
  drop = pg.drop;
  const a = new Clock();
  sqlite = await openKyselyInventory(path.join(dir, 'inv.sqlite'), { now: a.now });
  await seedReportLab(sqlite, a);
  const b = new Clock();
  postgres = await openKyselyInventory(pg.url, { now: b.now });
  await seedReportLab(postgres, b);
});

after(async () => {
  await sqlite?.close();
  await postgres?.close();
  await drop?.();
  rmSync(dir, { recursive: true, force: true });
});

/** The report without its row ids (finding anchors) and engine name. */
function comparable(d: ReportData): unknown {
  return JSON.parse(
    JSON.stringify({ ...d, meta: { ...d.meta, inventoryKind: null } }, (k, v) => (k === 'id' && typeof v === 'number' ? 0 : v)),
  );
}

test('SQLite and PostgreSQL give the same report', async () => {
  const cases: ReportOptions[] = [{}, { includeHoneypots: true }, { query: 'devicetype:pacs OR protocol:hl7' }, { org: 'Lab Hospital', tlp: 'red' }, { since: '2026-03-05' }];
  for (const opts of cases) {
    const a = await gatherReport(sqlite, { now: NOW, ...opts });
    const b = await gatherReport(postgres, { now: NOW, ...opts });
    assert.equal(b.meta.inventoryKind, 'postgres');
    assert.deepEqual(comparable(b), comparable(a), JSON.stringify(opts));
    const strip = (s: string) => s.replace(/finding id \d+/g, 'finding id N').replace(/\| \d+ \|$/gm, '| N |').replace(/PostgreSQL|SQLite/g, 'DB');
    assert.equal(strip(renderMarkdown(b)), strip(renderMarkdown(a)), JSON.stringify(opts));
  }
  const all = await gatherReport(postgres, { now: NOW });
  assert.ok(all.summary.assets > 10 && all.summary.recordsReachable > 0 && all.trend !== null && all.remediation.length === 2);
});
