/**
 * Re-measurement planning and judging, with the scan replaced by a function that records what a
 * rescan would have observed: only cases notified at least `--after` ago are due; their
 * still-exposed services are grouped by the original run's profile and options and by port set;
 * a case whose findings all resolve becomes resolved, one whose host did not answer stays open
 * with its findings unverified; an interrupted rescan resolves nothing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { UsageError } from '../core/errors.js';
import type { RecordAttribution, ServiceRecord } from '../core/types.js';
import { openKyselyInventory } from '../inventory/db.js';
import type { KyselyInventory } from '../inventory/kysely-store.js';
import { caseEvents, getCase, listCases, setCaseState, syncCases } from './cases.js';
import { type RescanGroup, parseAge, planRemeasure, remeasure, specOfRun } from './remeasure.js';
import { disclosureDb, type DisclosureDb } from './tables.js';

const DAY = 86_400_000;
let t = Date.parse('2030-06-01T00:00:00.000Z');
const now = () => new Date(t).toISOString();
const org = (name: string): RecordAttribution => ({ country: null, asn: null, asOrg: null, org: name, orgSource: 'orgs' });

function rec(ip: string, port: number, who: string, findings: string[]): ServiceRecord {
  return {
    ip,
    port,
    protocol: 'dicom',
    status: 'success',
    timestamp: now(),
    asset: { evidence: [] },
    attribution: org(who),
    findings: findings.map((id) => ({ id, severity: 'high', title: id, confidence: 'confirmed' })),
    checksRun: ['dicom-any-ae', 'dicom-query-open', 'ftp-anonymous'],
    data: {},
  };
}

let dir: string;
let inv: KyselyInventory;
let db: DisclosureDb;
const ids: Record<string, number> = {};

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'medsurface-remeasure-'));
  inv = await openKyselyInventory(path.join(dir, 'inv.sqlite'), { now });
  db = disclosureDb(inv.db);
  const safeOptions = { probes: ['dicom', 'http'], timeouts: { connectMs: 1500, readMs: 3000, sessionMs: 9000 }, retries: 2, dicomTls: false, callingAe: 'RESEARCH' };
  await inv.createRun({ id: 'r-safe', profile: 'safe', targets: [], options: safeOptions, totalTargets: 0 });
  await inv.recordServices('r-safe', [
    rec('127.214.70.1', 104, 'Due Org', ['dicom-any-ae']),
    rec('127.214.70.1', 4242, 'Due Org', ['dicom-any-ae']),
    rec('127.214.70.2', 104, 'Due Org', ['dicom-query-open']),
    rec('127.214.71.1', 104, 'Recent Org', ['dicom-any-ae']),
    rec('127.214.72.1', 104, 'Silent Org', ['dicom-any-ae']),
    rec('127.214.73.1', 104, 'Never Told', ['dicom-any-ae']),
  ]);
  await inv.finishRun('r-safe', 'completed', { stats: {} });
  await inv.createRun({ id: 'r-intr', profile: 'intrusive', targets: [], options: { credentials: { enabled: true, budget: 5, delayMs: 100, weak: false } }, totalTargets: 0 });
  await inv.recordServices('r-intr', [rec('127.214.70.3', 21, 'Due Org', ['ftp-anonymous'])]);
  await inv.finishRun('r-intr', 'completed', { stats: {} });
  await syncCases(db, { now });
  for (const c of await listCases(db)) ids[c.partyName] = c.id;
  t += DAY;
  for (const name of ['Due Org', 'Silent Org']) await setCaseState(db, ids[name]!, 'notified', { now });
  t += 35 * DAY;
  await setCaseState(db, ids['Recent Org']!, 'notified', { now });
  t += 5 * DAY;
});

after(async () => {
  await inv.close();
  rmSync(dir, { recursive: true, force: true });
});

test('parseAge takes h, d and w, and zero', () => {
  assert.equal(parseAge('30d'), 30 * DAY);
  assert.equal(parseAge('0d'), 0);
  assert.equal(parseAge(' 8W '), 56 * DAY);
  assert.equal(parseAge('12h'), 12 * 3_600_000);
  for (const bad of ['30', '1m', '2y', 'abc', '-1d', '99999999d']) assert.throws(() => parseAge(bad), UsageError, bad);
});

test('specOfRun keeps the options a rescan needs and nothing unknown', () => {
  assert.deepEqual(
    specOfRun('intrusive', JSON.stringify({ probes: ['dicom'], credentials: { enabled: true, budget: 3, delayMs: 10, weak: true }, seed: '1', targets: ['x'], exclude: ['127.214.9.0/24'], excludeFile: [], scope: 'y' })),
    {
      profile: 'intrusive',
      probes: ['dicom'],
      credentials: { enabled: true, budget: 3, delayMs: 10, weak: true },
      exclude: ['127.214.9.0/24'],
    },
  );
  assert.deepEqual(specOfRun('weird', 'not json'), { profile: 'safe' });
});

test('plan: only cases notified long enough ago, grouped by original options and ports', async () => {
  const plan = await planRemeasure(db, { afterMs: parseAge('30d'), now });
  assert.deepEqual(plan.due.map((c) => c.partyName).sort(), ['Due Org', 'Silent Org']);
  assert.deepEqual(plan.notYet.map((c) => c.partyName), ['Recent Org']);
  const groups = plan.groups.map((g) => [g.spec.profile, g.ports.join(','), [...g.ips].sort().join(' ')]).sort();
  assert.deepEqual(groups, [
    ['intrusive', '21', '127.214.70.3'],
    ['safe', '104', '127.214.70.2 127.214.72.1'],
    ['safe', '104,4242', '127.214.70.1'],
  ]);
  const safe = plan.groups.find((g) => g.spec.profile === 'safe')!;
  assert.deepEqual(safe.spec, { profile: 'safe', probes: ['dicom', 'http'], dicomTls: false, callingAe: 'RESEARCH', timeouts: { connectMs: 1500, readMs: 3000, sessionMs: 9000 }, retries: 2 });
  assert.deepEqual(plan.groups.find((g) => g.spec.profile === 'intrusive')!.spec.credentials, { enabled: true, budget: 5, delayMs: 100, weak: false });
});

test('an interrupted rescan resolves nothing', async () => {
  let n = 0;
  const r = await remeasure(db, {
    afterMs: 30 * DAY,
    now,
    rescan: async (g: RescanGroup) => {
      const id = `r-int-${n++}`;
      await inv.createRun({ id, profile: g.spec.profile, targets: g.ips, options: {}, totalTargets: g.ips.length });
      await inv.recordServices(id, g.ips.flatMap((ip) => g.ports.map((p) => rec(ip, p, 'x', []))));
      await inv.finishRun(id, 'interrupted', { stats: {} });
      return { runId: id, state: 'interrupted' };
    },
  });
  assert.equal(r.resolved, 0);
  assert.ok(r.cases.every((c) => c.after === 'notified' && c.findings.fixed === 0));
});

test('fixed services resolve their case; a host that does not answer leaves its case open, unverified', async () => {
  let n = 0;
  const seen: string[] = [];
  const r = await remeasure(db, {
    afterMs: 30 * DAY,
    now,
    rescan: async (g: RescanGroup) => {
      const id = `r-re-${n++}`;
      seen.push(...g.ips);
      t += 60_000;
      await inv.createRun({ id, profile: g.spec.profile, targets: g.ips, options: {}, totalTargets: g.ips.length });
      const answering = g.ips.filter((ip) => ip !== '127.214.72.1');
      await inv.recordServices(id, answering.flatMap((ip) => g.ports.map((p) => rec(ip, p, 'ignored', []))));
      t += 60_000;
      await inv.finishRun(id, 'completed', { stats: {}, unreachableHosts: g.ips.filter((ip) => ip === '127.214.72.1') });
      return { runId: id, state: 'completed' };
    },
  });
  assert.deepEqual(seen.sort(), ['127.214.70.1', '127.214.70.2', '127.214.70.3', '127.214.72.1'], 'never the recent or un-notified cases');
  const by = Object.fromEntries(r.cases.map((c) => [c.party, c]));
  assert.deepEqual([by['Due Org']!.after, by['Due Org']!.findings], ['resolved', { total: 4, fixed: 4, open: 0, unverified: 0 }]);
  assert.deepEqual([by['Silent Org']!.after, by['Silent Org']!.findings], ['notified', { total: 1, fixed: 0, open: 0, unverified: 1 }]);
  assert.equal(r.resolved, 1);
  assert.equal(r.notYet, 1);
  assert.equal((await getCase(db, ids['Recent Org']!)).state, 'notified');
  assert.equal((await getCase(db, ids['Never Told']!)).state, 'new');
  const events = (await caseEvents(db, ids['Due Org']!)).map((e) => e.event);
  assert.deepEqual(events.slice(-3), ['remeasured', 'remeasured', 'state']);
});
