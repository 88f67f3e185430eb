/**
 * The lab's HL7 v2 (MLLP) nodes, host offsets 3.x: interface engines that answer the scanner's
 * query the way real products do, one over TLS, and hostile listeners that break MLLP framing
 * (HL7 v2.5 Appendix C §C.4.2) on purpose.
 *
 * - `hl7-mirth`: builds its ACK the way Mirth Connect / NextGen Connect does (ACKGenerator: MSH-3/4
 *   of the ACK are the inbound MSH-5/6, "MIRTH" when MSH-5 is empty; MSH-10 a timestamp), AA.
 * - `hl7-reject`: an engine that takes production traffic only: AR with an ERR segment (HL7 error
 *   202 "unsupported processing id" at MSH-11), and, like sloppy real servers, free text and an
 *   echoed PID carrying the lab's synthetic HL7 canaries (HL7_LAB_CANARIES) that a scan must never keep.
 * - `hl7-tls`: MLLP over TLS (certificate src/lab/certs/pacs-tls.*), ACK built like HAPI's
 *   `fillResponseHeader` (MSH-3/4 from the inbound MSH-5/6, numeric MSH-10), AA.
 * - `hl7-hostile-endless`: a start block, then bytes for ever and never an end block.
 * - `hl7-hostile-garbage`: random bytes in reply to the query.
 * - `hl7-hostile-slow-drip`: a valid ACK, one byte every 500 ms.
 *
 * Every inbound byte is bounded here too (one frame of HL7_LIMITS.frameBytes per connection), and
 * every connection is closed after NODE_MAX_LIFE_MS.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { HL7_LIMITS, type Hl7Message, encodeFrame, parseMessage, scanFrame } from '../../probes/hl7/parse.js';
import type { LabNodeSpec } from '../layout.js';
import { LabStartError, closeServer, listen } from '../listen.js';

export type Hl7LabMode = 'mirth' | 'reject' | 'hapi' | 'endless' | 'garbage' | 'slow-drip';

/**
 * Synthetic patient values the `hl7-reject` node leaks in its reply (MSA-3, ERR-7, ERR-8 and an
 * echoed PID), as real servers do. None of them may appear in any scan output, log or database.
 */
export const HL7_LAB_CANARIES = {
  patientName: 'CANARYHL^SEVENZETA',
  patientId: 'HL7CANARY000731',
  birthDate: '19010203',
} as const;

/** Interval of the slow drip, ms. */
export const HL7_DRIP_INTERVAL_MS = 500;
/** Bytes the endless node sends at most per connection (the scanner stops reading long before). */
const ENDLESS_MAX_BYTES = 32 * 1024 * 1024;
const ENDLESS_CHUNK = Buffer.alloc(16 * 1024, 0x58);
/** Bytes the garbage node sends in reply. */
const GARBAGE_BYTES = 512;
/** A lab connection is closed after this long whatever happens. */
const NODE_MAX_LIFE_MS = 60_000;

export interface Hl7LabStats {
  connections: number;
  /** Whole MLLP blocks received. */
  messages: number;
  /** MSH-9 of each message received (message code and trigger event only). */
  messageTypes: string[];
  /** MSH-11 of each message received. */
  processingIds: string[];
  replies: number;
}

export interface Hl7LabNode {
  stats: Hl7LabStats;
  stop(): Promise<void>;
}

function certDir(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const candidates = [`${here}../certs/`, `${here}../../../src/lab/certs/`, `${here}../../../../src/lab/certs/`];
  for (const c of candidates) if (existsSync(`${c}pacs-tls.cert.pem`)) return c;
  throw new LabStartError(`lab TLS certificates not found (looked in ${candidates.join(', ')})`);
}

