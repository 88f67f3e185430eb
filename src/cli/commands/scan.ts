/**
 * `medsurface scan`: targets → scope guard → engine → probes → fingerprints/checks → output
 * and inventory. `executeScan` is also what `demo` runs, so the demo exercises the real path.
 */
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import path from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { DEFAULT_TIMEOUTS } from '../../core/limits.js';
import { PROFILES, type Profile, type RecordAttribution, type RunState, type ServiceRecord } from '../../core/types.js';
import { RateLimiter } from '../../engine/rate-limiter.js';
import { type Checkpoint, type RunStats, runScan } from '../../engine/run-scan.js';
import { SendLogFile } from '../../engine/send-log.js';
import { type Inventory, defaultInventoryPath, openInventory } from '../../inventory/index.js';
import { InventoryWriterThread } from '../../inventory/writer-thread.js';
import { VulnDb } from '../../vuln/index.js';
import { fileWriter, jsonlWriter, type ResultWriter, tableWriter } from '../../output/writer.js';
import { makeProgress } from '../../output/progress.js';
import { defaultPortsOf, selectProbes } from '../../probes/index.js';
import { padAe } from '../../probes/dicom/parse.js';
import { Attributor, type Attribution } from '../../attribution/index.js';
import { CREDENTIAL_DEFAULTS } from '../../credentials/attempt.js';
import { defaultStopDir, registerRun, watchStop } from '../../monitor/stop.js';
import { type DiscoveryKind, describeDiscovery, loadDiscovered } from '../../scope/discovery/index.js';
import { TargetSet, assertInScope, loadIpSetSpecs, makeScopeGuard } from '../../scope/index.js';
import {
  type ExclusionCounts,
  type InternetMode,
  type IpSet,
  checkInternetContact,
  combineExclusions,
  describeExclusions,
  exclusionCounts,
  parseAllowSpecial,
} from '../../scope/index.js';
import { loadOptOutSet, loadOptOutSetAt } from '../../inventory/opt-out.js';
import { intOption, listOption, parsePorts } from '../options.js';

export interface ScanOptions {
  ports?: string;
  probes?: string;
  profile: string;
  concurrency: number;
  rate: number;
  hostConcurrency: number;
  hostDelay: number;
  connectTimeout: number;
  readTimeout: number;
  sessionTimeout: number;
  retries: number;
  exclude: string[];
  excludeFile: string[];
  scope?: string;
  resolver?: string;
  callingAe?: string;
  dicomTls?: boolean;
  contact?: string;
  json?: boolean;
  out?: string;
  emitClosed?: boolean;
  db?: string;
  inventory: boolean;
  resume?: string;
  /** Id of the new run (`--run-id`): the API launches scans under ids it chose (src/server/scans.ts). */
  runId?: string;
  seed?: string;
  quiet?: boolean;
  sendLog?: string;
  /** Intrusive profile: try the identified products' default accounts (`--no-credentials` turns it off). */
  credentials?: boolean;
  credentialBudget?: number;
  credentialDelay?: number;
  /** Also the short weak list (admin/admin, admin/123456, ...) after a product's defaults. */
  weakPasswords?: boolean;
  /** Attribution (src/attribution/): country and ASN mmdb files, the user's organisation ranges. */
  geoip?: string[];
  asn?: string[];
  orgs?: string;
  /** Imported L4 discovery (ZMap -> ZGrab2 pattern): only the open ports found are probed. */
  fromMasscan?: string;
  fromZmap?: string;
  fromNmap?: string;
  fromList?: string;
  /** Distributed mode (docs/distributed.md): Redis holding the shard queue; `medsurface worker` scans. */
  queue?: string;
  shards?: number;
  queuePrefix?: string;
  /** Internet mode: IANA special-purpose blocks excluded (but for `allowSpecial`), `contact` required. */
  internet?: boolean;
  /** `--allow-special CIDR` (repeatable): special-purpose ranges scanned all the same in internet mode (test labs). */
  allowSpecial?: string[];
  /** `--opt-out-file FILE` (repeatable): ranges never scanned, on top of the inventory's opt-out list. */
  optOutFile?: string[];
}

