/**
 * The outbox without the network (jsonl sinks): max age, sinks removed from the config, unreadable
 * spool files, the de-duplication store's bounds and crash safety, input validation, honeypots, the
 * lock, and file modes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { AlertInputError, AlertOutbox, type OutboxOptions, OutboxError, OutboxLockedError, type SinkConfig, parseSinksConfig } from './index.js';
import { type FakeClock, fakeClock, loopbackOnly, sampleEvent, tempDir } from './test-support.js';

const DAY = 86_400_000;

async function setup(t: { after: (fn: () => Promise<void>) => void }) {
  const tmp = await tempDir();
  t.after(() => tmp.cleanup());
  const spool = path.join(tmp.dir, 'spool');
  const out = path.join(tmp.dir, 'events.jsonl');
  const sinks = parseSinksConfig([{ name: 'file', type: 'jsonl', path: out }]);
  const clock = fakeClock();
  const warnings: string[] = [];
  const open = (over: Partial<OutboxOptions> = {}, s: SinkConfig[] = sinks) =>
    AlertOutbox.open(spool, s, { guard: loopbackOnly, now: clock.now, random: () => 0.5, onWarning: (m) => warnings.push(m), ...over });
  const lines = async () =>
    (await readFile(out, 'utf8').catch(() => ''))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { key: string });
  return { tmp, spool, out, sinks, clock, warnings, open, lines };
}

function keyed(key: string) {
  return sampleEvent({ key });
}

test('outbox: a delivery older than maxAgeMs moves to dead/ without another attempt', async (t) => {
  const tmp = await tempDir();
  t.after(() => tmp.cleanup());
  const sinks = parseSinksConfig([{ name: 'file', type: 'jsonl', path: path.join(tmp.dir, 'no-such-folder', 'events.jsonl') }]);
  const clock: FakeClock = fakeClock();
  const box = await AlertOutbox.open(path.join(tmp.dir, 'spool'), sinks, {
    guard: loopbackOnly,
    now: clock.now,
    random: () => 0.5,
    retry: { maxAgeMs: 2 * DAY, maxAttempts: 100 },
    onWarning: () => {},
  });
  await box.enqueue([keyed('a')]);
  assert.equal((await box.flush()).failed, 1);
  clock.t += DAY;
  assert.equal((await box.flush()).failed, 1);
  clock.t += DAY;
  assert.deepEqual(await box.flush(), { delivered: 0, failed: 0, pending: 0, dead: 1, movedToDead: 1 }, 'aged out before a third attempt');
  const [item] = await box.list();
  assert.equal(item!.state, 'dead');
  assert.equal(item!.attempts, 2);
  assert.match(item!.deadReason!, /^max age of 2880 min reached after 2 attempt\(s\): cannot append/);
  await box.close();
});

test('outbox: deliveries of a sink no longer configured wait, are listed, and age into dead/', async (t) => {
  const s = await setup(t);
  let box = await s.open({ retry: { maxAgeMs: 3 * DAY } });
  await box.enqueue([keyed('a')]);
  await box.close();

  const other = parseSinksConfig([{ name: 'other', type: 'jsonl', path: path.join(s.tmp.dir, 'other.jsonl') }]);
  box = await s.open({ retry: { maxAgeMs: 3 * DAY } }, other);
  assert.deepEqual(await box.flush(), { delivered: 0, failed: 0, pending: 1, dead: 0, movedToDead: 0 });
  const [item] = await box.list();
  assert.equal(item!.sink, 'file');
  assert.equal(item!.sinkConfigured, false);
  s.clock.t += 3 * DAY;
  assert.equal((await box.flush()).movedToDead, 1);
  const [dead] = await box.list();
  assert.match(dead!.deadReason!, /sink "file" is not configured/);
  await box.close();

  // Configured again: the operator can requeue and it goes out.
  box = await s.open();
  assert.equal(await box.requeueDead([dead!.id]), 1);
  assert.equal((await box.flush()).delivered, 1);
  assert.deepEqual(
    (await s.lines()).map((l) => l.key),
    ['a'],
  );
  await box.close();
});

test('outbox: unreadable spool files are set aside in corrupt/ and listed, never deleted; tmp/ left-overs are cleared', async (t) => {
  const s = await setup(t);
  let box = await s.open();
  await box.enqueue([keyed('a'), keyed('b')]);
  await box.close();
  const pending = (await readdir(path.join(s.spool, 'pending'))).sort();
  assert.equal(pending.length, 2);
  await writeFile(path.join(s.spool, 'pending', pending[0]!), '{"v":1,"id":"trunc');
  await writeFile(path.join(s.spool, 'seen', 'file.json'), 'not json');
  await writeFile(path.join(s.spool, 'tmp', 'x.tmp'), 'half-written');

  box = await s.open();
  assert.equal(s.warnings.length, 1);
  assert.match(s.warnings[0]!, /de-duplication store of sink "file" was unreadable: moved to corrupt\//);
  assert.deepEqual(await readdir(path.join(s.spool, 'tmp')), []);
  const counts = await box.flush();
  assert.equal(counts.delivered, 1);
  assert.equal(s.warnings.length, 2);
  assert.match(s.warnings[1]!, new RegExp(`spool file pending/${pending[0]} could not be read back: moved to corrupt/pending-${pending[0]}`));
  const items = await box.list();
  assert.deepEqual(items.map((i) => i.state).sort(), ['corrupt', 'corrupt']);
  assert.ok(items.some((i) => i.file === `corrupt/pending-${pending[0]}`));
  assert.equal(await readFile(path.join(s.spool, 'corrupt', `pending-${pending[0]}`), 'utf8'), '{"v":1,"id":"trunc', 'kept as it was');
  await box.close();
});

test('outbox: de-duplication survives a lost store (the pending file still counts) and is re-learnt on delivery', async (t) => {
  const s = await setup(t);
  let box = await s.open();
  await box.enqueue([keyed('a')]);
  await box.close();
  // As if the process died after writing the delivery and before the store.
  await rm(path.join(s.spool, 'seen', 'file.json'));
  box = await s.open();
  assert.deepEqual(await box.enqueue([keyed('a')]), { queued: 0, deduped: 1, filtered: 0 });
  await box.flush();
  assert.deepEqual(await box.enqueue([keyed('a')]), { queued: 0, deduped: 1, filtered: 0 });
  await box.close();
  const store = JSON.parse(await readFile(path.join(s.spool, 'seen', 'file.json'), 'utf8')) as { keys: [string, number][] };
  assert.deepEqual(
    store.keys.map(([k]) => k),
    ['a'],
  );
  assert.equal((await s.lines()).length, 1);
});

test('outbox: the de-duplication store forgets keys not offered within the horizon, and keeps at most dedupMaxKeys', async (t) => {
  const s = await setup(t);
  const box = await s.open({ dedupHorizonMs: 10 * DAY, dedupMaxKeys: 3 });
  await box.enqueue([keyed('a')]);
  await box.flush();
  s.clock.t += 8 * DAY;
  assert.equal((await box.enqueue([keyed('a')])).deduped, 1, 'offered again: remembered, and its time refreshed');
  s.clock.t += 8 * DAY;
  assert.equal((await box.enqueue([keyed('a')])).deduped, 1, '16 days after the first offer, 8 after the last');
  s.clock.t += 11 * DAY;
  assert.equal((await box.enqueue([keyed('a')])).queued, 1, 'not offered for 11 days: forgotten, alerted again');
  await box.flush();

  // Bounded size: the least recently offered key goes first.
  for (const k of ['b', 'c', 'd']) {
    s.clock.t += 1000;
    await box.enqueue([keyed(k)]);
  }
  await box.flush();
  s.clock.t += 1000;
  assert.deepEqual(await box.enqueue([keyed('b'), keyed('c'), keyed('d')]), { queued: 0, deduped: 3, filtered: 0 });
  assert.deepEqual(await box.enqueue([keyed('a')]), { queued: 1, deduped: 0, filtered: 0 }, '"a" was dropped to keep 3 keys');
  await box.close();
  const store = JSON.parse(await readFile(path.join(s.spool, 'seen', 'file.json'), 'utf8')) as { keys: [string, number][] };
  assert.equal(store.keys.length, 3);
});

test('outbox: events are validated before anything is written', async (t) => {
  const s = await setup(t);
  const box = await s.open();
  const bad = { ...sampleEvent(), ip: 'not-an-ip' };
  await assert.rejects(box.enqueue([sampleEvent({ key: 'ok' }), bad]), (err: unknown) => err instanceof AlertInputError && /^event #2: ip: not an IP address/.test(err.message));
  await assert.rejects(box.enqueue([{ ...sampleEvent(), kind: 'finding-new' } as never]), AlertInputError);
  assert.deepEqual(await box.list(), []);
  await box.close();
});

test('outbox: the honeypot predicate skips honeypot hosts unless the sink includes them', async (t) => {
  const s = await setup(t);
  const sinks = parseSinksConfig([
    { name: 'file', type: 'jsonl', path: s.out },
    { name: 'research', type: 'jsonl', path: path.join(s.tmp.dir, 'research.jsonl'), filter: { includeHoneypots: true } },
  ]);
  const box = await s.open({ isHoneypot: (e) => e.ip === '127.77.9.9' }, sinks);
  const r = await box.enqueue([sampleEvent({ key: 'trap', ip: '127.77.9.9' }), sampleEvent({ key: 'real' })]);
  assert.deepEqual(r, { queued: 3, deduped: 0, filtered: 1 });
  await box.flush();
  assert.deepEqual(
    (await s.lines()).map((l) => l.key),
    ['real'],
  );
  await box.close();
});

test('outbox: one outbox per spool; a stale lock is taken over; a closed outbox refuses work', async (t) => {
  const s = await setup(t);
  await mkdir(s.spool, { recursive: true });
  const lock = path.join(s.spool, 'outbox.lock');
  // A live process on this host (our parent) holds it.
  await writeFile(lock, JSON.stringify({ pid: process.ppid, host: os.hostname(), since: '2030-01-01T00:00:00Z' }));
  await assert.rejects(s.open(), (err: unknown) => err instanceof OutboxLockedError && err.message.includes(`process ${process.ppid}`) && err.message.includes(lock));
  // A process that has exited.
  const gone = spawnSync(process.execPath, ['-e', '0']).pid;
  await writeFile(lock, JSON.stringify({ pid: gone, host: os.hostname(), since: '2030-01-01T00:00:00Z' }));
  const box = await s.open();
  assert.equal((JSON.parse(await readFile(lock, 'utf8')) as { pid: number }).pid, process.pid);
  await assert.rejects(s.open(), OutboxLockedError);
  await box.close();
  await assert.rejects(box.enqueue([sampleEvent()]), OutboxError);
  await assert.rejects(stat(lock), /ENOENT/, 'lock released on close');
});

test('outbox: spool folders are 0700 and spool files 0600', async (t) => {
  const s = await setup(t);
  const box = await s.open();
  await box.enqueue([sampleEvent()]);
  await box.close();
  for (const d of ['', 'pending', 'dead', 'seen', 'tmp', 'corrupt']) assert.equal((await stat(path.join(s.spool, d))).mode & 0o777, 0o700, `${d || 'spool'} folder`);
  const [f] = await readdir(path.join(s.spool, 'pending'));
  assert.equal((await stat(path.join(s.spool, 'pending', f!))).mode & 0o777, 0o600);
  assert.equal((await stat(path.join(s.spool, 'seen', 'file.json'))).mode & 0o777, 0o600);
});

test('outbox: enqueue can be limited to named sinks (a monitor job\'s alerts list)', async (t) => {
  const s = await setup(t);
  const sinks = parseSinksConfig([
    { name: 'file', type: 'jsonl', path: s.out },
    { name: 'other', type: 'jsonl', path: path.join(s.tmp.dir, 'other.jsonl') },
  ]);
  const box = await s.open({}, sinks);
  assert.deepEqual(await box.enqueue([keyed('a')], { sinks: ['file'] }), { queued: 1, deduped: 0, filtered: 0 });
  await assert.rejects(box.enqueue([keyed('b')], { sinks: ['file', 'pager'] }), (err: unknown) => err instanceof AlertInputError && /unknown sink\(s\): "pager"/.test(err.message));
  assert.deepEqual(await box.enqueue([keyed('a')]), { queued: 1, deduped: 1, filtered: 0 }, '"other" had not had it');
  const items = await box.list();
  assert.deepEqual(items.map((i) => i.sink).sort(), ['file', 'other']);
  await box.close();
});