/** `yyyyMMddHHmmss` in local time, as Mirth's ACKGenerator formats MSH-7 and MSH-10. */
function mirthTimestamp(d = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getFullYear(), 4)}${p(d.getMonth() + 1)}${p(d.getDate())}${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** HL7 escape sequences for delimiters inside a text field (HL7 v2.5 Ch. 2 §2.7, "Use of escape sequences in text fields"). */
function escapeText(s: string): string {
  return s.replace(/\\/g, '\\E\\').replace(/\|/g, '\\F\\').replace(/\^/g, '\\S\\').replace(/~/g, '\\R\\').replace(/&/g, '\\T\\').replace(/\r/g, '\\X0D\\');
}

const v = (s: string | null) => s ?? '';

/** HL7 2.4 and later carry the message structure in MSH-9.3. */
function atLeast24(version: string | null): boolean {
  const m = /^(\d+)\.(\d+)/.exec(version ?? '');
  return !m || Number(m[1]) > 2 || (Number(m[1]) === 2 && Number(m[2]) > 3);
}

/**
 * Mirth Connect's auto-generated ACK (nextgenhealthcare/connect, server/src/com/mirth/connect/
 * plugins/datatypes/hl7v2/ACKGenerator.java): sender and receiver swapped, "MIRTH" for an empty
 * receiving application, version 2.4 and processing id P when missing, MSH-10 = the timestamp.
 */
function mirthAck(msg: Hl7Message, code: string): string {
  const ts = mirthTimestamp();
  const version = msg.msh.version ?? '2.4';
  const type = atLeast24(version) ? `ACK^${v(msg.msh.triggerEvent)}^ACK` : 'ACK';
  const msh = `MSH|^~\\&|${msg.msh.receivingApplication ?? 'MIRTH'}|${v(msg.msh.receivingFacility)}|${v(msg.msh.sendingApplication)}|${v(msg.msh.sendingFacility)}|${ts}||${type}|${ts}|${msg.msh.processingId ?? 'P'}|${version}`;
  return `${msh}\rMSA|${code}|${msg.msh.controlId ?? '1'}\r`;
}

let hapiCounter = 4000;

/**
 * HAPI's generated ACK (hapifhir/hapi-hl7v2, AbstractMessage.fillResponseHeader): MSH-3/4 are the
 * inbound MSH-5/6, MSH-9 `ACK^<event>^ACK` from 2.5 on, MSH-10 from a numeric id generator.
 */
function hapiAck(msg: Hl7Message, code: string): string {
  const version = msg.msh.version ?? '2.5';
  const ts = mirthTimestamp();
  const msh = `MSH|^~\\&|${v(msg.msh.receivingApplication)}|${v(msg.msh.receivingFacility)}|${v(msg.msh.sendingApplication)}|${v(msg.msh.sendingFacility)}|${ts}||ACK^${v(msg.msh.triggerEvent)}^ACK|${hapiCounter++}|${v(msg.msh.processingId)}|${version}`;
  return `${msh}\rMSA|${code}|${v(msg.msh.controlId)}\r`;
}

/** A production-only engine rejecting a non-P message, leaking the lab's canaries like a careless server. */
function rejectAck(msg: Hl7Message): string {
  const c = HL7_LAB_CANARIES;
  const ts = mirthTimestamp();
  const text = escapeText(`Message for patient ${c.patientName} (${c.patientId}, born ${c.birthDate}) not processed`);
  const diag = escapeText(`processing id ${v(msg.msh.processingId)} refused; last patient seen: ${c.patientName} ${c.patientId}`);
  return [
    `MSH|^~\\&|LABGW|GENERAL-LAB|${v(msg.msh.sendingApplication)}|${v(msg.msh.sendingFacility)}|${ts}||ACK^${v(msg.msh.triggerEvent)}^ACK|R${ts}|P|2.5`,
    `MSA|AR|${v(msg.msh.controlId)}|${text}`,
    `ERR|MSH^1^11^202&Unsupported processing id&HL70357|MSH^1^11|202^Unsupported processing id^HL70357|E||${escapeText(c.patientId)}|${diag}|${text}`,
    `PID|1||${c.patientId}^^^LAB^MR||${c.patientName}||${c.birthDate}|F`,
    '',
  ].join('\r');
}

/** The reply of a node that answers (`slow-drip` drips a HAPI style ACK). */
function replyFor(mode: Hl7LabMode, msg: Hl7Message): string {
  if (mode === 'mirth') return mirthAck(msg, 'AA');
  if (mode === 'reject') return rejectAck(msg);
  return hapiAck(msg, 'AA');
}

/**
 * Random bytes in 0x80-0xFE: never a start block, an "M", a TLS record, a telnet IAC (0xFF) or
 * printable text, so no probe of the identification chain mistakes the node for its protocol.
 */
function garbage(): Buffer {
  const b = randomBytes(GARBAGE_BYTES);
  for (let i = 0; i < b.length; i++) b[i] = 0x80 + (b[i]! % 0x7f);
  return b;
}

/**
 * Starts one HL7 lab node on ip:port (TLS for `tlsCert`). Every node, hostile ones included,
 * waits for a complete MLLP block before it answers, and closes on anything that is not MLLP:
 * the other probes of the identification chain (telnet banner read, HTTP, DICOM) see silence or
 * a close, never the hostile behaviour meant for the hl7 probe.
 */
export async function startHl7LabNode(
  name: string,
  mode: Hl7LabMode,
  ip: string,
  port: number,
  opts: { tlsCert?: 'pacs-tls' } = {},
): Promise<Hl7LabNode> {
  const stats: Hl7LabStats = { connections: 0, messages: 0, messageTypes: [], processingIds: [], replies: 0 };
  const sockets = new Set<net.Socket>();
  const onConnection = (s: net.Socket) => {
    stats.connections++;
    sockets.add(s);
    s.setNoDelay(true);
    const life = setTimeout(() => s.destroy(), NODE_MAX_LIFE_MS);
    life.unref();
    const timers = new Set<NodeJS.Timeout>();
    s.on('error', () => {});
    s.on('close', () => {
      sockets.delete(s);
      clearTimeout(life);
      for (const t of timers) clearTimeout(t);
    });
    const inbound = Buffer.allocUnsafe(HL7_LIMITS.frameBytes + 16);
    let len = 0;
    let answered = false;
    s.on('data', (chunk: Buffer) => {
      if (answered) return;
      if (len + chunk.length > inbound.length) {
        s.destroy();
        return;
      }
      chunk.copy(inbound, len);
      len += chunk.length;
      let frame: ReturnType<typeof scanFrame>;
      try {
        frame = scanFrame(inbound.subarray(0, len));
      } catch {
        s.destroy();
        return;
      }
      if (frame.state !== 'frame') return;
      answered = true;
      stats.messages++;
      let msg: Hl7Message;
      try {
        msg = parseMessage(frame.payload);
      } catch {
        s.destroy();
        return;
      }
      stats.messageTypes.push(`${v(msg.msh.messageCode)}^${v(msg.msh.triggerEvent)}`);
      stats.processingIds.push(v(msg.msh.processingId));
      if (mode === 'garbage') {
        stats.replies++;
        s.write(garbage());
        return;
      }
      if (mode === 'endless') {
        let sent = 0;
        const pump = () => {
          while (!s.destroyed && sent < ENDLESS_MAX_BYTES) {
            sent += ENDLESS_CHUNK.length;
            if (!s.write(ENDLESS_CHUNK)) {
              s.once('drain', pump);
              return;
            }
          }
          if (!s.destroyed) s.end();
        };
        s.write(Buffer.from('\x0bMSH|^~\\&|ENDLESS||', 'latin1'));
        pump();
        return;
      }
      const reply = encodeFrame(replyFor(mode, msg));
      stats.replies++;
      if (mode === 'slow-drip') {
        let at = 0;
        const drip = () => {
          if (s.destroyed || at >= reply.length) return;
          s.write(reply.subarray(at, at + 1));
          at++;
          const t = setTimeout(drip, HL7_DRIP_INTERVAL_MS);
          timers.add(t);
        };
        drip();
        return;
      }
      // Real engines keep an MLLP connection open for the next message; the client closes it.
      s.write(reply);
    });
  };
  const server = opts.tlsCert
    ? tls.createServer(
        {
          key: readFileSync(`${certDir()}${opts.tlsCert}.key.pem`),
          cert: readFileSync(`${certDir()}${opts.tlsCert}.cert.pem`),
          minVersion: 'TLSv1.2',
        },
        onConnection,
      )
    : net.createServer({ noDelay: true }, onConnection);
  server.on('error', () => {});
  if (server instanceof tls.Server) server.on('tlsClientError', () => {});
  await listen(server, name, ip, port);
  return { stats, stop: () => closeServer(server, sockets) };
}

function node(
  name: string,
  host: number,
  port: number,
  mode: Hl7LabMode,
  description: string,
  expected: LabNodeSpec['expected'],
  tlsCert?: 'pacs-tls',
): LabNodeSpec {
  return {
    name,
    hostOffset: [3, host],
    port,
    kind: 'service',
    role: mode === 'endless' || mode === 'garbage' || mode === 'slow-drip' ? 'hostile' : 'interface-engine',
    description,
    expected,
    service: (ip, p) => startHl7LabNode(name, mode, ip, p, tlsCert ? { tlsCert } : {}),
    ...(tlsCert ? { serviceTls: true } : {}),
  };
}

/** Lab nodes of the HL7 family (third octet 3). */
export const NODES: readonly LabNodeSpec[] = [
  node(
    'hl7-mirth',
    10,
    2575,
    'mirth',
    'interface engine (Mirth Connect style ACK: MSH-3 "MIRTH" for an empty receiving application) answering any sender with AA',
    {
      status: 'success',
      vendor: 'NextGen Healthcare',
      deviceType: 'interface-engine',
      ackCode: 'AA',
      sendingApplication: 'MIRTH',
      repliedToDebugMessage: true,
      tls: false,
    },
  ),
  node(
    'hl7-reject',
    11,
    2575,
    'reject',
    'lab gateway accepting production traffic only: AR with ERR 202 at MSH-11, and free text plus a PID echoing synthetic canaries',
    { status: 'success', ackCode: 'AR', sendingApplication: 'LABGW', pidSegments: 1, tls: false },
  ),
  node(
    'hl7-tls',
    12,
    6661,
    'hapi',
    'MLLP over TLS (self-signed RSA 2048), HAPI style ACK with AA; a plain-text message is dropped without a byte',
    { status: 'success', ackCode: 'AA', tls: true },
    'pacs-tls',
  ),
  node('hl7-hostile-endless', 20, 2575, 'endless', 'a start block, then bytes for ever without an end block', {
    status: 'protocol-error',
  }),
  node('hl7-hostile-garbage', 21, 2575, 'garbage', 'random non-text bytes in reply to the query', { status: 'protocol-error' }),
  node('hl7-hostile-slow-drip', 22, 2575, 'slow-drip', `a valid ACK, one byte every ${HL7_DRIP_INTERVAL_MS} ms`, {
    status: 'io-timeout',
  }),
];
