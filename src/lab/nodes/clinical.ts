/**
 * The lab's clinical web APIs (third octet 5): FHIR servers and DICOMweb archives, plain
 * node:http / node:https servers on the node's own 127.77.5.x address.
 *
 * FHIR nodes serve the canned CapabilityStatements of real products from
 * src/probes/fhir/fixtures (each rebuilt from the product's own source, see its README), and
 * answer the searches a scanner sends: `Patient?_id=` (an empty searchset, or 401 when the node
 * is protected) and `Patient?_summary=count` (only `total`). One node is careless: it ignores the
 * `_id` key and returns whole Patient entries carrying the lab's FHIR canaries, which a scan must
 * count and never keep.
 *
 * DICOMweb nodes answer QIDO-RS study searches (PS3.18 §10.6) in DICOM JSON from the lab's
 * synthetic record store (records.ts) plus one study carrying the lab's DICOMweb canaries. Like
 * Orthanc, they ignore `includefield=none` and send their default study fields; like dcm4chee-arc,
 * an empty result is 204 No Content.
 *
 * Hostile nodes: a CapabilityStatement whose resource list never ends, a 50 MB body, a document
 * nested 100,000 deep, and a QIDO-RS reply that never ends. Each streams with backpressure and stops
 * when the client goes; every connection is closed after NODE_MAX_LIFE_MS.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import path from 'node:path';
import { packageRoot } from '../../core/paths.js';
import type { LabNodeSpec } from '../layout.js';
import { LabStartError, closeServer, listen } from '../listen.js';
import { type LabRecord, labUid, recordSet } from '../records.js';

/**
 * Synthetic patient values that only the lab's careless nodes hand out (the leaky FHIR search,
 * one DICOMweb study). None of them may appear in any scan output, log or database.
 */
export const CLINICAL_LAB_CANARIES = {
  fhir: { family: 'CANARYFHIRSIXTAU', given: 'ZETAFHIR', id: 'fhircanary-000613', birthDate: '1903-04-05', mrn: 'FHIRMRN000613' },
  dicomweb: {
    patientName: 'CANARYDW^NINEOMEGA',
    patientId: 'DWCANARY000913',
    birthDate: '19020304',
    accessionNumber: 'DWACC0913',
    studyInstanceUid: labUid('dicomweb-canary-study'),
  },
} as const;

/** Connections of the lab's web nodes never outlive this. */
const NODE_MAX_LIFE_MS = 60_000;
/** Bytes a hostile stream sends at most per connection (the scanner stops at 1 MiB). */
const HOSTILE_MAX_BYTES = 64 * 1024 * 1024;
/** The declared length of the "50 MB" body. */
const HUGE_BODY_BYTES = 50 * 1024 * 1024;
/** Nesting depth of the deep document. */
const DEEP_LEVELS = 100_000;

export type FhirAuth = 'none' | 'bearer' | 'basic';

export interface FhirNodeSpec {
  kind: 'fhir';
  /** File under src/probes/fhir/fixtures. */
  fixture: string;
  /** Base path, '' for the root. */
  base: string;
  /** Who may search. */
  auth: FhirAuth;
  /** Protect the CapabilityStatement too (the whole server answers 401). */
  metadataAuth?: boolean;
  /** Serve .well-known/smart-configuration. */
  smart?: boolean;
  /** Patients the count reports. */
  patients: number;
  /** Ignore the `_id` search key and return canary Patient entries. */
  leaky?: boolean;
  /** HTTP Server header. */
  server?: string;
}

export interface DicomwebNodeSpec {
  kind: 'dicomweb';
  root: string;
  auth: 'none' | 'bearer';
  /** 204 on an empty result (dcm4chee-arc) instead of 200 [] (Orthanc). */
  emptyNoContent: boolean;
  server?: string;
}

export interface HostileWebSpec {
  kind: 'hostile';
  mode: 'fhir-endless-resources' | 'fhir-huge-body' | 'fhir-deep-nesting' | 'dicomweb-endless';
}

export type ClinicalNodeSpec = FhirNodeSpec | DicomwebNodeSpec | HostileWebSpec;

