/**
 * Real third-party remote-access servers on loopback for the interop tests of the `ftp`, `vnc`,
 * `telnet` and `rdp` probes (STYLE.md §7: real servers started as plain processes on loopback).
 * Debian 12 packages, installed by scripts/install-peers.sh.
 *
 * Each peer has its own address in 127.0.0.40-49 (never 127.0.0.1) and binds only there:
 *
 *   vsftpd-anon        127.0.0.40:21    vsftpd 3.0.3, `listen_address=`, anonymous login on, no TLS
 *   vsftpd-closed      127.0.0.41:21    vsftpd 3.0.3, anonymous off (local users only), AUTH TLS on
 *   x11vnc-nopw        127.0.0.42:5900  x11vnc 0.9.16 on an Xvfb display, `-nopw`: security type None
 *   x11vnc-pw          127.0.0.43:5901  x11vnc 0.9.16, same display, `-rfbauth FILE`: VNC Authentication
 *   tigervnc-none      127.0.0.44:5900  Xtigervnc 1.12 `-interface`, `-SecurityTypes None`
 *   tigervnc-vncauth   127.0.0.45:5900  Xtigervnc 1.12, `-SecurityTypes VncAuth -PasswordFile FILE`
 *   inetutils-telnetd  127.0.0.46:23    GNU inetutils telnetd 2.4 behind a tiny inetd in this process
 *   xrdp-tls           127.0.0.47:3389  xrdp 0.9.21, `security_layer=tls`
 *   xrdp-rdp           127.0.0.48:3389  xrdp 0.9.21, `security_layer=rdp` (standard RDP security)
 *   xrdp-negotiate     127.0.0.49:3389  xrdp 0.9.21, `security_layer=negotiate` (Debian's default)
 *
 * Binding: vsftpd (`listen_address`), Xtigervnc (`-interface`) and xrdp (`port=tcp://ADDR:PORT`)
 * bind the one address they are given. x11vnc binds its IPv4 socket to `-listen ADDR` but always
 * opens a wildcard IPv6 listener too (`-noipv6` does not stop it in 0.9.16), so x11vnc runs under
 * the bind shim (test/interop/peers.ts ensureBindShim), which turns `::` into `::1`; the two x11vnc
 * peers use different ports so their `::1` listeners do not collide. Xvfb and Xtigervnc take
 * `-nolisten tcp` (X11 over a Unix socket only). telnetd has no listener of its own: inetd-style,
 * it serves one connection on stdin/stdout; our inetd listens on 127.0.0.46:23 and hands each
 * accepted socket to a new telnetd process as its stdin and stdout.
 *
 * After start, `ss` must show each peer process listening on its own address (or ::1) only, and
 * every process started here is stopped (its whole process group) by stop(), or on process exit.
 * The login program behind telnetd is Debian's /bin/login; the tests never send it a character.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SendLog } from '../../src/core/bounded-socket.js';
import { ScopeError } from '../../src/core/errors.js';
import type { Probe } from '../../src/core/probe.js';
import type { Profile } from '../../src/core/types.js';
import { type ScanConfig, type ServiceOutcome, newHostState, scanService } from '../../src/engine/scan-service.js';
import { PeerError, ensureBindShim, findBinary, killLeftovers, processGroupAlive, runCommand, tcpListeners } from './peers.js';

export type RemotePeerKind = 'vsftpd' | 'x11vnc' | 'tigervnc' | 'telnetd' | 'xrdp';

export interface RemotePeerDef {
  name: string;
  kind: RemotePeerKind;
  ip: string;
  port: number;
  /** vsftpd: anonymous login enabled. */
  anonymous?: boolean;
  /** vsftpd: explicit FTPS (AUTH TLS) enabled. */
  tls?: boolean;
  /** VNC: a password is required (VNC Authentication) instead of None. */
  password?: boolean;
  /** xrdp security_layer. */
  layer?: 'tls' | 'rdp' | 'negotiate';
}

