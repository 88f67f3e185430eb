/**
 * Fingerprint engine: rules as data (db/*.yaml), recog style (STYLE.md §4).
 *
 * Each db file matches one observation field (`dicom.implementationClassUid`, ...). For each
 * file the first rule whose anchored pattern matches the field's value wins; the winners of
 * all files are merged into one Identification, the most specific first (a product-level
 * claim beats a toolkit-level one). Values come from the network: every value is truncated to
 * LIMITS.bannerBytes before any regex runs on it, and every pattern is anchored.
 *
 * Why DICOM needs two fields: the A-ASSOCIATE-AC carries the acceptor's Implementation Class
 * UID (required) and Implementation Version Name (optional, up to 16 characters), which
 * "identify in a unique manner a specific class of implementation" (DICOM PS3.7 §D.3.3.2).
 * They name the toolkit more often than the product: Debian's Orthanc answers with DCMTK's.
 * fuseAsset() therefore fuses the identities of all services of a host.
 *
 * Two tiers: product rules (the default) name what a service is; hint rules (db files with
 * `precedence: hint`, e.g. a DICOM AE title that answered) may only give a device type, and only
 * when no product rule gave a committal one (see identify()).
 *
 * User packs: besides the built-in db, loadFingerprintDb() reads the rule files of the user's
 * fingerprint directories (user-packs.ts: MEDSURFACE_FINGERPRINTS_DIR, then the default user
 * directory when it exists), after the built-in rules, so a built-in rule wins a tie.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { LIMITS } from '../core/limits.js';
import { readYamlFile } from '../core/yaml-file.js';
import type { AssetIdentity, DeviceType, Identification } from '../core/types.js';
import { defaultDbDir } from './package-root.js';
import { DbFile, DbIndex, type Outputs, type RuleDef } from './schema.js';
import { FingerprintDbError } from './errors.js';
import { userFingerprintDirs } from './user-packs.js';

/** A compiled rule. `field` is the db file's `matches`. */
export interface Rule {
  id: string;
  field: string;
  file: string;
  pattern: string;
  regex: RegExp;
  description: string;
  outputs: Outputs;
  params: Array<{ pos: number; name: string }>;
  examples: RuleDef['examples'];
  /** From a `precedence: hint` file: may only give a device type when no product rule did. */
  hint: boolean;
  /** Where the rule comes from: `builtin`, or the user pack folder it was read from. */
  pack: string;
}

export interface FingerprintDb {
  version: string;
  rules: Rule[];
  /** User pack folders whose rules were loaded after the built-in ones (empty when none). */
  packs: string[];
}

export { FingerprintDbError };

const cache = new Map<string, FingerprintDb>();

/** Largest db file we read; the db is ours, but a cap costs nothing. */
const MAX_DB_FILE_BYTES = 1024 * 1024;

function readYaml(file: string): unknown {
  return readYamlFile(file, MAX_DB_FILE_BYTES, (message, cause) => new FingerprintDbError(message, cause === undefined ? undefined : { cause }));
}

/** Count of capture groups in a regex (`new RegExp(p + '|').exec('')` has one slot per group). */
export function captureGroupCount(regex: RegExp): number {
  const probe = new RegExp(`${regex.source}|`, regex.flags);
  return (probe.exec('') ?? []).length - 1;
}

const PLACEHOLDER = /\{([A-Za-z0-9]+)\}/g;

function checkTemplate(file: string, rule: RuleDef, template: string, allowed: Set<string>): void {
  for (const m of template.matchAll(PLACEHOLDER)) {
    if (!allowed.has(m[1]!)) {
      throw new FingerprintDbError(`${file}: rule ${rule.id}: template "${template}" uses unknown placeholder {${m[1]}}`);
    }
  }
}

