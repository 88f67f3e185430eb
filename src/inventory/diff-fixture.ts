/**
 * Test support for diff.test.ts and the `medsurface diff` command tests: five scans of a small
 * lab block (127.77.1.0/24) written through the real store, with a pinned clock so SQLite and
 * PostgreSQL hold exactly the same history. Records are the check fixtures (src/checks/fixtures,
 * synthetic lab captures) with addresses, identities, findings and checks run varied per run.
 *
 *   r1 2026-01-01 completed /24  baseline: .10:11112 DCMTK, .11:4242 + .11:8042 Orthanc 1.10.1,
 *                                .12:2575 Mirth (hl7-no-tls, hl7-unauthenticated), .200:2575 Mirth
 *   r2 2026-01-02 completed /24  .12 fixed (hl7-unauthenticated ran, did not fire), .11 upgraded
 *                                to 1.12.3, .13:8042 Orthanc new, .20:104 a honeypot new
 *   r3 2026-01-03 interrupted    saw only .11 and .13 (misses .10, .12, .20, .200)
 *   r4 2026-01-04 completed /25  .10 and .20 unreachable, .11:8042 closed (.11:4242 answers);
 *                                .200 outside the targets
 *   rescore 2026-01-05 09:00     orthanc-rest-open on .13:8042 re-scored critical → high
 *   r5 2026-01-05 completed /24  .10 back, .12 fires hl7-unauthenticated again, .200 back
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../core/paths.js';
import type { Finding, ServiceRecord } from '../core/types.js';
import type { KyselyInventory } from './kysely-store.js';

export const DCMTK = '127.77.1.10';
export const ORTHANC = '127.77.1.11';
export const MIRTH = '127.77.1.12';
export const NEWCOMER = '127.77.1.13';
export const HONEYPOT = '127.77.1.20';
export const OUTSIDE = '127.77.1.200';

/** The pinned clock the store reads for run, resolution and rescore times. */
export class Clock {
  t = '2026-01-01T10:00:00.000Z';
  set(t: string): void {
    this.t = t;
  }
  readonly now = (): string => this.t;
}

function fixture(rel: string): ServiceRecord {
  return JSON.parse(readFileSync(path.join(packageRoot(), 'src', 'checks', 'fixtures', rel), 'utf8')) as ServiceRecord;
}

const TITLES: Record<string, string> = {
  'dicom-any-ae': 'DICOM server accepts any called AE title',
  'dicom-no-tls': 'DICOM without TLS',
  'orthanc-rest-open': 'Orthanc REST API open without authentication',
  'hl7-no-tls': 'HL7 MLLP without TLS',
  'hl7-unauthenticated': 'HL7 interface answers unauthenticated queries',
};

function finding(id: string, severity: Finding['severity']): Finding {
  return { id, severity, title: TITLES[id] ?? id, confidence: 'confirmed' };
}

const pacs = (version: string) => ({
  product: 'Orthanc',
  vendor: 'Orthanc',
  version,
  cpe: `cpe:2.3:a:orthanc-server:orthanc:${version}:*:*:*:*:*:*:*`,
  deviceType: 'pacs' as const,
  asset: { vendor: 'Orthanc', product: 'Orthanc', deviceType: 'pacs' as const, evidence: ['http.server:orthanc'] },
});

function dcmtk(ts: string): ServiceRecord {
  return {
    ...fixture('dicom/open-archive-safe.json'),
    ip: DCMTK,
    port: 11112,
    timestamp: ts,
    product: 'DCMTK',
    vendor: 'OFFIS',
    version: '3.6.7',
    deviceType: 'dicom-toolkit',
    findings: [finding('dicom-any-ae', 'high')],
    checksRun: ['dicom-any-ae', 'dicom-no-tls', 'dicom-query-open'],
  };
}

function orthancDicom(ts: string, version: string): ServiceRecord {
  return {
    ...fixture('dicom/open-archive-safe.json'),
    ip: ORTHANC,
    port: 4242,
    timestamp: ts,
    ...pacs(version),
    findings: [finding('dicom-no-tls', 'medium')],
    checksRun: ['dicom-any-ae', 'dicom-no-tls', 'dicom-query-open'],
  };
}

function orthancHttp(ip: string, ts: string, version: string, severity: Finding['severity'] = 'critical'): ServiceRecord {
  return {
    ...fixture('http/orthanc-open.json'),
    ip,
    timestamp: ts,
    ...pacs(version),
    findings: [finding('orthanc-rest-open', severity)],
    checksRun: ['orthanc-rest-open', 'http-admin-no-login', 'http-no-tls'],
  };
}

