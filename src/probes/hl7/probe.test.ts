/**
 * The hl7 probe end to end (scanService with cfg.probes = [hl7Probe]: engine, probe,
 * fingerprints) against the lab's HL7 nodes (src/lab/nodes/hl7.ts), started on their own block
 * 127.213.3.0/24, and against a silent listener and a closed port.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ScopeError } from '../../core/errors.js';
import type { Probe } from '../../core/probe.js';
import type { ServiceRecord } from '../../core/types.js';
import { type ScanConfig, newHostState, scanService } from '../../engine/scan-service.js';
import { HL7_LAB_CANARIES, type Hl7LabNode, NODES } from '../../lab/nodes/hl7.js';
import { blockScanConfig } from '../lab-harness.js';
import { HL7_LIMITS } from './parse.js';
import { hl7Probe } from './probe.js';
import { Hl7Observation } from './schema.js';

const BLOCK = '127.213.3.';
const READ_MS = 800;
const ipOf = (host: number) => `${BLOCK}${host}`;

interface Running {
  name: string;
  ip: string;
  port: number;
  node: Hl7LabNode;
  expected: Record<string, unknown>;
}

const running: Running[] = [];
let silent: net.Server;
const silentSockets = new Set<net.Socket>();
const SILENT = { ip: ipOf(40), port: 2575 };

function config(over: Partial<ScanConfig> = {}): ScanConfig {
  return blockScanConfig(BLOCK.slice(0, -1), [hl7Probe as Probe], { timeouts: { connectMs: 1000, readMs: READ_MS, sessionMs: 5000 }, ...over });
}

function node(name: string): Running {
  const r = running.find((x) => x.name === name);
  assert.ok(r, `lab node ${name} not started`);
  return r;
}

async function scan(name: string, over: Partial<ScanConfig> = {}): Promise<{ record: ServiceRecord; obs: Hl7Observation; ms: number }> {
  const n = node(name);
  const started = Date.now();
  const { record } = await scanService({ ip: n.ip }, n.port, config(over), newHostState());
  const ms = Date.now() - started;
  const obs = Hl7Observation.parse(record.data.hl7);
  return { record, obs, ms };
}

before(async () => {
  for (const spec of NODES) {
    const ip = ipOf(spec.hostOffset[1]);
    const node = (await spec.service!(ip, spec.port)) as Hl7LabNode;
    running.push({ name: spec.name, ip, port: spec.port, node, expected: spec.expected });
  }
  silent = net.createServer((s) => {
    silentSockets.add(s);
    s.on('error', () => {});
    s.on('close', () => silentSockets.delete(s));
  });
  await new Promise<void>((resolve) => silent.listen({ host: SILENT.ip, port: SILENT.port, exclusive: true }, resolve));
});

after(async () => {
  await Promise.all(running.map((r) => r.node.stop()));
  for (const s of silentSockets) s.destroy();
  await new Promise<void>((resolve) => silent.close(() => resolve()));
});

describe('hl7 probe against the lab', () => {
  test('hl7-mirth: ACK AA, identified as Mirth Connect from MSH-3 "MIRTH", one query received', async () => {
    const n = node('hl7-mirth');
    const sent: string[] = [];
    const { record, obs } = await scan('hl7-mirth', { sendLog: (e) => sent.push(e.what) });
    assert.equal(record.status, 'success');
    assert.equal(record.protocol, 'hl7');
    assert.equal(record.vendor, 'NextGen Healthcare');
    assert.equal(record.product, 'Mirth Connect');
    assert.equal(record.deviceType, 'interface-engine');
    assert.equal(obs.ackCode, 'AA');
    assert.equal(obs.ackControlIdMatches, true);
    assert.equal(obs.sendingApplication, 'MIRTH');
    assert.equal(obs.identityEchoed, false);
    assert.equal(obs.framing, 'mllp');
    assert.equal(obs.framingOk, true);
    assert.equal(obs.repliedToDebugMessage, true);
    assert.equal(obs.version, '2.5');
    assert.equal(obs.processingId, 'D');
    assert.equal(obs.messageType, 'ACK^A19^ACK');
    assert.match(obs.controlId ?? '', /^\d{14}$/, 'Mirth uses the timestamp as control id');
    assert.match(obs.replySha256 ?? '', /^[0-9a-f]{64}$/);
    assert.ok(obs.latencyMs !== null && obs.latencyMs < READ_MS);
    assert.deepEqual(obs.sent, { messageType: 'QRY^A19^QRY_A19', processingId: 'D', version: '2.5' });
    assert.equal(obs.tls, false);
    assert.equal(record.tls, undefined);
    // What went over the wire: one connection, one query (the send log names no patient value).
    assert.deepEqual(sent, ['TCP connect', 'HL7 QRY^A19 query (processing id D, random patient id)']);
    assert.equal(n.node.stats.messages, 1);
    assert.deepEqual(n.node.stats.messageTypes, ['QRY^A19']);
    assert.deepEqual(n.node.stats.processingIds, ['D']);
  });

  test('processing id T on request (options.hl7.processingId)', async () => {
    const n = node('hl7-mirth');
    const { obs } = await scan('hl7-mirth', { probeOptions: { hl7: { processingId: 'T' } } });
    assert.equal(obs.sent.processingId, 'T');
    assert.equal(obs.processingId, 'T');
    assert.equal(obs.repliedToDebugMessage, false);
    assert.equal(n.node.stats.processingIds.at(-1), 'T');
  });

  test('an MSH-3 that only repeats ours is not taken as the server identity', async () => {
    // We call ourselves MIRTH here: the reply's MSH-3 ("MIRTH") then equals our own MSH-3 and proves nothing about the server.
    const { obs } = await scan('hl7-mirth', { probeOptions: { hl7: { sendingApplication: 'MIRTH' } } });
    assert.equal(obs.sendingApplication, null);
    assert.equal(obs.identityEchoed, true);
  });

  test('hl7-reject: AR with ERR 202 at MSH-11 kept as codes; echoed canaries and PID never kept', async () => {
    const { record, obs } = await scan('hl7-reject');
    assert.equal(record.status, 'success');
    assert.equal(obs.ackCode, 'AR');
    assert.equal(obs.sendingApplication, 'LABGW');
    assert.equal(obs.sendingFacility, 'GENERAL-LAB');
    assert.deepEqual(obs.errors, [{ code: '202', severity: 'E', location: 'MSH-11', applicationCode: null }]);
    assert.equal(obs.pidSegments, 1);
    assert.deepEqual(obs.segmentIds, ['MSH', 'MSA', 'ERR', 'PID']);
    assert.equal(record.vendor, undefined);
    const out = JSON.stringify(record);
    const c = HL7_LAB_CANARIES;
    for (const v of [c.patientName, c.patientId, c.birthDate, ...c.patientName.split('^'), 'not processed', 'last patient']) {
      assert.ok(!out.includes(v), `${v} leaked into the record`);
    }
  });

  test('hl7-tls: the plain attempt is dropped without a byte, the retry over TLS succeeds', async () => {
    const n = node('hl7-tls');
    const before = n.node.stats.messages;
    const sent: string[] = [];
    const { record, obs } = await scan('hl7-tls', { sendLog: (e) => sent.push(e.what) });
    assert.equal(record.status, 'success');
    assert.equal(obs.tls, true);
    assert.equal(obs.ackCode, 'AA');
    assert.equal(obs.framingOk, true);
    assert.match(obs.controlId ?? '', /^\d+$/, 'HAPI style numeric control id');
    assert.ok(record.tls?.certificate);
    assert.match(record.tls.certificate.subject, /pacs-tls\.lab\.medsurface\.test/);
    assert.ok(record.tls.version?.startsWith('TLSv1.'));
    assert.deepEqual(sent, [
      'TCP connect',
      'HL7 QRY^A19 query (processing id D, random patient id)',
      'TCP connect + TLS ClientHello',
      'HL7 QRY^A19 query (processing id D, random patient id)',
    ]);
    assert.equal(n.node.stats.messages - before, 1, 'the plain-text query never reached the application');
  });

  test('hl7-tls with options.hl7.tls: TLS at once; without the fallback the plain attempt ends connection-closed', async () => {
    const direct = await scan('hl7-tls', { probeOptions: { hl7: { tls: true } } });
    assert.equal(direct.record.status, 'success');
    assert.equal(direct.obs.tls, true);
    const noRetry = await scan('hl7-tls', { probeOptions: { hl7: { tlsFallback: false } } });
    assert.equal(noRetry.record.status, 'connection-closed');
    assert.equal(noRetry.obs.replied, false);
    assert.equal(noRetry.obs.framing, 'none');
  });

  test('hostile endless block: protocol-error at the frame cap, in bounded time and memory', async () => {
    const rss0 = process.memoryUsage().rss;
    const { record, obs, ms } = await scan('hl7-hostile-endless');
    assert.equal(record.status, 'protocol-error');
    assert.match(record.error ?? '', /exceeds/);
    assert.equal(obs.framing, 'incomplete');
    assert.equal(obs.framingOk, false);
    assert.ok(ms < READ_MS + 1000, `took ${ms} ms`);
    assert.ok(process.memoryUsage().rss - rss0 < 32 * 1024 * 1024);
    assert.ok(HL7_LIMITS.frameBytes <= 64 * 1024);
  });

  test('hostile garbage: protocol-error, not HL7, nothing kept but a count', async () => {
    const { record, obs } = await scan('hl7-hostile-garbage');
    assert.equal(record.status, 'protocol-error');
    assert.equal(obs.framing, 'not-hl7');
    assert.equal(obs.replied, true);
    assert.ok(obs.replyBytes > 0 && obs.replyBytes <= 512);
    assert.match(obs.replySha256 ?? '', /^[0-9a-f]{64}$/);
    assert.equal(obs.ackCode, null);
    assert.equal(obs.sendingApplication, null);
  });

  test('hostile slow drip: io-timeout after one read timeout for the whole reply, partial observation kept', async () => {
    const { record, obs, ms } = await scan('hl7-hostile-slow-drip');
    assert.equal(record.status, 'io-timeout');
    assert.equal(obs.framing, 'incomplete');
    assert.ok(obs.replied);
    assert.ok(obs.replyBytes > 0 && obs.replyBytes < 10);
    assert.ok(ms >= READ_MS - 50 && ms < READ_MS + 1000, `took ${ms} ms`);
  });

  test('on a fragile host the TLS retry is not made (one connection)', async () => {
    const sent: string[] = [];
    const host = { ...newHostState(), fragile: true };
    const n = node('hl7-tls');
    const { record } = await scanService({ ip: n.ip }, n.port, config({ sendLog: (e) => sent.push(e.what) }), host);
    assert.equal(record.status, 'connection-closed');
    assert.equal(sent.filter((w) => w.startsWith('TCP connect')).length, 1);
  });

  test('every HL7 lab node closes on input that is not MLLP, without a byte (other probes see no hostile reply)', async () => {
    for (const r of running.filter((x) => x.name !== 'hl7-tls')) {
      const got = await new Promise<{ bytes: number; closed: boolean }>((resolve) => {
        const s = net.connect({ host: r.ip, port: r.port });
        let bytes = 0;
        const t = setTimeout(() => {
          s.destroy();
          resolve({ bytes, closed: false });
        }, 1500);
        s.on('connect', () => s.write('GET / HTTP/1.0\r\n\r\n'));
        s.on('data', (d: Buffer) => {
          bytes += d.length;
        });
        s.on('error', () => {});
        s.on('close', () => {
          clearTimeout(t);
          resolve({ bytes, closed: true });
        });
      });
      assert.deepEqual(got, { bytes: 0, closed: true }, r.name);
    }
  });

  test('peers that frame badly: unframed HL7, and an end block without CR followed by a close', async () => {
    const cases = [
      { host: 42, reply: 'MSH|^~\\&|RAWAPP||||2026||ACK^A19^ACK|7|D|2.3\rMSA|AA|X\r', framing: 'unframed' },
      { host: 43, reply: '\x0bMSH|^~\\&|NOCR||||2026||ACK|8|D|2.4\rMSA|AE|X\x1c', framing: 'mllp-no-cr' },
    ];
    for (const c of cases) {
      const sockets = new Set<net.Socket>();
      const server = net.createServer((s) => {
        sockets.add(s);
        s.on('error', () => {});
        s.once('data', () => (c.framing === 'mllp-no-cr' ? s.end(Buffer.from(c.reply, 'latin1')) : s.write(Buffer.from(c.reply, 'latin1'))));
      });
      await new Promise<void>((resolve) => server.listen({ host: ipOf(c.host), port: 2575, exclusive: true }, resolve));
      try {
        const { record } = await scanService({ ip: ipOf(c.host) }, 2575, config(), newHostState());
        const obs = Hl7Observation.parse(record.data.hl7);
        assert.equal(record.status, 'success', c.framing);
        assert.equal(obs.framing, c.framing);
        assert.equal(obs.framingOk, false);
        assert.ok(obs.ackCode === 'AA' || obs.ackCode === 'AE');
        assert.ok(obs.sendingApplication === 'RAWAPP' || obs.sendingApplication === 'NOCR');
        assert.equal(obs.ackControlIdMatches, false);
      } finally {
        for (const s of sockets) s.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    }
  });

  test('a listener that never answers: io-timeout, nothing replied', async () => {
    const { record } = await scanService(SILENT, SILENT.port, config(), newHostState());
    assert.equal(record.status, 'io-timeout');
    const obs = Hl7Observation.parse(record.data.hl7);
    assert.equal(obs.replied, false);
    assert.equal(obs.framing, 'none');
  });

  test('a closed port: connection-refused, no data', async () => {
    const { record } = await scanService({ ip: ipOf(41) }, 2575, config(), newHostState());
    assert.equal(record.status, 'connection-refused');
    assert.deepEqual(record.data, {});
  });

  test('the scope guard is applied: an address outside the scope is never connected', async () => {
    await assert.rejects(scanService({ ip: '127.214.3.10' }, 2575, config(), newHostState()), ScopeError);
  });

  test("every node's lab ground truth (expected) matches what the probe concludes", async () => {
    for (const r of running) {
      const { record } = await scanService({ ip: r.ip }, r.port, config(), newHostState());
      const obs = record.data.hl7 as Record<string, unknown>;
      for (const [field, want] of Object.entries(r.expected)) {
        const got =
          field === 'status'
            ? record.status
            : field === 'vendor'
              ? record.vendor
              : field === 'deviceType'
                ? record.deviceType
                : obs?.[field];
        assert.deepEqual(got, want, `${r.name}: ${field}`);
      }
    }
  });

  test('the observation schema rejects a field that could carry text beyond its bound', () => {
    const ok = Hl7Observation.safeParse({
      ...Hl7Observation.parse(JSON.parse(JSON.stringify(emptyish()))),
      sendingApplication: 'X'.repeat(HL7_LIMITS.identityChars + 1),
    });
    assert.equal(ok.success, false);
  });
});

function emptyish(): Hl7Observation {
  return {
    tls: false,
    sent: { messageType: 'QRY^A19^QRY_A19', processingId: 'D', version: '2.5' },
    replied: false,
    framing: 'none',
    framingOk: false,
    replyBytes: 0,
    replySha256: null,
    latencyMs: null,
    repliedToDebugMessage: false,
    ackCode: null,
    ackControlIdMatches: null,
    sendingApplication: null,
    sendingFacility: null,
    identityEchoed: false,
    delimiters: null,
    messageType: null,
    controlId: null,
    processingId: null,
    version: null,
    errors: [],
    queryStatus: null,
    segmentIds: [],
    segmentCount: 0,
    pidSegments: 0,
  };
}
