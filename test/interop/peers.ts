/**
 * Real third-party DICOM peers on loopback for the interop tests (STYLE.md §7: "Interop tests run
 * against real third-party servers started as plain processes on loopback").
 *
 * Each peer is a plain process (Orthanc, DCMTK storescp, DCMTK dcmqrscp) on its OWN loopback address
 * (127.0.0.21 ... 127.0.0.25, never 127.0.0.1 where the machine's own services listen) with the
 * product's standard port. Orthanc 1.10 and the DCMTK 3.6.7 servers have no bind-address option and
 * listen on 0.0.0.0 (PEERS.md), so every peer runs with `LD_PRELOAD=bindshim.so PEER_BIND_ADDR=127.0.0.x`:
 * the shim rewrites the wildcard bind to that address and refuses any non-loopback bind. After start we
 * also check with `ss` that each peer process listens on its own address only, and stop it otherwise.
 *
 * What the peers answer at the DICOM layer (seen with `echoscu -d` on Debian 12, dcmtk 3.6.7-9,
 * orthanc 1.10.1, 2024):
 *   orthanc-open     127.0.0.21:4242  any called AE accepted;      Their Implementation Class UID
 *                                     1.2.276.0.7230010.3.0.3.6.7, Version Name OFFIS_DCMTK_367 (Debian's
 *                                     Orthanc links the system DCMTK: only HTTP /system says "Orthanc")
 *   orthanc-aecheck  127.0.0.22:4242  called AE "ANY" -> A-ASSOCIATE-RJ 1/1/7 (called AE not recognised);
 *                                     "ORTHANC" accepted; same UID / version name
 *   storescp         127.0.0.23:104   any called AE accepted;      same UID / version name
 *   storescp-aet     127.0.0.24:104   RJ 1/1/7 unless called AE is STORESCP; same UID / version name
 *   dcmqrscp         127.0.0.25:11112 RJ 1/1/7 unless called AE is DCMQRSCP; same UID / version name
 * So at the DICOM layer all five identify as vendor OFFIS, product DCMTK, version 3.6.7. The expected
 * values are derived from the installed DCMTK version (`echoscu --version`) so that a machine with another
 * Debian release keeps a true ground truth; the self-test compares them with `echoscu -d` on every run.
 *
 * storescp 3.6.7 has no option to check the called AE title (`storescp --help`: only -aet, --refuse,
 * --reject for a missing implementation class UID), so `storescp-aet` is a dcmqrscp with an EMPTY archive
 * under AE STORESCP on port 104: a storage SCP that checks the called AE. Its `kind` is 'dcmqrscp'; it
 * also answers C-FIND (dcmqrscp refuses to disable all Q/R models: "cannot disable all Q/R models"),
 * with zero matches.
 *
 * Needs root (or CAP_NET_BIND_SERVICE) for port 104, and gcc for the shim.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  accessSync,
  constants as fsConstants,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type PeerKind = 'orthanc' | 'storescp' | 'dcmqrscp';

export interface PeerExpected {
  /** true: the peer accepts an association whatever the called AE title (nmap: "Any AET is accepted"). */
  anyAeAccepted: boolean;
  /** Identity at the DICOM layer (from the A-ASSOCIATE-AC implementation class UID / version name). */
  vendor: string;
  product: string;
  version: string;
  /** The called AE title the peer answers to (for peers that accept any, the one they call themselves). */
  calledAe?: string;
  /** Implementation Class UID (PS3.7 D.3.3.2) the peer sends in its A-ASSOCIATE-AC. */
  implementationClassUid: string;
  /** Implementation Version Name (PS3.7 D.3.3.2) the peer sends in its A-ASSOCIATE-AC. */
  implementationVersionName: string;
  /** Orthanc only: what its HTTP side says (GET /system). */
  http?: { product: 'Orthanc'; version: string; authRequired: boolean; dicomWebRoot: string };
}

export interface Peer {
  name: string;
  ip: string;
  port: number;
  kind: PeerKind;
  httpPort?: number;
  expected: PeerExpected;
  /** Synthetic records the peer serves (undefined: the peer has no query model at all). */
  patients?: number;
  studies?: number;
  series?: number;
  instances?: number;
  /** HTTP Basic credentials of an Orthanc peer that requires them. */
  httpAuth?: { user: string; password: string };
  /** A calling AE title the peer knows (Orthanc `DicomModalities`): C-FIND from it is allowed. */
  knownCallingAe?: string;
  /** Process id (also the process group id: each peer runs in its own group). */
  pid: number;
  /** stdout+stderr of the peer (Orthanc runs with --verbose, DCMTK tools with -v). */
  logFile: string;
  workDir: string;
  stop(): Promise<void>;
}

export class PeerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PeerError';
  }
}

