/**
 * The email sink: one plain-text message per event over SMTP, with nodemailer 10. nodemailer gets
 * its connection from `getSocket`, i.e. from transport.openSinkSocket (resolver, guard, deadline),
 * so it never resolves or connects on its own; it then speaks SMTP, upgrades with STARTTLS when
 * the server offers it (required with `requireTLS`), or starts TLS at once with `secure`.
 * Certificates are verified unless the sink says `tlsVerify: false`.
 *
 * Bounds: nodemailer's own timeouts set from the sink's `timeoutMs` (connection, greeting,
 * inactivity), and the socket's session deadline; SMTP replies at most 64 KiB each
 * (`maxResponseSize`); before TLS, at most 256 KiB from the server in all (after a TLS upgrade,
 * the TLS layer reads the socket directly and only the deadline bounds the session).
 */
import nodemailer from 'nodemailer';
import type { ExposureEvent } from '../core/events.js';
import { VERSION } from '../core/version.js';
import { type EmailSink, type SUBJECT_FIELDS, emailPort } from './config.js';
import { detailLines, oneLine, summarize } from './message.js';
import { type DeliveryContext, DeliveryError, errorText, openSinkSocket } from './transport.js';

const SMTP_REPLY_BYTES = 64 * 1024;
const SMTP_SESSION_BYTES = 256 * 1024;
const SUBJECT_MAX_CHARS = 200;

/** Fills the subject template ({summary}, {severity}, ...); unknown placeholders were refused by the config. */
export function renderSubject(template: string, e: ExposureEvent): string {
  const values: Record<(typeof SUBJECT_FIELDS)[number], string> = {
    summary: summarize(e),
    kind: e.kind,
    severity: e.severity ?? 'none',
    ip: e.ip,
    port: e.port === null ? '' : String(e.port),
    checkId: e.checkId ?? '',
    product: e.product ?? '',
    deviceType: e.deviceType ?? '',
  };
  const filled = template.replace(/\{([^{}]*)\}/g, (m, name: string) => (name in values ? values[name as keyof typeof values] : m));
  return oneLine(filled, SUBJECT_MAX_CHARS);
}

export function emailText(e: ExposureEvent, deliveryId: string): string {
  const width = Math.max(...detailLines(e).map(([k]) => k.length));
  const lines = detailLines(e).map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${v}`);
  return `${summarize(e)}\n\n${lines.join('\n')}\n\n-- \nSent by medsurface ${VERSION}, delivery ${deliveryId}.\n`;
}

export async function deliverEmail(sink: EmailSink, deliveryId: string, event: ExposureEvent, ctx: DeliveryContext): Promise<void> {
  const port = emailPort(sink);
  const transport = nodemailer.createTransport({
    host: sink.host,
    port,
    secure: sink.secure,
    requireTLS: sink.requireTLS,
    name: ctx.hostname,
    ...(sink.auth ? { auth: { user: sink.auth.user, pass: sink.auth.pass } } : {}),
    tls: { rejectUnauthorized: sink.tlsVerify, minVersion: 'TLSv1.2' },
    connectionTimeout: sink.timeoutMs,
    greetingTimeout: sink.timeoutMs,
    socketTimeout: sink.timeoutMs,
    socketCloseTimeout: 1000,
    maxResponseSize: SMTP_REPLY_BYTES,
    disableFileAccess: true,
    disableUrlAccess: true,
    logger: false,
    getSocket: (_options, callback) => {
      openSinkSocket({ host: sink.host, port, timeoutMs: sink.timeoutMs, maxBytes: SMTP_SESSION_BYTES }, ctx).then(
        (connection) => callback(null, { connection }),
        (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
      );
    },
  });
  try {
    await transport.sendMail({
      from: sink.from,
      to: sink.to,
      subject: renderSubject(sink.subject, event),
      text: emailText(event, deliveryId),
      headers: { 'X-Medsurface-Event': event.kind, 'X-Medsurface-Delivery': deliveryId },
    });
  } catch (err) {
    if (err instanceof DeliveryError) throw err;
    const code = (err as { responseCode?: unknown }).responseCode;
    // A 5xx reply refuses this message; anything else (4xx, connection, timeout) says the server is not taking mail now.
    const scope = typeof code === 'number' && code >= 500 ? 'event' : 'sink';
    throw new DeliveryError(`SMTP ${sink.host}:${port}: ${errorText(err)}`, scope, { cause: err });
  } finally {
    transport.close();
  }
}