function mirth(ip: string, ts: string, unauthenticated: boolean): ServiceRecord {
  return {
    ...fixture('hl7/mirth.json'),
    ip,
    timestamp: ts,
    asset: { vendor: 'NextGen Healthcare', product: 'Mirth Connect', deviceType: 'interface-engine', evidence: ['hl7.sendingApplication:MIRTH'] },
    findings: [finding('hl7-no-tls', 'medium'), ...(unauthenticated ? [finding('hl7-unauthenticated', 'high')] : [])],
    checksRun: ['hl7-no-tls', 'hl7-unauthenticated'],
  };
}

function honeypot(ts: string): ServiceRecord {
  return {
    ...fixture('dicom/open-archive-safe.json'),
    ip: HONEYPOT,
    port: 104,
    timestamp: ts,
    product: 'DCMTK',
    vendor: 'OFFIS',
    deviceType: 'pacs',
    asset: { vendor: 'OFFIS', product: 'DCMTK', deviceType: 'pacs', evidence: [], honeypot: { signals: ['dicom-accepts-everything'] } },
    findings: [finding('dicom-any-ae', 'high')],
    checksRun: ['dicom-any-ae'],
  };
}

const LAB = '127.77.1.0/24';
const HALF = '127.77.1.0/25';

async function run(
  inv: KyselyInventory,
  clock: Clock,
  id: string,
  day: string,
  targets: string[],
  recs: (ts: string) => ServiceRecord[],
  end: 'completed' | 'interrupted',
  unreachableHosts: string[] = [],
): Promise<void> {
  clock.set(`${day}T10:00:00.000Z`);
  await inv.createRun({ id, profile: 'safe', targets, options: {}, totalTargets: 256 });
  await inv.recordServices(id, recs(`${day}T10:05:00.000Z`));
  clock.set(`${day}T11:00:00.000Z`);
  await inv.finishRun(id, end, { stats: {}, unreachableHosts });
}

/** Writes the five runs and the rescore described above. */
export async function buildScenario(inv: KyselyInventory, clock: Clock): Promise<void> {
  await run(inv, clock, 'r1', '2026-01-01', [LAB], (ts) => [
    dcmtk(ts),
    orthancDicom(ts, '1.10.1'),
    orthancHttp(ORTHANC, ts, '1.10.1'),
    mirth(MIRTH, ts, true),
    { ...mirth(OUTSIDE, ts, false), findings: [] },
  ], 'completed');

  // What the user and the attribution add between scans: a tag, a country and an organisation.
  const dcmtkAsset = await inv.db.selectFrom('assets').select('id').where('ip', '=', DCMTK).executeTakeFirstOrThrow();
  await inv.db.insertInto('asset_tags').values({ asset_id: dcmtkAsset.id, tag: 'radiology' }).execute();
  await inv.db.updateTable('assets').set({ country: 'NL', org: 'Lab Hospital' }).where('ip', '=', ORTHANC).execute();

  await run(inv, clock, 'r2', '2026-01-02', [LAB], (ts) => [
    dcmtk(ts),
    orthancDicom(ts, '1.12.3'),
    orthancHttp(ORTHANC, ts, '1.12.3'),
    mirth(MIRTH, ts, false),
    { ...mirth(OUTSIDE, ts, false), findings: [] },
    orthancHttp(NEWCOMER, ts, '1.12.3'),
    honeypot(ts),
  ], 'completed');

  await run(inv, clock, 'r3', '2026-01-03', [LAB], (ts) => [
    orthancDicom(ts, '1.12.3'),
    orthancHttp(ORTHANC, ts, '1.12.3'),
    orthancHttp(NEWCOMER, ts, '1.12.3'),
  ], 'interrupted');

  await run(inv, clock, 'r4', '2026-01-04', [HALF], (ts) => [
    orthancDicom(ts, '1.12.3'),
    mirth(MIRTH, ts, false),
    orthancHttp(NEWCOMER, ts, '1.12.3'),
  ], 'completed', [DCMTK, HONEYPOT]);

  clock.set('2026-01-05T09:00:00.000Z');
  const svc = await inv.db.selectFrom('services').select('id').where('ip', '=', NEWCOMER).where('port', '=', 8042).executeTakeFirstOrThrow();
  await inv.applyRescore([{ serviceId: Number(svc.id), findings: [finding('orthanc-rest-open', 'high')], risk: 70 }], []);

  await run(inv, clock, 'r5', '2026-01-05', [LAB], (ts) => [
    dcmtk(ts),
    orthancDicom(ts, '1.12.3'),
    mirth(MIRTH, ts, true),
    { ...mirth(OUTSIDE, ts, false), findings: [] },
    orthancHttp(NEWCOMER, ts, '1.12.3', 'high'),
  ], 'completed');
}
