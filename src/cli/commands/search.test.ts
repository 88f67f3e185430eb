/**
 * `medsurface search` as a command: table and JSON output, facets, host rows, negated first
 * terms that look like options, and the errors a user sees.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import type { ServiceRecord } from '../../core/types.js';
import { openInventory } from '../../inventory/index.js';
import { SearchQueryError } from '../../inventory/search/index.js';
import { registerSearch } from './search.js';

let dir: string;
let db: string;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'medsurface-search-cli-'));
  db = path.join(dir, 'inv.sqlite');
  const inv = await openInventory(db);
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
  ]);
  await inv.close();
});

after(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  registerSearch(program);
  let out = '';
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(['search', ...args, '--db', db], { from: 'user' });
  } finally {
    process.stdout.write = write;
  }
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
  await assert.rejects(run(['country:NL']), /not available yet/);
  await assert.rejects(run(['--facet', 'colour']), /facet "colour"/);
  await assert.rejects(run(['--sort', 'vendor']), /sort must be one of/);
});
