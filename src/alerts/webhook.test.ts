/**
 * The webhook sink and the outbox behind it, against real node:http receivers on 127.80.1.1x:
 * the signature checked exactly as docs/alerts.md tells receivers to, retry with backoff, the
 * dead letter, restart over the same spool, de-duplication, and the HTTP bounds (no redirects,
 * 64 KiB reply cap, timeout, guard at connect time).
 */
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import https from 'node:https';
import type net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { packageRoot } from '../core/paths.js';
import { AlertOutbox, OutboxLockedError, type SinkConfig, parseSinksConfig } from './index.js';
import { type FakeClock, closedPort, fakeClock, httpReceiver, loopbackOnly, sampleEvent, tempDir } from './test-support.js';

const HOST = '127.80.1.10';
const SECRET = 'synthetic-test-secret-0001';

/** The receiver side of docs/alerts.md "Verifying the signature", written from the documentation alone. */
function verifySignature(secret: string, headers: Record<string, string | string[] | undefined>, rawBody: Buffer, nowSeconds: number): boolean {
  const ts = headers['x-medsurface-timestamp'];
  const sig = headers['x-medsurface-signature'];
  if (typeof ts !== 'string' || typeof sig !== 'string' || !/^\d+$/.test(ts)) return false;
  if (Math.abs(nowSeconds - Number(ts)) > 300) return false;
  const expected = `sha256=${createHmac('sha256', secret).update(`${ts}.`).update(rawBody).digest('hex')}`;
  const a = Buffer.from(expected);
  const b = Buffer.from(sig);
  return a.length === b.length && timingSafeEqual(a, b);
}

function webhookSinks(url: string, extra: Record<string, unknown> = {}): SinkConfig[] {
  return parseSinksConfig([{ name: 'soc-webhook', type: 'webhook', url, secret: 'env:MEDSURFACE_HOOK_SECRET', timeoutMs: 2000, ...extra }], {
    guard: loopbackOnly,
    env: { MEDSURFACE_HOOK_SECRET: SECRET },
  });
}

async function openBox(dir: string, sinks: SinkConfig[], clock: FakeClock, retry = { baseDelayMs: 1000, maxDelayMs: 60_000, maxAttempts: 5 }) {
  return AlertOutbox.open(dir, sinks, { guard: loopbackOnly, now: clock.now, random: () => 0.5, retry, onWarning: () => {} });
}

test('webhook: signed JSON POST, verified by the receiver exactly as documented', async (t) => {
  const recv = await httpReceiver(HOST);
  const spool = await tempDir();
  t.after(async () => {
    await recv.close();
    await spool.cleanup();
  });
  const clock = fakeClock();
  const box = await openBox(spool.dir, webhookSinks(recv.url()), clock);
  const event = sampleEvent();
  assert.deepEqual(await box.enqueue([event]), { queued: 1, deduped: 0, filtered: 0 });
  const counts = await box.flush();
  assert.deepEqual(counts, { delivered: 1, failed: 0, pending: 0, dead: 0, movedToDead: 0 });
  await box.close();

  assert.equal(recv.received.length, 1);
  const r = recv.received[0]!;
  assert.equal(r.method, 'POST');
  assert.equal(r.url, '/hook');
  assert.equal(r.headers['content-type'], 'application/json');
  assert.equal(r.headers['x-medsurface-timestamp'], String(Math.floor(clock.t / 1000)));
  assert.equal(r.headers['x-medsurface-event'], 'finding-opened');
  assert.ok(verifySignature(SECRET, r.headers, r.body, Math.floor(clock.t / 1000)), 'signature verifies with the shared secret');
  assert.ok(!verifySignature('another-secret', r.headers, r.body, Math.floor(clock.t / 1000)), 'a wrong secret does not verify');
  const tampered = Buffer.from(r.body.toString('utf8').replace('critical', 'low'));
  assert.ok(!verifySignature(SECRET, r.headers, tampered, Math.floor(clock.t / 1000)), 'a changed body does not verify');
  assert.ok(!verifySignature(SECRET, r.headers, r.body, Math.floor(clock.t / 1000) + 3600), 'an old timestamp is refused');

  const body = JSON.parse(r.body.toString('utf8')) as { schema: number; id: string; sink: string; summary: string; event: unknown };
  assert.equal(body.schema, 1);
  assert.equal(body.sink, 'soc-webhook');
  assert.equal(body.id, r.headers['x-medsurface-delivery']);
  assert.match(body.id, /^[0-9a-f]{32}$/);
  assert.equal(body.summary, 'NEW critical finding dicom-any-ae on 127.77.0.10:104 (Orthanc 1.12.3, pacs)');
  assert.deepEqual(body.event, event);
});

