/**
 * The search language against real databases: the same records are written to SQLite and to
 * the local PostgreSQL server through recordServices (attribution, tags, risk scores and
 * honeypot verdicts are then set with direct updates, the same on both), then the same queries
 * must give
 *  (1) the answers a reference evaluator computes in JavaScript from the rows (an independent
 *      reading of the documented semantics),
 *  (2) exactly the same rows, in the same order, on both engines,
 *  (3) facets whose buckets equal the totals of `QUERY field:"value"`.
 * PostgreSQL must be reachable: when it is not, these tests fail (never skip). Admin URL:
 * MEDSURFACE_TEST_PG, default postgres://postgres@127.0.0.1:5432/test; a fresh database is
 * created per run and dropped after.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import pg from 'pg';
import { UsageError } from '../../core/errors.js';
import { type Finding, SEVERITIES, type ServiceRecord, type Severity } from '../../core/types.js';
import { openKyselyInventory } from '../db.js';
import type { KyselyInventory } from '../kysely-store.js';
import { type FieldValue, type QueryNode, RISK_BUCKETS, SEARCH_SEVERITIES, SearchQueryError, type TimeValue } from './ast.js';
import { FACET_FIELDS, type FacetResult } from './facets.js';
import { parseQuery } from './parser.js';
import type { SearchOptions, SearchResult } from './run-search.js';

const ADMIN_URL = process.env.MEDSURFACE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const NOW = '2026-11-15T12:00:00.000Z';
const NOW_MS = Date.parse(NOW);
const DAY = 86_400_000;

// ------------------------------------------------------------------ seed data

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

const f = (id: string, severity: Severity): Finding => ({ id, severity, title: `title of ${id}`, confidence: 'confirmed' });

/** Hand-written services whose answers the tests state outright. */
function named(ts: string): ServiceRecord[] {
  const base = { status: 'success' as const, timestamp: ts, data: {} };
  const orthanc = { vendor: 'Orthanc', product: 'Orthanc', deviceType: 'pacs' as const, evidence: [] };
  return [
    {
      ...base,
      ip: '127.77.0.10',
      port: 104,
      protocol: 'dicom',
      product: 'DCMTK',
      vendor: 'OFFIS',
      version: '3.6.7',
      cpe: 'cpe:2.3:a:offis:dcmtk:3.6.7:*:*:*:*:*:*:*',
      deviceType: 'dicom-toolkit',
      asset: orthanc,
      findings: [f('dicom-any-ae', 'high'), f('dicom-no-tls', 'medium')],
      checksRun: ['dicom-any-ae', 'dicom-no-tls'],
    },
    {
      ...base,
      ip: '127.77.0.10',
      port: 8042,
      protocol: 'http',
      product: 'Orthanc',
      vendor: 'Orthanc',
      version: '1.10.1',
      deviceType: 'pacs',
      asset: orthanc,
      findings: [f('http-default-credentials', 'critical')],
      checksRun: ['http-default-credentials'],
    },
    // No identity at all: -vendor:acme must still find it.
    { ...base, ip: '127.77.0.11', port: 104, protocol: 'dicom', findings: [], checksRun: ['dicom-any-ae'] },
    // LIKE metacharacters in values: they must match literally.
    {
      ...base,
      ip: '127.77.0.12',
      port: 4242,
      protocol: 'dicom',
      product: 'Foo_Bar 100%',
      vendor: 'ACME',
      hostname: 'pacs.radiology.example',
      asset: { vendor: 'ACME', product: 'Foo_Bar 100%', deviceType: 'ct', evidence: [] },
      findings: [f('CVE-2024-1234', 'critical')],
      checksRun: ['CVE-2024-1234'],
    },
    { ...base, ip: '::1', port: 11112, protocol: 'dicom', product: 'fo-dicom', vendor: 'fo-dicom', findings: [f('dicom-any-ae', 'high')], checksRun: ['dicom-any-ae'] },
    { ...base, ip: '127.77.1.5', port: 2575, protocol: 'hl7', status: 'protocol-error', findings: [f('hl7-open', 'low')], checksRun: ['hl7-open'] },
  ];
}

const PRODUCTS: [string, string, string][] = [
  ['OFFIS', 'DCMTK', 'dicom-toolkit'],
  ['Orthanc', 'Orthanc', 'pacs'],
  ['dcm4che', 'dcm4che', 'dicom-toolkit'],
  ['dcm4che', 'dcm4chee-arc', 'pacs'],
  ['Merge Healthcare', 'MergeCOM-3', 'dicom-toolkit'],
  ['GE HealthCare', 'Centricity', 'pacs'],
  ['HAPI', 'HAPI FHIR', 'fhir-server'],
  ['NextGen Healthcare', 'Mirth Connect', 'interface-engine'],
];
const HOST_TYPES = ['pacs', 'ct', 'mri', 'workstation', 'unknown-medical', 'unknown'] as const;
const PORTS: [number, ServiceRecord['protocol']][] = [
  [104, 'dicom'],
  [11112, 'dicom'],
  [4242, 'dicom'],
  [80, 'http'],
  [443, 'http'],
  [8080, 'fhir'],
  [2575, 'hl7'],
  [5900, null],
];
const CHECKS: [string, Severity][] = [
  ['dicom-any-ae', 'high'],
  ['dicom-no-tls', 'medium'],
  ['dicom-query-open', 'high'],
  ['dicom-records-reachable', 'critical'],
  ['http-server-version', 'info'],
  ['http-admin-exposed', 'low'],
  ['CVE-2022-2119', 'critical'],
];

/** Generated services: identities, ports, times and findings spread over small pools. */
function generated(r: () => number, hosts: number, runTime: (h: number) => string): ServiceRecord[] {
  const out: ServiceRecord[] = [];
  for (let h = 0; h < hosts; h++) {
    const ip = h % 17 === 0 ? `fd00::${h.toString(16)}` : `127.78.${h >> 8}.${h & 0xff}`;
    const hostProduct = r() < 0.7 ? PRODUCTS[Math.floor(r() * PRODUCTS.length)]! : undefined;
    const hostType = HOST_TYPES[Math.floor(r() * HOST_TYPES.length)]!;
    const hostname = r() < 0.15 ? `host${h}.clinic-${h % 5}.example` : undefined;
    const n = 1 + Math.floor(r() * 3);
    const used = new Set<number>();
    for (let s = 0; s < n; s++) {
      const [port, protocol] = PORTS[Math.floor(r() * PORTS.length)]!;
      if (used.has(port)) continue;
      used.add(port);
      const own = r() < 0.6 ? PRODUCTS[Math.floor(r() * PRODUCTS.length)]! : undefined;
      const findings: Finding[] = [];
      for (const [id, sev] of CHECKS) if (r() < 0.22) findings.push(f(id, sev));
      out.push({
        ip,
        port,
        protocol,
        status: r() < 0.9 ? 'success' : 'application-error',
        timestamp: runTime(h),
        ...(hostname ? { hostname } : {}),
        ...(own ? { vendor: own[0], product: r() < 0.1 ? own[1].toLowerCase() : own[1], deviceType: own[2] as 'pacs' } : {}),
        ...(own && r() < 0.7 ? { version: `${1 + Math.floor(r() * 3)}.${Math.floor(r() * 10)}.${Math.floor(r() * 3)}` } : {}),
        ...(own && r() < 0.4 ? { cpe: `cpe:2.3:a:${own[0].toLowerCase().replace(/ /g, '_')}:${own[1].toLowerCase()}:*:*:*:*:*:*:*:*` } : {}),
        asset: hostProduct
          ? { vendor: hostProduct[0], product: hostProduct[1], deviceType: hostType, evidence: [] }
          : { deviceType: hostType, evidence: [] },
        findings,
        checksRun: CHECKS.map(([id]) => id),
        data: {},
      });
    }
  }
  return out;
}