function compileRule(file: string, field: string, def: RuleDef, hint: boolean, pack: string): Rule {
  let regex: RegExp;
  try {
    regex = new RegExp(def.pattern, def.flags ?? '');
  } catch (err) {
    throw new FingerprintDbError(`${file}: rule ${def.id}: bad pattern`, { cause: err });
  }
  const groups = captureGroupCount(regex);
  const positions = new Set(def.params.map((p) => p.pos));
  if (positions.size !== def.params.length) throw new FingerprintDbError(`${file}: rule ${def.id}: duplicate param pos`);
  for (const p of def.params) {
    if (p.pos > groups) throw new FingerprintDbError(`${file}: rule ${def.id}: param pos ${p.pos} but ${groups} groups`);
  }
  const placeholders = new Set<string>();
  for (const p of def.params) {
    placeholders.add(String(p.pos));
    placeholders.add(p.name);
  }
  for (const key of ['vendor', 'product', 'version', 'deviceType'] as const) {
    const t = def.outputs[key];
    if (t) checkTemplate(file, def, t, placeholders);
  }
  if (def.outputs.cpe) checkTemplate(file, def, def.outputs.cpe, new Set(['version']));
  return {
    id: def.id,
    field,
    file,
    pattern: def.pattern,
    regex,
    description: def.description,
    outputs: def.outputs,
    params: def.params,
    examples: def.examples,
    hint,
    pack,
  };
}

/** Largest number of rule files read from one user pack folder. */
const MAX_PACK_FILES = 256;

/**
 * Validates one db file's content (already parsed from YAML) and compiles its rules. `where`
 * names the file in error messages; `pack` is `builtin` or the user pack folder.
 */
export function compileDbFile(input: unknown, where: string, pack: string): Rule[] {
  const parsed = DbFile.safeParse(input);
  if (!parsed.success) throw new FingerprintDbError(`${where}: ${z.prettifyError(parsed.error)}`, { cause: parsed.error });
  const hint = parsed.data.precedence === 'hint';
  return parsed.data.rules.map((def) => compileRule(where, parsed.data.matches, def, hint, pack));
}

/** Reads, validates and compiles the rule files of one folder (name order), appending to `rules`. */
function loadRuleFiles(dir: string, files: string[], pack: string, rules: Rule[], ids: Set<string>): void {
  for (const f of files) {
    const where = pack === 'builtin' ? f : path.join(dir, f);
    for (const rule of compileDbFile(readYaml(path.join(dir, f)), where, pack)) {
      if (ids.has(rule.id)) throw new FingerprintDbError(`${where}: duplicate rule id ${rule.id}`);
      ids.add(rule.id);
      rules.push(rule);
    }
  }
}

function ruleFilesOf(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') && f !== 'index.yaml')
    .sort();
}

/**
 * Loads and validates the fingerprint database (sync, cached). With a folder: that folder alone,
 * which must hold index.yaml (the built-in layout; tests use this). Without: the built-in db
 * (src/fingerprints/db under the package root, so this works from src/ through tsx and from dist/)
 * followed by the user packs (user-packs.ts), each a folder of rule files in the same format
 * without index.yaml. Rule files are read in name order; rule ids must be unique across all.
 */
export function loadFingerprintDb(dir?: string): FingerprintDb {
  const builtin = path.resolve(dir ?? defaultDbDir());
  const packs = dir === undefined ? userFingerprintDirs() : [];
  const key = [builtin, ...packs].join('\0');
  const hit = cache.get(key);
  if (hit) return hit;
  const index = DbIndex.safeParse(readYaml(path.join(builtin, 'index.yaml')));
  if (!index.success) throw new FingerprintDbError(`${builtin}/index.yaml: ${z.prettifyError(index.error)}`);
  const rules: Rule[] = [];
  const ids = new Set<string>();
  loadRuleFiles(builtin, ruleFilesOf(builtin), 'builtin', rules, ids);
  for (const p of packs) {
    const files = ruleFilesOf(p);
    if (files.length > MAX_PACK_FILES) throw new FingerprintDbError(`${p}: more than ${MAX_PACK_FILES} rule files`);
    loadRuleFiles(p, files, p, rules, ids);
  }
  const db: FingerprintDb = { version: index.data.version, rules, packs };
  cache.set(key, db);
  return db;
}

