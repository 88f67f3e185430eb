/**
 * Test support for the report tests, the `medsurface report` command tests and the sample
 * renderer (not used by the product): a lab-like inventory built from the check fixtures
 * (src/checks/fixtures, synthetic lab captures) on 127.77.x.y, judged by the real checks,
 * vulnerability database and risk score, written through the real store in two completed
 * runs a week apart, with a pinned clock:
 *
 *   r1 2026-03-02  intrusive, 127.77.0.0/16: 16 hosts
 *   r2 2026-03-09  intrusive, 127.77.0.0/16: the DCMTK node now checks the called AE title and the
 *                  HAPI FHIR server now asks for credentials (their findings resolve), the RDP host
 *                  no longer answers (gone, its findings unverified), a Dicoogle server is new
 *
 * Country, organisation, owner, notes and tags are set between the runs, as `medsurface
 * attribute` and `inventory tag` would. One host is a honeypot. Hostile strings (markup in a
 * product, a version, an organisation, a host name and a tag) and the lab's synthetic patient
 * canaries (in observation fields, a certificate subject, user notes: places a careless report
 * would print) are seeded; the report tests assert the markup is escaped and no canary appears.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../core/paths.js';
import type { Profile, ServiceRecord, TlsInfo } from '../core/types.js';
import { assessService } from '../engine/assess.js';
import { Clock } from '../inventory/diff-fixture.js';
import type { KyselyInventory } from '../inventory/kysely-store.js';
import { CLINICAL_LAB_CANARIES } from '../lab/nodes/clinical.js';
import { HL7_LAB_CANARIES } from '../lab/nodes/hl7.js';
import { CERT_LAB_CANARIES, WEB_LAB_CANARIES } from '../lab/nodes/web.js';
import { assetRisk } from '../risk/score.js';
import { builtinVulnDb } from '../vuln/index.js';

export { Clock };

export const LAB_TARGET = '127.77.0.0/16';
const PROFILE: Profile = 'intrusive';

export const HOSTILE = {
  product: '<script>alert(1)</script>',
  version: '"><img src=x>',
  org: 'Clinic "><img src=x onerror=alert(2)> Two',
  hostname: 'viewer"><svg onload=alert(3)>.lab.test',
  tag: '<b>tag</b>',
} as const;

/** Every synthetic patient value of the lab: none may appear in a report. */
export const CANARY_VALUES: readonly string[] = [
  ...Object.values(WEB_LAB_CANARIES),
  ...Object.values(CERT_LAB_CANARIES),
  ...Object.values(HL7_LAB_CANARIES),
  ...Object.values(CLINICAL_LAB_CANARIES.fhir),
  ...Object.values(CLINICAL_LAB_CANARIES.dicomweb),
];

export const HOSTS = {
  orthanc: '127.77.10.10',
  dcmtk: '127.77.10.11',
  dcm4che: '127.77.10.12',
  weakTls: '127.77.10.13',
  hapi: '127.77.11.10',
  msFhir: '127.77.11.11',
  dicomweb: '127.77.11.12',
  mirth: '127.77.12.10',
  hl7Reject: '127.77.12.11',
  openemr: '127.77.13.10',
  ohif: '127.77.13.11',
  remote: '127.77.14.10',
  rdp: '127.77.14.11',
  ftp: '127.77.15.10',
  dicoogle: '127.77.16.10',
  honeypot: '127.77.20.20',
} as const;

function fixture(rel: string): ServiceRecord {
  return JSON.parse(readFileSync(path.join(packageRoot(), 'src', 'checks', 'fixtures', rel), 'utf8')) as ServiceRecord;
}

interface Spec {
  file: string;
  ip: string;
  port?: number;
  identity?: Partial<Pick<ServiceRecord, 'product' | 'vendor' | 'version' | 'cpe' | 'deviceType'>>;
  hostname?: string;
  /** Changes to the observation (canaries in places no check copies into evidence). */
  edit?: (rec: ServiceRecord) => void;
}

function obj(v: unknown): Record<string, unknown> {
  return v as Record<string, unknown>;
}

/** One record as the engine would write it: observation, identity, then checks, CVEs and risk. */
function record(spec: Spec, ts: string): ServiceRecord {
  const base = fixture(spec.file);
  const rec: ServiceRecord = { ...base, ip: spec.ip, port: spec.port ?? base.port, timestamp: ts, ...spec.identity };
  if (spec.hostname !== undefined) rec.hostname = spec.hostname;
  spec.edit?.(rec);
  const identification = {
    rules: [],
    ...(rec.vendor !== undefined ? { vendor: rec.vendor } : {}),
    ...(rec.product !== undefined ? { product: rec.product } : {}),
    ...(rec.version !== undefined ? { version: rec.version } : {}),
    ...(rec.cpe !== undefined ? { cpe: rec.cpe } : {}),
    ...(rec.deviceType !== undefined ? { deviceType: rec.deviceType } : {}),
  };
  const judged = assessService({ ip: rec.ip, protocol: rec.protocol, data: rec.data, tls: rec.tls as TlsInfo | undefined, identification }, PROFILE, builtinVulnDb());
  return { ...rec, findings: judged.findings, checksRun: judged.checksRun, risk: judged.risk };
}