/** A deterministic hash of a string, so both engines get the same seeded values. */
function hashOf(text: string): number {
  return [...text].reduce((a, c) => (a * 31 + c.charCodeAt(0)) >>> 0, 7);
}

interface HostSeed {
  country: string | null;
  asn: number | null;
  org: string | null;
  tags: string[];
  honeypot: boolean;
  risk: number;
}

/**
 * Attribution, tags, honeypot verdict and risk of the named hosts, stated outright. Country
 * codes in lower case and an org differing only in case check case-insensitive matching;
 * 127.77.1.5 is a honeypot.
 */
const NAMED_HOSTS: Record<string, HostSeed> = {
  '127.77.0.10': { country: 'NL', asn: 1103, org: 'Example Hospital', tags: ['radiology', 'pacs-main'], honeypot: false, risk: 97 },
  '127.77.0.11': { country: 'de', asn: null, org: null, tags: [], honeypot: false, risk: 0 },
  '127.77.0.12': { country: 'NL', asn: 3320, org: 'St. Clinic 100%', tags: ['radiology', 'site_a.x:1'], honeypot: false, risk: 55 },
  '::1': { country: null, asn: null, org: null, tags: [], honeypot: false, risk: 40 },
  '127.77.1.5': { country: 'US', asn: 1103, org: 'example hospital', tags: ['lab'], honeypot: true, risk: 12 },
};
/** Service risk of the named services (ip|port). */
const NAMED_RISK: Record<string, number> = {
  '127.77.0.10|104': 75,
  '127.77.0.10|8042': 95,
  '127.77.0.11|104': 0,
  '127.77.0.12|4242': 55,
  '::1|11112': 40,
  '127.77.1.5|2575': 12,
};

function generatedHost(ip: string): HostSeed {
  const h = hashOf(ip);
  const tags = ['radiology', 'icu', 'site-a', 'site-b'].filter((_, i) => ((h >>> (i + 3)) & 3) === 0);
  return {
    country: ['NL', 'DE', 'US', 'nl', null][h % 5]!,
    asn: [1103, 3320, 7018, null][(h >>> 2) % 4]!,
    org: ['Example Hospital', 'example hospital', 'St. Clinic 100%', 'Radiology_Center', null][(h >>> 4) % 5]!,
    tags,
    honeypot: h % 13 === 0,
    risk: (h >>> 6) % 101,
  };
}

function generatedRisk(key: string): number {
  const h = hashOf(key);
  return h % 4 === 0 ? 0 : (h >>> 3) % 101;
}

/**
 * What the store does not write yet (country, asn, org, tags) and what a rescore would (risk,
 * honeypot), set with direct updates.
 */
async function seedAttribution(inv: KyselyInventory): Promise<void> {
  const assets = await inv.db.selectFrom('assets').select(['id', 'ip']).execute();
  for (const a of assets) {
    const h = NAMED_HOSTS[a.ip] ?? generatedHost(a.ip);
    await inv.db
      .updateTable('assets')
      .set({ country: h.country, asn: h.asn, org: h.org, honeypot: h.honeypot ? 1 : 0, risk: h.risk })
      .where('id', '=', a.id)
      .execute();
    if (h.tags.length > 0) {
      await inv.db
        .insertInto('asset_tags')
        .values(h.tags.map((tag) => ({ asset_id: a.id, tag })))
        .execute();
    }
  }
  const services = await inv.db.selectFrom('services').select(['id', 'ip', 'port']).execute();
  for (const sv of services) {
    const key = `${sv.ip}|${sv.port}`;
    await inv.db
      .updateTable('services')
      .set({ risk: NAMED_RISK[key] ?? generatedRisk(key) })
      .where('id', '=', sv.id)
      .execute();
  }
}

/** Two runs 40 days apart (some findings fixed in between, some hosts gone quiet), then user triage and attribution. */
async function seed(inv: KyselyInventory): Promise<void> {
  const t1 = new Date(NOW_MS - 45 * DAY).toISOString();
  await inv.createRun({ id: 'r-1', profile: 'safe', targets: [], options: {}, totalTargets: 0 });
  const first = [...named(t1), ...generated(rng(7), 160, (h) => new Date(NOW_MS - 45 * DAY - h * 3_600_000).toISOString())];
  await inv.recordServices('r-1', first);
  await inv.finishRun('r-1', 'completed', { stats: {} });

  // Run 2 sees two thirds of the generated hosts again, with fresh random findings (so some
  // resolve), and the named services unchanged except the PACS's any-AE, fixed.
  await inv.createRun({ id: 'r-2', profile: 'safe', targets: [], options: {}, totalTargets: 0 });
  const t2 = new Date(NOW_MS - 2 * DAY).toISOString();
  const again = generated(rng(11), 160, (h) => new Date(NOW_MS - 5 * DAY + h * 1_800_000).toISOString()).filter((_, i) => i % 3 !== 0);
  const named2 = named(t2).map((r) =>
    r.ip === '127.77.0.10' && r.port === 104 ? { ...r, findings: r.findings.filter((x) => x.id !== 'dicom-any-ae') } : r,
  );
  await inv.recordServices('r-2', [...named2, ...again]);
  const quiet = ['127.78.0.3', '127.78.0.6', '127.78.0.9'];
  await inv.finishRun('r-2', 'completed', { stats: {}, unreachableHosts: quiet });

  // Triage: deterministic by (ip, port, check) so both engines get the same.
  const all = await inv.listFindings({ limit: 100_000 });
  const states = ['accepted-risk', 'false-positive', 'fixed'] as const;
  for (const x of all) {
    const h = hashOf(`${x.ip}|${x.port}|${x.checkId}`);
    if (h % 9 === 0) await inv.setUserState(x.id, states[h % 3]!);
  }
  await seedAttribution(inv);
}

