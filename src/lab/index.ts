/**
 * The lab: a simulated hospital network on loopback, for demos, tests and benchmarks.
 *
 * `startLab()` starts the default layout (layout.ts): PACS with different AE policies and
 * fingerprints, a modality, DICOM over TLS with a good and a weak certificate, hostile peers
 * and tarpits, each on its own address of 127.77.0.0/16 on Linux (127.0.0.1 with distinct
 * ports elsewhere). `startBenchLab()` starts N identical, fast DICOM endpoints (in a worker
 * thread of this process by default), one per address of 127.65.0.0/16, for throughput
 * benchmarks.
 */
import { existsSync, readFileSync } from 'node:fs';
import type tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { moduleWorker } from '../core/worker.js';
import { UsageError } from '../core/errors.js';
import { DicomScpNode, type NodeStats, STATS_KEYS, ScpProfile, addStats, newStats, sharedStats } from './dicom-scp.js';
import { benchProfile } from './bench-profile.js';
import type { BenchWorkerData } from './bench-worker.js';
import { type LabListener, createHostile } from './hostile.js';
import {
  DEFAULT_BENCH_BLOCK,
  DEFAULT_LAB_BLOCK,
  DEFAULT_LAYOUT,
  UNPRIVILEGED_PORT_OFFSET,
  canBindPort,
  type LabDicomSpec,
  type LabNodeSpec,
  type PlacedNode,
  hasLoopbackBlock,
  placeBench,
  placeLayout,
} from './layout.js';
import { LabStartError } from './listen.js';
import { recordSet } from './records.js';
import { startTarpit } from './tarpit.js';

export type { NodeStats } from './dicom-scp.js';
export { DicomScpNode, ScpProfile, newStats, addStats } from './dicom-scp.js';
export type { ScpConfig, WriteShaping } from './dicom-scp.js';
export { createHostile, type LabListener } from './hostile.js';
export { startTarpit, type Tarpit, TarpitError } from './tarpit.js';
export { LabStartError } from './listen.js';
export {
  DEFAULT_LAYOUT,
  DEFAULT_LAB_BLOCK,
  DEFAULT_BENCH_BLOCK,
  HOSTILE_MODES,
  placeLayout,
  placeBench,
  hasLoopbackBlock,
  canBindPort,
  UNPRIVILEGED_PORT_OFFSET,
  type LabNodeSpec,
  type LabNodeKind,
  type LabExpectation,
  type HostileMode,
  type PlacedNode,
} from './layout.js';
export { recordSet, findRecords, labUid, type LabRecord } from './records.js';
export {
  LabClient,
  LabClientError,
  STANDARD_CONTEXTS,
  associate,
  collectFind,
  readMessage,
  release,
  sendCancel,
  sendEcho,
  sendFind,
  type AssociateOutcome,
  type DimseAnswer,
} from './lab-client.js';

export interface LabNodeInfo {
  name: string;
  ip: string;
  port: number;
  kind: string;
  role: string;
  description: string;
  /** DICOM over TLS on this port. */
  tls: boolean;
  expected: Record<string, unknown>;
}

export interface RunningLab {
  nodes: LabNodeInfo[];
  /** Counters per node name (one node when `name` is given; unknown names give an empty record). */
  stats(name?: string): Record<string, NodeStats>;
  /** All nodes' counters added up. */
  totals(): NodeStats;
  stop(): Promise<void>;
  /** The address block in use (`127.0.0.1/32` on the non-Linux fallback). */
  block: string;
}

interface Running {
  info: LabNodeInfo;
  stats: NodeStats;
  stop(): Promise<void>;
}

/** Directory of the lab's test certificates (also found from a build under dist/). */
function certDir(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const candidates = [`${here}certs/`, `${here}../../src/lab/certs/`, `${here}../../../src/lab/certs/`];
  for (const c of candidates) if (existsSync(`${c}pacs-tls.cert.pem`)) return c;
  throw new LabStartError(`lab TLS certificates not found (looked in ${candidates.join(', ')})`);
}