export interface ClinicalNodeStats {
  requests: number;
  /** Request paths seen, bounded (the lab's own record of what a scan sent). */
  paths: string[];
}

function fixturePath(name: string): string {
  return path.join(packageRoot(), 'src/probes/fhir/fixtures', name);
}

function certs(): { key: Buffer; cert: Buffer } {
  const dir = path.join(packageRoot(), 'src/lab/certs');
  try {
    return { key: readFileSync(path.join(dir, 'pacs-tls.key.pem')), cert: readFileSync(path.join(dir, 'pacs-tls.cert.pem')) };
  } catch (err) {
    throw new LabStartError(`lab TLS certificate not found in ${dir}`, { cause: err });
  }
}

const FHIR_JSON = 'application/fhir+json; charset=utf-8';

function send(res: http.ServerResponse, status: number, type: string | null, body: string | Buffer, extra: Record<string, string> = {}): void {
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.writeHead(status, { ...(type ? { 'content-type': type } : {}), 'content-length': String(buf.length), ...extra });
  res.end(buf);
}

function outcome(code: string, text: string): string {
  return JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics: text }] });
}

function authorized(req: http.IncomingMessage, auth: FhirAuth | 'bearer'): boolean {
  const h = req.headers.authorization ?? '';
  if (auth === 'none') return true;
  // The lab accepts no credential at all: a scanner never has one.
  return auth === 'bearer' ? /^Bearer lab-token-never-issued$/.test(h) : /^Basic bGFiOm5ldmVyLWlzc3VlZA==$/.test(h);
}

function challenge(auth: FhirAuth | 'bearer', realm: string): Record<string, string> {
  return { 'www-authenticate': auth === 'basic' ? `Basic realm="${realm}"` : `Bearer realm="${realm}", error="invalid_token"` };
}

