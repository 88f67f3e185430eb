/**
 * The RDP probe end to end (scanService: bounded socket, probe, fingerprints) against the lab's
 * RDP nodes (src/lab/nodes/remote.ts) and a few hostile one-off servers.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ServiceRecord } from '../../core/types.js';
import { newHostState, scanService } from '../../engine/scan-service.js';
import { probeHarness } from '../lab-harness.js';
import { NODES } from '../../lab/nodes/remote.js';
import { rdpProbe } from './probe.js';
import { RdpObservation } from './schema.js';

const PREFIX = '127.239';
const { cfg, startNode, unmet, oneOff } = probeHarness(PREFIX, NODES);

const obsOf = (r: ServiceRecord): RdpObservation => RdpObservation.parse(r.data.rdp);

/** A Connection Confirm with an RDP_NEG_RSP (MS-RDPBCGR §2.2.1.2.1). */
function negRsp(flags: number, selected: number): Buffer {
  const b = Buffer.from([3, 0, 0, 19, 14, 0xd0, 0, 0, 0x12, 0x34, 0, 2, flags, 8, 0, 0, 0, 0, 0]);
  b.writeUInt32LE(selected, 15);
  return b;
}

describe('rdp probe against the lab RDP nodes', () => {
  for (const name of ['rdp-nla', 'rdp-tls', 'rdp-legacy', 'rdp-garbage']) {
    test(`${name}: meets the lab ground truth`, async () => {
      const { spec, ip } = await startNode(name);
      const { record } = await scanService({ ip }, spec.port, cfg(rdpProbe), newHostState());
      assert.deepEqual(unmet(spec, record, 'rdp'), [], JSON.stringify(record));
      if (record.status === 'success') assert.equal(record.protocol, 'rdp');
    });
  }

  test('rdp-nla: CredSSP chosen, standard RDP refused with HYBRID_REQUIRED_BY_SERVER: two requests, NLA required', async () => {
    const { spec, ip } = await startNode('rdp-nla');
    const { record } = await scanService({ ip }, spec.port, cfg(rdpProbe), newHostState());
    const obs = obsOf(record);
    assert.equal(obs.selectedProtocolName, 'hybrid-ex');
    assert.equal(obs.signature, 'neg-rsp flags=0x1f selected=hybrid-ex');
    assert.deepEqual(
      obs.attempts.map((a) => [a.requested, a.outcome, a.failureCode]),
      [
        [0x0b, 'response', null],
        [0x00, 'failure', 5],
      ],
    );
    assert.equal(obs.nlaSupported, true);
    assert.equal(obs.tlsSupported, true);
  });

  test('rdp-tls: the third request (TLS only) shows NLA is not required', async () => {
    const { spec, ip } = await startNode('rdp-tls');
    const { record } = await scanService({ ip }, spec.port, cfg(rdpProbe), newHostState());
    assert.deepEqual(
      obsOf(record).attempts.map((a) => [a.requested, a.outcome, a.selectedProtocol ?? a.failureCode]),
      [
        [0x0b, 'response', 8],
        [0x00, 'failure', 1],
        [0x01, 'response', 1],
      ],
    );
  });

  test('rdp-legacy: a server without negotiation is standard RDP security only, one request', async () => {
    const { spec, ip } = await startNode('rdp-legacy');
    const { record } = await scanService({ ip }, spec.port, cfg(rdpProbe), newHostState());
    const obs = obsOf(record);
    assert.equal(obs.signature, 'no-neg');
    assert.equal(obs.tlsSupported, false);
    assert.equal(obs.attempts.length, 1);
  });
});

describe('rdp probe: what it sends, fragile hosts, hostile servers', () => {
  test('each connection carries exactly one 19-byte Connection Request and is closed after the reply', async () => {
    const ip = `${PREFIX}.6.200`;
    const srv = await oneOff(ip, 3389, (s) => s.once('data', () => s.write(negRsp(0x1f, 2))));
    const { record } = await scanService({ ip }, 3389, cfg(rdpProbe), newHostState());
    assert.equal(record.status, 'success');
    await new Promise((r) => setTimeout(r, 100));
    // 0x0b, then RDP only, then SSL only (the server answers HYBRID to all: NLA offered, requirement unknown).
    assert.deepEqual(
      srv.received.map((chunks) => Buffer.concat(chunks).toString('hex')),
      ['030000130ee00000000000010008000b000000', '030000130ee000000000000100080000000000', '030000130ee000000000000100080001000000'],
    );
    assert.equal(obsOf(record).nlaRequired, null);
  });

  test('a fragile host (an imaging modality) gets one request only', async () => {
    const ip = `${PREFIX}.6.201`;
    const srv = await oneOff(ip, 3389, (s) => s.once('data', () => s.write(negRsp(0x1f, 2))));
    const host = { ...newHostState(), fragile: true };
    const { record } = await scanService({ ip }, 3389, cfg(rdpProbe), host);
    assert.equal(record.status, 'success');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(srv.received.length, 1);
  });

  test('a TPKT length over the cap, a non-TPKT reply and silence end in a status word', async () => {
    const ip = `${PREFIX}.6.202`;
    await oneOff(ip, 3389, (s) => s.once('data', () => s.write(Buffer.from([3, 0, 0xff, 0xff, 0, 0, 0]))));
    const big = await scanService({ ip }, 3389, cfg(rdpProbe), newHostState());
    assert.equal(big.record.status, 'protocol-error');
    assert.match(big.record.error ?? '', /cap/);
    const ip2 = `${PREFIX}.6.203`;
    await oneOff(ip2, 3389, (s) => s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\n\r\n')));
    const http = await scanService({ ip: ip2 }, 3389, cfg(rdpProbe), newHostState());
    assert.equal(http.record.status, 'protocol-error');
    const ip3 = `${PREFIX}.6.204`;
    await oneOff(ip3, 3389, () => {});
    const silent = await scanService({ ip: ip3 }, 3389, cfg(rdpProbe, 300), newHostState());
    assert.equal(silent.record.status, 'io-timeout');
  });

  test('fingerprints: flags 0x1f is Microsoft Remote Desktop Services; others are only remote-access', async () => {
    const { spec, ip } = await startNode('rdp-nla');
    const ms = await scanService({ ip }, spec.port, cfg(rdpProbe), newHostState());
    assert.equal(ms.record.product, 'Remote Desktop Services');
    const legacy = await startNode('rdp-legacy');
    const old = await scanService({ ip: legacy.ip }, legacy.spec.port, cfg(rdpProbe), newHostState());
    assert.equal(old.record.vendor, undefined);
    assert.equal(old.record.deviceType, 'remote-access');
  });
});