// ------------------------------------------------------------------ reference evaluator

interface RefService {
  key: string;
  ip: string;
  ipKey: string;
  port: number;
  protocol: string | null;
  status: string;
  product: string | null;
  vendor: string | null;
  version: string | null;
  cpe: string | null;
  deviceType: string | null;
  firstSeen: string;
  lastSeen: string;
  asset: { product: string | null; vendor: string | null; deviceType: string | null; hostname: string | null };
  findings: { checkId: string; severity: string; state: string; userState: string | null }[];
  risk: number;
  country: string | null;
  asn: number | null;
  org: string | null;
  tags: string[];
  honeypot: boolean;
}

async function loadReference(inv: KyselyInventory): Promise<RefService[]> {
  const rows = await inv.db
    .selectFrom('services')
    .innerJoin('assets', 'assets.id', 'services.asset_id')
    .selectAll('services')
    .select([
      'assets.product as a_product',
      'assets.vendor as a_vendor',
      'assets.device_type as a_type',
      'assets.hostname',
      'assets.country',
      'assets.asn',
      'assets.org',
      'assets.honeypot',
    ])
    .execute();
  const fs = await inv.db.selectFrom('findings').selectAll().execute();
  const tags = await inv.db.selectFrom('asset_tags').selectAll().execute();
  return rows.map((r) => ({
    key: `${r.ip}|${r.port}`,
    ip: r.ip,
    ipKey: r.ip_key,
    port: Number(r.port),
    protocol: r.protocol,
    status: r.status,
    product: r.product,
    vendor: r.vendor,
    version: r.version,
    cpe: r.cpe,
    deviceType: r.device_type,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    asset: { product: r.a_product, vendor: r.a_vendor, deviceType: r.a_type, hostname: r.hostname },
    findings: fs
      .filter((x) => Number(x.service_id) === Number(r.id))
      .map((x) => ({ checkId: x.check_id, severity: x.severity, state: x.state, userState: x.user_state })),
    risk: Number(r.risk),
    country: r.country,
    asn: r.asn === null ? null : Number(r.asn),
    org: r.org,
    tags: tags.filter((t) => Number(t.asset_id) === Number(r.asset_id)).map((t) => t.tag),
    honeypot: Number(r.honeypot) === 1,
  }));
}