test('webhook: a receiver answering 500 twice, then 200: retried with exponential backoff and jitter, then delivered', async (t) => {
  const recv = await httpReceiver(HOST, (_r, res, n) => {
    res.statusCode = n <= 2 ? 500 : 200;
    res.end(n <= 2 ? 'try later' : 'ok');
  });
  const spool = await tempDir();
  t.after(async () => {
    await recv.close();
    await spool.cleanup();
  });
  const clock = fakeClock();
  const box = await openBox(spool.dir, webhookSinks(recv.url()), clock);
  await box.enqueue([sampleEvent()]);

  assert.deepEqual(await box.flush(), { delivered: 0, failed: 1, pending: 1, dead: 0, movedToDead: 0 });
  let [item] = await box.list();
  assert.equal(item!.attempts, 1);
  assert.match(item!.lastError!, /HTTP 500: try later/);
  // base 1000 ms × 2^0, equal jitter with random 0.5: 500 + 250.
  assert.equal(item!.nextAttemptAt, new Date(clock.t + 750).toISOString());

  clock.t += 700;
  assert.deepEqual(await box.flush(), { delivered: 0, failed: 0, pending: 1, dead: 0, movedToDead: 0 }, 'not due yet: no attempt');
  assert.equal(recv.received.length, 1);

  clock.t += 50;
  assert.equal((await box.flush()).failed, 1);
  [item] = await box.list();
  assert.equal(item!.attempts, 2);
  // 1000 × 2^1 = 2000, jittered to 1500: the delay doubled.
  assert.equal(item!.nextAttemptAt, new Date(clock.t + 1500).toISOString());

  clock.t += 1500;
  assert.deepEqual(await box.flush(), { delivered: 1, failed: 0, pending: 0, dead: 0, movedToDead: 0 });
  assert.equal(recv.received.length, 3);
  const ids = new Set(recv.received.map((r) => r.headers['x-medsurface-delivery']));
  assert.equal(ids.size, 1, 'every retry carries the same delivery id');
  assert.deepEqual(await box.list(), []);
  await box.close();
});

test('webhook: a dead receiver ends in dead/ after max attempts, kept and listed; requeueDead delivers it once the receiver is back', async (t) => {
  const port = await closedPort('127.80.1.11');
  const spool = await tempDir();
  t.after(() => spool.cleanup());
  const clock = fakeClock();
  const url = `http://127.80.1.11:${port}/hook`;
  const box = await openBox(spool.dir, webhookSinks(url), clock, { baseDelayMs: 1000, maxDelayMs: 60_000, maxAttempts: 3 });
  const event = sampleEvent();
  await box.enqueue([event]);

  assert.equal((await box.flush()).failed, 1);
  clock.t += 60_000;
  assert.equal((await box.flush()).failed, 1);
  clock.t += 60_000;
  assert.deepEqual(await box.flush(), { delivered: 0, failed: 1, pending: 0, dead: 1, movedToDead: 1 });

  const items = await box.list();
  assert.equal(items.length, 1);
  const dead = items[0]!;
  assert.equal(dead.state, 'dead');
  assert.equal(dead.attempts, 3);
  assert.match(dead.deadReason!, /max attempts \(3\) reached: .*127\.80\.1\.11/);
  assert.match(dead.lastError!, /ECONNREFUSED|refused/);
  assert.deepEqual(dead.event, event);
  const onDisk = JSON.parse(await readFile(path.join(spool.dir, 'dead', `${dead.id}.json`), 'utf8')) as { event: unknown };
  assert.deepEqual(onDisk.event, event, 'the dead letter is a file in dead/');
  assert.deepEqual(await readdir(path.join(spool.dir, 'pending')), []);

  // Dead is not forgotten, and not queued twice.
  assert.deepEqual(await box.enqueue([event]), { queued: 0, deduped: 1, filtered: 0 });
  clock.t += 60_000;
  assert.deepEqual(await box.flush(), { delivered: 0, failed: 0, pending: 0, dead: 1, movedToDead: 0 }, 'dead deliveries are not retried');

  // The receiver comes back on the same port; the operator requeues.
  const back = await httpReceiver('127.80.1.11', undefined, port);
  t.after(() => back.close());
  assert.equal(await box.requeueDead(), 1);
  assert.deepEqual(await box.flush(), { delivered: 1, failed: 0, pending: 0, dead: 0, movedToDead: 0 });
  assert.equal(back.received.length, 1);
  assert.deepEqual((JSON.parse(back.received[0]!.body.toString('utf8')) as { event: unknown }).event, event);
  await box.close();
});