/** Forgets every loaded db (after `fingerprints import` wrote a pack, or in tests). */
export function clearFingerprintDbCache(): void {
  cache.clear();
}

/** Truncates to at most `max` UTF-8 bytes (a split multi-byte character becomes U+FFFD). */
export function truncateBytes(value: string, max: number = LIMITS.bannerBytes): string {
  if (value.length * 3 <= max) return value;
  const buf = Buffer.from(value.slice(0, max), 'utf8');
  return buf.length <= max ? buf.toString('utf8') : buf.subarray(0, max).toString('utf8');
}

function render(template: string, vars: Map<string, string>): string | undefined {
  let missing = false;
  const out = template.replace(PLACEHOLDER, (_, name: string) => {
    const v = vars.get(name);
    if (v === undefined) missing = true;
    return v ?? '';
  });
  return missing || out === '' ? undefined : out;
}

/** Runs one rule on a (truncated) value; returns the outputs it extracts, or null when it does not match. */
export function applyRule(rule: Rule, rawValue: string): Outputs | null {
  const value = truncateBytes(rawValue);
  const m = rule.regex.exec(value);
  if (!m) return null;
  const vars = new Map<string, string>();
  for (const p of rule.params) {
    const g = m[p.pos];
    if (g !== undefined) {
      vars.set(String(p.pos), g);
      vars.set(p.name, g);
    }
  }
  const out: Outputs = {};
  for (const key of ['vendor', 'product', 'version'] as const) {
    const t = rule.outputs[key];
    if (t === undefined) continue;
    const v = render(t, vars);
    if (v !== undefined) out[key] = v;
  }
  if (rule.outputs.deviceType) out.deviceType = rule.outputs.deviceType;
  if (rule.outputs.cpe && out.version && /^[A-Za-z0-9._-]+$/.test(out.version)) {
    out.cpe = rule.outputs.cpe.replace('{version}', out.version);
  }
  return out;
}

/**
 * How specific a device type is, for fusing identities (DESIGN.md: "deviceType most specific
 * wins"): a modality beats a PACS beats a workstation or viewer beats a bare toolkit.
 */
export function deviceTypeRank(t: DeviceType | undefined): number {
  switch (t) {
    case 'mri':
    case 'ct':
    case 'x-ray':
    case 'ultrasound':
    case 'mammography':
    case 'nuclear-medicine':
      return 11;
    case 'modality':
    case 'patient-monitor-gateway':
    case 'infusion-gateway':
    case 'lab-analyzer':
      return 10;
    case 'pacs':
    case 'lis':
    case 'his':
    case 'ehr':
      return 8;
    case 'interface-engine':
    case 'fhir-server':
    case 'dicom-router':
      return 7;
    case 'workstation':
    case 'viewer':
      return 6;
    case 'dicom-toolkit':
      return 3;
    case 'unknown-medical':
      return 4;
    case 'web-server':
    case 'remote-access':
      return 2;
    case 'unknown':
      return 0;
    default:
      return -1;
  }
}

/** Specificity of an identity claim: device type first, then product, then version. */
export function specificity(o: { product?: string; version?: string; deviceType?: DeviceType }): number {
  return (deviceTypeRank(o.deviceType) + 1) * 4 + (o.product ? 2 : 0) + (o.version ? 1 : 0);
}

interface RuleMatch {
  rule: Rule;
  outputs: Outputs;
  order: number;
}

/** For each db file (field), the first matching rule, in db order. */
function matchesOf(fields: Record<string, string | null | undefined>, db: FingerprintDb): RuleMatch[] {
  const seen = new Set<string>();
  const out: RuleMatch[] = [];
  db.rules.forEach((rule, order) => {
    if (seen.has(rule.file)) return;
    const value = fields[rule.field];
    if (typeof value !== 'string' || value.length === 0) return;
    const outputs = applyRule(rule, value);
    if (outputs) {
      seen.add(rule.file);
      out.push({ rule, outputs, order });
    }
  });
  return out;
}

