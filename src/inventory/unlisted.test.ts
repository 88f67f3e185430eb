import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ServiceRecord } from '../core/types.js';
import { openKyselyInventory } from './db.js';

const rec = (ip: string): ServiceRecord => ({
  ip,
  port: 104,
  protocol: 'dicom',
  status: 'success',
  timestamp: '2026-11-28T10:00:00.000Z',
  findings: [],
  checksRun: ['dicom-any-ae'],
  data: {},
});

test('an exposed device nobody listed is a finding once a known-asset list exists, and resolves when listed', async () => {
  const inv = await openKyselyInventory(':memory:', { listedTtlMs: 0 });
  try {
    const run = async (ips: string[]) => {
      const r = await inv.createRun({ profile: 'safe', targets: ips, options: {}, totalTargets: ips.length });
      await inv.recordServices(r.id, ips.map(rec));
      await inv.finishRun(r.id, 'completed', { stats: {} });
    };
    await run(['127.77.1.10', '127.77.1.11']);
    assert.equal((await inv.listFindings({ checkId: 'asset-unlisted' })).length, 0, 'no list imported: nothing to compare with');
    // A known-asset list names .10 only (as `medsurface inventory import` marks it).
    await inv.db.updateTable('assets').set({ listed: 1 }).where('ip', '=', '127.77.1.10').execute();
    await run(['127.77.1.10', '127.77.1.11']);
    const open = await inv.listFindings({ checkId: 'asset-unlisted', state: 'open' });
    assert.deepEqual(open.map((f) => f.ip), ['127.77.1.11']);
    assert.equal(open[0]?.severity, 'medium');
    await inv.db.updateTable('assets').set({ listed: 1 }).where('ip', '=', '127.77.1.11').execute();
    await run(['127.77.1.10', '127.77.1.11']);
    const after = await inv.listFindings({ checkId: 'asset-unlisted' });
    assert.deepEqual(after.map((f) => [f.ip, f.state]), [['127.77.1.11', 'resolved']]);
  } finally {
    await inv.close();
  }
});