interface PeerDef {
  name: string;
  ip: string;
  port: number;
  kind: PeerKind;
  httpPort?: number;
  calledAe: string;
  anyAeAccepted: boolean;
  /** Serves the synthetic data set. */
  loaded: boolean;
}

/** The peers, each on its own loopback address with the product's standard port. */
export const PEER_DEFS: readonly PeerDef[] = [
  { name: 'orthanc-open', ip: '127.0.0.21', port: 4242, httpPort: 8042, kind: 'orthanc', calledAe: 'ORTHANC', anyAeAccepted: true, loaded: true },
  { name: 'orthanc-aecheck', ip: '127.0.0.22', port: 4242, httpPort: 8042, kind: 'orthanc', calledAe: 'ORTHANC', anyAeAccepted: false, loaded: true },
  { name: 'storescp', ip: '127.0.0.23', port: 104, kind: 'storescp', calledAe: 'STORESCP', anyAeAccepted: true, loaded: false },
  { name: 'storescp-aet', ip: '127.0.0.24', port: 104, kind: 'dcmqrscp', calledAe: 'STORESCP', anyAeAccepted: false, loaded: false },
  { name: 'dcmqrscp', ip: '127.0.0.25', port: 11112, kind: 'dcmqrscp', calledAe: 'DCMQRSCP', anyAeAccepted: false, loaded: true },
];

export const PEER_NAMES: readonly string[] = PEER_DEFS.map((d) => d.name);

for (const d of PEER_DEFS) {
  if (!/^127\.\d+\.\d+\.\d+$/.test(d.ip) || d.ip === '127.0.0.1') throw new PeerError(`peer ${d.name}: ${d.ip} is not a private loopback address`);
}

/** Orthanc `RegisteredUsers` of orthanc-aecheck: a test-only account, not Orthanc's default orthanc/orthanc. */
const AECHECK_HTTP_AUTH = { user: 'interop', password: 'interop-test-only' };
/**
 * orthanc-aecheck also keeps the account the Orthanc Docker images ship (orthanc/orthanc), as
 * installations left with their defaults do: the default-credential check must find it, and only
 * in the intrusive profile (credentials.test.ts).
 */
export const ORTHANC_DEFAULT_ACCOUNT = { user: 'orthanc', password: 'orthanc' };
/** The calling AE listed in Orthanc's `DicomModalities` (C-FIND from it is allowed on orthanc-aecheck). */
const KNOWN_CALLING_AE = 'KNOWNSCU';
const DICOMWEB_ROOT = '/dicom-web/';
const ORTHANC_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';

const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;
const CMD_TIMEOUT_MS = 20_000;
const CMD_MAX_BYTES = 4 * 1024 * 1024;

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DATA_DIR = join(REPO_ROOT, 'test/interop/data');

// ---------------------------------------------------------------------------------------------------
// binaries

const EXTRA_BIN_DIRS = ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/sbin', '/usr/local/bin'];

/** Absolute path of an executable (PATH, then the sbin dirs: Debian puts Orthanc in /usr/sbin). */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...EXTRA_BIN_DIRS];
  for (const dir of dirs) {
    const p = join(dir, name);
    try {
      accessSync(p, fsConstants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

const REQUIRED_BINARIES = ['Orthanc', 'storescp', 'dcmqrscp', 'dcmqridx', 'echoscu', 'findscu', 'dump2dcm', 'nmap', 'gcc', 'ss'];

export function peerBinariesPresent(): { missing: string[] } {
  const missing = REQUIRED_BINARIES.filter((b) => findBinary(b) === undefined);
  if (!existsSync(ORTHANC_PLUGIN)) missing.push(ORTHANC_PLUGIN);
  return { missing };
}

function bin(name: string): string {
  const p = findBinary(name);
  if (!p) throw new PeerError(`${name} not found: run scripts/install-peers.sh`);
  return p;
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command with a time and output cap; resolves with the exit code (never rejects on exit != 0). */
export function runCommand(
  cmd: string,
  args: string[],
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      cmd,
      args,
      { timeout: opts.timeoutMs ?? CMD_TIMEOUT_MS, maxBuffer: CMD_MAX_BYTES, env: opts.env ?? process.env, cwd: opts.cwd, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err && typeof (err as { code?: unknown }).code !== 'number') {
          // spawn failure, timeout (killed) or maxBuffer: not an ordinary exit status
          if ((err as { killed?: boolean }).killed || (err as { code?: unknown }).code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') {
            reject(new PeerError(`${cmd} ${args.join(' ')}: ${err.message}`, { cause: err }));
            return;
          }
          if ((err as { code?: unknown }).code === 'ENOENT') {
            reject(new PeerError(`${cmd} not found`, { cause: err }));
            return;
          }
        }
        const code = err ? ((err as { code?: unknown }).code as number | null) : 0;
        resolvePromise({ code: typeof code === 'number' ? code : null, stdout, stderr });
      },
    );
  });
}

