/** The Slack sink against a node:http receiver on 127.80.1.20 that checks the incoming-webhook JSON shape. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AlertOutbox, parseSinksConfig } from './index.js';
import { fakeClock, httpReceiver, loopbackOnly, sampleEvent, tempDir } from './test-support.js';

interface Block {
  type: string;
  text?: { type: string; text: string };
  elements?: { type: string; text: string }[];
}

test('slack: {"text", "blocks"} with the summary, the details, and Slack markup escaped', async (t) => {
  const recv = await httpReceiver('127.80.1.20');
  const spool = await tempDir();
  t.after(async () => {
    await recv.close();
    await spool.cleanup();
  });
  const sinks = parseSinksConfig([{ name: 'slack', type: 'slack', url: recv.url('/services/T000/B000/XXXX') }], { guard: loopbackOnly });
  const box = await AlertOutbox.open(spool.dir, sinks, { guard: loopbackOnly, now: fakeClock().now, onWarning: () => {} });
  const event = sampleEvent({ product: 'View<er> & Co', title: 'Web viewer <b>open</b>' });
  await box.enqueue([event]);
  assert.equal((await box.flush()).delivered, 1);
  await box.close();

  assert.equal(recv.received.length, 1);
  const r = recv.received[0]!;
  assert.equal(r.url, '/services/T000/B000/XXXX');
  assert.equal(r.headers['content-type'], 'application/json');
  const body = JSON.parse(r.body.toString('utf8')) as { text: unknown; blocks: unknown };
  assert.deepEqual(Object.keys(body).sort(), ['blocks', 'text']);
  assert.equal(body.text, 'NEW critical finding dicom-any-ae on 127.77.0.10:104 (View&lt;er&gt; &amp; Co 1.12.3, pacs)');
  assert.ok(Array.isArray(body.blocks));
  const blocks = body.blocks as Block[];
  assert.equal(blocks.length, 2);
  assert.equal(blocks[0]!.type, 'section');
  assert.equal(blocks[0]!.text!.type, 'mrkdwn');
  const section = blocks[0]!.text!.text;
  assert.ok(section.startsWith(`*${body.text}*\n`), 'the summary in bold first');
  assert.match(section, /\*Title:\* Web viewer &lt;b&gt;open&lt;\/b&gt;/);
  assert.match(section, /\*Address:\* 127\.77\.0\.10:104/);
  assert.match(section, /\*Tags:\* radiology/);
  assert.ok(!/[<>]/.test(section), 'no raw < or > reaches Slack');
  assert.equal(blocks[1]!.type, 'context');
  assert.equal(blocks[1]!.elements![0]!.type, 'mrkdwn');
  assert.match(blocks[1]!.elements![0]!.text, /finding-opened · observed 2030-03-01T11:59:00.000Z/);
});

test('slack: the sink filter decides what is posted', async (t) => {
  const recv = await httpReceiver('127.80.1.21');
  const spool = await tempDir();
  t.after(async () => {
    await recv.close();
    await spool.cleanup();
  });
  const sinks = parseSinksConfig([{ name: 'slack', type: 'slack', url: recv.url(), filter: { minSeverity: 'high', kinds: ['finding-opened'] } }], {
    guard: loopbackOnly,
  });
  const box = await AlertOutbox.open(spool.dir, sinks, { guard: loopbackOnly, now: fakeClock().now, onWarning: () => {} });
  const r = await box.enqueue([
    sampleEvent(),
    sampleEvent({ key: 'k-medium', severity: 'medium' }),
    sampleEvent({ key: 'k-resolved', kind: 'finding-resolved' }),
  ]);
  assert.deepEqual(r, { queued: 1, deduped: 0, filtered: 2 });
  assert.equal((await box.flush()).delivered, 1);
  assert.equal(recv.received.length, 1);
  await box.close();
});