/**
 * Device types a product rule may give that do not say what the device is: a toolkit, a bare
 * web server, "medical, but unknown". A hint rule may still give a more specific type over these.
 */
const NON_COMMITTAL: ReadonlySet<DeviceType | undefined> = new Set([undefined, 'dicom-toolkit', 'web-server', 'unknown', 'unknown-medical']);

/**
 * Identifies one service from its flattened fields (see fieldsOf). The first matching rule of
 * each db file counts; the most specific product match that names a vendor or product gives vendor
 * and product, and the others only fill in what it lacks when they name the same product (two
 * fields agreeing on DCMTK 3.6.7), never overwrite it; a match naming no one (a generic "FTP
 * server" rule) may only make the device type more specific. `rules` lists every product rule that matched, in db order, for the evidence
 * trail.
 *
 * Hint rules come last and count least: when no product rule gave a committal device type
 * (NON_COMMITTAL), the most specific matching hint gives the device type (only if it is more
 * specific than what is there), and its rule id joins `rules`. A product rule always wins.
 */
export function identify(
  fields: Record<string, string | null | undefined>,
  db: FingerprintDb = loadFingerprintDb(),
): Identification {
  const all = matchesOf(fields, db);
  const matches = all.filter((m) => !m.rule.hint);
  const id: Identification = { rules: matches.map((m) => m.rule.id) };
  if (matches.length > 0) {
    // Only a match that names someone can give vendor and product (as in fuseAsset): a generic
    // rule ("some FTP server": a device type, no product) does not hide a product rule's claim.
    const names = (m: RuleMatch) => m.outputs.vendor !== undefined || m.outputs.product !== undefined;
    matches.sort((a, b) => Number(names(b)) - Number(names(a)) || specificity(b.outputs) - specificity(a.outputs) || a.order - b.order);
    const primary = matches[0]!;
    Object.assign(id, primary.outputs);
    for (const m of matches.slice(1)) {
      if (!names(m)) {
        // A claim about what kind of thing it is, naming no one: it may only make the type more specific.
        if (deviceTypeRank(m.outputs.deviceType) > deviceTypeRank(id.deviceType)) id.deviceType = m.outputs.deviceType;
        continue;
      }
      const same =
        m.outputs.product !== undefined &&
        m.outputs.product === id.product &&
        (m.outputs.vendor === undefined || id.vendor === undefined || m.outputs.vendor === id.vendor);
      if (!same) continue;
      id.vendor ??= m.outputs.vendor;
      if (id.version === undefined && m.outputs.version !== undefined) {
        id.version = m.outputs.version;
        if (m.outputs.cpe) id.cpe = m.outputs.cpe;
      }
      if (deviceTypeRank(m.outputs.deviceType) > deviceTypeRank(id.deviceType)) id.deviceType = m.outputs.deviceType;
    }
  }
  if (NON_COMMITTAL.has(id.deviceType)) {
    const hints = all.filter((m) => m.rule.hint && deviceTypeRank(m.outputs.deviceType) > deviceTypeRank(id.deviceType));
    hints.sort((a, b) => deviceTypeRank(b.outputs.deviceType) - deviceTypeRank(a.outputs.deviceType) || a.order - b.order);
    const best = hints[0];
    if (best?.outputs.deviceType) {
      id.deviceType = best.outputs.deviceType;
      id.rules = [...id.rules, best.rule.id];
    }
  }
  return id;
}

/**
 * Where each fingerprint field lives in a service record's `data` (keyed by probe id), defined
 * once. Adding a probe's fields here is all a new db file needs.
 */
