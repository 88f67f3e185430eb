/**
 * Cases on both engines (SQLite file and PostgreSQL): grouping by responsible party (orgs.yaml
 * organisation, then AS organisation, then the country's CERT), what is left out (triaged,
 * honeypot, below the minimum severity, the inventory's own unlisted finding, unattributed
 * hosts), idempotence, findings joining an active case, the state machine with its history and
 * notes, a new case once the old one is resolved, `inventory forget` taking forgotten findings out
 * of their cases, and the RDAP cache's upsert and range lookup. Synthetic records on
 * 127.214.20-29.x (no server: the records are written straight into the inventory).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Finding, RecordAttribution, ServiceRecord } from '../core/types.js';
import { openKyselyInventory } from '../inventory/db.js';
import type { KyselyInventory } from '../inventory/kysely-store.js';
import { forgetAssets } from '../inventory/retention.js';
import { createTestDatabase } from '../inventory/test-pg.js';
import { addNote, caseEvents, caseFindings, getCase, listCases, parseCaseId, partyOf, setCaseState, syncCases } from './cases.js';
import { CaseStateError, DisclosureError, NoSuchCaseError } from './errors.js';
import { parseRdapNetwork } from './rdap.js';
import { cachedNetworks, storeNetworks } from './rdap-client.js';
import { disclosureDb, type DisclosureDb } from './tables.js';
import { rdapNetwork } from './test-support.js';

class Clock {
  t = Date.parse('2030-04-01T08:00:00.000Z');
  now = (): string => new Date(this.t).toISOString();
  tick(ms = 60_000): void {
    this.t += ms;
  }
}

const ALPHA: RecordAttribution = { country: 'NL', asn: 64500, asOrg: 'Example Transit', org: 'Alpha Hospital', orgSource: 'orgs' };
const TRANSIT: RecordAttribution = { country: 'DE', asn: 64501, asOrg: 'Example Carrier', org: 'Example Carrier', orgSource: 'asn' };
const COUNTRY_ONLY: RecordAttribution = { country: 'BE', asn: null, asOrg: null, org: null, orgSource: null };
const NOBODY: RecordAttribution = { country: null, asn: null, asOrg: null, org: null, orgSource: null };

const f = (id: string, severity: Finding['severity']): Finding => ({ id, severity, title: `${id} title`, confidence: 'confirmed' });

function rec(ip: string, port: number, at: string, attribution: RecordAttribution, findings: Finding[], honeypot = false): ServiceRecord {
  return {
    ip,
    port,
    protocol: 'dicom',
    status: 'success',
    timestamp: at,
    product: 'ACME PACS',
    deviceType: 'pacs',
    asset: { evidence: [], deviceType: 'pacs', ...(honeypot ? { honeypot: { signals: ['too-many-products'] } } : {}) },
    attribution,
    findings,
    checksRun: ['dicom-any-ae', 'dicom-no-tls', 'tls-self-signed', 'dicom-query-open'],
    data: {},
  };
}

async function scan(inv: KyselyInventory, clock: Clock, id: string, recs: ServiceRecord[]): Promise<void> {
  await inv.createRun({ id, profile: 'safe', targets: recs.map((r) => r.ip), options: {}, totalTargets: recs.length });
  await inv.recordServices(id, recs);
  clock.tick();
  await inv.finishRun(id, 'completed', { stats: {} });
  clock.tick();
}

/** The scenario, with its assertions; returns a log that must be the same on both engines. */
async function scenario(inv: KyselyInventory, clock: Clock): Promise<string[]> {
  const db: DisclosureDb = disclosureDb(inv.db);
  const log: string[] = [];
  const at = clock.now();
  await scan(inv, clock, 'r1', [
    rec('127.214.20.1', 104, at, ALPHA, [f('dicom-any-ae', 'high'), f('dicom-no-tls', 'medium')]),
    rec('127.214.20.2', 2762, at, ALPHA, [f('tls-self-signed', 'low')]),
    rec('127.214.20.3', 104, at, ALPHA, [f('dicom-any-ae', 'high')]),
    rec('127.214.21.1', 104, at, TRANSIT, [f('dicom-query-open', 'high')]),
    rec('127.214.22.1', 104, at, COUNTRY_ONLY, [f('dicom-any-ae', 'high')]),
    rec('127.214.23.1', 104, at, NOBODY, [f('dicom-any-ae', 'high')]),
    rec('127.214.24.1', 104, at, ALPHA, [f('dicom-any-ae', 'high')], true),
    rec('127.214.20.4', 104, at, ALPHA, [f('dicom-any-ae', 'info')]),
  ]);
  // The user triaged one of Alpha's findings as a false positive: it is not disclosed.
  const triaged = (await inv.listFindings({ ip: '127.214.20.3' }))[0]!;
  await inv.setUserState(triaged.id, 'false-positive');

  const s1 = await syncCases(db, { now: clock.now });
  assert.equal(s1.created.length, 3);
  assert.equal(s1.unattributed, 1, 'the host with no organisation, AS or country');
  let cases = await listCases(db);
  assert.deepEqual(
    cases.map((c) => [c.partyKey, c.partyKind, c.partyName, c.country, c.state, c.findings.total]),
    [
      ['org:Alpha Hospital', 'org', 'Alpha Hospital', 'NL', 'new', 3],
      ['asn:64501', 'asn', 'Example Carrier (AS64501)', 'DE', 'new', 1],
      ['cert:BE', 'cert', 'national CERT of BE', 'BE', 'new', 1],
    ],
  );
  const alpha = cases[0]!.id;
  const alphaIps = (await caseFindings(db, alpha)).map((r) => `${r.ip}:${r.port} ${r.checkId}`);
  assert.deepEqual(alphaIps, ['127.214.20.1:104 dicom-any-ae', '127.214.20.1:104 dicom-no-tls', '127.214.20.2:2762 tls-self-signed'], 'no triaged, honeypot or info finding');
  log.push(`cases ${JSON.stringify(cases.map((c) => [c.id, c.partyKey, c.findings]))}`);

  // Idempotent.
  const s2 = await syncCases(db, { now: clock.now });
  assert.deepEqual(s2, { created: [], grown: [], findingsAdded: 0, unattributed: 1 });

  // A minimum severity leaves the low finding out of a fresh grouping (it stays in the case it joined).
  const s2b = await syncCases(db, { now: clock.now, minSeverity: 'high' });
  assert.equal(s2b.findingsAdded, 0);

  // A new exposure of Alpha joins its active case.
  await scan(inv, clock, 'r2', [rec('127.214.20.5', 104, clock.now(), ALPHA, [f('dicom-query-open', 'high')])]);
  const s3 = await syncCases(db, { now: clock.now });
  assert.deepEqual(s3.grown, [alpha]);
  assert.equal(s3.findingsAdded, 1);
  assert.deepEqual(
    (await caseEvents(db, alpha)).map((e) => [e.event, e.detail]),
    [
      ['created', { party: 'org:Alpha Hospital', findings: 3 }],
      ['findings-added', { findings: 1 }],
    ],
  );

  // The state machine.
  await assert.rejects(setCaseState(db, alpha, 'acknowledged', { now: clock.now }), (e: unknown) => e instanceof CaseStateError && /new: notified, resolved/.test(e.message));
  await assert.rejects(setCaseState(db, alpha, 'new', { now: clock.now }), /already new/);
  clock.tick();
  await setCaseState(db, alpha, 'notified', { now: clock.now, detail: { messageId: '<m1@example.org>' }, event: 'notified' });
  const notifiedAt = (await getCase(db, alpha)).notifiedAt;
  assert.equal(notifiedAt, clock.now());
  clock.tick();
  await setCaseState(db, alpha, 'acknowledged', { now: clock.now, note: 'phone call\nwith the CISO' });
  await addNote(db, alpha, '  vendor\u0007 patch   expected in May  ', clock.now);
  await assert.rejects(addNote(db, alpha, ' \u0000 ', clock.now), (e: unknown) => e instanceof DisclosureError && /empty/.test(e.message));
  await assert.rejects(addNote(db, 9999, 'x', clock.now), NoSuchCaseError);
  const history = (await caseEvents(db, alpha)).map((e) => [e.event, e.fromState, e.toState, e.detail]);
  assert.deepEqual(history.slice(2), [
    ['notified', 'new', 'notified', { messageId: '<m1@example.org>' }],
    ['state', 'notified', 'acknowledged', { note: 'phone call with the CISO' }],
    ['note', null, null, { text: 'vendor patch expected in May' }],
  ]);
  assert.equal((await getCase(db, alpha)).notifiedAt, notifiedAt, 'notified_at is the first notification');
  log.push(`history ${JSON.stringify(history)}`);

  // Fixed: a rescan resolves Alpha's findings; the case is resolved, then final.
  await scan(inv, clock, 'r3', [
    rec('127.214.20.1', 104, clock.now(), ALPHA, []),
    rec('127.214.20.2', 2762, clock.now(), ALPHA, []),
    rec('127.214.20.5', 104, clock.now(), ALPHA, []),
  ]);
  const c = await getCase(db, alpha);
  assert.deepEqual(c.findings, { total: 4, open: 0, unverified: 0, resolved: 4, triaged: 0 });
  await setCaseState(db, alpha, 'resolved', { now: clock.now });
  assert.equal((await getCase(db, alpha)).closedAt, clock.now());
  await assert.rejects(setCaseState(db, alpha, 'notified', { now: clock.now }), /resolved is final/);

  // The exposure comes back: a new case for Alpha, the resolved one untouched.
  await scan(inv, clock, 'r4', [rec('127.214.20.1', 104, clock.now(), ALPHA, [f('dicom-any-ae', 'high')])]);
  const s4 = await syncCases(db, { now: clock.now });
  assert.equal(s4.created.length, 1);
  cases = await listCases(db);
  assert.deepEqual(
    cases.filter((x) => x.partyKey === 'org:Alpha Hospital').map((x) => [x.state, x.findings.total, x.findings.open]),
    [
      ['resolved', 4, 1],
      ['new', 1, 1],
    ],
  );
  log.push(`final ${JSON.stringify(cases.map((x) => [x.id, x.partyKey, x.state, x.findings]))}`);

  // `inventory forget` of Alpha's block: its findings leave the cases with them (foreign-key cascade).
  await forgetAssets(inv.db, { kind: 'range', spec: '127.214.20.0/24' });
  cases = await listCases(db);
  assert.deepEqual(
    cases.filter((x) => x.partyKey === 'org:Alpha Hospital').map((x) => x.findings.total),
    [0, 0],
  );
  // The RDAP cache's upsert and range lookup (same SQL on both engines).
  const nets = [parseRdapNetwork(rdapNetwork('127.214.20.0', '127.214.20.255', 'a@example.org')), parseRdapNetwork(rdapNetwork('127.214.20.0', '127.214.20.63', 'b@example.org'))];
  await storeNetworks(db, nets, 'import:t', clock.now());
  await storeNetworks(db, [parseRdapNetwork(rdapNetwork('127.214.20.0', '127.214.20.63', 'c@example.org'))], 'import:t', clock.now());
  assert.deepEqual((await cachedNetworks(db, '127.214.20.9')).map((n) => n.abuseEmails[0]), ['c@example.org', 'a@example.org']);
  assert.deepEqual((await cachedNetworks(db, '127.214.20.99')).map((n) => n.abuseEmails[0]), ['a@example.org']);
  const left = await db.selectFrom('case_findings').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow();
  assert.equal(Number(left.n), 2, 'the carrier and country cases keep theirs');
  return log;
}