/** Most opt-out ranges a run stores (as the distributed options schema allows). */
const MAX_STORED_OPT_OUTS = 100_000;

/** The ranges of the `--opt-out-file` lists as a run stores them (merged range texts). */
async function optOutFileRanges(files: readonly string[] | undefined): Promise<string[]> {
  if (!files || files.length === 0) return [];
  const set = await loadIpSetSpecs([], [...files], undefined, '--opt-out-file');
  if (set.rangeCount > MAX_STORED_OPT_OUTS) {
    throw new UsageError(`--opt-out-file holds ${set.rangeCount} separate ranges, more than ${MAX_STORED_OPT_OUTS}; record large lists with medsurface optout add or merge them into CIDRs`);
  }
  return set.rangeTexts();
}

/** The internet-mode flags given on a resume: the run keeps its own mode. */
function refuseInternetOnResume(o: ScanOptions, stored: { internet?: InternetMode } | null): void {
  if ((o.internet || (o.allowSpecial?.length ?? 0) > 0) && !stored?.internet) {
    throw new UsageError('--resume keeps the run\'s own options: internet mode cannot be added to a run started without --internet');
  }
}

/** `scan --queue`: this process coordinates; workers (`medsurface worker`) scan the shards. */
async function executeDistributedScan(targetSpecs: string[], o: ScanOptions, io: ScanIo): Promise<ScanSummary> {
  if (!o.db) throw new UsageError('--queue needs --db postgres://... (the inventory every worker writes into)');
  if (!o.inventory) throw new UsageError('--queue cannot be combined with --no-inventory');
  if (o.out || o.json) throw new UsageError('--queue writes the records into the inventory, not to --out or --json');
  if (o.resume && targetSpecs.length > 0) throw new UsageError('--resume takes no targets: the run keeps its own');
  if (!o.resume && targetSpecs.length === 0) throw new UsageError('no targets given (addresses, CIDRs, ranges, names, @file)');
  if (o.resume && (o.optOutFile?.length ?? 0) > 0) {
    throw new UsageError('--resume keeps the run\'s own options: record new opt-outs with `medsurface optout add CIDR` (running workers reload the list within a minute)');
  }
  if (o.resume) refuseInternetOnResume(o, null);
  const { runCoordinator } = await import('../../distributed/index.js');
  let options: StoredScanOptions | undefined;
  if (!o.resume) {
    options = buildStored(targetSpecs, o);
    const optOut = await optOutFileRanges(o.optOutFile);
    if (optOut.length > 0) options.optOut = optOut;
  }
  const r = await runCoordinator({
    ...(options ? { options } : { resume: o.resume! }),
    queueUrl: o.queue!,
    dbUrl: o.db,
    prefix: o.queuePrefix,
    ...(o.shards ? { shards: o.shards } : {}),
    stderr: io.stderr,
    quiet: Boolean(o.quiet),
    ...(io.signal ? { signal: io.signal } : {}),
    ...(io.onRunCreated ? { onRunCreated: io.onRunCreated } : {}),
  });
  return { runId: r.runId, state: r.state, stats: r.stats, inventory: r.inventory, sendLog: null, records: [], excluded: r.excluded };
}

/** The one `--from-*` option given, or null; more than one is a usage error. */
function discoveryOf(o: ScanOptions): { kind: DiscoveryKind; file: string } | null {
  const given = (
    [
      ['masscan', o.fromMasscan],
      ['zmap', o.fromZmap],
      ['nmap', o.fromNmap],
      ['list', o.fromList],
    ] as const
  ).filter(([, f]) => f !== undefined);
  if (given.length > 1) throw new UsageError('give one of --from-masscan, --from-zmap, --from-nmap, --from-list');
  return given.length === 1 ? { kind: given[0]![0], file: given[0]![1]! } : null;
}

/** The part of an attribution a record and the inventory keep (contacts stay in orgs.yaml). */
export function compactAttribution(a: Attribution): RecordAttribution {
  return { country: a.country, asn: a.asn, asOrg: a.asOrg, org: a.org, orgSource: a.orgSource };
}

