/**
 * The list queries must use indexes (ip via ip_key, port, device type) rather than scan the
 * tables: checked with SQLite's EXPLAIN QUERY PLAN on the SQL the store really sends.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { recordCounts } from '../report/gather-assets.js';
import { makeScope } from '../report/scope.js';
import { planningInventory } from './testing.js';

test('filtered list queries are index lookups on SQLite', async () => {
  const { inv, plans } = await planningInventory({
    timestamp: '2024-01-01T00:00:00.000Z',
    asset: { deviceType: 'pacs', evidence: [] },
    findings: [{ id: 'dicom-any-ae', severity: 'high', title: 't', confidence: 'confirmed' }],
  });
  try {
    /** Plan lines of the first query `call` sends. */
    const plan = async (call: () => Promise<unknown>): Promise<string> => {
      const first = (await plans(call))[0];
      assert.ok(first, 'a query was sent');
      return first.plan;
    };
    const cases: [string, () => Promise<unknown>, RegExp][] = [
      ['assets by CIDR', () => inv.listAssets({ ip: '127.77.0.0/16' }), /SEARCH assets USING INDEX assets_ip_key_idx/],
      ['assets by device type', () => inv.listAssets({ deviceType: 'pacs' }), /SEARCH assets USING INDEX assets_device_type_idx/],
      ['services by port', () => inv.listServices({ port: 104 }), /SEARCH services USING INDEX services_port_idx/],
      ['services by CIDR', () => inv.listServices({ ip: '127.77.0.0/24' }), /SEARCH services USING INDEX services_ip_key_port_idx/],
      ['findings by address', () => inv.listFindings({ ip: '127.77.0.10' }), /SEARCH services USING INDEX services_ip_key_port_idx/],
      ['findings by check', () => inv.listFindings({ checkId: 'dicom-any-ae' }), /SEARCH findings USING INDEX findings_check_idx/],
      ['asset by address', () => inv.getAsset('127.77.0.10'), /SEARCH assets USING INDEX assets_ip_key_idx/],
      ['known hosts', () => inv.knownHosts(['127.77.0.10']), /SEARCH services USING (COVERING )?INDEX sqlite_autoindex_services_1/],
    ];
    for (const [name, call, want] of cases) {
      const p = await plan(call);
      assert.match(p, want, `${name}:\n${p}`);
    }
  } finally {
    await inv.close();
  }
});

test('records reachable are read from the partial index of observations holding a count (SQLite)', async () => {
  const { inv, plans } = await planningInventory({ data: { dicom: { patientFind: { matches: 3 } } } });
  try {
    await inv.recordService('r-1', { ip: '127.77.0.11', port: 104, protocol: 'dicom', status: 'success', timestamp: '2026-11-01T00:00:00.000Z', findings: [], data: {} });
    let counts: Awaited<ReturnType<typeof recordCounts>> | undefined;
    const [q] = await plans(async () => {
      counts = await recordCounts(inv.db, makeScope('', null, true, 'sqlite', Date.now()));
    });
    // Driven from the partial index, never from the services in scope.
    assert.match(q?.plan ?? '', /^SCAN o USING INDEX observations_counts_idx/, q?.plan);
    assert.equal(counts?.stats.total, 3);
    assert.equal(counts?.stats.services, 1);
  } finally {
    await inv.close();
  }
});