export const FIELD_PATHS: Readonly<Record<string, readonly string[]>> = {
  'dicom.implementationClassUid': ['dicom', 'association', 'implementationClassUid'],
  'dicom.implementationVersionName': ['dicom', 'association', 'implementationVersionName'],
  'fhir.softwareName': ['fhir', 'softwareName'],
  'fhir.softwareVersion': ['fhir', 'softwareVersion'],
  'fhir.software': ['fhir', 'software'],
  'dicomweb.authRealm': ['dicomweb', 'authRealm'],
  'dicomweb.server': ['dicomweb', 'server'],
  'hl7.sendingApplication': ['hl7', 'sendingApplication'],
  'hl7.sendingFacility': ['hl7', 'sendingFacility'],
  'hl7.controlId': ['hl7', 'controlId'],
  'http.server': ['http', 'server'],
  'http.poweredBy': ['http', 'poweredBy'],
  'http.title': ['http', 'title'],
  'http.realm': ['http', 'realm'],
  'http.location': ['http', 'location'],
  'http.marks': ['http', 'marks'],
  'http.faviconMmh3': ['http', 'favicon', 'mmh3'],
  'http.faviconMd5': ['http', 'favicon', 'md5'],
  'http.orthancVersion': ['http', 'orthanc', 'version'],
  'ftp.banner': ['ftp', 'banner'],
  'telnet.banner': ['telnet', 'banner'],
  'telnet.negotiation': ['telnet', 'negotiation'],
  'vnc.version': ['vnc', 'version'],
  'rdp.signature': ['rdp', 'signature'],
};

function dig(root: unknown, segments: readonly string[]): unknown {
  let cur: unknown = root;
  for (const s of segments) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    if (!Object.hasOwn(cur, s)) return undefined;
    cur = (cur as Record<string, unknown>)[s];
  }
  return cur;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * Fields computed from an observation rather than read from one place, defined once:
 * - `dicom.answeredAeTitle`: the called AE title an association was accepted for when it was not
 *   our random title (a documented default or, intrusive, a guess: data.dicom.attempts). Which
 *   title a node answers to hints at what it is (an archive's default AE). Absent when any title
 *   is accepted, since then the title says nothing.
 * - `ftp.greeting`: the first line of the FTP greeting without its reply code ("220 ", "220-"),
 *   the form Recog's ftp.banner fingerprints match.
 * - `http.wwwAuthenticate`: `<scheme> realm="<realm>"` rebuilt from the first challenge's scheme
 *   and realm (RFC 9110 §11.6.1), the form Recog's http_header.wwwauth fingerprints match for
 *   challenges that carry only a realm (other parameters are not kept, so patterns that need a
 *   nonce or qop never match).
 */
export const DERIVED_FIELDS: Readonly<Record<string, (data: Record<string, unknown>) => string | undefined>> = {
  'dicom.answeredAeTitle': (data) => {
    const attempts = dig(data, ['dicom', 'attempts']);
    if (!Array.isArray(attempts)) return undefined;
    for (const a of attempts as unknown[]) {
      const r = a as { kind?: unknown; outcome?: unknown; calledAe?: unknown } | null;
      if (r && r.outcome === 'accepted' && (r.kind === 'default' || r.kind === 'guess')) return str(r.calledAe);
    }
    return undefined;
  },
  'ftp.greeting': (data) => {
    const banner = str(dig(data, ['ftp', 'banner']));
    if (banner === undefined) return undefined;
    const first = truncateBytes(banner).split(/\r?\n/, 1)[0] ?? '';
    return first.replace(/^\d{3}[ -]?/, '');
  },
  'http.wwwAuthenticate': (data) => {
    const scheme = str(dig(data, ['http', 'authScheme']));
    const realm = str(dig(data, ['http', 'realm']));
    if (!scheme || realm === undefined) return undefined;
    return `${scheme} realm="${realm}"`;
  },
};

/** Every field a db file may match: the FIELD_PATHS and the DERIVED_FIELDS. */
export function knownField(field: string): boolean {
  return Object.hasOwn(FIELD_PATHS, field) || Object.hasOwn(DERIVED_FIELDS, field);
}

/**
 * UI values are padded with NUL and SH values with spaces (PS3.5 §6.2); a peer may leave the
 * padding in the sub-item. Strip it, and bound the length before anything else sees the value.
 */
function cleanValue(v: string): string {
  return truncateBytes(v).replace(/^[\s\0]+|[\s\0]+$/g, '');
}

/** Flattens a service record's observation into the fields the fingerprint db matches on. */
export function fieldsOf(record: { protocol: string | null; data: Record<string, unknown> }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [field, segments] of Object.entries(FIELD_PATHS)) {
    const v = dig(record.data, segments);
    if (typeof v === 'string') {
      const clean = cleanValue(v);
      if (clean) out[field] = clean;
    }
  }
  for (const [field, derive] of Object.entries(DERIVED_FIELDS)) {
    const v = derive(record.data);
    if (v !== undefined) {
      const clean = cleanValue(v);
      if (clean) out[field] = clean;
    }
  }
  return out;
}

