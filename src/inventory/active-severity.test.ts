/**
 * services.active_severity (migrations/0008) is the rank of the service's highest active
 * finding, and the search language reads it instead of the findings. It must equal what the
 * findings say after every kind of change: a batch (new, seen, reopened, several records of
 * one service), a completed run resolving, an unreachable host's findings becoming
 * unverified, a user triaging and un-triaging, a rescore. Checked after each step on SQLite
 * and on the local PostgreSQL server (never skipped), and for the migration's backfill.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { SEVERITIES, type Finding, type ServiceRecord, type Severity } from '../core/types.js';
import { openKyselyInventory } from './db.js';
import type { KyselyInventory } from './kysely-store.js';
import { MIGRATION_LOCK_TABLE, MIGRATION_TABLE, migrationProvider } from './migrations/index.js';
import type { InventoryDatabase } from './tables.js';
import { createTestDatabase } from './test-pg.js';

const dir = mkdtempSync(join(tmpdir(), 'medsurface-sev-'));
const drops: (() => Promise<void>)[] = [];
after(async () => {
  for (const d of drops) await d();
  rmSync(dir, { recursive: true, force: true });
});

const f = (id: string, severity: Severity): Finding => ({ id, severity, title: id, confidence: 'confirmed' });
const CHECKS = ['dicom-any-ae', 'dicom-no-tls', 'CVE-2022-2119', 'http-server-version'];

function rec(ip: string, port: number, at: string, findings: Finding[]): ServiceRecord {
  return { ip, port, protocol: 'dicom', status: 'success', timestamp: at, findings, checksRun: CHECKS, data: {} };
}

/** Every service whose stored active_severity differs from its findings, as `ip:port stored!=expected`. */
async function mismatches(db: Kysely<InventoryDatabase>): Promise<string[]> {
  const services = await db.selectFrom('services').select(['id', 'ip', 'port', 'active_severity']).execute();
  const findings = await db.selectFrom('findings').select(['service_id', 'severity', 'state', 'user_state']).execute();
  const want = new Map<number, number>();
  for (const x of findings) {
    if (x.state !== 'open' || x.user_state !== null) continue;
    const r = SEVERITIES.indexOf(x.severity as Severity) + 1;
    want.set(Number(x.service_id), Math.max(want.get(Number(x.service_id)) ?? 0, r));
  }
  return services
    .filter((s) => Number(s.active_severity) !== (want.get(Number(s.id)) ?? 0))
    .map((s) => `${s.ip}:${s.port} ${s.active_severity}!=${want.get(Number(s.id)) ?? 0}`);
}

async function scenario(inv: KyselyInventory): Promise<void> {
  const step = async (name: string, fn: () => Promise<unknown>) => {
    await fn();
    assert.deepEqual(await mismatches(inv.db), [], `after ${name}`);
  };
  const ranks = async () =>
    Object.fromEntries(
      (await inv.db.selectFrom('services').select(['ip', 'port', 'active_severity']).orderBy('ip').orderBy('port').execute()).map((s) => [
        `${s.ip}:${s.port}`,
        Number(s.active_severity),
      ]),
    );
  await inv.createRun({ id: 'r1', profile: 'safe', targets: [], options: {}, totalTargets: 4 });
  await step('a first batch', () =>
    inv.recordServices('r1', [
      rec('127.221.0.1', 104, '2026-11-01T10:00:00.000Z', [f('dicom-any-ae', 'high'), f('dicom-no-tls', 'medium')]),
      rec('127.221.0.2', 104, '2026-11-01T10:00:00.000Z', [f('http-server-version', 'info')]),
      rec('127.221.0.3', 104, '2026-11-01T10:00:00.000Z', []),
      rec('127.221.0.4', 104, '2026-11-01T10:00:00.000Z', [f('dicom-no-tls', 'medium')]),
    ]),
  );
  assert.deepEqual(await ranks(), { '127.221.0.1:104': 4, '127.221.0.2:104': 1, '127.221.0.3:104': 0, '127.221.0.4:104': 3 });
  await step('a later record of a service in the same run', () =>
    inv.recordServices('r1', [rec('127.221.0.3', 104, '2026-11-01T10:05:00.000Z', [f('CVE-2022-2119', 'critical')])]),
  );
  await step('the run completing', () => inv.finishRun('r1', 'completed', { stats: {} }));

  await inv.createRun({ id: 'r2', profile: 'safe', targets: [], options: {}, totalTargets: 4 });
  await step('a second run where .1 lost its high finding and .3 its critical one', () =>
    inv.recordServices('r2', [
      rec('127.221.0.1', 104, '2026-11-02T10:00:00.000Z', [f('dicom-no-tls', 'medium')]),
      rec('127.221.0.2', 104, '2026-11-02T10:00:00.000Z', [f('http-server-version', 'info')]),
      rec('127.221.0.3', 104, '2026-11-02T10:00:00.000Z', []),
    ]),
  );
  await step('the second run resolving (.4 unreachable)', () =>
    inv.finishRun('r2', 'completed', { stats: {}, unreachableHosts: ['127.221.0.4'] }),
  );
  assert.deepEqual(await ranks(), { '127.221.0.1:104': 3, '127.221.0.2:104': 1, '127.221.0.3:104': 0, '127.221.0.4:104': 0 });

  const medium = await inv.db
    .selectFrom('findings')
    .innerJoin('services', 'services.id', 'findings.service_id')
    .select('findings.id')
    .where('services.ip', '=', '127.221.0.1')
    .where('findings.check_id', '=', 'dicom-no-tls')
    .executeTakeFirstOrThrow();
  await step('a user accepting the risk', () => inv.setUserState(Number(medium.id), 'accepted-risk'));
  assert.equal((await ranks())['127.221.0.1:104'], 0);
  await step('the user clearing it again', () => inv.setUserState(Number(medium.id), null));
  assert.equal((await ranks())['127.221.0.1:104'], 3);

  await inv.createRun({ id: 'r3', profile: 'safe', targets: [], options: {}, totalTargets: 4 });
  await step('a third run reopening the resolved critical finding and finding .4 again', () =>
    inv.recordServices('r3', [
      rec('127.221.0.3', 104, '2026-11-03T10:00:00.000Z', [f('CVE-2022-2119', 'critical')]),
      rec('127.221.0.4', 104, '2026-11-03T10:00:00.000Z', [f('dicom-no-tls', 'medium')]),
    ]),
  );
  assert.deepEqual(await ranks(), { '127.221.0.1:104': 3, '127.221.0.2:104': 1, '127.221.0.3:104': 5, '127.221.0.4:104': 3 });
  await step('the third run ending interrupted', () => inv.finishRun('r3', 'interrupted', { stats: {} }));

  const two = await inv.db.selectFrom('services').select('id').where('ip', '=', '127.221.0.2').executeTakeFirstOrThrow();
  await step('a rescore raising .2 to high', () =>
    inv.applyRescore([{ serviceId: Number(two.id), risk: 50, findings: [f('http-server-version', 'info'), f('dicom-any-ae', 'high')] }], []),
  );
  assert.equal((await ranks())['127.221.0.2:104'], 4);

  // The search reads the column: its answers follow every change above.
  const total = async (q: string) => (await inv.search(q)).total;
  assert.deepEqual(await ranks(), { '127.221.0.1:104': 3, '127.221.0.2:104': 4, '127.221.0.3:104': 5, '127.221.0.4:104': 3 });
  assert.equal(await total('severity:critical'), 1);
  assert.equal(await total('severity>=high'), 2);
  assert.equal(await total('severity<high'), 2);
  assert.equal(await total('severity:medium'), 2);
  assert.equal(await total('-finding:*'), 0);
  assert.equal(await total('state:open'), 4);
  await step('a user marking .3 fixed', async () => {
    const crit = await inv.db.selectFrom('findings').select('id').where('check_id', '=', 'CVE-2022-2119').executeTakeFirstOrThrow();
    await inv.setUserState(Number(crit.id), 'fixed');
  });
  assert.equal(await total('-finding:*'), 1);
  assert.equal(await total('severity:none'), 1);
}