const logs: Record<'sqlite' | 'postgres', string[] | null> = { sqlite: null, postgres: null };

describe('cases on SQLite', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'medsurface-cases-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  test('grouping, state machine, history', async () => {
    const clock = new Clock();
    const inv = await openKyselyInventory(path.join(dir, 'inv.sqlite'), { now: clock.now });
    try {
      logs.sqlite = await scenario(inv, clock);
    } finally {
      await inv.close();
    }
  });
});

describe('cases on PostgreSQL', () => {
  let pg: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
  before(async () => {
    pg = await createTestDatabase('medsurface_cases');
  });
  after(async () => {
    await pg?.drop();
  });
  test('grouping, state machine, history', async () => {
    const clock = new Clock();
    const inv = await openKyselyInventory(pg!.url, { now: clock.now });
    try {
      assert.equal(inv.kind, 'postgres');
      logs.postgres = await scenario(inv, clock);
    } finally {
      await inv.close();
    }
  });
});

test('SQLite and PostgreSQL give the same cases and histories', () => {
  assert.ok(logs.sqlite && logs.postgres);
  assert.deepEqual(logs.sqlite, logs.postgres);
});

test('partyOf: orgs.yaml, then the AS, then the country', () => {
  assert.deepEqual(partyOf({ org: 'A', org_source: 'orgs', asn: 1, as_org: 'X', country: 'nl' }), { key: 'org:A', kind: 'org', name: 'A', country: 'NL', asn: 1 });
  assert.deepEqual(partyOf({ org: 'X', org_source: 'asn', asn: 7, as_org: 'X', country: null }), { key: 'asn:7', kind: 'asn', name: 'X (AS7)', country: null, asn: 7 });
  assert.deepEqual(partyOf({ org: null, org_source: null, asn: null, as_org: null, country: 'FR' })?.key, 'cert:FR');
  assert.equal(partyOf({ org: null, org_source: null, asn: null, as_org: null, country: null }), null);
});

test('parseCaseId takes 12 and #12, nothing else', () => {
  assert.equal(parseCaseId('12'), 12);
  assert.equal(parseCaseId(' #7 '), 7);
  for (const bad of ['', 'x', '1.5', '-1', '12a', '1234567890']) assert.throws(() => parseCaseId(bad), DisclosureError, bad);
});
