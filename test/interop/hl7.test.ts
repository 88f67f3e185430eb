/**
 * The hl7 probe against a real third-party HL7 v2 / MLLP server: node-hl7-server 2.5.0 (npm,
 * node-hl7-client 2.3.1 parses the message and builds the ACK), started in this process on its
 * own loopback addresses (127.0.0.31-34, never 127.0.0.1; hl7-peer.ts pins the listener, which
 * would otherwise listen on every interface). Each peer answers with a fixed MSA-1.
 *
 * The scan runs through scanService with cfg.probes = [hl7Probe]: engine, probe, fingerprints.
 * Describe names start with "node-hl7-server:" so .ci/run counts them for that peer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ScopeError } from '../../src/core/errors.js';
import type { Probe } from '../../src/core/probe.js';
import type { ServiceRecord } from '../../src/core/types.js';
import { type ScanConfig, newHostState, scanService } from '../../src/engine/scan-service.js';
import { hl7Probe } from '../../src/probes/hl7/probe.js';
import { Hl7Observation } from '../../src/probes/hl7/schema.js';
import { type Hl7Peer, labTlsMaterial, startNodeHl7Server } from './hl7-peer.js';

/** HL7 message codes that write (admit, results, orders, scheduling, documents, charges, pharmacy...). */
const WRITE_TYPES = ['ADT', 'ORU', 'ORM', 'OML', 'OMG', 'ORL', 'SIU', 'MDM', 'DFT', 'BAR', 'RDE', 'RDS', 'RAS', 'VXU', 'MFN', 'PPR'];

function config(over: Partial<ScanConfig> = {}): ScanConfig {
  return {
    probes: [hl7Probe as Probe],
    ports: [],
    profile: 'safe',
    timeouts: { connectMs: 2000, readMs: 3000, sessionMs: 10000 },
    retries: 0,
    guard: (ip) => {
      if (!/^127\.0\.0\.3\d$/.test(ip)) throw new ScopeError(`${ip} is outside the interop scope 127.0.0.30-39`);
    },
    rate: null,
    hostConcurrency: 1,
    hostDelayMs: 0,
    dicomTls: false,
    probeOptions: {},
    signal: AbortSignal.timeout(60_000),
    ...over,
  };
}

async function scan(peer: Hl7Peer, over: Partial<ScanConfig> = {}): Promise<{ record: ServiceRecord; obs: Hl7Observation }> {
  const { record } = await scanService({ ip: peer.ip }, peer.port, config(over), newHostState());
  assert.ok(record.data.hl7, `no data.hl7 in ${JSON.stringify(record)}`);
  return { record, obs: Hl7Observation.parse(record.data.hl7) };
}

function assertOneQuery(peer: Hl7Peer): void {
  assert.equal(peer.received.length, 1, `node-hl7-server received ${peer.received.length} messages`);
  const m = peer.received[0]!;
  assert.equal(m.messageCode, 'QRY');
  assert.equal(m.triggerEvent, 'A19');
  assert.equal(m.processingId, 'D');
  assert.ok(!WRITE_TYPES.includes(m.messageCode), `${m.messageCode} is a write-type message`);
  assert.equal(peer.stats().totalMessage, 1, 'node-hl7-server parsed exactly one message');
}

const peers: Hl7Peer[] = [];
const peer = (name: string) => {
  const p = peers.find((x) => x.name === name);
  assert.ok(p, `peer ${name} not started`);
  return p;
};

before(async () => {
  peers.push(await startNodeHl7Server({ name: 'aa', ip: '127.0.0.31', port: 2575, ack: 'AA' }));
  peers.push(await startNodeHl7Server({ name: 'ar', ip: '127.0.0.32', port: 2575, ack: 'AR' }));
  peers.push(await startNodeHl7Server({ name: 'ae', ip: '127.0.0.33', port: 7777, ack: 'AE' }));
  peers.push(await startNodeHl7Server({ name: 'tls', ip: '127.0.0.34', port: 6661, ack: 'AA', tls: labTlsMaterial() }));
});

after(async () => {
  await Promise.all(peers.map((p) => p.close()));
});