function tlsOptions(spec: NonNullable<LabNodeSpec['tls']>): tls.TlsOptions {
  const dir = certDir();
  const base = {
    key: readFileSync(`${dir}${spec.cert}.key.pem`),
    cert: readFileSync(`${dir}${spec.cert}.cert.pem`),
  };
  if (!spec.weak) return { ...base, minVersion: 'TLSv1.2' };
  // The weak node: old protocol versions and an RSA 1024 / SHA-1 certificate need OpenSSL's security level 0.
  // Like the old devices it stands for, it speaks nothing newer than TLS 1.1.
  return { ...base, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' };
}

function profileOf(spec: LabDicomSpec): ScpProfile {
  return new ScpProfile({
    aeTitle: spec.aeTitle,
    calledAes: spec.calledAes,
    ...(spec.callingAes !== undefined ? { callingAes: spec.callingAes } : {}),
    ...(spec.callingAePolicy !== undefined ? { callingAePolicy: spec.callingAePolicy } : {}),
    abstractSyntaxes: spec.abstractSyntaxes,
    implementationClassUid: spec.implementationClassUid,
    implementationVersionName: spec.implementationVersionName ?? null,
    maxPduLength: spec.maxPduLength,
    ...(spec.announcedMaxPduLength !== undefined ? { announcedMaxPduLength: spec.announcedMaxPduLength } : {}),
    records: recordSet(spec.records),
  });
}

function infoOf(n: PlacedNode): LabNodeInfo {
  return {
    name: n.name,
    ip: n.ip,
    port: n.port,
    kind: n.kind === 'hostile' ? `hostile:${n.hostile}` : n.kind,
    role: n.role,
    description: n.description,
    tls: n.kind === 'dicom-tls' || Boolean(n.serviceTls),
    expected: { ...n.expected },
  };
}

async function startNode(n: PlacedNode): Promise<Running> {
  const info = infoOf(n);
  if (n.kind === 'tarpit') {
    const t = await startTarpit(n.ip, n.port);
    return { info, stats: newStats(), stop: () => t.stop() };
  }
  if (n.kind === 'service') {
    if (!n.service) throw new LabStartError(`lab node ${n.name} has no service factory`);
    const h = await n.service(n.ip, n.port);
    return { info, stats: newStats(), stop: () => h.stop() };
  }
  let listener: LabListener;
  if (n.kind === 'hostile') {
    listener = createHostile(n.hostile!, n.name, n.ip, n.port);
  } else {
    if (!n.dicom) throw new LabStartError(`lab node ${n.name} has no DICOM configuration`);
    listener = new DicomScpNode({
      name: n.name,
      ip: n.ip,
      port: n.port,
      profile: profileOf(n.dicom),
      ...(n.kind === 'dicom-tls' && n.tls ? { tls: tlsOptions(n.tls) } : {}),
    });
  }
  await listener.start();
  return { info, stats: listener.stats, stop: () => listener.stop() };
}

/** Starts every node (in parallel); if one fails, stops the others and throws a LabStartError naming each failure. */
async function startAll(starters: (() => Promise<Running>)[], concurrency: number): Promise<Running[]> {
  const started: Running[] = new Array(starters.length);
  const errors: unknown[] = [];
  let next = 0;
  const worker = async () => {
    while (next < starters.length && errors.length === 0) {
      const i = next++;
      try {
        started[i] = await starters[i]!();
      } catch (err) {
        errors.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, starters.length) }, worker));
  if (errors.length > 0) {
    await Promise.all(started.filter(Boolean).map((r) => r.stop()));
    const first = errors[0];
    const msg = errors.map((e) => (e instanceof Error ? e.message : String(e))).join('; ');
    throw new LabStartError(`lab did not start: ${msg}`, { cause: first });
  }
  return started;
}

function runningLab(block: string, running: Running[]): RunningLab {
  const byName = new Map(running.map((r) => [r.info.name, r]));
  let stopping: Promise<void> | null = null;
  return {
    block,
    nodes: running.map((r) => r.info),
    stats(name?: string) {
      const out: Record<string, NodeStats> = {};
      if (name !== undefined) {
        const r = byName.get(name);
        if (r) out[name] = { ...r.stats };
        return out;
      }
      for (const r of running) out[r.info.name] = { ...r.stats };
      return out;
    },
    totals() {
      const t = newStats();
      for (const r of running) addStats(t, r.stats);
      return t;
    },
    stop() {
      stopping ??= Promise.all(running.map((r) => r.stop())).then(() => undefined);
      return stopping;
    },
  };
}

/**
 * Starts the default lab. `block` (default 127.77.0.0/16, Linux only) must lie in
 * 127.0.0.0/8 and hold the layout's offsets (a /20 or larger); `only` starts the named
 * nodes only. Rejects with a LabStartError naming the node, address and port that failed.
 */
