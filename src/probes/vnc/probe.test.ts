/**
 * The VNC probe end to end (scanService: bounded socket, probe, fingerprints) against the lab's
 * VNC nodes (src/lab/nodes/remote.ts) and a few hostile one-off servers.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { ScopeError } from '../../core/errors.js';
import type { Probe } from '../../core/probe.js';
import type { ServiceRecord } from '../../core/types.js';
import { type ScanConfig, newHostState, scanService } from '../../engine/scan-service.js';
import type { LabNodeSpec } from '../../lab/layout.js';
import { NODES } from '../../lab/nodes/remote.js';
import { vncProbe } from './probe.js';
import { VncObservation } from './schema.js';

const PREFIX = '127.236';
const stops: (() => Promise<void>)[] = [];
after(async () => {
  await Promise.all(stops.map((s) => s()));
});

function cfg(probe: Probe, readMs = 800): ScanConfig {
  return {
    probes: [probe],
    ports: [],
    profile: 'safe',
    timeouts: { connectMs: 800, readMs, sessionMs: 4000 },
    retries: 0,
    guard: (ip) => {
      if (!ip.startsWith(`${PREFIX}.`)) throw new ScopeError(`${ip} out of test scope`);
    },
    rate: null,
    hostConcurrency: 1,
    hostDelayMs: 0,
    dicomTls: false,
    probeOptions: {},
    signal: new AbortController().signal,
  };
}

const running = new Map<string, { spec: LabNodeSpec; ip: string }>();
/** Starts a lab node of the remote family on this file's block (once per file). */
async function startNode(name: string): Promise<{ spec: LabNodeSpec; ip: string }> {
  const known = running.get(name);
  if (known) return known;
  const spec = NODES.find((n) => n.name === name);
  assert.ok(spec?.service, `lab node ${name}`);
  const ip = `${PREFIX}.${spec.hostOffset[0]}.${spec.hostOffset[1]}`;
  const h = await spec.service(ip, spec.port);
  stops.push(() => h.stop());
  running.set(name, { spec, ip });
  return { spec, ip };
}

