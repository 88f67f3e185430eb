/**
 * `medsurface inventory tag|import|list --unlisted|show|prune|forget` in-process, through the
 * commander program with a capturing CommandIo: the same session runs on a SQLite file and on
 * the local PostgreSQL server (which must be up: never skipped), and the JSON answers of the
 * two must be identical. A few cases go through main() for the exit statuses a user sees.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import type { Finding, ServiceRecord } from '../../core/types.js';
import { CsvError } from '../../inventory/csv.js';
import { openKyselyInventory } from '../../inventory/db.js';
import { MetadataError, NoMatchingAssetError } from '../../inventory/metadata.js';
import { createTestDatabase } from '../../inventory/test-pg.js';
import { tableCounts } from '../../inventory/testing.js';
import { main } from '../main.js';
import { registerInventory } from './inventory.js';
import { captureOutput } from '../../core/testing.js';

const PACS = '127.77.0.10';
const MODALITY = '127.77.0.11';
const HL7 = '127.78.0.5';

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.text += chunk.toString();
    cb();
  }
}

interface CliResult {
  out: string;
  err: string;
  code: number;
}

/** Runs `medsurface inventory ARGS --db LOCATION` in-process. */
async function cli(location: string, args: string[]): Promise<CliResult> {
  const out = new Sink();
  const err = new Sink();
  let code = 0;
  const program = new Command()
    .exitOverride()
    .configureOutput({ writeOut: (s) => out.write(s), writeErr: (s) => err.write(s) });
  registerInventory(program, { out, err, setExitCode: (c) => (code = c) });
  await program.parseAsync(['node', 'medsurface', 'inventory', ...args, '--db', location]);
  return { out: out.text, err: err.text, code };
}

/** main() as the bin calls it, with stdout/stderr captured and the exit status reset after. */
async function viaMain(args: string[]): Promise<CliResult> {
  try {
    const { result: code, out, err } = await captureOutput(() => main(['node', 'medsurface', ...args]));
    return { out, err, code };
  } finally {
    process.exitCode = undefined;
  }
}

const f = (id: string, severity: Finding['severity']): Finding => ({ id, severity, title: `title of ${id}`, confidence: 'confirmed' });
const rec = (ts: string, ip: string, port: number, protocol: ServiceRecord['protocol'], more: Partial<ServiceRecord> = {}): ServiceRecord => ({
  ip,
  port,
  protocol,
  status: 'success',
  timestamp: ts,
  findings: [],
  data: {},
  ...more,
});

/** Two old scans (2020) and one last week, so prune --keep 30d has work; send logs in runs/. */
async function seed(location: string, runsDir: string): Promise<void> {
  let now = '2020-01-01T10:00:00.000Z';
  const inv = await openKyselyInventory(location, { now: () => now });
  try {
    const attribution = { country: 'NL', asn: 64500, asOrg: 'Example AS', org: 'Other Clinic', orgSource: 'orgs' as const };
    await inv.createRun({ id: 'r-1', profile: 'safe', targets: ['127.77.0.0/16'], options: {}, totalTargets: 3 });
    await inv.recordServices('r-1', [
      rec(now, PACS, 104, 'dicom', { product: 'DCMTK', vendor: 'OFFIS', version: '3.6.6', findings: [f('dicom-any-ae', 'high')], checksRun: ['dicom-any-ae'] }),
      rec(now, PACS, 8042, 'http', { product: 'Orthanc', checksRun: [] }),
      rec(now, MODALITY, 104, 'dicom', { checksRun: [] }),
      rec(now, HL7, 2575, 'hl7', { findings: [f('hl7-open', 'medium')], checksRun: ['hl7-open'], attribution }),
    ]);
    await inv.finishRun('r-1', 'completed', { stats: {} });
    now = '2020-02-01T10:00:00.000Z';
    await inv.createRun({ id: 'r-2', profile: 'safe', targets: ['127.77.0.0/16'], options: {}, totalTargets: 3 });
    await inv.recordServices('r-2', [
      rec(now, PACS, 104, 'dicom', { product: 'DCMTK', vendor: 'OFFIS', version: '3.6.7', findings: [f('dicom-any-ae', 'high')], checksRun: ['dicom-any-ae'] }),
      rec(now, MODALITY, 104, 'dicom', { checksRun: [] }),
    ]);
    await inv.finishRun('r-2', 'completed', { stats: {} });
    now = new Date(Date.now() - 7 * 86_400_000).toISOString();
    await inv.createRun({ id: 'r-3', profile: 'safe', targets: [PACS], options: {}, totalTargets: 1 });
    await inv.recordServices('r-3', [rec(now, PACS, 104, 'dicom', { product: 'DCMTK', vendor: 'OFFIS', version: '3.6.7', findings: [f('dicom-any-ae', 'high')], checksRun: ['dicom-any-ae'] })]);
    await inv.finishRun('r-3', 'completed', { stats: {} });
  } finally {
    await inv.close();
  }
  mkdirSync(runsDir, { recursive: true });
  const line = (ip: string, port: number) => `{"t":"2020-01-01T10:00:00.000Z","ip":"${ip}","port":${port},"sent":"A-ASSOCIATE-RQ"}\n`;
  writeFileSync(path.join(runsDir, 'r-1.sendlog.jsonl'), line(PACS, 104) + line(PACS, 8042) + line(MODALITY, 104) + line(HL7, 2575), { mode: 0o600 });
  writeFileSync(path.join(runsDir, 'r-2.sendlog.jsonl'), line(PACS, 104) + line(MODALITY, 104), { mode: 0o600 });
}

