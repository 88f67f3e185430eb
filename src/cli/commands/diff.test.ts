/**
 * `medsurface diff` as a command, over the lab scenario of src/inventory/diff-fixture.ts in a
 * SQLite file: the three formats, --last and --since, hostile strings from the network, no
 * evidence in any output, and the errors a user sees.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import type { ServiceRecord } from '../../core/types.js';
import { openKyselyInventory } from '../../inventory/db.js';
import { DiffError, diffRuns } from '../../inventory/diff.js';
import { buildScenario, Clock, HONEYPOT } from '../../inventory/diff-fixture.js';
import { registerDiff, sinceInstant } from './diff.js';
import { captureOutput } from '../../core/testing.js';

let dir: string;
let db: string;
const HOSTILE = '127.77.1.50';
/** A value standing for an observed patient identifier in a finding's evidence: it must never be printed. */
const CANARY = 'TEST^CANARY-PATIENT';

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'medsurface-diff-cli-'));
  db = path.join(dir, 'inv.sqlite');
  const clock = new Clock();
  const inv = await openKyselyInventory(db, { now: clock.now });
  try {
    await buildScenario(inv, clock);
    // r6: one host whose banner and finding title carry terminal escapes and Markdown, and evidence with a canary.
    clock.set('2026-01-06T10:00:00.000Z');
    await inv.createRun({ id: 'r6', profile: 'safe', targets: [HOSTILE], options: {}, totalTargets: 1 });
    const rec: ServiceRecord = {
      ip: HOSTILE,
      port: 104,
      protocol: 'dicom',
      status: 'success',
      timestamp: '2026-01-06T10:05:00.000Z',
      product: 'ACME|PACS\u001b[2J',
      version: '1.0\u0007',
      deviceType: 'pacs',
      findings: [
        { id: 'dicom-any-ae', severity: 'high', title: 'Any AE | *accepted*\u001b[31m', confidence: 'confirmed', evidence: { callingAe: CANARY } },
      ],
      checksRun: ['dicom-any-ae'],
      data: {},
    };
    await inv.recordServices('r6', [rec]);
    clock.set('2026-01-06T11:00:00.000Z');
    await inv.finishRun('r6', 'completed', { stats: {} });
  } finally {
    await inv.close();
  }
});

after(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  registerDiff(program);
  const { out } = await captureOutput(() => program.parseAsync(['diff', ...args, '--db', db], { from: 'user' }));
  return out;
}

test('text: a headline, the counts, then one section per kind with one line per event', async () => {
  const out = await run(['r1', 'r2']);
  assert.equal(
    out,
    [
      'medsurface diff: r1 (completed, started 2026-01-01T10:00:00.000Z) → r2 (completed, started 2026-01-02T10:00:00.000Z)',
      '1 new, 0 gone, 2 changed service(s); 1 opened, 0 reopened, 0 changed, 1 resolved, 0 unverified finding(s); 2 honeypot event(s) left out (--include-honeypots shows them)',
      '',
      'New services (1)',
      '+ NEW   127.77.1.13:8042 http Orthanc 1.12.3 pacs',
      '',
      'Changed services (2)',
      '~ CHANGED 127.77.1.11:4242 dicom Orthanc 1.12.3 pacs (NL, Lab Hospital)  version 1.10.1 → 1.12.3',
      '~ CHANGED 127.77.1.11:8042 http Orthanc 1.12.3 pacs (NL, Lab Hospital)  version 1.10.1 → 1.12.3',
      '',
      'Opened findings (1)',
      '! OPEN  high orthanc-rest-open 127.77.1.13:8042 http Orthanc 1.12.3 pacs  "Orthanc REST API open without authentication"',
      '',
      'Resolved findings (1)',
      '- RESOLVED high hl7-unauthenticated 127.77.1.12:2575 hl7 Mirth Connect interface-engine  "HL7 interface answers unauthenticated queries"',
      '',
    ].join('\n'),
  );
});

test('text: an interrupted run says why nothing is gone', async () => {
  const out = await run(['r2', 'r3']);
  assert.match(out, /r3 did not complete \(interrupted\): no service counts as gone and it resolved nothing\./);
  assert.match(out, /\nNo changes\.\n$/);
});

test('json: {from, since, to, summary, events}, the events exactly those of diffRuns', async () => {
  const out = JSON.parse(await run(['r4', 'r5', '--format', 'json']));
  assert.deepEqual(Object.keys(out), ['from', 'since', 'to', 'summary', 'events']);
  const inv = await openKyselyInventory(db);
  try {
    const expected = await diffRuns(inv.db, 'r4', 'r5');
    assert.deepEqual(out, JSON.parse(JSON.stringify(expected)));
  } finally {
    await inv.close();
  }
  assert.equal(out.from.id, 'r4');
  assert.equal(out.to.id, 'r5');
  assert.equal(out.since, null);
  assert.deepEqual(
    out.events.map((e: { kind: string }) => e.kind),
    ['service-new', 'finding-reopened', 'finding-changed'],
  );
});

