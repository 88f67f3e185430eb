/**
 * Shared pieces of the disclosure tests (not used by the product): a local SMTP sink (smtp-server
 * 3) and an RDAP stub (node:http) on 127.80.3.x, the block these tests own; a small MIME reader
 * that decodes the parts of a received message (base64 and quoted-printable, nested multiparts);
 * and the decryption of a PGP/MIME message with a private key. smtp-server is a development
 * dependency: it is imported when a sink is started, so the built package never loads it.
 */
import http from 'node:http';
import type net from 'node:net';
import * as openpgp from 'openpgp';

export interface ReceivedMail {
  from: string | null;
  to: string[];
  raw: string;
}

export async function smtpSink(host: string): Promise<{ port: number; mails: ReceivedMail[]; connections: () => number; close: () => Promise<void> }> {
  const { SMTPServer } = await import('smtp-server');
  const mails: ReceivedMail[] = [];
  let connections = 0;
  const server = new SMTPServer({
    authOptional: true,
    secure: false,
    disabledCommands: ['STARTTLS'],
    logger: false,
    size: 4 * 1024 * 1024,
    onConnect(_session, callback) {
      connections++;
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const env = session.envelope;
        mails.push({ from: env.mailFrom ? env.mailFrom.address : null, to: env.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
  const port = (server.server.address() as net.AddressInfo).port;
  return { port, mails, connections: () => connections, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

export interface RdapStub {
  url: string;
  /** Paths requested, in order. */
  requests: string[];
  close: () => Promise<void>;
}

/** Serves `/ip/<address>` from `answer` (null: 404 with an RFC 9083 error object). */
export async function rdapStub(host: string, answer: (ip: string, path: string) => { status: number; body: unknown; headers?: Record<string, string> } | null): Promise<RdapStub> {
  const requests: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    requests.push(path);
    const m = /\/ip\/([^/?]+)$/.exec(path);
    const a = m ? answer(decodeURIComponent(m[1]!), path) : null;
    if (a === null) {
      res.writeHead(404, { 'content-type': 'application/rdap+json' });
      res.end(JSON.stringify({ errorCode: 404, title: 'Not Found' }));
      return;
    }
    const body = typeof a.body === 'string' ? a.body : JSON.stringify(a.body);
    res.writeHead(a.status, { 'content-type': 'application/rdap+json', ...(a.headers ?? {}) });
    res.end(body);
  });
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** An RFC 9083 "ip network" object with an abuse contact nested under the registrant, as ARIN nests it. */
export function rdapNetwork(start: string, end: string, abuse: string | null, name = 'EXAMPLE-NET'): Record<string, unknown> {
  const abuseEntity = abuse === null ? [] : [{ objectClassName: 'entity', handle: 'ABUSE1-EX', roles: ['abuse'], vcardArray: ['vcard', [['version', {}, 'text', '4.0'], ['fn', {}, 'text', 'Abuse desk'], ['email', { type: 'work' }, 'text', abuse]]] }];
  return {
    objectClassName: 'ip network',
    handle: `NET-${start}`,
    startAddress: start,
    endAddress: end,
    ipVersion: start.includes(':') ? 'v6' : 'v4',
    name,
    type: 'ASSIGNED PA',
    country: 'NL',
    entities: [{ objectClassName: 'entity', handle: 'ORG-EX', roles: ['registrant'], vcardArray: ['vcard', [['version', {}, 'text', '4.0'], ['fn', {}, 'text', name]]], entities: abuseEntity }],
  };
}

export interface MimePart {
  headers: Record<string, string>;
  /** Decoded body (text), for leaf parts. */
  body: string;
  parts: MimePart[];
}

function decodeQp(s: string): string {
  return Buffer.from(s.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16))), 'latin1').toString('utf8');
}

/** Parses an RFC 5322 / MIME message into its parts (enough for what nodemailer writes). */
export function parseMime(raw: string): MimePart {
  const text = raw.replace(/\r\n/g, '\n');
  const split = text.indexOf('\n\n');
  const head = (split < 0 ? text : text.slice(0, split)).replace(/\n(?=[ \t])/g, '');
  const bodyRaw = split < 0 ? '' : text.slice(split + 2);
  const headers: Record<string, string> = {};
  for (const l of head.split('\n')) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  const ct = headers['content-type'] ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(ct)?.[1];
  if (/^multipart\//i.test(ct) && boundary) {
    const parts: MimePart[] = [];
    const chunks = bodyRaw.split(`--${boundary}`);
    for (const c of chunks.slice(1)) {
      if (c.startsWith('--')) break;
      parts.push(parseMime(c.replace(/^\n/, '')));
    }
    return { headers, body: '', parts };
  }
  const cte = (headers['content-transfer-encoding'] ?? '7bit').toLowerCase();
  const body = cte === 'base64' ? Buffer.from(bodyRaw.replace(/\s+/g, ''), 'base64').toString('utf8') : cte === 'quoted-printable' ? decodeQp(bodyRaw) : bodyRaw;
  return { headers, body, parts: [] };
}

/** Every leaf part, depth first. */
export function leaves(p: MimePart): MimePart[] {
  return p.parts.length === 0 ? [p] : p.parts.flatMap(leaves);
}

/** The decoded text of every leaf part, joined: what a reader of the message sees. */
export function allText(p: MimePart): string {
  return leaves(p)
    .map((l) => l.body)
    .join('\n');
}

/** Decrypts a PGP/MIME message (RFC 3156) with `privateKeyArmored`; the inner MIME entity, parsed. */
export async function decryptPgpMime(raw: string, privateKeyArmored: string): Promise<MimePart> {
  const m = /-----BEGIN PGP MESSAGE-----[\s\S]+?-----END PGP MESSAGE-----/.exec(raw);
  if (!m) throw new Error('no PGP message in the mail');
  const privateKey = await openpgp.readPrivateKey({ armoredKey: privateKeyArmored });
  const message = await openpgp.readMessage({ armoredMessage: m[0] });
  const { data } = await openpgp.decrypt({ message, decryptionKeys: privateKey, format: 'binary' });
  return parseMime(Buffer.from(data as Uint8Array).toString('utf8'));
}
