/**
 * User-owned asset metadata (tags, owner, criticality, notes, known-asset import), prune and
 * forget, against real databases: the same scenario runs on SQLite and on the local PostgreSQL
 * server, each step's result and the full database contents are recorded, and the two engines
 * must give identical records. PostgreSQL must be up (these tests never skip).
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { UsageError } from '../core/errors.js';
import type { Finding, ServiceRecord } from '../core/types.js';
import { AssetListError, AssetRowError, importAssets, parseAssetList, readAssetListFile } from './asset-import.js';
import { CsvError, parseCsv } from './csv.js';
import { openKyselyInventory } from './db.js';
import type { KyselyInventory } from './kysely-store.js';
import {
  assetHistory,
  assetMetadata,
  listedAssetCount,
  MetadataError,
  NoMatchingAssetError,
  normalizeTag,
  tagAssets,
  unlistedExposedAssets,
} from './metadata.js';
import { forgetAssets, parseKeepDuration, pruneInventory, rewriteSendLog, SendLogLineError, sendLogFiles } from './retention.js';
import { createTestDatabase } from './test-pg.js';
import { dumpInventory, INVENTORY_TABLES, tableCounts } from './testing.js';

const PACS = '127.77.0.10';
const MODALITY = '127.77.0.11';
const HL7 = '127.78.0.5';
const V6 = '::ffff:127.77.0.20';
const STALE = '127.78.0.9';
const NOW = '2026-06-01T00:00:00.000Z';

class Clock {
  t = '2026-01-10T10:00:00.000Z';
  readonly now = (): string => this.t;
}

const f = (id: string, severity: Finding['severity']): Finding => ({ id, severity, title: `title of ${id}`, confidence: 'confirmed' });

function rec(ts: string, ip: string, port: number, protocol: ServiceRecord['protocol'], more: Partial<ServiceRecord> = {}): ServiceRecord {
  return { ip, port, protocol, status: 'success', timestamp: ts, findings: [], data: {}, ...more };
}

const hospital = { country: 'NL', asn: 64500, asOrg: 'Example AS', org: 'St Example Hospital', orgSource: 'orgs' as const };

/**
 * Four scans: an empty old run (nothing refers to it), r-1 (first sight), r-2 (a version
 * upgrade, a finding resolved), a run left running with an old observation, r-3 (the PACS only).
 */