async function dcmtkVersion(): Promise<string> {
  const r = await runCommand(bin('echoscu'), ['--version']);
  // "$dcmtk: echoscu v3.6.7 2022-04-22 $"
  const m = /echoscu v(\d+\.\d+\.\d+)/.exec(r.stdout + r.stderr);
  if (!m?.[1]) throw new PeerError('cannot read the DCMTK version from echoscu --version');
  return m[1];
}

async function orthancVersion(): Promise<string> {
  const r = await runCommand(bin('Orthanc'), ['--version']);
  // first line: "<argv[0]> 1.10.1" (Orthanc prints the path it was started with)
  const m = /^\S*Orthanc (\d+\.\d+\.\d+)$/m.exec(r.stdout + r.stderr);
  if (!m?.[1]) throw new PeerError('cannot read the Orthanc version from Orthanc --version');
  return m[1];
}

/**
 * DCMTK's implementation identity: dcuid.h defines OFFIS_IMPLEMENTATION_CLASS_UID as
 * "1.2.276.0.7230010.3.0." + the version ("3.6.7") and OFFIS_DTK_IMPLEMENTATION_VERSION_NAME as
 * "OFFIS_DCMTK_" + the version without dots ("367").
 */
export function dcmtkIdentity(version: string): { implementationClassUid: string; implementationVersionName: string } {
  return {
    implementationClassUid: `1.2.276.0.7230010.3.0.${version}`,
    implementationVersionName: `OFFIS_DCMTK_${version.replaceAll('.', '')}`,
  };
}

// ---------------------------------------------------------------------------------------------------
// the LD_PRELOAD bind shim

/** bindshim.c: ../shared/peers/ beside the clone when present (CI layout), else the copy in this folder. */
function bindShimSource(): string {
  const shared = resolve(REPO_ROOT, '../shared/peers/bindshim.c');
  if (existsSync(shared)) return shared;
  return join(REPO_ROOT, 'test/interop/bindshim.c');
}

/** In-flight and finished builds of this process, by output path: peers start concurrently. */
const shimBuilds = new Map<string, Promise<string>>();

/**
 * Builds bindshim.so once per source content into a cache dir outside the repo. Concurrent callers
 * share one build (peers start in parallel); the temporary file is unique per build, so other
 * processes building the same shim never rename each other's file.
 */
export function ensureBindShim(): Promise<string> {
  const src = bindShimSource();
  const text = readFileSync(src);
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const cacheDir = join(process.env.MEDSURFACE_PEERS_CACHE ?? join(tmpdir(), 'medsurface-peers-cache'));
  mkdirSync(cacheDir, { recursive: true });
  const out = join(cacheDir, `bindshim-${hash}.so`);
  if (existsSync(out)) return Promise.resolve(out);
  let build = shimBuilds.get(out);
  if (!build) {
    build = buildBindShim(src, out);
    shimBuilds.set(out, build);
    build.catch(() => shimBuilds.delete(out));
  }
  return build;
}

