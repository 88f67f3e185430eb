/**
 * Notification mail: the plain multipart message and the PGP/MIME one (RFC 3156) as built, sent
 * through smtp-server 3 on 127.80.3.3x and read back; decryption with the recipient's private
 * key gives the same text and attachments; keys that are not public keys are refused; a refused
 * recipient is a DeliveryError.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as openpgp from 'openpgp';
import { SMTPServer } from 'smtp-server';
import type net from 'node:net';
import { loopbackOnly } from '../alerts/test-support.js';
import { DeliveryError } from '../alerts/transport.js';
import { DisclosureError } from './errors.js';
import { type OutgoingMail, buildMessage, loadPublicKey, smtpSend } from './mail.js';
import { allText, decryptPgpMime, leaves, parseMime, smtpSink } from './test-support.js';

const ctx = { guard: loopbackOnly, resolve: async () => [] as string[], now: Date.now, hostname: os.hostname() };
let dir: string;
let keys: { privateKey: string; publicKey: string };

const mail = (): OutgoingMail => ({
  from: 'research@scanner.example',
  to: ['it@clinic.example'],
  subject: '[TLP:AMBER] Exposed healthcare systems (case 9)',
  text: 'TLP:AMBER\nDear Clinic,\n127.214.30.1 port 104: dicom-any-ae\nÄrzte\n',
  html: '<p>TLP:AMBER</p><p>127.214.30.1 &lt;script&gt;</p>',
  attachments: [
    { filename: 'affected.csv', content: Buffer.from('tlp,ip\r\nTLP:AMBER,127.214.30.1\r\n'), contentType: 'text/csv' },
    { filename: 'affected.json', content: Buffer.from('{"tlp":"TLP:AMBER"}\n'), contentType: 'application/json' },
  ],
  messageId: 'case-9.0011223344556677@scanner.example',
  headers: { 'X-Medsurface-Case': '9' },
});

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'medsurface-mail-'));
  keys = await openpgp.generateKey({ userIDs: [{ name: 'Clinic IT (test)', email: 'it@clinic.example' }], format: 'armored' });
  writeFileSync(path.join(dir, 'pub.asc'), keys.publicKey);
  writeFileSync(path.join(dir, 'priv.asc'), keys.privateKey);
  writeFileSync(path.join(dir, 'junk.asc'), '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot a key\n-----END PGP PUBLIC KEY BLOCK-----\n');
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('a plain message: headers, text and HTML alternatives, both attachments', async () => {
  const m = parseMime((await buildMessage(mail())).toString('utf8'));
  assert.equal(m.headers['message-id'], '<case-9.0011223344556677@scanner.example>');
  assert.equal(m.headers['x-medsurface-case'], '9');
  assert.match(m.headers['content-type'] ?? '', /^multipart\/mixed/);
  const parts = leaves(m);
  assert.deepEqual(parts.map((p) => (p.headers['content-type'] ?? '').split(';')[0]), ['text/plain', 'text/html', 'text/csv', 'application/json']);
  assert.match(parts[0]!.body, /Ärzte/);
  assert.match(parts[2]!.body, /TLP:AMBER,127\.214\.30\.1/);
});

test('PGP/MIME: nothing of the content is readable in transit; the key holder reads all of it', async () => {
  const { key, fingerprint } = await loadPublicKey(path.join(dir, 'pub.asc'));
  assert.match(fingerprint, /^[0-9A-F]{40,64}$/);
  const raw = (await buildMessage(mail(), key)).toString('utf8');
  const outer = parseMime(raw);
  assert.match(outer.headers['content-type'] ?? '', /^multipart\/encrypted;\s*protocol="application\/pgp-encrypted"/);
  assert.equal(outer.headers.subject, '[TLP:AMBER] Exposed healthcare systems (case 9)');
  assert.equal(outer.parts.length, 2);
  assert.equal(outer.parts[0]!.headers['content-type'], 'application/pgp-encrypted');
  assert.equal(outer.parts[0]!.body.trim(), 'Version: 1');
  assert.match(outer.parts[1]!.body, /^-----BEGIN PGP MESSAGE-----/);
  for (const secret of ['127.214.30.1', 'dicom-any-ae', 'affected.csv']) assert.ok(!raw.includes(secret), secret);
  const inner = await decryptPgpMime(raw, keys.privateKey);
  const text = allText(inner);
  assert.match(text, /127\.214\.30\.1 port 104: dicom-any-ae/);
  assert.match(text, /Ärzte/);
  assert.match(text, /TLP:AMBER,127\.214\.30\.1/);
  assert.deepEqual(leaves(inner).map((p) => (p.headers['content-type'] ?? '').split(';')[0]), ['text/plain', 'text/html', 'text/csv', 'application/json']);
});

test('only OpenPGP public keys are accepted', async () => {
  await assert.rejects(loadPublicKey(path.join(dir, 'priv.asc')), (e: unknown) => e instanceof DisclosureError && /private key/.test(e.message));
  await assert.rejects(loadPublicKey(path.join(dir, 'junk.asc')), (e: unknown) => e instanceof DisclosureError && /not an OpenPGP public key/.test(e.message));
  await assert.rejects(loadPublicKey(path.join(dir, 'missing.asc')), /cannot read the OpenPGP key/);
});

test('smtpSend delivers the exact bytes to the envelope recipients', async (t) => {
  const sink = await smtpSink('127.80.3.30');
  t.after(() => sink.close());
  const raw = await buildMessage(mail());
  await smtpSend(raw, { from: 'research@scanner.example', to: ['it@clinic.example'] }, { host: '127.80.3.30', port: sink.port, secure: false, requireTLS: false, timeoutMs: 5000 }, ctx);
  assert.equal(sink.mails.length, 1);
  assert.deepEqual(sink.mails[0]!.to, ['it@clinic.example']);
  assert.equal(sink.mails[0]!.raw.replace(/\r\n/g, '\n').trim(), raw.toString('utf8').replace(/\r\n/g, '\n').trim());
});

test('a refused recipient or a server outside the guard is a DeliveryError', async (t) => {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(address, _s, cb) {
      cb(address.address.startsWith('nobody') ? Object.assign(new Error('mailbox unavailable'), { responseCode: 550 }) : undefined);
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.80.3.31', () => r()));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.server.address() as net.AddressInfo).port;
  const target = { host: '127.80.3.31', port, secure: false, requireTLS: false, timeoutMs: 5000 };
  await assert.rejects(smtpSend(await buildMessage(mail()), { from: 'a@scanner.example', to: ['nobody@clinic.example'] }, target, ctx), (e: unknown) => e instanceof DeliveryError && /550|mailbox unavailable/.test(e.message));
  await assert.rejects(smtpSend(await buildMessage(mail()), { from: 'a@scanner.example', to: ['x@clinic.example'] }, { ...target, host: '10.0.0.25' }, ctx), (e: unknown) => e instanceof DeliveryError && /scope guard/.test(e.message));
});