export async function startLab(opts: { block?: string; only?: string[]; quiet?: boolean } = {}): Promise<RunningLab> {
  const placed = placeLayout({ block: opts.block ?? DEFAULT_LAB_BLOCK });
  let nodes = placed.nodes;
  if (opts.only !== undefined) {
    const known = new Set(nodes.map((n) => n.name));
    const unknown = opts.only.filter((n) => !known.has(n));
    if (unknown.length > 0) {
      throw new UsageError(`unknown lab node(s): ${unknown.join(', ')} (known: ${[...known].join(', ')})`);
    }
    const wanted = new Set(opts.only);
    nodes = nodes.filter((n) => wanted.has(n.name));
  }
  if (!opts.quiet && !hasLoopbackBlock()) {
    process.stderr.write(
      `lab: ${process.platform} does not route 127.0.0.0/8 to loopback; every node listens on 127.0.0.1 with its own port\n`,
    );
  } else if (!opts.quiet && !canBindPort(104)) {
    process.stderr.write(
      `lab: this process may not bind ports below 1024 (not root, no CAP_NET_BIND_SERVICE): those nodes listen on port + ${UNPRIVILEGED_PORT_OFFSET} (104 -> ${104 + UNPRIVILEGED_PORT_OFFSET})\n`,
    );
  }
  const running = await startAll(
    nodes.map((n) => () => startNode(n)),
    16,
  );
  return runningLab(placed.block, running);
}

/** Listen backlog of each bench endpoint: bursts of connects to one address must not overflow it. */
const BENCH_BACKLOG = 1024;

function benchInfo(ip: string, port: number): LabNodeInfo {
  return {
    name: `bench-${ip}:${port}`,
    ip,
    port,
    kind: 'dicom',
    role: 'bench',
    description: 'bench DICOM endpoint (permissive, Verification and Q/R FIND)',
    tls: false,
    expected: { anyAeAccepted: true, status: 'success', vendor: 'dcm4che' },
  };
}

function benchWorker(data: BenchWorkerData): Worker {
  return moduleWorker(import.meta.url, 'bench-worker', data);
}

async function startBenchThread(block: string, endpoints: { ip: string; port: number }[]): Promise<RunningLab> {
  const shared = new SharedArrayBuffer(endpoints.length * STATS_KEYS.length * Float64Array.BYTES_PER_ELEMENT);
  const cells = new Float64Array(shared);
  const worker = benchWorker({ endpoints, stats: shared, backlog: BENCH_BACKLOG });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const onMessage = (m: { type?: string; message?: string }) => {
      if (m?.type === 'ready') {
        worker.off('error', onError);
        worker.off('message', onMessage);
        resolve();
      } else if (m?.type === 'error') {
        worker.off('error', onError);
        worker.off('message', onMessage);
        void exited.then(() => reject(new LabStartError(`bench lab did not start: ${m.message ?? 'unknown error'}`)));
      }
    };
    const onError = (err: Error) => {
      worker.off('message', onMessage);
      void worker.terminate().then(() => reject(new LabStartError(`bench lab worker failed: ${err.message}`, { cause: err })));
    };
    worker.on('message', onMessage);
    worker.once('error', onError);
  });
  worker.on('error', () => {
    /* after start, a crash shows as stopped endpoints; stop() still resolves through 'exit' */
  });
  const running: Running[] = endpoints.map(({ ip, port }, i) => ({
    info: benchInfo(ip, port),
    stats: sharedStats(cells, i),
    stop: () => Promise.resolve(),
  }));
  const lab = runningLab(block, running);
  let stopping: Promise<void> | null = null;
  lab.stop = () => {
    stopping ??= (async () => {
      worker.postMessage({ type: 'stop' });
      const timer = setTimeout(() => void worker.terminate(), 10_000);
      await exited;
      clearTimeout(timer);
    })();
    return stopping;
  };
  return lab;
}

/**
 * Starts `count` live DICOM endpoints, one per address of `block` (default 127.65.0.0/16;
 * host parts .0 and .255 skipped), all on `port` (default 104), sharing one profile and its
 * caches. By default they run in a worker thread (`thread: false` keeps them on this event
 * loop), so that the scanner under test and the lab each have a core. Non-Linux: 127.0.0.1
 * with consecutive ports.
 */
export async function startBenchLab(opts: { count: number; block?: string; port?: number; thread?: boolean }): Promise<RunningLab> {
  const placed = placeBench({
    count: opts.count,
    block: opts.block ?? DEFAULT_BENCH_BLOCK,
    ...(opts.port !== undefined ? { port: opts.port } : {}),
  });
  if (opts.thread !== false) return startBenchThread(placed.block, placed.endpoints);
  const profile = benchProfile();
  const running = await startAll(
    placed.endpoints.map(({ ip, port }) => async () => {
      const node = new DicomScpNode({ name: `bench-${ip}:${port}`, ip, port, profile });
      await node.start(BENCH_BACKLOG);
      return { info: benchInfo(ip, port), stats: node.stats, stop: () => node.stop() };
    }),
    64,
  );
  return runningLab(placed.block, running);
}

/** The default layout's node names, for `--only` help texts. */
export function labNodeNames(): string[] {
  return DEFAULT_LAYOUT.map((n) => n.name);
}
