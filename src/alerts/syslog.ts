/**
 * The syslog sink: RFC 5424 messages carrying a CEF payload (cef.ts), over UDP (RFC 5426: one
 * message per datagram) or TCP (RFC 6587 §3.4.1 octet counting: `<byte length> <message>`).
 *
 * Header: `<PRI>1 TIMESTAMP HOSTNAME medsurface PROCID MSGID - MSG` with PRI = facility × 8 +
 * severity (RFC 5424 §6.2.1), TIMESTAMP the delivery time in UTC with milliseconds, HOSTNAME the
 * sink's `hostname` or this machine's name, PROCID this process id, MSGID the event kind, no
 * structured data, and MSG the CEF record, UTF-8 without a BOM (MSG-ANY).
 *
 * Syslog severity from the event (RFC 5424 Table 2): critical 2 (Critical), high 3 (Error),
 * medium 4 (Warning), low 5 (Notice), info or none 6 (Informational); a resolved finding or a
 * service gone is 5 (Notice) whatever its severity.
 *
 * UDP has no acknowledgement: a datagram handed to the kernel counts as delivered. Over TCP, a
 * delivery is done when the framed message is written and the connection closed cleanly.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { ExposureEvent } from '../core/events.js';
import { SYSLOG_FACILITIES, type SyslogSink, formatHostPort } from './config.js';
import { formatCef } from './cef.js';
import { type DeliveryContext, DeliveryError, errorText, openSinkSocket, resolveGuarded } from './transport.js';

/** Largest message sent (bytes): below a UDP datagram's limit with room to spare; longer ones are cut. */
export const SYSLOG_MAX_BYTES = 8192;
/** Bytes a syslog collector may send back on a TCP connection before it is dropped (it should send none). */
const TCP_REPLY_BYTES = 4096;

export function syslogSeverity(e: Pick<ExposureEvent, 'kind' | 'severity'>): number {
  if (e.kind === 'finding-resolved' || e.kind === 'service-gone') return 5;
  switch (e.severity) {
    case 'critical':
      return 2;
    case 'high':
      return 3;
    case 'medium':
      return 4;
    case 'low':
      return 5;
    default:
      return 6;
  }
}

/** A HOSTNAME field value: printable ASCII without spaces, at most 255 characters, or the NILVALUE. */
export function syslogHostname(name: string): string {
  const h = name.replace(/[^\x21-\x7e]/g, '').slice(0, 255);
  return h || '-';
}

/** Cuts a UTF-8 buffer to at most `max` bytes without splitting a character. */
function cutUtf8(b: Buffer, max: number): Buffer {
  if (b.length <= max) return b;
  let end = max;
  while (end > 0 && (b[end]! & 0xc0) === 0x80) end--;
  return b.subarray(0, end);
}

/** The RFC 5424 message of an event, as bytes (at most SYSLOG_MAX_BYTES). */
export function formatSyslog(sink: SyslogSink, e: ExposureEvent, ctx: Pick<DeliveryContext, 'now' | 'hostname'>): Buffer {
  const pri = SYSLOG_FACILITIES[sink.facility] * 8 + syslogSeverity(e);
  const timestamp = new Date(ctx.now()).toISOString();
  const host = syslogHostname(sink.hostname ?? ctx.hostname);
  const header = `<${pri}>1 ${timestamp} ${host} medsurface ${process.pid} ${e.kind} - `;
  return cutUtf8(Buffer.from(header + formatCef(e), 'utf8'), SYSLOG_MAX_BYTES);
}

/** RFC 6587 octet-counting frame: the message length in bytes, a space, the message. */
export function octetCountingFrame(msg: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${msg.length} `, 'ascii'), msg]);
}

async function sendUdp(sink: SyslogSink, msg: Buffer, ctx: DeliveryContext): Promise<void> {
  const ip = await resolveGuarded(sink.host, sink.port, ctx);
  const socket = dgram.createSocket(net.isIPv6(ip) ? 'udp6' : 'udp4');
  socket.on('error', () => {});
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new DeliveryError(`${formatHostPort(ip, sink.port)}: UDP send did not complete within ${sink.timeoutMs} ms`, 'sink')), sink.timeoutMs);
      socket.send(msg, sink.port, ip, (err) => {
        clearTimeout(timer);
        if (err) reject(new DeliveryError(`${formatHostPort(ip, sink.port)}: ${errorText(err)}`, 'sink', { cause: err }));
        else resolve();
      });
    });
  } finally {
    socket.close();
  }
}

async function sendTcp(sink: SyslogSink, msg: Buffer, ctx: DeliveryContext): Promise<void> {
  const socket = await openSinkSocket({ host: sink.host, port: sink.port, timeoutMs: sink.timeoutMs, maxBytes: TCP_REPLY_BYTES }, ctx);
  const where = formatHostPort(sink.host, sink.port);
  try {
    await new Promise<void>((resolve, reject) => {
      let done = false;
      const finish = (err?: Error) => {
        if (done) return;
        done = true;
        if (err) reject(new DeliveryError(`${where}: ${errorText(err)}`, 'sink', { cause: err }));
        else resolve();
      };
      socket.once('error', (err) => finish(err));
      socket.once('close', () => finish(new Error('connection closed before the message was written')));
      socket.end(octetCountingFrame(msg), () => finish());
    });
  } finally {
    socket.destroy();
  }
}

export async function deliverSyslog(sink: SyslogSink, event: ExposureEvent, ctx: DeliveryContext): Promise<void> {
  const msg = formatSyslog(sink, event, ctx);
  if (sink.transport === 'tcp') await sendTcp(sink, msg, ctx);
  else await sendUdp(sink, msg, ctx);
}