async function buildBindShim(src: string, out: string): Promise<string> {
  const tmp = `${out}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const r = await runCommand(bin('gcc'), ['-shared', '-fPIC', '-O2', '-o', tmp, src, '-ldl'], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new PeerError(`gcc failed to build ${src}: ${r.stderr.slice(0, 2000)}`);
  renameSync(tmp, out);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// synthetic data

export interface SyntheticDataset {
  /** The .dump files (dump2dcm input), sorted. */
  dumps: string[];
  patientNames: string[];
  patients: number;
  studies: number;
  series: number;
  instances: number;
}

/** Reads the synthetic dumps in test/interop/data/ and counts what they hold. */
export function syntheticDataset(): SyntheticDataset {
  const dumps = readdirSync(DATA_DIR)
    .filter((f) => f.endsWith('.dump'))
    .sort()
    .map((f) => join(DATA_DIR, f));
  const names = new Set<string>();
  const patients = new Set<string>();
  const studies = new Set<string>();
  const series = new Set<string>();
  const instances = new Set<string>();
  const value = (text: string, tag: string): string => {
    const m = new RegExp(`^\\(${tag}\\) [A-Z]{2} \\[([^\\]]*)\\]`, 'mi').exec(text);
    if (!m?.[1]) throw new PeerError(`synthetic dump without (${tag})`);
    return m[1];
  };
  for (const f of dumps) {
    const text = readFileSync(f, 'utf8');
    names.add(value(text, '0010,0010'));
    patients.add(value(text, '0010,0020'));
    studies.add(value(text, '0020,000d'));
    series.add(value(text, '0020,000e'));
    instances.add(value(text, '0008,0018'));
  }
  return {
    dumps,
    patientNames: [...names].sort(),
    patients: patients.size,
    studies: studies.size,
    series: series.size,
    instances: instances.size,
  };
}

async function buildDicomFiles(outDir: string, data: SyntheticDataset): Promise<string[]> {
  mkdirSync(outDir, { recursive: true });
  const files: string[] = [];
  for (const dump of data.dumps) {
    const out = join(outDir, dump.replace(/^.*\//, '').replace(/\.dump$/, '.dcm'));
    const r = await runCommand(bin('dump2dcm'), ['+te', dump, out]);
    if (r.code !== 0) throw new PeerError(`dump2dcm ${dump} failed: ${r.stderr.slice(0, 2000)}`);
    files.push(out);
  }
  return files;
}

// ---------------------------------------------------------------------------------------------------
// listeners on the peer addresses (ss)

export interface Listener {
  ip: string;
  port: number;
  pids: number[];
}

/** TCP listeners of the machine, from `ss -ltnpH` (pids only for processes we may inspect). */
export async function tcpListeners(): Promise<Listener[]> {
  const r = await runCommand(bin('ss'), ['-ltnpH']);
  if (r.code !== 0) throw new PeerError(`ss failed: ${r.stderr.slice(0, 500)}`);
  const out: Listener[] = [];
  for (const line of r.stdout.split('\n')) {
    const cols = line.trim().split(/\s+/);
    const local = cols[3];
    if (!local) continue;
    const m = /^\[?([^\]]*?)\]?(?:%[^:]+)?:(\d+)$/.exec(local);
    if (!m?.[1] || !m[2]) continue;
    const pids = [...line.matchAll(/pid=(\d+)/g)].map((x) => Number(x[1]));
    out.push({ ip: m[1], port: Number(m[2]), pids: [...new Set(pids)] });
  }
  return out;
}

/** Listeners on any of the given peer addresses. */
export async function listenersOn(ips: readonly string[]): Promise<Listener[]> {
  const set = new Set(ips);
  return (await tcpListeners()).filter((l) => set.has(l.ip));
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (exited, not yet reaped: e.g. a container whose PID 1 does not reap) counts as dead.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z';
  } catch {
    return true;
  }
}

/**
 * Is any live (non-zombie) process left in the process group? Read from /proc, because a zombie
 * that nobody reaps (a container whose PID 1 does not reap) still answers kill(-pgid, 0).
 */
export function processGroupAlive(pgid: number): boolean {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${e}/stat`, 'utf8');
    } catch {
      continue;
    }
    // "pid (comm) state ppid pgrp ...": comm may contain spaces, so split after the last ')'
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest[0] !== 'Z' && Number(rest[2]) === pgid) return true;
  }
  return false;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  // The peers run in their own process group (spawn detached): dcmqrscp forks a child per
  // association, and those must go too.
  try {
    process.kill(-pid, sig);
    return;
  } catch {
    // not a group leader
  }
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/**
 * SIGTERM, wait for exit, SIGKILL after `graceMs` (Orthanc takes 2-4 s to shut down). `exited` resolves
 * when our own child has exited (kill(pid, 0) would still see it until Node reaps it).
 */
async function terminate(pid: number, graceMs: number, exited?: () => boolean): Promise<void> {
  const gone = () => (exited ? exited() : !isAlive(pid));
  if (gone() && !processGroupAlive(pid)) return;
  signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (!gone() && Date.now() < deadline) await sleep(50);
  if (!gone() || processGroupAlive(pid)) {
    signal(pid, 'SIGKILL');
    const hard = Date.now() + 5_000;
    while (!gone() && Date.now() < hard) await sleep(50);
  }
}

/** Stops a peer process started by another process (the developer CLI). */
export async function terminatePid(pid: number, graceMs = STOP_GRACE_MS): Promise<void> {
  await terminate(pid, graceMs);
}

/**
 * Kills whatever listens on the given peer addresses: leftovers of a crashed run. Throws when something
 * still listens there afterwards (for example a process of another user that `ss -p` cannot name).
 */
export async function killLeftovers(ips: readonly string[] = PEER_DEFS.map((d) => d.ip)): Promise<number[]> {
  const listeners = await listenersOn(ips);
  const pids = [...new Set(listeners.flatMap((l) => l.pids))].filter((p) => p !== process.pid);
  await Promise.all(pids.map((p) => terminate(p, STOP_GRACE_MS)));
  const deadline = Date.now() + 5_000;
  let left = await listenersOn(ips);
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(100);
    left = await listenersOn(ips);
  }
  if (left.length > 0) {
    throw new PeerError(`still listening on peer addresses after cleanup: ${left.map((l) => `${l.ip}:${l.port} pids=${l.pids.join(',') || '?'}`).join('; ')}`);
  }
  return pids;
}

// ---------------------------------------------------------------------------------------------------
// readiness