async function seed(inv: KyselyInventory, clock: Clock, customSendLog: string): Promise<void> {
  clock.t = '2025-12-01T10:00:00.000Z';
  await inv.createRun({ id: 'r-0', profile: 'safe', targets: ['127.78.9.0/24'], options: {}, totalTargets: 256 });
  await inv.finishRun('r-0', 'completed', { stats: {} });

  const t1 = '2026-01-10T10:00:00.000Z';
  clock.t = t1;
  await inv.createRun({ id: 'r-1', profile: 'safe', targets: ['127.77.0.0/16', '127.78.0.0/16'], options: {}, totalTargets: 2 });
  await inv.recordServices('r-1', [
    rec(t1, PACS, 104, 'dicom', {
      product: 'DCMTK',
      vendor: 'OFFIS',
      version: '3.6.6',
      findings: [f('dicom-any-ae', 'high')],
      checksRun: ['dicom-any-ae'],
      attribution: hospital,
    }),
    rec(t1, PACS, 8042, 'http', { product: 'Orthanc', findings: [f('http-default-credentials', 'critical')], checksRun: ['http-default-credentials'], attribution: hospital }),
    rec(t1, MODALITY, 104, 'dicom', { findings: [f('dicom-no-tls', 'medium')], checksRun: ['dicom-no-tls'] }),
    rec(t1, HL7, 2575, 'hl7', { findings: [f('hl7-open', 'medium')], checksRun: ['hl7-open'], attribution: { ...hospital, org: 'Other Clinic' } }),
    rec(t1, V6, 11112, 'dicom', { checksRun: [], attribution: { ...hospital, org: 'ST EXAMPLE HOSPITAL' } }),
  ]);
  clock.t = '2026-01-10T10:30:00.000Z';
  await inv.finishRun('r-1', 'completed', { stats: { sendLog: customSendLog } });
  await inv.finishRun('r-0', 'completed', { stats: { sendLog: '/nonexistent/medsurface-test.sendlog.jsonl' } });

  const t2 = '2026-03-01T10:00:00.000Z';
  clock.t = t2;
  await inv.createRun({ id: 'r-2', profile: 'safe', targets: ['127.77.0.0/16', '127.78.0.0/16'], options: {}, totalTargets: 2 });
  await inv.recordServices('r-2', [
    rec(t2, PACS, 104, 'dicom', { product: 'DCMTK', vendor: 'OFFIS', version: '3.6.7', findings: [f('dicom-any-ae', 'high')], checksRun: ['dicom-any-ae'] }),
    rec(t2, PACS, 8042, 'http', { product: 'Orthanc', findings: [f('http-default-credentials', 'critical')], checksRun: ['http-default-credentials'] }),
    rec(t2, MODALITY, 104, 'dicom', { checksRun: ['dicom-no-tls'] }),
    rec(t2, HL7, 2575, 'hl7', { findings: [f('hl7-open', 'medium')], checksRun: ['hl7-open'] }),
    rec(t2, V6, 11112, 'dicom', { checksRun: [] }),
  ]);
  clock.t = '2026-03-01T10:30:00.000Z';
  await inv.finishRun('r-2', 'completed', { stats: {} });

  // A run still running since April: its old observation of STALE is not the latest, yet kept.
  clock.t = '2026-04-01T10:00:00.000Z';
  await inv.createRun({ id: 'r-running', profile: 'safe', targets: [STALE], options: {}, totalTargets: 1 });
  await inv.recordServices('r-running', [rec('2026-04-01T10:00:00.000Z', STALE, 104, 'dicom', { checksRun: [] })]);

  const t3 = '2026-05-25T10:00:00.000Z';
  clock.t = t3;
  await inv.createRun({ id: 'r-3', profile: 'safe', targets: [PACS, STALE], options: {}, totalTargets: 2 });
  await inv.recordServices('r-3', [
    rec(t3, PACS, 104, 'dicom', { product: 'DCMTK', vendor: 'OFFIS', version: '3.6.7', findings: [f('dicom-any-ae', 'high')], checksRun: ['dicom-any-ae'] }),
    rec(t3, PACS, 8042, 'http', { product: 'Orthanc', findings: [f('http-default-credentials', 'critical')], checksRun: ['http-default-credentials'] }),
    rec(t3, STALE, 104, 'dicom', { checksRun: [] }),
  ]);
  clock.t = '2026-05-25T10:30:00.000Z';
  await inv.finishRun('r-3', 'completed', { stats: {} });
}

/** Rows of child tables whose parent row is gone: must always be zero. */
async function orphans(inv: KyselyInventory): Promise<number> {
  const db = inv.db;
  const n = async (q: Promise<{ n: number | string } | undefined>): Promise<number> => Number((await q)?.n ?? 0);
  let total = 0;
  total += await n(
    db.selectFrom('services').select((eb) => eb.fn.countAll<number | string>().as('n')).where((eb) => eb.not(eb.exists(eb.selectFrom('assets').select('assets.id').whereRef('assets.id', '=', 'services.asset_id')))).executeTakeFirst(),
  );
  total += await n(
    db.selectFrom('asset_tags').select((eb) => eb.fn.countAll<number | string>().as('n')).where((eb) => eb.not(eb.exists(eb.selectFrom('assets').select('assets.id').whereRef('assets.id', '=', 'asset_tags.asset_id')))).executeTakeFirst(),
  );
  for (const t of ['observations', 'findings', 'service_events'] as const) {
    total += await n(
      db.selectFrom(t).select((eb) => eb.fn.countAll<number | string>().as('n')).where((eb) => eb.not(eb.exists(eb.selectFrom('services').select('services.id').whereRef('services.id', '=', `${t}.service_id`)))).executeTakeFirst(),
    );
  }
  total += await n(
    db
      .selectFrom('finding_events')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where((eb) => eb.not(eb.exists(eb.selectFrom('findings').select('findings.id').whereRef('findings.id', '=', 'finding_events.finding_id'))))
      .executeTakeFirst(),
  );
  return total;
}

const stripIds = <T extends { id: number }>(rows: T[]): Omit<T, 'id'>[] => rows.map(({ id: _id, ...r }) => r);

const LIST = [
  'ip,hostname,owner,criticality,tags,notes',
  `${PACS},pacs-1.example.test,Radiology IT,HIGH,PACS;radiology,"Main PACS, ""do not reboot"""`,
  '127.78.0.99,lab-analyser,Laboratory,medium,lab|lis,"two',
  'lines"',
  '::FFFF:127.77.0.20,,,,,',
].join('\r\n');

