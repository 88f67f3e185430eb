/**
 * From a run's stored options to what the engine needs (target set, exclusion list, scope
 * guard, ScanConfig), built the way `medsurface scan` builds it in executeScan (scan.ts), so a
 * worker's scan of a host is the single-machine scan of that host. The coordinator builds the
 * same sets first and records their fingerprints; a worker that rebuilds different ones (a
 * list file that differs on its machine, a name that resolves elsewhere) refuses the shard:
 * shard positions only mean the same addresses when every machine holds the same target set.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { compactAttribution } from '../cli/commands/scan.js';
import { Attributor } from '../attribution/index.js';
import type { SendLog } from '../core/bounded-socket.js';
import type { RateLimiter } from '../engine/rate-limiter.js';
import type { ScanConfig } from '../engine/scan-service.js';
import { defaultInventoryPath } from '../inventory/index.js';
import { selectProbes } from '../probes/index.js';
import { ScopeError, UsageError } from '../core/errors.js';
import {
  type ExclusionCounts,
  type IpSet,
  type RunExclusions,
  TargetSet,
  assertInScope,
  checkInternetContact,
  combineExclusions,
  exclusionCounts,
  loadIpSetSpecs,
  makeScopeGuard,
} from '../scope/index.js';
import { VulnDb } from '../vuln/index.js';
import { DistributedError, type SetFingerprints, type StoredScanOptions } from './types.js';

export interface PreparedScan {
  stored: StoredScanOptions;
  targets: TargetSet;
  /**
   * Every address never scanned: the run's exclusion list, internet mode's special-purpose
   * blocks, the run's opt-out ranges, and any the worker adds (`worker --exclude`).
   */
  exclude: IpSet;
  /** The parts of `exclude`, for the report. */
  exclusions: RunExclusions;
  /** How many target addresses internet mode and the run's opt-out ranges took out. */
  excluded: ExclusionCounts;
  scope: IpSet | undefined;
  fingerprints: SetFingerprints;
  attributor: Attributor | null;
  vulnDb: VulnDb;
}

/** SHA-256 of a set's merged ranges: equal sets, equal hashes, whatever the order they were written in. */
export function ipSetHash(set: IpSet): string {
  const h = createHash('sha256');
  const v4 = set.v4Ranges();
  h.update(Buffer.from(v4.starts.buffer, v4.starts.byteOffset, v4.starts.byteLength));
  h.update(Buffer.from(v4.ends.buffer, v4.ends.byteOffset, v4.ends.byteLength));
  const v6 = set.v6Ranges();
  for (let i = 0; i < v6.starts.length; i++) h.update(`|${v6.starts[i]!.toString(16)}-${v6.ends[i]!.toString(16)}`);
  return h.digest('hex');
}

/** Sorted-key JSON, so that two option objects compare equal whatever their key order. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** What a shard job carries instead of the options (types.ts ShardJob.optionsHash). */
export function optionsHash(stored: StoredScanOptions): string {
  return createHash('sha256').update(canonicalJson(stored)).digest('hex');
}

/** Where scan.ts keeps per-run files and the vulnerability data for a PostgreSQL inventory. */
export function dataDir(): string {
  return path.dirname(defaultInventoryPath());
}

/**
 * Builds the run's sets and checks the scope (refusing targets outside it, as scan.ts does
 * before the first packet). `extraExclude`: the worker's own additions, which only ever
 * remove addresses from what it scans.
 */
