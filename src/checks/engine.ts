/**
 * Checks engine: declarative checks (defs/<protocol>/*.yaml), nuclei style (STYLE.md §5).
 * Gathering data (probes) is kept apart from judging it (here), so checks run offline on
 * stored service records and are tested against fixtures.
 *
 * A check runs on a service when its protocol matches (or is `*`), the profile in effect
 * includes the check's profile (intrusive includes safe), every `requires` path is present and
 * its optional `when` precondition holds. `checksRun` lists the checks that ran: resolution
 * needs to know what ran (DESIGN.md: a finding is resolved only when a later complete scan ran
 * its check and the check did not fire).
 *
 * Date operators (`before`/`after`) compare ISO 8601 values with a fixed date or with `now`, the
 * time of evaluation (runChecks `options.now`), so a stored certificate expires on re-scoring.
 * A check's `escalate` list raises the severity of a finding when a further condition holds.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { LIMITS } from '../core/limits.js';
import { readYamlFile } from '../core/yaml-file.js';
import {
  type Confidence,
  type Finding,
  type Identification,
  PROFILES,
  type Profile,
  type ServiceRecord,
  type Severity,
  severityRank,
} from '../core/types.js';
import { packageRoot } from '../fingerprints/package-root.js';
import { CheckFile, ChecksIndex, type DateRef, ISO_DATE, type Matcher, type Scalar } from './schema.js';

export type { DateRef, Matcher } from './schema.js';

export interface CheckDef {
  id: string;
  info: { name: string; severity: Severity; description: string; remediation: string; references: string[] };
  protocol: string;
  profile: Profile;
  confidence: Confidence;
  requires: string[];
  /** Optional precondition; when false the check counts as not run. */
  when?: Matcher;
  match: Matcher;
  /** Raised severities, first whose `when` holds wins (each above info.severity). */
  escalate?: { severity: Severity; when: Matcher }[];
  evidence: string[];
  /** Example fixtures (paths relative to src/checks/), for the tests. */
  examples?: { positive: string[]; negative: string[] };
  /** Definition file, relative to the defs folder. */
  file?: string;
}

/** What a check looks at. `tls` and `identification` are optional, as on a service record. */
export interface CheckRecord {
  protocol: string | null;
  data: Record<string, unknown>;
  tls?: unknown;
  identification?: Identification;
}

/**
 * The check view of a stored service record: its own identification (`product`, `vendor`,
 * `version`, `cpe`, `deviceType` of the record, never the host's fused `asset`) becomes
 * `identification`, as the scan engine passes it, so checks re-run offline (rescore) on stored
 * records see what they saw during the scan.
 */
export function checkRecordOf(rec: ServiceRecord): CheckRecord {
  const identification: Identification = { rules: [] };
  if (rec.vendor !== undefined) identification.vendor = rec.vendor;
  if (rec.product !== undefined) identification.product = rec.product;
  if (rec.version !== undefined) identification.version = rec.version;
  if (rec.cpe !== undefined) identification.cpe = rec.cpe;
  if (rec.deviceType !== undefined) identification.deviceType = rec.deviceType;
  return { protocol: rec.protocol, data: rec.data, ...(rec.tls ? { tls: rec.tls } : {}), identification };
}

export class CheckDbError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CheckDbError';
  }
}

/** Default folder of the check definitions (shipped: package.json "files" has src/checks/defs). */
export function defaultDefsDir(): string {
  return path.join(packageRoot(), 'src', 'checks', 'defs');
}

const MAX_DEF_BYTES = 256 * 1024;

function readYaml(file: string): unknown {
  return readYamlFile(file, MAX_DEF_BYTES, (message, cause) => new CheckDbError(message, cause === undefined ? undefined : { cause }));
}

function yamlFiles(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    if (statSync(path.join(dir, r)).isDirectory()) out.push(...yamlFiles(dir, r));
    else if (name.endsWith('.yaml') && r !== 'index.yaml') out.push(r);
  }
  return out;
}

function readVersion(dir: string): string {
  const parsed = ChecksIndex.safeParse(readYaml(path.join(dir, 'index.yaml')));
  if (!parsed.success) throw new CheckDbError(`${dir}/index.yaml: ${z.prettifyError(parsed.error)}`);
  return parsed.data.version;
}

