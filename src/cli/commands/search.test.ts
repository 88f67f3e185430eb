/**
 * `medsurface search` as a command: table and JSON output, facets, host rows, negated first
 * terms that look like options, attribution keys, risk sorting, the default honeypot
 * exclusion and --include-honeypots, the help's key list, and the errors a user sees.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import type { ServiceRecord } from '../../core/types.js';
import { openKyselyInventory } from '../../inventory/index.js';
import { FACET_FIELDS, FIELD_NAMES, FIELDS, SearchQueryError, SORT_KEYS } from '../../inventory/search/index.js';
import { registerSearch } from './search.js';
import { captureOutput } from '../../core/testing.js';

let dir: string;
let db: string;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'medsurface-search-cli-'));
  db = path.join(dir, 'inv.sqlite');
  const inv = await openKyselyInventory(db);
  const rec = (ip: string, port: number, more: Partial<ServiceRecord>): ServiceRecord => ({
    ip,
    port,
    protocol: 'dicom',
    status: 'success',
    timestamp: '2026-11-01T10:00:00.000Z',
    findings: [],
    data: {},
    ...more,
  });
  await inv.createRun({ id: 'r-1', profile: 'safe', targets: [], options: {}, totalTargets: 0 });
  await inv.recordServices('r-1', [
    rec('127.77.0.10', 104, {
      product: 'DCMTK',
      vendor: 'OFFIS',
      version: '3.6.7',
      asset: { vendor: 'Orthanc', product: 'Orthanc', deviceType: 'pacs', evidence: [] },
      findings: [{ id: 'dicom-any-ae', severity: 'high', title: 'any AE', confidence: 'confirmed' }],
    }),
    rec('127.77.0.10', 8042, { protocol: 'http', product: 'Orthanc', vendor: 'Orthanc', asset: { vendor: 'Orthanc', product: 'Orthanc', deviceType: 'pacs', evidence: [] } }),
    rec('127.77.0.11', 104, { vendor: 'ACME', product: 'Scanner', asset: { vendor: 'ACME', product: 'Scanner', deviceType: 'ct', evidence: [] } }),
    // A decoy: left out unless asked for.
    rec('127.77.0.12', 104, { vendor: 'ACME', product: 'Scanner', asset: { vendor: 'ACME', product: 'Scanner', deviceType: 'ct', evidence: [] } }),
  ]);
  // Attribution, tags, risk and the honeypot verdict, which the store does not all write yet.
  const hosts: [string, { country: string | null; asn: number | null; org: string | null; honeypot: number; risk: number }, string[]][] = [
    ['127.77.0.10', { country: 'NL', asn: 1103, org: 'Example Hospital', honeypot: 0, risk: 90 }, ['radiology']],
    ['127.77.0.11', { country: 'DE', asn: null, org: null, honeypot: 0, risk: 30 }, []],
    ['127.77.0.12', { country: 'NL', asn: 64512, org: null, honeypot: 1, risk: 99 }, ['decoy']],
  ];
  for (const [ip, set, tags] of hosts) {
    const a = await inv.db.updateTable('assets').set(set).where('ip', '=', ip).returning('id').executeTakeFirstOrThrow();
    for (const tag of tags) await inv.db.insertInto('asset_tags').values({ asset_id: a.id, tag }).execute();
  }
  for (const [ip, port, risk] of [
    ['127.77.0.10', 104, 72],
    ['127.77.0.10', 8042, 88],
    ['127.77.0.11', 104, 30],
    ['127.77.0.12', 104, 99],
  ] as const) {
    await inv.db.updateTable('services').set({ risk }).where('ip', '=', ip).where('port', '=', port).execute();
  }
  await inv.close();
});

after(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  registerSearch(program);
  const { out } = await captureOutput(() => program.parseAsync(['search', ...args, '--db', db], { from: 'user' }));
  return out;
}

test('table output, sorted, with a footer', async () => {
  const out = await run(['port:104', '--sort', '-severity']);
  const lines = out.split('\n');
  const first = lines.findIndex((l) => l.includes('127.77.0.10'));
  const second = lines.findIndex((l) => l.includes('127.77.0.11'));
  assert.ok(first > 0 && second > first, out);
  assert.match(lines[first]!, /OFFIS DCMTK 3\.6\.7.*pacs.*high/);
  assert.match(out, /1-2 of 2 service\(s\), sorted by -severity/);
});

test('JSON output with facets', async () => {
  const out = JSON.parse(await run(['product:orthanc', '--json', '--facet', 'port', '--facet', 'finding:5']));
  assert.equal(out.kind, 'services');
  assert.equal(out.total, 2);
  assert.deepEqual(
    out.rows.map((r: { ip: string; port: number }) => `${r.ip}:${r.port}`),
    ['127.77.0.10:104', '127.77.0.10:8042'],
  );
  assert.deepEqual(out.facets[0].buckets, [
    { value: 104, count: 1 },
    { value: 8042, count: 1 },
  ]);
  assert.deepEqual(out.facets[1].buckets, [{ value: 'dicom-any-ae', count: 1 }]);
  assert.equal(out.facets[1].missing, 1);
});

test('a negated first term is a query, not an option; words are joined', async () => {
  const out = JSON.parse(await run(['-vendor:acme', 'port:104', '--json']));
  assert.deepEqual(
    out.rows.map((r: { ip: string }) => r.ip),
    ['127.77.0.10'],
  );
});

test('host rows and facets only', async () => {
  const hosts = await run(['', '--assets']);
  assert.match(hosts, /127\.77\.0\.10.*Orthanc.*pacs.*104, 8042/);
  assert.match(hosts, /1-2 of 2 host\(s\)/);
  const facets = await run(['--limit', '0', '--facet', 'devicetype']);
  assert.ok(!facets.includes('127.77.0.10'), facets);
  assert.match(facets, /pacs.*2/);
  assert.match(facets, /3 services matched/);
});

test('errors a user sees', async () => {
  await assert.rejects(run(['port:104 OR']), (e: unknown) => e instanceof SearchQueryError && /OR needs a term after it/.test(e.message) && e.message.includes('\n  port:104 OR\n           ^^'));
  await assert.rejects(run(['port:104', '--lmit', '5']), (e: unknown) => e instanceof UsageError && /unknown option --lmit/.test(e.message));
  await assert.rejects(run(['country:NLD']), (e: unknown) => e instanceof SearchQueryError && /two-letter country code/.test(e.message));
  await assert.rejects(run(['risk>=200']), /not a risk score \(0-100\)/);
  await assert.rejects(run(['--facet', 'colour']), /facet "colour"/);
  await assert.rejects(run(['--sort', 'vendor']), /sort must be one of/);
});

test('attribution keys, tags and risk, sorted by risk with a risk column', async () => {
  const json = JSON.parse(await run(['country:nl', 'asn:AS1103', 'org:"example hospital"', 'tag:Radiology', '--json']));
  assert.deepEqual(
    json.rows.map((r: { ip: string; port: number }) => `${r.ip}:${r.port}`),
    ['127.77.0.10:104', '127.77.0.10:8042'],
  );
  assert.deepEqual(json.rows[0].asset, { vendor: 'Orthanc', product: 'Orthanc', deviceType: 'pacs', country: 'NL', asn: 1103, org: 'Example Hospital', honeypot: false });
  const out = await run(['risk>=50', '--sort', '-risk']);
  const lines = out.split('\n').filter((l) => l.includes('127.77.'));
  assert.equal(lines.length, 2, out);
  assert.match(lines[0]!, /127\.77\.0\.10.*8042.*88/);
  assert.match(lines[1]!, /127\.77\.0\.10.*104.*72/);
  assert.match(out, /risk/);
  assert.match(out, /1-2 of 2 service\(s\), sorted by -risk, honeypots left out;/);
  const facets = await run(['--limit', '0', '--facet', 'risk', '--facet', 'country', '--facet', 'tag']);
  assert.match(facets, /70-89.*\n.*/);
  assert.match(facets, /NL\s.*2/);
  assert.match(facets, /3 services matched \(honeypots left out\)/);
  assert.ok(!facets.includes('decoy'), facets);
});