export const REMOTE_PEER_DEFS: readonly RemotePeerDef[] = [
  { name: 'vsftpd-anon', kind: 'vsftpd', ip: '127.0.0.40', port: 21, anonymous: true, tls: false },
  { name: 'vsftpd-closed', kind: 'vsftpd', ip: '127.0.0.41', port: 21, anonymous: false, tls: true },
  { name: 'x11vnc-nopw', kind: 'x11vnc', ip: '127.0.0.42', port: 5900, password: false },
  { name: 'x11vnc-pw', kind: 'x11vnc', ip: '127.0.0.43', port: 5901, password: true },
  { name: 'tigervnc-none', kind: 'tigervnc', ip: '127.0.0.44', port: 5900, password: false },
  { name: 'tigervnc-vncauth', kind: 'tigervnc', ip: '127.0.0.45', port: 5900, password: true },
  { name: 'inetutils-telnetd', kind: 'telnetd', ip: '127.0.0.46', port: 23 },
  { name: 'xrdp-tls', kind: 'xrdp', ip: '127.0.0.47', port: 3389, layer: 'tls' },
  { name: 'xrdp-rdp', kind: 'xrdp', ip: '127.0.0.48', port: 3389, layer: 'rdp' },
  { name: 'xrdp-negotiate', kind: 'xrdp', ip: '127.0.0.49', port: 3389, layer: 'negotiate' },
];

/** Peer names, for scripts/count-interop.ts (describe names start with "<peer name>:"). */
export const REMOTE_PEER_NAMES: readonly string[] = REMOTE_PEER_DEFS.map((d) => d.name);

for (const d of REMOTE_PEER_DEFS) {
  const m = /^127\.0\.0\.(\d+)$/.exec(d.ip);
  if (!m || Number(m[1]) < 40 || Number(m[1]) > 49) throw new PeerError(`remote peer ${d.name}: ${d.ip} is outside 127.0.0.40-49`);
}

/** Binaries each kind needs, and the Debian package that has them (scripts/install-peers.sh). */
export const REMOTE_BINARIES: Readonly<Record<string, string>> = {
  vsftpd: 'vsftpd',
  x11vnc: 'x11vnc',
  Xvfb: 'xvfb',
  Xtigervnc: 'tigervnc-standalone-server',
  vncpasswd: 'tigervnc-tools',
  telnetd: 'inetutils-telnetd',
  xrdp: 'xrdp',
  openssl: 'openssl',
  gcc: 'gcc',
  ss: 'iproute2',
};

const XRDP_INI = '/etc/xrdp/xrdp.ini';
/** Test-only VNC password (the peers listen on loopback only and live for one test run). */
export const VNC_TEST_PASSWORD = 'interop1';
const READY_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;

export interface RemotePeer extends RemotePeerDef {
  /** Process ids of the peer's processes (for telnetd: none until a connection; the inetd is this process). */
  pids: number[];
  logFile: string;
  /** Upstream version of the server software, read from the installed package. */
  version: string;
  stop(): Promise<void>;
}

export function remoteBinariesMissing(): string[] {
  const missing = Object.keys(REMOTE_BINARIES).filter((b) => findBinary(b) === undefined);
  if (!existsSync(XRDP_INI)) missing.push(XRDP_INI);
  return missing;
}

function bin(name: string): string {
  const p = findBinary(name);
  if (!p) throw new PeerError(`${name} not found: run scripts/install-peers.sh (Debian package ${REMOTE_BINARIES[name] ?? '?'})`);
  return p;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Upstream version of an installed Debian package ("3.0.3-13+b2" -> "3.0.3"; "2:2.4-2" -> "2.4"). */
export async function packageVersion(pkg: string): Promise<string> {
  // dpkg-query's own format syntax, not a template string.
  const r = await runCommand('dpkg-query', ['-W', `-f=$\{Version}`, pkg]);
  if (r.code !== 0 || !r.stdout) throw new PeerError(`package ${pkg} is not installed`);
  return r.stdout.replace(/^\d+:/, '').replace(/[-+~].*$/, '');
}

// ---------------------------------------------------------------------------------------------------
// processes

interface Proc {
  child: ChildProcess;
  exited: () => boolean;
  info: () => string;
}

/** Every process group started here and still alive: killed when this process exits. */
const live = new Set<number>();
let hooks = false;
function installExitHooks(): void {
  if (hooks) return;
  hooks = true;
  const killAll = () => {
    for (const pid of live) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    live.clear();
  };
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAll();
      process.kill(process.pid, sig);
    });
  }
}

