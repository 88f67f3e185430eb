/**
 * Pure functions of the FHIR probe: bytes in, bounded typed values out, no socket.
 *
 * - reduceCapabilityStatement: the `capabilities` interaction's answer (FHIR R4 §3.1.0.1.7:
 *   `GET [base]/metadata` returns a CapabilityStatement; DSTU2 returns a Conformance) reduced to
 *   what identifies the server: software, FHIR version, formats, resource type names, security.
 * - bundleSummary: a search reply (R4 §3.1.1.5, Bundle of type searchset) reduced to its type,
 *   `total` and the NUMBER of entries. Entries are skipped token by token and never decoded.
 * - parseSmartConfiguration: `.well-known/smart-configuration` (SMART App Launch 2.0 §2.1).
 *
 * Every failure is a ProtocolError (fast-check tests in parse.test.ts hold them to that).
 */
import { ProtocolError } from '../../core/errors.js';
import { JSON_LIMITS, type JsonLimits, JsonScanner, asArray, asObject, boundedText, field, parseJson } from './bounded-json.js';
import type { FhirRelease, FhirSecurity, OauthUris, SmartConfiguration } from './schema.js';

/** Named caps for what the FHIR observation keeps. */
export const FHIR_CAPS = {
  /** Resource type names kept (R5 defines 157 resource types). */
  resourceTypes: 256,
  /** Formats kept (R4 servers list 2 to 8). */
  formats: 16,
  /** Security service codings kept. */
  services: 16,
  /** SMART capabilities kept (SMART 2.0 defines about 25). */
  smartCapabilities: 48,
  /** Characters kept of a short server-chosen string (software name, version, format, code). */
  shortText: 64,
  /** Characters kept of implementation.description and publisher. */
  description: 128,
  /** Characters kept of an endpoint URL. */
  url: 256,
} as const;

/** A resource type name (R4 §2.1.0 `ResourceType`: letters, starting upper case). */
const RESOURCE_TYPE = /^[A-Z][A-Za-z0-9]{0,63}$/;

/** The SMART oauth-uris extension (SMART App Launch 1.0 "Declaring support for OAuth2 endpoints"). */
export const OAUTH_URIS_EXTENSION = 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris';

export interface CapabilityReduction {
  resourceType: 'CapabilityStatement' | 'Conformance';
  fhirVersion: string | null;
  fhirRelease: FhirRelease | null;
  softwareName: string | null;
  softwareVersion: string | null;
  software: string | null;
  implementationDescription: string | null;
  publisher: string | null;
  kind: string | null;
  formats: string[];
  resourceTypes: string[];
  resourceTypeCount: number;
  patientSearch: boolean | null;
  security: FhirSecurity;
  truncated: boolean;
}

/**
 * The FHIR release of a version string (R4 `FHIRVersion` codes: 1.0.x DSTU2, 3.0.x STU3, 4.0.x R4,
 * 4.3.x R4B, 5.0.x R5; ballot versions map to the release they preceded).
 */
export function fhirReleaseOf(version: string | null): FhirRelease | null {
  if (!version) return null;
  const m = /^(\d+)\.(\d+)/.exec(version);
  if (!m) return 'unknown';
  const major = Number(m[1]);
  const minor = Number(m[2]);
  if (major === 0 || (major === 1 && minor <= 2)) return 'DSTU2';
  if (major === 1 || (major === 3 && minor === 0)) return 'STU3';
  if (major === 3 || (major === 4 && minor === 0)) return 'R4';
  if (major === 4 && (minor === 1 || minor === 3)) return 'R4B';
  if (major === 4 || major === 5) return 'R5';
  if (major === 6) return 'R6';
  return 'unknown';
}

const short = (v: unknown) => boundedText(v, FHIR_CAPS.shortText);

/** The product-token form of name and version (`HAPI FHIR Server/6.4.0`), what fhir-software rules match. */
export function softwareToken(name: string | null, version: string | null): string | null {
  if (!name) return null;
  return version ? `${name}/${version}` : name;
}