/** A FHIR server with a canned CapabilityStatement. */
function fhirHandler(spec: FhirNodeSpec): (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => void {
  let statement: Buffer;
  try {
    statement = readFileSync(fixturePath(spec.fixture));
  } catch (err) {
    throw new LabStartError(`FHIR lab fixture ${spec.fixture} not found`, { cause: err });
  }
  const base = spec.base.replace(/\/+$/, '');
  const extra: Record<string, string> = spec.server ? { server: spec.server } : {};
  const realm = 'lab FHIR';
  return (req, res, url) => {
    const p = url.pathname;
    if (!p.startsWith(`${base}/`)) {
      send(res, 404, 'text/html; charset=utf-8', '<html><body><h1>404 Not Found</h1></body></html>', extra);
      return;
    }
    const rel = p.slice(base.length + 1);
    if (spec.metadataAuth && !authorized(req, spec.auth)) {
      send(res, 401, FHIR_JSON, outcome('login', 'Authentication required'), { ...extra, ...challenge(spec.auth, realm) });
      return;
    }
    if (rel === 'metadata') {
      send(res, 200, FHIR_JSON, statement, extra);
      return;
    }
    if (rel === '.well-known/smart-configuration' && spec.smart) {
      const origin = `https://${req.headers.host ?? 'lab.invalid'}`;
      send(
        res,
        200,
        'application/json',
        JSON.stringify({
          authorization_endpoint: `${origin}/oauth2/authorize`,
          token_endpoint: `${origin}/oauth2/token`,
          capabilities: ['launch-ehr', 'launch-standalone', 'client-public', 'client-confidential-symmetric', 'context-ehr-patient', 'sso-openid-connect'],
          code_challenge_methods_supported: ['S256'],
        }),
        extra,
      );
      return;
    }
    if (rel === 'Patient') {
      if (!authorized(req, spec.auth)) {
        send(res, 401, FHIR_JSON, outcome('login', 'Authentication required'), { ...extra, ...challenge(spec.auth, realm) });
        return;
      }
      const q = url.searchParams;
      const bundle: Record<string, unknown> = { resourceType: 'Bundle', id: 'lab-search', meta: { lastUpdated: '2024-01-15T10:00:00Z' }, type: 'searchset' };
      if (q.get('_summary') === 'count') bundle.total = spec.patients;
      else if (spec.leaky) {
        // Careless: the _id key is ignored and whole records come back.
        const c = CLINICAL_LAB_CANARIES.fhir;
        bundle.total = 2;
        bundle.entry = [1, 2].map((n) => ({
          fullUrl: `${url.origin}${base}/Patient/${c.id}-${n}`,
          resource: {
            resourceType: 'Patient',
            id: `${c.id}-${n}`,
            identifier: [{ system: 'urn:oid:2.25.1', value: `${c.mrn}${n}` }],
            name: [{ family: c.family, given: [c.given] }],
            birthDate: c.birthDate,
          },
          search: { mode: 'match' },
        }));
      } else bundle.total = 0;
      bundle.link = [{ relation: 'self', url: `${url.origin}${base}/Patient${url.search}` }];
      send(res, 200, FHIR_JSON, JSON.stringify(bundle), extra);
      return;
    }
    send(res, 404, FHIR_JSON, outcome('not-found', 'Unknown resource type or operation'), extra);
  };
}

/** The DICOM JSON (PS3.18 F.2) of one study, with the attributes Orthanc returns by default. */
function studyJson(r: LabRecord, retrieveBase: string): Record<string, unknown> {
  const s = (vr: string, v: string) => (v ? { vr, Value: [v] } : { vr });
  return {
    '00080005': s('CS', 'ISO_IR 100'),
    '00080020': s('DA', r.studyDate),
    '00080030': s('TM', r.studyTime),
    '00080050': s('SH', r.accessionNumber),
    '00080061': { vr: 'CS', Value: r.modalitiesInStudy.split('\\') },
    '00080090': r.referringPhysicianName ? { vr: 'PN', Value: [{ Alphabetic: r.referringPhysicianName }] } : { vr: 'PN' },
    '00081190': s('UR', `${retrieveBase}/studies/${r.studyInstanceUid}`),
    '00100010': { vr: 'PN', Value: [{ Alphabetic: r.patientName }] },
    '00100020': s('LO', r.patientId),
    '00100030': s('DA', r.patientBirthDate),
    '00100040': s('CS', r.patientSex),
    '0020000D': s('UI', r.studyInstanceUid),
    '00200010': s('SH', r.studyId),
    '00201206': { vr: 'IS', Value: [Number(r.numberOfStudyRelatedSeries)] },
    '00201208': { vr: 'IS', Value: [Number(r.numberOfStudyRelatedInstances)] },
  };
}

/** The studies a DICOMweb node serves: the standard synthetic store and the canary study. */
export function dicomwebStudies(): readonly LabRecord[] {
  const c = CLINICAL_LAB_CANARIES.dicomweb;
  return [
    ...recordSet('standard'),
    {
      patientName: c.patientName,
      patientId: c.patientId,
      patientBirthDate: c.birthDate,
      patientSex: 'O',
      studyInstanceUid: c.studyInstanceUid,
      studyDate: '20240301',
      studyTime: '101500',
      accessionNumber: c.accessionNumber,
      studyId: 'DWSTUDY1',
      studyDescription: 'CANARY STUDY',
      modalitiesInStudy: 'CT',
      referringPhysicianName: '',
      numberOfStudyRelatedSeries: '1',
      numberOfStudyRelatedInstances: '1',
    },
  ];
}

function dicomwebHandler(spec: DicomwebNodeSpec): (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => void {
  const root = spec.root.replace(/\/+$/, '');
  const studies = dicomwebStudies();
  const extra: Record<string, string> = spec.server ? { server: spec.server } : {};
  return (req, res, url) => {
    if (url.pathname !== `${root}/studies`) {
      send(res, 404, 'application/json', JSON.stringify({ error: 'Unknown resource' }), extra);
      return;
    }
    if (!authorized(req, spec.auth)) {
      send(res, 401, 'application/json', JSON.stringify({ error: 'unauthorized' }), { ...extra, ...challenge(spec.auth, 'dicomweb') });
      return;
    }
    const q = url.searchParams;
    const uid = q.get('StudyInstanceUID') ?? q.get('0020000D');
    let match = uid ? studies.filter((s) => s.studyInstanceUid === uid) : [...studies];
    const offset = Math.max(0, Number(q.get('offset') ?? 0) || 0);
    const limit = Number(q.get('limit') ?? 0);
    match = match.slice(offset, limit > 0 ? offset + limit : undefined);
    if (match.length === 0 && spec.emptyNoContent) {
      res.writeHead(204, extra);
      res.end();
      return;
    }
    const base = `http://${req.headers.host ?? 'lab.invalid'}${root}`;
    send(res, 200, 'application/dicom+json', JSON.stringify(match.map((r) => studyJson(r, base))), extra);
  };
}

/** Writes `head`, then `chunk` again and again with backpressure, until the client goes or `max` bytes. */
function stream(res: http.ServerResponse, head: string, chunk: Buffer, max: number, headers: Record<string, string>): void {
  res.writeHead(200, headers);
  let sent = 0;
  const pump = () => {
    while (!res.destroyed && sent < max) {
      sent += chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
    if (!res.destroyed) res.end();
  };
  res.write(head);
  pump();
}

function hostileHandler(spec: HostileWebSpec): (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => void {
  return (_req, res) => {
    switch (spec.mode) {
      case 'fhir-endless-resources': {
        // A CapabilityStatement that starts well and whose resource list never ends (chunked).
        const head =
          '{"resourceType":"CapabilityStatement","status":"active","kind":"instance","software":{"name":"Endless Lab FHIR","version":"0.0.1"},"fhirVersion":"4.0.1","format":["json"],"rest":[{"mode":"server","resource":[';
        stream(res, head, Buffer.from('{"type":"Observation","interaction":[{"code":"read"}]},'.repeat(256)), HOSTILE_MAX_BYTES, { 'content-type': FHIR_JSON });
        return;
      }
      case 'fhir-huge-body': {
        // Declares 50 MB of JSON numbers and sends them (as far as the client reads).
        const chunk = Buffer.from('0,'.repeat(8192));
        res.writeHead(200, { 'content-type': FHIR_JSON, 'content-length': String(HUGE_BODY_BYTES) });
        let sent = 1;
        res.write('[');
        const pump = () => {
          while (!res.destroyed && sent + chunk.length <= HUGE_BODY_BYTES - 2) {
            sent += chunk.length;
            if (!res.write(chunk)) {
              res.once('drain', pump);
              return;
            }
          }
          if (!res.destroyed) res.end(`${'0'.repeat(HUGE_BODY_BYTES - sent - 1)}]`);
        };
        pump();
        return;
      }
      case 'fhir-deep-nesting': {
        const body = `{"resourceType":"CapabilityStatement","fhirVersion":"4.0.1","rest":${'['.repeat(DEEP_LEVELS)}${']'.repeat(DEEP_LEVELS)}}`;
        send(res, 200, FHIR_JSON, body);
        return;
      }
      case 'dicomweb-endless': {
        // Every search, whatever its key, "matches" an endless list of studies (one synthetic UID each).
        stream(res, '[', Buffer.from(`${'{"0020000D":{"vr":"UI","Value":["2.25.4242"]},"00080061":{"vr":"CS","Value":["CT"]}},'.repeat(128)}`), HOSTILE_MAX_BYTES, {
          'content-type': 'application/dicom+json',
        });
        return;
      }
    }
  };
}

/** Starts one clinical web node on ip:port (TLS with the lab certificate when `useTls`). */
export async function startClinicalNode(
  name: string,
  spec: ClinicalNodeSpec,
  ip: string,
  port: number,
  useTls: boolean,
): Promise<{ stats: ClinicalNodeStats; stop(): Promise<void> }> {
  const stats: ClinicalNodeStats = { requests: 0, paths: [] };
  const handle = spec.kind === 'fhir' ? fhirHandler(spec) : spec.kind === 'dicomweb' ? dicomwebHandler(spec) : hostileHandler(spec);
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    stats.requests++;
    const target = (req.url ?? '/').slice(0, 512);
    if (stats.paths.length < 256) stats.paths.push(target);
    res.on('error', () => {});
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'text/plain', 'method not allowed', { allow: 'GET, HEAD' });
      return;
    }
    let url: URL;
    try {
      url = new URL(target, `${useTls ? 'https' : 'http'}://${ip}:${port}`);
    } catch {
      send(res, 400, 'text/plain', 'bad request');
      return;
    }
    handle(req, res, url);
  };
  const opts: http.ServerOptions = { requestTimeout: 10_000, headersTimeout: 5_000, maxHeaderSize: 16 * 1024, keepAliveTimeout: 1000 };
  const server = useTls ? https.createServer({ ...opts, ...certs(), minVersion: 'TLSv1.2' }, onRequest) : http.createServer(opts, onRequest);
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('error', () => {});
    const life = setTimeout(() => s.destroy(), NODE_MAX_LIFE_MS);
    life.unref();
    s.on('close', () => {
      clearTimeout(life);
      sockets.delete(s);
    });
  });
  server.on('error', () => {});
  server.on('clientError', (_err, s) => s.destroy());
  if (server instanceof https.Server) server.on('tlsClientError', () => {});
  await listen(server, name, ip, port);
  return { stats, stop: () => closeServer(server, sockets) };
}

