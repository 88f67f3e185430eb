/**
 * The FTP probe end to end (scanService: bounded socket, probe, fingerprints) against the lab's
 * FTP nodes (src/lab/nodes/remote.ts) and a few hostile one-off servers.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ServiceRecord } from '../../core/types.js';
import { newHostState, scanService } from '../../engine/scan-service.js';
import { probeHarness } from '../lab-harness.js';
import { FTP_COMMAND_LOG, NODES } from '../../lab/nodes/remote.js';
import { ftpProbe } from './probe.js';
import { FtpObservation } from './schema.js';

const PREFIX = '127.238';
const { cfg, startNode, unmet, oneOff } = probeHarness(PREFIX, NODES);

const obsOf = (r: ServiceRecord): FtpObservation => FtpObservation.parse(r.data.ftp);
/** The only verbs the probe may ever send (DESIGN.md: never LIST, RETR, STOR or anything that changes state). */
const ALLOWED = new Set(['FEAT', 'SYST', 'AUTH', 'USER', 'PASS', 'QUIT']);

describe('ftp probe against the lab FTP nodes (safe profile)', () => {
  for (const name of ['ftp-iis-anon', 'ftp-proftpd', 'ftp-pureftpd', 'ftp-endless']) {
    test(`${name}: meets the lab ground truth`, async () => {
      const { spec, ip } = await startNode(name);
      const started = Date.now();
      const { record } = await scanService({ ip }, spec.port, cfg(ftpProbe), newHostState());
      assert.deepEqual(unmet(spec, record, 'ftp'), [], JSON.stringify(record));
      if (record.status === 'success') {
        assert.equal(record.protocol, 'ftp');
        // The safe profile never tries a login.
        assert.equal(obsOf(record).anonymous, null);
      }
      assert.ok(Date.now() - started < 4000);
    });
  }

  test('ftp-iis-anon: greeting, FEAT with AUTH TLS, SYST, QUIT; nothing else was sent', async () => {
    const { spec, ip } = await startNode('ftp-iis-anon');
    FTP_COMMAND_LOG.delete(`${ip}:${spec.port}`);
    const { record } = await scanService({ ip }, spec.port, cfg(ftpProbe), newHostState());
    const obs = obsOf(record);
    assert.equal(obs.banner, '220 Microsoft FTP Service');
    assert.equal(obs.authTlsSource, 'feat');
    assert.equal(obs.syst, 'Windows_NT');
    assert.equal(obs.quit, true);
    assert.deepEqual(FTP_COMMAND_LOG.get(`${ip}:${spec.port}`), ['FEAT', 'SYST', 'QUIT']);
  });

  test('ftp-pureftpd: multi-line greeting kept whole; FEAT unknown, so AUTH TLS asked; 234 closes without TLS', async () => {
    const { spec, ip } = await startNode('ftp-pureftpd');
    FTP_COMMAND_LOG.delete(`${ip}:${spec.port}`);
    const { record } = await scanService({ ip }, spec.port, cfg(ftpProbe), newHostState());
    const obs = obsOf(record);
    assert.equal(obs.banner.split('\n').length, 5);
    assert.equal(obs.featCode, 500);
    assert.equal(obs.features, null);
    assert.equal(obs.quit, false);
    assert.deepEqual(FTP_COMMAND_LOG.get(`${ip}:${spec.port}`), ['FEAT', 'SYST', 'AUTH']);
  });

  test('ftp-endless: an endless multi-line greeting is refused after 64 lines', async () => {
    const { spec, ip } = await startNode('ftp-endless');
    const { record } = await scanService({ ip }, spec.port, cfg(ftpProbe), newHostState());
    assert.equal(record.status, 'protocol-error');
    assert.match(record.error ?? '', /64 lines/);
  });
});