test('honeypots: left out by default, kept with --include-honeypots or a honeypot: term', async () => {
  const plain = await run(['port:104']);
  assert.ok(!plain.includes('127.77.0.12'), plain);
  assert.match(plain, /of 2 service\(s\), sorted by ip, honeypots left out;/);
  const kept = await run(['port:104', '--include-honeypots']);
  assert.match(kept, /127\.77\.0\.12/);
  assert.match(kept, /1-3 of 3 service\(s\), sorted by ip; inventory/);
  const only = JSON.parse(await run(['honeypot:true', '--json']));
  assert.deepEqual(
    only.rows.map((r: { ip: string }) => r.ip),
    ['127.77.0.12'],
  );
  assert.equal(only.honeypotsExcluded, false);
  assert.equal(only.rows[0].asset.honeypot, true);
  const facet = JSON.parse(await run(['--include-honeypots', '--json', '--limit', '0', '--facet', 'honeypot', '--facet', 'tag']));
  assert.deepEqual(facet.facets[0].buckets, [
    { value: 'false', count: 3 },
    { value: 'true', count: 1 },
  ]);
  assert.deepEqual(facet.facets[1].buckets, [
    { value: 'radiology', count: 2 },
    { value: 'decoy', count: 1 },
  ]);
});

test('--help lists every key with its help, the sort keys and the facets', async () => {
  let text = '';
  const program = new Command().exitOverride().configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
  registerSearch(program);
  await assert.rejects(program.parseAsync(['search', '--help'], { from: 'user' }), (e: unknown) => (e as { code?: string }).code === 'commander.helpDisplayed');
  for (const k of FIELD_NAMES) assert.ok(text.includes(`  ${k.padEnd(10)} ${FIELDS[k].help}`), `${k} in:\n${text}`);
  assert.ok(!/not available/i.test(text), text);
  const flat = text.replace(/\s+/g, ' ');
  assert.ok(flat.includes(SORT_KEYS.join(', ')), flat);
  assert.ok(flat.includes(FACET_FIELDS.join(', ')), flat);
  assert.match(flat, /--include-honeypots/);
  assert.match(flat, /Honeypots and decoys are left out unless the query has a honeypot: term or --include-honeypots is given/);
});