/** The CLI's defaults, for callers that run a scan in-process (demo, tests). */
export function scanOptions(over: Partial<ScanOptions> = {}): ScanOptions {
  return {
    profile: 'safe',
    concurrency: 256,
    rate: 0,
    hostConcurrency: 1,
    hostDelay: 20,
    connectTimeout: DEFAULT_TIMEOUTS.connectMs,
    readTimeout: DEFAULT_TIMEOUTS.readMs,
    sessionTimeout: DEFAULT_TIMEOUTS.sessionMs,
    retries: 1,
    exclude: [],
    excludeFile: [],
    inventory: true,
    ...over,
  };
}

/** What a run stores so that `--resume` can rebuild it exactly. */
interface StoredScanOptions {
  targets: string[];
  ports: number[];
  probes: string[];
  profile: Profile;
  exclude: string[];
  excludeFile: string[];
  scope?: string;
  resolver?: string;
  callingAe?: string;
  dicomTls: boolean;
  contact?: string;
  seed: string;
  concurrency: number;
  rate: number;
  hostConcurrency: number;
  hostDelay: number;
  timeouts: { connectMs: number; readMs: number; sessionMs: number };
  retries: number;
  credentials?: { enabled: boolean; budget: number; delayMs: number; weak: boolean };
  attribution?: { geoip: string[]; asn: string[]; orgs?: string };
  /** The discovery file the targets came from, with its hash (a resume must read the same file). */
  from?: { kind: DiscoveryKind; file: string; sha256: string | null; ports?: number[] };
  /** Internet mode (`--internet`, `--allow-special`). */
  internet?: InternetMode;
  /** Ranges of `--opt-out-file`, read when the run started (the inventory's list is read at every start). */
  optOut?: string[];
}

export interface ScanSummary {
  runId: string | null;
  state: RunState;
  stats: RunStats;
  inventory: string | null;
  sendLog: string | null;
  records: ServiceRecord[];
  /** Target addresses left out by internet mode and for opt-out. */
  excluded?: Pick<ExclusionCounts, 'specialPurpose' | 'optOut'>;
}

export interface ScanIo {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  /** Provided by tests and the demo; the CLI wires SIGINT to it. */
  signal?: AbortSignal;
  /** Called once the run is recorded in the inventory (the monitor keeps its id while it runs). */
  onRunCreated?: (runId: string) => void | Promise<void>;
  /** Emergency-stop directory (src/monitor/stop.ts); default defaultStopDir(). `null`: not watched. */
  stopDir?: string | null;
  /** Keep the records in memory (demo, tests). */
  collect?: boolean;
  /** Replaces the output writer (the demo prints its own table). */
  writer?: ResultWriter;
}

function buildStored(targets: string[], o: ScanOptions): StoredScanOptions {
  const profile = o.profile as Profile;
  if (!PROFILES.includes(profile)) throw new UsageError(`--profile must be one of ${PROFILES.join(', ')} (got "${o.profile}")`);
  const probes = selectProbes(o.probes ? listOption(o.probes) : undefined);
  const ports = o.ports ? parsePorts(o.ports) : defaultPortsOf(probes);
  if (o.callingAe) padAe(o.callingAe);
  if (o.concurrency < 1) throw new UsageError('--concurrency must be at least 1');
  if (o.hostConcurrency < 1) throw new UsageError('--host-concurrency must be at least 1');
  if (o.rate < 0) throw new UsageError('--rate must be 0 (unlimited) or more');
  const budget = o.credentialBudget ?? CREDENTIAL_DEFAULTS.budget;
  const delayMs = o.credentialDelay ?? CREDENTIAL_DEFAULTS.delayMs;
  if (budget < 0 || budget > 100) throw new UsageError('--credential-budget must be between 0 and 100');
  if (delayMs < 0) throw new UsageError('--credential-delay must be 0 or more');
  const seed = o.seed ?? BigInt(`0x${randomBytes(8).toString('hex')}`).toString();
  if (!/^\d+$/.test(seed)) throw new UsageError('--seed must be a non-negative integer');
  const allowSpecial = o.allowSpecial ?? [];
  if (allowSpecial.length > 0 && !o.internet) throw new UsageError('--allow-special applies only with --internet');
  // Internet mode: a contact every probe carries, and only special-purpose ranges may be allowed back (checked here).
  const internet: InternetMode | undefined = o.internet ? { allowSpecial } : undefined;
  const contact = o.internet ? checkInternetContact(o.contact) : o.contact;
  if (internet) parseAllowSpecial(allowSpecial);
  return {
    targets,
    ports,
    probes: probes.map((p) => p.id),
    profile,
    exclude: o.exclude,
    excludeFile: o.excludeFile,
    ...(o.scope ? { scope: o.scope } : {}),
    ...(o.resolver ? { resolver: o.resolver } : {}),
    ...(o.callingAe ? { callingAe: o.callingAe } : {}),
    dicomTls: Boolean(o.dicomTls),
    ...(contact ? { contact } : {}),
    ...(internet ? { internet } : {}),
    seed,
    credentials: { enabled: profile === 'intrusive' && o.credentials !== false, budget, delayMs, weak: o.weakPasswords !== false },
    ...(discoveryOf(o) ? { from: { ...discoveryOf(o)!, sha256: null, ...(o.ports ? { ports } : {}) } } : {}),
    ...((o.geoip?.length ?? 0) > 0 || (o.asn?.length ?? 0) > 0 || o.orgs
      ? { attribution: { geoip: o.geoip ?? [], asn: o.asn ?? [], ...(o.orgs ? { orgs: o.orgs } : {}) } }
      : {}),
    concurrency: o.concurrency,
    rate: o.rate,
    hostConcurrency: o.hostConcurrency,
    hostDelay: o.hostDelay,
    timeouts: { connectMs: o.connectTimeout, readMs: o.readTimeout, sessionMs: o.sessionTimeout },
    retries: o.retries,
  };
}

