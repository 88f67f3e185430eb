/**
 * Captures the fixtures of the remote-access probes from the real Debian peers of
 * remote-peers.ts (vsftpd, x11vnc, TigerVNC, inetutils telnetd, xrdp) on 127.0.0.40-49:
 *
 *   node --import tsx test/interop/capture-remote-fixtures.ts
 *
 * Raw captures (`*.bin`) hold exactly the bytes the server sent, after the client bytes listed in
 * each probe's fixtures/README.md; the client side is a plain socket here, not our probe, so a bug
 * in a probe cannot shape its own fixtures. `*-observation.json` files are the probe's observation
 * of the same peer (the engine's `data.<probe>`), the source cited by fingerprint examples whose
 * value is a derived string (`telnet.negotiation`, `rdp.signature`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { ftpProbe } from '../../src/probes/ftp/probe.js';
import { rdpProbe } from '../../src/probes/rdp/probe.js';
import { TelnetDecoder, detectPrompt, bannerOf } from '../../src/probes/telnet/parse.js';
import { telnetProbe } from '../../src/probes/telnet/probe.js';
import { vncProbe } from '../../src/probes/vnc/probe.js';
import { REPO_ROOT } from './peers.js';
import { type RemotePeer, remoteGuard, scanRemote, startRemotePeers, stopRemotePeers } from './remote-peers.js';

const STEP_MS = 400;

/** Connects, sends each step after a pause, and returns everything the server sent. */
function exchange(ip: string, port: number, steps: (Buffer | { data: Buffer; waitMs: number })[], settleMs = STEP_MS): Promise<Buffer> {
  remoteGuard(ip);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ host: ip, port });
    s.on('data', (b: Buffer) => chunks.push(b));
    s.on('error', reject);
    s.once('connect', async () => {
      let wait = settleMs;
      for (const step of steps) {
        await new Promise((r) => setTimeout(r, wait));
        const data = Buffer.isBuffer(step) ? step : step.data;
        wait = Buffer.isBuffer(step) ? settleMs : step.waitMs;
        s.write(data);
      }
      await new Promise((r) => setTimeout(r, wait));
      s.destroy();
      resolve(Buffer.concat(chunks));
    });
  });
}

/** Telnet: refuse options with our decoder until the login prompt shows (at most 20 rounds). */
async function telnetCapture(ip: string, port: number): Promise<Buffer> {
  remoteGuard(ip);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const decoder = new TelnetDecoder();
    const text: Buffer[] = [];
    const s = net.connect({ host: ip, port });
    const finish = () => {
      s.destroy();
      resolve(Buffer.concat(chunks));
    };
    const timer = setTimeout(finish, 5000);
    s.on('error', reject);
    s.on('data', (b: Buffer) => {
      chunks.push(b);
      const out = decoder.decode(b);
      text.push(out.text);
      if (out.reply.length > 0) s.write(out.reply);
      if (detectPrompt(bannerOf(Buffer.concat(text)).banner)) {
        clearTimeout(timer);
        setTimeout(finish, 200);
      }
    });
  });
}

const ftp = (line: string) => Buffer.from(`${line}\r\n`, 'latin1');

function rdpRequest(protocols: number): Buffer {
  const b = Buffer.from([3, 0, 0, 19, 14, 0xe0, 0, 0, 0, 0, 0, 1, 0, 8, 0, 0, 0, 0, 0]);
  b.writeUInt32LE(protocols, 15);
  return b;
}

async function main(): Promise<void> {
  const peers = await startRemotePeers();
  const by = (n: string): RemotePeer => {
    const p = peers.find((x) => x.name === n);
    if (!p) throw new Error(`no peer ${n}`);
    return p;
  };
  const dir = (probe: string) => {
    const d = join(REPO_ROOT, 'src/probes', probe, 'fixtures');
    mkdirSync(d, { recursive: true });
    return d;
  };
  const save = (probe: string, name: string, data: Buffer | string) => {
    writeFileSync(join(dir(probe), name), data);
    console.log(`${probe}/fixtures/${name}: ${data.length} bytes`);
  };
  const observation = async (probe: string, peer: RemotePeer, p: Parameters<typeof scanRemote>[0], profile: 'safe' | 'intrusive' = 'safe') => {
    const out = await scanRemote(p, peer.ip, peer.port, { profile });
    const data = out.record.data[probe];
    save(probe, `${peer.name}-observation.json`, `${JSON.stringify(data, null, 2)}\n`);
  };
  try {
    // VNC: our ProtocolVersion after the server's, then whatever comes (RFC 6143 §7.1.1, §7.1.2).
    for (const name of ['x11vnc-nopw', 'x11vnc-pw', 'tigervnc-none', 'tigervnc-vncauth']) {
      const p = by(name);
      save('vnc', `${name}-rfb38.bin`, await exchange(p.ip, p.port, [Buffer.from('RFB 003.008\n')]));
      await observation('vnc', p, vncProbe);
    }
    const xpw = by('x11vnc-pw');
    save('vnc', 'x11vnc-pw-rfb33.bin', await exchange(xpw.ip, xpw.port, [Buffer.from('RFB 003.003\n')]));

    // Telnet.
    const t = by('inetutils-telnetd');
    save('telnet', 'inetutils-telnetd.bin', await telnetCapture(t.ip, t.port));
    await observation('telnet', t, telnetProbe);

    // FTP: greeting, FEAT, SYST, USER anonymous, PASS <contact>, QUIT.
    for (const name of ['vsftpd-anon', 'vsftpd-closed']) {
      const p = by(name);
      save(
        'ftp',
        `${name}-session.bin`,
        await exchange(p.ip, p.port, [ftp('FEAT'), ftp('SYST'), ftp('USER anonymous'), { data: ftp('PASS medsurface@example.invalid'), waitMs: 5000 }, ftp('QUIT')]),
      );
      await observation('ftp', p, ftpProbe, 'intrusive');
    }

    // RDP: one Connection Request per connection (MS-RDPBCGR §2.2.1.1).
    for (const name of ['xrdp-tls', 'xrdp-rdp', 'xrdp-negotiate']) {
      const p = by(name);
      for (const proto of [0x0b, 0x00, 0x01]) {
        const hex = proto.toString(16).padStart(2, '0');
        save('rdp', `${name}-req${hex}.bin`, await exchange(p.ip, p.port, [rdpRequest(proto)], 300));
      }
      await observation('rdp', p, rdpProbe);
    }
  } finally {
    await stopRemotePeers(peers);
  }
}

await main();
