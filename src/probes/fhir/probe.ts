/**
 * The FHIR probe. FHIR R4 §3.1.0.1.7 (`capabilities`): `GET [base]/metadata` returns the server's
 * CapabilityStatement (DSTU2: Conformance). The base is not discoverable, so the common ones are
 * tried in order until one answers with a CapabilityStatement; the first request also decides
 * whether the port speaks HTTP at all (if it does not, nothing more is sent).
 *
 * Then, on the base that answered:
 * - `GET [base]/.well-known/smart-configuration` (SMART App Launch 2.0 §2.1), bounded;
 * - safe: `GET [base]/Patient?_id=<random uuid>`. No record has that id (R4 §2.1.0.5 ids are at
 *   most 64 characters; a fresh UUID is unique), so a searchset Bundle answering an unknown caller
 *   proves the search door is open without a record crossing; 401/403 proves it is closed;
 * - intrusive: `GET [base]/Patient?_summary=count&_count=1` (R4 §3.1.1.5.8: only `total`), with
 *   `_count=1` as a belt in case the server ignores `_summary`.
 * Bundle entries a server returns anyway are counted while skipped, never decoded.
 *
 * Never throws for network reasons; every request goes through core/http-client (scope guard,
 * byte caps, deadlines), one connection per request, paced by the engine.
 */
import { randomUUID } from 'node:crypto';
import { ProtocolError, ScopeError, messageOf, statusOf } from '../../core/errors.js';
import { type HttpResponse, httpRequest } from '../../core/http-client.js';
import type { Probe, ProbeContext, ProbeResult } from '../../core/probe.js';
import type { TlsInfo } from '../../core/types.js';
import { JSON_LIMITS, boundedText } from './bounded-json.js';
import { authSchemeOf, bundleSummary, parseSmartConfiguration, reduceCapabilityStatement } from './parse.js';
import { FhirObservation, type FhirSearch } from './schema.js';

/**
 * Bases tried, in order: the root, then the paths of common servers (HAPI JPA starter `/fhir`,
 * HAPI public `/baseR4` and `/baseDstu3`, Medplum `/fhir/R4`, node-fhir-server-core `/4_0_1`,
 * the HAPI JPA war `/hapi-fhir-jpaserver/fhir`, IBM/LinuxForHealth `/fhir-server/api/v4`).
 */
export const FHIR_BASES: readonly string[] = [
  '/',
  '/fhir',
  '/baseR4',
  '/fhir/r4',
  '/fhir/R4',
  '/r4',
  '/4_0_1',
  '/hapi-fhir-jpaserver/fhir',
  '/fhir-server/api/v4',
  '/baseDstu3',
];

/** Media types asked for (R4 §2.6.0.1 application/fhir+json; DSTU2 application/json+fhir). */
export const FHIR_ACCEPT = 'application/fhir+json, application/json+fhir;q=0.9, application/json;q=0.8';

export const FHIR_BODY_CAPS = {
  /** A HAPI JPA CapabilityStatement with every resource type and search parameter is 300-700 KiB. */
  metadata: JSON_LIMITS.maxBytes,
  smartConfiguration: 64 * 1024,
  /** A search reply: enough for `total` and the first entries; the rest is cut and counted as cut. */
  search: 64 * 1024,
} as const;

export interface FhirOptions {
  /** Bases to try instead of FHIR_BASES (each starts with '/', at most 16). */
  bases?: string[];
}

