/**
 * The per-network politeness lock on the machine's shared Redis (keys under a prefix of this
 * test's own, deleted afterwards): two workers never hold one /24 at once, one worker's hosts
 * in a /24 share its lock, a dead worker's lock expires, a waiting host can be abandoned.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { NetLocks, networkOf } from '../../src/distributed/net-lock.js';
import { deleteKeys } from '../../src/distributed/test-support.js';

const URL = 'redis://127.0.0.1:6379';
const PREFIX = `medsurface-test-netlock-${process.pid}`;
const clients: Redis[] = [];
const locks: NetLocks[] = [];

function worker(owner: string, ttlMs = 5000): NetLocks {
  const c = new Redis(URL, { maxRetriesPerRequest: null });
  clients.push(c);
  const l = new NetLocks(c, { prefix: PREFIX, owner, prefixes: { v4: 24, v6: 64 }, ttlMs, pollMs: 20 });
  locks.push(l);
  return l;
}

after(async () => {
  for (const l of locks) l.close();
  await deleteKeys(URL, PREFIX);
  for (const c of clients) c.disconnect();
});

const never = new AbortController().signal;
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('networkOf', () => {
  test('IPv4 by prefix, IPv6 by /64, off at 0', () => {
    assert.equal(networkOf('192.0.2.77', { v4: 24, v6: 64 }), '192.0.2.0/24');
    assert.equal(networkOf('192.0.2.77', { v4: 16, v6: 64 }), '192.0.0.0/16');
    assert.equal(networkOf('192.0.2.77', { v4: 32, v6: 64 }), '192.0.2.77/32');
    assert.equal(networkOf('255.255.255.255', { v4: 24, v6: 64 }), '255.255.255.0/24');
    assert.equal(networkOf('2001:db8:1:2:3:4:5:6', { v4: 24, v6: 64 }), '2001:db8:1:2::/64');
    assert.equal(networkOf('192.0.2.77', { v4: 0, v6: 64 }), null);
    assert.equal(networkOf('not an address', { v4: 24, v6: 64 }), null);
  });
});

describe('NetLocks', () => {
  test('a second worker waits until the first leaves the /24; its own hosts share the lock', async () => {
    const a = worker('a');
    const b = worker('b');
    const events: string[] = [];
    let releaseA!: () => void;
    const aBusy = new Promise<void>((r) => {
      releaseA = r;
    });
    const a1 = a.hold('127.216.200.1', never, async () => {
      events.push('a1 start');
      await aBusy;
      events.push('a1 end');
    });
    await delay(50);
    // Same worker, same /24: runs at once, beside a1.
    await a.hold('127.216.200.2', never, async () => {
      events.push('a2 ran');
    });
    // Another /24: not blocked.
    await b.hold('127.216.201.1', never, async () => {
      events.push('b other net');
    });
    const b1 = b.hold('127.216.200.3', never, async () => {
      events.push('b1 start');
    });
    await delay(300);
    assert.deepEqual(events, ['a1 start', 'a2 ran', 'b other net'], 'b waits while a holds 127.216.200.0/24');
    releaseA();
    await Promise.all([a1, b1]);
    assert.deepEqual(events, ['a1 start', 'a2 ran', 'b other net', 'a1 end', 'b1 start']);
    assert.equal(b.stats.waits, 1);
    assert.deepEqual(a.heldNetworks(), []);
  });

  test("a dead worker's lock expires after its TTL", async () => {
    const dead = worker('dead', 600);
    const alive = worker('alive');
    // The dead worker took the lock and never released it (its process is gone: no renewal either).
    void dead.hold('127.216.202.1', never, () => new Promise<void>(() => {}));
    await delay(50);
    dead.close();
    const t0 = Date.now();
    await alive.hold('127.216.202.9', never, async () => {});
    const waited = Date.now() - t0;
    assert.ok(waited >= 400 && waited < 5000, `took the lock after ${waited} ms (TTL 600 ms)`);
  });

  test('a host waiting for a lock is abandoned when its shard stops', async () => {
    const holder = worker('holder');
    const waiter = worker('waiter');
    let release!: () => void;
    const held = holder.hold('127.216.203.1', never, () => new Promise<void>((r) => (release = r)));
    await delay(50);
    const stop = new AbortController();
    let ran = false;
    const waiting = waiter.hold('127.216.203.2', stop.signal, async () => {
      ran = true;
      return 1;
    });
    await delay(100);
    stop.abort();
    assert.equal(await waiting, null);
    assert.equal(ran, false);
    release();
    await held;
  });
});