function spawnLogged(cmd: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env, cwd?: string): Proc {
  installExitHooks();
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    // detached: its own process group, so that stop() also ends what it forks (xrdp forks per connection).
    child = spawn(cmd, args, { stdio: ['ignore', fd, fd], detached: true, env, ...(cwd ? { cwd } : {}) });
  } finally {
    closeSync(fd);
  }
  let exited = false;
  let info = '';
  child.on('exit', (code, sig) => {
    exited = true;
    info = sig ? `signal ${sig}` : `exit code ${code}`;
  });
  child.on('error', (err) => {
    exited = true;
    info = err.message;
  });
  if (!child.pid) throw new PeerError(`could not spawn ${cmd}`);
  live.add(child.pid);
  return { child, exited: () => exited, info: () => info };
}

async function stopProc(p: Proc): Promise<void> {
  const pid = p.child.pid!;
  const group = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      // already gone
    }
  };
  if (!p.exited() || processGroupAlive(pid)) {
    group('SIGTERM');
    const deadline = Date.now() + STOP_GRACE_MS;
    while ((!p.exited() || processGroupAlive(pid)) && Date.now() < deadline) await sleep(50);
    if (!p.exited() || processGroupAlive(pid)) {
      group('SIGKILL');
      const hard = Date.now() + 5_000;
      while ((!p.exited() || processGroupAlive(pid)) && Date.now() < hard) await sleep(50);
    }
  }
  live.delete(pid);
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-2000);
  } catch {
    return '(no log)';
  }
}

