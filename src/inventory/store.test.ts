/**
 * The same inventory scenario runs on SQLite and on the local PostgreSQL server, then the
 * full contents of both databases are compared. PostgreSQL must be reachable: when it is not,
 * these tests fail (they never skip). Admin URL: MEDSURFACE_TEST_PG, default
 * postgres://postgres@127.0.0.1:5432/test; a fresh database is created per run and dropped after.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import type { Finding, ServiceRecord } from '../core/types.js';
import { openKyselyInventory } from './db.js';
import type { KyselyInventory } from './kysely-store.js';

const ADMIN_URL = process.env.MEDSURFACE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The pinned clock: both backends see exactly the same times. */
class Clock {
  t = '2024-03-01T10:00:00.000Z';
  set(t: string): void {
    this.t = t;
  }
  readonly now = (): string => this.t;
}

function f(id: string, severity: Finding['severity'], evidence?: Finding['evidence']): Finding {
  return { id, severity, title: `title of ${id}`, confidence: 'confirmed', ...(evidence ? { evidence } : {}) };
}

function rec(
  clock: Clock,
  ip: string,
  port: number,
  protocol: ServiceRecord['protocol'],
  more: Partial<ServiceRecord> = {},
): ServiceRecord {
  return { ip, port, protocol, status: 'success', timestamp: clock.t, findings: [], data: {}, ...more };
}

const PACS = '127.77.0.10';
const MODALITY = '127.77.0.11';
const HL7 = '127.77.0.12';
const CLOSED = '127.77.0.13';
const FHIR = '127.77.1.5';
const V6 = '::1';

const pacsAsset = { vendor: 'Orthanc', product: 'Orthanc', deviceType: 'pacs' as const, evidence: ['http.server:orthanc'] };
const dicomData = {
  dicom: {
    association: 'accepted',
    implementationClassUid: '1.2.276.0.7230010.3.0.3.6.7',
    implementationVersionName: 'OFFIS_DCMTK_367',
    findCounts: { studies: 3 },
  },
};

async function state(inv: KyselyInventory, ip: string, port: number, checkId: string) {
  const rows = await inv.listFindings({ ip, port, checkId });
  assert.equal(rows.length, 1, `one finding ${checkId} on ${ip}:${port}`);
  return rows[0]!;
}

async function events(inv: KyselyInventory): Promise<string[]> {
  const rows = await inv.db
    .selectFrom('finding_events')
    .innerJoin('findings', 'findings.id', 'finding_events.finding_id')
    .innerJoin('services', 'services.id', 'findings.service_id')
    .select(['services.ip', 'services.port', 'findings.check_id', 'finding_events.event', 'finding_events.run_id'])
    .orderBy('finding_events.id')
    .execute();
  return rows.map((r) => `${r.run_id ?? '-'} ${r.ip}:${r.port} ${r.check_id} ${r.event}`);
}