describe('node-hl7-server: plain MLLP, ACK AA (127.0.0.31:2575)', () => {
  let record: ServiceRecord;
  let obs: Hl7Observation;
  before(async () => {
    peer('aa').reset();
    ({ record, obs } = await scan(peer('aa')));
  });

  test('node-hl7-server: answered our query with a well-framed ACK AA naming our control id', () => {
    assert.equal(record.status, 'success');
    assert.equal(record.protocol, 'hl7');
    assert.equal(obs.framing, 'mllp');
    assert.equal(obs.framingOk, true);
    assert.equal(obs.ackCode, 'AA');
    assert.equal(obs.ackControlIdMatches, true);
    assert.equal(obs.repliedToDebugMessage, true);
    assert.equal(obs.messageType, 'ACK^A19^ACK_A19');
    assert.equal(obs.delimiters, '|^~\\&');
    assert.deepEqual(obs.segmentIds, ['MSH', 'MSA']);
    assert.deepEqual(obs.errors, []);
    assert.equal(obs.tls, false);
  });

  test('node-hl7-server: version and processing id follow our message (MSH-12 2.5, MSH-11 D)', () => {
    assert.equal(obs.version, '2.5');
    assert.equal(obs.processingId, 'D');
  });

  test('node-hl7-server: identity fields: MSH-3/4 empty (our MSH-5/6 were), MSH-10 "ACK" names node-hl7-server', () => {
    assert.equal(obs.sendingApplication, null);
    assert.equal(obs.sendingFacility, null);
    assert.equal(obs.identityEchoed, false);
    assert.equal(obs.controlId, 'ACK');
    assert.equal(record.vendor, 'node-hl7-server');
    assert.equal(record.product, 'node-hl7-server');
    assert.equal(record.deviceType, undefined);
  });

  test('node-hl7-server: received exactly one message, a QRY^A19 query with processing id D (not a write-type message)', () => {
    assertOneQuery(peer('aa'));
  });
});

describe('node-hl7-server: negative acknowledgments (AR on 127.0.0.32:2575, AE on 127.0.0.33:7777)', () => {
  test('node-hl7-server: AR is reported as the ack code, the service still identified', async () => {
    peer('ar').reset();
    const { record, obs } = await scan(peer('ar'));
    assert.equal(record.status, 'success');
    assert.equal(obs.ackCode, 'AR');
    assert.equal(obs.version, '2.5');
    assert.equal(record.vendor, 'node-hl7-server');
    assertOneQuery(peer('ar'));
  });

  test('node-hl7-server: AE on another default port (7777)', async () => {
    peer('ae').reset();
    const { record, obs } = await scan(peer('ae'));
    assert.equal(record.status, 'success');
    assert.equal(obs.ackCode, 'AE');
    assert.equal(obs.ackControlIdMatches, true);
    assertOneQuery(peer('ae'));
  });
});

describe('node-hl7-server: MLLP over TLS (127.0.0.34:6661, lab certificate)', () => {
  test('node-hl7-server: found by the TLS retry after the plain attempt is dropped; the application saw one message', async () => {
    peer('tls').reset();
    const { record, obs } = await scan(peer('tls'));
    assert.equal(record.status, 'success');
    assert.equal(obs.tls, true);
    assert.equal(obs.ackCode, 'AA');
    assert.equal(obs.version, '2.5');
    assert.equal(record.vendor, 'node-hl7-server');
    assert.ok(record.tls?.certificate, 'TLS certificate recorded');
    assert.match(record.tls.certificate.subject, /pacs-tls\.lab\.medsurface\.test/);
    assert.equal(record.tls.certificate.selfSigned, true);
    assertOneQuery(peer('tls'));
  });

  test('node-hl7-server: with options.hl7.tls the probe speaks TLS at once', async () => {
    peer('tls').reset();
    const sent: string[] = [];
    const { record, obs } = await scan(peer('tls'), { probeOptions: { hl7: { tls: true } }, sendLog: (e) => sent.push(e.what) });
    assert.equal(record.status, 'success');
    assert.equal(obs.tls, true);
    assert.deepEqual(sent, ['TCP connect + TLS ClientHello', 'HL7 QRY^A19 query (processing id D, random patient id)']);
    assertOneQuery(peer('tls'));
  });
});