test('webhook: a new outbox over the same spool delivers what was pending; a second live outbox is refused', async (t) => {
  let up = false;
  const recv = await httpReceiver(HOST, (_r, res) => {
    res.statusCode = up ? 204 : 503;
    res.end();
  });
  const spool = await tempDir();
  t.after(async () => {
    await recv.close();
    await spool.cleanup();
  });
  const clock = fakeClock();
  const sinks = webhookSinks(recv.url());
  const a = await openBox(spool.dir, sinks, clock);
  await assert.rejects(openBox(spool.dir, sinks, clock), OutboxLockedError);
  const e1 = sampleEvent();
  const e2 = sampleEvent({ key: 'finding:127.77.0.11:104:dicom-any-ae:open', ip: '127.77.0.11' });
  assert.equal((await a.enqueue([e1, e2])).queued, 2);
  // The receiver is down: one attempt, the other delivery waits (the sink is unavailable).
  assert.deepEqual(await a.flush(), { delivered: 0, failed: 1, pending: 2, dead: 0, movedToDead: 0 });
  assert.equal(recv.received.length, 1);
  await a.close();

  up = true;
  clock.t += 10_000;
  const b = await openBox(spool.dir, sinks, clock);
  assert.equal((await b.list()).length, 2, 'the pending deliveries survived the restart');
  assert.deepEqual(await b.flush(), { delivered: 2, failed: 0, pending: 0, dead: 0, movedToDead: 0 });
  const ips = recv.received.slice(1).map((r) => (JSON.parse(r.body.toString('utf8')) as { event: { ip: string } }).event.ip);
  assert.deepEqual(ips, ['127.77.0.10', '127.77.0.11'], 'queue order kept');
  // The de-duplication store survived too.
  assert.deepEqual(await b.enqueue([e1, e2]), { queued: 0, deduped: 2, filtered: 0 });
  await b.close();
});

test('webhook: the same key twice is one delivery; a changed key is a second one', async (t) => {
  const recv = await httpReceiver(HOST);
  const spool = await tempDir();
  t.after(async () => {
    await recv.close();
    await spool.cleanup();
  });
  const clock = fakeClock();
  const box = await openBox(spool.dir, webhookSinks(recv.url()), clock);
  const opened = sampleEvent();
  assert.deepEqual(await box.enqueue([opened, { ...opened }]), { queued: 1, deduped: 1, filtered: 0 }, 'twice in one batch');
  assert.deepEqual(await box.enqueue([opened]), { queued: 0, deduped: 1, filtered: 0 }, 'again while pending');
  await box.flush();
  clock.t += 3_600_000;
  assert.deepEqual(await box.enqueue([opened]), { queued: 0, deduped: 1, filtered: 0 }, 'again after delivery');
  await box.flush();
  assert.equal(recv.received.length, 1);

  const escalated = sampleEvent({ kind: 'finding-changed', key: 'finding:127.77.0.10:104:dicom-any-ae:open:sev=high', severity: 'high', changes: { severity: ['critical', 'high'] } });
  assert.deepEqual(await box.enqueue([escalated]), { queued: 1, deduped: 0, filtered: 0 });
  await box.flush();
  assert.equal(recv.received.length, 2);
  const second = JSON.parse(recv.received[1]!.body.toString('utf8')) as { summary: string };
  assert.equal(second.summary, 'CHANGED high finding dicom-any-ae on 127.77.0.10:104 (Orthanc 1.12.3, pacs): severity critical → high');
  await box.close();
});

test('webhook: Retry-After of a 429 is honoured (capped at maxDelayMs); fields outside the event shape are never sent', async (t) => {
  const recv = await httpReceiver(HOST, (_r, res, n) => {
    if (n === 1) {
      res.writeHead(429, { 'retry-after': '30' });
      res.end('slow down');
    } else res.end('ok');
  });
  const spool = await tempDir();
  t.after(async () => {
    await recv.close();
    await spool.cleanup();
  });
  const clock = fakeClock();
  const box = await openBox(spool.dir, webhookSinks(recv.url()), clock);
  // An event object carrying more than the ExposureEvent shape (as a careless caller might pass).
  const withExtra = { ...sampleEvent(), evidence: { patientName: 'TEST^ALPHA', studyUid: '1.2.3.4' } };
  await box.enqueue([withExtra]);
  const [spooled] = await readdir(path.join(spool.dir, 'pending'));
  const spooledText = await readFile(path.join(spool.dir, 'pending', spooled!), 'utf8');
  assert.ok(!spooledText.includes('TEST^ALPHA') && !spooledText.includes('evidence'), 'not in the spool either');
  assert.equal((await box.flush()).failed, 1);
  const [item] = await box.list();
  assert.equal(item!.nextAttemptAt, new Date(clock.t + 30_000).toISOString(), 'Retry-After 30 s beats the 750 ms backoff');
  clock.t += 30_000;
  assert.equal((await box.flush()).delivered, 1);
  for (const r of recv.received) assert.ok(!r.body.toString('utf8').includes('TEST^ALPHA') && !r.body.toString('utf8').includes('evidence'));
  await box.close();
});