test('SQLite: active_severity follows every change of the findings', async () => {
  const inv = await openKyselyInventory(join(dir, 'a.sqlite'));
  try {
    await scenario(inv);
  } finally {
    await inv.close();
  }
});

test('PostgreSQL: active_severity follows every change of the findings', async () => {
  const pg = await createTestDatabase('medsurface_sev');
  drops.push(pg.drop);
  const inv = await openKyselyInventory(pg.url);
  try {
    await scenario(inv);
  } finally {
    await inv.close();
  }
});

test('migration 0008 computes active_severity for the findings already stored', async () => {
  const sqlite = new Database(join(dir, 'm.sqlite'));
  const db = new Kysely<InventoryDatabase>({ dialect: new SqliteDialect({ database: sqlite }) });
  const migrator = new Migrator({ db, provider: migrationProvider('sqlite'), migrationTableName: MIGRATION_TABLE, migrationLockTableName: MIGRATION_LOCK_TABLE });
  try {
    const to7 = await migrator.migrateTo('0007-opt-outs');
    assert.equal(to7.error, undefined);
    await db.insertInto('scan_runs').values({ id: 'r', started_at: 'x', finished_at: null, state: 'completed', profile: 'safe', targets_spec: '[]', options: '{}', checkpoint: null, stats: '{}', total_targets: 0, done_targets: 0 }).execute();
    const asset = await db.insertInto('assets').values({ ip: '127.221.1.1', ip_key: 'k', first_seen: 'x', last_seen: 'x', evidence: '[]' }).returning('id').executeTakeFirstOrThrow();
    const svc = (port: number) => ({ asset_id: Number(asset.id), ip: '127.221.1.1', ip_key: 'k', port, transport: 'tcp', protocol: null, status: 'success', product: null, vendor: null, version: null, cpe: null, device_type: null, tls: null, first_seen: 'x', last_seen: 'x', last_run_id: null });
    // biome-ignore lint/suspicious/noExplicitAny: the 0007 schema has no active_severity column, which the row type includes
    const ids = await db.insertInto('services').values([svc(1), svc(2), svc(3)] as any).returning('id').execute();
    const finding = (sid: number, check: string, severity: string, state: string, user: string | null) => ({
      service_id: sid, check_id: check, severity, title: check, confidence: 'confirmed', evidence: null, state, user_state: user, first_seen: 'x', last_seen: 'x', resolved_at: null, last_run_id: null,
    });
    const [a, b, c] = ids.map((r) => Number(r.id));
    await db.insertInto('findings').values([
      finding(a!, 'x1', 'high', 'open', null),
      finding(a!, 'x2', 'critical', 'resolved', null),
      finding(b!, 'x1', 'critical', 'open', 'accepted-risk'),
      finding(b!, 'x2', 'low', 'open', null),
      finding(c!, 'x1', 'medium', 'unverified', null),
    ]).execute();
    const latest = await migrator.migrateToLatest();
    assert.equal(latest.error, undefined);
    const got = await db.selectFrom('services').select(['port', 'active_severity']).orderBy('port').execute();
    assert.deepEqual(got.map((r) => [r.port, Number(r.active_severity)]), [[1, 4], [2, 2], [3, 0]]);
    assert.deepEqual(await mismatches(db), []);
  } finally {
    await db.destroy();
  }
});