function node(
  name: string,
  host: number,
  port: number,
  role: string,
  description: string,
  spec: ClinicalNodeSpec,
  expected: LabNodeSpec['expected'],
  useTls = false,
): LabNodeSpec {
  return {
    name,
    hostOffset: [5, host],
    port,
    kind: 'service',
    role,
    description,
    expected,
    service: (ip, p) => startClinicalNode(name, spec, ip, p, useTls),
    ...(useTls ? { serviceTls: true } : {}),
  };
}

/** Lab nodes of the clinical web family. */
export const NODES: readonly LabNodeSpec[] = [
  node(
    'fhir-hapi-open',
    10,
    8080,
    'fhir-server',
    'HAPI FHIR 6.4.0 JPA server (R4) at /fhir, no security: any caller may search',
    { kind: 'fhir', fixture: 'hapi-fhir-6.4.0-r4.json', base: '/fhir', auth: 'none', patients: 26 },
    { status: 'success', vendor: 'HAPI FHIR', deviceType: 'fhir-server', access: 'open', softwareName: 'HAPI FHIR Server', fhirVersion: '4.0.1', findings: ['fhir-no-smart', 'fhir-open', 'http-no-tls'] },
  ),
  node(
    'fhir-hapi-dstu2',
    11,
    80,
    'fhir-server',
    'an old HAPI FHIR 1.6 server (DSTU2 Conformance) at the root, open',
    { kind: 'fhir', fixture: 'hapi-fhir-1.6-dstu2-conformance.json', base: '', auth: 'none', patients: 3 },
    { status: 'success', vendor: 'HAPI FHIR', deviceType: 'fhir-server', access: 'open', resourceType: 'Conformance', fhirRelease: 'DSTU2', findings: ['fhir-no-smart', 'fhir-open', 'http-no-tls'] },
  ),
  node(
    'fhir-microsoft-smart',
    12,
    443,
    'fhir-server',
    'Microsoft FHIR Server over HTTPS with SMART on FHIR: metadata open, searches need a bearer token',
    { kind: 'fhir', fixture: 'microsoft-fhir-server-r4-smart.json', base: '', auth: 'bearer', smart: true, patients: 40, server: 'Kestrel' },
    { status: 'success', vendor: 'Microsoft', deviceType: 'fhir-server', access: 'protected', smart: true, findings: ['tls-self-signed'] },
    true,
  ),
  node(
    'fhir-medplum',
    13,
    8080,
    'fhir-server',
    'Medplum 3.2.0 at /fhir/R4: OAuth and SMART declared, searches need a token',
    { kind: 'fhir', fixture: 'medplum-3.2.0-r4.json', base: '/fhir/R4', auth: 'bearer', patients: 12 },
    { status: 'success', vendor: 'Medplum', deviceType: 'fhir-server', access: 'protected', smart: true, findings: ['http-no-tls'] },
  ),
  node(
    'fhir-ibm-basic',
    14,
    9443,
    'fhir-server',
    'IBM FHIR Server 4.11.1 on its HTTPS port 9443 at /fhir-server/api/v4, HTTP Basic for searches',
    { kind: 'fhir', fixture: 'ibm-fhir-server-4.11.1-r4.json', base: '/fhir-server/api/v4', auth: 'basic', patients: 8 },
    { status: 'success', vendor: 'IBM', deviceType: 'fhir-server', access: 'protected', smart: false, findings: ['fhir-no-smart', 'tls-self-signed'] },
    true,
  ),
  node(
    'fhir-smile-smart',
    15,
    8443,
    'fhir-server',
    'Smile CDR 2023.05.R02 over HTTPS with SMART: metadata and smart-configuration open, searches need a token',
    { kind: 'fhir', fixture: 'smile-cdr-2023.05.R02-r4-smart.json', base: '', auth: 'bearer', smart: true, patients: 120 },
    { status: 'success', vendor: 'Smile Digital Health', deviceType: 'fhir-server', access: 'protected', smart: true, findings: ['tls-self-signed'] },
    true,
  ),
  node(
    'fhir-locked',
    16,
    8080,
    'fhir-server',
    'a FHIR server that hides even its CapabilityStatement: every request gets 401 with an OperationOutcome',
    { kind: 'fhir', fixture: 'hapi-fhir-6.4.0-r4.json', base: '', auth: 'bearer', metadataAuth: true, patients: 5 },
    { status: 'success', access: 'protected', softwareName: null, findings: ['http-no-tls'] },
  ),
  node(
    'fhir-leaky',
    17,
    80,
    'fhir-server',
    'a careless HAPI server that ignores the _id search key and returns whole Patient records (the lab FHIR canaries)',
    { kind: 'fhir', fixture: 'hapi-fhir-6.4.0-r4.json', base: '/baseR4', auth: 'none', patients: 2, leaky: true },
    { status: 'success', vendor: 'HAPI FHIR', deviceType: 'fhir-server', access: 'open', findings: ['fhir-no-smart', 'fhir-open', 'http-no-tls'] },
  ),
  node(
    'dicomweb-open',
    30,
    8080,
    'pacs',
    'dcm4chee-arc style QIDO-RS at /dcm4chee-arc/aets/DCM4CHEE/rs, no authentication (52 synthetic studies, one with the DICOMweb canaries); 204 when nothing matches',
    { kind: 'dicomweb', root: '/dcm4chee-arc/aets/DCM4CHEE/rs', auth: 'none', emptyNoContent: true },
    { status: 'success', access: 'open', root: '/dcm4chee-arc/aets/DCM4CHEE/rs', findings: ['dicomweb-open', 'http-no-tls'] },
  ),
  node(
    'dicomweb-token',
    31,
    8042,
    'pacs',
    'QIDO-RS at /dicom-web behind a bearer token; the rest of the server answers 404 without asking for credentials',
    { kind: 'dicomweb', root: '/dicom-web', auth: 'bearer', emptyNoContent: false },
    { status: 'success', access: 'protected', authEverywhere: false, authScheme: 'Bearer', findings: ['http-no-tls'] },
  ),
  node(
    'fhir-hostile-endless',
    40,
    8080,
    'hostile',
    'a CapabilityStatement whose resource list never ends (chunked, up to 64 MiB): read up to the 1 MiB cap and kept as a truncated statement',
    { kind: 'hostile', mode: 'fhir-endless-resources' },
    { status: 'success', truncated: true, softwareName: 'Endless Lab FHIR' },
  ),
  node(
    'fhir-hostile-huge',
    41,
    8080,
    'hostile',
    'declares and streams a 50 MB JSON body on every path: cut at the cap, no CapabilityStatement',
    { kind: 'hostile', mode: 'fhir-huge-body' },
    // The web server answers (http succeeds with a truncated body); FHIR is not proven.
    { status: 'success', protocol: 'http' },
  ),
  node(
    'fhir-hostile-deep',
    42,
    8080,
    'hostile',
    'a CapabilityStatement nested 100,000 arrays deep: refused at the depth cap',
    { kind: 'hostile', mode: 'fhir-deep-nesting' },
    { status: 'success', protocol: 'http' },
  ),
  node(
    'dicomweb-hostile-endless',
    43,
    8042,
    'hostile',
    'every QIDO-RS search answers an endless array of studies: counted up to the cap, nothing kept',
    { kind: 'hostile', mode: 'dicomweb-endless' },
    { status: 'success', access: 'open' },
  ),
];
