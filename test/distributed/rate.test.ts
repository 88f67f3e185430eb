/**
 * The global rate limit across workers: two limiters (two workers, two Redis connections)
 * sharing one run's bucket on the machine's shared Redis together start no more connections
 * than the run's rate allows.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { SharedRateLimiter, batchFor } from '../../src/distributed/rate.js';
import { keys } from '../../src/distributed/redis.js';
import { deleteKeys } from '../../src/distributed/test-support.js';

const URL = 'redis://127.0.0.1:6379';
const PREFIX = `medsurface-test-rate-${process.pid}`;
const clients: Redis[] = [];

after(async () => {
  await deleteKeys(URL, PREFIX);
  for (const c of clients) c.disconnect();
});

function limiter(runId: string, perSecond: number): SharedRateLimiter {
  const c = new Redis(URL, { maxRetriesPerRequest: null });
  clients.push(c);
  return new SharedRateLimiter(c, keys.rate(PREFIX, runId), perSecond);
}

describe('SharedRateLimiter', () => {
  test('batches are about 50 ms of the rate, between 1 and 100 tokens', () => {
    assert.equal(batchFor(1), 1);
    assert.equal(batchFor(100), 5);
    assert.equal(batchFor(1000), 50);
    assert.equal(batchFor(1_000_000), 100);
  });

  test('two workers together keep to the run rate', async () => {
    const rate = 100;
    const a = limiter('r1', rate);
    const b = limiter('r1', rate);
    const each = 100;
    const t0 = Date.now();
    const starts: number[] = [];
    const run = async (l: SharedRateLimiter) => {
      for (let i = 0; i < each; i++) {
        await l.take();
        starts.push(Date.now() - t0);
      }
    };
    await Promise.all([run(a), run(b)]);
    const elapsed = Date.now() - t0;
    // 200 starts at 100/s: at least (200 - one batch per worker) / 100 s, whatever the scheduling.
    const minimum = ((2 * each - 2 * batchFor(rate)) / rate) * 1000;
    assert.ok(elapsed >= minimum * 0.95, `200 starts took ${elapsed} ms; at 100/s they need at least ${minimum} ms`);
    assert.ok(elapsed < minimum * 4, `200 starts took ${elapsed} ms (too slow: the limiter lost tokens)`);
    // No second holds more than the rate plus the two batches in hand.
    const perSecond = new Map<number, number>();
    for (const t of starts) perSecond.set(Math.floor(t / 1000), (perSecond.get(Math.floor(t / 1000)) ?? 0) + 1);
    for (const [s, n] of perSecond) assert.ok(n <= rate + 2 * batchFor(rate), `second ${s}: ${n} starts`);
    assert.ok(a.calls + b.calls >= (2 * each) / batchFor(rate), 'tokens came from Redis in batches');
  });

  test('runs do not share buckets', async () => {
    const a = limiter('r2', 50);
    const b = limiter('r3', 50);
    const t0 = Date.now();
    await Promise.all([a.take(), b.take()]);
    assert.ok(Date.now() - t0 < 1000);
  });
});
