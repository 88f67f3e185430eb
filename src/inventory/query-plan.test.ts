/**
 * The list queries must use indexes (ip via ip_key, port, device type) rather than scan the
 * tables: checked with SQLite's EXPLAIN QUERY PLAN on the SQL the store really sends.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { type CompiledQuery, Kysely, SqliteDialect } from 'kysely';
import { KyselyInventory } from './kysely-store.js';
import type { InventoryDatabase } from './tables.js';

test('filtered list queries are index lookups on SQLite', async () => {
  const sqlite = new Database(':memory:');
  const sent: CompiledQuery[] = [];
  const db = new Kysely<InventoryDatabase>({
    dialect: new SqliteDialect({ database: sqlite }),
    log: (e) => {
      if (e.level === 'query') sent.push(e.query);
    },
  });
  const inv = new KyselyInventory(db, 'sqlite', ':memory:');
  try {
    await inv.migrate();
    await inv.createRun({ id: 'r-1', profile: 'safe', targets: [], options: {}, totalTargets: 0 });
    await inv.recordService('r-1', {
      ip: '127.77.0.10',
      port: 104,
      protocol: 'dicom',
      status: 'success',
      timestamp: '2024-01-01T00:00:00.000Z',
      asset: { deviceType: 'pacs', evidence: [] },
      findings: [{ id: 'dicom-any-ae', severity: 'high', title: 't', confidence: 'confirmed' }],
      data: {},
    });

    /** Plan lines of the first query `call` sends. */
    const plan = async (call: () => Promise<unknown>): Promise<string> => {
      sent.length = 0;
      await call();
      const q = sent[0];
      assert.ok(q, 'a query was sent');
      const rows = sqlite.prepare(`EXPLAIN QUERY PLAN ${q.sql}`).all(...(q.parameters as unknown[])) as {
        detail: string;
      }[];
      return rows.map((r) => r.detail).join('\n');
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