function securityOf(rests: unknown[]): FhirSecurity {
  const services = new Set<string>();
  let declared = false;
  let cors: boolean | null = null;
  let uris: OauthUris | null = null;
  for (const r of rests) {
    const sec = asObject(field(asObject(r), 'security'));
    if (!sec) continue;
    declared = true;
    const c = field(sec, 'cors');
    if (typeof c === 'boolean') cors = cors === true || c;
    for (const svc of asArray(field(sec, 'service')).slice(0, FHIR_CAPS.services * 4)) {
      const so = asObject(svc);
      for (const coding of asArray(field(so, 'coding')).slice(0, 8)) {
        const code = short(field(asObject(coding), 'code'));
        if (code && services.size < FHIR_CAPS.services) services.add(code);
      }
      const text = short(field(so, 'text'));
      if (text && services.size < FHIR_CAPS.services && asArray(field(so, 'coding')).length === 0) services.add(text);
    }
    for (const ext of asArray(field(sec, 'extension')).slice(0, 32)) {
      const eo = asObject(ext);
      if (field(eo, 'url') !== OAUTH_URIS_EXTENSION) continue;
      uris ??= { authorize: null, token: null, register: null, manage: null, introspect: null, revoke: null };
      for (const sub of asArray(field(eo, 'extension')).slice(0, 16)) {
        const so = asObject(sub);
        const url = field(so, 'url');
        const value = boundedText(field(so, 'valueUri') ?? field(so, 'valueUrl'), FHIR_CAPS.url);
        if (typeof url === 'string' && Object.hasOwn(uris, url) && value) (uris as Record<string, string | null>)[url] = value;
      }
    }
  }
  const lower = [...services].map((s) => s.toLowerCase());
  const smart = lower.includes('smart-on-fhir') || uris !== null;
  const oauth = lower.includes('oauth') || smart || (uris !== null && (uris.authorize !== null || uris.token !== null));
  return { declared, cors, services: [...services].sort(), smart, oauth, oauthUris: uris };
}

/**
 * Reduces a CapabilityStatement (or DSTU2 Conformance) body. Throws ProtocolError when the body is
 * not JSON or not one of those two resources. A body cut at the byte cap is read as far as it goes.
 */
export function reduceCapabilityStatement(body: Buffer, limits: Partial<JsonLimits> = {}): CapabilityReduction {
  const { value, truncated } = parseJson(body, {
    maxBytes: limits.maxBytes ?? JSON_LIMITS.maxBytes,
    maxDepth: limits.maxDepth ?? JSON_LIMITS.maxDepth,
    maxNodes: limits.maxNodes ?? JSON_LIMITS.maxNodes,
    partial: limits.partial ?? true,
  });
  const cs = asObject(value);
  const rt = field(cs, 'resourceType');
  if (rt !== 'CapabilityStatement' && rt !== 'Conformance') {
    throw new ProtocolError(typeof rt === 'string' ? 'the metadata reply is another FHIR resource, not a CapabilityStatement' : 'the metadata reply is not a FHIR resource');
  }
  const software = asObject(field(cs, 'software'));
  const softwareName = short(field(software, 'name'));
  const softwareVersion = short(field(software, 'version'));
  const fhirVersion = short(field(cs, 'fhirVersion'));
  const formats: string[] = [];
  for (const f of asArray(field(cs, 'format'))) {
    const s = short(f);
    if (s && !formats.includes(s) && formats.length < FHIR_CAPS.formats) formats.push(s);
  }
  const rests = asArray(field(cs, 'rest')).slice(0, 8);
  const types = new Set<string>();
  let resourceTypeCount = 0;
  let patientSearch: boolean | null = null;
  for (const r of rests) {
    const ro = asObject(r);
    if (field(ro, 'mode') === 'client') continue;
    for (const res of asArray(field(ro, 'resource'))) {
      const rs = asObject(res);
      const type = field(rs, 'type');
      if (typeof type !== 'string' || !RESOURCE_TYPE.test(type)) continue;
      resourceTypeCount++;
      if (types.size < FHIR_CAPS.resourceTypes) types.add(type);
      if (type === 'Patient') {
        const codes = asArray(field(rs, 'interaction')).map((i) => field(asObject(i), 'code'));
        patientSearch = codes.includes('search-type');
      }
    }
  }
  return {
    resourceType: rt,
    fhirVersion,
    fhirRelease: fhirReleaseOf(fhirVersion),
    softwareName,
    softwareVersion,
    software: softwareToken(softwareName, softwareVersion),
    implementationDescription: boundedText(field(asObject(field(cs, 'implementation')), 'description'), FHIR_CAPS.description),
    publisher: boundedText(field(cs, 'publisher'), FHIR_CAPS.description),
    kind: short(field(cs, 'kind')),
    formats,
    resourceTypes: [...types].sort(),
    resourceTypeCount,
    patientSearch: truncated && patientSearch === null ? null : patientSearch,
    security: securityOf(rests),
    truncated,
  };
}

export interface BundleSummary {
  /** Top-level resourceType (`Bundle`, `OperationOutcome`, ...), bounded, null when absent. */
  resourceType: string | null;
  /** Bundle.type (`searchset`). */
  type: string | null;
  /** Bundle.total, when a non-negative integer. */
  total: number | null;
  /** Values in Bundle.entry: counted, never decoded. */
  entries: number;
  /** The body ended inside a value (cut at the byte cap). */
  truncated: boolean;
}

const CODE = /^[A-Za-z][A-Za-z0-9-]{0,63}$/;

/**
 * Summarises a search reply without decoding a single entry: walks the tokens, decodes only the
 * top-level `resourceType`, `type` and `total`, and counts the values of the top-level `entry`
 * array. Throws ProtocolError when the body is not a JSON object.
 */
