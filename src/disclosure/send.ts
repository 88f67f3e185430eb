/**
 * `medsurface disclose send`: mails the prepared packages (package.ts) to their recipients.
 * Explicit by design: without `yes` nothing is sent, the plan (case, recipient, subject,
 * encryption, attachments) is returned for the CLI to print. With `yes`, each message goes out
 * over SMTP (mail.ts), OpenPGP-encrypted when the manifest names a key (refused when the key
 * file changed since `prepare`: its fingerprint must match), and the case records a `notified`
 * event with the Message-ID, the recipient and the SMTP server; a new (or closed-no-response)
 * case becomes `notified`, an already notified one keeps its state (a reminder).
 *
 * Which cases: those given (`caseIds`), else every `new` case. The package is the folder of the
 * case's last `prepared` event, or `case-<id>-*` under `packagesDir`. Files are read bounded.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { type DeliveryContext, DeliveryError, errorText } from '../alerts/transport.js';
import { messageOf } from '../core/errors.js';
import { type CaseRow, caseEvents, getCase, listCases, recordEvent, setCaseState } from './cases.js';
import { DisclosureError } from './errors.js';
import { type MailAttachment, type SmtpTarget, buildMessage, loadPublicKey, smtpSend } from './mail.js';
import { MANIFEST_FILE, PACKAGE_FILES, type PackageManifest, parseManifest } from './package.js';
import type { DisclosureDb } from './tables.js';

/** Largest package file read for a message. */
export const PACKAGE_FILE_MAX_BYTES = 10 * 1024 * 1024;

export interface SendOptions {
  /** Required with `yes`. */
  smtp: SmtpTarget | null;
  /** Envelope and From address; default the manifest's (prepare --from). */
  from?: string;
  yes: boolean;
  caseIds?: number[];
  packagesDir?: string;
  ctx: DeliveryContext;
  now?: () => string;
}

export interface PlannedSend {
  caseId: number;
  party: string;
  state: string;
  to: string | null;
  subject: string | null;
  encrypted: boolean;
  pgpFingerprint: string | null;
  dir: string | null;
  attachments: string[];
  /** Why this case is not sent (no package, no recipient, resolved, ...). */
  skip: string | null;
}

export interface SendResult {
  dryRun: boolean;
  planned: PlannedSend[];
  sent: { caseId: number; messageId: string; to: string; encrypted: boolean }[];
  failed: { caseId: number; error: string }[];
}

function readBounded(file: string): Buffer {
  const size = statSync(file).size;
  if (size > PACKAGE_FILE_MAX_BYTES) throw new DisclosureError(`${file}: larger than ${PACKAGE_FILE_MAX_BYTES} bytes`, { file });
  return readFileSync(file);
}

async function packageDir(db: DisclosureDb, c: CaseRow, packagesDir: string | undefined): Promise<string | null> {
  if (packagesDir !== undefined) {
    const prefix = `case-${c.id}-`;
    const hit = existsSync(packagesDir) ? readdirSync(packagesDir).find((f) => f.startsWith(prefix)) : undefined;
    return hit === undefined ? null : path.join(packagesDir, hit);
  }
  const events = await caseEvents(db, c.id);
  for (let i = events.length - 1; i >= 0; i--) {
    const d = events[i]!.detail;
    if (events[i]!.event === 'prepared' && typeof d?.dir === 'string') return d.dir;
  }
  return null;
}

interface Loaded {
  manifest: PackageManifest;
  dir: string;
}

async function plan(db: DisclosureDb, c: CaseRow, o: SendOptions): Promise<{ p: PlannedSend; loaded: Loaded | null }> {
  const p: PlannedSend = { caseId: c.id, party: c.partyName, state: c.state, to: null, subject: null, encrypted: false, pgpFingerprint: null, dir: null, attachments: [], skip: null };
  if (c.state === 'resolved') return { p: { ...p, skip: 'the case is resolved' }, loaded: null };
  if (c.findings.open + c.findings.unverified === 0) return { p: { ...p, skip: 'nothing of the case is exposed any more' }, loaded: null };
  const dir = await packageDir(db, c, o.packagesDir);
  if (dir === null || !existsSync(path.join(dir, MANIFEST_FILE))) return { p: { ...p, skip: 'no package: run medsurface disclose prepare first' }, loaded: null };
  p.dir = dir;
  const manifest = parseManifest(readBounded(path.join(dir, MANIFEST_FILE)).toString('utf8'), path.join(dir, MANIFEST_FILE));
  if (manifest.case.id !== c.id) return { p: { ...p, skip: `${dir} is the package of case ${manifest.case.id}` }, loaded: null };
  p.subject = manifest.subject;
  p.attachments = manifest.attachments;
  if (manifest.recipient === null) return { p: { ...p, skip: 'no recipient known (give prepare --orgs, --certs or --rdap)' }, loaded: null };
  p.to = manifest.recipient.email;
  if (manifest.recipient.pgpKey) {
    p.encrypted = true;
    p.pgpFingerprint = manifest.recipient.pgpFingerprint ?? null;
  }
  return { p, loaded: { manifest, dir } };
}

