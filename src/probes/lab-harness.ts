/**
 * Shared set-up of the probe tests that run one probe end to end (scanService: bounded socket,
 * probe, fingerprints) against lab nodes and one-off hostile servers on the test file's own
 * loopback block. Test support only: it registers an `after` hook that stops what it started.
 */
import net from 'node:net';
import { after } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { ScopeError } from '../core/errors.js';
import type { Probe } from '../core/probe.js';
import type { Profile, ServiceRecord } from '../core/types.js';
import type { ScanConfig } from '../engine/scan-service.js';
import type { LabNodeSpec } from '../lab/layout.js';

export interface ProbeHarness {
  /** A one-probe scan configuration whose guard refuses anything outside the block. */
  cfg(probe: Probe, readMs?: number, profile?: Profile): ScanConfig;
  /** Starts a lab node of `nodes` on the block (once per file). */
  startNode(name: string): Promise<{ spec: LabNodeSpec; ip: string }>;
  /** Every expectation of the node's ground truth that the record does not meet. */
  unmet(spec: LabNodeSpec, rec: ServiceRecord, probe: string): string[];
  /** A one-off server: `onConn` gets each socket and the bytes the client sent so far. */
  oneOff(ip: string, port: number, onConn: (s: net.Socket, received: Buffer[]) => void): Promise<{ received: Buffer[][] }>;
}

/**
 * A scan configuration for a test on its own loopback block: no retries, no rate, one host at
 * a time, and a guard that refuses every address outside `prefix.` (`127.239` or `127.213.3`).
 * `over` replaces any field (profile, timeouts, sendLog, ...).
 */
export function blockScanConfig(prefix: string, probes: ScanConfig['probes'], over: Partial<ScanConfig> = {}): ScanConfig {
  return {
    probes,
    ports: [],
    profile: 'safe',
    timeouts: { connectMs: 1000, readMs: 3000, sessionMs: 10_000 },
    retries: 0,
    guard: (ip) => {
      if (!ip.startsWith(`${prefix}.`)) throw new ScopeError(`${ip} is outside the test block ${prefix}`);
    },
    rate: null,
    hostConcurrency: 1,
    hostDelayMs: 0,
    dicomTls: false,
    probeOptions: {},
    signal: new AbortController().signal,
    ...over,
  };
}

/** `prefix` is the test file's block (`127.239`: addresses 127.239.x.y); `nodes` its lab family. */
export function probeHarness(prefix: string, nodes: readonly LabNodeSpec[]): ProbeHarness {
  const stops: (() => Promise<void>)[] = [];
  after(async () => {
    await Promise.all(stops.map((s) => s()));
  });
  const running = new Map<string, { spec: LabNodeSpec; ip: string }>();
  return {
    cfg(probe, readMs = 800, profile = 'safe') {
      return blockScanConfig(prefix, [probe], { profile, timeouts: { connectMs: 800, readMs, sessionMs: 4000 } });
    },
    async startNode(name) {
      const known = running.get(name);
      if (known) return known;
      const spec = nodes.find((n) => n.name === name);
      if (!spec?.service) throw new Error(`no lab node ${name} with a service`);
      const ip = `${prefix}.${spec.hostOffset[0]}.${spec.hostOffset[1]}`;
      const h = await spec.service(ip, spec.port);
      stops.push(() => h.stop());
      running.set(name, { spec, ip });
      return { spec, ip };
    },
    unmet(spec, rec, probe) {
      const out: string[] = [];
      for (const [k, want] of Object.entries(spec.expected)) {
        if (want === undefined || k === 'findings') continue;
        const obs = rec.data[probe] as Record<string, unknown> | undefined;
        const got = k === 'status' ? rec.status : k === 'vendor' ? rec.vendor : k === 'deviceType' ? rec.deviceType : obs?.[k];
        if (!isDeepStrictEqual(got, want)) out.push(`${k}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
      }
      return out;
    },
    async oneOff(ip, port, onConn) {
      const received: Buffer[][] = [];
      const sockets = new Set<net.Socket>();
      const server = net.createServer((s) => {
        sockets.add(s);
        const got: Buffer[] = [];
        received.push(got);
        s.on('data', (d: Buffer) => got.push(d));
        s.on('error', () => {});
        s.on('close', () => sockets.delete(s));
        onConn(s, got);
      });
      await new Promise<void>((r) => server.listen(port, ip, () => r()));
      stops.push(
        () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      );
      return { received };
    },
  };
}