/** The run-id format of the stop registry (src/monitor/stop.ts RUN_ID): it names a file there. */
const RUN_ID_OPTION = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function checkRunIdOption(o: ScanOptions): void {
  if (o.runId === undefined) return;
  if (!RUN_ID_OPTION.test(o.runId)) throw new UsageError(`--run-id "${o.runId.slice(0, 40)}": 1 to 128 letters, digits, ".", "_" or "-", starting with a letter or digit`);
  if (o.resume) throw new UsageError('--run-id names a new run; --resume continues an existing one: give one of them');
  if (o.queue) throw new UsageError('--run-id is not available with --queue');
  if (!o.inventory) throw new UsageError('--run-id needs the inventory (do not combine it with --no-inventory)');
}

export async function executeScan(targetSpecs: string[], o: ScanOptions, io: ScanIo): Promise<ScanSummary> {
  checkRunIdOption(o);
  if (o.queue) return executeDistributedScan(targetSpecs, o, io);
  let inventory: Inventory | null = null;
  let stored: StoredScanOptions;
  let resume: Checkpoint | undefined;
  let runId: string | null = null;
  if (o.inventory) inventory = await openInventory(o.db);
  try {
    if (o.resume) {
      if (!inventory) throw new UsageError('--resume needs the inventory (do not combine it with --no-inventory)');
      const run = await inventory.getRun(o.resume);
      if (!run) throw new UsageError(`no scan run "${o.resume}" in ${inventory.location}`);
      if (run.state === 'completed') throw new UsageError(`run ${run.id} is already completed; nothing to resume`);
      if (targetSpecs.length > 0) throw new UsageError('--resume takes no targets: the run keeps its own');
      if ((run.options as { distributed?: unknown }).distributed) {
        throw new UsageError(`run ${run.id} is a distributed run: resume it with --queue redis://... --db ${inventory.location}`);
      }
      stored = run.options as unknown as StoredScanOptions;
      refuseInternetOnResume(o, stored);
      resume = (run.checkpoint as Checkpoint | null) ?? { seed: stored.seed, resumeFrom: 0, done: [] };
      runId = run.id;
    } else {
      const from = discoveryOf(o);
      if (from && targetSpecs.length > 0) throw new UsageError(`--from-${from.kind} gives the targets: give no others`);
      if (!from && targetSpecs.length === 0) throw new UsageError('no targets given (addresses, CIDRs, ranges, names, @file or -)');
      stored = buildStored(from ? [`--from-${from.kind} ${from.file}`] : targetSpecs, o);
      const optOutRanges = await optOutFileRanges(o.optOutFile);
      if (optOutRanges.length > 0) stored.optOut = optOutRanges;
    }

    // Exclusions: the user's list, internet mode's special-purpose blocks, and the opt-outs (the run's
    // --opt-out-file ranges, any given now on a resume, the inventory's list as it stands now).
    let optOut: IpSet = await loadIpSetSpecs(stored.optOut ?? [], o.resume ? (o.optOutFile ?? []) : [], undefined, '--opt-out-file');
    optOut = optOut.union(inventory ? await loadOptOutSet(inventory) : await loadOptOutSetAt(o.db));
    const exclusions = combineExclusions(await loadIpSetSpecs(stored.exclude, stored.excludeFile), { internet: stored.internet, optOut });
    const exclude = exclusions.all;
    const scope = stored.scope ? await loadIpSetSpecs([stored.scope], []) : undefined;
    // Imported discovery: the hosts and, per host, the open ports found (only those are probed).
    const discovered = stored.from
      ? await loadDiscovered(stored.from.kind, stored.from.file, {
          ...(stored.from.ports ? { ports: stored.from.ports, onlyPorts: stored.from.ports } : {}),
          ...(scope ? { scope } : {}),
          exclude,
        })
      : null;
    if (discovered && stored.from) {
      io.stderr.write(`medsurface: ${describeDiscovery(discovered.report)}\n`);
      if (discovered.endpoints.size === 0) throw new UsageError(`${stored.from.file}: no open TCP port to scan`);
      if (stored.from.sha256 !== null && stored.from.sha256 !== discovered.report.sha256) {
        throw new UsageError(`${stored.from.file} changed since the run started: the resumed run must read the same file`);
      }
      stored.from.sha256 = discovered.report.sha256;
      stored.ports = discovered.endpoints.ports();
    }
    const targets = discovered
      ? TargetSet.fromIpSet(discovered.endpoints.hosts)
      : await TargetSet.fromSpecs(stored.targets, {
          ...(stored.resolver ? { resolver: stored.resolver } : {}),
          stdin: process.stdin,
        });
    if (scope) assertInScope(targets, scope);
    const excluded = exclusionCounts(targets.addresses(), exclusions);
    for (const line of describeExclusions(excluded, { internet: stored.internet !== undefined, targets: targets.size })) io.stderr.write(`medsurface: ${line}\n`);
    const guard = makeScopeGuard({ ...(scope ? { scope } : {}), exclude });
    // Attribution files are read (and checked) before the first packet.
    const attributor = stored.attribution
      ? await Attributor.open({ geoip: stored.attribution.geoip, asn: stored.attribution.asn, orgs: stored.attribution.orgs })
      : null;

    if (inventory && !runId) {
      if (o.runId !== undefined && (await inventory.getRun(o.runId)) !== null) throw new UsageError(`--run-id ${o.runId}: a run with this id exists`);
      const run = await inventory.createRun({
        ...(o.runId !== undefined ? { id: o.runId } : {}),
        profile: stored.profile,
        targets: stored.targets,
        options: stored as unknown as Record<string, unknown>,
        totalTargets: targets.size,
      });
      runId = run.id;
    }
    // Beside a SQLite inventory; in the default data directory for PostgreSQL; none without a run.
    const logDir = inventory?.kind === 'sqlite' ? path.dirname(inventory.location) : path.dirname(defaultInventoryPath());
    const sendLogPath = o.sendLog ?? (runId ? path.join(logDir, 'runs', `${runId}.sendlog.jsonl`) : null);
    const sendLog = sendLogPath ? new SendLogFile(sendLogPath) : null;

    const writer: ResultWriter = io.writer
      ? io.writer
      : o.out
      ? fileWriter(o.out)
      : o.json || !io.stdout.isTTY
        ? jsonlWriter(io.stdout)
        : tableWriter(io.stdout);
    const records: ServiceRecord[] = [];
    const progress = makeProgress(o.quiet ? 'quiet' : 'auto', io.stderr);
    const controller = new AbortController();
    // Every in-flight connection listens for the abort: thousands of listeners are expected.
    setMaxListeners(0, controller.signal);
    const onAbort = () => controller.abort();
    io.signal?.addEventListener('abort', onAbort, { once: true });
    if (io.signal?.aborted) controller.abort();
    if (runId) await io.onRunCreated?.(runId);
    // `medsurface stop --all`, from any process, ends this scan too (recorded as interrupted).
    const stopDir = io.stopDir === undefined ? defaultStopDir() : io.stopDir;
    const unregister = stopDir && runId ? registerRun(stopDir, runId, { label: 'scan' }) : null;
    const unwatch = stopDir
      ? watchStop(stopDir, () => {
          io.stderr.write('medsurface: emergency stop requested (medsurface stop --all): ending the scan\n');
          controller.abort();
        })
      : null;
    if (stored.profile === 'intrusive') {
      io.stderr.write(
        `medsurface: profile "intrusive": count-only record queries and AE guessing are enabled for this run${
          stored.credentials?.enabled
            ? `, and default-credential attempts (at most ${stored.credentials.budget} per host, ${stored.credentials.delayMs} ms apart; --no-credentials turns them off)`
            : ''
        }.\n`,
      );
    }
    // SQLite writes are synchronous: a writer thread keeps them off the scan's event loop.
    const writerThread =
      inventory && inventory.kind === 'sqlite' && inventory.location !== ':memory:' ? new InventoryWriterThread(inventory.location) : null;
    let result: Awaited<ReturnType<typeof runScan>>;
    try {
      result = await runScan({
        targets,
        exclude,
        seed: BigInt(stored.seed),
        concurrency: stored.concurrency,
        config: {
          probes: selectProbes(stored.probes),
          ports: stored.ports,
          profile: stored.profile,
          timeouts: stored.timeouts,
          retries: stored.retries,
          guard,
          rate: stored.rate > 0 ? new RateLimiter(stored.rate) : null,
          hostConcurrency: stored.hostConcurrency,
          hostDelayMs: stored.hostDelay,
          dicomTls: stored.dicomTls,
          probeOptions: {
            dicom: { ...(stored.callingAe ? { callingAe: stored.callingAe } : {}) },
            http: { ...(stored.contact ? { contact: stored.contact } : {}) },
            // Probes without a User-Agent carry the contact where their protocol can (FTP's anonymous password).
            ...(stored.contact ? { contact: stored.contact } : {}),
          },
          ...(sendLog ? { sendLog: sendLog.log } : {}),
          vulnDb: new VulnDb({ dataDir: logDir }),
          ...(stored.credentials ? { credentials: stored.credentials } : {}),
          ...(discovered ? { portsFor: (ip: string) => discovered.endpoints.portsOf(ip) } : {}),
          ...(attributor ? { attribute: (ip: string) => compactAttribution(attributor.lookup(ip)) } : {}),
          signal: controller.signal,
        },
        ...(inventory ? { inventory } : {}),
        ...(writerThread ? { writeRecords: (id: string, recs: ServiceRecord[]) => writerThread.write(id, recs) } : {}),
        ...(runId ? { runId } : {}),
        ...(resume ? { resume } : {}),
        emitClosed: Boolean(o.emitClosed),
        onRecord: (rec) => {
          writer.write(rec);
          if (io.collect) records.push(rec);
        },
        onProgress: (s) => progress.update(s),
      });
    } finally {
      unwatch?.();
      unregister?.();
      await writerThread?.close();
      progress.stop();
      io.signal?.removeEventListener('abort', onAbort);
      await writer.close();
      await sendLog?.close();
    }

    if (inventory && runId) {
      let unreachable: string[] = [];
      if (result.state === 'completed') {
        // Hosts in this run's targets that had services before and answered nothing now.
        const seen = await inventory.listAssets({});
        const addresses = targets.addresses();
        const run = await inventory.getRun(runId);
        unreachable = seen
          .filter((a) => addresses.has(a.ip) && !exclude.has(a.ip))
          .filter((a) => run && a.lastSeen < run.startedAt)
          .map((a) => a.ip);
      }
      await inventory.finishRun(runId, result.state, {
        stats: { ...result.stats, sendLog: sendLogPath, excluded: { specialPurpose: excluded.specialPurpose, optOut: excluded.optOut } },
        unreachableHosts: unreachable,
      });
    }
    return {
      runId,
      state: result.state,
      stats: result.stats,
      inventory: inventory?.location ?? null,
      sendLog: sendLogPath,
      records,
      excluded: { specialPurpose: excluded.specialPurpose, optOut: excluded.optOut },
    };
  } finally {
    await inventory?.close();
  }
}

