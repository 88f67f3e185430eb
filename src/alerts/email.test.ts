/**
 * The email sink against smtp-server 3 on 127.80.1.4x (plain SMTP, STARTTLS disabled): the
 * envelope, the From/To/Subject headers and the body as the server received them, authentication
 * with an env: secret, and a refused recipient.
 */
import assert from 'node:assert/strict';
import type net from 'node:net';
import { test } from 'node:test';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { AlertOutbox, parseSinksConfig } from './index.js';
import { fakeClock, loopbackOnly, sampleEvent, tempDir } from './test-support.js';

interface Mail {
  from: string | null;
  to: string[];
  raw: string;
  user: string | null;
}

async function smtpSink(host: string, extra: Partial<SMTPServerOptions> = {}): Promise<{ port: number; mails: Mail[]; close: () => Promise<void> }> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    secure: false,
    disabledCommands: ['STARTTLS'],
    logger: false,
    size: 1024 * 1024,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const env = session.envelope;
        mails.push({
          from: env.mailFrom ? env.mailFrom.address : null,
          to: env.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
          user: typeof session.user === 'string' ? session.user : null,
        });
        callback();
      });
    },
    ...extra,
  });
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
  const port = (server.server.address() as net.AddressInfo).port;
  return { port, mails, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Header block (unfolded, lower-case names) and decoded body of an RFC 5322 message. */
function parseMail(raw: string): { headers: Record<string, string>; body: string } {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n(?=[ \t])/g, '');
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n')) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = raw.slice(split + 4);
  if ((headers['content-transfer-encoding'] ?? '').toLowerCase() === 'quoted-printable') {
    body = Buffer.from(
      body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
      'latin1',
    ).toString('utf8');
  }
  return { headers, body: body.replace(/\r\n/g, '\n') };
}

test('email: one message per event, with From, To, Subject and the summary and details in the body', async (t) => {
  const smtp = await smtpSink('127.80.1.40');
  const spool = await tempDir();
  t.after(async () => {
    await smtp.close();
    await spool.cleanup();
  });
  const sinks = parseSinksConfig(
    [{ name: 'mail', type: 'email', host: '127.80.1.40', port: smtp.port, from: 'medsurface@example.org', to: ['soc@example.org', 'pacs-admin@example.org'], timeoutMs: 5000 }],
    { guard: loopbackOnly },
  );
  const box = await AlertOutbox.open(spool.dir, sinks, { guard: loopbackOnly, now: fakeClock().now, hostname: 'scanner-01', onWarning: () => {} });
  const event = sampleEvent();
  await box.enqueue([event]);
  const counts = await box.flush();
  assert.deepEqual(counts, { delivered: 1, failed: 0, pending: 0, dead: 0, movedToDead: 0 }, JSON.stringify(await box.list()));
  await box.close();

  assert.equal(smtp.mails.length, 1);
  const mail = smtp.mails[0]!;
  assert.equal(mail.from, 'medsurface@example.org');
  assert.deepEqual(mail.to, ['soc@example.org', 'pacs-admin@example.org']);
  const { headers, body } = parseMail(mail.raw);
  assert.equal(headers.from, 'medsurface@example.org');
  assert.equal(headers.to, 'soc@example.org, pacs-admin@example.org');
  assert.equal(headers.subject, '[medsurface] NEW critical finding dicom-any-ae on 127.77.0.10:104 (Orthanc 1.12.3, pacs)');
  assert.equal(headers['x-medsurface-event'], 'finding-opened');
  assert.match(headers['x-medsurface-delivery'] ?? '', /^[0-9a-f]{32}$/);
  assert.ok(body.startsWith('NEW critical finding dicom-any-ae on 127.77.0.10:104 (Orthanc 1.12.3, pacs)\n\n'), body);
  assert.match(body, /^Title: +DICOM accepts any calling AE title$/m);
  assert.match(body, /^Device type: +pacs$/m);
  assert.match(body, /^Tags: +radiology$/m);
});