async function count(inv: KyselyInventory, table: 'observations' | 'findings' | 'services' | 'assets') {
  const r = await inv.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/** The whole scenario, asserting after each step. Identical on both backends. */
async function scenario(inv: KyselyInventory, clock: Clock): Promise<void> {
  // ---- run 1: first sight of everything
  clock.set('2024-03-01T10:00:00.000Z');
  const r1 = await inv.createRun({
    id: 'r-test-1',
    profile: 'safe',
    targets: ['127.77.0.0/24', '127.77.1.5', '::1'],
    options: { ports: [104, 2575, 8042], probes: ['dicom', 'http', 'hl7'], rate: 100, concurrency: 8, seed: 42 },
    totalTargets: 258,
  });
  assert.equal(r1.state, 'running');
  assert.equal(r1.finishedAt, null);
  await inv.saveCheckpoint('r-test-1', { seed: 42, doneBelow: 10, doneAbove: [12, 14] }, 12, { services: 1 });
  const cp = await inv.getRun('r-test-1');
  assert.deepEqual(cp?.checkpoint, { seed: 42, doneBelow: 10, doneAbove: [12, 14] });
  assert.equal(cp?.doneTargets, 12);
  assert.deepEqual(cp?.targets, ['127.77.0.0/24', '127.77.1.5', '::1']);

  const pacsDicom1 = rec(clock, PACS, 104, 'dicom', {
    product: 'DCMTK',
    vendor: 'OFFIS',
    version: '3.6.7',
    cpe: 'cpe:2.3:a:offis:dcmtk:3.6.7:*:*:*:*:*:*:*',
    deviceType: 'dicom-toolkit',
    asset: pacsAsset,
    findings: [f('dicom-any-ae', 'high', { calledAe: 'random' }), f('dicom-no-tls', 'medium')],
    checksRun: ['dicom-any-ae', 'dicom-no-tls', 'dicom-records-reachable'],
    data: dicomData,
  });
  await inv.recordServices('r-test-1', [
    pacsDicom1,
    rec(clock, PACS, 8042, 'http', {
      product: 'Orthanc',
      vendor: 'Orthanc',
      version: '1.10.1',
      deviceType: 'pacs',
      asset: { ...pacsAsset, evidence: ['http.server:orthanc', 'dicom.impl:dcmtk'] },
      findings: [f('http-default-credentials', 'critical')],
      checksRun: ['http-default-credentials'],
      data: { http: { statusCode: 401, server: 'Orthanc' } },
    }),
    rec(clock, MODALITY, 104, 'dicom', {
      asset: { deviceType: 'modality', evidence: ['dicom.ae:CT'] },
      findings: [f('dicom-any-ae', 'high')],
      checksRun: ['dicom-any-ae'],
    }),
    rec(clock, HL7, 2575, 'hl7', { findings: [f('hl7-open', 'medium')], checksRun: ['hl7-open'] }),
    rec(clock, CLOSED, 104, null, { status: 'connection-refused' }),
    rec(clock, CLOSED, 105, null, { status: 'connection-timeout' }),
    rec(clock, FHIR, 8080, 'fhir', {
      status: 'application-error',
      product: 'HAPI FHIR',
      deviceType: 'fhir-server',
      asset: { deviceType: 'fhir-server', evidence: [] },
    }),
    rec(clock, V6, 11112, 'dicom', { checksRun: ['dicom-any-ae'] }),
  ]);
  // A retried write of the same (run, service) changes nothing.
  await inv.recordService('r-test-1', pacsDicom1);
  await inv.recordService('r-test-1', pacsDicom1);
  assert.equal(await count(inv, 'assets'), 5, 'refused and timed-out ports create nothing');
  assert.equal(await count(inv, 'services'), 6);
  assert.equal(await count(inv, 'observations'), 6, 'retried record: one observation per (run, service)');
  assert.equal(await count(inv, 'findings'), 5, 'retried record: no duplicate finding');
  assert.equal(
    (await events(inv)).filter((e) => e.includes('dicom-any-ae') && e.includes(PACS)).length,
    1,
    'retried record: one opened event',
  );
  clock.set('2024-03-01T10:30:00.000Z');
  await inv.finishRun('r-test-1', 'completed', { stats: { services: 6 }, unreachableHosts: [] });
  const done1 = await inv.getRun('r-test-1');
  assert.equal(done1?.state, 'completed');
  assert.equal(done1?.finishedAt, '2024-03-01T10:30:00.000Z');
  assert.deepEqual(done1?.stats, { services: 6 });
  for (const [ip, port, id] of [
    [PACS, 104, 'dicom-any-ae'],
    [PACS, 104, 'dicom-no-tls'],
    [PACS, 8042, 'http-default-credentials'],
    [MODALITY, 104, 'dicom-any-ae'],
    [HL7, 2575, 'hl7-open'],
  ] as const) {
    assert.equal((await state(inv, ip, port, id)).state, 'open', `${ip}:${port} ${id} opened`);
  }
  // data is stored exactly as given.
  const obs = await inv.db
    .selectFrom('observations')
    .innerJoin('services', 'services.id', 'observations.service_id')
    .select(['observations.data', 'observations.checks_run'])
    .where('services.ip', '=', PACS)
    .where('services.port', '=', 104)
    .executeTakeFirstOrThrow();
  assert.deepEqual(JSON.parse(obs.data), dicomData);
  assert.deepEqual(JSON.parse(obs.checks_run), ['dicom-any-ae', 'dicom-no-tls', 'dicom-records-reachable']);

  const pacs = await inv.getAsset(PACS);
  assert.ok(pacs);
  assert.equal(pacs.asset.deviceType, 'pacs');
  assert.equal(pacs.asset.vendor, 'Orthanc');
  assert.deepEqual(pacs.asset.evidence, ['http.server:orthanc', 'dicom.impl:dcmtk'], 'evidence merged within a run');
  assert.equal(pacs.asset.services, 2);
  assert.equal(pacs.asset.openFindings, 3);
  assert.equal(pacs.asset.maxSeverity, 'critical');
  assert.deepEqual(
    pacs.services.map((s) => [s.port, s.protocol, s.product, s.version]),
    [
      [104, 'dicom', 'DCMTK', '3.6.7'],
      [8042, 'http', 'Orthanc', '1.10.1'],
    ],
  );
  assert.deepEqual(
    pacs.findings.map((x) => x.checkId),
    ['http-default-credentials', 'dicom-any-ae', 'dicom-no-tls'],
    'most severe first',
  );
  assert.deepEqual(pacs.findings[1]?.evidence, { calledAe: 'random' });

  // ---- run 2: any-AE fixed on the PACS; the modality does not answer; checks not run elsewhere
  clock.set('2024-03-02T10:00:00.000Z');
  await inv.createRun({ id: 'r-test-2', profile: 'safe', targets: ['127.77.0.0/24'], options: {}, totalTargets: 256 });
  await inv.recordServices('r-test-2', [
    rec(clock, PACS, 104, 'dicom', {
      asset: pacsAsset,
      findings: [f('dicom-no-tls', 'medium')],
      checksRun: ['dicom-any-ae', 'dicom-no-tls'],
    }),
    // The check that raised the finding did not run this time: it must stay open.
    rec(clock, PACS, 8042, 'http', { asset: pacsAsset, checksRun: [] }),
    rec(clock, HL7, 2575, 'hl7', { checksRun: ['hl7-something-else'] }),
  ]);
  assert.deepEqual(await inv.knownHosts([MODALITY, CLOSED, '127.77.0.99', PACS]), [PACS, MODALITY].sort());
  clock.set('2024-03-02T10:30:00.000Z');
  await inv.finishRun('r-test-2', 'completed', { stats: {}, unreachableHosts: [MODALITY] });
  const anyAe = await state(inv, PACS, 104, 'dicom-any-ae');
  assert.equal(anyAe.state, 'resolved', 'check ran, did not fire, completed run');
  assert.equal(anyAe.resolvedAt, '2024-03-02T10:30:00.000Z');
  assert.equal((await state(inv, PACS, 104, 'dicom-no-tls')).state, 'open', 'seen again');
  assert.equal((await state(inv, PACS, 104, 'dicom-no-tls')).lastSeen, '2024-03-02T10:00:00.000Z');
  assert.equal((await state(inv, PACS, 104, 'dicom-no-tls')).firstSeen, '2024-03-01T10:00:00.000Z');
  assert.equal((await state(inv, PACS, 8042, 'http-default-credentials')).state, 'open', 'check not run');
  assert.equal((await state(inv, HL7, 2575, 'hl7-open')).state, 'open', 'check not in checks_run');
  assert.equal((await state(inv, MODALITY, 104, 'dicom-any-ae')).state, 'unverified', 'host unreachable');
  const pacs2 = await inv.getAsset(PACS);
  assert.deepEqual(pacs2?.asset.evidence, ['http.server:orthanc'], 'a new run replaces the evidence');
  assert.equal(pacs2?.services.find((s) => s.port === 104)?.product, 'DCMTK', 'unidentified record keeps identity');

  // ---- run 3: interrupted; resolves nothing, even when a check ran and did not fire
  clock.set('2024-03-03T10:00:00.000Z');
  await inv.createRun({ id: 'r-test-3', profile: 'intrusive', targets: [PACS], options: {}, totalTargets: 1 });
  await inv.recordService(
    'r-test-3',
    rec(clock, PACS, 104, 'dicom', { checksRun: ['dicom-any-ae', 'dicom-no-tls'], asset: pacsAsset }),
  );
  await inv.finishRun('r-test-3', 'interrupted', { stats: { reason: 'SIGINT' } });
  assert.equal((await state(inv, PACS, 104, 'dicom-no-tls')).state, 'open', 'interrupted run resolves nothing');
  assert.equal((await inv.getRun('r-test-3'))?.state, 'interrupted');

  // ---- user triage
  clock.set('2024-03-03T12:00:00.000Z');
  const noTls = await state(inv, PACS, 104, 'dicom-no-tls');
  await inv.setUserState(noTls.id, 'fixed', 'moved DICOM behind TLS');
  const hl7 = await state(inv, HL7, 2575, 'hl7-open');
  await inv.setUserState(hl7.id, 'accepted-risk');
  assert.equal((await state(inv, PACS, 104, 'dicom-no-tls')).userState, 'fixed');
  await assert.rejects(inv.setUserState(999_999, 'fixed'), /no finding/);
  await assert.rejects(inv.setUserState(hl7.id, 'bogus' as 'fixed'), /user state/);
  assert.equal((await inv.getAsset(HL7))?.asset.openFindings, 0, 'triaged findings are not counted as open');

  // ---- run 4: fires again after resolved and after "fixed"; unverified seen again; resolutions
  clock.set('2024-03-04T10:00:00.000Z');
  await inv.createRun({ id: 'r-test-4', profile: 'safe', targets: ['127.77.0.0/24'], options: {}, totalTargets: 256 });
  await inv.recordServices('r-test-4', [
    rec(clock, PACS, 104, 'dicom', {
      asset: pacsAsset,
      findings: [f('dicom-any-ae', 'high'), f('dicom-no-tls', 'medium')],
      checksRun: ['dicom-any-ae', 'dicom-no-tls'],
    }),
    rec(clock, PACS, 8042, 'http', { asset: pacsAsset, checksRun: ['http-default-credentials'] }),
    rec(clock, MODALITY, 104, 'dicom', { findings: [f('dicom-any-ae', 'high')], checksRun: ['dicom-any-ae'] }),
    rec(clock, HL7, 2575, 'hl7', { checksRun: ['hl7-open'] }),
  ]);
  clock.set('2024-03-04T10:30:00.000Z');
  await inv.finishRun('r-test-4', 'completed', { stats: {} });
  const reopened = await state(inv, PACS, 104, 'dicom-any-ae');
  assert.equal(reopened.state, 'open', 'resolved then fired again: reopened');
  assert.equal(reopened.resolvedAt, null);
  const refixed = await state(inv, PACS, 104, 'dicom-no-tls');
  assert.equal(refixed.state, 'open');
  assert.equal(refixed.userState, null, "'fixed' then fired again: reopened, the claim is cleared");
  assert.equal((await state(inv, MODALITY, 104, 'dicom-any-ae')).state, 'open', 'unverified then seen');
  assert.equal((await state(inv, PACS, 8042, 'http-default-credentials')).state, 'resolved');
  const hl7Done = await state(inv, HL7, 2575, 'hl7-open');
  assert.equal(hl7Done.state, 'resolved');
  assert.equal(hl7Done.userState, 'accepted-risk', 'user state sits beside the observed state');

  assert.deepEqual(await events(inv), [
    `r-test-1 ${PACS}:104 dicom-any-ae opened`,
    `r-test-1 ${PACS}:104 dicom-no-tls opened`,
    `r-test-1 ${PACS}:8042 http-default-credentials opened`,
    `r-test-1 ${MODALITY}:104 dicom-any-ae opened`,
    `r-test-1 ${HL7}:2575 hl7-open opened`,
    `r-test-2 ${PACS}:104 dicom-no-tls seen`,
    `r-test-2 ${PACS}:104 dicom-any-ae resolved`,
    `r-test-2 ${MODALITY}:104 dicom-any-ae unverified`,
    `- ${PACS}:104 dicom-no-tls user-state`,
    `- ${HL7}:2575 hl7-open user-state`,
    `r-test-4 ${PACS}:104 dicom-any-ae reopened`,
    `r-test-4 ${PACS}:104 dicom-no-tls reopened`,
    `r-test-4 ${MODALITY}:104 dicom-any-ae seen`,
    `r-test-4 ${PACS}:8042 http-default-credentials resolved`,
    `r-test-4 ${HL7}:2575 hl7-open resolved`,
  ]);

  // A run that does not exist cannot be finished or checkpointed.
  await assert.rejects(inv.finishRun('r-nope', 'completed', { stats: {} }), /no scan run/);
  await assert.rejects(inv.saveCheckpoint('r-nope', null, 0, {}), /no scan run/);
}

/** Reads: filters, ordering, paging and the summary, after the scenario. */
async function reads(inv: KyselyInventory): Promise<void> {
  const ips = async (filter: Parameters<KyselyInventory['listAssets']>[0]) =>
    (await inv.listAssets(filter)).map((a) => a.ip);
  assert.deepEqual(await ips({}), [PACS, MODALITY, HL7, FHIR, V6], 'IPv4 in numeric order, then IPv6');
  assert.deepEqual(await ips({ ip: '127.77.0.0/24' }), [PACS, MODALITY, HL7]);
  assert.deepEqual(await ips({ ip: '127.77.1.0/24' }), [FHIR]);
  assert.deepEqual(await ips({ ip: '127.77.0.0/16' }), [PACS, MODALITY, HL7, FHIR]);
  assert.deepEqual(await ips({ ip: MODALITY }), [MODALITY]);
  assert.deepEqual(await ips({ ip: '::/0' }), [V6]);
  assert.deepEqual(await ips({ deviceType: 'pacs' }), [PACS]);
  assert.deepEqual(await ips({ vendor: 'orthanc' }), [PACS], 'vendor is case-insensitive');
  assert.deepEqual(await ips({ product: 'ORTHANC' }), [PACS]);
  assert.deepEqual(await ips({ port: 104 }), [PACS, MODALITY]);
  assert.deepEqual(await ips({ protocol: 'hl7' }), [HL7]);
  assert.deepEqual(await ips({ protocol: 'dicom', port: 8042 }), [], 'both on the same service');
  assert.deepEqual(await ips({ minSeverity: 'high' }), [PACS, MODALITY]);
  assert.deepEqual(await ips({ minSeverity: 'critical' }), []);
  assert.deepEqual(await ips({ hasFindings: true }), [PACS, MODALITY]);
  assert.deepEqual(await ips({ hasFindings: false }), [HL7, FHIR, V6]);
  assert.deepEqual(await ips({ limit: 2, offset: 1 }), [MODALITY, HL7]);
  assert.deepEqual(await ips({ offset: 4 }), [V6]);
  await assert.rejects(inv.listAssets({ ip: 'not-an-ip' }), /not an IP/);
  await assert.rejects(inv.listAssets({ ip: '127.0.0.0/33' }), /not an IP/);

  const fhir = (await inv.listAssets({ ip: FHIR }))[0];
  assert.equal(fhir?.deviceType, 'fhir-server');
  assert.equal(fhir?.services, 1);
  assert.equal(fhir?.openFindings, 0);
  assert.equal(fhir?.maxSeverity, null);

  const svc = async (filter: Parameters<KyselyInventory['listServices']>[0]) =>
    (await inv.listServices(filter)).map((s) => `${s.ip}:${s.port}`);
  assert.deepEqual(await svc({}), [
    `${PACS}:104`,
    `${PACS}:8042`,
    `${MODALITY}:104`,
    `${HL7}:2575`,
    `${FHIR}:8080`,
    `${V6}:11112`,
  ]);
  assert.deepEqual(await svc({ port: 104 }), [`${PACS}:104`, `${MODALITY}:104`]);
  assert.deepEqual(await svc({ deviceType: 'pacs' }), [`${PACS}:104`, `${PACS}:8042`]);
  assert.deepEqual(await svc({ hasFindings: true }), [`${PACS}:104`, `${MODALITY}:104`]);
  assert.deepEqual(await svc({ minSeverity: 'medium', ip: PACS }), [`${PACS}:104`]);
  assert.deepEqual(await svc({ limit: 1, offset: 2 }), [`${MODALITY}:104`]);
  const fhirSvc = (await inv.listServices({ ip: FHIR }))[0];
  assert.equal(fhirSvc?.status, 'application-error');
  assert.equal(fhirSvc?.product, 'HAPI FHIR');

  const fnd = async (filter: Parameters<KyselyInventory['listFindings']>[0]) =>
    (await inv.listFindings(filter)).map((x) => `${x.ip}:${x.port} ${x.checkId} ${x.state}`);
  assert.deepEqual(await fnd({}), [
    `${PACS}:8042 http-default-credentials resolved`,
    `${PACS}:104 dicom-any-ae open`,
    `${MODALITY}:104 dicom-any-ae open`,
    `${PACS}:104 dicom-no-tls open`,
    `${HL7}:2575 hl7-open resolved`,
  ]);
  assert.deepEqual(await fnd({ state: 'resolved' }), [
    `${PACS}:8042 http-default-credentials resolved`,
    `${HL7}:2575 hl7-open resolved`,
  ]);
  assert.deepEqual(await fnd({ checkId: 'dicom-any-ae', ip: '127.77.0.11/32' }), [`${MODALITY}:104 dicom-any-ae open`]);
  assert.deepEqual(await fnd({ minSeverity: 'high', state: 'open' }), [
    `${PACS}:104 dicom-any-ae open`,
    `${MODALITY}:104 dicom-any-ae open`,
  ]);
  assert.deepEqual(await fnd({ deviceType: 'modality' }), [`${MODALITY}:104 dicom-any-ae open`]);
  assert.deepEqual(await fnd({ limit: 2, offset: 1 }), [
    `${PACS}:104 dicom-any-ae open`,
    `${MODALITY}:104 dicom-any-ae open`,
  ]);

  assert.equal(await inv.getAsset('127.77.0.200'), null);
  assert.deepEqual(await inv.summary(), {
    assets: 5,
    services: 6,
    openFindings: 3,
    bySeverity: { info: 0, low: 0, medium: 1, high: 2, critical: 0 },
    byDeviceType: { pacs: 1, modality: 1, 'fhir-server': 1, unknown: 2 },
    runs: 4,
    honeypots: 0,
    honeypotsIncluded: false,
  });
  const runs = await inv.listRuns();
  assert.deepEqual(
    runs.map((r) => `${r.id} ${r.state} ${r.profile}`),
    ['r-test-4 completed safe', 'r-test-3 interrupted intrusive', 'r-test-2 completed safe', 'r-test-1 completed safe'],
  );
  assert.deepEqual(
    (await inv.listRuns(1)).map((r) => r.id),
    ['r-test-4'],
  );
}

/** Two runs overlap on one service: the older run must not resolve what the newer one saw fire. */
async function overlap(inv: KyselyInventory, clock: Clock): Promise<void> {
  const ip = '127.77.0.20';
  clock.set('2024-03-05T10:00:00.000Z');
  await inv.createRun({ id: 'r-test-5', profile: 'safe', targets: [ip], options: {}, totalTargets: 1 });
  await inv.recordService(
    'r-test-5',
    rec(clock, ip, 104, 'dicom', { findings: [f('dicom-any-ae', 'high')], checksRun: ['dicom-any-ae'] }),
  );
  await inv.finishRun('r-test-5', 'completed', { stats: {} });
  clock.set('2024-03-05T11:00:00.000Z');
  await inv.createRun({ id: 'r-test-6', profile: 'safe', targets: [ip], options: {}, totalTargets: 1 });
  await inv.recordService('r-test-6', rec(clock, ip, 104, 'dicom', { checksRun: ['dicom-any-ae'] }));
  clock.set('2024-03-05T11:02:00.000Z');
  await inv.createRun({ id: 'r-test-7', profile: 'safe', targets: [ip], options: {}, totalTargets: 1 });
  await inv.recordService(
    'r-test-7',
    rec(clock, ip, 104, 'dicom', { findings: [f('dicom-any-ae', 'high')], checksRun: ['dicom-any-ae'] }),
  );
  clock.set('2024-03-05T11:10:00.000Z');
  await inv.finishRun('r-test-6', 'completed', { stats: {} });
  assert.equal((await state(inv, ip, 104, 'dicom-any-ae')).state, 'open', 'a newer run saw it fire');
  await inv.finishRun('r-test-7', 'completed', { stats: {} });
  assert.equal((await state(inv, ip, 104, 'dicom-any-ae')).state, 'open');
  // A finished run finished again changes nothing.
  const before = (await events(inv)).length;
  await inv.finishRun('r-test-7', 'completed', { stats: {}, unreachableHosts: [MODALITY] });
  await inv.finishRun('r-test-7', 'completed', { stats: {}, unreachableHosts: [MODALITY] });
  assert.equal((await events(inv)).length, before + 1, 'only the first marks the host unverified');
}

/**
 * Every table, with surrogate integer ids replaced by natural keys (ip, ip:port, check id),
 * as sorted JSON lines: what the equality test compares.
 */
async function dump(inv: KyselyInventory): Promise<string[]> {
  const db = inv.db;
  const lines: string[] = [];
  for (const r of await db.selectFrom('scan_runs').selectAll().execute()) lines.push(`run ${JSON.stringify(r)}`);
  for (const r of await db.selectFrom('assets').selectAll().execute()) {
    const { id: _id, ...rest } = r;
    lines.push(`asset ${JSON.stringify(rest)}`);
  }
  for (const r of await db
    .selectFrom('services')
    .innerJoin('assets', 'assets.id', 'services.asset_id')
    .selectAll('services')
    .select('assets.ip as asset_ip')
    .execute()) {
    const { id: _id, asset_id: _a, ...rest } = r;
    lines.push(`service ${JSON.stringify({ ...rest, port: Number(rest.port) })}`);
  }
  for (const r of await db
    .selectFrom('observations')
    .innerJoin('services', 'services.id', 'observations.service_id')
    .selectAll('observations')
    .select(['services.ip', 'services.port'])
    .execute()) {
    const { id: _id, service_id: _s, ...rest } = r;
    lines.push(`observation ${JSON.stringify({ ...rest, port: Number(rest.port) })}`);
  }
  for (const r of await db
    .selectFrom('findings')
    .innerJoin('services', 'services.id', 'findings.service_id')
    .selectAll('findings')
    .select(['services.ip', 'services.port'])
    .execute()) {
    const { id: _id, service_id: _s, ...rest } = r;
    lines.push(`finding ${JSON.stringify({ ...rest, port: Number(rest.port) })}`);
  }
  for (const r of await db
    .selectFrom('finding_events')
    .innerJoin('findings', 'findings.id', 'finding_events.finding_id')
    .innerJoin('services', 'services.id', 'findings.service_id')
    .selectAll('finding_events')
    .select(['services.ip', 'services.port', 'findings.check_id'])
    .orderBy('finding_events.id')
    .execute()) {
    const { id: _id, finding_id: _f, ...rest } = r;
    lines.push(`event ${JSON.stringify({ ...rest, port: Number(rest.port) })}`);
  }
  return lines.sort();
}

const dumps: { sqlite?: string[]; postgres?: string[] } = {};

describe('inventory on SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'medsurface-inv-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('finding resolution scenario, reads and summary', async () => {
    const clock = new Clock();
    const inv = await openKyselyInventory(join(dir, 'inv.sqlite'), { now: clock.now });
    try {
      assert.equal(inv.kind, 'sqlite');
      await scenario(inv, clock);
      await reads(inv);
      await overlap(inv, clock);
      dumps.sqlite = await dump(inv);
    } finally {
      await inv.close();
    }
  });
});