export function registerScan(program: Command): void {
  program
    .command('scan')
    .description('discover and identify healthcare systems in the given targets')
    .argument('[targets...]', 'addresses, CIDRs, ranges (127.0.0.1-127.0.3.255), host names, @file, - for stdin')
    .option('-p, --ports <list>', 'ports and ranges (104,4242,11000-11112); default: the default ports of the selected probes')
    .option('--probes <list>', 'probes to run (dicom, http, fhir, dicomweb, ...); default all')
    .option('--profile <name>', 'safe (observe only) or intrusive (count-only queries, AE guessing)', 'safe')
    .option('-c, --concurrency <n>', 'hosts scanned in parallel', intOption('--concurrency'), 256)
    .option('--rate <n>', 'global connection starts per second (0 = unlimited)', intOption('--rate'), 0)
    .option('--host-concurrency <n>', 'parallel connections to one host (fragile devices: keep 1)', intOption('--host-concurrency'), 1)
    .option('--host-delay <ms>', 'pause between connections to the same host', intOption('--host-delay'), 20)
    .option('--connect-timeout <ms>', 'TCP connect timeout', intOption('--connect-timeout'), DEFAULT_TIMEOUTS.connectMs)
    .option('--read-timeout <ms>', 'per-read timeout', intOption('--read-timeout'), DEFAULT_TIMEOUTS.readMs)
    .option('--session-timeout <ms>', 'deadline for one whole session', intOption('--session-timeout'), DEFAULT_TIMEOUTS.sessionMs)
    .option('--retries <n>', 'retries of connect timeouts', intOption('--retries'), 1)
    .option('--exclude <cidrs>', 'never connect to these (repeatable, comma-separated)', (v, prev: string[]) => [...prev, ...listOption(v)], [])
    .option('--exclude-file <file>', 'exclusion list file (repeatable)', (v, prev: string[]) => [...prev, v], [])
    .option('--scope <file|cidrs>', 'authorised scope: a target outside it is refused before the scan starts')
    .option('--resolver <ip[:port]>', 'DNS server for host-name targets (default: the system resolver)')
    .option('--calling-ae <title>', 'our DICOM calling AE title', 'MEDSURFACE')
    .option('--dicom-tls', 'speak DICOM over TLS on every port (2762 always is)')
    .option('--contact <text>', 'contact (URL or e-mail) in the HTTP User-Agent, so owners can reach whoever scans them')
    .option('--json', 'JSON lines on stdout even on a terminal')
    .option('-o, --out <file>', 'write JSON lines to a file')
    .option('--emit-closed', 'also output refused and timed-out ports')
    .option('--db <path|url>', 'inventory: SQLite path or postgres:// URL (default $MEDSURFACE_DB or XDG data dir)')
    .option('--no-inventory', 'do not record the run in the inventory')
    .option('--resume <run-id>', 'continue an interrupted run without rescanning finished hosts')
    .option('--run-id <id>', 'id of the new run (default generated; the API uses it to follow the scans it launches)')
    .option('--seed <n>', 'seed of the pseudo-random target order (default random)')
    .option('--send-log <file>', 'device-safety log of what was sent where (default beside the inventory)')
    .option('-q, --quiet', 'no progress output')
    .option('--no-credentials', 'intrusive profile: do not try the default accounts of identified products')
    .option('--credential-budget <n>', 'intrusive: at most this many credential attempts per host and run', intOption('--credential-budget'), CREDENTIAL_DEFAULTS.budget)
    .option('--credential-delay <ms>', 'intrusive: pause between two credential attempts on a service', intOption('--credential-delay'), CREDENTIAL_DEFAULTS.delayMs)
    .option('--no-weak-passwords', 'intrusive: try only documented product defaults, not the short weak list')
    .option('--geoip <file>', 'country mmdb (GeoLite2/GeoIP2 Country or City, @ip-location-db); repeatable', (v, prev: string[]) => [...prev, v], [])
    .option('--asn <file>', 'ASN mmdb (GeoLite2-ASN, @ip-location-db asn); repeatable', (v, prev: string[]) => [...prev, v], [])
    .option('--orgs <file>', "your organisations' ranges, contacts and CERTs (orgs.yaml); wins over the mmdb files")
    .option('--from-masscan <file>', 'targets from masscan output (-oJ, -oD, -oL, -oG, -oX): probe only the open ports found')
    .option('--from-zmap <file>', 'targets from ZMap CSV or JSON output (with --ports when it holds addresses only)')
    .option('--from-nmap <file>', 'targets from nmap XML (-oX): probe only the open ports found')
    .option('--queue <url>', 'distributed mode: Redis holding the shard queue (redis://HOST:PORT); `medsurface worker` does the scanning')
    .option('--shards <n>', 'distributed mode: number of shards (default 16)', intOption('--shards'))
    .option('--queue-prefix <name>', 'distributed mode: key prefix in Redis, shared with the workers', 'medsurface')
    .option('--from-list <file>', 'targets from ip:port lines ([v6]:port; a bare address takes --ports)')
    .option('--internet', 'internet mode: leave out the IANA special-purpose blocks (private, loopback, documentation, ...); needs --contact')
    .option('--allow-special <cidr>', 'internet mode: scan this special-purpose range all the same (for test labs on loopback; repeatable)', (v, prev: string[]) => [...prev, ...listOption(v)], [])
    .option('--opt-out-file <file>', 'ranges whose owners opted out (one address or CIDR a line), on top of `medsurface optout list` (repeatable)', (v, prev: string[]) => [...prev, v], [])
    .addHelpText(
      'after',
      `
Output: one JSON line per service that accepted a connection (schema: medsurface schema).
Status words: success, connection-refused, connection-timeout, io-timeout, connection-closed,
protocol-error, tls-error, application-error, unknown-error.

Examples:
  medsurface scan 127.77.0.0/16 --ports 104,4242,11112 --json > out.jsonl
  medsurface scan @targets.txt --scope 127.77.0.0/16 --exclude 127.77.9.0/24
  medsurface scan --resume r-20261128-abcdef
  medsurface scan 0.0.0.0/0 --internet --contact https://example.org/scan-info --ports 104 --rate 20000

Internet mode (--internet) leaves out the IANA special-purpose blocks and requires --contact,
which every probe's HTTP User-Agent carries. Every scan leaves out the opt-out list
(medsurface optout) and --opt-out-file ranges. See docs/deploy-distributed.md.`,
    )
    .action(async (targets: string[], o: ScanOptions) => {
      const controller = new AbortController();
      let interrupts = 0;
      const onSigint = () => {
        interrupts++;
        if (interrupts === 1) {
          process.stderr.write('\nmedsurface: interrupted; abandoning in-flight work and recording the run as interrupted (Ctrl-C again to quit now)\n');
          controller.abort();
        } else process.exit(130);
      };
      process.on('SIGINT', onSigint);
      process.on('SIGTERM', onSigint);
      try {
        const s = await executeScan(targets, o, { stdout: process.stdout, stderr: process.stderr, signal: controller.signal });
        const secs = (s.stats.elapsedMs / 1000).toFixed(1);
        if (!o.quiet || s.state !== 'completed') {
          process.stderr.write(
            `medsurface: run ${s.runId ?? '(not recorded)'} ${s.state}: ${s.stats.hostsDone}/${s.stats.targets} hosts, ${s.stats.probes} probes, ${s.stats.open} open services, ${s.stats.findings} findings in ${secs} s\n`,
          );
          if (s.inventory) process.stderr.write(`medsurface: inventory ${s.inventory}\n`);
          if (s.state === 'interrupted' && s.runId) process.stderr.write(`medsurface: resume with: medsurface scan --resume ${s.runId}${o.db ? ` --db ${o.db}` : ''}\n`);
        }
        process.exitCode = s.state === 'completed' ? 0 : 130;
      } finally {
        process.off('SIGINT', onSigint);
        process.off('SIGTERM', onSigint);
      }
    });
}
