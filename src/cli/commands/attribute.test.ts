import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { openKyselyInventory } from '../../inventory/index.js';
import { type RunningLab, startLab } from '../../lab/index.js';
import { executeAttribute } from './attribute.js';
import { executeScan, scanOptions } from './scan.js';

const BLOCK = '127.212.0.0/16';
let lab: RunningLab;
const dir = mkdtempSync(path.join(tmpdir(), 'medsurface-attr-'));

before(async () => {
  lab = await startLab({ block: BLOCK, quiet: true });
});
after(async () => {
  await lab?.stop();
});

const sink = () => ({ stdout: process.stdout, stderr: process.stderr, collect: true, writer: { count: 0, write() {}, close: async () => {} } });

test('a scan with --orgs carries the organisation on each record and stores it with the asset; `attribute` refreshes it', async () => {
  const node = lab.nodes.find((n) => n.name === 'web-orthanc')!;
  const orgs = path.join(dir, 'orgs.yaml');
  writeFileSync(
    orgs,
    [
      '- name: Example Hospital',
      '  country: NL',
      `  cidrs: [${node.ip.split('.').slice(0, 3).join('.')}.0/24]`,
      '  contact: { email: security@example.org }',
      '',
    ].join('\n'),
  );
  const db = path.join(dir, 'inv.db');
  const s = await executeScan([node.ip], scanOptions({ ports: String(node.port), hostDelay: 0, quiet: true, db, orgs, scope: BLOCK }), sink());
  assert.equal(s.state, 'completed');
  const rec = s.records.find((r) => r.port === node.port);
  assert.deepEqual(rec?.attribution, { country: 'NL', asn: null, asOrg: null, org: 'Example Hospital', orgSource: 'orgs' });
  assert.ok(!JSON.stringify(rec).includes('security@example.org'), 'contacts stay in orgs.yaml');

  const inv = await openKyselyInventory(db);
  const row = await inv.db.selectFrom('assets').select(['country', 'org', 'org_source']).where('ip', '=', node.ip).executeTakeFirstOrThrow();
  await inv.close();
  assert.deepEqual(row, { country: 'NL', org: 'Example Hospital', org_source: 'orgs' });

  const moved = path.join(dir, 'orgs2.yaml');
  writeFileSync(moved, `- name: Other Clinic\n  country: BE\n  cidrs: [${node.ip}/32]\n`);
  const out: string[] = [];
  const r = await executeAttribute({ db, geoip: [], asn: [], orgs: moved }, { write: (t: string) => out.push(t) } as never);
  assert.deepEqual(r, { assets: 1, changed: 1 });
  const inv2 = await openKyselyInventory(db);
  const row2 = await inv2.db.selectFrom('assets').select(['country', 'org']).where('ip', '=', node.ip).executeTakeFirstOrThrow();
  await inv2.close();
  assert.deepEqual(row2, { country: 'BE', org: 'Other Clinic' });
});

test('attribute without any source is a usage error; a broken orgs.yaml fails before anything is scanned', async () => {
  await assert.rejects(executeAttribute({ geoip: [], asn: [] }, process.stdout), /at least one of --geoip/);
  const bad = path.join(dir, 'bad.yaml');
  writeFileSync(bad, '- cidrs: [999.1.1.0/24]\n');
  await assert.rejects(executeScan(['127.212.4.10'], scanOptions({ ports: '8042', quiet: true, inventory: false, orgs: bad, scope: BLOCK }), sink()), /bad\.yaml/);
});
