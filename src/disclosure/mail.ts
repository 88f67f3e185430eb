/**
 * Building and sending a notification e-mail.
 *
 * A message is multipart: the text and HTML bodies as alternatives, then the attachments
 * (affected.csv, affected.json). When the recipient has an OpenPGP key, the whole of that MIME
 * entity is encrypted to the key and sent as PGP/MIME (RFC 3156 §4): an outer
 * `multipart/encrypted; protocol="application/pgp-encrypted"` with the version part
 * ("Version: 1") and the ASCII-armored OpenPGP message (openpgp 6). PGP/MIME rather than inline
 * PGP because it encrypts the HTML body and the attachments too, and mail clients with OpenPGP
 * (Thunderbird, Outlook with GpgOL, mutt, Apple Mail with GPG Suite) decrypt it in place. Only
 * From, To, Subject, Date, Message-ID and the X-Medsurface-Case/-TLP headers stay readable; the
 * subject names no address.
 *
 * Sending reuses the alert sinks' connection path (src/alerts/transport.ts openSinkSocket:
 * resolver, guard, deadlines, byte cap) under nodemailer 10 with `raw`, so nodemailer never
 * resolves or connects on its own and sends exactly the bytes built here.
 */
import { readFileSync, statSync } from 'node:fs';
import MailComposer from 'nodemailer/lib/mail-composer';
import MimeNode from 'nodemailer/lib/mime-node';
import nodemailer from 'nodemailer';
import * as openpgp from 'openpgp';
import { type DeliveryContext, DeliveryError, errorText, openSinkSocket } from '../alerts/transport.js';
import { messageOf } from '../core/errors.js';
import { DisclosureError } from './errors.js';

/** Largest key file read. */
export const PGP_KEY_MAX_BYTES = 1024 * 1024;
const SMTP_REPLY_BYTES = 64 * 1024;
const SMTP_SESSION_BYTES = 256 * 1024;

export interface MailAttachment {
  filename: string;
  content: Buffer;
  contentType: string;
}

export interface OutgoingMail {
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
  attachments: MailAttachment[];
  /** Without angle brackets: `case-3.abcd@example.org`. */
  messageId: string;
  headers: Record<string, string>;
}

/** Reads an OpenPGP public key file (armored or binary); DisclosureError naming the file when it is none. */
export async function loadPublicKey(file: string): Promise<{ key: openpgp.Key; fingerprint: string }> {
  let data: Buffer;
  try {
    if (statSync(file).size > PGP_KEY_MAX_BYTES) throw new DisclosureError(`${file}: larger than ${PGP_KEY_MAX_BYTES} bytes (an OpenPGP public key expected)`, { file });
    data = readFileSync(file);
  } catch (err) {
    if (err instanceof DisclosureError) throw err;
    throw new DisclosureError(`cannot read the OpenPGP key ${file}: ${messageOf(err)}`, { cause: err, file });
  }
  try {
    const text = data.toString('utf8');
    const key = text.includes('-----BEGIN PGP') ? await openpgp.readKey({ armoredKey: text }) : await openpgp.readKey({ binaryKey: new Uint8Array(data) });
    if (key.isPrivate()) throw new DisclosureError(`${file}: this is a private key; give the recipient's public key`, { file });
    return { key, fingerprint: key.getFingerprint().toUpperCase() };
  } catch (err) {
    if (err instanceof DisclosureError) throw err;
    throw new DisclosureError(`${file}: not an OpenPGP public key (${messageOf(err).split('\n')[0]})`, { cause: err, file });
  }
}

function contentEntity(m: OutgoingMail): MailComposer {
  return new MailComposer({
    text: m.text,
    html: m.html,
    attachments: m.attachments.map((a) => ({ filename: a.filename, content: a.content, contentType: a.contentType })),
    disableFileAccess: true,
    disableUrlAccess: true,
  });
}

/** The message as it goes on the wire: plain multipart, or PGP/MIME when `encryptTo` is given. */
export async function buildMessage(m: OutgoingMail, encryptTo?: openpgp.Key): Promise<Buffer> {
  if (encryptTo === undefined) {
    const node = new MailComposer({
      from: m.from,
      to: m.to,
      subject: m.subject,
      text: m.text,
      html: m.html,
      messageId: `<${m.messageId}>`,
      headers: m.headers,
      attachments: m.attachments.map((a) => ({ filename: a.filename, content: a.content, contentType: a.contentType })),
      disableFileAccess: true,
      disableUrlAccess: true,
    }).compile();
    return node.build();
  }
  const inner = await contentEntity(m).compile().build();
  const armored = await openpgp.encrypt({ message: await openpgp.createMessage({ binary: new Uint8Array(inner) }), encryptionKeys: encryptTo, format: 'armored' });
  const root = new MimeNode('multipart/encrypted; protocol="application/pgp-encrypted"');
  root.setHeader({ From: m.from, To: m.to.join(', '), Subject: m.subject, 'Message-ID': `<${m.messageId}>`, Date: new Date().toUTCString(), ...m.headers });
  const version = root.createChild('application/pgp-encrypted');
  version.setHeader({ 'Content-Description': 'PGP/MIME version identification', 'Content-Transfer-Encoding': '7bit' });
  version.setContent('Version: 1\r\n');
  const body = root.createChild('application/octet-stream; name="encrypted.asc"');
  body.setHeader({ 'Content-Description': 'OpenPGP encrypted message', 'Content-Disposition': 'inline; filename="encrypted.asc"', 'Content-Transfer-Encoding': '7bit' });
  body.setContent(armored);
  return root.build();
}

export interface SmtpTarget {
  host: string;
  port: number;
  /** Implicit TLS (port 465 style); otherwise STARTTLS when the server offers it. */
  secure: boolean;
  /** Refuse to send without STARTTLS. */
  requireTLS: boolean;
  auth?: { user: string; pass: string };
  timeoutMs: number;
  /** Verify the server certificate (default true). */
  tlsVerify?: boolean;
}

/** Sends `raw` to the envelope recipients through `smtp`; DeliveryError with the server's answer on failure. */
export async function smtpSend(raw: Buffer, envelope: { from: string; to: string[] }, smtp: SmtpTarget, ctx: DeliveryContext): Promise<void> {
  const transport = nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    requireTLS: smtp.requireTLS,
    name: ctx.hostname,
    ...(smtp.auth ? { auth: { user: smtp.auth.user, pass: smtp.auth.pass } } : {}),
    tls: { rejectUnauthorized: smtp.tlsVerify !== false, minVersion: 'TLSv1.2' },
    connectionTimeout: smtp.timeoutMs,
    greetingTimeout: smtp.timeoutMs,
    socketTimeout: smtp.timeoutMs,
    socketCloseTimeout: 1000,
    maxResponseSize: SMTP_REPLY_BYTES,
    disableFileAccess: true,
    disableUrlAccess: true,
    logger: false,
    getSocket: (_options, callback) => {
      openSinkSocket({ host: smtp.host, port: smtp.port, timeoutMs: smtp.timeoutMs, maxBytes: SMTP_SESSION_BYTES }, ctx).then(
        (connection) => callback(null, { connection }),
        (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
      );
    },
  });
  try {
    await transport.sendMail({ envelope, raw });
  } catch (err) {
    if (err instanceof DeliveryError) throw err;
    throw new DeliveryError(`SMTP ${smtp.host}:${smtp.port}: ${errorText(err)}`, 'event', { cause: err });
  } finally {
    transport.close();
  }
}