/**
 * The whole scenario on one engine; returns a log of every result and dump, which the
 * cross-engine test compares line by line.
 */
async function scenario(inv: KyselyInventory, clock: Clock, workDir: string): Promise<string[]> {
  const log: string[] = [];
  const db = inv.db;
  const note = (label: string, v: unknown): void => {
    log.push(`${label} ${JSON.stringify(v).split(workDir).join('<work>')}`);
  };
  await seed(inv, clock, path.join(workDir, 'elsewhere', 'custom.sendlog.jsonl'));
  const seeded = await tableCounts(db);
  note('seeded', seeded);

  // ---- tag
  const pacsId = (await inv.getAsset(PACS))!.asset.id;
  assert.deepEqual(await tagAssets(db, '127.77.0.0/24', { add: ['Radiology', 'pacs', 'pacs'] }), { matched: 2, changed: 2 });
  assert.deepEqual(await tagAssets(db, '127.77.0.0/24', { add: ['radiology'] }), { matched: 2, changed: 0 }, 'tags already there');
  assert.deepEqual(await tagAssets(db, PACS, { remove: ['pacs', 'absent'] }), { matched: 1, changed: 1 });
  assert.deepEqual(await tagAssets(db, '::ffff:127.77.0.0/120', { owner: ' Imaging ', criticality: 'critical', notes: 'Line 1\r\nline 2' }), {
    matched: 1,
    changed: 1,
  });
  assert.deepEqual(await tagAssets(db, V6, { owner: 'Imaging' }), { matched: 1, changed: 0 }, 'same owner: no change');
  assert.deepEqual(await tagAssets(db, '127.78.0.0/16', { owner: 'Lab' }), { matched: 2, changed: 2 }, 'HL7 and STALE');
  assert.deepEqual(await tagAssets(db, '127.78.0.0/16', { owner: null }), { matched: 2, changed: 2 }, 'owner cleared');
  const v6 = await inv.getAsset(V6);
  assert.deepEqual(await assetMetadata(db, v6!.asset.id), { tags: [], owner: 'Imaging', criticality: 'critical', notes: 'Line 1\nline 2', listed: false });
  assert.deepEqual((await assetMetadata(db, pacsId))?.tags, ['radiology']);
  await assert.rejects(tagAssets(db, '127.77.9.0/24', { add: ['x'] }), NoMatchingAssetError);
  await assert.rejects(tagAssets(db, 'not-an-address', { add: ['x'] }), UsageError);
  await assert.rejects(tagAssets(db, PACS, { add: ['-bad'] }), MetadataError);
  await assert.rejects(tagAssets(db, PACS, { add: ['has space'] }), MetadataError);
  await assert.rejects(tagAssets(db, PACS, {}), /nothing to change/);
  await assert.rejects(tagAssets(db, PACS, { notes: 'bell\u0007' }), /control characters/);
  await assert.rejects(tagAssets(db, PACS, { owner: 'x'.repeat(201) }), /longer than 200/);
  const afterTags = await dumpInventory(db);
  note('after tags', afterTags.filter((l) => l.startsWith('tag ') || l.startsWith('asset ')));

  // ---- unlisted before any import: every asset with a service
  assert.equal(await listedAssetCount(db), 0);
  assert.deepEqual(
    (await unlistedExposedAssets(db)).map((a) => a.ip),
    [PACS, MODALITY, HL7, STALE, V6],
  );

  // ---- import: a bad row aborts everything
  const bad = parseAssetList(`ip,owner\n${PACS},A\n127.77.0.300,B\n`, { skipBadRows: true });
  assert.equal(bad.rows.length, 1);
  assert.equal(bad.rejected[0]?.line, 3);
  assert.throws(() => parseAssetList(`ip,owner\n${PACS},A\n127.77.0.300,B\n`), (e: unknown) => e instanceof AssetRowError && e.line === 3 && /not an IP address/.test(e.message));
  const before = await dumpInventory(db);
  const list = parseAssetList(LIST);
  assert.equal(list.rows.length, 3);
  const dry = await importAssets(db, list.rows, { now: NOW, dryRun: true });
  assert.deepEqual(dry, { updated: 2, added: 1, unchanged: 0 });
  assert.deepEqual(await dumpInventory(db), before, 'a dry run changes nothing');
  // A failure inside the transaction (a second asset with the same unique ip) rolls everything back.
  const dup = parseAssetList('ip,owner\n127.78.0.98,X\n').rows[0]!;
  await assert.rejects(importAssets(db, [...list.rows, dup, { ...dup, line: 9, ipKey: `${dup.ipKey}-other` }], { now: NOW }));
  assert.deepEqual(await dumpInventory(db), before, 'a failed import changes nothing');
  const real = await importAssets(db, list.rows, { now: NOW });
  assert.deepEqual(real, dry, 'the dry run predicted the import');
  assert.deepEqual(await importAssets(db, list.rows, { now: NOW }), { updated: 0, added: 0, unchanged: 3 }, 'idempotent');
  const pacs = await assetMetadata(db, pacsId);
  assert.deepEqual(pacs, { tags: ['pacs', 'radiology'], owner: 'Radiology IT', criticality: 'high', notes: 'Main PACS, "do not reboot"', listed: true });
  assert.equal((await inv.getAsset(PACS))?.asset.hostname, 'pacs-1.example.test');
  const added = await inv.getAsset('127.78.0.99');
  assert.ok(added);
  assert.equal(added.asset.firstSeen, NOW);
  assert.equal(added.asset.lastSeen, NOW);
  assert.equal(added.asset.services, 0);
  assert.deepEqual(await assetMetadata(db, added.asset.id), { tags: ['lab', 'lis'], owner: 'Laboratory', criticality: 'medium', notes: 'two\nlines', listed: true });
  const v6Meta = await assetMetadata(db, v6!.asset.id);
  assert.deepEqual(v6Meta, { tags: [], owner: 'Imaging', criticality: 'critical', notes: 'Line 1\nline 2', listed: true }, 'blank cells keep the stored values');
  assert.equal(await listedAssetCount(db), 3);
  const unlisted = await unlistedExposedAssets(db);
  assert.deepEqual(
    unlisted.map((a) => [a.ip, a.services]),
    [
      [MODALITY, 1],
      [HL7, 1],
      [STALE, 1],
    ],
    'listed assets and the listed address without services are not exposed-and-unlisted',
  );
  assert.deepEqual(
    (await unlistedExposedAssets(db, { ip: '127.78.0.0/16', limit: 1, offset: 1 })).map((a) => a.ip),
    [STALE],
  );
  note('unlisted', stripIds(unlisted));

  // A later scan of an imported address keeps its metadata and listed flag.
  clock.t = '2026-05-30T10:00:00.000Z';
  await inv.createRun({ id: 'r-4', profile: 'safe', targets: ['127.78.0.99'], options: {}, totalTargets: 1 });
  await inv.recordServices('r-4', [rec('2026-05-30T10:00:00.000Z', '127.78.0.99', 80, 'http', { checksRun: [] })]);
  await inv.finishRun('r-4', 'completed', { stats: {} });
  const rescanned = await inv.getAsset('127.78.0.99');
  assert.equal(rescanned?.asset.services, 1);
  assert.equal(rescanned?.asset.firstSeen, '2026-05-30T10:00:00.000Z', 'the scan is earlier than the import time the list gave');
  assert.deepEqual((await assetMetadata(db, rescanned!.asset.id))?.owner, 'Laboratory');
  assert.equal((await assetMetadata(db, rescanned!.asset.id))?.listed, true);

  // ---- history of the PACS: the version upgrade and the finding events, newest first
  const hist = await assetHistory(db, pacsId);
  note('history', hist);
  assert.ok(hist.length >= 4);
  for (let i = 1; i < hist.length; i++) assert.ok(hist[i - 1]!.at >= hist[i]!.at, 'newest first');
  const upgrade = hist.find((h) => h.kind === 'service' && h.field === 'version');
  assert.deepEqual(upgrade && { ...upgrade }, {
    kind: 'service',
    at: '2026-03-01T10:00:00.000Z',
    port: 104,
    runId: 'r-2',
    field: 'version',
    oldValue: '3.6.6',
    newValue: '3.6.7',
  });
  assert.ok(hist.some((h) => h.kind === 'finding' && h.event === 'opened' && h.checkId === 'dicom-any-ae' && h.runId === 'r-1'));
  assert.equal((await assetHistory(db, pacsId, 2)).length, 2, 'bounded');
  const modalityHist = await assetHistory(db, (await inv.getAsset(MODALITY))!.asset.id);
  assert.deepEqual(
    modalityHist.map((h) => (h.kind === 'finding' ? `${h.event} ${h.checkId}` : h.field)),
    ['resolved dicom-no-tls', 'opened dicom-no-tls'],
  );

  // ---- prune --keep 30d at NOW: cutoff 2026-05-02
  const latestBefore = await inv.latestObservations(0, 500);
  const countsBefore = await tableCounts(db);
  const findingsBefore = (await dumpInventory(db)).filter((l) => /^(finding|finding_event|service_event) /.test(l));
  const keepMs = parseKeepDuration('30d');
  const dryPrune = await pruneInventory(db, { keepMs, now: NOW, dryRun: true });
  assert.deepEqual(await tableCounts(db), countsBefore, 'a dry prune deletes nothing');
  const pruned = await pruneInventory(db, { keepMs, now: NOW });
  assert.deepEqual(pruned, dryPrune);
  // r-1: 5 observations, all superseded; r-2: the PACS's two (superseded by r-3). Kept: the
  // latest of MODALITY, HL7 and V6 (r-2, older than the cutoff), the running run's STALE one.
  assert.deepEqual(pruned, { cutoff: '2026-05-02T00:00:00.000Z', observations: 7, runs: 1 });
  const countsAfter = await tableCounts(db);
  assert.equal(countsAfter.observations, countsBefore.observations - 7);
  assert.equal(countsAfter.scan_runs, countsBefore.scan_runs - 1);
  assert.deepEqual((await inv.listRuns(50)).map((r) => r.id).sort(), ['r-1', 'r-2', 'r-3', 'r-4', 'r-running'], 'only the unreferenced empty run went');
  assert.deepEqual(await inv.latestObservations(0, 500), latestBefore, 'rescore still sees every latest observation');
  assert.deepEqual(
    (await dumpInventory(db)).filter((l) => /^(finding|finding_event|service_event) /.test(l)),
    findingsBefore,
    'findings and their history untouched',
  );
  const staleObs = await db
    .selectFrom('observations')
    .innerJoin('services', 'services.id', 'observations.service_id')
    .select('observations.run_id')
    .where('services.ip', '=', STALE)
    .orderBy('observations.run_id')
    .execute();
  assert.deepEqual(staleObs.map((o) => o.run_id), ['r-3', 'r-running'], 'a running run keeps its observations');
  assert.deepEqual(await pruneInventory(db, { keepMs, now: NOW }), { cutoff: '2026-05-02T00:00:00.000Z', observations: 0, runs: 0 }, 'idempotent');
  note('after prune', await dumpInventory(db));

  // ---- forget: children first, nothing orphaned, counts exact; on SQLite even without FK enforcement
  if (inv.kind === 'sqlite') await sql`PRAGMA foreign_keys = OFF`.execute(db);
  const c0 = await tableCounts(db);
  const dryForget = await forgetAssets(db, { kind: 'range', spec: PACS }, { dryRun: true });
  assert.deepEqual(await tableCounts(db), c0, 'a dry forget deletes nothing');
  const forgot = await forgetAssets(db, { kind: 'range', spec: PACS });
  assert.deepEqual(forgot.counts, dryForget.counts);
  assert.deepEqual(forgot.sample, [PACS]);
  const c1 = await tableCounts(db);
  for (const t of INVENTORY_TABLES) {
    const expected = t in forgot.counts ? c0[t] - forgot.counts[t as keyof typeof forgot.counts] : c0[t];
    assert.equal(c1[t], expected, `${t}: ${c0[t]} before, ${c1[t]} after`);
  }
  assert.ok(forgot.counts.assets === 1 && forgot.counts.services === 2 && forgot.counts.asset_tags === 2);
  assert.ok(forgot.counts.findings === 2 && forgot.counts.finding_events > 0 && forgot.counts.service_events === 1 && forgot.counts.observations === 2);
  assert.equal(await orphans(inv), 0);
  assert.equal(await inv.getAsset(PACS), null);
  const leftovers = (await dumpInventory(db)).filter((l) => l.includes(`"${PACS}"`) && !l.startsWith('run '));
  assert.deepEqual(leftovers, [], 'no row names the address (scan runs keep their target lists)');
  assert.equal(forgot.matches(PACS), true);
  assert.equal(forgot.matches(MODALITY), false);

  // --org: exact name, any case, every spelling stored.
  const byOrg = await forgetAssets(db, { kind: 'org', name: 'st example HOSPITAL' });
  assert.deepEqual(byOrg.sample, [V6]);
  assert.equal(byOrg.counts.assets, 1);
  assert.equal(byOrg.matches(V6), true);
  assert.equal(byOrg.matches('::FFFF:127.77.0.20'), true, 'any spelling of the address');
  assert.equal(byOrg.matches(HL7), false);
  await assert.rejects(forgetAssets(db, { kind: 'org', name: 'St Example' }), NoMatchingAssetError, 'exact name only');
  await assert.rejects(forgetAssets(db, { kind: 'range', spec: PACS }), NoMatchingAssetError);
  // A CIDR takes every asset in it, services or not.
  const cidr = await forgetAssets(db, { kind: 'range', spec: '127.78.0.0/16' });
  assert.deepEqual([...cidr.sample].sort(), [HL7, '127.78.0.99', STALE].sort());
  assert.equal(cidr.matches('127.78.200.1'), true, 'the whole range, also addresses without an asset');
  assert.equal(await orphans(inv), 0);
  const final = await tableCounts(db);
  assert.equal(final.assets, 1, 'only the modality is left');
  if (inv.kind === 'sqlite') await sql`PRAGMA foreign_keys = ON`.execute(db);
  note('final', await dumpInventory(db));
  note('final counts', final);

  // ---- send logs beside the inventory
  const runsDir = path.join(workDir, 'runs');
  const logs = await sendLogFiles(db, runsDir);
  assert.deepEqual(
    logs.map((p) => path.relative(workDir, p)),
    ['elsewhere/custom.sendlog.jsonl', 'runs/r-1.sendlog.jsonl', 'runs/r-2.sendlog.jsonl'],
    'the default folder and the paths runs recorded, existing files only',
  );
  note('send logs', logs.map((p) => path.relative(workDir, p)));
  return log;
}

