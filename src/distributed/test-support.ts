/**
 * Test support for distributed mode (not used by the product): a private Redis server the test
 * can kill and restart empty (the machine's shared Redis must never be restarted), worker
 * processes started from source, key cleanup by prefix, and an inventory snapshot as sorted
 * records for comparing two inventories (surrogate ids, run ids and times left out).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { openKyselyInventory } from '../inventory/index.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, '../..');
const REDIS_SERVER = '/usr/bin/redis-server';

/** A free TCP port on `host` (bound, then released). */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForRedis(url: string, timeoutMs: number): Promise<void> {
  const started = Date.now();
  for (;;) {
    const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
    c.on('error', () => {});
    try {
      await c.connect();
      if ((await c.ping()) === 'PONG') return;
    } catch {
      /* not up yet */
    } finally {
      c.disconnect();
    }
    if (Date.now() - started > timeoutMs) throw new Error(`redis at ${url} did not come up within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface OwnRedis {
  url: string;
  /** SIGKILL: the data is gone (no persistence). */
  kill(): Promise<void>;
  /** Starts it again, empty, on the same address and port. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A Redis server of the test's own on `host` (a 127.0.0.x address), without persistence. */
export async function startOwnRedis(host: string): Promise<OwnRedis> {
  const port = await freePort(host);
  const url = `redis://${host}:${port}`;
  let proc: ChildProcess | null = null;
  const start = async () => {
    const p = spawn(REDIS_SERVER, ['--port', String(port), '--bind', host, '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    proc = p;
    const failed = new Promise<never>((_, reject) => {
      p.once('error', (err) => reject(new Error(`cannot start ${REDIS_SERVER}: ${err.message}`)));
      p.once('exit', (code) => reject(new Error(`redis-server exited with ${code} before it was ready`)));
    });
    failed.catch(() => {});
    await Promise.race([waitForRedis(url, 15_000), failed]);
  };
  const kill = async () => {
    const p = proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
    proc = null;
  };
  await start();
  return { url, kill, start, stop: kill };
}

/** Deletes every key under `prefix:` on a Redis (the shared one included: only our own keys). */
export async function deleteKeys(url: string, prefix: string): Promise<number> {
  const c = new Redis(url, { maxRetriesPerRequest: 1 });
  c.on('error', () => {});
  let n = 0;
  try {
    let cursor = '0';
    do {
      const [next, found] = await c.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (found.length > 0) n += await c.del(...found);
    } while (cursor !== '0');
  } finally {
    c.disconnect();
  }
  return n;
}

export interface WorkerProcess {
  proc: ChildProcess;
  name: string;
  /** Everything it wrote to stderr so far. */
  log(): string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

/** Starts `medsurface worker` from source in a child process. */
export function spawnWorker(args: string[], opts: { name: string; env?: NodeJS.ProcessEnv }): WorkerProcess {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(HERE, 'worker-entry.ts'), 'worker', '--name', opts.name, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let text = '';
  proc.stderr!.on('data', (c: Buffer) => {
    text += c.toString();
    if (text.length > 1_000_000) text = text.slice(-500_000);
  });
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  return { proc, name: opts.name, log: () => text, exited };
}

/** Stops a worker process: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopWorker(w: WorkerProcess, graceMs = 15_000): Promise<void> {
  if (w.proc.exitCode !== null || w.proc.signalCode !== null) return;
  w.proc.kill('SIGTERM');
  const t = setTimeout(() => w.proc.kill('SIGKILL'), graceMs);
  await w.exited;
  clearTimeout(t);
}

const parse = (s: string | null): unknown => (s === null ? null : JSON.parse(s));

/**
 * The DICOM probe's first called AE title is random on purpose (DESIGN.md), and findings quote
 * it as evidence: such a title (MS + 14 upper-case hex digits) is replaced by a placeholder.
 */
function withoutRandomAe(v: unknown): unknown {
  if (typeof v === 'string') return /^MS[0-9A-F]{14}$/.test(v) ? '<random-ae>' : v;
  if (Array.isArray(v)) return v.map(withoutRandomAe);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, withoutRandomAe(x)]));
  return v;
}

/**
 * An inventory as sorted text lines, one per asset, service, finding and observation, with the
 * fields that say what was found; ids, run ids and times are left out. Also counts that expose
 * duplicates (events per finding, observations per service).
 */
export async function inventorySnapshot(dbUrl: string): Promise<{ lines: string[]; counts: Record<string, number> }> {
  const inv = await openKyselyInventory(dbUrl);
  try {
    const db = inv.db;
    const lines: string[] = [];
    for (const a of await db.selectFrom('assets').selectAll().execute()) {
      const evidence = (parse(a.evidence) as string[]).slice().sort();
      lines.push(
        `asset ${JSON.stringify({ ip: a.ip, hostname: a.hostname, vendor: a.vendor, product: a.product, deviceType: a.device_type, evidence, risk: a.risk, honeypot: a.honeypot, honeypotEvidence: parse(a.honeypot_evidence), country: a.country, asn: a.asn, org: a.org })}`,
      );
    }
    for (const s of await db.selectFrom('services').selectAll().execute()) {
      lines.push(
        `service ${JSON.stringify({ ip: s.ip, port: s.port, transport: s.transport, protocol: s.protocol, status: s.status, product: s.product, vendor: s.vendor, version: s.version, cpe: s.cpe, deviceType: s.device_type, tls: parse(s.tls), risk: s.risk })}`,
      );
    }
    const findings = await db
      .selectFrom('findings')
      .innerJoin('services', 'services.id', 'findings.service_id')
      .select(['services.ip', 'services.port', 'findings.check_id', 'findings.severity', 'findings.title', 'findings.confidence', 'findings.state', 'findings.user_state', 'findings.evidence'])
      .execute();
    for (const f of findings) {
      lines.push(
        `finding ${JSON.stringify({ ip: f.ip, port: f.port, id: f.check_id, severity: f.severity, title: f.title, confidence: f.confidence, state: f.state, userState: f.user_state, evidence: withoutRandomAe(parse(f.evidence)) })}`,
      );
    }
    const obs = await db
      .selectFrom('observations')
      .innerJoin('services', 'services.id', 'observations.service_id')
      .select(['services.ip', 'services.port', 'observations.status', 'observations.protocol', 'observations.checks_run', 'observations.identity'])
      .execute();
    for (const o of obs) {
      const checksRun = (parse(o.checks_run) as string[]).slice().sort();
      lines.push(`observation ${JSON.stringify({ ip: o.ip, port: o.port, status: o.status, protocol: o.protocol, checksRun, identity: parse(o.identity) })}`);
    }
    lines.sort();
    const count = async (table: 'assets' | 'services' | 'findings' | 'observations' | 'service_events' | 'scan_runs') =>
      Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    const opened = await db
      .selectFrom('finding_events')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('event', '=', 'opened')
      .executeTakeFirstOrThrow();
    const dupObs = await db
      .selectFrom('observations')
      .select(['run_id', 'service_id'])
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .groupBy(['run_id', 'service_id'])
      .having((eb) => eb.fn.countAll(), '>', 1)
      .execute();
    return {
      lines,
      counts: {
        assets: await count('assets'),
        services: await count('services'),
        findings: await count('findings'),
        observations: await count('observations'),
        serviceEvents: await count('service_events'),
        openedEvents: Number(opened.n),
        duplicateObservations: dupObs.length,
      },
    };
  } finally {
    await inv.close();
  }
}

/** Lines only in `a` (prefixed `-`) and only in `b` (`+`); empty when equal. */
export function snapshotDiff(a: string[], b: string[]): string[] {
  const inB = new Set(b);
  const inA = new Set(a);
  return [...a.filter((l) => !inB.has(l)).map((l) => `- ${l}`), ...b.filter((l) => !inA.has(l)).map((l) => `+ ${l}`)];
}