/** One service of a host, as fuseAsset needs it. `port` and `fields` make the evidence precise. */
export interface FusableService {
  protocol: string | null;
  identification: Identification;
  port?: number;
  fields?: Record<string, string>;
}

/** Evidence text is shown to people and stored: printable ASCII, bounded. */
function printable(s: string, max = 96): string {
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}...` : clean;
}

function describe(o: { vendor?: string; product?: string; version?: string; deviceType?: DeviceType }): string {
  const name = o.product ?? o.vendor ?? (o.deviceType ? `device type ${o.deviceType}` : 'unknown');
  return o.version ? `${name} ${o.version}` : name;
}

/**
 * Fuses the identities of all services of one host into the asset's identity. The most
 * specific identification (a PACS product seen over HTTP beats the DCMTK toolkit seen over
 * DICOM) gives vendor and product; the device type is the most specific one any service shows.
 * Evidence lists every rule that contributed, as
 * `dicom:4242 implementationClassUid=1.2.276.0.7230010.3.0.3.6.7 → DCMTK 3.6.7 (rule dcmtk-uid)`.
 */
export function fuseAsset(services: FusableService[], db: FingerprintDb = loadFingerprintDb()): AssetIdentity {
  const byId = new Map(db.rules.map((r) => [r.id, r]));
  const evidence: string[] = [];
  let best: Identification | undefined;
  let bestScore = -1;
  let deviceType: DeviceType | undefined;
  for (const s of services) {
    const id = s.identification;
    if (!id.vendor && !id.product && !id.deviceType) continue;
    // A device type inferred from what the service does (scan-service withRole: rule 'role:*', a
    // DCMTK Q/R archive is a PACS) or from a hint rule (the AE title ORTHANC answered) still types
    // the asset, but does not make the toolkit's name outrank a product rule's claim (Debian's
    // Orthanc: DICOM says DCMTK, HTTP says Orthanc).
    const inferred = id.rules.some((r) => r.startsWith('role:') || byId.get(r)?.hint === true);
    const score = specificity(inferred ? { ...id, deviceType: undefined } : id);
    // Only a claim that names someone can give the asset its vendor and product.
    if ((id.vendor || id.product) && score > bestScore) {
      best = id;
      bestScore = score;
    }
    if (deviceTypeRank(id.deviceType) > deviceTypeRank(deviceType)) deviceType = id.deviceType;
    const where = printable(`${s.protocol ?? 'unknown'}${s.port !== undefined ? `:${s.port}` : ''}`, 32);
    for (const ruleId of id.rules) {
      const rule = byId.get(ruleId);
      const value = rule ? s.fields?.[rule.field] : undefined;
      if (rule && value !== undefined) {
        const own = applyRule(rule, value) ?? {};
        const short = rule.field.slice(rule.field.indexOf('.') + 1);
        evidence.push(`${where} ${short}=${printable(value)} → ${printable(describe(own))} (rule ${ruleId})`);
      } else {
        evidence.push(`${where} → ${printable(describe(id))} (rule ${printable(ruleId, 64)})`);
      }
    }
  }
  const asset: AssetIdentity = { evidence };
  if (best?.vendor) asset.vendor = best.vendor;
  if (best?.product) asset.product = best.product;
  if (deviceType) asset.deviceType = deviceType;
  return asset;
}