function basesOf(ctx: ProbeContext): readonly string[] {
  const opt = (ctx.options.fhir as FhirOptions | undefined)?.bases;
  if (!Array.isArray(opt)) return FHIR_BASES;
  const ok = opt.filter((b) => typeof b === 'string' && b.startsWith('/') && b.length <= 128 && !/[\s?#]/.test(b)).slice(0, 16);
  return ok.length > 0 ? ok : FHIR_BASES;
}

/** `[base]/rest`, with the root base written `/`. */
export function joinBase(base: string, rest: string): string {
  const b = base.replace(/\/+$/, '');
  return `${b}/${rest}`;
}

const isFhirContentType = (ct: string | undefined) => /^\s*application\/(fhir\+json|json\+fhir|fhir\+xml|xml\+fhir)\b/i.test(ct ?? '');

function emptyObservation(ctx: ProbeContext): FhirObservation {
  return {
    base: null,
    basesTried: [],
    metadataStatus: null,
    resourceType: null,
    fhirVersion: null,
    fhirRelease: null,
    softwareName: null,
    softwareVersion: null,
    software: null,
    implementationDescription: null,
    publisher: null,
    kind: null,
    formats: [],
    resourceTypes: [],
    resourceTypeCount: 0,
    patientSearch: null,
    security: null,
    smartConfiguration: null,
    smart: false,
    search: null,
    access: 'unknown',
    patientCount: null,
    truncated: false,
    server: null,
    tls: ctx.tls,
  };
}

/** Classifies one search reply. Entries are counted by bundleSummary and never decoded. */
export function searchOutcome(kind: FhirSearch['kind'], res: HttpResponse): FhirSearch {
  const out: FhirSearch = {
    kind,
    resource: 'Patient',
    status: res.status,
    outcome: 'error',
    bundleType: null,
    resourceType: null,
    total: null,
    entries: 0,
    truncated: res.bodyTruncated,
    authScheme: null,
    error: null,
  };
  if (res.status === 401 || res.status === 403) {
    out.outcome = 'protected';
    out.authScheme = authSchemeOf(res.headers['www-authenticate']);
    return out;
  }
  let summary: ReturnType<typeof bundleSummary> | null = null;
  if (res.body.length > 0) {
    try {
      summary = bundleSummary(res.body, { maxBytes: FHIR_BODY_CAPS.search, partial: res.bodyTruncated });
    } catch (err) {
      out.error = boundedText(messageOf(err), 120);
    }
  }
  if (summary) {
    out.resourceType = summary.resourceType;
    out.bundleType = summary.resourceType === 'Bundle' ? summary.type : summary.resourceType;
    out.total = summary.total;
    out.entries = summary.entries;
    out.truncated = res.bodyTruncated || summary.truncated;
  }
  if (res.status >= 200 && res.status < 300) {
    out.outcome = summary?.resourceType === 'Bundle' ? 'open' : 'error';
    if (out.outcome === 'error' && !out.error) out.error = 'the search answered without a Bundle';
  } else if ([400, 404, 405, 422, 501].includes(res.status)) {
    out.outcome = 'unsupported';
  } else {
    out.error ??= `HTTP ${res.status}`;
  }
  return out;
}

export async function runFhir(ctx: ProbeContext): Promise<ProbeResult<FhirObservation>> {
  const obs = emptyObservation(ctx);
  let tls: TlsInfo | null = null;
  const done = (status: ProbeResult<FhirObservation>['status'], error?: string): ProbeResult<FhirObservation> => ({
    status,
    result: obs,
    ...(error ? { error } : {}),
    ...(tls ? { tls } : {}),
  });
  const get = async (path: string, maxBodyBytes: number): Promise<HttpResponse> => {
    const res = await httpRequest(ctx, { path, accept: FHIR_ACCEPT, maxBodyBytes });
    tls ??= res.tls;
    return res;
  };

  // 1. Find the base: the first CapabilityStatement wins. The first request decides whether this is HTTP at all.
  let base: string | null = null;
  let protectedHint: { base: string; res: HttpResponse } | null = null;
  let lastError: string | null = null;
  for (const candidate of basesOf(ctx)) {
    let res: HttpResponse;
    try {
      res = await get(joinBase(candidate, 'metadata'), FHIR_BODY_CAPS.metadata);
    } catch (err) {
      if (err instanceof ScopeError) throw err;
      if (obs.basesTried.length === 0) return done(statusOf(err), messageOf(err));
      // The port answered HTTP before: a later failure (reset, timeout) ends the search, nothing more is sent.
      lastError = messageOf(err);
      break;
    }
    obs.basesTried.push(candidate);
    if (obs.metadataStatus === null) {
      obs.metadataStatus = res.status;
      obs.server = boundedText(res.headers.server, 128);
    }
    if (res.status >= 200 && res.status < 300 && res.body.length > 0) {
      try {
        const cs = reduceCapabilityStatement(res.body, { partial: true });
        base = candidate;
        obs.metadataStatus = res.status;
        obs.server = boundedText(res.headers.server, 128);
        obs.resourceType = cs.resourceType;
        obs.fhirVersion = cs.fhirVersion;
        obs.fhirRelease = cs.fhirRelease;
        obs.softwareName = cs.softwareName;
        obs.softwareVersion = cs.softwareVersion;
        obs.software = cs.software;
        obs.implementationDescription = cs.implementationDescription;
        obs.publisher = cs.publisher;
        obs.kind = cs.kind;
        obs.formats = cs.formats;
        obs.resourceTypes = cs.resourceTypes;
        obs.resourceTypeCount = cs.resourceTypeCount;
        obs.patientSearch = cs.patientSearch;
        obs.security = cs.security;
        obs.smart = cs.security.smart;
        obs.truncated = cs.truncated || res.bodyTruncated;
        break;
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        lastError = err.message;
      }
    } else if ((res.status === 401 || res.status === 403) && protectedHint === null && isFhirContentType(res.headers['content-type'])) {
      // A FHIR server that hides even its CapabilityStatement: its error is still FHIR (an OperationOutcome, fhir+json).
      protectedHint = { base: candidate, res };
    }
  }

  if (base === null) {
    if (protectedHint) {
      obs.base = protectedHint.base;
      obs.metadataStatus = protectedHint.res.status;
      obs.access = 'protected';
      return done('success');
    }
    return done('protocol-error', `no FHIR CapabilityStatement at ${obs.basesTried.length} base(s)${lastError ? `: ${lastError}` : ''}`);
  }
  obs.base = base;

  // 2. SMART configuration (a discovery document, not a record).
  try {
    const res = await get(joinBase(base, '.well-known/smart-configuration'), FHIR_BODY_CAPS.smartConfiguration);
    if (res.status >= 200 && res.status < 300 && res.body.length > 0 && !res.bodyTruncated) {
      try {
        obs.smartConfiguration = parseSmartConfiguration(res.body, res.status);
      } catch {
        obs.smartConfiguration = { status: res.status, present: false, authorizationEndpoint: null, tokenEndpoint: null, capabilities: [] };
      }
    } else {
      obs.smartConfiguration = { status: res.status, present: false, authorizationEndpoint: null, tokenEndpoint: null, capabilities: [] };
    }
    if (obs.smartConfiguration.present) obs.smart = true;
  } catch (err) {
    if (err instanceof ScopeError) throw err;
    obs.smartConfiguration = { status: null, present: false, authorizationEndpoint: null, tokenEndpoint: null, capabilities: [] };
    lastError = messageOf(err);
  }

  // 3. The search door. Fragile hosts (a modality identified on another port) get no search.
  if (!ctx.host.fragile) {
    const intrusive = ctx.profile === 'intrusive';
    const kind: FhirSearch['kind'] = intrusive ? 'count' : 'random-id';
    const path = intrusive ? joinBase(base, 'Patient?_summary=count&_count=1') : joinBase(base, `Patient?_id=${randomUUID()}`);
    try {
      obs.search = searchOutcome(kind, await get(path, FHIR_BODY_CAPS.search));
    } catch (err) {
      if (err instanceof ScopeError) throw err;
      obs.search = {
        kind,
        resource: 'Patient',
        status: null,
        outcome: 'error',
        bundleType: null,
        resourceType: null,
        total: null,
        entries: 0,
        truncated: false,
        authScheme: null,
        error: boundedText(messageOf(err), 120),
      };
    }
    if (obs.search.outcome === 'open') obs.access = 'open';
    else if (obs.search.outcome === 'protected') obs.access = 'protected';
    if (intrusive && obs.search.outcome === 'open') obs.patientCount = obs.search.total;
  }
  return done('success');
}

export const fhirProbe: Probe<FhirObservation> = {
  id: 'fhir',
  title: 'FHIR REST (CapabilityStatement, SMART configuration, search door test)',
  layer: 'http',
  defaultPorts: [80, 443, 8080, 8443, 3000, 9443],
  tlsPorts: [443, 8443, 9443],
  safety: {
    getMetadata: 'safe',
    getSmartConfiguration: 'safe',
    searchRandomId: 'safe',
    searchCount: 'intrusive',
  },
  resultSchema: FhirObservation,
  run: runFhir,
};