function connects(ip: string, port: number): Promise<boolean> {
  return new Promise((r) => {
    const s = net.connect({ host: ip, port });
    const done = (ok: boolean) => {
      s.destroy();
      r(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

async function waitListening(name: string, ip: string, port: number, procs: Proc[], logFile: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const dead = procs.find((p) => p.exited());
    if (dead) throw new PeerError(`${name} exited during start (${dead.info()}); log ${logFile}:\n${tail(logFile)}`);
    const l = (await tcpListeners()).some((x) => x.ip === ip && x.port === port);
    if (l) return;
    if (Date.now() > deadline) throw new PeerError(`${name} did not listen on ${ip}:${port} within ${READY_TIMEOUT_MS} ms; log ${logFile}:\n${tail(logFile)}`);
    await sleep(100);
  }
}

/** Every listener of these processes must be on the peer's own address (or ::1). */
async function assertOwnAddress(name: string, ip: string, pids: number[]): Promise<void> {
  const mine = (await tcpListeners()).filter((l) => l.pids.some((p) => pids.includes(p)));
  if (mine.length === 0) throw new PeerError(`${name}: ss shows no listener for pids ${pids.join(',')}`);
  const wrong = mine.filter((l) => l.ip !== ip && l.ip !== '::1');
  if (wrong.length > 0) throw new PeerError(`${name} listens off its address: ${wrong.map((l) => `${l.ip}:${l.port}`).join(', ')}`);
}

/** A free X display number from `from` up (no lock file, no socket). */
function freeDisplay(from: number, taken: Set<number>): number {
  for (let d = from; d < from + 200; d++) {
    if (taken.has(d)) continue;
    if (existsSync(`/tmp/.X${d}-lock`) || existsSync(`/tmp/.X11-unix/X${d}`)) continue;
    taken.add(d);
    return d;
  }
  throw new PeerError('no free X display number');
}

// ---------------------------------------------------------------------------------------------------
// per-kind starters

interface Ctx {
  dir: string;
  /** One certificate for every TLS peer, made once: the peers start in parallel. */
  cert: Promise<{ cert: string; key: string }> | null;
  displays: Set<number>;
  /** x11vnc peers share one Xvfb display. */
  xvfb: Promise<{ display: number; proc: Proc }> | null;
  shim: string | null;
  procs: Proc[];
}

/**
 * The TLS peers' certificate. Concurrent callers share one openssl run: two runs writing the same
 * files let a peer read one run's key with the other's certificate (CI saw vsftpd exit with 2).
 */
function selfSignedCert(ctx: Ctx): Promise<{ cert: string; key: string }> {
  ctx.cert ??= makeSelfSignedCert(ctx.dir);
  return ctx.cert;
}

async function makeSelfSignedCert(dir: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const r = await runCommand(bin('openssl'), [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '2',
    '-subj',
    '/CN=medsurface-interop.invalid',
  ]);
  if (r.code !== 0) throw new PeerError(`openssl req failed: ${r.stderr.slice(0, 1000)}`);
  return { cert, key };
}

function vsftpdConfig(def: RemotePeerDef, dir: string, cert: { cert: string; key: string } | null): string {
  const root = join(dir, 'anon-root');
  const empty = join(dir, 'empty');
  for (const d of [root, empty]) {
    mkdirSync(d, { recursive: true });
    // vsftpd refuses a chroot (or secure_chroot_dir) writable by the login user: root-owned, 0755.
    chmodSync(d, 0o755);
  }
  writeFileSync(join(root, 'README.txt'), 'medsurface interop test server: nothing to see here\n');
  return [
    `# medsurface interop peer ${def.name}`,
    'listen=YES',
    'listen_ipv6=NO',
    `listen_address=${def.ip}`,
    `listen_port=${def.port}`,
    'background=NO',
    `anonymous_enable=${def.anonymous ? 'YES' : 'NO'}`,
    // With anonymous off vsftpd needs some login method, or it refuses every connection ("500 OOPS").
    `local_enable=${def.anonymous ? 'NO' : 'YES'}`,
    'write_enable=NO',
    'anon_upload_enable=NO',
    'anon_mkdir_write_enable=NO',
    `anon_root=${root}`,
    `secure_chroot_dir=${empty}`,
    'pam_service_name=vsftpd',
    'xferlog_enable=NO',
    'seccomp_sandbox=NO',
    ...(def.tls && cert ? ['ssl_enable=YES', `rsa_cert_file=${cert.cert}`, `rsa_private_key_file=${cert.key}`] : ['ssl_enable=NO']),
    '',
  ].join('\n');
}

async function startVsftpd(ctx: Ctx, def: RemotePeerDef, dir: string, logFile: string): Promise<number[]> {
  const cert = def.tls ? await selfSignedCert(ctx) : null;
  const conf = join(dir, 'vsftpd.conf');
  writeFileSync(conf, vsftpdConfig(def, dir, cert));
  const p = spawnLogged(bin('vsftpd'), [conf], logFile, process.env, dir);
  ctx.procs.push(p);
  await waitListening(def.name, def.ip, def.port, [p], logFile);
  return [p.child.pid!];
}

async function startXvfb(ctx: Ctx): Promise<{ display: number; proc: Proc }> {
  const display = freeDisplay(140, ctx.displays);
  const logFile = join(ctx.dir, 'xvfb.log');
  const p = spawnLogged(bin('Xvfb'), [`:${display}`, '-screen', '0', '640x480x24', '-nolisten', 'tcp'], logFile);
  ctx.procs.push(p);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!existsSync(`/tmp/.X11-unix/X${display}`) && !existsSync(`/tmp/.X${display}-lock`)) {
    if (p.exited()) throw new PeerError(`Xvfb :${display} exited (${p.info()}): ${tail(logFile)}`);
    if (Date.now() > deadline) throw new PeerError(`Xvfb :${display} did not start: ${tail(logFile)}`);
    await sleep(50);
  }
  await sleep(300);
  return { display, proc: p };
}

async function startX11vnc(ctx: Ctx, def: RemotePeerDef, dir: string, logFile: string): Promise<number[]> {
  ctx.xvfb ??= startXvfb(ctx);
  const { display } = await ctx.xvfb;
  ctx.shim ??= await ensureBindShim();
  const auth: string[] = [];
  if (def.password) {
    const passFile = join(dir, 'vncpasswd');
    const r = await runCommand(bin('x11vnc'), ['-storepasswd', VNC_TEST_PASSWORD, passFile]);
    if (r.code !== 0 || !existsSync(passFile)) throw new PeerError(`x11vnc -storepasswd failed: ${r.stderr.slice(0, 500)}`);
    auth.push('-rfbauth', passFile);
  } else auth.push('-nopw');
  const env = { ...process.env, PEER_BIND_ADDR: def.ip, LD_PRELOAD: [ctx.shim, process.env.LD_PRELOAD].filter(Boolean).join(' ') };
  const args = ['-display', `:${display}`, '-rfbport', String(def.port), '-listen', def.ip, '-noipv6', ...auth, '-forever', '-shared', '-nolookup'];
  const p = spawnLogged(bin('x11vnc'), args, logFile, env, dir);
  ctx.procs.push(p);
  await waitListening(def.name, def.ip, def.port, [p], logFile);
  return [p.child.pid!];
}

async function startTigervnc(ctx: Ctx, def: RemotePeerDef, dir: string, logFile: string): Promise<number[]> {
  const display = freeDisplay(150, ctx.displays);
  const security: string[] = [];
  if (def.password) {
    const passFile = join(dir, 'passwd');
    const r = await new Promise<Buffer>((resolve, reject) => {
      const c = spawn(bin('vncpasswd'), ['-f'], { stdio: ['pipe', 'pipe', 'ignore'] });
      const out: Buffer[] = [];
      c.stdout.on('data', (b: Buffer) => out.push(b));
      c.on('error', reject);
      c.on('close', () => resolve(Buffer.concat(out)));
      c.stdin.end(`${VNC_TEST_PASSWORD}\n`);
    });
    if (r.length < 8) throw new PeerError('vncpasswd -f wrote no password');
    writeFileSync(passFile, r, { mode: 0o600 });
    security.push('-SecurityTypes', 'VncAuth', '-PasswordFile', passFile);
  } else security.push('-SecurityTypes', 'None');
  const args = [`:${display}`, '-rfbport', String(def.port), '-interface', def.ip, ...security, '-geometry', '640x480', '-depth', '24', '-nolisten', 'tcp'];
  const p = spawnLogged(bin('Xtigervnc'), args, logFile, process.env, dir);
  ctx.procs.push(p);
  await waitListening(def.name, def.ip, def.port, [p], logFile);
  return [p.child.pid!];
}

/**
 * xrdp from Debian's own xrdp.ini, with the listen address, security layer, certificate and log
 * file replaced. Everything else (keymaps, RSA keys for standard RDP security) is the package's.
 */
async function startXrdp(ctx: Ctx, def: RemotePeerDef, dir: string, logFile: string): Promise<number[]> {
  const cert = await selfSignedCert(ctx);
  const ini = readFileSync(XRDP_INI, 'utf8')
    .replace(/^port=.*$/m, `port=tcp://${def.ip}:${def.port}`)
    .replace(/^security_layer=.*$/m, `security_layer=${def.layer ?? 'negotiate'}`)
    .replace(/^certificate=.*$/m, `certificate=${cert.cert}`)
    .replace(/^key_file=.*$/m, `key_file=${cert.key}`)
    .replace(/^LogFile=.*$/m, `LogFile=${join(dir, 'xrdp-own.log')}`)
    .replace(/^EnableSyslog=.*$/m, 'EnableSyslog=false');
  if (!ini.includes(`port=tcp://${def.ip}:${def.port}`)) throw new PeerError(`${XRDP_INI} has no port= line to replace`);
  const conf = join(dir, 'xrdp.ini');
  writeFileSync(conf, ini);
  const p = spawnLogged(bin('xrdp'), ['--nodaemon', '--config', conf], logFile, process.env, dir);
  ctx.procs.push(p);
  await waitListening(def.name, def.ip, def.port, [p], logFile);
  return [p.child.pid!];
}

/**
 * inetd for one service: accepts on ip:port and runs `telnetd` with the accepted socket as its
 * stdin and stdout (what inetd(8) does for a `nowait` stream service). Returns the server and the
 * telnetd processes it started, so that stop() can end them all.
 */
async function startTelnetd(def: RemotePeerDef, logFile: string): Promise<{ server: net.Server; children: Set<ChildProcess> }> {
  const telnetd = bin('telnetd');
  const children = new Set<ChildProcess>();
  const server = net.createServer({ pauseOnConnect: true }, (sock) => {
    const fd = openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(telnetd, [], { stdio: [sock, sock, fd], detached: true });
    } catch {
      sock.destroy();
      return;
    } finally {
      closeSync(fd);
    }
    children.add(child);
    if (child.pid) live.add(child.pid);
    child.on('error', () => sock.destroy());
    child.on('exit', () => {
      children.delete(child);
      if (child.pid) live.delete(child.pid);
      sock.destroy();
    });
  });
  installExitHooks();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: def.ip, port: def.port, exclusive: true }, () => resolve());
  });
  return { server, children };
}

