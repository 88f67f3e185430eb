/**
 * The opt-out list on SQLite and on the local PostgreSQL server (which must be up: never
 * skipped): add, list, remove, load as an address set, and the read-only load a scan without
 * an inventory does.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { UsageError } from '../core/errors.js';
import { openKyselyInventory } from './db.js';
import type { KyselyInventory } from './kysely-store.js';
import { addOptOut, canonicalCidr, listOptOuts, loadOptOutSet, loadOptOutSetAt, removeOptOut } from './opt-out.js';
import { createTestDatabase } from './test-pg.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'medsurface-optout-'));
const drops: (() => Promise<void>)[] = [];
after(async () => {
  for (const d of drops) await d();
  rmSync(tmp, { recursive: true, force: true });
});

test('canonicalCidr clears host bits, writes single addresses as /32 or /128, refuses what is not one block', () => {
  assert.equal(canonicalCidr(' 192.0.2.77/24 '), '192.0.2.0/24');
  assert.equal(canonicalCidr('198.51.100.7'), '198.51.100.7/32');
  assert.equal(canonicalCidr('2001:DB8::1/48'), '2001:db8::/48');
  assert.equal(canonicalCidr('2001:db8::1'), '2001:db8::1/128');
  assert.equal(canonicalCidr('::ffff:192.0.2.1'), '192.0.2.1/32', 'an IPv4-mapped address is its IPv4 host');
  assert.throws(() => canonicalCidr('192.0.2.1-192.0.2.5'), (e: unknown) => e instanceof UsageError && /not one CIDR block/.test(e.message));
  assert.throws(() => canonicalCidr('hospital.example'), /host name/);
  assert.throws(() => canonicalCidr('192.0.2.0/33'), /bad CIDR/);
});

async function session(inv: KyselyInventory): Promise<void> {
  assert.deepEqual(await listOptOuts(inv), []);
  assert.ok((await loadOptOutSet(inv)).isEmpty);

  const t0 = new Date('2026-01-02T03:04:05.000Z');
  const a = await addOptOut(inv, { cidr: '192.0.2.9/24', reason: 'asked by e-mail, ticket 4711', contact: 'noc@example.org', addedBy: 'alice@scan1' }, t0);
  assert.equal(a.created, true);
  assert.deepEqual(a.optOut, { cidr: '192.0.2.0/24', reason: 'asked by e-mail, ticket 4711', contact: 'noc@example.org', addedAt: t0.toISOString(), addedBy: 'alice@scan1' });
  await addOptOut(inv, { cidr: '2001:db8:5::/48', addedBy: 'bob@scan2' }, new Date('2026-01-03T00:00:00.000Z'));

  // The same block again (another spelling): kept, with the new reason.
  const again = await addOptOut(inv, { cidr: '192.0.2.200/24', reason: 'second request', addedBy: 'carol@scan3' });
  assert.equal(again.created, false);
  assert.equal(again.optOut.addedBy, 'alice@scan1');
  assert.equal(again.optOut.reason, 'second request');
  assert.equal(again.optOut.contact, 'noc@example.org');

  const list = await listOptOuts(inv);
  assert.deepEqual(
    list.map((o) => [o.cidr, o.reason, o.contact, o.addedBy]),
    [
      ['192.0.2.0/24', 'second request', 'noc@example.org', 'alice@scan1'],
      ['2001:db8:5::/48', null, null, 'bob@scan2'],
    ],
  );

  const set = await loadOptOutSet(inv);
  assert.ok(set.has('192.0.2.1') && set.has('192.0.2.255') && set.has('2001:db8:5::17') && set.has('::ffff:192.0.2.3'));
  assert.ok(!set.has('192.0.3.1') && !set.has('2001:db8:6::1'));

  await assert.rejects(addOptOut(inv, { cidr: '192.0.2.0/24', reason: 'x'.repeat(1001), addedBy: 'a' }), /at most 1000/);
  await assert.rejects(addOptOut(inv, { cidr: '192.0.2.0/24', contact: 'a\u0000b', addedBy: 'a' }), /control characters/);

  assert.equal(await removeOptOut(inv, '192.0.2.1/24'), true, 'any spelling of the block');
  assert.equal(await removeOptOut(inv, '192.0.2.0/24'), false);
  assert.deepEqual(
    (await listOptOuts(inv)).map((o) => o.cidr),
    ['2001:db8:5::/48'],
  );
  assert.ok(!(await loadOptOutSet(inv)).has('192.0.2.1'));
}

describe('opt-out list', () => {
  test('on SQLite', async () => {
    const inv = await openKyselyInventory(path.join(tmp, 'a.sqlite'));
    try {
      await session(inv);
    } finally {
      await inv.close();
    }
  });

  test('on PostgreSQL', async () => {
    const pg = await createTestDatabase('medsurface_optout');
    drops.push(pg.drop);
    const inv = await openKyselyInventory(pg.url);
    try {
      await session(inv);
      // A scan without an inventory of its own reads the list of the one --db names.
      assert.ok((await loadOptOutSetAt(pg.url)).has('2001:db8:5::1'));
    } finally {
      await inv.close();
    }
  });

  test('a scan without an inventory reads a SQLite list read-only, and a missing inventory has none', async () => {
    assert.ok((await loadOptOutSetAt(path.join(tmp, 'missing.sqlite'))).isEmpty);
    const file = path.join(tmp, 'b.sqlite');
    const inv = await openKyselyInventory(file);
    await addOptOut(inv, { cidr: '198.51.100.0/25', addedBy: 'test' });
    await inv.close();
    const set = await loadOptOutSetAt(file);
    assert.ok(set.has('198.51.100.1') && !set.has('198.51.100.200'));
  });
});
