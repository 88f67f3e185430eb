/**
 * Remote-access doors of the lab hospital (family 127.x.6.y): the VNC, telnet, FTP and RDP
 * services found left open on modality consoles and workstations. Each node speaks just enough
 * of its protocol to answer the scanner's probe the way the named product does, with the bytes
 * documented where they come from (nmap-service-probes matches, RFC and MS-RDPBCGR examples, our
 * captures of real Debian servers under src/probes/<id>/fixtures/). Hostile nodes (an endless
 * banner, a slow drip, garbage) prove the probes bound every byte and every wait.
 *
 * Every connection is closed after NODE_MAX_LIFE_MS at the latest, and every buffer a node keeps
 * is bounded: a forgotten client cannot pin a node for ever.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { encodeReply } from '../../probes/ftp/parse.js';
import { type Negotiation, encodeConnectionConfirm, parseConnectionRequest, tpktLength } from '../../probes/rdp/parse.js';
import { type TelnetCommand, encodeCommands } from '../../probes/telnet/parse.js';
import { encodeFailure, encodeSecurityType33, encodeSecurityTypes, encodeServerVersion } from '../../probes/vnc/parse.js';
import type { LabNodeSpec, LabServiceFactory } from '../layout.js';
import { closeServer, listen } from '../listen.js';

/** A lab connection lives at most this long. */
const NODE_MAX_LIFE_MS = 60_000;
/** Bytes a node buffers from a client before it hangs up. */
const NODE_MAX_INPUT = 8 * 1024;
/** Hostile drips: one byte per this many ms. */
const DRIP_MS = 500;

/** FTP commands (verbs only) each FTP node received, newest last, bounded: tests check what the scanner sent. */
export const FTP_COMMAND_LOG = new Map<string, string[]>();
const FTP_LOG_MAX = 200;

/** Buffered reads over a lab socket, bounded in size and time. */
class Input {
  private buf = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  private closed = false;

