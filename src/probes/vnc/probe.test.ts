/**
 * The VNC probe end to end (scanService: bounded socket, probe, fingerprints) against the lab's
 * VNC nodes (src/lab/nodes/remote.ts) and a few hostile one-off servers.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { newHostState, scanService } from '../../engine/scan-service.js';
import { probeHarness } from '../lab-harness.js';
import { NODES } from '../../lab/nodes/remote.js';
import { vncProbe } from './probe.js';
import { VncObservation } from './schema.js';

const PREFIX = '127.236';
const { cfg, startNode, unmet, oneOff } = probeHarness(PREFIX, NODES);

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
