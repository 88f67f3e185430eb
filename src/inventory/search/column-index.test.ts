/**
 * The column index's own rules: SQLite's text semantics, and freshness (a change to the searched
 * tables by any connection retires the index until it is rebuilt, and searches meanwhile answer
 * from SQL; commits to other tables keep it).
 * That its answers equal SQL's for every query, sort and facet is search.test.ts's job.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import type { ServiceRecord } from '../../core/types.js';
import { openKyselyInventory } from '../db.js';
import { asciiLower, asciiUpper, compareCodePoints, likeMatcher, stableSortBy } from './column-index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'medsurface-colidx-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const TS = '2026-11-20T10:00:00.000Z';

function services(n: number, product: string): ServiceRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    ip: `127.90.${i >> 8}.${i & 0xff}`,
    port: 104,
    protocol: 'dicom' as const,
    status: 'success' as const,
    timestamp: TS,
    product,
    vendor: 'OFFIS',
    findings: i % 2 === 0 ? [{ id: 'dicom-any-ae', severity: 'high' as const, title: 'any AE', confidence: 'confirmed' as const }] : [],
    checksRun: ['dicom-any-ae'],
    data: {},
  }));
}

test('text is compared as SQLite compares it: ASCII case folding, LIKE escapes, code-point order', () => {
  assert.equal(asciiLower('ÄBC Orthanc'), 'Äbc orthanc');
  assert.equal(asciiUpper('nl ä'), 'NL ä');
  const like = likeMatcher('%foo\\_bar 100\\%%');
  assert.ok(like('x FOO_BAR 100% y'));
  assert.ok(!like('x FOOxBAR 100% y'), 'an escaped _ is literal');
  assert.ok(!like('x FOO_BAR 1000 y'), 'an escaped % is literal');
  assert.ok(likeMatcher('a_c')('abc') && !likeMatcher('a_c')('abbc'), '_ is one character');
  assert.ok(likeMatcher('hospital-42')('HOSPITAL-42'), 'regex metacharacters are literal');
  assert.ok(!likeMatcher('ä')('Ä'), 'non-ASCII letters are not folded (SQLite lower())');
  // U+FF5E sorts before U+1F600 by code point (UTF-8), after it by UTF-16 code unit.
  assert.ok(compareCodePoints('\uff5e', '\u{1f600}') < 0);
  assert.ok('\uff5e' > '\u{1f600}');
});

test('sort orders: a counting sort, composite 64-bit keys and a comparison sort give the stable order', () => {
  let seed = 42;
  const rand = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const n = 5000;
  const order = Int32Array.from({ length: n }, (_, i) => i).sort(() => rand() - 0.5);
  const cases: [string, Int32Array | Float64Array][] = [
    ['ports (counting sort)', Int32Array.from({ length: n }, () => Math.floor(rand() * 20) + 100)],
    ['times in ms (composite keys)', Float64Array.from({ length: n }, () => Date.parse('2026-01-01T00:00:00.000Z') + Math.floor(rand() * 50) * 86_400_000)],
    ['fractions (comparison sort)', Float64Array.from({ length: n }, () => Math.floor(rand() * 30) / 7)],
  ];
  for (const [name, col] of cases) {
    for (const desc of [false, true]) {
      const want = Array.from(order).sort(desc ? (a, b) => col[b]! - col[a]! : (a, b) => col[a]! - col[b]!);
      assert.deepEqual(Array.from(stableSortBy(order, col, desc)), want, `${name}${desc ? ', descending' : ''}`);
    }
  }
});

test('a change to searched rows by any connection retires the index; searches then answer from SQL until it is rebuilt', async () => {
  const file = path.join(dir, 'fresh.sqlite');
  const inv = await openKyselyInventory(file, { columnIndex: { minServices: 0, quietMs: 60_000 } });
  const writer = await openKyselyInventory(file);
  try {
    await inv.createRun({ id: 'r-1', profile: 'safe', targets: [], options: {}, totalTargets: 0 });
    await inv.recordServices('r-1', services(300, 'DCMTK'));
    const idx = await inv.refreshColumns();
    assert.ok(idx !== null);
    assert.equal(inv.columns(), idx);
    assert.equal((await inv.search('product:dcmtk finding:dicom-any-ae')).total, 150);

    // Commits that change no searched row (a run's record, through this or another connection) keep it.
    await inv.createRun({ id: 'r-x', profile: 'safe', targets: [], options: {}, totalTargets: 0 });
    await writer.createRun({ id: 'r-y', profile: 'safe', targets: [], options: {}, totalTargets: 0 });
    assert.equal(inv.columns(), idx, 'commits to other tables keep the index current');

    // Its own connection writes (triage): stale at once, and SQL answers the new truth.
    const [f] = await inv.listFindings({ limit: 1 });
    await inv.setUserState(f!.id, 'accepted-risk');
    assert.equal(inv.columns(), null, 'a commit of the reader itself retires the index');
    assert.equal((await inv.search('product:dcmtk finding:dicom-any-ae')).total, 149);
    const again = await inv.refreshColumns();
    assert.ok(again !== null && again !== idx);
    assert.equal((await inv.search('product:dcmtk finding:dicom-any-ae')).total, 149);

    // Another connection (a scan's writer, another process) commits: stale too.
    await writer.createRun({ id: 'r-2', profile: 'safe', targets: [], options: {}, totalTargets: 0 });
    await writer.recordServices('r-2', services(10, 'Orthanc'));
    assert.equal(inv.columns(), null, 'a commit of another connection retires the index');
    assert.equal((await inv.search('product:orthanc')).total, 10);
    assert.equal((await inv.facets('', 'product')).buckets.find((b) => b.value === 'Orthanc')?.count, 10);
    await inv.refreshColumns();
    assert.ok(inv.columns() !== null);
    assert.equal((await inv.search('product:orthanc')).total, 10);
    assert.equal((await inv.facets('', 'product')).buckets.find((b) => b.value === 'Orthanc')?.count, 10);
  } finally {
    await writer.close();
    await inv.close();
  }
});

test('a stale index is rebuilt once the inventory has been quiet', async () => {
  const file = path.join(dir, 'quiet.sqlite');
  const inv = await openKyselyInventory(file, { columnIndex: { minServices: 0, quietMs: 50 } });
  try {
    await inv.createRun({ id: 'r-1', profile: 'safe', targets: [], options: {}, totalTargets: 0 });
    await inv.recordServices('r-1', services(50, 'DCMTK'));
    assert.equal(inv.columns(), null, 'none yet: a build is scheduled');
    const deadline = Date.now() + 10_000;
    while (inv.columns() === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(inv.columns() !== null, 'built after a quiet spell');
    assert.equal((await inv.search('product:dcmtk')).total, 50);
  } finally {
    await inv.close();
  }
});

test('no index below minServices, for :memory: inventories, or over times it cannot compare', async () => {
  const small = await openKyselyInventory(path.join(dir, 'small.sqlite'), { columnIndex: { minServices: 1000 } });
  const memory = await openKyselyInventory(':memory:', { columnIndex: { minServices: 0 } });
  const odd = await openKyselyInventory(path.join(dir, 'odd.sqlite'), { columnIndex: { minServices: 0 } });
  try {
    for (const inv of [small, memory, odd]) {
      await inv.createRun({ id: 'r-1', profile: 'safe', targets: [], options: {}, totalTargets: 0 });
      await inv.recordServices('r-1', services(20, 'DCMTK'));
    }
    assert.equal(await small.refreshColumns(), null);
    assert.equal(await memory.refreshColumns(), null);
    // A time written in another form (an import, an older version): text order is not time order, so no index.
    await odd.db.updateTable('services').set({ last_seen: '2026-11-20 10:00:00' }).where('port', '=', 104).execute();
    assert.equal(await odd.refreshColumns(), null);
    for (const inv of [small, memory, odd]) assert.equal((await inv.search('product:dcmtk')).total, 20, `${inv.location} answers from SQL`);
  } finally {
    await Promise.all([small.close(), memory.close(), odd.close()]);
  }
});

test('memo: an answer is reused until a searched row changes', async () => {
  const inv = await openKyselyInventory(path.join(dir, 'memo.sqlite'));
  try {
    await inv.createRun({ id: 'r-1', profile: 'safe', targets: [], options: {}, totalTargets: 0 });
    await inv.recordServices('r-1', services(10, 'DCMTK'));
    let computed = 0;
    const open = () =>
      inv.memo('open', async () => {
        computed++;
        return (await inv.search('finding:*')).total;
      });
    assert.equal(await open(), 5);
    assert.equal(await open(), 5);
    assert.equal(computed, 1, 'reused');
    await inv.createRun({ id: 'r-2', profile: 'safe', targets: [], options: {}, totalTargets: 0 });
    assert.equal(await open(), 5);
    assert.equal(computed, 1, 'a change to another table keeps it');
    const [f] = await inv.listFindings({ limit: 1 });
    await inv.setUserState(f!.id, 'false-positive');
    assert.equal(await open(), 4, 'triage changed a finding: computed again');
    assert.equal(computed, 2);
  } finally {
    await inv.close();
  }
});
