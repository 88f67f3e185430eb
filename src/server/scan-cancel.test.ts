/**
 * Cancel and a scan that has recorded its end while its process is still exiting: api_scans
 * still says running, scan_runs says interrupted. The API answers 409 (nothing to cancel) and
 * marks nothing, as it does once the process is gone (seen: a 202 in CI, src/server/lab.test.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openKyselyInventory } from '../inventory/db.js';
import { ScanLauncher } from './scans.js';

test('a scan whose run has ended is finished for cancel, whatever api_scans still says', async () => {
  const inv = await openKyselyInventory(':memory:');
  try {
    const launcher = new ScanLauncher({
      inv,
      dbLocation: ':memory:',
      command: ['false'],
      stateDir: '/nonexistent',
      maxScans: 1,
      maxTargets: 1,
      exclude: [],
      excludeFile: [],
      extraArgs: [],
      now: () => new Date('2026-11-29T00:00:00.000Z'),
      onError: (err) => assert.fail(String(err)),
    });
    const launch = (runId: string) =>
      inv.db
        .insertInto('api_scans')
        .values({ run_id: runId, user_id: null, username: 'analyst', profile: 'safe', targets: '["127.0.0.1"]', ports: null, state: 'running', instance: launcher.instance, pid: null, cancel_requested: 0, created_at: '2026-11-29T00:00:00.000Z', finished_at: null, exit_code: null, error: null })
        .execute();
    // Ended: the run says interrupted, the launch still running.
    await inv.createRun({ id: 'r-ended', profile: 'safe', targets: ['127.0.0.1'], options: {}, totalTargets: 1 });
    await inv.finishRun('r-ended', 'interrupted', { stats: {} });
    await launch('r-ended');
    assert.equal(await launcher.cancel('r-ended'), 'finished');
    const row = await inv.db.selectFrom('api_scans').select('cancel_requested').where('run_id', '=', 'r-ended').executeTakeFirstOrThrow();
    assert.equal(row.cancel_requested, 0, 'no cancel was recorded');
    // Still running, or not started yet (no run row): cancelled.
    await inv.createRun({ id: 'r-live', profile: 'safe', targets: ['127.0.0.1'], options: {}, totalTargets: 1 });
    await launch('r-live');
    assert.equal(await launcher.cancel('r-live'), 'cancelling');
    await launch('r-new');
    assert.equal(await launcher.cancel('r-new'), 'cancelling');
    assert.equal(await launcher.cancel('r-none'), 'unknown');
  } finally {
    await inv.close();
  }
});