/** Every expectation of the node's ground truth that the record does not meet. */
function unmet(spec: LabNodeSpec, rec: ServiceRecord, probe: string): string[] {
  const out: string[] = [];
  for (const [k, want] of Object.entries(spec.expected)) {
    if (want === undefined || k === 'findings') continue;
    const obs = rec.data[probe] as Record<string, unknown> | undefined;
    const got = k === 'status' ? rec.status : k === 'vendor' ? rec.vendor : k === 'deviceType' ? rec.deviceType : obs?.[k];
    if (!isDeepStrictEqual(got, want)) out.push(`${k}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
  }
  return out;
}

/** A one-off server: `onConn` gets each socket and the bytes the client sent so far. */
async function oneOff(ip: string, port: number, onConn: (s: net.Socket, received: Buffer[]) => void): Promise<{ received: Buffer[][] }> {
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
}

describe('vnc probe against the lab VNC nodes', () => {
  for (const name of ['vnc-open', 'vnc-password', 'vnc-realvnc', 'vnc-locked', 'vnc-drip']) {
    test(`${name}: meets the lab ground truth`, async () => {
      const { spec, ip } = await startNode(name);
      const started = Date.now();
      const { record } = await scanService({ ip }, spec.port, cfg(vncProbe), newHostState());
      assert.deepEqual(unmet(spec, record, 'vnc'), [], JSON.stringify(record));
      // A drip restarts the per-read timer; the session deadline (4 s here) bounds it.
      assert.ok(Date.now() - started < 4500, `bounded by the session deadline: took ${Date.now() - started} ms`);
      if (record.status === 'success') {
        assert.equal(record.protocol, 'vnc');
        VncObservation.parse(record.data.vnc);
      }
    });
  }

  test('vnc-open: None offered, type names, version 3.8 negotiated', async () => {
    const { spec, ip } = await startNode('vnc-open');
    const { record } = await scanService({ ip }, spec.port, cfg(vncProbe), newHostState());
    const obs = record.data.vnc as VncObservation;
    assert.deepEqual(obs.securityTypes, [1]);
    assert.deepEqual(obs.securityTypeNames, ['none']);
    assert.equal(obs.negotiated, '3.8');
    assert.equal(obs.outcome, 'security-types');
  });

  test('vnc-locked: a 3.3 server gets a 3.3 answer, and its refusal reason is kept', async () => {
    const { spec, ip } = await startNode('vnc-locked');
    const { record } = await scanService({ ip }, spec.port, cfg(vncProbe), newHostState());
    const obs = record.data.vnc as VncObservation;
    assert.equal(obs.negotiated, '3.3');
    assert.equal(obs.authRequired, null);
    assert.deepEqual(obs.securityTypes, []);
  });
});

describe('vnc probe: what it sends, and hostile servers', () => {
  test('sends exactly one 12-byte ProtocolVersion and nothing else: never a security type choice', async () => {
    const ip = `${PREFIX}.6.200`;
    const srv = await oneOff(ip, 5900, (s) => {
      s.write('RFB 003.008\n');
      s.once('data', () => s.write(Buffer.from([2, 1, 2])));
    });
    const { record } = await scanService({ ip }, 5900, cfg(vncProbe), newHostState());
    assert.equal(record.status, 'success');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(Buffer.concat(srv.received[0]!).toString('latin1'), 'RFB 003.008\n');
    assert.equal((record.data.vnc as VncObservation).noneOffered, true);
  });

  test('a 4 GiB failure reason is refused at the cap, nothing allocated, protocol-error with the version kept', async () => {
    const ip = `${PREFIX}.6.201`;
    await oneOff(ip, 5900, (s) => {
      s.write('RFB 003.008\n');
      s.once('data', () => s.write(Buffer.from([0, 0xff, 0xff, 0xff, 0xff, 0x41])));
    });
    const { record } = await scanService({ ip }, 5900, cfg(vncProbe), newHostState());
    assert.equal(record.status, 'protocol-error');
    assert.match(record.error ?? '', /cap/);
    assert.equal((record.data.vnc as VncObservation).version, 'RFB 003.008');
  });

  test('a server that hangs up after its version is still VNC (version-only)', async () => {
    const ip = `${PREFIX}.6.202`;
    await oneOff(ip, 5900, (s) => {
      s.write('RFB 003.007\n');
      s.once('data', () => s.end());
    });
    const { record } = await scanService({ ip }, 5900, cfg(vncProbe), newHostState());
    assert.equal(record.status, 'success');
    assert.equal((record.data.vnc as VncObservation).outcome, 'version-only');
    assert.equal((record.data.vnc as VncObservation).negotiated, '3.7');
  });

  test('garbage and other protocols are protocol errors; silence is an io-timeout', async () => {
    const ip = `${PREFIX}.6.203`;
    await oneOff(ip, 5900, (s) => s.write(Buffer.from('SSH-2.0-OpenSSH_9.2p1 Debian\r\n')));
    const garbage = await scanService({ ip }, 5900, cfg(vncProbe), newHostState());
    assert.equal(garbage.record.status, 'protocol-error');
    assert.equal(garbage.record.data.vnc, undefined);
    const ip2 = `${PREFIX}.6.204`;
    await oneOff(ip2, 5900, () => {});
    const silent = await scanService({ ip: ip2 }, 5900, cfg(vncProbe, 300), newHostState());
    assert.equal(silent.record.status, 'io-timeout');
  });

  test('a flood after the version hits the session byte cap, not memory', async () => {
    const ip = `${PREFIX}.6.205`;
    await oneOff(ip, 5900, (s) => {
      s.write('RFB 003.008\n');
      s.once('data', () => {
        // 255 types announced, then far more bytes than any handshake needs.
        s.write(Buffer.alloc(256 * 1024, 0xff));
      });
    });
    const { record } = await scanService({ ip }, 5900, cfg(vncProbe), newHostState());
    // 255 types are read (a legal list), the rest is never buffered past the session cap.
    assert.ok(record.status === 'success' || record.status === 'protocol-error', record.status);
  });

  test('fingerprints: RFB 005.000 is RealVNC; plain 003.008 is only a remote-access door', async () => {
    const { spec, ip } = await startNode('vnc-realvnc');
    const real = await scanService({ ip }, spec.port, cfg(vncProbe), newHostState());
    assert.equal(real.record.vendor, 'RealVNC');
    assert.deepEqual(real.identification.rules, ['realvnc-5-rfb']);
    const open = await startNode('vnc-password');
    const plain = await scanService({ ip: open.ip }, open.spec.port, cfg(vncProbe), newHostState());
    assert.equal(plain.record.vendor, undefined);
    assert.equal(plain.record.deviceType, 'remote-access');
  });
});
