/**
 * `medsurface disclose remeasure --after 30d`: the follow-up scan of the published studies. The
 * cases notified (or acknowledged, or remediating) at least `--after` ago have their still-exposed
 * services rescanned, then each case is judged again:
 * - every finding of the case resolved (a complete rescan ran its check and it no longer fired,
 *   DESIGN.md) or marked a false positive: the case becomes `resolved`;
 * - otherwise it keeps its state; a `remeasured` event records how many findings are fixed, open
 *   and unverified (a host that did not answer proves nothing: unverified, never fixed).
 *
 * Only the services of those cases are scanned, each with the profile, probe options and
 * exclusions of the run that last observed its findings (an intrusive finding needs an intrusive
 * rescan to be resolved; an exclusion file is read again, so an owner's opt-out added since is
 * honoured), grouped so that one scan covers the hosts that share options and ports. The scan
 * itself is the caller's (the CLI runs executeScan), so this module depends on no command.
 */
import { UsageError } from '../core/errors.js';
import { PROFILES, type Profile } from '../core/types.js';
import { type CaseRow, caseFindings, listCases, recordEvent, setCaseState } from './cases.js';
import { REMEASURED_STATES } from './states.js';
import type { DisclosureDb } from './tables.js';

const UNIT_MS = { h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 } as const;
const MAX_AGE_MS = 3650 * UNIT_MS.d;

/** `30d`, `8w`, `12h`, `0d` → milliseconds (h, d, w only: `m` could be minutes or months). */
export function parseAge(spec: string, flag = '--after'): number {
  const m = /^(\d{1,6})([a-z]+)$/.exec(spec.trim().toLowerCase());
  if (m === null || !(m[2]! in UNIT_MS)) throw new UsageError(`${flag}: ${JSON.stringify(spec)} is not an age such as 30d, 8w or 12h (units h, d, w)`);
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  if (ms > MAX_AGE_MS) throw new UsageError(`${flag}: longer than 10 years`);
  return ms;
}

/** The scan options a rescan reuses from the original run (the stored options of `medsurface scan`). */
export interface RescanSpec {
  profile: Profile;
  probes?: string[];
  dicomTls?: boolean;
  callingAe?: string;
  contact?: string;
  timeouts?: { connectMs: number; readMs: number; sessionMs: number };
  retries?: number;
  credentials?: { enabled: boolean; budget: number; delayMs: number; weak: boolean };
  /** The original run's exclusions (files are read again at rescan time, so an opt-out added since applies). */
  exclude?: string[];
  excludeFile?: string[];
}

export interface RescanGroup {
  spec: RescanSpec;
  ports: number[];
  ips: string[];
}

export type Rescan = (group: RescanGroup) => Promise<{ runId: string | null; state: string }>;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The RescanSpec of a stored run (profile and options); unknown or missing fields are left out. */
export function specOfRun(profile: string, optionsJson: string): RescanSpec {
  const spec: RescanSpec = { profile: (PROFILES as readonly string[]).includes(profile) ? (profile as Profile) : 'safe' };
  let o: unknown;
  try {
    o = JSON.parse(optionsJson);
  } catch {
    return spec;
  }
  if (!isObj(o)) return spec;
  if (Array.isArray(o.probes) && o.probes.every((p) => typeof p === 'string')) spec.probes = o.probes as string[];
  if (typeof o.dicomTls === 'boolean') spec.dicomTls = o.dicomTls;
  if (typeof o.callingAe === 'string') spec.callingAe = o.callingAe;
  if (typeof o.contact === 'string') spec.contact = o.contact;
  const t = o.timeouts;
  if (isObj(t) && typeof t.connectMs === 'number' && typeof t.readMs === 'number' && typeof t.sessionMs === 'number') {
    spec.timeouts = { connectMs: t.connectMs, readMs: t.readMs, sessionMs: t.sessionMs };
  }
  if (typeof o.retries === 'number') spec.retries = o.retries;
  const strings = (v: unknown): string[] | undefined => (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined);
  const exclude = strings(o.exclude);
  if (exclude) spec.exclude = exclude;
  const excludeFile = strings(o.excludeFile);
  if (excludeFile) spec.excludeFile = excludeFile;
  const c = o.credentials;
  if (isObj(c) && typeof c.enabled === 'boolean' && typeof c.budget === 'number' && typeof c.delayMs === 'number' && typeof c.weak === 'boolean') {
    spec.credentials = { enabled: c.enabled, budget: c.budget, delayMs: c.delayMs, weak: c.weak };
  }
  return spec;
}