/** The host identity fused from its records (the first identified one), with the host's risk. */
function fuse(recs: ServiceRecord[], honeypot: boolean): ServiceRecord[] {
  const byHost = new Map<string, ServiceRecord[]>();
  for (const r of recs) byHost.set(r.ip, [...(byHost.get(r.ip) ?? []), r]);
  for (const list of byHost.values()) {
    const lead = list.find((r) => r.product !== undefined) ?? list[0]!;
    const risk = assetRisk(list.map((r) => r.risk ?? 0));
    for (const r of list) {
      r.asset = {
        ...(lead.vendor !== undefined ? { vendor: lead.vendor } : {}),
        ...(lead.product !== undefined ? { product: lead.product } : {}),
        ...(lead.deviceType !== undefined ? { deviceType: lead.deviceType } : {}),
        evidence: lead.product !== undefined ? [`${lead.protocol}.product:${lead.product}`] : [],
        risk,
        ...(honeypot ? { honeypot: { signals: ['dicom-accepts-everything'] } } : {}),
      };
    }
  }
  return recs;
}

const W = WEB_LAB_CANARIES;
const C = CERT_LAB_CANARIES;
const H = HL7_LAB_CANARIES;
const F = CLINICAL_LAB_CANARIES.fhir;
const D = CLINICAL_LAB_CANARIES.dicomweb;

const orthanc = { product: 'Orthanc', vendor: 'Orthanc', version: '1.10.1', cpe: 'cpe:2.3:a:orthanc-server:orthanc:1.10.1:*:*:*:*:*:*:*', deviceType: 'pacs' as const };

/** The specs seen in both runs. */
function common(): Spec[] {
  return [
    { file: 'dicom/open-archive-intrusive.json', ip: HOSTS.orthanc, port: 4242, identity: orthanc },
    { file: 'http/orthanc-open.json', ip: HOSTS.orthanc, identity: orthanc },
    {
      file: 'tls/pacs-tls.json',
      ip: HOSTS.dcm4che,
      edit: (r) => {
        const cert = obj(obj(r.tls).certificate);
        cert.subject = `CN=${C.patientName}, O=${C.patientId}, emailAddress=${C.email}`;
        cert.subjectAltNames = [`email:${C.email}`, `URI:urn:patient:${C.birthDate}`];
      },
    },
    { file: 'tls/pacs-weak-tls.json', ip: HOSTS.weakTls },
    { file: 'fhir/microsoft-smart.json', ip: HOSTS.msFhir },
    {
      file: 'dicomweb/open-intrusive.json',
      ip: HOSTS.dicomweb,
      identity: { product: 'dcm4chee-arc', vendor: 'dcm4che', deviceType: 'pacs' },
      edit: (r) => {
        const dw = obj(r.data.dicomweb);
        dw.sample = { PatientName: D.patientName, PatientID: D.patientId, PatientBirthDate: D.birthDate, AccessionNumber: D.accessionNumber, StudyInstanceUID: D.studyInstanceUid };
      },
    },
    { file: 'hl7/mirth.json', ip: HOSTS.mirth },
    { file: 'http/mirth-https.json', ip: HOSTS.mirth },
    {
      file: 'hl7/reject.json',
      ip: HOSTS.hl7Reject,
      edit: (r) => {
        const hl7 = obj(r.data.hl7);
        hl7.errors = [{ code: '202', severity: 'E', location: 'MSH-11', applicationCode: H.patientId, diagnostic: `PID|||${H.patientId}||${H.patientName}||${H.birthDate}` }];
      },
    },
    {
      file: 'http/openemr.json',
      ip: HOSTS.openemr,
      edit: (r) => {
        const http = obj(r.data.http);
        http.location = `/interface/patient_file/summary.php?pid=${W.patientId}&name=${W.patientName}`;
        http.redirects = [{ status: 302, location: `/viewer?PatientName=${W.displayName}&acc=${W.accession}&dob=${W.birthDate}` }];
        http.marks = `${String(http.marks ?? '')} title:${W.displayName}`;
      },
    },
    {
      file: 'http/ohif.json',
      ip: HOSTS.ohif,
      hostname: HOSTILE.hostname,
      identity: { product: HOSTILE.product, vendor: 'OHIF', version: HOSTILE.version, deviceType: 'viewer' },
    },
    { file: 'vnc/open.json', ip: HOSTS.remote },
    { file: 'telnet/busybox-shell.json', ip: HOSTS.remote },
    { file: 'ftp/iis-anon-intrusive.json', ip: HOSTS.ftp },
  ];
}