describe('ftp probe: the intrusive anonymous login', () => {
  test('ftp-iis-anon: accepted (331 then 230), then QUIT; never a listing or a transfer', async () => {
    const { spec, ip } = await startNode('ftp-iis-anon');
    const key = `${ip}:${spec.port}`;
    FTP_COMMAND_LOG.delete(key);
    const host = newHostState();
    const { record } = await scanService({ ip }, spec.port, cfg(ftpProbe, 800, 'intrusive'), host);
    assert.deepEqual(obsOf(record).anonymous, { accepted: true, userCode: 331, passCode: 230 });
    assert.deepEqual(FTP_COMMAND_LOG.get(key), ['FEAT', 'SYST', 'USER', 'PASS', 'QUIT']);
    assert.equal(host.guessBudget, 11, 'one attempt taken from the host budget');
  });

  test('ftp-proftpd: refused (530)', async () => {
    const { spec, ip } = await startNode('ftp-proftpd');
    const { record } = await scanService({ ip }, spec.port, cfg(ftpProbe, 800, 'intrusive'), newHostState());
    assert.deepEqual(obsOf(record).anonymous, { accepted: false, userCode: 331, passCode: 530 });
  });

  test('ftp-pureftpd: after AUTH TLS got 234, the login runs on a fresh connection, refused at USER', async () => {
    const { spec, ip } = await startNode('ftp-pureftpd');
    const key = `${ip}:${spec.port}`;
    FTP_COMMAND_LOG.delete(key);
    const { record } = await scanService({ ip }, spec.port, cfg(ftpProbe, 800, 'intrusive'), newHostState());
    assert.deepEqual(obsOf(record).anonymous, { accepted: false, userCode: 530, passCode: null });
    assert.deepEqual(FTP_COMMAND_LOG.get(key), ['FEAT', 'SYST', 'AUTH', 'USER', 'QUIT']);
  });

  test('no login on a fragile host or without budget; the configured contact is the password', async () => {
    const { spec, ip } = await startNode('ftp-iis-anon');
    const key = `${ip}:${spec.port}`;
    const fragile = { ...newHostState(), fragile: true };
    FTP_COMMAND_LOG.delete(key);
    const a = await scanService({ ip }, spec.port, cfg(ftpProbe, 800, 'intrusive'), fragile);
    assert.equal(obsOf(a.record).anonymous, null);
    const broke = { ...newHostState(), guessBudget: 0 };
    const b = await scanService({ ip }, spec.port, cfg(ftpProbe, 800, 'intrusive'), broke);
    assert.equal(obsOf(b.record).anonymous, null);
    assert.ok(!FTP_COMMAND_LOG.get(key)?.some((v) => v === 'USER' || v === 'PASS'));
  });

  test('every verb any scan sent to any FTP node is read-only', () => {
    const all = [...FTP_COMMAND_LOG.values()].flat();
    assert.ok(all.length > 0);
    for (const v of all) assert.ok(ALLOWED.has(v), `sent ${v}`);
  });
});

describe('ftp probe: peers that are not FTP, and what is sent as the password', () => {
  test('an SSH banner on port 21 is a protocol-error that keeps the first line', async () => {
    const ip = `${PREFIX}.6.200`;
    await oneOff(ip, 21, (s) => s.write('SSH-2.0-OpenSSH_9.2p1\r\n'));
    const { record } = await scanService({ ip }, 21, cfg(ftpProbe), newHostState());
    assert.equal(record.status, 'protocol-error');
    assert.equal(obsOf(record).banner, 'SSH-2.0-OpenSSH_9.2p1');
    assert.equal(obsOf(record).bannerCode, null);
  });

  test('a line without an end is refused at the line cap, a silent peer times out', async () => {
    const ip = `${PREFIX}.6.201`;
    await oneOff(ip, 21, (s) => s.write(`220 ${'x'.repeat(5000)}`));
    const long = await scanService({ ip }, 21, cfg(ftpProbe), newHostState());
    assert.equal(long.record.status, 'protocol-error');
    const ip2 = `${PREFIX}.6.202`;
    await oneOff(ip2, 21, () => {});
    const silent = await scanService({ ip: ip2 }, 21, cfg(ftpProbe, 300), newHostState());
    assert.equal(silent.record.status, 'io-timeout');
  });

  test('421 greeting: an FTP server that will not talk now, recorded, no commands but QUIT', async () => {
    const ip = `${PREFIX}.6.203`;
    const srv = await oneOff(ip, 21, (s) => {
      s.write('421 Too many connections (8) from this IP\r\n');
      s.once('data', () => s.end('221 Bye\r\n'));
    });
    const { record } = await scanService({ ip }, 21, cfg(ftpProbe), newHostState());
    assert.equal(record.status, 'success');
    assert.equal(obsOf(record).bannerCode, 421);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(Buffer.concat(srv.received[0]!).toString(), 'QUIT\r\n');
  });

  test('the anonymous password is our contact (configurable), never anything else', async () => {
    const ip = `${PREFIX}.6.204`;
    const srv = await oneOff(ip, 21, (s) => {
      s.write('220 ready\r\n');
      let buf = '';
      s.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        for (;;) {
          const i = buf.indexOf('\r\n');
          if (i === -1) break;
          const line = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const verb = line.split(' ')[0];
          s.write(verb === 'USER' ? '331 pw\r\n' : verb === 'PASS' ? '230 ok\r\n' : verb === 'QUIT' ? '221 bye\r\n' : '502 no\r\n');
        }
      });
    });
    const c = cfg(ftpProbe, 800, 'intrusive');
    c.probeOptions = { ftp: { contact: 'security@hospital.example' } };
    const { record } = await scanService({ ip }, 21, c, newHostState());
    assert.equal(obsOf(record).anonymous?.accepted, true);
    await new Promise((r) => setTimeout(r, 50));
    const sent = Buffer.concat(srv.received[0]!).toString('latin1');
    assert.equal(sent, 'FEAT\r\nSYST\r\nAUTH TLS\r\nUSER anonymous\r\nPASS security@hospital.example\r\nQUIT\r\n');
  });
});