/** Glob (`*` when `wildcard`) to an anchored, case-insensitive regular expression. */
function glob(pattern: string, wildcard: boolean, anchored = true): RegExp {
  const body = [...pattern].map((c) => (c === '*' && wildcard ? '.*' : c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('');
  return new RegExp(anchored ? `^${body}$` : body, 'is');
}

const has = (v: string | null, re: RegExp): boolean => v !== null && re.test(v);

function instantOf(t: TimeValue, op: string): { lo?: string; hi?: string; at?: string } {
  if (t.kind === 'day') return op === '=' ? { lo: t.start, hi: t.end } : { lo: t.start, hi: t.end };
  return { at: t.kind === 'instant' ? t.at : new Date(NOW_MS - t.ms).toISOString() };
}

function cmp<T>(a: T, op: string, b: T): boolean {
  switch (op) {
    case '=':
      return a === b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '<':
      return a < b;
    default:
      return a <= b;
  }
}

function refValue(s: RefService, field: string, op: string, v: FieldValue): boolean {
  const active = s.findings.filter((x) => x.state === 'open' && x.userState === null);
  const maxRank = Math.max(0, ...active.map((x) => SEVERITIES.indexOf(x.severity as Severity) + 1));
  if (v.kind === 'any') {
    switch (field) {
      case 'product':
      case 'vendor':
        return s[field] !== null || s.asset[field] !== null;
      case 'devicetype':
        return s.deviceType !== null || s.asset.deviceType !== null;
      case 'hostname':
        return s.asset.hostname !== null;
      case 'protocol':
      case 'version':
      case 'cpe':
        return s[field] !== null;
      case 'finding':
      case 'severity':
        return active.length > 0;
      case 'state':
        return s.findings.length > 0;
      case 'country':
      case 'asn':
      case 'org':
        return s[field] !== null;
      case 'tag':
        return s.tags.length > 0;
      case 'port':
      case 'risk':
      case 'honeypot':
      case 'lastseen':
      case 'firstseen':
        return true;
      default:
        throw new Error(`reference: no * for ${field}`);
    }
  }
  switch (field) {
    case 'ip':
      return v.kind === 'ip' && s.ipKey >= v.lo && s.ipKey <= v.hi;
    case 'port':
    case 'risk':
      if (v.kind === 'range') return s[field] >= v.lo && s[field] <= v.hi;
      return v.kind === 'int' && cmp(s[field], op, v.value);
    case 'country':
      return v.kind === 'enum' && s.country !== null && s.country.toUpperCase() === v.value.toUpperCase();
    case 'asn':
      return v.kind === 'int' && s.asn === v.value;
    case 'org':
      return v.kind === 'text' && has(s.org, glob(v.pattern, v.wildcard));
    case 'tag':
      return v.kind === 'text' && s.tags.some((t) => glob(v.pattern, v.wildcard).test(t));
    case 'honeypot':
      return v.kind === 'bool' && s.honeypot === v.value;
    case 'protocol':
    case 'status':
      return v.kind === 'enum' && s[field] === v.value;
    case 'devicetype':
      return v.kind === 'enum' && (s.deviceType === v.value || s.asset.deviceType === v.value);
    case 'product':
    case 'vendor': {
      if (v.kind !== 'text') return false;
      const re = glob(v.pattern, v.wildcard);
      return has(s[field], re) || has(s.asset[field], re);
    }
    case 'version':
    case 'cpe':
      return v.kind === 'text' && has(s[field], glob(v.pattern, v.wildcard));
    case 'hostname':
      return v.kind === 'text' && has(s.asset.hostname, glob(v.pattern, v.wildcard));
    case 'finding':
      return v.kind === 'text' && active.some((x) => glob(v.pattern, v.wildcard).test(x.checkId));
    case 'severity':
      return v.kind === 'enum' && cmp(maxRank, op, SEARCH_SEVERITIES.indexOf(v.value as 'none'));
    case 'state':
      if (v.kind !== 'enum') return false;
      if (v.value === 'open') return active.length > 0;
      if (v.value === 'resolved' || v.value === 'unverified') return s.findings.some((x) => x.state === v.value);
      return s.findings.some((x) => x.userState === v.value);
    case 'lastseen':
    case 'firstseen': {
      if (v.kind !== 'time') return false;
      const t = field === 'lastseen' ? s.lastSeen : s.firstSeen;
      const i = instantOf(v.time, op);
      if (i.at !== undefined) return cmp(t, op, i.at);
      switch (op) {
        case '=':
          return t >= i.lo! && t < i.hi!;
        case '>':
          return t >= i.hi!;
        case '>=':
          return t >= i.lo!;
        case '<':
          return t < i.lo!;
        default:
          return t < i.hi!;
      }
    }
    default:
      throw new Error(`reference: no field ${field}`);
  }
}

function refEval(n: QueryNode, s: RefService): boolean {
  switch (n.type) {
    case 'all':
      return true;
    case 'and':
      return n.children.every((c) => refEval(c, s));
    case 'or':
      return n.children.some((c) => refEval(c, s));
    case 'not':
      return !refEval(n.child, s);
    case 'text': {
      const re = glob(n.pattern, n.wildcard, false);
      return [s.product, s.vendor, s.asset.product, s.asset.vendor, s.asset.hostname].some((x) => has(x, re));
    }
    case 'term':
      return n.values.some((v) => refValue(s, n.field, n.op, v));
  }
}

/** Whether the query names honeypot: anywhere (read here independently of ast.ts). */
function refNamesHoneypot(n: QueryNode): boolean {
  if (n.type === 'term') return n.field === 'honeypot';
  if (n.type === 'not') return refNamesHoneypot(n.child);
  if (n.type === 'and' || n.type === 'or') return n.children.some(refNamesHoneypot);
  return false;
}

/** The documented answer of a search: the query's matches, without honeypot hosts unless the query names them or they are included. */
function refMatches(q: string, reference: RefService[], includeHoneypots = false): RefService[] {
  const ast = parseQuery(q);
  const keep = includeHoneypots || refNamesHoneypot(ast);
  return reference.filter((s) => refEval(ast, s) && (keep || !s.honeypot));
}

// ------------------------------------------------------------------ the workload

/** About twenty queries covering every key, operator and combination. */
const QUERIES: string[] = [
  '',
  'port:104',
  'product:orthanc',
  'product:ORTH* port:104',
  '-vendor:acme',
  'finding:dicom-any-ae severity>=high',
  'severity:none',
  'severity<medium',
  'severity>low -severity:critical',
  'devicetype:pacs OR devicetype:ct',
  'ip:127.77.0.0/16',
  'ip:fd00::/8 OR ip:::1',
  '"100%" OR foo_bar',
  'version:1.* protocol:http,fhir',
  'cpe:cpe:2.3:a:offis:*',
  'lastseen>7d port:104,11112',
  'lastseen<2026-10-01 OR firstseen:2026-10-01',
  'firstseen<30d',
  'state:resolved -state:open',
  'state:accepted-risk OR state:false-positive OR state:fixed',
  'state:unverified',
  'finding:CVE-* -(devicetype:pacs OR hostname:*.example)',
  'clinic-3 OR hostname:pacs.radiology.example',
  'status:application-error -product:*',
  'NOT (port>=1000 AND port<=5000)',
  'finding:*',
  'country:nl',
  'country:NL,us -asn:1103',
  'country:* -country:de',
  'asn:AS1103',
  'asn:3320,7018 OR -asn:*',
  'org:"example hospital"',
  'org:*clinic* OR org:radiology_*',
  '-org:* port:104',
  'org:"St. Clinic 100%"',
  'tag:radiology',
  'tag:site-* -tag:icu',
  '-tag:*',
  'tag:SITE_A.X:1',
  'risk>=70',
  'risk:40-69 OR risk:0',
  'risk<1 port:104',
  'risk>90 severity>=high',
  'honeypot:true',
  'honeypot:*',
  '-honeypot:true country:*',
  'tag:radiology OR honeypot:true',
  'honeypot:false',
];
const SORTS = ['ip', '-ip', 'port', '-lastseen', 'firstseen', '-severity', '-risk', 'risk'];
/** Queries whose facets are compared across engines and checked bucket by bucket. */
const FACET_QUERIES = ['', 'port:104', 'severity>=medium', '-product:orthanc', 'honeypot:*', 'country:nl,de tag:*'];

interface Answers {
  services: Record<string, SearchResult>;
  assets: Record<string, SearchResult>;
  facets: Record<string, FacetResult>;
  reference: RefService[];
}

async function answers(inv: KyselyInventory): Promise<Answers> {
  const out: Answers = { services: {}, assets: {}, facets: {}, reference: await loadReference(inv) };
  for (const q of QUERIES) {
    for (const sort of SORTS) out.services[`${q} | ${sort}`] = await inv.search(q, { sort, limit: 10_000 });
    for (const sort of ['ip', '-severity', 'lastseen', '-risk']) out.assets[`${q} | ${sort}`] = await inv.search(q, { sort, limit: 10_000, assets: true });
  }
  for (const q of FACET_QUERIES) {
    for (const field of FACET_FIELDS) {
      out.facets[`${q} | ${field}`] = await inv.facets(q, `${field}:1000`);
      out.facets[`${q} | ${field} | hosts`] = await inv.facets(q, `${field}:1000`, { assets: true });
      // With the honeypots the empty query has no condition at all: facets that read one table alone.
      if (q === '') out.facets[` | ${field} | services | all`] = await inv.facets(q, `${field}:1000`, { includeHoneypots: true });
    }
  }
  return out;
}

const results: { sqlite?: Answers; postgres?: Answers; columns?: Answers } = {};
const invs: { sqlite?: KyselyInventory; postgres?: KyselyInventory; columns?: KyselyInventory } = {};
const columnsDir = mkdtempSync(path.join(tmpdir(), 'medsurface-columns-'));
const pgName = `medsurface_search_${randomBytes(6).toString('hex')}`;
let pgCreated = false;

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

before(async () => {
  invs.sqlite = await openKyselyInventory(':memory:', { now: () => NOW });
  await seed(invs.sqlite);
  results.sqlite = await answers(invs.sqlite);
});

after(async () => {
  await invs.columns?.close();
  rmSync(columnsDir, { recursive: true, force: true });
  await invs.sqlite?.close();
  await invs.postgres?.close();
  if (pgCreated) await admin((c) => c.query(`DROP DATABASE IF EXISTS ${pgName} WITH (FORCE)`));
});

describe('search on PostgreSQL (the server must be up)', () => {
  test('seed and run the workload', async () => {
    await admin((c) => c.query(`CREATE DATABASE ${pgName}`));
    pgCreated = true;
    const url = new URL(ADMIN_URL);
    url.pathname = `/${pgName}`;
    invs.postgres = await openKyselyInventory(url.toString(), { now: () => NOW });
    assert.equal(invs.postgres.kind, 'postgres');
    await seed(invs.postgres);
    results.postgres = await answers(invs.postgres);
  });
});

function keysOf(r: SearchResult): string[] {
  return r.kind === 'services' ? r.rows.map((x) => `${x.ip}|${x.port}`) : r.rows.map((x) => x.ip);
}

describe('the column index (SQLite file)', () => {
  test('seed, build the index, and run the workload through it', async () => {
    invs.columns = await openKyselyInventory(path.join(columnsDir, 'inventory.sqlite'), { now: () => NOW, columnIndex: { minServices: 0 } });
    await seed(invs.columns);
    const idx = await invs.columns.refreshColumns();
    assert.ok(idx !== null, 'the index was built');
    const rows = await invs.columns.db.selectFrom('services').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    assert.equal(idx.services, Number(rows.n));
    results.columns = await answers(invs.columns);
    // Nothing was written meanwhile: every answer above took its totals, facets and service pages from the index.
    assert.equal(invs.columns.columns(), idx, 'the index stayed current through the workload');
  });

  test('gives exactly the answers of SQL: every total, page and facet', () => {
    assert.ok(results.sqlite && results.columns, 'both produced answers');
    const diffs: string[] = [];
    let compared = 0;
    for (const kind of ['services', 'assets', 'facets'] as const) {
      for (const [k, v] of Object.entries(results.sqlite[kind])) {
        compared++;
        const a = JSON.stringify(v, null, 1);
        const b = JSON.stringify(results.columns[kind][k], null, 1);
        if (a === b) continue;
        if (b === undefined) {
          diffs.push(`${kind} ${JSON.stringify(k)}: no answer through the index`);
          continue;
        }
        const la = a.split('\n');
        const lb = b.split('\n');
        const i = la.findIndex((l, j) => l !== lb[j]);
        diffs.push(`${kind} ${JSON.stringify(k)}: first difference at line ${i}:\n  sql:     ${la.slice(Math.max(0, i - 2), i + 3).join(' ')}\n  columns: ${lb.slice(Math.max(0, i - 2), i + 3).join(' ')}`);
      }
    }
    assert.equal(diffs.length, 0, `${diffs.length} answer(s) differ:\n${diffs.join('\n')}`);
    assert.ok(compared >= 800, `compared ${compared} answers`);
  });
});

describe('answers match the reference evaluator', () => {
  for (const engine of ['sqlite', 'postgres'] as const) {
    test(engine, () => {
      const a = results[engine];
      assert.ok(a, `${engine} produced answers`);
      assert.ok(a.reference.length > 250, `a meaningful data set (${a.reference.length} services)`);
      if (process.env.SEARCH_TEST_VERBOSE) for (const q of QUERIES) console.log(engine, a.services[`${q} | ip`]!.total, JSON.stringify(q));
      for (const q of QUERIES) {
        const want: RefService[] = refMatches(q, a.reference);
        const got: SearchResult = a.services[`${q} | ip`]!;
        const wantKeys: string[] = want.map((s) => s.key).sort();
        const gotKeys: string[] = keysOf(got).sort();
        assert.deepEqual(gotKeys, wantKeys, `${engine}: ${JSON.stringify(q)}: only in DB ${gotKeys.filter((k) => !wantKeys.includes(k)).slice(0, 10)}, only in reference ${wantKeys.filter((k) => !gotKeys.includes(k)).slice(0, 10)} (first 10 each)`);
        assert.equal(got.total, want.length, `${engine}: total of ${JSON.stringify(q)}`);
        const hosts = [...new Set(want.map((s) => s.ip))].sort();
        assert.deepEqual(keysOf(a.assets[`${q} | ip`]!).sort(), hosts, `${engine}: hosts of ${JSON.stringify(q)}`);
        assert.equal(a.assets[`${q} | ip`]!.total, hosts.length);
      }
    });
  }
});

test('SQLite and PostgreSQL return the same rows in the same order', () => {
  assert.ok(results.sqlite && results.postgres, 'both engines produced answers');
  const diffs: string[] = [];
  for (const kind of ['services', 'assets', 'facets'] as const) {
    for (const [k, v] of Object.entries(results.sqlite[kind])) {
      const a = JSON.stringify(v, null, 1);
      const b = JSON.stringify(results.postgres[kind][k], null, 1);
      if (a !== b) {
        if (b === undefined) {
          diffs.push(`${kind} ${JSON.stringify(k)}: no PostgreSQL answer`);
          continue;
        }
        const la = a.split('\n');
        const lb = b.split('\n');
        const i = la.findIndex((l, j) => l !== lb[j]);
        diffs.push(`${kind} ${JSON.stringify(k)}: first difference at line ${i}:\n  sqlite:   ${la.slice(Math.max(0, i - 2), i + 3).join(' ')}\n  postgres: ${lb.slice(Math.max(0, i - 2), i + 3).join(' ')}`);
      }
    }
  }
  assert.equal(diffs.length, 0, `${diffs.length} answer(s) differ:\n${diffs.join('\n')}`);
  assert.ok(Object.keys(results.sqlite.services).length >= 20 * SORTS.length);
  assert.equal(Object.keys(results.postgres.facets).length, Object.keys(results.sqlite.facets).length);
  assert.equal(Object.keys(results.postgres.services).length, Object.keys(results.sqlite.services).length);
  // The new keys answer something on both engines (an empty answer would compare equal too).
  for (const q of QUERIES.filter((x) => /country|asn|org|tag|risk|honeypot/.test(x))) {
    const total = results.sqlite.services[`${q} | ip`]!.total ?? 0;
    const all = results.sqlite.reference.length;
    assert.ok(total > 0 && (total < all || q === 'honeypot:*'), `${JSON.stringify(q)} selects some services, not all (${total} of ${all})`);
  }
});

describe('stated answers (SQLite)', () => {
  const rows = (q: string, opts: SearchOptions = {}) => invs.sqlite!.search(q, { limit: 10_000, ...opts });
  const named = (keys: string[]) => keys.filter((k) => k.startsWith('127.77.') || k.startsWith('::1'));

  test('identity fields match the service or its host; negation keeps unknowns', async () => {
    assert.deepEqual(named(keysOf(await rows('product:orthanc'))), ['127.77.0.10|104', '127.77.0.10|8042']);
    assert.deepEqual(named(keysOf(await rows('product:dcmtk'))), ['127.77.0.10|104']);
    assert.deepEqual(named(keysOf(await rows('devicetype:dicom-toolkit ip:127.77.0.0/16'))), ['127.77.0.10|104']);
    const notAcme = named(keysOf(await rows('-vendor:acme')));
    assert.ok(notAcme.includes('127.77.0.11|104'), 'a service without any vendor is not acme');
    assert.ok(!notAcme.includes('127.77.0.12|4242'));
  });

  test('LIKE metacharacters are literal, * is the wildcard', async () => {
    assert.deepEqual(keysOf(await rows('product:"foo_bar 100%"')), ['127.77.0.12|4242']);
    assert.deepEqual(keysOf(await rows('product:foo?bar*')), []);
    assert.deepEqual(keysOf(await rows('product:foo_b*')), ['127.77.0.12|4242']);
    assert.deepEqual(keysOf(await rows('product:fooxbar*')), [], '_ is not a one-character wildcard');
    assert.deepEqual(keysOf(await rows('"0%"')), ['127.77.0.12|4242']);
    assert.deepEqual(keysOf(await rows('"0%x"')), [], '% is not a wildcard');
  });

  test('severity is the highest open, untriaged finding; a fixed finding no longer counts', async () => {
    const r = await rows('ip:127.77.0.10');
    assert.ok(r.kind === 'services');
    assert.deepEqual(
      r.rows.map((x) => [x.port, x.maxSeverity]),
      [
        [104, 'medium'],
        [8042, 'critical'],
      ],
    );
    assert.deepEqual(keysOf(await rows('ip:127.77.0.10 finding:dicom-any-ae')), [], 'any-AE was resolved in run 2');
    assert.deepEqual(keysOf(await rows('ip:127.77.0.10 state:resolved')), ['127.77.0.10|104']);
    assert.deepEqual(keysOf(await rows('ip:127.77.0.0/23 severity:none')), ['127.77.0.11|104']);
  });

  test('times: whole UTC days, instants and ages against the clock', async () => {
    // Named services were first seen 45 days before NOW and last seen 2 days before.
    const first = new Date(NOW_MS - 45 * DAY).toISOString().slice(0, 10);
    const all = { includeHoneypots: true };
    assert.equal(named(keysOf(await rows(`firstseen:${first}`, all))).length, 6);
    assert.equal(named(keysOf(await rows(`firstseen:${first}`))).length, 5, 'the honeypot 127.77.1.5 is left out');
    assert.equal(named(keysOf(await rows(`firstseen>${first}`, all))).length, 0, 'after the day means after its end');
    assert.equal(named(keysOf(await rows(`firstseen<=${first}`, all))).length, 6);
    assert.equal(named(keysOf(await rows('lastseen>3d firstseen<44d', all))).length, 6);
    assert.equal(named(keysOf(await rows('lastseen>1d', all))).length, 0);
  });

  test('attribution and tags: country in any case, AS numbers, org text, lower-case tags', async () => {
    assert.deepEqual(named(keysOf(await rows('country:nl'))), ['127.77.0.10|104', '127.77.0.10|8042', '127.77.0.12|4242']);
    assert.deepEqual(named(keysOf(await rows('country:DE'))), ['127.77.0.11|104'], 'stored as "de"');
    assert.deepEqual(named(keysOf(await rows('country:us', { includeHoneypots: true }))), ['127.77.1.5|2575']);
    assert.deepEqual(named(keysOf(await rows('asn:AS1103'))), ['127.77.0.10|104', '127.77.0.10|8042']);
    assert.deepEqual(named(keysOf(await rows('asn:1103', { includeHoneypots: true }))), ['127.77.0.10|104', '127.77.0.10|8042', '127.77.1.5|2575']);
    assert.deepEqual(named(keysOf(await rows('ip:127.77.0.0/16 -asn:*'))), ['127.77.0.11|104']);
    assert.deepEqual(named(keysOf(await rows('org:"EXAMPLE HOSPITAL"', { includeHoneypots: true }))), ['127.77.0.10|104', '127.77.0.10|8042', '127.77.1.5|2575']);
    assert.deepEqual(named(keysOf(await rows('org:"st. clinic 100%"'))), ['127.77.0.12|4242']);
    assert.deepEqual(named(keysOf(await rows('org:*100%'))), ['127.77.0.12|4242']);
    assert.deepEqual(named(keysOf(await rows('org:"*100%"'))), [], 'a quoted * is literal');
    assert.deepEqual(named(keysOf(await rows('org:*1000*'))), []);
    assert.deepEqual(named(keysOf(await rows('tag:RADIOLOGY'))), ['127.77.0.10|104', '127.77.0.10|8042', '127.77.0.12|4242']);
    assert.deepEqual(named(keysOf(await rows('tag:pacs-*'))), ['127.77.0.10|104', '127.77.0.10|8042']);
    assert.deepEqual(keysOf(await rows('tag:site_*', { includeHoneypots: true })), ['127.77.0.12|4242'], '_ is literal: site-a does not match');
    assert.ok(keysOf(await rows('tag:site-*')).length > 0);
    assert.deepEqual(named(keysOf(await rows('tag:site_a.x:1'))), ['127.77.0.12|4242']);
    assert.deepEqual(named(keysOf(await rows('ip:127.77.0.0/16 -tag:*'))), ['127.77.0.11|104']);
    const r = await rows('ip:127.77.0.10 port:104');
    assert.ok(r.kind === 'services');
    assert.deepEqual(r.rows[0]!.asset, {
      vendor: 'Orthanc',
      product: 'Orthanc',
      deviceType: 'pacs',
      country: 'NL',
      asn: 1103,
      org: 'Example Hospital',
      honeypot: false,
    });
    assert.equal(r.rows[0]!.risk, 75);
  });

  test('risk: comparisons and inclusive ranges on the service score; sorting by risk', async () => {
    assert.deepEqual(named(keysOf(await rows('risk>=70'))), ['127.77.0.10|104', '127.77.0.10|8042']);
    assert.deepEqual(named(keysOf(await rows('risk>75'))), ['127.77.0.10|8042']);
    assert.deepEqual(named(keysOf(await rows('risk:40-55'))), ['127.77.0.12|4242', '::1|11112']);
    assert.deepEqual(named(keysOf(await rows('risk:0'))), ['127.77.0.11|104']);
    assert.deepEqual(named(keysOf(await rows('risk<=12', { includeHoneypots: true }))), ['127.77.0.11|104', '127.77.1.5|2575']);
    const byRisk = await rows('', { sort: '-risk' });
    assert.ok(byRisk.kind === 'services');
    const risks = byRisk.rows.map((x) => x.risk);
    assert.deepEqual(risks, [...risks].sort((a, b) => b - a), 'riskiest first');
    assert.deepEqual(named(keysOf(byRisk)).slice(0, 2), ['127.77.0.10|8042', '127.77.0.10|104']);
    const up = await rows('ip:127.77.0.0/16', { sort: 'risk' });
    assert.deepEqual(keysOf(up), ['127.77.0.11|104', '127.77.0.12|4242', '127.77.0.10|104', '127.77.0.10|8042']);
    const hosts = await rows('', { sort: '-risk', assets: true });
    assert.ok(hosts.kind === 'assets');
    const hostRisks = hosts.rows.map((x) => x.risk);
    assert.deepEqual(hostRisks, [...hostRisks].sort((a, b) => b - a), 'hosts by their own risk, riskiest first');
    assert.equal(hosts.rows.find((x) => x.ip === '127.77.0.10')?.risk, 97);
  });

  test('honeypots are left out unless the query names honeypot: or includeHoneypots is set', async () => {
    const left = await rows('ip:127.77.1.5');
    assert.deepEqual(keysOf(left), []);
    assert.equal(left.honeypotsExcluded, true);
    const kept = await rows('ip:127.77.1.5', { includeHoneypots: true });
    assert.deepEqual(keysOf(kept), ['127.77.1.5|2575']);
    assert.equal(kept.honeypotsExcluded, false);
    assert.ok(kept.kind === 'services' && kept.rows[0]!.asset.honeypot === true);
    assert.deepEqual(named(keysOf(await rows('honeypot:true'))), ['127.77.1.5|2575']);
    assert.equal((await rows('honeypot:true')).honeypotsExcluded, false);
    assert.deepEqual(keysOf(await rows('ip:127.77.1.0/24 honeypot:*')), ['127.77.1.5|2575']);
    assert.deepEqual(keysOf(await rows('ip:127.77.1.0/24 -honeypot:true')), []);
    assert.deepEqual(keysOf(await rows('ip:127.77.1.0/24 (port:1 OR honeypot:true)')), ['127.77.1.5|2575'], 'inside a group');
    assert.deepEqual(keysOf(await rows('"honeypot" OR ip:127.77.1.5')), [], 'free text is no honeypot: term');
    // Counts: everything = non-honeypots + honeypots.
    const everything = (await rows('', { limit: 0, includeHoneypots: true })).total!;
    const honeypots = (await rows('honeypot:true', { limit: 0 })).total!;
    assert.equal((await rows('', { limit: 0 })).total, everything - honeypots);
    assert.ok(honeypots > 1, `some generated honeypots too (${honeypots})`);
    const hostRows = await rows('ip:127.77.1.5', { assets: true, includeHoneypots: true });
    assert.ok(hostRows.kind === 'assets');
    assert.equal(hostRows.rows[0]!.honeypot, true);
    // Facets follow the same rule.
    const f = await invs.sqlite!.facets('ip:127.77.0.0/16', 'honeypot');
    assert.deepEqual(f.buckets, [{ value: 'false', count: 4 }]);
    assert.equal(f.honeypotsExcluded, true);
    const g = await invs.sqlite!.facets('ip:127.77.0.0/16', 'honeypot', { includeHoneypots: true });
    assert.deepEqual(g.buckets, [
      { value: 'false', count: 4 },
      { value: 'true', count: 1 },
    ]);
    assert.deepEqual(g, await invs.sqlite!.facets('ip:127.77.0.0/16 honeypot:*', 'honeypot'));
  });

  test('facets on the new fields', async () => {
    const fc2 = (field: string, opts = {}) => invs.sqlite!.facets('ip:127.77.0.0/16', `${field}:100`, opts);
    assert.deepEqual((await fc2('country')).buckets, [
      { value: 'NL', count: 3 },
      { value: 'DE', count: 1 },
    ]);
    assert.deepEqual((await fc2('asn')).buckets, [
      { value: 1103, count: 2 },
      { value: 3320, count: 1 },
    ]);
    assert.equal((await fc2('asn')).missing, 1);
    assert.deepEqual((await fc2('org', { includeHoneypots: true })).buckets, [
      { value: 'Example Hospital', count: 3 },
      { value: 'St. Clinic 100%', count: 1 },
    ], 'grouped without regard to case');
    assert.deepEqual((await fc2('tag')).buckets, [
      { value: 'radiology', count: 3 },
      { value: 'pacs-main', count: 2 },
      { value: 'site_a.x:1', count: 1 },
    ]);
    assert.deepEqual((await invs.sqlite!.facets('ip:127.77.0.0/16', 'tag', { assets: true })).buckets, [
      { value: 'radiology', count: 2 },
      { value: 'pacs-main', count: 1 },
      { value: 'site_a.x:1', count: 1 },
    ]);
    assert.deepEqual((await fc2('risk', { includeHoneypots: true })).buckets, [
      { value: '1-39', count: 1 },
      { value: '40-69', count: 1 },
      { value: '70-89', count: 1 },
      { value: '90-100', count: 1 },
      { value: '0', count: 1 },
    ].sort((a, b) => (a.value < b.value ? -1 : 1)));
    const all = await invs.sqlite!.facets('', 'risk:10', { includeHoneypots: true });
    assert.deepEqual(all.buckets.map((b) => b.value).sort(), RISK_BUCKETS.map((b) => b.label).sort(), 'every band occurs');
    assert.equal(all.buckets.reduce((n, b) => n + b.count, 0), all.total, 'bands partition the services');
  });

  test('paging, sorting and host rows', async () => {
    const all = await rows('', { sort: '-severity' });
    const page = await rows('', { sort: '-severity', limit: 7, offset: 5 });
    assert.deepEqual(keysOf(page), keysOf(all).slice(5, 12));
    assert.equal(page.total, all.total);
    assert.ok(all.kind === 'services');
    const ranks = all.rows.map((x) => SEARCH_SEVERITIES.indexOf(x.maxSeverity ?? 'none'));
    assert.deepEqual(ranks, [...ranks].sort((a, b) => b - a), 'most severe first');
    const hosts = await rows('ip:127.77.0.10', { assets: true });
    assert.ok(hosts.kind === 'assets');
    assert.deepEqual(hosts.rows, [
      {
        ip: '127.77.0.10',
        hostname: null,
        vendor: 'Orthanc',
        product: 'Orthanc',
        deviceType: 'pacs',
        services: 2,
        ports: [104, 8042],
        maxSeverity: 'critical',
        firstSeen: new Date(NOW_MS - 45 * DAY).toISOString(),
        lastSeen: new Date(NOW_MS - 2 * DAY).toISOString(),
        country: 'NL',
        asn: 1103,
        org: 'Example Hospital',
        honeypot: false,
        risk: 97,
      },
    ]);
    const noTotal = await invs.sqlite!.search('port:104', { total: false, limit: 1 });
    assert.equal(noTotal.total, null);
    assert.equal(noTotal.rows.length, 1);
  });

  test('errors: bad query, bad new-key values, bad sort, bad limit, bad facet', async () => {
    await assert.rejects(invs.sqlite!.search('port:104 OR'), (e: unknown) => e instanceof SearchQueryError && e.position === 9);
    await assert.rejects(invs.sqlite!.search('country:NLD'), (e: unknown) => e instanceof SearchQueryError && e.position === 8 && /two-letter country code/.test(e.message));
    await assert.rejects(invs.sqlite!.search('risk>=101'), (e: unknown) => e instanceof SearchQueryError && /not a risk score \(0-100\)/.test(e.message));
    await assert.rejects(invs.sqlite!.search('asn:ASN1'), (e: unknown) => e instanceof SearchQueryError && /not an autonomous system number/.test(e.message));
    await assert.rejects(invs.sqlite!.search('honeypot:yes'), (e: unknown) => e instanceof SearchQueryError && /not true or false/.test(e.message));
    await assert.rejects(invs.sqlite!.search('', { sort: 'country' }), /sort must be one of ip, port, lastseen, firstseen, severity, risk/);
    await assert.rejects(invs.sqlite!.search('', { sort: 'vendor' }), (e: unknown) => e instanceof UsageError && /sort must be one of/.test(e.message));
    await assert.rejects(invs.sqlite!.search('', { sort: 'port', assets: true }), UsageError);
    await assert.rejects(invs.sqlite!.search('', { limit: 10_001 }), /limit must be/);
    await assert.rejects(invs.sqlite!.facets('', 'risk:0'), /count must be from 1/);
    await assert.rejects(invs.sqlite!.facets('', 'ip'), /no facet on ip/);
    await assert.rejects(invs.sqlite!.facets('', 'port:0'), /count must be from 1/);
  });
});

describe('facet buckets equal the totals of QUERY field:"value"', () => {
  for (const engine of ['sqlite', 'postgres'] as const) {
    test(engine, async () => {
      const inv = invs[engine];
      const a = results[engine];
      assert.ok(inv && a, `${engine} is ready`);
      let checked = 0;
      for (const [key, facet] of Object.entries(a.facets)) {
        const [q, field, hosts, all] = key.split(' | ') as [string, string, string | undefined, string | undefined];
        const opts = { limit: 0, assets: hosts === 'hosts', includeHoneypots: all === 'all' };
        assert.equal(facet.total, (await inv.search(q, opts)).total, `${engine} ${key}: total`);
        for (const b of facet.buckets) {
          const term = `${field}:"${String(b.value).replace(/["\\]/g, '\\$&')}"`;
          const bare = ['port', 'severity', 'lastseen', 'firstseen', 'asn', 'risk', 'honeypot'].includes(field);
          const n: number | null = (await inv.search(`(${q || 'port:*'}) ${bare ? `${field}:${b.value}` : term}`, opts)).total;
          assert.equal(n, b.count, `${engine} ${key}: bucket ${b.value}`);
          checked++;
        }
        if (field !== 'severity') {
          assert.equal((await inv.search(`(${q || 'port:*'}) -${field}:*`, opts)).total, facet.missing, `${engine} ${key}: missing`);
        }
      }
      assert.ok(checked > 150, `checked ${checked} buckets`);
    });
  }
});

test('random queries agree with the reference on both engines, and the column index with SQL', async () => {
  assert.ok(invs.sqlite && invs.postgres && results.sqlite, 'both engines are ready');
  const ref = results.sqlite.reference;
  const term = fc.oneof(
    fc.constantFrom(104, 80, 2575, 5900, 11112).map((p) => `port:${p}`),
    fc.constantFrom('>=', '<', '>').chain((op) => fc.constantFrom(100, 1000, 8080).map((p) => `port${op}${p}`)),
    fc.constantFrom('orthanc', 'dcm*', '*fhir', 'acme', '"mirth connect"').map((v) => `product:${v}`),
    fc.constantFrom('dcm4che', 'ge*', 'offis').map((v) => `vendor:${v}`),
    fc.constantFrom('pacs', 'ct', 'unknown', 'dicom-toolkit').map((v) => `devicetype:${v}`),
    fc.constantFrom('dicom-any-ae', 'dicom-*', 'cve-*', '*').map((v) => `finding:${v}`),
    fc.constantFrom('>=high', ':none', '<=low', '>medium', ':critical').map((v) => `severity${v}`),
    fc.constantFrom('open', 'resolved', 'unverified', 'fixed').map((v) => `state:${v}`),
    fc.constantFrom('>7d', '<30d', '>2026-10-01', ':2026-10-01').map((v) => `lastseen${v}`),
    fc.constantFrom('127.78.0.0/24', 'fd00::/8', '127.0.0.0/8').map((v) => `ip:${v}`),
    fc.constantFrom('dicom', 'http', 'hl7').map((v) => `protocol:${v}`),
    fc.constantFrom('clinic', 'orth', '"HAPI F"').map((v) => v),
    fc.constantFrom('nl', 'DE', 'us,de', '*').map((v) => `country:${v}`),
    fc.constantFrom('AS1103', '3320', '*').map((v) => `asn:${v}`),
    fc.constantFrom('"example hospital"', '*clinic*', '*').map((v) => `org:${v}`),
    fc.constantFrom('radiology', 'site-*', 'icu,site-b', '*').map((v) => `tag:${v}`),
    fc.constantFrom('>=70', '<40', ':40-69', ':0', '>90').map((v) => `risk${v}`),
    fc.constantFrom('true', 'false', '*').map((v) => `honeypot:${v}`),
  );
  const query: fc.Arbitrary<string> = fc.letrec((tie) => ({
    q: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      term,
      fc.tuple(tie('q'), tie('q')).map(([a, b]) => `${a} ${b}`),
      fc.tuple(tie('q'), tie('q')).map(([a, b]) => `(${a} OR ${b})`),
      tie('q').map((a) => `-(${a})`),
    ),
  })).q as fc.Arbitrary<string>;
  const fields = ['product', 'devicetype', 'finding', 'state', 'tag', 'lastseen', 'country'] as const;
  await fc.assert(
    fc.asyncProperty(query, fc.constantFrom(...fields), fc.constantFrom('ip', '-risk', 'lastseen', '-severity'), async (q, field, sort) => {
      const want = refMatches(q, ref).map((s) => s.key).sort();
      for (const inv of [invs.sqlite!, invs.postgres!]) {
        const got = keysOf(await inv.search(q, { limit: 10_000 })).sort();
        assert.deepEqual(got, want, `${inv.kind}: ${q}`);
      }
      // Through the column index: the same page (in order), total and facet as SQL gives.
      assert.ok(invs.columns?.columns(), 'the column index is current');
      const page = { limit: 25, offset: 3, sort };
      assert.deepEqual(await invs.columns!.search(q, page), await invs.sqlite!.search(q, page), `columns: ${q} sorted ${sort}`);
      for (const assets of [false, true]) {
        assert.deepEqual(await invs.columns!.facets(q, `${field}:1000`, { assets }), await invs.sqlite!.facets(q, `${field}:1000`, { assets }), `columns: facet ${field} of ${q}`);
      }
    }),
    { numRuns: 150 },
  );
});