function run1(ts: string): ServiceRecord[] {
  const specs: Spec[] = [
    ...common(),
    { file: 'dicom/storescp.json', ip: HOSTS.dcmtk, identity: { product: 'DCMTK', vendor: 'OFFIS', version: '3.6.7', deviceType: 'dicom-toolkit' } },
    {
      file: 'fhir/hapi-open-intrusive.json',
      ip: HOSTS.hapi,
      edit: (r) => {
        const fhir = obj(r.data.fhir);
        fhir.implementationDescription = `HAPI FHIR R4 Server for ${F.family}, ${F.given}`;
        obj(fhir.search).error = `Patient/${F.id} MRN ${F.mrn} born ${F.birthDate}`;
      },
    },
    { file: 'rdp/legacy.json', ip: HOSTS.rdp },
  ];
  return [...fuse(specs.map((s) => record(s, ts)), false), ...fuse([record({ file: 'dicom/open-archive-intrusive.json', ip: HOSTS.honeypot, port: 104 }, ts)], true)];
}

function run2(ts: string): ServiceRecord[] {
  const specs: Spec[] = [
    ...common(),
    { file: 'dicom/ae-restricted.json', ip: HOSTS.dcmtk, port: 104, identity: { product: 'DCMTK', vendor: 'OFFIS', version: '3.6.7', deviceType: 'dicom-toolkit' } },
    { file: 'fhir/locked.json', ip: HOSTS.hapi, identity: { product: 'HAPI FHIR', vendor: 'HAPI FHIR', version: '6.4.0', deviceType: 'fhir-server' } },
    { file: 'http/dicoogle.json', ip: HOSTS.dicoogle },
  ];
  return [...fuse(specs.map((s) => record(s, ts)), false), ...fuse([record({ file: 'dicom/open-archive-intrusive.json', ip: HOSTS.honeypot, port: 104 }, ts)], true)];
}

async function scan(inv: KyselyInventory, clock: Clock, id: string, day: string, recs: (ts: string) => ServiceRecord[], unreachableHosts: string[] = []): Promise<void> {
  clock.set(`${day}T08:00:00.000Z`);
  await inv.createRun({ id, profile: PROFILE, targets: [LAB_TARGET], options: { profile: PROFILE }, totalTargets: 65536 });
  await inv.recordServices(id, recs(`${day}T08:20:00.000Z`));
  clock.set(`${day}T09:00:00.000Z`);
  await inv.finishRun(id, 'completed', { stats: {}, unreachableHosts });
}

/** Writes both runs and the metadata; the inventory must be new (its clock is `clock.now`). */
export async function seedReportLab(inv: KyselyInventory, clock: Clock): Promise<void> {
  await scan(inv, clock, 'r1', '2026-03-02', run1);

  const attribution: [string, string | null, string | null][] = [
    [HOSTS.orthanc, 'NL', 'Lab Hospital'],
    [HOSTS.dcmtk, 'NL', 'Lab Hospital'],
    [HOSTS.dcm4che, 'NL', 'Lab Hospital'],
    [HOSTS.weakTls, 'NL', 'Lab Hospital'],
    [HOSTS.honeypot, 'NL', null],
    [HOSTS.hapi, 'DE', HOSTILE.org],
    [HOSTS.msFhir, 'DE', HOSTILE.org],
    [HOSTS.dicomweb, 'DE', HOSTILE.org],
    [HOSTS.mirth, 'US', 'Example Health'],
    [HOSTS.hl7Reject, 'US', 'Example Health'],
    [HOSTS.openemr, 'US', 'Example Health'],
    [HOSTS.remote, 'US', null],
  ];
  for (const [ip, country, org] of attribution) {
    await inv.db.updateTable('assets').set({ country, org, org_source: org === null ? null : 'orgs' }).where('ip', '=', ip).execute();
  }
  await inv.db
    .updateTable('assets')
    .set({ owner: 'Radiology IT', criticality: 'high', notes: `called about ${W.patientName}, acc ${W.accession}` })
    .where('ip', '=', HOSTS.orthanc)
    .execute();
  const asset = async (ip: string) => Number((await inv.db.selectFrom('assets').select('id').where('ip', '=', ip).executeTakeFirstOrThrow()).id);
  await inv.db
    .insertInto('asset_tags')
    .values([
      { asset_id: await asset(HOSTS.orthanc), tag: 'radiology' },
      { asset_id: await asset(HOSTS.ohif), tag: HOSTILE.tag },
    ])
    .execute();
  // A finding the user accepted: listed with its state, not counted.
  const telnet = await inv.listFindings({ ip: HOSTS.remote, protocol: 'telnet' });
  if (telnet[0]) await inv.setUserState(telnet[0].id, 'accepted-risk', 'jump host, replaced in Q3');

  await scan(inv, clock, 'r2', '2026-03-09', run2, [HOSTS.rdp]);
}
