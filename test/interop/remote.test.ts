/**
 * The remote-access probes (ftp, vnc, telnet, rdp) against real Debian servers on loopback
 * (remote-peers.ts): vsftpd with and without anonymous access, x11vnc and TigerVNC with and
 * without a password, GNU inetutils telnetd, and xrdp with each security layer. Each probe runs
 * through scanService (bounded socket, fingerprints, checks), as the CLI runs it.
 *
 * Describe names start with the peer name and ':' (scripts/count-interop.ts counts per peer). A
 * missing server binary fails the suite in before(): nothing is skipped.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ServiceRecord } from '../../src/core/types.js';
import { FtpObservation } from '../../src/probes/ftp/schema.js';
import { ftpProbe } from '../../src/probes/ftp/probe.js';
import { RdpObservation } from '../../src/probes/rdp/schema.js';
import { rdpProbe } from '../../src/probes/rdp/probe.js';
import { TelnetObservation } from '../../src/probes/telnet/schema.js';
import { telnetProbe } from '../../src/probes/telnet/probe.js';
import { VncObservation } from '../../src/probes/vnc/schema.js';
import { vncProbe } from '../../src/probes/vnc/probe.js';
import { listenersOn, processGroupAlive } from './peers.js';
import { REMOTE_PEER_DEFS, type RemotePeer, scanRemote, startRemotePeers, stopRemotePeers } from './remote-peers.js';

let peers: RemotePeer[] = [];
const peer = (name: string): RemotePeer => {
  const p = peers.find((x) => x.name === name);
  assert.ok(p, `peer ${name} started`);
  return p;
};
const IPS = REMOTE_PEER_DEFS.map((d) => d.ip);

before(async () => {
  peers = await startRemotePeers();
});

after(async () => {
  const pids = peers.flatMap((p) => p.pids);
  await stopRemotePeers(peers);
  // Nothing we started may outlive the suite: no listener on the peer addresses, no process group.
  assert.deepEqual(await listenersOn(IPS), []);
  for (const pid of pids) assert.equal(processGroupAlive(pid), false, `process group ${pid} still alive`);
});

const ftpOf = (r: ServiceRecord) => FtpObservation.parse(r.data.ftp);
const vncOf = (r: ServiceRecord) => VncObservation.parse(r.data.vnc);
const telnetOf = (r: ServiceRecord) => TelnetObservation.parse(r.data.telnet);
const rdpOf = (r: ServiceRecord) => RdpObservation.parse(r.data.rdp);

/** What the probe sent, from the engine's send log (the device-safety log of DESIGN.md). */
function sendLog(): { log: string[]; fn: (e: { what: string }) => void } {
  const log: string[] = [];
  return { log, fn: (e) => log.push(e.what) };
}

describe('harness: remote peers', () => {
  test('each peer listens on its own loopback address only', async () => {
    const listeners = await listenersOn(IPS);
    for (const p of peers) {
      assert.ok(
        listeners.some((l) => l.ip === p.ip && l.port === p.port),
        `${p.name} listens on ${p.ip}:${p.port}`,
      );
    }
    for (const l of listeners) assert.ok(IPS.includes(l.ip));
  });
});

describe('vsftpd-anon: vsftpd with anonymous access, no TLS', () => {
  test('vsftpd-anon: safe profile: identified from its greeting, no TLS, no login tried', async () => {
    const p = peer('vsftpd-anon');
    const s = sendLog();
    const { record } = await scanRemote(ftpProbe, p.ip, p.port, { sendLog: s.fn });
    assert.equal(record.status, 'success');
    assert.equal(record.protocol, 'ftp');
    assert.equal(record.vendor, 'vsftpd');
    assert.equal(record.product, 'vsftpd');
    assert.equal(record.version, p.version);
    assert.equal(record.deviceType, 'remote-access');
    const obs = ftpOf(record);
    assert.equal(obs.banner, `220 (vsFTPd ${p.version})`);
    assert.equal(obs.featCode, 211);
    assert.equal(obs.authTls, false);
    assert.equal(obs.anonymous, null);
    assert.equal(obs.quit, true);
    assert.deepEqual(
      s.log.filter((w) => !w.startsWith('TCP')),
      ['FEAT', 'SYST', 'QUIT'],
    );
  });

  test('vsftpd-anon: intrusive profile: anonymous login accepted (331, 230), then QUIT, nothing else', async () => {
    const p = peer('vsftpd-anon');
    const s = sendLog();
    const { record } = await scanRemote(ftpProbe, p.ip, p.port, { profile: 'intrusive', sendLog: s.fn });
    assert.deepEqual(ftpOf(record).anonymous, { accepted: true, userCode: 331, passCode: 230 });
    assert.deepEqual(
      s.log.filter((w) => !w.startsWith('TCP')),
      ['FEAT', 'SYST', 'USER anonymous', 'PASS <contact>', 'QUIT'],
    );
  });
});

describe('vsftpd-closed: vsftpd without anonymous access, with AUTH TLS', () => {
  test('vsftpd-closed: safe profile: AUTH TLS offered in FEAT (RFC 4217)', async () => {
    const p = peer('vsftpd-closed');
    const { record } = await scanRemote(ftpProbe, p.ip, p.port);
    assert.equal(record.status, 'success');
    assert.equal(record.version, p.version);
    const obs = ftpOf(record);
    assert.equal(obs.authTls, true);
    assert.equal(obs.authTlsSource, 'feat');
    assert.ok(obs.features?.includes('AUTH TLS'));
  });

  test('vsftpd-closed: intrusive profile: anonymous login refused (530)', async () => {
    const p = peer('vsftpd-closed');
    const { record } = await scanRemote(ftpProbe, p.ip, p.port, { profile: 'intrusive' });
    assert.deepEqual(ftpOf(record).anonymous, { accepted: false, userCode: 331, passCode: 530 });
    assert.equal(ftpOf(record).quit, true);
  });
});

