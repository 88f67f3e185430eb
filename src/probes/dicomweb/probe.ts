/**
 * The DICOMweb probe: QIDO-RS (DICOM PS3.18 §10.6, "Search Transaction") on the common service
 * roots. The root is not discoverable, so the common ones are tried in order; the first request
 * also decides whether the port speaks HTTP at all (if not, nothing more is sent).
 *
 * - safe: `GET {root}/studies?StudyInstanceUID=<fresh 2.25 UID>` (Accept: application/dicom+json).
 *   No study has a UID made a moment ago (PS3.5 §B.2, UUID-derived), so an empty answer (200 with
 *   `[]`, or 204 No Content, PS3.18 §10.6.3.2) to an unknown caller proves the search door is open
 *   without a record crossing; 401/403 proves it is closed; anything else is not DICOMweb. When
 *   it is closed, one request to a random non-DICOMweb path says whether the whole server asks
 *   for credentials (then the refusal alone does not prove DICOMweb).
 * - intrusive: `GET {root}/studies?limit=<cap>&includefield=none`, and the objects are COUNTED
 *   (PS3.18 §10.6.3.3.1 DICOM JSON); only the attribute tags are collected, as keywords. Servers
 *   that ignore `includefield=none` (Orthanc does) still send values: they are skipped unread.
 * Never WADO-RS: no instance, frame or rendered image is ever requested.
 *
 * Never throws for network reasons; every request goes through core/http-client.
 */
import { randomBytes } from 'node:crypto';
import { ScopeError, messageOf, statusOf } from '../../core/errors.js';
import { type HttpResponse, httpRequest } from '../../core/http-client.js';
import type { Probe, ProbeContext, ProbeResult } from '../../core/probe.js';
import type { TlsInfo } from '../../core/types.js';
import { randomUid } from '../dicom/uids.js';
import { JSON_LIMITS, boundedText } from '../fhir/bounded-json.js';
import { authRealmOf, authSchemeOf } from '../fhir/parse.js';
import { DICOMWEB_CAPS, dicomJsonSummary, isJsonContentType } from './parse.js';
import { DicomwebObservation, type QidoSearch } from './schema.js';

/**
 * Service roots tried, in order: Orthanc's default `/dicom-web`, `/dicomweb` (Google Cloud
 * Healthcare, Kheops, many proxies), dcm4chee-arc-light's default AE `/dcm4chee-arc/aets/DCM4CHEE/rs`,
 * Orthanc behind a path prefix, the older `/wado` mount, a PACS-prefixed mount, and `/studies`
 * at the root (`''`).
 */
export const DICOMWEB_ROOTS: readonly string[] = [
  '/dicom-web',
  '/dicomweb',
  '/dcm4chee-arc/aets/DCM4CHEE/rs',
  '/orthanc/dicom-web',
  '/wado',
  '/pacs/dicom-web',
  '',
];

export const DICOMWEB_ACCEPT = 'application/dicom+json, application/json;q=0.9';

export const DICOMWEB_BODY_CAPS = {
  /** The random-UID search: an empty array, or a refusal; anything longer is cut. */
  search: 64 * 1024,
  /** The count: up to the cap of study objects (about 1 KiB each with Orthanc's default fields). */
  count: JSON_LIMITS.maxBytes,
} as const;

export interface DicomwebOptions {
  /** Roots to try instead of DICOMWEB_ROOTS ('' or starting with '/', at most 16). */
  roots?: string[];
}