/** The version of the check db as a whole (defs/index.yaml), stored with each scan run. */
export const CHECKS_DB_VERSION: string = readVersion(defaultDefsDir());

const cache = new Map<string, CheckDef[]>();

/** Loads and validates every check definition under `dir` (sync, cached per folder). */
export function loadChecks(dir: string = defaultDefsDir()): CheckDef[] {
  const key = path.resolve(dir);
  const hit = cache.get(key);
  if (hit) return hit;
  readVersion(key);
  const checks: CheckDef[] = [];
  const ids = new Set<string>();
  for (const rel of yamlFiles(key)) {
    const parsed = CheckFile.safeParse(readYaml(path.join(key, rel)));
    if (!parsed.success) throw new CheckDbError(`${rel}: ${z.prettifyError(parsed.error)}`, { cause: parsed.error });
    const c = parsed.data;
    if (ids.has(c.id)) throw new CheckDbError(`${rel}: duplicate check id ${c.id}`);
    ids.add(c.id);
    if (path.basename(rel, '.yaml') !== c.id) throw new CheckDbError(`${rel}: file name must be the check id (${c.id}.yaml)`);
    if (c.protocol !== '*' && !c.id.startsWith(`${c.protocol}-`)) {
      throw new CheckDbError(`${rel}: check id ${c.id} must be prefixed by its protocol ${c.protocol}`);
    }
    for (const e of c.escalate ?? []) {
      if (severityRank(e.severity) <= severityRank(c.info.severity)) {
        throw new CheckDbError(`${rel}: escalation to ${e.severity} is not above the check's severity ${c.info.severity}`);
      }
    }
    const def: CheckDef = { ...c, file: rel };
    if (c.when === undefined) delete def.when;
    if (c.escalate === undefined) delete def.escalate;
    checks.push(def);
  }
  cache.set(key, checks);
  return checks;
}