describe('validation helpers', () => {
  test('tags', () => {
    assert.equal(normalizeTag(' Radiology '), 'radiology');
    assert.equal(normalizeTag('ward-3.b_x'), 'ward-3.b_x');
    for (const bad of ['', '-x', '.x', 'a b', 'ä', 'x'.repeat(65), 'a/b']) assert.throws(() => normalizeTag(bad), MetadataError, bad);
    assert.equal(normalizeTag('x'.repeat(64)), 'x'.repeat(64));
  });

  test('durations: h, d, w only', () => {
    assert.equal(parseKeepDuration('90d'), 90 * 86_400_000);
    assert.equal(parseKeepDuration('12w'), 12 * 7 * 86_400_000);
    assert.equal(parseKeepDuration('36h'), 36 * 3_600_000);
    assert.throws(() => parseKeepDuration('6m'), /ambiguous/);
    assert.throws(() => parseKeepDuration('1y'), /ambiguous/);
    assert.throws(() => parseKeepDuration('90'), /unit "" unknown/);
    assert.throws(() => parseKeepDuration('90s'), /unit "s" unknown/);
    assert.throws(() => parseKeepDuration('0d'), /longer than zero/);
    assert.throws(() => parseKeepDuration('99999w'), /100 years/);
    assert.throws(() => parseKeepDuration('-5d'), UsageError);
    assert.throws(() => parseKeepDuration('ninety days'), UsageError);
  });
});