  constructor(sock: net.Socket) {
    sock.on('data', (d: Buffer) => {
      if (this.buf.length + d.length > NODE_MAX_INPUT) {
        sock.destroy();
        return;
      }
      this.buf = Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    sock.once('close', () => {
      this.closed = true;
      this.wake?.();
    });
  }

  private async until<T>(take: () => T | null): Promise<T | null> {
    for (;;) {
      const v = take();
      if (v !== null) return v;
      if (this.closed) return null;
      await new Promise<void>((r) => {
        this.wake = r;
      });
      this.wake = null;
    }
  }

  bytes(n: number): Promise<Buffer | null> {
    return this.until(() => {
      if (this.buf.length < n) return null;
      const out = this.buf.subarray(0, n);
      this.buf = this.buf.subarray(n);
      return out;
    });
  }

  line(): Promise<string | null> {
    return this.until(() => {
      const lf = this.buf.indexOf(0x0a);
      if (lf === -1) return null;
      const out = this.buf.toString('latin1', 0, lf).replace(/\r$/, '');
      this.buf = this.buf.subarray(lf + 1);
      return out;
    });
  }
}

/** A TCP service whose every connection runs `handler`; errors end the connection, never the node. */
function tcpService(name: string, handler: (sock: net.Socket, input: Input, ip: string, port: number) => Promise<void>): LabServiceFactory {
  return async (ip, port) => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer({ noDelay: true }, (sock) => {
      sockets.add(sock);
      sock.on('error', () => {});
      const life = setTimeout(() => sock.destroy(), NODE_MAX_LIFE_MS);
      life.unref?.();
      sock.once('close', () => {
        clearTimeout(life);
        sockets.delete(sock);
      });
      handler(sock, new Input(sock), ip, port).catch(() => sock.destroy());
    });
    server.on('error', () => {});
    await listen(server, name, ip, port);
    return { stop: () => closeServer(server, sockets) };
  };
}

const write = (sock: net.Socket, data: Buffer | string) => {
  if (!sock.destroyed) sock.write(data);
};

/** Writes `data` one byte every DRIP_MS (a slow-drip peer). */
function drip(sock: net.Socket, data: Buffer): void {
  let i = 0;
  const t = setInterval(() => {
    if (sock.destroyed || i >= data.length) {
      clearInterval(t);
      return;
    }
    sock.write(data.subarray(i, ++i));
  }, DRIP_MS);
  sock.once('close', () => clearInterval(t));
}

/** Writes `unit` again and again, as fast as the client reads, until it hangs up (an endless banner). */
function endless(sock: net.Socket, unit: Buffer): void {
  const pump = () => {
    while (!sock.destroyed && sock.write(unit)) {
      // keep writing while the kernel takes it
    }
  };
  sock.on('drain', pump);
  pump();
}

// ---------------------------------------------------------------------------------------------------
// VNC (RFC 6143 §7.1.1, §7.1.2)

function vncServer(name: string, opts: { version: string; types?: number[]; refuse?: string }): LabServiceFactory {
  return tcpService(name, async (sock, input) => {
    write(sock, encodeServerVersion(opts.version));
    const client = await input.bytes(12);
    if (!client) return;
    const v33 = client.toString('latin1') === 'RFB 003.003\n';
    if (opts.refuse !== undefined) write(sock, encodeFailure(opts.refuse, v33 ? '3.3' : '3.8'));
    else if (v33) write(sock, encodeSecurityType33(opts.types?.[0] ?? 0));
    else write(sock, encodeSecurityTypes(opts.types ?? [1]));
    if (opts.refuse !== undefined) sock.end();
    // A client that picks a type gets nothing more: the lab never runs a desktop.
    await input.bytes(1);
    sock.destroy();
  });
}

// ---------------------------------------------------------------------------------------------------
// telnet (RFC 854, RFC 855)

function telnetServer(name: string, opts: { negotiation: TelnetCommand[]; banner: string; endless?: string }): LabServiceFactory {
  return tcpService(name, async (sock, input) => {
    write(sock, encodeCommands(opts.negotiation));
    // Real servers wait a moment for the client's answers before the banner.
    await new Promise((r) => setTimeout(r, 50));
    write(sock, Buffer.from(opts.banner, 'latin1'));
    if (opts.endless) endless(sock, Buffer.from(opts.endless, 'latin1'));
    // Whatever the client sends is read and dropped, bounded by Input; we never run a shell.
    while ((await input.line()) !== null) {
      // nothing typed here reaches anything
    }
  });
}

// ---------------------------------------------------------------------------------------------------
// FTP (RFC 959, RFC 2389, RFC 4217)

interface FtpScript {
  greeting: Buffer;
  feat: Buffer;
  syst: Buffer;
  auth?: Buffer;
  /** Anonymous login: the reply to USER and to PASS. */
  user: Buffer;
  pass: Buffer;
}

function ftpServer(name: string, script: FtpScript): LabServiceFactory {
  return tcpService(name, async (sock, input, ip, port) => {
    const key = `${ip}:${port}`;
    write(sock, script.greeting);
    for (;;) {
      const line = await input.line();
      if (line === null) return;
      const verb = (/^[A-Za-z]{1,8}/.exec(line)?.[0] ?? '?').toUpperCase();
      const log = FTP_COMMAND_LOG.get(key) ?? [];
      log.push(verb);
      if (log.length > FTP_LOG_MAX) log.shift();
      FTP_COMMAND_LOG.set(key, log);
      switch (verb) {
        case 'FEAT':
          write(sock, script.feat);
          break;
        case 'SYST':
          write(sock, script.syst);
          break;
        case 'AUTH':
          if (script.auth) {
            write(sock, script.auth);
            if (script.auth.toString('latin1').startsWith('234')) {
              // The client should start TLS now; the lab has none to offer on this node: wait for it to leave.
              await input.bytes(NODE_MAX_INPUT + 1);
              return;
            }
          } else write(sock, encodeReply(500, ['AUTH not understood.']));
          break;
        case 'USER':
          write(sock, script.user);
          break;
        case 'PASS':
          write(sock, script.pass);
          break;
        case 'QUIT':
          write(sock, encodeReply(221, ['Goodbye.']));
          sock.end();
          return;
        default:
          write(sock, encodeReply(500, ['Unknown command.']));
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------------
// RDP (MS-RDPBCGR §2.2.1.1, §2.2.1.2)

function rdpServer(name: string, answer: (requested: number | null) => Negotiation): LabServiceFactory {
  return tcpService(name, async (sock, input) => {
    const head = await input.bytes(4);
    if (!head) return;
    const len = tpktLength(head);
    const rest = await input.bytes(len - 4);
    if (!rest) return;
    const { requestedProtocols } = parseConnectionRequest(Buffer.concat([head, rest]));
    write(sock, encodeConnectionConfirm(answer(requestedProtocols)));
    // The scanner closes here; a client that sends an MCS Connect Initial is simply hung up on.
    await input.bytes(1);
    sock.destroy();
  });
}

/** Windows Remote Desktop (flags 0x1f, as nmap-service-probes matches it): CredSSP preferred. */
function windowsRdp(nlaRequired: boolean): (requested: number | null) => Negotiation {
  return (p) => {
    const req = p ?? 0;
    if (req & 0x08) return { kind: 'response', flags: 0x1f, selectedProtocol: 0x08 };
    if (req & 0x02) return { kind: 'response', flags: 0x1f, selectedProtocol: 0x02 };
    if (nlaRequired) return { kind: 'failure', failureCode: 5 };
    if (req & 0x01) return { kind: 'response', flags: 0x1f, selectedProtocol: 0x01 };
    return { kind: 'failure', failureCode: 1 };
  };
}

function garbage(name: string): LabServiceFactory {
  return tcpService(name, async (sock, input) => {
    await input.bytes(1);
    const junk = randomBytes(512);
    // First byte is never a TPKT version (3) nor printable: any reader must fail at once.
    junk[0] = 0x80 | junk[0]!;
    write(sock, junk);
    sock.end();
  });
}

// ---------------------------------------------------------------------------------------------------
// the nodes

const IIS_FEAT = encodeReply(211, ['Extended features supported:', ' LANG EN*', ' UTF8', ' AUTH TLS;TLS-C;SSL;TLS-P;', ' PBSZ', ' PROT C;P;', ' CCC', ' HOST', ' SIZE', ' MDTM', ' REST STREAM', 'END']);
const PROFTPD_FEAT = encodeReply(211, ['Features:', ' EPRT', ' EPSV', ' MDTM', ' MFMT', ' REST STREAM', ' SIZE', ' TVFS', 'End']);
const BUSYBOX_BANNER =
  "\r\n\r\nBusyBox v1.22.1 (2014-09-20 22:07:33 CEST) built-in shell (ash)\r\nEnter 'help' for a list of built-in commands.\r\n\r\n# ";

/** Lab nodes of the remote-access family (third octet 6). */
export const NODES: readonly LabNodeSpec[] = [
  {
    name: 'vnc-open',
    hostOffset: [6, 10],
    port: 5900,
    kind: 'service',
    role: 'remote-access',
    description: 'modality console VNC with security type None: the desktop for anyone who connects',
    expected: { status: 'success', deviceType: 'remote-access', version: 'RFB 003.008', noneOffered: true, authRequired: false, findings: ['vnc-no-auth'] },
    service: vncServer('vnc-open', { version: 'RFB 003.008', types: [1] }),
  },
  {
    name: 'vnc-password',
    hostOffset: [6, 11],
    port: 5900,
    kind: 'service',
    role: 'remote-access',
    description: 'workstation VNC with VNC Authentication only (8-character password, DES challenge)',
    expected: { status: 'success', deviceType: 'remote-access', noneOffered: false, vncAuthOffered: true, authRequired: true },
    service: vncServer('vnc-password', { version: 'RFB 003.008', types: [2] }),
  },
  {
    name: 'vnc-realvnc',
    hostOffset: [6, 12],
    port: 5900,
    kind: 'service',
    role: 'remote-access',
    description: 'RealVNC Enterprise 5.x ("RFB 005.000", nmap-service-probes) with VNC Authentication',
    expected: { status: 'success', deviceType: 'remote-access', vendor: 'RealVNC', version: 'RFB 005.000', authRequired: true },
    service: vncServer('vnc-realvnc', { version: 'RFB 005.000', types: [2] }),
  },
  {
    name: 'vnc-locked',
    hostOffset: [6, 13],
    port: 5901,
    kind: 'service',
    role: 'remote-access',
    description: 'an old 3.3 VNC server locked out after failed logins ("Too many security failures", as nmap-service-probes shows it)',
    expected: { status: 'success', deviceType: 'remote-access', outcome: 'refused', failureReason: 'Too many security failures' },
    service: vncServer('vnc-locked', { version: 'RFB 003.003', refuse: 'Too many security failures' }),
  },
  {
    name: 'vnc-drip',
    hostOffset: [6, 14],
    port: 5900,
    kind: 'service',
    role: 'hostile',
    description: 'hostile: the RFB version one byte every 500 ms',
    expected: { status: 'io-timeout' },
    service: tcpService('vnc-drip', async (sock) => drip(sock, encodeServerVersion('RFB 003.008'))),
  },
  {
    name: 'telnet-busybox-shell',
    hostOffset: [6, 20],
    port: 23,
    kind: 'service',
    role: 'remote-access',
    description: 'embedded controller telnet that drops straight into a BusyBox root shell, no login (nmap-service-probes BusyBox telnetd)',
    expected: { status: 'success', deviceType: 'remote-access', vendor: 'BusyBox', shellPrompt: true, loginPrompt: false, findings: ['telnet-exposed'] },
    service: telnetServer('telnet-busybox-shell', {
      negotiation: [
        { verb: 'DO', option: 1 },
        { verb: 'DO', option: 33 },
        { verb: 'WILL', option: 1 },
        { verb: 'WILL', option: 3 },
      ],
      banner: BUSYBOX_BANNER,
    }),
  },
  {
    name: 'telnet-login',
    hostOffset: [6, 21],
    port: 23,
    kind: 'service',
    role: 'remote-access',
    description: 'Linux workstation telnet with a login prompt (BSD-derived telnetd banner "%s %r (%h) (%t)")',
    expected: { status: 'success', deviceType: 'remote-access', loginPrompt: true, shellPrompt: false, findings: ['telnet-exposed'] },
    service: telnetServer('telnet-login', {
      negotiation: [
        { verb: 'DO', option: 24 },
        { verb: 'DO', option: 32 },
        { verb: 'DO', option: 35 },
        { verb: 'DO', option: 39 },
      ],
      banner: '\r\nLinux 4.19.0-25-amd64 (ct-console) (pts/0)\r\n\r\nct-console login: ',
    }),
  },
  {
    name: 'telnet-cisco',
    hostOffset: [6, 22],
    port: 23,
    kind: 'service',
    role: 'remote-access',
    description: 'network switch in the imaging VLAN: Cisco IOS "User Access Verification" (nmap-service-probes)',
    expected: { status: 'success', deviceType: 'remote-access', vendor: 'Cisco', loginPrompt: true, findings: ['telnet-exposed'] },
    service: telnetServer('telnet-cisco', {
      negotiation: [
        { verb: 'WILL', option: 1 },
        { verb: 'WILL', option: 3 },
        { verb: 'DO', option: 24 },
        { verb: 'DO', option: 31 },
      ],
      banner: '\r\n\r\nUser Access Verification\r\n\r\nUsername: ',
    }),
  },
  {
    name: 'telnet-endless',
    hostOffset: [6, 23],
    port: 23,
    kind: 'service',
    role: 'hostile',
    description: 'hostile: a banner that never ends and never prompts',
    expected: { status: 'success', bannerTruncated: true },
    service: telnetServer('telnet-endless', { negotiation: [], banner: 'Welcome\r\n', endless: 'All work and no play makes a dull banner. ' }),
  },
  {
    name: 'ftp-iis-anon',
    hostOffset: [6, 30],
    port: 21,
    kind: 'service',
    role: 'remote-access',
    description: 'modality export share: Microsoft FTP Service (IIS) with anonymous login and AUTH TLS',
    expected: { status: 'success', deviceType: 'remote-access', vendor: 'Microsoft', authTls: true },
    service: ftpServer('ftp-iis-anon', {
      greeting: encodeReply(220, ['Microsoft FTP Service']),
      feat: IIS_FEAT,
      syst: encodeReply(215, ['Windows_NT']),
      auth: encodeReply(234, ['AUTH command ok. Expecting TLS Negotiation.']),
      user: encodeReply(331, ['Anonymous access allowed, send identity (e-mail name) as password.']),
      pass: encodeReply(230, ['User logged in.']),
    }),
  },
  {
    name: 'ftp-proftpd',
    hostOffset: [6, 31],
    port: 21,
    kind: 'service',
    role: 'remote-access',
    description: 'PACS gateway FTP: ProFTPD 1.3.5e, no TLS, anonymous refused',
    expected: { status: 'success', deviceType: 'remote-access', vendor: 'ProFTPD Project', authTls: false, findings: ['ftp-cleartext'] },
    service: ftpServer('ftp-proftpd', {
      greeting: encodeReply(220, ['ProFTPD 1.3.5e Server (Debian) [127.0.0.1]']),
      feat: PROFTPD_FEAT,
      syst: encodeReply(215, ['UNIX Type: L8']),
      user: encodeReply(331, ['Password required for anonymous']),
      pass: encodeReply(530, ['Login incorrect.']),
    }),
  },
  {
    name: 'ftp-pureftpd',
    hostOffset: [6, 32],
    port: 21,
    kind: 'service',
    role: 'remote-access',
    description: 'Pure-FTPd with a multi-line greeting; FEAT unknown, so AUTH TLS is asked directly (234)',
    expected: { status: 'success', deviceType: 'remote-access', vendor: 'Pure-FTPd', authTls: true, authTlsSource: 'auth-command' },
    service: ftpServer('ftp-pureftpd', {
      greeting: encodeReply(220, [
        '--------- Welcome to Pure-FTPd [privsep] [TLS] ----------',
        '220-You are user number 1 of 50 allowed.',
        '220-Local time is now 10:00. Server port: 21.',
        '220-This is a private system - No anonymous login',
        'You will be disconnected after 15 minutes of inactivity.',
      ]),
      feat: encodeReply(500, ['Unknown command']),
      syst: encodeReply(215, ['UNIX Type: L8']),
      auth: encodeReply(234, ['AUTH TLS OK.']),
      user: encodeReply(530, ['This is a private system - No anonymous login']),
      pass: encodeReply(503, ['Login with USER first.']),
    }),
  },
  {
    name: 'ftp-endless',
    hostOffset: [6, 33],
    port: 21,
    kind: 'service',
    role: 'hostile',
    description: 'hostile: a multi-line greeting that never ends',
    expected: { status: 'protocol-error' },
    service: tcpService('ftp-endless', async (sock) => {
      write(sock, '220-Welcome\r\n');
      endless(sock, Buffer.from('220-and more\r\n'));
    }),
  },
  {
    name: 'rdp-nla',
    hostOffset: [6, 40],
    port: 3389,
    kind: 'service',
    role: 'remote-access',
    description: 'Windows workstation RDP requiring Network Level Authentication (flags 0x1f, HYBRID_REQUIRED_BY_SERVER otherwise)',
    expected: { status: 'success', deviceType: 'remote-access', vendor: 'Microsoft', nlaRequired: true, rdpSecurityAccepted: false },
    service: rdpServer('rdp-nla', windowsRdp(true)),
  },
  {
    name: 'rdp-tls',
    hostOffset: [6, 41],
    port: 3389,
    kind: 'service',
    role: 'remote-access',
    description: 'Windows RDP offering NLA but not requiring it (TLS alone accepted, standard RDP security refused)',
    expected: { status: 'success', deviceType: 'remote-access', vendor: 'Microsoft', nlaSupported: true, nlaRequired: false, rdpSecurityAccepted: false, findings: ['rdp-no-nla'] },
    service: rdpServer('rdp-tls', windowsRdp(false)),
  },
  {
    name: 'rdp-legacy',
    hostOffset: [6, 42],
    port: 3389,
    kind: 'service',
    role: 'remote-access',
    description: 'Windows XP embedded modality console: no negotiation at all, standard RDP security only',
    expected: { status: 'success', deviceType: 'remote-access', negotiation: 'none', rdpSecurityAccepted: true, nlaRequired: false, findings: ['rdp-no-nla'] },
    service: rdpServer('rdp-legacy', () => ({ kind: 'none' })),
  },
  {
    name: 'rdp-garbage',
    hostOffset: [6, 43],
    port: 3389,
    kind: 'service',
    role: 'hostile',
    description: 'hostile: random bytes in reply to the Connection Request',
    expected: { status: 'protocol-error' },
    service: garbage('rdp-garbage'),
  },
];