export async function prepareScan(stored: StoredScanOptions, opts: { extraExclude?: IpSet; stdinAllowed?: boolean } = {}): Promise<PreparedScan> {
  if (!opts.stdinAllowed && stored.targets.some((t) => t.trim() === '-' || /(^|[\s,])-($|[\s,])/.test(t))) {
    throw new DistributedError('targets from stdin (-) cannot be shared with workers: write them to a file present on every worker and pass @FILE');
  }
  const targets = await TargetSet.fromSpecs(stored.targets, { ...(stored.resolver ? { resolver: stored.resolver } : {}) });
  const runExclude = await loadIpSetSpecs(stored.exclude, stored.excludeFile);
  const runOptOut = stored.optOut && stored.optOut.length > 0 ? await loadIpSetSpecs(stored.optOut, [], undefined, 'opt-out ranges of the run') : undefined;
  // Internet mode is enforced here, in every worker, from the stored options: never only at the
  // coordinator. A run that breaks its rules is refused for good (a retry would not change it).
  let exclusions: RunExclusions;
  try {
    if (stored.internet) checkInternetContact(stored.contact);
    exclusions = combineExclusions(runExclude, { internet: stored.internet, ...(runOptOut ? { optOut: runOptOut } : {}) });
  } catch (err) {
    if (err instanceof UsageError) throw new DistributedError(`the run's internet mode: ${err.message}`, { cause: err });
    throw err;
  }
  const scope = stored.scope ? await loadIpSetSpecs([stored.scope], []) : undefined;
  if (scope) assertInScope(targets, scope);
  const attributor = stored.attribution
    ? await Attributor.open({ geoip: stored.attribution.geoip, asn: stored.attribution.asn, orgs: stored.attribution.orgs })
    : null;
  return {
    stored,
    targets,
    exclude: opts.extraExclude ? exclusions.all.union(opts.extraExclude) : exclusions.all,
    exclusions,
    excluded: exclusionCounts(targets.addresses(), exclusions),
    scope,
    fingerprints: {
      targetCount: targets.size,
      targets: ipSetHash(targets.addresses()),
      exclude: ipSetHash(runExclude),
      scope: scope ? ipSetHash(scope) : null,
    },
    attributor,
    vulnDb: new VulnDb({ dataDir: dataDir() }),
  };
}

/** Throws a DistributedError naming what differs between the coordinator's sets and this worker's. */
export function assertSameSets(expected: SetFingerprints, actual: SetFingerprints, stored: StoredScanOptions): void {
  const problems: string[] = [];
  if (expected.targetCount !== actual.targetCount || expected.targets !== actual.targets) {
    problems.push(`the target set (${actual.targetCount} addresses here, ${expected.targetCount} at the coordinator; specs ${JSON.stringify(stored.targets).slice(0, 200)})`);
  }
  if (expected.exclude !== actual.exclude) problems.push(`the exclusion list (--exclude/--exclude-file ${JSON.stringify(stored.excludeFile).slice(0, 200)})`);
  if (expected.scope !== actual.scope) problems.push(`the authorised scope (--scope ${JSON.stringify(stored.scope ?? '')})`);
  if (problems.length > 0) {
    throw new DistributedError(
      `this worker built a different ${problems.join(', ')} than the coordinator: list files and host names must give the same addresses on every machine; refusing the shard`,
    );
  }
}

/** Addresses that may join the exclusions while a shard runs (the opt-out list, reloaded). */
export interface LiveExclusion {
  has(ip: string): boolean;
}

/**
 * The engine configuration of scan.ts executeScan, from the stored options. `optOut`: the live
 * opt-out list; the scope guard refuses its addresses at connect time (a host in flight when
 * its range is opted out gets no further connection), and the send log, which records what was
 * sent, leaves out what the guard refused.
 */
export function scanConfigOf(
  p: PreparedScan,
  extras: { signal: AbortSignal; rate: RateLimiter | null; sendLog?: SendLog; optOut?: LiveExclusion },
): ScanConfig {
  const s = p.stored;
  const attributor = p.attributor;
  const baseGuard = makeScopeGuard({ ...(p.scope ? { scope: p.scope } : {}), exclude: p.exclude });
  const live = extras.optOut;
  const guard = live
    ? (ip: string) => {
        baseGuard(ip);
        if (live.has(ip)) throw new ScopeError(`refused ${ip}: on the opt-out list`);
      }
    : baseGuard;
  const baseLog = extras.sendLog;
  const sendLog: SendLog | undefined = baseLog && live ? (e) => (live.has(e.ip) ? undefined : baseLog(e)) : baseLog;
  return {
    probes: selectProbes(s.probes),
    ports: s.ports,
    profile: s.profile,
    timeouts: s.timeouts,
    retries: s.retries,
    guard,
    rate: extras.rate,
    hostConcurrency: s.hostConcurrency,
    hostDelayMs: s.hostDelay,
    dicomTls: s.dicomTls,
    probeOptions: {
      dicom: { ...(s.callingAe ? { callingAe: s.callingAe } : {}) },
      http: { ...(s.contact ? { contact: s.contact } : {}) },
      // Probes without a User-Agent carry the contact where their protocol can (FTP's anonymous password).
      ...(s.contact ? { contact: s.contact } : {}),
    },
    ...(sendLog ? { sendLog } : {}),
    vulnDb: p.vulnDb,
    ...(s.credentials ? { credentials: s.credentials } : {}),
    ...(attributor ? { attribute: (ip: string) => compactAttribution(attributor.lookup(ip)) } : {}),
    signal: extras.signal,
  };
}