async function sendOne(c: CaseRow, l: Loaded, o: SendOptions, from: string): Promise<{ messageId: string; encrypted: boolean }> {
  const m = l.manifest;
  const recipient = m.recipient!;
  const attachments: MailAttachment[] = m.attachments.map((name) => {
    if (name !== path.basename(name)) throw new DisclosureError(`${l.dir}: attachment name ${JSON.stringify(name)} is not a file name`);
    return { filename: name, content: readBounded(path.join(l.dir, name)), contentType: name.endsWith('.csv') ? 'text/csv' : 'application/json' };
  });
  let key: Awaited<ReturnType<typeof loadPublicKey>>['key'] | undefined;
  if (recipient.pgpKey) {
    const loaded = await loadPublicKey(recipient.pgpKey);
    if (recipient.pgpFingerprint && loaded.fingerprint !== recipient.pgpFingerprint) {
      throw new DisclosureError(`${recipient.pgpKey}: the key changed since prepare (fingerprint ${loaded.fingerprint}, was ${recipient.pgpFingerprint}); run prepare again`);
    }
    key = loaded.key;
  }
  const domain = from.split('@')[1] ?? 'localhost';
  const messageId = `case-${c.id}.${randomBytes(8).toString('hex')}@${domain}`;
  const raw = await buildMessage(
    {
      from,
      to: [recipient.email],
      subject: m.subject,
      text: readBounded(path.join(l.dir, PACKAGE_FILES.text)).toString('utf8'),
      html: readBounded(path.join(l.dir, PACKAGE_FILES.html)).toString('utf8'),
      attachments,
      messageId,
      headers: { 'X-Medsurface-Case': String(c.id), 'X-Medsurface-TLP': m.tlp },
    },
    key,
  );
  await smtpSend(raw, { from, to: [recipient.email] }, o.smtp!, o.ctx);
  return { messageId, encrypted: key !== undefined };
}

export async function sendCases(db: DisclosureDb, o: SendOptions): Promise<SendResult> {
  const cases = o.caseIds !== undefined && o.caseIds.length > 0 ? await Promise.all(o.caseIds.map((id) => getCase(db, id))) : await listCases(db, { states: ['new'] });
  const result: SendResult = { dryRun: !o.yes, planned: [], sent: [], failed: [] };
  const work: { c: CaseRow; l: Loaded }[] = [];
  for (const c of cases) {
    const { p, loaded } = await plan(db, c, o);
    result.planned.push(p);
    if (loaded !== null) work.push({ c, l: loaded });
  }
  if (!o.yes) return result;
  if (o.smtp === null) throw new DisclosureError('--smtp HOST:PORT is required to send');
  for (const { c, l } of work) {
    const from = o.from ?? l.manifest.from;
    if (!from) throw new DisclosureError('--from ADDRESS is required to send');
    try {
      const { messageId, encrypted } = await sendOne(c, l, o, from);
      const detail = { messageId: `<${messageId}>`, to: l.manifest.recipient!.email, recipientSource: l.manifest.recipient!.source, encrypted, smtp: `${o.smtp.host}:${o.smtp.port}`, package: l.dir, subject: l.manifest.subject };
      if (c.state === 'new' || c.state === 'closed-no-response') await setCaseState(db, c.id, 'notified', { event: 'notified', detail, ...(o.now ? { now: o.now } : {}) });
      else await recordEvent(db, c.id, 'notified', { ...detail, reminder: true }, o.now);
      result.sent.push({ caseId: c.id, messageId: detail.messageId, to: detail.to, encrypted });
    } catch (err) {
      if (!(err instanceof DisclosureError) && !(err instanceof DeliveryError)) throw err;
      result.failed.push({ caseId: c.id, error: err instanceof DisclosureError ? messageOf(err) : errorText(err) });
    }
  }
  return result;
}
