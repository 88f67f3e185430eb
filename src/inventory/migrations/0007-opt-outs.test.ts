/**
 * Migration 0007: the opt_outs table, and 64-bit run counters on PostgreSQL (the local server
 * must be up: never skipped). An IPv4-wide run has 2^32 targets; times three ports that is
 * 12,884,901,888, past a 32-bit integer: it must be stored and read back as the same number
 * through every reader of runs.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { sql } from 'kysely';
import { openKyselyInventory } from '../db.js';
import type { KyselyInventory } from '../kysely-store.js';
import { createTestDatabase } from '../test-pg.js';

const BIG = 4_294_967_296 * 3;
const tmp = mkdtempSync(path.join(tmpdir(), 'medsurface-0007-'));
const drops: (() => Promise<void>)[] = [];
after(async () => {
  for (const d of drops) await d();
  rmSync(tmp, { recursive: true, force: true });
});

async function roundTrip(inv: KyselyInventory): Promise<void> {
  const run = await inv.createRun({ profile: 'safe', targets: ['0.0.0.0/0'], options: {}, totalTargets: BIG });
  assert.equal(run.totalTargets, BIG);
  await inv.saveCheckpoint(run.id, { seed: '1', resumeFrom: BIG - 1, done: [] }, BIG - 1, { hostsDone: BIG - 1 });
  const got = await inv.getRun(run.id);
  assert.equal(got?.totalTargets, BIG);
  assert.equal(got?.doneTargets, BIG - 1);
  assert.equal(typeof got?.totalTargets, 'number');
  const listed = (await inv.listRuns()).find((r) => r.id === run.id);
  assert.equal(listed?.totalTargets, BIG);
  assert.equal(listed?.doneTargets, BIG - 1);
  await inv.finishRun(run.id, 'completed', { stats: {}, unreachableHosts: [] });
  assert.equal((await inv.getRun(run.id))?.totalTargets, BIG);
}

test('PostgreSQL: scan_runs counters are bigint and 4,294,967,296 x 3 reads back as that number', async () => {
  const pg = await createTestDatabase('medsurface_m0007');
  drops.push(pg.drop);
  const inv = await openKyselyInventory(pg.url);
  try {
    const types = await sql<{ column_name: string; data_type: string }>`
      SELECT column_name, data_type FROM information_schema.columns
      WHERE table_name = 'scan_runs' AND column_name IN ('total_targets', 'done_targets') ORDER BY column_name`.execute(inv.db);
    assert.deepEqual(
      types.rows.map((r) => `${r.column_name}:${r.data_type}`),
      ['done_targets:bigint', 'total_targets:bigint'],
    );
    await roundTrip(inv);
    const optOuts = await sql<{ n: string }>`SELECT count(*) AS n FROM opt_outs`.execute(inv.db);
    assert.equal(Number(optOuts.rows[0]?.n), 0, 'the opt_outs table exists');
  } finally {
    await inv.close();
  }
});

test('SQLite: the same round trip (64-bit integers already)', async () => {
  const inv = await openKyselyInventory(path.join(tmp, 'i.sqlite'));
  try {
    await roundTrip(inv);
  } finally {
    await inv.close();
  }
});