describe('CSV reader (RFC 4180)', () => {
  const rows = (text: string) => [...parseCsv(text)].map((r) => [r.line, ...r.fields]);

  test('quoting, escaped quotes, line breaks inside quotes, CRLF/LF/CR, BOM, blank lines', () => {
    assert.deepEqual(rows('\uFEFFa,b\r\n"x, y","he said ""hi"""\n\n"multi\r\nline",z\rlast,'), [
      [1, 'a', 'b'],
      [2, 'x, y', 'he said "hi"'],
      [4, 'multi\r\nline', 'z'],
      [6, 'last', ''],
    ]);
    assert.deepEqual(rows('a\n'), [[1, 'a']]);
    assert.deepEqual(rows('""\n'), [[1, '']], 'a quoted empty field is a record');
    assert.deepEqual(rows(''), []);
  });

  test('malformed quoting names the line', () => {
    assert.throws(() => rows('a,b\n"open,c\nmore\n'), (e: unknown) => e instanceof CsvError && e.line === 2 && /unterminated/.test(e.message));
    assert.throws(() => rows('a\nx"y\n'), (e: unknown) => e instanceof CsvError && e.line === 2 && /quote inside an unquoted field/.test(e.message));
    assert.throws(() => rows('a\n"x"y\n'), (e: unknown) => e instanceof CsvError && e.line === 2 && /after a closing quote/.test(e.message));
    assert.throws(() => rows(`a\n${'x'.repeat(9000)}\n`), /longer than 8192/);
    assert.throws(() => rows(`"${'x'.repeat(9000)}"`), /longer than 8192/);
    assert.throws(() => rows(`${','.repeat(70)}\n`), /more than 64 fields/);
  });
});