function tcpConnects(ip: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((r) => {
    const s = netConnect({ host: ip, port });
    const done = (ok: boolean) => {
      s.destroy();
      r(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

export interface EchoResult {
  ok: boolean;
  implementationClassUid?: string;
  implementationVersionName?: string;
  /** "Called AE Title Not Recognized" etc. when rejected. */
  rejectReason?: string;
  output: string;
}

/** One DCMTK `echoscu -d` (a real C-ECHO, PS3.7 §9.1.5) and what the peer said about itself. */
export async function echoscu(ip: string, port: number, calledAe: string, callingAe = 'ECHOSCU'): Promise<EchoResult> {
  assertLoopback(ip);
  const r = await runCommand(bin('echoscu'), ['-d', '-to', '5', '-ta', '5', '-td', '5', '-aet', callingAe, '-aec', calledAe, ip, String(port)]);
  const output = r.stdout + r.stderr;
  // echoscu -d dumps the A-ASSOCIATE-RQ (where "Their ..." is still empty) and then the AC: take the last value.
  const last = (re: RegExp) => [...output.matchAll(re)].map((m) => m[1]).filter(Boolean).pop();
  const uid = last(/Their Implementation Class UID:[ \t]*(\S+)/g);
  const vn = last(/Their Implementation Version Name:[ \t]*(\S+)/g);
  const reason = /Reason: (.+)$/m.exec(output)?.[1]?.trim();
  const res: EchoResult = { ok: r.code === 0, output };
  if (uid) res.implementationClassUid = uid;
  if (vn) res.implementationVersionName = vn;
  if (reason) res.rejectReason = reason;
  return res;
}

function assertLoopback(ip: string): void {
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip)) throw new PeerError(`refusing non-loopback address ${ip}`);
}

function httpCall(
  method: string,
  ip: string,
  port: number,
  path: string,
  opts: { body?: Buffer; auth?: { user: string; password: string } } = {},
): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  assertLoopback(ip);
  return new Promise((resolvePromise, reject) => {
    const headers: Record<string, string> = {};
    if (opts.auth) headers.authorization = `Basic ${Buffer.from(`${opts.auth.user}:${opts.auth.password}`).toString('base64')}`;
    if (opts.body) {
      headers['content-type'] = 'application/dicom';
      headers['content-length'] = String(opts.body.length);
    }
    const req = httpRequest({ host: ip, port, path, method, headers, timeout: 10_000, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > CMD_MAX_BYTES) {
          req.destroy(new PeerError(`HTTP body from ${ip}:${port}${path} over ${CMD_MAX_BYTES} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new PeerError(`HTTP ${method} ${ip}:${port}${path} timed out`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Exposed for tests: a GET against an Orthanc peer's HTTP side. */
export function peerHttpGet(peer: Peer, path: string, auth?: { user: string; password: string }) {
  if (!peer.httpPort) throw new PeerError(`${peer.name} has no HTTP port`);
  return httpCall('GET', peer.ip, peer.httpPort, path, auth ? { auth } : {});
}

// ---------------------------------------------------------------------------------------------------
// starting peers

/** Work dirs and how many of their peers still run: the dir goes when the last one stops. */
const workDirRefs = new Map<string, number>();

/** Every live child we started without `persistent`: killed when this process exits. */
const liveChildren = new Set<number>();
let exitHooksInstalled = false;

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  const killAll = () => {
    for (const pid of liveChildren) signal(pid, 'SIGKILL');
    liveChildren.clear();
    if (process.env.MEDSURFACE_KEEP_PEER_WORKDIR) return;
    for (const dir of workDirRefs.keys()) {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // a killed peer may still be closing a file: leave the temp dir
      }
    }
  };
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAll();
      process.kill(process.pid, sig); // the handler was `once`: the default action now ends us
    });
  }
}

export interface StartOptions {
  /** Work dir (emptied first). Default: a new temp dir `medsurface-peers-XXXX`. */
  workDir?: string;
  /**
   * Leave the peers running when this process exits (the developer CLI). Default false: peers are
   * killed with this process, and the work dir is removed by stopPeers().
   */
  persistent?: boolean;
}

interface Ctx {
  workDir: string;
  shim: string;
  dcmtk: { version: string; implementationClassUid: string; implementationVersionName: string };
  orthancVersion: string | undefined;
  data: SyntheticDataset;
  dicomFiles: string[];
  persistent: boolean;
  /** Everything spawned by this startPeers call, so that a failed start can stop it all. */
  spawned: Spawned[];
}

interface Spawned {
  child: ChildProcess;
  exited: () => boolean;
  exitInfo: () => string;
}

function spawnPeer(ctx: Ctx, def: PeerDef, cmd: string, args: string[], cwd: string, logFile: string): Spawned {
  const fd = openSync(logFile, 'a');
  const env = {
    ...process.env,
    PEER_BIND_ADDR: def.ip,
    LD_PRELOAD: [ctx.shim, process.env.LD_PRELOAD].filter(Boolean).join(' '),
  };
  let child: ChildProcess;
  try {
    child = spawn(cmd, args, { cwd, env, stdio: ['ignore', fd, fd], detached: true });
  } finally {
    closeSync(fd);
  }
  let exited = false;
  let info = '';
  child.on('exit', (code, sig) => {
    exited = true;
    info = sig ? `signal ${sig}` : `exit code ${code}`;
    if (child.pid) liveChildren.delete(child.pid);
  });
  child.on('error', (err) => {
    exited = true;
    info = err.message;
  });
  if (!child.pid) throw new PeerError(`${def.name}: could not spawn ${cmd}`);
  if (ctx.persistent) child.unref();
  else liveChildren.add(child.pid);
  const sp: Spawned = { child, exited: () => exited, exitInfo: () => info };
  ctx.spawned.push(sp);
  return sp;
}

function logTail(logFile: string): string {
  try {
    const t = readFileSync(logFile, 'utf8');
    return t.slice(-3000);
  } catch {
    return '(no log)';
  }
}

async function waitReady(def: PeerDef, sp: Spawned, logFile: string, extra?: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (sp.exited()) throw new PeerError(`${def.name} exited during start (${sp.exitInfo()}); log ${logFile}:\n${logTail(logFile)}`);
    if (await tcpConnects(def.ip, def.port, 1000)) {
      if (!extra || (await extra().catch(() => false))) return;
    }
    if (Date.now() > deadline) throw new PeerError(`${def.name} did not answer on ${def.ip}:${def.port} within ${READY_TIMEOUT_MS} ms; log ${logFile}:\n${logTail(logFile)}`);
    await sleep(150);
  }
}

/** The shim must have put every listener of the peer on its own address (or ::1): check, never trust. */
async function assertBoundToOwnAddress(def: PeerDef, pid: number): Promise<void> {
  const mine = (await tcpListeners()).filter((l) => l.pids.includes(pid));
  const wrong = mine.filter((l) => l.ip !== def.ip && l.ip !== '::1');
  if (mine.length === 0) throw new PeerError(`${def.name}: ss shows no listener for pid ${pid}`);
  if (wrong.length > 0) throw new PeerError(`${def.name} listens off its address: ${wrong.map((l) => `${l.ip}:${l.port}`).join(', ')}`);
}

function orthancConfig(def: PeerDef, dir: string): Record<string, unknown> {
  const secure = def.name === 'orthanc-aecheck';
  return {
    Name: `medsurface-${def.name}`,
    StorageDirectory: join(dir, 'storage'),
    IndexDirectory: join(dir, 'storage'),
    DicomAet: 'ORTHANC',
    DicomPort: def.port,
    HttpPort: def.httpPort,
    DicomCheckCalledAet: secure,
    DicomAlwaysAllowEcho: true,
    DicomAlwaysAllowFind: !secure,
    DicomModalities: { known: [KNOWN_CALLING_AE, '127.0.0.1', 104] },
    RemoteAccessAllowed: true,
    AuthenticationEnabled: secure,
    ...(secure
      ? { RegisteredUsers: { [AECHECK_HTTP_AUTH.user]: AECHECK_HTTP_AUTH.password, [ORTHANC_DEFAULT_ACCOUNT.user]: ORTHANC_DEFAULT_ACCOUNT.password } }
      : {}),
    Plugins: [ORTHANC_PLUGIN],
    DicomWeb: { Enable: true, Root: DICOMWEB_ROOT },
    SaveJobs: false,
    HttpDescribeErrors: true,
  };
}

async function startOrthanc(ctx: Ctx, def: PeerDef, dir: string, logFile: string): Promise<{ sp: Spawned; extra: Partial<Peer> }> {
  const cfgFile = join(dir, 'orthanc.json');
  writeFileSync(cfgFile, JSON.stringify(orthancConfig(def, dir), null, 2));
  const auth = def.name === 'orthanc-aecheck' ? AECHECK_HTTP_AUTH : undefined;
  const httpPort = def.httpPort!;
  const sp = spawnPeer(ctx, def, bin('Orthanc'), ['--verbose', cfgFile], dir, logFile);
  await waitReady(def, sp, logFile, async () => (await httpCall('GET', def.ip, httpPort, '/system', auth ? { auth } : {})).status === 200);
  // Load the synthetic studies through the REST API (POST /instances) on loopback.
  for (const f of ctx.dicomFiles) {
    const r = await httpCall('POST', def.ip, httpPort, '/instances', { body: readFileSync(f), ...(auth ? { auth } : {}) });
    if (r.status !== 200) throw new PeerError(`${def.name}: POST /instances ${f} -> HTTP ${r.status}`);
  }
  const stats = JSON.parse((await httpCall('GET', def.ip, httpPort, '/statistics', auth ? { auth } : {})).body) as Record<string, number>;
  if (stats.CountPatients !== ctx.data.patients || stats.CountStudies !== ctx.data.studies || stats.CountInstances !== ctx.data.instances) {
    throw new PeerError(`${def.name}: Orthanc holds ${JSON.stringify(stats)}, expected ${ctx.data.patients} patients / ${ctx.data.studies} studies`);
  }
  const extra: Partial<Peer> = { knownCallingAe: KNOWN_CALLING_AE, httpPort };
  if (auth) extra.httpAuth = { ...auth };
  return { sp, extra };
}

async function startStorescp(ctx: Ctx, def: PeerDef, dir: string, logFile: string): Promise<{ sp: Spawned; extra: Partial<Peer> }> {
  const inbox = join(dir, 'incoming');
  mkdirSync(inbox, { recursive: true });
  const sp = spawnPeer(ctx, def, bin('storescp'), ['-v', '-aet', def.calledAe, '-od', inbox, String(def.port)], dir, logFile);
  await waitReady(def, sp, logFile);
  return { sp, extra: {} };
}

/**
 * dcmqrscp configuration (DCMTK dcmqrscp.cfg format). The AE is open to ANY calling AE, so the only
 * access control is the called AE title; the host table takes host names (`localhost`), not IPs.
 */
function dcmqrscpConfig(def: PeerDef, storage: string): string {
  return [
    `# medsurface interop peer ${def.name}`,
    `NetworkTCPPort  = ${def.port}`,
    'MaxPDUSize      = 16384',
    'MaxAssociations = 16',
    '',
    'HostTable BEGIN',
    `known = (${KNOWN_CALLING_AE}, localhost, 104)`,
    'HostTable END',
    '',
    'VendorTable BEGIN',
    'VendorTable END',
    '',
    'AETable BEGIN',
    `${def.calledAe}  ${storage}  RW  (200, 1024mb)  ANY`,
    'AETable END',
    '',
  ].join('\n');
}

async function startDcmqrscp(ctx: Ctx, def: PeerDef, dir: string, logFile: string): Promise<{ sp: Spawned; extra: Partial<Peer> }> {
  const storage = join(dir, 'storage');
  mkdirSync(storage, { recursive: true });
  const cfgFile = join(dir, 'dcmqrscp.cfg');
  writeFileSync(cfgFile, dcmqrscpConfig(def, storage));
  if (def.loaded) {
    const files: string[] = [];
    for (const f of ctx.dicomFiles) {
      const dst = join(storage, f.replace(/^.*\//, ''));
      writeFileSync(dst, readFileSync(f));
      files.push(dst);
    }
    const r = await runCommand(bin('dcmqridx'), [storage, ...files]);
    if (r.code !== 0) throw new PeerError(`dcmqridx failed: ${r.stderr.slice(0, 2000)}`);
  }
  // Default forking mode: --single-process crashed after the first release (PEERS.md).
  const args = ['-v', '-c', cfgFile, String(def.port)];
  const sp = spawnPeer(ctx, def, bin('dcmqrscp'), args, dir, logFile);
  await waitReady(def, sp, logFile);
  return { sp, extra: {} };
}

async function startOne(ctx: Ctx, def: PeerDef): Promise<Peer> {
  const dir = join(ctx.workDir, def.name);
  mkdirSync(dir, { recursive: true });
  const logFile = join(dir, `${def.name}.log`);
  const starter = def.kind === 'orthanc' ? startOrthanc : def.kind === 'storescp' ? startStorescp : startDcmqrscp;
  const { sp, extra } = await starter(ctx, def, dir, logFile);
  const pid = sp.child.pid!;
  await assertBoundToOwnAddress(def, pid);
  const echo = await echoscu(def.ip, def.port, def.calledAe);
  if (!echo.ok) throw new PeerError(`${def.name}: C-ECHO to ${def.calledAe}@${def.ip}:${def.port} failed:\n${echo.output.slice(-2000)}`);

  const expected: PeerExpected = {
    anyAeAccepted: def.anyAeAccepted,
    vendor: 'OFFIS',
    product: 'DCMTK',
    version: ctx.dcmtk.version,
    calledAe: def.calledAe,
    implementationClassUid: ctx.dcmtk.implementationClassUid,
    implementationVersionName: ctx.dcmtk.implementationVersionName,
  };
  if (def.kind === 'orthanc') {
    expected.http = { product: 'Orthanc', version: ctx.orthancVersion ?? '?', authRequired: def.name === 'orthanc-aecheck', dicomWebRoot: DICOMWEB_ROOT };
  }
  const peer: Peer = {
    name: def.name,
    ip: def.ip,
    port: def.port,
    kind: def.kind,
    expected,
    pid,
    logFile,
    workDir: dir,
    ...extra,
    stop: async () => {
      await terminate(pid, STOP_GRACE_MS, () => sp.exited());
      liveChildren.delete(pid);
    },
  };
  if (def.httpPort) peer.httpPort = def.httpPort;
  if (def.loaded) {
    // Both Orthancs and dcmqrscp serve the synthetic data set.
    peer.patients = ctx.data.patients;
    peer.studies = ctx.data.studies;
    peer.series = ctx.data.series;
    peer.instances = ctx.data.instances;
  } else if (def.kind === 'dcmqrscp') {
    // storescp-aet: a Q/R model over an empty archive. storescp has no query model: counts undefined.
    peer.patients = 0;
    peer.studies = 0;
    peer.series = 0;
    peer.instances = 0;
  }
  return peer;
}

/**
 * Starts the named peers (default: all of PEER_NAMES), each on its own loopback address, and waits
 * until each accepts a TCP connection and answers a C-ECHO with its called AE (Orthanc also its HTTP
 * /system, and holds the synthetic studies). Kills leftovers on the peer addresses first.
 */
export async function startPeers(which?: string[], opts: StartOptions = {}): Promise<Peer[]> {
  const names = which && which.length > 0 ? which : [...PEER_NAMES];
  const defs = names.map((n) => {
    const d = PEER_DEFS.find((x) => x.name === n);
    if (!d) throw new PeerError(`unknown peer ${n} (known: ${PEER_NAMES.join(', ')})`);
    return d;
  });
  const { missing } = peerBinariesPresent();
  if (missing.length > 0) throw new PeerError(`peer binaries missing: ${missing.join(', ')} (run: bash scripts/install-peers.sh)`);

  await killLeftovers(defs.map((d) => d.ip));

  let workDir: string;
  if (opts.workDir) {
    workDir = resolve(opts.workDir);
    rmSync(workDir, { recursive: true, force: true });
    mkdirSync(workDir, { recursive: true });
  } else {
    workDir = mkdtempSync(join(tmpdir(), 'medsurface-peers-'));
  }
  const persistent = opts.persistent ?? false;
  if (!persistent) installExitHooks();

  const [shim, dcmtkVer, orthancVer] = await Promise.all([
    ensureBindShim(),
    dcmtkVersion(),
    defs.some((d) => d.kind === 'orthanc') ? orthancVersion() : Promise.resolve(undefined),
  ]);
  const data = syntheticDataset();
  const dicomFiles = await buildDicomFiles(join(workDir, 'data'), data);
  const ctx: Ctx = {
    workDir,
    shim,
    dcmtk: { version: dcmtkVer, ...dcmtkIdentity(dcmtkVer) },
    orthancVersion: orthancVer,
    data,
    dicomFiles,
    persistent,
    spawned: [],
  };

  const results = await Promise.allSettled(defs.map((d) => startOne(ctx, d)));
  const failures = results.flatMap((r, i) => (r.status === 'rejected' ? [{ name: defs[i]!.name, err: r.reason as unknown }] : []));
  if (failures.length > 0) {
    // Stop everything this call started, including peers whose start failed half-way.
    await Promise.all(ctx.spawned.map((sp) => terminate(sp.child.pid!, STOP_GRACE_MS, () => sp.exited())));
    await killLeftovers(defs.map((d) => d.ip)).catch(() => undefined);
    for (const sp of ctx.spawned) liveChildren.delete(sp.child.pid!);
    const msg = failures.map((f) => `${f.name}: ${f.err instanceof Error ? f.err.message : String(f.err)}`).join('\n');
    throw new PeerError(`starting peers failed (work dir ${workDir}):\n${msg}`, { cause: failures[0]?.err });
  }
  const peers = results.map((r) => (r as PromiseFulfilledResult<Peer>).value);
  if (!persistent) {
    workDirRefs.set(workDir, peers.length);
    for (const p of peers) {
      const inner = p.stop;
      let stopped = false;
      p.stop = async () => {
        await inner();
        if (stopped) return;
        stopped = true;
        const left = (workDirRefs.get(workDir) ?? 1) - 1;
        workDirRefs.set(workDir, left);
        if (left <= 0 && !process.env.MEDSURFACE_KEEP_PEER_WORKDIR) {
          workDirRefs.delete(workDir);
          rmSync(workDir, { recursive: true, force: true });
        }
      };
    }
  }
  return peers;
}

/** Stops the peers (in parallel: Orthanc needs 2-4 s each) and waits until each has exited. */
export async function stopPeers(peers: Peer[]): Promise<void> {
  await Promise.all(peers.map((p) => p.stop()));
}