/**
 * A JSON answer without what legitimately differs between the two sessions: surrogate ids
 * (PostgreSQL sequences skip values on upserts), the work folder, and times taken from the
 * clock during the session (last week's scan, the import time, the prune cutoff).
 */
function normalise(json: string, work: string): unknown {
  return JSON.parse(json.split(work).join('<work>'), (k, v: unknown) => {
    if (k === 'id') return undefined;
    if (typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v) && v > '2025') return '<recent>';
    return v;
  });
}

/** The whole CLI session on one inventory; returns the normalised JSON answers in order. */
async function session(location: string, work: string): Promise<unknown[]> {
  const answers: unknown[] = [];
  const json = async (args: string[]): Promise<unknown> => {
    const r = await cli(location, [...args, '--json']);
    const v = normalise(r.out, work);
    answers.push({ args: args.map((a) => a.split(work).join('<work>')), code: r.code, v });
    return v;
  };
  const runsDir = path.join(work, 'medsurface', 'runs');
  await seed(location, runsDir);

  // ---- tag
  let r = await cli(location, ['tag', '127.77.0.0/24', 'Radiology', 'pacs', '--owner', 'Radiology IT', '--criticality', 'HIGH']);
  assert.equal(r.out, '2 asset(s) changed, 2 matched 127.77.0.0/24\n');
  assert.deepEqual(await json(['tag', PACS, 'pacs', '--remove']), { matched: 1, changed: 1 });
  assert.deepEqual(await json(['tag', PACS, '--notes', 'Main PACS\nline two']), { matched: 1, changed: 1 });
  assert.deepEqual(await json(['tag', MODALITY, '--criticality', 'none', '--owner', '']), { matched: 1, changed: 1 });
  await assert.rejects(cli(location, ['tag', '127.78.200.0/24', 'x']), NoMatchingAssetError);
  await assert.rejects(cli(location, ['tag', PACS, 'x', '--criticality', 'urgent']), /criticality must be one of low, medium, high, critical/);
  await assert.rejects(cli(location, ['tag', PACS, 'Not A Tag']), MetadataError);
  await assert.rejects(cli(location, ['tag', PACS, '--remove']), /--remove needs at least one tag/);
  await assert.rejects(cli(location, ['tag', 'pacs.example', 'x']), UsageError);

  // ---- list --unlisted before any list was imported
  r = await cli(location, ['list', '--unlisted']);
  assert.match(r.out, /3 exposed asset\(s\) shown that are not on the known-asset list \(0 listed\) \(no known-asset list imported yet/);
  await assert.rejects(cli(location, ['list', '--unlisted', '--vendor', 'x']), /--unlisted combines only with --ip, --limit and --offset/);

  // ---- import
  const csv = path.join(work, 'assets.csv');
  writeFileSync(csv, `ip,hostname,owner,criticality,tags,notes\n${PACS},pacs-1,Radiology IT,critical,pacs;radiology,\n127.78.0.99,lab-1,Laboratory,medium,lab,"analyser, ward 3"\n`);
  const before = await countsOf(location);
  assert.deepEqual(await json(['import', csv, '--dry-run']), { updated: 1, added: 1, unchanged: 0, rejected: 0, rejectedRows: [], dryRun: true });
  assert.deepEqual(await countsOf(location), before, 'dry run');
  r = await cli(location, ['import', csv]);
  assert.match(r.out, /^updated 1, added 1, unchanged 0, rejected 0 \(/);
  assert.deepEqual(await json(['import', csv]), { updated: 0, added: 0, unchanged: 2, rejected: 0, rejectedRows: [], dryRun: false });

  const bad = path.join(work, 'bad.csv');
  writeFileSync(bad, `ip,owner\n${MODALITY},Imaging\n127.77.0.256,Nobody\n`);
  const beforeBad = await countsOf(location);
  await assert.rejects(cli(location, ['import', bad]), /line 3: not an IP address: "127\.77\.0\.256"/);
  assert.deepEqual(await countsOf(location), beforeBad, 'a bad row aborts the whole import');
  r = await cli(location, ['import', bad, '--skip-bad-rows']);
  assert.match(r.out, /^updated 1, added 0, unchanged 0, rejected 1/);
  assert.equal(r.err, 'medsurface: skipped line 3: not an IP address: "127.77.0.256"\n');
  writeFileSync(bad, 'ip,colour\n127.77.0.1,red\n');
  await assert.rejects(cli(location, ['import', bad]), /unknown column "colour"; valid columns: ip, hostname, owner, criticality, tags, notes/);
  writeFileSync(bad, 'ip,notes\n127.77.0.1,"never closed\n');
  await assert.rejects(cli(location, ['import', bad]), (e: unknown) => e instanceof CsvError && e.line === 2);
  await assert.rejects(cli(location, ['import', path.join(work, 'missing.csv')]), /cannot read/);

  const unlisted = (await json(['list', '--unlisted'])) as { ip: string }[];
  assert.deepEqual(unlisted.map((a) => a.ip), [HL7], 'the only exposed device nobody listed');

  // ---- show: metadata and history, existing fields kept
  const shown = (await json(['show', PACS])) as Record<string, unknown> & { metadata: unknown; history: { kind: string }[] };
  assert.deepEqual(Object.keys(shown).sort(), ['asset', 'findings', 'history', 'metadata', 'services']);
  assert.deepEqual(shown.metadata, { tags: ['pacs', 'radiology'], owner: 'Radiology IT', criticality: 'critical', notes: 'Main PACS\nline two', listed: true });
  assert.ok(shown.history.some((h) => h.kind === 'service'));
  r = await cli(location, ['show', PACS]);
  for (const want of [
    /^127\.77\.0\.10 \(pacs-1\): /m,
    /^first seen 2020-01-01T10:00:00\.000Z, last seen /m,
    /^owner: Radiology IT, criticality: critical, listed: yes$/m,
    /^tags: pacs, radiology$/m,
    /^notes: Main PACS\n {7}line two$/m,
    /dicom-any-ae/,
    /^history, newest first \(at most 50 entries\):$/m,
    /version: 3\.6\.6 → 3\.6\.7/,
    /finding dicom-any-ae opened \(severity high\)/,
  ]) {
    assert.match(r.out, want);
  }
  r = await cli(location, ['show', PACS, '--history', '2']);
  const historyPart = r.out.slice(r.out.indexOf('history, newest first (at most 2 entries)'));
  assert.equal((historyPart.match(/finding dicom-any-ae \w+|version: /g) ?? []).length, 2, 'two of the four history entries');
  r = await cli(location, ['show', HL7]);
  assert.match(r.out, /listed: no/);
  assert.match(r.out, /^tags: -$/m);

  // ---- prune
  await assert.rejects(cli(location, ['prune', '--keep', '6m']), /ambiguous/);
  await assert.rejects(cli(location, ['prune']), /required option '--keep <duration>'/);
  const c0 = await countsOf(location);
  assert.deepEqual(await json(['prune', '--keep', '30d', '--dry-run']), { cutoff: '<recent>', observations: 3, runs: 0, dryRun: true });
  assert.deepEqual(await countsOf(location), c0);
  r = await cli(location, ['prune', '--keep', '30d']);
  assert.match(r.out, /^deleted 3 observation\(s\) older than \S+ \(the latest observation of every service is kept\)$/m);
  assert.match(r.out, /^deleted 0 scan run\(s\)/m);
  const c1 = await countsOf(location);
  assert.equal(c1.observations, c0.observations - 3);
  assert.equal(c1.finding_events, c0.finding_events);

  // ---- forget
  r = await cli(location, ['forget', PACS]);
  assert.equal(r.code, 1, 'without --yes: exit 1');
  assert.match(r.out, /^would delete everything the inventory holds about 127\.77\.0\.10: 127\.77\.0\.10$/m);
  assert.match(r.out, /^ {2}services {8}2$/m);
  assert.match(r.out, /send logs still name these addresses/);
  assert.ok(r.out.includes(path.join(runsDir, 'r-1.sendlog.jsonl')), r.out);
  assert.match(r.out, /nothing was deleted: run again with --yes to delete/);
  assert.deepEqual(await countsOf(location), c1, 'nothing deleted');

  const forgot = (await json(['forget', PACS, '--yes', '--send-logs'])) as { deleted: boolean; counts: Record<string, number>; sendLogs: { rewritten: { removed: number }[] } };
  assert.equal(forgot.deleted, true);
  assert.deepEqual(forgot.counts, { finding_events: 3, findings: 1, service_events: 1, observations: 2, services: 2, asset_tags: 2, assets: 1 });
  assert.deepEqual(forgot.sendLogs.rewritten.map((x) => x.removed), [2, 1]);
  const c2 = await countsOf(location);
  for (const [t, n] of Object.entries(forgot.counts)) assert.equal(c2[t as keyof typeof c2], c1[t as keyof typeof c1] - n, t);
  assert.ok(!readFileSync(path.join(runsDir, 'r-1.sendlog.jsonl'), 'utf8').includes(PACS));
  assert.ok(readFileSync(path.join(runsDir, 'r-1.sendlog.jsonl'), 'utf8').includes(MODALITY));
  await assert.rejects(cli(location, ['show', PACS]), /no asset 127\.77\.0\.10/);
  r = await cli(location, ['forget', PACS, '--yes', '--send-logs']);
  assert.match(r.out, /no asset matches 127\.77\.0\.10 any more/);
  assert.match(r.out, /send logs: removed 0 line\(s\) from 0 of 2 file\(s\)/);
  await assert.rejects(cli(location, ['forget', PACS, '--yes']), NoMatchingAssetError);

  r = await cli(location, ['forget', '--org', 'other CLINIC', '--yes']);
  assert.equal(r.code, 0);
  assert.match(r.out, /^deleted everything the inventory holds about --org "other CLINIC": 127\.78\.0\.5$/m);
  assert.match(r.out, /add --send-logs \(with --yes\)/);
  await assert.rejects(cli(location, ['forget']), /forget needs an address or CIDR, or --org NAME/);
  await assert.rejects(cli(location, ['forget', MODALITY, '--org', 'x']), /one of them/);
  answers.push({ final: await countsOf(location) });
  return answers;
}

async function countsOf(location: string) {
  const inv = await openKyselyInventory(location);
  try {
    return await tableCounts(inv.db);
  } finally {
    await inv.close();
  }
}

const answers: { sqlite?: unknown[]; postgres?: unknown[] } = {};
const savedXdg = process.env.XDG_DATA_HOME;

describe('inventory commands on SQLite', () => {
  test('tag, import, list --unlisted, show, prune, forget', async () => {
    const work = mkdtempSync(path.join(tmpdir(), 'medsurface-invcli-'));
    try {
      // The send logs of a SQLite inventory are beside it: <work>/medsurface/runs.
      answers.sqlite = await session(path.join(work, 'medsurface', 'inventory.sqlite'), work);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

describe('inventory commands on PostgreSQL', () => {
  let pgdb: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
  after(async () => {
    await pgdb?.drop();
    if (savedXdg === undefined) delete process.env.XDG_DATA_HOME;
    else process.env.XDG_DATA_HOME = savedXdg;
  });
  test('the same session (the server must be up)', async () => {
    pgdb = await createTestDatabase('medsurface_invcli');
    const work = mkdtempSync(path.join(tmpdir(), 'medsurface-invcli-pg-'));
    // For PostgreSQL the send logs live in the default data directory: $XDG_DATA_HOME/medsurface/runs.
    process.env.XDG_DATA_HOME = work;
    try {
      answers.postgres = await session(pgdb.url, work);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

test('SQLite and PostgreSQL answer the same', () => {
  assert.ok(answers.sqlite && answers.postgres, 'both sessions ran');
  assert.deepEqual(answers.postgres, answers.sqlite);
  assert.equal(answers.sqlite.length, 10, 'every JSON answer compared');
});

describe('exit statuses through main()', () => {
  test('bad input exits 2 with one line; forget without --yes exits 1', async () => {
    const work = mkdtempSync(path.join(tmpdir(), 'medsurface-invcli-main-'));
    try {
      const db = path.join(work, 'inv.sqlite');
      await seed(db, path.join(work, 'runs'));
      let r = await viaMain(['inventory', 'prune', '--keep', '6m', '--db', db]);
      assert.equal(r.code, 2);
      assert.match(r.err, /^medsurface: --keep: "6m" is ambiguous/);
      assert.equal(r.out, '');
      r = await viaMain(['inventory', 'forget', MODALITY, '--db', db]);
      assert.equal(r.code, 1);
      assert.match(r.out, /would delete/);
      r = await viaMain(['inventory', 'tag', MODALITY, 'ct', '--db', db]);
      assert.equal(r.code, 0);
      assert.equal(r.out, '1 asset(s) changed, 1 matched 127.77.0.11\n');
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
