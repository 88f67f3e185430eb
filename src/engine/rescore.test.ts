import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { packageRoot } from '../core/paths.js';
import type { ServiceRecord } from '../core/types.js';
import { openInventory } from '../inventory/index.js';
import { VulnDb } from '../vuln/index.js';
import { rescoreInventory } from './rescore.js';

/** A stored record as an older medsurface wrote it: no findings, no checks run, no risk. */
function old(rel: string, ip: string, over: Partial<ServiceRecord> = {}): ServiceRecord {
  const rec = JSON.parse(readFileSync(path.join(packageRoot(), 'src', 'checks', rel), 'utf8')) as ServiceRecord;
  return { ...rec, ip, findings: [], checksRun: [], timestamp: '2026-01-10T10:00:00.000Z', ...over };
}

test('rescore opens the findings today\'s checks and CVE data give, on the observation\'s own profile, without touching last seen', async () => {
  const inv = await openInventory(':memory:');
  try {
    const safe = await inv.createRun({ profile: 'safe', targets: ['127.77.4.10'], options: {}, totalTargets: 1 });
    await inv.recordServices(safe.id, [old('fixtures/http/orthanc-open.json', '127.77.4.10')]);
    await inv.finishRun(safe.id, 'completed', { stats: {} });
    const intr = await inv.createRun({ profile: 'intrusive', targets: ['127.77.9.10'], options: {}, totalTargets: 1 });
    await inv.recordServices(intr.id, [old('fixtures/credentials/orthanc-default-accepted.json', '127.77.9.10')]);
    await inv.finishRun(intr.id, 'completed', { stats: {} });
    // The same intrusive observation stored under a safe run must not raise the intrusive check.
    const safe2 = await inv.createRun({ profile: 'safe', targets: ['127.77.9.11'], options: {}, totalTargets: 1 });
    await inv.recordServices(safe2.id, [old('fixtures/credentials/orthanc-default-accepted.json', '127.77.9.11')]);
    await inv.finishRun(safe2.id, 'completed', { stats: {} });
    assert.equal((await inv.listFindings()).length, 0);

    const s = await rescoreInventory(inv, new VulnDb({}));
    assert.equal(s.services, 3);
    const ids = async (ip: string) => ((await inv.getAsset(ip))?.findings ?? []).map((f) => f.checkId).sort();
    const open = await ids('127.77.4.10');
    for (const id of ['orthanc-rest-open', 'http-admin-no-login', 'http-no-tls', 'CVE-2023-33466']) assert.ok(open.includes(id), `${id} in ${open}`);
    assert.ok((await ids('127.77.9.10')).includes('http-default-credentials'));
    assert.ok(!(await ids('127.77.9.11')).includes('http-default-credentials'), 'intrusive check on a safe observation');
    assert.equal(s.opened, (await inv.listFindings()).length);

    const a = await inv.getAsset('127.77.4.10');
    assert.equal(a?.services[0]?.lastSeen, '2026-01-10T10:00:00.000Z', 'nothing was observed: last seen unchanged');

    const again = await rescoreInventory(inv, new VulnDb({}));
    assert.deepEqual({ ...again, services: 0 }, { services: 0, opened: 0, reopened: 0, changed: 0, noLongerFiring: 0 }, 'idempotent');
  } finally {
    await inv.close();
  }
});