for (const [name, types] of [
  ['x11vnc-nopw', [1]],
  ['x11vnc-pw', [2]],
  ['tigervnc-none', [1]],
  ['tigervnc-vncauth', [2]],
] as const) {
  describe(`${name}: ${name.startsWith('x11') ? 'x11vnc' : 'TigerVNC'} ${types[0] === 1 ? 'without' : 'with'} a password`, () => {
    test(`${name}: RFB 003.008, security types [${types.join(',')}], never authenticated`, async () => {
      const p = peer(name);
      const s = sendLog();
      const { record } = await scanRemote(vncProbe, p.ip, p.port, { sendLog: s.fn });
      assert.equal(record.status, 'success');
      assert.equal(record.protocol, 'vnc');
      assert.equal(record.deviceType, 'remote-access');
      const obs = vncOf(record);
      assert.equal(obs.version, 'RFB 003.008');
      assert.equal(obs.negotiated, '3.8');
      assert.deepEqual(obs.securityTypes, [...types]);
      assert.equal(obs.noneOffered, types[0] === 1);
      assert.equal(obs.authRequired, types[0] !== 1);
      // One connection, one ProtocolVersion: no security type chosen, no password tried.
      assert.deepEqual(
        s.log.filter((w) => !w.startsWith('TCP')),
        ['RFB ProtocolVersion 3.8'],
      );
    });
  });
}

describe('inetutils-telnetd: GNU inetutils telnetd with /bin/login', () => {
  test('inetutils-telnetd: options refused, login prompt seen, identified by its negotiation', async () => {
    const p = peer('inetutils-telnetd');
    const s = sendLog();
    const { record, identification } = await scanRemote(telnetProbe, p.ip, p.port, { sendLog: s.fn });
    assert.equal(record.status, 'success');
    assert.equal(record.protocol, 'telnet');
    const obs = telnetOf(record);
    assert.equal(obs.loginPrompt, true);
    assert.equal(obs.shellPrompt, false);
    assert.equal(obs.end, 'prompt');
    assert.match(obs.banner, /\n\S+ login:$/);
    assert.match(obs.negotiation ?? '', /^WILL 37 WILL 38 DO 24 DO 32 DO 35 DO 39 DO 36/);
    assert.equal(record.vendor, 'GNU');
    assert.equal(record.product, 'GNU inetutils telnetd');
    assert.deepEqual(identification.rules, ['telnet-login-prompt', 'inetutils-telnetd-negotiation']);
    // Only refusals were sent: never a user name.
    for (const w of s.log.filter((x) => !x.startsWith('TCP'))) assert.match(w, /^telnet: refuse \d+ option\(s\)/);
  });
});

describe('xrdp-tls: xrdp 0.9 with security_layer=tls', () => {
  test('xrdp-tls: TLS chosen, standard RDP security refused (SSL_REQUIRED_BY_SERVER), no NLA', async () => {
    const p = peer('xrdp-tls');
    const { record } = await scanRemote(rdpProbe, p.ip, p.port);
    assert.equal(record.status, 'success');
    assert.equal(record.protocol, 'rdp');
    assert.equal(record.deviceType, 'remote-access');
    const obs = rdpOf(record);
    assert.equal(obs.signature, 'neg-rsp flags=0x01 selected=ssl');
    assert.equal(obs.tlsSupported, true);
    assert.equal(obs.nlaSupported, false);
    assert.equal(obs.nlaRequired, false);
    assert.equal(obs.rdpSecurityAccepted, false);
    assert.deepEqual(
      obs.attempts.map((a) => [a.requested, a.outcome, a.failureCode]),
      [
        [0x0b, 'response', null],
        [0x00, 'failure', 1],
      ],
    );
  });
});

describe('xrdp-rdp: xrdp 0.9 with security_layer=rdp', () => {
  test('xrdp-rdp: standard RDP security chosen even though TLS and NLA were offered', async () => {
    const p = peer('xrdp-rdp');
    const { record } = await scanRemote(rdpProbe, p.ip, p.port);
    const obs = rdpOf(record);
    assert.equal(obs.selectedProtocolName, 'rdp');
    assert.equal(obs.tlsSupported, false);
    assert.equal(obs.rdpSecurityAccepted, true);
    assert.equal(obs.nlaRequired, false);
    assert.equal(obs.attempts.length, 1);
  });
});

describe('xrdp-negotiate: xrdp 0.9 with Debian\'s default security_layer=negotiate', () => {
  test('xrdp-negotiate: TLS chosen when offered, and standard RDP security still accepted', async () => {
    const p = peer('xrdp-negotiate');
    const { record } = await scanRemote(rdpProbe, p.ip, p.port);
    const obs = rdpOf(record);
    assert.equal(obs.selectedProtocolName, 'ssl');
    assert.equal(obs.tlsSupported, true);
    assert.equal(obs.nlaSupported, false);
    assert.equal(obs.rdpSecurityAccepted, true);
  });
});