function rootsOf(ctx: ProbeContext): readonly string[] {
  const opt = (ctx.options.dicomweb as DicomwebOptions | undefined)?.roots;
  if (!Array.isArray(opt)) return DICOMWEB_ROOTS;
  const ok = opt.filter((r) => typeof r === 'string' && (r === '' || r.startsWith('/')) && r.length <= 128 && !/[\s?#]/.test(r)).slice(0, 16);
  return ok.length > 0 ? ok : DICOMWEB_ROOTS;
}

const studiesPath = (root: string, query: string) => `${root.replace(/\/+$/, '')}/studies?${query}`;

/**
 * Classifies one QIDO-RS reply. The body is only counted (dicomJsonSummary): values are never
 * decoded. `open` needs a JSON array of objects (or nothing at all: 204, or an empty 200).
 */
export function qidoOutcome(kind: QidoSearch['kind'], res: HttpResponse, cap: number = DICOMWEB_CAPS.countCap): QidoSearch {
  const contentType = boundedText(res.headers['content-type'], 64);
  const out: QidoSearch = {
    kind,
    status: res.status,
    contentType,
    outcome: 'not-dicomweb',
    matches: 0,
    capped: false,
    truncated: res.bodyTruncated,
    attributes: [],
    error: null,
  };
  if (res.status === 401 || res.status === 403) {
    out.outcome = 'protected';
    return out;
  }
  if (res.status === 204) {
    out.outcome = 'open';
    return out;
  }
  if (res.status !== 200) return out;
  const empty = res.body.every((b) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09);
  if (!empty && contentType !== null && !isJsonContentType(contentType)) return out;
  try {
    const s = dicomJsonSummary(res.body, { cap, limits: { maxBytes: DICOMWEB_BODY_CAPS.count, partial: res.bodyTruncated } });
    out.matches = s.objects;
    out.capped = s.capped;
    out.truncated = res.bodyTruncated || s.truncated;
    out.attributes = s.attributes;
    // DICOM JSON: an array of objects keyed by tags. Strings, numbers or non-tag keys: some other JSON API.
    if (s.nonObjects > 0 || (s.objects > 0 && s.attributes.length === 0) || s.badKeys > 0) {
      out.outcome = 'not-dicomweb';
      out.matches = 0;
      out.attributes = [];
    } else out.outcome = 'open';
  } catch (err) {
    out.error = boundedText(messageOf(err), 120);
  }
  return out;
}

function emptyObservation(ctx: ProbeContext): DicomwebObservation {
  return {
    root: null,
    rootsTried: [],
    access: 'unknown',
    search: null,
    count: null,
    studyCount: null,
    authScheme: null,
    authRealm: null,
    authEverywhere: null,
    server: null,
    tls: ctx.tls,
  };
}

export async function runDicomweb(ctx: ProbeContext): Promise<ProbeResult<DicomwebObservation>> {
  const obs = emptyObservation(ctx);
  let tls: TlsInfo | null = null;
  const done = (status: ProbeResult<DicomwebObservation>['status'], error?: string): ProbeResult<DicomwebObservation> => ({
    status,
    result: obs,
    ...(error ? { error } : {}),
    ...(tls ? { tls } : {}),
  });
  const get = async (path: string, maxBodyBytes: number): Promise<HttpResponse> => {
    const res = await httpRequest(ctx, { path, accept: DICOMWEB_ACCEPT, maxBodyBytes });
    tls ??= res.tls;
    return res;
  };

  // 1. The safe search on each root until one answers as DICOMweb.
  const uid = randomUid();
  let found: { root: string; res: HttpResponse; search: QidoSearch } | null = null;
  let lastError: string | null = null;
  for (const root of rootsOf(ctx)) {
    let res: HttpResponse;
    try {
      res = await get(studiesPath(root, `StudyInstanceUID=${uid}`), DICOMWEB_BODY_CAPS.search);
    } catch (err) {
      if (err instanceof ScopeError) throw err;
      if (obs.rootsTried.length === 0) return done(statusOf(err), messageOf(err));
      lastError = messageOf(err);
      break;
    }
    obs.rootsTried.push(root);
    obs.server ??= boundedText(res.headers.server, 128);
    // The search keys fit one cap, whatever the count cap: a match to a random UID means the key was ignored.
    const search = qidoOutcome('random-uid', res);
    if (search.outcome === 'open' || search.outcome === 'protected') {
      found = { root, res, search };
      break;
    }
  }
  if (!found) {
    return done('protocol-error', `no DICOMweb QIDO-RS answer at ${obs.rootsTried.length} root(s)${lastError ? `: ${lastError}` : ''}`);
  }
  obs.root = found.root;
  obs.search = found.search;
  obs.server = boundedText(found.res.headers.server, 128) ?? obs.server;

  if (found.search.outcome === 'protected') {
    obs.access = 'protected';
    obs.authScheme = authSchemeOf(found.res.headers['www-authenticate']);
    obs.authRealm = authRealmOf(found.res.headers['www-authenticate']);
    // Does the whole server refuse, or only its DICOMweb root? One request to a path nobody serves.
    try {
      const control = await get(`/ms${randomBytes(8).toString('hex')}/studies`, 4096);
      obs.authEverywhere = control.status === found.res.status;
    } catch (err) {
      if (err instanceof ScopeError) throw err;
      obs.authEverywhere = null;
    }
    // A server that asks for credentials on every path proves nothing about DICOMweb.
    if (obs.authEverywhere === true) return done('application-error', 'every path asks for credentials: DICOMweb not proven');
    return done('success');
  }
  obs.access = 'open';

  // 2. Intrusive: count the studies (never more than the cap), unless the host is fragile.
  if (ctx.profile === 'intrusive' && !ctx.host.fragile) {
    const cap = DICOMWEB_CAPS.countCap;
    try {
      const res = await get(studiesPath(found.root, `limit=${cap}&includefield=none`), DICOMWEB_BODY_CAPS.count);
      obs.count = qidoOutcome('count', res, cap);
    } catch (err) {
      if (err instanceof ScopeError) throw err;
      obs.count = {
        kind: 'count',
        status: null,
        contentType: null,
        outcome: 'error',
        matches: 0,
        capped: false,
        truncated: false,
        attributes: [],
        error: boundedText(messageOf(err), 120),
      };
    }
    if (obs.count.outcome === 'open') obs.studyCount = obs.count.matches;
  }
  return done('success');
}

export const dicomwebProbe: Probe<DicomwebObservation> = {
  id: 'dicomweb',
  title: 'DICOMweb QIDO-RS (search door test, count-only study query)',
  layer: 'http',
  defaultPorts: [80, 443, 8042, 8080, 8443],
  tlsPorts: [443, 8443],
  safety: {
    qidoRandomUid: 'safe',
    authScopeControl: 'safe',
    qidoCount: 'intrusive',
  },
  resultSchema: DicomwebObservation,
  run: runDicomweb,
};