describe('inventory on PostgreSQL', () => {
  const name = `medsurface_test_${randomBytes(6).toString('hex')}`;
  let created = false;
  const admin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5000 });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  after(async () => {
    if (created) await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  });

  test('finding resolution scenario, reads and summary (the server must be up)', async () => {
    await admin((c) => c.query(`CREATE DATABASE ${name}`));
    created = true;
    const url = new URL(ADMIN_URL);
    url.pathname = `/${name}`;
    const clock = new Clock();
    const inv = await openKyselyInventory(url.toString(), { now: clock.now });
    try {
      assert.equal(inv.kind, 'postgres');
      await scenario(inv, clock);
      await reads(inv);
      await overlap(inv, clock);
      dumps.postgres = await dump(inv);
      // Migrating again is a no-op.
      await inv.migrate();
    } finally {
      await inv.close();
    }
  });

  test('a URL with a password is masked in `location`', async () => {
    const url = new URL(ADMIN_URL);
    url.pathname = `/${name}`;
    url.username = 'postgres';
    url.password = 'sekret';
    const inv = await openKyselyInventory(url.toString().replace(/^postgres:/, 'postgresql:'));
    try {
      assert.equal(inv.kind, 'postgres');
      assert.ok(!inv.location.includes('sekret'), inv.location);
      assert.ok(inv.location.includes('***'));
      assert.equal((await inv.summary()).runs, 7, 'reopens the same database');
    } finally {
      await inv.close();
    }
  });
});

test('SQLite and PostgreSQL hold the same records after the same scenario', () => {
  assert.ok(dumps.sqlite, 'the SQLite scenario produced a dump');
  assert.ok(dumps.postgres, 'the PostgreSQL scenario produced a dump');
  const a = new Set(dumps.sqlite);
  const b = new Set(dumps.postgres);
  const onlySqlite = dumps.sqlite.filter((l) => !b.has(l));
  const onlyPg = dumps.postgres.filter((l) => !a.has(l));
  assert.ok(
    onlySqlite.length === 0 && onlyPg.length === 0,
    `contents differ:\n--- only in SQLite\n${onlySqlite.join('\n')}\n+++ only in PostgreSQL\n${onlyPg.join('\n')}`,
  );
  assert.deepEqual(dumps.sqlite, dumps.postgres);
  assert.ok(dumps.sqlite.length > 30, `a meaningful comparison (${dumps.sqlite.length} rows)`);
});