/** Reads a dotted path, own properties only; array elements by numeric segment. */
export function getPath(root: unknown, dotted: string): unknown {
  let cur: unknown = root;
  for (const seg of dotted.split('.')) {
    if (cur === null || cur === undefined || typeof cur !== 'object') return undefined;
    if (Array.isArray(cur)) {
      if (!/^\d+$/.test(seg)) return undefined;
      cur = cur[Number(seg)];
      continue;
    }
    if (!Object.hasOwn(cur, seg)) return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

function clip(s: string): string {
  if (s.length * 3 <= LIMITS.bannerBytes) return s;
  const buf = Buffer.from(s.slice(0, LIMITS.bannerBytes), 'utf8');
  return buf.subarray(0, LIMITS.bannerBytes).toString('utf8');
}

const regexCache = new Map<string, RegExp>();

function compiled(pattern: string): RegExp {
  let re = regexCache.get(pattern);
  if (!re) {
    re = new RegExp(pattern);
    regexCache.set(pattern, re);
  }
  return re;
}

/** A value's time when it is an ISO 8601 date (schema.ts ISO_DATE); anything else is no date. */
function timeOf(v: unknown): number | null {
  if (typeof v !== 'string' || v.length > 40 || !ISO_DATE.test(v)) return null;
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : t;
}

function refTime(ref: DateRef, now: number): number {
  return ref === 'now' ? now : Date.parse(ref);
}

/**
 * Evaluates a matcher. Every leaf except `exists` is false when the value is missing or null
 * (`equals: null` excepted): a check cannot conclude anything from data it does not have.
 * `now` (ms since the epoch) is the moment `before`/`after: now` compare with.
 */
export function evaluate(m: Matcher, rec: unknown, now: number = Date.now()): boolean {
  if ('all' in m) return m.all.every((x) => evaluate(x, rec, now));
  if ('any' in m) return m.any.some((x) => evaluate(x, rec, now));
  if ('not' in m) return !evaluate(m.not, rec, now);
  const v = getPath(rec, m.path);
  if ('exists' in m) return present(v) === m.exists;
  if ('equals' in m) return m.equals === null ? !present(v) : v === m.equals;
  if (!present(v)) return false;
  if ('notEquals' in m) return v !== m.notEquals;
  if ('gt' in m) return typeof v === 'number' && v > m.gt;
  if ('gte' in m) return typeof v === 'number' && v >= m.gte;
  if ('lt' in m) return typeof v === 'number' && v < m.lt;
  if ('lte' in m) return typeof v === 'number' && v <= m.lte;
  if ('in' in m) return m.in.some((x) => x === v);
  if ('contains' in m) {
    if (typeof v === 'string') return typeof m.contains === 'string' && clip(v).includes(m.contains);
    if (Array.isArray(v)) return v.slice(0, 1024).some((x) => x === m.contains);
    return false;
  }
  if ('regex' in m) return typeof v === 'string' && compiled(m.regex).test(clip(v));
  if ('before' in m || 'after' in m) {
    const t = timeOf(v);
    if (t === null) return false;
    return 'before' in m ? t < refTime(m.before, now) : t > refTime(m.after, now);
  }
  return false;
}

const MAX_EVIDENCE_STRING = 256;
const MAX_EVIDENCE_ITEMS = 64;

function evidenceValue(v: unknown): Scalar {
  if (v === undefined || v === null) return null;
  if (typeof v === 'boolean' || typeof v === 'number') return v;
  if (typeof v === 'string') return v.length > MAX_EVIDENCE_STRING ? `${v.slice(0, MAX_EVIDENCE_STRING)}...` : v;
  if (Array.isArray(v)) {
    const items = v
      .slice(0, MAX_EVIDENCE_ITEMS)
      .filter((x) => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean')
      .map(String);
    const joined = items.join(',');
    return joined.length > MAX_EVIDENCE_STRING ? `${joined.slice(0, MAX_EVIDENCE_STRING)}...` : joined;
  }
  // Objects are never copied: evidence holds facts, not sub-trees that might carry more.
  return null;
}

function profileAllows(inEffect: Profile, needed: Profile): boolean {
  return PROFILES.indexOf(inEffect) >= PROFILES.indexOf(needed);
}

/** Whether `check` runs on `rec` under `profile` (protocol, profile, requires, when). */
export function applies(check: CheckDef, rec: CheckRecord, profile: Profile, now: number = Date.now()): boolean {
  if (check.protocol !== '*' && rec.protocol !== check.protocol) return false;
  if (!profileAllows(profile, check.profile)) return false;
  if (!check.requires.every((p) => present(getPath(rec, p)))) return false;
  if (check.when && !evaluate(check.when, rec, now)) return false;
  return true;
}

/** The severity of a finding of `check` on `rec`: the first escalation that holds, else the check's own. */
function severityOf(check: CheckDef, rec: CheckRecord, now: number): Severity {
  for (const e of check.escalate ?? []) if (evaluate(e.when, rec, now)) return e.severity;
  return check.info.severity;
}

export interface RunChecksOptions {
  /** The time date operators compare with (ms since the epoch); default: the current time. */
  now?: number;
}

/**
 * Runs the checks that apply to one service record. `checksRun` lists every check that was
 * evaluated (fired or not); `findings` those that fired, with their evidence.
 */
export function runChecks(
  rec: CheckRecord,
  profile: Profile,
  checks: CheckDef[] = loadChecks(),
  options: RunChecksOptions = {},
): { findings: Finding[]; checksRun: string[] } {
  const now = options.now ?? Date.now();
  const findings: Finding[] = [];
  const checksRun: string[] = [];
  for (const check of checks) {
    if (!applies(check, rec, profile, now)) continue;
    checksRun.push(check.id);
    if (!evaluate(check.match, rec, now)) continue;
    const finding: Finding = {
      id: check.id,
      severity: severityOf(check, rec, now),
      title: check.info.name,
      confidence: check.confidence,
    };
    if (check.evidence.length > 0) {
      const evidence: Record<string, Scalar> = {};
      for (const p of check.evidence) evidence[p] = evidenceValue(getPath(rec, p));
      finding.evidence = evidence;
    }
    findings.push(finding);
  }
  return { findings, checksRun };
}
