/**
 * node-hl7-server 2.5.0 (npm, devDependency) as a real HL7 v2 / MLLP peer, in this process, on
 * its own loopback address.
 *
 * node-hl7-server has a `bindAddress` option, but its Inbound listener passes it to
 * `server.listen()` as `hostname`, which Node ignores: it listens on `::` (every interface;
 * seen here: `address() -> { address: '::' }`). So the listener is created while a bind guard
 * replaces `net.Server.prototype.listen` for that one synchronous call: the port it asks for, on
 * the loopback address we give, `exclusive`. Anything else (a non-loopback address, 127.0.0.1, a
 * second listen) throws. After start the listener's address is checked again.
 *
 * Everything else is node-hl7-server's own code: MLLP framing, node-hl7-client's parser, and
 * `SendResponse` building the ACK (MSH-3/4 from the inbound MSH-5/6, MSH-10 "ACK", MSA-2 = the
 * inbound control id).
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { type Inbound, Server } from 'node-hl7-server';
import { REPO_ROOT } from './peers.js';

export type AckCode = 'AA' | 'AE' | 'AR';

export interface ReceivedMessage {
  /** MSH-9.1 and MSH-9.2 of what the peer received. */
  messageCode: string;
  triggerEvent: string;
  /** MSH-11.1. */
  processingId: string;
}

export interface Hl7Peer {
  name: string;
  ip: string;
  port: number;
  tls: boolean;
  /** Messages node-hl7-server parsed and handed to the handler. */
  received: ReceivedMessage[];
  /** node-hl7-server's own counters (data events, parsed messages) since the last reset(). */
  stats(): { received: number; totalMessage: number };
  /** Clears `received` and the counters between tests. */
  reset(): void;
  close(): Promise<void>;
}

export class Hl7PeerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'Hl7PeerError';
  }
}

function assertPrivateLoopback(ip: string): void {
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m || m.slice(1).some((o) => Number(o) > 255) || ip === '127.0.0.1') {
    throw new Hl7PeerError(`${ip} is not a private loopback address (127.x, never 127.0.0.1)`);
  }
}

/** The lab's test certificate (src/lab/certs, not a secret). */
export function labTlsMaterial(): { key: Buffer; cert: Buffer } {
  const dir = path.join(REPO_ROOT, 'src/lab/certs');
  return { key: readFileSync(path.join(dir, 'pacs-tls.key.pem')), cert: readFileSync(path.join(dir, 'pacs-tls.cert.pem')) };
}

/** Starts node-hl7-server on ip:port; every message is answered with `ack` (MSA-1). */
export async function startNodeHl7Server(opts: {
  name: string;
  ip: string;
  port: number;
  ack: AckCode;
  tls?: { key: Buffer; cert: Buffer };
}): Promise<Hl7Peer> {
  assertPrivateLoopback(opts.ip);
  const server = new Server(opts.tls ? { tls: { key: opts.tls.key, cert: opts.tls.cert, rejectUnauthorized: false } } : {});
  const received: ReceivedMessage[] = [];
  const original = net.Server.prototype.listen;
  let calls = 0;
  // biome-ignore lint/suspicious/noExplicitAny: listen() has many overloads; the guard accepts one shape only.
  net.Server.prototype.listen = function guardedListen(this: net.Server, ...args: any[]) {
    calls++;
    const o = args[0] as { port?: unknown } | undefined;
    if (calls > 1 || typeof o !== 'object' || o === null || typeof o.port !== 'number') {
      throw new Hl7PeerError('node-hl7-server: unexpected listen() call, refusing to bind');
    }
    return original.call(this, { port: o.port, host: opts.ip, exclusive: true }, ...args.slice(1));
  } as typeof original;
  let inbound: Inbound;
  try {
    inbound = server.createInbound({ port: opts.port, name: opts.name.replace(/[^A-Za-z0-9_]/g, '_') }, async (req, res) => {
      const m = req.getMessage();
      received.push({
        messageCode: m.get('MSH.9.1').toString(),
        triggerEvent: m.get('MSH.9.2').toString(),
        processingId: m.get('MSH.11.1').toString(),
      });
      await res.sendResponse(opts.ack);
    });
  } finally {
    net.Server.prototype.listen = original;
  }
  await new Promise<void>((resolve, reject) => {
    const onError = (err: unknown) => reject(new Hl7PeerError(`node-hl7-server did not start on ${opts.ip}:${opts.port}`, { cause: err }));
    inbound.once('error', onError);
    inbound.once('listen', () => {
      inbound.off('error', onError);
      resolve();
    });
  });
  const listener = (inbound as unknown as { _socket: net.Server })._socket;
  const addr = listener.address();
  if (typeof addr !== 'object' || addr === null || addr.address !== opts.ip || addr.port !== opts.port) {
    listener.close();
    throw new Hl7PeerError(`node-hl7-server listens on ${JSON.stringify(addr)}, not ${opts.ip}:${opts.port}: stopped`);
  }
  inbound.on('error', () => {});
  inbound.on('client.error', () => {});
  inbound.on('data.error', () => {});
  let base = { received: 0, totalMessage: 0 };
  return {
    name: opts.name,
    ip: opts.ip,
    port: opts.port,
    tls: Boolean(opts.tls),
    received,
    stats: () => ({ received: inbound.stats.received - base.received, totalMessage: inbound.stats.totalMessage - base.totalMessage }),
    reset: () => {
      received.length = 0;
      base = { ...inbound.stats };
    },
    close: async () => {
      await inbound.close();
      if (listener.listening) await new Promise<void>((resolve) => listener.close(() => resolve()));
    },
  };
}