export interface RemeasurePlan {
  due: CaseRow[];
  /** Cases in a remeasured state whose notification is younger than `--after`. */
  notYet: CaseRow[];
  groups: RescanGroup[];
}

/** Which cases are due and which scans cover their still-exposed services. */
export async function planRemeasure(db: DisclosureDb, opts: { afterMs: number; now?: () => string }): Promise<RemeasurePlan> {
  const nowMs = Date.parse((opts.now ?? (() => new Date().toISOString()))());
  const cutoff = new Date(nowMs - opts.afterMs).toISOString();
  const candidates = await listCases(db, { states: REMEASURED_STATES });
  const due = candidates.filter((c) => c.notifiedAt !== null && c.notifiedAt <= cutoff);
  const notYet = candidates.filter((c) => !due.includes(c));
  const runIds = new Set<string>();
  const services: { ip: string; port: number; runId: string | null }[] = [];
  for (const c of due) {
    for (const f of await caseFindings(db, c.id, { unresolved: true })) {
      services.push({ ip: f.ip, port: f.port, runId: f.lastRunId });
      if (f.lastRunId !== null) runIds.add(f.lastRunId);
    }
  }
  const runs = new Map<string, RescanSpec>();
  const ids = [...runIds];
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await db.selectFrom('scan_runs').select(['id', 'profile', 'options']).where('id', 'in', ids.slice(i, i + 500)).execute();
    for (const r of rows) runs.set(r.id, specOfRun(r.profile, r.options));
  }
  // spec → host → ports, then hosts with the same port set share one scan.
  const bySpec = new Map<string, { spec: RescanSpec; hosts: Map<string, Set<number>> }>();
  for (const s of services) {
    const spec = (s.runId !== null ? runs.get(s.runId) : undefined) ?? { profile: 'safe' };
    const key = JSON.stringify(spec);
    const entry = bySpec.get(key) ?? { spec, hosts: new Map<string, Set<number>>() };
    const ports = entry.hosts.get(s.ip) ?? new Set<number>();
    ports.add(s.port);
    entry.hosts.set(s.ip, ports);
    bySpec.set(key, entry);
  }
  const groups: RescanGroup[] = [];
  for (const { spec, hosts } of bySpec.values()) {
    const byPorts = new Map<string, RescanGroup>();
    for (const [ip, set] of hosts) {
      const ports = [...set].sort((a, b) => a - b);
      const k = ports.join(',');
      const g = byPorts.get(k) ?? { spec, ports, ips: [] };
      g.ips.push(ip);
      byPorts.set(k, g);
    }
    groups.push(...byPorts.values());
  }
  return { due, notYet, groups };
}

export interface RemeasuredCase {
  caseId: number;
  party: string;
  before: string;
  after: string;
  findings: { total: number; fixed: number; open: number; unverified: number };
}

export interface RemeasureResult {
  runs: { runId: string | null; state: string; hosts: number; ports: number[]; profile: Profile }[];
  cases: RemeasuredCase[];
  /** Cases not yet due (notified less than `--after` ago). */
  notYet: number;
  resolved: number;
}

/** Plans, rescans through `rescan`, then judges each due case again (see the module comment). */
export async function remeasure(db: DisclosureDb, opts: { afterMs: number; rescan: Rescan; now?: () => string }): Promise<RemeasureResult> {
  const plan = await planRemeasure(db, opts);
  const runs: RemeasureResult['runs'] = [];
  for (const g of plan.groups) {
    const r = await opts.rescan(g);
    runs.push({ runId: r.runId, state: r.state, hosts: g.ips.length, ports: g.ports, profile: g.spec.profile });
  }
  const cases: RemeasuredCase[] = [];
  let resolved = 0;
  for (const c of plan.due) {
    const all = await caseFindings(db, c.id);
    const fixed = all.filter((f) => f.state === 'resolved' || f.userState === 'false-positive').length;
    const unverified = all.filter((f) => f.state === 'unverified' && f.userState !== 'false-positive').length;
    const open = all.length - fixed - unverified;
    const findings = { total: all.length, fixed, open, unverified };
    await recordEvent(db, c.id, 'remeasured', { ...findings, runs: runs.map((r) => r.runId).filter((id) => id !== null) }, opts.now);
    let after: string = c.state;
    if (all.length > 0 && fixed === all.length) {
      await setCaseState(db, c.id, 'resolved', { detail: { reason: 'every finding of the case is resolved (re-measurement)' }, ...(opts.now ? { now: opts.now } : {}) });
      after = 'resolved';
      resolved++;
    }
    cases.push({ caseId: c.id, party: c.partyName, before: c.state, after, findings });
  }
  return { runs, cases, notYet: plan.notYet.length, resolved };
}
