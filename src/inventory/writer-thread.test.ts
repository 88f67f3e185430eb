/**
 * The inventory writer thread commits the batches that queue up together (group commit). What
 * it writes must be exactly what the same batches give written one by one with recordServices:
 * full dumps of both inventories are compared. A batch that fails (its run does not exist)
 * fails alone and the thread goes on.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Finding, ServiceRecord } from '../core/types.js';
import { openKyselyInventory } from './db.js';
import { dumpInventory } from './testing.js';
import { InventoryWriterThread } from './writer-thread.js';

const dir = mkdtempSync(join(tmpdir(), 'medsurface-writer-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const NOW = () => '2026-11-01T00:00:00.000Z';

function finding(id: string, severity: Finding['severity']): Finding {
  return { id, severity, title: `title of ${id}`, confidence: 'confirmed' };
}

/**
 * Batches of two runs over 30 hosts: hosts come back in later batches of the same run with
 * another version and other findings (a later record of a service replaces the earlier), and
 * in the second run some are upgraded, some lose a finding, and new ones appear.
 */
function batches(): { runId: string; recs: ServiceRecord[] }[] {
  const out: { runId: string; recs: ServiceRecord[] }[] = [];
  for (const [r, runId] of ['run-a', 'run-b'].entries()) {
    for (let b = 0; b < 20; b++) {
      const recs: ServiceRecord[] = [];
      for (let k = 0; k < 6; k++) {
        const host = (b * 6 + k) % (30 + r * 5);
        const port = [104, 4242, 8042][(b + k) % 3]!;
        const later = b >= 10;
        recs.push({
          ip: `127.220.${r}.${host + 1}`,
          port,
          protocol: port === 8042 ? 'http' : 'dicom',
          status: 'success',
          timestamp: `2026-11-0${r + 1}T10:${String(b).padStart(2, '0')}:0${k}.000Z`,
          product: 'Orthanc',
          vendor: 'Orthanc',
          version: r === 1 && host % 4 === 0 ? '1.12.1' : later ? '1.10.1' : '1.9.7',
          deviceType: 'pacs',
          asset: { vendor: 'Orthanc', product: 'Orthanc', deviceType: 'pacs', evidence: [`batch ${b}`] },
          findings: [
            ...(host % 3 !== 0 || r === 0 ? [finding('dicom-any-ae', 'high')] : []),
            ...(later ? [finding('dicom-no-tls', 'medium')] : []),
            ...(r === 1 && host % 5 === 0 ? [finding('CVE-2022-2119', 'critical')] : []),
          ],
          checksRun: ['dicom-any-ae', 'dicom-no-tls', 'CVE-2022-2119'],
          data: { dicom: { association: 'accepted' } },
        });
      }
      out.push({ runId, recs });
    }
  }
  return out;
}

async function prepare(file: string) {
  const inv = await openKyselyInventory(file, { now: NOW });
  for (const id of ['run-a', 'run-b']) await inv.createRun({ id, profile: 'safe', targets: ['127.220.0.0/16'], options: {}, totalTargets: 40 });
  return inv;
}

test('writer thread: grouped batches give exactly the rows of batches written one by one', async () => {
  const direct = await prepare(join(dir, 'direct.sqlite'));
  for (const b of batches()) await direct.recordServices(b.runId, b.recs);

  const threadedFile = join(dir, 'threaded.sqlite');
  const threaded = await prepare(threadedFile);
  const writer = new InventoryWriterThread(threadedFile);
  try {
    // Sent all at once, as a fast scan does: they queue while the thread writes.
    await Promise.all(batches().map((b) => writer.write(b.runId, b.recs)));
    assert.equal(writer.stats.batches, 40);
    assert.ok(writer.stats.transactions < writer.stats.batches, `expected grouped commits, got ${writer.stats.transactions} transactions for 40 batches`);
  } finally {
    await writer.close();
  }
  const a = (await dumpInventory(direct.db)).sort();
  const b = (await dumpInventory(threaded.db)).sort();
  assert.ok(a.length > 100, `the scenario writes rows (${a.length})`);
  assert.deepEqual(b, a);
  await direct.close();
  await threaded.close();
});

test('writer thread: a failing batch fails alone; the batches around it are committed', async () => {
  const file = join(dir, 'errors.sqlite');
  const inv = await prepare(file);
  const writer = new InventoryWriterThread(file);
  const one = (runId: string, ip: string) =>
    writer.write(runId, [{ ip, port: 104, protocol: 'dicom', status: 'success', timestamp: NOW(), findings: [], data: {} }]);
  try {
    const results = await Promise.allSettled([one('run-a', '127.220.9.1'), one('no-such-run', '127.220.9.2'), one('run-a', '127.220.9.3')]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    const err = (results[1] as PromiseRejectedResult).reason as Error;
    assert.match(err.message, /inventory write failed/);
    await one('run-a', '127.220.9.4');
  } finally {
    await writer.close();
  }
  const ips = (await inv.db.selectFrom('services').select('ip').orderBy('ip').execute()).map((r) => r.ip);
  assert.deepEqual(ips, ['127.220.9.1', '127.220.9.3', '127.220.9.4']);
  await inv.close();
});
