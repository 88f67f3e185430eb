/**
 * The export as a whole: JSON and JSONL shapes and their TLP metadata, `--query` selection and
 * the honeypot default, `--services`, paging (any page size gives the same bytes; pages are
 * read while the output is being written, not all first), no lab canary and no raw observation
 * in any format, the atomic file sink, and the errors raised before anything is written.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { UsageError } from '../core/errors.js';
import type { ServiceRecord } from '../core/types.js';
import { type KyselyInventory, openKyselyInventory } from '../inventory/index.js';
import { SearchQueryError, type SearchTarget } from '../inventory/search/index.js';
import {
  EXPORT_FORMATS,
  type ExportFormat,
  type ExportSink,
  FINDING_COLUMNS,
  type FindingExportRow,
  fileSink,
  parseExportFormat,
  runExport,
  type ServiceExportRow,
} from './index.js';
import { readExportItems, selectServices } from './source.js';
import { EXPORT_TEST_NOW, exportText, HONEYPOT_IP, labCanaries, memorySink, QUIET_SERVICE, seedExportInventory } from './test-inventory.js';

let inv: KyselyInventory;
let dir: string;

before(async () => {
  inv = await seedExportInventory(':memory:');
  dir = mkdtempSync(path.join(tmpdir(), 'medsurface-export-'));
});

after(async () => {
  await inv.close();
  rmSync(dir, { recursive: true, force: true });
});

interface JsonExport<R> {
  tlp: string;
  tlpDescription: string;
  generator: { name: string; version: string };
  generatedAt: string;
  query: string;
  honeypotsExcluded: boolean;
  kind: string;
  rows: R[];
  count: number;
}

async function jsonRows(opts: { query?: string; includeHoneypots?: boolean } = {}): Promise<JsonExport<FindingExportRow>> {
  return JSON.parse((await exportText(inv, { format: 'json', ...opts })).text) as JsonExport<FindingExportRow>;
}

test('JSON: top-level tlp and metadata, then rows, then count', async () => {
  const doc = await jsonRows();
  assert.deepEqual(Object.keys(doc), ['tlp', 'tlpDescription', 'generator', 'generatedAt', 'query', 'honeypotsExcluded', 'kind', 'rows', 'count']);
  assert.equal(doc.tlp, 'TLP:AMBER');
  assert.equal(doc.generator.name, 'medsurface');
  assert.equal(doc.generatedAt, new Date(EXPORT_TEST_NOW).toISOString());
  assert.equal(doc.kind, 'findings');
  assert.equal(doc.count, doc.rows.length);
  assert.equal(doc.honeypotsExcluded, true);
  for (const r of doc.rows) assert.deepEqual(Object.keys(r), [...FINDING_COLUMNS]);
  const anyAe = doc.rows.find((r) => r.ip === '127.77.61.10' && r.findingId === 'dicom-any-ae');
  assert.deepEqual(anyAe, {
    ip: '127.77.61.10',
    port: 11112,
    protocol: 'dicom',
    hostname: null,
    product: 'DCMTK',
    vendor: 'OFFIS',
    version: '3.6.7',
    cpe: 'cpe:2.3:a:offis:dcmtk:3.6.7:*:*:*:*:*:*:*',
    deviceType: 'pacs',
    country: 'NL',
    asn: 1103,
    org: 'Example Hospital',
    tags: ['radiology', 'site-a'],
    risk: anyAe?.risk,
    findingId: 'dicom-any-ae',
    severity: 'high',
    title: 'DICOM service accepts any called AE title',
    confidence: 'confirmed',
    state: 'open',
    userState: null,
    firstSeen: anyAe?.firstSeen,
    lastSeen: anyAe?.lastSeen,
    evidence: { 'data.dicom.anyAeAccepted': true, 'data.dicom.acceptedCalledAe': 'MSX7Q2K9ZP4W1R8T' },
  });
  assert.ok(typeof anyAe?.risk === 'number' && anyAe.risk > 0);
  // Rows come in address, port order; a service's findings most severe first.
  const keys = doc.rows.map((r) => `${r.ip.split('.').map((o) => o.padStart(3, '0')).join('.')}:${String(r.port).padStart(5, '0')}`);
  assert.deepEqual(keys, [...keys].sort());
  const sev = ['info', 'low', 'medium', 'high', 'critical'];
  for (let i = 1; i < doc.rows.length; i++) {
    const [a, b] = [doc.rows[i - 1]!, doc.rows[i]!];
    if (a.ip === b.ip && a.port === b.port) assert.ok(sev.indexOf(a.severity) >= sev.indexOf(b.severity));
  }
});

test('an empty JSON export is valid JSON', async () => {
  const doc = await jsonRows({ query: 'port:1' });
  assert.deepEqual(doc.rows, []);
  assert.equal(doc.count, 0);
});

test('JSONL: a first meta line with the TLP, then one typed line per row', async () => {
  const { text } = await exportText(inv, { format: 'jsonl', tlp: 'green' });
  const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines[0]!.type, 'meta');
  assert.equal(lines[0]!.tlp, 'TLP:GREEN');
  assert.equal(lines[0]!.kind, 'findings');
  const rows = lines.slice(1);
  assert.ok(rows.every((r) => r.type === 'finding'));
  const json = await jsonRows();
  assert.deepEqual(
    rows.map(({ type: _t, ...r }) => r),
    json.rows,
  );
  const services = (await exportText(inv, { format: 'jsonl', services: true })).text.trimEnd().split('\n');
  assert.ok(services.slice(1).every((l) => (JSON.parse(l) as { type: string }).type === 'service'));
});

test('--services: one row per selected service with its open findings counted', async () => {
  const doc = JSON.parse((await exportText(inv, { format: 'json', services: true })).text) as JsonExport<ServiceExportRow>;
  assert.equal(doc.kind, 'services');
  assert.equal(doc.rows.length, 9);
  const anyAe = doc.rows.find((r) => r.ip === '127.77.61.10' && r.port === 11112)!;
  assert.equal(anyAe.maxSeverity, 'high');
  assert.ok(anyAe.findingIds.includes('dicom-any-ae') && anyAe.findingIds.includes('CVE-2022-43272'));
  assert.equal(anyAe.openFindings, anyAe.findingIds.length);
  const quiet = doc.rows.find((r) => r.ip === QUIET_SERVICE.ip)!;
  assert.deepEqual([quiet.port, quiet.openFindings, quiet.findingIds, quiet.maxSeverity], [QUIET_SERVICE.port, 0, [], null]);
  assert.equal(doc.rows.find((r) => r.ip === '127.77.61.13')?.tls, true);
});

test('--query severity>=high: only services whose highest open, untriaged finding is high or critical', async () => {
  const all = await jsonRows();
  const high = await jsonRows({ query: 'severity>=high' });
  const services = (rows: FindingExportRow[]) => new Set(rows.map((r) => `${r.ip}:${r.port}`));
  const expected = new Set(
    all.rows.filter((r) => (r.severity === 'high' || r.severity === 'critical') && r.userState === null).map((r) => `${r.ip}:${r.port}`),
  );
  assert.deepEqual(services(high.rows), expected);
  assert.ok(expected.size >= 3 && expected.size < services(all.rows).size);
  assert.ok(!services(high.rows).has('127.77.61.11:2575'), 'the medium-only HL7 service is left out');
  assert.ok(!services(high.rows).has('127.77.61.15:5900'), 'the false-positive VNC finding does not count');
  // All open findings of a selected service are exported, not only the high ones.
  assert.ok(high.rows.some((r) => r.severity === 'medium'));
  assert.equal(high.query, 'severity>=high');
  const dicom = await jsonRows({ query: 'protocol:dicom country:NL' });
  assert.ok(dicom.rows.length > 0 && dicom.rows.every((r) => r.protocol === 'dicom' && r.country === 'NL'));
});

test('honeypots: left out by default, in with includeHoneypots, alone with honeypot:true', async () => {
  const def = await jsonRows();
  assert.ok(!def.rows.some((r) => r.ip === HONEYPOT_IP));
  const all = await jsonRows({ includeHoneypots: true });
  assert.equal(all.honeypotsExcluded, false);
  assert.ok(all.rows.some((r) => r.ip === HONEYPOT_IP));
  const only = await jsonRows({ query: 'honeypot:true' });
  assert.ok(only.rows.length > 0 && only.rows.every((r) => r.ip === HONEYPOT_IP));
});

test('no lab canary and no raw observation value in any export', async () => {
  const canaries = labCanaries();
  assert.ok(canaries.length >= 15);
  // Values that are in the stored observations (`data`) but in no finding's evidence.
  const rawOnly = ['1.2.276.0.7230010.3.0.3.6.7', 'HAPI FHIR R4 Server', 'implementationClassUid', 'abstractSyntax'];
  const raw = JSON.stringify(await inv.latestObservations(0, 100));
  for (const v of rawOnly) assert.ok(raw.includes(v), `${v} is in the stored observations (the test would prove nothing otherwise)`);
  for (const format of EXPORT_FORMATS) {
    for (const services of format === 'csv' || format === 'json' || format === 'jsonl' ? [false, true] : [false]) {
      const { text } = await exportText(inv, { format, services, includeHoneypots: true });
      for (const c of canaries) assert.ok(!text.includes(c), `${format}: canary ${c}`);
      for (const v of rawOnly) assert.ok(!text.includes(v), `${format}: raw observation value ${v}`);
    }
  }
});

test('paging: every page size gives the same bytes, pages are bounded', async () => {
  for (const format of EXPORT_FORMATS) {
    const whole = (await exportText(inv, { format })).text;
    for (const pageSize of [1, 2, 7]) assert.equal((await exportText(inv, { format, pageSize })).text, whole, `${format} pageSize ${pageSize}`);
  }
  const sel = await selectServices(inv, '', true, EXPORT_TEST_NOW);
  const sizes: number[] = [];
  for await (const page of readExportItems(inv, sel, 3)) sizes.push(page.length);
  assert.deepEqual(sizes, [3, 3, 3, 1]);
});

/** Counts the queries a Kysely instance runs. */
class QueryCounter implements KyselyPlugin {
  count = 0;
  failAfter = Number.POSITIVE_INFINITY;
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    this.count++;
    if (this.count > this.failAfter) throw new Error('test: the inventory went away');
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

test('streaming: output is written while the inventory is still being read', async () => {
  const big = await openKyselyInventory(':memory:');
  try {
    await big.createRun({ id: 'big', profile: 'safe', targets: [], options: {}, totalTargets: 0 });
    for (let b = 0; b < 4; b++) {
      const recs: ServiceRecord[] = [];
      for (let i = 0; i < 500; i++) {
        const n = b * 500 + i;
        recs.push({
          ip: `127.77.${70 + Math.floor(n / 250)}.${n % 250}`,
          port: 104,
          protocol: 'dicom',
          status: 'success',
          timestamp: '2026-10-01T00:00:00.000Z',
          product: `Archive ${n}`,
          findings: [{ id: 'dicom-no-tls', severity: 'medium', title: 'DICOM association accepted over plain TCP', confidence: 'confirmed' }],
          data: {},
        });
      }
      await big.recordServices('big', recs);
    }
    const counter = new QueryCounter();
    const target: SearchTarget = { db: big.db.withPlugin(counter), kind: big.kind };
    const sink = memorySink();
    const queriesAtWrite: number[] = [];
    const watched: ExportSink = {
      ...sink,
      write: async (t) => {
        queriesAtWrite.push(counter.count);
        await sink.write(t);
      },
    };
    const summary = await runExport(target, { format: 'jsonl', pageSize: 100, now: EXPORT_TEST_NOW }, async () => watched);
    assert.equal(summary.count, 2000);
    assert.equal(summary.services, 2000);
    // 20 pages of 100 services (ids, rows, tags, findings per page, then one empty id page).
    assert.ok(counter.count >= 80, `queries: ${counter.count}`);
    // The meta line and rows reached the sink long before the last page was read.
    const firstRowWrite = queriesAtWrite[1]!;
    assert.ok(firstRowWrite < counter.count / 4, `first row written after ${firstRowWrite} of ${counter.count} queries`);
    assert.equal(sink.text().trimEnd().split('\n').length, 2001);
  } finally {
    await big.close();
  }
});

test('file sink: atomic replace, mode 0600, failure leaves the old file and no temporary file', async () => {
  const file = path.join(dir, 'out.sarif');
  writeFileSync(file, 'old export\n');
  let seenDuring = '';
  const summary = await runExport(inv, { format: 'sarif', now: EXPORT_TEST_NOW }, async () => {
    const s = await fileSink(file);
    return {
      ...s,
      write: async (t: string) => {
        seenDuring ||= readFileSync(file, 'utf8');
        await s.write(t);
      },
    };
  });
  assert.equal(seenDuring, 'old export\n', 'the target is untouched while the export is written');
  assert.equal(summary.where, file);
  const doc = JSON.parse(readFileSync(file, 'utf8')) as { version: string };
  assert.equal(doc.version, '2.1.0');
  assert.equal(statSync(file).mode & 0o777, 0o600);

  writeFileSync(file, 'old export\n');
  const counter = new QueryCounter();
  counter.failAfter = 6;
  const failing: SearchTarget = { db: inv.db.withPlugin(counter), kind: inv.kind };
  await assert.rejects(
    runExport(failing, { format: 'csv', pageSize: 2, now: EXPORT_TEST_NOW }, () => fileSink(file)),
    /the inventory went away/,
  );
  assert.equal(readFileSync(file, 'utf8'), 'old export\n');
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.endsWith('.tmp')),
    [],
  );
  await assert.rejects(fileSink(path.join(dir, 'missing', 'x.csv')), (e: unknown) => e instanceof UsageError && /does not exist/.test(e.message));
  await assert.rejects(fileSink(dir), (e: unknown) => e instanceof UsageError && /is a directory/.test(e.message));
});

test('mistakes are UsageErrors raised before the output is opened', async () => {
  let opened = 0;
  const open = async () => {
    opened++;
    return memorySink();
  };
  await assert.rejects(runExport(inv, { format: 'json', query: 'port:104 OR' }, open), (e: unknown) => e instanceof SearchQueryError);
  await assert.rejects(runExport(inv, { format: 'json', query: 'severity>=urgent' }, open), (e: unknown) => e instanceof SearchQueryError);
  for (const format of ['sarif', 'defectdojo', 'nmap-xml'] as ExportFormat[]) {
    await assert.rejects(runExport(inv, { format, services: true }, open), (e: unknown) => e instanceof UsageError && /--services is for csv, json, jsonl/.test(e.message));
  }
  assert.equal(opened, 0);
  assert.equal(parseExportFormat('SARIF'), 'sarif');
  assert.throws(() => parseExportFormat('xml'), (e: unknown) => e instanceof UsageError && e.message === '--format must be one of csv, json, jsonl, sarif, defectdojo, nmap-xml, not "xml"');
});