// ---------------------------------------------------------------------------------------------------
// public API

const VERSION_PACKAGE: Readonly<Record<RemotePeerKind, string>> = {
  vsftpd: 'vsftpd',
  x11vnc: 'x11vnc',
  tigervnc: 'tigervnc-standalone-server',
  telnetd: 'inetutils-telnetd',
  xrdp: 'xrdp',
};

/**
 * Starts the named remote-access peers (default all), each on its own loopback address, and waits
 * until each listens there. Kills leftovers on 127.0.0.40-49 first. Fails (never skips) when a
 * binary is missing.
 */
export async function startRemotePeers(which?: readonly string[]): Promise<RemotePeer[]> {
  const defs = (which && which.length > 0 ? which : REMOTE_PEER_NAMES).map((n) => {
    const d = REMOTE_PEER_DEFS.find((x) => x.name === n);
    if (!d) throw new PeerError(`unknown remote peer ${n} (known: ${REMOTE_PEER_NAMES.join(', ')})`);
    return d;
  });
  const missing = remoteBinariesMissing();
  if (missing.length > 0) throw new PeerError(`remote peer binaries missing: ${missing.join(', ')} (run: bash scripts/install-peers.sh)`);
  await killLeftovers(REMOTE_PEER_DEFS.map((d) => d.ip));

  const dir = mkdtempSync(join(tmpdir(), 'medsurface-remote-peers-'));
  const ctx: Ctx = { dir, cert: null, displays: new Set(), xvfb: null, shim: null, procs: [] };
  const telnetServers: { server: net.Server; children: Set<ChildProcess> }[] = [];
  const versions = new Map<RemotePeerKind, string>();
  for (const k of new Set(defs.map((d) => d.kind))) versions.set(k, await packageVersion(VERSION_PACKAGE[k]));

  const stopAll = async () => {
    for (const t of telnetServers) {
      await new Promise<void>((r) => t.server.close(() => r()));
      for (const c of t.children) {
        try {
          process.kill(-c.pid!, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    await Promise.all(ctx.procs.map((p) => stopProc(p)));
  };

  const startOne = async (def: RemotePeerDef): Promise<RemotePeer> => {
    const pdir = join(dir, def.name);
    mkdirSync(pdir, { recursive: true });
    const logFile = join(pdir, `${def.name}.log`);
    let pids: number[] = [];
    let stopOwn: () => Promise<void>;
    if (def.kind === 'telnetd') {
      const t = await startTelnetd(def, logFile);
      telnetServers.push(t);
      stopOwn = async () => {
        await new Promise<void>((r) => (t.server.listening ? t.server.close(() => r()) : r()));
        for (const c of t.children) {
          try {
            process.kill(-c.pid!, 'SIGKILL');
          } catch {
            // gone
          }
        }
      };
      if (!(await connects(def.ip, def.port))) throw new PeerError(`${def.name}: inetd does not accept on ${def.ip}:${def.port}`);
    } else {
      const before = ctx.procs.length;
      const starter = def.kind === 'vsftpd' ? startVsftpd : def.kind === 'x11vnc' ? startX11vnc : def.kind === 'tigervnc' ? startTigervnc : startXrdp;
      pids = await starter(ctx, def, pdir, logFile);
      const own = ctx.procs.slice(before).filter((p) => pids.includes(p.child.pid!));
      await assertOwnAddress(def.name, def.ip, pids);
      stopOwn = async () => {
        await Promise.all(own.map((p) => stopProc(p)));
      };
    }
    return { ...def, pids, logFile, version: versions.get(def.kind) ?? '?', stop: stopOwn };
  };

  // Start in parallel: every peer has its own address, and the two x11vnc share one Xvfb.
  const results = await Promise.allSettled(defs.map((d) => startOne(d)));
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${defs[i]!.name}: ${(r.reason as Error)?.message ?? r.reason}`] : []));
  if (failed.length > 0) {
    await stopAll();
    throw new PeerError(`starting remote peers failed (work dir ${dir}):\n${failed.join('\n')}`);
  }
  const peers = results.map((r) => (r as PromiseFulfilledResult<RemotePeer>).value);
  let remaining = peers.length;
  const xvfb = ctx.xvfb ? await ctx.xvfb : null;
  for (const p of peers) {
    const inner = p.stop;
    let stopped = false;
    p.stop = async () => {
      if (stopped) return;
      stopped = true;
      await inner();
      remaining--;
      if (remaining === 0) {
        // The last one out stops the shared Xvfb and removes the work dir.
        if (xvfb) await stopProc(xvfb.proc);
        if (!process.env.MEDSURFACE_KEEP_PEER_WORKDIR) rmSync(dir, { recursive: true, force: true });
      }
    };
  }
  return peers;
}

export async function stopRemotePeers(peers: readonly RemotePeer[]): Promise<void> {
  await Promise.all(peers.map((p) => p.stop()));
}

// ---------------------------------------------------------------------------------------------------
// scanning a peer with one probe, the way the engine does

/** The scanner's scope guard for these tests: 127.0.0.40-49 only. */
export function remoteGuard(ip: string): void {
  const m = /^127\.0\.0\.(\d+)$/.exec(ip);
  if (!m || Number(m[1]) < 40 || Number(m[1]) > 49) throw new ScopeError(`${ip} is outside the remote peers' addresses`);
}

/** Runs `probe` against (ip, port) through scanService: bounded socket, fingerprints and checks included. */
export async function scanRemote(
  probe: Probe,
  ip: string,
  port: number,
  opts: { profile?: Profile; probeOptions?: Record<string, unknown>; host?: ReturnType<typeof newHostState>; sendLog?: SendLog } = {},
): Promise<ServiceOutcome> {
  const cfg: ScanConfig = {
    probes: [probe],
    ports: [port],
    profile: opts.profile ?? 'safe',
    timeouts: { connectMs: 2000, readMs: 3000, sessionMs: 15000 },
    retries: 0,
    guard: remoteGuard,
    rate: null,
    hostConcurrency: 1,
    hostDelayMs: 0,
    dicomTls: false,
    probeOptions: opts.probeOptions ?? {},
    signal: new AbortController().signal,
    ...(opts.sendLog ? { sendLog: opts.sendLog } : {}),
  };
  return scanService({ ip }, port, cfg, opts.host ?? newHostState());
}