describe('known-asset list parsing', () => {
  test('header: unknown, duplicate and missing columns', () => {
    assert.throws(
      () => parseAssetList('ip,owner,colour\n127.77.0.1,a,b\n'),
      (e: unknown) => e instanceof AssetListError && /unknown column "colour"; valid columns: ip, hostname, owner, criticality, tags, notes/.test(e.message),
    );
    assert.throws(() => parseAssetList('ip,IP\n'), /column ip appears twice/);
    assert.throws(() => parseAssetList('owner\nx\n'), /no ip column/);
    assert.throws(() => parseAssetList(''), /empty/);
    assert.deepEqual(parseAssetList(' IP , Owner \n'), { rows: [], rejected: [] }, 'names are trimmed and case-insensitive');
  });

  test('bad rows carry their line number; --skip-bad-rows collects them', () => {
    const text = [
      'ip,hostname,criticality,tags,notes',
      '127.77.0.1,ok,low,a;b,',
      '127.77.0.300,x,low,,', // bad ip
      '127.77.0.2,x,urgent,,', // bad criticality
      '127.77.0.3,x,low,"good;bad tag",', // bad tag
      '127.77.0.4,x,low', // too few fields
      '127.77.0.01,x,low,,', // leading zero: octal elsewhere, refused
      '127.77.0.1,again,,,', // duplicate address
      '127.77.0.5,bad host!,,,', // bad host name
      '"127.77.0.6","pacs-6",,,"quoted ""notes"""',
      ',,,,', // no address
    ].join('\n');
    assert.throws(() => parseAssetList(text), (e: unknown) => e instanceof AssetRowError && e.line === 3);
    const r = parseAssetList(text, { skipBadRows: true });
    assert.deepEqual(
      r.rows.map((x) => [x.line, x.ip, x.hostname, x.tags, x.notes]),
      [
        [2, '127.77.0.1', 'ok', ['a', 'b'], undefined],
        [10, '127.77.0.6', 'pacs-6', [], 'quoted "notes"'],
      ],
    );
    assert.deepEqual(
      r.rejected.map((e) => e.line),
      [3, 4, 5, 6, 7, 8, 9, 11],
    );
    assert.match(r.rejected[1]!.message, /line 4: criticality must be one of low, medium, high, critical/);
    assert.match(r.rejected[2]!.message, /not a valid tag: "bad tag"/);
    assert.match(r.rejected[3]!.message, /3 field\(s\), the header has 5/);
    assert.match(r.rejected[5]!.message, /127\.77\.0\.1 is already listed on line 2/);
    assert.match(r.rejected[7]!.message, /no address/);
  });

  test('a quoting error is never skipped', () => {
    assert.throws(() => parseAssetList('ip,notes\n127.77.0.1,"unterminated\n127.77.0.2,x\n', { skipBadRows: true }), (e: unknown) => e instanceof CsvError && e.line === 2);
  });

  test('file limits: size, non-UTF-8, not a file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'medsurface-csv-'));
    try {
      const huge = path.join(dir, 'huge.csv');
      writeFileSync(huge, 'ip\n');
      truncateSync(huge, 40 * 1024 * 1024); // sparse: larger than the 32 MiB cap without writing it
      assert.throws(() => readAssetListFile(huge), (e: unknown) => e instanceof AssetListError && /larger than 33554432 bytes/.test(e.message));
      const small = path.join(dir, 'small.csv');
      writeFileSync(small, `ip\n${'127.77.0.1\n'.repeat(20)}`);
      assert.throws(() => readAssetListFile(small, 100), /larger than 100 bytes/);
      assert.equal(readAssetListFile(small, 1000).split('\n').length, 22);
      const latin = path.join(dir, 'latin1.csv');
      writeFileSync(latin, Buffer.from([0x69, 0x70, 0x2c, 0x6f, 0x77, 0x6e, 0x65, 0x72, 0x0a, 0x31, 0x2c, 0xe9, 0x0a]));
      assert.throws(() => readAssetListFile(latin), /not UTF-8/);
      assert.throws(() => readAssetListFile(dir), /not a regular file/);
      assert.throws(() => readAssetListFile(path.join(dir, 'missing.csv')), /cannot read/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('send logs', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'medsurface-sendlog-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const line = (ip: string, port: number) => `{"t":"2026-05-25T10:00:00.000Z","ip":"${ip}","port":${port},"sent":"A-ASSOCIATE-RQ"}`;

  test('rewrites a log without the forgotten addresses, streaming, keeping mode 0600', async () => {
    const file = path.join(dir, 'r-1.sendlog.jsonl');
    const lines: string[] = [];
    for (let i = 0; i < 5000; i++) lines.push(line(i % 3 === 0 ? PACS : `127.77.1.${i % 250}`, 104));
    lines.push('not json at all');
    lines.push(line('::FFFF:127.77.0.20', 11112));
    writeFileSync(file, `${lines.join('\n')}\n${line(PACS, 8042)}`, { mode: 0o600 });
    chmodSync(file, 0o600);
    const matches = (ip: string) => ip === PACS || ip.toLowerCase() === '::ffff:127.77.0.20';
    const r = await rewriteSendLog(file, matches);
    assert.equal(r.removed, 1667 + 1 + 1);
    assert.equal(r.kept, 5000 - 1667 + 1);
    const text = readFileSync(file, 'utf8');
    assert.ok(!text.includes(PACS));
    assert.ok(text.includes('not json at all'));
    assert.equal(text.split('\n').filter(Boolean).length, r.kept);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(await rewriteSendLog(file, matches), { kept: r.kept, removed: 0 }, 'nothing left to remove: file untouched');
  });

  test('an over-long line leaves the file as it was', async () => {
    const file = path.join(dir, 'r-2.sendlog.jsonl');
    const content = `${line(PACS, 104)}\n${'x'.repeat(70 * 1024)}\n${line(PACS, 104)}\n`;
    writeFileSync(file, content);
    await assert.rejects(rewriteSendLog(file, () => true), SendLogLineError);
    assert.equal(readFileSync(file, 'utf8'), content);
  });
});

// ---------------------------------------------------------------- both engines

const logs: { sqlite?: string[]; postgres?: string[] } = {};

/** runs/ beside the inventory with two send logs and a file that is not one. */
function withRunsDir(workDir: string): void {
  const runs = path.join(workDir, 'runs');
  mkdirSync(runs, { recursive: true });
  writeFileSync(path.join(runs, 'r-1.sendlog.jsonl'), '');
  writeFileSync(path.join(runs, 'r-2.sendlog.jsonl'), '');
  writeFileSync(path.join(runs, 'notes.txt'), '');
  mkdirSync(path.join(workDir, 'elsewhere'));
  writeFileSync(path.join(workDir, 'elsewhere', 'custom.sendlog.jsonl'), '');
}

describe('metadata, import, prune and forget on SQLite', () => {
  test('scenario', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'medsurface-meta-'));
    const clock = new Clock();
    const inv = await openKyselyInventory(path.join(dir, 'inv.sqlite'), { now: clock.now });
    try {
      withRunsDir(dir);
      logs.sqlite = await scenario(inv, clock, dir);
    } finally {
      await inv.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('metadata, import, prune and forget on PostgreSQL', () => {
  let pgdb: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
  after(async () => {
    await pgdb?.drop();
  });
  test('scenario (the server must be up)', async () => {
    pgdb = await createTestDatabase('medsurface_meta');
    const dir = mkdtempSync(path.join(tmpdir(), 'medsurface-meta-pg-'));
    const clock = new Clock();
    const inv = await openKyselyInventory(pgdb.url, { now: clock.now });
    try {
      assert.equal(inv.kind, 'postgres');
      withRunsDir(dir);
      logs.postgres = await scenario(inv, clock, dir);
    } finally {
      await inv.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('SQLite and PostgreSQL give the same results and contents at every step', () => {
  assert.ok(logs.sqlite && logs.postgres, 'both scenarios ran');
  const a = new Set(logs.sqlite);
  const b = new Set(logs.postgres);
  const onlySqlite = logs.sqlite.filter((l) => !b.has(l));
  const onlyPg = logs.postgres.filter((l) => !a.has(l));
  assert.ok(onlySqlite.length === 0 && onlyPg.length === 0, `differ:\n--- SQLite\n${onlySqlite.join('\n')}\n+++ PostgreSQL\n${onlyPg.join('\n')}`);
  assert.deepEqual(logs.sqlite, logs.postgres);
  assert.ok(logs.sqlite.length >= 8);
});