test('email: AUTH with an env: password and a subject template', async (t) => {
  const smtp = await smtpSink('127.80.1.41', {
    authOptional: false,
    allowInsecureAuth: true,
    onAuth(auth, _session, callback) {
      if (auth.username === 'alerts' && auth.password === 'synthetic-smtp-pass') callback(null, { user: 'alerts' });
      else callback(new Error('Invalid username or password'));
    },
  });
  const spool = await tempDir();
  t.after(async () => {
    await smtp.close();
    await spool.cleanup();
  });
  const sinks = parseSinksConfig(
    [
      {
        name: 'mail',
        type: 'email',
        host: '127.80.1.41',
        port: smtp.port,
        from: 'medsurface@example.org',
        to: ['soc@example.org'],
        auth: { user: 'alerts', pass: 'env:SMTP_PASS' },
        subject: '[{severity}] {checkId} on {ip}:{port}',
      },
    ],
    { guard: loopbackOnly, env: { SMTP_PASS: 'synthetic-smtp-pass' } },
  );
  const box = await AlertOutbox.open(spool.dir, sinks, { guard: loopbackOnly, now: fakeClock().now, onWarning: () => {} });
  await box.enqueue([sampleEvent()]);
  assert.equal((await box.flush()).delivered, 1, JSON.stringify(await box.list()));
  await box.close();
  assert.equal(smtp.mails.length, 1);
  assert.equal(smtp.mails[0]!.user, 'alerts');
  assert.equal(parseMail(smtp.mails[0]!.raw).headers.subject, '[critical] dicom-any-ae on 127.77.0.10:104');
});

test('email: a server that refuses the recipient keeps the delivery pending with the SMTP reply', async (t) => {
  const smtp = await smtpSink('127.80.1.42', {
    onRcptTo(_address, _session, callback) {
      const err = Object.assign(new Error('Mailbox unavailable'), { responseCode: 550 });
      callback(err);
    },
  });
  const spool = await tempDir();
  t.after(async () => {
    await smtp.close();
    await spool.cleanup();
  });
  const sinks = parseSinksConfig([{ name: 'mail', type: 'email', host: '127.80.1.42', port: smtp.port, from: 'medsurface@example.org', to: ['soc@example.org'] }], {
    guard: loopbackOnly,
  });
  const box = await AlertOutbox.open(spool.dir, sinks, { guard: loopbackOnly, now: fakeClock().now, onWarning: () => {} });
  await box.enqueue([sampleEvent()]);
  assert.deepEqual(await box.flush(), { delivered: 0, failed: 1, pending: 1, dead: 0, movedToDead: 0 });
  const [item] = await box.list();
  assert.match(item!.lastError!, /550/);
  assert.equal(smtp.mails.length, 0);
  await box.close();
});

test('email: nodemailer connects only through the guarded socket', async (t) => {
  let connects = 0;
  const smtp = await smtpSink('127.80.1.43', {
    onConnect(_session, callback) {
      connects++;
      callback();
    },
  });
  const spool = await tempDir();
  t.after(async () => {
    await smtp.close();
    await spool.cleanup();
  });
  const sinks = parseSinksConfig([{ name: 'mail', type: 'email', host: '127.80.1.43', port: smtp.port, from: 'medsurface@example.org', to: ['soc@example.org'] }], {
    guard: loopbackOnly,
  });
  let allow = true;
  const guard = (host: string, port: number) => {
    if (!allow) throw new Error('scope withdrawn');
    loopbackOnly(host, port);
  };
  const box = await AlertOutbox.open(spool.dir, sinks, { guard, now: fakeClock().now, onWarning: () => {} });
  allow = false;
  await box.enqueue([sampleEvent()]);
  assert.equal((await box.flush()).failed, 1);
  assert.equal(connects, 0, 'no SMTP connection once the guard refuses');
  const [item] = await box.list();
  assert.match(item!.lastError!, /refused by the scope guard: scope withdrawn/);
  await box.close();
});