export function bundleSummary(body: Buffer, limits: Partial<JsonLimits> = {}): BundleSummary {
  const sc = new JsonScanner(body, {
    maxBytes: limits.maxBytes ?? JSON_LIMITS.maxBytes,
    maxDepth: limits.maxDepth ?? JSON_LIMITS.maxDepth,
    partial: limits.partial ?? true,
  });
  const out: BundleSummary = { resourceType: null, type: null, total: null, entries: 0, truncated: false };
  const first = sc.next();
  if (!first) throw new ProtocolError('empty search reply');
  if (first.type !== 'begin-object') throw new ProtocolError('search reply is not a JSON object');
  let key: string | null = null;
  let inEntry = false;
  for (let t = sc.next(); t !== null; t = sc.next()) {
    if (t.type === 'key' && t.depth === 1) {
      key = JsonScanner.rawLength(t) <= 16 ? sc.text(t) : null;
      continue;
    }
    if (t.depth === 1 && (t.type === 'string' || t.type === 'number' || t.type === 'true' || t.type === 'false' || t.type === 'null')) {
      // A top-level scalar value: keep only the three we need, decoded only when short.
      if (t.type === 'string' && (key === 'resourceType' || key === 'type') && JsonScanner.rawLength(t) <= 64) {
        const s = sc.text(t);
        if (CODE.test(s)) {
          if (key === 'resourceType') out.resourceType = s;
          else out.type = s;
        }
      } else if (t.type === 'number' && key === 'total') {
        const n = sc.numberValue(t);
        if (Number.isSafeInteger(n) && n >= 0) out.total = n;
      }
      key = null;
      continue;
    }
    if (t.type === 'begin-array' && t.depth === 2 && key === 'entry') {
      inEntry = true;
      continue;
    }
    if (inEntry) {
      // Each value that starts directly inside `entry` is one entry: a container opening to depth 3, or a scalar at depth 2.
      if (t.type === 'begin-object' || t.type === 'begin-array') {
        if (t.depth === 3) out.entries++;
      } else if (t.type === 'end-array' && t.depth === 1) {
        inEntry = false;
        key = null;
      } else if (t.depth === 2 && t.type !== 'end-object' && t.type !== 'end-array') {
        out.entries++;
      }
      continue;
    }
    if ((t.type === 'end-object' || t.type === 'end-array') && t.depth === 1) key = null;
  }
  out.truncated = sc.truncated;
  return out;
}

/** Parses `.well-known/smart-configuration`; throws ProtocolError when it is not a JSON object. */
export function parseSmartConfiguration(body: Buffer, status: number | null, limits: Partial<JsonLimits> = {}): SmartConfiguration {
  const { value } = parseJson(body, {
    maxBytes: limits.maxBytes ?? 64 * 1024,
    maxDepth: limits.maxDepth ?? 16,
    maxNodes: limits.maxNodes ?? 4096,
    partial: false,
  });
  const o = asObject(value);
  if (!o) throw new ProtocolError('smart-configuration is not a JSON object');
  const authorizationEndpoint = boundedText(field(o, 'authorization_endpoint'), FHIR_CAPS.url);
  const tokenEndpoint = boundedText(field(o, 'token_endpoint'), FHIR_CAPS.url);
  const capabilities: string[] = [];
  for (const c of asArray(field(o, 'capabilities'))) {
    const s = short(c);
    if (s && !capabilities.includes(s) && capabilities.length < FHIR_CAPS.smartCapabilities) capabilities.push(s);
  }
  return {
    status,
    present: authorizationEndpoint !== null || tokenEndpoint !== null || capabilities.length > 0,
    authorizationEndpoint,
    tokenEndpoint,
    capabilities: capabilities.sort(),
  };
}

/**
 * The scheme of a WWW-Authenticate challenge (RFC 9110 §11.6.1: `challenge = auth-scheme [ 1*SP
 * ( token68 / #auth-param ) ]`), e.g. `Bearer`, `Basic`. Only the scheme token is kept.
 */
export function authSchemeOf(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^\s*([!#$%&'*+.^_`|~0-9A-Za-z-]{1,32})(?:\s|,|$)/.exec(header.slice(0, 256));
  return m?.[1] ?? null;
}

/**
 * The realm of a WWW-Authenticate challenge (RFC 9110 §11.5), bounded to 64 printable characters.
 * A realm names the server's protection space (`Orthanc Secure Area`), never a patient.
 */
export function authRealmOf(header: string | undefined): string | null {
  if (!header) return null;
  const m = /\brealm\s*=\s*"([^"]{0,256})"/i.exec(header.slice(0, 512)) ?? /\brealm\s*=\s*([^\s,"]{1,64})/i.exec(header.slice(0, 512));
  return boundedText(m?.[1], 64);
}