test('md: run table, summary and one table per kind', async () => {
  const out = await run(['r2', 'r4', '--format', 'md']);
  assert.ok(out.startsWith('# medsurface diff\n'), out);
  assert.ok(out.includes('| from | r2 | completed | 2026-01-02T10:00:00.000Z | 2026-01-02T11:00:00.000Z |'), out);
  assert.ok(out.includes('**Summary:** 0 new, 2 gone, 0 changed service(s); 0 opened, 0 reopened, 0 changed, 0 resolved, 1 unverified finding(s); 2 honeypot event(s) left out (--include-honeypots shows them).'), out);
  assert.ok(out.includes('## Gone services (2)'), out);
  assert.ok(out.includes('| 127.77.1.10:11112 | dicom | DCMTK | 3.6.7 | dicom-toolkit | high | radiology | - | - |'), out);
  assert.ok(out.includes('| 127.77.1.11:8042 | http | Orthanc | 1.12.3 | pacs | critical | - | NL | Lab Hospital |'), out);
  assert.ok(out.includes('## Unverified findings (1)'), out);
  assert.ok(out.includes('| high | dicom-any-ae | DICOM server accepts any called AE title | 127.77.1.10:11112 | dicom | DCMTK | 3.6.7 | dicom-toolkit | radiology | - | - |'), out);
  // Every table row has as many cells as its header.
  for (const block of out.split('\n## ').slice(1)) {
    const rows = block.split('\n').filter((l) => l.startsWith('|'));
    const width = rows[0]!.split(' | ').length;
    for (const r of rows) assert.equal(r.split(' | ').length, width, r);
  }
});

test('--last and --since', async () => {
  assert.match(await run(['--last']), /^medsurface diff: r5 \(completed.*\) → r6 \(completed/);
  const since = JSON.parse(await run(['--since', '2026-01-04', '--format', 'json']));
  assert.equal(since.since, '2026-01-04T00:00:00.000Z');
  assert.equal(since.from.id, 'r2');
  assert.equal(since.to.id, 'r6');
  // An age counts back from now: a century back covers every run, so there is no earlier run A.
  const all = JSON.parse(await run(['--since', '36500d', '--format', 'json']));
  assert.equal(all.from, null);
  assert.equal(all.to.id, 'r6');
});

test('--since: ages, dates and times (UTC without an offset), and clear errors', () => {
  const now = Date.parse('2026-03-10T12:00:00.000Z');
  assert.equal(sinceInstant('7d', now), '2026-03-03T12:00:00.000Z');
  assert.equal(sinceInstant('1h30m', now), '2026-03-10T10:30:00.000Z');
  assert.equal(sinceInstant('2026-03-01', now), '2026-03-01T00:00:00.000Z');
  assert.equal(sinceInstant('2026-03-01T08:30', now), '2026-03-01T08:30:00.000Z');
  assert.equal(sinceInstant('2026-03-01T08:30:00+02:00', now), '2026-03-01T06:30:00.000Z');
  assert.throws(() => sinceInstant('last week', now), (e: unknown) => e instanceof UsageError && /neither an age .* nor a date/.test(e.message));
  assert.throws(() => sinceInstant('2026-13-45', now), UsageError);
});

test('--include-honeypots', async () => {
  const without = JSON.parse(await run(['r1', 'r2', '--format', 'json']));
  const withHp = JSON.parse(await run(['r1', 'r2', '--format', 'json', '--include-honeypots']));
  assert.ok(!without.events.some((e: { ip: string }) => e.ip === HONEYPOT));
  assert.deepEqual(
    withHp.events.filter((e: { ip: string }) => e.ip === HONEYPOT).map((e: { kind: string }) => e.kind),
    ['service-new', 'finding-opened'],
  );
  assert.equal(withHp.summary.excluded.honeypot, 0);
});

test('strings from the network cannot drive the terminal or break a Markdown table; evidence is never printed', async () => {
  const text = await run(['r5', 'r6']);
  const md = await run(['r5', 'r6', '--format', 'md']);
  const json = await run(['r5', 'r6', '--format', 'json']);
  for (const out of [text, md]) assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f]/.test(out), JSON.stringify(out));
  assert.ok(text.includes('+ NEW   127.77.1.50:104 dicom ACME|PACS [2J 1.0 pacs'), text);
  assert.ok(md.includes('| 127.77.1.50:104 | dicom | ACME\\|PACS \\[2J | 1.0 | pacs | high | - | - | - |'), md);
  assert.ok(md.includes('| high | dicom-any-ae | Any AE \\| \\*accepted\\* \\[31m |'), md);
  for (const out of [text, md, json]) {
    assert.ok(!out.includes('CANARY'), 'the finding evidence is not printed');
    assert.ok(!out.includes('"evidence"'));
  }
});

test('bad ids, a single id, conflicting modes and a bad format are usage errors', async () => {
  await assert.rejects(run(['r1', 'r-missing']), (err: unknown) => {
    assert.ok(err instanceof DiffError && err instanceof UsageError);
    assert.match(err.message, /^no scan run "r-missing"; recent runs \(newest first\): r6 \(completed, started 2026-01-06T10:00:00.000Z\), r5 \(completed/);
    return true;
  });
  await assert.rejects(run(['r1']), /give two run ids \(older first\), or --since AGE, or --last/);
  await assert.rejects(run(['r1', 'r2', '--last']), /give two run ids/);
  await assert.rejects(run(['--last', '--since', '7d']), /give two run ids/);
  await assert.rejects(run([]), /give two run ids/);
  await assert.rejects(run(['r1', 'r2', '--format', 'xml']), /--format must be one of text, json, md \(got "xml"\)/);
  await assert.rejects(run(['r2', 'r1']), /newer than r1/);
});