test('webhook: redirects are not followed', async (t) => {
  const target = await httpReceiver('127.80.1.12');
  const redirector = await httpReceiver(HOST, (_r, res) => {
    res.statusCode = 307;
    res.setHeader('location', target.url());
    res.end();
  });
  const spool = await tempDir();
  t.after(async () => {
    await target.close();
    await redirector.close();
    await spool.cleanup();
  });
  const box = await openBox(spool.dir, webhookSinks(redirector.url()), fakeClock());
  await box.enqueue([sampleEvent()]);
  const counts = await box.flush();
  assert.equal(counts.failed, 1);
  assert.equal(target.received.length, 0, 'the redirect target got nothing');
  const [item] = await box.list();
  assert.match(item!.lastError!, /HTTP 307 \(redirects are not followed\)/);
  await box.close();
});

test('webhook: at most 64 KiB of a reply are read; a receiver that never answers fails within the timeout', async (t) => {
  let written = 0;
  const flood = await httpReceiver(HOST, (_r, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const chunk = Buffer.alloc(16 * 1024, 0x41);
    const pump = () => {
      // 32 MiB at most, stopped as soon as the client hangs up.
      while (written < 32 * 1024 * 1024 && !res.destroyed) {
        written += chunk.length;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  });
  const silent = await httpReceiver('127.80.1.13', () => {
    // Never answers.
  });
  const spool = await tempDir();
  t.after(async () => {
    await flood.close();
    await silent.close();
    await spool.cleanup();
  });
  const sinks = parseSinksConfig(
    [
      { name: 'flood', type: 'webhook', url: flood.url(), timeoutMs: 5000 },
      { name: 'silent', type: 'webhook', url: silent.url(), timeoutMs: 300 },
    ],
    { guard: loopbackOnly },
  );
  const box = await AlertOutbox.open(spool.dir, sinks, { guard: loopbackOnly, now: fakeClock().now, random: () => 0.5, onWarning: () => {} });
  await box.enqueue([sampleEvent()]);
  const started = Date.now();
  const counts = await box.flush();
  const took = Date.now() - started;
  assert.equal(counts.delivered, 1, 'the flood receiver answered 200: delivered');
  assert.equal(counts.failed, 1, 'the silent receiver: failed');
  assert.ok(took < 4000, `flush took ${took} ms`);
  assert.ok(written < 32 * 1024 * 1024, `the client hung up early (server wrote ${written} bytes)`);
  const [item] = await box.list();
  assert.equal(item!.sink, 'silent');
  assert.match(item!.lastError!, /no answer within 300 ms|timeout/i);
  assert.equal(silent.received.length, 1);
  await box.close();
});

test('webhook: the guard is asked again at connect time', async (t) => {
  const recv = await httpReceiver(HOST);
  const spool = await tempDir();
  t.after(async () => {
    await recv.close();
    await spool.cleanup();
  });
  const sinks = webhookSinks(recv.url());
  let allow = true;
  const asked: string[] = [];
  const guard = (host: string, port: number) => {
    asked.push(`${host}:${port}`);
    if (!allow) throw new Error('scope withdrawn');
  };
  const box = await AlertOutbox.open(spool.dir, sinks, { guard, now: fakeClock().now, onWarning: () => {} });
  allow = false;
  await box.enqueue([sampleEvent()]);
  assert.equal((await box.flush()).failed, 1);
  assert.equal(recv.received.length, 0, 'no connection once the guard refuses');
  const [item] = await box.list();
  assert.match(item!.lastError!, /refused by the scope guard: scope withdrawn/);
  assert.ok(asked.length >= 2 && asked.every((a) => a === `${HOST}:${recv.port}`));
  await box.close();
});

test('webhook: HTTPS certificates are verified (a self-signed receiver is refused, nothing is posted)', async (t) => {
  const certs = path.join(packageRoot(), 'src/lab/certs');
  let requests = 0;
  const server = https.createServer(
    { cert: readFileSync(path.join(certs, 'web-tls.cert.pem')), key: readFileSync(path.join(certs, 'web-tls.key.pem')) },
    (_req, res) => {
      requests++;
      res.end('ok');
    },
  );
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.80.1.14', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const spool = await tempDir();
  t.after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await spool.cleanup();
  });
  const sinks = parseSinksConfig([{ name: 'tls-hook', type: 'webhook', url: `https://127.80.1.14:${port}/hook`, timeoutMs: 2000 }], { guard: loopbackOnly });
  const box = await AlertOutbox.open(spool.dir, sinks, { guard: loopbackOnly, now: fakeClock().now, onWarning: () => {} });
  await box.enqueue([sampleEvent()]);
  assert.equal((await box.flush()).failed, 1);
  assert.equal(requests, 0);
  const [item] = await box.list();
  assert.match(item!.lastError!, /self[- ]signed certificate/i);
  await box.close();
});
