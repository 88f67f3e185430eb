/**
 * bench/inventory: the inventory at the scale of the published study (1.2 million exposed
 * healthcare services). Generates services with realistic distributions (DICOM ports first,
 * products from our fingerprint identifiers, device types, 0-4 findings each, 1-3 services per
 * host), ingests them through the real Inventory.recordServices in batches, then runs typical
 * searches and facets. Prints ingest time and p50/p95 query times, for SQLite and PostgreSQL.
 * Goal (issue 5): ingest <= 60 s on SQLite, p95 <= 200 ms.
 *
 * No network: the addresses are data only (127.0.0.0/8 and fd00::/8), nothing is contacted.
 *
 * Usage: node --import tsx bench/inventory.ts [--services 1200000] [--pg URL] [--only sqlite|postgres]
 *          [--batch 1000] [--repeat 5] [--seed 1] [--keep] [--analyze] [--direct] [--ingest-only]
 *          [--existing LOCATION [--columns-only]] [--what-if-drop INDEX,...|secondary|secondary+triggers]
 * SQLite is written as `medsurface scan` writes it: batches of 250 records (the engine's) sent to
 * the inventory writer thread, which commits the batches that queue up together (group commit);
 * --direct calls recordServices with batches of --batch instead. PostgreSQL is always written
 * directly (scans write it from the scanning thread). --ingest-only skips the queries.
 * --analyze gathers planner statistics after ingesting (SQLite `PRAGMA optimize=0x10002`,
 * PostgreSQL `ANALYZE`); without it the store runs as shipped, which gathers none on SQLite
 * (PostgreSQL's autovacuum does, when it is on: it is off on this project's test server).
 * --existing LOCATION runs only the queries and facets, on an inventory already there (a kept
 * bench database, or a real inventory: the workload reads only).
 * On SQLite the workload runs twice: through SQL alone, then through a reader with the column
 * index (search/column-index.ts, what `medsurface serve` uses), whose build time is printed;
 * --columns-only (with --existing) skips the first.
 * --what-if-drop INDEX,...|secondary|secondary+triggers (SQLite) measures a schema medsurface does
 * not ship: it drops those indexes of a fresh bench inventory (secondary: every index of assets,
 * services, observations, findings and finding_events that no constraint needs; +triggers: the
 * search_version triggers too) before ingesting, so the cost of each can be weighed against the
 * searches it serves. Its query figures are not the product's.
 * --pg is an admin URL: a fresh database is created there and dropped afterwards (unless --keep).
 * Default: $MEDSURFACE_TEST_PG or postgres://postgres@127.0.0.1:5432/test.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import pg from 'pg';
import type { DeviceType, Finding, ServiceRecord, Severity } from '../src/core/types.js';
import { openKyselyInventory } from '../src/inventory/db.js';
import type { KyselyInventory } from '../src/inventory/kysely-store.js';
import type { SearchOptions } from '../src/inventory/search/index.js';
import { InventoryWriterThread } from '../src/inventory/writer-thread.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

const { values: args } = parseArgs({
  options: {
    services: { type: 'string', default: '1200000' },
    pg: { type: 'string' },
    only: { type: 'string' },
    batch: { type: 'string', default: '1000' },
    repeat: { type: 'string', default: '5' },
    seed: { type: 'string', default: '1' },
    keep: { type: 'boolean', default: false },
    'columns-only': { type: 'boolean', default: false },
    analyze: { type: 'boolean', default: false },
    existing: { type: 'string' },
    'ingest-only': { type: 'boolean', default: false },
    direct: { type: 'boolean', default: false },
    'what-if-drop': { type: 'string' },
  },
});
const N = Number(args.services);
const BATCH = Number(args.batch);
const REPEAT = Number(args.repeat);
const SEED = Number(args.seed);
/** The scan engine's batch (src/engine/run-scan.ts). */
const ENGINE_BATCH = 250;
/** Engine batches sent to the writer thread and not yet committed, at most (200,000 records). */
const IN_FLIGHT = 800;
const PG_ADMIN = args.pg ?? process.env.MEDSURFACE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
if (!Number.isInteger(N) || N < 1 || !Number.isInteger(BATCH) || BATCH < 1 || !Number.isInteger(REPEAT) || REPEAT < 1) {
  throw new Error('--services, --batch and --repeat take positive integers');
}
if (args.only !== undefined && args.only !== 'sqlite' && args.only !== 'postgres') throw new Error('--only sqlite|postgres');

