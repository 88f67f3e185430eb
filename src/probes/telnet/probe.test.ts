/**
 * The telnet probe end to end (scanService: bounded socket, probe, fingerprints) against the lab's
 * telnet nodes (src/lab/nodes/remote.ts) and a few hostile one-off servers.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ServiceRecord } from '../../core/types.js';
import { newHostState, scanService } from '../../engine/scan-service.js';
import { probeHarness } from '../lab-harness.js';
import { NODES } from '../../lab/nodes/remote.js';
import { telnetProbe } from './probe.js';
import { TelnetObservation } from './schema.js';

const PREFIX = '127.237';
const { cfg, startNode, unmet, oneOff } = probeHarness(PREFIX, NODES);

const obsOf = (r: ServiceRecord): TelnetObservation => TelnetObservation.parse(r.data.telnet);
const IAC = 255;

describe('telnet probe against the lab telnet nodes', () => {
  for (const name of ['telnet-busybox-shell', 'telnet-login', 'telnet-cisco', 'telnet-endless']) {
    test(`${name}: meets the lab ground truth`, async () => {
      const { spec, ip } = await startNode(name);
      const started = Date.now();
      const { record } = await scanService({ ip }, spec.port, cfg(telnetProbe), newHostState());
      assert.deepEqual(unmet(spec, record, 'telnet'), [], JSON.stringify(record));
      assert.equal(record.protocol, 'telnet');
      obsOf(record);
      assert.ok(Date.now() - started < 4000);
    });
  }

  test('telnet-busybox-shell: a root shell with no login is seen as a shell prompt, and BusyBox is named', async () => {
    const { spec, ip } = await startNode('telnet-busybox-shell');
    const { record, identification } = await scanService({ ip }, spec.port, cfg(telnetProbe), newHostState());
    const obs = obsOf(record);
    assert.equal(obs.end, 'prompt');
    assert.equal(obs.negotiation, 'DO 1 DO 33 WILL 1 WILL 3');
    assert.equal(obs.refusedOptions, 4);
    assert.equal(record.version, '1.22.1');
    assert.deepEqual(identification.rules, ['busybox-telnetd-shell']);
  });

  test('telnet-endless: stops at the banner cap at once, keeps 512 printable characters', async () => {
    const { spec, ip } = await startNode('telnet-endless');
    const started = Date.now();
    const { record } = await scanService({ ip }, spec.port, cfg(telnetProbe), newHostState());
    const obs = obsOf(record);
    assert.equal(obs.end, 'banner-cap');
    assert.equal(obs.banner.length, 512);
    assert.ok(obs.bytesRead <= 16 * 1024);
    assert.ok(Date.now() - started < 1500, `took ${Date.now() - started} ms`);
  });
});

describe('telnet probe: what it sends, and peers that are not telnet', () => {
  test('sends only WONT/DONT refusals, never a byte of text (no user name, no newline)', async () => {
    const ip = `${PREFIX}.6.200`;
    const srv = await oneOff(ip, 23, (s) => {
      s.write(Buffer.from([IAC, 253, 24, IAC, 251, 1, IAC, 253, 31]));
      setTimeout(() => s.write('\r\nhost login: '), 30);
    });
    const { record } = await scanService({ ip }, 23, cfg(telnetProbe), newHostState());
    assert.equal(record.status, 'success');
    await new Promise((r) => setTimeout(r, 100));
    const sent = Buffer.concat(srv.received[0]!);
    assert.deepEqual([...sent], [IAC, 252, 24, IAC, 254, 1, IAC, 252, 31]);
  });

  test('on a port telnet does not claim: silence ends quickly, and a banner without negotiation is kept as a protocol-error', async () => {
    const ip = `${PREFIX}.6.201`;
    await oneOff(ip, 2424, () => {});
    const silent = await scanService({ ip }, 2424, cfg(telnetProbe, 5000), newHostState());
    assert.equal(silent.record.status, 'io-timeout');
    const ip2 = `${PREFIX}.6.202`;
    await oneOff(ip2, 2424, (s) => s.write('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n'));
    const ssh = await scanService({ ip: ip2 }, 2424, cfg(telnetProbe), newHostState());
    assert.equal(ssh.record.status, 'protocol-error');
    assert.equal(ssh.record.protocol, null);
    assert.equal(obsOf(ssh.record).banner, 'SSH-2.0-OpenSSH_9.2p1 Debian-2');
    // The same text on port 23 is a telnet banner (a service that prints and waits).
    const ip3 = `${PREFIX}.6.203`;
    await oneOff(ip3, 23, (s) => s.write('Welcome to the imaging console\r\n'));
    const plain = await scanService({ ip: ip3 }, 23, cfg(telnetProbe), newHostState());
    assert.equal(plain.record.status, 'success');
    assert.equal(obsOf(plain.record).end, 'idle');
  });

  test('binary garbage is not a banner', async () => {
    const ip = `${PREFIX}.6.204`;
    await oneOff(ip, 23, (s) => {
      const junk = Buffer.alloc(400);
      for (let i = 0; i < junk.length; i++) junk[i] = 0x80 + ((i * 37) % 0x7e);
      s.write(junk);
    });
    const { record } = await scanService({ ip }, 23, cfg(telnetProbe), newHostState());
    assert.equal(record.status, 'protocol-error');
  });

  test('an endless subnegotiation and an endless option flood are cut off (caps), not followed', async () => {
    const ip = `${PREFIX}.6.205`;
    await oneOff(ip, 23, (s) => {
      s.write(Buffer.from([IAC, 250, 24]));
      s.write(Buffer.alloc(4096, 0x61));
    });
    const sb = await scanService({ ip }, 23, cfg(telnetProbe), newHostState());
    assert.equal(sb.record.status, 'protocol-error');
    assert.match(sb.record.error ?? '', /subnegotiation/);
    const ip2 = `${PREFIX}.6.206`;
    const flood = await oneOff(ip2, 23, (s) => {
      const cmds: number[] = [];
      for (let i = 0; i < 20_000; i++) cmds.push(IAC, 253, i % 256);
      s.write(Buffer.from(cmds));
    });
    const f = await scanService({ ip: ip2 }, 23, cfg(telnetProbe), newHostState());
    assert.equal(f.record.status, 'success');
    assert.equal(obsOf(f.record).end, 'byte-cap');
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(Buffer.concat(flood.received[0]!).length <= 64 * 3, 'at most 64 refusals sent');
  });

  test('a slow drip ends by our own deadline, with what came so far', async () => {
    const ip = `${PREFIX}.6.207`;
    await oneOff(ip, 23, (s) => {
      const text = Buffer.from('Welcome to a very slow console ... and it goes on and on');
      let i = 0;
      const t = setInterval(() => {
        if (s.destroyed || i >= text.length) return clearInterval(t);
        s.write(text.subarray(i, ++i));
      }, 100);
      s.on('close', () => clearInterval(t));
    });
    const started = Date.now();
    const { record } = await scanService({ ip }, 23, cfg(telnetProbe, 500), newHostState());
    const took = Date.now() - started;
    assert.equal(record.status, 'success');
    assert.ok(took < 4000, `took ${took} ms`);
    assert.ok(obsOf(record).banner.startsWith('Welcome'));
  });
});