/** The bench's clock: record times spread over the 90 days before it; relative queries use it. */
const NOW = Date.parse('2026-11-15T12:00:00.000Z');
const DAY = 86_400_000;

// ------------------------------------------------------------------ generator

/** mulberry32: small, fast, seedable; the same seed gives both engines the same records. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(r: () => number, weighted: readonly (readonly [T, number])[]): T {
  let total = 0;
  for (const [, w] of weighted) total += w;
  let x = r() * total;
  for (const [v, w] of weighted) {
    x -= w;
    if (x < 0) return v;
  }
  return weighted[weighted.length - 1]![0];
}

/** Product names must be our fingerprint identifiers (src/fingerprints/identifiers/products.txt). */
const KNOWN_PRODUCTS = new Set(
  readFileSync(path.join(ROOT, 'src/fingerprints/identifiers/products.txt'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#')),
);

interface Product {
  vendor: string;
  product: string;
  versions: string[];
  /** What the service itself is identified as. */
  serviceType: DeviceType;
  /** What hosts running it usually are. */
  hostTypes: readonly (readonly [DeviceType, number])[];
  cpe?: string;
}

const DICOM_PRODUCTS: readonly (readonly [Product, number])[] = [
  [{ vendor: 'OFFIS', product: 'DCMTK', versions: ['3.6.7', '3.6.6', '3.6.5', '3.6.2', '3.6.0'], serviceType: 'dicom-toolkit', hostTypes: [['pacs', 5], ['workstation', 2], ['modality', 2], ['unknown-medical', 1]], cpe: 'cpe:2.3:a:offis:dcmtk' }, 30],
  [{ vendor: 'Orthanc', product: 'Orthanc', versions: ['1.12.1', '1.10.1', '1.9.7', '1.5.8'], serviceType: 'pacs', hostTypes: [['pacs', 1]], cpe: 'cpe:2.3:a:orthanc-server:orthanc' }, 15],
  [{ vendor: 'dcm4che', product: 'dcm4che', versions: ['5.31.0', '5.29.2', '2.0.29'], serviceType: 'dicom-toolkit', hostTypes: [['pacs', 3], ['dicom-router', 1]] }, 12],
  [{ vendor: 'dcm4che', product: 'dcm4chee-arc', versions: ['5.31.0', '5.26.0'], serviceType: 'pacs', hostTypes: [['pacs', 1]] }, 5],
  [{ vendor: 'fo-dicom', product: 'fo-dicom', versions: ['5.1.1', '4.0.8'], serviceType: 'dicom-toolkit', hostTypes: [['workstation', 1], ['viewer', 1]] }, 5],
  [{ vendor: 'pydicom', product: 'pynetdicom', versions: ['2.0.2', '1.5.7'], serviceType: 'dicom-toolkit', hostTypes: [['dicom-router', 1], ['unknown-medical', 1]] }, 3],
  [{ vendor: 'ClearCanvas', product: 'ClearCanvas DICOM', versions: ['13.2', '2.0'], serviceType: 'dicom-toolkit', hostTypes: [['pacs', 1], ['workstation', 1]] }, 3],
  [{ vendor: 'Conquest', product: 'Conquest DICOM Server', versions: ['1.5.0', '1.4.19'], serviceType: 'pacs', hostTypes: [['pacs', 1]] }, 3],
  [{ vendor: 'Merge Healthcare', product: 'MergeCOM-3', versions: ['5.11.0', '4.8.0'], serviceType: 'dicom-toolkit', hostTypes: [['ct', 2], ['mri', 2], ['x-ray', 1], ['ultrasound', 1]] }, 6],
  [{ vendor: 'OsiriX', product: 'OsiriX/Horos', versions: ['13.0', '4.0'], serviceType: 'viewer', hostTypes: [['workstation', 1]] }, 4],
  [{ vendor: 'GE HealthCare', product: 'Centricity', versions: ['7.0', '6.0'], serviceType: 'pacs', hostTypes: [['pacs', 1]] }, 4],
  [{ vendor: 'GE HealthCare', product: 'LOGIQ', versions: ['R3', 'R2'], serviceType: 'ultrasound', hostTypes: [['ultrasound', 1]] }, 3],
  [{ vendor: 'Philips', product: 'EPIQ/Affiniti', versions: ['9.0', '8.0'], serviceType: 'ultrasound', hostTypes: [['ultrasound', 1]] }, 3],
  [{ vendor: 'Dicoogle', product: 'Dicoogle', versions: ['3.3.1', '2.5.0'], serviceType: 'pacs', hostTypes: [['pacs', 1]] }, 2],
  [{ vendor: 'GDCM', product: 'GDCM', versions: ['3.0.22', '2.8.9'], serviceType: 'dicom-toolkit', hostTypes: [['modality', 1], ['mammography', 1], ['nuclear-medicine', 1]] }, 2],
];
const WEB_PRODUCTS: readonly (readonly [Product, number])[] = [
  [{ vendor: 'Orthanc', product: 'Orthanc', versions: ['1.12.1', '1.10.1'], serviceType: 'pacs', hostTypes: [['pacs', 1]] }, 10],
  [{ vendor: 'OHIF', product: 'OHIF Viewer', versions: ['3.7.0', '2.11.0'], serviceType: 'viewer', hostTypes: [['viewer', 1]] }, 4],
  [{ vendor: 'Oviyam', product: 'Oviyam', versions: ['2.8'], serviceType: 'viewer', hostTypes: [['viewer', 1]] }, 2],
  [{ vendor: 'OpenEMR', product: 'OpenEMR', versions: ['7.0.1', '6.1.0'], serviceType: 'ehr', hostTypes: [['ehr', 1]] }, 5],
  [{ vendor: 'OpenMRS', product: 'OpenMRS', versions: ['2.6.0', '2.5.0'], serviceType: 'ehr', hostTypes: [['ehr', 1]] }, 3],
  [{ vendor: 'Bahmni', product: 'Bahmni', versions: ['1.0'], serviceType: 'his', hostTypes: [['his', 1]] }, 2],
  [{ vendor: 'HAPI', product: 'HAPI FHIR', versions: ['6.8.0', '5.7.0'], serviceType: 'fhir-server', hostTypes: [['fhir-server', 1]] }, 4],
];
const HL7_PRODUCTS: readonly (readonly [Product, number])[] = [
  [{ vendor: 'NextGen Healthcare', product: 'Mirth Connect', versions: ['4.4.0', '3.12.0'], serviceType: 'interface-engine', hostTypes: [['interface-engine', 1]] }, 6],
  [{ vendor: 'node-hl7', product: 'node-hl7-server', versions: ['2.5.0'], serviceType: 'interface-engine', hostTypes: [['lis', 1], ['interface-engine', 1]] }, 2],
];
for (const list of [DICOM_PRODUCTS, WEB_PRODUCTS, HL7_PRODUCTS]) {
  for (const [p] of list) if (!KNOWN_PRODUCTS.has(p.product)) throw new Error(`bench product ${p.product} is not in identifiers/products.txt`);
}

type PortKind = 'dicom' | 'web' | 'hl7' | 'other';
const PORTS: readonly (readonly [[number, PortKind], number])[] = [
  [[104, 'dicom'], 30],
  [[11112, 'dicom'], 14],
  [[4242, 'dicom'], 9],
  [[2762, 'dicom'], 2],
  [[80, 'web'], 12],
  [[443, 'web'], 11],
  [[8042, 'web'], 6],
  [[8080, 'web'], 5],
  [[2575, 'hl7'], 4],
  [[0, 'other'], 7],
];

const DICOM_FINDINGS: readonly (readonly [[string, Severity], number])[] = [
  [['dicom-any-ae', 'high'], 30],
  [['dicom-no-tls', 'medium'], 40],
  [['dicom-query-open', 'high'], 12],
  [['dicom-records-reachable', 'critical'], 6],
  [['dicom-calling-ae-unchecked', 'medium'], 15],
  [['dicom-retrieve-unknown-ae', 'high'], 5],
  [['CVE-2022-2119', 'critical'], 4],
  [['CVE-2021-41946', 'high'], 3],
];
const WEB_FINDINGS: readonly (readonly [[string, Severity], number])[] = [
  [['http-default-credentials', 'critical'], 10],
  [['http-no-tls', 'medium'], 30],
  [['dicomweb-open', 'high'], 12],
  [['fhir-open', 'high'], 6],
  [['http-admin-exposed', 'low'], 15],
  [['http-server-version', 'info'], 25],
];
const HL7_FINDINGS: readonly (readonly [[string, Severity], number])[] = [
  [['hl7-open', 'medium'], 30],
  [['hl7-no-tls', 'low'], 20],
];

function addressOf(i: number, r: () => number): string {
  if (r() < 0.02) return `fd00::${(i >>> 16).toString(16)}:${(i & 0xffff).toString(16)}`;
  // A scattered but unique IPv4 address in 127.0.0.0/8 (data only), never 127.0.0.1.
  const x = (Math.imul(i + 2, 0x9e3779b1) >>> 8) & 0xffffff;
  return `127.${x >>> 16}.${(x >>> 8) & 0xff}.${x & 0xff}`;
}

/** Yields batches of whole hosts (as the engine's writer does) until `total` services are made. */
function* generate(total: number, batchSize: number, seed: number): Generator<ServiceRecord[]> {
  const r = rng(seed);
  const usedV4 = new Set<number>();
  let made = 0;
  let host = 0;
  let batch: ServiceRecord[] = [];
  while (made < total) {
    host++;
    const ip = addressOf(host, r);
    // The multiplicative scatter is a bijection on 24 bits, so collisions only come from i beyond 2^24.
    if (!ip.includes(':')) {
      const key = Number(ip.split('.').slice(1).reduce((a, b) => a * 256 + Number(b), 0));
      if (usedV4.has(key) || key === 1) continue;
      usedV4.add(key);
    }
    const nServices = Math.min(total - made, pick(r, [[1, 55], [2, 30], [3, 15]] as const));
    const hostLast = NOW - Math.floor(r() * 90 * DAY);
    const ports = new Set<number>();
    const recs: ServiceRecord[] = [];
    let hostProduct: Product | undefined;
    let hostType: DeviceType | undefined;
    for (let s = 0; s < nServices; s++) {
      let [port, kind] = pick(r, PORTS);
      if (kind === 'other') port = 1024 + Math.floor(r() * 64000);
      if (ports.has(port)) continue;
      ports.add(port);
      const list = kind === 'dicom' ? DICOM_PRODUCTS : kind === 'web' ? WEB_PRODUCTS : kind === 'hl7' ? HL7_PRODUCTS : null;
      const identified = list !== null && r() < 0.72;
      const p = identified ? pick(r, list) : undefined;
      if (p && hostProduct === undefined) {
        hostProduct = p;
        hostType = pick(r, p.hostTypes);
      }
      const version = p && r() < 0.8 ? p.versions[Math.floor(r() * p.versions.length)] : undefined;
      const protocol: ServiceRecord['protocol'] =
        kind === 'dicom' ? 'dicom' : kind === 'hl7' ? 'hl7' : kind === 'web' ? (p?.serviceType === 'fhir-server' ? 'fhir' : 'http') : null;
      const pool = kind === 'dicom' ? DICOM_FINDINGS : kind === 'web' ? WEB_FINDINGS : kind === 'hl7' ? HL7_FINDINGS : null;
      const nFindings = pool === null ? 0 : pick(r, [[0, 30], [1, 30], [2, 20], [3, 12], [4, 8]] as const);
      const findings: Finding[] = [];
      const ids = new Set<string>();
      for (let k = 0; k < nFindings && pool !== null; k++) {
        const [id, severity] = pick(r, pool);
        if (ids.has(id)) continue;
        ids.add(id);
        findings.push({ id, severity, title: `bench ${id}`, confidence: id.startsWith('CVE-') ? 'version' : 'confirmed' });
      }
      const ts = new Date(hostLast - Math.floor(r() * 3_600_000)).toISOString();
      recs.push({
        ip,
        port,
        protocol,
        status: r() < 0.97 ? 'success' : 'protocol-error',
        timestamp: ts,
        ...(p ? { product: p.product, vendor: p.vendor, deviceType: p.serviceType } : {}),
        ...(version ? { version } : {}),
        ...(p?.cpe && version ? { cpe: `${p.cpe}:${version}:*:*:*:*:*:*:*` } : {}),
        findings,
        checksRun: pool === null ? [] : pool.map(([[id]]) => id),
        data: protocol === 'dicom' ? { dicom: { association: 'accepted', implementationVersionName: p?.product ?? 'UNKNOWN' } } : {},
      });
    }
    if (recs.length === 0) {
      host--;
      continue;
    }
    const hostname = r() < 0.05 ? `pacs${host}.hospital-${host % 97}.example` : undefined;
    for (const rec of recs) {
      if (hostProduct) rec.asset = { vendor: hostProduct.vendor, product: hostProduct.product, deviceType: hostType, evidence: [`bench:${hostProduct.product}`] };
      if (hostname) rec.hostname = hostname;
    }
    made += recs.length;
    batch.push(...recs);
    if (batch.length >= batchSize) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

// ------------------------------------------------------------------ workload

const QUERIES: readonly { q: string; opts?: SearchOptions }[] = [
  { q: 'port:104' },
  { q: 'product:orthanc' },
  { q: 'finding:dicom-any-ae severity>=high' },
  { q: 'devicetype:pacs -vendor:"GE HealthCare"' },
  { q: 'ip:127.77.0.0/16' },
  { q: 'port:104,11112 lastseen>7d' },
  { q: 'orth*' },
  { q: '"hospital-42"' },
  { q: '(port:80 OR port:443) finding:http-default-credentials' },
  { q: 'severity:critical devicetype:ct' },
  { q: 'version:3.6*' },
  { q: 'cpe:cpe:2.3:a:offis:dcmtk:*' },
  { q: 'protocol:dicom -finding:*' },
  { q: 'finding:CVE-*' },
  { q: 'state:resolved' },
  { q: 'product:dcmtk version:3.6.0 port:104' },
  { q: '', opts: { sort: '-lastseen' } },
  { q: 'devicetype:mri', opts: { sort: '-severity' } },
  { q: 'finding:dicom-records-reachable', opts: { assets: true, sort: '-severity' } },
  { q: 'protocol:hl7 firstseen<30d', opts: { assets: true } },
];
const FACETS: readonly { q: string; field: string; assets?: boolean }[] = [
  { q: 'protocol:dicom', field: 'devicetype' },
  { q: 'finding:dicom-any-ae', field: 'product' },
  { q: 'devicetype:pacs', field: 'port' },
  { q: 'port:104', field: 'finding' },
  { q: 'severity>=high', field: 'severity' },
  { q: '', field: 'devicetype' },
  { q: '', field: 'port' },
  { q: '', field: 'finding' },
  { q: '', field: 'severity', assets: true },
];

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const ms = (x: number): string => `${x.toFixed(1)} ms`;

interface Report {
  engine: string;
  ingestS: number;
  finishS: number;
  size: string;
  search: number[];
  facet: number[];
}

/** --what-if-drop: removes indexes (and triggers) from a fresh SQLite bench inventory. */
async function whatIfDrop(inv: KyselyInventory, spec: string): Promise<void> {
  const INGEST_TABLES = ['assets', 'services', 'observations', 'findings', 'finding_events'];
  const objects = (await sql<{ type: string; name: string; tbl_name: string; sql: string | null }>`select type, name, tbl_name, sql from sqlite_master`.execute(inv.db)).rows;
  const secondary = objects.filter((o) => o.type === 'index' && o.sql !== null && INGEST_TABLES.includes(o.tbl_name)).map((o) => o.name);
  const indexes = spec === 'secondary' || spec === 'secondary+triggers' ? secondary : spec.split(',').filter(Boolean);
  const triggers = spec === 'secondary+triggers' ? objects.filter((o) => o.type === 'trigger').map((o) => o.name) : [];
  for (const name of indexes) {
    if (!secondary.includes(name)) throw new Error(`--what-if-drop: ${name} is not a secondary index of ${INGEST_TABLES.join(', ')}`);
    await sql`drop index ${sql.id(name)}`.execute(inv.db);
  }
  for (const name of triggers) await sql`drop trigger ${sql.id(name)}`.execute(inv.db);
  console.log(`  what-if: dropped ${indexes.length} indexes${triggers.length ? ` and ${triggers.length} triggers` : ''} (${indexes.join(', ')}); this is not the schema medsurface ships`);
}

async function bench(inv: KyselyInventory, sizeOf: () => Promise<string>): Promise<Report> {
  const { ingestS, finishS } = await ingest(inv, sizeOf);
  const size = await sizeOf();
  if (args['ingest-only']) return { engine: inv.kind, ingestS, finishS, size, search: [], facet: [] };
  return { engine: inv.kind, ingestS, finishS, size, ...(await workload(inv)) };
}

async function ingest(inv: KyselyInventory, sizeOf: () => Promise<string>): Promise<{ ingestS: number; finishS: number }> {
  await inv.createRun({ id: 'r-bench', profile: 'safe', targets: ['bench'], options: {}, totalTargets: N });
  const t0 = performance.now();
  let written = 0;
  let lastPrint = t0;
  const progress = () => {
    const now = performance.now();
    if (now - lastPrint > 10_000) {
      lastPrint = now;
      process.stderr.write(`  ${inv.kind}: ${written} services, ${((now - t0) / 1000).toFixed(0)} s\n`);
    }
  };
  const threaded = inv.kind === 'sqlite' && !args.direct;
  if (threaded) {
    // The scan engine's batches (run-scan.ts flushes at 250 records and does not wait for them
    // between checkpoints); at most IN_FLIGHT here, which bounds the bench's memory.
    const writer = new InventoryWriterThread(inv.location);
    try {
      const inFlight: Promise<void>[] = [];
      for (const batch of generate(N, ENGINE_BATCH, SEED)) {
        inFlight.push(writer.write('r-bench', batch).then(() => {
          written += batch.length;
        }));
        if (inFlight.length >= IN_FLIGHT) await inFlight.shift();
        progress();
      }
      await Promise.all(inFlight);
      const { batches, transactions } = writer.stats;
      console.log(`  ${inv.kind}: writer thread committed ${batches} batches of ${ENGINE_BATCH} in ${Math.round(transactions)} transactions`);
    } finally {
      await writer.close();
    }
  } else {
    for (const batch of generate(N, BATCH, SEED)) {
      await inv.recordServices('r-bench', batch);
      written += batch.length;
      progress();
    }
  }
  const ingestS = (performance.now() - t0) / 1000;
  if (args.analyze) {
    const ta = performance.now();
    await sql.raw(inv.kind === 'sqlite' ? 'PRAGMA optimize=0x10002' : 'ANALYZE').execute(inv.db);
    console.log(`  ${inv.kind}: statistics gathered in ${((performance.now() - ta) / 1000).toFixed(1)} s`);
  }
  const t1 = performance.now();
  await inv.finishRun('r-bench', 'completed', { stats: { services: written } });
  const finishS = (performance.now() - t1) / 1000;
  const sum = await inv.summary();
  console.log(
    `${inv.kind}: ingested ${sum.services} services on ${sum.assets} hosts with ${sum.openFindings} open findings in ${ingestS.toFixed(1)} s (${Math.round(sum.services / ingestS)}/s), finishRun ${finishS.toFixed(1)} s; database ${await sizeOf()}`,
  );
  return { ingestS, finishS };
}

async function workload(inv: KyselyInventory): Promise<{ search: number[]; facet: number[] }> {

  const time = async (fn: () => Promise<unknown>): Promise<{ first: number; runs: number[] }> => {
    const a = performance.now();
    await fn();
    const first = performance.now() - a;
    const runs: number[] = [];
    for (let i = 0; i < REPEAT; i++) {
      const b = performance.now();
      await fn();
      runs.push(performance.now() - b);
    }
    return { first, runs };
  };
  const search: number[] = [];
  console.log(`  search (limit 100 with total; first run, then median / max of ${REPEAT}):`);
  for (const { q, opts } of QUERIES) {
    let total: number | null = null;
    const t = await time(async () => {
      total = (await inv.search(q, { now: NOW, ...opts })).total;
    });
    search.push(...t.runs);
    const sorted = [...t.runs].sort((x, y) => x - y);
    console.log(
      `    ${ms(t.first).padStart(10)} ${ms(percentile(sorted, 50)).padStart(10)} ${ms(sorted[sorted.length - 1]!).padStart(10)}  ${String(total).padStart(8)}  ${JSON.stringify(q)}${opts ? ` ${JSON.stringify(opts)}` : ''}`,
    );
  }
  const facet: number[] = [];
  console.log('  facets:');
  for (const { q, field, assets } of FACETS) {
    let top = '';
    const t = await time(async () => {
      const f = await inv.facets(q, field, { now: NOW, assets: assets === true });
      top = f.buckets
        .slice(0, 3)
        .map((b) => `${b.value}=${b.count}`)
        .join(' ');
    });
    facet.push(...t.runs);
    const sorted = [...t.runs].sort((x, y) => x - y);
    console.log(
      `    ${ms(t.first).padStart(10)} ${ms(percentile(sorted, 50)).padStart(10)} ${ms(sorted[sorted.length - 1]!).padStart(10)}  ${field}${assets ? ' (hosts)' : ''} for ${JSON.stringify(q)}: ${top}`,
    );
  }
  return { search, facet };
}

function summary(r: Report): string {
  const s = [...r.search].sort((a, b) => a - b);
  const f = [...r.facet].sort((a, b) => a - b);
  const all = [...s, ...f].sort((a, b) => a - b);
  const ingested = Number.isNaN(r.ingestS) ? 'existing inventory' : `ingest ${r.ingestS.toFixed(1)} s (+ finishRun ${r.finishS.toFixed(1)} s)`;
  if (all.length === 0) return `${r.engine.padEnd(9)} ${ingested} | ${r.size}`;
  return `${r.engine.padEnd(9)} ${ingested} | search p50 ${ms(percentile(s, 50))}, p95 ${ms(percentile(s, 95))} | facets p50 ${ms(percentile(f, 50))}, p95 ${ms(percentile(f, 95))} | all p95 ${ms(percentile(all, 95))} | ${r.size}`;
}

/**
 * The same workload through a second reader with the column index (search/column-index.ts), as
 * `medsurface serve` reads: totals, facets and service pages from memory; its build time printed.
 */
async function withColumns(file: string, ingestS: number, finishS: number, size: string): Promise<Report> {
  const inv = await openKyselyInventory(file, { now: () => new Date(NOW).toISOString(), columnIndex: { minServices: 0 } });
  try {
    const t0 = performance.now();
    const idx = await inv.refreshColumns();
    if (idx === null) throw new Error('the column index was not built');
    const mem = process.memoryUsage();
    console.log(
      `sqlite+columns: column index of ${idx.services} services read in ${(idx.buildMs / 1000).toFixed(1)} s, ready with its sort orders in ${((performance.now() - t0) / 1000).toFixed(1)} s (process heap ${(mem.heapUsed / 2 ** 20).toFixed(0)} MiB, typed arrays ${(mem.arrayBuffers / 2 ** 20).toFixed(0)} MiB)`,
    );
    return { engine: 'sqlite+columns', ingestS, finishS, size, ...(await workload(inv)) };
  } finally {
    await inv.close();
  }
}

async function main(): Promise<void> {
  console.log(
    args.existing === undefined
      ? `bench/inventory: ${N} services, batches of ${BATCH}, seed ${SEED}, ${REPEAT} timed runs per query${args.analyze ? ', statistics gathered after ingest' : ''}`
      : `bench/inventory: workload only, ${REPEAT} timed runs per query`,
  );
  const reports: Report[] = [];
  if (args.existing !== undefined) {
    const inv = await openKyselyInventory(args.existing, { now: () => new Date(NOW).toISOString() });
    try {
      const sum = await inv.summary();
      console.log(`${inv.kind} at ${inv.location}: ${sum.services} services, ${sum.assets} hosts, ${sum.openFindings} open findings`);
      if (!args['columns-only']) reports.push({ engine: inv.kind, ingestS: Number.NaN, finishS: Number.NaN, size: '', ...(await workload(inv)) });
    } finally {
      await inv.close();
    }
    if (inv.kind === 'sqlite') reports.push(await withColumns(args.existing, Number.NaN, Number.NaN, ''));
  }
  if (args.existing === undefined && args.only !== 'postgres') {
    const dir = mkdtempSync(path.join(tmpdir(), 'medsurface-bench-'));
    const file = path.join(dir, 'inventory.sqlite');
    const inv = await openKyselyInventory(file, { now: () => new Date(NOW).toISOString() });
    try {
      if (args['what-if-drop'] !== undefined) await whatIfDrop(inv, args['what-if-drop']);
      reports.push(
        await bench(inv, async () => {
          let bytes = 0;
          for (const f of [file, `${file}-wal`]) bytes += statSync(f, { throwIfNoEntry: false })?.size ?? 0;
          return `${(bytes / 1e6).toFixed(0)} MB`;
        }),
      );
      if (!args['ingest-only']) {
        const r = reports[reports.length - 1]!;
        reports.push(await withColumns(file, r.ingestS, r.finishS, r.size));
      }
    } finally {
      await inv.close();
      if (args.keep) console.log(`  kept ${file}`);
      else rmSync(dir, { recursive: true, force: true });
    }
  }
  if (args.existing === undefined && args.only !== 'sqlite') {
    const name = `medsurface_bench_${randomBytes(4).toString('hex')}`;
    const admin = async (sqlText: string) => {
      const c = new pg.Client({ connectionString: PG_ADMIN, connectionTimeoutMillis: 5000 });
      await c.connect();
      try {
        return await c.query(sqlText);
      } finally {
        await c.end();
      }
    };
    await admin(`CREATE DATABASE ${name}`);
    const url = new URL(PG_ADMIN);
    url.pathname = `/${name}`;
    const inv = await openKyselyInventory(url.toString(), { now: () => new Date(NOW).toISOString() });
    try {
      reports.push(
        await bench(inv, async () => {
          const r = await admin(`SELECT pg_size_pretty(pg_database_size('${name}')) AS s`);
          return String(r.rows[0]?.s);
        }),
      );
    } finally {
      await inv.close();
      if (args.keep) console.log(`  kept database ${name}`);
      else await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  }
  const whatIf = args['what-if-drop'] === undefined ? '' : `; SQLite WHAT-IF without ${args['what-if-drop']}, not the shipped schema`;
  console.log(`\nsummary (${args.existing === undefined ? `${N} services` : "existing inventory"}${whatIf}; goal: ingest <= 60 s on SQLite, p95 <= 200 ms):`);
  for (const r of reports) console.log(`  ${summary(r)}`);
}

await main();
